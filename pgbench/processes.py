"""A sweep's worker processes tied to their driver: they die with it, and only the driver decides
what a Ctrl-C or a SIGTERM does (:mod:`pgbench.executors`, :mod:`pgbench.cli`).

* :func:`die_with_parent` (in a worker, once): the worker is SIGKILLed as soon as its driver
  dies, however the driver died (SIGKILL included), so that no worker goes on storing runs for
  a sweep nobody waits for. On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
  elsewhere a daemon thread polls ``os.getppid()`` every half second and exits the process when
  the parent changed. Limit: the Linux tie is to the driver *thread* that started the worker
  (the worker dies when that thread ends), so workers are started from the thread that waits for
  them.
* :func:`no_interrupts_for_children` (in the driver, around starting workers) and
  :func:`ignore_interrupts` (in a worker): the workers ignore SIGINT. A Ctrl-C in a terminal goes
  to the whole foreground process group, workers included; a worker that got it would drop its
  run with a traceback and take the next one.
* :func:`sigterm_as_interrupt` (the CLI, around a command): SIGTERM raises KeyboardInterrupt,
  so that it stops a sweep as Ctrl-C does (workers stopped, one line, exit status 130).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int, every: float = 0.5) -> None:
    """Tie this process's life to its parent ``parent`` (a pid): see the module docstring. Exits
    at once when ``parent`` is gone already."""
    if not _kernel_tie():
        threading.Thread(target=_watch_parent, args=(parent, every), daemon=True, name="pgbench-watch-parent").start()
    if os.getppid() != parent:  # the driver died before the tie was made
        os._exit(1)


def _kernel_tie() -> bool:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)``; False where it is not available (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, every: float) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


@contextmanager
def no_interrupts_for_children() -> Iterator[None]:
    """Processes started inside this block ignore SIGINT from their start (see the module
    docstring): SIGINT is ignored here meanwhile, and a process started from an exec inherits
    that (Python keeps an ignored SIGINT ignored). Keep the block short: a Ctrl-C that arrives
    inside it is lost. A no-op outside the main thread (only it sets signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def ignore_interrupts() -> None:
    """In a worker: ignore SIGINT (its driver handles a Ctrl-C and stops the worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside this block SIGTERM raises KeyboardInterrupt in the main thread (a no-op in other
    threads); the previous handler is back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
