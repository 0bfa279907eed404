"""Planning a run: ids resolved to objects, every setting validated and the run's metadata
(:class:`pgbench.record.RunMeta`) stated, before any work starts. :func:`plan` returns a
:class:`RunPlan`; :mod:`pgbench.runner` executes it."""

from __future__ import annotations

import functools
import math
import os
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import clocks, record
from ._version import __version__
from .backends import get_backend, numerics
from .divergence import RULE
from .record import STORE_FORMAT, RunMeta
from .registry import InvalidSettingError, make_problem
from .tuning import make_tuned_solver


class IncompatibleError(InvalidSettingError):
    """The solver needs a capability the problem does not declare."""


def resolve(problem, solver, scale: str = "quick", **hyperparameters):
    """Ids to objects: a problem id is made at ``scale``; a solver id gets the problem's tuned
    defaults for it (:mod:`pgbench.tuning`, e.g. the paper's learning rate there) overridden by
    ``hyperparameters``."""
    if isinstance(problem, str):
        problem = make_problem(problem, scale=scale)
    if isinstance(solver, str):
        solver = make_tuned_solver(problem, solver, **hyperparameters)
    elif hyperparameters:
        raise InvalidSettingError("hyperparameters can only be given with a solver id, not a solver object")
    return problem, solver


#: the longest method label (``--label``, a sweep point's label, a solver's name) in characters
MAX_LABEL = 120


def check_label(label) -> str:
    """``label`` if it can name a method in tables and plots: one line of printable characters
    (no control characters, newlines or escape codes; :meth:`str.isprintable`), not blank, at most
    :data:`MAX_LABEL` characters; else InvalidSettingError. Rich markup (``[red]``) is allowed and
    shown as written (:mod:`pgbench.terminal` escapes it). The one check of a label's content."""
    if not isinstance(label, str):
        raise InvalidSettingError(f"a label must be text, got {label!r}")
    shown = repr(label) if len(label) <= 60 else repr(label[:60]) + f"... ({len(label)} characters)"
    if not label.strip():
        raise InvalidSettingError(f"a label must not be blank, got {shown}")
    if len(label) > MAX_LABEL:
        raise InvalidSettingError(f"a label must be at most {MAX_LABEL} characters, got {shown}")
    bad = next((c for c in label if not c.isprintable() and c != " "), None)
    if bad is not None:
        raise InvalidSettingError(f"a label must be one line of printable characters, got {shown} (holds {bad!r})")
    return label


def max_threads() -> int:
    """The most torch CPU threads a run may ask for: 4 per core of this machine, at least 64 (more
    only oversubscribe the cores, and 100,000 exhaust OpenMP's memory before the run starts)."""
    return max(64, 4 * (os.cpu_count() or 1))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


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
    max_time_clock: str = clocks.DEFAULT  # the clock ``max_time`` and ``time_cap`` count on ("wall" or "cpu")
    time_cap: float | None = None  # seconds; a run not done by then stops, status ``over_budget``

    @functools.cached_property
    def run_key(self) -> str:
        """The run's key (:func:`pgbench.record.run_key` of :attr:`meta`), computed once per plan."""
        return record.run_key(self.meta)


def plan(
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
    max_time_clock: str = clocks.DEFAULT,
    time_cap: float | None = None,
    **hyperparameters,
) -> RunPlan:
    """Resolve and validate a run before any work starts (unknown ids, bad settings and
    incompatible pairs raise here). Arguments as in :func:`pgbench.runner.run`; ``label`` names the method in
    tables and plots (default: the solver name), e.g. ``"DP (SGD+momentum)"``. ``meta["numerics"]``
    (:func:`pgbench.backends.numerics`: library versions, torch CPU threads, determinism flags)
    is part of the run key. ``max_time_clock`` ("wall" or "cpu", :mod:`pgbench.clocks`) is the
    clock the run's time limits count on: ``max_time`` and ``time_cap``, which stops a run that
    has not finished its iterations by then, stored as ``over_budget``
    (:func:`pgbench.runner.execute_runs`). Both are in the run key only when they are set (the CPU
    clock, a cap), so runs that use neither keep their keys; the clock of a run without a time
    limit is irrelevant and not recorded."""
    clocks.column(max_time_clock)  # an unknown clock is a clear error, before any work
    problem, solver = resolve(problem, solver, scale, **hyperparameters)
    reason = solver.missing(problem)
    if reason:
        raise IncompatibleError(reason)
    if iterations is not None and (not _is_int(iterations) or not 1 <= iterations < 2**63):
        raise InvalidSettingError(f"iterations must be >= 1 (an integer below 2**63), got {iterations!r}")
    if max_time is not None and (
        isinstance(max_time, bool) or not isinstance(max_time, (int, float)) or not 0 < max_time < math.inf
    ):
        raise InvalidSettingError(f"max_time must be a finite number of seconds > 0, got {max_time!r}")
    if time_cap is not None and (
        isinstance(time_cap, bool) or not isinstance(time_cap, (int, float)) or not 0 < time_cap < math.inf
    ):
        raise InvalidSettingError(f"time_cap must be a finite number of seconds > 0, got {time_cap!r}")
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise InvalidSettingError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if threads is not None and (not _is_int(threads) or not 0 <= threads <= max_threads()):
        raise InvalidSettingError(
            f"threads must be an integer from 0 (torch's default) to {max_threads()} (4 per core of this "
            f"machine, at least 64), got {threads!r}"
        )
    label = check_label(label or solver.name)
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
    timed = max_time is not None or time_cap is not None  # a time limit: its clock counts
    meta = RunMeta(
        problem=problem.id,
        scale=problem.scale,
        problem_settings=problem.settings(),
        solver=solver.id,
        hyperparameters=solver.hyperparameters(),
        backend=be.name,
        device=be.device,
        device_name=be.device_name(),
        numerics=numerics(be.name, be.device, threads),
        seed=seed,
        iterations=total,
        max_time=max_time,
        max_time_clock=max_time_clock if timed and max_time_clock != clocks.DEFAULT else None,
        time_cap=float(time_cap) if time_cap is not None else None,
        kind=solver.kind,
        label=label,
        x_error_name=problem.x_error_name,
        target_x_error=problem.target_x_error,
        machine=platform.node(),
        backend_settings=be.settings(),
        pgbench_version=__version__,
        store_format=STORE_FORMAT,
        divergence_rule=RULE.as_dict(),
    )
    clock = max_time_clock if timed else clocks.DEFAULT
    return RunPlan(problem, solver, be, total, max_time, seed, meta.as_dict(), clock, time_cap)
