"""Lanes that differ in numeric optimizer settings (issue 31/32): the hyperparameter axis of a
vectorised program (:mod:`pgbench.vectorize`) beside its seed axis.

A *lane* is one run plan of a vectorised program. Lanes may differ in their seed and in the
**numeric optimizer settings** of a feedback scheme: ``lr``, ``momentum`` and every number (or
tuple of numbers, torch's ``betas``) in ``optimizer_settings`` (``b1``, ``b2``, ``eps``,
``weight_decay``...). Everything else (the optimizer's name, the schedule's kind and settings,
the network, the problem, the budget) must be equal. With per-lane settings
:math:`h_s` the program's update of lane :math:`s` is

.. math:: \\theta_s \\leftarrow \\theta_s + U(g_s, m_s;\\, h_s),\\qquad s = 1..S,

with :math:`U` the library optimizer's element-wise update and :math:`m_s` the lane's own
moments; it is the separate run's update when :math:`U` is element-wise (``ELEMENTWISE`` in
:mod:`pgbench.vectorize`), since lane :math:`s`'s entries then depend only on lane :math:`s`.

* jax: ``optax.inject_hyperparams`` of the optax function puts the numeric settings into the
  optimizer state; the S lanes' states (each made with its own settings) are stacked and the
  update is ``jax.vmap``-ed over (parameters, gradients, state) (:class:`OptaxLanes`).
* torch: one ``torch.optim`` object with one **param group per lane** over views of the stacked
  parameters, each group carrying its lane's settings (:class:`TorchLanes`); a step of it is, per
  group, the library's own step of the separate run (the same kernels on the same shapes).

A learning-rate schedule (:mod:`pgbench.schedules`) is shared by the lanes: allowed when every
lane has the same ``lr`` (the lanes then differ in other settings or the seed), refused when the
rates differ (torch's cosine scheduler has one floor for all groups, optax's schedule is built
from one base rate). What is refused is refused by :func:`why_not` before any work.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from . import optimizers
from .backends.base import Optimizer

#: the scheme's own fields that are lane settings (besides the numbers in ``optimizer_settings``)
FIELDS = ("lr", "momentum")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_numeric(v) -> bool:
    """A number, or a list / tuple of numbers (torch's ``betas``)."""
    if isinstance(v, (list, tuple)):
        return len(v) > 0 and all(_is_number(x) for x in v)
    return _is_number(v)


def settings(hp: dict) -> dict:
    """The lane settings of a run's ``hyperparameters``: ``lr``, ``momentum`` and the numeric
    ``optimizer_settings``, flat (``optimizer_settings.b1``)."""
    out = {k: hp[k] for k in FIELDS if k in hp and _is_number(hp[k])}
    opt = hp.get("optimizer_settings") or {}
    if isinstance(opt, dict):
        out.update({f"optimizer_settings.{k}": v for k, v in opt.items() if _is_numeric(v)})
    return out


def shared(meta: dict) -> dict:
    """``meta`` without what lanes may differ in: the seed, the machine, the label (a name) and
    the lane settings (their names stay, so lanes must set the same ones)."""
    out = {k: v for k, v in meta.items() if k not in ("seed", "machine", "label")}
    hp = dict(out.get("hyperparameters") or {})
    for name in settings(hp):
        if name.startswith("optimizer_settings."):
            opt = dict(hp["optimizer_settings"])
            opt[name.split(".", 1)[1]] = "<lane>"
            hp["optimizer_settings"] = opt
        else:
            hp[name] = "<lane>"
    out["hyperparameters"] = hp
    return out


def differing(plans) -> list[str]:
    """The lane settings (:func:`settings`) that are not the same in every plan."""
    each = [settings(p.meta.get("hyperparameters") or {}) for p in plans]
    names = sorted(set().union(*each))
    return [n for n in names if any(e.get(n) != each[0].get(n) for e in each[1:])]


def lane_settings(plans) -> list[dict]:
    """Per plan its settings that differ between the plans (empty dicts: a seed axis only)."""
    names = differing(plans)
    return [{n: settings(p.meta["hyperparameters"])[n] for n in names} for p in plans]


def why_not(plans) -> str | None:
    """Why ``plans`` (equal but for the seed and lane settings, see :func:`shared`) cannot share
    one program over their differing settings, or None (also when no setting differs). Checked
    before any work: the lanes' optimizer is built and takes one update on a tiny parameter."""
    from .solvers.base import FeedbackScheme

    names = differing(plans)
    if not names:
        return None
    s = plans[0].solver
    if not isinstance(s, FeedbackScheme):
        return f"{s.id} does not feed a gradient back through an optimizer, so its settings are not optimizer lanes"
    if "lr" in names and s.lr_schedule() is not None:
        return (
            "lanes with different learning rates cannot share a learning-rate schedule (it is built from "
            "one base rate); vectorise runs of one lr, or use schedule='constant'"
        )
    key = (
        plans[0].backend.name,
        s.optimizer,
        repr(s.lr_schedule()),
        repr([settings(p.meta["hyperparameters"]) for p in plans]),
    )
    if key not in _VERDICTS:
        _VERDICTS[key] = _try(plans)
    return _VERDICTS[key]


_VERDICTS: dict[tuple, str | None] = {}


def _try(plans) -> str | None:
    be = plans[0].backend
    try:
        opt = optimizer(plans, be)
        if be.name == "jax":
            import jax
            import jax.numpy as jnp

            tiny = {"w": jnp.zeros((len(plans), 2), jnp.float32)}
            jax.eval_shape(lambda p, st: opt.update(p, p, st), tiny, opt.init(tiny))
        else:
            import torch

            small = {"w": torch.zeros((len(plans), 2))}
            opt.update(small, {"w": torch.ones((len(plans), 2))}, opt.init(small))
    except Exception as e:  # whatever the library raises: the reason, one line
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return (
            f"optimizer {plans[0].solver.optimizer!r} on {be.name} cannot take the settings "
            f"{', '.join(differing(plans))} per lane: {type(e).__name__}: {message}"
        )
    return None


def optimizer(plans, be) -> Optimizer:
    """The optimizer of a vectorised program over ``plans``: the scheme's own (one setting for all
    lanes: it acts on the stacked parameters as on one) or, when settings differ, the lanes'
    (:class:`OptaxLanes` on jax, :class:`TorchLanes` on torch)."""
    s = plans[0].solver
    if not differing(plans):
        return s.make_optimizer(be)
    hps = [p.solver for p in plans]
    if be.name == "jax":
        return OptaxLanes(s.optimizer, [_optax_kwargs(q) for q in hps], device=be._device)
    return TorchLanes(s.optimizer, [_torch_group(q) for q in hps], s.lr_schedule())


# --- jax ---------------------------------------------------------------------------------------


def _optax_function(name: str):
    """The optax function of optimizer ``name`` (``optax.adam``, ``optax.contrib.adopt``...)."""
    import optax
    import optax.contrib  # the submodule, for names under optax.contrib

    obj: Any = optax
    for part in optimizers.entry(name).library["jax"].split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _optax_kwargs(scheme) -> dict:
    """The optax function's arguments of one lane, as :mod:`pgbench.optimizers` passes them for a
    separate run (``betas`` becomes ``b1``, ``b2``; SGD's ``momentum`` 0 is no momentum: passed
    only when set), the rate a schedule when there is one."""
    sc = scheme.lr_schedule()
    kw: dict = {"learning_rate": scheme.lr if sc is None else sc.optax(scheme.lr)}
    opt = dict(scheme.optimizer_settings)
    betas = opt.pop("betas", None)
    if betas is not None:
        opt = {"b1": betas[0], "b2": betas[1], **opt}
    if scheme.optimizer == "sgd" and scheme.momentum:
        kw["momentum"] = scheme.momentum
    return {**kw, **opt}


class OptaxLanes(Optimizer):
    """S lanes of one optax optimizer with per-lane numeric settings (module doc): the state is
    the lanes' ``optax.inject_hyperparams`` states stacked on a leading axis (each holds its
    lane's settings); an update is the library's update ``jax.vmap``-ed over (parameters,
    gradients, state). A lane without a setting another lane has (SGD without momentum beside
    one with it) gets the library's value that means "off" (momentum 0: the same numbers)."""

    jittable = True

    def __init__(self, name: str, lanes: list[dict], device=None):
        import optax

        names = set().union(*lanes)
        if "momentum" in names:  # SGD: a lane without momentum has momentum 0 (identical updates)
            lanes = [{"momentum": 0.0, **kw} for kw in lanes]
        varying = {k for k in names if any(kw.get(k) != lanes[0].get(k) for kw in lanes)}
        # a setting that varies is a float in every lane (an int beside a float would not stack)
        lanes = [{k: float(v) if k in varying and _is_number(v) else v for k, v in kw.items()} for kw in lanes]
        fn = _optax_function(name)
        # only what varies goes into the state; every other argument stays a Python constant, as in
        # a separate run (a float32 b1 in the state would round 1 - b1 differently)
        static = set(inspect.signature(fn).parameters) - varying
        inject = optax.inject_hyperparams(fn, static_args=static)
        self.txs = [inject(**kw) for kw in lanes]
        self.varying = sorted(varying)
        self.device = device

    def init(self, params):
        import jax
        import jax.numpy as jnp

        states = [tx.init(jax.tree.map(lambda a, s=s: a[s], params)) for s, tx in enumerate(self.txs)]
        state = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
        return state if self.device is None else jax.device_put(state, self.device)

    def update(self, params, grads, state, objective=None):
        import jax
        import optax

        tx = self.txs[0]  # the structure; every lane's numbers come from its state

        def one(p, g, st):
            updates, st = tx.update(g, st, p)
            return optax.apply_updates(p, updates), st

        return jax.vmap(one)(params, grads, state)


# --- torch -------------------------------------------------------------------------------------


def _torch_group(scheme) -> dict:
    """One lane's param-group settings, as :mod:`pgbench.optimizers` passes them to the torch
    constructor for a separate run (``lr``; SGD's ``momentum``; ``optimizer_settings``)."""
    group = {"lr": scheme.lr, **scheme.optimizer_settings}
    if scheme.optimizer == "sgd":
        group = {"lr": scheme.lr, "momentum": scheme.momentum, **scheme.optimizer_settings}
    return group


class TorchLanes(Optimizer):
    """S lanes of one torch optimizer with per-lane settings (module doc): one library object
    whose param group ``s`` holds the views ``θ[k][s]`` of the stacked parameters with lane
    ``s``'s settings (:class:`~pgbench.backends.torch_optim.TorchOptimizer` keeps its state as
    data); an update sets each view's gradient to ``g[k][s]`` and steps the library object, which
    updates the stacked parameters in place through the views. ``schedule``: one learning-rate
    scheduler over all groups (lanes of one rate, :func:`why_not`)."""

    def __init__(self, name: str, lanes: list[dict], schedule=None):
        from .backends.torch_optim import TorchOptimizer

        make = optimizers.factory(name, "torch")
        n = len(lanes)

        def build(leaves):
            per = len(leaves) // n
            groups = [{**lanes[s], "params": leaves[s * per : (s + 1) * per]} for s in range(n)]
            first = dict(lanes[0])
            return make(groups, first.pop("lr"), **first)

        self.lanes = n
        self.inner = TorchOptimizer(build, schedule)

    def _views(self, tree: dict) -> dict:
        """``tree``'s arrays as per-lane views, lane-major: ``{(s, k): tree[k][s]}``."""
        return {(s, k): a[s] for s in range(self.lanes) for k, a in tree.items()}

    def init(self, params):
        return self.inner.init(self._views(params))

    def update(self, params, grads, state, objective=None):
        _, state = self.inner.update(self._views(params), self._views(grads), state)
        return params, state


__all__ = ["settings", "shared", "differing", "lane_settings", "why_not", "optimizer", "OptaxLanes", "TorchLanes"]
