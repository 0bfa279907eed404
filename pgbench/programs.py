"""What one step of a run computes on the device: a :class:`Program`. The loop around it (the
clock, the recorded rows, the divergence watch, the budget, evaluation timing) is
:class:`pgbench.runner.Run`'s, the same for every program.

A program works on a run's state (:class:`pgbench.runner.RunState`: ``iterate``,
``solver_state``, ``iteration``, ``clock``, ``carry``) for one or more plans that differ in
their seed only, the *seed axis*: :class:`SolveProgram` (an iterative solver) and
:class:`TrainProgram` (a training scheme) run one plan; :class:`pgbench.vectorize.SeedsProgram`
trains several seeds as one program. The per-example metrics it hands back are host (numpy)
arrays whose last axis is the batch: ``(B,)`` for one plan and one iteration, ``(k, S, B)`` for
``k`` iterations of ``S`` seeds.
"""

from __future__ import annotations

import abc
from typing import Any

from . import keys
from .problems.base import check_sample


def per_example(problem, be, x, x_true, y_target, loss=None) -> dict:
    """The per-example metrics of the predictions ``x`` (backend arrays of shape (B,)): ``loss``
    (y-space objective; computed unless given), ``x_error`` and the problem's extras."""
    loss = problem.loss(be, x, y_target) if loss is None else loss
    per = {"loss": loss, "x_error": problem.x_error(be, x, x_true, y_target)}
    per.update(problem.extras(be, x, x_true, y_target))
    return per


def host(be, per: dict) -> dict:
    """Backend arrays as numpy arrays."""
    return {k: be.to_numpy(v) for k, v in per.items()}


class Program(abc.ABC):
    """The device side of a run (module doc). ``kind``: ``training`` or ``iterative``;
    ``evaluates``: the held-out batch is evaluated every ``problem.eval_every`` iterations;
    ``read_every``: the most iterations one :meth:`advance` may do (metrics come back to the host
    once per advance); ``records_start``: the initial iterate is recorded as iteration 0."""

    kind = "training"
    evaluates = False
    read_every = 1
    records_start = False

    @abc.abstractmethod
    def init(self, clock) -> tuple[Any, Any]:
        """``(iterate, solver_state)`` of a fresh run; set-up that is not the solver's work runs
        under ``clock.excluded()``."""

    def start_metrics(self, state) -> dict:
        """Per-example host metrics of the initial iterate; the loop asks for them only when
        :attr:`records_start` is set, which a program that defines this must set."""
        raise TypeError(f"{type(self).__name__} records no starting row (records_start is False)")

    @abc.abstractmethod
    def advance(self, state, end: int, ahead: int | None) -> Any:
        """Dispatch the updates from ``state.iteration`` to ``end`` (setting ``state.iterate`` and
        ``state.solver_state``); returns what :meth:`read` needs. ``ahead``: the end of the next
        advance (None: none follows), so host work for it may overlap the device's."""

    @abc.abstractmethod
    def read(self, state, out) -> tuple[dict, list[dict]]:
        """After the device is synchronised: the per-example host metrics of the iterations of the
        last :meth:`advance` and, per iteration, the step's diagnostics (``info``)."""

    def evaluate(self, state) -> dict:
        """Per-example host metrics of the current iterate on the held-out batch; the loop asks
        for them only when :attr:`evaluates` is set, which a program that defines this must set."""
        raise TypeError(f"{type(self).__name__} has no held-out evaluation (evaluates is False)")

    def final(self, iterate, lane: int):
        """The final outcome (x or network parameters) of the ``lane``-th plan."""
        return iterate

    def warm_up_state(self, solver_state):
        """The solver state for a throwaway warm-up run (:meth:`pgbench.runner.Run.warm_up`)."""
        return solver_state

    def meta(self) -> dict:
        """Entries added to every result's meta (outside the run key)."""
        return {}


def test_batch(p):
    """The plan's held-out batch ``(x_true, y_target)``, its shapes checked (:func:`check_sample`:
    a problem whose ``sample()`` breaks the contract fails the run before its first step)."""
    problem = p.problem
    x, y = problem.sample(keys.rng(p.seed, "test"), problem.test_size, p.backend)
    check_sample(problem, problem.test_size, x, y)
    return x, y


class SolveProgram(Program):
    """An iterative solver on the plan's held-out batch: one solver step per advance; the
    initial guess is recorded as iteration 0."""

    kind = "iterative"
    records_start = True

    def __init__(self, p):
        self.plan = p
        problem, solver, be = p.problem, p.solver, p.backend
        self.test_x, self.test_y = test_batch(p)
        step = lambda x, y, s: solver.checked_step(problem, be, x, y, s)  # noqa: E731
        self.solve_step = be.jit(step) if solver.jittable else step
        self.metrics = be.jit(lambda x, xt, y: per_example(problem, be, x, xt, y))

    def init(self, clock):
        p = self.plan
        with clock.excluded():
            x = p.problem.initial_guess(p.backend, self.test_y)
        return x, p.solver.init(p.problem, p.backend, x, self.test_y)  # the solver's set-up is timed

    def start_metrics(self, state):
        return host(self.plan.backend, self.metrics(state.iterate, self.test_x, self.test_y))

    def advance(self, state, end, ahead):
        x, state.solver_state, info = self.solve_step(state.iterate, self.test_y, state.solver_state)
        state.iterate = x
        return info

    def read(self, state, info):
        return self.start_metrics(state), [info]


class TrainProgram(Program):
    """A training scheme: one update on the seed's next batch per advance
    (``keys.rng(seed, "train", i)``), the network evaluated on the held-out batch."""

    evaluates = True

    def __init__(self, p):
        self.plan = p
        problem, solver, be = p.problem, p.solver, p.backend
        self.test_x, self.test_y = test_batch(p)
        self.net = problem.network()
        self.update = solver.compile(problem, be, self.net)
        self._evaluate = be.jit(
            lambda prm: per_example(
                problem, be, problem.predict(be, self.net, prm, self.test_y), self.test_x, self.test_y
            )
        )
        self.metrics = be.jit(lambda x, xt, y, loss: per_example(problem, be, x, xt, y, loss))

    def init(self, clock):
        p = self.plan
        with clock.excluded():
            params = self.net.init(keys.rng(p.seed, "net"), p.backend)
            return params, p.solver.init(p.problem, p.backend, self.net, params)

    def advance(self, state, end, ahead):
        p, problem, be = self.plan, self.plan.problem, self.plan.backend
        it = state.iteration + 1  # updates done after this step; its batch is the it-th
        assert end == it, "a training program advances one iteration at a time"
        x_true, y_target = problem.sample(keys.rng(p.seed, "train", it - 1), problem.batch_size, be)
        if it == 1:  # the first training batch: its shapes (the held-out batch's were checked at init)
            check_sample(problem, problem.batch_size, x_true, y_target)
        elapsed = state.clock.cpu() if p.max_time_clock == "cpu" else state.clock.now()  # the budget's clock
        state.iterate, state.solver_state, out = self.update(
            state.iterate, state.solver_state, y_target, x_true, elapsed
        )
        return self.metrics(out.x, x_true, y_target, out.loss), out.info

    def read(self, state, out):
        per, info = out
        return host(self.plan.backend, per), [info]

    def evaluate(self, state):
        return host(self.plan.backend, self._evaluate(state.iterate))

    def warm_up_state(self, solver_state):
        return self.plan.solver.warm_up_state(solver_state)


def stack(be, arrays):
    """Backend arrays stacked on a new leading axis."""
    return be.xp.stack(list(arrays), axis=0)


__all__ = ["Program", "SolveProgram", "TrainProgram", "per_example", "host", "stack", "test_batch"]
