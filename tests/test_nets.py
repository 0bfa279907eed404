import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.nets import MLP, Conv1dNet


@pytest.mark.parametrize("problem_id,count", [("sin", 461), ("sin2d", 4354), ("exp", 2177)])
def test_paper_parameter_counts(problem_id, count):
    assert pgbench.make_problem(problem_id, scale="paper").network().n_params() == count


def test_wavepacket_net_parameter_count():
    # 5 blocks of two k=3 convs with 16 channels, then 128 -> 64 -> 32 -> 2 (spec (a): 17,522)
    assert Conv1dNet().n_params() == 17522


def test_mlp_matches_manual_computation(backend):
    be = get_backend(backend)
    net = MLP((3, 4, 2), "relu")
    p = net.init_numpy(np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, 3))
    expected = np.maximum(x @ p["w0"] + p["b0"], 0) @ p["w1"] + p["b1"]
    out = be.to_numpy(net.apply(be, net.init(np.random.default_rng(0), be), be.asarray(x, "float32")))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_initialisation_is_identical_across_backends():
    net = pgbench.make_problem("wavepacket").network()
    a = net.init(keys.rng(3, "net"), get_backend("torch"))
    b = net.init(keys.rng(3, "net"), get_backend("jax"))
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), np.asarray(b[k]))


def test_conv_net_parity_between_backends():
    net = Conv1dNet()
    x = np.random.default_rng(0).standard_normal((4, 1, 256)).astype(np.float32)
    outs = []
    for name in ("torch", "jax"):
        be = get_backend(name)
        outs.append(be.to_numpy(net.apply(be, net.init(np.random.default_rng(0), be), be.asarray(x))))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5)


def test_sigmoid_saturates_like_torch_instead_of_making_nan_gradients(backend):
    """Pre-activations below −88.7 overflow e^{−x} in float32; 1/(1 + e^{−x}) then has the
    gradient inf/inf = NaN, which made exp's Supervised run (SGD 1e-2, summed loss) NaN at its
    third update, where the authors' torch.nn.Sigmoid saturates (σ = σ' = 0) and trains on. Values
    and gradients equal torch.sigmoid's, and are unchanged bit for bit where e^{−x} is finite."""
    import torch

    from pgbench.nets import activation

    be = get_backend(backend)
    x = np.float32([-1000.0, -100.0, -88.0, -30.0, -1.0, 0.0, 2.5, 100.0])
    value, grad = be.value_and_grad(lambda v: be.xp.sum(activation(be.xp, "sigmoid", v) * be.asarray(x)))(be.asarray(x))
    t = torch.tensor(x, requires_grad=True)
    (torch.sigmoid(t) * torch.tensor(x)).sum().backward()
    g = be.to_numpy(grad)
    assert np.all(np.isfinite(g)), g
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-5, atol=1e-30)
    finite = be.asarray(x[x >= -88.0])
    old = 1.0 / (1.0 + be.xp.exp(-finite))  # the formula before, on the same backend
    np.testing.assert_array_equal(be.to_numpy(activation(be.xp, "sigmoid", finite)), be.to_numpy(old))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_mlp_apply_seeds_is_each_seeds_apply(backend):
    """MLP.apply_seeds (batched products, no vmap) = apply of each seed's parameters on its input;
    the default Net.apply_seeds (vmap) agrees."""
    be = get_backend(backend)
    net = MLP((2, 5, 3), "tanh")
    ps = [net.init(keys.rng(s, "net"), be) for s in range(3)]
    stacked = {k: be.xp.stack([p[k] for p in ps]) for k in ps[0]}
    x = be.asarray(np.random.default_rng(1).standard_normal((3, 4, 2)).astype(np.float32))
    out = be.to_numpy(net.apply_seeds(be, stacked, x))
    assert out.shape == (3, 4, 3)
    default = be.to_numpy(pgbench.nets.Net.apply_seeds(net, be, stacked, x))
    for s in range(3):
        one = be.to_numpy(net.apply(be, ps[s], x[s]))
        np.testing.assert_allclose(out[s], one, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(default[s], one, rtol=1e-6, atol=1e-7)
    assert not np.allclose(out[0], out[1])
