"""Fourier-space operators on periodic grids (last two axes), written against the array API.

Conventions of PhiFlow's torch backend: the forward FFT is unnormalised, the inverse divides by
the number of cells; wavenumbers k are in cycles per unit length (``fftfreq(n, dx)``).
"""

from __future__ import annotations

import math

import numpy as np

_AXES = (-2, -1)


def k_squared(resolution, dx: float = 1.0) -> np.ndarray:
    """:math:`|k|^2` on the FFT grid of ``resolution = (n0, n1)`` cells (host float64)."""
    k0 = np.fft.fftfreq(int(resolution[0]), dx)
    k1 = np.fft.fftfreq(int(resolution[1]), dx)
    return k0[:, None] ** 2 + k1[None, :] ** 2


def diffusion_log_kernel(resolution, tau: float, dx: float = 1.0) -> np.ndarray:
    """:math:`\\ell_k = (2\\pi)^2 |k|^2 \\tau`: diffusion for time·diffusivity τ damps mode k by
    :math:`e^{-\\ell_k}` (host float64)."""
    return (2 * math.pi) ** 2 * k_squared(resolution, dx) * tau


def fourier_filter(xp, x, kernel):
    """:math:`\\mathrm{Re}\\,\\mathcal F^{-1}(\\mathcal F(x) \\cdot K)` over the last two axes."""
    return xp.real(xp.fft.ifftn(xp.fft.fftn(x, axes=_AXES) * kernel, axes=_AXES))


def fourier_diffuse(xp, x, log_kernel):
    """Periodic diffusion (PhiFlow ``diffuse.fourier``): :math:`y = \\mathrm{Re}\\,\\mathcal F^{-1}
    (\\mathcal F(x)\\, e^{-\\ell_k})` with ``log_kernel`` = :math:`\\ell_k` (an array of x's real dtype)."""
    return fourier_filter(xp, x, xp.exp(-log_kernel))


def inverse_diffuse_damped(xp, r, log_kernel, n_x: int, rel_uncertainty: float = 1e-6, uncertainty_floor: float = 0.0):
    """Probabilistically damped inverse diffusion of a residual r (authors' ``inv_diffuse``,
    spec §(e)), per example over the last two axes:

    1. noise amplitude :math:`\\sigma_n = \\lVert \\epsilon |r| + f \\rVert_2` (ε = ``rel_uncertainty``,
       f = ``uncertainty_floor``, added per cell);
    2. per frequency, :math:`R_k = \\mathcal F(r)_k` (unnormalised), expected signal amplitude
       :math:`a_k = N e^{-\\ell_k}` with N = ``n_x``;
    3. likelihoods with equal priors: :math:`s_k = \\tfrac12 e^{-\\frac12(|R_k|/a_k)^2}` (non-finite → 0),
       :math:`n_k = \\tfrac12 e^{-\\frac12(|R_k|/\\sigma_n)^2}`; :math:`p_k = s_k/(s_k+n_k)` (0 if both 0);
    4. action :math:`\\alpha_k = 2(p_k - \\tfrac12)` where :math:`p_k \\le 0.5` or :math:`p_k \\ge 0.68`, else 0;
    5. :math:`\\Delta x = \\mathrm{Re}\\,\\mathcal F^{-1}(R_k e^{\\alpha_k \\ell_k})`.

    Needs float64: :math:`e^{\\ell_k}` reaches :math:`e^{158}` at 64×64, τ = 8. Returns Δx."""
    unc = xp.abs(r) * rel_uncertainty + uncertainty_floor
    sigma = xp.sqrt(xp.sum(unc * unc, axis=_AXES, keepdims=True))
    amp = xp.fft.fftn(r, axes=_AXES)
    mag = xp.abs(amp)
    expected = n_x * xp.exp(-log_kernel)
    s = 0.5 * xp.exp(-0.5 * (mag / expected) ** 2)
    s = xp.where(xp.isfinite(s), s, xp.zeros_like(s))
    sigma = xp.where(sigma > 0, sigma, xp.full_like(sigma, xp.finfo(sigma.dtype).tiny))
    nz = 0.5 * xp.exp(-0.5 * (mag / sigma) ** 2)
    tot = s + nz
    p = xp.where(tot > 0, s / xp.where(tot > 0, tot, xp.ones_like(tot)), xp.zeros_like(tot))
    action = xp.where((p <= 0.5) | (p >= 0.68), 2.0 * (p - 0.5), xp.zeros_like(p))
    return xp.real(xp.fft.ifftn(amp * xp.exp(action * log_kernel), axes=_AXES))
