"""Running the paper's experiment set (:mod:`pgbench.recipes`): :func:`tasks` turns the recipes
into planned :class:`pgbench.sweep.Task` objects, :func:`reproduce` runs them on the sweep
executors (resuming) and builds the report; :class:`Workload` counts what is stored and estimates
the time of the rest (the ETA).

Every task is planned once, here (:func:`planned`); the plans go to the store lookup of
:class:`Workload` and to :func:`pgbench.sweep.run_sweep`. After each run the first few held-out
examples (``y*``, ``x*``, the method's ``x`` and ``P(x)``) are written next to the run as
``<run_key>.examples.npz`` for the report's example panels (:mod:`pgbench.report.examples`).
What a reproduction prints is drawn by :mod:`pgbench.terminal`.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import clocks, scheduling, store, terminal, validate
from .backends import effective_torch_threads, set_torch_threads
from .budgets import BUDGETS, Budget, budgeted
from .planning import IncompatibleError
from .recipes import EXPERIMENTS, LEADERBOARD, OPT_IN, SCALES, Experiment, Method, registered, select
from .registry import SOLVERS, InvalidSettingError, UnknownIdError, make_problem, suggest
from .report import build_report
from .sweep import Task, run_sweep
from .tuning import preset


@dataclass(frozen=True)
class Planned:
    """The runs of a reproduction: ``tasks[i]`` planned once as ``plans[i]``; ``notes`` say which
    experiments or methods were left out and why."""

    tasks: list
    plans: list
    notes: list


def planned(
    scale: str = "quick",
    only=None,
    backend: str = "torch",
    device: str = "cpu",
    experiments=None,
    seeds=None,
    max_time: float | None = None,
    budget: str | None = None,
    methods=None,
    threads: int | None = 1,
    remote: bool = False,
    budget_clock: str | None = None,
) -> Planned:
    """The experiment set at ``scale`` as planned sweep tasks (see :func:`tasks` for the
    arguments). ``threads``: the torch thread count every task records in its key. ``remote``:
    the runs go to a Dask scheduler, so a run on a device this machine lacks is validated on the
    CPU (:meth:`pgbench.sweep.Task.validate`) as :func:`pgbench.sweep.run_sweep` does."""
    if scale not in SCALES:
        raise InvalidSettingError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if max_time is not None and not max_time > 0:
        raise InvalidSettingError(f"max_time must be > 0 seconds, got {max_time}")
    if budget_clock is not None:
        clocks.column(budget_clock)  # an unknown clock is a clear error
    notes: list[str] = []
    if budget is not None:
        if scale != "paper":
            raise InvalidSettingError(f"a budget set (--budget {budget}) applies to --scale paper, not {scale!r}")
        experiments, notes = budgeted(budget, experiments)
    chosen = select(only, experiments)
    if methods:
        labels = {m.label for e in chosen for m in e.methods if scale in m.scales}
        unknown = [m for m in methods if m not in labels]
        if unknown:
            raise InvalidSettingError(
                f"no method {unknown[0]!r} in the chosen experiments at scale {scale}"
                f"{suggest(unknown[0], sorted(labels))}"
            )
    out, plans = [], []
    for e in chosen:
        if not registered(e):
            notes.append(f"{e.name}: problem {e.problem} is not registered; skipped")
            continue
        for m in e.methods:
            if scale not in m.scales or (methods and m.label not in methods):
                continue
            overrides = {**e.problem_overrides.get(scale, {}), **m.problem_overrides.get(scale, {})}
            it, mt = e.budget(m, scale)
            if max_time is not None:
                mt = min(mt, max_time) if mt is not None else max_time
            hp = {**m.hyperparameters, **m.per_scale.get(scale, {})}
            if m.from_problem:
                try:
                    hp = {**preset(make_problem(e.problem, scale=scale, **overrides), m.from_problem), **hp}
                except InvalidSettingError as err:
                    notes.append(f"{e.name}: {m.label} skipped: {err}")
                    continue
            for seed in seeds if seeds is not None else e.seeds.get(scale, (0,)):
                t = Task(
                    e.problem,
                    m.solver,
                    scale=scale,
                    seed=seed,
                    backend=backend,
                    device=device,
                    iterations=it,
                    max_time=mt,
                    hyperparameters=hp,
                    problem_overrides=overrides,
                    label=m.label,
                    threads=threads,
                    max_time_clock=budget_clock or e.clock(scale),
                )
                try:
                    p = t.validate() if remote else t.plan()
                except (IncompatibleError, UnknownIdError, InvalidSettingError, TypeError, ValueError) as err:
                    notes.append(f"{e.name}: {m.label} ({m.solver}) skipped: {type(err).__name__}: {err}")
                    break
                out.append(t)
                plans.append(p)
    # a bare solver name that a plugin's newer version took over is said (SOLVERS.resolution)
    notes.extend(dict.fromkeys(filter(None, (SOLVERS.resolution(t.solver) for t in out))))
    return Planned(out, plans, notes)


def tasks(
    scale: str = "quick",
    only=None,
    backend: str = "torch",
    device: str = "cpu",
    experiments=None,
    seeds=None,
    max_time: float | None = None,
    budget: str | None = None,
    methods=None,
    budget_clock: str | None = None,
):
    """The experiment set at ``scale`` as sweep tasks: ``(tasks, notes)``. ``notes`` say which
    experiments or methods were left out and why (problem not registered, solver incompatible).
    ``only`` selects experiments (:func:`pgbench.recipes.select`); ``methods`` keeps these
    method labels only. ``seeds`` replaces every experiment's seeds (e.g. ``(0, 1, 2)``).
    ``max_time`` caps every run's wall time in seconds (the paper's budgets as far as a time
    allows): a capped run stops after the iteration that crosses it and is stored under its cap,
    apart from uncapped runs. ``budget`` names a budget set of :data:`pgbench.budgets.BUDGETS`
    (paper scale only, :func:`pgbench.budgets.budgeted`). ``budget_clock`` ("wall" or "cpu")
    replaces the clock every time budget counts on (default: each experiment's,
    :meth:`pgbench.recipes.Experiment.clock`; wall for a ``max_time`` given here alone)."""
    p = planned(scale, only, backend, device, experiments, seeds, max_time, budget, methods, budget_clock=budget_clock)
    return p.tasks, p.notes


def reproduce(
    scale: str = "quick",
    only=None,
    backend: str = "torch",
    device: str = "cpu",
    results="results/runs",
    out="results/report",
    progress: Callable | None = None,
    *,
    experiments=None,
    threads: int | None = 1,
    seeds=None,
    max_time: float | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler=None,
    force: bool = False,
    vectorize: bool = False,
    read_every: int = 1,
    budget: str | None = None,
    methods=None,
    report: bool = True,
    budget_clock: str | None = None,
    timed_beside: bool = False,
) -> dict:
    """Run the paper's experiment set at ``scale`` (finished runs in ``results`` are reused) on
    the sweep executors, then build the report in ``out`` (unless ``report`` is False).

    The experiments become planned tasks (:func:`planned`) that :func:`pgbench.sweep.run_sweep`
    runs: on ``workers`` local processes (default for torch on the CPU: one per core, at most 4,
    :func:`pgbench.scheduling.default_workers`; ``workers=1``, and the default on jax, whose CPU
    thread pool spans all cores: one at a time in this process), or
    on Dask (``executor="dask"``: a local cluster of ``workers`` processes, or the cluster at
    ``scheduler``). Local workers get the runs longest first (the reference timings'
    estimates); a run with a wall-time budget runs with nothing beside it, or with
    ``timed_beside`` beside others on a core of its own (faster; on a busy machine it then makes
    fewer iterations, :mod:`pgbench.scheduling`); the plan printed before any run says which runs
    share a core. Every run is stored with its
    example predictions; runs with a wall-time budget (the HIG comparisons) are warmed up first,
    as in every sweep.

    ``progress`` receives :class:`pgbench.sweep.Event` objects (start / iteration / finish).
    Returns a summary dict: ``runs`` (run now), ``cached`` (reused), ``failed``, ``notes``,
    ``seconds`` (total wall time), ``run_seconds`` (per problem, from each run's start to its
    finish), ``report`` (the index.html path; None without a report). ``experiments`` replaces
    :data:`pgbench.recipes.EXPERIMENTS` (e.g. with custom budgets). ``threads``: torch intra-op
    threads of this process while running on the CPU (1 by default: the paper's networks are
    small, so one thread is faster than two competing ones on a shared 2-core machine; None
    leaves torch's setting and runs in this process unless ``workers`` says otherwise; worker
    processes pin the runs' count too). ``seeds`` replaces every experiment's
    seeds; ``max_time`` caps every run's wall time; ``methods`` keeps these method labels only
    (see :func:`tasks`). ``vectorize`` / ``read_every``: as in :func:`pgbench.sweep.run_sweep`
    (each method's seeds as one program where its solver allows; the rest seed by seed, noted).
    ``budget`` names a budget set (:data:`pgbench.budgets.BUDGETS`, paper scale); ``budget_clock``
    the clock of every time budget (see :func:`tasks`)."""
    t0 = time.perf_counter()
    # on the CPU every run pins (and records in its key) this torch thread count
    run_threads = effective_torch_threads(threads) if device == "cpu" else 1
    todo = planned(
        scale,
        only,
        backend,
        device,
        experiments,
        seeds,
        max_time,
        budget,
        methods,
        run_threads,
        remote=executor == "dask" and scheduler is not None,
        budget_clock=budget_clock,
    )
    notes = todo.notes
    set_total, set_eta = getattr(progress, "set_total", None), getattr(progress, "set_eta", None)
    if set_total is not None:  # e.g. the CLI's progress view: "[3/57]" instead of "[3/?]"
        set_total(len(todo.tasks))
    if report:  # before any run (run_sweep checks the store)
        validate.writable_dir(out, "report folder")
    n = workers
    if n is None and (executor, device, backend, run_threads, vectorize) == ("local", "cpu", "torch", 1, False):
        n = scheduling.default_workers()  # one single-threaded torch worker per core (jax's pool spans them all)
    local = executor == "local" and device == "cpu"
    workload = Workload.of(
        todo.tasks, todo.plans, results, force, workers=(n or 1) if local else 1, alone=not timed_beside
    )
    terminal.print_plan(workload)
    started: dict[int, float] = {}
    per_problem: dict[str, float] = {}
    t_start = time.perf_counter()

    def emit(event):
        if event.kind == "start":
            started[event.index] = time.perf_counter()
        elif event.kind == "finish" and event.index in started:
            per_problem[event.task.problem] = (
                per_problem.get(event.task.problem, 0.0) + time.perf_counter() - started[event.index]
            )
        if event.kind == "finish":
            workload.finished(event.index)
            if set_eta is not None:
                set_eta(workload.eta(time.perf_counter() - t_start))
        if progress is not None:
            progress(event)

    restore = set_torch_threads(threads if device == "cpu" else None)
    try:
        outcomes = run_sweep(
            todo.tasks,
            Path(results),
            executor=executor,
            workers=n,
            scheduler=scheduler,
            force=force,
            progress=emit,
            vectorize=vectorize,
            read_every=read_every,
            notes=notes,
            estimates=dict(workload.estimates),
            cores=None if timed_beside else 1,  # 1: a timed run has nothing beside it
        )
    finally:
        restore()
    ran = sum(not o.cached for o in outcomes)
    t_runs = time.perf_counter() - t0
    index = build_report([Path(results)], out) if report else None
    summary = {
        "scale": scale,
        "runs": ran,
        "cached": len(outcomes) - ran,
        "failed": sum(o.status == "failed" for o in outcomes),
        "diverged": sum(o.status == "diverged" for o in outcomes),
        "notes": notes,
        "run_seconds": per_problem,
        "seconds_running": t_runs,
        "seconds": time.perf_counter() - t0,
        "report": None if index is None else str(index),
    }
    terminal.print_reproduction(summary, Path(out) / "data" / "headline.csv" if report else None)
    return summary


@functools.cache
def reference_timings() -> dict:
    """Seconds per quick-scale run measured on the 2-core reference CPU
    (``pgbench/data/reference_timings.json``), keyed ``"<problem>|<label>"``: estimates for the
    plan and the ETA, never results."""
    path = Path(__file__).parent / "data" / "reference_timings.json"
    try:
        return json.loads(path.read_text())["quick"]
    except (OSError, ValueError, KeyError):
        return {}


def estimate_seconds(task) -> float | None:
    """Estimated wall seconds of one run: its wall-time budget if it has one (plus a warm-up),
    else the reference CPU's measured time at quick scale; None when nothing is known."""
    if task.max_time is not None:
        return float(task.max_time) * 1.1
    if task.scale != "quick":
        return None
    return reference_timings().get(f"{task.problem}|{task.label}")


@dataclass
class Workload:
    """What a reproduction will do: runs in all, stored (reused), to run, and the estimated time
    of those to run. The ETA scales the estimate of what is left by how fast the finished runs
    went against their estimate (a busy or faster machine)."""

    total: int
    stored: int
    estimates: dict  # task index -> seconds (None: unknown), for the runs to do
    problems: int
    done_estimate: float = 0.0
    workers: int = 1  # local worker processes (1: in this process, one run at a time)
    cores: int = 1
    timed: frozenset = frozenset()  # indices of the runs to do whose result depends on wall time
    backend: str = "torch"
    alone: bool = True  # the timed runs run with nothing beside them

    @classmethod
    def of(
        cls,
        todo,
        plans,
        results,
        force: bool = False,
        workers: int = 1,
        cores: int | None = None,
        alone: bool = True,
    ) -> Workload:
        """The plan of tasks ``todo`` planned as ``plans`` against the store ``results`` (a run on
        a device this machine lacks counts as to run: its worker checks the store), run on
        ``workers`` local processes over ``cores`` cores (default: this machine's)."""
        to_run = {}
        for i, (t, p) in enumerate(zip(todo, plans, strict=True)):
            if force or not t.runs_here or store.status_of(p, results) not in store.FINISHED:
                to_run[i] = estimate_seconds(t)
        timed = frozenset(i for i in to_run if scheduling.timed(todo[i]))
        n = max(1, min(workers, len(to_run)))
        return cls(
            len(todo),
            len(todo) - len(to_run),
            to_run,
            len({t.problem for t in todo}),
            workers=n,
            cores=cores or scheduling.cores(),
            timed=timed,
            backend=todo[0].backend if todo else "torch",
            alone=alone,
        )

    def known(self) -> float:
        """Estimated seconds of the runs left whose time is known."""
        return sum(v for v in self.estimates.values() if v is not None)

    def wall(self) -> float:
        """Estimated wall seconds of the runs left on :attr:`workers` processes, handed out
        longest first under :mod:`pgbench.scheduling`'s rules (one process: :meth:`known`)."""
        if self.workers == 1:
            return self.known()
        seconds = {i: v or 0.0 for i, v in self.estimates.items()}  # as known(): unknown runs left out
        order = scheduling.longest_first(self.estimates, self.estimates)
        room = 1 if self.alone else self.cores
        return scheduling.makespan(order, seconds, self.timed, self.workers, self.cores, room)

    def sharing(self) -> str:
        """Which runs share a core (:func:`pgbench.scheduling.sharing`)."""
        n_timed = len(self.timed)
        n_untimed = len(self.estimates) - n_timed
        return scheduling.sharing(n_timed, n_untimed, self.workers, self.cores, self.backend, self.alone)

    def finished(self, index: int) -> None:
        """Run ``index`` finished: its estimate counts as done."""
        self.done_estimate += self.estimates.pop(index, None) or 0.0

    def eta(self, elapsed: float) -> float | None:
        """Seconds left: the estimate of the runs left × (elapsed / estimate of the runs done)."""
        left = self.known()
        if self.done_estimate <= 0:
            return left or None
        return left * elapsed / self.done_estimate


#: the recipes' names, importable from here as before the split (:mod:`pgbench.recipes` owns them)
__all__ = [
    "Method",
    "Experiment",
    "EXPERIMENTS",
    "LEADERBOARD",
    "OPT_IN",
    "Budget",
    "BUDGETS",
    "budgeted",
    "select",
    "registered",
    "planned",
    "Planned",
    "tasks",
    "reproduce",
    "Workload",
    "estimate_seconds",
    "reference_timings",
]
