"""THE loops: one for iterative solvers, one for training schemes. No files, no printing:
progress goes to a callback, results come back as a :class:`RunResult`.

Every recorded row holds ``iteration`` (update steps done: iterative runs record 0, the initial
guess, then 1, 2, …; training runs record 1, 2, …, so a budget of 100 reaches iteration 100; see
:mod:`pgbench.measures`), ``wall_time`` (seconds since the run started, taken
after synchronising the device, evaluation time excluded), ``loss`` (batch mean of the per-example
y-space objective), ``x_error`` (batch mean of the problem's x-space error) and the problem's
extras (batch means over the examples that are still finite; ``nonfinite`` is the fraction that
are not). Training runs add ``eval_loss`` / ``eval_x_error`` on the fixed held-out
batch every ``eval_every`` iterations (NaN in between). Iterative solvers solve exactly that
held-out batch, so their ``x_error`` and a network's ``eval_x_error`` are comparable.
"""

from __future__ import annotations

import math
import platform
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import keys
from .divergence import Watch
from .measures import STORE_FORMAT
from .backends import get_backend, numerics, set_torch_threads
from .registry import InvalidSettingError, make_problem, make_solver

__version__ = "0.2.0"

STATUSES = ("ok", "diverged", "failed", "skipped")


class IncompatibleError(InvalidSettingError):
    """The solver needs a capability the problem does not declare."""


@dataclass
class RunResult:
    """Outcome of one run. ``records`` has one row per recorded iteration."""

    records: pd.DataFrame
    status: str
    message: str
    meta: dict
    final: Any = field(default=None, repr=False)  # final x (iterative) or network parameters (training)
    traceback: str = field(default="", repr=False)  # the full traceback of a ``failed`` run

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Progress:
    iteration: int
    total: int | None
    wall_time: float
    loss: float
    x_error: float


def resolve(problem, solver, scale: str = "quick", **hyperparameters):
    """Ids to objects: a problem id is made at ``scale``; a solver id gets the problem's
    defaults for it (e.g. the paper's learning rate there) overridden by ``hyperparameters``."""
    if isinstance(problem, str):
        problem = make_problem(problem, scale=scale)
    if isinstance(solver, str):
        from .registry import SOLVERS
        name = SOLVERS.resolve(solver).name
        solver = make_solver(solver, **{**problem.solver_defaults.get(name, {}), **hyperparameters})
    elif hyperparameters:
        raise InvalidSettingError("hyperparameters can only be given with a solver id, not a solver object")
    return problem, solver


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _means(be, per_example: dict) -> dict:
    """Batch means over the examples whose loss and x error are finite, plus ``nonfinite``:
    the fraction of examples that are not (see :mod:`pgbench.divergence`)."""
    arrays = {k: be.to_numpy(v).astype(np.float64) for k, v in per_example.items()}
    finite = np.isfinite(arrays["loss"]) & np.isfinite(arrays["x_error"])
    row = {k: float(np.mean(v[finite])) if finite.any() else math.nan for k, v in arrays.items()}
    row["nonfinite"] = float(1.0 - finite.mean())
    return row


@dataclass(frozen=True)
class RunPlan:
    """A validated run, not yet executed: resolved objects and the metadata that define it."""

    problem: Any
    solver: Any
    backend: Any
    iterations: int
    max_time: float | None
    seed: int
    meta: dict


def plan(problem, solver, *, iterations: int | None = None, max_time: float | None = None, seed: int = 0,
         backend: str = "torch", device: str = "cpu", scale: str = "quick", label: str | None = None,
         threads: int | None = 1, **hyperparameters) -> RunPlan:
    """Resolve and validate a run before any work starts (unknown ids, bad settings and
    incompatible pairs raise here). Arguments as in :func:`run`; ``label`` names the method in
    tables and plots (default: the solver name), e.g. ``"DP (SGD+momentum)"``. ``meta["numerics"]``
    (:func:`pgbench.backends.numerics`: library versions, torch CPU threads, determinism flags)
    is part of the run key."""
    problem, solver = resolve(problem, solver, scale, **hyperparameters)
    reason = solver.missing(problem)
    if reason:
        raise IncompatibleError(reason)
    if iterations is not None and (not _is_int(iterations) or not 1 <= iterations < 2**63):
        raise InvalidSettingError(f"iterations must be >= 1 (an integer below 2**63), got {iterations!r}")
    if max_time is not None and (isinstance(max_time, bool) or not isinstance(max_time, (int, float))
                                 or not 0 < max_time < math.inf):
        raise InvalidSettingError(f"max_time must be a finite number of seconds > 0, got {max_time!r}")
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise InvalidSettingError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if threads is not None and (not _is_int(threads) or threads < 0):
        raise InvalidSettingError(f"threads must be a non-negative integer (0: torch's default), got {threads!r}")
    be = get_backend(backend, device)
    if solver.kind == "training":
        total = iterations or problem.iterations
    else:
        total = iterations or problem.solve_iterations
        if solver.max_steps is not None:
            total = min(total, solver.max_steps)
    meta = {"problem": problem.id, "scale": problem.scale, "solver": solver.id, "kind": solver.kind,
            "problem_settings": problem.settings(), "hyperparameters": solver.hyperparameters(),
            "backend": be.name, "device": be.device, "device_name": be.device_name(),
            "backend_settings": be.settings(), "numerics": numerics(be.name, be.device, threads),
            "machine": platform.node(), "seed": seed, "iterations": total, "max_time": max_time,
            "x_error_name": problem.x_error_name, "target_x_error": problem.target_x_error,
            "pgbench_version": __version__, "store_format": STORE_FORMAT,
            "label": label or solver.name}
    return RunPlan(problem, solver, be, total, max_time, seed, meta)


def execute(p: RunPlan, callback: Callable[[Progress], None] | None = None, throw: bool = False) -> RunResult:
    """Run a :class:`RunPlan`. Divergence (:mod:`pgbench.divergence`: half of the examples
    non-finite, or the x error 1000× its first value) ends the run with status ``diverged`` and
    the reason as its message; an exception gives status ``failed`` with the message (or is re-raised with
    ``throw``)."""
    loop = _train if p.solver.kind == "training" else _solve
    rows: list[dict] = []
    status, message, final, trace = "ok", "", None, ""
    # the torch CPU thread count recorded in the run key holds for the whole run
    restore = set_torch_threads(p.meta.get("numerics", {}).get("torch_threads"))
    try:
        status, message, final = loop(p.problem, p.solver, p.backend, p.seed, p.iterations, p.max_time,
                                      rows, callback)
    except Exception as e:  # a crash is a result too
        if throw:
            raise
        status, message, trace = "failed", f"{type(e).__name__}: {e}", traceback.format_exc()
    finally:
        restore()
    return RunResult(pd.DataFrame(rows), status, message, dict(p.meta), final, trace)


def run(problem, solver, *, iterations: int | None = None, max_time: float | None = None, seed: int = 0,
        backend: str = "torch", device: str = "cpu", scale: str = "quick", label: str | None = None,
        threads: int | None = 1, callback: Callable[[Progress], None] | None = None, throw: bool = False,
        **hyperparameters) -> RunResult:
    """Run ``solver`` on ``problem`` (objects or registered ids).

    Args:
        iterations: budget in iterations (default: the problem scale's ``iterations`` for training
            schemes, ``solve_iterations`` for iterative solvers).
        max_time: optional budget in seconds of wall time; the run stops after the iteration
            that crosses it.
        seed: seeds the data stream and the network initialisation; every solver given the same
            seed sees identical data and starts from the identical network.
        scale: the problem scale when ``problem`` is an id.
        threads: torch intra-op CPU threads for the run (pinned while it runs and recorded in
            its key, since the reduction order changes the numbers); 0 or None: torch's current
            setting. The command line uses the same default, 1.
        throw: re-raise errors instead of recording them as a ``failed`` result.
        hyperparameters: solver settings (only with a solver id); they override the problem's
            defaults for that solver.

    Returns:
        A :class:`RunResult`.
    """
    p = plan(problem, solver, iterations=iterations, max_time=max_time, seed=seed, backend=backend,
             device=device, scale=scale, label=label, threads=threads, **hyperparameters)
    return execute(p, callback, throw)


class _Clock:
    """Wall time since start, with pauses (evaluation) excluded."""

    def __init__(self):
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused


def _record(rows, row, callback, total):
    rows.append(row)
    if callback is not None:
        callback(Progress(row["iteration"], total, row["wall_time"], row["loss"], row["x_error"]))


def _metrics(problem, be, x, x_true, y_target, loss=None) -> dict:
    loss = problem.loss(be, x, y_target) if loss is None else loss
    per = {"loss": loss, "x_error": problem.x_error(be, x, x_true, y_target)}
    per.update(problem.extras(be, x, x_true, y_target))
    return per


def _solve(problem, solver, be, seed, total, max_time, rows, callback):
    x_true, y_target = problem.sample(keys.rng(seed, "test"), problem.test_size, be)
    x = problem.initial_guess(be, y_target)
    metrics = be.jit(lambda x, xt, y: _metrics(problem, be, x, xt, y))
    step = be.jit(lambda x, y, s: solver.step(problem, be, x, y, s)) if solver.jittable else (
        lambda x, y, s: solver.step(problem, be, x, y, s))
    clock = _Clock()
    state = solver.init(problem, be, x, y_target)
    row = {"iteration": 0, "wall_time": clock.now(), **_means(be, metrics(x, x_true, y_target))}
    _record(rows, row, callback, total)
    watch = Watch("iterative")
    watch(row)
    for it in range(1, total + 1):
        x, state = step(x, y_target, state)
        be.block_until_ready(x)
        t = clock.now()
        row = {"iteration": it, "wall_time": t, **_means(be, metrics(x, x_true, y_target))}
        if isinstance(state, dict):  # solver diagnostics, e.g. L-BFGS-B iteration counts
            row.update({k: float(np.mean(v)) for k, v in state.items() if k in ("nit", "nfev")})
        _record(rows, row, callback, total)
        diverged = watch(row)
        if diverged:
            return "diverged", diverged, x
        if max_time is not None and t >= max_time:
            break
    return "ok", "", x


def _train(problem, scheme, be, seed, total, max_time, rows, callback):
    net = problem.network()
    params = net.init(keys.rng(seed, "net"), be)
    opt = scheme.make_optimizer(be)
    opt_state = opt.init(params)
    test_x, test_y = problem.sample(keys.rng(seed, "test"), problem.test_size, be)

    def grads(p, y, xt):
        g, x, loss, *diag = scheme.gradients(problem, be, net, p, y, xt)
        # an optional 4th element: the scheme's scalar diagnostics (e.g. HIG's Jacobian time)
        return g, _metrics(problem, be, x, xt, y, loss), (diag[0] if diag else {})

    def train_step(p, s, y, xt):
        """One whole training step: gradients, then the optimizer update."""
        g, per, diag = grads(p, y, xt)
        p, s = opt.update(p, g, s)
        return p, s, per, diag

    if scheme.jittable and getattr(opt, "jittable", False):
        train_step = be.jit(train_step)   # one compiled program per iteration (jax)
    elif scheme.jittable:
        grads = be.jit(grads)             # the update stays the optimizer's own (torch.optim)
    evaluate = be.jit(lambda p: _metrics(problem, be, problem.predict(be, net, p, test_y), test_x, test_y))
    clock = _Clock()
    if hasattr(opt, "use_clock"):   # e.g. a schedule switching after seconds of this run's training time
        opt.use_clock(clock.now)

    def eval_row():
        t = time.perf_counter()
        m = _means(be, evaluate(params))
        clock.paused += time.perf_counter() - t
        return {"eval_loss": m["loss"], "eval_x_error": m["x_error"], "eval_nonfinite": m["nonfinite"]}

    watch = Watch("training")
    for it in range(1, total + 1):   # ``it`` updates done after this step; its batch is the it-th
        x_true, y_target = problem.sample(keys.rng(seed, "train", it - 1), problem.batch_size, be)
        params, opt_state, per, diag = train_step(params, opt_state, y_target, x_true)
        be.block_until_ready(params)
        t = clock.now()
        row = {"iteration": it, "wall_time": t, **_means(be, per),
               **{k: float(be.to_numpy(v)) for k, v in diag.items()}}
        last = it == total or (max_time is not None and t >= max_time)
        if problem.eval_every and (it == 1 or it % problem.eval_every == 0 or last):
            row.update(eval_row())
        _record(rows, row, callback, total)
        diverged = watch(row)
        if diverged:
            return "diverged", diverged, params
        if last:
            break
    return "ok", "", params
