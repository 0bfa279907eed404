"""When a run has diverged: one versioned rule, applied while a run executes and recorded with it.

A run is ``diverged`` at the first recorded row where

* the fraction of non-finite examples (training batch, or held-out batch where evaluated)
  reaches ``nonfinite_limit`` (half of the examples), or
* its x error has blown up: the final-metric x error (held-out ``eval_x_error`` for training
  runs, ``x_error`` for iterative runs, see :func:`pgbench.analysis.measures.metric_column`)
  exceeds ``blowup_factor`` times its first recorded finite value.

The rule is a :class:`Rule` (name, version, parameters); :data:`RULE` is the current one. Every run
records the rule that classified it (``divergence_rule`` in :class:`pgbench.record.RunMeta`).
Reading a store never re-applies a rule: the stored status stands, and a run classified under
another rule (or none: stores written before the rule was recorded) says so
(:func:`rule_name`); :func:`reclassify` applies a rule explicitly (``pgbench results
--reclassify``).

Fewer non-finite examples than the limit leave the run ``ok`` but are recorded in ``nonfinite``
(and shown by the tables). The rule is deliberately coarse: a factor of 1000 over the starting
error is far outside any training noise measured here (sin's DP curves move within 100× of
their start), while the blow-ups it is meant for reach 1e5–1e6× (sin PG with Newton or the
inverse gradient, unclipped).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Rule:
    """A divergence rule: its name, version and parameters (module docstring)."""

    name: str = "nonfinite-or-blowup"
    version: int = 1
    nonfinite_limit: float = 0.5
    blowup_factor: float = 1e3

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Rule:
        return cls(**d)

    def __str__(self) -> str:
        return f"{self.name}-v{self.version} (non-finite ≥ {self.nonfinite_limit:g}, blow-up > {self.blowup_factor:g}×)"


#: the rule new runs are classified by
RULE = Rule()
NONFINITE_LIMIT = RULE.nonfinite_limit
BLOWUP_FACTOR = RULE.blowup_factor


def rule_name(recorded: dict | None) -> str:
    """How a recorded rule reads in a table: its name and version, or ``unrecorded``."""
    if not recorded:
        return "unrecorded"
    return f"{recorded.get('name', '?')}-v{recorded.get('version', '?')}"


def is_current(recorded: dict | None, rule: Rule = RULE) -> bool:
    """Whether a run was classified under ``rule`` (same name, version and parameters)."""
    return bool(recorded) and recorded == rule.as_dict()


class Watch:
    """Feed rows in order (``watch(row) -> message or None``); the first message says why the
    run diverged. ``kind``: ``training`` or ``iterative``."""

    def __init__(self, kind: str, rule: Rule = RULE):
        self.column = "eval_x_error" if kind == "training" else "x_error"
        self.rule = rule
        self.reference: float | None = None

    def __call__(self, row: dict) -> str | None:
        it = row.get("iteration")
        for col, where in (("nonfinite", "batch"), ("eval_nonfinite", "held-out batch")):
            v = row.get(col)
            if v is not None and not _nan(v) and v >= self.rule.nonfinite_limit:
                return f"{100 * v:.0f}% of the {where} non-finite at iteration {it}"
        v = row.get(self.column)
        if v is None or _nan(v) or not math.isfinite(v):
            return None
        if self.reference is None:
            self.reference = float(v) if v > 0 else None
            return None
        if v > self.rule.blowup_factor * self.reference:
            return (
                f"x error blew up at iteration {it}: {v:.3g}, {v / self.reference:.3g}× its first "
                f"value {self.reference:.3g}"
            )
        return None


def _nan(v) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def classify(rows: pd.DataFrame, kind: str, rule: Rule = RULE) -> str | None:
    """The divergence message of a run's recorded rows under ``rule`` (None: not diverged)."""
    if rows.empty or "iteration" not in rows:
        return None
    run = rows
    watch = Watch(str(kind), rule)
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


def reclassify(record, rule: Rule = RULE) -> tuple[str, str]:
    """``(status, message)`` of a :class:`~pgbench.record.RunRecord` under ``rule``: a failed run
    stays failed; any other is ``diverged`` where the rule finds its curve diverging, else ``ok``
    (the recorded rows end where the original rule stopped the run)."""
    if record.status == "failed":
        return record.status, record.message
    why = classify(record.rows, record.kind, rule)
    if why:
        return "diverged", why
    if record.status == "diverged" and is_current(record.meta.divergence_rule, rule):
        return record.status, record.message
    return "ok", ""


__all__ = [
    "Rule",
    "RULE",
    "Watch",
    "classify",
    "reclassify",
    "rule_name",
    "is_current",
    "NONFINITE_LIMIT",
    "BLOWUP_FACTOR",
]
