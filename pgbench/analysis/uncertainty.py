"""How sure a ranking is: percentile-bootstrap intervals over seeds, and over problems for the
performance-profile score.

* :func:`seed_interval` — the interval of a per-seed statistic (the median time to target, the
  median error at equal time): resample the n seed values with replacement B times, take the
  statistic of each resample, report its (1−c)/2 and (1+c)/2 quantiles (c = ``confidence``).
  Quantiles are read without interpolation (``inverted_cdf``), so ∞ (a seed that never reached
  the target) stays ∞ instead of becoming NaN.
* :func:`score_intervals` — the score's interval under both sources of chance a reader cares
  about: which seeds ran (each problem × method's seeds resampled, median time recomputed) and
  which problems are on the board (the problems resampled with replacement). Each replicate is
  scored exactly as :func:`pgbench.analysis.leaderboard.profile_scores` scores the point
  estimate (ratios to the replicate's best per problem, problems no method solved left out).
  Nested resampling is why this does not call ``scipy.stats.bootstrap`` (one-sample only); for
  one sample the two agree (tested).
* :func:`tied_rank` — a rank that admits the uncertainty: 1 + the number of methods that are
  better beyond doubt (their whole interval better than this method's). Methods whose intervals
  overlap share a rank.

The ranking's stability is the mean Kendall τ between the replicate scores and the point scores
(1: every replicate orders the methods as the point estimate does; 0: no agreement beyond chance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.9
RESAMPLES = 2000


def _bounds(confidence: float) -> tuple[float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return (1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0


def _resampled_medians(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``resamples`` bootstrap resamples of ``values`` (shape (resamples,))."""
    n = len(values)
    if n == 0:
        return np.full(resamples, np.inf)
    return np.median(values[rng.integers(0, n, size=(resamples, n))], axis=1)


def seed_interval(
    values, confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median of ``values`` (module docstring); NaN values
    are dropped, ∞ kept; ``(nan, nan)`` without values. One value gives a zero-width interval
    (no evidence of spread, not certainty: show k/n beside it)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return math.nan, math.nan
    lo, hi = _bounds(confidence)
    meds = _resampled_medians(v, resamples, np.random.default_rng(seed))
    return tuple(float(q) for q in np.quantile(meds, [lo, hi], method="inverted_cdf"))  # type: ignore[return-value]


def p_best(values: dict, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Per method, the bootstrap probability that its median is the lowest: each method's
    per-seed ``values`` (∞ allowed) resampled ``resamples`` times, the lowest median of each
    replicate counted (ties shared)."""
    if not values:
        return {}
    rng = np.random.default_rng(seed)
    names = list(values)
    meds = np.stack([_resampled_medians(np.asarray(values[n], dtype=float), resamples, rng) for n in names], axis=1)
    best = meds == meds.min(axis=1, keepdims=True)
    share = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return {n: float(s) for n, s in zip(names, share, strict=True)}


def _scores(t: np.ndarray, max_ratio: float) -> np.ndarray:
    """Profile scores from times ``t`` of shape (..., problems, methods): per problem the ratio to
    the best method, problems no method solved left out, the area up to ``max_ratio`` averaged
    over the solved problems (NaN where none is solved)."""
    best = t.min(axis=-1, keepdims=True)
    solved = np.isfinite(best)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(solved, t / np.where(solved, best, 1.0), np.inf)
    credit = np.where(solved, np.clip(max_ratio - r, 0.0, None), 0.0) / (max_ratio - 1.0)
    n = solved.sum(axis=-2)  # (..., 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, credit.sum(axis=-2) / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class ScoreUncertainty:
    """``table``: per method the point score, ``score_lo`` / ``score_hi``, ``rank_tied``
    (:func:`tied_rank`) and ``p_first`` (the fraction of replicates where it scores best, ties
    shared); ``stability``: mean Kendall τ between replicate and point scores; the settings."""

    table: pd.DataFrame
    stability: float
    confidence: float
    resamples: int


def score_intervals(
    times: pd.DataFrame,
    max_ratio: float,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> ScoreUncertainty:
    """Bootstrap the profile score (module docstring). ``times``: one row per problem × method ×
    seed with columns ``problem``, ``method``, ``time`` (seconds to target; ∞ or NaN where the
    seed never reached it, diverged or failed). A method with no seeds on a problem counts as
    never reaching the target there."""
    t = times.assign(time=pd.to_numeric(times["time"], errors="coerce").fillna(np.inf).astype(float))
    problems = sorted(t["problem"].unique())
    methods = sorted(t["method"].unique())
    cols = ["method", "score", "score_lo", "score_hi", "rank_tied", "p_first"]
    if not problems or not methods:
        return ScoreUncertainty(pd.DataFrame(columns=cols), math.nan, confidence, resamples)
    rng = np.random.default_rng(seed)
    groups = {key: g["time"].to_numpy() for key, g in t.groupby(["problem", "method"])}
    empty = np.array([], dtype=float)
    point = np.array([[np.median(groups.get((p, m), empty)) if (p, m) in groups else np.inf for m in methods]
                      for p in problems])  # fmt: skip
    med = np.stack(
        [
            np.stack([_resampled_medians(groups.get((p, m), empty), resamples, rng) for m in methods], axis=-1)
            for p in problems
        ]
    )  # (problems, resamples, methods)
    pick = rng.integers(0, len(problems), size=(resamples, len(problems)))
    replicate = med[pick, np.arange(resamples)[:, None], :]  # (resamples, problems, methods)
    score = _scores(point, max_ratio)
    boot = _scores(replicate, max_ratio)  # (resamples, methods)
    lo_q, hi_q = _bounds(confidence)
    filled = np.where(np.isnan(boot), -np.inf, boot)
    lo, hi = np.quantile(filled, [lo_q, hi_q], axis=0, method="inverted_cdf")
    best = filled.max(axis=1, keepdims=True)
    p_first = ((filled == best) / (filled == best).sum(axis=1, keepdims=True)).mean(axis=0)
    stability = _stability(score, boot)
    table = pd.DataFrame({"method": methods, "score": score, "score_lo": lo, "score_hi": hi, "p_first": p_first})
    table["rank_tied"] = tied_rank(table["score_lo"], table["score_hi"], higher_is_better=True)
    table = table.sort_values(["score", "method"], ascending=[False, True]).reset_index(drop=True)
    return ScoreUncertainty(table[cols], stability, confidence, resamples)


def _stability(score: np.ndarray, boot: np.ndarray) -> float:
    """Mean Kendall τ between the point scores and each replicate's (a replicate without a solved
    problem, or with every method tied, counts as τ = 0: it confirms no order); NaN when the point
    scores themselves do not order the methods."""
    if len(score) < 2 or not np.all(np.isfinite(score)) or np.ptp(score) == 0:
        return math.nan
    taus = [
        float(stats.kendalltau(score, b).statistic) if np.all(np.isfinite(b)) and np.ptp(b) > 0 else 0.0 for b in boot
    ]
    return float(np.mean(taus))


def tied_rank(lo, hi, higher_is_better: bool = False) -> list[int]:
    """Per method: 1 + the number of methods better beyond doubt, i.e. whose interval lies wholly
    on the better side of this method's (lower times: their ``hi`` below this ``lo``; higher
    scores: their ``lo`` above this ``hi``). Overlapping intervals share a rank."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if higher_is_better:
        return [1 + int(np.sum(lo > h)) for h in hi]
    return [1 + int(np.sum(hi < low)) for low in lo]


__all__ = ["p_best", "seed_interval", "score_intervals", "tied_rank", "ScoreUncertainty", "CONFIDENCE", "RESAMPLES"]
