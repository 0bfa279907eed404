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
    max_iter: int = 1
    line_search: str = "strong_wolfe"

    jittable: ClassVar[bool] = True   # jax: one compiled program; torch: be.jit is the identity

    def __post_init__(self):
        check_positive(self, "lr", "history", "max_iter")
        check_choice(self, "line_search", ("strong_wolfe", "none"))

    def missing_on(self, backend: str) -> str | None:
        if backend == "jax" and self.max_iter != 1:
            return f"{self.id}: max_iter={self.max_iter} is torch's LBFGS setting; optax.lbfgs does one iteration per update"
        return None

    def _optax(self):
        import optax
        if self.line_search == "none":
            return optax.lbfgs(self.lr, self.history, linesearch=None)
        return optax.lbfgs(None, self.history, linesearch=optax.scale_by_zoom_linesearch(max_linesearch_steps=20))

    def init(self, problem, be, net, params):
        if be.name == "jax":   # strong types, committed to the device: every update compiles once
            import jax
            import jax.numpy as jnp
            state = jax.tree.map(lambda a: jnp.array(a, dtype=jnp.asarray(a).dtype), self._optax().init(params))
            return jax.device_put(state, be._device)
        import torch
        return torch.optim.LBFGS(list(params.values()), lr=self.lr, max_iter=self.max_iter,
                                 history_size=self.history,
                                 line_search_fn=None if self.line_search == "none" else "strong_wolfe")

    def update(self, problem, be, net, params, state, y_target, x_true):
        x = be.stop_gradient(problem.predict(be, net, params, y_target))
        loss = problem.loss(be, x, y_target)
        if be.name == "jax":
            import optax

            def f(p):
                return physics_objective(problem, be, net, p, y_target)[0]
            opt = self._optax()
            value, grad = be.value_and_grad(f)(params)
            updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=f)
            return optax.apply_updates(params, updates), state, Step(x, loss, {})
        import torch
        leaves = list(params.values())
        for p in leaves:
            p.requires_grad_(True)

        def closure():
            state.zero_grad()
            with torch.enable_grad():
                total = physics_objective(problem, be, net, params, y_target)[0]
                total.backward()
            return total
        state.step(closure)
        for p in leaves:
            p.grad = None
            p.requires_grad_(False)
        return params, state, Step(x, loss, {})


__all__ = ["LBFGSTraining", "physics_objective"]
