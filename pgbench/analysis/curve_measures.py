"""Measures of the headline's claims about the *shape* of learning curves and about how seeds
differ (§3.1–3.4, App. B.2, B.5), one number or one true/false per seed. Each factory returns
``measure(frame of the problem, at the paper's point?) -> Measured | None`` as in
:mod:`pgbench.analysis.claim_measures`.

* :func:`slowdown`: where a learning curve decelerates. Per seed, the running-average x error
  ``r_i`` (the paper's window) over iterations ``1..H`` is fitted in ``log10`` by a continuous
  two-piece line ``a + b·i + c·max(0, i − k)`` (least squares); the break ``k`` with the smallest
  residual is the slowdown iteration when the second slope is flatter (``|b + c| < |b|``, both
  falling), else the curve does not slow down (inf). ``H`` (the horizon) is part of the reading:
  a break moves with the window it is read in.
* :func:`converges_like`: per seed, a method "converges": its run ends without diverging and its
  final running average is within ``factor`` of a reference method's on that seed (or below it).
* :func:`steadier`: per seed, the *rise* of a curve, ``Σ max(0, log10 r_{i+s} − log10 r_i)`` read
  every ``s`` iterations after the first full window (0 for a curve that only falls; inf for a
  run that diverged), of one method below another's.
* :func:`late_rate_above`: per seed, the rate ``(log10 r_{H/2} − log10 r_H) / (H/2)`` at which
  one method still falls over the second half of ``1..H``, above another's.
* :func:`still_falling`: per seed, an iterative run's x error at ``n`` still more than ``drop``
  below (relatively) its value at ``0.9·n``: it has not converged by ``n``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..numbers import fmt
from .claim_measures import Measured, _final_averages, _short, seed_curves
from .measures import format_stats, seed_stats
from .solver_measures import _iterative


def knee(values) -> float:
    """The break ``k`` of the best continuous two-piece line through ``log10(values)`` against
    ``i = 1..len(values)`` (see the module docstring); inf when the fit's second piece does not
    fall more slowly than the first (no slowdown), NaN for fewer than 8 finite positive values."""
    y = np.asarray(values, dtype=float)
    if len(y) < 8 or not np.all(np.isfinite(y)) or np.any(y <= 0):
        return math.nan
    y = np.log10(y)
    i = np.arange(1, len(y) + 1, dtype=float)
    best, best_k, slopes = math.inf, math.nan, (0.0, 0.0)
    for k in range(3, len(y) - 2):
        a = np.stack([np.ones_like(i), i, np.clip(i - k, 0, None)], axis=1)
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        sse = float(np.sum((a @ coef - y) ** 2))
        if sse < best:
            best, best_k, slopes = sse, float(k), (float(coef[1]), float(coef[1] + coef[2]))
    first, second = slopes
    return best_k if first < 0 and abs(second) < abs(first) else math.inf


def slowdown(label: str, horizon: int):
    """Per seed: the slowdown iteration (:func:`knee`) of ``label``'s running-average x error over
    iterations ``1..horizon``; at the paper's point only from runs reaching ``horizon``, else over
    what the runs reach. A diverged seed: no value."""

    def measure(df, paper_point):
        curves = seed_curves(df, label)
        if not curves:
            return None
        reach = min(int(c.curve.index.max()) for c in curves.values())
        h = horizon if paper_point else min(horizon, reach)
        if h > reach or h < 8:
            return None
        values = [knee(c.curve.loc[1:h].to_numpy()) if c.status == "ok" else math.nan for c in curves.values()]
        stats = seed_stats(values, n=len(curves))
        return Measured(
            format_stats(stats),
            f"break of a two-piece fit to log running average over iterations 1–{h}",
            _short(c.run_key for c in curves.values()),
            stats,
        )

    return measure


def _holds(k: int, n: int) -> str:
    return "holds" if k == n else ("does not hold" if k == 0 else f"holds for {k}/{n} seeds")


def converges_like(label: str, reference: str, iteration: int, factor: float = 10.0):
    """Per seed: ``label`` converges, i.e. its run did not diverge and its final running-average
    x error at ``iteration`` is at most ``factor`` × ``reference``'s on that seed."""

    def measure(df, paper_point):
        got = _final_averages(df, (label, reference), iteration, paper_point)
        if got is None:
            return None
        per, it, _ = got
        mine, ref = per[label], per[reference]
        seeds = sorted(mine)
        flags, values = [], []
        for s in seeds:
            v, r = mine[s][1], ref.get(s, (None, None))[1]
            ok = v is not None and r is not None and math.isfinite(v) and v <= factor * r
            flags.append(ok)
            values.append(v if v is not None else math.inf)
        k, n = sum(flags), len(flags)
        shown = ", ".join("diverged" if not math.isfinite(v) else fmt(v) for v in values)
        refs = [r for _, r in ref.values() if r is not None and math.isfinite(r)]
        ref_text = fmt(float(np.median(refs))) if refs else "diverged"
        text = f"converges on {k}/{n} seeds (per seed: {shown}; {reference} {ref_text})"
        keys = [key for m in (mine, ref) for key, _ in m.values()]
        return Measured(text, f"final running average at iteration {it}", _short(keys), holds=(k, n))

    return measure


def rise(curve: pd.Series, start: int, every: int) -> float:
    """``Σ max(0, log10 r_{i+every} − log10 r_i)`` over ``i = start, start + every, …``."""
    r = curve.loc[start:].to_numpy(dtype=float)[::every]
    if len(r) < 2 or not np.all(np.isfinite(r)) or np.any(r <= 0):
        return math.inf
    return float(np.sum(np.clip(np.diff(np.log10(r)), 0.0, None)))


def steadier(steady: str, erratic: str, iteration: int, start: int, every: int = 100):
    """Per seed (seeds both methods have): the :func:`rise` of ``steady``'s running average over
    iterations ``start..iteration`` (``start``: the first full window) below ``erratic``'s (a
    diverged or shorter run: inf)."""

    def measure(df, paper_point):
        a, b = seed_curves(df, steady), seed_curves(df, erratic)
        if not a or not b:
            return None
        reach = max(int(c.curve.index.max()) for c in (*a.values(), *b.values()))
        it = iteration if paper_point else min(iteration, reach)
        if it > reach:
            return None
        first = start if paper_point else max(1, min(start, it // 2))

        def value(c):
            if c.status != "ok" or c.curve.index.max() < it:
                return math.inf
            return rise(c.curve.loc[:it], first, every)

        seeds = sorted(set(a) & set(b))
        ra, rb = {s: value(a[s]) for s in seeds}, {s: value(b[s]) for s in seeds}
        k = sum(ra[s] < rb[s] for s in seeds)
        text = (
            f"{_holds(k, len(seeds))}: rise {steady} {format_stats(seed_stats(list(ra.values())))}, "
            f"{erratic} {format_stats(seed_stats(list(rb.values())))}"
        )
        return Measured(
            text,
            f"Σ rises of log10 running average every {every} iterations, {first}–{it}",
            _short(c.run_key for c in (*a.values(), *b.values())),
            holds=(k, len(seeds)),
        )

    return measure


def late_rate_above(fast: str, slow: str, horizon: int):
    """Per seed: ``fast``'s late rate ``(log10 r_{h/2} − log10 r_h)/(h/2)`` above ``slow``'s, with
    ``h`` the horizon (at the paper's point only from runs reaching it)."""

    def rate(c, h):
        r = c.curve
        if c.status != "ok" or h not in r.index or h // 2 not in r.index:
            return -math.inf
        lo, hi = float(r.loc[h // 2]), float(r.loc[h])
        return (math.log10(lo) - math.log10(hi)) / (h - h // 2) if lo > 0 and hi > 0 else -math.inf

    def measure(df, paper_point):
        a, b = seed_curves(df, fast), seed_curves(df, slow)
        if not a or not b:
            return None
        reach = min(int(c.curve.index.max()) for c in (*a.values(), *b.values()))
        h = horizon if paper_point else min(horizon, reach)
        if h > reach or h < 4:
            return None
        seeds = sorted(set(a) & set(b))
        ra, rb = [rate(a[s], h) for s in seeds], [rate(b[s], h) for s in seeds]
        k = sum(x > y for x, y in zip(ra, rb, strict=True))
        text = (
            f"{_holds(k, len(seeds))}: decades per 1,000 iterations over {h // 2}–{h}: "
            f"{fast} {format_stats(seed_stats([1000 * x for x in ra]))}, "
            f"{slow} {format_stats(seed_stats([1000 * x for x in rb]))}"
        )
        return Measured(
            text,
            f"running average, iterations {h // 2}–{h}",
            _short(c.run_key for c in (*a.values(), *b.values())),
            holds=(k, len(seeds)),
        )

    return measure


def still_falling(label: str, iteration: int, drop: float = 0.01):
    """Per seed: ``label``'s iterative run has not converged by ``iteration``: its x error there is
    more than ``drop`` (relative) below its value at ``0.9 · iteration``. At the paper's point only
    from runs reaching ``iteration``."""

    def measure(df, paper_point):
        runs = _iterative(df, label)
        if not runs:
            return None
        reach = min(int(c.index.max()) for _, _, c in runs.values())
        n = iteration if paper_point else min(iteration, reach)
        if n > reach or n < 10:
            return None
        flags, drops = [], []
        for _, status, c in runs.values():
            early, late = float(c.get(int(0.9 * n), math.nan)), float(c.get(n, math.nan))
            d = 1 - late / early if status == "ok" and early > 0 and math.isfinite(late) else math.nan
            drops.append(100 * d)
            flags.append(bool(d > drop))
        k = sum(flags)
        falls = format_stats(seed_stats(drops), " %")
        text = f"{_holds(k, len(flags))}: x error falls {falls} over {int(0.9 * n)}–{n}"
        return Measured(
            text, f"iterative run, iteration {n}", _short(key for key, _, _ in runs.values()), holds=(k, len(flags))
        )

    return measure


def parts_ways(follower: str, leader: str, horizon: int, gap: float = 0.1):
    """Per seed: the first iteration (≤ ``horizon``) from which ``leader``'s running average stays
    more than ``gap`` (relative) below ``follower``'s, i.e. until then the two are on par (never:
    inf). At the paper's point only from runs reaching ``horizon``."""

    def first_apart(a: pd.Series, b: pd.Series, h: int) -> float:
        common = a.index.intersection(b.index)
        common = common[(common >= 1) & (common <= h)]
        apart = b.loc[common].to_numpy() * (1 + gap) < a.loc[common].to_numpy()
        if not len(apart) or not apart[-1]:
            return math.inf
        together = np.flatnonzero(~apart)
        return float(common[together[-1] + 1] if len(together) else common[0])

    def measure(df, paper_point):
        a, b = seed_curves(df, follower), seed_curves(df, leader)
        if not a or not b:
            return None
        reach = min(int(c.curve.index.max()) for c in (*a.values(), *b.values()))
        h = horizon if paper_point else min(horizon, reach)
        if h > reach or h < 2:
            return None
        seeds = sorted(set(a) | set(b))
        values = [
            first_apart(a[s].curve, b[s].curve, h)
            if s in a and s in b and a[s].status == b[s].status == "ok"
            else math.nan
            for s in seeds
        ]
        stats = seed_stats(values, n=len(seeds))
        return Measured(
            format_stats(stats),
            f"{leader} more than {100 * gap:g} % below {follower}, iterations 1–{h}",
            _short(c.run_key for c in (*a.values(), *b.values())),
            stats,
        )

    return measure


def below_at(winner: str, loser: str, iteration: int):
    """Per seed (seeds both have): ``winner``'s running-average x error at ``iteration`` below
    ``loser``'s (a diverged run: never below); at the paper's point only from runs reaching it."""

    def measure(df, paper_point):
        a, b = seed_curves(df, winner), seed_curves(df, loser)
        if not a or not b:
            return None
        reach = min(int(c.curve.index.max()) for c in (*a.values(), *b.values()))
        it = iteration if paper_point else min(iteration, reach)
        if it > reach or it < 1:
            return None

        def at(c):
            return float(c.curve.loc[it]) if c.status == "ok" and it in c.curve.index else math.inf

        seeds = sorted(set(a) & set(b))
        va, vb = [at(a[s]) for s in seeds], [at(b[s]) for s in seeds]
        k = sum(x < y for x, y in zip(va, vb, strict=True))
        text = (
            f"{_holds(k, len(seeds))}: {winner} {format_stats(seed_stats(va))}, {loser} {format_stats(seed_stats(vb))}"
        )
        return Measured(
            text,
            f"running average at iteration {it}",
            _short(c.run_key for c in (*a.values(), *b.values())),
            holds=(k, len(seeds)),
        )

    return measure
