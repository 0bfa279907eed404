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
``backend``        ``torch`` / ``jax``; ``device``: ``cpu`` / ``cuda``; ``device_name``; ``machine``;
                   ``backend_settings``: the backend's speed settings as JSON (not part of the key)
``seed``           data stream and network initialisation seed
``status``         ``ok``, ``diverged`` (:mod:`pgbench.divergence`, reason in ``message``) or ``failed`` (an exception;
                   ``message`` holds it, ``traceback`` the full traceback)
``iteration``      update steps done (training rows from 1, iterative from 0; older stores are
                   renumbered on load, :func:`pgbench.measures.upgrade`); ``wall_time``: seconds since the run started (device synchronised)
``loss``           batch mean of the y-space objective; ``x_error``: batch mean x-space error
                   (what it measures: ``x_error_name``); ``nonfinite``: fraction of examples
                   that are not finite
``eval_*``         training only: the fixed held-out batch, every ``eval_every`` iterations
=================  ===================================================================

A run whose file exists with status ``ok`` or ``diverged`` is finished and skipped when asked
again; a ``failed`` run is retried. Writes go to a temporary file (unique per host, process and
call) renamed into place, so an interrupted run leaves no partial file and concurrent writers of
the same run never interleave; the last rename wins with a complete file. Stores written on
several machines combine with :func:`merge`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import socket
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .measures import upgrade

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
        "status": result.status, "message": result.message, "traceback": getattr(result, "traceback", ""),
        "x_error_name": meta["x_error_name"],
        "budget_iterations": meta["iterations"], "max_time": meta["max_time"],
        "pgbench_version": meta["pgbench_version"], "store_format": meta.get("store_format"),
        "target_x_error": meta.get("target_x_error"),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "hyperparameters": _json(meta["hyperparameters"]), "problem_settings": _json(meta["problem_settings"]),
        "backend_settings": _json(meta.get("backend_settings", {})),
    }
    cols.update({f"hp_{k}": _scalar(v) for k, v in meta["hyperparameters"].items()})
    meta_df = pd.DataFrame({k: [v] * len(df) for k, v in cols.items()}, index=df.index)
    return pd.concat([meta_df, df], axis=1)


def _tmp_path(path: Path) -> Path:
    """A hidden sibling of ``path`` that no other writer (host, process, call) uses; ``*.parquet``
    globs never see it."""
    return path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _write_atomic(path: Path, write) -> Path:
    """``write(tmp)`` then rename ``tmp`` onto ``path`` (atomic on one file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def save(result, root=DEFAULT_ROOT) -> Path:
    """Write a run atomically (temporary file, then rename); returns its path. The run's example
    predictions (``result.examples``), if any, are written first, next to it
    (:func:`examples_path`), so a stored run never lacks the examples it was saved with."""
    frame = to_frame(result)
    path = path_for(result.meta, root)
    if getattr(result, "examples", None):
        write_examples(result.examples, examples_path(path))
    return _write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def examples_path(run_path) -> Path:
    """``<run_key>.examples.npz`` next to the run file ``<run_key>.parquet``."""
    return Path(run_path).with_suffix(".examples.npz")


def write_examples(examples: dict, path) -> Path:
    """Write example arrays (and their ``meta`` dict, as JSON) atomically as ``.npz``."""
    arrays = {k: np.asarray(v) for k, v in examples.items() if k != "meta"}
    meta = np.asarray(json.dumps(examples.get("meta", {}), default=str))

    def write(tmp):
        with open(tmp, "wb") as f:   # a file object: numpy would append ".npz" to a path
            np.savez_compressed(f, meta=meta, **arrays)
    return _write_atomic(Path(path), write)


def run_files(root) -> list[Path]:
    """The run files of a store (temporary files of interrupted writers are not among them)."""
    return sorted(p for p in Path(root).rglob("*.parquet") if not p.name.startswith("."))


# --- merging stores ------------------------------------------------------------------------------------

_RANK = {"ok": 2, "diverged": 2, "failed": 1}


@dataclass
class MergeSummary:
    """What :func:`merge` did: files ``copied`` (new run keys), ``replaced`` (a failed run
    superseded by a finished one), ``kept`` (the destination already held an equal or better
    result of the same run key) and ``unreadable`` source files (skipped, with their paths)."""

    copied: int = 0
    replaced: int = 0
    kept: int = 0
    unreadable: list[str] = field(default_factory=list)


def _rank(path: Path) -> int:
    try:
        return _RANK.get(str(pd.read_parquet(path, columns=["status"])["status"].iloc[0]), 0)
    except Exception:
        return -1  # unreadable


def merge(sources, dest) -> MergeSummary:
    """Combine the stores ``sources`` into the store ``dest``, one file per run key, no duplicates.

    Each source file goes to the same relative place under ``dest`` (``<problem>/<run_key>.parquet``).
    When ``dest`` already holds that run key, the finished result (``ok`` / ``diverged``) wins over a
    ``failed`` one and otherwise the destination's file is kept. Copies are atomic, so an
    interrupted merge can simply be run again."""
    dest = Path(dest)
    summary = MergeSummary()
    for src in map(Path, sources):
        if not src.is_dir():
            raise FileNotFoundError(f"no results directory {src}")
        if src.resolve() == dest.resolve():
            continue
        for path in run_files(src):
            rank = _rank(path)
            if rank < 0:
                summary.unreadable.append(str(path))
                continue
            target = dest / path.relative_to(src)
            if target.exists():
                if _rank(target) >= rank:
                    summary.kept += 1
                    continue
                summary.replaced += 1
            else:
                summary.copied += 1
            if examples_path(path).exists():   # the run's examples travel with it, written first
                _write_atomic(examples_path(target), lambda tmp, p=examples_path(path): shutil.copyfile(p, tmp))
            _write_atomic(target, lambda tmp, path=path: shutil.copyfile(path, tmp))
    return summary


def load_results(*roots) -> pd.DataFrame:
    """Every stored run under the given roots (default ``results/runs``) as one frame, one row per
    recorded iteration. A run key found under several roots is loaded once (a finished result
    before a failed one, else the first root's). Unreadable files are reported with a warning and
    skipped."""
    roots = roots or (DEFAULT_ROOT,)
    best: dict[str, tuple[int, pd.DataFrame]] = {}
    for root in roots:
        for path in run_files(root):
            try:
                df = pd.read_parquet(path)
            except Exception as e:
                warnings.warn(f"skipping unreadable result file {path}: {e}", stacklevel=2)
                continue
            key = str(df["run_key"].iloc[0]) if "run_key" in df and len(df) else str(path)
            rank = _RANK.get(str(df["status"].iloc[0]), 0) if "status" in df and len(df) else 0
            if key not in best or rank > best[key][0]:
                best[key] = (rank, df)
    frames = [df for _, df in best.values()]
    if not frames:
        return pd.DataFrame(columns=["run_key", "problem", "solver", "status", "iteration", "wall_time", "loss",
                                     "x_error"])
    df = upgrade(pd.concat(frames, ignore_index=True))
    return df.sort_values(["problem", "solver", "run_key", "iteration"], kind="stable").reset_index(drop=True)
