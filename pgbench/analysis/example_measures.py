"""Claims read from the held-out examples stored beside the runs (``<run_key>.examples.npz``:
``x_true``, ``x_pred``; :mod:`pgbench.examples`), other than NeurIPS Fig. 2's
(:mod:`pgbench.analysis.exp_range`). Each factory returns ``measure(frame, at the paper's point?,
examples) -> Measured | None`` (a :class:`~pgbench.analysis.claim.Claim` with ``examples=True``).

* :func:`off_centre_ratio`: per seed, a method's mean error of one unknown (the wave packet's
  position ξ0, column 0) on the examples whose true value lies at least ``far`` from the centre,
  divided by its mean error on those within ``near`` of it: how much worse it does away from
  where its initial guess sits.
"""

from __future__ import annotations

import numpy as np

from ..numbers import fmt
from .claim_measures import Measured
from .measures import format_stats, seed_stats


def _ratio(ex: dict, centre: float, near: float, far: float, column: int) -> float:
    xt = np.asarray(ex["x_true"], dtype=np.float64).reshape(len(ex["x_true"]), -1)[:, column]
    xp = np.asarray(ex["x_pred"], dtype=np.float64).reshape(len(ex["x_pred"]), -1)[:, column]
    err, d = np.abs(xp - xt), np.abs(xt - centre)
    inner, outer = err[d <= near], err[d >= far]
    if not inner.size or not outer.size or not np.all(np.isfinite(outer)) or not np.all(np.isfinite(inner)):
        return np.nan
    return float(outer.mean() / inner.mean()) if inner.mean() > 0 else np.inf


def off_centre_ratio(label: str, other: str, centre: float, near: float, far: float, at_least: float, column: int = 0):
    """Per seed: ``label``'s :func:`off-centre ratio <_ratio>` at least ``at_least`` (the claim
    holds); ``other``'s ratios are shown beside it. ``holds`` = (seeds where it does, seeds with
    examples of ``label``)."""

    def measure(df, paper_point, examples):
        per: dict[str, dict[int, float]] = {label: {}, other: {}}
        keys = []
        for ex in examples:
            lab = ex["meta"].get("label")
            if lab in per:
                per[lab][int(ex["meta"].get("seed", 0))] = _ratio(ex, centre, near, far, column)
                keys.append(str(ex["meta"].get("run_key", ""))[:8])
        if not per[label]:
            return None
        values = list(per[label].values())
        k = sum(bool(v >= at_least) for v in values)
        stats = seed_stats(values)
        text = f"{label} {format_stats(stats, '×')}"
        if per[other]:
            text += f", {other} {format_stats(seed_stats(list(per[other].values())), '×')}"
        where = f"mean error beyond {fmt(far)} of {fmt(centre)} / within {fmt(near)} of it, held-out examples"
        return Measured(text, where, tuple(sorted(set(keys))), stats, holds=(k, len(values)))

    return measure
