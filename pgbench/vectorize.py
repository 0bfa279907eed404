"""Many seeds of one training run in one program (issue 22), and many numeric optimizer settings
beside them (issues 31/32): :class:`VectorRun`, a :class:`pgbench.runner.Run` over an axis of
*lanes* whose device side is :class:`SeedsProgram`; the loop (clock, rows, divergence watch,
evaluations, budget) is the runner's.

S run plans that differ only in their seed and/or their numeric optimizer settings (``lr``,
``momentum``, the numbers in ``optimizer_settings``: the hyperparameter axis of
:mod:`pgbench.lanes`, which builds the per-lane optimizer and says what it refuses) are trained
together. What follows says "seed" for a lane; a lane's optimizer applies its own settings.

Their parameters are stacked with a leading seed axis, each seed's batch is drawn from its own stream
(``keys.rng(seed, "train", i)``, exactly as a separate run), and one step computes

.. math:: g_s = J_{\\theta_s}^T g_x(\\mathrm{NN}(y^*_s\\mid\\theta_s)),\\qquad s = 1..S

with ``jax.vmap`` over (parameters, batch) of the scheme's own :meth:`~pgbench.solvers.base.
FeedbackScheme.gradients` inside one ``jax.jit`` on jax; on torch, whose ``torch.func.vmap``
costs per operation at every call, the seeds' batches are joined into one batch wherever
examples are independent and only the networks carry the seed axis (:mod:`pgbench.seed_axis`);
then the scheme's optimizer is applied to the stacked parameters. That is each seed's own update
only for an *element-wise* optimizer (Adam, SGD, AMSGrad...: every entry of θ is updated from
its own gradient history and the shared step count), so :func:`why_not` refuses the others
(Muon, SOAP, Shampoo act on whole matrices) before any work. The S results are ordinary runs
with the keys of the separate runs; their curves equal the separate runs' to float32 round-off
(vmapped matrix products may sum in another order; ``tests/test_vectorize.py``). The streams of
a chunk's batches are seeded together (:func:`pgbench.keys.rngs`, the same generators as
``keys.rng`` one by one).

Host reads: ``read_every=k`` reads the metrics back to the host once every k iterations (the
device keeps the per-iteration values, so the curves are the same); on jax the k iterations of a
chunk are one compiled ``lax.scan`` over the k pre-drawn batches. Chunks end where a held-out
evaluation is due, so every evaluation sees the same parameters as in a separate run. The wall
time of the rows inside a chunk is the measured chunk time split evenly over its iterations
(recorded in the meta as ``vectorized_with["wall_time"]``). With a wall-time budget
(only for S = 1) the budget is checked after each chunk.

What is outside the run key (so a vectorised run is stored under the separate run's key): the
meta field ``vectorized_with`` = ``{"seeds": [...], "read_every": k, "wall_time": ...}`` (one
seed per lane; with a hyperparameter axis also ``"settings"``: per lane the settings that differ
between the lanes, e.g. ``[{"lr": 0.001}, {"lr": 0.002}]``); every row's ``wall_time`` is the
time of the whole S-lane program, not of one lane.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import keys, lanes, seed_axis
from .planning import RunPlan
from .problems.base import check_sample
from .programs import Program, host, per_example, stack
from .registry import InvalidSettingError
from .runner import Run, RunResult, execute_runs

#: Optimizers whose update of every parameter entry depends only on that entry's own gradient
#: history (and the shared step count): stacking seeds along a new axis changes nothing.
ELEMENTWISE = frozenset(
    {
        "adam",
        "adamw",
        "amsgrad",
        "sgd",
        "nesterov",
        "nadam",
        "nadamw",
        "radam",
        "adamax",
        "adamaxw",
        "rmsprop",
        "adagrad",
        "adadelta",
        "adabelief",
        "lion",
        "yogi",
        "sign_sgd",
        "rprop",
    }
)

SUPPORTED = (
    "--vectorize supports training schemes that feed a gradient back at the network output "
    "(dp, supervised, pg with a compilable inner solver) with an element-wise optimizer "
    f"({', '.join(sorted(ELEMENTWISE))}) and an iteration budget"
)


class NotVectorizable(InvalidSettingError):
    """These plans cannot be trained as one vectorised program (the message says why)."""


def why_not(p: RunPlan, n_seeds: int = 2) -> str | None:
    """Why the plan ``p`` cannot run vectorised over ``n_seeds`` seeds, or None if it can."""
    from .solvers.base import FeedbackScheme

    s = p.solver
    if s.kind != "training":
        return (
            f"{s.id} is an iterative solver: it already solves the whole held-out batch at once, and the "
            f"solver interface does not promise that examples stay independent (L-BFGS-B's line search spans "
            f"the batch), so seeds' batches are not concatenated"
        )
    if not isinstance(s, FeedbackScheme):
        return (
            f"{s.id} ({type(s).__name__}) computes its own update, it does not feed a gradient back through an "
            f"optimizer"
        )
    if not s.jittable:
        return (
            f"{s.id}'s step is not a pure array function (its inner solver runs on the host), so it cannot be vmapped"
        )
    opt = getattr(s, "optimizer", None)
    if opt not in ELEMENTWISE:
        return f"optimizer {opt!r} is not element-wise: a stacked update would mix the seeds"
    if n_seeds > 1 and p.max_time is not None:
        return (
            "a wall-time budget (max_time) would be shared by the seeds of one program, so each would run "
            "fewer iterations than alone; vectorise runs that have an iteration budget"
        )
    return None


def _differences(a: dict, b: dict) -> list[str]:
    """The fields in which two :func:`pgbench.lanes.shared` views differ (``hyperparameters.X``)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) == b.get(k):
            continue
        if k == "hyperparameters" and isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            ha, hb = a[k], b[k]
            out += [f"{k}.{n}" for n in sorted(set(ha) | set(hb)) if ha.get(n) != hb.get(n)]
        else:
            out.append(k)
    return out


def check(plans: list[RunPlan]) -> None:
    """Raise :class:`NotVectorizable` (before any work) unless ``plans`` are one configuration
    over distinct lanes (seeds and/or numeric optimizer settings, :mod:`pgbench.lanes`) that
    :func:`why_not` and :func:`pgbench.lanes.why_not` accept."""
    if not plans:
        raise NotVectorizable("no runs to vectorise")
    base = lanes.shared(plans[0].meta)
    for p in plans[1:]:
        diff = _differences(base, lanes.shared(p.meta))
        if diff:
            raise NotVectorizable(
                "vectorised runs must differ in their seed only, or also in numeric optimizer settings "
                f"(lr, momentum, numbers in optimizer_settings); these differ in {', '.join(diff)}"
                + (
                    " (an optimizer setting given in one run must be given, as a number, in every run)"
                    if "hyperparameters.optimizer_settings" in diff
                    else ""
                )
            )
    ids = [(p.seed, repr(sorted(lanes.settings(p.meta["hyperparameters"]).items()))) for p in plans]
    if len(set(ids)) != len(ids):
        seeds = [p.seed for p in plans]
        raise NotVectorizable(f"vectorised runs need distinct seeds (or distinct optimizer settings), got {seeds}")
    reason = why_not(plans[0], len(plans)) or lanes.why_not(plans)
    if reason:
        raise NotVectorizable(f"{SUPPORTED}; {plans[0].meta['problem']} × {plans[0].solver.id}: {reason}")


def _stack_tree(be, trees):
    return {k: stack(be, [t[k] for t in trees]) for k in trees[0]}


def seed_functions(problem, solver, be, net):
    """The S-seed forms ``(gradients, metrics, evaluate, realize)`` of the scheme's gradients, the
    per-example metrics, the held-out evaluation and the problem's ``realize``, on arrays with a
    leading seed axis: ``be.vmap`` of the one-seed functions on jax (vmap is a trace-time
    transform there), the seeds' batches joined and only the networks on a seed axis on torch
    (:mod:`pgbench.seed_axis`: torch.func.vmap costs per operation at every call)."""
    if be.name == "jax":
        grads = be.vmap(functools.partial(solver.gradients, problem, be, net))
        metrics = be.vmap(lambda x, xt, y, loss: per_example(problem, be, x, xt, y, loss))
        held_out = be.vmap(lambda prm, xt, y: per_example(problem, be, problem.predict(be, net, prm, y), xt, y))
        return grads, metrics, held_out, seeds_realize(problem, be)
    grads = seed_axis.seeds_gradients(problem, be, net, solver)
    metrics = seed_axis.joined(be, lambda x, xt, y, loss: per_example(problem, be, x, xt, y, loss))
    per = seed_axis.joined(be, lambda x, xt, y: per_example(problem, be, x, xt, y))

    def evaluate(prm, xt, y):
        return per(seed_axis.seeds_predict(problem, be, net, prm, y), xt, y)

    return grads, metrics, evaluate, seeds_realize(problem, be)


def seeds_realize(problem, be):
    """The problem's :meth:`~pgbench.problems.base.Problem.realize` on S seeds' draws (arrays with
    a leading seed axis): ``be.vmap`` on jax, the seeds' draws joined into one batch on torch."""
    one = lambda *d: problem.realize(be, *d)  # noqa: E731
    return be.vmap(one) if be.name == "jax" else seed_axis.joined(be, one)


class SeedsProgram(Program):
    """The device side of S training plans that differ in their seed only (module doc): the
    parameters and every batch carry a leading seed axis; an advance does up to ``read_every``
    iterations (one ``lax.scan`` on jax) and reads the metrics back once."""

    evaluates = True
    one_step: Callable[..., Any]  # (params, state, *inputs) -> (params, state, per): one iteration
    chunk: Callable[..., Any] | None  # the same over a leading iteration axis of inputs (jax only)
    evaluate_seeds: Callable[..., Any]  # (params, test_x, test_y) -> per-example held-out metrics

    def __init__(self, plans: list[RunPlan], read_every: int = 1):
        self.validate(plans, read_every)
        self.plans, self.read_every = plans, int(read_every)
        p = plans[0]
        problem, solver, be = p.problem, p.solver, p.backend
        self.problem, self.solver, self.be = problem, solver, be
        self.net = problem.network()
        self.opt = lanes.optimizer(plans, be)  # the scheme's own, or per-lane settings
        tests = [problem.sample(keys.rng(q.seed, "test"), problem.test_size, be) for q in plans]
        for x, y in tests:  # shapes only: a problem that breaks sample()'s contract fails here
            check_sample(problem, problem.test_size, x, y)
        self.test_x = stack(be, [t[0] for t in tests])
        self.test_y = stack(be, [t[1] for t in tests])
        #: split sampling: the host draws every seed's random numbers (numpy) and the step turns them
        #: into (x_true, y_target) inside the compiled program; else the host samples every seed
        self.split = problem.splits_sampling
        grads, metrics, evaluate, realize = seed_functions(problem, solver, be, self.net)
        opt = self.opt
        if be.name != "jax":  # torch: compiled with PGBENCH_TORCH_COMPILE_STEP (jax jits the whole step below)
            grads, metrics = be.jit(grads), be.jit(metrics)
        prepare = realize if self.split else (lambda xt, y: (xt, y))

        def step(params, state, *inputs):
            xt, y = prepare(*inputs)
            g, x, loss = grads(params, y, xt)
            params, state = opt.update(params, g, state)
            return params, state, metrics(be.stop_gradient(x), xt, y, be.stop_gradient(loss))

        if be.name == "jax":
            import jax

            def chunk(params, state, *inputs):
                def body(carry, batch):
                    prm, st, per = step(*carry, *batch)
                    return (prm, st), per

                (params, state), per = jax.lax.scan(body, (params, state), inputs)
                return params, state, per

            self.one_step, self.chunk = jax.jit(step), jax.jit(chunk)
            self.evaluate_seeds = jax.jit(evaluate)
        else:
            import torch

            def evaluate_nograd(prm, xt, y):
                with torch.no_grad():
                    return evaluate(prm, xt, y)

            self.one_step, self.chunk, self.evaluate_seeds = step, None, evaluate_nograd

    @staticmethod
    def validate(plans: list[RunPlan], read_every: int) -> None:
        """Raise (before any work) unless ``plans`` can run vectorised (:func:`check`) and
        ``read_every`` is an integer >= 1."""
        check(plans)
        if isinstance(read_every, bool) or not isinstance(read_every, (int, np.integer)) or read_every < 1:
            raise InvalidSettingError(f"read_every must be an integer >= 1, got {read_every!r}")

    # --- the program ----------------------------------------------------------------------------
    def init(self, clock):
        with clock.excluded():
            params = _stack_tree(self.be, [self.net.init(keys.rng(q.seed, "net"), self.be) for q in self.plans])
            return params, self.opt.init(params)

    def advance(self, state, end, ahead):
        it = state.iteration
        batches = state.carry if state.carry is not None else self.batches(range(it, end))
        if self.chunk is not None and end - it > 1:
            (inputs,) = self.device_inputs(batches, stacked=True)
            state.iterate, state.solver_state, per = self.chunk(state.iterate, state.solver_state, *inputs)
            out = (True, per)
        else:
            pers = []
            for inputs in self.device_inputs(batches, stacked=False):
                state.iterate, state.solver_state, per = self.one_step(state.iterate, state.solver_state, *inputs)
                pers.append(per)
            out = (False, pers)
        # the next chunk's host draws while the device works (jax dispatches asynchronously)
        state.carry = self.batches(range(end, ahead)) if ahead is not None else None
        return out

    def read(self, state, out):
        chunked, per = out
        if chunked:
            values = host(self.be, per)  # (k, S, B)
        else:
            values = {key: np.stack([self.be.to_numpy(q[key]) for q in per]) for key in per[0]}
        k = len(next(iter(values.values())))
        return values, [{}] * k

    def evaluate(self, state):
        return host(self.be, self.evaluate_seeds(state.iterate, self.test_x, self.test_y))  # (S, B)

    def final(self, iterate, lane):
        return {key: v[lane] for key, v in iterate.items()}

    def meta(self):
        info = {
            "seeds": [q.seed for q in self.plans],
            "read_every": self.read_every,
            "wall_time": (
                "seconds since the start of the one program that trains all these seeds (evaluation "
                "excluded)"
                + (
                    f"; measured once per chunk of up to {self.read_every} iterations and split evenly over its rows"
                    if self.read_every > 1
                    else ""
                )
            ),
        }
        if lanes.differing(self.plans):  # the hyperparameter axis: each lane's own settings
            info["settings"] = lanes.lane_settings(self.plans)
        return {"vectorized_with": info}

    # --- the seeds' batches ---------------------------------------------------------------------
    def inputs(self, it: int) -> tuple:
        """The step's inputs for the ``it``-th batch (0-based) of every seed (:meth:`batches`)."""
        return self.batches(range(it, it + 1))[0]

    def batches(self, iterations: range) -> list[tuple]:
        """The step's inputs for the given batches (0-based) of every lane, one tuple per batch,
        stacked on the lane axis: the seeds' host draws as numpy arrays (:meth:`Problem.draw`,
        split sampling) or their sampled ``(x_true, y_target)`` as backend arrays. Each seed draws
        from its own stream ``keys.rng(seed, "train", it)``, exactly as a separate run; lanes of
        one seed (a hyperparameter axis) share its one draw; the streams of the whole chunk are
        seeded together (:func:`pgbench.keys.rngs`)."""
        pr, n = self.problem, self.problem.batch_size
        lane_seeds = [q.seed for q in self.plans]
        seeds = list(dict.fromkeys(lane_seeds))
        gens = keys.rngs([(seed, it) for it in iterations for seed in seeds], "train")
        out = []
        for j in range(len(iterations)):
            chunk = dict(zip(seeds, gens[j * len(seeds) : (j + 1) * len(seeds)], strict=True))
            if self.split:
                drawn = {seed: pr.draw(g, n) for seed, g in chunk.items()}
                out.append(tuple(np.stack(col) for col in zip(*(drawn[q] for q in lane_seeds), strict=True)))
            else:
                sampled = {seed: pr.sample(g, n, self.be) for seed, g in chunk.items()}
                out.append(tuple(stack(self.be, col) for col in zip(*(sampled[q] for q in lane_seeds), strict=True)))
        return out

    def device_inputs(self, batches: list[tuple], stacked: bool) -> list[tuple]:
        """``batches`` (from :meth:`inputs`) as backend arrays; ``stacked``: one tuple with a
        leading iteration axis (one host-to-device copy per input for a whole chunk)."""
        be = self.be
        if stacked:
            if self.split:
                return [tuple(be.asarray(np.stack(col)) for col in zip(*batches, strict=True))]
            return [tuple(stack(be, col) for col in zip(*batches, strict=True))]
        if self.split:
            return [tuple(be.asarray(a) for a in b) for b in batches]
        return batches


class VectorRun(Run):
    """S training plans that differ in their seed only, as one :class:`~pgbench.runner.Run` whose
    program is :class:`SeedsProgram` (module doc); refuses bad input (:func:`check`) before any
    work."""

    def __init__(self, plans: list[RunPlan], read_every: int = 1):
        super().__init__(plans, SeedsProgram(plans, read_every))


def run_vectorized(plans: list[RunPlan], read_every: int = 1, callback=None, throw: bool = False) -> list[RunResult]:
    """Train ``plans`` (one configuration, several seeds) as one program in the runner's loop
    (:func:`pgbench.runner.execute_runs`); ``callback`` gets every row as a
    :class:`~pgbench.runner.Progress` whose ``lane`` is the plan's index. An exception makes every
    run ``failed`` (or is re-raised with ``throw``); bad input raises before any work."""
    SeedsProgram.validate(plans, read_every)
    return execute_runs(lambda: VectorRun(plans, read_every), plans, callback, throw)


__all__ = [
    "VectorRun",
    "SeedsProgram",
    "seed_functions",
    "seeds_realize",
    "run_vectorized",
    "check",
    "why_not",
    "NotVectorizable",
    "ELEMENTWISE",
]
