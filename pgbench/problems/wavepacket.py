"""Wave-packet fit (paper §1 Fig. 1, App. B.1).

:math:`y(\\xi) = A \\sin(f\\xi)\\exp(-(\\xi-\\xi_0)^2/(2\\sigma^2))` sampled at
:math:`\\xi = 0..255`, f = 4, σ = 20; unknowns x = (ξ0, A), ξ0* ~ U[25.6, 230.4), A* ~ U[1, 4),
observation y* = y(ξ0*, A*) + N(0, s²) noise. Objective :math:`\\lVert y(x) - y^*\\rVert_2^2`.
x error is :math:`|\\xi_0 - \\xi_0^*|`; extras are :math:`|A - A^*|` and the fraction of fits that
diverged (non-finite or ξ0 outside [0, 256)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import Conv1dNet
from .base import Problem, dtype_of, sum_per_example


@dataclass(frozen=True)
class WavePacket(Problem):
    length: int = 256
    frequency: float = 4.0
    sigma: float = 20.0
    noise: float = 1.0
    xi0_range: tuple[float, float] = (25.6, 230.4)
    amplitude_range: tuple[float, float] = (1.0, 4.0)
    start: tuple[float, float] = (128.0, 2.0)  # L-BFGS-B's initial guess and the network's offset

    capabilities: ClassVar[frozenset[str]] = frozenset({"small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    x_error_name: ClassVar[str] = "|xi0 - xi0*|"
    target_x_error: ClassVar[float | None] = 5.0

    def __post_init__(self):
        super().__post_init__()
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")

    @property
    def x_shape(self):
        return (2,)

    @property
    def y_shape(self):
        return (self.length,)

    def forward(self, be, x):
        xp = be.xp
        xi = be.asarray(np.arange(self.length, dtype=np.float32))[None, :]
        xi0, amp = x[:, 0:1], x[:, 1:2]
        return amp * xp.sin(self.frequency * xi) * xp.exp(-((xi - xi0) ** 2) / (2 * self.sigma**2))

    def sample(self, rng, n, be):
        xi0 = rng.uniform(*self.xi0_range, size=n)
        amp = rng.uniform(*self.amplitude_range, size=n)
        noise = rng.normal(0.0, self.noise, size=(n, self.length))
        x_true = be.asarray(np.stack([xi0, amp], axis=1), "float32")
        return x_true, self.forward(be, x_true) + be.asarray(noise, "float32")

    def loss(self, be, x, y_target):
        r = self.forward(be, x) - y_target
        return sum_per_example(be.xp, r * r)

    def x_error(self, be, x, x_true, y_target):
        return be.xp.abs(x[:, 0] - x_true[:, 0])

    def extras(self, be, x, x_true, y_target):
        xp = be.xp
        xi0 = x[:, 0]
        ok = xp.isfinite(xi0) & (xi0 >= 0) & (xi0 < self.length)
        return {"amplitude_error": xp.abs(x[:, 1] - x_true[:, 1]), "diverged": xp.astype(~ok, x.dtype)}

    def initial_guess(self, be, y_target):
        return be.zeros((y_target.shape[0], 2)) + be.asarray(np.asarray(self.start, dtype=np.float32))

    def network(self):
        return Conv1dNet(length=self.length)

    def net_input(self, be, y_target):
        return be.xp.astype(y_target, dtype_of(be, self.net_dtype))[:, None, :]

    def net_output(self, be, out, y_target):
        """:math:`\\xi_0 = 25.6 + 204.8\\,\\sigma(o_1)` (0 ↦ the centre), :math:`A = o_2 + 2`."""
        lo, hi = self.xi0_range
        xi0 = lo + (hi - lo) / (1.0 + be.xp.exp(-out[:, 0]))
        return be.xp.stack([xi0, out[:, 1] + self.start[1]], axis=1)
