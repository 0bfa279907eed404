"""The HIG paper's Poisson problem (spec ``hig.md`` §2.3; ``half-inverse-gradients/Poisson_problem``):
a dense network learns the Poisson *solve* :math:`x = \\nabla^{-2} y^*` on a small grid while the
physics in the loop is the cheap, high-pass 5-point Laplacian :math:`\\hat y = \\nabla^2 x`
(dx = 1, zero ghost cells). This is not the SIP paper's ``poisson`` (CG solve on 64×64, U-net).

Data every batch: :math:`x^*` = PhiFlow ``Noise(scale=10, smoothness=1)`` on the S×S grid of
physical size S (spec ``experiments.md`` §0.2: complex white noise filtered by
:math:`(1/|K|^2)^{smoothness}`, :math:`K = m\\cdot scale/S`, the zero mode removed, real part,
then each sample normalised to std 1 and mean 0), :math:`y^* = \\nabla^2 x^*`. Network
``dense_net(S², S², [64, 128, 64], tanh)`` (Glorot-uniform as Keras/TF), input y* flattened.
Loss :math:`\\tfrac12\\lVert\\nabla^2 x - y^*\\rVert^2` per example, **summed** over the batch.
x error: mean :math:`|x - x^*|` over the cells (the script's ``x_distance_l1``).

The Laplacian is a dense S²×S² matrix (S = 8: 64×64), so the exact inverse physics
:math:`P^{-1}` is its matrix inverse (capability ``inverse``): SIP, DP and HIG all apply.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Problem, dtype_of
from .oscillators import GlorotMLP


@functools.lru_cache(maxsize=8)
def laplacian_matrix(size: int) -> np.ndarray:
    """5-point Laplacian on size×size cells, dx = 1, zero ghost cells (row-major flattening)."""
    n = size * size
    L = -4.0 * np.eye(n)
    for i in range(size):
        for j in range(size):
            k = i * size + j
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < size and 0 <= b < size:
                    L[k, a * size + b] = 1.0
    return L


def phiflow_noise(rng, n: int, size: int, scale: float = 10.0, smoothness: float = 1.0) -> np.ndarray:
    """``n`` samples of PhiFlow's ``Noise`` on a size×size grid of physical size ``size``."""
    m = np.fft.fftfreq(size) * size  # integer FFT indices
    kx, ky = np.meshgrid(m * scale / size, m * scale / size, indexing="ij")
    k2 = kx**2 + ky**2
    with np.errstate(divide="ignore"):
        amp = np.where(k2 > 0.1, (1.0 / k2) ** smoothness, 0.0)
    w = rng.standard_normal((n, size, size)) + 1j * rng.standard_normal((n, size, size))
    field = np.real(np.fft.ifft2(w * amp))
    field = field / field.std(axis=(1, 2), keepdims=True)
    return field - field.mean(axis=(1, 2), keepdims=True)


@dataclass(frozen=True)
class PoissonHIG(Problem):
    size: int = 8
    hidden: tuple[int, ...] = (64, 128, 64)
    noise_scale: float = 10.0
    smoothness: float = 1.0
    batch_size: int = 64
    test_size: int = 256

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "small", "network"})
    loss_reduction: ClassVar[str] = "sum"
    x_error_name: ClassVar[str] = "mean |x - x*|"
    target_x_error: ClassVar[float | None] = 0.05
    solver_defaults: ClassVar[dict] = {
        "hig": {"eta": 0.01, "tau": 1e-5},
        "gn": {"eta": 0.01, "tau": 1e-5},
        "dp": {"lr": 3e-4},
        "pg": {"lr": 3e-4},
        "supervised": {"lr": 3e-4},
        "schedule": {"first": "dp", "then": "hig", "switch_at": 1000},
        "adam": {"lr": 0.01},
        "gd": {"eta": 0.05},
    }

    @property
    def x_shape(self):
        return (self.size, self.size)

    @property
    def y_shape(self):
        return (self.size, self.size)

    def _L(self, be, inverse=False):
        L = laplacian_matrix(self.size)
        return be.asarray(np.linalg.inv(L) if inverse else L, self.physics_dtype)

    def _apply(self, be, M, v):
        xp = be.xp
        B = v.shape[0]
        return xp.reshape(xp.matmul(xp.reshape(v, (B, -1)), xp.linalg.matrix_transpose(M)), (B, self.size, self.size))

    def forward(self, be, x):
        return self._apply(be, self._L(be), x)

    def sample(self, rng, n, be):
        x = phiflow_noise(rng, n, self.size, self.noise_scale, self.smoothness)
        y = (x.reshape(n, -1) @ laplacian_matrix(self.size).T).reshape(x.shape)
        return be.asarray(x, "float32"), be.asarray(y, "float32")

    def x_error(self, be, x, x_true, y):
        xp = be.xp
        return xp.mean(xp.reshape(xp.abs(x - x_true), (x.shape[0], -1)), axis=1)

    def inverse(self, be, x, y, eta=1.0):
        """Exact inverse of the linear physics moved a fraction η in y:
        :math:`x + \\eta(\\nabla^{-2}y^* - x)`."""
        return x + eta * (self._apply(be, self._L(be, inverse=True), y) - x)

    def network(self):
        n = self.size * self.size
        return GlorotMLP((n,) + tuple(self.hidden) + (n,), "tanh")

    def net_input(self, be, y):
        return be.xp.reshape(be.xp.astype(y, dtype_of(be, self.net_dtype)), (y.shape[0], -1))

    def net_output(self, be, out, y):
        return be.xp.reshape(be.xp.astype(out, dtype_of(be, self.physics_dtype)), (out.shape[0], self.size, self.size))
