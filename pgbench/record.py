"""What a stored run is: the one declaration of its fields, its key and its configuration.

A run is a :class:`RunMeta` (who ran what, how) plus its recorded rows (one per recorded
iteration) and an outcome (``status``, ``message``). :class:`RunRecord` holds the three; a store
file is ``RunRecord.to_frame()`` (metadata broadcast to every row) and reads back with
:meth:`RunRecord.from_frame`.

Each field of :class:`RunMeta` states its role once:

* **key** fields define the numbers a run produces; their hash is the run key
  (:func:`run_key`: problem, scale, problem settings, solver, hyperparameters, backend, device,
  device name, numerics, seed, budget). Not the machine: the same run repeated on an identical
  device with the same numerics is the same run.
* **config** fields identify a configuration across seeds (:func:`config_hash`: problem and
  solver ids, problem settings, hyperparameters, budget, numerics without the visible core
  count). Runs of two solver ids (``gd-v0``, ``gd-v1``) are never one configuration, whatever
  their labels.
* every other field is **about** the run: how to show it (``label``, ``kind``), what its error
  measures (``x_error_name``), the target declared when it ran, where and by which version it
  ran, the divergence rule that classified it (:mod:`pgbench.divergence`) and, for a run that
  shared a program with other seeds, ``vectorized_with``.

Iteration numbering (store format 0.2): ``iteration`` counts update steps done. Iterative solvers
record iteration 0 (the initial guess) then 1, 2, …; training runs record 1, 2, …, so a budget of
100 reaches iteration 100. Stores written before (0-based training rows) are renumbered on load
(:func:`upgrade`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

#: the store format whose training rows are numbered from 1 (see the module docstring)
STORE_FORMAT = "0.2"


def _key(column: str | None = None, *, config: bool = False, json_: bool = False):
    return field(metadata={"key": True, "config": config, "column": column, "json": json_})


def _key_if_set(*, config: bool = False):
    """A key field added after runs were stored: it defaults to None and is left out of the run
    key and the configuration hash while None, so the keys of every run that does not set it stay
    what they were."""
    return field(default=None, metadata={"key": True, "config": config, "column": None, "json": False, "if_set": True})


def _about(default: Any = None, *, column: str | None = None, json_: bool = False):
    return field(default=default, metadata={"key": False, "config": False, "column": column, "json": json_})


@dataclass(frozen=True)
class RunMeta:
    """Everything a run states about itself, each field with its role (module docstring)."""

    problem: str = _key(config=True)  # versioned problem id, e.g. "sin-v0"
    scale: str = _key()  # "quick" / "paper"
    problem_settings: dict = _key(config=True, json_=True)
    solver: str = _key(config=True)  # versioned solver id, e.g. "pg-v0"
    hyperparameters: dict = _key(config=True, json_=True)
    backend: str = _key()  # "torch" / "jax"
    device: str = _key()  # "cpu" / "cuda"
    device_name: str = _key()
    numerics: dict = _key(config=True, json_=True)  # library versions, threads, determinism flags
    seed: int = _key()
    iterations: int = _key("budget_iterations", config=True)  # the budget in update steps
    max_time: float | None = _key(config=True)  # the budget in seconds, if any
    max_time_clock: str | None = _key_if_set(config=True)  # the clock of max_time and time_cap: None = wall, "cpu"
    time_cap: float | None = _key_if_set(config=True)  # seconds after which an unfinished run is over_budget
    kind: str = _about("iterative")  # "iterative" / "training"
    label: str | None = _about()  # the method's display name
    x_error_name: str | None = _about()  # what ``x_error`` measures
    target_x_error: float | None = _about()  # the problem's declared target when it ran
    machine: str | None = _about()  # the host that ran it
    backend_settings: dict = _about(None, json_=True)  # speed settings that do not change numbers
    pgbench_version: str | None = _about()
    store_format: str | None = _about()
    divergence_rule: dict | None = _about(None, json_=True)  # the rule that classified it (name, parameters)
    vectorized_with: dict | None = _about(None, json_=True)  # seeds sharing its program, read cadence

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, meta: dict) -> RunMeta:
        """From a plan's ``meta`` dict (unknown keys are an error: a field not declared here would
        be silently dropped by the store)."""
        unknown = sorted(set(meta) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"undeclared run metadata {unknown}: declare them in pgbench.record.RunMeta")
        return cls(**meta)


FIELD_NAMES = tuple(f.name for f in fields(RunMeta))
KEY_FIELDS = tuple(f.name for f in fields(RunMeta) if f.metadata["key"])
CONFIG_FIELDS = tuple(f.name for f in fields(RunMeta) if f.metadata["config"])
#: key fields left out of the key (and the configuration hash) while None (:func:`_key_if_set`)
IF_SET_FIELDS = tuple(f.name for f in fields(RunMeta) if f.metadata.get("if_set"))
JSON_FIELDS = tuple(f.name for f in fields(RunMeta) if f.metadata["json"])
#: the column each field is stored under (``iterations`` → ``budget_iterations``)
COLUMNS = {f.name: f.metadata["column"] or f.name for f in fields(RunMeta)}
_FIELD_OF = {c: n for n, c in COLUMNS.items()}
#: per-run columns of a store file that are not recorded rows (metadata and outcome)
OUTCOME_COLUMNS = ("run_key", "status", "message", "traceback", "created")
#: columns the analysis adds to a loaded frame (:func:`pgbench.analysis.data.with_device`, ``latest_configs``)
DERIVED_COLUMNS = ("device_key", "config")
META_COLUMNS = frozenset({*COLUMNS.values(), *OUTCOME_COLUMNS})
#: outcomes a run keeps once stored (a stored run with one of them is reused, never rerun):
#: ``over_budget`` is a run stopped at its ``time_cap`` before its iteration budget was done
FINISHED = ("ok", "diverged", "over_budget")
#: the recorded columns every run has (a run that failed before its first record: one row of NaN)
ROW_COLUMNS = ("iteration", "wall_time", "loss", "x_error")
#: the columns every store file has (every store format): its identity, what readers group and
#: select by, and the recorded rows; a file without one of them is damaged (:func:`check_frame`)
REQUIRED_COLUMNS = (
    "run_key",
    "problem",
    "scale",
    "solver",
    "label",
    "kind",
    "backend",
    "device_name",
    "machine",
    "seed",
    "status",
    *ROW_COLUMNS,
)
_NUMBERS = ("seed", *ROW_COLUMNS)


def _json(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def run_key(meta: dict | RunMeta) -> str:
    """16 hex digits: the hash of the key fields (:data:`KEY_FIELDS`) of ``meta``."""
    m = meta.as_dict() if isinstance(meta, RunMeta) else meta
    fields_ = {k: m.get(k) for k in KEY_FIELDS if not (k in IF_SET_FIELDS and _missing(m.get(k)))}
    return hashlib.sha256(_json(fields_).encode()).hexdigest()[:16]


def _numerics_of_config(numerics) -> str:
    """``numerics`` without ``cpu_cores`` (the cores the process could use: a property of the
    machine, like its name, not of the configuration), as canonical JSON."""
    try:
        n = json.loads(numerics) if isinstance(numerics, str) else dict(numerics)
    except (TypeError, ValueError):
        return str(numerics)
    n.pop("cpu_cores", None)
    return json.dumps(n, sort_keys=True)


def config_hash(row) -> str:
    """8 hex digits identifying a configuration across seeds (:data:`CONFIG_FIELDS`, from their
    stored columns). ``row``: a stored row (a dict or a Series) of the run."""
    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    values = [
        _numerics_of_config(get(COLUMNS[k])) if k == "numerics" else str(get(COLUMNS[k]))
        for k in ("problem", "solver", "problem_settings", "hyperparameters", "iterations", "max_time", "numerics")
    ]
    values += [f"{k}={get(COLUMNS[k])}" for k in IF_SET_FIELDS if not _missing(get(COLUMNS[k]))]
    payload = json.dumps(values)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return _json(v)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _from_column(name: str, v):
    if _missing(v):
        return None
    if name in JSON_FIELDS and isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(frozen=True)
class RunRecord:
    """One run: its metadata, its recorded rows and its outcome. ``rows`` holds the recorded
    columns only (``iteration``, ``wall_time``, ``cpu_time``, ``loss``, ``x_error``, extras, ``eval_*``), sorted
    by iteration. ``config`` is :func:`config_hash`; ``created`` when the file was written."""

    meta: RunMeta
    rows: pd.DataFrame
    status: str
    message: str = ""
    traceback: str = ""
    created: str | None = None
    config: str = ""
    run_key: str = ""

    @property
    def kind(self) -> str:
        return self.meta.kind

    @property
    def training(self) -> bool:
        return self.meta.kind == "training"

    @classmethod
    def from_result(cls, result) -> RunRecord:
        """A :class:`~pgbench.runner.RunResult` (records, status, message, meta dict; its plan's
        ``run_key`` when it carries one, else computed here)."""
        meta = RunMeta.from_dict(result.meta)
        rows = result.records.copy()
        rec = cls(
            meta,
            rows,
            result.status,
            result.message or "",
            getattr(result, "traceback", "") or "",
            None,
            "",
            getattr(result, "run_key", "") or run_key(meta),
        )
        return replace(rec, config=config_hash(rec._meta_columns()))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> RunRecord:
        """One run's stored frame (all rows share ``run_key``), upgraded to the current format."""
        frame = upgrade(frame)
        first = frame.iloc[0]
        values = {_FIELD_OF[c]: _from_column(_FIELD_OF[c], first[c]) for c in frame.columns if c in _FIELD_OF}
        meta = RunMeta(
            **{
                "problem": None,
                "scale": None,
                "problem_settings": {},
                "solver": None,
                "hyperparameters": {},
                "backend": None,
                "device": None,
                "device_name": None,
                "numerics": {},
                "seed": None,
                "iterations": None,
                "max_time": None,
                **values,
            }
        )
        rows = frame[
            [c for c in frame.columns if c not in META_COLUMNS and c not in DERIVED_COLUMNS and not c.startswith("hp_")]
        ]
        if "iteration" in rows:
            it = pd.to_numeric(rows["iteration"], errors="coerce")
            rows = rows[it.notna()].sort_values("iteration", kind="stable")
        rows = rows.reset_index(drop=True)

        def text(c):
            v = first.get(c)
            return "" if _missing(v) else str(v)

        key = text("run_key") or run_key(meta)
        return cls(
            meta,
            rows,
            text("status") or "failed",
            text("message"),
            text("traceback"),
            text("created") or None,
            config_hash(first),
            key,
        )

    def _meta_columns(self) -> dict:
        m = self.meta.as_dict()
        return {COLUMNS[k]: (_json(v) if k in JSON_FIELDS else v) for k, v in m.items()}

    def to_frame(self) -> pd.DataFrame:
        """The store file's frame: metadata and outcome broadcast to every recorded row; a run
        that failed before its first record keeps one row carrying its status."""
        df = self.rows
        if df.empty:
            df = pd.DataFrame(
                {
                    "iteration": pd.array([pd.NA], dtype="Int64"),
                    "wall_time": [np.nan],
                    "loss": [np.nan],
                    "x_error": [np.nan],
                }
            )
        m = self.meta
        cols = {
            "run_key": self.run_key,
            **self._meta_columns(),
            "label": m.label or m.solver,
            "status": self.status,
            "message": self.message,
            "traceback": self.traceback,
            "created": self.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        cols.update({f"hp_{k}": _scalar(v) for k, v in (m.hyperparameters or {}).items()})
        meta_df = pd.DataFrame({k: [v] * len(df) for k, v in cols.items()}, index=df.index)
        return pd.concat([meta_df, df], axis=1)


def check_frame(frame: pd.DataFrame, key: str | None = None) -> None:
    """Raise ValueError (naming what is wrong) unless ``frame`` is one stored run in the record
    schema: rows, every :data:`REQUIRED_COLUMNS` column, numbers in ``seed`` and the recorded
    columns, text in the others, one ``run_key`` (equal to ``key``, the file's name, when given).
    A parquet footer damaged where no checksum looks (a renamed column, a changed type) fails it."""
    if frame.empty:
        raise ValueError("no rows")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"no column {', '.join(missing)}")
    for c in REQUIRED_COLUMNS:
        s = frame[c]
        number = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if c in _NUMBERS and not number:
            raise ValueError(f"column {c} holds {s.dtype}, not numbers")
        if c not in _NUMBERS and not (s.isna().all() or pd.api.types.is_string_dtype(s)):
            raise ValueError(f"column {c} holds {s.dtype}, not text")
    keys = frame["run_key"].unique()
    if len(keys) != 1:
        raise ValueError(f"{len(keys)} run keys in one file")
    if key is not None and str(keys[0]) != key:
        raise ValueError(f"it holds run key {keys[0]}, not the {key} its name says (another run's file)")


def records(frame: pd.DataFrame) -> Iterator[RunRecord]:
    """The runs of a loaded store frame (:func:`pgbench.store.load_results`), in frame order."""
    if frame is None or frame.empty or "run_key" not in frame:
        return
    for _, g in frame.groupby("run_key", sort=False):
        yield RunRecord.from_frame(g)


def as_record(run) -> RunRecord:
    """A :class:`RunRecord` from a record, a :class:`~pgbench.runner.RunResult` or one run's
    stored frame."""
    if isinstance(run, RunRecord):
        return run
    if isinstance(run, pd.DataFrame):
        return RunRecord.from_frame(run)
    return RunRecord.from_result(run)


# --- store format ---------------------------------------------------------------------------------


def _old_format(frame: pd.DataFrame) -> pd.Series:
    """Rows written before store format 0.2 (training rows numbered from 0)."""
    if "store_format" in frame:
        return frame["store_format"].isna() | (frame["store_format"].astype(str) < STORE_FORMAT)
    return pd.Series(True, index=frame.index)


def upgrade(frame: pd.DataFrame) -> pd.DataFrame:
    """A stored frame in the current store format: training rows of older stores (0-based
    iterations) are renumbered from 1."""
    if frame.empty or "kind" not in frame or "iteration" not in frame:
        return frame
    shift = _old_format(frame) & (frame["kind"] == "training")
    if not shift.any():
        return frame
    frame = frame.copy()
    it = pd.to_numeric(frame["iteration"], errors="coerce")
    frame["iteration"] = it.where(~shift, it + 1)
    frame["store_format"] = STORE_FORMAT
    return frame


__all__ = [
    "RunMeta",
    "RunRecord",
    "run_key",
    "config_hash",
    "records",
    "as_record",
    "upgrade",
    "STORE_FORMAT",
    "KEY_FIELDS",
    "CONFIG_FIELDS",
    "COLUMNS",
    "META_COLUMNS",
    "REQUIRED_COLUMNS",
    "ROW_COLUMNS",
    "check_frame",
    "FINISHED",
]
