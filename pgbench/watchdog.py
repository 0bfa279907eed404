"""A bound on the wall time of one step of a run with a budget (``max_time``; the run loop,
:func:`pgbench.runner.execute_runs`, puts every step of such a run under :func:`step_limit`).

The loop checks ``max_time`` between steps: a run stops after the step that crosses it. A step
that hangs (a solver stuck in a loop, a blocking call) never reaches that check, so a step still
running :func:`grace` seconds after the budget ran out (``max(2 s, max_time)``: a run is stopped
at twice its budget at the latest, and never less than 2 s past it) gets :class:`StepTimeout`
raised inside it; the loop stores the run as ``failed`` with that reason and the sweep goes on.

How: in the main thread (a run in this process or in a pool worker process), a SIGALRM timer
(``signal.setitimer``) whose handler raises; elsewhere (a Dask worker's thread; no SIGALRM on
Windows), a timer thread that raises the exception in the step's thread
(``PyThreadState_SetAsyncExc``). Both are armed only while a step runs.

A run on the CPU clock (``max_time_clock="cpu"``) spends its budget in CPU seconds, which a step
waiting (on a lock, on the machine's other processes) does not use; its guard still counts wall
seconds, :data:`CPU_WAIT_RATIO` times the CPU allowance, so a step that waits that much longer
than it could have computed is stopped as hung.

A run with a ``time_cap`` (:mod:`pgbench.planning`) is stopped inside a step that runs past it:
:class:`OverCap` is raised and the loop stores the run as ``over_budget`` (a cap is the run's
limit, not a sign that it hangs). On the wall clock at the cap, with no grace; on the CPU clock
(which a wall-clock timer cannot follow) after :data:`CPU_WAIT_RATIO` times the CPU seconds left
plus the grace, in wall seconds — the loop's check between steps holds a CPU cap exactly.

Limits: both stop Python code only. A step hung inside native code (one long torch or XLA
call, a lock wait) is stopped when control comes back to Python. The SIGALRM way also ends a
blocking ``time.sleep`` or I/O wait at once; the thread way only when that call returns. While
a step runs the SIGALRM way owns SIGALRM (a handler and a timer set before are put back after).
The exception is not an ``Exception`` until it leaves the step, so a solver's ``except
Exception`` does not swallow it. Set-up (``init``), evaluation and the finish are not bounded.
"""

from __future__ import annotations

import ctypes
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MIN_GRACE = 2.0  # seconds past the budget that a step may always run
CPU_WAIT_RATIO = 10.0  # wall seconds per CPU second of allowance before a CPU-clock step counts as hung


class StepTimeout(Exception):
    """A step ran on :func:`grace` seconds past its run's ``max_time`` (a run stored ``failed``)."""


class OverCap(Exception):
    """A step was still running when its run reached its ``time_cap`` (a run stored ``over_budget``)."""


class _Expired(BaseException):
    """Raised inside the step; :func:`step_limit` turns it into :class:`StepTimeout`."""


def grace(max_time: float) -> float:
    """Seconds past the budget ``max_time`` that a step may run: ``max(MIN_GRACE, max_time)``."""
    return max(MIN_GRACE, float(max_time))


@contextmanager
def step_limit(
    max_time: float | None,
    spent: float,
    clock: str = "wall",
    cap: float | None = None,
) -> Iterator[None]:
    r"""Run the block (one step) under a deadline: with ``spent`` seconds of the budget
    ``max_time`` used, it may run :math:`a = \max(T - s, 0) + \mathrm{grace}(T)` wall seconds
    (``clock="cpu"``: ``spent`` is CPU seconds and it may run :data:`CPU_WAIT_RATIO` · a), then
    :class:`StepTimeout` is raised in it; with a ``cap`` (on the same clock as ``spent``) it may
    run no more than ``cap - spent`` wall seconds (``clock="cpu"``: :data:`CPU_WAIT_RATIO` ·
    (``cap - spent`` + grace(cap))), then :class:`OverCap` is raised. Without a budget or a cap
    (None) nothing is armed."""
    allowed, cause = math.inf, ""
    if max_time is not None:
        past = grace(max_time)
        allowed = (max(max_time - spent, 0.0) + past) * (CPU_WAIT_RATIO if clock == "cpu" else 1.0)
        cause = "budget"
    if cap is not None:
        left = max(cap - spent, 0.0)
        if clock == "cpu":
            left = (left + grace(cap)) * CPU_WAIT_RATIO
        if left <= allowed:
            allowed, cause = left, "cap"
    if cause == "":
        yield
        return
    start = time.perf_counter()
    arm = _alarm if _can_alarm() else _async_raise
    try:
        with arm(max(allowed, 1e-3)):
            yield
    except _Expired:
        hung = time.perf_counter() - start
        if cause == "cap":
            on = " of CPU time" if clock == "cpu" else ""
            raise OverCap(
                f"reached its time cap of {cap:g} s{on} inside a step (stopped {hung:.1f} s into it)"
            ) from None
        on = " of CPU time" if clock == "cpu" else ""
        raise StepTimeout(
            f"exceeded --max-time {max_time:g} s{on} inside one step (hung for {hung:.1f} s; stopped {past:g} s "
            "past the budget)"
        ) from None


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`_Expired` in the main thread after ``seconds`` (SIGALRM)."""
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise _Expired

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        try:
            armed[0] = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay > 0:  # someone else's timer: put back what is left of it
                left = max(old_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, old_interval)


@contextmanager
def _async_raise(seconds: float) -> Iterator[None]:
    """Raise :class:`_Expired` in this thread after ``seconds`` (from a timer thread); one that
    was sent but not yet raised when the block ends is withdrawn."""
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"armed": True, "sent": False}

    def fire() -> None:
        with lock:
            if state["armed"]:
                state["sent"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(_Expired))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["armed"] = False
            if state["sent"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
