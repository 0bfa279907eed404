"""Finite differences on cell-centred grids."""

from __future__ import annotations


def pad_zero(xp, x, width: int = 1):
    """Zero ghost cells of ``width`` around the last two axes. The array API has no ``pad``:
    numpy and jax.numpy provide one; torch uses ``torch.nn.functional.pad``."""
    if hasattr(xp, "pad"):
        return xp.pad(x, [(0, 0)] * (x.ndim - 2) + [(width, width), (width, width)])
    import torch.nn.functional as F
    return F.pad(x, [width] * 4)


def laplace(xp, x, dx: float = 1.0):
    """5-point Laplacian over the last two axes with zero extrapolation (PhiFlow's
    ``field.laplace`` on a ``CenteredGrid`` with extrapolation 0):
    :math:`(\\nabla^2 x)_{ij} = (x_{i+1,j} + x_{i-1,j} + x_{i,j+1} + x_{i,j-1} - 4x_{ij})/\\Delta x^2`,
    ghost cells outside the domain being 0. Symmetric negative definite."""
    p = pad_zero(xp, x)
    s = p[..., 2:, 1:-1] + p[..., :-2, 1:-1] + p[..., 1:-1, 2:] + p[..., 1:-1, :-2] - 4.0 * x
    return s / (dx * dx) if dx != 1.0 else s
