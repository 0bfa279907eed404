"""FNO network option (issue 21 item 4): backend parity, an independent DFT check of the spectral
layer, shapes and parameter counts, training on Poisson / heat / Navier-Stokes (run keys: tests/test_run_keys.py)."""

import numpy as np
import pytest

from pgbench.backends import get_backend
from pgbench.nets import FNO2d, UNet
from pgbench.registry import make_problem
from pgbench.runner import run


def _params(net, be, dtype="float64", seed=0):
    return {k: be.asarray(v, dtype) for k, v in net.init_numpy(np.random.default_rng(seed)).items()}


def test_fno_torch_and_jax_agree_in_float64():
    net = FNO2d(2, 2, modes=3, width=5, layers=2, projection=7)
    x = np.random.default_rng(1).normal(size=(3, 2, 8, 10))
    outs = []
    for name in ("torch", "jax"):
        be = get_backend(name)
        outs.append(be.to_numpy(net.apply(be, _params(net, be), be.asarray(x, "float64"))))
    assert outs[0].shape == (3, 2, 8, 10) and outs[0].dtype == np.float64
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-12)


def _direct_spectral(v, re, im, m):
    """The spectral convolution by an explicit DFT sum (no FFT): for every output cell,
    Re Σ_k c_k ŵ_k e^{2πi(k·x)} with ŵ = Σ_x v e^{-2πi(k·x)}, over the kept modes k; c_k = 1 on
    the k_y = 0 and (even W) k_y = W/2 columns, else 2 (the Hermitian partner of a real signal)."""
    b, h, w, c = v.shape
    xs, ys = np.arange(h), np.arange(w)
    out = np.zeros((b, h, w, re.shape[-1]))
    rows = list(range(m)) + list(range(h - m, h))
    for i, kx in enumerate(rows):
        for ky in range(m):
            e = np.exp(-2j * np.pi * (kx * xs[:, None] / h + ky * ys[None, :] / w))   # (H, W)
            vhat = np.einsum("bxyc,xy->bc", v, e)
            r = vhat @ (re[i, ky] + 1j * im[i, ky])                                  # (B, C_out)
            weight = 1.0 if ky == 0 or (w % 2 == 0 and ky == w // 2) else 2.0
            out += weight * np.real(np.einsum("bo,xy->bxyo", r, np.conj(e))) / (h * w)
    return out


def test_spectral_layer_equals_a_direct_dft():
    m, h, w, c = 2, 6, 5, 3
    net = FNO2d(1, 1, modes=m, width=c, layers=1)
    rng = np.random.default_rng(3)
    v = rng.normal(size=(2, h, w, c))
    re, im = rng.normal(size=(2, 2 * m, m, c, c))
    want = _direct_spectral(v, re, im, m)
    for name in ("torch", "jax"):
        be = get_backend(name)
        got = be.to_numpy(net.spectral(be.xp, be.asarray(v, "float64"), be.asarray(re, "float64"),
                                       be.asarray(im, "float64")))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_parameter_counts_as_documented():
    assert FNO2d(1, 1).n_params() == 414_177
    assert FNO2d(2, 2).n_params() == 414_326
    net = FNO2d(1, 1, modes=4, width=8, layers=3, projection=16, grid=False)
    w, m, L, p = 8, 4, 3, 16
    assert net.n_params() == 1 * w + w + L * (4 * m * m * w * w + w * w + w) + w * p + p + p + 1


@pytest.mark.parametrize("problem, channels", [("poisson", 1), ("heat", 1), ("navier-stokes", 2)])
def test_problems_choose_the_fno(problem, channels):
    p = make_problem(problem, scale="quick", net="fno", fno_modes=4, fno_width=6)
    net = p.network()
    assert isinstance(net, FNO2d) and (net.in_channels, net.out_channels, net.modes, net.width) == (channels, channels, 4, 6)
    assert p.settings()["net"] == "fno"
    default = make_problem(problem, scale="quick")
    assert isinstance(default.network(), UNet) and "net" not in default.settings()


def test_bad_network_settings_fail_before_work():
    with pytest.raises(ValueError, match="did you mean 'fno'"):
        make_problem("poisson", scale="quick", net="fnoo")
    with pytest.raises(ValueError, match="applies to net='fno' only"):
        make_problem("heat", scale="quick", fno_modes=4)
    with pytest.raises(ValueError, match="at least 40×39 cells"):
        make_problem("poisson", scale="quick", net="fno", fno_modes=20)   # 32×32 grid
    with pytest.raises(ValueError, match="fno_width must be >= 1"):
        make_problem("navier-stokes", scale="quick", net="fno", fno_width=0)


@pytest.mark.parametrize("problem, iterations", [("poisson", 12), ("heat", 12), ("navier-stokes", 6)])
def test_fno_training_decreases_the_held_out_loss(problem, iterations):
    p = make_problem(problem, scale="quick", net="fno", fno_modes=4, fno_width=8, fno_layers=2,
                     batch_size=4, test_size=4, eval_every=1)
    r = run(p, "dp", iterations=iterations, seed=0, throw=True)
    loss = r.records["eval_loss"].to_numpy()
    assert r.ok and np.isfinite(loss).all()
    assert loss[-1] < (1 - 1e-3) * loss[0], loss
