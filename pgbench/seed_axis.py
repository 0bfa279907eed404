"""The step functions of S seeds trained as one program (:class:`pgbench.vectorize.SeedsProgram`)
on a backend whose ``vmap`` costs per operation (``torch.func.vmap``, whose batching rules run
in Python at every call): the seeds' batches are *joined* instead of vmapped wherever examples
are independent, and only the networks carry a seed axis.

Arrays of S seeds have shape (S, B, ...). Per-example functions (the problem's ``realize``, its
metrics, and a scheme's feedback where :attr:`~pgbench.solvers.base.FeedbackScheme.
feedback_per_example` holds) run once on the joined batch of S·B examples, which gives every
example the numbers it gets in its own seed's batch; the networks run as
:meth:`pgbench.nets.Net.apply_seeds` (the MLP natively, with batched matrix products). The
gradient of seed s is that of :meth:`~pgbench.solvers.base.FeedbackScheme.gradients`,

.. math:: g_s = J_{\\theta_s}^T g_x(\\mathrm{NN}(y^*_s\\mid\\theta_s)),

one pullback through the S networks at once (the seeds' parameters are disjoint, so the
pullback of the stacked feedback is the stack of the seeds' pullbacks); the feedback is divided
by the seed's batch size B where the problem averages its loss.
"""

from __future__ import annotations

import functools

from .seed_batches import join, split


def joined(be, f):
    """``f`` of one batch (arrays (B, ...) in, a tuple or dict of per-example arrays (B, ...) out)
    applied to S seeds' batches (S, B, ...) at once, on the joined batch. ``f`` must treat its
    examples independently."""

    def g(*arrays):
        s, b = arrays[0].shape[:2]
        out = f(*(join(be, a) for a in arrays))
        if isinstance(out, dict):
            return {k: split(be, v, s, b) for k, v in out.items()}
        return tuple(split(be, v, s, b) for v in out)

    return g


def seeds_predict(problem, be, net, params, y_target):
    """The S seeds' predictions (S, B, ...): the problem's pre- and post-processing on the joined
    batch, the networks with their seed axis (:meth:`~pgbench.nets.Net.apply_seeds`)."""
    s, b = y_target.shape[:2]
    y = join(be, y_target)
    out = net.apply_seeds(be, params, split(be, problem.net_input(be, y), s, b))
    return split(be, problem.net_output(be, join(be, out), y), s, b)


def seeds_gradients(problem, be, net, solver):
    """``(params, y_target, x_true) -> (g, x, loss)`` over S seeds (module doc): the scheme's
    :meth:`~pgbench.solvers.base.FeedbackScheme.gradients` for each seed. A scheme that computes
    its gradients otherwise than through :meth:`~pgbench.solvers.base.FeedbackScheme.x_gradient`
    is vmapped as it is."""
    from .solvers.base import FeedbackScheme

    if type(solver).gradients is not FeedbackScheme.gradients:
        return be.vmap(functools.partial(solver.gradients, problem, be, net))

    def gradients(params, y_target, x_true):
        s, b = y_target.shape[:2]
        x, pullback = be.vjp(lambda p: seeds_predict(problem, be, net, p, y_target), params)
        x = be.stop_gradient(x)
        g_x, loss = solver.x_gradient_seeds(problem, be, x, y_target, x_true)
        if problem.loss_reduction == "mean":
            g_x = g_x / b
        (g_params,) = pullback(be.xp.astype(g_x, x.dtype))
        if loss is None:
            loss = split(be, problem.loss(be, join(be, x), join(be, y_target)), s, b)
        return g_params, x, loss

    return gradients


__all__ = ["join", "split", "joined", "seeds_predict", "seeds_gradients"]
