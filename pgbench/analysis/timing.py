"""Time to target and time per iteration across runs, as frames for the report's figures and
tables. Targets come from one named policy (:mod:`pgbench.analysis.targets`), the same the
leaderboard uses."""

from __future__ import annotations

import math

import pandas as pd

from .data import time_per_iteration
from .summary import per_run
from .targets import WORST_REFERENCE, reference_label


def time_to_target(df: pd.DataFrame, policy=WORST_REFERENCE) -> pd.DataFrame:
    """Per run that did not fail: its target under ``policy`` and the iterations and wall time
    to reach it (held-out x error for training runs, at their evaluation cadence)."""
    runs = per_run(df, policy)
    runs = runs[runs["status"] != "failed"]
    return runs.reset_index(drop=True)


def speedups(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds per iteration per problem × kind × label × device, the speedup of the reference
    method's time over this method's on the same device, and the speedup of this method on this
    device over the same method on the first device."""
    t = time_per_iteration(df)
    if t.empty:
        return t
    rows = []
    devices = sorted(t["device_key"].unique())
    for (problem, kind, dev), g in t.groupby(["problem", "kind", "device_key"]):
        ref = reference_label(g["label"], kind)
        ref_s = float(g[g["label"] == ref]["seconds"].iloc[0]) if ref is not None else math.nan
        for _, r in g.iterrows():
            base = t[
                (t["problem"] == problem)
                & (t["kind"] == kind)
                & (t["label"] == r["label"])
                & (t["device_key"] == devices[0])
            ]
            rows.append(
                {
                    "problem": problem,
                    "kind": kind,
                    "label": r["label"],
                    "device": dev,
                    "s / iteration": r["seconds"],
                    "reference": ref,
                    "speedup vs reference": ref_s / r["seconds"] if r["seconds"] > 0 else math.nan,
                    f"speedup vs {devices[0]}": (
                        float(base["seconds"].iloc[0]) / r["seconds"] if len(base) and r["seconds"] > 0 else math.nan
                    ),
                }
            )
    return pd.DataFrame(rows)


__all__ = ["time_to_target", "speedups"]
