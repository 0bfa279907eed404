"""Poisson's equation (paper §3.2, App. B.3; authors' ``poisson/train_poisson.py``).

Forward physics :math:`y = P(x)` solves :math:`\\nabla^2 y = x` with the 5-point Laplacian, zero
extrapolation (Dirichlet 0 at the ghost cells) and dx = 1, by conjugate gradients (relative
tolerance 1e-5, x0 = 0) through ``be.linear_solve``: backpropagation costs one adjoint CG solve.
Ground truth x* is PhiFlow ``Noise`` (scale 10 on 64 cells; modes with :math:`|m|^2 \\le 4` removed,
amplitude :math:`\\propto 1/|m|^2`, zero mean, unit std per example). The inverse-physics step is
the Laplacian itself, :math:`x_{corr} = \\hat x - \\eta\\,\\nabla^2(P(\\hat x) - y^*)`, which for
η = 1 equals x* up to the CG error. Arrays are (B, 1, nx, ny).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

from ..nets import UNet
from ..ops import laplace, noise_draws, noise_from_draws, noise_weight
from .base import NETWORK_SETTINGS, Problem, check_network_settings, dtype_of, fno_network


@dataclass(frozen=True)
class Poisson(Problem):
    """Settings: ``resolution`` (nx, ny) cells of size 1; ``noise_scale`` of the ground-truth
    Noise (10 on 64 cells; keep scale/size fixed when changing the resolution); CG tolerance and
    iteration cap. Solver tuning (:mod:`pgbench.tuning`): GD's single-problem step (paper: η ≤ 2e-5;
    stability limit 2/λ_max(PᵀP) ≈ 4.4e-5 at 64×64, 6.6e-4 at 32×32, so 3e-4 at the quick scale)
    and the preset ``paper_sgd``, the paper's SGD+momentum baseline for network training (code
    learning rate 3e-12, ICLR text 1e-9)."""

    resolution: tuple[int, int] = (64, 64)
    noise_scale: float = 10.0
    cg_rtol: float = 1e-5
    cg_maxiter: int = 1000
    batch_size: int = 128
    test_size: int = 128
    iterations: int = 10000
    solve_iterations: int = 1000
    eval_every: int = 100
    net: str = "unet"  # network of training schemes: "unet" (the paper's) or "fno"
    fno_modes: int = 8  # FNO: retained Fourier modes per axis (see pgbench.nets.FNO2d)
    fno_width: int = 20  # FNO: channels of the Fourier layers
    fno_layers: int = 4  # FNO: Fourier layers

    key_neutral_defaults: ClassVar[tuple[str, ...]] = NETWORK_SETTINGS

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "network"})
    loss_reduction: ClassVar[str] = "sum"
    physics_dtype: ClassVar[str] = "float32"
    x_error_name: ClassVar[str] = "||x - x*||_1"

    def __post_init__(self):
        super().__post_init__()
        if len(self.resolution) != 2 or min(self.resolution) < 2:
            raise ValueError(f"resolution must be two sizes >= 2, got {self.resolution}")
        check_network_settings(self, tuple(self.resolution))
        for name in ("noise_scale", "cg_rtol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    solver_defaults: ClassVar[dict] = {
        "dp": {"lr": 1e-3},
        "pg": {"lr": 1e-3},
        "supervised": {"lr": 1e-3},
        "gd": {"eta": 2e-5},
        "adam": {"lr": 1e-2},
        "inverse": {"eta": 1.0},
    }
    presets: ClassVar[dict] = {
        # the paper's SGD+momentum baseline: run(p, "dp", **pgbench.tuning.preset(p, "paper_sgd"))
        "paper_sgd": {"optimizer": "sgd", "lr": 3e-12, "momentum": 0.9},
    }

    @property
    def x_shape(self):
        return (1,) + tuple(self.resolution)

    @property
    def y_shape(self):
        return self.x_shape

    # --- physics ---------------------------------------------------------------------------------
    def laplace(self, be, y):
        """The discrete :math:`\\nabla^2` (zero extrapolation, dx = 1)."""
        return laplace(be.xp, y)

    def forward(self, be, x):
        """:math:`y = (\\nabla^2)^{-1} x` by CG on the SPD system :math:`-\\nabla^2 y = -x`
        (PhiFlow: stop per example when :math:`\\lVert r\\rVert \\le` rtol·‖x‖; x0 = 0)."""
        xp = be.xp
        return be.linear_solve(
            lambda v: -laplace(xp, v), -x, None, rtol=self.cg_rtol, atol=0.0, maxiter=self.cg_maxiter
        )

    def inverse(self, be, x, y_target, eta=1.0):
        """Inverse-physics step :math:`x - \\eta\\,\\nabla^2(P(x) - y^*)` (= x* for η = 1 up to CG error)."""
        x = be.stop_gradient(x)
        return x - eta * laplace(be.xp, self.forward(be, x) - y_target)

    # --- data ------------------------------------------------------------------------------------
    def draw(self, rng, n):
        """The spectrum's normal draws of x* (:func:`pgbench.ops.noise_draws`): real and imaginary
        parts, each N(0, 1), float64 of shape (n, nx, ny)."""
        return noise_draws(rng, n, self.resolution)

    def realize(self, be, re, im):
        """x* = Noise(scale) per example (zero mean, unit std; the spectral transform in float64,
        then the physics dtype) and y* = P(x*) by the same CG as :meth:`forward`."""
        weight = be.constant(("poisson-noise", self.resolution, self.noise_scale), self._weight(), "float64")
        x = be.xp.astype(noise_from_draws(be.xp, re, im, weight)[:, None], dtype_of(be, self.physics_dtype))
        return x, self.forward(be, x)

    def _weight(self):
        return _noise_weight(tuple(self.resolution), self.noise_scale)

    # --- network -----------------------------------------------------------------------------------
    def network(self):
        return UNet(1, 1) if self.net == "unet" else fno_network(self, 1, 1)

    def net_input(self, be, y_target):
        return be.xp.astype(y_target, dtype_of(be, self.net_dtype))


@functools.lru_cache(maxsize=8)
def _noise_weight(resolution: tuple[int, int], scale: float):
    """The spectral weight of x*'s noise (:func:`pgbench.ops.noise_weight`), made once per setting."""
    return noise_weight(resolution, scale=scale)
