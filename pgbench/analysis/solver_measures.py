"""Measures of the headline claims about single-problem solvers and held-out comparisons (see
:mod:`pgbench.analysis.claim_measures` for the training-curve ones), per seed. Each factory
returns ``measure(frame of the problem, at the paper's point?) -> Measured | None``.

* :func:`iterations_to_converge`: the first iteration ``n ≥ 1`` of an iterative run whose x error
  is within ``(1 + within)`` of the run's final x error; at the paper's point only from runs that
  go on to ``reach`` iterations (convergence at ``n`` is told by the iterations after it).
* :func:`final_below`: the final x error of one iterative solver below every other's, per seed.
* :func:`held_out_below`: a network's final held-out x error below an iterative solver's final
  x error on that seed's held-out batch.
* :func:`average_above`: one method's final running-average x error above every other's.
* :func:`average_below_level`: a method's final running-average x error below a level, per seed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..numbers import fmt
from .claim_measures import Measured, _final_averages, _first_device, _short
from .data import usable
from .measures import format_stats, seed_stats, status_of


def _iterative(df: pd.DataFrame, label: str) -> dict:
    """``{seed: (run_key, status, x error indexed by iteration)}`` of ``label``'s iterative runs (the
    longest run of each seed)."""
    d = usable(df)
    d = _first_device(d[(d["label"] == label) & (d["kind"] == "iterative")]) if not d.empty else d
    out: dict = {}
    for key, r in d.groupby("run_key", sort=True):  # per seed, its longest run
        seed = int(r["seed"].iloc[0])
        curve = pd.to_numeric(r.groupby("iteration")["x_error"].median().sort_index(), errors="coerce")
        if seed not in out or curve.index.max() > out[seed][2].index.max():
            out[seed] = (str(key), status_of(r), curve)
    return out


def _final(curve: pd.Series, status: str) -> float:
    v = float(curve.iloc[-1]) if len(curve) else math.nan
    return v if status == "ok" and math.isfinite(v) else math.inf


def iterations_to_converge(label: str, within: float = 0.1, reach: int = 1):
    """Per seed: the first iteration ``n ≥ 1`` with ``e_n ≤ (1 + within) · e_last`` of ``label``'s
    iterative run (a diverged run: inf). At the paper's point only when every run reaches ``reach``
    iterations; otherwise (``paper_point`` False) the same count within the stored runs."""

    def measure(df, paper_point):
        runs = _iterative(df, label)
        if not runs:
            return None
        last = min(int(c.index.max()) for _, _, c in runs.values())
        if paper_point and last < reach:
            return None
        values = []
        for _, status, c in runs.values():
            end = _final(c, status)
            hit = c.index[(c.index >= 1) & (c.to_numpy() <= (1 + within) * end)]
            values.append(float(hit[0]) if math.isfinite(end) and len(hit) else math.inf)
        stats = seed_stats(values, n=len(runs))
        at = f"within {100 * within:g} % of the error at iteration {last}"
        return Measured(format_stats(stats), at, _short(k for k, _, _ in runs.values()), stats)

    return measure


def _holds(k: int, n: int) -> str:
    return "holds" if k == n else ("does not hold" if k == 0 else f"holds for {k}/{n} seeds")


def _show(labels, table: pd.DataFrame) -> str:
    med = table.median()
    return ", ".join(f"{lab} {'diverged' if math.isinf(med[lab]) else fmt(float(med[lab]))}" for lab in labels)


def _ordering(table: pd.DataFrame, low: str, high: tuple[str, ...], runs, at: str) -> Measured | None:
    """Per seed (rows of ``table``, one column per label): ``low`` below every one of ``high``."""
    table = table.dropna()
    if table.empty:
        return None
    per_seed = [all(row[low] < row[h] for h in high) for _, row in table.iterrows()]
    k, n = sum(per_seed), len(per_seed)
    seeds = "1 seed" if n == 1 else f"median of {n} seeds"
    text = f"{_holds(k, n)}: {_show([low, *high], table)}"
    return Measured(text, f"{at}, {seeds}", _short(runs), holds=(k, n))


def final_below(winner: str, others: tuple[str, ...]):
    """Per seed: the final x error of ``winner``'s iterative run below every one of ``others``'."""

    def measure(df, paper_point):
        per = {lab: _iterative(df, lab) for lab in (winner, *others)}
        if not all(per.values()):
            return None
        table = pd.DataFrame({lab: {s: _final(c, st) for s, (_, st, c) in runs.items()} for lab, runs in per.items()})
        keys = [k for runs in per.values() for k, _, _ in runs.values()]
        return _ordering(table, winner, others, keys, "final x error of single-problem optimisation")

    return measure


def _fits_and_network(df, network: str, solver: str):
    """``solver``'s iterative fits per seed and ``network``'s usable training rows (one device)
    with held-out evaluations, or None when either is missing."""
    fits = _iterative(df, solver)
    d = usable(df)
    d = _first_device(d[(d["label"] == network) & (d["kind"] == "training")]) if not d.empty else d
    if not fits or d.empty or "eval_x_error" not in d:
        return None
    return fits, d


def held_out_below(network: str, solver: str):
    """Per seed: ``network``'s last held-out x error (``eval_x_error``; a diverged run: inf) below
    the final x error of ``solver``'s iterative run on that seed's held-out batch."""

    def measure(df, paper_point):
        found = _fits_and_network(df, network, solver)
        if found is None:
            return None
        fits, d = found
        nets: dict[int, float] = {}
        keys = [k for k, _, _ in fits.values()]
        for key, r in d.groupby("run_key", sort=True):
            e = pd.to_numeric(r.sort_values("iteration")["eval_x_error"], errors="coerce").dropna()
            v = float(e.iloc[-1]) if len(e) else math.nan
            nets.setdefault(int(r["seed"].iloc[0]), v if status_of(r) == "ok" and math.isfinite(v) else math.inf)
            keys.append(str(key))
        table = pd.DataFrame({network: nets, solver: {s: _final(c, st) for s, (_, st, c) in fits.items()}})
        return _ordering(table, network, (solver,), keys, "final held-out x error")

    return measure


def _averages(df, labels, iteration, paper_point):
    got = _final_averages(df, labels, iteration, paper_point)
    if got is None:
        return None
    per, it, _ = got
    table = pd.DataFrame(
        {lab: {s: (math.inf if v is None else v) for s, (_, v) in m.items()} for lab, m in per.items()}
    )
    return table, it, [k for m in per.values() for k, _ in m.values()]


def average_above(loser: str, others: tuple[str, ...], iteration: int):
    """Per seed: ``loser``'s final running-average x error (the paper's window, at ``iteration``)
    above every one of ``others``' (``loser`` ranks last among them)."""

    def measure(df, paper_point):
        got = _averages(df, (loser, *others), iteration, paper_point)
        if got is None:
            return None
        table, it, keys = got
        table = table.dropna()
        if table.empty:
            return None
        per_seed = [all(row[loser] > row[o] for o in others) for _, row in table.iterrows()]
        k, n = sum(per_seed), len(per_seed)
        text = f"{_holds(k, n)}: {_show([loser, *others], table)}"
        return Measured(text, f"final running average at iteration {it}, {n} seeds", _short(keys), holds=(k, n))

    return measure


def average_below_level(label: str, level: float, iteration: int):
    """Per seed: ``label``'s final running-average x error at ``iteration`` below ``level`` (a
    diverged seed does not hold); the values are shown as their median and spread."""

    def measure(df, paper_point):
        got = _averages(df, (label,), iteration, paper_point)
        if got is None:
            return None
        table, it, keys = got
        values = table[label].to_numpy(dtype=float)
        k, n = int(np.sum(values < level)), len(values)
        stats = seed_stats(values[np.isfinite(values)], n=n)
        text = f"{_holds(k, n)} (below {level:g}): {format_stats(stats)}"
        return Measured(text, f"final running average at iteration {it}", _short(keys), stats, holds=(k, n))

    return measure


def iterations_to_network(solver: str, network: str, iteration: int):
    """Table 1's "equal solution quality": per seed of ``network``, its held-out x error after
    ``iteration`` training iterations (the last evaluation at or before it) is the target, and the
    value is the first iteration of ``solver``'s iterative run (the first seed's; iteration 0 is
    the initial guess) whose x error is at or below it (never: inf). At the paper's point only
    when the network's runs reach ``iteration``."""

    def measure(df, paper_point):
        found = _fits_and_network(df, network, solver)
        if found is None:
            return None
        fits, d = found
        reach = int(d.groupby("run_key")["iteration"].max().min())
        it = iteration if paper_point else min(iteration, reach)
        if it > reach:
            return None
        _, status, curve = fits[min(fits)]
        values, targets = [], []
        for _, r in d.groupby("run_key", sort=True):
            e = r[r["iteration"] <= it].sort_values("iteration")["eval_x_error"]
            e = pd.to_numeric(e, errors="coerce").dropna()
            if not len(e) or status_of(r) != "ok" or status != "ok":
                values.append(math.nan)
                continue
            target = float(e.iloc[-1])
            targets.append(target)
            hit = curve.index[curve.to_numpy() <= target]
            values.append(float(hit[0]) if len(hit) else math.inf)
        stats = seed_stats(values)
        keys = [k for k, _, _ in fits.values()] + list(d["run_key"].unique())
        at = f"{network}'s held-out x error at {it} ({fmt(float(np.median(targets))) if targets else '—'})"
        return Measured(format_stats(stats), at, _short(keys), stats)

    return measure
