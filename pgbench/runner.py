"""Runs: :func:`plan` validates a run (ids, settings, compatibility) before any work;
:class:`Run` steps it (``state = run.init()``, ``state = run.step(state)`` until ``state.done``,
``run.finish(state)``), one iteration of an iterative solver or of a training scheme per step,
over one plan or a seed axis of several (:mod:`pgbench.vectorize`); :func:`execute` is the loop
over it (:func:`execute_runs`: the one loop; warm-up of wall-time budgets, example predictions)
and :func:`run` both at once, the path every executor of :mod:`pgbench.sweep` takes too. No files,
no printing: progress goes to a callback, results come back as a :class:`RunResult`.

Every recorded row holds ``iteration`` (update steps done: iterative runs record 0, the initial
guess, then 1, 2, …; training runs record 1, 2, …, so a budget of 100 reaches iteration 100; see
:mod:`pgbench.record`), ``wall_time`` and ``cpu_time`` (wall and process CPU seconds since the
run started, :mod:`pgbench.clocks`, taken after synchronising the device, evaluation time
excluded), ``loss`` (batch mean of the per-example
y-space objective), ``x_error`` (batch mean of the problem's x-space error) and the problem's
extras (batch means over the examples that are still finite; ``nonfinite`` is the fraction that
are not). Training runs add ``eval_loss`` / ``eval_x_error`` on the fixed held-out
batch every ``eval_every`` iterations (NaN in between). Iterative solvers solve exactly that
held-out batch, so their ``x_error`` and a network's ``eval_x_error`` are comparable.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .backends import set_torch_threads
from .clocks import Clock
from .divergence import Watch
from .examples import collect_examples
from .planning import RunPlan, plan
from .programs import Program, SolveProgram, TrainProgram
from .registry import InvalidSettingError
from .watchdog import OverCap, step_limit

STATUSES = ("ok", "diverged", "over_budget", "failed", "skipped")


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
    run_key: str = field(default="", repr=False)  # the plan's key (:attr:`RunPlan.run_key`), computed once

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Progress:
    """One recorded row, as the run goes; ``lane``: which of the run's plans (seeds) it belongs
    to (0 for a run of one plan)."""

    iteration: int
    total: int | None
    wall_time: float
    loss: float
    x_error: float
    lane: int = 0


def block_means(per_example: dict) -> dict:
    """Batch means over the examples whose loss and x error are finite (NaN where none is),
    plus ``nonfinite``: the fraction of examples that are not (see :mod:`pgbench.divergence`).
    ``per_example`` maps each metric to a numpy array (..., B); returns (...) arrays, so a block
    of iterations × seeds is reduced in one pass (:mod:`pgbench.vectorize`)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in per_example.items()}
    finite = np.isfinite(arrays["loss"]) & np.isfinite(arrays["x_error"])
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {k: np.where(count > 0, np.where(finite, v, 0.0).sum(axis=-1) / count, np.nan) for k, v in arrays.items()}
    out["nonfinite"] = 1.0 - finite.mean(axis=-1)
    return out


def execute(p: RunPlan, callback: Callable[[Progress], None] | None = None, throw: bool = False) -> RunResult:
    """Run a :class:`RunPlan` (:func:`execute_runs` of one :class:`Run`): what :func:`run` and
    every executor of :mod:`pgbench.sweep` do with a plan."""
    return execute_runs(lambda: Run(p), [p], callback, throw)[0]


def execute_runs(
    make: Callable[[], Run],
    plans: list[RunPlan],
    callback: Callable[[Progress], None] | None = None,
    throw: bool = False,
) -> list[RunResult]:
    """The loop over a :class:`Run` (made by ``make()``) of ``plans``: ``init``, ``step`` until
    done, ``finish``; one result per plan. Divergence (:mod:`pgbench.divergence`: half of the
    examples non-finite, or the x error 1000× its first value) ends a plan's run with status
    ``diverged`` and the reason as its message; an exception gives every plan status ``failed``
    with the message and the rows so far (or is re-raised with ``throw``). ``callback`` gets every
    recorded row as a :class:`Progress`. A run with a wall-time budget (``max_time``) is first
    warmed up (:meth:`Run.warm_up`: two untimed steps on a throwaway state), so that one-off costs
    (compilation, lazy imports, library start-up) fall on no run's clock; this is the one place
    that decides it. A step that hangs past the budget is stopped (:mod:`pgbench.watchdog`): the
    run is ``failed`` with the reason. A run with a ``time_cap`` that reaches it before its
    iterations are done (between steps or inside one) stops there with status ``over_budget``,
    its rows so far kept. The results carry their example predictions
    (:meth:`Run.finish_all`). The torch CPU thread count recorded in the run key (``numerics``)
    holds for the whole run, example collection included."""
    state = run_ = None
    restore = set_torch_threads(plans[0].meta.get("numerics", {}).get("torch_threads"))
    try:
        run_ = make()
        if plans[0].max_time is not None or plans[0].time_cap is not None:  # runs compared at equal
            run_.warm_up()  # time, or stopped at a cap, pay no one-off costs
        state = run_.init()
        _emit(state, [0] * len(state.lanes), callback)
        p0 = plans[0]
        while not state.done:
            seen = [len(lane.rows) for lane in state.lanes]
            spent = state.clock.cpu() if p0.max_time_clock == "cpu" else state.clock.now()
            with step_limit(p0.max_time, spent, p0.max_time_clock, p0.time_cap):
                state = run_.step(state)  # a step that hangs ends the run; one that reaches the cap too
            _emit(state, seen, callback)
        return run_.finish_all(state)
    except OverCap as e:  # stopped at its cap inside a step: over budget, with the rows so far
        assert state is not None and run_ is not None
        for lane in state.lanes:
            if not lane.done:
                lane.status, lane.message, lane.done = "over_budget", str(e), True
        return run_.finish_all(state)
    except Exception as e:  # a crash is a result too
        if throw:
            raise
        trace = traceback.format_exc()
        extra = run_.program.meta() if run_ is not None else {}
        return [
            RunResult(
                pd.DataFrame(state.lanes[i].rows if state is not None else []),
                "failed",
                f"{type(e).__name__}: {e}",
                {**q.meta, **extra},
                None,
                trace,
                run_key=q.run_key,
            )
            for i, q in enumerate(plans)
        ]
    finally:
        restore()


def _emit(state, seen: list[int], callback):
    if callback is not None:
        for lane, (rec, start) in enumerate(zip(state.lanes, seen, strict=True)):
            for row in rec.rows[start:]:
                callback(Progress(row["iteration"], state.total, row["wall_time"], row["loss"], row["x_error"], lane))


def run(
    problem,
    solver,
    *,
    iterations: int | None = None,
    max_time: float | None = None,
    seed: int = 0,
    backend: str = "torch",
    device: str = "cpu",
    scale: str = "quick",
    label: str | None = None,
    threads: int | None = 1,
    max_time_clock: str = "wall",
    time_cap: float | None = None,
    callback: Callable[[Progress], None] | None = None,
    throw: bool = False,
    **hyperparameters,
) -> RunResult:
    """Run ``solver`` on ``problem`` (objects or registered ids): :func:`plan`, then
    :func:`execute`, the path every sweep executor takes (a wall-time budget is warmed up first,
    the result carries its example predictions), without storing anything.

    Args:
        iterations: budget in iterations (default: the problem scale's ``iterations`` for training
            schemes, ``solve_iterations`` for iterative solvers).
        max_time: optional budget in seconds of wall time (of CPU time with
            ``max_time_clock="cpu"``); the run stops after the iteration that crosses it (and is
            warmed up first, off the clock).
        max_time_clock: the clock ``max_time`` and ``time_cap`` count on, "wall" or "cpu"
            (:mod:`pgbench.clocks`: CPU seconds are not spent while the process waits, so a
            loaded machine does not shorten the run).
        time_cap: optional seconds after which a run that has not done its iterations is
            stopped and returned with status ``over_budget``.
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
        A :class:`RunResult` (``examples``: its held-out example predictions).
    """
    p = plan(
        problem,
        solver,
        iterations=iterations,
        max_time=max_time,
        seed=seed,
        backend=backend,
        device=device,
        scale=scale,
        label=label,
        threads=threads,
        max_time_clock=max_time_clock,
        time_cap=time_cap,
        **hyperparameters,
    )
    return execute(p, callback, throw)


def _info_row(be, info: dict) -> dict:
    """A step's scalar diagnostics as row entries (batch means where a value is per example)."""
    return {k: float(np.mean(be.to_numpy(v))) for k, v in info.items()}


@dataclass
class Lane:
    """One plan (seed) of a run: its recorded rows, divergence watch and status; ``done`` once
    it diverged (its ``final`` outcome is then kept from that step)."""

    plan: RunPlan
    watch: Watch
    rows: list = field(default_factory=list)
    status: str = "ok"
    message: str = ""
    done: bool = False
    final: Any = None


@dataclass
class RunState:
    """Everything that changes during a run: the iterate (``x`` or network parameters, with a
    leading seed axis when a program runs several seeds), the solver's state, the clock and, per
    plan, a :class:`Lane` of recorded rows. ``done`` once the budget is spent or every lane
    diverged. ``carry``: the program's own data between steps."""

    iterate: Any
    solver_state: Any
    clock: Clock
    total: int
    lanes: list
    iteration: int = 0
    done: bool = False
    carry: Any = None

    @property
    def rows(self) -> list:
        """The first plan's rows (a run of one plan: its rows)."""
        return self.lanes[0].rows

    @property
    def status(self) -> str:
        return self.lanes[0].status

    @property
    def message(self) -> str:
        return self.lanes[0].message


class Run:
    """The run loop's steps over one plan, or over several plans that differ in their seed only
    (a seed axis; :mod:`pgbench.vectorize`): ``state = run.init()``, ``state = run.step(state)``
    until ``state.done``, ``results = run.finish_all(state)`` (``run.finish(state)`` for one
    plan). What a step computes on the device is the :class:`~pgbench.programs.Program`'s
    (default: :class:`~pgbench.programs.TrainProgram` or :class:`~pgbench.programs.SolveProgram`
    for the plan's solver); the clock, the rows, the divergence watch, the budget and the
    held-out evaluations are the loop's, the same for every program. Compiled functions and the
    held-out batch belong to the program and are shared by every state, so a throwaway state
    (:meth:`warm_up`) compiles what the real run then uses."""

    def __init__(self, p: RunPlan | list[RunPlan], program: Program | None = None):
        plans = [p] if isinstance(p, RunPlan) else list(p)
        if program is None:
            if len(plans) != 1:
                raise InvalidSettingError(
                    "several plans run together need a program over their seeds (pgbench.vectorize)"
                )
            program = (TrainProgram if plans[0].solver.kind == "training" else SolveProgram)(plans[0])
        self.plans, self.plan, self.program = plans, plans[0], program

    # --- the protocol ---------------------------------------------------------------------------
    def init(self) -> RunState:
        """A fresh run: the initial iterate and solver state; iterative runs record iteration 0."""
        clock = Clock()
        iterate, solver_state = self.program.init(clock)
        lanes = [Lane(q, Watch(self.program.kind)) for q in self.plans]
        state = RunState(iterate, solver_state, clock, self.plan.iterations, lanes)
        if self.program.records_start:
            t = (clock.now(), clock.cpu())
            self._record(state, [0], [t], self.program.start_metrics(state), [{}], None, judge=False)
        return state

    def step(self, state: RunState) -> RunState:
        """The next iteration (``program.read_every`` > 1: up to that many, ending where an
        evaluation is due): solver step or training step, device synchronisation, metrics, one
        row per iteration and plan; marks the state ``done`` at the end of the budget or when every
        plan diverged. Within a chunk of k iterations the rows' wall and CPU times split the
        measured times evenly."""
        if state.done:
            raise RuntimeError("this run is finished; start a new one with init()")
        start, total, max_time = state.iteration, state.total, self.plan.max_time
        end = self._chunk_end(start, total)
        ahead = self._chunk_end(end, total) if end < total else None
        t0, c0 = state.clock.now(), state.clock.cpu()
        out = self.program.advance(state, end, ahead)
        self.plan.backend.block_until_ready(state.iterate)
        t1, c1 = state.clock.now(), state.clock.cpu()
        per, infos = self.program.read(state, out)
        state.iteration = end
        spent = c1 if self.plan.max_time_clock == "cpu" else t1
        last = end >= total or (max_time is not None and spent >= max_time)
        cap = self.plan.time_cap
        capped = not last and cap is not None and spent >= cap
        every = self.plan.problem.eval_every if self.program.evaluates else 0
        evals = self._evaluate(state) if every and (end == 1 or end % every == 0 or last) else None
        k = end - start
        times = [(t0 + (t1 - t0) * (j + 1) / k, c0 + (c1 - c0) * (j + 1) / k) for j in range(k - 1)] + [(t1, c1)]
        self._record(state, range(start + 1, end + 1), times, per, infos, evals)
        if capped:
            for lane in state.lanes:
                if not lane.done:
                    lane.status, lane.done = "over_budget", True
                    on = " of CPU time" if self.plan.max_time_clock == "cpu" else ""
                    lane.message = f"reached its time cap of {cap:g} s{on} after {end} of {total} iterations"
        state.done = last or capped or all(lane.done for lane in state.lanes)
        return state

    def finish(self, state: RunState) -> RunResult:
        """The result of a run of one plan (:meth:`finish_all`)."""
        (result,) = self.finish_all(state)
        return result

    def finish_all(self, state: RunState) -> list[RunResult]:
        """One result per plan, in order, each with its held-out example predictions
        (:func:`pgbench.examples.collect_examples`; a run whose examples cannot be collected is
        kept without them, with a warning)."""
        extra = self.program.meta()
        results = [
            RunResult(
                pd.DataFrame(lane.rows),
                lane.status,
                lane.message,
                {**lane.plan.meta, **extra},
                lane.final if lane.final is not None else self.program.final(state.iterate, i),
                run_key=lane.plan.run_key,
            )
            for i, lane in enumerate(state.lanes)
        ]
        for lane, result in zip(state.lanes, results, strict=True):
            try:
                result.examples = collect_examples(lane.plan, result)
            except Exception as err:  # the examples are a convenience; the run itself stands
                warnings.warn(
                    f"{result.meta['problem']} {result.meta['label']}: examples not collected: "
                    f"{type(err).__name__}: {err}",
                    stacklevel=2,
                )
        return results

    def warm_up(self, steps: int = 2) -> None:
        """``steps`` untimed steps on a throwaway state (jit compilation, lazy imports, library
        start-up), so that one-off costs fall on no run's clock; nothing is kept. A schedule
        switches stage after the first step so that both stages are warm."""
        state = self.init()
        state.solver_state = self.program.warm_up_state(state.solver_state)
        state.total = state.iteration + steps
        while not state.done:
            state = self.step(state)

    # --- the loop's parts -----------------------------------------------------------------------
    def _chunk_end(self, it: int, total: int) -> int:
        """The last iteration of the step that starts after ``it``: at most ``read_every``
        further, ending at the budget and at every due evaluation."""
        end = min(it + self.program.read_every, total)
        every = self.plan.problem.eval_every if self.program.evaluates else 0
        if every:
            if it == 0:
                return 1
            end = min(end, (it // every + 1) * every)
        return end

    def _evaluate(self, state: RunState) -> list[dict]:
        """Each plan's held-out evaluation row entries (not on the clock)."""
        n = len(state.lanes)
        with state.clock.excluded():
            m = {k: np.reshape(v, n).tolist() for k, v in block_means(self.program.evaluate(state)).items()}
        return [
            {"eval_loss": m["loss"][s], "eval_x_error": m["x_error"][s], "eval_nonfinite": m["nonfinite"][s]}
            for s in range(n)
        ]

    def _record(self, state: RunState, iterations, times, per: dict, infos: list, evals, judge: bool = True):
        """Append one row per iteration and plan (skipping plans that diverged) and feed each to
        its plan's divergence watch (``judge``: a verdict ends that plan)."""
        be, n, k = self.plan.backend, len(state.lanes), len(times)
        means = block_means(per)
        names = list(means)
        table = np.stack([np.reshape(means[c], (k, n)) for c in names], axis=-1).tolist()  # [k][n][metric]
        for j, (it, (t, c)) in enumerate(zip(iterations, times, strict=True)):
            info = _info_row(be, infos[j]) if infos[j] else {}
            for s, lane in enumerate(state.lanes):
                if lane.done:
                    continue
                metrics = dict(zip(names, table[j][s], strict=True))
                row = {"iteration": it, "wall_time": t, "cpu_time": c, **metrics, **info}
                if evals is not None and j == k - 1:
                    row.update(evals[s])
                lane.rows.append(row)
                diverged = lane.watch(row)  # pgbench.divergence: one rule for running and stored runs
                if diverged and judge:
                    lane.status, lane.message, lane.done = "diverged", diverged, True
                    lane.final = self.program.final(state.iterate, s)
