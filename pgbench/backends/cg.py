"""Batched conjugate gradients for the torch backend (jax has its own ``lax.while_loop``).

Each example of the batch (leading axis) stops on its own when
``sum(r**2) <= max(rtol**2 * sum(b**2), atol**2)`` (PhiFlow's criterion); converged examples are
frozen by a zero step. The loop checks convergence every ``check_every`` iterations only, so on a
GPU it synchronises with the host rarely. Those ``check_every`` iterations are one call of
:func:`cg_steps`, which can be handed in compiled (:func:`compiled_cg_steps`): ``torch.compile``
then fuses the chunk's vector updates and the matvec into a few kernels.
"""

from __future__ import annotations

import functools

import torch
from torch._C._functorch import is_functorch_wrapped_tensor
from torch._functorch.pyfunctorch import temporarily_clear_interpreter_stack


def _dot(a, c):
    """Per-example inner product :math:`\\sum_i a_i c_i`. (``mul`` + ``sum``: on the CPU 3.6× faster
    than one ``bmm``, measured at 8×64×64 float32, one thread.)"""
    return (a * c).reshape(a.shape[0], -1).sum(dim=1)


def cg_steps(matvec, x, r, p, rr, active, threshold, k: int):
    """``k`` CG iterations on the state ``(x, r, p, rr, active)``; returns the new state.

    :math:`\\alpha = r^\\top r / p^\\top A p`, :math:`x \\mathrel{+}= \\alpha p`,
    :math:`r \\mathrel{-}= \\alpha A p`, :math:`\\beta = r_+^\\top r_+ / r^\\top r`, :math:`p = r_+ + \\beta p`.
    Written for few kernels per iteration (each is a launch on a GPU; 13 besides ``matvec``): the
    three vector updates are one ``addcmul`` each, and the step sizes of frozen examples are zeroed
    by one ``where`` each, with no guard on the denominators.
    An active example has ``rr > threshold >= 0``, so ``rr`` is positive, and ``pAp > 0`` for a
    definite A; for a frozen one a 0/0 lands only in the branch ``where`` drops."""
    scalar_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    for _ in range(k):
        Ap = matvec(p)
        alpha = torch.where(active, rr / _dot(p, Ap), 0.0).reshape(scalar_shape)
        x = torch.addcmul(x, alpha, p)
        r = torch.addcmul(r, alpha, Ap, value=-1)
        rr_new = _dot(r, r)
        beta = torch.where(active, rr_new / rr, 0.0).reshape(scalar_shape)
        p = torch.addcmul(r, beta, p)
        rr = torch.where(active, rr_new, rr)
        active = rr > threshold
    return x, r, p, rr, active


@functools.cache
def compiled_cg_steps(mode: str = "default"):
    """:func:`cg_steps` under ``torch.compile`` (made once, at first use). Dynamo guards on the
    matvec's code object, so every solve from one call site reuses one compiled program per input
    shape and ``k`` (a ``lambda`` made anew per solve is the same code).

    A solve inside a ``torch.func`` transform (the training step's ``grad_and_value``) gets plain
    tensors in ``_CG.forward``, but the transform's interpreter is still on functorch's stack, and
    Dynamo does not compile under it; it is set aside for the chunk. Should a state tensor be
    wrapped itself (a solve under ``vmap``), the chunk runs eagerly.

    ``mode="reduce-overhead"`` (``TorchBackend.cg_compile_mode``): on a GPU the compiled chunk is
    replayed as a CUDA graph (its inputs copied into static buffers, so a warm-started ``x0``, as
    the Navier-Stokes pressure's, is just another input); on the CPU it compiles as ``default``."""
    compiled = torch.compile(cg_steps, mode=None if mode == "default" else mode)

    def steps(matvec, x, r, p, rr, active, threshold, k):
        state = (x, r, p, rr, active, threshold)
        if any(is_functorch_wrapped_tensor(t) for t in state):
            return cg_steps(matvec, *state, k)
        with temporarily_clear_interpreter_stack():
            return compiled(matvec, *state, k)

    return steps


def cg_eager(matvec, b, x0, rtol, atol, maxiter, check_every=4, steps=cg_steps):
    """CG on torch tensors, ``check_every`` iterations per call of ``steps`` (:func:`cg_steps` or
    its compiled form), the last chunk cut at ``maxiter``. Returns ``(x, iterations)``."""
    x = x0
    r = b - matvec(x)
    p = r.clone()  # not an alias of r, so a compiled `steps` sees the same layout every call
    rr = _dot(r, r)
    threshold = torch.clamp(rtol**2 * _dot(b, b), min=atol**2)
    active = rr > threshold
    it = 0
    while it < maxiter and bool(active.any()):
        k = min(check_every, maxiter - it)
        x, r, p, rr, active = steps(matvec, x, r, p, rr, active, threshold, k)
        it += k
    return x, it
