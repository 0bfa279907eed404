"""torch and jax give the same numbers: data, physics, solver steps and whole training curves."""

import numpy as np
import pytest

import pgbench
from pgbench.tuning import tuned
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.testing import tiny_problem

pytest.importorskip("jax")
SMALL = ["quadratic2d", "sin", "wavepacket", "sin2d", "exp"]


@pytest.mark.parametrize("problem_id", [s.id for s in pgbench.PROBLEMS.latest()])
def test_data_and_physics_match(problem_id):
    problem = tiny_problem(problem_id)
    out = {}
    for name in ("torch", "jax"):
        be = get_backend(name)
        x_true, y = problem.sample(keys.rng(5, "parity"), 2, be)
        x0 = problem.initial_guess(be, y)
        out[name] = [be.to_numpy(a) for a in (x_true, y, problem.loss(be, x0, y), problem.x_error(be, x0, x_true, y))]
    tol = 1e-9 if problem.physics_dtype == "float64" else 1e-4
    for a, b in zip(out["torch"], out["jax"]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * (1 + np.abs(a).max()))


def _compatible_steps():
    pairs = []
    for p in SMALL:
        problem = pgbench.make_problem(p, scale="quick")
        for s in ("gd", "newton", "invgrad", "inverse"):
            if pgbench.make_solver(s, **tuned(problem, s)).missing(problem) is None:
                pairs.append((p, s))
    return pairs


@pytest.mark.parametrize("problem_id,solver_id", _compatible_steps())
def test_solver_step_matches(problem_id, solver_id):
    problem = pgbench.make_problem(problem_id, scale="quick")
    solver = pgbench.make_solver(solver_id, **tuned(problem, solver_id))
    xs = []
    for name in ("torch", "jax"):
        be = get_backend(name)
        x_true, y = problem.sample(keys.rng(1, "parity"), 8, be)
        x = problem.initial_guess(be, y)
        for _ in range(3):
            x, _, _ = solver.step(problem, be, x, y, None)
        xs.append(be.to_numpy(x))
    np.testing.assert_allclose(xs[0], xs[1], rtol=1e-4, atol=1e-5)


def test_training_curves_match_between_backends():
    """The acceptance check: deterministic DP training on sin gives the same curve on both
    backends to a relative tolerance of 1e-3 over 200 iterations (float32 arithmetic)."""
    problem = pgbench.make_problem("sin", scale="quick", batch_size=256, eval_every=50)
    curves = [pgbench.run(problem, "dp", iterations=200, backend=b, throw=True).records for b in ("torch", "jax")]
    for col in ("loss", "x_error"):
        np.testing.assert_allclose(curves[0][col], curves[1][col], rtol=1e-3)
    ev = [c["eval_x_error"].dropna().to_numpy() for c in curves]
    np.testing.assert_allclose(ev[0], ev[1], rtol=1e-3)


def test_pg_curves_match_between_backends():
    """PG with the exact inverse on exp. (Its default inner solver, the unclipped Newton step of the
    authors' code, makes training chaotic: 1e-7 differences grow to O(1) within 20 iterations.)"""
    problem = pgbench.make_problem("exp", scale="quick", eval_every=0)
    curves = [pgbench.run(problem, "pg", inner="inverse", iterations=100, backend=b, throw=True).records
              for b in ("torch", "jax")]
    np.testing.assert_allclose(curves[0]["x_error"], curves[1]["x_error"], rtol=1e-3)
