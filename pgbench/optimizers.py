"""Network optimizers by name: one table, name → per-backend library factory (``docs/optimizers.md``).

jax takes its optimizers from **optax** and **optax.contrib**, torch from **torch.optim** and the
maintained collection **pytorch-optimizer** (``pip install pytorch-optimizer``, in the ``torch``
extra); nothing here re-implements an optimizer. ``settings`` (the scheme's
``optimizer_settings``) go to the library's constructor under the library's own names (optax:
``b1``, ``b2``, ``weight_decay``...; torch: ``betas``, ``weight_decay``...), so library defaults
apply where a setting is not given (and may differ between libraries: the table's notes say
where). The learning rate and its schedule come from the scheme (``lr``, ``schedule``...).

Hessian-based optimizers (``needs="hvp"``: Sophia, AdaHessian) need second derivatives of the
training loss: torch's take gradients built with ``create_graph=True`` (pytorch-optimizer draws
Hutchinson Hessian-vector products from them); optax's Sophia takes the loss itself
(``obj_fn``). pgbench supplies both for the ``dp`` scheme, whose loss is the physics loss of the
network's prediction; schemes that feed back a vector that is not the gradient of a loss in θ
(``pg``, ``supervised``) raise a clear error for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.optim import Optimizer


@dataclass(frozen=True)
class Entry:
    """One optimizer: ``jax(rate, **settings) -> optax.GradientTransformation`` and
    ``torch(params, lr, **settings) -> torch.optim.Optimizer`` (None where no library has it);
    ``library`` names what each calls; ``needs`` is ``"hvp"`` for Hessian-based optimizers."""

    jax: Callable | None
    torch: Callable | None
    library: dict = field(default_factory=dict)
    needs: str | None = None
    notes: str = ""


def _optax(path: str):
    def make(rate, **settings):
        import optax
        import optax.contrib

        obj = optax
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj(rate, **settings)

    return make


def _torch_optim(cls: str, **fixed):
    def make(params, lr, **settings):
        import torch

        return getattr(torch.optim, cls)(params, lr=lr, **{**fixed, **settings})

    return make


def _pytorch_optimizer(name: str):
    def make(params, lr, **settings):
        from pytorch_optimizer import load_optimizer

        # typed as type[torch.optim.Optimizer], whose base __init__ has no lr; every optimizer it loads takes one
        cls: Callable[..., Optimizer] = load_optimizer(name)
        return cls(params, lr=lr, **settings)

    return make


def _torch_muon(params, lr, **settings):
    """pytorch-optimizer's Muon with its standard split: Muon (Newton–Schulz orthogonalised
    momentum) on the 2-D weight matrices, AdamW on everything else (biases, conv kernels),
    both at ``lr`` with optax's Adam defaults (β = 0.9, 0.999; eps 1e-8; no weight decay), as
    optax.contrib.muon does by default."""
    from pytorch_optimizer import Muon

    mats = [p for p in params if p.ndim == 2]
    rest = [p for p in params if p.ndim != 2]
    adam = {"adamw_lr": lr, "adamw_betas": (0.9, 0.999), "adamw_eps": 1e-8, "adamw_wd": 0.0}
    groups = [
        g for g in ({"params": mats, "use_muon": True}, {"params": rest, "use_muon": False, "lr": lr}) if g["params"]
    ]
    return Muon(groups, lr=lr, **{**adam, **settings})


def _torch_sgd(params, lr, **settings):
    import torch

    return torch.optim.SGD(params, lr=lr, **settings)


def _optax_sgd(rate, momentum=0.0, **settings):
    import optax

    return optax.sgd(rate, momentum=momentum or None, **settings)


def _optax_adam(which: str):
    def make(rate, betas=None, **settings):  # ``betas`` (torch's name) kept for old callers
        import optax

        if betas is not None:
            settings = {"b1": betas[0], "b2": betas[1], **settings}
        return getattr(optax, which)(rate, **settings)

    return make


OPTIMIZERS: dict[str, Entry] = {
    "adam": Entry(_optax_adam("adam"), _torch_optim("Adam"), {"jax": "optax.adam", "torch": "torch.optim.Adam"}),
    "amsgrad": Entry(
        _optax_adam("amsgrad"),
        _torch_optim("Adam", amsgrad=True),
        {"jax": "optax.amsgrad", "torch": "torch.optim.Adam(amsgrad=True)"},
        notes="the maximum is over raw (torch) or bias-corrected (optax) second moments",
    ),
    "sgd": Entry(
        _optax_sgd,
        _torch_sgd,
        {"jax": "optax.sgd", "torch": "torch.optim.SGD"},
        notes="momentum from the scheme's `momentum`",
    ),
    "adamw": Entry(
        _optax("adamw"),
        _torch_optim("AdamW"),
        {"jax": "optax.adamw", "torch": "torch.optim.AdamW"},
        notes="default weight decay differs: optax 1e-4, torch 1e-2",
    ),
    "nadam": Entry(
        _optax("nadam"),
        _torch_optim("NAdam"),
        {"jax": "optax.nadam", "torch": "torch.optim.NAdam"},
        notes="torch's NAdam adds momentum decay (ψ = 0.004)",
    ),
    "radam": Entry(_optax("radam"), _torch_optim("RAdam"), {"jax": "optax.radam", "torch": "torch.optim.RAdam"}),
    "adamax": Entry(_optax("adamax"), _torch_optim("Adamax"), {"jax": "optax.adamax", "torch": "torch.optim.Adamax"}),
    "adagrad": Entry(
        _optax("adagrad"),
        _torch_optim("Adagrad"),
        {"jax": "optax.adagrad", "torch": "torch.optim.Adagrad"},
        notes="initial accumulator differs: optax 0.1, torch 0",
    ),
    "rmsprop": Entry(
        _optax("rmsprop"),
        _torch_optim("RMSprop"),
        {"jax": "optax.rmsprop", "torch": "torch.optim.RMSprop"},
        notes="decay differs: optax 0.9, torch 0.99",
    ),
    "adafactor": Entry(
        _optax("adafactor"),
        _torch_optim("Adafactor"),
        {"jax": "optax.adafactor", "torch": "torch.optim.Adafactor"},
        notes="different variants (optax: T5's with momentum off; torch: Adafactor without relative step)",
    ),
    "lion": Entry(
        _optax("lion"),
        _pytorch_optimizer("lion"),
        {"jax": "optax.lion", "torch": "pytorch_optimizer.Lion"},
        notes="use ~3-10x smaller lr than Adam",
    ),
    "muon": Entry(
        _optax("contrib.muon"),
        _torch_muon,
        {"jax": "optax.contrib.muon", "torch": "pytorch_optimizer.Muon"},
        notes="Muon on 2-D weight matrices, Adam on the rest (biases, conv kernels)",
    ),
    "adopt": Entry(
        _optax("contrib.adopt"),
        _pytorch_optimizer("adopt"),
        {"jax": "optax.contrib.adopt", "torch": "pytorch_optimizer.ADOPT"},
    ),
    "prodigy": Entry(
        _optax("contrib.prodigy"),
        _pytorch_optimizer("prodigy"),
        {"jax": "optax.contrib.prodigy", "torch": "pytorch_optimizer.Prodigy"},
        notes="learning-rate free: lr is a multiplier, 1.0 as intended",
    ),
    "ademamix": Entry(
        _optax("contrib.ademamix"),
        _pytorch_optimizer("ademamix"),
        {"jax": "optax.contrib.ademamix", "torch": "pytorch_optimizer.AdEMAMix"},
    ),
    "madgrad": Entry(
        _optax("contrib.madgrad"),
        _pytorch_optimizer("madgrad"),
        {"jax": "optax.contrib.madgrad", "torch": "pytorch_optimizer.MADGRAD"},
    ),
    "adabelief": Entry(
        _optax("adabelief"),
        _pytorch_optimizer("adabelief"),
        {"jax": "optax.adabelief", "torch": "pytorch_optimizer.AdaBelief"},
    ),
    "yogi": Entry(_optax("yogi"), _pytorch_optimizer("yogi"), {"jax": "optax.yogi", "torch": "pytorch_optimizer.Yogi"}),
    "lamb": Entry(_optax("lamb"), _pytorch_optimizer("lamb"), {"jax": "optax.lamb", "torch": "pytorch_optimizer.Lamb"}),
    "soap": Entry(
        None,
        _pytorch_optimizer("soap"),
        {"torch": "pytorch_optimizer.SOAP"},
        notes="Shampoo-preconditioned Adam; optax 0.2.x has no SOAP",
    ),
    "shampoo": Entry(
        None, _pytorch_optimizer("shampoo"), {"torch": "pytorch_optimizer.Shampoo"}, notes="optax 0.2.x has no Shampoo"
    ),
    "kron": Entry(
        None,
        _pytorch_optimizer("kron"),
        {"torch": "pytorch_optimizer.Kron"},
        notes="PSGD with Kronecker-factored preconditioner",
    ),
    "sophia": Entry(
        _optax("contrib.sophia"),
        _pytorch_optimizer("sophiah"),
        {"jax": "optax.contrib.sophia", "torch": "pytorch_optimizer.SophiaH"},
        needs="hvp",
        notes="Hutchinson diagonal Hessian every update_period (10) steps; dp only",
    ),
    "adahessian": Entry(
        None,
        _pytorch_optimizer("adahessian"),
        {"torch": "pytorch_optimizer.AdaHessian"},
        needs="hvp",
        notes="Hutchinson diagonal Hessian every step; dp only; not in optax",
    ),
}


def entry(name: str) -> Entry:
    """The table's entry for ``name``; an unknown name suggests the nearest."""
    from .registry import InvalidSettingError, suggest

    if name not in OPTIMIZERS:
        raise InvalidSettingError(f"unknown optimizer {name!r}" + suggest(str(name), OPTIMIZERS))
    return OPTIMIZERS[name]


def backends_for(name: str) -> list[str]:
    e = entry(name)
    return [b for b in ("jax", "torch") if getattr(e, b) is not None]


def missing_on(name: str, backend: str) -> str | None:
    """Why optimizer ``name`` cannot run on ``backend`` (None if it can)."""
    e = entry(name)
    if getattr(e, backend, None) is None:
        have = backends_for(name)
        libs = ", ".join(f"{b} ({e.library[b]})" for b in have)
        return f"optimizer {name!r} is not available on {backend}; backends that provide it: {libs}"
    return None


def factory(name: str, backend: str) -> Callable:
    reason = missing_on(name, backend)
    if reason:
        from .registry import InvalidSettingError

        raise InvalidSettingError(reason)
    return getattr(entry(name), backend)


def freeze(settings: dict) -> tuple:
    """``settings`` as a hashable, sorted tuple (lists become tuples)."""

    def f(v):
        return tuple(f(x) for x in v) if isinstance(v, (list, tuple)) else v

    return tuple(sorted((k, f(v)) for k, v in settings.items()))


__all__ = ["OPTIMIZERS", "Entry", "entry", "backends_for", "missing_on", "factory", "freeze"]
