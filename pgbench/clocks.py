"""The clocks a run is timed on, and which stored column holds each.

Every recorded row carries two times since the run started, both with set-up and held-out
evaluation excluded (:meth:`Clock.excluded`):

* ``wall_time`` — elapsed real time (``time.perf_counter``). What a user waits for; on a shared
  machine it grows with the load of everything else running there.
* ``cpu_time`` — CPU seconds spent by the run's process, all its threads summed
  (``time.process_time``). Work done rather than time waited: other processes on the machine
  take cores away from the run but add no CPU seconds to it, so comparisons read on this clock
  hold under load (up to cache and memory-bandwidth contention, which it does not remove). A
  run using several threads accrues CPU seconds faster than wall seconds. On a GPU it counts the
  host's work only.

Stores written before pgbench 0.4 have no ``cpu_time``; reading them on that clock gives NaN.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from .registry import InvalidSettingError, suggest

#: clock name → the stored column that holds a row's time on it
COLUMNS = {"wall": "wall_time", "cpu": "cpu_time"}
DEFAULT = "wall"


def column(clock: str) -> str:
    """The stored column of ``clock`` ("wall" or "cpu"); an unknown name is a clear error."""
    try:
        return COLUMNS[clock]
    except KeyError:
        raise InvalidSettingError(f"unknown clock {clock!r}{suggest(clock, COLUMNS)}") from None


class Clock:
    """Wall and process CPU time since start, with pauses (evaluation, set-up) excluded from both."""

    def __init__(self):
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.paused = 0.0
        self.cpu_paused = 0.0

    def now(self) -> float:
        """Wall seconds on the clock."""
        return time.perf_counter() - self.start - self.paused

    def cpu(self) -> float:
        """Process CPU seconds on the clock."""
        return time.process_time() - self.cpu_start - self.cpu_paused

    @contextmanager
    def excluded(self):
        """Time spent inside the block is on neither clock."""
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.paused += time.perf_counter() - t
            self.cpu_paused += time.process_time() - c
