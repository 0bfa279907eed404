"""Heat equation: Fourier diffusion, float64 requirement, damped inverse, data, runner integration."""

import math

import numpy as np
import pytest

import pgbench
from pgbench.tuning import preset
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.problems.heat import Heat
from pgbench.registry import make_problem

BACKENDS = ["torch", "jax"]
TINY = dict(resolution=(16, 16), tau=0.5, half_size_max=2.5, batch_size=4, test_size=4, eval_every=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_mode_decays_by_analytic_factor(backend):
    be = get_backend(backend)
    p = make_problem("heat-v0", scale="paper")
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    x = np.sin(2 * np.pi * (2 * i + 5 * j) / 64)[None, None] + 0.7
    y = be.to_numpy(p.forward(be, be.asarray(x)))
    factor = math.exp(-(2 * math.pi) ** 2 * (4 + 25) / 64 ** 2 * 8.0)
    np.testing.assert_allclose(y, factor * (x - 0.7) + 0.7, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_is_enforced(backend):
    be = get_backend(backend)
    p = make_problem("heat-v0", scale="paper")
    x = be.zeros((1, 1, 64, 64), "float32")
    with pytest.raises(TypeError, match="float64"):
        p.forward(be, x)
    with pytest.raises(TypeError, match="float64"):
        p.inverse(be, x, be.zeros((1, 1, 64, 64), "float64"))
    # why: the inverse kernel e^{(2π)²|k|²τ} overflows float32 but not float64
    assert p.max_log_kernel == pytest.approx((2 * math.pi) ** 2 * 0.5 * 8, rel=1e-12)
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.float32(p.max_log_kernel)))
    assert np.isfinite(np.exp(np.float64(p.max_log_kernel)))
    assert p.physics_dtype == "float64" and p.net_dtype == "float32"
    x_true, y = p.sample(keys.rng(0, "t"), 2, be)
    assert "float64" in str(x_true.dtype) and "float64" in str(y.dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inverse_recovers_noise_free_low_pass_field(backend):
    be = get_backend(backend)
    p = make_problem("heat-v0", scale="paper")
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    x = 0.3 + 0.01 * (np.cos(2 * np.pi * (i + 2 * j) / 64) + np.sin(2 * np.pi * 3 * i / 64 + 1.0))[None, None]
    y = p.forward(be, be.asarray(x))
    x0 = be.asarray(np.full_like(x, 0.3))
    rec = be.to_numpy(p.inverse(be, x0, y))
    np.testing.assert_allclose(rec, x, atol=1e-10)
    # damping: a high-frequency residual far below the signal prior is smoothed, not amplified
    hf = 1e-3 * np.cos(np.pi * i)[None, None]
    out = be.to_numpy(p.inverse(be, be.asarray(x), y + be.asarray(hf)))
    assert np.abs(out - x).max() <= 1e-3


def test_net_output_is_mean_corrected():
    be = get_backend("torch")
    p = Heat(**TINY)
    out = be.asarray(np.random.default_rng(0).normal(size=(3, 1, 16, 16)), "float32")
    y = be.asarray(np.random.default_rng(1).uniform(size=(3, 1, 16, 16)), "float64")
    x = be.to_numpy(p.net_output(be, out, y))
    assert x.dtype == np.float64
    np.testing.assert_allclose(x.mean(axis=(2, 3)), be.to_numpy(y).mean(axis=(2, 3)), atol=1e-6)
    np.testing.assert_allclose(x - x.mean(axis=(2, 3), keepdims=True),
                               be.to_numpy(out) - be.to_numpy(out).mean(axis=(2, 3), keepdims=True), atol=1e-6)


def test_data_statistics():
    p = make_problem("heat-v0", scale="paper")
    x = p.sample_x(keys.rng(0, "stats"), 512)
    assert x.shape == (512, 1, 64, 64) and x.min() >= 0
    mass = x.sum(axis=(1, 2, 3))
    # E[Σx*] ≈ E[n_active]·E[strength]·E[area] = 7 · 0.5 · (2·5)² = 350 (soft edges add a little)
    assert 320 < mass.mean() < 390
    # the diffused observation keeps each example's mean
    be = get_backend("torch")
    xt, y = p.sample(keys.rng(0, "stats"), 8, be)
    # masks built on the device from the host draws = the NumPy ground truth of the same stream
    np.testing.assert_allclose(be.to_numpy(xt), p.sample_x(keys.rng(0, "stats"), 8), rtol=0, atol=1e-13)
    np.testing.assert_allclose(be.to_numpy(y).mean(axis=(2, 3)), be.to_numpy(xt).mean(axis=(2, 3)), atol=1e-12)
    # number of active rectangles in {4..10}: count distinct strengths via one-box-per-sample draws
    counts = np.floor(4 + 7 * keys.rng(0, "c").uniform(size=10000)).astype(int)
    assert set(counts) == set(range(4, 11))


def test_physics_torch_jax_parity():
    p = make_problem("heat-v0", scale="quick")
    res = []
    for b in BACKENDS:
        be = get_backend(b)
        x, y = p.sample(keys.rng(0, "train", 0), 4, be)
        x0 = be.zeros(x.shape, "float64")
        res.append([be.to_numpy(a) for a in (x, y, p.inverse(be, x0, y), p.inverse(be, x0, y, 1.0, 1e-8))])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_single_problem_pg_beats_gd():
    """Spec §11: the iterated damped inverse (with the 1e-8 floor) gets far below GD; without the
    floor it must not be used iteratively (round-off is amplified by up to e^{40})."""
    p = make_problem("heat-v0", scale="quick", test_size=8)
    pg = pgbench.run(p, "inverse", iterations=20, throw=True)
    gd = pgbench.run(p, "gd", iterations=20, throw=True)
    assert pg.meta["hyperparameters"]["options"] == {"uncertainty_floor": 1e-8}
    e_pg, e_gd = pg.records["x_error"].to_numpy(), gd.records["x_error"].to_numpy()
    assert np.isfinite(e_pg).all() and e_pg[-1] < 0.75 * e_gd[-1] and e_pg[-1] <= e_pg[1] * 1.001


@pytest.mark.parametrize("solver,hp", [("adam", {}), ("lbfgsb", {"maxiter": 10})])
def test_other_single_problem_solvers_run(solver, hp):
    r = pgbench.run(Heat(**TINY), solver, iterations=3, throw=True, **hp)
    assert r.status == "ok" and r.records["loss"].iloc[-1] < r.records["loss"].iloc[0]


@pytest.mark.parametrize("hp", [{}, "lbfgsb", "sgd"])
def test_training_runs(hp):
    p = Heat(**TINY)
    hp = {"lbfgsb": preset(p, "lbfgsb_pg"), "sgd": preset(p, "paper_sgd")}.get(hp, hp) if isinstance(hp, str) else hp
    scheme = "dp" if hp.get("optimizer") == "sgd" else "pg"
    r = pgbench.run(p, scheme, iterations=2, throw=True, **hp)
    assert r.status == "ok" and np.isfinite(r.records["eval_x_error"]).all()
    if scheme == "pg" and "inner" not in hp:
        assert r.meta["hyperparameters"]["inner_settings"] == {"options": {"uncertainty_floor": 0.0}}


@pytest.mark.parametrize("scheme", ["dp", "pg"])
def test_x_gradient_torch_jax_parity(scheme):
    from pgbench.registry import make_solver
    p = Heat(**TINY)
    out = []
    for b in BACKENDS:
        be = get_backend(b)
        x_true, y = p.sample(keys.rng(0, "train", 0), 4, be)
        x = be.asarray(np.random.default_rng(5).uniform(size=(4, 1, 16, 16)), "float64")
        s = make_solver(scheme, **p.solver_defaults[scheme])
        g, _ = be.jit(lambda x, y, xt: s.x_gradient(p, be, x, y, xt))(x, y, x_true)
        out.append(be.to_numpy(g))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-9)
