"""2-D "experimental characterisation" of the authors' code (``sin_characterization``; NeurIPS Fig. 5).

:math:`u = R(\\varphi)x`, :math:`u \\leftarrow (u_1 s/\\xi,\\ u_2 s\\xi)`, :math:`y = (\\sin u_1, u_2)`,
loss :math:`\\tfrac12\\lVert y - t\\rVert^2` with :math:`t \\sim U[-1,1]^2`. ξ (``ill_conditioning``)
sets the conditioning. x error is the distance to the closest exact solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..nets import MLP
from .base import Problem, sum_per_example


@dataclass(frozen=True)
class Sin2D(Problem):
    batch_size: int = 100
    test_size: int = 1000
    ill_conditioning: float = 10.0
    angle: float = 45.0  # degrees
    global_scale: float = 10.0
    fidelity: str = "intended"  # "authors": degrees use π = 3.1415 as PhiFlow's math.degrees

    capabilities: ClassVar[frozenset[str]] = frozenset({"small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    x_error_name: ClassVar[str] = "||x - x_closest||_2"
    target_x_error: ClassVar[float | None] = 1e-3
    solver_defaults: ClassVar[dict] = {
        "pg": {"inner": "newton", "inner_settings": {"max_loss_change": 0.2}},
        "newton": {"max_loss_change": 0.2},
    }

    def __post_init__(self):
        super().__post_init__()
        if self.fidelity not in ("intended", "authors"):
            raise ValueError(f"fidelity must be 'intended' or 'authors', got {self.fidelity!r}")
        if self.ill_conditioning <= 0:
            raise ValueError("ill_conditioning must be > 0")

    @property
    def x_shape(self):
        return (2,)

    @property
    def y_shape(self):
        return (2,)

    @property
    def phi(self) -> float:
        pi = 3.1415 if self.fidelity == "authors" else math.pi
        return self.angle * pi / 180

    def to_u(self, be, x):
        c, s = math.cos(self.phi), math.sin(self.phi)
        u1 = c * x[:, 0] - s * x[:, 1]
        u2 = s * x[:, 0] + c * x[:, 1]
        k, xi = self.global_scale, self.ill_conditioning
        return u1 * k / xi, u2 * k * xi

    def from_u(self, be, u1, u2):
        k, xi = self.global_scale, self.ill_conditioning
        v1, v2 = u1 * xi / k, u2 / (k * xi)
        c, s = math.cos(self.phi), math.sin(self.phi)
        return be.xp.stack([c * v1 + s * v2, -s * v1 + c * v2], axis=1)

    def forward(self, be, x):
        u1, u2 = self.to_u(be, x)
        return be.xp.stack([be.xp.sin(u1), u2], axis=1)

    def sample(self, rng, n, be):
        t = be.asarray(rng.uniform(-1, 1, size=(n, 2)), "float32")
        x_true = self.from_u(be, be.xp.asin(t[:, 0]), t[:, 1])
        return x_true, t

    def closest_solution(self, be, x, t):
        """Among :math:`u_1 = \\arcsin t_1 + 2\\pi n` and :math:`\\pi - \\arcsin t_1 + 2\\pi n`
        (with :math:`u_2 = t_2`), the branch whose index is nearer an integer, mapped back to x."""
        xp = be.xp
        u1, _ = self.to_u(be, x)
        base_a = xp.asin(t[:, 0])
        base_b = math.pi - base_a
        fa = (u1 - base_a) / (2 * math.pi)
        fb = (u1 - base_b) / (2 * math.pi)
        use_a = xp.abs(fa - xp.round(fa)) <= xp.abs(fb - xp.round(fb))
        u1_star = xp.where(use_a, base_a + 2 * math.pi * xp.round(fa), base_b + 2 * math.pi * xp.round(fb))
        return self.from_u(be, u1_star, t[:, 1])

    def x_error(self, be, x, x_true, t):
        d = x - self.closest_solution(be, x, t)
        return be.xp.sqrt(sum_per_example(be.xp, d * d))

    def network(self):
        return MLP((2, 32, 64, 32, 2), "relu")
