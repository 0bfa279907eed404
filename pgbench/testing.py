"""Conformance checks every registered problem and solver must pass (used by pgbench's own
tests; run them on your own problems too):

>>> from pgbench.testing import check_problem
>>> check_problem(my_problem, backend="torch")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import keys
from .backends import get_backend
from .registry import PROBLEMS, SOLVERS, make_problem

#: solver settings that keep a conformance run tiny (e.g. a few L-BFGS-B iterations)
TINY_SOLVER_SETTINGS: dict[str, dict[str, Any]] = {"lbfgsb": {"maxiter": 3}, "hf": {"cg_iters": 5}}


def tiny_problem(id: str, **overrides):
    """The quick scale of ``id`` shrunk to a few examples, for fast checks."""
    return make_problem(
        id,
        scale="quick",
        **{"batch_size": 2, "test_size": 2, "iterations": 2, "solve_iterations": 2, "eval_every": 1, **overrides},
    )


def _np(be, a):
    return np.asarray(be.to_numpy(a), dtype=np.float64)


def check_problem(problem, backend: str = "torch", seed: int = 0, fd_rtol: float = 5e-2) -> None:
    """Check shapes, determinism, finiteness, the x error of the ground truth, the loss gradient
    against a central finite difference, the inverse step (if declared) and the network (if
    declared). Raises AssertionError with a message naming the failed property."""
    be = get_backend(backend)
    n = 2
    x_true, y = problem.sample(keys.rng(seed, "check"), n, be)
    x_true2, y2 = problem.sample(keys.rng(seed, "check"), n, be)
    assert tuple(x_true.shape) == (n,) + tuple(problem.x_shape), f"x_true shape {tuple(x_true.shape)}"
    assert y.shape[0] == n, "y_target is not batch-first"
    assert np.array_equal(_np(be, y), _np(be, y2)), "sample() is not deterministic for a fixed generator"
    assert np.array_equal(_np(be, x_true), _np(be, x_true2)), "sample() is not deterministic for a fixed generator"
    loss = problem.loss(be, x_true, y)
    assert tuple(loss.shape) == (n,), f"loss must be per example, got shape {tuple(loss.shape)}"
    err = _np(be, problem.x_error(be, x_true, x_true, y))
    assert err.shape == (n,), f"x_error must be per example, got shape {err.shape}"
    # control problems (HIG paper) have no ground-truth x: they declare has_ground_truth = False
    assert not getattr(problem, "has_ground_truth", True) or np.allclose(
        err, 0, atol=1e-4 * (1 + np.abs(_np(be, x_true)).sum() / n)
    ), f"x_error of the ground truth is not 0: {err}"
    x0 = problem.initial_guess(be, y)
    assert tuple(x0.shape) == tuple(x_true.shape), "initial_guess has the wrong shape"
    l0 = _np(be, problem.loss(be, x0, y))
    assert np.all(np.isfinite(l0)), "loss at the initial guess is not finite"
    for k, v in problem.extras(be, x0, x_true, y).items():
        assert tuple(v.shape) == (n,), f"extra {k!r} must be per example"
    _check_gradient(problem, be, x_true, x0, y, fd_rtol)
    if problem.has("inverse"):
        x1 = problem.inverse(be, x0, y, 1.0)
        assert tuple(x1.shape) == tuple(x0.shape), "inverse() changed the shape"
        assert np.all(np.isfinite(_np(be, x1))), "inverse() step is not finite"
    if problem.has("network"):
        net = problem.network()
        params = net.init(keys.rng(seed, "net"), be)
        x = problem.predict(be, net, params, y)
        assert tuple(x.shape) == tuple(x_true.shape), f"network prediction shape {tuple(x.shape)}"
        assert np.all(np.isfinite(_np(be, x))), "network prediction is not finite"


def _check_gradient(problem, be, x_true, x0, y, rtol):
    """Directional derivative of the summed loss at a point between x0 and x* vs a central
    difference in float64 arithmetic on the host."""
    xp = be.xp
    rng = np.random.default_rng(1)
    base = 0.5 * (_np(be, x0) + _np(be, x_true)) + 0.05 * rng.standard_normal(tuple(x0.shape))
    d = rng.standard_normal(base.shape)
    d /= np.linalg.norm(d)
    dtype = problem.physics_dtype
    f = lambda v: float(np.sum(_np(be, problem.loss(be, be.asarray(v, dtype), y))))  # noqa: E731
    g = be.value_and_grad(lambda x: xp.sum(problem.loss(be, x, y)))(be.asarray(base, dtype))[1]
    analytic = float(np.sum(_np(be, g) * d))
    h = 1e-3 * max(1.0, float(np.abs(base).max())) if dtype == "float32" else 1e-6
    numeric = (f(base + h * d) - f(base - h * d)) / (2 * h)
    scale = max(abs(analytic), abs(numeric), 1e-3 * (abs(f(base)) + 1e-12))
    # the central difference of a loss evaluated in float32 carries round-off ~ eps |f| / h
    roundoff = 8 * float(np.finfo(np.float32 if dtype == "float32" else np.float64).eps) * abs(f(base)) / h
    assert abs(analytic - numeric) <= rtol * scale + roundoff, (
        f"loss gradient disagrees with finite differences: {analytic} vs {numeric}"
    )


def compatible_pairs(problem_ids=None, solver_ids=None):
    """``(problem_id, solver_id, reason)`` for every registered pair; reason is None if compatible."""
    from .tuning import make_tuned_solver

    out = []
    for pid in problem_ids or [s.id for s in PROBLEMS.latest()]:
        problem = tiny_problem(pid)
        for sid in solver_ids or [s.id for s in SOLVERS.latest()]:
            name = SOLVERS.resolve(sid).name
            solver = make_tuned_solver(problem, sid, **TINY_SOLVER_SETTINGS.get(name, {}))
            out.append((pid, sid, solver.missing(problem)))
    return out


def check_solver(solver_id: str, problem_id: str, backend: str = "torch", iterations: int = 2) -> None:
    """A few iterations of ``solver_id`` on a tiny instance: the run ends ``ok`` or ``diverged``
    (never ``failed``), records every iteration with finite wall times and the required columns,
    keeps every example finite (``nonfinite`` is 0, or 1 at the end of a ``diverged`` run: no
    example may be lost while the others go on) and keeps the batch dimension
    (:func:`check_batch`)."""
    from .runner import run

    problem = tiny_problem(problem_id)
    name = SOLVERS.resolve(solver_id).name
    settings = TINY_SOLVER_SETTINGS.get(name, {})
    check_batch(solver_id, problem, backend, **settings)
    result = run(problem, solver_id, iterations=iterations, backend=backend, **settings)
    assert result.status in ("ok", "diverged"), f"{solver_id} on {problem_id} failed: {result.message}"
    rec = result.records
    for col in ("iteration", "wall_time", "cpu_time", "loss", "x_error", "nonfinite"):
        assert col in rec.columns, f"missing column {col}"
    for col in ("wall_time", "cpu_time"):
        assert np.all(np.diff(rec[col].to_numpy()) >= 0), f"{col} is not monotonic"
    nonfinite = rec["nonfinite"].to_numpy(dtype=float)
    partial = (nonfinite > 0) & (nonfinite < 1)
    assert not partial.any(), (
        f"{solver_id} on {problem_id}: a fraction {nonfinite[partial][0]:g} of the examples "
        f"became non-finite while the run went on (iteration "
        f"{int(rec['iteration'].to_numpy()[partial][0])})"
    )
    if result.status == "ok":
        assert np.all(nonfinite == 0), f"{solver_id} on {problem_id}: non-finite examples in an ok run"
        assert np.all(np.isfinite(rec["x_error"].to_numpy())), "x_error not finite in an ok run"
    if result.final is not None and SOLVERS.resolve(solver_id).load().kind != "training":
        shape = tuple(result.final.shape)
        expected = (problem.test_size,) + tuple(problem.x_shape)
        assert shape == expected, f"{solver_id}: the solved x has shape {shape}, expected {expected}"


def check_batch(solver_id: str, problem, backend: str = "torch", rtol: float = 1e-3, **settings) -> None:
    """The solver keeps the batch dimension and treats the examples independently.

    Iterative solvers: one step from the initial guess of a batch of 2 returns shape
    ``(2, *x_shape)`` and its first example equals the step taken from that example alone (a
    solver that averages over the batch fails). Training schemes: one ``update`` reports a
    prediction of shape ``(2, *x_shape)`` and a per-example loss of shape ``(2,)``."""
    from .planning import resolve

    be = get_backend(backend)
    problem, solver = resolve(problem, solver_id, problem.scale, **settings)
    x_true, y = problem.sample(keys.rng(0, "check-batch"), 2, be)
    expected = (2,) + tuple(problem.x_shape)
    if solver.kind == "training":
        net = problem.network()
        params = net.init(keys.rng(0, "net"), be)
        _, _, out = solver.update(problem, be, net, params, solver.init(problem, be, net, params), y, x_true)
        x, loss = out.x, out.loss
        assert tuple(x.shape) == expected, (
            f"{solver_id}: the prediction has shape {tuple(x.shape)}, expected {expected} (batch dimension lost)"
        )
        assert tuple(loss.shape) == (2,), f"{solver_id}: the loss has shape {tuple(loss.shape)}, expected (2,)"
        return
    x0 = problem.initial_guess(be, y)
    both = solver.step(problem, be, x0, y, solver.init(problem, be, x0, y))[0]
    assert tuple(both.shape) == expected, (
        f"{solver_id}: a step returned shape {tuple(both.shape)}, expected {expected} (batch dimension lost)"
    )
    alone = solver.step(problem, be, x0[:1], y[:1], solver.init(problem, be, x0[:1], y[:1]))[0]
    a, b = _np(be, both)[:1], _np(be, alone)
    scale = 1.0 + float(np.abs(_np(be, x0)).max()) + float(np.abs(b).max())
    assert np.allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True), (
        f"{solver_id}: example 0 after one step depends on the other examples of its batch "
        f"(max difference {float(np.nanmax(np.abs(a - b))):g})"
    )
