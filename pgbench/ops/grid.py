"""Finite differences on cell-centred grids."""

from __future__ import annotations


def pad_zero(xp, x, width: int = 1):
    """Zero ghost cells of ``width`` around the last two axes, with array-API operations only
    (the array API has no ``pad``; :meth:`Backend.pad <pgbench.backends.base.Backend.pad>` has)."""
    rows = xp.zeros_like(x[..., :width, :])
    x = xp.concat([rows, x, rows], axis=-2)
    cols = xp.zeros_like(x[..., :, :width])
    return xp.concat([cols, x, cols], axis=-1)


def laplace(xp, x, dx: float = 1.0):
    """5-point Laplacian over the last two axes with zero extrapolation (PhiFlow's
    ``field.laplace`` on a ``CenteredGrid`` with extrapolation 0):
    :math:`(\\nabla^2 x)_{ij} = (x_{i+1,j} + x_{i-1,j} + x_{i,j+1} + x_{i,j-1} - 4x_{ij})/\\Delta x^2`,
    ghost cells outside the domain being 0. Symmetric negative definite."""
    p = pad_zero(xp, x)
    s = p[..., 2:, 1:-1] + p[..., :-2, 1:-1] + p[..., 1:-1, 2:] + p[..., 1:-1, :-2] - 4.0 * x
    return s / (dx * dx) if dx != 1.0 else s
