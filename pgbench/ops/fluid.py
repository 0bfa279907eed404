"""Periodic 2-D incompressible flow on a staggered (MAC) grid, written once against the array API.

Layout (PhiFlow's conventions, spec §(f)): arrays are ``(B, ..., Nx, Ny)`` with axis -2 = x and
axis -1 = y; cell (i, j) is centred at ((i + ½)Δx, (j + ½)Δx). A *staggered* velocity ``u`` is
``(B, 2, Nx, Ny)``: ``u[:, 0, i, j]`` lives on the x-face at (iΔx, (j + ½)Δx), ``u[:, 1, i, j]``
on the y-face at ((i + ½)Δx, jΔx). A *centred* vector field is ``(B, 2, Nx, Ny)`` at the centres.
Every operator is periodic, batched over examples and free of Python loops over cells, so it
jit-compiles under jax and runs under ``torch.func`` transforms.

* :func:`interpolate`: periodic bilinear sampling (gathers with ``xp.take``).
* :func:`mac_cormack`: MacCormack advection with the min/max clamping limiter (PhiFlow's
  ``advect.mac_cormack``, correction strength 1).
* :func:`project`: pressure projection :math:`u \\leftarrow u - \\nabla p` with :math:`\\nabla^2 p =
  \\nabla\\cdot u - \\overline{\\nabla\\cdot u}`, solved by ``be.linear_solve`` (CG with the
  implicit adjoint) on the SPD operator :math:`-\\nabla^2` restricted to zero-mean fields.
* :func:`physics_step`: one energy-conserving inviscid step of the marker-matching experiment.
"""

from __future__ import annotations

import numpy as np

X, Y = -2, -1  # spatial axes


def device_of(a):
    """The array's device, or None for traced jax values (they carry none; jax places them)."""
    return getattr(a, "device", None)


def _roll(xp, a, shift, axis):
    return xp.roll(a, shift, axis=axis)


# ----------------------------------------------------------------------------------------------
# grids
# ----------------------------------------------------------------------------------------------
def cell_centers(n: int, dx: float) -> np.ndarray:
    """Cell-centre coordinates :math:`(i + \\tfrac12)\\Delta x`, i = 0..n-1 (host array)."""
    return (np.arange(n) + 0.5) * dx


def centered_to_staggered(xp, v):
    """Linear resampling of a centred vector field to the faces: :math:`u_x[i] = \\tfrac12(v_x[i-1] + v_x[i])`
    (the face lies midway between two centres), likewise for y."""
    ux = 0.5 * (_roll(xp, v[:, 0], 1, X) + v[:, 0])
    uy = 0.5 * (_roll(xp, v[:, 1], 1, Y) + v[:, 1])
    return xp.stack([ux, uy], axis=1)


def staggered_to_centered(xp, u):
    """Face values to cell centres: :math:`v_x[i] = \\tfrac12(u_x[i] + u_x[i+1])`, likewise for y."""
    vx = 0.5 * (u[:, 0] + _roll(xp, u[:, 0], -1, X))
    vy = 0.5 * (u[:, 1] + _roll(xp, u[:, 1], -1, Y))
    return xp.stack([vx, vy], axis=1)


def divergence(xp, u, dx):
    """Exact MAC divergence at the centres: :math:`(u_x[i+1] - u_x[i] + u_y[j+1] - u_y[j])/\\Delta x`."""
    return ((_roll(xp, u[:, 0], -1, X) - u[:, 0]) + (_roll(xp, u[:, 1], -1, Y) - u[:, 1])) / dx


def gradient(xp, p, dx):
    """Gradient of a centred scalar on the faces: :math:`(p[i] - p[i-1])/\\Delta x`, likewise for y."""
    gx = (p - _roll(xp, p, 1, X)) / dx
    gy = (p - _roll(xp, p, 1, Y)) / dx
    return xp.stack([gx, gy], axis=1)


def laplace(xp, p, dx):
    """Five-point Laplacian :math:`\\nabla\\cdot\\nabla p` (equal to the MAC divergence of the face
    gradient): :math:`(p_{i+1,j} + p_{i-1,j} + p_{i,j+1} + p_{i,j-1} - 4p_{i,j})/\\Delta x^2`."""
    nb = _roll(xp, p, 1, X) + _roll(xp, p, -1, X) + _roll(xp, p, 1, Y) + _roll(xp, p, -1, Y)
    return (nb - 4 * p) / (dx * dx)


def divergence_centered(xp, v, dx):
    """Central-difference divergence of a centred field: :math:`(v_x[i+1] - v_x[i-1])/(2\\Delta x) + \\ldots`."""
    return (
        (_roll(xp, v[:, 0], -1, X) - _roll(xp, v[:, 0], 1, X)) + (_roll(xp, v[:, 1], -1, Y) - _roll(xp, v[:, 1], 1, Y))
    ) / (2 * dx)


def gradient_centered(xp, p, dx):
    """Central-difference gradient at the centres: :math:`(p[i+1] - p[i-1])/(2\\Delta x)`."""
    gx = (_roll(xp, p, -1, X) - _roll(xp, p, 1, X)) / (2 * dx)
    gy = (_roll(xp, p, -1, Y) - _roll(xp, p, 1, Y)) / (2 * dx)
    return xp.stack([gx, gy], axis=1)


def laplace_centered(xp, p, dx):
    """Wide-stencil Laplacian of the collocated scheme (central divergence of the central gradient)."""
    return divergence_centered(xp, gradient_centered(xp, p, dx), dx)


def face_velocities(xp, u):
    """Velocity vectors at the staggered sample points, for self-advection.

    Returns ``(vx, vy)``, each ``(B, 2, Nx, Ny)``: entry ``[:, c]`` is the velocity at the faces of
    component c. A component is exact on its own faces; the other one is linearly interpolated,
    which at a half-cell offset in both directions is the mean of the four surrounding faces:
    :math:`\\bar u_y(x\\text{-face } i, j) = \\tfrac14(u_y[i-1,j] + u_y[i,j] + u_y[i-1,j+1] + u_y[i,j+1])`.
    """
    ux, uy = u[:, 0], u[:, 1]
    uy_m = uy + _roll(xp, uy, 1, X)  # uy[i, j] + uy[i-1, j]
    uy_at_x = 0.25 * (uy_m + _roll(xp, uy_m, -1, Y))  # ... + the same at j+1
    ux_p = ux + _roll(xp, ux, -1, X)  # ux[i, j] + ux[i+1, j]
    ux_at_y = 0.25 * (ux_p + _roll(xp, ux_p, 1, Y))  # ... + the same at j-1
    vx = xp.stack([ux, ux_at_y], axis=1)
    vy = xp.stack([uy_at_x, uy], axis=1)
    return vx, vy


# ----------------------------------------------------------------------------------------------
# sampling and advection
# ----------------------------------------------------------------------------------------------
def _index_base(xp, f):
    B, C, nx, ny = f.shape
    return xp.reshape(xp.arange(B * C, dtype=xp.int64, device=device_of(f)) * (nx * ny), (B, C, 1, 1))


def interpolate(xp, f, cx, cy, limits: bool = False):
    """Periodic bilinear interpolation of ``f`` (B, C, Nx, Ny) at local index coordinates
    ``(cx, cy)`` (broadcastable to f's shape; coordinate i is the i-th sample point of f).

    :math:`f(c) = \\sum_{a,b\\in\\{0,1\\}} w^x_a w^y_b\\, f[\\lfloor c_x\\rfloor + a, \\lfloor c_y\\rfloor + b]`
    with indices taken modulo N. With ``limits``, also returns the min and max of those four
    values (the MacCormack clamping bounds, PhiFlow's ``closest_values``).
    """
    _, _, nx, ny = f.shape
    shape = tuple(f.shape)
    cx = xp.broadcast_to(cx, shape)
    cy = xp.broadcast_to(cy, shape)
    fx, fy = xp.floor(cx), xp.floor(cy)
    wx, wy = cx - fx, cy - fy
    i0 = xp.remainder(xp.astype(fx, xp.int64), nx)
    j0 = xp.remainder(xp.astype(fy, xp.int64), ny)
    i1 = xp.remainder(i0 + 1, nx)
    j1 = xp.remainder(j0 + 1, ny)
    base = _index_base(xp, f)
    idx = xp.stack([base + i0 * ny + j0, base + i0 * ny + j1, base + i1 * ny + j0, base + i1 * ny + j1])
    vals = xp.reshape(xp.take(xp.reshape(f, (-1,)), xp.reshape(idx, (-1,)), axis=0), (4,) + shape)
    f00, f01, f10, f11 = vals[0], vals[1], vals[2], vals[3]
    out = (1 - wx) * ((1 - wy) * f00 + wy * f01) + wx * ((1 - wy) * f10 + wy * f11)
    if not limits:
        return out
    lo = xp.minimum(xp.minimum(f00, f01), xp.minimum(f10, f11))
    hi = xp.maximum(xp.maximum(f00, f01), xp.maximum(f10, f11))
    return out, lo, hi


def _grid_coords(xp, f):
    nx, ny = f.shape[-2], f.shape[-1]
    ii = xp.reshape(xp.arange(nx, dtype=f.dtype, device=device_of(f)), (1, 1, nx, 1))
    jj = xp.reshape(xp.arange(ny, dtype=f.dtype, device=device_of(f)), (1, 1, 1, ny))
    return ii, jj


def semi_lagrangian(xp, f, vx, vy, dt, dx):
    """Semi-Lagrangian advection: :math:`f'(p) = f(p - \\Delta t\\, v(p))` (one Euler back-trace)."""
    ii, jj = _grid_coords(xp, f)
    return interpolate(xp, f, ii - (dt / dx) * vx, jj - (dt / dx) * vy)


def mac_cormack(xp, f, vx, vy, dt, dx, correction_strength: float = 1.0):
    """MacCormack advection of ``f`` (B, C, Nx, Ny), given the velocity ``(vx, vy)`` at f's own
    sample points (broadcastable to f), as PhiFlow's ``advect.mac_cormack`` with the Euler integrator:

    :math:`\\hat f = f(p - \\Delta t v)`, :math:`\\check f = \\hat f(p + \\Delta t v)`,
    :math:`f' = \\mathrm{clip}(\\hat f + \\tfrac{s}{2}(f - \\check f),\\ \\min, \\max)` where min/max
    run over the 2×2 values of f around the back-traced point.
    """
    ii, jj = _grid_coords(xp, f)
    sx, sy = (dt / dx) * vx, (dt / dx) * vy
    semi, lo, hi = interpolate(xp, f, ii - sx, jj - sy, limits=True)
    inv = interpolate(xp, semi, ii + sx, jj + sy)
    new = semi + correction_strength * 0.5 * (f - inv)
    return xp.minimum(xp.maximum(new, lo), hi)


def advect_velocity(xp, u, dt, dx, staggered: bool = True):
    """MacCormack self-advection of the velocity (staggered, or centred for the collocated scheme)."""
    if staggered:
        vx, vy = face_velocities(xp, u)
    else:
        vx, vy = u[:, 0:1], u[:, 1:2]
    return mac_cormack(xp, u, vx, vy, dt, dx)


def advect_scalar(xp, m, u, dt, dx, staggered: bool = True):
    """MacCormack advection of a centred scalar ``m`` (B, Nx, Ny) by the velocity ``u``."""
    v = staggered_to_centered(xp, u) if staggered else u
    return mac_cormack(xp, m[:, None], v[:, 0:1], v[:, 1:2], dt, dx)[:, 0]


# ----------------------------------------------------------------------------------------------
# projection, energy, diagnostics
# ----------------------------------------------------------------------------------------------
def _mean_hw(xp, a):
    return xp.mean(a, axis=(-2, -1), keepdims=True)


def project(
    be, u, dx, pressure=None, rtol: float = 1e-5, atol: float = 1e-5, maxiter: int = 1000, staggered: bool = True
):
    """Pressure projection (PhiFlow's ``make_incompressible`` on a periodic domain).

    Solves :math:`\\nabla^2 p = d - \\bar d` with :math:`d = \\nabla\\cdot u` (the periodic Poisson
    problem is singular; the mean-balanced right-hand side lies in the range) by CG on the SPD
    operator :math:`-\\nabla^2`, warm-started from ``pressure``; per example CG stops when
    :math:`\\lVert r\\rVert_2^2 \\le \\max(\\mathrm{rtol}^2\\lVert d\\rVert_2^2, \\mathrm{atol}^2)`.
    Returns :math:`(u - \\nabla p,\\ p)`. Gradients use the implicit CG adjoint.
    """
    xp = be.xp
    if staggered:
        div, lap, grad = divergence(xp, u, dx), laplace, gradient
    else:
        div, lap, grad = divergence_centered(xp, u, dx), laplace_centered, gradient_centered
    div = div - _mean_hw(xp, div)
    x0 = xp.zeros_like(div) if pressure is None else pressure
    p = be.linear_solve(lambda q: -lap(xp, q, dx), -div, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter)
    return u - grad(xp, p, dx), p


def component_energy(xp, u):
    """Mean of :math:`u_c^2` over the cells, per component: ``(B, 2, 1, 1)``."""
    return _mean_hw(xp, u * u)


def renormalize_energy(xp, u, e0):
    """Rescale each component by :math:`\\sqrt{E_0/E}` (0 where E = 0) so its mean square is ``e0``."""
    e = component_energy(xp, u)
    ok = (e > 0) & (e0 > 0)  # elsewhere the factor is 0 (or irrelevant); keep sqrt away from 0 for finite gradients
    ratio = xp.where(ok, e0 / xp.where(ok, e, xp.ones_like(e)), xp.ones_like(e))
    return u * xp.where(ok, xp.sqrt(ratio), xp.zeros_like(e))


def center_of_mass(xp, m, dx):
    """Non-periodic centre of mass :math:`\\sum_p p\\,m(p) / \\sum_p m(p)` in physical units: (B, 2)."""
    nx, ny = m.shape[-2], m.shape[-1]
    px = xp.reshape(xp.asarray(cell_centers(nx, dx), dtype=m.dtype, device=device_of(m)), (1, nx, 1))
    py = xp.reshape(xp.asarray(cell_centers(ny, dx), dtype=m.dtype, device=device_of(m)), (1, 1, ny))
    total = xp.sum(m, axis=(-2, -1))
    return xp.stack([xp.sum(px * m, axis=(-2, -1)) / total, xp.sum(py * m, axis=(-2, -1)) / total], axis=-1)


def physics_step(be, m, u, p, dt, dx, atol: float = 1e-4, maxiter: int = 1000, staggered: bool = True):
    """One step of the marker experiment (``train_fluid.py:physics_step``):

    1. :math:`E_0 = \\overline{u_c^2}` per component;
    2. MacCormack self-advection of u;
    3. projection by CG (rtol 0, ``atol``) warm-started from ``p``;
    4. per-component energy renormalisation to :math:`E_0`;
    5. MacCormack advection of the marker m (B, Nx, Ny) with the new u.

    Returns ``(m, u, p)``.
    """
    xp = be.xp
    e0 = component_energy(xp, u)
    u = advect_velocity(xp, u, dt, dx, staggered)
    u, p = project(be, u, dx, p, rtol=0.0, atol=atol, maxiter=maxiter, staggered=staggered)
    u = renormalize_energy(xp, u, e0)
    m = advect_scalar(xp, m, u, dt, dx, staggered)
    return m, u, p


def rollout(
    be, m, u, steps, dt, dx, atol: float = 1e-4, maxiter: int = 1000, staggered: bool = True, record_com: bool = False
):
    """``steps`` physics steps from pressure 0. Returns ``(m, u, p, coms)`` with ``coms`` the list of
    marker centres of mass after steps 0..steps (empty unless ``record_com``)."""
    xp = be.xp
    p = None
    coms = [center_of_mass(xp, m, dx)] if record_com else []
    for _ in range(steps):
        m, u, p = physics_step(be, m, u, p, dt, dx, atol, maxiter, staggered)
        if record_com:
            coms.append(center_of_mass(xp, m, dx))
    return m, u, p, coms
