"""JAX backend: jax transforms, lax kernels, optax optimizers.

Process-wide jax settings. Making a jax backend (``get_backend("jax")``, which every jax run does)
turns on float64 (``jax_enable_x64``) and full float32 precision of matrix products and
convolutions on a GPU (``jax_default_matmul_precision = "highest"``, no TF32, as on the CPU and
in the torch backend) **for the whole process**: jax has no switch that scopes them to some
compiled functions only. In a process that also runs your own jax code, that code then sees
float64 as the default float width (``jnp.array(1.0).dtype == float64``) and highest-precision
matmuls; pass dtypes explicitly, or keep pgbench's jax runs in their own process (e.g. the sweep
executors' ``workers``). Importing pgbench or this module changes nothing; every array pgbench
creates names its dtype, so the default float width never leaks into pgbench's own numbers.

Compiled XLA programs are kept on disk (jax's persistent compilation cache) in ``PGBENCH_JAX_CACHE``
(default ``~/.cache/pgbench/jax``; empty: off), unless jax's cache was configured already: every
run builds its jitted step anew, so without it each run of a sweep compiles again (a quick
Navier-Stokes run on a CPU: 19–30 s of compilation in its first iteration, 4–9 s with the cache)."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def configure_jax() -> None:
    """The process-wide settings of the module docstring (done by every ``JaxBackend()``)."""
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")


def _use_compilation_cache() -> str | None:
    """Point jax's persistent compilation cache at ``PGBENCH_JAX_CACHE`` (see the module doc)."""
    cache_dir = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]  # jax.config's flags are dynamic
    if cache_dir:
        return cache_dir
    path = os.environ.get("PGBENCH_JAX_CACHE", str(Path.home() / ".cache" / "pgbench" / "jax"))
    if not path:
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path


COMPILATION_CACHE = _use_compilation_cache()

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from .base import Backend, Optimizer, cpu_name  # noqa: E402


def _batched_cg(matvec, b, x0, rtol, atol, maxiter, check_every=1):
    """Per-example CG as a ``lax.while_loop``. Its body is ``check_every`` unrolled CG steps, so
    the loop condition (on a GPU a device→host copy per evaluation) is read once per
    ``check_every`` steps. An example is frozen (zero step) once converged or at ``maxiter``
    steps, so the result is the same for any ``check_every``."""
    axes = tuple(range(1, b.ndim))
    dot = lambda u, v: jnp.sum(u * v, axis=axes)  # noqa: E731
    bc = lambda s: s.reshape((-1,) + (1,) * (b.ndim - 1))  # noqa: E731
    threshold = jnp.maximum(rtol**2 * dot(b, b), atol**2)
    r0 = b - matvec(x0)
    rr0 = dot(r0, r0)

    def cond(c):
        _, _, _, rr, it = c
        return jnp.any(rr > threshold) & (it < maxiter)

    def step(c):
        x, r, p, rr, it = c
        active = (rr > threshold) & (it < maxiter)
        Ap = matvec(p)
        pAp = dot(p, Ap)
        alpha = jnp.where(active, rr / jnp.where(pAp == 0, 1, pAp), 0)
        x = x + bc(alpha) * p
        r = r - bc(alpha) * Ap
        rr_new = dot(r, r)
        beta = jnp.where(active, rr_new / jnp.where(rr == 0, 1, rr), 0)
        p = r + bc(beta) * p
        return x, r, p, jnp.where(active, rr_new, rr), it + 1

    def body(c):
        for _ in range(check_every):
            c = step(c)
        return c

    x, *_ = jax.lax.while_loop(cond, body, (x0, r0, r0, rr0, 0))
    return x


class _OptaxOptimizer(Optimizer):
    """optax transformation with a jitted update. The state is committed to ``device`` at init, so
    the first and later updates see identically placed arguments and compile once (an uncommitted
    step count made the second update recompile)."""

    jittable = True

    def __init__(self, tx, device=None):
        self.tx = tx
        self.device = device
        self._apply = jax.jit(self._apply_impl)

    def init(self, params):
        state = self.tx.init(params)
        return state if self.device is None else jax.device_put(state, self.device)

    def _apply_impl(self, params, grads, state, **extra):
        updates, state = self.tx.update(grads, state, params, **extra)
        return optax.apply_updates(params, updates), state

    def update(self, params, grads, state, objective=None):
        """``objective``: the training loss as a function of the parameters, for the Hessian-based
        optimizers (optax's ``obj_fn``; ``grads`` None: taken from it). With it the update is not
        compiled on its own (a function is no jit argument): call it inside a compiled step."""
        if objective is not None:
            if grads is None:
                grads = jax.grad(objective)(params)
            return self._apply_impl(params, grads, state, obj_fn=objective)
        return self._apply(params, grads, state)


class _OptaxLBFGS(Optimizer):
    """``optax.lbfgs`` (zoom line search, or fixed steps of ``lr``) on a loss given as a function
    of the parameters; value and gradient are evaluated afresh at every update (the loss changes
    with the batch, so ``optax.value_and_grad_from_state`` would reuse a stale one)."""

    jittable = True

    def __init__(self, lr, history, line_search, device):
        ls = optax.scale_by_zoom_linesearch(max_linesearch_steps=20) if line_search == "strong_wolfe" else None
        self.tx = optax.lbfgs(None if ls is not None else lr, history, linesearch=ls)
        self.device = device

    def init(self, params):
        # strong types (optax leaves weak-typed scalars that change type after one update) and
        # committed to the device: every update compiles once
        state = jax.tree.map(lambda a: jnp.array(a, dtype=jnp.asarray(a).dtype), self.tx.init(params))
        return jax.device_put(state, self.device)

    def update(self, params, grads, state, objective=None):
        value, grads = jax.value_and_grad(objective)(params)
        updates, state = self.tx.update(grads, state, params, value=value, grad=grads, value_fn=objective)
        return optax.apply_updates(params, updates), state


_OPTX_OPTIONS = {"jac": "bwd"}  # materialised Jacobian: the state is arrays only (passes jax.jit)


def _optx_least_squares(method):
    """The optimistix solver of ``method``; rtol/atol only set its termination flag, which the
    stepping caller does not use (the run's budget decides when to stop)."""
    import optimistix as optx

    from .base import _check_least_squares

    _check_least_squares(method)
    cls = optx.GaussNewton if method == "gauss-newton" else optx.LevenbergMarquardt
    return cls(rtol=1e-12, atol=1e-12)


def _optx_fn(residual):
    return lambda xi, yi: (residual(xi, yi), None)


class JaxBackend(Backend):
    """``cg_check_every``: CG steps per evaluation of the loop condition (see ``_batched_cg``). 1
    by default: on the CPU, 4 and 8 made no consistent difference per solve (docs/speed.md); on
    a GPU, where each check is a host synchronisation, it is not measured yet."""

    name = "jax"
    cg_check_every: int = 1

    def __init__(self, device: str = "cpu"):
        configure_jax()
        platform_name = "gpu" if device in ("gpu", "cuda") else "cpu"
        try:
            self._device = jax.devices(platform_name)[0]
        except RuntimeError as e:
            raise RuntimeError(f"jax: no {platform_name} device available ({e})") from None
        self.device = "cuda" if platform_name == "gpu" else "cpu"

    @property
    def xp(self):
        return jnp

    def asarray(self, a, dtype=None):
        return jax.device_put(jnp.asarray(a, dtype=dtype), self._device)

    def to_numpy(self, a):
        return np.asarray(a)

    def device_name(self):
        if self.device == "cuda":
            return self._device.device_kind
        return cpu_name()

    def settings(self):
        return {"cg_check_every": self.cg_check_every}

    def block_until_ready(self, tree=None):
        if tree is not None:
            jax.block_until_ready(tree)

    def stop_gradient(self, a):
        return jax.lax.stop_gradient(a)

    def value_and_grad(self, f, argnums=0, has_aux=False):
        return jax.value_and_grad(f, argnums=argnums, has_aux=has_aux)

    def vjp(self, f, *primals):
        return jax.vjp(f, *primals)

    def jvp(self, f, primals, tangents):
        return jax.jvp(f, tuple(primals), tuple(tangents))

    def vmap(self, f, in_axes=0, out_axes=0):
        return jax.vmap(f, in_axes=in_axes, out_axes=out_axes)

    def jacobian(self, f, argnums=0):
        return jax.jacrev(f, argnums=argnums)

    def hessian(self, f, argnums=0):
        return jax.hessian(f, argnums=argnums)

    def jit(self, f):
        return jax.jit(f)

    def conv(self, x, w, b=None, padding="same", padding_mode="zeros"):
        """Circular 'same' padding: the wrap-padded input (n + k - 1 cells per axis) convolved with
        XLA's own 'same' zero padding, the n cells of the 'valid' convolution cropped out. The same
        numbers as a 'valid' convolution of the padded input, whose weight gradient (a convolution
        with an n × n window and no padding) XLA's CPU backend computes about 2× slower (measured in
        docs/speed.md)."""
        nd = w.ndim - 2
        if not 1 <= nd <= 3:
            raise ValueError(f"conv supports 1 to 3 spatial dimensions, got a kernel of shape {tuple(w.shape)}")
        spatial = "DHW"[-nd:]
        crop = None
        if padding == "same" and padding_mode == "circular":
            sizes = x.shape[2:]
            x = self.pad(x, [(k // 2, (k - 1) // 2) for k in w.shape[2:]], "wrap")
            padding = [((k - 1) // 2, k // 2) for k in w.shape[2:]]  # 'same' on the padded input
            crop = tuple(slice((k - 1) // 2, (k - 1) // 2 + n) for k, n in zip(w.shape[2:], sizes, strict=True))
        dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NC" + spatial, "OI" + spatial, "NC" + spatial))
        out = jax.lax.conv_general_dilated(
            x, w, (1,) * nd, padding.upper() if isinstance(padding, str) else padding, dimension_numbers=dn
        )
        if crop is not None:
            out = out[(slice(None), slice(None)) + crop]
        if b is not None:
            out = out + b.reshape((1, -1) + (1,) * nd)
        return out

    def relu(self, x):
        return jax.nn.relu(x)

    def max_pool(self, x, size=2):
        nd = x.ndim - 2
        window = (1, 1) + (size,) * nd
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")

    def pad(self, x, widths, mode="constant"):
        widths = list(widths)
        return jnp.pad(x, [(0, 0)] * (x.ndim - len(widths)) + widths, mode=mode)

    @property
    def array_device(self):
        return None  # jax places new arrays on the default device; a device= would commit them

    def constant(self, key, host, dtype=None):
        return jnp.asarray(host, dtype=dtype)  # a compile-time constant under jit, never cached

    def upsample(self, x, factor=2):
        """Bilinear (linear in 1-D) upsampling with half-pixel centres (= torch ``align_corners=False``)."""
        shape = x.shape[:2] + tuple(s * factor for s in x.shape[2:])
        return jax.image.resize(x, shape, method="linear")

    def least_squares_init(self, method, residual, x, y):
        """optimistix's state (``optimistix.GaussNewton`` / ``optimistix.LevenbergMarquardt``,
        dense reverse-mode Jacobian), vmapped over examples, after optimistix's first step: that
        step evaluates x0 and proposes the first update, so each later ``step`` call accepts or
        rejects one proposal (one whole iteration) and returns the accepted x."""
        import equinox as eqx

        solver, fn = _optx_least_squares(method), _optx_fn(residual)
        f_struct = jax.eval_shape(lambda: fn(x[0], y[0])[0])

        def one(xi, yi):
            st = solver.init(fn, xi, yi, _OPTX_OPTIONS, f_struct, None, frozenset())
            if hasattr(st.search_state, "step_size"):  # the trust radius in x's dtype (else
                st = eqx.tree_at(
                    lambda s: s.search_state.step_size,
                    st,  # float64 under x64)
                    st.search_state.step_size.astype(xi.dtype),
                )
            return solver.step(fn, xi, yi, _OPTX_OPTIONS, st, frozenset())[1]

        return jax.vmap(one)(x, y)

    def least_squares_step(self, method, residual, x, y, state):
        solver, fn = _optx_least_squares(method), _optx_fn(residual)

        def one(xi, yi, st):
            xi, st, _ = solver.step(fn, xi, yi, _OPTX_OPTIONS, st, frozenset())
            return xi, st

        return jax.vmap(one)(x, y, state)

    def linear_solve(self, matvec, b, x0=None, rtol=1e-5, atol=0.0, maxiter=1000):
        x0 = jnp.zeros_like(b) if x0 is None else jax.lax.stop_gradient(x0)
        k = self.cg_check_every
        solve = lambda mv, rhs: _batched_cg(mv, rhs, x0, rtol, atol, maxiter, k)  # noqa: E731
        tsolve = lambda mv, rhs: _batched_cg(mv, rhs, jnp.zeros_like(rhs), rtol, atol, maxiter, k)  # noqa: E731
        return jax.lax.custom_linear_solve(matvec, b, solve, tsolve, symmetric=True)

    def optimizer(self, name, lr, schedule=None, **kwargs):
        """One optimizer object per setting (cached), so its compiled update is traced once
        however often a scheme asks for it. ``name``: any jax entry of
        :data:`pgbench.optimizers.OPTIMIZERS` (optax / optax.contrib), ``kwargs`` its settings."""
        from ..optimizers import freeze

        key = (name, lr, schedule, freeze(kwargs))
        cache = self.__dict__.setdefault("_optimizers", {})
        if key not in cache:
            cache[key] = self._make_optimizer(name, lr, schedule, **kwargs)
        return cache[key]

    def lbfgs(self, lr=1.0, history=10, max_iter=1, line_search="strong_wolfe"):
        if max_iter != 1:
            raise ValueError(f"max_iter={max_iter} is torch's LBFGS setting; optax.lbfgs does one iteration per update")
        return _OptaxLBFGS(lr, history, line_search, self._device)

    def _make_optimizer(self, name, lr, schedule=None, **kwargs):
        from ..optimizers import entry, factory

        rate = lr if schedule is None else schedule.optax(lr)
        opt = _OptaxOptimizer(factory(name, "jax")(rate, **kwargs), self._device)
        opt.needs = entry(name).needs
        return opt
