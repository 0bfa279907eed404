"""Planning a run: ids resolved to objects, every setting validated and the run's metadata
(:class:`pgbench.record.RunMeta`) stated, before any work starts. :func:`plan` returns a
:class:`RunPlan`; :mod:`pgbench.runner` executes it."""

from __future__ import annotations

import functools
import math
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import record
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
    **hyperparameters,
) -> RunPlan:
    """Resolve and validate a run before any work starts (unknown ids, bad settings and
    incompatible pairs raise here). Arguments as in :func:`pgbench.runner.run`; ``label`` names the method in
    tables and plots (default: the solver name), e.g. ``"DP (SGD+momentum)"``. ``meta["numerics"]``
    (:func:`pgbench.backends.numerics`: library versions, torch CPU threads, determinism flags)
    is part of the run key."""
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
        kind=solver.kind,
        label=label or solver.name,
        x_error_name=problem.x_error_name,
        target_x_error=problem.target_x_error,
        machine=platform.node(),
        backend_settings=be.settings(),
        pgbench_version=__version__,
        store_format=STORE_FORMAT,
        divergence_rule=RULE.as_dict(),
    )
    return RunPlan(problem, solver, be, total, max_time, seed, meta.as_dict())
