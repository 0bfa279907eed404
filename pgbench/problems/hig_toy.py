"""The PBDL book's HIG toy example (spec ``hig.md`` §3.5, ``physgrad-hig.md:101-156``).

A network maps :math:`s \\in [-1, 1]` to :math:`x = (x_1, x_2)`; the "physics" scales the second
output, :math:`P(x) = (x_1, \\lambda x_2)`; the target is :math:`\\hat y(s) = (\\sin 6s, \\cos 9s)` and
the loss :math:`\\tfrac12\\lVert P(x) - \\hat y(s)\\rVert^2` (batch mean). With λ = 0.01 the second
direction is 100× flatter: Adam stalls around 0.24, HIG keeps falling.

The observation handed around is ``y = (s, sin 6s, cos 9s)`` (the network sees s only); the
exact solution is :math:`x^* = (\\sin 6s, \\cos 9s / \\lambda)`, and ``x_error`` is
:math:`\\lVert x - x^*\\rVert_2`. Data are drawn fresh every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import MLP
from .base import Problem, dtype_of, sum_per_example


@dataclass(frozen=True)
class HigToy(Problem):
    lam: float = 0.01
    hidden: int = 7
    batch_size: int = 64
    test_size: int = 512

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    x_error_name: ClassVar[str] = "||x - x*||_2"
    target_x_error: ClassVar[float | None] = 1.0
    solver_defaults: ClassVar[dict] = {
        "hig": {"eta": 1.0, "tau": 1e-6},
        "gn": {"eta": 1.0, "tau": 1e-6},
        "dp": {"lr": 1e-3},
        "pg": {"lr": 1e-3},
        "supervised": {"lr": 1e-3},
        "gd": {"eta": 1.0},
        "adam": {"lr": 0.1},
    }
    hig_output_size: ClassVar[int] = 2

    def __post_init__(self):
        super().__post_init__()
        if self.lam <= 0:
            raise ValueError(f"lam must be > 0, got {self.lam}")

    @property
    def x_shape(self):
        return (2,)

    @property
    def y_shape(self):
        return (3,)

    def draw(self, rng, n):
        """s ~ U(-1, 1) and the targets, computed in float64 on the host and rounded to float32:
        ``(x*, y)`` with y = (s, sin 6s, cos 9s), x* = (sin 6s, cos 9s / λ)."""
        s = rng.uniform(-1.0, 1.0, size=(n, 1))
        t = np.concatenate([np.sin(6 * s), np.cos(9 * s)], axis=1)
        x_true = np.concatenate([t[:, :1], t[:, 1:] / self.lam], axis=1)
        return x_true.astype(np.float32), np.concatenate([s, t], axis=1).astype(np.float32)

    def realize(self, be, x_true, y):
        """The drawn arrays as they are (everything is computed on the host)."""
        return x_true, y

    def forward(self, be, x):
        return be.xp.stack([x[:, 0], self.lam * x[:, 1]], axis=1)

    def residual(self, be, x, y):
        return self.forward(be, x) - y[:, 1:]

    def x_error(self, be, x, x_true, y):
        d = x - x_true
        return be.xp.sqrt(sum_per_example(be.xp, d * d))

    def extras(self, be, x, x_true, y):
        r = self.residual(be, x, y)
        return {"loss_y1": 0.5 * r[:, 0] ** 2, "loss_y2": 0.5 * r[:, 1] ** 2}

    def inverse(self, be, x, y, eta=1.0):
        """Exact inverse of the linear physics: :math:`x + \\eta(P^{-1}(\\hat y) - x)`."""
        x_star = be.xp.stack([y[:, 1], y[:, 2] / self.lam], axis=1)
        return x + eta * (x_star - x)

    def network(self):
        return MLP((1, self.hidden, 2), "tanh")

    def net_input(self, be, y):
        return be.xp.astype(y[:, :1], dtype_of(be, self.net_dtype))
