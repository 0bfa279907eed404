"""Inverting the exponential (authors' code ``exp/train_exp.py``; NeurIPS Fig. 2).

:math:`P(x) = e^x`, :math:`x^* \\sim U(-12, 0)`, :math:`y^* = e^{x^*}`, loss
:math:`\\tfrac12(e^x - y^*)^2` summed over the batch. Gradients through P vanish for very negative
x*, which is what the scale-invariant updates fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import MLP
from .base import Problem


@dataclass(frozen=True)
class Exp(Problem):
    batch_size: int = 100
    test_size: int = 1000
    x_range: tuple[float, float] = (-12.0, 0.0)

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "small", "network"})
    loss_reduction: ClassVar[str] = "sum"
    x_error_name: ClassVar[str] = "|x - x*|"
    target_x_error: ClassVar[float | None] = 0.1
    solver_defaults: ClassVar[dict] = {
        "dp": {"optimizer": "sgd", "lr": 1e-2},
        "supervised": {"optimizer": "sgd", "lr": 1e-2},
        "pg": {"optimizer": "sgd", "lr": 1e-2, "inner": "newton"},
        "gd": {"eta": 1.0},
    }

    @property
    def x_shape(self):
        return (1,)

    @property
    def y_shape(self):
        return (1,)

    def forward(self, be, x):
        return be.xp.exp(x)

    def draw(self, rng, n):
        """:math:`x^* \\sim U(x_{range})`, float32, shape (n, 1)."""
        return (rng.uniform(*self.x_range, size=(n, 1)).astype(np.float32),)

    def realize(self, be, x_true):
        """``(x*, e^{x*})``."""
        return x_true, self.forward(be, x_true)

    def x_error(self, be, x, x_true, y_target):
        return be.xp.abs(x - x_true)[:, 0]

    def inverse(self, be, x, y_target, eta=1.0):
        """:math:`x = \\log((1-\\eta)\\,y + \\eta\\,y^*)` with y = e^x (exact for eta = 1; written
        so that no cancellation occurs for tiny y*)."""
        return be.xp.log((1.0 - eta) * be.xp.exp(x) + eta * y_target)

    def network(self):
        return MLP((1, 16, 64, 16, 1), "sigmoid")
