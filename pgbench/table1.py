"""Table 1 of the paper (§3.4, P:L401-408): time to reach equal x error on the Navier-Stokes
problem, for the network trained with physical gradients (training time and inference time per
example), the iterated domain-specific solver (the reverse-simulation estimator, ``inverse-v0``)
and gradient descent (``gd-v0``), computed from stored runs.

:func:`table1` is a pure function of a results frame as returned by :func:`pgbench.load_results`
(columns ``run_key, problem, solver, kind, status, iteration, wall_time, x_error, eval_x_error,
problem_settings, hp_* ...``). Inference time is not part of a training run's records; pass it in
(:func:`measure_inference_time` measures it) or the column stays empty.

Definitions (paper: "time divided by the batch size"):

* target x error: given, or the final held-out error ``eval_x_error`` of the PG-trained network;
* network rows: training time = ``wall_time`` of the first evaluation with ``eval_x_error <=
  target`` (evaluation time is excluded from ``wall_time`` by the runner), with its iteration;
* iterative rows: time per example = ``wall_time`` of the first iteration with ``x_error <=
  target``, divided by the number of examples solved together (``test_size``); a run that never
  reaches the target reports its total time as a lower bound (``reached = False``, "> t").
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd

from .measures import final_value, first_reaching, iterations_done

PROBLEM = "navier-stokes-v0"

# method label -> (solver id, kind, predicate on the run's hyperparameters)
METHODS = {
    "NN + PG": ("pg-v0", "training"),
    "NN + Adam (DP)": ("dp-v0", "training"),
    "domain-specific solver": ("inverse-v0", "iterative"),
    "GD": ("gd-v0", "iterative"),
}
COLUMNS = ["method", "runs", "reached", "target_x_error", "iterations", "training_time_s",
           "time_per_example_s", "inference_time_per_example_s", "x_error_at_end"]


def _examples(group: pd.DataFrame) -> int:
    """Examples solved together in an iterative run (the held-out batch, ``test_size``)."""
    if "problem_settings" in group and group["problem_settings"].notna().any():
        settings = json.loads(group["problem_settings"].dropna().iloc[0])
        return int(settings.get("test_size", 1))
    return 1


def _is_estimator_pg(group: pd.DataFrame) -> bool:
    """A PG run whose inner solver is the problem's own inverse (the estimator), not L-BFGS-B etc."""
    if "hp_inner" not in group:
        return True
    inner = group["hp_inner"].dropna()
    return inner.empty or str(inner.iloc[0]) in ("None", "inverse", "null", "")


def _first_reach(run: pd.DataFrame, target: float):
    """``(reached, iterations, wall time, final x error)``: at the first record at or below the
    target, else at the end of the run (:mod:`pgbench.measures`)."""
    it, t = first_reaching(run, target)
    end = final_value(run, "x_error")
    if math.isfinite(it):
        return True, int(it), t, end
    return False, int(iterations_done(run)), float(run["wall_time"].max()), end


def default_target(df: pd.DataFrame, problem: str = PROBLEM) -> float:
    """Final held-out x error of the PG-trained network (median over its runs)."""
    pg = _select(df, problem, "NN + PG")
    finals = [final_value(g, "x_error") for _, g in pg.groupby("run_key")]
    finals = [v for v in finals if math.isfinite(v)]
    if not finals:
        raise ValueError(f"no finished PG training run of {problem} with held-out errors; pass target=")
    return float(np.median(finals))


def _select(df: pd.DataFrame, problem: str, method: str) -> pd.DataFrame:
    solver, kind = METHODS[method]
    sel = df[(df["problem"] == problem) & (df["solver"] == solver) & (df["kind"] == kind)
             & (df["status"] == "ok")]
    if method == "NN + PG" and len(sel):
        keep = [k for k, g in sel.groupby("run_key") if _is_estimator_pg(g)]
        sel = sel[sel["run_key"].isin(keep)]
    if "max_time" in sel and sel["max_time"].isna().any():
        sel = sel[sel["max_time"].isna()]   # wall-clock-capped timing runs only where nothing else is stored
    return sel.sort_values(["run_key", "iteration"], kind="stable")


def table1_runs(df: pd.DataFrame, target: float | None = None, problem: str = PROBLEM) -> pd.DataFrame:
    """One row per stored run: whether and when it reached the target x error."""
    target = default_target(df, problem) if target is None else float(target)
    rows = []
    for method, (_, kind) in METHODS.items():
        for key, g in _select(df, problem, method).groupby("run_key", sort=True):
            if kind == "training":
                if "eval_x_error" not in g or not g["eval_x_error"].notna().any():
                    continue
                reached, it, t, end = _first_reach(g, target)
                rows.append({"method": method, "run_key": key, "reached": reached, "iterations": it,
                             "training_time_s": t, "time_per_example_s": np.nan, "x_error_at_end": end})
            else:
                reached, it, t, end = _first_reach(g, target)
                rows.append({"method": method, "run_key": key, "reached": reached, "iterations": it,
                             "training_time_s": np.nan, "time_per_example_s": t / _examples(g),
                             "x_error_at_end": end})
    out = pd.DataFrame(rows, columns=["method", "run_key", "reached", "iterations", "training_time_s",
                                      "time_per_example_s", "x_error_at_end"])
    out.insert(3, "target_x_error", target)
    return out


def table1(df: pd.DataFrame, target: float | None = None, inference_time: dict | float | None = None,
           problem: str = PROBLEM) -> pd.DataFrame:
    """Table 1: one row per method present in ``df`` (means over its runs; ``reached`` only if every
    run reached the target). ``inference_time``: seconds per example of the network forward pass,
    a float for ``NN + PG`` or a dict keyed by method."""
    runs = table1_runs(df, target, problem)
    if isinstance(inference_time, (int, float)):
        inference_time = {"NN + PG": float(inference_time)}
    inference_time = inference_time or {}
    rows = []
    for method in METHODS:
        g = runs[runs["method"] == method]
        if g.empty:
            continue
        rows.append({"method": method, "runs": len(g), "reached": bool(g["reached"].all()),
                     "target_x_error": float(g["target_x_error"].iloc[0]),
                     "iterations": float(g["iterations"].mean()),
                     "training_time_s": float(g["training_time_s"].mean()),
                     "time_per_example_s": float(g["time_per_example_s"].mean()),
                     "inference_time_per_example_s": inference_time.get(method, np.nan),
                     "x_error_at_end": float(g["x_error_at_end"].mean())})
    return pd.DataFrame(rows, columns=COLUMNS)


#: Iterations the paper's Table 1 gives the iterative methods (P:L401-403): the estimator 7, GD 20k.
PAPER_ITERATIONS = {"domain-specific solver": 7, "GD": 20000}


def iteration_costs(df: pd.DataFrame, iterations: dict | None = None, problem: str = PROBLEM) -> pd.DataFrame:
    """The iterative rows' time per example at a fixed iteration count, with no target: for each
    stored run, ``wall_time`` at iteration k (``iterations[method]``, the paper's by default)
    divided by the examples solved together, and the mean seconds per iteration per example
    (``wall_time`` at the last iteration / iterations / examples). ``time_at_k_per_example_s`` is NaN
    where the run stopped before k (no extrapolation). One row per run."""
    iterations = PAPER_ITERATIONS if iterations is None else iterations
    rows = []
    for method, k in iterations.items():
        for key, g in _select(df, problem, method).groupby("run_key", sort=True):
            n, done = _examples(g), int(iterations_done(g))
            at = g.loc[g["iteration"] == k, "wall_time"]
            rows.append({"method": method, "run_key": key, "examples": n, "iterations_done": done, "k": k,
                         "time_at_k_per_example_s": float(at.iloc[0]) / n if len(at) else np.nan,
                         "seconds_per_iteration_per_example": float(g["wall_time"].max()) / max(done, 1) / n})
    return pd.DataFrame(rows, columns=["method", "run_key", "examples", "iterations_done", "k",
                                       "time_at_k_per_example_s", "seconds_per_iteration_per_example"])


def format_table1(table: pd.DataFrame) -> str:
    """Plain-text rendering in the paper's layout ("> t" where the target was not reached)."""
    def fmt(t):
        if not np.isfinite(t):
            return "—"
        if t >= 3600:
            return f"{t / 3600:.2f} h"
        if t >= 60:
            return f"{t / 60:.1f} min"
        return f"{t:.3g} s" if t >= 1e-2 else f"{t * 1e3:.3g} ms"

    lines = [f"target x error {table['target_x_error'].iloc[0]:.4g}" if len(table) else "no runs",
             f"{'method':<24}{'training time':>24}{'time / example':>20}{'inference / example':>22}"]
    for _, r in table.iterrows():
        gt = "" if r["reached"] else "> "
        train = f"{gt}{fmt(r['training_time_s'])} ({r['iterations']:.0f} it)" if np.isfinite(r["training_time_s"]) else "—"
        per = f"{gt}{fmt(r['time_per_example_s'])} ({r['iterations']:.0f} it)" if np.isfinite(r["time_per_example_s"]) else "—"
        lines.append(f"{r['method']:<24}{train:>24}{per:>20}{fmt(r['inference_time_per_example_s']):>22}")
    return "\n".join(lines)


def measure_inference_time(problem=PROBLEM, scale: str = "paper", backend: str = "torch", device: str = "cpu",
                           batch: int | None = None, repeats: int = 10, seed: int = 0) -> float:
    """Seconds per example of one network forward pass on a batch (after one warm-up call,
    device synchronised), the paper's "inference time per example"."""
    from . import keys
    from .backends import get_backend
    from .registry import make_problem

    p = make_problem(problem, scale=scale) if isinstance(problem, str) else problem
    be = get_backend(backend, device)
    batch = batch or p.batch_size
    net = p.network()
    params = net.init(keys.rng(seed, "net"), be)
    y = be.zeros((batch,) + tuple(p.y_shape), "float32")
    f = be.jit(lambda prm, yy: p.predict(be, net, prm, yy))
    be.block_until_ready(f(params, y))
    t = time.perf_counter()
    for _ in range(repeats):
        out = f(params, y)
    be.block_until_ready(out)
    return (time.perf_counter() - t) / repeats / batch
