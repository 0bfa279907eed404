"""Example predictions of a finished run (:func:`collect_examples`), made by the run's finish
(:meth:`pgbench.runner.Run.finish`) in the process that ran it, from ``RunResult.final`` (the
final x of an iterative solver, the network parameters of a training run) on the run's fixed
held-out batch. They travel with the result (``RunResult.examples``); :func:`pgbench.store.save`
writes them next to the run as ``<run_key>.examples.npz``, so they follow it through
:func:`pgbench.store.merge` and resumed sweeps; the report only reads these files
(:mod:`pgbench.report.examples`). Collecting does not run an experiment: it evaluates the final
outcome once.

Contents (first ``n`` held-out examples): ``x_true``, ``y_target``, ``x_pred`` and, where the
problem has one, ``y_pred``: what x_pred produces (:meth:`~pgbench.problems.base.Problem.observable`,
P(x) or a control problem's final state); ``meta``: run_key, problem, solver, label, kind, seed,
machine, device_name, backend, scale and, for training runs, ``inference_seconds_per_example``: the
network's forward pass on the held-out batch (after one warm-up call, device synchronised, mean of
3) divided by the batch size (Table 1's "inference time per example").
"""

from __future__ import annotations

import time

import numpy as np

from . import keys, store
from .problems.base import per_backend

INFERENCE_REPEATS = 3
SCALAR_EXAMPLES = 256  # problems whose x has <= 2 numbers: enough points for a scatter plot
FIELD_EXAMPLES = 4  # everything else


def _predict(problem, be):
    """The problem's network prediction ``(params, y) -> x``, compiled (once per problem and
    backend: the seeds of a vectorised run and the runs of a sweep share it)."""
    net = problem.network()
    return be.jit(lambda prm, yy: problem.predict(be, net, prm, yy))


def collect_examples(plan, result, n: int | None = None) -> dict | None:
    """The held-out examples of a finished run (``plan``: its :class:`~pgbench.planning.RunPlan`) as
    ``{"meta": dict, name: array}`` (None for a failed run or one without a final outcome)."""
    if result.final is None or result.status == "failed":
        return None
    problem, be = plan.problem, plan.backend
    x_true, y_target = problem.sample(keys.rng(plan.seed, "test"), problem.test_size, be)
    inference = None
    if result.meta["kind"] == "training":
        predict = per_backend(be, ("examples-predict", problem), lambda: _predict(problem, be))
        x_pred = predict(result.final, y_target)  # whole batch (batch-statistics BN); also the warm-up
        be.block_until_ready(x_pred)
        t0 = time.perf_counter()
        for _ in range(INFERENCE_REPEATS):
            out = predict(result.final, y_target)
        be.block_until_ready(out)
        inference = (time.perf_counter() - t0) / INFERENCE_REPEATS / problem.test_size
    else:
        x_pred = result.final
    size = int(np.prod(problem.x_shape))
    n = n or (SCALAR_EXAMPLES if size <= 2 else FIELD_EXAMPLES)
    arrays = {
        "x_true": be.to_numpy(x_true)[:n],
        "y_target": be.to_numpy(y_target)[:n],
        "x_pred": be.to_numpy(x_pred)[:n],
    }
    try:
        arrays["y_pred"] = be.to_numpy(problem.observable(be, x_pred, y_target))[:n]
    except Exception:  # nothing to set beside y* (e.g. sin(a/x), whose observation is a)
        pass
    meta = {
        k: result.meta.get(k)
        for k in ("problem", "solver", "label", "kind", "seed", "machine", "device_name", "backend", "scale")
    }
    meta["run_key"] = result.run_key or store.run_key(result.meta)
    meta["inference_seconds_per_example"] = inference
    return {"meta": meta, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}}


__all__ = ["collect_examples"]
