"""Backends behind one narrow interface (:class:`~pgbench.backends.base.Backend`).

``get_backend("torch", "cpu")`` imports the library lazily, so ``import pgbench`` needs neither.
"""

from __future__ import annotations

import functools
import importlib.util

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


__all__ = ["Backend", "Optimizer", "get_backend", "available_backends", "cuda_available", "set_torch_threads", "BACKENDS", "DEVICES"]
