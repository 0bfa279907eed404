"""PhiFlow-style random fields for data generation. The random draws come from a NumPy
``Generator`` on the host (the same stream on every backend and device); the spectral transform
runs in any array namespace ``xp``, so a backend can do it on its device."""

from __future__ import annotations

import numpy as np


def noise_draws(rng: np.random.Generator, n: int, resolution, channels: int | None = None):
    """Real and imaginary parts of the spectrum, each N(0, 1), shape (n, [channels,] *resolution)."""
    shape = (n,) + ((channels,) if channels else ()) + tuple(int(r) for r in resolution)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def noise_weight(resolution, size=None, scale: float = 10.0, smoothness: float = 1.0) -> np.ndarray:
    """Spectral weight :math:`(1/|K|^2)^{s}\\,[|K|^2 > 0.1]` with the physical wavenumber
    :math:`K = m\\cdot\\text{scale}/S` per axis (m the integer FFT index, S the domain size, default
    = resolution, i.e. dx = 1)."""
    resolution = tuple(int(r) for r in resolution)
    size = resolution if size is None else tuple(float(s) for s in np.broadcast_to(size, (len(resolution),)))
    k2 = np.zeros(resolution)
    for axis, (r, s) in enumerate(zip(resolution, size, strict=True)):
        k = np.fft.fftfreq(r) * r / s * scale
        k2 = k2 + (k**2).reshape([-1 if a == axis else 1 for a in range(len(resolution))])
    with np.errstate(divide="ignore"):
        inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    return inv_k2**smoothness * (k2 > 0.1)


def noise_from_draws(xp, re, im, weight):
    """:math:`\\mathrm{Re}\\,\\mathcal F^{-1}((re + i\\,im)\\cdot w)`, divided by each example's std
    and shifted to zero mean (over all non-batch axes, channels included)."""
    axes = tuple(range(-weight.ndim, 0))
    field = xp.real(xp.fft.ifftn((re + 1j * im) * weight, axes=axes))
    red = tuple(range(1, field.ndim))
    field = field / xp.std(field, axis=red, keepdims=True)
    return field - xp.mean(field, axis=red, keepdims=True)


def noise(
    rng: np.random.Generator,
    n: int,
    resolution,
    size=None,
    scale: float = 10.0,
    smoothness: float = 1.0,
    channels: int | None = None,
) -> np.ndarray:
    """``CenteredGrid(Noise(scale, smoothness))`` in NumPy: for every frequency draw
    :math:`W = N(0,1) + iN(0,1)` (:func:`noise_draws`), weight it (:func:`noise_weight`), take the
    real part of the inverse FFT, then normalise each example (:func:`noise_from_draws`).
    Returns float64 of shape (n, *resolution) or (n, channels, *resolution)."""
    re, im = noise_draws(rng, n, resolution, channels)
    return noise_from_draws(np, re, im, noise_weight(resolution, size, scale, smoothness))
