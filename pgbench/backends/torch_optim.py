"""torch.optim optimizers with their state as data (issue 28 item 7).

A ``torch.optim`` optimizer keeps its moments inside the optimizer object. Here the object (and
its learning-rate scheduler) is built once per parameter structure and kept on the pgbench
:class:`~pgbench.backends.base.Optimizer`; what changes from update to update travels as a
:class:`TorchOptState` (tensors, numbers, strings and lists / tuples / dicts of them). Each
update binds the library object to the current parameter tensors and to the state (references
moved, nothing copied), steps it, and reads the new state back out: the same library calls on
the same tensors as stepping one optimizer object, so the numbers are the same bit for bit.

torch.optim updates its tensors in place, so an update takes its state over: a state is used
once (the runner threads it from update to update).
"""

from __future__ import annotations

import copy
import operator
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .base import Optimizer


class TorchOptState(NamedTuple):
    """A torch optimizer's state between updates.

    ``params``: per parameter (in the order of the parameter dict) the library's per-parameter
    state (``optimizer.state[p]``: moments, step counts, preconditioners); ``groups``: per param
    group its entries but the parameters (the settings, the rate the scheduler set, the counters
    pytorch-optimizer keeps there); ``other``: entries of ``optimizer.state`` not keyed by a
    parameter (MADGRAD's ``k``); ``scheduler``: the scheduler's ``state_dict()`` (None when the
    rate is constant); ``updates``: updates done (seeds the Hessian-based optimizers' probes)."""

    params: tuple
    groups: tuple
    other: dict
    scheduler: dict | None = None
    updates: int = 0


class _Built(NamedTuple):
    """A library optimizer (and scheduler) built for one parameter structure: ``positions[i]``
    are the places in the parameter dict of group ``i``'s parameters; ``start`` the state a
    run starts from."""

    optimizer: Any
    scheduler: Any
    positions: tuple
    start: TorchOptState


def _structure(params: dict) -> tuple:
    return tuple((k, p.shape, p.dtype, p.device) for k, p in params.items())


class TorchLibraryOptimizer(Optimizer):
    """A library optimizer made by ``factory(list_of_params)`` (``schedule``, a
    :class:`pgbench.schedules.Schedule`, adds its ``lr_scheduler``, stepped after every update),
    built once per parameter structure; its state is a :class:`TorchOptState`."""

    def __init__(self, factory: Callable, schedule=None):
        self._factory = factory
        self._schedule = schedule
        self._built: dict = {}
        self._last: tuple = ((), None)  # the parameter tensors last bound and their _Built

    def _build(self, params: dict) -> _Built:
        key = _structure(params)
        built = self._built.get(key)
        if built is None:
            leaves = list(params.values())
            opt = self._factory(leaves)
            sched = None if self._schedule is None else self._schedule.torch(opt)
            where = {id(p): i for i, p in enumerate(leaves)}
            positions = tuple(tuple(where[id(p)] for p in g["params"]) for g in opt.param_groups)
            start = TorchOptState(
                tuple({} for _ in leaves),
                _groups(opt),
                _other(opt.state),
                None if sched is None else sched.state_dict(),
            )
            built = self._built[key] = _Built(opt, sched, positions, copy.deepcopy(start))
        return built

    def init(self, params: dict) -> TorchOptState:
        return copy.deepcopy(self._build(params).start)

    def library(self, params: dict):
        """The library optimizer built for the structure of ``params`` (its parameter groups say
        which parameters it puts together; what it holds between updates is not the run's state)."""
        return self._build(params).optimizer

    def _load(self, params: dict, state: TorchOptState):
        """The library optimizer bound to ``params`` and ``state``, and the parameter tensors."""
        leaves = list(params.values())
        last, built = self._last
        if len(last) != len(leaves) or not all(map(operator.is_, last, leaves)):  # else updated in place
            built = self._build(params)
            self._last = (leaves, built)
        opt = built.optimizer
        for group, entries, where in zip(opt.param_groups, state.groups, built.positions, strict=True):
            group.clear()
            group.update(entries)
            group["params"] = [leaves[i] for i in where]
        held = defaultdict(dict, zip(leaves, state.params, strict=True))
        held.update(state.other)
        opt.state = held
        if built.scheduler is not None:
            built.scheduler.load_state_dict(state.scheduler)
        return built, leaves

    def _read(self, built: _Built, leaves: list, updates: int) -> TorchOptState:
        opt, sched = built.optimizer, built.scheduler
        return TorchOptState(
            tuple(opt.state[p] for p in leaves),
            _groups(opt),
            _other(opt.state),
            None if sched is None else sched.state_dict(),
            updates,
        )


def _groups(opt) -> tuple:
    return tuple({k: v for k, v in g.items() if k != "params"} for g in opt.param_groups)


def _other(held) -> dict:
    return {k: v for k, v in held.items() if not isinstance(k, torch.Tensor)}


class TorchOptimizer(TorchLibraryOptimizer):
    """A ``torch.optim`` / pytorch-optimizer optimizer stepped on given gradients."""

    def update(self, params, grads, state, objective=None):
        """One step; ``objective`` (a scalar function of the parameters) is for the Hessian-based
        optimizers (``needs == "hvp"``): the gradients are taken from it with ``create_graph=True``
        (``grads`` is ignored), so that the optimizer can draw Hessian-vector products."""
        built, leaves = self._load(params, state)
        opt = built.optimizer
        if objective is not None:
            for p in leaves:
                p.requires_grad_(True)
            with torch.enable_grad():
                gs = torch.autograd.grad(objective(params), leaves, create_graph=True)
            for p, g in zip(leaves, gs, strict=True):
                p.grad = g
            # the Hutchinson probes come from torch's global generator: seeded by the update
            # count (and the global state left untouched), so that a run is reproducible
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(state.updates)
                opt.step()
            for p in leaves:
                p.grad = None
                p.requires_grad_(False)
        else:
            with torch.no_grad():
                for k, p in params.items():
                    p.grad = grads[k]
                opt.step()
        if built.scheduler is not None:
            built.scheduler.step()
        return params, self._read(built, leaves, state.updates + 1)


class TorchLBFGS(TorchLibraryOptimizer):
    """``torch.optim.LBFGS`` with a closure over ``objective`` (the loss as a function of the
    parameters), ``max_iter`` L-BFGS iterations per update; its history (curvature pairs, the
    last direction and step) is the state."""

    def __init__(self, lr, history, max_iter, line_search):
        self.settings = dict(
            lr=lr,
            max_iter=max_iter,
            history_size=history,
            line_search_fn=None if line_search == "none" else "strong_wolfe",
        )
        super().__init__(lambda leaves: torch.optim.LBFGS(leaves, **self.settings))

    def _load(self, params, state):
        built, leaves = super()._load(params, state)
        built.optimizer._params = built.optimizer.param_groups[0]["params"]  # LBFGS's own reference
        return built, leaves

    def update(self, params, grads, state, objective=None):
        built, leaves = self._load(params, state)
        opt = built.optimizer
        for p in leaves:
            p.requires_grad_(True)

        def closure():
            opt.zero_grad()
            with torch.enable_grad():
                total = objective(params)
                total.backward()
            return total

        opt.step(closure)
        for p in leaves:
            p.grad = None
            p.requires_grad_(False)
        return params, self._read(built, leaves, state.updates + 1)


__all__ = ["TorchOptState", "TorchLibraryOptimizer", "TorchOptimizer", "TorchLBFGS"]
