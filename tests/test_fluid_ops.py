"""Staggered-grid fluid operators (pgbench.ops.fluid): checked against independent computations
(scipy interpolation, analytic translations, discrete identities) on both backends."""

import numpy as np
import pytest
from scipy import ndimage

from pgbench.backends import get_backend
from pgbench.ops import fluid as F

BACKENDS = ["torch", "jax"]


def smooth_field(rng, b, c, n, k=3):
    """Random periodic field made of the lowest k Fourier modes: (b, c, n, n) float64."""
    x = np.arange(n) / n
    out = np.zeros((b, c, n, n))
    for kx in range(-k, k + 1):
        for ky in range(-k, k + 1):
            a = rng.normal(size=(b, c, 1, 1)) / (1 + kx * kx + ky * ky)
            ph = rng.uniform(0, 2 * np.pi, size=(b, c, 1, 1))
            out += a * np.cos(2 * np.pi * (kx * x[:, None] + ky * x[None, :]) + ph)
    return out


@pytest.fixture(params=BACKENDS)
def be(request):
    return get_backend(request.param)


def test_interpolate_matches_scipy_grid_wrap(be):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 3, 7, 9))
    cx = rng.uniform(-12, 20, size=f.shape)
    cy = rng.uniform(-12, 20, size=f.shape)
    out = be.to_numpy(F.interpolate(be.xp, be.asarray(f, "float64"), be.asarray(cx, "float64"),
                                    be.asarray(cy, "float64")))
    ref = np.empty_like(f)
    for b in range(2):
        for c in range(3):
            ref[b, c] = ndimage.map_coordinates(f[b, c], [cx[b, c].ravel(), cy[b, c].ravel()], order=1,
                                                mode="grid-wrap").reshape(7, 9)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_interpolate_limits_are_the_surrounding_values(be):
    rng = np.random.default_rng(1)
    f = rng.normal(size=(1, 1, 5, 5))
    val, lo, hi = F.interpolate(be.xp, be.asarray(f, "float64"), be.asarray(np.full(f.shape, 1.25)),
                                be.asarray(np.full(f.shape, -0.5)), limits=True)
    quad = [f[0, 0, 1, 4], f[0, 0, 1, 0], f[0, 0, 2, 4], f[0, 0, 2, 0]]   # rows 1..2, columns -1 (=4) .. 0
    assert be.to_numpy(lo)[0, 0, 0, 0] == pytest.approx(min(quad))
    assert be.to_numpy(hi)[0, 0, 0, 0] == pytest.approx(max(quad))
    assert min(quad) <= be.to_numpy(val)[0, 0, 0, 0] <= max(quad)


@pytest.mark.parametrize("staggered", [True, False])
def test_advection_of_a_constant_field_is_exact(be, staggered):
    rng = np.random.default_rng(2)
    n, dx = 16, 2.0
    vel = be.asarray(smooth_field(rng, 2, 2, n) * 5, "float32")      # several cells per step
    const = be.asarray(np.full((2, 2, n, n), 1.7), "float32")
    marker = be.asarray(np.full((2, n, n), 0.3), "float32")
    xp = be.xp
    from_vel = F.mac_cormack(xp, const, vel[:, 0:1], vel[:, 1:2], 0.25, dx)
    assert np.all(be.to_numpy(from_vel) == np.float32(1.7))
    m = F.advect_scalar(xp, marker, vel, 0.7, dx, staggered=staggered)
    assert np.all(be.to_numpy(m) == np.float32(0.3))


def test_uniform_translation_by_whole_cells_is_a_roll(be):
    rng = np.random.default_rng(3)
    n, dx, dt = 12, 2.0, 0.5
    f = rng.normal(size=(1, 1, n, n))
    vx, vy = 3 * dx / dt, -2 * dx / dt     # 3 cells in x, -2 cells in y per step
    out = F.mac_cormack(be.xp, be.asarray(f, "float64"), vx, vy, dt, dx)
    np.testing.assert_allclose(be.to_numpy(out), np.roll(f, (3, -2), axis=(2, 3)), atol=1e-12)


def test_mac_cormack_is_more_accurate_than_semi_lagrangian(be):
    n, dx, dt = 32, 1.0, 1.0
    x = np.arange(n)
    f = np.sin(2 * np.pi * 2 * x / n)[:, None] * np.cos(2 * np.pi * 3 * x / n)[None, :]
    vx, vy = 0.37, -0.21          # sub-cell shift
    exact = (np.sin(2 * np.pi * 2 * (x - vx * dt) / n)[:, None]
             * np.cos(2 * np.pi * 3 * (x - vy * dt) / n)[None, :])
    fb = be.asarray(f[None, None], "float64")
    mc = be.to_numpy(F.mac_cormack(be.xp, fb, vx, vy, dt, dx))[0, 0]
    sl = be.to_numpy(F.semi_lagrangian(be.xp, fb, vx, vy, dt, dx))[0, 0]
    err_mc, err_sl = np.abs(mc - exact).max(), np.abs(sl - exact).max()
    assert err_mc < 0.25 * err_sl, (err_mc, err_sl)


def test_staggered_resampling_and_operators(be):
    rng = np.random.default_rng(4)
    n, dx = 8, 2.0
    v = rng.normal(size=(2, 2, n, n))
    xp = be.xp
    u = be.to_numpy(F.centered_to_staggered(xp, be.asarray(v, "float64")))
    np.testing.assert_allclose(u[:, 0, 3, 5], 0.5 * (v[:, 0, 2, 5] + v[:, 0, 3, 5]))
    np.testing.assert_allclose(u[:, 1, 3, 0], 0.5 * (v[:, 1, 3, n - 1] + v[:, 1, 3, 0]))
    c = be.to_numpy(F.staggered_to_centered(xp, be.asarray(u, "float64")))
    np.testing.assert_allclose(c[:, 0, n - 1, 2], 0.5 * (u[:, 0, n - 1, 2] + u[:, 0, 0, 2]))
    p = rng.normal(size=(2, n, n))
    lap = be.to_numpy(F.laplace(xp, be.asarray(p, "float64"), dx))
    via = be.to_numpy(F.divergence(xp, F.gradient(xp, be.asarray(p, "float64"), dx), dx))
    np.testing.assert_allclose(lap, via, atol=1e-12)
    # face velocities: the other component is the mean of the four surrounding faces
    vx, vy = (be.to_numpy(a) for a in F.face_velocities(xp, be.asarray(u, "float64")))
    i, j = 0, 7
    np.testing.assert_allclose(vy[:, 0, i, j], 0.25 * (u[:, 1, i - 1, j] + u[:, 1, i, j] + u[:, 1, i - 1, (j + 1) % n]
                                                      + u[:, 1, i, (j + 1) % n]))
    np.testing.assert_allclose(vx[:, 1, i, j], 0.25 * (u[:, 0, i, j] + u[:, 0, i + 1, j] + u[:, 0, i, j - 1]
                                                      + u[:, 0, i + 1, j - 1]))
    np.testing.assert_array_equal(vx[:, 0], u[:, 0])
    np.testing.assert_array_equal(vy[:, 1], u[:, 1])


@pytest.mark.parametrize("staggered", [True, False])
def test_divergence_after_projection_below_tolerance(be, staggered):
    rng = np.random.default_rng(5)
    n, dx, atol = 32, 4.0, 1e-4
    xp = be.xp
    div = F.divergence if staggered else F.divergence_centered
    norm = lambda a: np.sqrt((a ** 2).sum(axis=(1, 2)))  # noqa: E731
    v = smooth_field(rng, 3, 2, n, k=5) * 10
    # float64: the CG residual is the divergence of the projected field, so it meets the tolerance
    u = be.asarray(v, "float64")
    up, p = F.project(be, u, dx, None, rtol=0.0, atol=atol, staggered=staggered)
    before, after = norm(be.to_numpy(div(xp, u, dx))), norm(be.to_numpy(div(xp, up, dx)))
    assert np.all(before > 1000 * atol)
    assert np.all(after <= atol * (1 + 1e-6)), after
    # float32 (the training dtype): the recursive CG residual drifts from the true one by rounding
    u32 = be.asarray(v, "float32")
    up32, _ = F.project(be, u32, dx, None, rtol=0.0, atol=atol, staggered=staggered)
    assert np.all(norm(be.to_numpy(div(xp, up32, dx))) <= 5 * atol)


def test_projection_keeps_divergence_free_and_removes_gradient_fields(be):
    rng = np.random.default_rng(6)
    n, dx = 16, 2.0
    psi = smooth_field(rng, 2, 1, n)[:, 0]
    # u = curl ψ on the MAC grid (ψ at the nodes): exactly divergence-free
    ux = (np.roll(psi, -1, axis=2) - psi) / dx
    uy = -(np.roll(psi, -1, axis=1) - psi) / dx
    free = np.stack([ux, uy], 1)
    phi = smooth_field(rng, 2, 1, n)[:, 0]
    xp = be.xp
    grad = be.to_numpy(F.gradient(xp, be.asarray(phi, "float64"), dx))
    assert np.abs(be.to_numpy(F.divergence(xp, be.asarray(free, "float64"), dx))).max() < 1e-12
    out, _ = F.project(be, be.asarray(free + grad, "float64"), dx, None, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(out), free, atol=1e-8)


def test_warm_start_needs_fewer_iterations():
    """Warm-starting from the previous pressure (the physics step's x0) reaches the same tolerance."""
    from pgbench.backends import cg
    be = get_backend("torch")
    xp = be.xp
    rng = np.random.default_rng(7)
    n, dx = 32, 4.0
    u = be.asarray(smooth_field(rng, 2, 2, n, k=5) * 10, "float64")
    d = F.divergence(xp, u, dx)
    d = d - xp.mean(d, axis=(1, 2), keepdims=True)
    mv = lambda q: -F.laplace(xp, q, dx)  # noqa: E731
    p_cold, it_cold = cg.cg_eager(mv, -d, xp.zeros_like(d), 0.0, 1e-4, 1000, check_every=1)
    assert it_cold > 10
    _, it_warm = cg.cg_eager(mv, -d, p_cold, 0.0, 1e-4, 1000, check_every=1)
    assert it_warm == 0
    # project() hands x0 to the solver: from the converged pressure it returns that pressure
    u2, p2 = F.project(be, u, dx, p_cold, rtol=0.0, atol=1e-4)
    np.testing.assert_array_equal(be.to_numpy(p2), be.to_numpy(p_cold))


def test_energy_is_preserved_per_component():
    be = get_backend("torch")  # jax: covered by the rollout parity test
    rng = np.random.default_rng(8)
    n, dx = 32, 4.0
    xp = be.xp
    v = be.asarray(smooth_field(rng, 2, 2, n, k=4) * 6, "float32")
    u, _ = F.project(be, F.centered_to_staggered(xp, v), dx, None, rtol=1e-5, atol=1e-5)
    m = be.asarray(rng.uniform(size=(2, n, n)), "float32")
    e0 = be.to_numpy(F.component_energy(xp, u))[:, :, 0, 0]
    m1, u1, p1 = F.physics_step(be, m, u, None, 0.25, dx)
    e1 = be.to_numpy(F.component_energy(xp, u1))[:, :, 0, 0]
    np.testing.assert_allclose(e1, e0, rtol=1e-5)
    # without renormalisation the step would change the energies (MacCormack clamping, projection)
    raw, _ = F.project(be, F.advect_velocity(xp, u, 0.25, dx), dx, p1, rtol=0.0, atol=1e-4)
    assert np.abs(be.to_numpy(F.component_energy(xp, raw))[:, :, 0, 0] / e0 - 1).max() > 1e-4
    # a zero component stays zero (no 0/0)
    z = xp.stack([u[:, 0], xp.zeros_like(u[:, 1])], axis=1)
    assert np.all(np.isfinite(be.to_numpy(F.renormalize_energy(xp, z, F.component_energy(xp, z)))))


def test_marker_is_bounded_and_moves_with_the_flow():
    be = get_backend("torch")  # jax: covered by the rollout parity test
    n, dx, dt = 32, 4.0, 0.25
    xp = be.xp
    m = np.zeros((1, n, n))
    m[0, 8:12, 14:18] = 1.0
    u = np.zeros((1, 2, n, n))
    u[:, 0] = 16.0                                    # one cell per step in x
    mb, ub = be.asarray(m, "float64"), be.asarray(u, "float64")
    for _ in range(8):
        mb, ub, _ = F.physics_step(be, mb, ub, None, dt, dx)
    np.testing.assert_allclose(be.to_numpy(mb), np.roll(m, 8, axis=1), atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(ub), u, atol=1e-12)
    # half a cell per step: the clamped MacCormack stays within [0, 1]; the first moment moves
    # forward (the limiter makes it lag the exact 16 slightly, as PhiFlow's)
    u[:, 0] = 8.0
    mb, ub = be.asarray(m, "float64"), be.asarray(u, "float64")
    for _ in range(8):
        mb, ub, _ = F.physics_step(be, mb, ub, None, dt, dx)
    out = be.to_numpy(mb)
    assert out.min() >= 0.0 and out.max() <= 1.0
    com0 = be.to_numpy(F.center_of_mass(xp, be.asarray(m, "float64"), dx))[0]
    com1 = be.to_numpy(F.center_of_mass(xp, mb, dx))[0]
    assert 12.0 < com1[0] - com0[0] <= 16.0 and abs(com1[1] - com0[1]) < 1e-9


def test_center_of_mass_of_single_cell(be):
    m = np.zeros((1, 8, 8))
    m[0, 2, 5] = 3.0
    com = be.to_numpy(F.center_of_mass(be.xp, be.asarray(m, "float64"), 2.0))
    np.testing.assert_allclose(com, [[5.0, 11.0]])


def test_rollout_gradient_matches_finite_differences():
    """d/du0 of a scalar of the 2-step rollout (advection, projection with the implicit CG adjoint,
    renormalisation, marker advection) against central differences, float64, tight CG."""
    be = get_backend("torch")
    xp = be.xp
    rng = np.random.default_rng(9)
    n, dx = 8, 4.0
    u0 = F.project(be, F.centered_to_staggered(xp, be.asarray(smooth_field(rng, 1, 2, n, 2) * 4, "float64")),
                   dx, None, rtol=1e-13, atol=1e-13)[0]
    m0 = be.asarray(smooth_field(rng, 1, 1, n, 2)[:, 0] ** 2, "float64")
    wgt = be.asarray(rng.normal(size=(1, n, n)), "float64")

    def f(u):
        m, *_ = F.rollout(be, m0, u, 2, 0.25, dx, atol=1e-13)
        return xp.sum(m * wgt)

    _, g = be.value_and_grad(f)(u0)
    g = be.to_numpy(g)
    u_np = be.to_numpy(u0)
    eps = 1e-6
    for idx in [(0, 0, 1, 2), (0, 1, 5, 3), (0, 0, 7, 7), (0, 1, 0, 4)]:
        e = np.zeros_like(u_np)
        e[idx] = eps
        fd = (float(f(be.asarray(u_np + e))) - float(f(be.asarray(u_np - e)))) / (2 * eps)
        assert g[idx] == pytest.approx(fd, rel=1e-4, abs=1e-7), idx


def test_torch_jax_parity_of_a_rollout():
    rng = np.random.default_rng(10)
    n, dx = 16, 8.0
    v = smooth_field(rng, 2, 2, n, 3) * 5
    m = rng.uniform(size=(2, n, n))
    outs = []
    for name in BACKENDS:
        be = get_backend(name)
        xp = be.xp
        u = F.project(be, F.centered_to_staggered(xp, be.asarray(v, "float64")), dx, None, rtol=1e-10, atol=1e-10)[0]
        mt, ut, pt, coms = F.rollout(be, be.asarray(m, "float64"), u, 2, 0.25, dx, atol=1e-10, record_com=True)
        outs.append([be.to_numpy(a) for a in (mt, ut, pt, coms[-1])])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)
