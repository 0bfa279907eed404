"""navier-stokes-v0: data generator, marker loss, x error, the vortex estimator (PG), gradients,
torch–jax parity and runs through the generic solvers."""

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.ops import fluid as F
from pgbench.registry import make_problem


def small(**kw):
    """16×16 cells on the paper's 128×128 domain (dx = 8), loss falloff scaled with resolution."""
    settings = dict(resolution=16, frequency_falloff=20.0, batch_size=2, test_size=2, eval_every=1)
    settings.update(kw)
    return make_problem("navier-stokes-v0", scale="quick", **settings)


def test_scales_and_network():
    paper = make_problem("navier-stokes-v0", scale="paper")
    quick = make_problem("navier-stokes-v0", scale="quick")
    assert (paper.resolution, paper.domain, paper.batch_size, paper.steps, paper.dt) == (64, 128.0, 64, 8, 0.25)
    assert paper.dx == 2.0 and quick.dx == 4.0 and quick.domain == 128.0
    assert paper.frequency_falloff / paper.resolution == quick.frequency_falloff / quick.resolution
    assert paper.network().n_params() == 49_570
    assert paper.solver_defaults["dp"]["lr"] == 0.005 and paper.solver_defaults["gd"]["eta"] == 1.0
    assert paper.solver_defaults["lbfgsb"]["maxiter"] == 16
    with pytest.raises(ValueError):
        make_problem("navier-stokes-v0", fidelity="nope")


@pytest.mark.parametrize("resolution,expected", [(64, 120.519), (32, 120.54)])
def test_pure_swirl_gives_its_vortex_strength_back(resolution, expected):
    be = get_backend("torch")
    p = make_problem("navier-stokes-v0", resolution=resolution)
    assert p.vortex_normalisation() == pytest.approx(expected, abs=5e-3)
    like = be.zeros((3, 2, resolution, resolution), "float64")
    omega = be.asarray(np.array([-1.7, 0.3, 2.0]), "float64")
    sw = p.swirl(be.xp, omega, like)
    np.testing.assert_allclose(be.to_numpy(p.vortex_mode(be.xp, sw)), [-1.7, 0.3, 2.0], rtol=1e-12)
    uniform = sw * 0 + be.asarray(np.array([3.0, -5.0])[None, :, None, None], "float64")
    np.testing.assert_allclose(be.to_numpy(p.vortex_mode(be.xp, sw + uniform)), [-1.7, 0.3, 2.0], rtol=1e-10)
    # the authors' constant 120.5 gives it back to within 0.05 %
    pa = make_problem("navier-stokes-v0", resolution=resolution, fidelity="authors")
    np.testing.assert_allclose(be.to_numpy(pa.vortex_mode(be.xp, sw)), [-1.7, 0.3, 2.0], rtol=5e-4)


def test_swirl_is_the_angular_velocity_field():
    be = get_backend("torch")
    p = make_problem("navier-stokes-v0", resolution=64)
    sw = be.to_numpy(p.swirl(be.xp, be.asarray(np.array([1.5]), "float64"), be.zeros((1, 2, 64, 64), "float64")))
    i, j = 40, 20                      # cell centre (81, 41): offset (17, -23)
    g = np.exp(-0.5 * (17 ** 2 + 23 ** 2) / 400)
    np.testing.assert_allclose(sw[0, :, i, j], [1.5 * g * 23, 1.5 * g * 17])


def test_marker_loss_matches_numpy_fft():
    be = get_backend("torch")
    p = small()
    rng = np.random.default_rng(0)
    r = rng.normal(size=(3, 16, 16)) * np.array([1.0, 1e-3, 0.0])[:, None, None]   # incl. sub-floor cases
    got = be.to_numpy(p.marker_loss(be.xp, be.asarray(r, "float64")))
    rc = r - r.mean(axis=(1, 2), keepdims=True)
    f = np.fft.fftfreq(16)
    w = np.exp(-0.5 * 20.0 ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    ref = np.sqrt(np.maximum(np.abs(np.fft.fft2(rc) * w) ** 2, 1e-5)).sum(axis=(1, 2))
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert ref[2] == pytest.approx(256 * np.sqrt(1e-5))


@pytest.mark.parametrize("fidelity", ["intended", "authors"])
def test_data_generator(fidelity):
    p = make_problem("navier-stokes-v0", resolution=64, fidelity=fidelity)
    m0, v0, fill = p._marker_and_velocity(keys.rng(0, "test"), 6)
    assert set(np.unique(m0)) <= {0.0, 1.0}
    mass = m0.sum(axis=(1, 2))
    assert np.all(mass > 0) and np.all(mass <= np.round(4096 * fill) + 1)
    assert np.all((fill >= 0.05) & (fill < 0.15))
    assert (len(set(fill)) == 1) == (fidelity == "authors")       # quirk: one fill fraction per batch
    pc = F.cell_centers(64, 2.0)
    rows, cols = np.nonzero(m0.sum(axis=(0, 2)))[0], np.nonzero(m0.sum(axis=(0, 1)))[0]
    assert pc[rows].min() >= 32 - 28 and pc[rows].max() <= 96 + 28 and pc[cols].min() >= 4
    for b in range(6):
        marked = np.argwhere(m0[b])
        span = pc[marked].max(axis=0) - pc[marked].min(axis=0)
        assert np.all(span <= 56)                                      # inside its 56×56 box
    # uniform part carries the marker's centre of mass to the domain centre in T = 2
    com = np.stack([(m0 * pc[None, :, None]).sum((1, 2)), (m0 * pc[None, None, :]).sum((1, 2))], 1) / mass[:, None]
    be = get_backend("torch")
    omega = be.to_numpy(p.vortex_mode(be.xp, be.asarray(v0 - v0.mean(axis=(2, 3), keepdims=True))))
    assert np.all(np.abs(omega) < 2.2)
    mean_v = v0.mean(axis=(2, 3))
    np.testing.assert_allclose(com + mean_v * 2.0, 64.0, atol=0.2)     # fluctuations have zero mean overall


def test_ground_truth_is_an_exact_solution_and_x_error():
    be = get_backend("torch")
    p = small()
    x_true, y = p.sample(keys.rng(0, "test"), 3, be)
    floor = 256 * np.sqrt(1e-5)
    np.testing.assert_allclose(be.to_numpy(p.loss(be, x_true, y)), floor, rtol=1e-6)
    assert np.all(be.to_numpy(p.loss(be, x_true * 0, y)) > 2 * floor)
    np.testing.assert_allclose(be.to_numpy(p.x_error(be, x_true, x_true, y)), 0.0, atol=1e-6)
    # a uniform offset is divergence-free: the per-cell error is its length
    off = x_true + be.asarray(np.array([3.0, 4.0], dtype=np.float32)[None, :, None, None])
    np.testing.assert_allclose(be.to_numpy(p.x_error(be, off, x_true, y)), 5.0, rtol=1e-5)
    # the authors' collocated, unprojected ground truth is not reproduced by the staggered path
    pa = small(fidelity="authors")
    xa, ya = pa.sample(keys.rng(0, "test"), 3, be)
    assert np.all(be.to_numpy(pa.loss(be, xa, ya)) > floor * 1.01)


def test_estimator_output_lies_on_the_uniform_plus_vortex_manifold():
    be = get_backend("torch")
    xp = be.xp
    p = small()
    x_true, y = p.sample(keys.rng(1, "test"), 2, be)
    x_corr = p.inverse(be, x_true * 0.5, y)
    com0 = F.center_of_mass(xp, y[:, 0], p.dx)
    uniform = be.to_numpy((64.0 - com0) / 2.0)
    np.testing.assert_allclose(be.to_numpy(xp.mean(x_corr, axis=(2, 3))), uniform, rtol=1e-4, atol=1e-4)
    omega = p.vortex_mode(xp, x_corr)
    rebuilt = p.swirl(xp, omega, x_corr) + be.asarray(uniform[:, :, None, None].astype(np.float32))
    np.testing.assert_allclose(be.to_numpy(x_corr), be.to_numpy(rebuilt), atol=1e-4)
    # eta damps the step
    half = p.inverse(be, x_true * 0.5, y, eta=0.5)
    np.testing.assert_allclose(be.to_numpy(half), be.to_numpy(0.5 * (x_true * 0.5 + x_corr)), atol=1e-5)


def test_initial_guess_is_the_marker_displacement():
    be = get_backend("torch")
    p = small()
    x_true, y = p.sample(keys.rng(4, "test"), 2, be)
    x0 = be.to_numpy(p.initial_guess(be, y))
    com = lambda m: be.to_numpy(F.center_of_mass(be.xp, m, p.dx))  # noqa: E731
    np.testing.assert_allclose(x0[:, :, 3, 5], (com(y[:, 1]) - com(y[:, 0])) / 2.0, rtol=1e-5)
    assert np.all(x0 == x0[:, :, :1, :1])
    assert np.all(be.to_numpy(small(start="zero").initial_guess(be, y)) == 0)


def test_iterated_estimator_reduces_x_error():
    be = get_backend("torch")
    p = make_problem("navier-stokes-v0", scale="quick")
    x_true, y = p.sample(keys.rng(0, "test"), 4, be)
    x = x_true * 0
    errs = [float(np.mean(be.to_numpy(p.x_error(be, x, x_true, y))))]
    for _ in range(3):
        x = p.inverse(be, x, y)
        errs.append(float(np.mean(be.to_numpy(p.x_error(be, x, x_true, y)))))
    assert errs[1] < 0.5 * errs[0] and errs[3] < errs[1], errs


def test_loss_gradient_matches_finite_differences():
    """∂L/∂v0 through resampling, the initial projection, 8 steps (implicit CG adjoints) and the
    frequency loss, float64 with tight CG tolerances, against central differences."""
    be = get_backend("torch")
    p = small(cg_atol=1e-12, init_tol=1e-12)
    x_true, y = p.sample(keys.rng(2, "test"), 1, be)
    y = be.xp.astype(y, be.xp.float64)
    x = be.xp.astype(x_true, be.xp.float64) * 0.8
    _, g = be.value_and_grad(lambda v: be.xp.sum(p.loss(be, v, y)))(x)
    g = be.to_numpy(g)
    xn = be.to_numpy(x)
    eps = 1e-5
    idx = [tuple(int(i) for i in np.unravel_index(k, g.shape)) for k in np.argsort(-np.abs(g).ravel())[:3]]
    idx += [(0, 1, 3, 11), (0, 0, 9, 2)]
    for i in idx:
        e = np.zeros_like(xn)
        e[i] = eps
        lp = float(be.to_numpy(p.loss(be, be.asarray(xn + e), y))[0])
        lm = float(be.to_numpy(p.loss(be, be.asarray(xn - e), y))[0])
        assert g[i] == pytest.approx((lp - lm) / (2 * eps), rel=2e-3, abs=1e-6), i


def test_torch_jax_parity():
    pt = small(steps=1, time=0.25)
    tb, jb = get_backend("torch"), get_backend("jax")
    x_true, y = pt.sample(keys.rng(3, "test"), 2, tb)
    xj_true, yj = pt.sample(keys.rng(3, "test"), 2, jb)
    np.testing.assert_allclose(tb.to_numpy(y), jb.to_numpy(yj), atol=1e-6)
    x = tb.to_numpy(x_true) * 0.7
    res = {}
    for be, yy in ((tb, tb.to_numpy(y)), (jb, tb.to_numpy(y))):
        xb, yb = be.asarray(x, "float32"), be.asarray(yy, "float32")
        gradf = be.jit(be.value_and_grad(lambda v, w: be.xp.sum(pt.loss(be, v, w))))
        est = be.jit(lambda v, w: pt.inverse(be, v, w))
        (loss, grad), x_corr = gradf(xb, yb), est(xb, yb)
        res[be.name] = [be.to_numpy(a) for a in (loss, grad, x_corr)]
    for a, b in zip(res["torch"], res["jax"]):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * np.abs(a).max())


@pytest.mark.parametrize("solver,kw", [("pg", {}), ("dp", {}), ("inverse", {}), ("gd", {}),
                                       ("pg", {"inner": "lbfgsb", "inner_settings": {"maxiter": 2}})])
def test_solvers_run(solver, kw):
    p = small(steps=2, time=0.5)
    from pgbench.registry import make_solver, SOLVERS
    s = make_solver(solver, **{**p.solver_defaults.get(SOLVERS.resolve(solver).name, {}), **kw})
    res = pgbench.run(p, s, iterations=1 if "inner" in kw else 2, throw=True)
    assert res.status == "ok"
    rec = res.records
    assert np.all(np.isfinite(rec["x_error"])) and np.all(np.isfinite(rec["loss"]))
    if solver in ("inverse", "gd"):   # one step from the initial guess improves x
        assert rec["x_error"].iloc[-1] < rec["x_error"].iloc[0]


def _fixture_frame():
    """A hand-made results frame in the store's layout: PG and DP networks, the iterated estimator
    and GD on navier-stokes-v0, plus runs Table 1 must ignore."""
    settings = '{"test_size": 4}'

    def run(key, solver, kind, its, times, errs, status="ok", problem="navier-stokes-v0", inner=None):
        col = "eval_x_error" if kind == "training" else "x_error"
        other = "x_error" if kind == "training" else "eval_x_error"
        return pd.DataFrame({"run_key": key, "problem": problem, "solver": solver, "kind": kind, "status": status,
                             "iteration": its, "wall_time": times, "loss": 1.0, col: errs, other: np.nan,
                             "problem_settings": settings, "hp_inner": inner, "hp_lr": 0.005,
                             "store_format": "0.2"})   # the current format: rows are not renumbered

    return pd.concat([
        run("pg1", "pg-v0", "training", [0, 10, 20], [0.0, 10.0, 20.0], [5.0, 2.0, 1.0]),
        run("pgb", "pg-v0", "training", [0, 10], [0.0, 50.0], [5.0, 0.1], inner="lbfgsb"),     # not the estimator
        run("dp1", "dp-v0", "training", [0, 10, 20], [0.0, 8.0, 16.0], [5.0, 3.0, 2.5]),
        run("inv", "inverse-v0", "iterative", [0, 1, 2, 3], [0.0, 2.0, 4.0, 6.0], [5.0, 1.5, 0.9, 0.8]),
        run("gd1", "gd-v0", "iterative", [0, 1, 2], [0.0, 50.0, 100.0], [5.0, 4.0, 3.0]),
        run("gdx", "gd-v0", "iterative", [0, 1], [0.0, 1.0], [5.0, 0.1], status="failed"),     # ignored
        run("oth", "gd-v0", "iterative", [0, 1], [0.0, 1.0], [5.0, 0.1], problem="heat-v0"),  # ignored
    ], ignore_index=True)


def test_table1_from_a_fixture_frame():
    from pgbench.analysis.table1 import default_target, table1, table1_runs
    from pgbench.report.tables import format_table1

    df = _fixture_frame()
    assert default_target(df) == 1.0                      # the PG network's final held-out error
    t = table1(df, inference_time=1.1e-4).set_index("method")
    assert list(t.index) == ["NN + PG", "NN + Adam (DP)", "domain-specific solver", "GD"]
    assert t.loc["NN + PG", "reached"] and t.loc["NN + PG", "training_time_s"] == 20.0
    assert t.loc["NN + PG", "iterations"] == 20 and t.loc["NN + PG", "inference_time_per_example_s"] == 1.1e-4
    assert not t.loc["NN + Adam (DP)", "reached"] and t.loc["NN + Adam (DP)", "x_error_at_end"] == 2.5
    assert t.loc["domain-specific solver", "reached"] and t.loc["domain-specific solver", "iterations"] == 2
    assert t.loc["domain-specific solver", "time_per_example_s"] == 4.0 / 4
    assert not t.loc["GD", "reached"] and t.loc["GD", "time_per_example_s"] == 100.0 / 4
    assert t.loc["GD", "runs"] == 1                        # the failed and the other problem's runs are out
    # an explicit, looser target: GD reaches it at iteration 1
    runs = table1_runs(df, 4.0).set_index("method")
    assert runs.loc["GD", "reached"] and runs.loc["GD", "iterations"] == 1
    text = format_table1(table1(df, inference_time=1.1e-4))
    assert "> 25 s" in text and "0.11 ms" in text


def test_iteration_costs_read_the_time_at_k_without_extrapolating():
    from pgbench.analysis.table1 import iteration_costs

    t = iteration_costs(_fixture_frame(), {"domain-specific solver": 2, "GD": 5}).set_index("method")
    assert t.loc["domain-specific solver", "time_at_k_per_example_s"] == 4.0 / 4    # wall 4 s at iteration 2, 4 examples
    assert t.loc["domain-specific solver", "seconds_per_iteration_per_example"] == 6.0 / 3 / 4
    assert np.isnan(t.loc["GD", "time_at_k_per_example_s"])                       # GD stopped at 2 < 5
    assert t.loc["GD", "seconds_per_iteration_per_example"] == 100.0 / 2 / 4
    assert len(t) == 2                                     # the failed GD run and heat's run are out


def test_report_table1_costs_relate_to_inference_time():
    from pgbench.report import _table1_costs

    ex = [{"meta": {"problem": "navier-stokes-v0", "solver": "pg-v0", "inference_seconds_per_example": 1e-3}}]
    t = _table1_costs(_fixture_frame(), ex).set_index("method")
    assert t.loc["domain-specific solver", "runs"] == 1 and t.loc["domain-specific solver", "k"] == 7
    assert np.isnan(t.loc["domain-specific solver", "time_at_k_per_example_s"])   # the estimator ran 3 < 7
    assert t.loc["GD", "seconds_per_iteration_per_example"] == 100.0 / 2 / 4
    assert t.loc["GD", "inference_time_per_example_s"] == 1e-3
    assert _table1_costs(_fixture_frame().query("kind == 'training'"), ex) is None


def test_table1_leaves_out_time_capped_runs_when_uncapped_ones_exist():
    from pgbench.analysis.table1 import table1_runs

    df = _fixture_frame()
    df["max_time"] = np.nan
    capped = df[df["run_key"] == "pg1"].assign(run_key="pg40", max_time=40.0, eval_x_error=[5.0, 4.0, 3.0])
    runs = table1_runs(pd.concat([df, capped], ignore_index=True), 1.0)
    assert "pg40" not in set(runs["run_key"]) and "pg1" in set(runs["run_key"])
    only_capped = pd.concat([df[df["run_key"] != "pg1"], capped], ignore_index=True)
    assert "pg40" in set(table1_runs(only_capped, 1.0)["run_key"])   # kept when it is all there is
