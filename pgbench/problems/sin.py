"""sin(a/x): the single-parameter multimodal problem of the paper (§3.1, App. B.2).

For a given :math:`a \\sim U[0.1, 10.1)` find x with :math:`\\sin(a/x) = y^* = -1`; the minima are
:math:`x^*_n = a/(3\\pi/2 + 2\\pi n)`. The observation handed to the network is ``a``.

``objective`` selects the y-space objective that DP backpropagates: ``"eq1"`` (default, the
paper's Eq. 1) :math:`L = \\tfrac12(\\sin(a/x)+1)^2`; ``"l1"`` :math:`L = |\\sin(a/x)+1|`, the form
seen in public code related to the paper (a deviation from Eq. 1; see ``docs/sin.md``). Both
have the same minima. At its default the setting is left out of the run key, so runs stored
before it existed keep their keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import MLP
from .base import Problem, dtype_of


@dataclass(frozen=True)
class Sin(Problem):
    a_low: float = 0.1
    a_high: float = 10.1
    x_init: float = 1.0  # start of iterative solvers; supervised labels = the minimum closest to it
    objective: str = "eq1"  # "eq1": ½(sin(a/x)+1)² (paper, Eq. 1); "l1": |sin(a/x)+1|

    OBJECTIVES: ClassVar[tuple[str, ...]] = ("eq1", "l1")

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "newton", "invgrad", "small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    x_error_name: ClassVar[str] = "|x - x*_closest|"
    target_x_error: ClassVar[float | None] = 1e-4
    solver_defaults: ClassVar[dict] = {
        "dp": {"lr": 2e-3, "clip_x_grad": 1.0},
        "supervised": {"lr": 2e-3},
        "pg": {"lr": 2e-3},
        "newton": {"clip": 1.0},
        "invgrad": {"clip": 1.0},
        "gd": {"eta": 0.01},
        "adam": {"lr": 0.01},
    }

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.a_low < self.a_high:
            raise ValueError(
                f"a_low and a_high must satisfy 0 < a_low < a_high, got a_low={self.a_low}, a_high={self.a_high}"
            )
        if self.objective not in self.OBJECTIVES:
            from ..registry import suggest

            raise ValueError(
                f"objective must be one of {', '.join(self.OBJECTIVES)}, got {self.objective!r}"
                f"{suggest(str(self.objective).lower(), self.OBJECTIVES)}"
            )

    def settings(self) -> dict:
        """Problem settings for the run key; ``objective`` only when it is not the default."""
        s = super().settings()
        if s.get("objective") == "eq1":
            del s["objective"]
        return s

    def loss(self, be, x, a):
        """Per-example objective: :math:`\\tfrac12 h^2` (``eq1``) or :math:`|h|` (``l1``), h = sin(a/x) + 1.

        ``l1`` is computed as :math:`\\mathrm{sign}(h)\\,h`, whose derivative is
        :math:`\\mathrm{sign}(h)\\,h'` on every backend, 0 where h = 0 (torch's ``abs``; jax's ``abs``
        takes 1 there). In float32, h rounds to exactly 0 within :math:`|a/x - a/x^*| \\lesssim 2.4\\cdot10^{-4}`
        of a minimum, so the gradient vanishes in that band on both backends alike (docs/sin.md,
        "the float32 dead zone")."""
        if self.objective == "l1":
            h = self.residual(be, x, a)
            return (be.xp.sign(h) * h)[:, 0]
        return super().loss(be, x, a)

    @property
    def x_shape(self):
        return (1,)

    @property
    def y_shape(self):
        return (1,)

    def closest_minimum(self, be, x, a):
        """:math:`x^*_n` with :math:`n = \\mathrm{round}(a/(2\\pi x) - 3/4)`, forced to
        ``n >= 0`` for x > 0 and ``n <= -1`` for x < 0 (the outermost minima)."""
        xp = be.xp
        safe = xp.where(x == 0, xp.full_like(x, 1e-30), x)
        n = xp.round(a / (2 * math.pi * safe) - 0.75)
        n = xp.where(x > 0, xp.maximum(n, xp.zeros_like(n)), xp.minimum(n, -xp.ones_like(n)))
        return a / (1.5 * math.pi + 2 * math.pi * n)

    def draw(self, rng, n):
        """:math:`a \\sim U[a_{low}, a_{high})`, float32, shape (n, 1)."""
        return (rng.uniform(self.a_low, self.a_high, size=(n, 1)).astype(np.float32),)

    def realize(self, be, a):
        """``(x*, a)``: the minimum closest to ``x_init`` (the supervised label) and the observation."""
        return self.closest_minimum(be, be.xp.full_like(a, self.x_init), a), a

    def residual(self, be, x, a):
        return be.xp.sin(a / x) + 1.0

    def hig_loss(self, be, o, a):
        """The objective on HIG's output space :math:`o = \\sin(a/x) + 1` (the residual):
        :math:`\\tfrac12 o^2` or :math:`|o|` per example, as :meth:`loss`."""
        if self.objective == "l1":
            return (be.xp.sign(o) * o)[:, 0]  # |o| with derivative 0 at o = 0 on every backend, as loss
        return 0.5 * be.xp.sum(o * o, axis=1)

    def x_error(self, be, x, x_true, a):
        return be.xp.abs(x - self.closest_minimum(be, x, a))[:, 0]

    def extras(self, be, x, x_true, a):
        return {"y_residual": be.xp.abs(self.residual(be, x, a))[:, 0]}

    def initial_guess(self, be, a):
        return be.xp.full_like(a, self.x_init)

    def inverse(self, be, x, a, eta=1.0):
        """Analytic inverse: the minimum closest to x (relaxed by ``eta``)."""
        return x + eta * (self.closest_minimum(be, x, a) - x)

    def newton(self, be, x, a):
        """Newton on :math:`f = \\sin(a/x)`, flipped downhill: :math:`\\Delta x =
        \\mathrm{sign}(\\cos(a/x))\\,|x^2\\cos(a/x)/(2x\\cos(a/x) - a\\sin(a/x))|`."""
        xp = be.xp
        c, s = xp.cos(a / x), xp.sin(a / x)
        den = 2 * x * c - a * s
        return xp.sign(c) * xp.abs(x * x * c / xp.where(den == 0, xp.ones_like(den), den))

    def inverse_gradient(self, be, x, a):
        """Linearised inversion of the height above the minimum value:
        :math:`\\Delta x = x^2(\\sin(a/x)+1)/(a\\cos(a/x))`."""
        xp = be.xp
        c = xp.cos(a / x)
        return x * x * (xp.sin(a / x) + 1.0) / (a * xp.where(c == 0, xp.full_like(c, 1e-30), c))

    def network(self):
        return MLP((1, 10, 20, 10, 1), "relu")

    def net_input(self, be, a):
        return be.xp.astype(a, dtype_of(be, self.net_dtype))
