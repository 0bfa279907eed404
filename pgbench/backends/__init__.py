"""Backends behind one narrow interface (:class:`~pgbench.backends.base.Backend`).

``get_backend("torch", "cpu")`` imports the library lazily, so ``import pgbench`` needs neither.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from .base import Backend, Optimizer

BACKENDS = ("torch", "jax")
DEVICES = ("cpu", "cuda")


def available_backends() -> list[str]:
    """Backends whose library is importable here."""
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def cuda_available(backend: str) -> bool:
    try:
        if backend == "torch":
            import torch

            return torch.cuda.is_available()
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    except Exception:
        return False


def set_torch_threads(n: int | None):
    """Set torch's intra-op CPU threads to ``n`` (None: leave as is); returns a function that
    restores the previous value. One thread makes small-network runs faster on a shared 2-core
    machine and their floating-point reductions independent of the core count."""
    if n is None or importlib.util.find_spec("torch") is None:
        return lambda: None
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    return lambda: torch.set_num_threads(old)


def effective_torch_threads(n: int | None) -> int | None:
    """The torch intra-op thread count a run asked for ``n`` uses: ``n`` itself, or torch's
    current setting when ``n`` is None or 0 (None when torch is not installed)."""
    if n:
        return int(n)
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch.get_num_threads()


def numerics(backend: str, device: str, threads: int | None = None) -> dict:
    """Everything outside a run's own settings that changes its numbers (not only its speed):
    the library versions that compute it, the torch CPU thread count (reduction order), the
    deterministic-algorithm and reduced-precision flags, ``XLA_FLAGS``. Part of the run key, so
    two runs that can differ in their floating-point results never share one."""
    import numpy

    out: dict = {"numpy": numpy.__version__}
    if backend == "torch":
        import torch

        out["torch"] = torch.__version__
        out["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
        out["float32_matmul_precision"] = torch.get_float32_matmul_precision()
        if device == "cpu":
            out["torch_threads"] = effective_torch_threads(threads)
        else:
            out["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
            out["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
            out["cuda_matmul_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
            out["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    elif backend == "jax":
        import jax
        import jaxlib

        out["jax"] = jax.__version__
        out["jaxlib"] = jaxlib.__version__
        # jax.config's flags are attributes set at run time, unknown to its type stubs
        out["jax_enable_x64"] = bool(jax.config.jax_enable_x64)  # type: ignore[attr-defined]
        out["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision  # type: ignore[attr-defined]
        if device == "cpu":  # XLA's CPU thread pool spans the cores this process may use
            out["cpu_cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if os.environ.get("XLA_FLAGS"):
            out["xla_flags"] = os.environ["XLA_FLAGS"]
    return out


@functools.cache
def get_backend(name: str = "torch", device: str = "cpu") -> Backend:
    """The backend ``name`` on ``device`` (``cpu`` or ``cuda``; ``gpu`` is an alias)."""
    device = "cuda" if device == "gpu" else device
    if name not in BACKENDS:
        from ..registry import suggest

        raise ValueError(f"unknown backend {name!r}{suggest(name, BACKENDS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if importlib.util.find_spec(name) is None:
        raise RuntimeError(f"backend {name!r} is not installed (pip install 'pgbench[{name}]')")
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(device)
    from .jax_backend import JaxBackend

    return JaxBackend(device)


__all__ = [
    "Backend",
    "Optimizer",
    "get_backend",
    "available_backends",
    "cuda_available",
    "set_torch_threads",
    "effective_torch_threads",
    "numerics",
    "BACKENDS",
    "DEVICES",
]
