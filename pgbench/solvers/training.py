"""Network training schemes (paper §2): what each feeds back at the network output.

With the batch prediction :math:`x = \\mathrm{NN}(y^*\\mid\\theta)`, every scheme updates θ with
:math:`J_\\theta^T g_x` through a first-order optimizer (Adam by default):

* ``dp``: :math:`g_x = \\partial L/\\partial x` (backpropagation through the physics, Eq. 2);
* ``supervised``: :math:`g_x = x - x_{label}` (Eq. 3), labels the ground truth or an iterative solver's answer;
* ``pg``: :math:`g_x = \\hat x - P^{-1}(y^*\\mid\\hat x)` (physical gradient, Eq. 5 / Algorithm 1), the
  gradient of the proxy loss :math:`\\tfrac12\\lVert x - \\mathrm{sg}(x_{corr})\\rVert^2`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .base import TrainingScheme, check_choice, check_positive, loss_and_x_gradient

INNER_SOLVERS = ("inverse", "newton", "invgrad", "gd", "lbfgsb")


def _clip(be, g, c):
    return g if c is None else be.xp.clip(g, -c, c)


@dataclass(frozen=True)
class DifferentiablePhysics(TrainingScheme):
    """Backpropagation through the physics; ``clip_x_grad`` clips :math:`\\partial L/\\partial x`
    elementwise before it enters the network (the paper's sin experiment uses 1)."""

    clip_x_grad: float | None = None

    def __post_init__(self):
        super().__post_init__()
        check_positive(self, "clip_x_grad")

    def x_gradient(self, problem, be, x, y_target, x_true):
        loss, g = loss_and_x_gradient(problem, be)(x, y_target)
        return _clip(be, g, self.clip_x_grad), loss


def _inner(problem, id: str, settings: dict):
    from ..registry import make_solver
    return make_solver(id, **{**problem.solver_defaults.get(id, {}), **settings})


def _run_inner(problem, be, solver, x, y_target, steps):
    state = solver.init(problem, be, x, y_target)
    for _ in range(steps):
        x, state = solver.step(problem, be, x, y_target, state)
    return x


@dataclass(frozen=True)
class Supervised(TrainingScheme):
    """Supervised training, :math:`g_x = x - x_{label}`. ``labels="truth"`` uses x*; any iterative
    solver id (e.g. ``inverse``) computes labels by running it ``label_steps`` times from the
    problem's initial guess (Eq. 3; for the multimodal sin problem this picks the minimum
    closest to the guess)."""

    labels: str = "truth"
    label_steps: int = 1

    def __post_init__(self):
        super().__post_init__()
        check_choice(self, "labels", ("truth",) + INNER_SOLVERS)
        check_positive(self, "label_steps")

    @property
    def jittable(self):
        return self.labels != "lbfgsb"

    def missing(self, problem):
        reason = super().missing(problem)
        if reason or self.labels == "truth":
            return reason
        inner = _inner(problem, self.labels, {}).missing(problem)
        return f"{self.id} with labels from {self.labels}: {inner}" if inner else None

    def x_gradient(self, problem, be, x, y_target, x_true):
        if self.labels == "truth":
            label = x_true
        else:
            x0 = problem.initial_guess(be, y_target)
            label = _run_inner(problem, be, _inner(problem, self.labels, {}), x0, y_target, self.label_steps)
        return x - be.xp.astype(label, x.dtype), None


@dataclass(frozen=True)
class PhysicalGradient(TrainingScheme):
    """Physical gradients (SIP): ``n`` steps of an inner solver from the network's prediction
    :math:`\\hat x` give :math:`x_{corr}`; the network regresses onto it with the proxy L2 loss.
    ``inner=None`` uses the problem's own inverse-physics step. ``inner_settings`` are passed to
    the inner solver (e.g. ``{"eta": 1.0}`` for ``gd``); ``clip`` clips :math:`\\hat x - x_{corr}`."""

    inner: str | None = None
    n: int = 1
    inner_settings: dict = field(default_factory=dict)
    clip: float | None = None
    proxy: str = "l2"   # "l1": the authors' sin-characterisation code (sign of Δx only, spec §9.2)

    def __post_init__(self):
        super().__post_init__()
        if self.inner is not None:
            check_choice(self, "inner", INNER_SOLVERS)
        check_positive(self, "n", "clip")
        check_choice(self, "proxy", ("l2", "l1"))

    @property
    def inner_id(self) -> str:
        return self.inner or "inverse"

    @property
    def jittable(self):
        return self.inner_id != "lbfgsb"

    def inner_solver(self, problem):
        return _inner(problem, self.inner_id, dict(self.inner_settings))

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        inner = self.inner_solver(problem).missing(problem)
        return f"{self.id} with inner solver {self.inner_id}: {inner}" if inner else None

    def x_gradient(self, problem, be, x, y_target, x_true):
        x_corr = _run_inner(problem, be, self.inner_solver(problem), x, y_target, self.n)
        g = _clip(be, x - be.stop_gradient(be.xp.astype(x_corr, x.dtype)), self.clip)
        if self.proxy == "l1":
            g = be.xp.sign(g)
        return g, None

    requires: ClassVar[frozenset[str]] = frozenset({"network"})
