"""Periodic ("wrap", torch's ``circular``) padding for the torch backend with a folding adjoint.

Forward: ``F.pad(x, ..., mode="circular")``, kept in ``x``'s memory format (channels-last stays
channels-last, which ``F.pad`` alone does not). The adjoint of periodic padding folds each padded
axis back onto the interior: with ``p0`` cells padded before and ``p1`` after an axis of ``n``
cells, the padded cotangent :math:`\\bar y = [\\bar y_{0:p_0}, \\bar y_{p_0:p_0+n}, \\bar y_{p_0+n:}]`
gives :math:`\\bar x = \\bar y_{p_0:p_0+n}` with :math:`\\bar y_{p_0+n:}` added to its first ``p1``
cells and :math:`\\bar y_{0:p_0}` to its last ``p0`` cells. torch's own adjoint of the circular pad
(a chain of slice copies) allocates and zero-fills a padded-size tensor per slice; this one reads
the cotangent once. The same sums, so the gradients agree to float round-off (the order of the
additions at the edges may differ).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _flat(widths) -> list[int]:
    """torch's ``F.pad`` order: last axis first, ``(before, after)`` per axis."""
    return [int(n) for pair in reversed(list(widths)) for n in pair]


def _memory_format(x):
    """``x``'s memory format where it is channels-last (and not also plainly contiguous)."""
    if not x.is_contiguous():
        if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return torch.channels_last
        if x.ndim == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
            return torch.channels_last_3d
    return torch.contiguous_format


def _pad(x, widths):
    """Periodic padding in ``x``'s memory format (``F.pad`` returns a plainly contiguous tensor)."""
    y = F.pad(x, _flat(widths), mode="circular")
    fmt = _memory_format(x)
    return y if fmt is torch.contiguous_format else y.contiguous(memory_format=fmt)


def _fold(g, widths):
    """The adjoint of periodic padding of the last ``len(widths)`` axes by ``widths``."""
    for k, (p0, p1) in enumerate(widths):
        axis = g.ndim - len(widths) + k
        n = g.shape[axis] - p0 - p1
        inner = g.narrow(axis, p0, n).clone()  # keeps a channels-last cotangent channels-last
        if p1:
            inner.narrow(axis, 0, p1).add_(g.narrow(axis, p0 + n, p1))
        if p0:
            inner.narrow(axis, n - p0, p0).add_(g.narrow(axis, 0, p0))
        g = inner
    return g


class WrapPad(torch.autograd.Function):
    """``y = wrap_pad(x, widths)`` differentiable in ``x`` (reverse mode by :func:`_fold`, forward
    mode by padding the tangent; ``torch.func`` transforms and vmap supported)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, widths):
        return _pad(x, widths)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.widths = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return _fold(g, ctx.widths), None

    @staticmethod
    def jvp(ctx, x_dot, _):
        return F.pad(x_dot, _flat(ctx.widths), mode="circular")


def wrap_pad(x, widths):
    """Pad the last ``len(widths)`` axes of ``x`` periodically; ``widths``: ``(before, after)`` per
    axis, first padded axis first, each at most the axis' size (torch's limit for circular pads)."""
    widths = tuple((int(a), int(b)) for a, b in widths)
    for k, (p0, p1) in enumerate(widths):
        n = x.shape[x.ndim - len(widths) + k]
        if p0 < 0 or p1 < 0 or p0 > n or p1 > n:
            raise ValueError(f"wrap padding {widths[k]} of an axis of {n} cells: each width must be in [0, {n}]")
    return WrapPad.apply(x, widths)
