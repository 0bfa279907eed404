"""PyTorch backend: torch.func transforms, torch.nn.functional kernels, torch.optim optimizers."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from array_api_compat import torch as xp_torch

from .base import Backend, cpu_name
from .cg import cg_eager, cg_steps, compiled_cg_steps
from .torch_optim import TorchLBFGS, TorchOptimizer
from .torch_pad import wrap_pad

#: Default convergence-check interval of torch CG (see :class:`TorchBackend`; measured in docs/speed.md).
CG_CHECK_EVERY = 4

#: ``PGBENCH_TORCH_COMPILE_CG=1``: run CG's iterations under ``torch.compile`` (see :class:`TorchBackend`).
COMPILE_CG = os.environ.get("PGBENCH_TORCH_COMPILE_CG", "") not in ("", "0")

#: ``PGBENCH_TORCH_COMPILE_STEP=default`` (or ``reduce-overhead``): compile the jittable parts of
#: every step (a training scheme's gradients, an iterative solver's step) with ``torch.compile``
#: (see :class:`TorchBackend`); unset or ``0``: eager.
COMPILE_STEP = os.environ.get("PGBENCH_TORCH_COMPILE_STEP", "") or None
if COMPILE_STEP == "0":
    COMPILE_STEP = None
STEP_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "int64": torch.int64,
    "bool": torch.bool,
}


class _CG(torch.autograd.Function):
    """CG solve differentiable in ``b``: the adjoint of ``x = A⁻¹ b`` is ``ḃ = A⁻ᵀ x̄ = A⁻¹ x̄`` (A symmetric)."""

    @staticmethod
    def forward(b, x0, matvec, rtol, atol, maxiter, check_every, steps):
        with torch.no_grad():
            x, _ = cg_eager(matvec, b, x0, rtol, atol, maxiter, check_every, steps)
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, _, ctx.matvec, ctx.rtol, ctx.atol, ctx.maxiter, ctx.check_every, ctx.steps = inputs

    @staticmethod
    def backward(ctx, g):
        with torch.no_grad():
            gb, _ = cg_eager(
                ctx.matvec, g, torch.zeros_like(g), ctx.rtol, ctx.atol, ctx.maxiter, ctx.check_every, ctx.steps
            )
        return gb, None, None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, b_dot, *_):
        """Forward mode (``torch.func.jvp``): the tangent of ``x = A⁻¹ b`` is ``A⁻¹ ḃ``, one more solve."""
        if b_dot is None:
            return None
        with torch.no_grad():
            xd, _ = cg_eager(
                ctx.matvec, b_dot, torch.zeros_like(b_dot), ctx.rtol, ctx.atol, ctx.maxiter, ctx.check_every, ctx.steps
            )
        return xd


class TorchBackend(Backend):
    """``cg_check_every``: CG tests convergence (one host synchronisation) every this many
    iterations; the result is the same for any value (converged examples take zero steps).
    ``cg_compile`` (default ``PGBENCH_TORCH_COMPILE_CG``, off): each chunk of ``cg_check_every``
    iterations runs under ``torch.compile``; the same iterations, the numbers equal to float
    round-off (fused reductions), at a one-off compilation per solve site, shape and chunk length.
    On a GPU, float32 stays IEEE float32: TF32 in matrix products and convolutions is turned off
    (process-wide) so that GPU curves track CPU curves to round-off (``tests/test_devices.py``)."""

    name = "torch"
    cg_check_every: int = CG_CHECK_EVERY
    cg_compile: bool = COMPILE_CG
    fused_batch_norm: bool = True
    channels_last: bool = False  # 2-D/3-D convolutions on channels-last tensors (see conv)
    cg_compile_mode: str = "default"  # "reduce-overhead": CUDA graphs on a GPU (not measured on one yet)
    step_compile: str | None = COMPILE_STEP  # None: eager; a torch.compile mode: jit() compiles

    def __init__(self, device: str = "cpu"):
        if self.step_compile is not None and self.step_compile not in STEP_COMPILE_MODES:
            raise ValueError(
                f"PGBENCH_TORCH_COMPILE_STEP / step_compile must be one of "
                f"{', '.join(STEP_COMPILE_MODES)} (or unset), got {self.step_compile!r}"
            )
        if device in ("gpu", "cuda") and not torch.cuda.is_available():
            raise RuntimeError("torch: CUDA requested but torch.cuda.is_available() is False")
        self.device = "cuda" if device in ("gpu", "cuda") else "cpu"
        self._device = torch.device(self.device)
        if self.device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False

    @property
    def xp(self):
        return xp_torch

    def asarray(self, a, dtype=None):
        dt = _DTYPES[dtype] if dtype else None
        if isinstance(a, np.ndarray) and dt is None:
            dt = _DTYPES.get(str(a.dtype))
        return torch.as_tensor(a, dtype=dt, device=self._device)

    def to_numpy(self, a):
        if isinstance(a, torch.Tensor):
            return a.detach().cpu().numpy()
        return np.asarray(a)

    def device_name(self):
        if self.device == "cuda":
            return torch.cuda.get_device_name()
        return cpu_name()

    def settings(self):
        return {
            "cg_check_every": self.cg_check_every,
            "cg_compile": self.cg_compile,
            "fused_batch_norm": self.fused_batch_norm,
            **({"channels_last": True} if self.channels_last else {}),
            **({"cg_compile_mode": self.cg_compile_mode} if self.cg_compile else {}),
            **({"step_compile": self.step_compile} if self.step_compile else {}),
        }

    def jit(self, f):
        """``f`` under ``torch.compile(mode=step_compile)`` when ``step_compile`` is set (on a GPU,
        ``reduce-overhead`` replays it as a CUDA graph); else ``f`` itself. Should compilation
        fail (an operation Dynamo or Inductor cannot take, such as functorch's wrappers inside an
        inner solver), a warning says so and ``f`` runs eagerly from then on: the same numbers to
        float32 round-off either way (``tests/test_torch_compile_step.py``)."""
        if not self.step_compile:
            return f
        return compiled_or_eager(f, self.step_compile)

    def block_until_ready(self, tree=None):
        if self.device == "cuda":
            torch.cuda.synchronize()

    def stop_gradient(self, a):
        return a.detach()

    def value_and_grad(self, f, argnums=0, has_aux=False):
        gv = torch.func.grad_and_value(f, argnums=argnums, has_aux=has_aux)

        def wrapped(*args, **kwargs):
            g, v = gv(*args, **kwargs)
            return v, g

        return wrapped

    def vjp(self, f, *primals):
        return torch.func.vjp(f, *primals)

    def jvp(self, f, primals, tangents):
        return torch.func.jvp(f, tuple(primals), tuple(tangents))

    def vmap(self, f, in_axes=0, out_axes=0):
        return torch.func.vmap(f, in_dims=in_axes, out_dims=out_axes)

    def map_lanes(self, f):
        """The lanes one after the other, stacked: torch.func.vmap turns a convolution with
        per-lane weights into a grouped one, which on the CPU took 1.2–1.4× the S separate
        U-nets."""

        def mapped(*args):
            n = len(next(iter(torch.utils._pytree.tree_leaves(args))))
            lane = lambda s: torch.utils._pytree.tree_map(lambda a: a[s], args)  # noqa: E731
            return torch.stack([f(*lane(s)) for s in range(n)])

        return mapped

    def jacobian(self, f, argnums=0):
        return torch.func.jacrev(f, argnums=argnums)

    def hessian(self, f, argnums=0):
        return torch.func.hessian(f, argnums=argnums)

    def conv(self, x, w, b=None, padding="same", padding_mode="zeros"):
        """``channels_last`` (off by default): 2-D and 3-D inputs are made channels-last first (a
        no-op when they are, or have one channel); the output is channels-last then too, and so are
        the batch norm, ReLU, pooling and upsampling after it. oneDNN's kernels are faster in that
        order on the CPU (U-net gradient 1.25× faster, docs/speed.md), but torch's channels-last
        batch norm sums its statistics less accurately: the U-net output's error against float64
        grows about 5× (3e-6 → 2e-5), beyond what ``tests/test_unet.py`` allows the fused kernel."""
        nd = w.ndim - 2
        conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
        if self.channels_last and nd in (2, 3):
            x = x.contiguous(memory_format=torch.channels_last if nd == 2 else torch.channels_last_3d)
        if padding == "same" and padding_mode == "circular":
            return conv(self.pad(x, [(k // 2, (k - 1) // 2) for k in w.shape[2:]], "wrap"), w, b)
        return conv(x, w, b, padding=padding)

    def batch_norm(self, x, g, b, eps=1e-5):
        """torch's fused batch norm (``F.batch_norm``, batch statistics, no running averages) when
        ``fused_batch_norm`` (default), else the formula of the base class. Same function: the U-net
        gradients of both agree with a float64 evaluation to ~1e-5 (``tests/test_unet.py``)."""
        if not self.fused_batch_norm:
            return super().batch_norm(x, g, b, eps)
        return F.batch_norm(x, None, None, g, b, True, 0.0, eps)

    def pad(self, x, widths, mode="constant"):
        """``"wrap"``: :func:`~pgbench.backends.torch_pad.wrap_pad` (torch's circular pad with an
        adjoint that folds the cotangent in one pass instead of torch's slice-by-slice copies)."""
        if mode == "wrap":
            return wrap_pad(x, widths)
        if mode != "constant":
            raise ValueError(f"pad mode must be 'constant' or 'wrap', got {mode!r}")
        flat = [n for pair in reversed(list(widths)) for n in pair]  # torch: last axis first
        return F.pad(x, flat, mode="constant")

    def relu(self, x):
        return torch.relu(x)

    def max_pool(self, x, size=2):
        nd = x.ndim - 2
        return (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1](x, size)

    def upsample(self, x, factor=2):
        """Bilinear (linear in 1-D) upsampling, ``align_corners=False``."""
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[x.ndim - 2]
        return F.interpolate(x, scale_factor=factor, mode=mode, align_corners=False)

    def linear_solve(self, matvec, b, x0=None, rtol=1e-5, atol=0.0, maxiter=1000):
        x0 = torch.zeros_like(b) if x0 is None else x0.detach()
        steps = compiled_cg_steps(self.cg_compile_mode) if self.cg_compile else cg_steps
        return _CG.apply(b, x0, matvec, rtol, atol, maxiter, self.cg_check_every, steps)

    def lbfgs(self, lr=1.0, history=10, max_iter=1, line_search="strong_wolfe"):
        """``torch.optim.LBFGS`` (:class:`~pgbench.backends.torch_optim.TorchLBFGS`), one per
        setting (cached): its library object is built once, its history is the state."""
        cache = self.__dict__.setdefault("_optimizers", {})
        key = ("lbfgs", lr, history, max_iter, line_search)
        if key not in cache:
            cache[key] = TorchLBFGS(lr, history, max_iter, line_search)
        return cache[key]

    def optimizer(self, name, lr, schedule=None, **kwargs):
        """One optimizer per setting (cached), its library object built once per parameter
        structure (:class:`~pgbench.backends.torch_optim.TorchOptimizer`). ``name``: any torch
        entry of :data:`pgbench.optimizers.OPTIMIZERS` (torch.optim / pytorch-optimizer),
        ``kwargs`` its settings."""
        from ..optimizers import freeze

        key = (name, lr, schedule, freeze(kwargs))
        cache = self.__dict__.setdefault("_optimizers", {})
        if key not in cache:
            cache[key] = self._make_optimizer(name, lr, schedule, **kwargs)
        return cache[key]

    def _make_optimizer(self, name, lr, schedule=None, **kwargs):
        from ..optimizers import entry, factory

        make = factory(name, "torch")
        opt = TorchOptimizer(lambda ps: make(ps, lr, **kwargs), schedule)
        opt.needs = entry(name).needs
        return opt


def compiled_or_eager(f, mode: str = "default"):
    """``f`` compiled by ``torch.compile`` (static shapes; each new shape compiles once), falling
    back to eager ``f`` for good if a call raises: the compiled call's error is reported as a
    warning and the same arguments are run eagerly, so an error that is ``f``'s own is raised by
    the eager call as usual. ``f`` must be pure (its outputs a function of its inputs): a failed
    compiled call may have run part of it."""
    import warnings

    compiled = torch.compile(f, mode=None if mode == "default" else mode, dynamic=False)
    current = [compiled]

    def call(*args, **kwargs):
        if current[0] is f:
            return f(*args, **kwargs)
        try:
            return compiled(*args, **kwargs)
        except Exception as e:  # any compiler failure: the eager call decides
            current[0] = f
            warnings.warn(
                f"torch.compile of {getattr(f, '__name__', type(f).__name__)!r} failed ({type(e).__name__}: "
                f"{str(e).splitlines()[0][:200]}); running it eagerly",
                RuntimeWarning,
                stacklevel=2,
            )
            return f(*args, **kwargs)

    return call
