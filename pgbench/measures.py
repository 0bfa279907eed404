"""What a stored run means: each run-level quantity computed in exactly one place.

Every table, figure, the headline, Table 1, sweeps, the asv suite and the scripts read a run's
numbers through these functions, so "final held-out x error" or "first iteration reaching the
target" has one meaning everywhere. ``run`` is the records of one run (one ``run_key``) as stored,
one row per recorded iteration, sorted or not.

Iteration numbering (store format 0.2): ``iteration`` counts update steps done. Iterative solvers
record iteration 0 (the initial guess) then 1, 2, …; training runs record 1, 2, … (the row of
iteration k holds the k-th step's training-batch loss and, where evaluated, the held-out metrics
after k updates), so a budget of 100 reaches iteration 100. Stores written before (0-based
training rows) are renumbered on load (:func:`upgrade`).

Seeds are statistics: :func:`seed_stats` gives the median, the spread (min–max) and "k of n"
over per-seed values; nothing here averages curves of several seeds.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the store format whose training rows are numbered from 1 (see the module docstring)
STORE_FORMAT = "0.2"
_CONFIG_FIELDS = ("problem_settings", "hyperparameters", "budget_iterations", "max_time", "numerics")


def _num(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def _first(run: pd.DataFrame, column: str, default=None):
    return run[column].iloc[0] if column in run and len(run) else default


def is_training(run: pd.DataFrame) -> bool:
    return _first(run, "kind") == "training"


def _sorted(run: pd.DataFrame) -> pd.DataFrame:
    it = _num(run["iteration"]) if "iteration" in run else np.array([])
    run = run[~np.isnan(it)] if len(it) else run
    return run.sort_values("iteration", kind="stable")


def metric_column(run: pd.DataFrame, metric: str = "x_error") -> str:
    """The column holding the run's *final* ``metric`` (``x_error``, ``loss``, ``nonfinite``):
    the held-out ``eval_<metric>`` for a training run, ``<metric>`` for an iterative run (which
    solves that same held-out batch)."""
    return f"eval_{metric}" if is_training(run) and f"eval_{metric}" in run else metric


def final_value(run: pd.DataFrame, metric: str = "x_error") -> float:
    """The last recorded finite-or-not value of the run's final ``metric`` (see
    :func:`metric_column`); NaN if it was never recorded."""
    col = metric_column(run, metric)
    if col not in run:
        return math.nan
    v = _num(_sorted(run)[col])
    v = v[~np.isnan(v)]
    return float(v[-1]) if len(v) else math.nan


def iterations_done(run: pd.DataFrame) -> float:
    """Update steps done: the last recorded iteration (store format 0.2)."""
    it = _num(run["iteration"]) if "iteration" in run else np.array([])
    it = it[~np.isnan(it)]
    return float(it.max()) if len(it) else math.nan


def first_reaching(run: pd.DataFrame, target: float, metric: str = "x_error") -> tuple[float, float]:
    """``(iteration, wall_time)`` of the first record whose final-``metric`` column is at or
    below ``target``; ``(nan, nan)`` if never (or no target). Training runs are evaluated every
    ``eval_every`` steps, so this is resolved to that cadence."""
    col = metric_column(run, metric)
    if target is None or not math.isfinite(float(target)) or col not in run:
        return math.nan, math.nan
    r = _sorted(run)
    hit = np.flatnonzero(_num(r[col]) <= float(target))
    if not len(hit):
        return math.nan, math.nan
    return float(_num(r["iteration"])[hit[0]]), float(_num(r["wall_time"])[hit[0]])


def value_at_time(run: pd.DataFrame, seconds: float, metric: str = "x_error") -> float:
    """The run's final-``metric`` value (see :func:`metric_column`) as it stood at wall time
    ``seconds``: the last record at or before it, read from the run's curve; NaN if none was
    recorded by then. Training runs are evaluated every ``eval_every`` steps, so this is the last
    evaluation at or before ``seconds``."""
    col = metric_column(run, metric)
    if col not in run or not math.isfinite(float(seconds)):
        return math.nan
    r = _sorted(run)
    v, t = _num(r[col]), _num(r["wall_time"])
    ok = ~np.isnan(v) & (t <= float(seconds))
    return float(v[ok][-1]) if ok.any() else math.nan


def seconds_per_iteration(run: pd.DataFrame) -> float:
    """Median wall seconds per update step between consecutive records (robust to the first
    iteration's compilation and to evaluation pauses, which the clock excludes anyway)."""
    r = _sorted(run)
    if len(r) < 2:
        return math.nan
    d_it, d_t = np.diff(_num(r["iteration"])), np.diff(_num(r["wall_time"]))
    ok = (d_it > 0) & np.isfinite(d_t)
    return float(np.median(d_t[ok] / d_it[ok])) if ok.any() else math.nan


def running_average(values, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start), NaNs ignored: the
    running averages of the paper's learning curves."""
    s = pd.Series(np.asarray(values, dtype=float))
    return s.rolling(window, min_periods=1).mean().to_numpy()


def final_running_average(run: pd.DataFrame, window: int = 1000, metric: str = "x_error",
                          iteration: int | None = None) -> float:
    """The running average a learning curve of the paper ends at: the mean of the training-batch
    ``metric`` (the per-iteration ``x_error`` rows of a training run, not the held-out
    ``eval_*``) over the ``window`` iterations ending at ``iteration`` (default: the last one),
    :math:`\\tfrac1w\\sum_{k=K-w+1}^{K} e_k` (fewer values when fewer were recorded up to there,
    as :func:`running_average` at the start of a curve). NaN when the run does not record
    ``iteration``; +inf when a value in the window is not finite (the run blew up there)."""
    if metric not in run or "iteration" not in run:
        return math.nan
    r = _sorted(run).drop_duplicates("iteration", keep="last")
    it = _num(r["iteration"])
    if iteration is not None:
        r, it = r[it <= iteration], it[it <= iteration]
        if not len(it) or it[-1] != iteration:
            return math.nan
    v = _num(r[metric])[-window:]
    if not len(v):
        return math.nan
    return float(v.mean()) if np.isfinite(v).all() else math.inf


def _numerics_of_config(numerics) -> str:
    """The run's ``numerics`` without ``cpu_cores`` (the cores the process could use: a property
    of the machine, like its name, not of the configuration), as canonical JSON."""
    try:
        n = json.loads(numerics) if isinstance(numerics, str) else dict(numerics)
    except (TypeError, ValueError):
        return str(numerics)
    n.pop("cpu_cores", None)
    return json.dumps(n, sort_keys=True)


def config_hash(row) -> str:
    """8 hex digits identifying a configuration across seeds: problem settings,
    hyperparameters, budget and numerics (everything of the run key but the seed, backend,
    device and machine, the visible core count included). ``row``: any row (or dict) of the run."""
    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    payload = json.dumps([_numerics_of_config(get(k)) if k == "numerics" else str(get(k)) for k in _CONFIG_FIELDS])
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def target_of(run: pd.DataFrame, default: float | None = None) -> float:
    """The x-error target stored with the run (``target_x_error``), else ``default``."""
    v = _first(run, "target_x_error")
    try:
        v = float(v)
    except (TypeError, ValueError):
        v = math.nan
    if math.isnan(v) and default is not None:
        v = float(default)
    return v


# --- seeds as statistics --------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedStats:
    """Per-seed values reduced to a median, its spread and how many seeds contributed.
    ``n`` counts every seed asked about; ``k`` those with a finite value (diverged or failed seeds
    have none and are never mixed in)."""

    median: float
    lo: float
    hi: float
    k: int
    n: int

    def __str__(self) -> str:
        return format_stats(self)


def seed_stats(values, n: int | None = None) -> SeedStats:
    v = np.asarray(list(values), dtype=float)
    n = len(v) if n is None else n
    v = v[np.isfinite(v)]
    if not len(v):
        return SeedStats(math.nan, math.nan, math.nan, 0, n)
    return SeedStats(float(np.median(v)), float(v.min()), float(v.max()), len(v), n)


def fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "nan"
    if abs(v) >= 1e4 or (0 < abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def format_stats(s: SeedStats, unit: str = "", digits: int = 3) -> str:
    """``"2.1× (1.8–2.5, 3/3 seeds)"``; one seed: ``"2.1× (1 seed)"``."""
    if s.k == 0:
        return f"nan (0/{s.n} seeds)"
    value = f"{fmt(s.median, digits)}{unit}"
    if s.n == 1:
        return f"{value} (1 seed)"
    spread = f"{fmt(s.lo, digits)}–{fmt(s.hi, digits)}, " if s.k > 1 else ""
    return f"{value} ({spread}{s.k}/{s.n} seeds)"


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


__all__ = ["STORE_FORMAT", "running_average", "final_running_average", "metric_column", "final_value", "iterations_done", "first_reaching", "value_at_time",
           "seconds_per_iteration", "config_hash", "target_of", "SeedStats", "seed_stats", "format_stats",
           "fmt", "upgrade", "is_training"]
