"""Which run starts when on a pool of local worker processes (:func:`pgbench.executors.run_pool`):
longest first, with runs whose result depends on wall time never sharing a core.

A run is *timed* (:func:`timed`) when its result depends on the wall time it gets: it has a
wall-time budget (``max_time``: it stops after the iteration that crosses it, so a slower core
means fewer iterations) or its solver counts in seconds (a schedule with ``unit="seconds"``), on
the wall clock; a budget on the CPU clock (``max_time_clock="cpu"``) is not bent by a neighbour. An
iteration-budget run computes the same numbers however slowly it goes; sharing a core only delays
it. With ``workers`` processes on ``cores`` cores (one torch thread per worker) the rules are
(:func:`next_run`):

* at most ``workers`` runs are in flight;
* a timed run starts only when fewer than ``cores`` runs are in flight, and while a timed run is
  in flight no run starts that would make more than ``cores`` in flight: every timed run has a
  core of its own (``cores=1``: it runs with nothing beside it; what ``pgbench reproduce`` does
  by default, since on a shared machine the other core is rarely free).

With ``workers <= cores`` (the default, :func:`default_workers`) the second rule never binds: no
run shares a core. Runs are handed out longest first (:func:`longest_first`, LPT list
scheduling: the last run to finish is a short one, and the makespan is at most 4/3 of the best
possible on identical workers); :func:`makespan` simulates the rules on the estimates for the
plan's time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

#: the most worker processes a reproduction starts by default (beyond a few cores the quick
#: set's longest runs, not the core count, bound its wall time)
DEFAULT_WORKER_CAP = 4


def cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS says, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_workers(cap: int = DEFAULT_WORKER_CAP) -> int:
    """One worker per core, at most ``cap``; 1 (in this process) on a single core."""
    return max(1, min(cores(), cap))


def timed(task) -> bool:
    """Whether the result of ``task`` (a :class:`pgbench.tasks.Task`) depends on wall time: a
    time budget, or a solver that counts in seconds, on the wall clock. On the CPU clock
    (``max_time_clock="cpu"``, which a seconds schedule follows too) a run is given the same CPU
    seconds beside other runs as alone, so it is scheduled like an iteration-budget run."""
    counts_time = task.max_time is not None or task.hyperparameters.get("unit") == "seconds"
    return counts_time and getattr(task, "max_time_clock", "wall") != "cpu"


def _seconds(indices: Sequence[int], estimates: dict) -> dict[int, float]:
    """``estimates`` of ``indices`` with a run without one (None or missing) at the mean of the
    known ones (0 if none is known)."""
    known = [float(estimates[i]) for i in indices if estimates.get(i) is not None]
    fill = sum(known) / len(known) if known else 0.0
    return {i: fill if estimates.get(i) is None else float(estimates[i]) for i in indices}


def longest_first(indices: Iterable[int], estimates: dict) -> list[int]:
    """``indices`` by estimated seconds, longest first (ties and equal estimates keep their order);
    a run without an estimate (None or missing) counts as the mean of the known ones."""
    indices = list(indices)
    seconds = _seconds(indices, estimates)
    return sorted(indices, key=lambda i: -seconds[i])


def may_start(index: int, running: Sequence[int], timed_runs, workers: int, cores: int) -> bool:
    """Whether run ``index`` may start beside the runs ``running`` (see the module's rules)."""
    n = len(running)
    if n >= workers:
        return False
    if index in timed_runs or any(i in timed_runs for i in running):
        return n < cores
    return True


def next_run(queue: Sequence[int], running: Sequence[int], timed_runs, workers: int, cores: int) -> int | None:
    """The first run of ``queue`` (in order) that may start now, or None."""
    return next((i for i in queue if may_start(i, running, timed_runs, workers, cores)), None)


def check(workers: int, cores: int) -> None:
    """Raise ValueError unless ``workers`` and ``cores`` are integers >= 1."""
    for name, v in (("workers", workers), ("cores", cores)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


def makespan(
    order: Sequence[int], estimates: dict, timed_runs, workers: int, cores: int, room: int | None = None
) -> float:
    """Seconds until the last run of ``order`` ends when each run alone on a core takes
    ``estimates`` (unknown: the mean of the known) and the runs are handed out as :func:`next_run`
    says with ``room`` in place of ``cores`` (default: ``cores``; 1: a timed run alone); ``k``
    runs in flight on ``cores`` cores each go at ``min(1, cores / k)`` of that speed."""
    check(workers, cores)
    room = cores if room is None else room
    seconds = _seconds(order, estimates)
    queue, now = list(order), 0.0
    left: dict[int, float] = {}  # index in flight -> seconds of work left
    while queue or left:
        i = next_run(queue, list(left), timed_runs, workers, room)
        if i is not None:
            queue.remove(i)
            left[i] = seconds[i]
            continue
        speed = min(1.0, cores / len(left))
        first = min(left, key=left.__getitem__)
        step = left.pop(first)
        now += step / speed
        left = {j: w - step for j, w in left.items()}
    return now


def sharing(n_timed: int, n_untimed: int, workers: int, cores: int, backend: str = "torch", alone: bool = False) -> str:
    """The plan's sentence on which runs share a core (``alone``: the timed runs run with nothing
    beside them). On jax every worker's XLA CPU thread pool spans all the cores (the run key
    records their count), so several jax workers share them all."""
    check(workers, cores)
    if workers == 1:
        return "one run at a time in this process"
    if alone and n_timed and backend != "jax":
        share = "no run shares a core" if workers <= cores else f"the {n_untimed} iteration-budget runs share cores"
        return (
            f"{workers} worker processes on {cores} cores, 1 torch thread each: {share}; the {n_timed} runs with "
            "a wall-time budget run one at a time with nothing beside them"
        )
    if backend == "jax":
        return (
            f"{workers} worker processes on {cores} cores, each with XLA's thread pool over all {cores}: "
            "every run shares the cores, those with a wall-time budget too"
        )
    head = f"{workers} worker processes on {cores} cores, 1 torch thread each"
    if workers <= cores:
        beside = (
            f" (the {n_timed} runs with a wall-time budget run beside others, each on a core of its own)"
            if n_timed
            else ""
        )
        return f"{head}: no run shares a core{beside}"
    timed_part = (
        f"; the {n_timed} runs with a wall-time budget have a core of their own "
        f"(at most {cores} runs in flight while one runs)"
        if n_timed
        else ""
    )
    return f"{head}: the {n_untimed} iteration-budget runs share cores{timed_part}"


__all__ = [
    "DEFAULT_WORKER_CAP",
    "cores",
    "default_workers",
    "timed",
    "longest_first",
    "may_start",
    "next_run",
    "makespan",
    "sharing",
    "check",
]
