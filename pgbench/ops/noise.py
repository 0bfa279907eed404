"""PhiFlow-style random fields for data generation (host side, numpy ``Generator``)."""

from __future__ import annotations

import numpy as np


def noise(rng: np.random.Generator, n: int, resolution, size=None, scale: float = 10.0,
          smoothness: float = 1.0, channels: int | None = None) -> np.ndarray:
    """``CenteredGrid(Noise(scale, smoothness))``: for every frequency draw
    :math:`W = N(0,1) + iN(0,1)`, weight it by :math:`(1/|K|^2)^{s}\\,[|K|^2 > 0.1]` with the
    physical wavenumber :math:`K = m\\cdot\\text{scale}/S` per axis (m the integer FFT index,
    S the domain size, default = resolution, i.e. dx = 1), take the real part of the inverse FFT,
    then divide each example by its std and subtract its mean (over all non-batch axes,
    channels included). Returns float64 of shape (n, *resolution) or (n, channels, *resolution)."""
    resolution = tuple(int(r) for r in resolution)
    size = resolution if size is None else tuple(float(s) for s in np.broadcast_to(size, (len(resolution),)))
    shape = (n,) + ((channels,) if channels else ()) + resolution
    w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    k2 = np.zeros(resolution)
    for axis, (r, s) in enumerate(zip(resolution, size)):
        k = np.fft.fftfreq(r) * r / s * scale
        k2 = k2 + (k ** 2).reshape([-1 if a == axis else 1 for a in range(len(resolution))])
    with np.errstate(divide="ignore"):
        inv_k2 = np.where(k2 > 0, 1.0 / np.where(k2 > 0, k2, 1.0), 0.0)
    weight = inv_k2 ** smoothness * (k2 > 0.1)
    axes = tuple(range(-len(resolution), 0))
    field = np.real(np.fft.ifftn(w * weight, axes=axes))
    red = tuple(range(1, field.ndim))
    field = field / field.std(axis=red, keepdims=True)
    return field - field.mean(axis=red, keepdims=True)
