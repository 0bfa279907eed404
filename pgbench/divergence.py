"""When a run has diverged: one rule, applied while a run executes and to stored runs.

A run is ``diverged`` at the first recorded row where

* the fraction of non-finite examples (training batch, or held-out batch where evaluated)
  reaches :data:`NONFINITE_LIMIT` (half of the examples), or
* its x error has blown up: the final-metric x error (held-out ``eval_x_error`` for training
  runs, ``x_error`` for iterative runs, see :func:`pgbench.measures.metric_column`) exceeds
  :data:`BLOWUP_FACTOR` times its first recorded finite value.

Fewer non-finite examples than the limit leave the run ``ok`` but are recorded in ``nonfinite``
(and shown by the tables). The rule is deliberately coarse: a factor of 1000 over the starting
error is far outside any training noise measured here (sin's DP curves move within 100× of
their start), while the blow-ups it is meant for reach 1e5–1e6× (sin PG with Newton or the
inverse gradient, unclipped).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NONFINITE_LIMIT = 0.5
BLOWUP_FACTOR = 1e3


class Watch:
    """Feed rows in order (``watch(row) -> message or None``); the first message says why the
    run diverged. ``kind``: ``training`` or ``iterative``."""

    def __init__(self, kind: str):
        self.column = "eval_x_error" if kind == "training" else "x_error"
        self.reference: float | None = None

    def __call__(self, row: dict) -> str | None:
        it = row.get("iteration")
        for col, where in (("nonfinite", "batch"), ("eval_nonfinite", "held-out batch")):
            v = row.get(col)
            if v is not None and not _nan(v) and v >= NONFINITE_LIMIT:
                return f"{100 * v:.0f}% of the {where} non-finite at iteration {it}"
        v = row.get(self.column)
        if v is None or _nan(v) or not math.isfinite(v):
            return None
        if self.reference is None:
            self.reference = float(v) if v > 0 else None
            return None
        if v > BLOWUP_FACTOR * self.reference:
            return (f"x error blew up at iteration {it}: {v:.3g}, {v / self.reference:.3g}× its first "
                    f"value {self.reference:.3g}")
        return None


def _nan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def classify(run: pd.DataFrame) -> str | None:
    """The divergence message of a stored run's records (None: not diverged by this rule)."""
    if run.empty or "iteration" not in run:
        return None
    kind = run["kind"].iloc[0] if "kind" in run else "iterative"
    watch = Watch(str(kind))
    cols = [c for c in ("iteration", "nonfinite", "eval_nonfinite", watch.column) if c in run]
    r = run[cols].copy()
    r["iteration"] = pd.to_numeric(r["iteration"], errors="coerce")
    r = r[r["iteration"].notna()].sort_values("iteration", kind="stable")
    for row in r.to_dict("records"):
        row = {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v) for k, v in row.items()}
        row["iteration"] = int(row["iteration"])
        msg = watch(row)
        if msg:
            return msg
    return None


__all__ = ["Watch", "classify", "NONFINITE_LIMIT", "BLOWUP_FACTOR"]
