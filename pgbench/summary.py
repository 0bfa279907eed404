"""Summary tables over stored runs: a pure function of the :func:`pgbench.load_results` frame.

:func:`per_run` reduces every run (``run_key``) to one row; :func:`summarize` reduces the runs of
one configuration to per-seed statistics. A configuration is problem × scale × solver × label ×
backend × device name, plus ``config`` (:func:`pgbench.measures.config_hash`: problem settings,
hyperparameters, budget, numerics), so runs with different settings under one label are never
mixed. Every number comes from :mod:`pgbench.measures`.

Per run:

======================  ==================================================================================
``x_error``             final x-space error (:func:`~pgbench.measures.final_value`): the last held-out
                        ``eval_x_error`` of a training run, the last ``x_error`` of an iterative run
``train_x_error``       training runs: the last training-batch ``x_error`` (NaN for iterative runs)
``loss``                final y-space loss, same convention (``eval_loss`` / ``loss``)
``train_loss``          training runs: the last training-batch ``loss``
``nonfinite``           fraction of examples that are not finite in the last row (held-out for training)
``iterations``          update steps done (the last recorded iteration)
``wall_time``           seconds at the last record
``target``              the x-error target stored with the run (else the problem's ``target_x_error``
                        or the one given)
``iterations_to_target``  first iteration whose final-metric x error is <= target
``time_to_target``      wall time there; both NaN if the target was never reached
``time_per_iteration``  median seconds per update step
``status`` / ``message``  as stored, except that a run stored ``ok`` whose curve meets the divergence
                        rule (:mod:`pgbench.divergence`; stores written before the rule) is ``diverged``
======================  ==================================================================================

:func:`summarize` gives ``seeds`` (runs), ``ok`` / ``diverged`` / ``failed`` counts and, over the
``ok`` seeds only, the **median** of each final metric with ``x_error_lo`` / ``x_error_hi`` (min and
max over those seeds): a diverged seed never enters a median; it shows in ``diverged``.
``reached`` counts seeds (ok or diverged) that reached the target; ``iterations_to_target`` and
``time_to_target`` are medians over those; ``time_per_iteration`` the median over ok and diverged runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import measures
from .divergence import classify

GROUP = ["problem", "scale", "solver", "label", "backend", "device_name"]
METRICS = ["x_error", "x_error_lo", "x_error_hi", "train_x_error", "loss", "train_loss", "nonfinite", "iterations", "wall_time",
           "target", "reached", "iterations_to_target", "time_to_target", "time_per_iteration"]


def problem_target(problem: str) -> float | None:
    """The registered problem's ``target_x_error`` (None if it has none or is not registered here)."""
    from .registry import PROBLEMS
    try:
        value = PROBLEMS.resolve(problem).load().target_x_error
    except Exception:
        return None
    return None if value is None else float(value)


def _target_for(problem: str, target, run: pd.DataFrame | None = None) -> float:
    """``target`` given (a number or ``{problem: number}``) wins; else the run's stored target;
    else the registered problem's."""
    if isinstance(target, dict):
        name = problem.rsplit("-v", 1)[0]
        value = target.get(problem, target.get(name))
    elif target is not None:
        value = target
    else:
        value = measures.target_of(run) if run is not None else math.nan
        if math.isnan(value):
            value = problem_target(problem)
    return math.nan if value is None else float(value)


def _run_metrics(g: pd.DataFrame, target: float) -> dict:
    training = measures.is_training(g)
    it, t = measures.first_reaching(g, target)
    return {
        "x_error": measures.final_value(g, "x_error"),
        "train_x_error": _last(g["x_error"]) if training and "x_error" in g else math.nan,
        "loss": measures.final_value(g, "loss"),
        "train_loss": _last(g["loss"]) if training and "loss" in g else math.nan,
        "nonfinite": measures.final_value(g, "nonfinite"),
        "iterations": measures.iterations_done(g),
        "wall_time": _last(g["wall_time"]) if "wall_time" in g else math.nan,
        "target": target, "iterations_to_target": it, "time_to_target": t,
        "time_per_iteration": measures.seconds_per_iteration(g),
    }


def _last(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return float(v[-1]) if len(v) else math.nan


def run_status(g: pd.DataFrame) -> tuple[str, str]:
    """The run's status and message, with the divergence rule applied to runs stored ``ok``."""
    status = str(g["status"].iloc[0]) if "status" in g and len(g) else "failed"
    message = g["message"].iloc[0] if "message" in g and len(g) else ""
    message = "" if message is None or (isinstance(message, float) and math.isnan(message)) else str(message)
    if status == "ok":
        why = classify(g)
        if why:
            return "diverged", why
    return status, message


def per_run(df: pd.DataFrame, target=None) -> pd.DataFrame:
    """One row per stored run: its identity (``run_key``, the :data:`GROUP` columns, ``config``,
    ``seed``, ``kind``, ``status``, ``message``, ``x_error_name``) and the metrics described above.
    ``target``: None (each run's stored target, else its problem's), a number, or ``{problem: number}``."""
    cols = ["run_key", *GROUP, "config", "seed", "kind", "status", "message", "x_error_name",
            *[m for m in METRICS if m not in ("x_error_lo", "x_error_hi", "reached")]]
    if df is None or df.empty:
        return pd.DataFrame(columns=cols)
    if "iteration" in df:  # the same run found under two roots counts once
        df = df.drop_duplicates(subset=["run_key", "iteration"], keep="first")
    rows = []
    for key, g in df.groupby("run_key", sort=False):
        first = g.iloc[0]
        status, message = run_status(g)
        row = {"run_key": key, **{c: first.get(c) for c in GROUP}, "config": measures.config_hash(first),
               "seed": first.get("seed"), "kind": first.get("kind"), "status": status, "message": message,
               "x_error_name": first.get("x_error_name")}
        row.update(_run_metrics(g, _target_for(str(first["problem"]), target, g)))
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _median(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else math.nan


def summarize(df: pd.DataFrame, target=None) -> pd.DataFrame:
    """Per configuration (:data:`GROUP` + ``config``): per-seed medians and spread of the per-run
    metrics, run counts by status and ``reached``. Sorted by problem, solver, label."""
    runs = per_run(df, target)
    cols = [*GROUP, "config", "kind", "x_error_name", "seeds", "ok", "diverged", "failed", *METRICS]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for keys, g in runs.groupby([*GROUP, "config"], sort=True, dropna=False):
        usable = g[g["status"] != "failed"]
        ok = g[g["status"] == "ok"]
        row = dict(zip([*GROUP, "config"], keys))
        row.update(kind=g["kind"].iloc[0], x_error_name=g["x_error_name"].iloc[0], seeds=len(g),
                   ok=len(ok), diverged=int((g["status"] == "diverged").sum()),
                   failed=int((g["status"] == "failed").sum()))
        for m in ("x_error", "train_x_error", "loss", "train_loss", "nonfinite", "iterations", "wall_time"):
            row[m] = _median(ok[m])
        stats = measures.seed_stats(ok["x_error"], n=len(ok))
        row["x_error_lo"], row["x_error_hi"] = stats.lo, stats.hi
        reached = usable[usable["iterations_to_target"].notna()]
        row["target"] = float(g["target"].iloc[0])
        row["reached"] = len(reached)
        row["iterations_to_target"] = _median(reached["iterations_to_target"])
        row["time_to_target"] = _median(reached["time_to_target"])
        row["time_per_iteration"] = _median(usable["time_per_iteration"])
        out.append(row)
    return pd.DataFrame(out, columns=cols).reset_index(drop=True)


__all__ = ["summarize", "per_run", "run_status", "problem_target", "GROUP", "METRICS"]
