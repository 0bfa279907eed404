"""Half-inverse gradients (HIG, Schnell, Holl & Thuerey, ICLR 2022) and Gauss-Newton as network
training schemes (spec ``shared/spec/hig.md`` §1, §5).

For a mini-batch of b examples, the physics output of example i is
:math:`\\hat y_i = \\mathrm{out}(\\mathrm{NN}(y^*_i\\mid\\theta), y^*_i) \\in \\mathbb{R}^m`. The Jacobian
over the batch, :math:`J \\in \\mathbb{R}^{bm\\times P}` (rows sample-major: row ``i*m + k`` is
:math:`\\partial\\hat y_{i,k}/\\partial\\theta`), is built per example with ``vmap(jacobian)``.
With :math:`J = U\\Sigma V^T` and :math:`g = \\partial L/\\partial\\hat y` (L the batch loss reduced as
the problem declares), the update is

.. math::

   \\theta \\leftarrow \\theta - \\eta\\, V\\,
   \\mathrm{diag}(\\sigma_k^{\\beta}\\,[\\sigma_k > \\tau\\sigma_{max}])\\,U^T g

with β = −½ (HIG) or β = −1 (Gauss-Newton, ``gn``); β = +1 would be gradient descent. Singular
values at or below τσ_max are dropped, not clamped. The step is applied by plain SGD of rate η.

Routes to the same direction (``route``):

* ``gram64`` (default): in float64, eigendecompose the smaller Gram matrix, :math:`JJ^T = U\\Sigma^2U^T`
  (bm ≤ P) giving :math:`d = J^T U \\Sigma^{\\beta-1} U^T g`, or :math:`J^TJ = V\\Sigma^2V^T` (bm > P)
  giving :math:`d = V\\Sigma^{\\beta-1}V^TJ^Tg`. Resolves σ down to ≈1e-8 σ_max (use ``svd64`` for
  τ < 1e-7).
* ``svd64``: thin SVD in float64 (the reference the Gram route is tested against);
* ``svd``: thin SVD in the Jacobian's dtype (float32, as the authors' TF code).

Output space. A problem may define ``hig_output(be, x, y_target) -> (B, ...)`` and
``hig_loss(be, out, y_target) -> (B,)`` (e.g. the quantum dipole: final state and infidelity),
and ``hig_output_jacobian(be, x, y_target) -> (B, m, n_x)``, the physics Jacobian of that output,
when it has a cheaper way than reverse-mode autodiff per output (the dipole: an adjoint
recursion); J is then that Jacobian times the per-example network Jacobian.
Otherwise the output is ``residual(x, y*)`` and, if the problem keeps the default loss, the loss
of the output is :math:`\\tfrac12\\lVert r\\rVert^2`; if the problem overrides ``loss`` as a function
:math:`\\varphi(P(x) - y^*)`, :math:`g = -\\partial\\,\\mathrm{loss}/\\partial y^*` (exact for that form).

Cost guard: before any work the Jacobian's memory (float32 J, plus the float64 copy and Gram
matrix or SVD factors) is estimated from the batch, the output size and the parameter count;
runs over ``max_memory_gb`` are refused with a message naming the size and what to reduce.
Every step records ``t_jacobian``, ``t_inverse``, ``rank`` (kept singular values),
``sigma_max``, ``sigma_min_kept`` and ``step_norm`` (‖η d‖) as diagnostics.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..problems.base import Problem
from ..search_space import LogUniform
from .base import Step, TrainingScheme, check_choice, check_positive

ROUTES = ("gram64", "svd64", "svd")


# --------------------------------------------------------------------------------------------------
# linear algebra: the truncated power of J applied to g
# --------------------------------------------------------------------------------------------------


def _mT(xp, a):
    return xp.linalg.matrix_transpose(a)


def _mask_pow(xp, s, keep, p):
    """``s**p`` where ``keep``, 0 elsewhere (no inf/NaN from dropped or negative values)."""
    safe = xp.where(keep, s, xp.ones_like(s))
    return xp.where(keep, safe**p, xp.zeros_like(s))


def half_inverse(be, J, g, beta: float = -0.5, tau: float = 1e-6, route: str = "gram64"):
    """Direction :math:`d = V\\,\\mathrm{diag}(\\sigma^\\beta[\\sigma > \\tau\\sigma_{max}])\\,U^T g` for
    ``J`` (n, P) and ``g`` (n,). Returns ``(d, info)``; ``d`` is float64 for the ``*64`` routes
    (J's dtype for ``svd``), ``info`` holds 0-d arrays ``rank``, ``sigma_max``, ``sigma_min_kept``.
    If ``J`` or ``g`` has a NaN or infinite entry (or the Gram matrix overflows), ``d`` and the σ
    diagnostics are NaN and ``rank`` is 0; no decomposition sees the non-finite values."""
    xp = be.xp
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, got {route!r}")
    A = J if route == "svd" else xp.astype(J, xp.float64)
    gg = xp.astype(g, A.dtype)
    n, P = A.shape
    # A NaN or inf (an overflowed network or physics output) must not reach LAPACK: its eigh/svd
    # then fail to converge under torch and return NaN under jax. The matrix decomposed is
    # replaced by zeros and d set to NaN below, so the run ends ``diverged`` on every backend.
    # The Gram route checks the small Gram matrix, which is non-finite whenever J is (and also
    # when JJᵀ overflows); the SVD routes check J itself.
    if route in ("svd", "svd64"):
        finite = xp.all(xp.isfinite(A))
        U, s, Vh = xp.linalg.svd(xp.where(finite, A, xp.zeros_like(A)), full_matrices=False)
        smax = xp.max(s)
        keep = s > tau * smax
        w = _mask_pow(xp, s, keep, beta)
        d = xp.matmul(_mT(xp, Vh), w * xp.matmul(_mT(xp, U), gg))
    else:
        G = xp.matmul(A, _mT(xp, A)) if n <= P else xp.matmul(_mT(xp, A), A)
        finite = xp.all(xp.isfinite(G))
        lam, U = xp.linalg.eigh(xp.where(finite, G, xp.zeros_like(G)))
        s = xp.sqrt(xp.clip(lam, 0.0, None))
        smax = xp.max(s)
        keep = s > tau * smax
        w = _mask_pow(xp, s, keep, beta - 1.0)
        if n <= P:
            d = xp.matmul(_mT(xp, A), xp.matmul(U, w * xp.matmul(_mT(xp, U), gg)))
        else:
            d = xp.matmul(U, w * xp.matmul(_mT(xp, U), xp.matmul(_mT(xp, A), gg)))
    finite = finite & xp.all(xp.isfinite(gg))
    keep = keep & finite
    s_kept = xp.where(keep, s, xp.full_like(s, math.inf))
    nan = xp.full_like(smax, math.nan)
    d = xp.where(finite, d, xp.full_like(d, math.nan))
    info = {
        "rank": xp.sum(xp.astype(keep, xp.int64)),
        "sigma_max": xp.where(finite, smax, nan),
        "sigma_min_kept": xp.where(finite, xp.min(s_kept), nan),
    }
    return d, info


# --------------------------------------------------------------------------------------------------
# output space of a problem
# --------------------------------------------------------------------------------------------------


def _size(nbytes: float) -> str:
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= k:
            return f"{nbytes / k:.1f} {unit}"
    return f"{nbytes:.0f} B"


def _loss_is_default(problem) -> bool:
    return type(problem).loss is Problem.loss


def output_and_loss(problem):
    """``(out(be, x, y) -> (B, ...), g(be, x, y) -> (out, per-example loss, ∂Σℓ/∂out))``
    for the problem's HIG output space (see the module docstring)."""
    if hasattr(problem, "hig_output") or hasattr(problem, "hig_loss"):
        out_fn = getattr(problem, "hig_output", None) or (lambda be, x, y: problem.residual(be, x, y))
        loss_fn = getattr(problem, "hig_loss", None) or (
            lambda be, o, y: 0.5 * be.xp.sum(be.xp.reshape(o * o, (o.shape[0], -1)), axis=1)
        )

        def output_grad(be, x, y):
            o = be.stop_gradient(out_fn(be, x, y))
            (_, per), g = be.value_and_grad(lambda oo: _sum_aux(be, loss_fn(be, oo, y)), has_aux=True)(o)
            return o, per, g

        return out_fn, output_grad
    if _loss_is_default(problem):

        def residual_grad(be, x, y):
            r = be.stop_gradient(problem.residual(be, x, y))
            return r, 0.5 * be.xp.sum(be.xp.reshape(r * r, (r.shape[0], -1)), axis=1), r

        return (lambda be, x, y: problem.residual(be, x, y)), residual_grad

    # loss overridden: assume loss = φ(P(x) - y*), so ∂ℓ/∂P = -∂ℓ/∂y*
    def loss_grad(be, x, y):
        (_, per), gy = be.value_and_grad(lambda yy: _sum_aux(be, problem.loss(be, x, yy)), has_aux=True)(y)
        return be.stop_gradient(problem.forward(be, x)), per, -gy

    return (lambda be, x, y: problem.forward(be, x)), loss_grad


def _sum_aux(be, per):
    return be.xp.sum(per), per


def output_size(problem) -> int:
    """m, the per-example output size: declared (``hig_output_size``, else ``y_shape`` when the
    output is the residual) or evaluated on one example with the first available backend."""
    m = getattr(problem, "hig_output_size", None)
    if m is not None:
        return int(m)
    if not hasattr(problem, "hig_output") and hasattr(problem, "y_shape"):
        return int(np.prod(problem.y_shape))
    from ..backends import available_backends, get_backend
    from ..keys import rng

    be = get_backend(available_backends()[0], "cpu")
    _, y = problem.sample(rng(0, "hig-size"), 1, be)
    x = problem.initial_guess(be, y)
    out, _ = output_and_loss(problem)
    return int(np.prod(tuple(out(be, x, y).shape[1:])))


# --------------------------------------------------------------------------------------------------
# the schemes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HalfInverseGradient(TrainingScheme):
    """HIG: θ ← θ − η·J^{β}g with β = −½, truncation τ·σ_max, applied by plain SGD of rate η.
    Gauss-Newton (``gn``) is this scheme registered with β = −1.

    Defaults are the HIG paper's oscillator settings (η = 1, τ = 1e-6); problems set their own
    (:mod:`pgbench.tuning`). ``max_memory_gb`` bounds the estimated Jacobian memory."""

    eta: float = 1.0
    tau: float = 1e-6
    beta: float = -0.5
    #: the step and the truncation of small singular values (β is what makes HIG HIG: fixed)
    search_space: ClassVar[dict] = {"eta": LogUniform(1e-3, 3.0), "tau": LogUniform(1e-8, 1e-2)}
    route: str = "gram64"
    max_memory_gb: float = 2.0

    jittable: ClassVar[bool] = False  # the pieces are jitted separately so they can be timed

    def __post_init__(self):
        check_positive(self, "eta", "max_memory_gb")
        if not 0 <= self.tau < 1:
            raise ValueError(f"tau must be in [0, 1), got {self.tau}")
        check_choice(self, "route", ROUTES)

    # --- cost guard ---------------------------------------------------------------------------
    def memory_bytes(self, rows: int, n_params: int) -> int:
        """Estimated peak bytes of one step's linear algebra: float32 J (4·n·P), plus a float64
        copy and the Gram matrix (8·n·P + 8·min(n,P)²) or the SVD's copy and factors."""
        n, P = rows, n_params
        r = min(n, P)
        if self.route == "gram64":
            extra = 8 * n * P + 8 * r * r
        elif self.route == "svd64":
            extra = 8 * n * P + 8 * (n * r + P * r)
        else:
            extra = 4 * (n * r + P * r)
        return 4 * n * P + extra

    def cost_check(self, batch: int, m: int, n_params: int) -> str | None:
        need = self.memory_bytes(batch * m, n_params)
        limit = self.max_memory_gb * 2**30
        if need <= limit:
            return None
        return (
            f"{self.id}: the Jacobian over the batch is {batch * m:,} x {n_params:,} (batch {batch} x "
            f"{m} outputs, {n_params:,} network parameters) and needs ~{_size(need)} with route "
            f"{self.route!r}, over max_memory_gb={self.max_memory_gb:g}; reduce batch_size, the "
            f"resolution (outputs per example) or the network, or raise max_memory_gb"
        )

    def missing(self, problem):
        reason = super().missing(problem)
        if reason:
            return reason
        net = problem.network()
        if getattr(net, "batch_norm", False):
            return (
                f"{self.id} needs examples that are independent through the network; "
                f"{problem.id}'s network normalises over the batch (BatchNorm)"
            )
        m = output_size(problem)
        return self.cost_check(problem.batch_size, m, net.n_params())

    # --- the step -------------------------------------------------------------------------------
    def init(self, problem, be, net, params):
        return be.optimizer("sgd", self.eta).init(params)

    def update(self, problem, be, net, params, state, y_target, x_true):
        """θ ← θ − η d with the HIG direction d (:meth:`gradients`), by plain SGD of rate η."""
        d, x, loss, diag = self.gradients(problem, be, net, params, y_target, x_true)
        params, state = be.optimizer("sgd", self.eta).update(params, d, state)
        return params, state, Step(x, loss, diag)

    def gradients(self, problem, be, net, params, y_target, x_true):
        """The HIG direction d (as a parameter dict; SGD of rate η applies θ − ηd), the batch
        prediction, its per-example loss and the step's diagnostics."""
        jac_fn, grad_fn, inv_fn = _compiled(self, problem, net, be)
        b = y_target.shape[0]
        t0 = time.perf_counter()
        x, out, loss, g = grad_fn(params, y_target)
        m = int(np.prod(tuple(out.shape[1:])))
        reason = self.cost_check(b, m, sum(int(np.prod(tuple(v.shape))) for v in params.values()))
        if reason:
            raise MemoryError(reason)
        J = jac_fn(params, y_target)
        be.block_until_ready(J)
        t1 = time.perf_counter()
        d, info = inv_fn(J, g)
        be.block_until_ready(d)
        t2 = time.perf_counter()
        xp = be.xp
        grads, i = {}, 0
        for k in sorted(params):  # the Jacobian's column order (jax orders dict pytrees by key)
            v = params[k]
            n = int(np.prod(tuple(v.shape)))
            grads[k] = xp.astype(xp.reshape(d[i : i + n], tuple(v.shape)), v.dtype)
            i += n
        diag = {"t_jacobian": t1 - t0, "t_inverse": t2 - t1, **info, "step_norm": self.eta * xp.sqrt(xp.sum(d * d))}
        return grads, x, loss, diag


def batch_jacobian(problem, net, be, use_problem_jacobian: bool = True):
    """``jac(params, y) -> J`` (b·m, P), rows sample-major, columns the parameters in sorted-name
    order: per-example reverse-mode ``vmap(jacobian)`` of the HIG output, or, when the problem
    defines ``hig_output_jacobian`` (and ``use_problem_jacobian``), that physics Jacobian
    ∂out/∂x (b, m, n_x) times the per-example network Jacobian ∂x/∂θ (b, n_x, P)."""
    xp = be.xp
    if use_problem_jacobian and hasattr(problem, "hig_output_jacobian"):

        def x_single(p, yi):
            return xp.reshape(problem.predict(be, net, p, yi[None]), (-1,))

        net_jac = be.vmap(be.jacobian(x_single), in_axes=(None, 0))

        def problem_jac(p, y):
            b = y.shape[0]
            x = be.stop_gradient(problem.predict(be, net, p, y))
            jx = problem.hig_output_jacobian(be, x, y)
            jx = xp.reshape(jx, (b, jx.shape[1], -1))
            blocks = net_jac(p, y)  # {name: (b, n_x, *w.shape)}
            rows = []
            for k in sorted(p):
                jn = xp.reshape(blocks[k], (b, blocks[k].shape[1], -1))
                rows.append(xp.reshape(xp.matmul(xp.astype(jx, jn.dtype), jn), (b * jx.shape[1], -1)))
            return xp.concat(rows, axis=1)

        return problem_jac

    out_fn, _ = output_and_loss(problem)

    def out_single(p, yi):
        y1 = yi[None]
        return xp.reshape(out_fn(be, problem.predict(be, net, p, y1), y1), (-1,))

    per_example_jac = be.vmap(be.jacobian(out_single), in_axes=(None, 0))

    def jac(p, y):
        blocks = per_example_jac(p, y)  # {name: (b, m, *w.shape)}
        b = y.shape[0]
        rows = [xp.reshape(blocks[k], (b * blocks[k].shape[1], -1)) for k in sorted(p)]
        return xp.concat(rows, axis=1)

    return jac


@functools.lru_cache(maxsize=16)
def _compiled(scheme, problem, net, be):
    """Jitted pieces for one (scheme, problem, network, backend): the per-example Jacobian, the
    batch output with its loss gradient, and the truncated power."""
    xp = be.xp
    _, grad_out = output_and_loss(problem)
    reduce = problem.loss_reduction
    jac = batch_jacobian(problem, net, be)

    def grad(p, y):
        x = be.stop_gradient(problem.predict(be, net, p, y))
        out, per, g = grad_out(be, x, y)
        if reduce == "mean":
            g = g / y.shape[0]
        return x, out, per, xp.reshape(g, (-1,))

    def inv(J, g):
        return half_inverse(be, J, g, scheme.beta, scheme.tau, scheme.route)

    return be.jit(jac), be.jit(grad), be.jit(inv)


__all__ = ["HalfInverseGradient", "half_inverse", "batch_jacobian", "output_and_loss", "output_size", "ROUTES"]
