"""Navier-Stokes marker matching (paper §3.4 Fig. 6, Table 1, App. B.5; spec §(f)).

Unknown x = the initial velocity :math:`v_0` at the cell centres, shape (2, N, N). The
observation y = (m_0, m_t^*) stacks the initial marker and the target marker after T = 2.

Physics P: :math:`v_0` is resampled to the staggered grid and projected (CG rel/abs 1e-5), then
8 steps of Δt = 0.25 (:func:`pgbench.ops.fluid.physics_step`: MacCormack self-advection,
projection by CG with abs tolerance 1e-4 warm-started from the previous pressure, per-component
energy renormalisation, MacCormack marker advection) carry :math:`m_0` to :math:`m_T`.

Loss (per example): :math:`L = \\sum_k \\sqrt{\\max(|w_k R_k|^2, 10^{-5})}`, R the unnormalised
2-D DFT of :math:`r = m_T - m_t^* - \\bar r` and :math:`w_k = \\exp(-\\tfrac12 f^2 |k|^2)` with k in
cycles per cell and falloff f = 80 at 64 cells (PhiFlow ``frequency_loss(n=1, ignore_mean=True)``).

x error: per-cell mean of :math:`|\\mathrm{centre}(\\Pi S v_0) - \\mathrm{centre}(\\Pi S v_0^*)|_2`
(S: resampling to faces, Π: projection); the authors' fidelity compares against the
unprojected :math:`S v_0^*` as their code does.

Inverse physics (``inverse``): the authors' reverse-simulation vortex estimator ``estimate_v0``.
``fidelity="authors"`` reproduces the quirks of spec §9 (collocated unprojected ground-truth
rollout, one fill fraction per batch, vortex centre offset without the Δt factor, 120.5 as the
vortex normalisation); ``"intended"`` (default) is the paper's description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import UNet
from ..ops import fluid
from ..ops.noise import noise
from .base import NETWORK_SETTINGS, Problem, check_network_settings, dtype_of, fno_network

FIDELITIES = ("intended", "authors")
_JIT_CACHE: dict = {}


@dataclass(frozen=True)
class NavierStokes(Problem):
    resolution: int = 64  # cells per axis
    domain: float = 128.0  # physical size per axis (periodic)
    time: float = 2.0
    steps: int = 8
    cg_atol: float = 1e-4  # pressure solve in every step (rel 0), warm-started
    init_tol: float = 1e-5  # rel and abs tolerance of the initial projection (PhiFlow default)
    cg_maxiter: int = 1000
    frequency_falloff: float = 80.0  # loss weight exp(-½ f² |k|²), k in cycles/cell
    loss_threshold: float = 1e-5
    box_half: float = 28.0  # marker box half-size (physical)
    fill: tuple[float, float] = (0.05, 0.15)
    vortex_strength: float = 2.0  # ω ~ U[-s, s)
    vortex_falloff: float = 20.0  # Gaussian radius of the vortex (physical)
    fluctuation: float = 0.1
    noise_scale: float = 10.0
    estimator_gain: float = 1e-3
    unet_levels: int = 5
    unet_filters: int = 16
    fidelity: str = "intended"
    data_dtype: str = "float64"  # dtype of the ground-truth rollout (then stored as float32)
    start: str = "displacement"  # initial guess of iterative solvers: "displacement" or "zero"
    net: str = "unet"  # network of training schemes: "unet" (the paper's) or "fno"
    fno_modes: int = 8  # FNO: retained Fourier modes per axis (see pgbench.nets.FNO2d)
    fno_width: int = 20  # FNO: channels of the Fourier layers
    fno_layers: int = 4  # FNO: Fourier layers

    key_neutral_defaults: ClassVar[tuple[str, ...]] = NETWORK_SETTINGS

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "network"})
    loss_reduction: ClassVar[str] = "mean"  # train_fluid.py:175
    x_error_name: ClassVar[str] = "mean_cells |v0 - v0*|"
    solver_defaults: ClassVar[dict] = {
        "dp": {"lr": 0.005},
        "pg": {"lr": 0.005},
        "supervised": {"lr": 0.005},
        "gd": {"eta": 1.0},
        "inverse": {"eta": 1.0},
        "lbfgsb": {"maxiter": 16, "tol": 1e-5},
    }

    def __post_init__(self):
        super().__post_init__()
        if self.fidelity not in FIDELITIES:
            raise ValueError(f"fidelity must be one of {FIDELITIES}, got {self.fidelity!r}")
        check_network_settings(self, (self.resolution, self.resolution))
        if self.resolution < 4 or self.steps < 1 or self.time <= 0 or self.domain <= 0:
            raise ValueError(f"invalid grid/time settings: {self}")
        if self.start not in ("displacement", "zero"):
            raise ValueError(f"start must be 'displacement' or 'zero', got {self.start!r}")
        if self.data_dtype not in ("float32", "float64"):
            raise ValueError(f"data_dtype must be float32 or float64, got {self.data_dtype!r}")

    # --- geometry ---------------------------------------------------------------------------------
    @property
    def dx(self) -> float:
        return self.domain / self.resolution

    @property
    def dt(self) -> float:
        return self.time / self.steps

    @property
    def center(self) -> float:
        return self.domain / 2

    @property
    def x_shape(self):
        return (2, self.resolution, self.resolution)

    @property
    def y_shape(self):
        return (2, self.resolution, self.resolution)

    def _offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """(p - c)_x and (p - c)_y at the cell centres, shaped (N, 1) and (1, N)."""
        p = fluid.cell_centers(self.resolution, self.dx) - self.center
        return p[:, None], p[None, :]

    def vortex_normalisation(self) -> float:
        """:math:`K = \\overline{g(p-c)\\,|p-c|^2}` over the cells, so that the projection of a
        pure swirl of strength ω onto the vortex mode returns ω (120.52 at 64², 120.54 at 32²).
        The authors' code uses the constant 120.5."""
        if self.fidelity == "authors":
            return 120.5
        dxo, dyo = self._offsets()
        r2 = dxo**2 + dyo**2
        return float(np.mean(np.exp(-0.5 * r2 / self.vortex_falloff**2) * r2))

    def _gauss(self, xp, like):
        dxo, dyo = self._offsets()
        g = np.exp(-0.5 * (dxo**2 + dyo**2) / self.vortex_falloff**2)
        dev = fluid.device_of(like)
        cast = lambda a: xp.asarray(np.broadcast_to(a, g.shape).copy(), dtype=like.dtype, device=dev)  # noqa: E731
        return cast(g), cast(dxo), cast(dyo)

    def swirl(self, xp, omega, like):
        """Gaussian vortex :math:`\\omega\\,g(p-c)\\,(-(p-c)_y, (p-c)_x)`, ω of shape (B,): (B, 2, N, N)."""
        g, dxo, dyo = self._gauss(xp, like)
        w = xp.reshape(omega, (-1, 1, 1)) * g
        return xp.stack([-w * dyo, w * dxo], axis=1)

    def vortex_mode(self, xp, v):
        """Vortex strength of a centred velocity: :math:`\\hat\\omega = \\overline{(p-c)\\times v(p)}/K`."""
        _, dxo, dyo = self._gauss(xp, v)
        cross = dxo * v[:, 1] - dyo * v[:, 0]
        return xp.mean(cross, axis=(-2, -1)) / self.vortex_normalisation()

    # --- physics ----------------------------------------------------------------------------------
    def initial_velocity(self, be, v0):
        """Centred :math:`v_0` → faces → projected (PhiFlow's default solve, rel = abs = 1e-5)."""
        u = fluid.centered_to_staggered(be.xp, v0)
        u, _ = fluid.project(be, u, self.dx, None, rtol=self.init_tol, atol=self.init_tol, maxiter=self.cg_maxiter)
        return u

    def simulate(self, be, v0, m0, record_com: bool = False):
        """Forward run from centred v0 and marker m0 (B, N, N): ``(m_T, u_T, p_T, coms)``."""
        u = self.initial_velocity(be, v0)
        return fluid.rollout(
            be, m0, u, self.steps, self.dt, self.dx, self.cg_atol, self.cg_maxiter, record_com=record_com
        )

    def forward_marker(self, be, x, m0):
        return self.simulate(be, x, m0)[0]

    def residual(self, be, x, y_target):
        return self.forward_marker(be, x, y_target[:, 0]) - y_target[:, 1]

    def marker_loss(self, xp, r):
        """Frequency-weighted L1 of the marker difference r (B, N, N), per example (module docstring).
        The DFT is taken with real cosine/sine matrices: Re R = C r Cᵀ − S r Sᵀ, Im R = −(C r Sᵀ + S r Cᵀ)."""
        n = self.resolution
        r = r - xp.mean(r, axis=(-2, -1), keepdims=True)
        k = np.arange(n)
        ang = 2 * np.pi * np.outer(k, k) / n
        f = np.fft.fftfreq(n)
        w = np.exp(-0.5 * self.frequency_falloff**2 * (f[:, None] ** 2 + f[None, :] ** 2))
        as_x = lambda a: xp.asarray(a, dtype=r.dtype, device=fluid.device_of(r))  # noqa: E731
        C, S, W = as_x(np.cos(ang)), as_x(np.sin(ang)), as_x(w)
        Cr, Sr = xp.matmul(C, r), xp.matmul(S, r)
        re = xp.matmul(Cr, C) - xp.matmul(Sr, S)  # C and S are symmetric
        im = -(xp.matmul(Cr, S) + xp.matmul(Sr, C))
        power = (re * re + im * im) * (W * W)
        floor = xp.asarray(self.loss_threshold, dtype=r.dtype, device=fluid.device_of(r))
        return xp.sum(xp.sqrt(xp.maximum(power, floor)), axis=(-2, -1))

    def loss(self, be, x, y_target):
        return self.marker_loss(be.xp, self.residual(be, x, y_target))

    def x_error(self, be, x, x_true, y_target):
        """Per-cell mean velocity error of v0 at the centres after resampling and projection."""
        xp = be.xp
        if self.fidelity == "authors":  # code: projected prediction − resampled, unprojected truth
            d = self.initial_velocity(be, x) - fluid.centered_to_staggered(xp, xp.astype(x_true, x.dtype))
        else:  # projection is linear: Π S v − Π S v* = Π S (v − v*)
            d = self.initial_velocity(be, x - xp.astype(x_true, x.dtype))
        c = fluid.staggered_to_centered(xp, d)
        return xp.mean(xp.sqrt(xp.sum(c * c, axis=1)), axis=(-2, -1))

    # --- data -------------------------------------------------------------------------------------
    def _marker_and_velocity(self, rng, n):
        """Host-side generator (``train_fluid.py:generate_example``): m0 (n, N, N), centred v0*
        (n, 2, N, N) and the fill fractions (n,)."""
        N, S, dx = self.resolution, self.domain, self.dx
        pc = fluid.cell_centers(N, dx)
        pos = rng.uniform(size=(n, 2)) * (S / 2) + S / 4  # U[32, 96)² at S = 128
        lo, hi = pos - self.box_half, pos + self.box_half
        mask = (
            (pc[None, :, None] >= lo[:, 0, None, None])
            & (pc[None, :, None] <= hi[:, 0, None, None])
            & (pc[None, None, :] >= lo[:, 1, None, None])
            & (pc[None, None, :] <= hi[:, 1, None, None])
        )
        mask = mask.astype(np.float64)
        marker_noise = noise(rng, n, (N, N), size=(S, S), scale=self.noise_scale) * mask
        if self.fidelity == "authors":  # one fill fraction per batch (train_fluid.py:37)
            fill = np.full(n, rng.uniform() * (self.fill[1] - self.fill[0]) + self.fill[0])
        else:
            fill = rng.uniform(size=n) * (self.fill[1] - self.fill[0]) + self.fill[0]
        flat = marker_noise.reshape(n, -1)
        m0 = np.zeros_like(flat)
        order = np.argsort(flat, axis=-1)
        for b in range(n):  # PhiFlow's discretize: the top V - round(V (1 - f)) values become 1
            m0[b, order[b, round(float(N * N * (1 - fill[b]))) :]] = 1.0
        m0 = m0.reshape(n, N, N) * mask
        mass = m0.sum(axis=(1, 2))
        com = np.stack([(m0 * pc[None, :, None]).sum(axis=(1, 2)), (m0 * pc[None, None, :]).sum(axis=(1, 2))], 1)
        com = com / mass[:, None]
        uniform = (self.center - com) / self.time  # (n, 2)
        omega = (rng.uniform(size=n) - 0.5) * 2 * self.vortex_strength
        dxo, dyo = self._offsets()
        g = np.exp(-0.5 * (dxo**2 + dyo**2) / self.vortex_falloff**2)
        swirl = omega[:, None, None, None] * np.stack([-g * dyo, g * dxo])[None]
        fluct = self.fluctuation * noise(rng, n, (N, N), size=(S, S), scale=self.noise_scale, channels=2)
        v0 = uniform[:, :, None, None] + swirl + fluct
        return m0, v0, fill

    def _jitted(self, be, name, fn):
        key = (self, be.name, be.device, name)
        if key not in _JIT_CACHE:
            _JIT_CACHE[key] = be.jit(fn)
        return _JIT_CACHE[key]

    def ground_truth_marker(self, be, m0, v0):
        """m_t* from the ground-truth rollout: the prediction's pipeline (staggered, projected) or,
        with the authors' fidelity, the collocated, unprojected rollout of their code (:43-49)."""
        if self.fidelity == "authors":

            def fn(m, v):
                return fluid.rollout(
                    be, m, v, self.steps, self.dt, self.dx, self.cg_atol, self.cg_maxiter, staggered=False
                )[0]
        else:

            def fn(m, v):
                return self.simulate(be, v, m)[0]

        return self._jitted(be, "ground_truth", fn)(m0, v0)

    def sample(self, rng, n, be):
        m0, v0, _ = self._marker_and_velocity(rng, n)
        mt = self.ground_truth_marker(be, be.asarray(m0, self.data_dtype), be.asarray(v0, self.data_dtype))
        mt = be.to_numpy(mt)
        y = np.stack([m0, mt], axis=1)
        return be.asarray(v0, "float32"), be.asarray(y, "float32")

    def initial_guess(self, be, y_target):
        """Start of the iterative solvers. The spec leaves it open (§(f): "use 0"), but v0 = 0 is a
        degenerate point of the energy-renormalised physics (the step is then 0 · √(0/0): the
        gradient is 0 here, NaN in PhiFlow), so GD could never leave it. The default ``displacement``
        starts from the uniform velocity that carries the marker's centre of mass to the target's,
        :math:`(\\mathrm{COM}(m_t^*) - \\mathrm{COM}(m_0))/T`, an observation-only guess; ``zero`` is 0."""
        xp = be.xp
        shape = (y_target.shape[0],) + tuple(self.x_shape)
        x = be.zeros(shape, self.physics_dtype)
        if self.start == "zero":
            return x
        y = xp.astype(y_target, x.dtype)
        d = (fluid.center_of_mass(xp, y[:, 1], self.dx) - fluid.center_of_mass(xp, y[:, 0], self.dx)) / self.time
        return x + xp.reshape(d, (-1, 2, 1, 1))

    # --- physical gradient ------------------------------------------------------------------------
    def estimate(self, be, x, y_target):
        """Reverse-simulation vortex estimator (``train_fluid.py:estimate_v0``), notation c = domain
        centre, × the 2-D cross product:

        1. :math:`\\hat\\omega_0` = vortex mode of x;
        2. forward run from (m_0, x) recording the marker centres of mass :math:`c^f_0..c^f_8`;
        3. uniform part :math:`u = (c - \\mathrm{COM}(m_0))/T`;
        4. :math:`d_0 = (c^f_8 - \\mathrm{COM}(m_t^*)) \\times (\\mathrm{COM}(m_t^*) - s_T)`,
           :math:`s_T = c + uT`;
        5. reverse run from :math:`m_t^*` with the negated final velocity; after reverse step i+1,
           :math:`d_{i+1} = (c^f_{7-i} - c^r) \\times (c^r - s_i)` with the vortex centre
           :math:`s_i = c + u\\,(7-i)\\Delta t` (authors: :math:`c + u\\,(7-i)`);
        6. :math:`x_{corr} = u + \\mathrm{swirl}(\\hat\\omega_0 + g\\,\\overline{d})`, gain g = 1e-3.
        """
        xp = be.xp
        m0, mt = y_target[:, 0], y_target[:, 1]
        dx, c = self.dx, self.center
        omega0 = self.vortex_mode(xp, x)
        _, u_end, _, coms = self.simulate(be, x, m0, record_com=True)
        com0 = fluid.center_of_mass(xp, m0, dx)
        com_t = fluid.center_of_mass(xp, mt, dx)
        uniform = (c - com0) / self.time  # (B, 2)

        def cross(a, b):
            return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]

        d = [cross(coms[-1] - com_t, com_t - (c + uniform * self.time))]
        m, u, p = mt, -u_end, None
        unit = 1.0 if self.fidelity == "authors" else self.dt
        for i in range(self.steps):
            m, u, p = fluid.physics_step(be, m, u, p, self.dt, dx, self.cg_atol, self.cg_maxiter)
            cr = fluid.center_of_mass(xp, m, dx)
            s_i = c + uniform * ((self.steps - 1 - i) * unit)
            d.append(cross(coms[-2 - i] - cr, cr - s_i))
        domega = self.estimator_gain * xp.mean(xp.stack(d, axis=0), axis=0)
        corr = self.swirl(xp, omega0 + domega, x) + xp.reshape(uniform, (-1, 2, 1, 1))
        return xp.astype(corr, x.dtype)

    def inverse(self, be, x, y_target, eta=1.0):
        """One physical-gradient step :math:`x + \\eta\\,(\\mathrm{estimate}(x) - x)`."""
        x = be.stop_gradient(x)
        return x + eta * (self.estimate(be, x, y_target) - x)

    # --- network ----------------------------------------------------------------------------------
    def network(self):
        if self.net == "fno":
            return fno_network(self, 2, 2)
        return UNet(in_channels=2, out_channels=2, levels=self.unet_levels, filters=self.unet_filters)

    def net_input(self, be, y_target):
        return be.xp.astype(y_target, dtype_of(be, self.net_dtype))
