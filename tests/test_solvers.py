"""The update rules, checked against closed forms."""

import math

import numpy as np
import pytest

import pgbench
from pgbench.backends import get_backend


def _x(be, a):
    return be.asarray(np.asarray(a, dtype=np.float32))


def _quadratic(be):
    problem = pgbench.make_problem("quadratic2d")
    x_true, y = problem.sample(np.random.default_rng(0), 1, be)
    return problem, y


def test_gd_step_on_quadratic(backend):
    be = get_backend(backend)
    problem, y = _quadratic(be)
    x, _, _ = pgbench.make_solver("gd", eta=0.01).step(problem, be, _x(be, [[3.0, 3.0]]), y, None)
    np.testing.assert_allclose(be.to_numpy(x), [[3 - 0.01 * 6, 3 - 0.01 * 108]], rtol=1e-6)


def test_newton_step_is_hessian_scaled(backend):
    """H = diag(2, 12 x2²): the Newton step is (x1, x2/3)."""
    be = get_backend(backend)
    problem, y = _quadratic(be)
    x, _, _ = pgbench.make_solver("newton", eta=1.0).step(problem, be, _x(be, [[3.0, 3.0]]), y, None)
    np.testing.assert_allclose(be.to_numpy(x), [[0.0, 2.0]], atol=1e-5)


def test_inverse_gradient_step(backend):
    """J = diag(1, 2 x2), y = (x1, x2²): the inverse-gradient step is (x1, x2/2)."""
    be = get_backend(backend)
    problem, y = _quadratic(be)
    x, _, _ = pgbench.make_solver("invgrad", eta=0.5).step(problem, be, _x(be, [[3.0, 3.0]]), y, None)
    np.testing.assert_allclose(be.to_numpy(x), [[1.5, 2.25]], atol=1e-5)


def test_inverse_physics_path_is_straight_in_y_space():
    be = get_backend("torch")
    problem, y = _quadratic(be)
    x = _x(be, [[3.0, 3.0]])
    solver = pgbench.make_solver("inverse", eta=0.1)
    ys = []
    for _ in range(10):
        x, _, _ = solver.step(problem, be, x, y, None)
        ys.append(be.to_numpy(problem.forward(be, x))[0])
    ys = np.array(ys)
    ratio = ys[:, 1] / ys[:, 0]
    np.testing.assert_allclose(ratio, 3.0, rtol=1e-5)  # y stays on the line from (3, 9) to 0


def test_newton_flips_towards_minima_in_concave_regions():
    """On the sin problem near a maximum, plain Newton would climb; the flipped step descends."""
    be = get_backend("torch")
    problem = pgbench.make_problem("sin", scale="quick")
    a = _x(be, [[1.0]])
    x = _x(be, [[1.0 / (math.pi / 2) + 0.01]])  # just beside a maximum of sin(a/x)
    solver = pgbench.make_solver("newton", clip=1.0)
    x1, _, _ = solver.step(problem, be, x, a, None)
    assert be.to_numpy(problem.loss(be, x1, a))[0] < be.to_numpy(problem.loss(be, x, a))[0]


def test_sin_domain_newton_matches_formula():
    be = get_backend("torch")
    problem = pgbench.make_problem("sin")
    x, a = 0.7, 2.3
    d = float(be.to_numpy(problem.newton(be, _x(be, [[x]]), _x(be, [[a]])))[0, 0])
    c, s = math.cos(a / x), math.sin(a / x)
    expected = math.copysign(abs(x * x * c / (2 * x * c - a * s)), c)
    assert d == pytest.approx(expected, rel=1e-5)


def test_generic_newton_limiter_and_authors_contraction():
    """With a diagonal Hessian V is a permutation/identity, so the authors' contraction agrees;
    the limiter caps weakly curved directions at max_loss_change / |g|."""
    be = get_backend("torch")
    from pgbench.solvers.iterative import _flip_limited_newton_step
    g = _x(be, [[1.0, 2.0]])
    H = _x(be, [[[4.0, 0.0], [0.0, 0.25]]])
    free = be.to_numpy(_flip_limited_newton_step(be, g, H, None, False))
    np.testing.assert_allclose(free, [[-0.25, -8.0]], rtol=1e-6)
    limited = be.to_numpy(_flip_limited_newton_step(be, g, H, 0.2, False))
    np.testing.assert_allclose(limited, [[-0.25, -0.1]], rtol=1e-6)
    faithful = be.to_numpy(_flip_limited_newton_step(be, g, H, None, True))
    np.testing.assert_allclose(faithful, free, rtol=1e-6)


def test_authors_contraction_differs_for_rotated_hessians():
    be = get_backend("torch")
    from pgbench.solvers.iterative import _flip_limited_newton_step
    R = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    H = _x(be, [R @ np.diag([5.0, 1.0]) @ R.T])
    g = _x(be, [[1.0, -0.5]])
    intended = be.to_numpy(_flip_limited_newton_step(be, g, H, None, False))
    np.testing.assert_allclose(intended, -np.linalg.solve(be.to_numpy(H)[0], [1.0, -0.5])[None], rtol=1e-5)
    faithful = be.to_numpy(_flip_limited_newton_step(be, g, H, None, True))
    if not np.allclose(faithful, intended, rtol=1e-3):
        return  # eigh returned a rotation-type V: the authors' contraction mirrors the Hessian
    # a reflection-type V is symmetric, and then both contractions agree (spec §(c2))
    S, V = np.linalg.eigh(be.to_numpy(H)[0])
    assert np.allclose(V, V.T, atol=1e-6)


def test_lbfgsb_solves_quadratic_per_example():
    r = pgbench.run("quadratic2d", "lbfgsb", backend="torch", throw=True)
    assert r.records["x_error"].iloc[-1] < 0.05
    assert r.records["nit"].iloc[-1] >= 1


def test_sin_analytic_inverse_lands_on_a_minimum(backend):
    be = get_backend(backend)
    problem = pgbench.make_problem("sin")
    a = _x(be, [[0.5], [3.0], [9.0], [2.0]])
    x = _x(be, [[0.3], [-2.0], [50.0], [0.05]])
    x1 = problem.inverse(be, x, a, 1.0)
    np.testing.assert_allclose(be.to_numpy(problem.loss(be, x1, a)), 0.0, atol=1e-8)
    # and it is the nearest one: no other minimum is closer to x
    for xi, ai, ci in zip(be.to_numpy(x)[:, 0], be.to_numpy(a)[:, 0], be.to_numpy(x1)[:, 0]):
        ns = np.arange(-200, 200)
        minima = ai / (1.5 * np.pi + 2 * np.pi * ns)
        minima = minima[np.sign(minima) == np.sign(xi)]
        assert abs(ci - xi) <= np.min(np.abs(minima - xi)) + 1e-6


def test_adam_iterative_reduces_loss():
    r = pgbench.run("sin", "adam", iterations=30, backend="torch", throw=True)
    assert r.records["loss"].iloc[-1] < r.records["loss"].iloc[0]


def test_pg_inner_solver_as_id_or_object_and_any_iterative_solver():
    """PG's inner solver may be any registered iterative solver (``adam`` too) or a solver
    object; an object gives the same run as its id with the same settings, and its settings
    enter the run's hyperparameters (so its key)."""
    gd = pgbench.make_solver("gd", eta=0.05)
    by_id = pgbench.run("sin", "pg", iterations=3, inner="gd", inner_settings={"eta": 0.05}, throw=True)
    by_obj = pgbench.run("sin", pgbench.make_solver("pg", lr=2e-3, inner=gd), iterations=3, throw=True)
    np.testing.assert_array_equal(by_id.records["loss"], by_obj.records["loss"])
    assert by_obj.meta["hyperparameters"]["inner"] == {"id": "gd-v0", "eta": 0.05}
    other = pgbench.run("sin", pgbench.make_solver("pg", lr=2e-3, inner=pgbench.make_solver("gd", eta=0.5)),
                        iterations=3, throw=True)
    assert other.records["loss"].iloc[-1] != by_obj.records["loss"].iloc[-1]
    adam = pgbench.run("sin", "pg", iterations=3, inner="adam", throw=True)
    assert adam.status == "ok" and adam.meta["hyperparameters"]["inner"] == "adam"
    with pytest.raises(ValueError, match="not an iterative solver"):
        pgbench.make_solver("pg", inner="dp")


def test_pg_inner_inverse_and_none_are_one_run_key():
    """``inner="inverse"`` (or ``"inverse-v0"``) runs what ``inner=None`` runs, so it is stored as
    None: the same hyperparameters, the same run key, the same curve; another inner id keeps its own."""
    from pgbench import store
    runs = [pgbench.run("sin", "pg", iterations=3, throw=True, **kw)
            for kw in ({}, {"inner": "inverse"}, {"inner": "inverse-v0"})]
    assert {r.meta["hyperparameters"]["inner"] for r in runs} == {None}
    assert len({store.run_key(r.meta) for r in runs}) == 1
    for r in runs[1:]:
        np.testing.assert_array_equal(r.records["loss"], runs[0].records["loss"])
    assert pgbench.make_solver("pg", inner="gd").hyperparameters()["inner"] == "gd"
