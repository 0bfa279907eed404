"""The narrow backend interface every problem and solver is written against.

Physics is written once against the Python array API (``xp = be.xp``); what the array API lacks
(autodiff transforms, convolutions, linear solves, optimizers, device handling) lives here.
Concrete backends: :mod:`pgbench.backends.torch_backend`, :mod:`pgbench.backends.jax_backend`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo where available) with its core count."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


_CONSTANTS: dict = {}


class Optimizer(abc.ABC):
    """A first-order optimizer over a dict of arrays: ``state = init(params)``,
    ``params, state = update(params, grads, state)``. ``jittable``: ``update`` is a pure array
    function, so the runner may compile it into one program with the gradients."""

    jittable: bool = False
    needs: str | None = None  # what update needs beyond gradients: "hvp" (Hessian-vector products) or None

    @abc.abstractmethod
    def init(self, params: dict) -> Any: ...

    @abc.abstractmethod
    def update(self, params: dict, grads: dict, state: Any) -> tuple[dict, Any]: ...


class Backend(abc.ABC):
    """Array library adapter. ``name`` is ``"torch"`` or ``"jax"``; ``device`` is ``"cpu"`` or ``"cuda"``/``"gpu"``."""

    name: str
    device: str
    _device: Any  # the library's own device object that arrays are placed on (set by the subclass)

    # --- arrays -------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def xp(self):
        """The array-API namespace (array-api-compat) of this backend."""

    @abc.abstractmethod
    def asarray(self, a, dtype: str | None = None):
        """Host data (numpy or scalars) to a backend array on this backend's device."""

    @abc.abstractmethod
    def to_numpy(self, a) -> np.ndarray: ...

    def zeros(self, shape, dtype: str = "float32"):
        """Zeros on this backend's device."""
        return self.xp.zeros(tuple(shape), dtype=getattr(self.xp, dtype), device=self._device)

    # --- device and dtype queries -------------------------------------------------------------
    @property
    def array_device(self):
        """What array-API creation functions (``xp.arange(..., device=...)``) take to put a new
        array on this backend's device; None where arrays land there by default (also inside
        compiled functions)."""
        return self._device

    def dtype_name(self, a) -> str:
        """The dtype of array ``a`` as a name: ``"float32"``, ``"float64"``, ``"int64"``..."""
        return str(a.dtype).rsplit(".", 1)[-1]

    def constant(self, key, host, dtype: str | None = None):
        """``host`` (numpy) as a backend array that compiled functions may close over: made once
        per backend, device and ``key`` and reused (torch); backends that trace (jax) override it
        to make the array afresh, as a compile-time constant, so that no cached array can leak
        a tracer."""
        k = (self.name, self.device, key)
        if k not in _CONSTANTS:
            _CONSTANTS[k] = self.asarray(host, dtype)
        return _CONSTANTS[k]

    @abc.abstractmethod
    def device_name(self) -> str:
        """Human-readable device name, e.g. ``"NVIDIA H100 80GB HBM3"`` or the CPU model."""

    def settings(self) -> dict:
        """Speed settings of this backend instance (recorded with every run; they change wall
        times, not results beyond round-off)."""
        return {}

    @abc.abstractmethod
    def block_until_ready(self, tree) -> None:
        """Wait for queued device work on ``tree`` (for honest wall times)."""

    @abc.abstractmethod
    def stop_gradient(self, a): ...

    # --- transforms ----------------------------------------------------------------------------
    @abc.abstractmethod
    def value_and_grad(self, f: Callable, argnums: int = 0, has_aux: bool = False) -> Callable:
        """``f -> (value, grad)``; with ``has_aux``: ``((value, aux), grad)``."""

    @abc.abstractmethod
    def vjp(self, f: Callable, *primals) -> tuple[Any, Callable]:
        """``(f(*primals), pullback)`` with ``pullback(cotangent) -> tuple of input cotangents``."""

    def jvp(self, f: Callable, primals, tangents) -> tuple[Any, Any]:
        """Forward mode: ``(f(*primals), J_f · tangents)`` (jax.jvp / torch.func.jvp)."""
        raise NotImplementedError(f"{type(self).__name__} has no jvp")

    @abc.abstractmethod
    def vmap(self, f: Callable, in_axes=0, out_axes=0) -> Callable: ...

    def map_lanes(self, f: Callable) -> Callable:
        """``f`` over a leading lane axis of every argument (a pytree of arrays), outputs stacked:
        ``out[s] = f(args[s])``. By default :meth:`vmap`; a backend whose vmap is slower than the
        lanes one after the other overrides it."""
        return self.vmap(f)

    @abc.abstractmethod
    def jacobian(self, f: Callable, argnums: int = 0) -> Callable:
        """Reverse-mode Jacobian of ``f`` with respect to argument ``argnums``."""

    @abc.abstractmethod
    def hessian(self, f: Callable, argnums: int = 0) -> Callable: ...

    def jit(self, f: Callable) -> Callable:
        """Compile ``f`` where that pays off (jax.jit); the identity where it does not."""
        return f

    # --- kernels the array API lacks ----------------------------------------------------------
    def batch_norm(self, x, g, b, eps: float = 1e-5):
        r"""Batch norm with the statistics of the current batch over every axis but 1 (channels):
        :math:`\gamma (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon} + \beta`, biased variance, two passes
        (centred). ``g``, ``b``: (C,). Backends with a fused kernel override this."""
        xp = self.xp
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = xp.mean(x, axis=axes, keepdims=True)
        var = xp.mean((x - mean) ** 2, axis=axes, keepdims=True)
        return (x - mean) / xp.sqrt(var + eps) * xp.reshape(g, shape) + xp.reshape(b, shape)

    def relu(self, x):
        """:math:`\\max(x, 0)` with derivative 0 at :math:`x = 0` (as ``torch.relu`` and ``jax.nn.relu``;
        ``maximum(x, 0)`` splits the derivative 1/2 : 1/2 there). Backends with a kernel override this."""
        xp = self.xp
        return xp.where(x > 0, x, xp.zeros_like(x))

    @abc.abstractmethod
    def conv(self, x, w, b=None, padding: str = "same", padding_mode: str = "zeros"):
        """N-d convolution (cross-correlation), channels first: x (B, Cin, *S), w (Cout, Cin, *K)."""

    @abc.abstractmethod
    def max_pool(self, x, size: int = 2):
        """Max pooling with window and stride ``size`` over the spatial dims of (B, C, *S)."""

    @abc.abstractmethod
    def upsample(self, x, factor: int = 2):
        """Linear (1-D), bilinear (2-D) or trilinear (3-D) upsampling of the spatial dims of
        (B, C, *S) by ``factor``, half-pixel centres (torch's ``align_corners=False``)."""

    @abc.abstractmethod
    def pad(self, x, widths, mode: str = "constant"):
        """Pad the last ``len(widths)`` axes of ``x``; ``widths`` is a sequence of ``(before,
        after)`` pairs, first padded axis first; ``mode`` ``"constant"`` (zeros) or ``"wrap"``
        (periodic)."""

    @abc.abstractmethod
    def linear_solve(self, matvec: Callable, b, x0=None, rtol: float = 1e-5, atol: float = 0.0, maxiter: int = 1000):
        """Solve ``A x = b`` for symmetric positive-definite ``A`` by conjugate gradients, per
        example (batch-first). Differentiable in ``b`` by implicit differentiation: the adjoint
        is one more CG solve, no unrolled graph."""

    # --- least squares --------------------------------------------------------------------------
    LEAST_SQUARES = ("gauss-newton", "levenberg-marquardt")

    def least_squares_init(self, method: str, residual: Callable, x, y):
        """State of :meth:`least_squares_step` for the batch ``x`` (B, n); ``residual(x_i, y_i)``
        maps one example's flat x (n,) to its flat residual (m,). Here: None for Gauss-Newton,
        the per-example trust-region radius :math:`\\Delta = 1` (damping :math:`\\lambda = 1/\\Delta`)
        for Levenberg-Marquardt."""
        _check_least_squares(method)
        if method == "gauss-newton":
            return None
        return self.xp.ones_like(x[:, 0])

    def least_squares_step(self, method: str, residual: Callable, x, y, state):
        r"""One Gauss-Newton or Levenberg-Marquardt iteration of every example (independently) on
        :math:`\tfrac12\lVert r(x)\rVert^2`, with the dense per-example Jacobian J of r.
        Returns ``(x, state)``.

        * Gauss-Newton: :math:`\delta = -(J^TJ)^{-1}J^Tr = -J^+r` (pseudo-inverse: rank-deficient
          J gives the minimum-norm step).
        * Levenberg-Marquardt: :math:`(J^TJ + \lambda I)\delta = -J^Tr` with :math:`\lambda = 1/\Delta`
          and optimistix's classical trust-region rule: with predicted change
          :math:`p = r^TJ\delta + \tfrac12\lVert J\delta\rVert^2` and actual change a of the loss,
          accept if :math:`a \le 0.01\,p`; :math:`\Delta \mathrel{*}= 3.5` if also
          :math:`a < 0.99\,p` and :math:`p < 0`, :math:`\Delta \mathrel{*}= 0.25` on rejection (x kept).

        Backends with a library implementation (jax: optimistix) override this pair."""
        _check_least_squares(method)
        xp = self.xp
        r = self.vmap(residual)(x, y)
        J = self.vmap(self.jacobian(residual))(x, y)
        if method == "gauss-newton":
            return x - xp.matmul(xp.linalg.pinv(J), r[..., None])[..., 0], state
        Jt = xp.matrix_transpose(J)
        g = xp.matmul(Jt, r[..., None])[..., 0]
        n = x.shape[-1]
        eye = xp.eye(n, dtype=x.dtype, **({} if self.array_device is None else {"device": self.array_device}))
        tiny = xp.finfo(x.dtype).eps
        radius = state
        lam = xp.where(
            radius > tiny,
            1.0 / xp.where(radius > tiny, radius, xp.ones_like(radius)),
            xp.full_like(radius, xp.finfo(x.dtype).max),
        )
        d = -xp.linalg.solve(xp.matmul(Jt, J) + lam[:, None, None] * eye, g[..., None])[..., 0]
        Jd = xp.matmul(J, d[..., None])[..., 0]
        predicted = xp.sum(r * Jd, axis=-1) + 0.5 * xp.sum(Jd * Jd, axis=-1)
        r_new = self.vmap(residual)(x + d, y)
        actual = 0.5 * xp.sum(r_new * r_new, axis=-1) - 0.5 * xp.sum(r * r, axis=-1)
        accept = actual <= 0.01 * predicted
        good = accept & (actual < 0.99 * predicted) & (predicted < 0)
        factor = xp.where(
            good, xp.full_like(radius, 3.5), xp.where(accept, xp.ones_like(radius), xp.full_like(radius, 0.25))
        )
        return xp.where(accept[:, None], x + d, x), radius * factor

    # --- optimizers ------------------------------------------------------------------------------
    @abc.abstractmethod
    def optimizer(self, name: str, lr: float, schedule=None, **kwargs) -> Optimizer:
        """``adam`` (β1, β2, eps), ``amsgrad`` (the same; optax.amsgrad / torch Adam(amsgrad=True))
        or ``sgd`` (momentum), with library defaults (torch.optim / optax). ``schedule``: a
        :class:`pgbench.schedules.Schedule` for the learning rate (optax schedule / torch
        lr_scheduler), None for a constant ``lr``."""

    def lbfgs(
        self, lr: float = 1.0, history: int = 10, max_iter: int = 1, line_search: str = "strong_wolfe"
    ) -> Optimizer:
        """L-BFGS whose ``update(params, None, state, objective=f)`` takes the loss ``f(params)``
        (line searches evaluate it): torch.optim.LBFGS with a closure / optax.lbfgs with its zoom
        line search. A setting the library lacks raises ValueError."""
        raise NotImplementedError(f"{type(self).__name__} has no L-BFGS")

    # --- pytrees -------------------------------------------------------------------------------
    def tree_map(self, f: Callable, tree: dict) -> dict:
        return {k: f(v) for k, v in tree.items()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}:{self.device}>"


def _check_least_squares(method: str) -> None:
    if method not in Backend.LEAST_SQUARES:
        from ..registry import suggest

        raise ValueError(f"unknown least-squares method {method!r}{suggest(method, Backend.LEAST_SQUARES)}")
