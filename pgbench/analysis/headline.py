"""The headline table: every number the paper states, the value measured from the store, and a
verdict.

Each :class:`Claim` measures one number from the stored runs at the paper's point (e.g. after 60
training iterations for "3× at 60"), **per seed**: seeds are paired across methods (same data
stream, same initial network), so a ratio is taken within each seed, then reduced to the median,
its min–max spread and "k/n seeds" (:func:`pgbench.measures.seed_stats`). Seeds that diverged or
did not reach the point are counted in n, never mixed into the median. ``measured`` is that value
when the stored runs reach the paper's point, else "not yet measured"; ``at this budget`` gives
the same quantity at the largest point the stored runs reach (e.g. at 200 instead of 5,000
iterations), so quick runs still show their analogue. Runs of the ``paper`` scale are used when
the store has them, else the ``quick`` ones. ``runs`` names the run keys (first 8 hex digits).

The ``verdict`` (:func:`verdict`): **reproduced** when the median is within 1.5× of the paper's
number (or range) on runs of the ``paper`` scale (on reduced scales at best "reproduced
qualitatively": the paper's numbers belong to its sizes); **reproduced qualitatively** when it is on the paper's side (e.g. PG better
than Adam) but not within 1.5×; **not reproduced** otherwise; **not measured at this scale**
when the stored runs do not reach the paper's point; **other hardware** for absolute timings
measured on another kind of device than the paper's GPU. ``reason`` says why where known.

Curves are the running averages of the paper's figures (training-batch x error); ratios are
"baseline / PG" of those. The HIG claims compare the final held-out loss (the HIG paper's metric)
at equal wall time, per seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .measures import SeedStats, final_running_average, fmt, format_stats, iterations_done, seed_stats, status_of
from .data import final_errors, running_average, time_per_iteration, usable, window_for

NOT_MEASURED = "not yet measured"
REPRODUCED = "reproduced"
QUALITATIVE = "reproduced qualitatively"
NOT_REPRODUCED = "not reproduced"
NOT_AT_SCALE = "not measured at this scale"
OTHER_HARDWARE = "other hardware"
VERDICTS = (REPRODUCED, QUALITATIVE, NOT_REPRODUCED, NOT_AT_SCALE, OTHER_HARDWARE)
TOLERANCE = 1.5   # "reproduced": within this factor of the paper's number (or range)


@dataclass(frozen=True)
class Measured:
    value: str
    at: str
    runs: tuple[str, ...]
    stats: SeedStats | None = None      # per-seed statistics of a numeric claim
    holds: tuple[int, int] | None = None   # (k, n) seeds a qualitative claim holds for
    examples: int | None = None         # held-out examples behind a rate


@dataclass(frozen=True)
class Claim:
    """One number the paper states. ``value``: the paper's number or ``(lo, hi)`` range (None: a
    qualitative claim); ``better``: whether a measured median is on the paper's side (for
    "reproduced qualitatively"); ``labels``: the methods (experiment labels) it reads;
    ``hardware``: an absolute timing on the paper's GPU; ``min_examples``: held-out examples
    needed to resolve a rate."""

    key: str
    problem: str
    statement: str
    paper: str
    source: str
    measure: Callable[[pd.DataFrame, bool], Measured | None]   # (frame of the problem, at the paper's point?)
    labels: tuple[str, ...] = ()
    value: float | tuple[float, float] | None = None
    better: Callable[[float], bool] | None = None
    hardware: bool = False
    min_examples: int = 0
    gpu: str = ""   # the command measuring a claim the 2-core CPU cannot reach at the paper's size


def _short(keys) -> tuple[str, ...]:
    out = []
    for k in keys:
        out.extend(str(k).split())
    return tuple(sorted({k[:8] for k in out}))


def _fmt(v, digits=3):
    return fmt(v, digits)


def _first_device(d: pd.DataFrame) -> pd.DataFrame:
    """Claims compare methods, not machines: the runs of the first device key."""
    return d[d["device_key"] == sorted(d["device_key"].unique())[0]] if not d.empty else d


@dataclass(frozen=True)
class SeedCurve:
    run_key: str
    status: str
    curve: pd.Series        # running-average metric indexed by iteration


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


def percent_better_at(baseline: str, pg: str, iteration: int):
    """(baseline / PG − 1) · 100 % after ``iteration`` training iterations, per seed."""
    def measure(df, paper_point):
        got = _paired(df, baseline, pg, iteration, paper_point,
                      lambda a, b, it: None if (r := _ratio(a, b, it)) is None else (r - 1) * 100)
        if got is None:
            return None
        stats, it, runs = got
        return Measured(format_stats(stats, " %"), f"iteration {it}", runs, stats)
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
    per, reach = {}, math.inf
    for lab in labels:
        g = _first_device(d[d["label"] == lab]) if not d.empty else d
        if g.empty:
            return None
        per[lab] = {}
        for key, r in g.groupby("run_key", sort=True):
            seed = int(r["seed"].iloc[0])
            if seed not in per[lab]:
                per[lab][seed] = (str(key), r)
                if status_of(r) == "ok":   # a diverged seed is counted, never the point reached
                    reach = min(reach, iterations_done(r))
    it = iteration if paper_point else int(min(iteration, reach))
    if it > reach or it < 1:
        return None
    first = d[d["label"] == labels[0]]
    w = window_for(str(first["problem"].iloc[0]), str(first["scale"].iloc[0]) if "scale" in first else "quick",
                   int(pd.to_numeric(first["iteration"]).max()))
    out = {lab: {s: (k, final_running_average(r, w, "x_error", it) if status_of(r) == "ok" else None)
                 for s, (k, r) in runs.items()} for lab, runs in per.items()}
    return out, it, w


def final_average_ratio(baseline: str, pg: str, iteration: int):
    """Baseline / PG of the final running-average x error over the last ``window`` training
    batches (the paper's running average; 1,000 for sin) at ``iteration``, per seed."""
    def measure(df, paper_point):
        got = _final_averages(df, (baseline, pg), iteration, paper_point)
        if got is None:
            return None
        per, it, w = got
        a, b = per[baseline], per[pg]
        seeds = sorted(set(a) | set(b))
        values = [a[s][1] / b[s][1] for s in seeds if s in a and s in b and a[s][1] is not None
                  and b[s][1] is not None and b[s][1] > 0 and math.isfinite(a[s][1] / b[s][1])]
        runs = _short([k for m in (a, b) for k, _ in m.values()])
        return Measured(format_stats(seed_stats(values, n=len(seeds)), "×"), f"iteration {it}", runs,
                        seed_stats(values, n=len(seeds)))
    return measure


def final_average(label: str, iteration: int):
    """The final running-average x error of ``label`` over the last ``window`` training batches
    at ``iteration``, per seed."""
    def measure(df, paper_point):
        got = _final_averages(df, (label,), iteration, paper_point)
        if got is None:
            return None
        per, it, w = got
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
            return Measured(f"{_fmt(r)}×", "s / iteration", _short([sa["run_keys"], sb["run_keys"]]),
                            seed_stats([r]))
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
        return Measured(f"{format_stats(stats, '×')} ({100 * (stats.median - 1):+.0f} %)", f"s / iteration, {dev}",
                        _short(keys[dev]), stats, holds=(sum(abs(v - 1) < fraction for v in vals), len(vals)))
    return measure


def seconds_per_iteration():
    """Range over training methods of the seconds per iteration (Fig. 14)."""
    def measure(df, paper_point):
        t = time_per_iteration(df[df["kind"] == "training"])
        if t.empty:
            return None
        dev = sorted(t["device_key"].unique())[0]
        t = t[t["device_key"] == dev]
        lo, hi = float(t["seconds"].min()), float(t["seconds"].max())
        return Measured(f"{_fmt(lo, 2)}–{_fmt(hi, 2)} s", dev, _short(t["run_keys"]),
                        SeedStats(float(np.median(t["seconds"])), lo, hi, len(t), len(t)))
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
        at = f"{solver} x error {_fmt(float(level.median()))}"
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
        return Measured(format_stats(stats, " %", 2), f"{n} held-out examples" if n else "held-out batch",
                        _short(last["run_key"]), stats, examples=n)
    return measure


def _test_size(rows):
    import json
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
        v = pd.to_numeric(r.sort_values("iteration")[metric], errors="coerce").dropna() if metric in r else []
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
        table = f[f["label"].isin([winner, *present])].pivot_table(index="seed", columns="label", values="value",
                                                                      aggfunc="median")
        table = table.dropna()   # seeds every method has
        if table.empty:
            return None
        per_seed = [all(row[winner] < row[o] for o in present) for _, row in table.iterrows()]
        k, n = sum(per_seed), len(per_seed)
        verdict = "holds" if k == n else ("does not hold" if k == 0 else f"holds for {k}/{n} seeds")
        med = table.median()

        def show(lab):
            return "diverged" if math.isinf(med[lab]) else _fmt(float(med[lab]))
        text = ", ".join(f"{lab} {show(lab)}" for lab in [winner, *present])
        seeds = "1 seed" if n == 1 else f"median of {n} seeds"
        runs = _short(f[f["label"].isin([winner, *present])]["run_key"])
        return Measured(f"{verdict}: {text}", f"final {what}, {seeds}", runs, holds=(k, n))
    return measure


_ADAM, _PG = "DP (Adam)", "PG (inverse)"
NEEDS_GPU = "needs a GPU"


def _gpu(experiment: str) -> str:
    return (f"pgbench reproduce --scale paper --only {experiment} --backend jax --device cuda "
            f"--results results/paper-gpu/runs --out results/paper-gpu/report")


def _more(threshold):
    return lambda v: v > threshold


def _less(threshold):
    return lambda v: v < threshold


CLAIMS: tuple[Claim, ...] = (
    Claim("sin-1000x", "sin-v0", "PG (inverse physics) vs. DP (Adam): accuracy ratio after 20k iterations",
          "1000×", "§3.1, Fig. 3", final_average_ratio(_ADAM, _PG, 20000), (_ADAM, _PG), 1000.0, _more(1)),
    Claim("sin-1e-5", "sin-v0", "PG (inverse physics) converges to an x error of about", "1e-5", "§3.1, Fig. 3",
          final_average(_PG, 20000), (_PG,), 1e-5, _less(1e-4)),
    Claim("poisson-3x-60", "poisson-v0", "PG / Adam accuracy ratio at iteration 60", "3×", "§3.2, Fig. 4c",
          ratio_at(_ADAM, _PG, 60), (_ADAM, _PG), 3.0, _more(1)),
    Claim("poisson-10x-5k", "poisson-v0", "PG / Adam accuracy ratio after 5k iterations", "10×", "§3.2, Fig. 4c",
          ratio_at(_ADAM, _PG, 5000), (_ADAM, _PG), 10.0, _more(1), gpu=_gpu("poisson-training")),
    Claim("heat-34pc-100", "heat-v0", "inverse-physics PG better than Adam at iteration 100", "34 %",
          "§3.3, Fig. 5c", percent_better_at(_ADAM, _PG, 100), (_ADAM, _PG), 34.0, _more(0)),
    Claim("heat-130pc-10k", "heat-v0", "inverse-physics PG better than Adam after 10k iterations", "130 %",
          "§3.3, Fig. 5c", percent_better_at(_ADAM, _PG, 10000), (_ADAM, _PG), 130.0, _more(0), gpu=_gpu("heat-training")),
    Claim("heat-138", "heat-v0", "iterations of inverse-physics PG to reach Adam's 10k-iteration accuracy", "138",
          "§3.3, Fig. 5c", iterations_to_match(_ADAM, _PG, 10000), (_ADAM, _PG), 138.0, _less(10000), gpu=_gpu("heat-training")),
    Claim("heat-628", "heat-v0", "iterations of L-BFGS-B PG to reach Adam's 10k-iteration accuracy", "628",
          "§3.3, Fig. 5c", iterations_to_match(_ADAM, "PG (L-BFGS-B)", 10000), (_ADAM, "PG (L-BFGS-B)"), 628.0,
          _less(10000), gpu=_gpu("heat-training")),
    Claim("heat-17x", "heat-v0", "time per iteration of L-BFGS-B PG relative to Adam", "17×", "§3.3",
          time_ratio("PG (L-BFGS-B)", _ADAM), ("PG (L-BFGS-B)", _ADAM), 17.0, _more(1)),
    Claim("ns-2.3x-200", "navier-stokes-v0", "PG / Adam accuracy ratio at iteration 200", "2.3×", "§3.4, Fig. 6c",
          ratio_at(_ADAM, _PG, 200), (_ADAM, _PG), 2.3, _more(1)),
    Claim("ns-5x-20k", "navier-stokes-v0", "PG / Adam accuracy ratio after 20k iterations", "5×", "§3.4, Fig. 6c",
          ratio_at(_ADAM, _PG, 20000), (_ADAM, _PG), 5.0, _more(1), gpu=_gpu("navier-stokes-training")),
    Claim("ns-55", "navier-stokes-v0", "iterations of PG to match Adam at 20k", "55", "§3.4, Fig. 6c",
          iterations_to_match(_ADAM, _PG, 20000), (_ADAM, _PG), 55.0, _less(20000), gpu=_gpu("navier-stokes-training")),
    Claim("wavepacket-30-40", "wavepacket-v0", "training iterations until the network beats L-BFGS-B (ξ0 error)",
          "30–40", "App. B.1, Fig. 8", overtake("NN (Adam)", "L-BFGS-B"), ("NN (Adam)", "L-BFGS-B"), (30.0, 40.0),
          lambda v: math.isfinite(v)),
    Claim("wavepacket-0.12pc", "wavepacket-v0", "L-BFGS-B fits that diverge", "0.12 %", "§1, Fig. 1",
          divergence_rate("L-BFGS-B"), ("L-BFGS-B",), 0.12, _more(0), min_examples=1000),
    Claim("fig14-sin", "sin-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.005–0.006 s",
          "App. C, Fig. 14", seconds_per_iteration(), (), (0.005, 0.006), hardware=True),
    Claim("fig14-poisson", "poisson-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.5–1.0 s",
          "App. C, Fig. 14", seconds_per_iteration(), (), (0.5, 1.0), hardware=True),
    Claim("fig14-heat", "heat-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.10–0.14 s",
          "App. C, Fig. 14", seconds_per_iteration(), (), (0.10, 0.14), hardware=True),
    *(Claim(f"fig14-cost-{name}", problem, "time per training iteration, PG (inverse physics) relative to Adam",
            "< 10 %", "App. C, Fig. 14", cost_within(_PG, _ADAM, 0.10), (_PG, _ADAM))
      for name, problem in (("poisson", "poisson-v0"), ("heat", "heat-v0"), ("ns", "navier-stokes-v0"))),
    Claim("hig-oscillators", "oscillators-v0", "HIG below Adam and Gauss-Newton at equal wall time",
          "HIG lowest", "HIG paper, Fig. 2b", ranks_below("HIG", ("Adam", "Gauss-Newton"), "eval_loss"),
          ("HIG", "Adam", "Gauss-Newton")),
    Claim("hig-dipole", "quantum-dipole-v0", "HIG below the paper's Adam at equal wall time", "HIG lower",
          "HIG paper, §4 (quantum dipole)", ranks_below("HIG", ("Adam (paper)",), "eval_loss"),
          ("HIG", "Adam (paper)")),
    Claim("hig-poisson", "poisson-hig-v0", "Adam→HIG below Adam alone at equal wall time", "Adam→HIG lower",
          "HIG paper, §4 (Poisson)", ranks_below("Adam→HIG", ("Adam", "Adam (1e-3)"), "eval_loss"),
          ("Adam→HIG", "Adam", "Adam (1e-3)")),
    Claim("hig-toy", "hig-toy-v0", "HIG far below Adam", "HIG ≪ Adam", "PBDL book, HIG chapter (toy)",
          ranks_below("HIG", ("Adam",), "eval_loss"), ("HIG", "Adam")),
)


def _paper_ratio(claim: Claim, median: float) -> float:
    """Measured median / the paper's number (a range: its geometric middle)."""
    v = claim.value
    mid = math.sqrt(v[0] * v[1]) if isinstance(v, tuple) else v
    return median / mid if mid else math.nan


def verdict(claim: Claim, exact: Measured | None, devices=(), scale: str = "paper") -> tuple[str, str, float]:
    """``(verdict, reason, ratio to the paper)`` of one claim from its value at the paper's point
    (``exact``; None when the stored runs do not reach it). See the module docstring. A number
    measured on runs of a reduced ``scale`` (not ``paper``) is at best "reproduced qualitatively":
    the paper's number belongs to the paper's sizes."""
    v, reason, ratio = _verdict(claim, exact, devices)
    if scale != "paper" and exact is not None and exact.holds is None and v in (REPRODUCED, QUALITATIVE):
        return QUALITATIVE, f"{scale} scale (reduced sizes): {reason}", ratio
    return v, reason, ratio


def _verdict(claim: Claim, exact: Measured | None, devices=()) -> tuple[str, str, float]:
    if exact is None:
        return NOT_AT_SCALE, "the stored runs stop before the paper's point", math.nan
    if exact.holds is not None:   # qualitative
        k, n = exact.holds
        if k == n:
            return REPRODUCED, f"holds for {n}/{n} seeds", math.nan
        if k:
            return QUALITATIVE, f"holds for {k}/{n} seeds", math.nan
        return NOT_REPRODUCED, f"holds for 0/{n} seeds", math.nan
    if claim.hardware and not any("cuda" in str(d).lower() or "gpu" in str(d).lower() or "nvidia" in str(d).lower()
                                  for d in devices):
        return OTHER_HARDWARE, "the paper's timings are on its GPU; these runs are not", math.nan
    if claim.min_examples and (exact.examples or 0) < claim.min_examples:
        return NOT_AT_SCALE, f"a rate of {claim.paper} needs ≥ {claim.min_examples} held-out examples", math.nan
    stats = exact.stats
    if stats is None or stats.k == 0:
        return NOT_REPRODUCED, f"no seed reached a value ({stats.n if stats else 0} seeds)", math.nan
    lo, hi = claim.value if isinstance(claim.value, tuple) else (claim.value, claim.value)
    ratio = _paper_ratio(claim, stats.median)
    seeds = f"{stats.k}/{stats.n} seeds"
    if lo / TOLERANCE <= stats.median <= hi * TOLERANCE:
        return REPRODUCED, f"median within {TOLERANCE}× of the paper ({seeds})", ratio
    if claim.better is not None and claim.better(stats.median):
        return QUALITATIVE, f"on the paper's side but {_fmt(ratio, 2)}× its value ({seeds})", ratio
    return NOT_REPRODUCED, f"{_fmt(ratio, 2)}× the paper's value ({seeds})", ratio


def _claim_device(sub: pd.DataFrame, labels) -> pd.DataFrame:
    """The runs of one device key for a claim comparing ``labels``: among the device keys that
    have runs of every label, the one whose runs reach furthest (the smallest over the labels of
    the last iteration stored), so that e.g. a store with 6-iteration timing runs on one machine
    and 100-iteration runs on another reads the claim from the latter. No labels, or no device
    with all of them: unchanged."""
    if sub.empty or not labels or "device_key" not in sub:
        return sub
    best, reach = None, -1.0
    for dev, g in sorted(sub.groupby("device_key"), key=lambda kv: kv[0]):
        its = [pd.to_numeric(g.loc[g["label"] == lab, "iteration"], errors="coerce").max() for lab in labels]
        if any(not (v >= 0) for v in its):
            continue
        if min(its) > reach:
            best, reach = dev, float(min(its))
    return sub if best is None else sub[sub["device_key"] == best]


def headline_table(df: pd.DataFrame, claims=CLAIMS) -> pd.DataFrame:
    """One row per claim: claim, problem, statement, paper, measured (median, spread and seeds at
    the paper's point, or "not yet measured"), ratio to paper, verdict, reason, at this budget
    (the same quantity at the largest point reached), where, runs, source."""
    rows = []
    for c in claims:
        sub = df[df["problem"] == c.problem] if not df.empty else df
        if not sub.empty and "scale" in sub and (sub["scale"] == "paper").any():
            sub = sub[sub["scale"] == "paper"]   # the paper's numbers are measured at paper scale when there
        sub = _claim_device(sub, c.labels)
        exact = budget = None
        error = ""
        if not sub.empty:
            try:
                exact = c.measure(sub, True)
                budget = exact or c.measure(sub, False)
            except Exception as e:  # a malformed store must not break the report
                error = f"error: {type(e).__name__}: {e}"
                budget = Measured(error, "", ())
        devices = sorted(sub["device_key"].unique()) if not sub.empty and "device_key" in sub else []
        scale = str(sub["scale"].iloc[0]) if not sub.empty and "scale" in sub else ""
        if sub.empty:
            v, reason, ratio = NOT_AT_SCALE, "no stored runs of this problem", math.nan
        elif error:
            v, reason, ratio = NOT_REPRODUCED, error, math.nan
        else:
            v, reason, ratio = verdict(c, exact, devices, scale or "paper")
        gpu = bool(c.gpu) and exact is None and scale == "paper" and not error
        if gpu:
            reason = f"{NEEDS_GPU} (thousands of paper-size iterations): {c.gpu}"
        rows.append({"claim": c.key, "problem": c.problem, "statement": c.statement, "paper": c.paper,
                     "scale": scale, "measured": exact.value if exact else (NEEDS_GPU if gpu else NOT_MEASURED),
                     "ratio to paper": ratio, "verdict": v, "reason": reason,
                     "at this budget": budget.value if budget else NOT_MEASURED,
                     "where": (budget.at if budget else ""), "runs": " ".join(budget.runs) if budget else "",
                     "source": c.source})
    return pd.DataFrame(rows)


def format_headline(table: pd.DataFrame, width: int | None = None):
    """The headline table as a rich Table for the terminal: claim, paper, measured, ×paper,
    verdict, at this budget."""
    from rich.table import Table

    t = Table(title="headline: the paper's numbers", title_justify="left", width=width)
    for col, kw in (("claim", {}), ("paper", {"justify": "right"}), ("measured", {"justify": "right"}),
                    ("×paper", {"justify": "right"}), ("verdict", {}), ("at this budget", {"justify": "right"})):
        t.add_column(col, overflow="fold", **kw)
    style = {REPRODUCED: "green", QUALITATIVE: "yellow", NOT_REPRODUCED: "red"}
    for _, r in table.iterrows():
        ratio = r["ratio to paper"]
        v = r["verdict"]
        shown = f"[{style[v]}]{v}[/]" if v in style else v
        t.add_row(r["claim"], r["paper"], r["measured"], "" if not math.isfinite(ratio) else f"{_fmt(ratio, 2)}",
                  shown, r["at this budget"] if r["measured"] in (NOT_MEASURED, NEEDS_GPU) else "")
    return t
