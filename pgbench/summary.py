"""Summary tables over stored runs: a pure function of the :func:`pgbench.load_results` frame.

:func:`per_run` reduces every run (``run_key``) to one row; :func:`summarize` averages the runs
of one configuration over seeds. A configuration is problem × scale × solver × label × backend ×
device name, plus ``config``: a short hash of the problem settings, hyperparameters, budget and
numerics (library versions, torch threads: see :func:`pgbench.backends.numerics`), so that runs
whose settings differ under one label are never averaged together.

Per run:

======================  ==================================================================================
``x_error``             final x-space error: the last ``eval_x_error`` (held-out batch) of a training run,
                        the last ``x_error`` of an iterative run (which solves that same held-out batch)
``train_x_error``       training runs: the last training-batch ``x_error`` (NaN for iterative runs)
``loss``                final y-space loss, same convention as ``x_error`` (``eval_loss`` / ``loss``)
``train_loss``          training runs: the last training-batch ``loss``
``nonfinite``           fraction of examples that are not finite in the last row (held-out for training)
``iterations``          update steps done (iterative: the last iteration; training: last iteration + 1)
``wall_time``           seconds at the last record
``target``              the x-error target (the problem's ``target_x_error`` unless given)
``iterations_to_target``  steps until the held-out x error first is <= target (training runs are only
                        evaluated every ``eval_every`` steps, so this is resolved to that cadence)
``time_to_target``      wall time at that record; both NaN if the target was never reached
``time_per_iteration``  median seconds per update step
======================  ==================================================================================

:func:`summarize` reports ``seeds`` (number of runs), ``ok`` / ``diverged`` / ``failed`` counts, the
means of the final metrics over the ``ok`` runs (``x_error_std``: their spread over seeds; a diverged
run has no meaningful final value, it shows in ``diverged``), ``reached`` (runs, ok or diverged, that
reached the target; ``iterations_to_target`` and ``time_to_target`` average those) and
``time_per_iteration`` (mean over ok and diverged runs). Failed runs only count in ``seeds`` and
``failed``. NaN values are left out of every mean.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

GROUP = ["problem", "scale", "solver", "label", "backend", "device_name"]
_ANY_RUN = ("iterations_to_target", "time_to_target", "time_per_iteration")  # averaged over diverged runs too
METRICS = ["x_error", "x_error_std", "train_x_error", "loss", "train_loss", "nonfinite", "iterations", "wall_time",
           "target", "reached", "iterations_to_target", "time_to_target", "time_per_iteration"]


def problem_target(problem: str) -> float | None:
    """The registered problem's ``target_x_error`` (None if it has none or is not registered here)."""
    from .registry import PROBLEMS
    try:
        value = PROBLEMS.resolve(problem).load().target_x_error
    except Exception:
        return None
    return None if value is None else float(value)


def _target_for(problem: str, target) -> float:
    if isinstance(target, dict):
        name = problem.rsplit("-v", 1)[0]
        value = target.get(problem, target.get(name))
    elif target is not None:
        value = target
    else:
        value = problem_target(problem)
    return math.nan if value is None else float(value)


def _config(run: pd.Series) -> str:
    payload = json.dumps([str(run.get(k)) for k in ("problem_settings", "hyperparameters", "budget_iterations",
                                                    "max_time", "numerics")])
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def _last(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return float(v[-1]) if len(v) else math.nan


def _run_metrics(g: pd.DataFrame, target: float) -> dict:
    g = g[pd.to_numeric(g["iteration"], errors="coerce").notna()]
    training = g["kind"].iloc[0] == "training" if len(g) else False
    it = pd.to_numeric(g["iteration"], errors="coerce").to_numpy(dtype=float)
    t = pd.to_numeric(g["wall_time"], errors="coerce").to_numpy(dtype=float)
    err_col, loss_col, nf_col = (("eval_x_error", "eval_loss", "eval_nonfinite") if training
                                 else ("x_error", "loss", "nonfinite"))
    out = {
        "x_error": _last(g[err_col]) if err_col in g else math.nan,
        "train_x_error": _last(g["x_error"]) if training else math.nan,
        "loss": _last(g[loss_col]) if loss_col in g else math.nan,
        "train_loss": _last(g["loss"]) if training else math.nan,
        "nonfinite": _last(g[nf_col]) if nf_col in g else math.nan,
        "iterations": (it[-1] + (1 if training else 0)) if len(it) else math.nan,
        "wall_time": t[-1] if len(t) else math.nan,
        "target": target,
        "iterations_to_target": math.nan, "time_to_target": math.nan,
    }
    if len(it) > 1:
        d_it, d_t = np.diff(it), np.diff(t)
        ok = d_it > 0
        out["time_per_iteration"] = float(np.median(d_t[ok] / d_it[ok])) if ok.any() else math.nan
    else:
        out["time_per_iteration"] = math.nan
    if not math.isnan(target) and err_col in g:
        err = pd.to_numeric(g[err_col], errors="coerce").to_numpy(dtype=float)
        hit = np.flatnonzero(err <= target)
        if len(hit):
            out["iterations_to_target"] = it[hit[0]] + (1 if training else 0)
            out["time_to_target"] = t[hit[0]]
    return out


def per_run(df: pd.DataFrame, target=None) -> pd.DataFrame:
    """One row per stored run: its identity (``run_key``, the :data:`GROUP` columns, ``config``,
    ``seed``, ``kind``, ``status``, ``x_error_name``) and the metrics described above.
    ``target``: None (each problem's ``target_x_error``), a number, or ``{problem: number}``."""
    cols = ["run_key", *GROUP, "config", "seed", "kind", "status", "x_error_name",
            *[m for m in METRICS if m not in ("x_error_std", "reached")]]
    if df is None or df.empty:
        return pd.DataFrame(columns=cols)
    if "iteration" in df:  # the same run found under two roots counts once
        df = df.drop_duplicates(subset=["run_key", "iteration"], keep="first")
    rows = []
    for key, g in df.groupby("run_key", sort=False):
        first = g.iloc[0]
        row = {"run_key": key, **{c: first.get(c) for c in GROUP}, "config": _config(first),
               "seed": first.get("seed"), "kind": first.get("kind"), "status": first.get("status"),
               "x_error_name": first.get("x_error_name")}
        row.update(_run_metrics(g, _target_for(str(first["problem"]), target)))
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def summarize(df: pd.DataFrame, target=None) -> pd.DataFrame:
    """Per configuration (:data:`GROUP` + ``config``): means over seeds of the per-run metrics,
    ``x_error_std``, run counts by status and ``reached``. Sorted by problem, solver, label."""
    runs = per_run(df, target)
    cols = [*GROUP, "config", "kind", "x_error_name", "seeds", "ok", "diverged", "failed", *METRICS]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for keys, g in runs.groupby([*GROUP, "config"], sort=True, dropna=False):
        usable = g[g["status"] != "failed"]
        row = dict(zip([*GROUP, "config"], keys))
        row.update(kind=g["kind"].iloc[0], x_error_name=g["x_error_name"].iloc[0], seeds=len(g),
                   ok=int((g["status"] == "ok").sum()), diverged=int((g["status"] == "diverged").sum()),
                   failed=int((g["status"] == "failed").sum()))
        ok = g[g["status"] == "ok"]
        for m in ("x_error", "train_x_error", "loss", "train_loss", "nonfinite", "iterations", "wall_time",
                  "iterations_to_target", "time_to_target", "time_per_iteration"):
            v = (usable if m in _ANY_RUN else ok)[m].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[m] = float(v.mean()) if len(v) else math.nan
        xe = ok["x_error"].to_numpy(dtype=float)
        xe = xe[np.isfinite(xe)]
        row["x_error_std"] = float(xe.std(ddof=1)) if len(xe) > 1 else math.nan
        row["target"] = float(g["target"].iloc[0])
        row["reached"] = int(usable["iterations_to_target"].notna().sum())
        out.append(row)
    return pd.DataFrame(out, columns=cols).reset_index(drop=True)


__all__ = ["summarize", "per_run", "problem_target", "GROUP", "METRICS"]
