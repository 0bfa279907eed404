"""Sweeps: expand a grid of problems × solvers × seeds × backends × devices into runs, validate
every run before any work starts, and hand them to an executor that stores each run as it
finishes. A grid can also come from a TOML sweep file (:mod:`pgbench.sweep_config`).

>>> tasks, skipped = expand(["sin"], ["pg", "dp", "lbfgsb"], seeds=[0, 1])
>>> outcomes = run_sweep(tasks, root="results/runs")                  # one process, in order
>>> outcomes = run_sweep(tasks, workers=2)                            # two worker processes
>>> outcomes = run_sweep(tasks, executor="dask", workers=2)           # a local Dask cluster
>>> outcomes = run_sweep(tasks, executor="dask", scheduler="tcp://host:8786")  # an existing one

* An incompatible problem × solver pair is skipped with the solver's reason (``skipped``);
  any other bad setting (unknown id, invalid value, missing backend or device) raises before
  any run starts.
* A run whose stored result is finished (status ``ok`` or ``diverged``) is not run again unless
  ``force``; a ``failed`` one is retried. Every run is written atomically as soon as it ends, by
  the process that ran it, so an interrupted sweep (even a SIGKILLed driver or worker) resumes
  where it stopped without duplicated or half-written runs.
* Every executor runs a task the same way (:func:`run_task`: :func:`pgbench.runner.execute`, the
  path of ``pgbench.run`` too): a run with a wall-time budget is first warmed up (two untimed
  steps on a throwaway state), and each run is stored with its held-out example predictions
  (``<run_key>.examples.npz``, made by the run's finish). ``pgbench
  reproduce`` and ``benchmarks/measure/hig_measure.py`` hand their tasks to :func:`run_sweep` too.
* A run that diverges or raises is stored with its status, message and traceback; a worker
  process that dies mid-run is stored as ``failed`` by the driver; a run that cannot be stored is
  reported ``failed``. The sweep itself goes on.
* ``executor="local"`` runs in this process, or, with ``workers > 1`` (default: one per visible
  GPU when the runs are on ``cuda`` and there are several), in that many spawned worker
  processes, each pinned to one GPU through ``CUDA_VISIBLE_DEVICES``.
* ``executor="dask"`` runs one run per task on single-threaded worker processes
  (``LocalCluster(n_workers=workers, threads_per_worker=1)``, one worker per GPU through dask-cuda
  when it is installed, or the cluster at ``scheduler``); runs on ``cuda`` ask for the abstract
  resource ``{"GPU": 1}`` so that a worker never holds two runs at once. Workers write to the
  shared store themselves. Both parallel executors are :mod:`pgbench.executors`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from . import lanes, scheduling, store, validate
from .analysis.summary import summarize
from .executors import EXECUTORS, check_executor, gpu_count, run_dask, run_pool
from .record import RunRecord
from .registry import InvalidSettingError, field_types
from .runner import Progress, RunResult, execute
from .tasks import Event, Outcome, Skipped, Task, coerce, expand
from .vectorize import run_vectorized, why_not

# --- running ------------------------------------------------------------------------------------------


def unique(tasks: list[Task]) -> list[Task]:
    """``tasks`` without repeats of one run (same run key, e.g. one grid point written twice);
    the first of each stays, in order."""
    seen, out = set(), []
    for t in tasks:
        key = t.validate().run_key
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _finite_or_none(v: float):
    return None if v is None or v != v else float(v)


def _outcome(task: Task, record: RunRecord, path, cached: bool) -> Outcome:
    """The sweep's line for a run: its :func:`~pgbench.analysis.summary.summarize` row."""
    s = summarize(record)
    empty = record.rows.empty
    return Outcome(
        task=task,
        status=record.status,
        run_key=s.run_key,
        path=str(path),
        cached=cached,
        message=record.message,
        iterations=None if empty else int(s.iterations),
        wall_time=None if empty else _finite_or_none(s.wall_time),
        loss=_finite_or_none(s.loss),
        x_error=_finite_or_none(s.x_error),
        label=record.meta.label,
        lanes=int(s.vectorized),
    )


def _stored_outcome(task: Task, p, root) -> Outcome:
    path = store.path_for(p, root)
    return _outcome(task, RunRecord.from_frame(store.read(path)), path, cached=True)


def _cached(task: Task, p, root, force: bool) -> Outcome | None:
    """The stored outcome of a finished run of plan ``p`` (None when it must run: not stored,
    failed, ``force``)."""
    if force or not store.is_finished(p, root):
        return None
    try:
        return _stored_outcome(task, p, root)
    except Exception:  # vanished or unreadable between the check and the read: run it again
        return None


def _stored(task: Task, result: RunResult, root) -> Outcome:
    """Store a run that just ended (its record made once) and return its outcome."""
    record = RunRecord.from_result(result)
    try:
        path = store.save(record, root, result.examples)
    except Exception as e:  # its place taken after planning, say: reported failed, the sweep goes on
        note = f"not stored ({type(e).__name__}: {e}); the run ended {record.status} {record.message}".strip()
        return _outcome(task, replace(record, status="failed", message=note), "", cached=False)
    return _outcome(task, record, path, cached=False)


def _failed(p, task: Task, message: str, root, trace: str = "") -> Outcome:
    result = RunResult(pd.DataFrame(), "failed", message, dict(p.meta), traceback=trace, run_key=p.run_key)
    return _stored(task, result, root)


def run_task(
    task: Task, root=store.DEFAULT_ROOT, force: bool = False, callback: Callable[[Progress], None] | None = None
) -> Outcome:
    """Plan, run and store one task (unless a finished run is stored and not ``force``).
    This is what every executor runs for a task, in this process or a worker."""
    p = task.plan()
    cached = _cached(task, p, root, force)
    if cached is not None:
        return cached
    validate.targets([p], root)  # a run planned here (a worker) checks its place before its work
    return _stored(task, execute(p, callback), root)


def sweep_status(tasks: list[Task], root=store.DEFAULT_ROOT) -> list[str | None]:
    """The stored status of every task (``ok``, ``diverged``, ``failed``) or None if never stored;
    what ``pgbench sweep --dry-run`` shows."""
    return [store.status_of(t.plan(), root) if t.runs_here else None for t in tasks]


class Interrupted(KeyboardInterrupt):
    """A sweep stopped by KeyboardInterrupt (Ctrl-C; SIGTERM in the CLI): ``stored`` of ``total``
    runs are in the store (finished before or during the sweep), the rest was cancelled or
    abandoned in flight; running the same sweep again resumes it."""

    def __init__(self, stored: int, total: int):
        super().__init__(stored, total)
        self.stored, self.total = stored, total

    def __str__(self) -> str:
        return (
            f"interrupted: {self.stored} of {self.total} runs stored, {self.total - self.stored} cancelled; "
            "run the same command again to resume"
        )


def _interruptible(run: Callable[..., list[Outcome]]) -> Callable[..., list[Outcome]]:
    """``run`` (:func:`run_sweep`) raising :class:`Interrupted`, with its counts, instead of a bare
    KeyboardInterrupt; every executor stops handing out work and cleans up on the way out."""

    @functools.wraps(run)
    def wrapper(*args, **kwargs) -> list[Outcome]:
        bound = inspect.signature(run).bind(*args, **kwargs)
        progress, finished = bound.arguments.get("progress"), set()

        def counting(event: Event) -> None:
            if event.kind == "finish":
                finished.add(event.index)
            if progress is not None:
                progress(event)

        bound.arguments["progress"] = counting
        try:
            return run(*bound.args, **bound.kwargs)
        except Interrupted:
            raise
        except KeyboardInterrupt:
            raise Interrupted(len(finished), len(bound.arguments["tasks"])) from None

    return wrapper


@_interruptible
def run_sweep(
    tasks: list[Task],
    root=store.DEFAULT_ROOT,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: Callable[[Event], None] | None = None,
    vectorize: bool = False,
    read_every: int = 1,
    notes: list | None = None,
    estimates: dict | None = None,
    cores: int | None = None,
) -> list[Outcome]:
    """Run ``tasks`` and store each run under ``root`` as soon as it ends; returns one
    :class:`Outcome` per task, in task order. Finished stored runs are reused unless ``force``.

    ``executor="local"`` runs in this process, in order, reporting every iteration to
    ``progress``; with ``workers > 1`` (or several GPUs for ``cuda`` runs) it uses that many
    worker processes. ``"dask"`` submits one task per run to ``scheduler`` (an address such as
    ``tcp://host:8786``, a scheduler file ``*.json``, or a cluster object such as dask-jobqueue's
    ``SLURMCluster``) or to a new ``LocalCluster`` of ``workers`` single-threaded processes.
    Both parallel paths report ``start`` (running) and ``finish`` events. A KeyboardInterrupt
    (Ctrl-C) stops the sweep: no run starts any more, the runs in flight are abandoned (not
    stored), and :class:`Interrupted` says how many runs are stored.

    ``vectorize``: the runs that differ in their seed and/or numeric optimizer settings only (a
    learning-rate grid, a tuning method's trials: :mod:`pgbench.lanes`) are trained as one program
    (:mod:`pgbench.vectorize`, in this process), stored as the separate runs would be; a group that
    cannot be vectorised (an iterative solver, a matrix-wise optimizer, a wall-time budget) runs
    seed by seed and its reason is appended to ``notes``; settings that cannot be lanes (rates
    under a schedule) are split into one program per setting, with a note. ``read_every`` (with ``vectorize``):
    metrics are read back to the host every this many iterations (chunks under ``lax.scan`` on
    jax); neither changes a number or a run key.

    On worker processes the runs are handed out longest first by ``estimates`` (task index ->
    seconds; None: in task order; Dask gets them in that order too). On local ones
    (:func:`pgbench.executors.run_pool`) a run whose result depends on wall time
    (:func:`pgbench.scheduling.timed`) never shares one of ``cores`` cores (default: this
    machine's) with another run; an iteration-budget run stores the same numbers wherever it
    runs. In this process the runs go in task order.

    Before any run: the store must be writable (:func:`pgbench.validate.writable_dir`), every
    run storable at a writable place (:func:`pgbench.validate.targets`), a ``scheduler`` reachable
    (else InvalidSettingError); hidden temporary files of killed writers are removed
    (:func:`pgbench.store.clean_stale_tmp`). This is the one place that checks and cleans the
    store folder: callers (``pgbench reproduce``, the CLI) need not. Each task is planned once
    (:meth:`Task.plan`), here or before by the caller."""
    check_executor(executor)
    if workers is not None and workers < 1:
        raise InvalidSettingError(f"workers must be >= 1, got {workers}")
    if scheduler is not None and executor != "dask":
        raise InvalidSettingError("a scheduler address needs executor='dask'")
    if vectorize and (executor != "local" or (workers or 1) > 1):
        raise InvalidSettingError(
            "vectorize trains a run's seeds as one program in this process; it does not "
            "combine with workers or a Dask cluster"
        )
    if cores is not None and (isinstance(cores, bool) or not isinstance(cores, int) or cores < 1):
        raise InvalidSettingError(f"cores must be an integer >= 1, got {cores!r}")
    if isinstance(read_every, bool) or not isinstance(read_every, int) or read_every < 1:
        raise InvalidSettingError(f"read_every must be an integer >= 1, got {read_every!r}")
    if read_every > 1 and not vectorize:
        raise InvalidSettingError("read_every > 1 needs vectorize (the vectorised runner reads metrics in chunks)")
    remote = executor == "dask" and scheduler is not None
    plans = [t.validate() if remote else t.plan() for t in tasks]  # validate everything before any work
    for p in plans:
        validate.storable(p)
    validate.writable_dir(root)
    validate.targets([p for t, p in zip(tasks, plans, strict=True) if t.runs_here], root)
    if remote:
        validate.scheduler(scheduler)
    emit = progress or (lambda event: None)
    root = Path(root).resolve()
    store.clean_stale_tmp(root)
    outcomes: list[Outcome | None] = [None] * len(tasks)
    todo = []
    for i, (task, p) in enumerate(zip(tasks, plans, strict=True)):
        # a run this machine cannot plan has its key made on the worker, which checks the store itself
        outcomes[i] = _cached(task, p, root, force) if task.runs_here else None
        if outcomes[i] is None:
            todo.append(i)
        else:
            emit(Event("finish", i, task, p.iterations, outcome=outcomes[i]))
    if not todo:
        return _complete(outcomes)
    gpu = any(tasks[i].device == "cuda" for i in todo)
    order = todo if estimates is None else scheduling.longest_first(todo, estimates)
    if executor == "dask":  # submitted longest first; Dask places them
        run_dask(run_task, _failed, tasks, plans, order, outcomes, root, workers, scheduler, force, emit)
        return _complete(outcomes)
    n = workers or (gpu_count() if gpu else 1)
    if n > 1:
        timed_runs = frozenset(i for i in todo if scheduling.timed(tasks[i]))
        n = min(n, len(todo))
        run_pool(run_task, _failed, tasks, plans, order, outcomes, root, n, gpu, force, emit, timed_runs, cores)
        return _complete(outcomes)
    if vectorize:
        todo = _run_vector_groups(
            tasks, plans, todo, outcomes, root, emit, read_every, notes if notes is not None else []
        )
    for i in todo:
        task, p = tasks[i], plans[i]
        emit(Event("start", i, task, p.iterations))

        def report(pr: Progress, i: int = i, task: Task = task, total: int = p.iterations) -> None:
            emit(Event("iteration", i, task, total, progress=pr))

        outcomes[i] = _stored(task, execute(p, report), root)
        emit(Event("finish", i, task, p.iterations, outcome=outcomes[i]))
    return _complete(outcomes)


def _complete(outcomes: list[Outcome | None]) -> list[Outcome]:
    """``outcomes`` once every task has one (every executor fills each slot, failures included)."""
    done = [o for o in outcomes if o is not None]
    if len(done) != len(outcomes):
        raise RuntimeError(f"{len(outcomes) - len(done)} of {len(outcomes)} runs ended without an outcome")
    return done


#: reasons :func:`vector_groups` gives for a run it does not vectorise that are no limit of the solver
ONE_RUN = "one seed"
REPEATED = "the same run as another task"


def vector_groups(tasks: list[Task], plans, todo: list[int], read_every: int = 1, notes: list | None = None):
    """Split the task indices ``todo`` into groups that can each run as one vectorised program:
    ``(groups, alone)`` where ``alone`` are ``(index, reason)`` pairs of tasks that cannot (a
    group of one run is vectorised only with ``read_every > 1``). A group's runs differ in their
    seed and/or numeric optimizer settings (:mod:`pgbench.lanes`); where those settings cannot
    share a program (:func:`pgbench.lanes.why_not`), the group is split into runs that differ in
    their seed only, and the reason is appended to ``notes``."""
    by_config: dict = {}
    groups, alone = [], []
    first: dict = {}
    for i in todo:
        if first.setdefault(plans[i].run_key, i) != i:  # one run twice (tuned = default): not two lanes
            alone.append((i, REPEATED))
            continue
        by_config.setdefault(store.run_key(dict(lanes.shared(plans[i].meta), seed=0)), []).append(i)
    for idx in by_config.values():
        if len(idx) == 1 and read_every == 1:
            alone.append((idx[0], ONE_RUN))
            continue
        reason = why_not(plans[idx[0]], len(idx))
        if reason:
            alone.extend((i, reason) for i in idx)
            continue
        reason = lanes.why_not([plans[i] for i in idx])
        if not reason:
            groups.append(idx)
            continue
        # the settings cannot be lanes: one group per setting, over its seeds
        t = tasks[idx[0]]
        if notes is not None:
            notes.append(f"hyperparameters not vectorised: {t.problem} {t.solver}: {reason}")
        per_setting: dict = {}
        for i in idx:
            per_setting.setdefault(store.run_key(dict(plans[i].meta, seed=0)), []).append(i)
        for part in per_setting.values():
            if len(part) == 1 and read_every == 1:
                alone.append((part[0], ONE_RUN))
            else:
                groups.append(part)
    return groups, alone


def _run_vector_groups(tasks, plans, todo, outcomes, root, emit, read_every, notes) -> list[int]:
    """Run the vectorisable groups of ``todo`` (see :func:`vector_groups`), store every run and
    return the indices left to run one by one."""
    groups, alone = vector_groups(tasks, plans, todo, read_every, notes)
    said = set()
    for i, reason in alone:
        t = tasks[i]
        key = (t.problem, t.label or t.solver, reason)
        if reason not in (ONE_RUN, REPEATED) and key not in said:
            said.add(key)
            notes.append(f"not vectorised: {t.problem} {t.label or t.solver}: {reason}")
    for idx in groups:
        for i in idx:
            emit(Event("start", i, tasks[i], plans[i].iterations))

        def callback(pr, idx=idx):
            i = idx[pr.lane]
            emit(Event("iteration", i, tasks[i], plans[i].iterations, progress=pr))

        results = run_vectorized([plans[i] for i in idx], read_every, callback)
        for i, result in zip(idx, results, strict=True):
            outcomes[i] = _stored(tasks[i], result, root)
            emit(Event("finish", i, tasks[i], plans[i].iterations, outcome=outcomes[i]))
    return [i for i, _ in alone]


__all__ = [
    "Task",
    "Skipped",
    "Outcome",
    "Event",
    "expand",
    "run_sweep",
    "run_task",
    "Interrupted",
    "sweep_status",
    "check_executor",
    "coerce",
    "field_types",
    "EXECUTORS",
]
