"""Runs: :func:`plan` validates a run (ids, settings, compatibility) before any work;
:class:`Run` steps it (``state = run.init()``, ``state = run.step(state)`` until ``state.done``,
``run.finish(state)``), one iteration of an iterative solver or of a training scheme per step;
:func:`execute` is the loop over it and :func:`run` both at once. No files, no printing: progress
goes to a callback, results come back as a :class:`RunResult`.

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
from .divergence import RULE, Watch
from .record import STORE_FORMAT
from .backends import get_backend, numerics, set_torch_threads
from .registry import InvalidSettingError, make_problem

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
    examples: dict | None = field(default=None, repr=False)  # held-out predictions, stored with the run

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
    """Ids to objects: a problem id is made at ``scale``; a solver id gets the problem's tuned
    defaults for it (:mod:`pgbench.tuning`, e.g. the paper's learning rate there) overridden by
    ``hyperparameters``."""
    if isinstance(problem, str):
        problem = make_problem(problem, scale=scale)
    if isinstance(solver, str):
        from .tuning import make_tuned_solver
        solver = make_tuned_solver(problem, solver, **hyperparameters)
    elif hyperparameters:
        raise InvalidSettingError("hyperparameters can only be given with a solver id, not a solver object")
    return problem, solver


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def block_means(per_example: dict) -> dict:
    """Batch means over the examples whose loss and x error are finite (NaN where none is),
    plus ``nonfinite``: the fraction of examples that are not (see :mod:`pgbench.divergence`).
    ``per_example`` maps each metric to a numpy array (..., B); returns (...) arrays, so a block
    of iterations × seeds is reduced in one pass (:mod:`pgbench.vectorize`)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in per_example.items()}
    finite = np.isfinite(arrays["loss"]) & np.isfinite(arrays["x_error"])
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {k: np.where(count > 0, np.where(finite, v, 0.0).sum(axis=-1) / count, np.nan)
               for k, v in arrays.items()}
    out["nonfinite"] = 1.0 - finite.mean(axis=-1)
    return out


def _means(be, per_example: dict) -> dict:
    """:func:`block_means` of one batch of backend arrays, as floats."""
    return {k: float(v) for k, v in block_means({k: be.to_numpy(v) for k, v in per_example.items()}).items()}


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
    reason = getattr(solver, "missing_on", lambda name: None)(be.name)
    if reason:
        raise IncompatibleError(reason)
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
            "label": label or solver.name, "divergence_rule": RULE.as_dict()}
    return RunPlan(problem, solver, be, total, max_time, seed, meta)


def execute(p: RunPlan, callback: Callable[[Progress], None] | None = None, throw: bool = False,
            warm_up: bool = False) -> RunResult:
    """Run a :class:`RunPlan`: a loop over :class:`Run` (``init``, ``step`` until done,
    ``finish``). Divergence (:mod:`pgbench.divergence`: half of the examples non-finite, or the x
    error 1000× its first value) ends the run with status ``diverged`` and the reason as its
    message; an exception gives status ``failed`` with the message (or is re-raised with
    ``throw``). ``warm_up``: first :meth:`Run.warm_up` (two untimed steps on a throwaway state),
    so that one-off costs (compilation, lazy imports, library start-up) fall on no run's clock;
    the executors do this before every run with a wall-time budget. The torch CPU thread count
    recorded in the run key (``numerics``) holds for the whole run."""
    state = None
    restore = set_torch_threads(p.meta.get("numerics", {}).get("torch_threads"))
    try:
        run_ = Run(p)
        if warm_up:
            run_.warm_up()
        state = run_.init()
        _emit(state, 0, callback)
        while not state.done:
            n = len(state.rows)
            state = run_.step(state)
            _emit(state, n, callback)
    except Exception as e:  # a crash is a result too
        if throw:
            raise
        rows = state.rows if state is not None else []
        return RunResult(pd.DataFrame(rows), "failed", f"{type(e).__name__}: {e}", dict(p.meta), None,
                         traceback.format_exc())
    finally:
        restore()
    return run_.finish(state)


def _emit(state, start, callback):
    if callback is not None:
        total = state.total
        for row in state.rows[start:]:
            callback(Progress(row["iteration"], total, row["wall_time"], row["loss"], row["x_error"]))


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


def _metrics(problem, be, x, x_true, y_target, loss=None) -> dict:
    loss = problem.loss(be, x, y_target) if loss is None else loss
    per = {"loss": loss, "x_error": problem.x_error(be, x, x_true, y_target)}
    per.update(problem.extras(be, x, x_true, y_target))
    return per


def _info_row(be, info: dict) -> dict:
    """A step's scalar diagnostics as row entries (batch means where a value is per example)."""
    return {k: float(np.mean(be.to_numpy(v))) for k, v in info.items()}


@dataclass
class RunState:
    """Everything that changes during a run: the iterate (``x`` or network parameters), the
    solver's state, the clock and the recorded rows. ``done`` once the budget is spent or the run
    diverged (``status``/``message`` say which)."""

    iterate: Any
    solver_state: Any
    clock: _Clock
    total: int
    watch: Watch
    iteration: int = 0
    rows: list = field(default_factory=list)
    status: str = "ok"
    message: str = ""
    done: bool = False


class Run:
    """A planned run that can be stepped: ``state = run.init()``, ``state = run.step(state)``
    until ``state.done``, ``result = run.finish(state)``. Compiled functions and the held-out
    batch belong to the ``Run`` and are shared by every state, so a throwaway state
    (:meth:`warm_up`) compiles what the real run then uses."""

    def __init__(self, p: RunPlan):
        self.plan = p
        problem, solver, be = p.problem, p.solver, p.backend
        self.training = solver.kind == "training"
        self.test_x, self.test_y = problem.sample(keys.rng(p.seed, "test"), problem.test_size, be)
        if self.training:
            self.net = problem.network()
            self.update = solver.compile(problem, be, self.net)
            self.evaluate = be.jit(lambda prm: _metrics(problem, be, problem.predict(be, self.net, prm, self.test_y),
                                                        self.test_x, self.test_y))
            self.metrics = be.jit(lambda x, xt, y, loss: _metrics(problem, be, x, xt, y, loss))
        else:
            step = lambda x, y, s: solver.step(problem, be, x, y, s)  # noqa: E731
            self.solve_step = be.jit(step) if solver.jittable else step
            self.metrics = be.jit(lambda x, xt, y: _metrics(problem, be, x, xt, y))

    # --- the protocol ---------------------------------------------------------------------------
    def init(self) -> RunState:
        """A fresh run: the initial iterate and solver state; iterative runs record iteration 0."""
        p, problem, be = self.plan, self.plan.problem, self.plan.backend
        if self.training:
            params = self.net.init(keys.rng(p.seed, "net"), be)
            scheme_state = p.solver.init(problem, be, self.net, params)
            return RunState(params, scheme_state, _Clock(), p.iterations, Watch("training"))
        x = problem.initial_guess(be, self.test_y)
        clock = _Clock()
        state = RunState(x, p.solver.init(problem, be, x, self.test_y), clock, p.iterations, Watch("iterative"))
        state.rows.append({"iteration": 0, "wall_time": clock.now(), **self._solve_means(x)})
        state.watch(state.rows[-1])
        return state

    def step(self, state: RunState) -> RunState:
        """One iteration (solver step or training step, device synchronisation, metrics), recorded
        as one row; marks the state ``done`` at the end of the budget or on divergence."""
        if state.done:
            raise RuntimeError("this run is finished; start a new one with init()")
        row = self._train_step(state) if self.training else self._solve_step(state)
        state.rows.append(row)
        diverged = state.watch(row)   # pgbench.divergence: one rule for running and stored runs
        if diverged:
            state.status, state.message, state.done = "diverged", diverged, True
        return state

    def finish(self, state: RunState) -> RunResult:
        return RunResult(pd.DataFrame(state.rows), state.status, state.message, dict(self.plan.meta),
                         state.iterate)

    def warm_up(self, steps: int = 2) -> None:
        """``steps`` untimed steps on a throwaway state (jit compilation, lazy imports, library
        start-up), so that one-off costs fall on no run's clock; nothing is kept. A schedule
        switches stage after the first step so that both stages are warm."""
        state = self.init()
        if self.training:
            state.solver_state = self.plan.solver.warm_up_state(state.solver_state)
        state.total = state.iteration + steps
        while not state.done:
            state = self.step(state)

    # --- iterative solvers ----------------------------------------------------------------------
    def _solve_means(self, x):
        return _means(self.plan.backend, self.metrics(x, self.test_x, self.test_y))

    def _solve_step(self, state: RunState) -> dict:
        be = self.plan.backend
        x, state.solver_state, info = self.solve_step(state.iterate, self.test_y, state.solver_state)
        be.block_until_ready(x)
        t = state.clock.now()
        state.iterate, state.iteration = x, state.iteration + 1
        row = {"iteration": state.iteration, "wall_time": t, **self._solve_means(x), **_info_row(be, info)}
        max_time = self.plan.max_time
        state.done = state.iteration >= state.total or (max_time is not None and t >= max_time)
        return row

    # --- training -------------------------------------------------------------------------------
    def _train_step(self, state: RunState) -> dict:
        p, problem, be = self.plan, self.plan.problem, self.plan.backend
        it = state.iteration + 1   # updates done after this step; its batch is the it-th
        x_true, y_target = problem.sample(keys.rng(p.seed, "train", it - 1), problem.batch_size, be)
        params, state.solver_state, out = self.update(state.iterate, state.solver_state, y_target, x_true,
                                                      state.clock.now())
        per = self.metrics(out.x, x_true, y_target, out.loss)
        be.block_until_ready(params)
        t = state.clock.now()
        state.iterate, state.iteration = params, it
        row = {"iteration": it, "wall_time": t, **_means(be, per), **_info_row(be, out.info)}
        last = it >= state.total or (p.max_time is not None and t >= p.max_time)
        if problem.eval_every and (it == 1 or it % problem.eval_every == 0 or last):
            row.update(self._eval_row(state))
        state.done = last
        return row

    def _eval_row(self, state: RunState) -> dict:
        t = time.perf_counter()
        m = _means(self.plan.backend, self.evaluate(state.iterate))
        state.clock.paused += time.perf_counter() - t
        return {"eval_loss": m["loss"], "eval_x_error": m["x_error"], "eval_nonfinite": m["nonfinite"]}
