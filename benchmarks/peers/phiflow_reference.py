"""Reference numbers from PhiFlow 2.2.7 and the authors' ``inv_diffuse.py`` for pgbench's operators.

Runs in a Python with ``phiflow==2.2.7`` (not pgbench's environment). Draws fixed inputs with NumPy
(seed 0), evaluates on them, in float64, the operators pgbench re-implements, and writes one
``.npz`` that ``tests/test_phiflow_reference.py`` compares pgbench against on every backend:

* ``mask_*``: ``CenteredGrid(SoftGeometryMask(Cuboid(centre, half)), x=64, y=64)`` of 3 boxes;
* ``heat_*``: ``diffuse.fourier(x, 8, 1)`` on a periodic 64×64 grid, and the authors'
  ``inv_diffuse(r, 8, uncertainty=|r|·1e-6)`` (from a tum-pbs/SIP checkout, ``--sip``) of a residual;
* ``poisson_*``: ``solve_linear(laplace, x, Solve('CG', 1e-10, 0))`` with zero extrapolation
  (the Poisson experiment's forward physics, solved tightly) and ``laplace`` of it;
* ``ns_*``: on the Navier-Stokes domain (periodic, 64×64 cells of size 2, Δt = 0.25), a smooth
  staggered velocity u: ``advect.mac_cormack(u, u, Δt)``, ``fluid.make_incompressible`` of that
  (CG to 1e-12), and ``advect.mac_cormack(m, u', Δt)`` of a smooth centred marker m.

    /work/phiflow-venv/bin/python benchmarks/peers/phiflow_reference.py --sip .sip \\
        --out tests/data/phiflow_reference.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import phi.torch.flow  # noqa: F401  (PhiFlow's torch backend, as the paper's scripts; its NumPy backend's CG calls scipy with an argument recent scipy removed)
from phi import field, math
from phi.field import CenteredGrid, SoftGeometryMask, StaggeredGrid
from phi.geom import Box, Cuboid
from phi.math import Solve, batch, channel, extrapolation, spatial
from phi.physics import advect, diffuse, fluid

N = 64


def grid(values, ext):
    """A CenteredGrid over [0, N)² (dx = 1) holding ``values`` of shape (b, N, N)."""
    return CenteredGrid(math.tensor(values, batch("b"), spatial("x,y")), ext, bounds=Box(x=N, y=N), x=N, y=N)


def native(g) -> np.ndarray:
    return g.values.numpy("b,x,y")


def smooth(rng, shape, amplitude: float, kmax: int = 4) -> np.ndarray:
    """A smooth periodic random field over the last two axes: Fourier modes |k| <= kmax."""
    k = np.fft.fftfreq(N) * N
    low = (k[:, None] ** 2 + k[None, :] ** 2) <= kmax ** 2
    spec = (rng.standard_normal(shape + (N, N)) + 1j * rng.standard_normal(shape + (N, N))) * low
    f = np.real(np.fft.ifft2(spec))
    return amplitude * f / np.abs(f).max()


def boxes(rng, b: int, k: int):
    """Box corners (b, k, 2) inside the domain."""
    half = rng.uniform(1.0, 10.0, size=(b, k, 2))
    centre = rng.uniform(10.0, N - 10.0, size=(b, k, 2))
    return centre - half, centre + half


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sip", required=True, help="tum-pbs/SIP checkout (for heat/inv_diffuse.py)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    math.set_global_precision(64)
    sys.path.insert(0, str(Path(args.sip) / "heat"))
    from inv_diffuse import inv_diffuse  # the authors' file, executed unchanged

    rng = np.random.default_rng(0)
    out = {}

    lower, upper = boxes(rng, 2, 3)
    centre = math.tensor((lower + upper) / 2, batch("b", "box"), channel(vector="x,y"))
    half = math.tensor((upper - lower) / 2, batch("b", "box"), channel(vector="x,y"))
    masks = CenteredGrid(SoftGeometryMask(Cuboid(centre, half)), extrapolation.ZERO, bounds=Box(x=N, y=N), x=N, y=N)
    out.update(mask_lower=lower, mask_upper=upper, mask_values=masks.values.numpy("b,box,x,y"))

    strength = rng.uniform(0.2, 1.0, size=(2, 3))
    x = np.einsum("bk,bkij->bij", strength, out["mask_values"])
    y = native(diffuse.fourier(grid(x, extrapolation.PERIODIC), 8.0, 1))
    x_guess = x + 0.05 * rng.standard_normal(x.shape)
    r = y - native(diffuse.fourier(grid(x_guess, extrapolation.PERIODIC), 8.0, 1))
    r_grid = grid(r, extrapolation.PERIODIC)
    dx = native(inv_diffuse(r_grid, 8.0, uncertainty=abs(r_grid) * 1e-6)[0])
    out.update(heat_x=x, heat_y=y, heat_residual=r, heat_inverse=dx)

    px = rng.standard_normal((2, N, N))
    px -= px.mean(axis=(1, 2), keepdims=True)
    pg = grid(px, extrapolation.ZERO)
    py = field.solve_linear(field.laplace, pg, Solve("CG", 1e-10, 0, x0=pg * 0, max_iterations=10000))
    out.update(poisson_x=px, poisson_y=native(py), poisson_laplace_y=native(field.laplace(py)))

    u = smooth(rng, (2, 2), amplitude=6.0)                          # (b, vector, x, y): up to 0.75 cells per step
    ug = StaggeredGrid(math.tensor(np.moveaxis(u, 1, -1), batch("b"), spatial("x,y"), channel(vector="x,y")),
                       extrapolation.PERIODIC, bounds=Box(x=2 * N, y=2 * N), x=N, y=N)
    m = 0.5 + smooth(rng, (2,), amplitude=0.5)
    mg = CenteredGrid(math.tensor(m, batch("b"), spatial("x,y")), extrapolation.PERIODIC, bounds=Box(x=2 * N, y=2 * N),
                      x=N, y=N)
    u_adv = advect.mac_cormack(ug, ug, 0.25)
    u_proj, _ = fluid.make_incompressible(u_adv, solve=Solve("CG", 1e-12, 1e-12, max_iterations=10000))
    m_adv = advect.mac_cormack(mg, u_proj, 0.25)

    def stag(g):
        return np.stack([g.values.vector[c].numpy("b,x,y") for c in ("x", "y")], axis=1)
    out.update(ns_u=u, ns_m=m, ns_u_advected=stag(u_adv), ns_u_projected=stag(u_proj), ns_m_advected=native(m_adv))

    import phi
    np.savez_compressed(args.out, phiflow_version=phi.__version__, **out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
