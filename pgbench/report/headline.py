"""The headline table: every number the paper states, next to the value measured from the store.

Each :class:`Claim` measures one number from the stored runs at the paper's point (e.g. the
iteration 60 of "3× at 60"). ``measured`` is that value when the stored runs reach the paper's
point, else "not yet measured"; ``at this budget`` gives the same quantity at the largest point
the stored runs reach (e.g. at 200 instead of 5,000 iterations), so quick runs still show their
analogue. Runs of the ``paper`` scale are used when the store has them, else the ``quick`` ones.
``runs`` names the run keys (first 8 hex digits) it came from. Curves are the
learning-curve running averages of the report (training-batch x error); ratios are
"baseline / PG" of those averages. The HIG claims compare the final held-out loss (the HIG
paper's metric) at equal wall time, per seed, and show the median over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .data import curves, final_errors, time_per_iteration, usable

NOT_MEASURED = "not yet measured"


@dataclass(frozen=True)
class Measured:
    value: str
    at: str
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    key: str
    problem: str
    statement: str
    paper: str
    source: str
    measure: Callable[[pd.DataFrame, bool], Measured | None]   # (frame of the problem, at the paper's point?)


def _short(keys) -> tuple[str, ...]:
    out = []
    for k in keys:
        out.extend(str(k).split())
    return tuple(sorted({k[:8] for k in out}))


def _curve(df, label, kind="training", metric="x_error"):
    c = curves(df[(df["label"] == label) & (df["kind"] == kind)], metric)
    if c.empty:
        return None
    dev = sorted(c["device_key"].unique())[0]   # one device: the first (claims compare methods, not machines)
    return c[c["device_key"] == dev].set_index("iteration")


def _fmt(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "nan"
    if abs(v) >= 1e4 or (0 < abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def ratio_at(baseline: str, pg: str, iteration: int):
    """Baseline / PG running-average x error at ``iteration``."""
    def measure(df, paper_point):
        a, b = _curve(df, baseline), _curve(df, pg)
        if a is None or b is None:
            return None
        reach = int(min(a.index.max(), b.index.max()))
        it = iteration if paper_point else min(iteration, reach)
        if it > reach or it not in a.index or it not in b.index:
            return None
        r = a.loc[it, "mean"] / b.loc[it, "mean"]
        return Measured(f"{_fmt(r)}×", f"iteration {it}", _short([a["run_keys"].iloc[0], b["run_keys"].iloc[0]]))
    return measure


def percent_better_at(baseline: str, pg: str, iteration: int):
    """(baseline / PG − 1) · 100 % at ``iteration``."""
    inner = ratio_at(baseline, pg, iteration)

    def measure(df, paper_point):
        m = inner(df, paper_point)
        if m is None:
            return None
        r = float(m.value.rstrip("×"))
        return Measured(f"{_fmt((r - 1) * 100)} %", m.at, m.runs)
    return measure


def iterations_to_match(baseline: str, pg: str, iteration: int):
    """First iteration at which PG's running average is at or below the baseline's at ``iteration``."""
    def measure(df, paper_point):
        a, b = _curve(df, baseline), _curve(df, pg)
        if a is None or b is None:
            return None
        it = iteration if paper_point else min(iteration, int(a.index.max()))
        if it not in a.index:
            return None
        level = a.loc[it, "mean"]
        hit = b.index[b["mean"].to_numpy() <= level]
        runs = _short([a["run_keys"].iloc[0], b["run_keys"].iloc[0]])
        if len(hit) == 0:
            return Measured(f"> {int(b.index.max())} (not reached)", f"{baseline} at {it}", runs)
        return Measured(f"{int(hit[0])}", f"{baseline} at {it}", runs)
    return measure


def value_at(label: str, iteration: int, kind="training"):
    def measure(df, paper_point):
        a = _curve(df, label, kind)
        if a is None:
            return None
        it = iteration if paper_point else min(iteration, int(a.index.max()))
        if it not in a.index:
            return None
        return Measured(_fmt(a.loc[it, "mean"]), f"iteration {it}", _short([a["run_keys"].iloc[0]]))
    return measure


def time_ratio(slow: str, fast: str):
    """Seconds per iteration of ``slow`` / ``fast`` (training runs, same device)."""
    def measure(df, paper_point):
        t = time_per_iteration(df[df["kind"] == "training"])
        a, b = t[t["label"] == slow], t[t["label"] == fast]
        for dev in sorted(set(a["device_key"]) & set(b["device_key"])):
            sa, sb = a[a["device_key"] == dev].iloc[0], b[b["device_key"] == dev].iloc[0]
            return Measured(f"{_fmt(sa['seconds'] / sb['seconds'])}×", "s / iteration", _short([sa["run_keys"],
                                                                                              sb["run_keys"]]))
        return None
    return measure


def seconds_per_iteration():
    """Range over training methods of the seconds per iteration (Fig. 14)."""
    def measure(df, paper_point):
        t = time_per_iteration(df[df["kind"] == "training"])
        if t.empty:
            return None
        dev = sorted(t["device_key"].unique())[0]
        t = t[t["device_key"] == dev]
        return Measured(f"{_fmt(t['seconds'].min(), 2)}–{_fmt(t['seconds'].max(), 2)} s", dev,
                        _short(t["run_keys"]))
    return measure


def overtake(nn: str, solver: str):
    """First training iteration at which the network's running-average x error drops below the
    iterative solver's final x error on the held-out batch."""
    def measure(df, paper_point):
        a = _curve(df, nn)
        f = final_errors(df)
        f = f[(f["label"] == solver) & (f["kind"] == "iterative")]
        if a is None or f.empty:
            return None
        level = float(f["x_error"].mean())
        hit = a.index[a["mean"].to_numpy() < level]
        runs = _short([a["run_keys"].iloc[0], *f["run_key"]])
        if len(hit) == 0:
            return Measured(f"> {int(a.index.max())} (not reached)", f"{solver} x error {_fmt(level)}", runs)
        return Measured(f"{int(hit[0])}", f"{solver} x error {_fmt(level)}", runs)
    return measure


def divergence_rate(label: str, column: str = "diverged"):
    def measure(df, paper_point):
        d = usable(df)
        d = d[(d["label"] == label) & (d["kind"] == "iterative")]
        if d.empty or column not in d:
            return None
        last = d.sort_values("iteration").groupby("run_key").tail(1)
        v = pd.to_numeric(last[column], errors="coerce").mean()
        n = _test_size(last)
        return Measured(f"{_fmt(100 * v, 2)} %", f"{n} held-out examples" if n else "held-out batch",
                        _short(last["run_key"]))
    return measure


def _test_size(rows):
    import json
    try:
        return int(json.loads(rows["problem_settings"].iloc[0])["test_size"])
    except Exception:
        return None


def _final_held_out(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per training run: label, seed, and the last held-out value of ``metric`` (``eval_loss`` or
    ``eval_x_error``); a ``diverged`` run counts as +inf (its last evaluation precedes the blow-up)."""
    d = usable(df)
    d = d[d["kind"] == "training"] if not d.empty else d
    rows = []
    for key, r in d.groupby("run_key") if not d.empty else ():
        v = pd.to_numeric(r.sort_values("iteration")[metric], errors="coerce").dropna() if metric in r else []
        value = float(v.iloc[-1]) if len(v) else math.nan
        if r["status"].iloc[0] == "diverged" or not math.isfinite(value):
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
        return Measured(f"{verdict}: {text}", f"final {what}, {seeds}", runs)
    return measure


CLAIMS: tuple[Claim, ...] = (
    Claim("sin-1000x", "sin-v0", "PG (inverse physics) vs. DP (Adam): accuracy ratio after 20k iterations",
          "1000×", "P:L279", ratio_at("DP (Adam)", "PG (inverse)", 19999)),
    Claim("sin-1e-5", "sin-v0", "PG (inverse physics) converges to an x error of about", "1e-5", "P:L277-279",
          value_at("PG (inverse)", 19999)),
    Claim("poisson-3x-60", "poisson-v0", "PG / Adam accuracy ratio at iteration 60", "3×", "P:L286-292",
          ratio_at("DP (Adam)", "PG (inverse)", 60)),
    Claim("poisson-10x-5k", "poisson-v0", "PG / Adam accuracy ratio after 5k iterations", "10×", "P:L286-292",
          ratio_at("DP (Adam)", "PG (inverse)", 5000)),
    Claim("heat-34pc-100", "heat-v0", "inverse-physics PG better than Adam at iteration 100", "34 %",
          "P:L318-343", percent_better_at("DP (Adam)", "PG (inverse)", 100)),
    Claim("heat-130pc-10k", "heat-v0", "inverse-physics PG better than Adam after 10k iterations", "130 %",
          "P:L318-343", percent_better_at("DP (Adam)", "PG (inverse)", 9999)),
    Claim("heat-138", "heat-v0", "iterations of inverse-physics PG to reach Adam's 10k-iteration accuracy", "138",
          "P:L318-343", iterations_to_match("DP (Adam)", "PG (inverse)", 9999)),
    Claim("heat-628", "heat-v0", "iterations of L-BFGS-B PG to reach Adam's 10k-iteration accuracy", "628",
          "P:L318-343", iterations_to_match("DP (Adam)", "PG (L-BFGS-B)", 9999)),
    Claim("heat-17x", "heat-v0", "time per iteration of L-BFGS-B PG relative to Adam", "17×", "P:L318-343",
          time_ratio("PG (L-BFGS-B)", "DP (Adam)")),
    Claim("ns-2.3x-200", "navier-stokes-v0", "PG / Adam accuracy ratio at iteration 200", "2.3×", "P:L375-379",
          ratio_at("DP (Adam)", "PG (inverse)", 200)),
    Claim("ns-5x-20k", "navier-stokes-v0", "PG / Adam accuracy ratio after 20k iterations", "5×", "P:L375-379",
          ratio_at("DP (Adam)", "PG (inverse)", 19999)),
    Claim("ns-55", "navier-stokes-v0", "iterations of PG to match Adam at 20k", "55", "P:L375-379",
          iterations_to_match("DP (Adam)", "PG (inverse)", 19999)),
    Claim("wavepacket-30-40", "wavepacket-v0", "training iterations until the network beats L-BFGS-B (ξ0 error)",
          "30–40", "P:L738", overtake("NN (Adam)", "L-BFGS-B")),
    Claim("wavepacket-0.12pc", "wavepacket-v0", "L-BFGS-B fits that diverge", "0.12 %", "P:L52-53",
          divergence_rate("L-BFGS-B")),
    Claim("fig14-sin", "sin-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.005–0.006 s",
          "Fig. 14", seconds_per_iteration()),
    Claim("fig14-poisson", "poisson-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.5–1.0 s",
          "Fig. 14", seconds_per_iteration()),
    Claim("fig14-heat", "heat-v0", "seconds per training iteration (Fig. 14, paper's GPU)", "0.10–0.14 s",
          "Fig. 14", seconds_per_iteration()),
    Claim("hig-oscillators", "oscillators-v0", "HIG below Adam and Gauss-Newton at equal wall time",
          "HIG lowest", "HIG paper Fig. 2b", ranks_below("HIG", ("Adam", "Gauss-Newton"), "eval_loss")),
    Claim("hig-dipole", "quantum-dipole-v0", "HIG below the paper's Adam at equal wall time", "HIG lower",
          "HIG paper", ranks_below("HIG", ("Adam (paper)",), "eval_loss")),
    Claim("hig-poisson", "poisson-hig-v0", "Adam→HIG below Adam alone at equal wall time", "Adam→HIG lower",
          "HIG paper", ranks_below("Adam→HIG", ("Adam", "Adam (1e-3)"), "eval_loss")),
    Claim("hig-toy", "hig-toy-v0", "HIG far below Adam", "HIG ≪ Adam", "PBDL book",
          ranks_below("HIG", ("Adam",), "eval_loss")),
)


def headline_table(df: pd.DataFrame, claims=CLAIMS) -> pd.DataFrame:
    """One row per claim: problem, claim, paper, measured (at the paper's point or
    "not yet measured"), at this budget (the same quantity at the largest point reached), where,
    runs, source."""
    rows = []
    for c in claims:
        sub = df[df["problem"] == c.problem] if not df.empty else df
        if not sub.empty and "scale" in sub and (sub["scale"] == "paper").any():
            sub = sub[sub["scale"] == "paper"]   # the paper's numbers are measured at paper scale when there
        exact = budget = None
        if not sub.empty:
            try:
                exact = c.measure(sub, True)
                budget = exact or c.measure(sub, False)
            except Exception as e:  # a malformed store must not break the report
                budget = Measured(f"error: {type(e).__name__}: {e}", "", ())
        rows.append({"claim": c.key, "problem": c.problem, "statement": c.statement, "paper": c.paper,
                     "measured": exact.value if exact else NOT_MEASURED,
                     "at this budget": budget.value if budget else NOT_MEASURED,
                     "where": (budget.at if budget else ""), "runs": " ".join(budget.runs) if budget else "",
                     "source": c.source})
    return pd.DataFrame(rows)
