"""pgbench's operators against numbers computed by PhiFlow 2.2.7 and the authors' ``inv_diffuse.py``
(``tests/data/phiflow_reference.npz``, written by ``benchmarks/peers/phiflow_reference.py`` in a
PhiFlow environment; see its docstring for what each array is)."""

from pathlib import Path

import numpy as np
import pytest

import pgbench
from pgbench.backends import get_backend
from pgbench.ops import laplace, soft_box_mask

REF = np.load(Path(__file__).parent / "data" / "phiflow_reference.npz")


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_reference_comes_from_phiflow_2_2_7():
    assert str(REF["phiflow_version"]) == "2.2.7"


def test_navier_stokes_reference_moves_and_projects():
    """The advection moved the fields (u up to 0.75 cells per step) and the projection changed u."""
    assert np.abs(REF["ns_u_advected"] - REF["ns_u"]).max() > 0.05 * np.abs(REF["ns_u"]).max()
    assert np.abs(REF["ns_u_projected"] - REF["ns_u_advected"]).max() > 0.05 * np.abs(REF["ns_u"]).max()


def test_soft_box_masks_equal_phiflow(backend):
    be = get_backend(backend)
    lower, upper = (be.asarray(REF[k], "float64") for k in ("mask_lower", "mask_upper"))
    masks = be.to_numpy(soft_box_mask(be.xp, lower, upper, (64, 64)))
    np.testing.assert_allclose(masks, REF["mask_values"], rtol=0, atol=1e-12)


def test_heat_diffusion_and_authors_damped_inverse(backend):
    """y = diffuse.fourier(x, τ = 8) of the heat problem, and the damped inverse of a residual
    (``Heat.inverse`` from x = 0, i.e. Δx itself) against the authors' ``inv_diffuse``."""
    be = get_backend(backend)
    heat = pgbench.make_problem("heat", scale="paper")
    x = be.asarray(REF["heat_x"][:, None], "float64")
    y = be.to_numpy(heat.forward(be, x))[:, 0]
    np.testing.assert_allclose(y, REF["heat_y"], rtol=0, atol=1e-12)
    r = REF["heat_residual"][:, None]
    zero = be.asarray(np.zeros_like(r), "float64")
    dx = be.to_numpy(heat.inverse(be, zero, be.asarray(r, "float64")))[:, 0]   # P(0) = 0: the residual is r
    # the inverse amplifies the FFTs' round-off (PhiFlow ran on torch's FFT): 1e-9 relative seen
    assert _rel(dx, REF["heat_inverse"]) < 1e-8


def test_poisson_laplacian_and_solve(backend):
    """The zero-boundary 5-point Laplacian and CG give PhiFlow's solve of ∇²y = x; the Poisson
    problem's own forward (float32, rel. tol. 1e-5, as in the paper) lands within 1e-4 of it."""
    be = get_backend(backend)
    y_ref = REF["poisson_y"][:, None]
    lap = be.to_numpy(laplace(be.xp, be.asarray(y_ref, "float64")))[:, 0]
    np.testing.assert_allclose(lap, REF["poisson_laplace_y"], rtol=0, atol=1e-9)
    x = be.asarray(REF["poisson_x"][:, None], "float64")
    y = be.linear_solve(lambda v: -laplace(be.xp, v), -x, None, rtol=1e-10, atol=0.0, maxiter=10000)
    assert _rel(be.to_numpy(y), y_ref) < 1e-8
    poisson = pgbench.make_problem("poisson", scale="paper")
    y32 = be.to_numpy(poisson.forward(be, be.asarray(REF["poisson_x"][:, None], "float32")))
    assert _rel(y32, y_ref) < 1e-4


def test_navier_stokes_advection_and_projection(backend):
    """On the Navier-Stokes grid (periodic, dx = 2, Δt = 0.25): MacCormack self-advection of a
    staggered velocity, its pressure projection, and MacCormack advection of a centred marker."""
    from pgbench.ops.fluid import advect_scalar, advect_velocity, divergence, project
    be = get_backend(backend)
    u = be.asarray(REF["ns_u"], "float64")
    u_adv = advect_velocity(be.xp, u, 0.25, 2.0)
    np.testing.assert_allclose(be.to_numpy(u_adv), REF["ns_u_advected"], rtol=0, atol=1e-10)
    u_proj, _ = project(be, be.asarray(REF["ns_u_advected"], "float64"), 2.0, rtol=1e-12, atol=1e-12, maxiter=10000)
    np.testing.assert_allclose(be.to_numpy(u_proj), REF["ns_u_projected"], rtol=0, atol=1e-9)
    assert np.abs(be.to_numpy(divergence(be.xp, u_proj, 2.0))).max() < 1e-9
    m_adv = advect_scalar(be.xp, be.asarray(REF["ns_m"], "float64"), be.asarray(REF["ns_u_projected"], "float64"),
                          0.25, 2.0)
    np.testing.assert_allclose(be.to_numpy(m_adv), REF["ns_m_advected"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("key", ["heat_y", "heat_inverse", "poisson_y", "ns_u_advected", "ns_m_advected"])
def test_reference_is_not_trivial(key):
    """The references are real fields (a zero or constant array would make the checks above vacuous)."""
    a = REF[key]
    assert np.all(np.std(a, axis=(-2, -1)) > 1e-3 * np.abs(a).max())
