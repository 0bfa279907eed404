"""Heat equation (paper §3.3, App. B.4; authors' ``heat/train_heat.py``, ``inv_diffuse.py``).

Forward physics: periodic Fourier diffusion :math:`y = \\mathrm{Re}\\,\\mathcal F^{-1}(\\mathcal F(x)
e^{-(2\\pi)^2|k|^2\\tau})` with τ = 8 on 64×64 cells of size 1 (k in cycles/cell). Ground truth:
4-10 soft-edged rectangles of random strength. The physics runs in **float64** (enforced: the
inverse kernel reaches :math:`e^{158}`, which overflows float32); the network runs in float32 and
its output is shifted to the observation's mean (diffusion keeps the mean). The inverse-physics
step is the probabilistically damped inverse diffusion of the residual
(:func:`pgbench.ops.inverse_diffuse_damped`). Arrays are (B, 1, nx, ny).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import UNet
from ..ops import diffusion_log_kernel, fourier_diffuse, inverse_diffuse_damped, soft_box_mask
from .base import NETWORK_SETTINGS, Problem, check_network_settings, dtype_of, fno_network


@dataclass(frozen=True)
class Heat(Problem):
    """Settings: ``resolution`` (nx, ny); diffusion amount ``tau`` (= diffusivity·time; keep
    τ/n² fixed when changing the resolution); rectangle half-sizes ~ U[0, ``half_size_max``)
    cells, centres ~ U[0.1, 0.9)·size clipped so boxes stay inside; ``rel_uncertainty`` ε of the
    damped inverse (noise amplitude ε|r| per cell). Solver tuning (:mod:`pgbench.tuning`) holds the
    presets ``paper_sgd`` (the code's plain SGD, learning rate 2e-6) and ``lbfgsb_pg`` (the ICLR
    L-BFGS-B physical gradient, 32 iterations from the prediction). When the inverse is iterated on
    one problem (solver ``inverse``) an additive floor of 1e-8 per cell keeps the noise estimate
    above round-off (authors' ``plot_heat_optim.py``); PG training uses none, as the authors'
    training code."""

    resolution: tuple[int, int] = (64, 64)
    tau: float = 8.0
    half_size_max: float = 10.0
    rel_uncertainty: float = 1e-6
    iterated_uncertainty_floor: float = 1e-8
    batch_size: int = 128
    test_size: int = 128
    iterations: int = 10000
    solve_iterations: int = 100
    eval_every: int = 100
    net: str = "unet"  # network of training schemes: "unet" (the paper's) or "fno"
    fno_modes: int = 8  # FNO: retained Fourier modes per axis (see pgbench.nets.FNO2d)
    fno_width: int = 20  # FNO: channels of the Fourier layers
    fno_layers: int = 4  # FNO: Fourier layers

    key_neutral_defaults: ClassVar[tuple[str, ...]] = NETWORK_SETTINGS

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "network"})
    loss_reduction: ClassVar[str] = "sum"
    physics_dtype: ClassVar[str] = "float64"
    net_dtype: ClassVar[str] = "float32"
    x_error_name: ClassVar[str] = "||x - x*||_1"

    max_rectangles: ClassVar[int] = 10

    def __post_init__(self):
        super().__post_init__()
        if len(self.resolution) != 2 or min(self.resolution) < 2:
            raise ValueError(f"resolution must be two sizes >= 2, got {self.resolution}")
        check_network_settings(self, tuple(self.resolution))
        for name in ("tau", "half_size_max", "rel_uncertainty"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.iterated_uncertainty_floor < 0:
            raise ValueError("iterated_uncertainty_floor must be >= 0")

    # a property here (it reads a field) over Problem's class attribute: both are only read on instances
    @property
    def solver_defaults(self) -> dict:  # type: ignore[override]
        floor = {"uncertainty_floor": self.iterated_uncertainty_floor}
        return {
            "dp": {"lr": 1e-3},
            "pg": {"lr": 1e-3, "inner_settings": {"options": {"uncertainty_floor": 0.0}}},
            "supervised": {"lr": 1e-3},
            "gd": {"eta": 1.0},
            "adam": {"lr": 1e-2},
            "inverse": {"eta": 1.0, "options": floor},
            "lbfgsb": {"maxiter": 1000, "tol": 1e-14},
        }

    presets: ClassVar[dict] = {
        "paper_sgd": {"optimizer": "sgd", "lr": 2e-6, "momentum": 0.0},  # the code's SGD baseline
        "lbfgsb_pg": {"inner": "lbfgsb", "inner_settings": {"maxiter": 32}},  # ICLR L-BFGS-B PG, n = 32
    }

    @property
    def x_shape(self):
        return (1,) + tuple(self.resolution)

    @property
    def y_shape(self):
        return self.x_shape

    # --- physics (float64) -------------------------------------------------------------------
    def _check(self, be, a, what):
        if be.dtype_name(a) != "float64":
            raise TypeError(
                f"heat physics needs float64 ({what} is {a.dtype}): the inverse kernel "
                f"e^{{(2π)²|k|²τ}} reaches e^{self.max_log_kernel:.0f}, beyond float32"
            )

    @property
    def max_log_kernel(self) -> float:
        return float(diffusion_log_kernel(self.resolution, self.tau).max())

    def log_kernel(self, be):
        """:math:`\\ell_k = (2\\pi)^2|k|^2\\tau` on the backend (float64)."""
        host = diffusion_log_kernel(self.resolution, self.tau)
        return be.constant(("heat-logk", self.resolution, self.tau), host, "float64")

    def forward(self, be, x):
        self._check(be, x, "x")
        return fourier_diffuse(be.xp, x, self.log_kernel(be))

    def inverse(self, be, x, y_target, eta=1.0, uncertainty_floor=0.0):
        """:math:`x + \\eta\\,\\Delta x`, Δx the damped inverse diffusion of :math:`r = y^* - P(x)`
        with noise amplitude ε|r| + ``uncertainty_floor`` per cell."""
        x = be.stop_gradient(x)
        self._check(be, x, "x")
        r = y_target - self.forward(be, x)
        dx = inverse_diffuse_damped(
            be.xp, r, self.log_kernel(be), self.resolution[0], self.rel_uncertainty, uncertainty_floor
        )
        return x + eta * dx

    # --- data ------------------------------------------------------------------------------------
    def sample_boxes(self, rng: np.random.Generator, n: int):
        """The random draws behind x*, on the host: box corners ``lower``, ``upper`` (n, k, 2) and
        strengths (n, k). ⌊4 + 7U⌋ of k = 10 candidate rectangles are active; centres
        ~ U[0.1, 0.9)·size, half-sizes ~ U[0, h_max)², centres clipped to [h, size - h], strengths
        ~ U[0, 1) (zero for inactive rectangles)."""
        size = np.asarray(self.resolution, dtype=np.float64)
        k = self.max_rectangles
        counts = np.floor(4 + 7 * rng.uniform(size=n)).astype(np.int64)
        pos = (rng.uniform(size=(n, k, 2)) - 0.5) * size * 0.8 + size * 0.5
        half = rng.uniform(size=(n, k, 2)) * self.half_size_max
        strength = rng.uniform(size=(n, k)) * (np.arange(k)[None, :] < counts[:, None])
        pos = np.clip(pos, half, size - half)
        return pos - half, pos + half, strength

    def boxes_to_x(self, xp, lower, upper, strength, device=None):
        """x* (n, 1, nx, ny) = Σ_k strength_k · soft mask of box k (PhiFlow ``SoftGeometryMask``)."""
        masks = soft_box_mask(xp, lower, upper, self.resolution, device=device)  # (n, k, nx, ny)
        return xp.sum(strength[:, :, None, None] * masks, axis=1)[:, None]

    def sample_x(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """x* (n, 1, nx, ny) float64 in NumPy (see :meth:`sample_boxes`)."""
        return self.boxes_to_x(np, *self.sample_boxes(rng, n))

    def draw(self, rng, n):
        """The box draws of x* (:meth:`sample_boxes`): corners (n, k, 2) and strengths (n, k), float64."""
        return self.sample_boxes(rng, n)

    def realize(self, be, lower, upper, strength):
        """x* (:meth:`boxes_to_x`, on the device) and y* = P(x*), both float64."""
        x = self.boxes_to_x(be.xp, lower, upper, strength, be.array_device)
        return x, self.forward(be, x)

    # --- network -----------------------------------------------------------------------------------
    def network(self):
        return UNet(1, 1) if self.net == "unet" else fno_network(self, 1, 1)

    def net_input(self, be, y_target):
        return be.xp.astype(y_target, dtype_of(be, self.net_dtype))

    def net_output(self, be, out, y_target):
        """:math:`x = o - \\bar o + \\bar y^*` (in float32, then float64): the network only predicts
        deviations from the mean, which diffusion preserves (code: mean of x*, equal to that of y*)."""
        xp = be.xp
        y32 = xp.astype(y_target, out.dtype)
        out = out - xp.mean(out, axis=(-2, -1), keepdims=True) + xp.mean(y32, axis=(-2, -1), keepdims=True)
        return xp.astype(out, dtype_of(be, self.physics_dtype))
