"""Geometry masks sampled on cell-centred grids."""

from __future__ import annotations

import math


def soft_box_mask(xp, lower, upper, resolution, dx: float = 1.0, device=None):
    """PhiFlow's ``SoftGeometryMask(box)`` sampled at the cell centres of a grid with
    ``resolution = (n0, n1)`` cells of size ``dx`` starting at the origin:
    :math:`m = \\mathrm{clip}(1/2 - d_\\infty / r, 0, 1)` with :math:`d_\\infty` the signed L∞ distance
    from the cell centre to the box surface (negative inside), :math:`d_\\infty =
    \\max_i(|p_i - c_i| - h_i)`, and :math:`r = \\sqrt{2}\\,\\Delta x/2` half the cell diagonal.

    ``lower``, ``upper``: arrays (..., 2) of box corners in physical units; the result has shape
    (..., n0, n1) (leading axes broadcast, e.g. batch × boxes). ``device``: where the cell centres
    are made (a backend's :attr:`~pgbench.backends.base.Backend.array_device`; None: the default)."""
    n0, n1 = resolution
    place = {} if device is None else {"device": device}
    c0 = (xp.arange(n0, dtype=lower.dtype, **place) + 0.5) * dx
    c1 = (xp.arange(n1, dtype=lower.dtype, **place) + 0.5) * dx
    center = (lower + upper) / 2
    half = (upper - lower) / 2
    d0 = xp.abs(c0 - center[..., 0:1]) - half[..., 0:1]  # (..., n0)
    d1 = xp.abs(c1 - center[..., 1:2]) - half[..., 1:2]  # (..., n1)
    d = xp.maximum(d0[..., :, None], d1[..., None, :])
    r = math.sqrt(2.0) * dx / 2
    return xp.clip(0.5 - d / r, 0.0, 1.0)
