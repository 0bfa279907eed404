"""Iterative optimizers: every inverse problem of the batch is solved on its own.

All gradients are per example (the batch loss is a sum of independent terms).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..problems.base import Problem
from ..search_space import LogUniform
from .base import IterativeSolver, check_choice, check_positive, loss_and_x_gradient


def _flat(be, x):
    return be.xp.reshape(x, (x.shape[0], -1))


def _compiled_gradient(solver, problem, be):
    """``loss_and_x_gradient`` of ``problem`` compiled on ``be``, built once per solver."""
    return solver.built((problem, be), lambda: be.jit(loss_and_x_gradient(problem, be)))


@dataclass(frozen=True)
class GradientDescent(IterativeSolver):
    """:math:`x \\leftarrow x - \\eta\\,\\nabla_x L(x)`."""

    eta: float = 1e-3
    search_space: ClassVar[dict] = {"eta": LogUniform(1e-6, 1.0)}

    def __post_init__(self):
        check_positive(self, "eta")

    def step(self, problem, be, x, y_target, state):
        _, g = loss_and_x_gradient(problem, be)(x, y_target)
        return x - self.eta * g, state, {}


@dataclass(frozen=True)
class Adam(IterativeSolver):
    """Adam (Kingma & Ba) on each example's x, with the backend's library implementation."""

    lr: float = 1e-3
    jittable: ClassVar[bool] = False  # the optimizer update is the library's, not a pure step
    search_space: ClassVar[dict] = {"lr": LogUniform(1e-4, 1.0)}

    def __post_init__(self):
        check_positive(self, "lr")

    def optimizer(self, be):
        """The backend's Adam of rate ``lr`` (built once per backend)."""
        return self.built((be,), lambda: be.optimizer("adam", self.lr))

    def init(self, problem, be, x0, y_target):
        return self.optimizer(be).init({"x": x0})

    def step(self, problem, be, x, y_target, state):
        _, g = _compiled_gradient(self, problem, be)(x, y_target)
        params, state = self.optimizer(be).update({"x": x}, {"x": g}, state)
        return params["x"], state, {}


def _flip_limited_newton_step(be, g, H, max_loss_change, faithful):
    """Newton step per eigen-direction of H, always pointing downhill (``sign(-g)``), with the
    step limited along weakly curved directions (authors' ``newton.py``). g: (B, n), H: (B, n, n)."""
    xp = be.xp
    S, V = xp.linalg.eigh(H)
    if faithful:  # authors' code contracts the eigenvector index axis: Vᵀ D V g (spec §9.1)
        ge = xp.matmul(V, g[..., None])[..., 0]
    else:
        ge = xp.matmul(xp.matrix_transpose(V), g[..., None])[..., 0]
    absS = xp.abs(S)
    mag = xp.where(absS > 0, xp.abs(ge) / xp.where(absS > 0, absS, xp.ones_like(absS)), xp.zeros_like(ge))
    if max_loss_change is not None:
        n = S.shape[-1]
        s_bar = xp.prod(absS, axis=-1, keepdims=True) ** (1.0 / n)
        limit = max_loss_change / xp.where(ge == 0, xp.ones_like(ge), xp.abs(ge))
        mag = xp.where(S > s_bar, mag, xp.minimum(mag, limit))
    n_e = -xp.sign(ge) * mag
    if faithful:
        return xp.matmul(xp.matrix_transpose(V), n_e[..., None])[..., 0]
    return xp.matmul(V, n_e[..., None])[..., 0]


class _ClippedUpdate(IterativeSolver):
    """Solvers of the form :math:`x \\leftarrow x + \\mathrm{clip}(\\eta\\,\\Delta x)` with
    :math:`\\Delta x` = ``delta(...)``. Subclasses are dataclasses with the fields ``eta`` and ``clip``
    (declared here for the type checker only: this class is no dataclass, so adds no field)."""

    eta: float
    clip: float | None

    @abc.abstractmethod
    def delta(self, problem, be, x, y_target):
        """The update direction :math:`\\Delta x` of every example."""

    def step(self, problem, be, x, y_target, state):
        d = self.eta * self.delta(problem, be, x, y_target)
        if self.clip is not None:
            d = be.xp.clip(d, -self.clip, self.clip)
        return x + d, state, {}


@dataclass(frozen=True)
class Newton(_ClippedUpdate):
    """Newton's method flipped towards minima (paper App. B.2): per eigen-direction of the Hessian,
    step length :math:`|g_e/S|` along :math:`-\\mathrm{sign}(g_e)`; optionally limited where the
    curvature is below the geometric mean (``max_loss_change``) and clipped to ``[-clip, clip]``.
    Problems with a domain-specific Newton step (capability ``newton``) supply it instead."""

    eta: float = 1.0
    clip: float | None = None
    max_loss_change: float | None = None
    fidelity: str = "intended"  # "authors": the eigen-basis contraction of the authors' code

    def __post_init__(self):
        check_positive(self, "eta", "clip", "max_loss_change")
        check_choice(self, "fidelity", ("intended", "authors"))

    def missing(self, problem):
        if problem.has("newton") or problem.has("small"):
            return None
        return f"{self.id} needs a domain Newton step or a small problem (dense Hessian); {problem.id} has neither"

    def delta(self, problem, be, x, y_target):
        if problem.has("newton"):
            return problem.newton(be, x, y_target)
        xp = be.xp
        shape = x.shape

        def single_loss(xi, yi):
            return problem.loss(be, xp.reshape(xi, (1,) + shape[1:]), yi[None])[0]

        g = be.vmap(be.jacobian(single_loss))(_flat(be, x), y_target)
        H = be.vmap(be.hessian(single_loss))(_flat(be, x), y_target)
        d = _flip_limited_newton_step(be, g, H, self.max_loss_change, self.fidelity == "authors")
        return xp.reshape(d, shape)


@dataclass(frozen=True)
class InverseGradient(_ClippedUpdate):
    """Linearised inversion: :math:`x \\leftarrow x - \\eta\\,J^{-1}(P(x) - y^*)` (square J),
    clipped to ``[-clip, clip]``. Problems may supply ``inverse_gradient`` (capability ``invgrad``)."""

    eta: float = 1.0
    clip: float | None = None

    def __post_init__(self):
        check_positive(self, "eta", "clip")

    def missing(self, problem):
        if problem.has("invgrad"):
            return None
        y_shape = getattr(problem, "y_shape", None)
        if problem.has("small") and y_shape is not None and math.prod(y_shape) == math.prod(problem.x_shape):
            return None
        return (
            f"{self.id} needs a domain inverse gradient or a small problem with as many outputs as "
            f"unknowns (square Jacobian); {problem.id} has neither"
        )

    def delta(self, problem, be, x, y_target):
        if problem.has("invgrad"):
            return problem.inverse_gradient(be, x, y_target)
        xp = be.xp
        shape = x.shape

        def single_residual(xi, yi):
            return xp.reshape(problem.residual(be, xp.reshape(xi, (1,) + shape[1:]), yi[None]), (-1,))

        J = be.vmap(be.jacobian(single_residual))(_flat(be, x), y_target)
        r = _flat(be, problem.residual(be, x, y_target))
        if J.shape[-1] != J.shape[-2]:
            raise ValueError(f"inverse gradient needs a square Jacobian, got {tuple(J.shape[1:])}")
        d = -xp.linalg.solve(J, r[..., None])[..., 0]
        return xp.reshape(d, shape)


class _LeastSquares(IterativeSolver):
    """One iteration of a least-squares method on :math:`\\tfrac12\\lVert r(x)\\rVert^2`
    (r = ``problem.residual``) per example and step, with the dense per-example Jacobian J;
    the backend runs it (:meth:`~pgbench.backends.base.Backend.least_squares_step`: optimistix on
    jax, the same iteration written on the array API on torch). Problems whose loss is not
    :math:`\\tfrac12\\lVert r\\rVert^2` get the minimiser of that least-squares objective."""

    method: ClassVar[str] = "?"

    def missing(self, problem):
        cls = type(problem)
        has_residual = cls.residual is not Problem.residual or cls.forward is not Problem.forward
        if problem.has("small") and has_residual:
            return None
        return (
            f"{self.id} needs a small problem (dense per-example Jacobian) with a residual; "
            f"{problem.id} is {'not small' if not problem.has('small') else 'without a residual'}"
        )

    def _residual(self, problem, be, x):
        xp, shape = be.xp, tuple(x.shape[1:])

        def single_residual(xi, yi):
            return xp.reshape(problem.residual(be, xp.reshape(xi, (1,) + shape), yi[None]), (-1,))

        return single_residual

    def init(self, problem, be, x0, y_target):
        return be.least_squares_init(self.method, self._residual(problem, be, x0), _flat(be, x0), y_target)

    def step(self, problem, be, x, y_target, state):
        x_new, state = be.least_squares_step(self.method, self._residual(problem, be, x), _flat(be, x), y_target, state)
        return be.xp.reshape(x_new, x.shape), state, {}


@dataclass(frozen=True)
class GaussNewton(_LeastSquares):
    """Gauss-Newton: :math:`x \\leftarrow x + \\delta`, :math:`\\delta = -(J^TJ)^{-1}J^Tr`
    (jax: ``optimistix.GaussNewton``; torch: :math:`\\delta = -J^+r`). Quadratic convergence near a
    zero-residual minimum; no safeguard far from it."""

    method: ClassVar[str] = "gauss-newton"


@dataclass(frozen=True)
class LevenbergMarquardt(_LeastSquares):
    """Levenberg-Marquardt: :math:`(J^TJ + \\lambda I)\\delta = -J^Tr`, :math:`\\lambda = 1/\\Delta`
    with a per-example trust-region radius Δ in the state (optimistix's classical trust-region
    rule on both backends: jax ``optimistix.LevenbergMarquardt``, torch the same rule written out);
    a rejected step keeps x and shrinks Δ. The backends solve the damped system differently (QR of
    the augmented system vs. normal equations), so per-step trajectories agree to round-off only,
    and the minimiser is the same."""

    method: ClassVar[str] = "levenberg-marquardt"


@dataclass(frozen=True)
class InversePhysics(IterativeSolver):
    """Iterated inverse physics: :math:`x \\leftarrow P^{-1}(y^* \\mid x)` with step ``eta``
    (each problem's ``inverse`` defines how eta damps the step). ``options`` are passed to the
    problem's ``inverse`` as keyword arguments (e.g. heat's ``uncertainty_floor`` when iterated)."""

    eta: float = 1.0
    options: dict = field(default_factory=dict)
    requires: ClassVar[frozenset[str]] = frozenset({"inverse"})

    def __post_init__(self):
        check_positive(self, "eta")

    def step(self, problem, be, x, y_target, state):
        if self.options:
            return problem.inverse(be, x, y_target, self.eta, **self.options), state, {}
        return problem.inverse(be, x, y_target, self.eta), state, {}


@dataclass(frozen=True)
class LBFGSB(IterativeSolver):
    """scipy L-BFGS-B, one independent minimisation per example (as PhiFlow's ``math.minimize``),
    gradients from the backend. One runner step runs every example to ``maxiter`` iterations or
    convergence; ``info`` holds the batch means of the iterations (``nit``) and function
    evaluations (``nfev``), which the runner records in the row."""

    maxiter: int = 1000
    tol: float | None = None
    jittable: ClassVar[bool] = False
    max_steps: ClassVar[int | None] = 1

    def __post_init__(self):
        check_positive(self, "maxiter", "tol")

    def step(self, problem, be, x, y_target, state):
        from scipy.optimize import minimize

        fn = _compiled_gradient(self, problem, be)
        shape = tuple(x.shape[1:])
        dtype = be.dtype_name(x)
        xs = be.to_numpy(x).astype(np.float64)
        out, nit, nfev = np.empty_like(xs), [], []
        for b in range(xs.shape[0]):
            yb = y_target[b : b + 1]

            def fun(v, yb=yb):
                loss, g = fn(be.asarray(v.reshape((1,) + shape), dtype), yb)
                return float(be.to_numpy(loss)[0]), be.to_numpy(g).astype(np.float64).ravel()

            res = minimize(
                fun, xs[b].ravel(), jac=True, method="L-BFGS-B", tol=self.tol, options={"maxiter": self.maxiter}
            )
            out[b] = res.x.reshape(shape)
            nit.append(res.nit)
            nfev.append(res.nfev)
        info = {"nit": float(np.mean(nit)), "nfev": float(np.mean(nfev))}
        return be.asarray(out, dtype), state, info
