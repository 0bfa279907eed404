"""The 2-D example of Fig. 2a: :math:`y = (x_1, x_2^2)`, :math:`L = \\lVert y - y^*\\rVert^2`, from x = (3, 3).

Closed form, so the paper's trajectories of GD, Newton, the inverse gradient and inverse
physics can be drawn exactly. The loss has no factor ½, matching the authors' step sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Problem, sum_per_example


@dataclass(frozen=True)
class Quadratic2D(Problem):
    batch_size: int = 1
    test_size: int = 1
    solve_iterations: int = 10
    start: tuple[float, float] = (3.0, 3.0)
    target: tuple[float, float] = (0.0, 0.0)  # x*; y* = P(x*)

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "small"})
    x_error_name: ClassVar[str] = "||x - x*||_2"
    target_x_error: ClassVar[float | None] = 1e-2
    solver_defaults: ClassVar[dict] = {
        "gd": {"eta": 0.5 / 36},
        "newton": {"eta": 0.5},
        "invgrad": {"eta": 0.5},
        "inverse": {"eta": 0.5},
    }

    @property
    def x_shape(self):
        return (2,)

    @property
    def y_shape(self):
        return (2,)

    def sample(self, rng, n, be):
        import numpy as np

        x_true = be.asarray(np.tile(np.asarray(self.target, dtype=np.float32), (n, 1)))
        return x_true, self.forward(be, x_true)

    def forward(self, be, x):
        return be.xp.stack([x[:, 0], x[:, 1] ** 2], axis=1)

    def loss(self, be, x, y_target):
        r = self.forward(be, x) - y_target
        return sum_per_example(be.xp, r * r)

    def x_error(self, be, x, x_true, y_target):
        return be.xp.sqrt(sum_per_example(be.xp, (x - x_true) ** 2))

    def extras(self, be, x, x_true, y_target):
        """The coordinates x1, x2 (per example), so stored runs hold the Fig. 2a trajectories."""
        return {"x1": x[:, 0], "x2": x[:, 1]}

    def initial_guess(self, be, y_target):
        import numpy as np

        return be.xp.zeros_like(y_target) + be.asarray(np.asarray(self.start, dtype=np.float32))

    def inverse(self, be, x, y_target, eta=1.0):
        """Move y a fraction eta towards y* and invert exactly: :math:`x = (y_1, \\mathrm{sign}(x_2)\\sqrt{y_2})`."""
        xp = be.xp
        y = self.forward(be, x)
        y = y + eta * (y_target - y)
        return xp.stack([y[:, 0], xp.sign(x[:, 1]) * xp.sqrt(xp.abs(y[:, 1]))], axis=1)
