"""Performance profiles (Dolan & Moré 2002; AlgoPerf's scoring), computed in one place.

Given times :math:`t_{i,s}` of methods s on instances i (a problem, or a seed × device of one
problem), the ratio to the best method on the instance is :math:`r_{i,s} = t_{i,s} / \\min_s
t_{i,s}` (∞ where s never reached the target or did not run there), and the profile

.. math:: \\rho_s(\\tau) = |\\{i : r_{i,s} \\le \\tau\\}| / |I|

is the fraction of instances where s is within a factor τ of the best. Instances where no method
reached the target carry no information and are left out (returned as ``unsolved``). The score
is the normalised area :math:`\\frac{1}{\\tau_{max}-1}\\int_1^{\\tau_{max}} \\rho_s(\\tau)\\,d\\tau =
\\frac{1}{|I|}\\sum_i \\max(0, \\tau_{max} - r_{i,s}) / (\\tau_{max} - 1)` in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Ratios:
    """``table``: one row per instance × method (columns: the instance columns, ``method``,
    ``ratio``); ``unsolved``: the instances no method solved (left out)."""

    table: pd.DataFrame
    unsolved: list


def ratios(
    times: pd.DataFrame, instance: list[str], method: str = "method", time: str = "time", complete: bool = False
) -> Ratios:
    """Ratios to the best method per instance. ``complete``: a method absent on an instance
    counts as never reaching the target there (∞), as AlgoPerf scores a missing submission."""
    t = times[[*instance, method, time]].rename(columns={method: "method", time: "time"}).copy()
    t["time"] = pd.to_numeric(t["time"], errors="coerce").astype(float)
    if complete and len(t):
        grid = t[instance].drop_duplicates().merge(pd.DataFrame({"method": t["method"].unique()}), how="cross")
        t = grid.merge(t, on=[*instance, "method"], how="left")
    t.loc[~np.isfinite(t["time"]) | (t["time"] <= 0), "time"] = np.inf
    best = t.groupby(instance, dropna=False)["time"].transform("min")
    solved = np.isfinite(best)
    unsolved = sorted(set(map(tuple, t.loc[~solved, instance].to_numpy())))
    t = t[solved].copy()
    t["ratio"] = t["time"] / best[solved]
    return Ratios(
        t[[*instance, "method", "ratio"]].reset_index(drop=True), [u[0] if len(u) == 1 else u for u in unsolved]
    )


def rho(r: Ratios, taus, by: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """ρ_s(τ) on the grid ``taus`` per method (and per ``by`` group, e.g. the problem): the
    fraction of the method's instances with ratio ≤ τ. Columns: ``by``, method, tau, rho,
    instances."""
    rows: list[dict] = []
    for keys, g in r.table.groupby([*by, "method"], sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        vals = g["ratio"].to_numpy()
        ident = dict(zip([*by, "method"], keys, strict=True))
        rows.extend(
            {**ident, "tau": float(tau), "rho": float(np.mean(vals <= tau)), "instances": len(vals)} for tau in taus
        )
    return pd.DataFrame(rows, columns=[*by, "method", "tau", "rho", "instances"])


def score(ratio_values, max_ratio: float) -> float:
    """The normalised area under ρ(τ) for τ in [1, max_ratio] (module docstring); NaN without
    instances."""
    r = np.asarray(list(ratio_values), dtype=float)
    if not len(r):
        return math.nan
    return float(np.sum(np.clip(max_ratio - r, 0.0, None)) / (len(r) * (max_ratio - 1.0)))


__all__ = ["Ratios", "ratios", "rho", "score"]
