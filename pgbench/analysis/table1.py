"""Table 1 of the paper (§3.4, P:L401-408): time to reach equal x error on the Navier-Stokes
problem, for the network trained with physical gradients (training time and inference time per
example), the iterated domain-specific solver (the reverse-simulation estimator, ``inverse-v0``)
and gradient descent (``gd-v0``), computed from stored runs.

:func:`table1` is a pure function of a results frame as returned by :func:`pgbench.load_results`
(columns ``run_key, problem, solver, kind, status, iteration, wall_time, x_error, eval_x_error,
problem_settings, hp_* ...``). Inference time is not part of a training run's records; pass it in
(the examples stored with each training run record it) or the column stays empty.

Definitions (paper: "time divided by the batch size"):

* target x error: under a named policy (:mod:`pgbench.analysis.targets`), by default
  ``median-reference`` with the PG-trained network as reference (the median final held-out
  error of its runs), or any other policy (a number: ``given``);
* network rows: training time = ``wall_time`` of the first evaluation with ``eval_x_error <=
  target`` (evaluation time is excluded from ``wall_time`` by the runner), with its iteration;
* iterative rows: time per example = ``wall_time`` of the first iteration with ``x_error <=
  target``, divided by the number of examples solved together (``test_size``); a run that never
  reaches the target reports its total time as a lower bound (``reached = False``, "> t").
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ..record import RunRecord
from .measures import iterations_done, seconds_per_iteration
from .summary import per_run, summarize
from .targets import TargetPolicy, as_policy, resolve_one

PROBLEM = "navier-stokes-v0"

# method label -> (solver id, kind, predicate on the run's hyperparameters)
METHODS = {
    "NN + PG": ("pg-v0", "training"),
    "NN + Adam (DP)": ("dp-v0", "training"),
    "domain-specific solver": ("inverse-v0", "iterative"),
    "GD": ("gd-v0", "iterative"),
}
COLUMNS = [
    "method",
    "runs",
    "reached",
    "target_x_error",
    "target_source",
    "iterations",
    "training_time_s",
    "time_per_example_s",
    "inference_time_per_example_s",
    "x_error_at_end",
]


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


def default_policy(df: pd.DataFrame, problem: str = PROBLEM) -> TargetPolicy:
    """``median-reference`` with the estimator-PG training runs as the reference (their label)."""
    pg = per_run(_select(df, problem, "NN + PG"))
    if pg.empty:
        raise ValueError(f"no finished PG training run of {problem} with held-out errors; pass a target policy")
    return TargetPolicy("median-reference", reference=str(pg["label"].iloc[0]))


def target(df: pd.DataFrame, policy=None, problem: str = PROBLEM):
    """The :class:`~pgbench.analysis.targets.Target` of Table 1 under ``policy``, resolved from the
    problem's training runs; None: :func:`default_policy`, resolved from the estimator-PG runs only
    (a PG run with another inner solver may share their label)."""
    if policy is None:
        policy, training = default_policy(df, problem), _select(df, problem, "NN + PG")
    else:
        policy, training = as_policy(policy), df[(df["problem"] == problem) & (df["kind"] == "training")]
    t = resolve_one(problem, per_run(training), policy, "training")
    if not math.isfinite(t.value):
        raise ValueError(f"no target for {problem} under {policy}: {t.source}")
    return t


def default_target(df: pd.DataFrame, problem: str = PROBLEM) -> float:
    """Final held-out x error of the PG-trained network (median over its runs)."""
    return target(df, None, problem).value


def _select(df: pd.DataFrame, problem: str, method: str) -> pd.DataFrame:
    solver, kind = METHODS[method]
    sel = df[(df["problem"] == problem) & (df["solver"] == solver) & (df["kind"] == kind) & (df["status"] == "ok")]
    if method == "NN + PG" and len(sel):
        keep = [k for k, g in sel.groupby("run_key") if _is_estimator_pg(g)]
        sel = sel[sel["run_key"].isin(keep)]
    if "max_time" in sel and sel["max_time"].isna().any():
        sel = sel[sel["max_time"].isna()]  # wall-clock-capped timing runs only where nothing else is stored
    return sel.sort_values(["run_key", "iteration"], kind="stable")


def table1_runs(df: pd.DataFrame, policy=None, problem: str = PROBLEM) -> pd.DataFrame:
    """One row per stored run: whether and when it reached the target x error. ``policy``: a
    target policy, a number (``given``) or None (:func:`default_policy`)."""
    t = target(df, policy, problem)
    rows = []
    for method, (_, kind) in METHODS.items():
        for key, g in _select(df, problem, method).groupby("run_key", sort=True):
            training = kind == "training"
            if training and ("eval_x_error" not in g or not g["eval_x_error"].notna().any()):
                continue
            s = summarize(RunRecord.from_frame(g), t)  # at the target, else at the run's end ("> t")
            reached = bool(math.isfinite(s.time_to_target))
            it = int(s.iterations_to_target if reached else s.iterations)
            sec, end = (s.time_to_target if reached else s.wall_time), s.x_error
            rows.append(
                {
                    "method": method,
                    "run_key": key,
                    "reached": reached,
                    "iterations": it,
                    "training_time_s": sec if training else np.nan,  # the network's training time
                    "time_per_example_s": np.nan if training else sec / _examples(g),  # solved together
                    "x_error_at_end": end,
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "method",
            "run_key",
            "reached",
            "iterations",
            "training_time_s",
            "time_per_example_s",
            "x_error_at_end",
        ],
    )
    out.insert(3, "target_x_error", t.value)
    out.insert(4, "target_source", t.source)
    return out


def table1(
    df: pd.DataFrame, policy=None, inference_time: dict | float | None = None, problem: str = PROBLEM
) -> pd.DataFrame:
    """Table 1: one row per method present in ``df`` (means over its runs; ``reached`` only if every
    run reached the target). ``inference_time``: seconds per example of the network forward pass,
    a float for ``NN + PG`` or a dict keyed by method."""
    runs = table1_runs(df, policy, problem)
    if isinstance(inference_time, (int, float)):
        inference_time = {"NN + PG": float(inference_time)}
    inference_time = inference_time or {}
    rows = []
    for method in METHODS:
        g = runs[runs["method"] == method]
        if g.empty:
            continue
        rows.append(
            {
                "method": method,
                "runs": len(g),
                "reached": bool(g["reached"].all()),
                "target_x_error": float(g["target_x_error"].iloc[0]),
                "target_source": str(g["target_source"].iloc[0]),
                "iterations": float(g["iterations"].mean()),
                "training_time_s": float(g["training_time_s"].mean()),
                "time_per_example_s": float(g["time_per_example_s"].mean()),
                "inference_time_per_example_s": inference_time.get(method, np.nan),
                "x_error_at_end": float(g["x_error_at_end"].mean()),
            }
        )
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
            rows.append(
                {
                    "method": method,
                    "run_key": key,
                    "examples": n,
                    "iterations_done": done,
                    "k": k,
                    "time_at_k_per_example_s": float(at.iloc[0]) / n if len(at) else np.nan,
                    "seconds_per_iteration_per_example": seconds_per_iteration(g) / n,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "method",
            "run_key",
            "examples",
            "iterations_done",
            "k",
            "time_at_k_per_example_s",
            "seconds_per_iteration_per_example",
        ],
    )
