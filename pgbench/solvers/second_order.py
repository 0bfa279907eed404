"""Second-order training baselines on the network parameters (issue 21 item 2; the authors' later
code compares them): each update minimises the batch's physics loss

.. math:: \\mathcal L(\\theta) = \\textstyle\\sum_i L\\big(P(\\mathrm{NN}(y^*_i\\mid\\theta)), y^*_i\\big)

(its mean where the problem's ``loss_reduction`` is ``"mean"``; the loss whose gradient ``dp``
feeds back) on the current batch of the stream.

* ``lbfgs``: one L-BFGS iteration per update, with a line search on the batch, the curvature
  pairs kept across batches (stochastic L-BFGS). torch: ``torch.optim.LBFGS`` with a closure
  (``max_iter`` iterations per update, strong-Wolfe line search); jax: ``optax.lbfgs`` with its
  zoom line search (``optax.scale_by_zoom_linesearch``), the value and gradient evaluated afresh on
  every batch (``optax.value_and_grad_from_state`` would reuse the previous batch's). The two
  libraries' line searches differ, so the curves are not the same number for number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..search_space import Choice, LogUniform
from .base import Step, TrainingScheme, check_choice, check_positive


def physics_objective(problem, be, net, params, y_target):
    """The batch's physics loss as a function of θ (sum over examples, or their mean under the
    problem's ``loss_reduction="mean"``) and the per-example losses."""
    per = problem.loss(be, problem.predict(be, net, params, y_target), y_target)
    total = be.xp.sum(per)
    return (total / per.shape[0] if problem.loss_reduction == "mean" else total), per


@dataclass(frozen=True)
class LBFGSTraining(TrainingScheme):
    """L-BFGS on the network parameters through the physics loss (see the module docstring).
    ``lr``: the step (torch: the line search's initial step; jax: used only without a line
    search, zoom starting from 1, L-BFGS's natural step); ``history``: curvature
    pairs kept; ``max_iter``: L-BFGS iterations per update (torch; jax does one);
    ``line_search``: ``"strong_wolfe"`` (torch) / zoom (jax), or ``"none"`` for fixed steps of ``lr``."""

    lr: float = 1.0
    history: int = 10
    search_space: ClassVar[dict] = {"lr": LogUniform(1e-2, 1.0), "history": Choice((5, 10, 20))}
    max_iter: int = 1
    line_search: str = "strong_wolfe"

    jittable: ClassVar[bool] = True  # jax: one compiled program; torch: be.jit is the identity

    def __post_init__(self):
        check_positive(self, "lr", "history", "max_iter")
        check_choice(self, "line_search", ("strong_wolfe", "none"))

    def missing_on(self, backend: str) -> str | None:
        from ..backends import get_backend

        try:
            get_backend(backend).lbfgs(self.lr, self.history, self.max_iter, self.line_search)
        except ValueError as e:
            return f"{self.id} on {backend}: {e}"
        return None

    def init(self, problem, be, net, params):
        return be.lbfgs(self.lr, self.history, self.max_iter, self.line_search).init(params)

    def update(self, problem, be, net, params, state, y_target, x_true):
        x = be.stop_gradient(problem.predict(be, net, params, y_target))
        loss = problem.loss(be, x, y_target)

        def objective(p):
            return physics_objective(problem, be, net, p, y_target)[0]

        opt = be.lbfgs(self.lr, self.history, self.max_iter, self.line_search)
        params, state = opt.update(params, None, state, objective=objective)
        return params, state, Step(x, loss, {})


def _flatten(be, tree, keys):
    """A parameter dict as one row vector (1, P): the batch-first layout of ``be.linear_solve``."""
    return be.xp.reshape(be.xp.concat([be.xp.reshape(tree[k], (-1,)) for k in keys]), (1, -1))


def _unflatten(be, vec, like, keys):
    out, i = {}, 0
    for k in keys:
        n = 1
        for d in like[k].shape:
            n *= int(d)
        out[k] = be.xp.reshape(vec[0, i : i + n], tuple(like[k].shape))
        i += n
    return out


@dataclass(frozen=True)
class HessianFree(TrainingScheme):
    """Hessian-free training (Martens 2010): a truncated Newton step on the batch's physics loss
    :math:`f(\\theta) = s\\,\\tfrac12 \\sum_i \\lVert r_i(\\theta)\\rVert^2`,
    :math:`r_i = P(\\mathrm{NN}(y_i^*|\\theta)) - y_i^*` (s = 1/N under ``loss_reduction="mean"``), with the
    Gauss-Newton matrix :math:`G = s J^\\top J`:

    .. math::

       (G + \\lambda I)\\, d = -\\nabla f, \\qquad
       \\theta \\leftarrow \\theta + d \\text{ if } f(\\theta + d) < f(\\theta).

    :math:`G v` is computed matrix-free, :math:`J v` by ``be.jvp`` and :math:`J^\\top (J v)` by
    ``be.vjp`` through network and physics; the system is solved by the backend's CG
    (``be.linear_solve``, at most ``cg_iters`` iterations, relative tolerance ``cg_rtol``).
    Levenberg–Marquardt damping: with the reduction ratio
    :math:`\\rho = (f(\\theta+d) - f(\\theta)) / (\\nabla f^\\top d + \\tfrac12 d^\\top G d)`,
    λ grows by 3/2 when ρ < 1/4 and shrinks by 2/3 when ρ > 3/4 (starting at ``damping``).
    Needs the problem's loss to be the default least squares :math:`\\tfrac12\\lVert r\\rVert^2`."""

    damping: float = 1.0
    cg_iters: int = 50
    search_space: ClassVar[dict] = {"damping": LogUniform(1e-3, 1e2)}
    cg_rtol: float = 1e-3

    jittable: ClassVar[bool] = True

    def __post_init__(self):
        check_positive(self, "damping", "cg_iters", "cg_rtol")

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        from ..problems.base import Problem

        if type(problem).loss is not Problem.loss:
            return (
                f"{self.id} needs a least-squares loss 1/2 |P(x) - y*|^2 (Gauss-Newton); {problem.id} defines its own"
            )
        return None

    def init(self, problem, be, net, params):
        return {"damping": be.asarray(self.damping, "float64")}

    def update(self, problem, be, net, params, state, y_target, x_true):
        xp = be.xp
        keys = list(params)  # torch.func.jvp wants the tangents in the order of the primals
        x = be.stop_gradient(problem.predict(be, net, params, y_target))
        loss = problem.loss(be, x, y_target)
        scale = 1.0 / x.shape[0] if problem.loss_reduction == "mean" else 1.0

        def residual(p):
            return problem.residual(be, problem.predict(be, net, p, y_target), y_target)

        r, pullback = be.vjp(residual, params)
        r = be.stop_gradient(r)
        f0 = scale * 0.5 * xp.sum(r * r)
        g = _flatten(be, pullback(r)[0], keys) * scale
        lam = xp.astype(state["damping"], g.dtype)

        def gn(v):
            vt = _unflatten(be, v, params, keys)
            _, jv = be.jvp(residual, (params,), (vt,))
            return _flatten(be, pullback(jv)[0], keys) * scale

        d = be.linear_solve(lambda v: gn(v) + lam * v, -g, rtol=self.cg_rtol, maxiter=self.cg_iters)
        d = be.stop_gradient(d)
        new = {k: params[k] + v for k, v in _unflatten(be, d, params, keys).items()}
        r1 = residual(new)
        f1 = scale * 0.5 * xp.sum(r1 * r1)
        predicted = xp.sum(g * d) + 0.5 * xp.sum(d * gn(d))
        rho = (f1 - f0) / xp.where(predicted < 0, predicted, -1e-30)
        lam = xp.where(rho < 0.25, lam * 1.5, xp.where(rho > 0.75, lam * (2.0 / 3.0), lam))
        ok = f1 < f0
        params = {k: be.stop_gradient(xp.where(ok, new[k], params[k])) for k in keys}
        return params, {"damping": xp.astype(lam, state["damping"].dtype)}, Step(x, loss, {"damping": lam, "rho": rho})


__all__ = ["LBFGSTraining", "HessianFree", "physics_objective"]
