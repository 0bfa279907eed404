"""S seeds' batches (S, B, ...) as one batch of S·B examples and back: the reshapes the seed
axis (:mod:`pgbench.seed_axis`) and the schemes' per-example feedback
(:meth:`pgbench.solvers.base.FeedbackScheme.x_gradient_seeds`) share."""

from __future__ import annotations


def join(be, a):
    """(S, B, ...) as one batch (S·B, ...)."""
    return be.xp.reshape(a, (a.shape[0] * a.shape[1],) + tuple(a.shape[2:]))


def split(be, a, s: int, b: int):
    """(S·B, ...) back to (S, B, ...)."""
    return be.xp.reshape(a, (s, b) + tuple(a.shape[1:]))


__all__ = ["join", "split"]
