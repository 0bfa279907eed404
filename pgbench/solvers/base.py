"""Solver interfaces, in the shape of optax / optimistix: a solver is a frozen dataclass of typed
hyperparameters (validated in ``__post_init__``) that holds no state between runs; every piece of
a run's progress lives in an explicit state that the caller threads through.

* :class:`IterativeSolver` solves every inverse problem of a batch independently::

      state = solver.init(problem, be, x0, y_target)
      x, state, info = solver.step(problem, be, x, y_target, state)

  ``info`` is a dict of scalar diagnostics (e.g. L-BFGS-B's ``nit``, ``nfev``) that the runner
  records in the row; ``{}`` when there are none.
* :class:`TrainingScheme` trains a network ``x = NN(y* | θ)`` as an init/update pair over the
  network parameters::

      state = scheme.init(problem, be, net, params)
      params, state, out = scheme.update(problem, be, net, params, state, y_target, x_true)

  ``out`` is a :class:`Step`: the batch prediction before the update, its per-example loss and
  the scalar diagnostics. :class:`FeedbackScheme` (``dp``, ``supervised``, ``pg``) only says which
  gradient :math:`g_x` it feeds back at the network output; one vector-Jacobian product through
  the network makes it a parameter gradient, which a first-order optimizer (Adam or SGD) applies.
  Schemes that compute their own update (``hig``, ``gn``) and combinators (``schedule``) subclass
  :class:`TrainingScheme` directly.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from .. import optimizers
from ..backends import get_backend
from ..problems.base import sum_per_example
from ..registry import base_name
from ..schedules import FIELDS as SCHEDULE_FIELDS
from ..schedules import Schedule
from ..search_space import LogUniform, Uniform


@dataclass(frozen=True)
class Solver:
    """What every solver has (id, capabilities, hyperparameters, built objects); the abstract kinds
    to subclass are :class:`IterativeSolver` and :class:`TrainingScheme`."""

    kind: ClassVar[str] = "?"
    requires: ClassVar[frozenset[str]] = frozenset()
    id: ClassVar[str] = "?"
    #: what a tuner may vary (:mod:`pgbench.search_space`); empty: the defaults only
    search_space: ClassVar[dict] = {}

    @classmethod
    def space_for(cls, settings: dict) -> dict:
        """The search space of this solver with ``settings`` fixed (those are not varied)."""
        return {k: v for k, v in cls.search_space.items() if k not in settings}

    def missing(self, problem) -> str | None:
        """Why this solver cannot run on ``problem``, or None if it can."""
        lacking = sorted(c for c in self.requires if not problem.has(c))
        if lacking:
            return f"{self.id} needs problem capability {', '.join(lacking)} which {problem.id} lacks"
        return None

    def hyperparameters(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def built(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()``, made once per solver and ``key`` (a tuple of objects, compared by
        identity, e.g. ``(problem, be)``): what a solver builds to run (compiled functions,
        optimizer objects, resolved inner solvers) lives on the solver, so that a state is data
        (arrays, numbers, pytrees of them). Not part of the hyperparameters, equality or pickle."""
        cache = self.__dict__.setdefault("_built", {})  # a frozen dataclass: its __dict__ directly
        k = tuple(map(id, key))
        if k not in cache:
            cache[k] = (key, make())  # the key's objects held, so their ids stay theirs
        return cache[k][1]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_built"}

    @property
    def name(self) -> str:
        return base_name(self.id)


def check_positive(obj, *names):
    for n in names:
        v = getattr(obj, n)
        if v is not None and not v > 0:
            raise ValueError(f"{type(obj).__name__}.{n} must be > 0, got {v!r}")


def check_choice(obj, name, choices):
    v = getattr(obj, name)
    if v not in choices:
        raise ValueError(f"{type(obj).__name__}.{name} must be one of {', '.join(map(str, choices))}; got {v!r}")


class IterativeSolver(Solver, abc.ABC):
    kind: ClassVar[str] = "iterative"
    jittable: ClassVar[bool] = True  # step is a pure array function
    max_steps: ClassVar[int | None] = None  # a one-shot solver (L-BFGS-B to convergence) says 1

    def init(self, problem, be, x0, y_target):
        """The solver's state for the batch ``x0`` (None when it needs none)."""
        return None

    @abc.abstractmethod
    def step(self, problem, be, x, y_target, state):
        """One update of every example: returns ``(x, state, info)``."""

    def checked_step(self, problem, be, x, y_target, state):
        """:meth:`step`, its result checked against the contract ``(x, state, info)``: anything
        else (e.g. the ``(x, state)`` of pgbench 0.1) raises a TypeError naming the class."""
        out = self.step(problem, be, x, y_target, state)
        if not (isinstance(out, tuple) and len(out) == 3 and isinstance(out[2], dict)):
            cls = type(self)
            got = (
                type(out).__name__
                if not isinstance(out, tuple)
                else (f"a {len(out)}-tuple" if len(out) != 3 else f"info of type {type(out[2]).__name__}")
            )
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}.step must return (x, state, info), info a "
                f"dict of scalar diagnostics ({{}} if none); it returned {got} (pgbench 0.1's "
                f"(x, state) is no longer adapted since 0.3.0: add the info dict)"
            )
        return out


class Step(NamedTuple):
    """What a training update reports besides the new parameters and state: the batch
    prediction ``x`` before the update, its per-example ``loss`` and scalar diagnostics ``info``
    (e.g. HIG's ``t_jacobian`` and ``rank``; the runner records them in the row)."""

    x: Any
    loss: Any
    info: dict


class TrainingScheme(Solver, abc.ABC):
    """An init/update pair over the network parameters (see the module docstring)."""

    kind: ClassVar[str] = "training"
    requires: ClassVar[frozenset[str]] = frozenset({"network"})

    @property
    def jittable(self) -> bool:
        """Whether ``update`` is a pure array function on every backend (compiled whole). A scheme
        says so as a class constant (``jittable: ClassVar[bool] = False``) or, where it depends on
        its settings, as a property."""
        return True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if TrainingScheme in cls.__bases__ and "x_gradient" in cls.__dict__ and "update" not in cls.__dict__:
            # pgbench 0.1's TrainingScheme was the feedback scheme (optimizer, lr, x_gradient)
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} subclasses TrainingScheme and defines "
                f"x_gradient: subclass FeedbackScheme (TrainingScheme is the init/update pair "
                f"since 0.2; pgbench 0.1 schemes are no longer adapted since 0.3.0)"
            )

    @abc.abstractmethod
    def init(self, problem, be, net, params):
        """The scheme's state at the start of training (optimizer moments, stage, ...)."""

    @abc.abstractmethod
    def update(self, problem, be, net, params, state, y_target, x_true):
        """One training step on the batch ``y_target``: returns ``(params, state, Step)``."""

    def compile(self, problem, be, net):
        """``update`` as ``fn(params, state, y_target, x_true, elapsed) -> (params, state, Step)``,
        compiled where the backend allows (one program per iteration under jax). ``elapsed`` is
        the run's training time so far in seconds (used by schedules switching after seconds).
        The runner calls this once per run plan; every state of the run shares it."""
        fn = functools.partial(self.update, problem, be, net)
        if self.jittable:
            fn = be.jit(fn)
        return lambda params, state, y, xt, elapsed=None: fn(params, state, y, xt)

    def warm_up_state(self, state):
        """The state a throwaway warm-up starts from (a schedule: one that switches stage after
        one step, so both stages are warm)."""
        return state


@runtime_checkable
class HasObjective(Protocol):
    """A scheme whose fed-back gradient is that of a scalar training loss of θ (``dp``): what a
    Hessian-based optimizer (``needs="hvp"``) differentiates twice."""

    def objective(self, problem, be, net, params, y_target, x_true): ...


#: what :meth:`FeedbackScheme.missing_on` found per backend and optimizer setting (None: it works)
_SETTINGS_VERDICTS: dict[tuple, str | None] = {}


@dataclass(frozen=True)
class FeedbackScheme(TrainingScheme):
    """A scheme that feeds a gradient :math:`g_x` back at the network output; the outer
    first-order optimizer (``optimizer``: adam, amsgrad or sgd; ``lr``; ``momentum`` for sgd)
    applies :math:`J_\\theta^T g_x`.

    The learning rate follows ``schedule`` (:mod:`pgbench.schedules`: optax schedules on jax,
    ``torch.optim.lr_scheduler`` on torch, the same rate per update on both): ``"constant"``
    (default), ``"cosine"`` over ``schedule_steps`` updates down to ``final_lr_fraction``·lr,
    ``"step"`` (× ``decay_rate`` every ``step_every`` updates), ``"exponential"`` (× ``decay_rate``
    per ``step_every`` updates, smoothly); ``warmup_steps`` > 0 puts a linear warm-up from
    ``warmup_start_fraction``·lr to lr before any of them. These settings enter the run key only
    when they differ from their defaults, so runs stored before they existed keep their keys."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    optimizer_settings: dict = dataclasses.field(default_factory=dict)
    schedule: str = "constant"
    schedule_steps: int | None = None
    final_lr_fraction: float = 0.0
    decay_rate: float = 0.1
    step_every: int | None = None
    warmup_steps: int = 0
    warmup_start_fraction: float = 0.01

    # keyed only when set: a default value leaves the hyperparameters (and the run key) as before
    KEYED_WHEN_SET: ClassVar[dict] = {**SCHEDULE_FIELDS, "optimizer_settings": {}}
    search_space: ClassVar[dict] = {"lr": LogUniform(1e-5, 1e-1)}

    @classmethod
    def space_for(cls, settings: dict) -> dict:
        """The learning rate, and SGD's momentum when the outer optimizer is SGD."""
        space = dict(cls.search_space)
        if settings.get("optimizer", "adam") == "sgd":
            space["momentum"] = Uniform(0.0, 0.99)
        return {k: v for k, v in space.items() if k not in settings}

    def __post_init__(self):
        optimizers.entry(self.optimizer)  # an unknown name suggests the nearest
        if not isinstance(self.optimizer_settings, dict):
            raise ValueError(
                f"optimizer_settings must be a dict of the library's settings, got {self.optimizer_settings!r}"
            )
        if optimizers.entry(self.optimizer).needs == "hvp" and not isinstance(self, HasObjective):
            raise ValueError(
                f"optimizer {self.optimizer!r} needs Hessian-vector products of a training loss; "
                f"{type(self).__name__} feeds back a vector that is not the gradient of a loss "
                f"in the network parameters (use it with dp)"
            )
        check_positive(self, "lr")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        self.lr_schedule()  # validates the schedule settings

    def lr_schedule(self):
        """The :class:`~pgbench.schedules.Schedule` of the settings, None when the rate is constant."""
        sc = Schedule.from_settings(**{k: getattr(self, k) for k in SCHEDULE_FIELDS})
        return None if sc.is_constant else sc

    def hyperparameters(self) -> dict:
        hp = super().hyperparameters()
        for k, default in self.KEYED_WHEN_SET.items():
            if k in hp and hp[k] == default:
                del hp[k]
        return hp

    def optimizer_on(self, be):
        """:meth:`make_optimizer` on ``be``, built once per backend."""
        return self.built((be,), lambda: self.make_optimizer(be))

    def make_optimizer(self, be):
        """The network optimizer on ``be`` (:mod:`pgbench.optimizers`: optax / torch.optim /
        pytorch-optimizer by name, ``optimizer_settings`` to its constructor)."""
        sc = self.lr_schedule()
        extra = dict(self.optimizer_settings)
        if sc is not None:
            extra["schedule"] = sc
        if self.optimizer == "sgd":
            extra = {"momentum": self.momentum, **extra}
        return be.optimizer(self.optimizer, self.lr, **extra)

    def missing_on(self, backend: str) -> str | None:
        """Why this scheme cannot run on ``backend`` (its optimizer missing there, or settings the
        library rejects), checked when a run is planned; None if it can. The library checks the
        settings: the optimizer is built and takes one update on a tiny parameter (optax checks
        its settings only when it updates), whatever it raises becomes the one-line reason; the
        verdict is kept per backend and optimizer setting (a sweep plans many runs of one)."""
        reason = optimizers.missing_on(self.optimizer, backend)
        if reason:
            return reason
        settings = (self.lr, self.momentum, self.optimizer_settings, self.lr_schedule())
        key = (backend, self.optimizer, repr(settings))
        if key not in _SETTINGS_VERDICTS:
            _SETTINGS_VERDICTS[key] = self._try_optimizer(backend)
        return _SETTINGS_VERDICTS[key]

    def _try_optimizer(self, backend: str) -> str | None:
        be = get_backend(backend)
        try:
            opt = self.make_optimizer(be)
            params = {"w": be.zeros((2, 2), "float32")}
            state = opt.init(params)
            grads = {"w": be.zeros((2, 2), "float32") + 1}
            if getattr(opt, "needs", None) == "hvp":
                opt.update(params, None, state, objective=lambda p: be.xp.sum(p["w"] * p["w"]))
            else:
                opt.update(params, grads, state)
        except Exception as e:  # anything the library raises: the settings do not work
            lib = optimizers.entry(self.optimizer).library[backend]
            message = " ".join(str(e).split())[:300]
            return (
                f"optimizer {self.optimizer!r} on {backend} ({lib}) rejects optimizer_settings "
                f"{self.optimizer_settings!r}: {type(e).__name__}: {message}"
            )
        return None

    @abc.abstractmethod
    def x_gradient(self, problem, be, x, y_target, x_true):
        """The feedback :math:`g_x` at the network output for a batch prediction ``x`` (no graph),
        and the per-example y loss if it was computed on the way (else None)."""

    @property
    def feedback_per_example(self) -> bool:
        """Whether :meth:`x_gradient` treats the examples of a batch independently (each example's
        feedback depends on that example only), so S seeds' batches may be joined into one batch
        of S·B examples (:meth:`x_gradient_seeds`); False unless a scheme says so."""
        return False

    def x_gradient_seeds(self, problem, be, x, y_target, x_true):
        """:meth:`x_gradient` of S seeds' batches at once: arrays of shape (S, B, ...), results
        (S, B, ...) (the loss (S, B) or None). Where the feedback is per example
        (:attr:`feedback_per_example`) the seeds' batches are joined into one batch of S·B
        examples; else ``be.vmap`` over the seeds."""
        if not self.feedback_per_example:
            return be.vmap(lambda *a: self.x_gradient(problem, be, *a))(x, y_target, x_true)
        from ..seed_batches import join, split

        s, b = x.shape[:2]
        g, loss = self.x_gradient(problem, be, *(join(be, a) for a in (x, y_target, x_true)))
        return split(be, g, s, b), (None if loss is None else split(be, loss, s, b))

    def gradients(self, problem, be, net, params, y_target, x_true):
        """Parameter gradients :math:`J_\\theta^T g_x`, the batch prediction (before the update)
        and its per-example loss."""
        x, pullback = be.vjp(lambda p: problem.predict(be, net, p, y_target), params)
        x = be.stop_gradient(x)
        g_x, loss = self.x_gradient(problem, be, x, y_target, x_true)
        if problem.loss_reduction == "mean":
            g_x = g_x / x.shape[0]
        (g_params,) = pullback(be.xp.astype(g_x, x.dtype))
        if loss is None:
            loss = problem.loss(be, x, y_target)
        return g_params, x, loss

    def init(self, problem, be, net, params):
        return self.optimizer_on(be).init(params)

    def update(self, problem, be, net, params, state, y_target, x_true):
        opt = self.optimizer_on(be)
        if getattr(opt, "needs", None) == "hvp":
            return self._hvp_update(problem, be, net, params, state, y_target, x_true, opt)
        g, x, loss = self.gradients(problem, be, net, params, y_target, x_true)
        params, state = opt.update(params, g, state)
        return params, state, Step(x, loss, {})

    def _hvp_update(self, problem, be, net, params, state, y_target, x_true, opt):
        """A Hessian-based optimizer's step: it gets the scheme's scalar ``objective`` of the
        parameters (optax: ``obj_fn``; torch: gradients with ``create_graph=True``)."""
        if not isinstance(self, HasObjective):  # refused in __post_init__
            raise TypeError(f"{type(self).__name__} has no training objective for a Hessian-based optimizer")
        x = be.stop_gradient(problem.predict(be, net, params, y_target))
        loss = problem.loss(be, x, y_target)

        def objective(p):
            return self.objective(problem, be, net, p, y_target, x_true)

        params, state = opt.update(params, None, state, objective=objective)
        return params, state, Step(x, loss, {})

    def compile(self, problem, be, net):
        """One compiled program for gradients and update where the optimizer's update is a pure
        array function (optax); else the gradients compiled and the library's update after them."""
        opt = self.optimizer_on(be)
        if getattr(opt, "jittable", False) or getattr(opt, "needs", None) == "hvp":
            return super().compile(problem, be, net)
        grads = functools.partial(self.gradients, problem, be, net)
        grads = be.jit(grads) if self.jittable else grads

        def update(params, state, y, xt, elapsed=None):
            g, x, loss = grads(params, y, xt)
            params, state = opt.update(params, g, state)
            return params, state, Step(x, loss, {})

        return update


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


__all__ = [
    "Solver",
    "IterativeSolver",
    "TrainingScheme",
    "FeedbackScheme",
    "Step",
    "loss_and_x_gradient",
    "sum_per_example",
    "check_positive",
    "check_choice",
]
