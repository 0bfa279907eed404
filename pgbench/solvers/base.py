"""Solver interfaces. A solver is a frozen dataclass of typed hyperparameters (validated in
``__post_init__``) and holds no state between runs; the runner owns the loop.

* :class:`IterativeSolver` solves every inverse problem of a batch independently:
  ``state = init(problem, be, x0, y_target)``, ``x, state = step(problem, be, x, y_target, state)``.
* :class:`TrainingScheme` trains a network ``x = NN(y* | θ)``. A scheme only says which
  gradient :math:`g_x` it feeds back at the network output (backprop through physics, supervised,
  physical gradient); :meth:`TrainingScheme.gradients` turns it into parameter gradients by one
  vector-Jacobian product through the network, and a first-order optimizer applies them.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from ..problems.base import sum_per_example

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class Solver(abc.ABC):
    kind: ClassVar[str] = "?"
    requires: ClassVar[frozenset[str]] = frozenset()
    id: ClassVar[str] = "?"

    def missing(self, problem) -> str | None:
        """Why this solver cannot run on ``problem``, or None if it can."""
        lacking = sorted(c for c in self.requires if not problem.has(c))
        if lacking:
            return f"{self.id} needs problem capability {', '.join(lacking)} which {problem.id} lacks"
        return None

    def hyperparameters(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def name(self) -> str:
        return self.id.rsplit("-v", 1)[0]


def check_positive(obj, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None and not v > 0:
            raise ValueError(f"{type(obj).__name__}.{n} must be > 0, got {v!r}")


def check_choice(obj, name, choices):
    v = getattr(obj, name)
    if v not in choices:
        raise ValueError(f"{type(obj).__name__}.{name} must be one of {', '.join(map(str, choices))}; got {v!r}")


class IterativeSolver(Solver):
    kind: ClassVar[str] = "iterative"
    jittable: ClassVar[bool] = True          # step is a pure array function
    max_steps: ClassVar[int | None] = None   # a one-shot solver (L-BFGS-B to convergence) says 1

    def init(self, problem, be, x0, y_target):
        return None

    @abc.abstractmethod
    def step(self, problem, be, x, y_target, state):
        """One update of every example: returns ``(x, state)``."""


@dataclass(frozen=True)
class TrainingScheme(Solver):
    """Hyperparameters common to all schemes: the outer first-order optimizer."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0

    kind: ClassVar[str] = "training"
    requires: ClassVar[frozenset[str]] = frozenset({"network"})
    jittable: ClassVar[bool] = True

    def __post_init__(self):
        check_choice(self, "optimizer", OPTIMIZERS)
        check_positive(self, "lr")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")

    def make_optimizer(self, be):
        if self.optimizer == "sgd":
            return be.optimizer("sgd", self.lr, momentum=self.momentum)
        return be.optimizer("adam", self.lr)

    @abc.abstractmethod
    def x_gradient(self, problem, be, x, y_target, x_true):
        """The feedback :math:`g_x` at the network output for a batch prediction ``x`` (no graph),
        and the per-example y loss if it was computed on the way (else None)."""

    def gradients(self, problem, be, net, params, y_target, x_true):
        """Parameter gradients :math:`J_\\theta^T g_x` and the batch metrics
        (per-example loss and x error of the prediction before the update). Schemes that compute
        their own update (HIG) may return a 4th element, a dict of scalar diagnostics that the
        runner records in the row (e.g. ``t_jacobian``, ``rank``)."""
        x, pullback = be.vjp(lambda p: problem.predict(be, net, p, y_target), params)
        x = be.stop_gradient(x)
        g_x, loss = self.x_gradient(problem, be, x, y_target, x_true)
        if problem.loss_reduction == "mean":
            g_x = g_x / x.shape[0]
        (g_params,) = pullback(be.xp.astype(g_x, x.dtype))
        if loss is None:
            loss = problem.loss(be, x, y_target)
        return g_params, x, loss


def loss_and_x_gradient(problem, be):
    """``f(x, y) -> (per-example loss, per-example ∂L/∂x)``: the gradient of the summed loss,
    which is per example because examples are independent."""

    def total(x, y):
        per = problem.loss(be, x, y)
        return be.xp.sum(per), per

    vg = be.value_and_grad(total, has_aux=True)

    def f(x, y):
        (_, per), g = vg(x, y)
        return per, g

    return f


def per_example(problem, be, fn):
    """Lift ``fn(x_i, y_i)`` on one example to the batch with vmap."""
    def single(xi, yi):
        return fn(xi[None], yi[None])
    return be.vmap(single)


__all__ = ["Solver", "IterativeSolver", "TrainingScheme", "loss_and_x_gradient", "sum_per_example",
           "check_positive", "check_choice"]
