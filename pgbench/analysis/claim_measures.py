"""How each claim of the headline (:mod:`pgbench.analysis.headline`) is measured from stored runs,
per seed: paired ratios of running-average curves at the paper's point, iterations to match,
time ratios, rates and rankings at equal wall time. Each factory returns a function
``measure(frame of the problem, at the paper's point?) -> Measured | None``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..numbers import fmt
from .data import final_errors, running_average, time_per_iteration, usable, window_for
from .measures import SeedStats, final_running_average, format_stats, iterations_done, seed_stats, status_of


@dataclass(frozen=True)
class Measured:
    value: str
    at: str
    runs: tuple[str, ...]
    stats: SeedStats | None = None  # per-seed statistics of a numeric claim
    holds: tuple[int, int] | None = None  # (k, n) seeds a qualitative claim holds for
    examples: int | None = None  # held-out examples behind a rate


def _short(keys) -> tuple[str, ...]:
    out = []
    for k in keys:
        out.extend(str(k).split())
    return tuple(sorted({k[:8] for k in out}))


def _first_device(d: pd.DataFrame) -> pd.DataFrame:
    """Claims compare methods, not machines: the runs of the first device key."""
    return d[d["device_key"] == sorted(d["device_key"].unique())[0]] if not d.empty else d


@dataclass(frozen=True)
class SeedCurve:
    run_key: str
    status: str
    curve: pd.Series  # running-average metric indexed by iteration


def seed_curves(df: pd.DataFrame, label: str, kind: str = "training", metric: str = "x_error") -> dict:
    """``{seed: SeedCurve}`` of one method: each run's running-average ``metric`` (the window of
    the report's learning curves, :func:`~pgbench.report.data.window_for`)."""
    d = usable(df)
    d = _first_device(d[(d["label"] == label) & (d["kind"] == kind)]) if not d.empty else d
    if d.empty or metric not in d:
        return {}
    problem, scale = str(d["problem"].iloc[0]), str(d["scale"].iloc[0]) if "scale" in d else "quick"
    w = window_for(problem, scale, int(pd.to_numeric(d["iteration"]).max()))
    out = {}
    for key, r in d.groupby("run_key", sort=True):
        r = r.drop_duplicates("iteration").sort_values("iteration")
        v = running_average(pd.to_numeric(r[metric], errors="coerce").to_numpy(dtype=float), w)
        seed = int(r["seed"].iloc[0])
        if seed not in out:
            out[seed] = SeedCurve(str(key), status_of(r), pd.Series(v, index=r["iteration"].to_numpy(dtype=int)))
    return out


def _reach(curves: dict) -> int:
    return int(min(c.curve.index.max() for c in curves.values())) if curves else -1


def _paired(df, baseline, pg, iteration, paper_point, value):
    """Per seed both methods have: ``value(baseline_curve, pg_curve, it)`` (None: not available);
    diverged seeds are counted but not measured. Returns ``(stats, it, runs)`` or None."""
    a, b = seed_curves(df, baseline), seed_curves(df, pg)
    seeds = sorted(set(a) | set(b))
    if not a or not b:
        return None
    reach = min(_reach(a), _reach(b))
    it = iteration if paper_point else min(iteration, reach)
    if it > reach or it < 1:
        return None
    values = []
    for s in seeds:
        if s not in a or s not in b or a[s].status != "ok" or b[s].status != "ok":
            continue
        v = value(a[s].curve, b[s].curve, it)
        if v is not None:
            values.append(v)
    runs = _short([c.run_key for c in (*a.values(), *b.values())])
    return seed_stats(values, n=len(seeds)), it, runs


def _ratio(a, b, it):
    if it not in a.index or it not in b.index or not b.loc[it] > 0:
        return None
    return float(a.loc[it] / b.loc[it])


def ratio_at(baseline: str, pg: str, iteration: int):
    """Baseline / PG running-average x error after ``iteration`` training iterations, per seed."""

    def measure(df, paper_point):
        got = _paired(df, baseline, pg, iteration, paper_point, _ratio)
        if got is None:
            return None
        stats, it, runs = got
        return Measured(format_stats(stats, "×"), f"iteration {it}", runs, stats)

    return measure


def iterations_to_match(baseline: str, pg: str, iteration: int):
    """Per seed: the first iteration at which PG's running average is at or below the baseline's
    at ``iteration``; a seed where PG never gets there counts as not reached."""

    def match(a, b, it):
        if it not in a.index:
            return None
        hit = b.index[b.to_numpy() <= a.loc[it]]
        return float(hit[0]) if len(hit) else math.inf

    def measure(df, paper_point):
        got = _paired(df, baseline, pg, iteration, paper_point, match)
        if got is None:
            return None
        stats, it, runs = got
        return Measured(format_stats(stats), f"{baseline} at {it}", runs, stats)

    return measure


def value_at(label: str, iteration: int, kind="training"):
    """The running-average x error of ``label`` after ``iteration`` iterations, per seed."""

    def measure(df, paper_point):
        c = seed_curves(df, label, kind)
        if not c:
            return None
        reach = _reach(c)
        it = iteration if paper_point else min(iteration, reach)
        if it > reach:
            return None
        values = [s.curve.loc[it] for s in c.values() if s.status == "ok" and it in s.curve.index]
        stats = seed_stats(values, n=len(c))
        return Measured(format_stats(stats), f"iteration {it}", _short([s.run_key for s in c.values()]), stats)

    return measure


def _final_averages(df, labels, iteration, paper_point):
    """Per label: ``{seed: (run_key, value)}`` with value the run's final running-average x error
    over the paper's window ending at the iteration (:func:`pgbench.measures.final_running_average`;
    None for a diverged seed), the iteration it was read at, or None when a label has no runs or
    the runs stop before it."""
    d = usable(df)
    d = d[d["kind"] == "training"] if not d.empty else d
    per: dict[str, dict] = {}
    reach = math.inf
    for lab in labels:
        g = _first_device(d[d["label"] == lab]) if not d.empty else d
        if g.empty:
            return None
        per[lab] = {}
        for key, r in g.groupby("run_key", sort=True):
            seed = int(r["seed"].iloc[0])
            if seed not in per[lab]:
                per[lab][seed] = (str(key), r)
                if status_of(r) == "ok":  # a diverged seed is counted, never the point reached
                    reach = min(reach, iterations_done(r))
    it = iteration if paper_point else int(min(iteration, reach))
    if it > reach or it < 1:
        return None
    first = d[d["label"] == labels[0]]
    w = window_for(
        str(first["problem"].iloc[0]),
        str(first["scale"].iloc[0]) if "scale" in first else "quick",
        int(pd.to_numeric(first["iteration"]).max()),
    )
    out = {
        lab: {
            s: (k, final_running_average(r, w, "x_error", it) if status_of(r) == "ok" else None)
            for s, (k, r) in runs.items()
        }
        for lab, runs in per.items()
    }
    return out, it, w


def final_average_ratio(baseline: str, pg: str, iteration: int):
    """Baseline / PG of the final running-average x error over the last ``window`` training
    batches (the paper's running average; 1,000 for sin) at ``iteration``, per seed."""

    def measure(df, paper_point):
        got = _final_averages(df, (baseline, pg), iteration, paper_point)
        if got is None:
            return None
        per, it, _window = got
        a, b = per[baseline], per[pg]
        seeds = sorted(set(a) | set(b))
        values = [
            a[s][1] / b[s][1]
            for s in seeds
            if s in a
            and s in b
            and a[s][1] is not None
            and b[s][1] is not None
            and b[s][1] > 0
            and math.isfinite(a[s][1] / b[s][1])
        ]
        runs = _short([k for m in (a, b) for k, _ in m.values()])
        return Measured(
            format_stats(seed_stats(values, n=len(seeds)), "×"),
            f"iteration {it}",
            runs,
            seed_stats(values, n=len(seeds)),
        )

    return measure


def final_average(label: str, iteration: int):
    """The final running-average x error of ``label`` over the last ``window`` training batches
    at ``iteration``, per seed."""

    def measure(df, paper_point):
        got = _final_averages(df, (label,), iteration, paper_point)
        if got is None:
            return None
        per, it, _window = got
        values = [v for _, v in per[label].values() if v is not None]
        stats = seed_stats(values, n=len(per[label]))
        return Measured(format_stats(stats), f"iteration {it}", _short([k for k, _ in per[label].values()]), stats)

    return measure


def time_ratio(slow: str, fast: str):
    """Seconds per iteration of ``slow`` / ``fast`` (training runs, same device; medians over seeds)."""

    def measure(df, paper_point):
        t = time_per_iteration(df[df["kind"] == "training"])
        a, b = t[t["label"] == slow], t[t["label"] == fast]
        for dev in sorted(set(a["device_key"]) & set(b["device_key"])):
            sa, sb = a[a["device_key"] == dev].iloc[0], b[b["device_key"] == dev].iloc[0]
            r = sa["seconds"] / sb["seconds"]
            return Measured(
                f"{fmt(r)}×", f"s / iteration, {dev}", _short([sa["run_keys"], sb["run_keys"]]), seed_stats([r])
            )
        return None

    return measure


def cost_within(slow: str, fast: str, fraction: float):
    """Seconds per iteration of ``slow`` / ``fast``, paired by seed (the runs of one seed ran
    one after the other on one machine), on the device with the most pairs; the check holds for
    a seed whose two costs differ by less than ``fraction`` of ``fast``'s."""

    def measure(df, paper_point):
        ratios: dict[str, list[float]] = {}
        keys: dict[str, list[str]] = {}
        for _, g in df[df["kind"] == "training"].groupby("seed"):
            t = time_per_iteration(g)
            a, b = t[t["label"] == slow], t[t["label"] == fast]
            for dev in sorted(set(a["device_key"]) & set(b["device_key"])):
                sa, sb = a[a["device_key"] == dev].iloc[0], b[b["device_key"] == dev].iloc[0]
                ratios.setdefault(dev, []).append(sa["seconds"] / sb["seconds"])
                keys.setdefault(dev, []).extend([sa["run_keys"], sb["run_keys"]])
        if not ratios:
            return None
        dev = max(sorted(ratios), key=lambda d: len(ratios[d]))
        vals = ratios[dev]
        stats = seed_stats(vals, n=len(vals))
        return Measured(
            f"{format_stats(stats, '×')} ({100 * (stats.median - 1):+.0f} %)",
            f"s / iteration, {dev}",
            _short(keys[dev]),
            stats,
            holds=(sum(abs(v - 1) < fraction for v in vals), len(vals)),
        )

    return measure


def costlier(slow: str, fast: str):
    """Per seed: ``slow``'s seconds per training iteration above ``fast``'s (runs of one seed on
    one machine, the device with the most pairs); the ratios are shown."""

    def measure(df, paper_point):
        got = cost_within(slow, fast, 0.0)(df, paper_point)
        if got is None or got.stats is None:
            return None
        ratios = [v for v in got.stats.values if math.isfinite(v)]
        k = sum(v > 1 for v in ratios)
        return Measured(
            f"{format_stats(got.stats, '×')} s / iteration", got.at, got.runs, got.stats, holds=(k, len(ratios))
        )

    return measure


def seconds_per_iteration():
    """Range over training methods of the seconds per iteration (Fig. 14); its per-seed values
    are one per method (the claim is a range over methods)."""

    def measure(df, paper_point):
        t = time_per_iteration(df[df["kind"] == "training"])
        if t.empty:
            return None
        dev = sorted(t["device_key"].unique())[0]
        t = t[t["device_key"] == dev]
        lo, hi = float(t["seconds"].min()), float(t["seconds"].max())
        return Measured(
            f"{fmt(lo, 2)}–{fmt(hi, 2)} s",
            dev,
            _short(t["run_keys"]),
            SeedStats(float(np.median(t["seconds"])), lo, hi, len(t), len(t), tuple(map(float, t["seconds"]))),
        )

    return measure


def overtake(nn: str, solver: str):
    """Per seed: the first training iteration at which the network's running-average x error
    drops below the iterative solver's final x error on that seed's held-out batch."""

    def measure(df, paper_point):
        c = seed_curves(df, nn)
        f = final_errors(df)
        f = f[(f["label"] == solver) & (f["kind"] == "iterative")]
        if not c or f.empty:
            return None
        level = f.groupby("seed")["x_error"].median()
        values = []
        for seed, s in c.items():
            if s.status != "ok" or seed not in level.index:
                continue
            hit = s.curve.index[s.curve.to_numpy() < level[seed]]
            values.append(float(hit[0]) if len(hit) else math.inf)
        stats = seed_stats(values, n=len(c))
        runs = _short([*(s.run_key for s in c.values()), *f["run_key"]])
        at = f"{solver} x error {fmt(float(level.median()))}"
        if stats.k == 0 and values:
            return Measured(f"> {_reach(c)} (not reached)", at, runs, stats)
        return Measured(format_stats(stats), at, runs, stats)

    return measure


def divergence_rate(label: str, column: str = "diverged"):
    """Percentage of held-out examples the iterative solver's fit diverged on (a problem extra)."""

    def measure(df, paper_point):
        d = usable(df)
        d = d[(d["label"] == label) & (d["kind"] == "iterative")]
        if d.empty or column not in d:
            return None
        last = d.sort_values("iteration").groupby("run_key").tail(1)
        per_seed = 100 * pd.to_numeric(last[column], errors="coerce")
        n = _test_size(last)
        stats = seed_stats(per_seed)
        return Measured(
            format_stats(stats, " %", 2),
            f"{n} held-out examples" if n else "held-out batch",
            _short(last["run_key"]),
            stats,
            examples=n,
        )

    return measure


def _test_size(rows):
    try:
        return int(json.loads(rows["problem_settings"].iloc[0])["test_size"])
    except Exception:
        return None


def _final_held_out(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per training run: label, seed, and the last held-out value of ``metric`` (``eval_loss`` or
    ``eval_x_error``); a diverged run counts as +inf (its last evaluation precedes the blow-up)."""
    d = usable(df)
    d = d[d["kind"] == "training"] if not d.empty else d
    rows = []
    for key, r in d.groupby("run_key") if not d.empty else ():
        v = (
            pd.to_numeric(r.sort_values("iteration")[metric], errors="coerce").dropna()
            if metric in r
            else pd.Series(dtype=float)
        )
        value = float(v.iloc[-1]) if len(v) else math.nan
        if status_of(r) == "diverged" or not math.isfinite(value):
            value = math.inf
        rows.append({"run_key": key, "label": r["label"].iloc[0], "seed": r["seed"].iloc[0], "value": value})
    return pd.DataFrame(rows, columns=["run_key", "label", "seed", "value"])


def ranks_below(winner: str, others: tuple[str, ...], metric: str = "eval_x_error"):
    """Qualitative, at equal budgets: the final held-out ``metric`` of ``winner`` is below every one
    of ``others``. Per seed (seeds both have), then summarised: "holds" when it holds for every
    seed, "holds for k/n seeds" when for some; the values shown are medians over seeds.
    A diverged run counts as worse than any finite value ("diverged")."""
    what = {"eval_loss": "held-out loss", "eval_x_error": "held-out x error"}.get(metric, metric)

    def measure(df, paper_point):
        f = _final_held_out(df, metric)
        if winner not in set(f["label"]) or not any(o in set(f["label"]) for o in others):
            return None
        present = [o for o in others if o in set(f["label"])]
        table = f[f["label"].isin([winner, *present])].pivot_table(
            index="seed", columns="label", values="value", aggfunc="median"
        )
        table = table.dropna()  # seeds every method has
        if table.empty:
            return None
        per_seed = [all(row[winner] < row[o] for o in present) for _, row in table.iterrows()]
        k, n = sum(per_seed), len(per_seed)
        verdict = "holds" if k == n else ("does not hold" if k == 0 else f"holds for {k}/{n} seeds")
        med = table.median()

        def show(lab):
            return "diverged" if math.isinf(med[lab]) else fmt(float(med[lab]))

        text = ", ".join(f"{lab} {show(lab)}" for lab in [winner, *present])
        seeds = "1 seed" if n == 1 else f"median of {n} seeds"
        runs = _short(f[f["label"].isin([winner, *present])]["run_key"])
        return Measured(f"{verdict}: {text}", f"final {what}, {seeds}", runs, holds=(k, n))

    return measure
