"""The results store: one parquet file per run, written atomically, keyed by a hash of
everything that defines the run.

Layout: ``<root>/<problem>/<run_key>.parquet`` (default root ``results/runs``). Each file is
:meth:`pgbench.record.RunRecord.to_frame`: the run's recorded rows (one per recorded iteration)
with its metadata (:class:`pgbench.record.RunMeta`, which declares every field, the run key's
among them) and outcome broadcast to every row, plus ``hp_<name>`` for every solver
hyperparameter (non-scalars as JSON). The rows:

=================  ===================================================================
``status``         ``ok``, ``diverged`` (:mod:`pgbench.divergence`, reason in ``message``; the rule in
                   ``divergence_rule``) or ``failed`` (an exception; ``message`` holds it, ``traceback``
                   the full traceback)
``iteration``      update steps done (training rows from 1, iterative from 0; older stores are
                   renumbered on load, :func:`pgbench.record.upgrade`); ``wall_time``: seconds since the run
                   started (device synchronised)
``loss``           batch mean of the y-space objective; ``x_error``: batch mean x-space error
                   (what it measures: ``x_error_name``); ``nonfinite``: fraction of examples
                   that are not finite
``eval_*``         training only: the fixed held-out batch, every ``eval_every`` iterations
=================  ===================================================================

A run whose file exists with status ``ok`` or ``diverged`` is finished and skipped when asked
again; a ``failed`` run is retried, and a failed attempt never replaces a finished result (not
even a forced re-run). Writes go to a temporary file (unique per host, process and call) renamed
into place, so an interrupted run leaves no partial file and concurrent writers of the same run
never interleave; the last rename wins with a complete file. Temporary files of killed writers
are removed by :func:`clean_stale_tmp`. Every data page carries a CRC checksum that is verified
on read, and so is the file against the record schema (:func:`pgbench.record.check_frame`: the
columns a parquet footer, which no checksum covers, could lose or retype; the run key inside equal
to the file's name): a damaged file is reported and counts as absent (so the run is done again).
Stores written on several machines combine with :func:`merge`. Paths never leave the store: the
problem id (the folder) must be a safe name, and a symlink that leads out is refused
(:func:`check_target` checks a run's place before its work).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .record import FINISHED, META_COLUMNS, RunRecord, as_record, check_frame, run_key, upgrade

DEFAULT_ROOT = Path("results/runs")


SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_KEY = re.compile(r"[0-9a-f]{16}")


class StorePathError(ValueError):
    """A run's place in the store cannot take its file (see :func:`check_target`)."""


class UnsafePathError(StorePathError):
    """A path built from stored or registered names would leave the results folder."""


def safe_name(name: str) -> bool:
    """Whether ``name`` may be one path component: letters, digits, ``_ . -``, no ``..``."""
    return bool(SAFE_NAME.fullmatch(name)) and ".." not in name


def inside(path: Path, root) -> Path:
    """``path``, after checking that it resolves to a place under ``root``."""
    if not Path(path).resolve().is_relative_to(Path(root).resolve()):
        raise UnsafePathError(f"{path} is outside the results folder {root}")
    return Path(path)


def _identity(run) -> tuple[str, str]:
    """``(problem, run key)`` of a run: a record, a plan or a result (their key, computed once per
    plan), or a metadata dict (its key computed here)."""
    if isinstance(run, RunRecord):
        return str(run.meta.problem), run.run_key
    if isinstance(run, dict):
        return str(run["problem"]), run_key(run)
    return str(run.meta["problem"]), getattr(run, "run_key", "") or run_key(run.meta)


def path_for(run, root=DEFAULT_ROOT) -> Path:
    """``<root>/<problem>/<run_key>.parquet`` of a plan, a result or a metadata dict (raises
    UnsafePathError if that leaves ``root``)."""
    problem, key = _identity(run)
    if not safe_name(problem):
        raise UnsafePathError(f"problem id {problem!r} is not a safe folder name (letters, digits, _ . - only)")
    return inside(Path(root) / problem / f"{key}.parquet", root)


def check_target(run, root=DEFAULT_ROOT) -> Path:
    """The run's file path after checking that :func:`save` can write it: inside ``root`` (a
    symlinked file or folder that leads out is refused), its problem folder absent or a writable
    directory, neither the run file nor its examples file a directory. Raises StorePathError
    (UnsafePathError for a path that leaves the store)."""
    path = path_for(run, root)
    examples = inside(examples_path(path), root)
    folder = path.parent
    if folder.is_symlink() or folder.exists():
        if not folder.is_dir():
            raise StorePathError(f"{folder} is not a directory: the runs of {folder.name} cannot be stored there")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StorePathError(f"the problem folder {folder} is not writable")
    for p in (path, examples):
        if p.is_dir():
            raise StorePathError(f"{p} is a directory, not a run's file: move it away to store the run")
    return path


def read(path, columns=None) -> pd.DataFrame:
    """A stored run's frame, every page checksum verified (a damaged file raises OSError)."""
    return pd.read_parquet(path, columns=columns, page_checksum_verification=True)


def _damaged(path, e: Exception) -> None:
    warnings.warn(
        f"damaged result file {path} ({type(e).__name__}: {e}); it counts as not stored and is run again", stacklevel=3
    )


def status_of(run, root=DEFAULT_ROOT) -> str | None:
    """Stored status of a run (a plan, a result or a metadata dict), or None if it was never
    stored or its file is damaged (reported with a warning; every page is read so that every
    checksum is verified, and the file is checked against the record schema and its name)."""
    path = path_for(run, root)
    if not path.exists():
        return None
    try:
        return str(_run_frame(path)["status"].iloc[0])
    except Exception as e:  # unreadable file: treat as absent so it is redone
        _damaged(path, e)
        return None


def is_finished(run, root=DEFAULT_ROOT) -> bool:
    return status_of(run, root) in FINISHED


def to_frame(result) -> pd.DataFrame:
    """A :class:`~pgbench.runner.RunResult` as one tidy frame (:meth:`RunRecord.to_frame`)."""
    return RunRecord.from_result(result).to_frame()


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


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (a side file of the store, e.g. a tuning record)."""
    return _write_atomic(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_frame(frame: pd.DataFrame, path) -> None:
    """Write a run's frame as parquet with a CRC checksum on every page."""
    frame.to_parquet(path, index=False, write_page_checksum=True)


def save(run, root=DEFAULT_ROOT, examples: dict | None = None) -> Path:
    """Write a run (a :class:`~pgbench.runner.RunResult` or its :class:`RunRecord`) atomically
    (temporary file, then rename); returns its path. A run that is not finished (``failed``) never
    replaces a finished one: that file is kept and its path returned. The run's example predictions
    (``examples``, default ``run.examples``), if any, are written first, next to it
    (:func:`examples_path`), so a stored run never lacks the examples it was saved with."""
    examples = examples if examples is not None else getattr(run, "examples", None)
    record = as_record(run)
    path = path_for(record, root)
    if record.status not in FINISHED and is_finished(record, root):
        return path
    frame = record.to_frame()
    if examples:
        write_examples(examples, examples_path(path))
    return _write_atomic(path, lambda tmp: write_frame(frame, tmp))


def examples_path(run_path) -> Path:
    """``<run_key>.examples.npz`` next to the run file ``<run_key>.parquet``."""
    return Path(run_path).with_suffix(".examples.npz")


def write_examples(examples: dict, path) -> Path:
    """Write example arrays (and their ``meta`` dict, as JSON) atomically as ``.npz``."""
    # numpy takes the arrays as keyword arguments: names of its own parameters would be read as those
    reserved = {"file", "allow_pickle"} & set(examples)
    if reserved:
        raise ValueError(f"example arrays cannot be named {', '.join(sorted(reserved))} (numpy.savez parameters)")
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in examples.items() if k != "meta"}
    meta = np.asarray(json.dumps(examples.get("meta", {}), default=str))

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: numpy would append ".npz" to a path
            np.savez_compressed(f, meta=meta, **arrays)

    return _write_atomic(Path(path), write)


_TMP = re.compile(r"\.(?P<target>.+?\.(?:parquet|npz))\.(?P<host>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale_tmp(root, max_age: float = 86400.0) -> list[Path]:
    """Remove the hidden temporary files of writers that were killed mid-write (run files and
    example files): those written on this host by a process that no longer exists, and any
    older than ``max_age`` seconds (a writer on another host cannot be asked). Returns the
    removed paths."""
    removed: list[Path] = []
    host, now = socket.gethostname(), time.time()
    if not Path(root).is_dir():
        return removed
    for p in Path(root).rglob(".*.tmp"):
        m = _TMP.fullmatch(p.name)
        if m is None:
            continue
        try:
            dead = m["host"] == host and not _alive(int(m["pid"]))
            if dead or now - p.stat().st_mtime > max_age:
                p.unlink()
                removed.append(p)
        except FileNotFoundError:  # its writer finished (renamed it) meanwhile
            continue
    return removed


def run_files(root) -> list[Path]:
    """The run files of a store (temporary files of interrupted writers are not among them)."""
    return sorted(p for p in Path(root).rglob("*.parquet") if not p.name.startswith("."))


# --- merging stores ------------------------------------------------------------------------------------

_RANK = {"ok": 2, "diverged": 2, "failed": 1}
_IDENTITY = ("run_key", "problem", "solver", "status")


@dataclass
class MergeSummary:
    """What :func:`merge` did: files ``copied`` (new run keys), ``replaced`` (a failed run
    superseded by a finished one), ``kept`` (the destination already held an equal or better
    result of the same run key), ``conflicts`` (source files whose finished result differs from
    the destination's under the same run key: the destination's is kept), ``unreadable`` source
    files (damaged, not a pgbench result file, another run's file, or a damaged examples file:
    skipped; a run whose examples file is damaged is merged without it) and ``not_written``
    source runs whose place in the destination cannot be written (say a directory there)."""

    copied: int = 0
    replaced: int = 0
    kept: int = 0
    unreadable: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)


def _run_frame(path) -> pd.DataFrame:
    """A verified run frame that names a safe problem and a well-formed run key, in the record
    schema, holding the run its file is named after (:func:`pgbench.record.check_frame`); raises
    ValueError for any other parquet file."""
    df = read(path)
    missing = [c for c in _IDENTITY if c not in df.columns]
    if missing or df.empty:
        raise ValueError(f"not a pgbench result file (no {', '.join(missing) or 'rows'})")
    key, problem = str(df["run_key"].iloc[0]), str(df["problem"].iloc[0])
    if not _KEY.fullmatch(key) or not safe_name(problem):
        raise ValueError(f"not a pgbench result file (run_key {key!r}, problem {problem!r})")
    check_frame(df, Path(path).stem)
    return df


def check_examples(path) -> None:
    """Raise unless ``path`` is a regular file that numpy reads as an ``.npz`` archive, every
    array read (so every member's CRC checked)."""
    if not Path(path).is_file():
        raise ValueError("not a regular file")
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive")
    with data:
        for name in data.files:
            data[name]


def _rank_of(df: pd.DataFrame) -> int:
    return _RANK.get(str(df["status"].iloc[0]), 0)


def curves(df: pd.DataFrame) -> pd.DataFrame:
    """The numbers of a stored run that its key promises to fix: the recorded columns, without
    metadata and without timings (wall time, ``t_*`` diagnostics), which differ between any two
    executions."""
    cols = sorted(
        c for c in df.columns if c not in META_COLUMNS and not c.startswith(("hp_", "t_")) and "time" not in c
    )
    out = df[["status", *cols]]
    if "iteration" in out:
        out = out.sort_values("iteration", kind="stable")
    return out.reset_index(drop=True)


def same_result(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two stored copies of one run key hold the same result (status and curves, bit for
    bit, NaN equal to NaN); the ``created`` time, machine and wall times may differ."""
    ca, cb = curves(upgrade(a)), curves(upgrade(b))  # one iteration numbering for both
    if list(ca.columns) != list(cb.columns) or len(ca) != len(cb):
        return False
    for c in ca.columns:
        x, y = ca[c].to_numpy(), cb[c].to_numpy()
        if x.dtype.kind in "fiu" and y.dtype.kind in "fiu":
            if not np.array_equal(x.astype(float), y.astype(float), equal_nan=True):
                return False
        elif not ca[c].astype(str).equals(cb[c].astype(str)):
            return False
    return True


def merge(sources, dest) -> MergeSummary:
    """Combine the stores ``sources`` into the store ``dest``: one file per run key, always at
    ``<dest>/<problem>/<run_key>.parquet`` as read from the file's contents (wherever it sat in the
    source), so merging again changes nothing and a source that contains ``dest`` (or sits inside
    it) is handled. When ``dest`` already holds that run key, the finished result (``ok`` /
    ``diverged``) wins over a ``failed`` one and otherwise the destination's file is kept; two
    finished results that differ are a conflict (listed, destination kept). Damaged files (also
    another run's file, :func:`_run_frame`) and damaged examples files are skipped and listed, a
    run that cannot be written is listed and the merge goes on. Copies are atomic, so an
    interrupted merge can simply be run again."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"merge destination {dest} is a file, not a results directory")
    dest_r = dest.resolve()
    summary = MergeSummary()
    for src in map(Path, sources):
        if not src.is_dir():
            raise FileNotFoundError(f"no results directory {src}")
        src_r = src.resolve()
        if src_r == dest_r:
            continue
        skip_dest = dest_r.is_relative_to(src_r)  # dest inside the source: never merge dest into itself
        for path in run_files(src):
            if skip_dest and path.resolve().is_relative_to(dest_r):
                continue
            try:
                df = _run_frame(path)
            except Exception as e:
                summary.unreadable.append(f"{path} ({type(e).__name__}: {e})")
                continue
            target = inside(dest / str(df["problem"].iloc[0]) / f"{df['run_key'].iloc[0]}.parquet", dest)
            target_existed = target.exists()
            if target_existed:
                if target.resolve() == path.resolve():
                    summary.kept += 1
                    continue
                try:
                    there = _run_frame(target)
                except Exception:  # a damaged destination file is replaced
                    there = None
                if there is not None:
                    if _rank_of(there) > _rank_of(df) or (
                        _rank_of(there) == _rank_of(df) and (_rank_of(df) < 2 or same_result(there, df))
                    ):
                        summary.kept += 1
                        continue
                    if _rank_of(there) == _rank_of(df):
                        summary.conflicts.append(f"{path} differs from {target}")
                        continue
            try:
                _copy_run(path, target, summary)
            except OSError as e:
                summary.not_written.append(f"{path} to {target} ({type(e).__name__}: {e})")
                continue
            if target_existed:
                summary.replaced += 1
            else:
                summary.copied += 1
    return summary


def _copy_run(path: Path, target: Path, summary: MergeSummary) -> None:
    """Copy a run file and, written first, its examples file unless that is damaged (listed as
    unreadable in ``summary``)."""
    src = examples_path(path)
    if src.exists() or src.is_symlink():
        try:
            check_examples(src)
        except Exception as e:
            summary.unreadable.append(f"{src} ({type(e).__name__}: {e})")
        else:
            _write_atomic(examples_path(target), lambda tmp: shutil.copyfile(src, tmp))
    _write_atomic(target, lambda tmp: shutil.copyfile(path, tmp))


def load_results(*roots) -> pd.DataFrame:
    """Every stored run under the given roots (default ``results/runs``) as one frame, one row per
    recorded iteration. A run key found under several roots is loaded once (a finished result
    before a failed one, else the first root's). Unreadable files are reported with a warning and
    skipped."""
    roots = roots or (DEFAULT_ROOT,)
    best: dict[str, tuple[int, pd.DataFrame, Path]] = {}
    for root in roots:
        for path in run_files(root):
            try:
                df = _run_frame(path)
            except Exception as e:
                warnings.warn(f"skipping unreadable result file {path}: {e}", stacklevel=2)
                continue
            key, rank = str(df["run_key"].iloc[0]), _rank_of(df)
            if key in best and rank == best[key][0] == 2 and not same_result(best[key][1], df):
                warnings.warn(
                    f"run key {key} holds different results in {best[key][2]} and {path}; using the first", stacklevel=2
                )
            if key not in best or rank > best[key][0]:
                best[key] = (rank, df, path)
    frames = [df for _, df, _ in best.values()]
    if not frames:
        return pd.DataFrame(
            columns=["run_key", "problem", "solver", "status", "iteration", "wall_time", "loss", "x_error"]
        )
    df = upgrade(pd.concat(frames, ignore_index=True))
    return df.sort_values(["problem", "solver", "run_key", "iteration"], kind="stable").reset_index(drop=True)
