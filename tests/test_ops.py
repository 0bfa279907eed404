"""Shared physics kernels (pgbench.ops) against independent computations, on numpy, torch and jax."""

import math

import numpy as np
import pytest

from pgbench.backends import get_backend
from pgbench.ops import (diffusion_log_kernel, fourier_diffuse, inverse_diffuse_damped, k_squared, laplace,
                         noise, soft_box_mask)

BACKENDS = ["torch", "jax"]


def _dense_laplacian(n0, n1):
    """Kronecker sum of 1-D second differences with zero ghost cells (Dirichlet one cell out)."""
    def d2(n):
        return np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    return np.kron(d2(n0), np.eye(n1)) + np.kron(np.eye(n0), d2(n1))


@pytest.mark.parametrize("backend", ["numpy"] + BACKENDS)
def test_laplace_matches_dense_matrix(backend):
    x = np.random.default_rng(0).normal(size=(3, 1, 7, 5))
    expected = (_dense_laplacian(7, 5) @ x.reshape(3, -1).T).T.reshape(x.shape)
    if backend == "numpy":
        out = laplace(np, x)
    else:
        be = get_backend(backend)
        out = be.to_numpy(laplace(be.xp, be.asarray(x)))
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(laplace(np, x, dx=2.0), expected / 4, atol=1e-12)


def test_laplace_spectrum():
    """Smallest |eigenvalue| of the operator: 2·4 sin²(π/(2(n+1))) (sets GD's stability limit)."""
    ev = np.linalg.eigvalsh(_dense_laplacian(16, 16))
    assert ev.max() < 0
    assert math.isclose(-ev.max(), 8 * math.sin(math.pi / 34) ** 2, rel_tol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fourier_single_mode_decays_by_analytic_factor(backend):
    n0, n1, tau = 32, 16, 3.0
    i, j = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    m0, m1 = 3, 2
    x = np.cos(2 * np.pi * (m0 * i / n0 + m1 * j / n1) + 0.3)[None, None]
    factor = math.exp(-(2 * math.pi) ** 2 * ((m0 / n0) ** 2 + (m1 / n1) ** 2) * tau)
    be = get_backend(backend)
    lk = be.asarray(diffusion_log_kernel((n0, n1), tau), "float64")
    y = be.to_numpy(fourier_diffuse(be.xp, be.asarray(x), lk))
    np.testing.assert_allclose(y, factor * x, atol=1e-12)
    # the constant mode is preserved
    c = be.to_numpy(fourier_diffuse(be.xp, be.asarray(np.full((1, 1, n0, n1), 2.5)), lk))
    np.testing.assert_allclose(c, 2.5, atol=1e-12)


def test_k_squared_is_cycles_per_cell():
    k2 = k_squared((8, 4))
    assert k2[1, 0] == pytest.approx(1 / 64) and k2[0, 1] == pytest.approx(1 / 16)
    assert k2[4, 2] == pytest.approx(0.25 + 0.25)   # Nyquist: fftfreq gives -0.5


def test_inverse_diffuse_damped_inverts_clean_low_modes_and_leaves_zero_residual():
    n, tau = 32, 2.0
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = 0.01 * (np.cos(2 * np.pi * (i + 2 * j) / n) + 0.5 * np.sin(2 * np.pi * 3 * i / n))[None, None]
    lk = diffusion_log_kernel((n, n), tau)
    y = fourier_diffuse(np, x, lk)
    dx = inverse_diffuse_damped(np, y, lk, n)
    np.testing.assert_allclose(dx, x, atol=1e-10)
    assert np.all(inverse_diffuse_damped(np, np.zeros_like(y), lk, n) == 0)


def test_noise_statistics_and_spectrum():
    rng = np.random.default_rng(1)
    f = noise(rng, 256, (32, 32), scale=5.0)
    assert f.shape == (256, 32, 32)
    np.testing.assert_allclose(f.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(f.std(axis=(1, 2)), 1, atol=1e-12)
    power = (np.abs(np.fft.fft2(f)) ** 2).mean(axis=0)
    m = np.fft.fftfreq(32) * 32
    m2 = m[:, None] ** 2 + m[None, :] ** 2
    assert power[m2 <= 4].max() < 1e-20          # |K|² = |m|²·(5/32)² <= 0.1 removed
    # power ∝ |W|²/|m|⁴: shells |m|² = 5 and 20 differ by 16 on average
    ratio = power[m2 == 5].mean() / power[m2 == 20].mean()
    assert 12 < ratio < 21
    # same spectrum relative to the domain as scale 10 on 64 cells
    g = noise(np.random.default_rng(1), 1, (64, 64), scale=10.0)
    m64 = np.fft.fftfreq(64) * 64
    assert (np.abs(np.fft.fft2(g[0]))[(m64[:, None] ** 2 + m64[None, :] ** 2) <= 4] < 1e-9).all()
    v = noise(rng, 3, (16, 16), channels=2)
    assert v.shape == (3, 2, 16, 16)
    np.testing.assert_allclose(v.std(axis=(1, 2, 3)), 1, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_noise_transform_on_a_backend_matches_numpy(backend):
    """The host draws transformed on a backend's device give NumPy's field (float64 round-off)."""
    from pgbench.ops import noise_draws, noise_from_draws, noise_weight
    be = get_backend(backend)
    re, im = noise_draws(np.random.default_rng(3), 4, (16, 8), channels=2)
    w = noise_weight((16, 8), size=(32.0, 16.0), scale=5.0)
    f = noise_from_draws(be.xp, be.asarray(re, "float64"), be.asarray(im, "float64"), be.asarray(w, "float64"))
    ref = noise(np.random.default_rng(3), 4, (16, 8), size=(32.0, 16.0), scale=5.0, channels=2)
    np.testing.assert_allclose(be.to_numpy(f), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy"] + BACKENDS)
def test_soft_box_mask(backend):
    lower = np.array([[10.3, 5.2], [0.0, 0.0]])
    upper = np.array([[20.7, 9.9], [3.0, 32.0]])
    if backend == "numpy":
        m = soft_box_mask(np, lower, upper, (32, 32))
    else:
        be = get_backend(backend)
        m = be.to_numpy(soft_box_mask(be.xp, be.asarray(lower), be.asarray(upper), (32, 32)))
    assert m.shape == (2, 32, 32)
    r = math.sqrt(2) / 2
    assert m[0, 15, 7] == 1.0 and m[0, 2, 2] == 0.0
    # cell centre (10.5, 7.5) lies 0.2 inside the lower x face: clip(0.5 + 0.2/r)
    assert m[0, 10, 7] == pytest.approx(0.5 + 0.2 / r)
    assert m[0, 9, 7] == pytest.approx(max(0.0, 0.5 - 0.8 / r))
    # L∞ distance: the mask is the minimum of the per-axis ramps (square corners)
    assert m[0, 10, 5] == pytest.approx(min(0.5 + 0.2 / r, 0.5 + 0.3 / r, 1.0))
    # the ramp is symmetric about the surface, so the mass is close to the box area
    assert m[0].sum() == pytest.approx(10.4 * 4.7, rel=0.1)
    assert m[1].sum() == pytest.approx(3.0 * 32.0, rel=0.03)
