"""HIG / Gauss-Newton schemes, the schedule, and the cost guard (spec hig.md §1, §5.2)."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import pgbench
from pgbench.backends import get_backend
from pgbench.nets import MLP
from pgbench.problems.base import Problem
from pgbench.solvers.hig import HalfInverseGradient, half_inverse


def _np(be, a):
    return np.asarray(be.to_numpy(a), dtype=np.float64)


def _matrix_with_spectrum(rng, n, p, sigma):
    """n×p matrix U diag(sigma) Vᵀ with orthonormal U, V (len(sigma) = min(n, p))."""
    U, _ = np.linalg.qr(rng.standard_normal((n, len(sigma))))
    V, _ = np.linalg.qr(rng.standard_normal((p, len(sigma))))
    return (U * sigma) @ V.T


def _reference(J, g, beta, tau):
    U, s, Vt = np.linalg.svd(J, full_matrices=False)
    keep = s > tau * s.max()
    w = np.zeros_like(s)
    w[keep] = s[keep] ** beta
    return Vt.T @ (w * (U.T @ g)), int(keep.sum())


@pytest.mark.parametrize("shape", [(12, 30), (30, 12)])
@pytest.mark.parametrize("route", ["svd64", "gram64"])
def test_half_inverse_equals_numpy_svd_formula(backend, shape, route):
    be = get_backend(backend)
    rng = np.random.default_rng(0)
    r = min(shape)
    J = _matrix_with_spectrum(rng, *shape, np.logspace(0, -4, r))
    g = rng.standard_normal(shape[0])
    d, info = half_inverse(be, be.asarray(J, "float64"), be.asarray(g, "float64"), -0.5, 1e-6, route)
    ref, rank = _reference(J, g, -0.5, 1e-6)
    np.testing.assert_allclose(_np(be, d), ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max())
    assert int(_np(be, info["rank"])) == rank == r
    np.testing.assert_allclose(float(_np(be, info["sigma_max"])), 1.0, rtol=1e-9)


def test_exponent_minus_one_is_gauss_newton_pinv(backend):
    be = get_backend(backend)
    rng = np.random.default_rng(1)
    J = _matrix_with_spectrum(rng, 20, 9, np.logspace(1, -3, 9))
    g = rng.standard_normal(20)
    for route in ("svd64", "gram64"):
        d, _ = half_inverse(be, be.asarray(J, "float64"), be.asarray(g, "float64"), -1.0, 1e-6, route)
        np.testing.assert_allclose(_np(be, d), np.linalg.pinv(J, rcond=1e-6) @ g, rtol=1e-7)
    assert pgbench.make_solver("gn").beta == -1.0 and HalfInverseGradient().beta == -0.5
    assert type(pgbench.make_solver("gn")) is HalfInverseGradient   # a registration, not a subclass
    # beta = +1 is plain gradient descent: d = Jᵀ g
    d, _ = half_inverse(be, be.asarray(J, "float64"), be.asarray(g, "float64"), 1.0, 0.0, "svd64")
    np.testing.assert_allclose(_np(be, d), J.T @ g, rtol=1e-10)


@pytest.mark.parametrize("shape", [(64, 200), (200, 64)])
def test_gram_route_equals_svd_route(backend, shape):
    """float64 Gram + eigh gives the float64 SVD's direction for τ ≥ 1e-6 (spectrum down to 1e-5)."""
    be = get_backend(backend)
    rng = np.random.default_rng(2)
    J = _matrix_with_spectrum(rng, *shape, np.logspace(2, -3, min(shape))).astype(np.float32)
    g = rng.standard_normal(shape[0]).astype(np.float32)
    Jb, gb = be.asarray(J), be.asarray(g)
    d_svd, i_svd = half_inverse(be, Jb, gb, -0.5, 1e-6, "svd64")
    d_gram, i_gram = half_inverse(be, Jb, gb, -0.5, 1e-6, "gram64")
    np.testing.assert_allclose(_np(be, d_gram), _np(be, d_svd), rtol=1e-6, atol=1e-6 * np.abs(_np(be, d_svd)).max())
    assert int(_np(be, i_gram["rank"])) == int(_np(be, i_svd["rank"]))
    # the float32 SVD (the authors' route) is close but not float64-exact
    d_32, _ = half_inverse(be, Jb, gb, -0.5, 1e-6, "svd")
    assert np.linalg.norm(_np(be, d_32) - _np(be, d_svd)) < 0.05 * np.linalg.norm(_np(be, d_svd))


@pytest.mark.parametrize("route", ["svd64", "gram64", "svd"])
def test_truncation_drops_exactly_the_values_at_or_below_threshold(route):
    be = get_backend("torch")
    rng = np.random.default_rng(3)
    sigma = np.array([4.0, 2.0, 1.0, 0.5, 0.1, 0.01])
    J = _matrix_with_spectrum(rng, 6, 10, sigma)
    U, _, Vt = np.linalg.svd(J, full_matrices=False)
    g = rng.standard_normal(6)
    for tau, kept in ((0.2, 3), (0.1, 4), (0.02, 5), (1e-3, 6), (0.6, 1)):
        # tau = 0.1 puts 0.5 (= 0.125 σmax) above and 0.1 below; 0.6 keeps only σmax = 4 > 2.4
        d, info = half_inverse(be, be.asarray(J, "float64"), be.asarray(g, "float64"), -0.5, tau, route)
        assert int(_np(be, info["rank"])) == kept, (tau, route)
        ref = Vt[:kept].T @ (sigma[:kept] ** -0.5 * (U[:, :kept].T @ g))
        np.testing.assert_allclose(_np(be, d), ref, rtol=1e-5 if route == "svd" else 1e-8)
        np.testing.assert_allclose(float(_np(be, info["sigma_min_kept"])), sigma[kept - 1], rtol=1e-5)
    # a value exactly at τ·σmax is dropped (strict inequality, as the authors' gpinv)
    J2 = np.diag([2.0, 1.0, 0.5])
    d, info = half_inverse(be, be.asarray(J2, "float64"), be.asarray(np.ones(3), "float64"), -0.5, 0.25, "svd64")
    assert int(_np(be, info["rank"])) == 2
    np.testing.assert_allclose(_np(be, d), [2 ** -0.5, 1.0, 0.0], rtol=1e-12)


@dataclass(frozen=True)
class LinearProblem(Problem):
    """x = z W + b (a linear network), y = x Aᵀ with an ill-conditioned A; residual y - y*."""

    batch_size: int = 5
    test_size: int = 5
    capabilities: ClassVar[frozenset[str]] = frozenset({"small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    A: ClassVar[np.ndarray] = np.array([[3.0, 0.5], [0.2, 0.01]])
    id: ClassVar[str] = "linear-test"

    @property
    def x_shape(self):
        return (2,)

    def sample(self, rng, n, be):
        z = rng.standard_normal((n, 3))
        return be.asarray(np.zeros((n, 2)), "float32"), be.asarray(z, "float32")

    def forward(self, be, x):
        return be.xp.matmul(x, be.asarray(self.A.T, "float32"))

    def residual(self, be, x, z):
        return self.forward(be, x) - be.asarray(np.array([1.0, -2.0]), "float32")

    def network(self):
        return MLP((3, 2))

    def net_input(self, be, z):
        return z


@pytest.mark.parametrize("beta", [-0.5, -1.0])
def test_scheme_step_on_linear_problem_equals_closed_form(backend, beta):
    """The scheme's direction on a linear network + linear physics equals numpy's SVD formula
    on the analytically assembled batch Jacobian (rows sample-major, columns b0 then w0)."""
    be = get_backend(backend)
    prob = LinearProblem()
    net = prob.network()
    rng = np.random.default_rng(4)
    params_np = net.init_numpy(rng)
    params = {k: be.asarray(v, "float32") for k, v in params_np.items()}
    _, z = prob.sample(np.random.default_rng(5), 5, be)
    scheme = pgbench.make_solver("hig", beta=beta, tau=1e-6)
    d, x, loss, diag = scheme.gradients(prob, be, net, params, z, None)
    zn = _np(be, z)
    A = LinearProblem.A
    rows = []
    for zi in zn:                       # ∂(A x)/∂b = A; ∂(A x)_k/∂W[j, l] = A[k, l] z_j
        Jw = np.einsum("kl,j->kjl", A, zi).reshape(2, 6)
        rows.append(np.concatenate([A, Jw], axis=1))
    J = np.concatenate(rows, axis=0)
    x_np = zn @ params_np["w0"] + params_np["b0"]
    r = x_np @ A.T - np.array([1.0, -2.0])
    g = (r / 5).reshape(-1)             # ∂(mean ½|r|²)/∂ŷ
    ref, rank = _reference(J, g, beta, 1e-6)
    got = np.concatenate([_np(be, d["b0"]).ravel(), _np(be, d["w0"]).ravel()])
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-5 * np.abs(ref).max())
    assert int(diag["rank"]) == rank
    np.testing.assert_allclose(_np(be, loss), 0.5 * (r**2).sum(1), rtol=1e-5)
    for k in ("t_jacobian", "t_inverse", "sigma_max", "sigma_min_kept", "step_norm"):
        assert np.isfinite(float(_np(be, diag[k])))


def test_hig_settings_are_validated():
    # HIG steps with plain SGD of rate eta: there is no separate lr or optimizer to set
    for bad in ({"lr": 0.1}, {"optimizer": "adam"}, {"momentum": 0.9}):
        with pytest.raises(pgbench.InvalidSettingError, match=f"no setting {next(iter(bad))!r}"):
            pgbench.make_solver("hig", eta=0.5, **bad)
    with pytest.raises(ValueError, match="route"):
        pgbench.make_solver("hig", route="qr")
    assert set(pgbench.make_solver("gn").hyperparameters()) == {"eta", "tau", "beta", "route", "max_memory_gb"}


def test_cost_guard_refuses_oversized_request():
    big = pgbench.make_problem("poisson-hig-v0", scale="paper", batch_size=1024)   # 65,536 × 24,896
    with pytest.raises(pgbench.IncompatibleError) as e:
        pgbench.plan(big, "hig")
    msg = str(e.value)
    assert "65,536 x 24,896" in msg and "GiB" in msg and "22.9 GiB" in msg and "batch_size" in msg and "max_memory_gb" in msg
    # the estimate is 12·n·P + 8·min(n,P)² bytes for the Gram route
    s = pgbench.make_solver("hig")
    assert s.memory_bytes(100, 1000) == 12 * 100 * 1000 + 8 * 100**2
    # the same run fits a larger allowance; a small problem fits the default
    assert pgbench.make_solver("hig", max_memory_gb=64).missing(big) is None
    assert pgbench.make_solver("hig").missing(pgbench.make_problem("hig-toy-v0", scale="quick")) is None
    # an iterative-solver-only problem is refused for lacking a network
    assert "network" in pgbench.make_solver("hig").missing(pgbench.make_problem("quadratic2d-v0"))


def test_run_records_diagnostics_and_the_in_step_guard(backend):
    r = pgbench.run("hig-toy-v0", "hig", iterations=3, backend=backend, throw=True)
    for col in ("t_jacobian", "t_inverse", "rank", "sigma_max", "sigma_min_kept", "step_norm"):
        assert col in r.records and np.all(np.isfinite(r.records[col]))
    assert (r.records["rank"] <= 30).all()      # ≤ P = 30 parameters
    # the step re-checks with the actual output size before building the Jacobian
    be = get_backend(backend)
    prob = LinearProblem()
    net = prob.network()
    params = net.init(np.random.default_rng(0), be)
    _, z = prob.sample(np.random.default_rng(1), 5, be)
    with pytest.raises(MemoryError, match="10 x 8"):
        pgbench.make_solver("hig", max_memory_gb=1e-7).gradients(prob, be, net, params, z, None)


def test_schedule_switches_after_iterations_and_runs_the_stages_with_their_optimizers():
    r = pgbench.run("hig-toy-v0", "schedule", iterations=6, throw=True, first="dp", then="hig", switch_at=4,
                    first_settings={"lr": 1e-3})
    stage = r.records["stage"].to_numpy()
    assert stage.tolist() == [0, 0, 0, 0, 1, 1]
    assert np.isnan(r.records["rank"].to_numpy()[:4]).all() and np.isfinite(r.records["rank"].to_numpy()[4:]).all()
    # the first stage is exactly dp: same losses as a dp run for those iterations
    dp = pgbench.run("hig-toy-v0", "dp", iterations=4, throw=True, lr=1e-3)
    np.testing.assert_allclose(r.records["loss"].to_numpy()[:4], dp.records["loss"].to_numpy(), rtol=1e-6)
    # switching by seconds: switch_at=0 s starts with the second stage
    r0 = pgbench.run("hig-toy-v0", "schedule", iterations=2, throw=True, switch_at=0, unit="seconds")
    assert r0.records["stage"].tolist() == [1, 1]
    with pytest.raises(pgbench.InvalidSettingError, match="no setting 'optimizer'"):
        pgbench.make_solver("schedule", optimizer="adam")   # each stage brings its own optimizer


def test_closed_form_numbers_of_the_book_comparison():
    """PBDL physgrad-comparison (spec §3.2): 10 steps from (3, 3) on y = (x0, x1²), L = |y|²."""
    printed = {"gd": ((2.451, 0.962), 2.63, {"eta": 0.01}),
               "newton": ((0.052, 0.924), 0.925, {"eta": 1 / 3}),
               "inverse": ((0.0847, 0.504), 0.51, {"eta": 0.3})}
    alignment = {"gd": 1.054, "newton": 1.265, "inverse": 1.356}
    for solver, (x_final, dist, hp) in printed.items():
        r = pgbench.run("quadratic2d-v0", solver, iterations=10, throw=True, **hp)
        x = np.asarray(r.final.detach() if hasattr(r.final, "detach") else r.final, dtype=np.float64)[0]
        np.testing.assert_allclose(x, x_final, atol=1.5e-3)
        np.testing.assert_allclose(np.linalg.norm(x), dist, atol=5e-3)
        one = pgbench.run("quadratic2d-v0", solver, iterations=1, throw=True, **hp)
        x1 = np.asarray(one.final.detach() if hasattr(one.final, "detach") else one.final, dtype=np.float64)[0]
        step = x1 - np.array([3.0, 3.0])
        np.testing.assert_allclose(abs(np.sum(step / np.linalg.norm(step))), alignment[solver], atol=1e-3)
    # closed forms: GD x0 = 3·0.98^10; Newton 3·(2/3)^10, 3·(8/9)^10; PG 3·0.7^10, 3·0.7^5
    np.testing.assert_allclose([3 * 0.98**10, 3 * (2 / 3) ** 10, 3 * (8 / 9) ** 10, 3 * 0.7**10, 3 * 0.7**5],
                               [2.451, 0.052, 0.924, 0.0847, 0.504], atol=1e-3)


@pytest.mark.parametrize("solver", ["hig", "gn"])
def test_torch_jax_parity(solver):
    # η = 0.1, τ = 1e-3: float32 Jacobians differ in the last bits between the libraries, and the
    # half-inverse amplifies that along singular directions near τ·σmax (×(σmax/σ)^½)
    runs = [pgbench.run("hig-toy-v0", solver, iterations=4, backend=b, throw=True, eta=0.1, tau=1e-3)
            for b in ("torch", "jax")]
    for col in ("loss", "x_error", "rank"):
        np.testing.assert_allclose(runs[0].records[col], runs[1].records[col], rtol=2e-3, err_msg=col)
    pt = {k: v.detach().numpy() for k, v in runs[0].final.items()}
    for k, v in runs[1].final.items():
        np.testing.assert_allclose(pt[k], np.asarray(v), rtol=2e-3, atol=2e-4, err_msg=k)


def test_hig_far_below_adam_on_the_book_toy_at_equal_iterations():
    """Book toy, λ = 0.01: Adam (lr 1e-3) stalls on the flat output; HIG keeps falling."""
    hig = pgbench.run("hig-toy-v0", "hig", iterations=300, throw=True)
    adam = pgbench.run("hig-toy-v0", "dp", iterations=300, throw=True, lr=1e-3)
    h = hig.records["eval_loss"].dropna().iloc[-1]
    a = adam.records["eval_loss"].dropna().iloc[-1]
    assert h < 0.3 * a, (h, a)


def test_schedule_in_seconds_counts_the_clock_it_is_given():
    """With the runner's clock (``elapsed`` handed to every update), the first stage ends at the
    first update after which that clock reads ``switch_at`` or more — here a fake clock, so the
    test is exact. The switch point lives in the state: two runs of one schedule object interleave."""
    from pgbench import keys
    from pgbench.backends import get_backend
    be = get_backend("torch")
    prob = pgbench.make_problem("hig-toy-v0", scale="quick", batch_size=4)
    sched = pgbench.make_solver("schedule", first="dp", then="hig", switch_at=10.0, unit="seconds")
    net = prob.network()
    params = net.init(keys.rng(0, "net"), be)
    update = sched.compile(prob, be, net)
    state, other = sched.init(prob, be, net, params), sched.init(prob, be, net, params)
    stages, other_stages = [], []
    now = 0.0
    for i, t in enumerate((3.0, 9.99, 10.0, 11.0, 12.0)):
        x_true, y = prob.sample(keys.rng(0, "train", i), 4, be)
        params, state, out = update(params, state, y, x_true, now)
        stages.append(out.info["stage"])
        _, other, out = update(params, other, y, x_true, 0.0)   # a second run, still early
        other_stages.append(out.info["stage"])
        now = t
    assert stages == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert other_stages == [0.0] * 5
