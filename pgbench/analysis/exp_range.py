"""NeurIPS Fig. 2 (inverting the exponential) as a measured claim: over which x* ∈ [−12, 0] does a
trained network invert y* = e^{x*}?

The figure plots the prediction x against x* for the nets at step 10,000 ("SGD", "Adam" and
"Rescaled", the authors' ``Sign`` variant): the rescaled update follows the identity over the whole
range, SGD and Adam only near x* = 0, where the gradients through e^x do not vanish.

The measure reads the held-out examples stored next to each run (``<run_key>.examples.npz``:
``x_true``, ``x_pred``; :mod:`pgbench.examples`). Per run, the range [lo, hi] is cut into bins of
``width``; the **fitted width** is the length of the run of consecutive bins, starting at x* = hi
(= 0) and going down, whose mean |x − x*| is at most ``tol`` (bins without examples end the run).
The full range gives 12, a net that fits nothing 0.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..store import run_files
from .claim_measures import Measured
from .measures import SeedStats, format_stats, seed_stats

RANGE = (-12.0, 0.0)
BIN_WIDTH = 1.0
TOLERANCE = 0.5  # mean |x − x*| in a bin that still counts as fitted (one twelfth of the range)
FIGURE_LABELS = ("DP (SGD)", "DP (Adam)", "Rescaled (sign)")


def binned_error(x_true, x_pred, lo: float = RANGE[0], hi: float = RANGE[1], width: float = BIN_WIDTH):
    """``(upper bin edges, mean |x − x*| per bin)`` over [lo, hi], bins of ``width`` from ``hi``
    downwards (NaN where a bin holds no example or only non-finite predictions)."""
    xt = np.asarray(x_true, dtype=np.float64).reshape(-1)
    err = np.abs(np.asarray(x_pred, dtype=np.float64).reshape(-1) - xt)
    n = round((hi - lo) / width)
    uppers = hi - width * np.arange(n)
    out = np.full(n, np.nan)
    for i, up in enumerate(uppers):
        inside = (xt <= up) & (xt > up - width) if i else (xt <= up) & (xt >= up - width)
        e = err[inside & np.isfinite(err)]
        if e.size:
            out[i] = e.mean()
    return uppers, out


def fitted_width(
    x_true, x_pred, tol: float = TOLERANCE, lo: float = RANGE[0], hi: float = RANGE[1], width: float = BIN_WIDTH
) -> float:
    """Length of the x* interval from ``hi`` down over which every bin's mean |x − x*| ≤ ``tol``."""
    _, err = binned_error(x_true, x_pred, lo, hi, width)
    fitted = 0
    for e in err:
        if not (np.isfinite(e) and e <= tol):
            break
        fitted += 1
    return fitted * width


def stored_examples(roots: Iterable, problem: str = "exp-v0") -> list[dict]:
    """The held-out examples of every stored run of ``problem`` under ``roots``:
    ``{"meta": dict, "x_true": array, "x_pred": array}`` (unreadable files are skipped)."""
    out = []
    for root in roots:
        for path in run_files(root):
            ex = path.with_suffix(".examples.npz")
            if not ex.exists():
                continue
            try:
                with np.load(ex) as f:
                    meta = json.loads(str(f["meta"]))
                    if meta.get("problem") == problem:
                        out.append({"meta": meta, "x_true": f["x_true"], "x_pred": f["x_pred"]})
            except (OSError, ValueError, KeyError):
                continue
    return out


@dataclass(frozen=True)
class RangeResult:
    """Per method label: the per-seed fitted widths and their :class:`SeedStats`."""

    widths: dict[str, dict[int, float]]
    stats: dict[str, SeedStats]
    run_keys: tuple[str, ...]


def _per_seed(examples: list[dict], labels: Iterable[str], scale: str | None, value) -> tuple[dict, list[str]]:
    """``({label: {seed: value(example)}}, run keys)`` over the examples of ``labels`` (of ``scale``
    only, when given)."""
    out: dict[str, dict[int, float]] = {label: {} for label in labels}
    keys = []
    for ex in examples:
        meta = ex["meta"]
        if meta.get("label") not in out or (scale is not None and meta.get("scale") != scale):
            continue
        out[meta["label"]][int(meta.get("seed", 0))] = value(ex)
        keys.append(str(meta.get("run_key", "")))
    return out, keys


def fitted_widths(
    examples: list[dict], labels: Iterable[str] = FIGURE_LABELS, tol: float = TOLERANCE, scale: str | None = None
) -> RangeResult:
    """Fitted width per label and seed from ``examples`` (:func:`stored_examples`); ``scale``
    keeps runs of that scale only. Diverged runs count with width 0 (their predictions are not
    finite, so no bin is fitted)."""
    widths, keys = _per_seed(examples, labels, scale, lambda ex: fitted_width(ex["x_true"], ex["x_pred"], tol))
    stats = {label: seed_stats(list(w.values())) for label, w in widths.items()}
    return RangeResult(widths, stats, tuple(sorted({k[:8] for k in keys if k})))


def range_claim(
    result: RangeResult, rescaled: str = "Rescaled (sign)", baselines=("DP (SGD)", "DP (Adam)"), full: float = 11.0
) -> Measured | None:
    """The figure's claim per seed: the rescaled net fits at least ``full`` (the plotted [−11, 0])
    and fits a wider range than every baseline. ``holds`` = (seeds where it holds, seeds with all
    three methods); None when no seed has them all."""
    seeds = set(result.widths.get(rescaled, {}))
    for b in baselines:
        seeds &= set(result.widths.get(b, {}))
    if not seeds:
        return None
    k = 0
    for s in sorted(seeds):
        r = result.widths[rescaled][s]
        k += int(r >= full and all(r > result.widths[b][s] for b in baselines))
    text = "; ".join(f"{lab} {format_stats(result.stats[lab])}" for lab in (rescaled, *baselines))
    return Measured(
        f"fitted width of x* from 0: {text}",
        f"held-out examples, |x − x*| ≤ {TOLERANCE:g} per bin",
        result.run_keys,
        result.stats[rescaled],
        holds=(k, len(seeds)),
    )


def error_order_claim(
    examples: list[dict], order=("Rescaled (sign)", "DP (Adam)", "DP (SGD)"), scale: str | None = None
) -> Measured | None:
    """The figure's ordering read as accuracy: mean held-out |x − x*| over x* ∈ [−12, 0] increases
    along ``order`` (rescaled best, then Adam, then SGD). ``holds`` = (seeds where it does, seeds
    with every method); a diverged run's non-finite predictions make it last. None without such a seed."""

    def mean_error(ex) -> float:
        e = np.abs(np.asarray(ex["x_pred"], dtype=np.float64) - np.asarray(ex["x_true"], dtype=np.float64))
        return float(e.mean()) if np.all(np.isfinite(e)) else np.inf

    errors, keys = _per_seed(examples, order, scale, mean_error)
    seeds = set.intersection(*(set(v) for v in errors.values()))
    if not seeds:
        return None
    k = sum(all(errors[a][s] < errors[b][s] for a, b in itertools.pairwise(order)) for s in seeds)
    stats = {lab: seed_stats(list(v.values())) for lab, v in errors.items()}
    text = " < ".join(f"{lab} {format_stats(stats[lab])}" for lab in order)
    runs = tuple(sorted({k_[:8] for k_ in keys if k_}))
    return Measured(
        f"mean |x − x*|: {text}", "held-out examples, x* ∈ [−12, 0]", runs, stats[order[0]], holds=(k, len(seeds))
    )


FIGURE_STEP = 10_000  # the figure shows the nets at step 10,000


def _reached(df, labels, step: int) -> bool:
    """Every run of ``labels`` in the frame recorded ``step``."""
    d = df[df["label"].isin(labels)] if not df.empty else df
    if d.empty or set(d["label"]) != set(labels):
        return False
    return bool((d.groupby("run_key")["iteration"].max() >= step).all())


def range_measure(rescaled: str = "Rescaled (sign)", baselines=("DP (SGD)", "DP (Adam)"), full: float = 11.0):
    """Headline measure ``measure(frame, at the paper's point?, examples)`` of :func:`range_claim`
    from the held-out examples of the frame's runs; at the paper's point only when every run
    reached the figure's step."""

    def measure(df, paper_point, examples):
        if paper_point and not _reached(df, (rescaled, *baselines), FIGURE_STEP):
            return None
        return range_claim(fitted_widths(examples, (rescaled, *baselines)), rescaled, baselines, full)

    return measure


def order_measure(order=("Rescaled (sign)", "DP (Adam)", "DP (SGD)")):
    """Headline measure ``measure(frame, at the paper's point?, examples)`` of
    :func:`error_order_claim`; at the paper's point only when every run reached the figure's step."""

    def measure(df, paper_point, examples):
        if paper_point and not _reached(df, order, FIGURE_STEP):
            return None
        return error_order_claim(examples, order)

    return measure


__all__ = [
    "range_measure",
    "order_measure",
    "binned_error",
    "fitted_width",
    "stored_examples",
    "fitted_widths",
    "range_claim",
    "error_order_claim",
    "RangeResult",
]
