"""The paper's U-net: parameter counts, an independent torch.nn reference, torch-jax parity."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from pgbench.backends import get_backend
from pgbench.nets import UNet


def test_parameter_counts():
    assert UNet(1, 1).n_params() == 37_697
    assert UNet(2, 2, levels=5).n_params() == 49_570
    assert UNet(1, 1, batch_norm=False).n_params() == 37_697 - 2 * 2 * 16 * 7


def _reference(net: UNet, params: dict) -> nn.Module:
    """The same architecture assembled from torch.nn layers (BatchNorm in training mode)."""
    pm = "circular" if net.padding_mode == "circular" else "zeros"

    def dc(name, ci, cm, co):
        layers = []
        for j, (a, b) in enumerate(((ci, cm), (cm, co))):
            conv = nn.Conv2d(a, b, 3, padding=1, padding_mode=pm).double()
            conv.weight.data = torch.as_tensor(params[f"{name}.conv{j}.w"])
            conv.bias.data = torch.as_tensor(params[f"{name}.conv{j}.b"])
            bn = nn.BatchNorm2d(b).double()
            bn.weight.data = torch.as_tensor(params[f"{name}.bn{j}.g"])
            bn.bias.data = torch.as_tensor(params[f"{name}.bn{j}.b"])
            layers += [conv, bn, nn.ReLU()]
        return nn.Sequential(*layers)

    class Ref(nn.Module):
        def __init__(self):
            super().__init__()
            f = net.filters
            self.inc = dc("inc", net.in_channels, f, f)
            self.downs = nn.ModuleList([dc(f"down{i}", f, f, f) for i in range(1, net.levels)])
            self.ups = nn.ModuleList([dc(f"up{i}", 2 * f, f, f) for i in range(1, net.levels)])
            self.up = nn.Upsample(scale_factor=2, mode="bilinear")
            self.outc = nn.Conv2d(f, net.out_channels, 1).double()
            self.outc.weight.data = torch.as_tensor(params["outc.w"])
            self.outc.bias.data = torch.as_tensor(params["outc.b"])

        def forward(self, x):
            x = self.inc(x)
            xs = [x]
            for d in self.downs:
                x = d(nn.functional.max_pool2d(x, 2))
                xs.insert(0, x)
            for i, u in enumerate(self.ups, start=1):
                x = u(torch.cat([xs[i], self.up(x)], dim=1))
            return self.outc(x)

    return Ref().train()


@pytest.mark.parametrize("cfg", [dict(), dict(in_channels=2, out_channels=2, levels=5), dict(padding_mode="zeros")])
def test_matches_torch_nn_reference(cfg):
    net = UNet(**cfg)
    params = net.init_numpy(np.random.default_rng(3))
    x = np.random.default_rng(4).normal(size=(3, net.in_channels, 32, 32))
    be = get_backend("torch")
    ours = be.to_numpy(net.apply(be, {k: be.asarray(v, "float64") for k, v in params.items()}, be.asarray(x)))
    with torch.no_grad():
        ref = _reference(net, params)(torch.as_tensor(x)).numpy()
    assert ours.shape == (3, net.out_channels, 32, 32)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("channels_last", [False, True])
def test_gradients_match_torch_nn_reference(channels_last, monkeypatch):
    """Parameter gradients (float64) equal those of the torch.nn model, whose circular padding and
    ReLU are torch's own (pgbench's have their own adjoints); also on channels-last tensors."""
    net = UNet()
    params = net.init_numpy(np.random.default_rng(3))
    x = np.random.default_rng(4).normal(size=(3, 1, 32, 32))
    be = get_backend("torch")
    monkeypatch.setattr(type(be), "channels_last", channels_last)
    ours = torch.func.grad(lambda p: (net.apply(be, p, be.asarray(x)) ** 2).sum())(
        {k: be.asarray(v, "float64") for k, v in params.items()}
    )
    ref_net = _reference(net, params)
    (ref_net(torch.as_tensor(x)) ** 2).sum().backward()
    ref = {}
    for name, module in (("inc", ref_net.inc), *((f"down{i + 1}", m) for i, m in enumerate(ref_net.downs)),
                         *((f"up{i + 1}", m) for i, m in enumerate(ref_net.ups))):
        for j in range(2):
            ref[f"{name}.conv{j}.w"] = module[3 * j].weight.grad
            ref[f"{name}.bn{j}.g"] = module[3 * j + 1].weight.grad
            ref[f"{name}.bn{j}.b"] = module[3 * j + 1].bias.grad
    ref["outc.w"], ref["outc.b"] = ref_net.outc.weight.grad, ref_net.outc.bias.grad
    for k, r in ref.items():
        torch.testing.assert_close(ours[k], r, rtol=1e-9, atol=1e-9 * float(r.abs().max()), msg=k)


def test_batch_norm_uses_batch_statistics():
    """Every example's output depends on the rest of the batch (no eval-mode running stats)."""
    net = UNet()
    be = get_backend("torch")
    params = net.init(np.random.default_rng(0), be)
    x = np.random.default_rng(1).normal(size=(4, 1, 16, 16)).astype(np.float32)
    a = be.to_numpy(net.apply(be, params, be.asarray(x)))[0]
    x[1:] *= 3.0
    b = be.to_numpy(net.apply(be, params, be.asarray(x)))[0]
    assert np.max(np.abs(a - b)) > 1e-3


def test_odd_sizes_run():
    """80×60 (ICLR Poisson) is not divisible by 8: the upsampled maps are zero-padded to the skips."""
    net = UNet()
    be = get_backend("torch")
    params = net.init(np.random.default_rng(0), be)
    out = net.apply(be, params, be.asarray(np.ones((2, 1, 80, 60), np.float32)))
    assert tuple(out.shape) == (2, 1, 80, 60)


def test_torch_jax_parity_forward_and_gradient():
    net = UNet()
    tb, jb = get_backend("torch"), get_backend("jax")
    p_np = net.init_numpy(np.random.default_rng(5))
    x = np.random.default_rng(6).normal(size=(4, 1, 32, 32))
    t = np.random.default_rng(7).normal(size=(4, 1, 32, 32))
    outs, grads = [], []
    for be in (tb, jb):
        params = {k: be.asarray(v, "float64") for k, v in p_np.items()}
        xb, tb_ = be.asarray(x), be.asarray(t)

        def loss(p, xb=xb, tb_=tb_, be=be):
            return be.xp.sum((net.apply(be, p, xb) - tb_) ** 2)

        v, g = be.value_and_grad(loss)(params)
        outs.append(be.to_numpy(net.apply(be, params, xb)))
        grads.append({k: be.to_numpy(a) for k, a in g.items()})
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-9, atol=1e-10)
    for k in p_np:
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=1e-7, atol=1e-9, err_msg=k)


def _unet_grads(be, params, y):
    net = UNet(1, 1)
    return torch.func.grad(lambda p: (net.apply(be, p, y) ** 2).sum() / y.shape[0])(params)


def test_fused_batch_norm_agrees_with_the_formula_and_float64(monkeypatch):
    """torch's fused batch norm (the default) against the formula: forward to float32 round-off, and
    the U-net gradients of both agree with a float64 evaluation to the same accuracy (heat data;
    fused at most 2× the formula's error per parameter)."""
    from pgbench import keys
    from pgbench.registry import make_problem

    be = get_backend("torch")
    problem = make_problem("heat", scale="quick")
    _, y = problem.sample(keys.rng(0, "train", 0), 8, be)
    y = problem.net_input(be, y)[..., :32, :32].contiguous()
    params = UNet(1, 1).init(np.random.default_rng(0), be)
    assert be.fused_batch_norm and be.settings()["fused_batch_norm"]
    fused_out, fused = UNet(1, 1).apply(be, params, y), _unet_grads(be, params, y)
    monkeypatch.setattr(type(be), "fused_batch_norm", False)
    formula_out, formula = UNet(1, 1).apply(be, params, y), _unet_grads(be, params, y)
    ref = _unet_grads(be, {k: v.double() for k, v in params.items()}, y.double())
    assert torch.allclose(fused_out, formula_out, rtol=1e-4, atol=1e-5)
    for k in ref:
        if ".conv" in k and k.endswith(".b"):
            continue   # a bias before batch norm has gradient 0 in exact arithmetic: float32 noise on both paths
        scale = float(ref[k].norm())
        e_fused = float((fused[k].double() - ref[k]).norm()) / scale
        e_formula = float((formula[k].double() - ref[k]).norm()) / scale
        assert e_formula < 1e-3 and e_fused < max(2 * e_formula, 1e-5), (k, e_fused, e_formula)
