"""The results store: one parquet file per run, written atomically, keyed by a hash of
everything that defines the run.

Layout: ``<root>/<problem>/<run_key>.parquet`` (default root ``results/runs``). Each file is the
run's records (one row per recorded iteration) with the run's metadata broadcast to every row:

=================  ===================================================================
``run_key``        16 hex digits: hash of problem, scale, problem settings, solver, hyperparameters,
                   backend, device, device name, machine, seed, budget
``problem``        versioned problem id (``sin-v0``); ``scale``: ``paper`` / ``quick``
``solver``         versioned solver id; ``kind``: ``iterative`` / ``training``; ``label``: the
                   method's display name (not part of the key)
``hp_<name>``      every solver hyperparameter (non-scalars as JSON); ``hyperparameters`` and
                   ``problem_settings``: the full dicts as JSON
``backend``        ``torch`` / ``jax``; ``device``: ``cpu`` / ``cuda``; ``device_name``; ``machine``
``seed``           data stream and network initialisation seed
``status``         ``ok``, ``diverged`` (every example non-finite) or ``failed`` (an exception;
                   ``message`` holds it)
``iteration``      0-based; ``wall_time``: seconds since the run started (device synchronised)
``loss``           batch mean of the y-space objective; ``x_error``: batch mean x-space error
                   (what it measures: ``x_error_name``); ``nonfinite``: fraction of examples
                   that are not finite
``eval_*``         training only: the fixed held-out batch, every ``eval_every`` iterations
=================  ===================================================================

A run whose file exists with status ``ok`` or ``diverged`` is finished and skipped when asked
again; a ``failed`` run is retried. Writes go to a temporary file renamed into place, so an
interrupted run leaves no partial file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_ROOT = Path("results/runs")
FINISHED = ("ok", "diverged")
_KEY_FIELDS = ("problem", "scale", "problem_settings", "solver", "hyperparameters", "backend", "device",
               "device_name", "machine", "seed", "iterations", "max_time")


def _json(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def run_key(meta: dict) -> str:
    """Deterministic key of a run from its metadata (see ``RunPlan.meta``)."""
    payload = _json({k: meta.get(k) for k in _KEY_FIELDS})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def path_for(meta: dict, root=DEFAULT_ROOT) -> Path:
    return Path(root) / meta["problem"] / f"{run_key(meta)}.parquet"


def status_of(meta: dict, root=DEFAULT_ROOT) -> str | None:
    """Stored status of the run ``meta`` describes, or None if it was never stored."""
    path = path_for(meta, root)
    if not path.exists():
        return None
    try:
        return str(pd.read_parquet(path, columns=["status"])["status"].iloc[0])
    except Exception:  # unreadable file: treat as absent so it is redone
        return None


def is_finished(meta: dict, root=DEFAULT_ROOT) -> bool:
    return status_of(meta, root) in FINISHED


def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return _json(v)


def to_frame(result) -> pd.DataFrame:
    """A :class:`~pgbench.runner.RunResult` as one tidy frame (metadata broadcast to every row)."""
    meta = result.meta
    df = result.records.copy()
    if df.empty:  # a run that failed before its first record keeps one row carrying its status
        df = pd.DataFrame({"iteration": pd.array([pd.NA], dtype="Int64"), "wall_time": [np.nan],
                           "loss": [np.nan], "x_error": [np.nan]})
    cols = {
        "run_key": run_key(meta), "problem": meta["problem"], "scale": meta["scale"],
        "solver": meta["solver"], "label": meta.get("label", meta["solver"]), "kind": meta["kind"], "backend": meta["backend"], "device": meta["device"],
        "device_name": meta["device_name"], "machine": meta["machine"], "seed": meta["seed"],
        "status": result.status, "message": result.message, "x_error_name": meta["x_error_name"],
        "budget_iterations": meta["iterations"], "max_time": meta["max_time"],
        "pgbench_version": meta["pgbench_version"],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hyperparameters": _json(meta["hyperparameters"]), "problem_settings": _json(meta["problem_settings"]),
    }
    cols.update({f"hp_{k}": _scalar(v) for k, v in meta["hyperparameters"].items()})
    meta_df = pd.DataFrame({k: [v] * len(df) for k, v in cols.items()}, index=df.index)
    return pd.concat([meta_df, df], axis=1)


def save(result, root=DEFAULT_ROOT) -> Path:
    """Write a run atomically (temporary file, then rename); returns its path."""
    path = path_for(result.meta, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        to_frame(result).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_results(*roots) -> pd.DataFrame:
    """Every stored run under the given roots (default ``results/runs``) as one frame, one row per
    recorded iteration. Unreadable files are reported with a warning and skipped."""
    roots = roots or (DEFAULT_ROOT,)
    frames = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.parquet")):
            try:
                frames.append(pd.read_parquet(path))
            except Exception as e:
                warnings.warn(f"skipping unreadable result file {path}: {e}", stacklevel=2)
    if not frames:
        return pd.DataFrame(columns=["run_key", "problem", "solver", "status", "iteration", "wall_time", "loss",
                                     "x_error"])
    df = pd.concat(frames, ignore_index=True)
    return df.sort_values(["problem", "solver", "run_key", "iteration"], kind="stable").reset_index(drop=True)
