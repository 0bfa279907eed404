"""Network training schemes that feed a gradient back at the network output (paper §2).

With the batch prediction :math:`x = \\mathrm{NN}(y^*\\mid\\theta)`, every scheme here updates θ with
:math:`J_\\theta^T g_x` through a first-order optimizer (Adam by default):

* ``dp``: :math:`g_x = \\partial L/\\partial x` (backpropagation through the physics, Eq. 2);
* ``supervised``: :math:`g_x = x - x_{label}` (Eq. 3), labels the ground truth or an iterative solver's answer;
* ``pg``: :math:`g_x = \\hat x - P^{-1}(y^*\\mid\\hat x)` (physical gradient, Eq. 5 / Algorithm 1), the
  gradient of the proxy loss :math:`\\tfrac12\\lVert x - \\mathrm{sg}(x_{corr})\\rVert^2`.

The inner solver of ``pg`` (and the label solver of ``supervised``) is any registered iterative
solver id, a plugin's included, or an :class:`~pgbench.solvers.base.IterativeSolver` object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .. import tuning
from ..optimizers import entry
from ..registry import SOLVERS, InvalidSettingError, UnknownIdError
from .base import FeedbackScheme, IterativeSolver, check_choice, check_positive, loss_and_x_gradient


def _clip(be, g, c):
    return g if c is None else be.xp.clip(g, -c, c)


@dataclass(frozen=True)
class DifferentiablePhysics(FeedbackScheme):
    """Backpropagation through the physics; ``clip_x_grad`` clips :math:`\\partial L/\\partial x`
    elementwise before it enters the network (the paper's sin experiment uses 1).

    ``clip_scope`` says what is clipped: ``"example"`` (default) the per-example gradient
    :math:`g_i = \\partial L_i/\\partial x_i`, i.e. :math:`g_x = \\mathrm{clip}(g_i, \\pm c)`;
    ``"batch_mean"`` the gradient of the batch mean, :math:`g_x = \\mathrm{clip}(g_i / N, \\pm c)`
    (N the batch size), used as an update of x like a physical gradient's :math:`\\hat x - x_{corr}`
    (public code related to the paper does this for sin(a/x); see ``docs/sin.md``). At its default
    ``clip_scope`` is left out of the run key, so existing runs keep their keys."""

    clip_x_grad: float | None = None
    clip_scope: str = "example"

    KEYED_WHEN_SET: ClassVar[dict] = {**FeedbackScheme.KEYED_WHEN_SET, "clip_scope": "example"}

    def __post_init__(self):
        super().__post_init__()
        check_positive(self, "clip_x_grad")
        check_choice(self, "clip_scope", ("example", "batch_mean"))
        if entry(self.optimizer).needs == "hvp" and self.clip_x_grad is not None:
            raise ValueError(
                f"dp: optimizer {self.optimizer!r} needs Hessian-vector products of the loss; "
                f"clip_x_grad (= {self.clip_x_grad}) makes the fed-back vector no loss gradient; "
                f"set clip_x_grad=None"
            )

    @property
    def feedback_per_example(self) -> bool:
        """Per example unless ``clip_scope="batch_mean"`` (which divides by the batch size): the
        gradient of :math:`\\sum_i L_i` with respect to :math:`x_i` is :math:`\\partial L_i/\\partial x_i`,
        clipped element-wise."""
        return self.clip_scope == "example"

    def x_gradient(self, problem, be, x, y_target, x_true):
        loss, g = loss_and_x_gradient(problem, be)(x, y_target)
        if self.clip_scope == "batch_mean":
            g = g / x.shape[0]
        return _clip(be, g, self.clip_x_grad), loss

    def objective(self, problem, be, net, params, y_target, x_true):
        """The training loss as a function of θ, :math:`\\sum_i L_i` (divided by N under the
        problem's ``loss_reduction="mean"`` and again under ``clip_scope="batch_mean"``), whose gradient is
        what ``x_gradient`` feeds back (for Hessian-based optimizers; not with ``clip_x_grad``, which is no loss
        gradient)."""
        if self.clip_x_grad is not None:
            raise ValueError(
                "dp: a Hessian-based optimizer needs the loss's own gradient; clip_x_grad "
                f"(= {self.clip_x_grad}) clips it; set clip_x_grad=None"
            )
        per = problem.loss(be, problem.predict(be, net, params, y_target), y_target)
        total = be.xp.sum(per)
        # the fed-back g_x is divided by N once for loss_reduction="mean" and once more for
        # clip_scope="batch_mean" (FeedbackScheme.gradients, x_gradient)
        scale = (per.shape[0] if problem.loss_reduction == "mean" else 1) * (
            per.shape[0] if self.clip_scope == "batch_mean" else 1
        )
        return total / scale


def check_iterative(owner, name: str, solver) -> None:
    """``solver`` (an id or an object) must be a registered iterative solver; raises otherwise
    (an unknown id suggests the nearest one)."""
    if isinstance(solver, IterativeSolver):
        return
    if not isinstance(solver, str):
        raise ValueError(f"{type(owner).__name__}.{name} must be an iterative solver id or object, got {solver!r}")
    try:
        cls = SOLVERS.resolve(solver).load()
    except UnknownIdError as e:
        raise InvalidSettingError(f"{type(owner).__name__}.{name}: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, IterativeSolver)):
        raise ValueError(f"{type(owner).__name__}.{name}={solver!r} is not an iterative solver")


def make_inner(problem, solver, settings: dict):
    """The iterative solver ``solver`` (id or object) with the problem's tuned defaults for it
    (:func:`pgbench.tuning.defaults`) overridden by ``settings``."""
    if isinstance(solver, IterativeSolver):
        return solver
    return tuning.make_tuned_solver(problem, solver, **settings)


def jittable_solver(solver) -> bool:
    """Whether the iterative solver (id or object) has a pure, compilable step."""
    if isinstance(solver, IterativeSolver):
        return solver.jittable
    return bool(getattr(SOLVERS.resolve(solver).load(), "jittable", False))


def _solver_setting(solver):
    """A solver given as an object, as plain values for the run's key."""
    if isinstance(solver, IterativeSolver):
        return {"id": solver.id, **solver.hyperparameters()}
    return solver


def run_inner(problem, be, solver, x, y_target, steps):
    """``steps`` steps of an iterative solver from ``x``; returns the final x."""
    state = solver.init(problem, be, x, y_target)
    for _ in range(steps):
        x, state, _ = solver.checked_step(problem, be, x, y_target, state)
    return x


@dataclass(frozen=True)
class Supervised(FeedbackScheme):
    """Supervised training, :math:`g_x = x - x_{label}`. ``labels="truth"`` uses x*; any iterative
    solver (id or object, e.g. ``inverse``) computes labels by running it ``label_steps`` times from
    the problem's initial guess (Eq. 3; for the multimodal sin problem this picks the minimum
    closest to the guess)."""

    labels: str | IterativeSolver = "truth"
    label_steps: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.labels != "truth":
            check_iterative(self, "labels", self.labels)
        check_positive(self, "label_steps")

    @property
    def jittable(self) -> bool:
        return self.labels == "truth" or jittable_solver(self.labels)

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "labels": _solver_setting(self.labels)}

    def label_solver(self, problem):
        """The iterative solver that computes labels on ``problem`` (resolved once per problem)."""
        return self.built((problem,), lambda: make_inner(problem, self.labels, {}))

    def missing(self, problem):
        reason = super().missing(problem)
        if reason or self.labels == "truth":
            return reason
        inner = self.label_solver(problem).missing(problem)
        return f"{self.id} with labels from {self.labels}: {inner}" if inner else None

    @property
    def feedback_per_example(self) -> bool:
        """Per example for labels x* (:math:`g_x = x - x^*`); an iterative label solver may span the batch."""
        return self.labels == "truth"

    def x_gradient(self, problem, be, x, y_target, x_true):
        if self.labels == "truth":
            label = x_true
        else:
            x0 = problem.initial_guess(be, y_target)
            label = run_inner(problem, be, self.label_solver(problem), x0, y_target, self.label_steps)
        return x - be.xp.astype(label, x.dtype), None


def is_default_inner(inner) -> bool:
    """Whether the inner solver id ``inner`` names what ``inner=None`` runs: the solver that
    ``"inverse"`` resolves to (``"inverse"``, ``"inverse-v0"`` today), with the problem's tuned
    defaults. PG stores it as None, so that both spellings have one run key."""
    if not isinstance(inner, str):
        return False
    return SOLVERS.resolve(inner).id == SOLVERS.resolve("inverse").id


@dataclass(frozen=True)
class PhysicalGradient(FeedbackScheme):
    """Physical gradients (SIP): ``n`` steps of an inner iterative solver from the network's
    prediction :math:`\\hat x` give :math:`x_{corr}`; the network regresses onto it with the proxy L2
    loss. ``inner`` is any registered iterative solver id (``gd``, ``adam``, a plugin's) or solver
    object; None uses the problem's own inverse-physics step (``inner="inverse"`` is stored as None:
    the same computation, one run key). ``inner_settings`` are passed to the
    inner solver (e.g. ``{"eta": 1.0}`` for ``gd``); ``clip`` clips :math:`\\hat x - x_{corr}`."""

    inner: str | IterativeSolver | None = None
    n: int = 1
    inner_settings: dict = field(default_factory=dict)
    clip: float | None = None
    proxy: str = "l2"  # "l1": the authors' sin-characterisation code (sign of Δx only, spec §9.2)

    def __post_init__(self):
        super().__post_init__()
        if self.inner is not None:
            check_iterative(self, "inner", self.inner)
        if is_default_inner(self.inner):  # one computation, one run key: "inverse" is None
            object.__setattr__(self, "inner", None)
        if isinstance(self.inner, IterativeSolver) and self.inner_settings:
            raise ValueError("PhysicalGradient: inner_settings apply to an inner solver id, not to a solver object")
        check_positive(self, "n", "clip")
        check_choice(self, "proxy", ("l2", "l1"))

    @property
    def inner_id(self) -> str:
        if isinstance(self.inner, IterativeSolver):
            return self.inner.id
        return self.inner or "inverse"

    @property
    def jittable(self) -> bool:
        return jittable_solver(self.inner if self.inner is not None else "inverse")

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "inner": _solver_setting(self.inner)}

    def inner_solver(self, problem):
        """The inner iterative solver on ``problem`` with its tuned defaults and ``inner_settings``,
        resolved through the registry once per problem (not at every step)."""
        return self.built(
            (problem,),
            lambda: make_inner(problem, self.inner if self.inner is not None else "inverse", dict(self.inner_settings)),
        )

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        inner = self.inner_solver(problem).missing(problem)
        return f"{self.id} with inner solver {self.inner_id}: {inner}" if inner else None

    @property
    def feedback_per_example(self) -> bool:
        """Per example with the problem's own inverse-physics step (``inner=None``), a step on each
        example (:meth:`pgbench.problems.base.Problem.inverse`); another iterative inner solver may
        span the batch (e.g. a line search)."""
        return self.inner is None

    def x_gradient(self, problem, be, x, y_target, x_true):
        x_corr = run_inner(problem, be, self.inner_solver(problem), x, y_target, self.n)
        g = _clip(be, x - be.stop_gradient(be.xp.astype(x_corr, x.dtype)), self.clip)
        if self.proxy == "l1":
            g = be.xp.sign(g)
        return g, None

    requires: ClassVar[frozenset[str]] = frozenset({"network"})
