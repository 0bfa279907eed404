"""Physics of the paper's small problems against independent numpy computations."""

import math

import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend


def test_wavepacket_forward_matches_formula(backend):
    be = get_backend(backend)
    p = pgbench.make_problem("wavepacket")
    x = np.array([[60.0, 2.5], [200.0, 1.2]], dtype=np.float32)
    y = be.to_numpy(p.forward(be, be.asarray(x)))
    xi = np.arange(256)
    for (xi0, amp), row in zip(x, y):
        np.testing.assert_allclose(row, amp * np.sin(4 * xi) * np.exp(-((xi - xi0) ** 2) / (2 * 20.0**2)),
                                   atol=2e-5)


def test_wavepacket_data_follow_the_priors():
    be = get_backend("torch")
    p = pgbench.make_problem("wavepacket")
    x, y = p.sample(keys.rng(0, "stats"), 4000, be)
    x = be.to_numpy(x)
    assert 25.6 <= x[:, 0].min() and x[:, 0].max() < 230.4
    assert 1.0 <= x[:, 1].min() and x[:, 1].max() < 4.0
    noise = be.to_numpy(y) - be.to_numpy(p.forward(be, be.asarray(x)))
    assert noise.std() == pytest.approx(1.0, rel=0.01) and abs(noise.mean()) < 0.01


def test_wavepacket_network_output_is_centred_at_the_bfgs_start():
    be = get_backend("torch")
    p = pgbench.make_problem("wavepacket")
    out = p.net_output(be, be.asarray(np.zeros((1, 2), dtype=np.float32)), None)
    np.testing.assert_allclose(be.to_numpy(out), [[128.0, 2.0]], rtol=1e-6)


def test_sin2d_closest_solution_is_a_solution_and_closest(backend):
    be = get_backend(backend)
    p = pgbench.make_problem("sin2d", ill_conditioning=3.0)
    x_true, t = p.sample(keys.rng(0, "s"), 64, be)
    x = x_true + be.asarray(np.random.default_rng(0).normal(0, 0.5, (64, 2)).astype(np.float32))
    c = p.closest_solution(be, x, t)
    np.testing.assert_allclose(be.to_numpy(p.loss(be, c, t)), 0, atol=1e-8)
    # brute force over both branches and many periods in u space
    tn, xn, cn = be.to_numpy(t), be.to_numpy(x), be.to_numpy(c)
    for i in range(64):
        cands = []
        for n in range(-40, 41):
            for u1 in (math.asin(tn[i, 0]) + 2 * math.pi * n, math.pi - math.asin(tn[i, 0]) + 2 * math.pi * n):
                cands.append(be.to_numpy(p.from_u(be, be.asarray(np.float32([u1])), be.asarray(np.float32([tn[i, 1]]))))[0])
        best = min(np.linalg.norm(np.asarray(cands) - xn[i], axis=1))
        assert np.linalg.norm(cn[i] - xn[i]) <= best + 1e-3


def test_sin2d_ill_conditioning_scales_the_axes():
    be = get_backend("torch")
    p = pgbench.make_problem("sin2d", angle=0.0, ill_conditioning=4.0)
    y = be.to_numpy(p.forward(be, be.asarray(np.float32([[0.01, 0.01]]))))
    np.testing.assert_allclose(y, [[math.sin(0.01 * 10 / 4), 0.01 * 10 * 4]], rtol=1e-5)


def test_authors_fidelity_uses_truncated_pi():
    a = pgbench.make_problem("sin2d", fidelity="authors").phi
    b = pgbench.make_problem("sin2d").phi
    assert a == pytest.approx(45 * 3.1415 / 180) and b == pytest.approx(math.pi / 4)


def test_exp_inverse_is_exact(backend):
    be = get_backend(backend)
    p = pgbench.make_problem("exp")
    x_true, y = p.sample(keys.rng(0, "e"), 16, be)
    x = p.inverse(be, be.zeros((16, 1)), y, 1.0)
    np.testing.assert_allclose(be.to_numpy(x), be.to_numpy(x_true), atol=1e-4)


def test_exp_generic_newton_matches_the_authors_formula():
    """Δx = |g/h| sign(-g), g = (e^x - y) e^x, h = 2e^{2x} - y e^x."""
    be = get_backend("torch")
    p = pgbench.make_problem("exp")
    x, y = -1.0, 0.05
    solver = pgbench.make_solver("newton")
    d = float(be.to_numpy(solver.delta(p, be, be.asarray(np.float32([[x]])), be.asarray(np.float32([[y]]))))[0, 0])
    g = (math.exp(x) - y) * math.exp(x)
    h = 2 * math.exp(2 * x) - y * math.exp(x)
    assert d == pytest.approx(abs(g / h) * math.copysign(1, -g), rel=1e-4)


def test_sin_supervised_labels_are_minima_closest_to_one():
    be = get_backend("torch")
    p = pgbench.make_problem("sin")
    x_true, a = p.sample(keys.rng(0, "l"), 100, be)
    np.testing.assert_allclose(be.to_numpy(p.loss(be, x_true, a)), 0, atol=1e-8)
    np.testing.assert_allclose(be.to_numpy(p.closest_minimum(be, be.xp.ones_like(a), a)), be.to_numpy(x_true))
