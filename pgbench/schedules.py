"""Learning-rate schedules, one description for both backends.

A :class:`Schedule` is built on **optax schedules** on jax (:meth:`Schedule.optax`) and on
**torch.optim.lr_scheduler** on torch (:meth:`Schedule.torch`), never by hand; the two give the same
learning rate at every update (``tests/test_schedules.py``: 50 steps to 1e-7 relative). With the
base rate :math:`\\eta`, update :math:`t = 0, 1, \\dots` (the first update uses :math:`t = 0`):

* ``constant``: :math:`\\eta_t = \\eta` (the default; no scheduler at all);
* ``cosine``: :math:`\\eta_t = \\eta\\,[f + (1 - f)\\,\\tfrac12(1 + \\cos(\\pi \\min(t, T)/T))]`, with
  ``T = schedule_steps`` and ``f = final_lr_fraction``; it stays at :math:`f\\eta` after ``T``
  (optax ``cosine_decay_schedule``; torch ``CosineAnnealingLR`` then ``ConstantLR``);
* ``step``: :math:`\\eta_t = \\eta\\, r^{\\lfloor t / k \\rfloor}` with ``r = decay_rate``,
  ``k = step_every`` (optax ``exponential_decay(staircase=True)``; torch ``StepLR``);
* ``exponential``: :math:`\\eta_t = \\eta\\, r^{t / k}` (optax ``exponential_decay``; torch
  ``ExponentialLR`` with :math:`\\gamma = r^{1/k}`);
* ``warmup_steps = W > 0`` (with any of the above): a linear warm-up
  :math:`\\eta_t = \\eta\\,[s + (1 - s)\\, t / W]` for :math:`t < W`, ``s = warmup_start_fraction``,
  then the schedule from its own step 0 at :math:`t = W` (optax ``linear_schedule`` joined with
  ``join_schedules``; torch ``LinearLR`` in a ``SequentialLR``).
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("constant", "cosine", "step", "exponential")

# the hyperparameter names a FeedbackScheme carries, with their defaults (see FeedbackScheme)
FIELDS = {
    "schedule": "constant",
    "schedule_steps": None,
    "final_lr_fraction": 0.0,
    "decay_rate": 0.1,
    "step_every": None,
    "warmup_steps": 0,
    "warmup_start_fraction": 0.01,
}

_HOLD = 2**62  # ConstantLR's total_iters: never reached, so the rate it holds never changes back


def _float_count(schedule):
    """``schedule`` called with the update count as a float of the default width: optax's state
    counts in int32, and int32 / int divides in float32 even with float64 on (a 1e-6 relative
    error in the rate, where torch's schedulers compute in float64)."""
    import jax.numpy as jnp

    def at(count):
        return schedule(jnp.asarray(count, dtype=jnp.result_type(float)))

    return at


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule (see the module docstring); validated on construction."""

    kind: str = "constant"
    steps: int | None = None
    final_fraction: float = 0.0
    decay_rate: float = 0.1
    step_every: int | None = None
    warmup_steps: int = 0
    warmup_start_fraction: float = 0.01

    def __post_init__(self):
        from .registry import InvalidSettingError, suggest

        if self.kind not in SCHEDULES:
            raise InvalidSettingError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.kind!r}"
                + suggest(str(self.kind), SCHEDULES)
            )

        def positive_int(name, v):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise InvalidSettingError(f"{name} must be a positive integer, got {v!r}")

        positive_int("schedule_steps", self.steps)
        positive_int("step_every", self.step_every)
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise InvalidSettingError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        if self.kind == "cosine" and self.steps is None:
            raise InvalidSettingError(
                "schedule='cosine' needs schedule_steps (the length of the decay, in updates "
                "after the warm-up), e.g. schedule_steps=20000"
            )
        if self.kind in ("step", "exponential") and self.step_every is None:
            raise InvalidSettingError(
                f"schedule={self.kind!r} needs step_every (updates per factor decay_rate), e.g. step_every=5000"
            )
        if self.kind != "cosine" and self.steps is not None:
            raise InvalidSettingError(f"schedule_steps applies to schedule='cosine' only (schedule={self.kind!r})")
        if self.kind not in ("step", "exponential") and self.step_every is not None:
            raise InvalidSettingError(
                f"step_every applies to schedule='step' or 'exponential' only (schedule={self.kind!r})"
            )
        if not 0 <= self.final_fraction <= 1:
            raise InvalidSettingError(f"final_lr_fraction must be in [0, 1], got {self.final_fraction!r}")
        if not 0 < self.decay_rate <= 1:
            raise InvalidSettingError(f"decay_rate must be in (0, 1], got {self.decay_rate!r}")
        if not 0 < self.warmup_start_fraction <= 1:
            raise InvalidSettingError(
                f"warmup_start_fraction must be in (0, 1] (torch's LinearLR needs a start "
                f"factor > 0), got {self.warmup_start_fraction!r}"
            )

    @classmethod
    def from_settings(
        cls,
        schedule="constant",
        schedule_steps=None,
        final_lr_fraction=0.0,
        decay_rate=0.1,
        step_every=None,
        warmup_steps=0,
        warmup_start_fraction=0.01,
    ) -> Schedule:
        """From the hyperparameter names of :data:`FIELDS`."""
        return cls(
            schedule, schedule_steps, final_lr_fraction, decay_rate, step_every, warmup_steps, warmup_start_fraction
        )

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant" and self.warmup_steps == 0

    @staticmethod
    def _required(value: int | None) -> int:
        """A setting that :meth:`__post_init__` made required for this kind (never None here)."""
        if value is None:
            raise AssertionError("a schedule setting required by its kind is None (bypassed validation)")
        return value

    # --- jax ----------------------------------------------------------------------------------
    def optax(self, lr: float):
        """The learning rate as an optax schedule (a function of the update count), or ``lr``
        itself when constant."""
        import optax

        if self.is_constant:
            return lr
        if self.kind == "cosine":
            main = optax.cosine_decay_schedule(lr, self.steps, alpha=self.final_fraction)
        elif self.kind == "step":
            main = optax.exponential_decay(lr, self.step_every, self.decay_rate, staircase=True)
        elif self.kind == "exponential":
            main = optax.exponential_decay(lr, self.step_every, self.decay_rate)
        else:
            main = optax.constant_schedule(lr)
        if self.warmup_steps:
            warm = optax.linear_schedule(lr * self.warmup_start_fraction, lr, self.warmup_steps)
            main = optax.join_schedules([warm, main], [self.warmup_steps])
        return _float_count(main)

    # --- torch --------------------------------------------------------------------------------
    def torch(self, optimizer):
        """A ``torch.optim.lr_scheduler`` on ``optimizer`` (step it after every optimizer step),
        or None when constant."""
        from torch.optim import lr_scheduler as L

        if self.is_constant:
            return None
        parts: list[L.LRScheduler] = []
        milestones: list[int] = []
        if self.warmup_steps:
            parts.append(L.LinearLR(optimizer, self.warmup_start_fraction, 1.0, total_iters=self.warmup_steps))
            milestones.append(self.warmup_steps)
        if self.kind == "cosine":
            steps = self._required(self.steps)
            lr = optimizer.param_groups[0]["initial_lr"] if parts else optimizer.param_groups[0]["lr"]
            parts.append(L.CosineAnnealingLR(optimizer, steps, eta_min=lr * self.final_fraction))
            parts.append(L.ConstantLR(optimizer, factor=self.final_fraction, total_iters=_HOLD))
            milestones.append(milestones[-1] + steps if milestones else steps)
        elif self.kind == "step":
            parts.append(L.StepLR(optimizer, self._required(self.step_every), self.decay_rate))
        elif self.kind == "exponential":
            parts.append(L.ExponentialLR(optimizer, self.decay_rate ** (1.0 / self._required(self.step_every))))
        else:
            parts.append(L.ConstantLR(optimizer, factor=1.0, total_iters=_HOLD))
        return parts[0] if len(parts) == 1 else L.SequentialLR(optimizer, parts, milestones)


__all__ = ["Schedule", "SCHEDULES", "FIELDS"]
