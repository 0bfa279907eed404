"""Batched conjugate gradients written once against the array API.

Each example of the batch (leading axis) stops on its own when
``sum(r**2) <= max(rtol**2 * sum(b**2), atol**2)`` (PhiFlow's criterion); converged examples are
frozen by a zero step. The loop checks convergence every ``check_every`` iterations only, so on a
GPU it synchronises with the host rarely.
"""

from __future__ import annotations


def _sum(xp, a):
    return xp.sum(xp.reshape(a, (a.shape[0], -1)), axis=1)


def _bcast(v, like):
    return v.reshape((v.shape[0],) + (1,) * (like.ndim - 1))


def cg_eager(xp, matvec, b, x0, rtol, atol, maxiter, check_every=4):
    """CG for eager backends (torch). Returns ``(x, iterations)``.

    Written for few kernels per iteration (each is a launch on a GPU): the step sizes of frozen
    examples are zeroed by one ``where`` each, with no guard on the denominators. An active example
    has ``rr > threshold >= 0``, so ``rr`` is positive, and ``pAp > 0`` for a definite A; for a frozen
    one a 0/0 lands only in the branch ``where`` drops."""
    x = x0
    r = b - matvec(x)
    p = r
    rr = _sum(xp, r * r)
    threshold = xp.maximum(rtol**2 * _sum(xp, b * b), xp.asarray(atol**2, dtype=b.dtype, device=b.device))
    zero = xp.zeros_like(rr)
    it = 0
    active = rr > threshold
    while it < maxiter:
        if it % check_every == 0 and not bool(xp.any(active)):
            break
        Ap = matvec(p)
        alpha = xp.where(active, rr / _sum(xp, p * Ap), zero)
        x = x + _bcast(alpha, x) * p
        r = r - _bcast(alpha, r) * Ap
        rr_new = _sum(xp, r * r)
        beta = xp.where(active, rr_new / rr, zero)
        p = r + _bcast(beta, p) * p
        rr = xp.where(active, rr_new, rr)
        active = rr > threshold
        it += 1
    return x, it
