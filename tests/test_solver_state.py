"""Solver state is data (issue 28 item 7): the state a registered iterative solver or training
scheme threads through a run holds arrays, numbers and pytrees of them, never an optimizer
object, a compiled function or a closure (those are built once, on the solver)."""

import numbers

import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.testing import TINY_SOLVER_SETTINGS, tiny_problem
from pgbench.tuning import make_tuned_solver

jax = pytest.importorskip("jax")

SOLVER_IDS = [s.id for s in pgbench.SOLVERS.latest()]


def non_data(state, backend: str) -> list[str]:
    """The leaves of ``state`` that are not data (arrays, numbers, strings; on torch tensors and
    dtypes, a value such as Kron's ``precondition_dtype`` setting), as ``type: repr``."""
    bad = []
    for leaf in jax.tree_util.tree_leaves(state):
        if isinstance(leaf, (np.ndarray, np.generic, jax.Array, numbers.Number, str)):
            continue
        if backend == "torch":
            import torch
            if isinstance(leaf, (torch.Tensor, torch.dtype)):
                continue
        bad.append(f"{type(leaf).__module__}.{type(leaf).__qualname__}: {leaf!r}"[:160])
    return bad


def _states(problem, solver, be):
    """The solver's state after init and after one step (update) on ``problem``."""
    if solver.kind == "training":
        net = problem.network()
        params = net.init(keys.rng(0, "net"), be)
        x_true, y = problem.sample(keys.rng(0, "train", 0), problem.batch_size, be)
        state = solver.init(problem, be, net, params)
        _, after, _ = solver.compile(problem, be, net)(params, state, y, x_true)
        return solver.init(problem, be, net, params), after
    x_true, y = problem.sample(keys.rng(0, "test"), problem.test_size, be)
    x0 = problem.initial_guess(be, y)
    state = solver.init(problem, be, x0, y)
    _, after, _ = solver.step(problem, be, x0, y, state)
    return solver.init(problem, be, x0, y), after


@pytest.mark.parametrize("solver_id", SOLVER_IDS)
def test_state_is_data(solver_id, backend):
    problem = tiny_problem("sin")
    name = pgbench.SOLVERS.resolve(solver_id).name
    solver = make_tuned_solver(problem, solver_id, **TINY_SOLVER_SETTINGS.get(name, {}))
    reason = solver.missing(problem)
    if reason is None and hasattr(solver, "missing_on"):
        reason = solver.missing_on(backend)
    if reason:
        pytest.skip(reason)
    for when, state in zip(("init", "after one step"), _states(problem, solver, get_backend(backend)), strict=True):
        bad = non_data(state, backend)
        assert not bad, f"{solver_id} on {backend}: its state {when} holds {bad}"


def test_the_check_finds_a_function_and_an_optimizer():
    be = get_backend("jax")
    assert non_data({"x": be.zeros((2,), "float32"), "n": 3, "stage": "first"}, "jax") == []
    assert len(non_data((be.optimizer("adam", 1e-3), {"fn": jax.jit(lambda v: v)}), "jax")) == 2


@pytest.mark.parametrize("solver_id, settings", [("pg", {}), ("pg", {"inner": "adam", "n": 2}),
                                                 ("supervised", {"labels": "inverse"}),
                                                 ("schedule", {"first": "dp", "then": "pg", "switch_at": 1})])
def test_inner_solvers_are_resolved_once_per_run(solver_id, settings, monkeypatch):
    """PG's inner solver, supervised's label solver and a schedule's stages go through the registry
    and the tuning table once per run, not at every step."""
    import pgbench.tuning
    calls = []
    make = pgbench.tuning.make_tuned_solver
    monkeypatch.setattr(pgbench.tuning, "make_tuned_solver", lambda *a, **k: calls.append(a[1]) or make(*a, **k))
    solver = make(tiny_problem("sin"), solver_id, **settings)
    calls.clear()
    result = pgbench.run(tiny_problem("sin"), solver, iterations=4, backend="torch", throw=True)
    assert result.status == "ok"
    assert calls and len(calls) == len(set(calls)), calls   # each solver resolved once


def test_what_a_solver_built_is_not_pickled_nor_compared():
    """A solver that has run pickles (to a worker process) and compares as its hyperparameters."""
    import pickle
    solver = pgbench.make_solver("adam")
    pgbench.run(tiny_problem("sin"), solver, iterations=2, backend="jax", throw=True)
    assert solver.__dict__.get("_built"), "Adam builds its optimizer and gradient on the solver"
    copy = pickle.loads(pickle.dumps(solver))
    assert copy == solver and "_built" not in copy.__dict__
