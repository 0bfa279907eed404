"""Poisson ∇²y = x: CG forward, implicit adjoint, inverse-physics step, data, runner integration."""

import math

import numpy as np
import pytest

import pgbench
from pgbench.tuning import preset, tuned
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.ops import laplace
from pgbench.problems.poisson import Poisson
from pgbench.registry import make_problem

BACKENDS = ["torch", "jax"]
TINY = dict(resolution=(16, 16), noise_scale=2.5, batch_size=4, test_size=4, eval_every=1)


def _dense_P(n0, n1):
    def d2(n):
        return np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    return np.linalg.inv(np.kron(d2(n0), np.eye(n1)) + np.kron(np.eye(n0), d2(n1)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_laplacian_of_cg_solution_reproduces_x(backend):
    be = get_backend(backend)
    p = make_problem("poisson-v0", scale="quick")
    x_true, y = p.sample(keys.rng(0, "t"), 8, be)
    r = be.to_numpy(laplace(be.xp, y) - x_true).reshape(8, -1)
    rel = np.linalg.norm(r, axis=1) / np.linalg.norm(be.to_numpy(x_true).reshape(8, -1), axis=1)
    assert rel.max() <= 1.05e-5          # PhiFlow's stopping rule, rtol 1e-5 (float32 recursion slack)
    # against an exact dense solve in float64
    exact = (_dense_P(32, 32) @ be.to_numpy(x_true).reshape(8, -1).astype(np.float64).T).T
    err = np.linalg.norm(be.to_numpy(y).reshape(8, -1) - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert err.max() < 3e-3              # κ(∇²) ≈ 440 amplifies the 1e-5 residual at most to ~4e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_pg_correction_equals_ground_truth(backend):
    be = get_backend(backend)
    p = make_problem("poisson-v0", scale="quick")
    x_true, y = p.sample(keys.rng(0, "t"), 8, be)
    x_hat = be.asarray(np.random.default_rng(2).normal(size=(8, 1, 32, 32)), "float32")
    x_corr = be.to_numpy(p.inverse(be, x_hat, y))
    diff = np.linalg.norm((x_corr - be.to_numpy(x_true)).reshape(8, -1), axis=1)
    scale = np.linalg.norm(be.to_numpy(x_hat).reshape(8, -1), axis=1) + np.linalg.norm(
        be.to_numpy(x_true).reshape(8, -1), axis=1)
    assert (diff / scale).max() < 2e-5   # = r(x̂) - r(x*): two CG residuals of relative size 1e-5
    half = be.to_numpy(p.inverse(be, x_hat, y, eta=0.5))
    np.testing.assert_allclose(half, 0.5 * (be.to_numpy(x_hat) + x_corr), atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_implicit_adjoint_gradient_matches_dense(backend):
    """∂/∂x ½‖P x − y*‖² = Pᵀ(P x − y*), through be.linear_solve's adjoint CG, jitted under jax."""
    be = get_backend(backend)
    p = Poisson(**TINY, cg_rtol=1e-7)
    x_true, y = p.sample(keys.rng(1, "t"), 4, be)
    x = be.asarray(np.random.default_rng(3).normal(size=(4, 1, 16, 16)), "float32")

    def total(x):
        return be.xp.sum(p.loss(be, x, y))

    val, g = be.jit(be.value_and_grad(total))(x)
    P = _dense_P(16, 16)
    r = (P @ be.to_numpy(x).reshape(4, -1).T).T - be.to_numpy(y).reshape(4, -1)
    expected = (P.T @ r.T).T.reshape(4, 1, 16, 16)
    np.testing.assert_allclose(be.to_numpy(g), expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())
    assert float(val) == pytest.approx(0.5 * (r ** 2).sum(), rel=1e-4)


def test_data_statistics_and_torch_jax_parity():
    p = make_problem("poisson-v0", scale="quick")
    out = {}
    for b in BACKENDS:
        be = get_backend(b)
        x, y = p.sample(keys.rng(0, "train", 3), 16, be)
        out[b] = be.to_numpy(x), be.to_numpy(y)
    x, y = out["torch"]
    assert x.shape == (16, 1, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-5)
    np.testing.assert_array_equal(out["jax"][0], x)
    np.testing.assert_allclose(out["jax"][1], y, rtol=1e-4, atol=1e-4 * np.abs(y).max())


def test_gd_stability_limit_formula():
    """2/λ_max(PᵀP) = 2 λ_min(-∇²)², λ_min = 8 sin²(π/(2(n+1))): 4.4e-5 at 64², 6.6e-4 at 32² (spec §(d))."""
    lim = lambda n: 2 * (8 * math.sin(math.pi / (2 * (n + 1))) ** 2) ** 2  # noqa: E731
    assert lim(64) == pytest.approx(4.36e-5, rel=0.01)
    assert lim(32) == pytest.approx(6.56e-4, rel=0.01)
    assert tuned(make_problem("poisson-v0", scale="paper"), "gd")["eta"] < lim(64)
    assert tuned(make_problem("poisson-v0", scale="quick"), "gd")["eta"] < lim(32)
    p_iclr = make_problem("poisson-iclr-v0", scale="paper")
    assert p_iclr.x_shape == (1, 80, 60) and preset(p_iclr, "paper_sgd")["lr"] == 1e-9
    assert preset(make_problem("poisson-v0", scale="paper"), "paper_sgd")["lr"] == 3e-12


@pytest.mark.parametrize("solver", ["gd", "adam", "inverse", "lbfgsb"])
def test_single_problem_solvers_run(solver):
    p = Poisson(**TINY)
    hp = {"maxiter": 20} if solver == "lbfgsb" else {"eta": 1e-2} if solver == "gd" else {}
    r = pgbench.run(p, solver, iterations=3, throw=True, **hp)
    err = r.records["x_error"].to_numpy()
    assert r.status == "ok" and err[-1] < err[0]
    if solver == "inverse":   # one step lands on x* up to the CG error
        assert err[1] < 1e-3 * err[0]


@pytest.mark.parametrize("scheme,hp", [("dp", {}), ("pg", {}), ("dp", "sgd")])
def test_training_runs_and_pg_beats_dp_early(scheme, hp):
    p = Poisson(**TINY)
    if hp == "sgd":
        hp = {**preset(p, "paper_sgd"), "lr": 1e-9}
    r = pgbench.run(p, scheme, iterations=3, throw=True, **hp)
    assert r.status == "ok" and len(r.records) == 3
    assert np.isfinite(r.records["eval_x_error"]).all()


@pytest.mark.parametrize("scheme", ["dp", "pg"])
def test_x_gradient_torch_jax_parity(scheme):
    """What each scheme feeds back at the network output, on both backends (jitted under jax);
    the network's own pullback is held to parity in test_unet.py."""
    from pgbench.registry import make_solver
    p = Poisson(**TINY)
    out = []
    for b in BACKENDS:
        be = get_backend(b)
        x_true, y = p.sample(keys.rng(0, "train", 0), 4, be)
        x = be.asarray(np.random.default_rng(5).normal(size=(4, 1, 16, 16)), "float32")
        s = make_solver(scheme)
        g, _ = be.jit(lambda x, y, xt: s.x_gradient(p, be, x, y, xt))(x, y, x_true)
        out.append(be.to_numpy(g))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-3, atol=1e-3 * np.abs(out[0]).max())


@pytest.mark.slow
def test_training_step_torch_jax_parity():
    p = Poisson(**TINY)
    for scheme in ("dp", "pg"):
        recs = [pgbench.run(p, scheme, iterations=2, backend=b, throw=True).records for b in BACKENDS]
        for col in ("loss", "x_error", "eval_x_error"):
            np.testing.assert_allclose(recs[0][col], recs[1][col], rtol=2e-3, err_msg=f"{scheme} {col}")
