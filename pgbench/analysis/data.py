"""Pure helpers over the tidy results frame (:func:`pgbench.load_results`) for the report's
figures: device keys, the newest configuration, the paper's running-average smoothing, seed
aggregation of curves and time per iteration. Nothing here runs an experiment or plots."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..record import REQUIRED_COLUMNS, config_hash
from ..registry import base_name
from ..store import load_results
from .measures import running_average, seconds_per_iteration
from .summary import device_key, method_names, per_run
from .targets import REFERENCE_LABELS, reference_label

# running-average windows of the paper's learning curves (mini-batches), by problem name
PAPER_WINDOWS = {"sin": 1000, "poisson": 64, "heat": 64, "navier-stokes": 64, "sin2d": 256}


#: every column the report reads: those every store file has, and two that older stores may lack
BASE_COLUMNS = (*REQUIRED_COLUMNS, "x_error_name", "budget_iterations")


def with_device(df: pd.DataFrame) -> pd.DataFrame:
    """Adds ``device_key``: machine · device name (backend), the unit results are compared by."""
    df = df.copy()
    for c in BASE_COLUMNS:  # an empty or foreign store still has every column the report reads
        if c not in df:
            df[c] = pd.Series(dtype=object if c in ("problem", "kind", "label", "solver", "status") else float)
    if df.empty:
        df["device_key"] = pd.Series(dtype=str)
        return df
    for c in ("machine", "device_name", "backend"):
        if c not in df:
            df[c] = "?"
    parts = df[["machine", "device_name", "backend"]].astype(str)
    keys = {t: device_key(*t) for t in set(map(tuple, parts.drop_duplicates().to_numpy()))}
    df["device_key"] = [keys[t] for t in map(tuple, parts.to_numpy())]
    if "label" not in df:
        df["label"] = df["solver"]
    df["label"] = df["label"].fillna(df["solver"])
    return df


def latest_configs(df: pd.DataFrame) -> pd.DataFrame:
    """Per problem × scale × kind × label × solver id × device, only the runs of the newest
    configuration (problem settings, hyperparameters, budget; by the ``created`` time of its newest
    run), so runs made before a problem's or a recipe's settings changed are never averaged in as
    extra seeds. Adds ``config`` (a short hash, :func:`pgbench.record.config_hash`). A label that
    names several solver ids on one problem gets the id added (:func:`method_names`): the runs of
    two solvers never share a label, so no figure, table or leaderboard pools them."""
    if df.empty:
        return df.assign(config=pd.Series(dtype=str))
    first = df.groupby("run_key", sort=False).first()
    config = first.apply(config_hash, axis=1)
    df = df.assign(config=df["run_key"].map(config))
    created = first["created"].map(str) if "created" in first else pd.Series("", index=first.index)
    df = df.assign(_created=df["run_key"].map(created))
    keys = ["problem", "scale", "kind", "label", "solver", "device_key"]
    newest = (
        df.groupby(keys + ["config"], dropna=False)["_created"]
        .max()
        .reset_index()
        .sort_values("_created")
        .groupby(keys, dropna=False)
        .tail(1)[keys + ["config"]]
    )
    out = df.merge(newest, on=keys + ["config"], how="inner").drop(columns="_created")
    return out.assign(label=method_names(out))


def usable(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of runs that were not ``failed`` and have an iteration."""
    if df.empty:
        return df
    out = df[df["status"].isin(["ok", "diverged"])]
    return out[pd.to_numeric(out["iteration"], errors="coerce").notna()]


def window_for(problem: str, scale: str, iterations: int) -> int:
    """Running-average window: the paper's for ``paper`` scale; at smaller budgets at most a
    twentieth of the budget, so the curve keeps its shape."""
    paper = PAPER_WINDOWS.get(base_name(problem), 1)
    if scale == "paper":
        return paper
    return int(max(1, min(paper, iterations // 20)))


CURVE_GROUP = ["problem", "kind", "label", "device_key"]


def thin(frame: pd.DataFrame, points: int = 500) -> pd.DataFrame:
    """A figure's curve data with at most about ``points`` rows per curve (:data:`CURVE_GROUP`):
    rows at log-spaced positions along each curve, the first and the last always kept (what a
    data file beside a log-axis figure needs; the figure itself is drawn from every row). A
    frame without an ``iteration`` column is returned as it is."""
    if "iteration" not in frame or frame.empty:
        return frame
    group = [c for c in CURVE_GROUP if c in frame]
    keep = []
    for _, g in frame.groupby(group, sort=False) if group else [(None, frame)]:
        n = len(g)
        if n <= points:
            keep.extend(g.index)
            continue
        pos = np.unique(np.round(np.geomspace(1, n, points)).astype(int) - 1)
        keep.extend(g.index[np.union1d(pos, [0, n - 1])])
    return frame.loc[sorted(keep)].reset_index(drop=True)


def curves(df: pd.DataFrame, metric: str = "x_error", window: int | None = None) -> pd.DataFrame:
    """Per problem × label × device: the running average of ``metric`` per run, then the median
    (column ``mean``, kept for the figures' data files), min and max over the ``ok`` seeds at every
    iteration (only iterations every seed reached; diverged runs are left out). Also the median
    wall time there. Columns: problem, kind, label, device_key, iteration, wall_time, mean, lo, hi,
    seeds, window, run_keys."""
    cols = [
        "problem",
        "kind",
        "label",
        "device_key",
        "iteration",
        "wall_time",
        "mean",
        "lo",
        "hi",
        "seeds",
        "window",
        "run_keys",
    ]
    df = usable(df)
    if df.empty or metric not in df:
        return pd.DataFrame(columns=cols)
    out = []
    for (problem, kind, label, dev), g in df.groupby(["problem", "kind", "label", "device_key"], sort=True):
        scale = str(g["scale"].iloc[0]) if "scale" in g else "quick"
        runs = []
        for key, r in g.groupby("run_key", sort=True):
            if str(r["status"].iloc[0]) != "ok":  # diverged seeds are counted in the summary, not averaged in
                continue
            r = r.sort_values("iteration")
            v = pd.to_numeric(r[metric], errors="coerce").to_numpy(dtype=float)
            if np.isnan(v).all():
                continue
            it = r["iteration"].to_numpy(dtype=float)
            if metric.startswith("eval_"):  # sparse held-out evaluations: no smoothing
                keep = ~np.isnan(v)
                runs.append((key, it[keep], v[keep], r["wall_time"].to_numpy(dtype=float)[keep]))
            else:
                runs.append((key, it, v, r["wall_time"].to_numpy(dtype=float)))
        if not runs:
            continue
        n_it = min(len(x[1]) for x in runs)
        w = (
            window
            if window is not None
            else (1 if metric.startswith("eval_") else window_for(problem, scale, int(max(x[1][-1] for x in runs)) + 1))
        )
        sm = np.stack([running_average(v[:n_it], w) for _, _, v, _ in runs])
        wt = np.stack([t[:n_it] for _, _, _, t in runs])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (e.g. diverged seeds) stay NaN
            frame = pd.DataFrame(
                {
                    "problem": problem,
                    "kind": kind,
                    "label": label,
                    "device_key": dev,
                    "iteration": runs[0][1][:n_it],
                    "wall_time": np.nanmedian(wt, axis=0),
                    "mean": np.nanmedian(sm, axis=0),
                    "lo": np.nanmin(sm, axis=0),
                    "hi": np.nanmax(sm, axis=0),
                    "seeds": len(runs),
                    "window": w,
                    "run_keys": " ".join(sorted(k for k, *_ in runs)),
                }
            )
        out.append(frame)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)


def time_per_iteration(df: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per update step of every run, then the median over seeds per problem × kind ×
    label × device. Columns: problem, kind, label, device_key, seconds, seeds, run_keys. Where a
    problem has runs of several scales, the scale joins its device key ("… · paper scale"): a
    paper-size iteration is never averaged with, or shown as, a quick one."""
    cols = ["problem", "kind", "label", "device_key", "seconds", "seeds", "run_keys"]
    df = usable(df)
    if "scale" in df and not df.empty:
        several = df.groupby("problem")["scale"].transform("nunique") > 1
        if several.any():
            df = df.copy()
            df.loc[several, "device_key"] = (
                df.loc[several, "device_key"] + " · " + df.loc[several, "scale"].astype(str) + " scale"
            )
    rows = []
    for (problem, kind, label, dev), g in df.groupby(["problem", "kind", "label", "device_key"], sort=True):
        per = {key: seconds_per_iteration(r) for key, r in g.groupby("run_key")}
        per = {k: v for k, v in per.items() if math.isfinite(v)}
        if per:
            rows.append(
                {
                    "problem": problem,
                    "kind": kind,
                    "label": label,
                    "device_key": dev,
                    "seconds": float(np.median(list(per.values()))),
                    "seeds": len(per),
                    "run_keys": " ".join(sorted(per)),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def as_paths(results_dirs) -> list[Path]:
    """One folder or several as a list of paths."""
    if isinstance(results_dirs, (str, Path)):
        return [Path(results_dirs)]
    return [Path(p) for p in results_dirs]


def collect(results_dirs):
    """The tidy frame of every run under ``results_dirs`` with ``device_key`` (see
    :func:`pgbench.load_results`, which loads a run found in several directories once)."""
    return with_device(load_results(*as_paths(results_dirs)))


def final_errors(df: pd.DataFrame) -> pd.DataFrame:
    """Per run that was not ``failed``: its :func:`~pgbench.analysis.summary.per_run` row (final x
    error, status, iterations, wall time and identity)."""
    cols = [
        "run_key",
        "problem",
        "kind",
        "label",
        "device_key",
        "seed",
        "scale",
        "status",
        "x_error",
        "iterations",
        "wall_time",
    ]
    return per_run(usable(df))[cols]


__all__ = [
    "collect",
    "with_device",
    "final_errors",
    "latest_configs",
    "usable",
    "window_for",
    "curves",
    "time_per_iteration",
    "reference_label",
    "REFERENCE_LABELS",
    "PAPER_WINDOWS",
    "running_average",
]
