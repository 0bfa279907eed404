"""Gauss-Newton and Levenberg-Marquardt (``gauss-newton-v0``, ``lm-v0``): optimistix on jax, the
array-API iteration on torch; checked against scipy's MINPACK LM run independently per example."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from pgbench.backends import get_backend
from pgbench.registry import make_problem, make_solver

BACKENDS = ("torch", "jax")
SOLVERS = ("gauss-newton-v0", "lm-v0")


def _solve(problem, solver_id, backend, x0, y, steps):
    """``steps`` contract steps from x0 (numpy float64) on the backend; the iterates as numpy."""
    be = get_backend(backend)
    solver = make_solver(solver_id)
    x, y = be.asarray(x0, "float64"), be.asarray(y, "float64")
    state = solver.init(problem, be, x, y)
    step = be.jit(lambda x, y, s: solver.step(problem, be, x, y, s))
    xs = [x0]
    for _ in range(steps):
        x, state, _ = step(x, y, state)
        xs.append(be.to_numpy(x))
    return xs


def _scipy(problem, x0, y):
    """scipy.optimize.least_squares(method="lm") per example on the numpy residual."""
    be = get_backend("torch")
    out = np.empty_like(x0)
    for b in range(x0.shape[0]):
        def fun(v, b=b):
            r = problem.residual(be, be.asarray(v[None], "float64"), be.asarray(y[b:b + 1], "float64"))
            return be.to_numpy(r).ravel()
        out[b] = least_squares(fun, x0[b], method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    return out


def _data(problem_id, n=6, offset=None):
    p = make_problem(problem_id, scale="quick")
    be = get_backend("torch")
    xt, y = p.sample(np.random.default_rng(3), n, be)
    xt, y = be.to_numpy(xt).astype(np.float64), be.to_numpy(y).astype(np.float64)
    if problem_id == "exp-v0":
        y = np.exp(xt)   # float64 targets of the float32 draws
    x0 = np.zeros_like(xt) if offset is None else xt + offset * np.random.default_rng(4).standard_normal(xt.shape)
    return p, x0, y, xt


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("solver_id", SOLVERS)
@pytest.mark.parametrize("problem_id,offset,steps", [("exp-v0", 1.0, 50), ("sin2d-v0", 0.01, 25)])
def test_converges_to_scipy_lm_minimiser(backend, solver_id, problem_id, offset, steps):
    p, x0, y, xt = _data(problem_id, offset=offset)
    got = _solve(p, solver_id, backend, x0, y, steps)[-1]
    want = _scipy(p, x0, y)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # zero-residual problems: the drawn x (sin2d's drawn in float32, so to float32 round-off)
    np.testing.assert_allclose(want, xt, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gauss_newton_converges_quadratically_on_exp(backend):
    """From 0.5 off the minimum, the error e_k = |x_k - log y*| obeys e_{k+1} <= e_k^2 (for
    exp, GN gives e_{k+1} = e^{-e_k} + e_k - 1 <= e_k^2/2) and is below 1e-12 after 5 steps."""
    p, _, y, xt = _data("exp-v0")
    xs = _solve(p, "gauss-newton-v0", backend, xt + 0.5, y, 5)
    e = [np.abs(x - xt).max() for x in xs]
    assert e[-1] < 1e-12, e
    for a, b in zip(e[:3], e[1:4]):
        assert b <= a * a, e


@pytest.mark.parametrize("solver_id", SOLVERS)
def test_backends_take_the_same_steps(solver_id):
    """Both backends use the same iteration (LM: optimistix's trust-region rule), so the
    per-step iterates agree to round-off on exp from 0."""
    p, x0, y, _ = _data("exp-v0")
    a = np.array(_solve(p, solver_id, "torch", x0, y, 20))
    b = np.array(_solve(p, solver_id, "jax", x0, y, 20))
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_lm_rejects_a_bad_step_and_keeps_x():
    """From 0.3 off a sin2d minimum: the loss never rises (a rejected step keeps x) and falls."""
    p, x0, y, _ = _data("sin2d-v0", offset=0.3)
    for backend in BACKENDS:
        xs = np.array(_solve(p, "lm-v0", backend, x0, y, 8))
        loss = [float(np.sum(be_res ** 2)) for be_res in (_residual_np(p, x, y) for x in xs)]
        assert all(b <= a + 1e-12 for a, b in zip(loss, loss[1:])), (backend, loss)   # never uphill
        assert loss[-1] < 0.5 * loss[0], (backend, loss)   # and it does make progress


def _residual_np(p, x, y):
    be = get_backend("torch")
    return be.to_numpy(p.residual(be, be.asarray(x, "float64"), be.asarray(y, "float64")))


def test_missing_and_unknown_method():
    heat = make_problem("heat-v0", scale="quick")
    assert "small" in make_solver("lm-v0").missing(heat)
    assert make_solver("gauss-newton-v0").missing(make_problem("exp-v0", scale="quick")) is None
    with pytest.raises(ValueError, match="did you mean 'gauss-newton'"):
        get_backend("torch").least_squares_init("gauss-newtn", None, None, None)
