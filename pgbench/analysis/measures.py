"""Per-run quantities, each computed in exactly one place.

Every table, figure, the headline, Table 1, sweeps, the asv suite and the scripts read a run's
numbers through these functions, so "final held-out x error" or "first iteration reaching the
target" has one meaning everywhere. ``run`` is a :class:`~pgbench.record.RunRecord`, a
:class:`~pgbench.runner.RunResult`, or one run's stored frame (its ``kind`` column says whether
it is a training run); its rows may come sorted or not. Iteration numbering: see
:mod:`pgbench.record`.

Seeds are statistics: :func:`seed_stats` gives the median, the spread (min–max) and "k of n"
over per-seed values; nothing here averages curves of several seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import clocks
from ..numbers import fmt
from ..record import RunRecord


def _num(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def _first(run: pd.DataFrame, column: str, default=None):
    return run[column].iloc[0] if column in run and len(run) else default


def rows_and_kind(run) -> tuple[pd.DataFrame, str]:
    """The recorded rows of ``run`` (a record, a result or a stored frame) and its kind."""
    if isinstance(run, RunRecord):
        return run.rows, run.kind
    if isinstance(run, pd.DataFrame):
        return run, str(_first(run, "kind", "iterative"))
    return run.records, str(run.meta.get("kind", "iterative"))


def status_of(run) -> str:
    """The run's stored status (``ok``, ``diverged``, ``failed``); reading never reclassifies."""
    if isinstance(run, RunRecord):
        return run.status
    if isinstance(run, pd.DataFrame):
        return str(_first(run, "status", "failed"))
    return str(run.status)


def is_training(run) -> bool:
    return rows_and_kind(run)[1] == "training"


def _sorted(run: pd.DataFrame) -> pd.DataFrame:
    if "iteration" not in run:  # a run that failed before its first record
        return run.iloc[0:0]
    it = _num(run["iteration"])
    run = run[~np.isnan(it)] if len(it) else run
    return run.sort_values("iteration", kind="stable")


def _times(rows: pd.DataFrame, clock: str) -> np.ndarray:
    """The rows' times on ``clock`` (NaN where a store predates the column)."""
    col = clocks.column(clock)
    return _num(rows[col]) if col in rows else np.full(len(rows), np.nan)


def metric_column(run, metric: str = "x_error") -> str:
    """The column holding the run's *final* ``metric`` (``x_error``, ``loss``, ``nonfinite``):
    the held-out ``eval_<metric>`` for a training run, ``<metric>`` for an iterative run (which
    solves that same held-out batch)."""
    rows, kind = rows_and_kind(run)
    return f"eval_{metric}" if kind == "training" and f"eval_{metric}" in rows else metric


def final_value(run, metric: str = "x_error") -> float:
    """The last recorded finite-or-not value of the run's final ``metric`` (see
    :func:`metric_column`); NaN if it was never recorded."""
    return last_value(run, metric_column(run, metric))


def last_value(run, column: str) -> float:
    """The last non-NaN value of ``column`` in the run's rows (e.g. the training-batch
    ``x_error`` of a training run, or ``wall_time``); NaN if none."""
    rows = rows_and_kind(run)[0]
    if column not in rows:
        return math.nan
    v = _num(_sorted(rows)[column])
    v = v[~np.isnan(v)]
    return float(v[-1]) if len(v) else math.nan


def iterations_done(run) -> float:
    """Update steps done: the last recorded iteration (store format 0.2)."""
    run = rows_and_kind(run)[0]
    it = _num(run["iteration"]) if "iteration" in run else np.array([])
    it = it[~np.isnan(it)]
    return float(it.max()) if len(it) else math.nan


def first_reaching(
    run, target: float | None, metric: str = "x_error", clock: str = clocks.DEFAULT
) -> tuple[float, float]:
    """``(iteration, time)`` of the first record whose final-``metric`` column is at or below
    ``target``, the time on ``clock`` (:mod:`pgbench.clocks`); ``(nan, nan)`` if never (or no
    target). Training runs are evaluated every ``eval_every`` steps, so this is resolved to that
    cadence."""
    col = metric_column(run, metric)
    run = rows_and_kind(run)[0]
    if target is None or not math.isfinite(float(target)) or col not in run:
        return math.nan, math.nan
    r = _sorted(run)
    hit = np.flatnonzero(_num(r[col]) <= float(target))
    if not len(hit):
        return math.nan, math.nan
    return float(_num(r["iteration"])[hit[0]]), float(_times(r, clock)[hit[0]])


def value_at_time(run, seconds: float, metric: str = "x_error", clock: str = clocks.DEFAULT) -> float:
    """The run's final-``metric`` value (see :func:`metric_column`) as it stood at ``seconds`` on
    ``clock`` (:mod:`pgbench.clocks`): the last record at or before it, read from the run's curve; NaN if none was
    recorded by then. Training runs are evaluated every ``eval_every`` steps, so this is the last
    evaluation at or before ``seconds``."""
    col = metric_column(run, metric)
    run = rows_and_kind(run)[0]
    if col not in run or not math.isfinite(float(seconds)):
        return math.nan
    r = _sorted(run)
    v, t = _num(r[col]), _times(r, clock)
    ok = ~np.isnan(v) & (t <= float(seconds))
    return float(v[ok][-1]) if ok.any() else math.nan


def seconds_per_iteration(run, clock: str = clocks.DEFAULT) -> float:
    """Median seconds (on ``clock``, :mod:`pgbench.clocks`) per update step between consecutive
    records (robust to the first iteration's compilation and to evaluation pauses, which the
    clock excludes anyway). For a run that shared its program with other seeds
    (``vectorized_with``), this is the time of the whole program's step, not of one seed's."""
    r = _sorted(rows_and_kind(run)[0])
    if len(r) < 2:
        return math.nan
    d_it, d_t = np.diff(_num(r["iteration"])), np.diff(_times(r, clock))
    ok = (d_it > 0) & np.isfinite(d_t)
    return float(np.median(d_t[ok] / d_it[ok])) if ok.any() else math.nan


def running_average(values, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start), NaNs ignored: the
    running averages of the paper's learning curves."""
    s = pd.Series(np.asarray(values, dtype=float))
    return s.rolling(window, min_periods=1).mean().to_numpy()


def final_running_average(run, window: int = 1000, metric: str = "x_error", iteration: int | None = None) -> float:
    """The running average a learning curve of the paper ends at: the mean of the training-batch
    ``metric`` (the per-iteration ``x_error`` rows of a training run, not the held-out
    ``eval_*``) over the ``window`` iterations ending at ``iteration`` (default: the last one),
    :math:`\\tfrac1w\\sum_{k=K-w+1}^{K} e_k` (fewer values when fewer were recorded up to there,
    as :func:`running_average` at the start of a curve). NaN when the run does not record
    ``iteration``; +inf when a value in the window is not finite (the run blew up there)."""
    run = rows_and_kind(run)[0]
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


def target_of(run, default: float | None = None) -> float:
    """The x-error target declared with the run (``target_x_error``), else ``default``."""
    stored: Any = run.meta.target_x_error if isinstance(run, RunRecord) else _first(run, "target_x_error")
    try:
        v = float(stored)
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
    values: tuple[float, ...] = field(default=(), compare=False)  # one per seed asked about (NaN: none)

    def __str__(self) -> str:
        return format_stats(self)


def seed_stats(values, n: int | None = None) -> SeedStats:
    every = np.asarray(list(values), dtype=float)
    n = len(every) if n is None else n
    per_seed = tuple(float(x) for x in every) + (math.nan,) * max(n - len(every), 0)
    v = every[np.isfinite(every)]
    if not len(v):
        return SeedStats(math.nan, math.nan, math.nan, 0, n, per_seed)
    return SeedStats(float(np.median(v)), float(v.min()), float(v.max()), len(v), n, per_seed)


def format_stats(s: SeedStats, unit: str = "", digits: int = 3) -> str:
    """``"2.1× (1.8–2.5, 3/3 seeds)"``; one seed: ``"2.1× (1 seed)"``."""
    if s.k == 0:
        return f"nan (0/{s.n} seeds)"
    value = f"{fmt(s.median, digits)}{unit}"
    if s.n == 1:
        return f"{value} (1 seed)"
    spread = f"{fmt(s.lo, digits)}–{fmt(s.hi, digits)}, " if s.k > 1 else ""
    return f"{value} ({spread}{s.k}/{s.n} seeds)"


__all__ = [
    "running_average",
    "final_running_average",
    "metric_column",
    "final_value",
    "last_value",
    "iterations_done",
    "first_reaching",
    "value_at_time",
    "seconds_per_iteration",
    "target_of",
    "SeedStats",
    "seed_stats",
    "format_stats",
    "is_training",
    "rows_and_kind",
    "status_of",
]
