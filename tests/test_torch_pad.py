"""The torch backend's periodic padding: torch's circular pad's values, its adjoint (the fold of
the padded cotangent back onto the interior), forward mode, vmap, and channels-last kept."""

import pytest
import torch
import torch.nn.functional as F

from pgbench.backends.torch_pad import wrap_pad

WIDTHS = [((1, 1),), ((1, 1), (1, 1)), ((1, 2), (0, 1)), ((2, 0), (3, 3)), ((3, 3), (4, 4)), ((1, 0), (0, 2), (1, 1))]


def _x(widths, channels_last=False):
    shape = {1: (2, 3, 5), 2: (2, 3, 3, 4), 3: (2, 3, 3, 4, 2)}[len(widths)]
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    if channels_last and x.ndim >= 4:
        x = x.contiguous(memory_format=torch.channels_last if x.ndim == 4 else torch.channels_last_3d)
    return x


def _torch_pad(x, widths):
    return F.pad(x, [n for pair in reversed(widths) for n in pair], mode="circular")


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_values_and_gradients_match_torch_circular_pad(widths, channels_last):
    x = _x(widths, channels_last).requires_grad_()
    y = wrap_pad(x, widths)
    assert torch.equal(y, _torch_pad(x, widths))
    if channels_last and x.ndim >= 4:
        fmt = torch.channels_last if x.ndim == 4 else torch.channels_last_3d
        assert not y.is_contiguous() and y.is_contiguous(memory_format=fmt)
    w = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (g,) = torch.autograd.grad((y * w).sum(), x)
    (g_ref,) = torch.autograd.grad((_torch_pad(x, widths) * w).sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-14, atol=1e-14)
    assert torch.autograd.gradcheck(lambda a: wrap_pad(a, widths), (x,))
    assert torch.autograd.gradgradcheck(lambda a: wrap_pad(a, widths), (x,))


@pytest.mark.parametrize("widths", WIDTHS[:3])
def test_functorch_transforms(widths):
    x, t = _x(widths), _x(widths) + 1.0
    _, tangent = torch.func.jvp(lambda a: wrap_pad(a, widths), (x,), (t,))
    assert torch.equal(tangent, _torch_pad(t, widths))
    assert torch.equal(torch.func.vmap(lambda a: wrap_pad(a, widths))(x), _torch_pad(x, widths))
    w = torch.randn(_torch_pad(x, widths).shape, dtype=torch.float64)
    g = torch.func.grad(lambda a: (wrap_pad(a, widths) * w).sum())(x)
    torch.testing.assert_close(g, torch.func.grad(lambda a: (_torch_pad(a, widths) * w).sum())(x))


def test_widths_beyond_the_axis_are_refused():
    with pytest.raises(ValueError, match="each width must be in"):
        wrap_pad(torch.zeros(1, 1, 3), [(4, 0)])
    with pytest.raises(ValueError, match="each width must be in"):
        wrap_pad(torch.zeros(1, 1, 3), [(-1, 0)])
