"""Schedules of training schemes: run ``first`` (e.g. ``dp`` with Adam), then switch to ``then``
(e.g. ``hig``) after ``switch_at`` iterations or seconds — the HIG paper's Poisson protocol of
pre-training with Adam and refining with HIG (spec ``hig.md`` §2.3, §5.4c).

Each stage is a registered training scheme made with the problem's own defaults for it
(``solver_defaults``) overridden by ``first_settings`` / ``then_settings``; each keeps its own
optimizer, and the second stage's optimizer starts fresh at the switch. ``unit="seconds"``
counts the run's training time on the runner's clock (``wall_time``: data sampling included,
evaluation excluded), so that "Adam for 30 s, then HIG for 30 s" splits a 60 s ``max_time``
budget in two equal halves; used outside the runner (no clock given), it counts the time spent
in the schedule's own gradient and update calls.

Per-run state (the current stage, iteration and time) lives on the scheme object from
:meth:`make_optimizer`, which the runner calls once at the start of every run; one schedule
object therefore runs one training at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

from .base import TrainingScheme, check_choice


@dataclass(frozen=True)
class Schedule(TrainingScheme):
    """``first`` until ``switch_at`` (iterations or seconds), then ``then``."""

    optimizer: str | None = None   # each stage brings its own optimizer
    lr: float | None = None
    first: str = "dp"
    then: str = "hig"
    switch_at: float = 100
    unit: str = "iterations"
    first_settings: dict = field(default_factory=dict)
    then_settings: dict = field(default_factory=dict)

    jittable: ClassVar[bool] = False   # stages are jitted on their own

    def __post_init__(self):
        if self.optimizer is not None or self.lr is not None or self.momentum != 0:
            raise ValueError("schedule: set each stage's optimizer in first_settings / then_settings, "
                             "not optimizer/lr/momentum of the schedule")
        check_choice(self, "unit", ("iterations", "seconds"))
        if not self.switch_at >= 0:
            raise ValueError(f"switch_at must be >= 0, got {self.switch_at}")
        for name in ("first", "then"):
            from ..registry import SOLVERS
            spec = SOLVERS.resolve(getattr(self, name))
            if spec.name == "schedule":
                raise ValueError("schedule: stages cannot be schedules themselves")
        object.__setattr__(self, "_run", None)

    def stage(self, problem, which: str):
        """The stage ``first`` or ``then`` as a scheme, with the problem's defaults for it."""
        from ..registry import SOLVERS, make_solver
        sid = getattr(self, which)
        name = SOLVERS.resolve(sid).name
        settings = getattr(self, f"{which}_settings")
        scheme = make_solver(sid, **{**problem.solver_defaults.get(name, {}), **settings})
        if scheme.kind != "training":
            raise ValueError(f"schedule: stage {which}={sid!r} is not a training scheme")
        return scheme

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        for which in ("first", "then"):
            reason = self.stage(problem, which).missing(problem)
            if reason:
                return f"{self.id} stage {which}: {reason}"
        return None

    def x_gradient(self, problem, be, x, y_target, x_true):
        raise TypeError("schedule delegates gradients() to its stages")

    def make_optimizer(self, be):
        run = {"phase": 0 if self.switch_at > 0 else 1, "it": 0, "time": 0.0, "t0": None,
               "stages": None, "fns": [None, None], "opts": [None, None], "be": be}
        object.__setattr__(self, "_run", run)
        return _ScheduleOptimizer(self, run)

    def gradients(self, problem, be, net, params, y_target, x_true):
        run = self._run
        if run is None:
            raise RuntimeError("schedule: make_optimizer() starts a run and must be called first")
        if run["stages"] is None:
            run["stages"] = [self.stage(problem, "first"), self.stage(problem, "then")]
        k = run["phase"]
        scheme = run["stages"][k]
        if run["fns"][k] is None:
            fn = lambda p, y, xt, s=scheme: s.gradients(problem, be, net, p, y, xt)  # noqa: E731
            run["fns"][k] = be.jit(fn) if scheme.jittable else fn
        run["t0"] = time.perf_counter()
        g, x, loss, *diag = run["fns"][k](params, y_target, x_true)
        return g, x, loss, {"stage": float(k), **(diag[0] if diag else {})}


class _ScheduleOptimizer:
    """Applies the current stage's optimizer (made and initialised when the stage starts) and
    advances the schedule's clock; switches stage when the budget of ``first`` is spent."""

    def __init__(self, schedule: Schedule, run: dict):
        self.schedule, self.run = schedule, run
        self.now = None

    def use_clock(self, now):
        """Count ``unit="seconds"`` on ``now()`` (the runner's training clock)."""
        self.now = now

    def init(self, params):
        return [None, None]

    def update(self, params, grads, state):
        run, be = self.run, self.run["be"]
        k = run["phase"]
        if run["opts"][k] is None:
            run["opts"][k] = run["stages"][k].make_optimizer(be)
            state = list(state)
            state[k] = run["opts"][k].init(params)
        params, sk = run["opts"][k].update(params, grads, state[k])
        state = list(state)
        state[k] = sk
        be.block_until_ready(params)
        run["it"] += 1
        run["time"] += time.perf_counter() - run["t0"]
        if k == 0:
            if self.schedule.unit == "iterations":
                spent = run["it"]
            else:
                spent = self.now() if self.now is not None else run["time"]
            if spent >= self.schedule.switch_at:
                run["phase"] = 1
        return params, state


__all__ = ["Schedule"]
