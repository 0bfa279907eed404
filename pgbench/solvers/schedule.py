"""Schedules of training schemes: run ``first`` (e.g. ``dp`` with Adam), then switch to ``then``
(e.g. ``hig``) after ``switch_at`` iterations or seconds — the HIG paper's Poisson protocol of
pre-training with Adam and refining with HIG (spec ``hig.md`` §2.3, §5.4c).

A schedule is a combinator: its state holds the current stage, the iterations done, the point
where it switches and each stage's own state, so one schedule object can drive any number of runs
at once. Each stage is a registered training scheme made with the problem's tuned defaults for it
(:mod:`pgbench.tuning`) overridden by ``first_settings`` / ``then_settings``; each keeps its own
optimizer, and the second stage's state starts fresh at the switch. ``unit="seconds"`` counts the
run's training time as the runner hands it to every update (``elapsed``: the row's ``wall_time``
clock, data sampling included, evaluation excluded; the ``cpu_time`` clock for a run whose budget
counts CPU seconds, ``max_time_clock="cpu"``), so that "Adam for 30 s, then HIG for 30 s"
splits a 60 s ``max_time`` budget in two equal halves; called without ``elapsed``, it counts the
time spent in its own updates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

from .. import tuning
from ..registry import SOLVERS
from .base import Step, TrainingScheme, check_choice


@dataclass(frozen=True)
class StagedScheme(TrainingScheme):
    """``first`` until ``switch_at`` (iterations or seconds), then ``then``: the training scheme
    registered as ``schedule`` (a schedule of schemes; a learning-rate schedule is
    :class:`pgbench.schedules.Schedule`)."""

    first: str = "dp"
    then: str = "hig"
    switch_at: float = 100
    unit: str = "iterations"
    first_settings: dict = field(default_factory=dict)
    then_settings: dict = field(default_factory=dict)

    jittable: ClassVar[bool] = False  # stages are compiled on their own

    def __post_init__(self):
        check_choice(self, "unit", ("iterations", "seconds"))
        if not self.switch_at >= 0:
            raise ValueError(f"switch_at must be >= 0, got {self.switch_at}")
        for name in ("first", "then"):
            if SOLVERS.resolve(getattr(self, name)).name == "schedule":
                raise ValueError("schedule: stages cannot be schedules themselves")

    def stage(self, problem, which: str):
        """The stage ``first`` or ``then`` as a scheme, with the problem's defaults for it."""
        scheme = tuning.make_tuned_solver(problem, getattr(self, which), **getattr(self, f"{which}_settings"))
        if scheme.kind != "training":
            raise ValueError(f"schedule: stage {which}={getattr(self, which)!r} is not a training scheme")
        return scheme

    def stages(self, problem):
        """Both stages on ``problem``, resolved through the registry once per problem."""
        return self.built((problem,), lambda: (self.stage(problem, "first"), self.stage(problem, "then")))

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        for which, stage in zip(("first", "then"), self.stages(problem), strict=True):
            reason = stage.missing(problem)
            if reason:
                return f"{self.id} stage {which}: {reason}"
        return None

    # --- init / update ----------------------------------------------------------------------------
    def init(self, problem, be, net, params):
        """Stage 0 (or 1 when ``switch_at`` is 0) with a fresh state; the later stage's state is
        made at the switch."""
        return {
            "stage": 0 if self.switch_at > 0 else 1,
            "count": 0,
            "seconds": 0.0,
            "switch_at": self.switch_at,
            "unit": self.unit,
            "states": [None, None],
        }

    def warm_up_state(self, state):
        return {**state, "switch_at": 1, "unit": "iterations"} if state["stage"] == 0 else state

    def update(self, problem, be, net, params, state, y_target, x_true, elapsed=None):
        stages = self.stages(problem)
        updates = [lambda p, s, y, xt, k=k: stages[k].update(problem, be, net, p, s, y, xt) for k in (0, 1)]
        return self._advance(problem, be, net, stages, updates, params, state, y_target, x_true, elapsed)

    def compile(self, problem, be, net):
        stages = self.stages(problem)
        updates = [st.compile(problem, be, net) for st in stages]
        return lambda params, state, y, xt, elapsed=None: self._advance(
            problem, be, net, stages, updates, params, state, y, xt, elapsed
        )

    def _advance(self, problem, be, net, stages, updates, params, state, y_target, x_true, elapsed):
        """Switch if the first stage's budget is spent, then one update of the current stage."""
        t0 = time.perf_counter()
        k = state["stage"]
        if k == 0:
            spent = (
                state["count"] if state["unit"] == "iterations" else (state["seconds"] if elapsed is None else elapsed)
            )
            if spent >= state["switch_at"]:
                k = 1
        states = list(state["states"])
        if states[k] is None:
            states[k] = stages[k].init(problem, be, net, params)
        params, states[k], out = updates[k](params, states[k], y_target, x_true)
        be.block_until_ready(params)
        state = {
            **state,
            "stage": k,
            "count": state["count"] + 1,
            "states": states,
            "seconds": state["seconds"] + time.perf_counter() - t0,
        }
        return params, state, Step(out.x, out.loss, {"stage": float(k), **out.info})


__all__ = ["StagedScheme"]
