"""Search spaces: what a method lets a tuner vary, declared beside the method's definition.

A space maps a hyperparameter name to a dimension:

* :class:`LogUniform` ``(low, high)`` — :math:`v = \\exp(\\log a + u(\\log b - \\log a))`: learning
  rates, damping, truncation thresholds (scale-free quantities);
* :class:`Uniform` ``(low, high)`` — :math:`v = a + u(b - a)`: momenta, β's;
* :class:`Choice` ``(v_1, …, v_k)`` — :math:`v = v_{\\lfloor uk \\rfloor}`: integers, flags.

Each solver class declares its space as ``search_space`` (a class attribute, beside its fields);
a scheme whose space depends on its settings (the outer optimizer of ``dp`` / ``pg``) overrides
``space_for(settings)``. :func:`sample` draws points of a space quasi-randomly (a scrambled
Halton sequence, ``scipy.stats.qmc``): n trials cover the space more evenly than n independent
random draws, and the same seed gives the same trials on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .registry import InvalidSettingError


@dataclass(frozen=True)
class LogUniform:
    """Log-uniform on [low, high] (both > 0)."""

    low: float
    high: float

    def __post_init__(self):
        if not (0 < self.low < self.high and math.isfinite(self.high)):
            raise InvalidSettingError(f"LogUniform needs 0 < low < high < inf, got ({self.low}, {self.high})")

    def at(self, u: float) -> float:
        return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]."""

    low: float
    high: float

    def __post_init__(self):
        if not (self.low < self.high and math.isfinite(self.low) and math.isfinite(self.high)):
            raise InvalidSettingError(f"Uniform needs finite low < high, got ({self.low}, {self.high})")

    def at(self, u: float) -> float:
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (equally likely)."""

    values: tuple

    def __post_init__(self):
        if not self.values:
            raise InvalidSettingError("Choice needs at least one value")

    def at(self, u: float) -> Any:
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]


Dimension = LogUniform | Uniform | Choice


def sample(space: dict[str, Dimension], n: int, seed: int = 0) -> list[dict]:
    """``n`` points of ``space`` from a scrambled Halton sequence seeded by ``seed`` (module
    docstring), in a fixed order; an empty space gives one point, ``{}`` (nothing to vary)."""
    if n < 1:
        raise InvalidSettingError(f"the number of trials must be >= 1, got {n}")
    names = sorted(space)
    if not names:
        return [{}]
    from scipy.stats import qmc

    u = qmc.Halton(d=len(names), scramble=True, seed=np.random.default_rng(seed)).random(n)
    return [{name: space[name].at(float(u[i, j])) for j, name in enumerate(names)} for i in range(n)]


def describe(space: dict[str, Dimension]) -> str:
    """``lr ~ log-uniform[1e-05, 0.1], momentum ~ uniform[0, 0.99]`` (for plans and docs)."""
    parts = []
    for name in sorted(space):
        d = space[name]
        if isinstance(d, LogUniform):
            parts.append(f"{name} ~ log-uniform[{d.low:g}, {d.high:g}]")
        elif isinstance(d, Uniform):
            parts.append(f"{name} ~ uniform[{d.low:g}, {d.high:g}]")
        else:
            parts.append(f"{name} ∈ {{{', '.join(map(str, d.values))}}}")
    return ", ".join(parts) if parts else "nothing to tune (defaults only)"


__all__ = ["LogUniform", "Uniform", "Choice", "Dimension", "sample", "describe"]
