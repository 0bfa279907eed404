"""The problem interface: a family of physics inverse problems ``y = P(x)``.

All array arguments are batch-first backend arrays; physics is written once against the array
API (``xp = be.xp``). Per-example quantities (loss, x error, extras) have shape ``(B,)``.

Capabilities a problem may declare (solvers that need a missing one are skipped with a reason):

``inverse``     ``inverse(be, x, y_target, eta)``: one inverse-physics step :math:`P^{-1}` (PG / SIP).
``newton``      ``newton(be, x, y_target)``: a domain-specific Newton update (else generic, needs ``small``).
``invgrad``     ``inverse_gradient(be, x, y_target)``: linearised inversion :math:`-J^{-1}(P(x)-y^*)`.
``small``       per-example dense Jacobians/Hessians are cheap (generic Newton, inverse gradient, HIG).
``network``     ``network()`` returns the paper's network, so training schemes apply.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class Problem(abc.ABC):
    """Base of every problem. Subclasses are frozen dataclasses whose fields are the settings
    (resolution, batch, budgets...); scales are named sets of field values (see the registry)."""

    batch_size: int = 128
    test_size: int = 128  # the fixed held-out batch (iterative solvers solve exactly it)
    iterations: int = 1000  # default training budget at this scale
    solve_iterations: int = 100  # default iterative-solver budget at this scale
    eval_every: int = 100  # held-out evaluation cadence during training

    capabilities: ClassVar[frozenset[str]] = frozenset()
    loss_reduction: ClassVar[str] = "sum"  # how training reduces per-example losses over the batch
    physics_dtype: ClassVar[str] = "float32"
    net_dtype: ClassVar[str] = "float32"
    solver_defaults: ClassVar[dict[str, dict]] = {}  # solver tuning per name, e.g. {"gd": {"eta": 2e-5}}
    presets: ClassVar[dict[str, dict]] = {}  # named hyperparameter sets, e.g. {"paper_sgd": {...}}
    x_error_name: ClassVar[str] = "|x - x*|"  # what x_error measures, for tables and plots
    target_x_error: ClassVar[float | None] = None  # accuracy target for time-to-target metrics

    id: ClassVar[str] = "?"
    scale: ClassVar[str] = "?"
    #: settings added after runs were stored: left out of :meth:`settings` (so of run keys) while at
    #: their default, so existing configurations keep their keys
    key_neutral_defaults: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        for name in ("batch_size", "test_size", "iterations", "solve_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {self.eval_every}")

    # --- required -------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def x_shape(self) -> tuple[int, ...]:
        """Shape of one example's unknown x."""

    def sample(self, rng: np.random.Generator, n: int, be):
        """``(x_true, y_target)`` for ``n`` examples drawn from ``rng`` (numpy, so every backend
        and every solver sees the identical data). Problems define either this or the pair
        :meth:`draw` + :meth:`realize`, whose composition it then is (``realize`` compiled once
        per backend with ``be.jit``: on jax one program instead of a few eager operations per
        batch, the same numbers bit for bit, ``tests/test_vectorize.py``)."""
        drawn = self.draw(rng, n)
        if drawn is None:
            raise NotImplementedError(f"problem {self.id} defines neither sample() nor draw() + realize()")
        realize = per_backend(be, ("realize", self), lambda: be.jit(lambda *d: self.realize(be, *d)))
        return realize(*(be.asarray(d) for d in drawn))

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...] | None:
        """The random part of :meth:`sample`: numpy arrays (in the dtype ``realize`` computes
        with, e.g. float64 for a spectral transform) drawn from ``rng`` on the host, batch-first;
        None if the problem only defines :meth:`sample`. Splitting ``sample`` into
        ``realize(draw(rng, n))`` lets vectorised runs draw every seed's numbers on the host and
        compute the rest inside one compiled program (:mod:`pgbench.vectorize`)."""
        return None

    @property
    def splits_sampling(self) -> bool:
        """Whether this problem defines :meth:`draw` + :meth:`realize` (not only :meth:`sample`)."""
        return type(self).draw is not Problem.draw

    def realize(self, be, *drawn):
        """``(x_true, y_target)`` from :meth:`draw`'s arrays (as backend arrays): a pure array
        function of one batch that treats its examples independently, so it can be jitted,
        vmapped, and run on several seeds' draws joined into one batch (torch,
        :mod:`pgbench.seed_axis`)."""
        raise NotImplementedError(f"problem {self.id} defines no realize()")

    def forward(self, be, x):
        """The physics ``y = P(x)``."""
        raise TypeError(f"problem {self.id} defines no standalone forward model; see residual()")

    def observable(self, be, x, y_target):
        """What ``x`` produces, to set beside the observation y* (the report's P(x) panels): by
        default :meth:`forward`. Problems whose physics takes y* as its input (a control problem
        starting from y*) override this; problems without such a quantity (sin(a/x)) raise."""
        return self.forward(be, x)

    def residual(self, be, x, y_target):
        """:math:`P(x) - y^*`, whose half squared norm is the objective. Problems whose physics
        depends on the observation (e.g. sin(a/x) with a given) override this instead of forward."""
        return self.forward(be, x) - y_target

    # --- defaults ---------------------------------------------------------------------------------
    def loss(self, be, x, y_target):
        """Per-example objective, by default :math:`\\tfrac12\\lVert P(x) - y^*\\rVert_2^2`."""
        r = self.residual(be, x, y_target)
        return 0.5 * _sum_per_example(be.xp, r * r)

    def x_error(self, be, x, x_true, y_target):
        """Per-example error in x space; by default the L1 norm :math:`\\lVert x - x^*\\rVert_1`."""
        return _sum_per_example(be.xp, be.xp.abs(x - x_true))

    def extras(self, be, x, x_true, y_target) -> dict:
        """Problem-specific per-example metrics recorded every iteration."""
        return {}

    def initial_guess(self, be, y_target):
        """Start of iterative solvers: zeros."""
        return be.zeros((y_target.shape[0],) + tuple(self.x_shape), self.physics_dtype)

    # --- networks ----------------------------------------------------------------------------------
    def network(self):
        """The paper's network for this problem (problems declaring ``network`` override this)."""
        raise TypeError(f"problem {self.id} declares no network; training schemes do not apply")

    def net_input(self, be, y_target):
        return be.xp.astype(y_target, _dt(be, self.net_dtype))

    def net_output(self, be, out, y_target):
        """Map the raw network output to x (post-processing, e.g. offsets)."""
        return be.xp.astype(out, _dt(be, self.physics_dtype))

    def predict(self, be, net, params, y_target):
        return self.net_output(be, net.apply(be, params, self.net_input(be, y_target)), y_target)

    # --- bookkeeping ---------------------------------------------------------------------------------
    def settings(self) -> dict:
        """Every setting, except those of ``key_neutral_defaults`` at their default value."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not (f.name in self.key_neutral_defaults and getattr(self, f.name) == f.default)
        }

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


def check_sample(problem, n: int, x_true, y_target) -> None:
    """Raise ValueError unless a batch of ``n`` examples from :meth:`Problem.sample` keeps the
    contract: ``x_true`` of shape ``(n, *x_shape)``, ``y_target`` batch-first, of shape
    ``(n, *y_shape)`` where the problem declares ``y_shape``. Shapes only (no device
    synchronisation); the run loop checks a run's first batches with it."""
    expected = (n, *tuple(problem.x_shape))
    got = tuple(getattr(x_true, "shape", ()))
    if got != expected:
        raise ValueError(
            f"problem {problem.id}: sample() returned x_true of shape {got}, expected {expected} (batch, *x_shape)"
        )
    y_shape = getattr(problem, "y_shape", None)
    got = tuple(getattr(y_target, "shape", ()))
    if (y_shape is not None and got != (n, *tuple(y_shape))) or got[:1] != (n,):
        wanted = f"{(n, *tuple(y_shape))} (batch, *y_shape)" if y_shape is not None else f"({n}, ...) (batch first)"
        raise ValueError(f"problem {problem.id}: sample() returned y_target of shape {got}, expected {wanted}")


#: network options of the grid problems (settings ``net``, ``fno_modes``, ``fno_width``, ``fno_layers``)
NETWORKS = ("unet", "fno")
NETWORK_SETTINGS = ("net", "fno_modes", "fno_width", "fno_layers")


def check_network_settings(problem, grid_shape) -> None:
    """Clear errors for the network settings before any work: ``net`` one of :data:`NETWORKS`,
    FNO sizes >= 1 and only with ``net="fno"``, and the grid large enough for the FNO's modes."""
    from ..registry import suggest

    if problem.net not in NETWORKS:
        hint = suggest(str(problem.net), NETWORKS)
        raise ValueError(f"net must be one of {', '.join(NETWORKS)}, got {problem.net!r}{hint}")
    defaults = {f.name: f.default for f in dataclasses.fields(problem)}
    for name in NETWORK_SETTINGS[1:]:
        if getattr(problem, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(problem, name)}")
        if problem.net != "fno" and getattr(problem, name) != defaults[name]:
            raise ValueError(f"{name} applies to net='fno' only (net is {problem.net!r})")
    if problem.net == "fno":
        fno_network(problem, 1, 1).check_grid(grid_shape)


def fno_network(problem, in_channels: int, out_channels: int):
    """The problem's FNO (:class:`pgbench.nets.FNO2d`) from its ``fno_*`` settings."""
    from ..nets import FNO2d

    return FNO2d(in_channels, out_channels, modes=problem.fno_modes, width=problem.fno_width, layers=problem.fno_layers)


def _dt(be, name: str):
    return getattr(be.xp, name)


def _sum_per_example(xp, a):
    return xp.sum(xp.reshape(a, (a.shape[0], -1)), axis=1)


sum_per_example = _sum_per_example
dtype_of = _dt

_PER_BACKEND: dict = {}


def per_backend(be, key, make):
    """``make()`` once per backend, device and ``key`` (device constants, jitted data functions)."""
    k = (be.name, be.device, key)
    if k not in _PER_BACKEND:
        _PER_BACKEND[k] = make()
    return _PER_BACKEND[k]
