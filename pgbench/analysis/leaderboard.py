"""The leaderboard: every method ranked per problem by time to target and by error at equal wall
time, and an AlgoPerf-style performance-profile score across problems. A pure function of the
stored runs (:func:`pgbench.load_results`); every per-run number comes from :mod:`pgbench.measures`.

Per problem (one ``kind`` of method, training by default; newest configuration of each method,
:func:`pgbench.report.data.latest_configs`):

* **target**: under a named policy (:mod:`pgbench.analysis.targets`), by default
  ``worst-reference``: the worst final held-out x error over the ok seeds of the reference method
  (DP with Adam, "Adam"). AlgoPerf sets its targets from a baseline's result the same way, and
  "time to target" reads "how fast does each method reach what every Adam seed reaches within the
  budget"; without an ok reference seed, the declared target.
* **time to target** of a seed: wall seconds until its held-out x error first reaches the target
  (:func:`~pgbench.measures.first_reaching`); ∞ if it never does, and for a diverged or failed
  seed (even one that passed the target before it blew up: it leaves no usable network). A method's time is
  the **median over all its seeds**, ∞ counted in (so it is finite only when at least half of the
  seeds reach the target; with two seeds, both). Shown with the spread over the seeds that
  reached it and k/n. Ranked ascending, ties (equal time and equal k) sharing a rank.
* **error at equal wall time**: T = the smallest final wall time of the problem's ``ok`` runs
  (all methods); each ok seed's x error as it stood at T, read from its curve
  (:func:`~pgbench.measures.value_at_time`); median, spread and k/n over the seeds (a diverged
  or failed seed has no value and only lowers k). Ranked ascending.

Across problems, the **performance profile** (Dolan & Moré 2002; AlgoPerf's scoring): with
:math:`t_{p,s}` method s's time to target on problem p and :math:`r_{p,s} = t_{p,s} / \\min_s
t_{p,s}`, :math:`\\rho_s(\\tau) = |\\{p : r_{p,s} \\le \\tau\\}| / |P|` and the **score**
:math:`\\frac{1}{\\tau_{max} - 1}\\int_1^{\\tau_{max}} \\rho_s(\\tau)\\,d\\tau
= \\frac{1}{|P|}\\sum_p \\max(0, \\tau_{max} - r_{p,s}) / (\\tau_{max} - 1)`, in [0, 1] (1: fastest
everywhere). A method that never reaches the target on a problem, or did not run there, has
:math:`r = \\infty` (no credit, AlgoPerf's maximal penalty). Problems where no method reaches
the target carry no information and are left out (listed in ``notes``). ``max_ratio``
:math:`\\tau_{max}` is 4 as in AlgoPerf.

**Clock** (``clock``, :mod:`pgbench.clocks`): times to target and the common time are read on the
wall clock (default) or on the process CPU clock, which other work on a shared machine does not
inflate. **Uncertainty** (:mod:`pgbench.analysis.uncertainty`): each time to target carries a 90 %
percentile-bootstrap interval over its seeds (``time_ci_lo`` / ``time_ci_hi``) and a rank that
ties overlapping intervals (``rank_time_tied``); each score an interval from resampling seeds and
problems (``score_lo`` / ``score_hi``), a tied rank (``rank_tied``) and the probability of
scoring best (``p_first``); ``stability`` is the mean Kendall τ of the replicates' scores with the
point scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import clocks
from ..record import records
from ..registry import base_name
from . import measures, profiles, uncertainty
from .data import latest_configs, with_device
from .summary import method_names, per_run
from .targets import WORST_REFERENCE, as_policy

MAX_RATIO = 4.0
TABLE_COLUMNS = [
    "problem",
    "method",
    "rank_time",
    "time_to_target",
    "time_lo",
    "time_hi",
    "time_ci_lo",
    "time_ci_hi",
    "rank_time_tied",
    "reached",
    "seeds",
    "rank_error",
    "error_at_time",
    "error_lo",
    "error_hi",
    "error_seeds",
    "final_error",
    "diverged",
    "failed",
    "target",
    "target_source",
    "common_time",
    "run_keys",
]


@dataclass
class Leaderboard:
    """``table``: one row per problem × method (:data:`TABLE_COLUMNS`); ``scores``: one row per
    method (score, problems it reached within ``max_ratio`` of the best, its ratios);
    ``profile``: ρ_s(τ) on a grid of τ in [1, max_ratio]; ``notes``: what was left out and why;
    ``policy``: the target policy the times are measured against."""

    table: pd.DataFrame
    scores: pd.DataFrame
    profile: pd.DataFrame
    max_ratio: float = MAX_RATIO
    kind: str = "training"
    notes: list = field(default_factory=list)
    policy: str = str(WORST_REFERENCE)
    clock: str = clocks.DEFAULT
    stability: float = math.nan  # mean Kendall τ of bootstrap replicates' scores with the point scores


def _method_names(runs: pd.DataFrame) -> pd.Series:
    """A method is its label (else its solver id; :func:`~pgbench.analysis.summary.method_names`:
    a label naming several solver ids gets the id added); labels used by several devices or
    configurations of one problem get the device / config hash added so they are never pooled."""
    name = method_names(runs)
    several_dev = runs.groupby("problem")["device_key"].transform("nunique") > 1
    name = name.where(~several_dev, name + " · " + runs["device_key"].astype(str))
    tmp = runs.assign(_name=name)
    several_cfg = tmp.groupby(["problem", "_name"])["config"].transform("nunique") > 1
    return name.where(~several_cfg, name + " [" + runs["config"].astype(str) + "]")


def _shared_rank(keys: list[tuple]) -> list[int]:
    """1 + the number of entries strictly better (lexicographically smaller): equal keys share a rank."""
    return [1 + sum(other < k for other in keys) for k in keys]


def _select(df: pd.DataFrame, kind: str, problems) -> pd.DataFrame:
    df = latest_configs(with_device(df))
    df = df[df["kind"] == kind]
    if problems:
        names = set(problems)
        df = df[df["problem"].isin(names) | df["problem"].astype(str).map(base_name).isin(names)]
    return df


def _problem_rows(problem: str, pr: pd.DataFrame, recs: dict, clock: str, seed_times: list) -> list[dict]:
    """The rows of one problem: per method, time to target on ``clock`` (∞ for seeds that never
    reach it or diverged/failed) with its bootstrap interval, and error at the problem's common
    time, with ranks; each seed's time is appended to ``seed_times``."""
    ok = pr[pr["status"] == "ok"]
    spent = "wall_time" if clock == "wall" else "cpu_time"
    reach = "time_to_target" if clock == "wall" else "cpu_time_to_target"
    common = float(ok[spent].min()) if len(ok) else math.nan
    target, source = float(pr["target"].iloc[0]), str(pr["target_source"].iloc[0])
    prow = []
    for method, g in pr.groupby("method", sort=True):
        keys = list(g["run_key"])
        okm = g["status"] == "ok"
        times = np.where(okm & np.isfinite(g[reach]), g[reach], np.inf).astype(float)
        reached = times[np.isfinite(times)]
        seed_times.extend({"problem": problem, "method": method, "time": t} for t in times)
        ci_lo, ci_hi = uncertainty.seed_interval(times)
        err = [
            measures.value_at_time(recs[k], common, clock=clock) if st == "ok" else math.nan
            for k, st in zip(keys, g["status"], strict=True)
        ]
        e = measures.seed_stats(err, n=len(keys))
        fin = measures.seed_stats(g["x_error"].where(okm), n=len(keys))
        prow.append(
            {
                "problem": problem,
                "method": method,
                "time_to_target": float(np.median(times)),
                "time_lo": float(reached.min()) if len(reached) else math.nan,
                "time_hi": float(reached.max()) if len(reached) else math.nan,
                "time_ci_lo": ci_lo,
                "time_ci_hi": ci_hi,
                "reached": len(reached),
                "seeds": len(keys),
                "error_at_time": e.median,
                "error_lo": e.lo,
                "error_hi": e.hi,
                "error_seeds": e.k,
                "final_error": fin.median,
                "diverged": int((g["status"] == "diverged").sum()),
                "failed": int((g["status"] == "failed").sum()),
                "target": target,
                "target_source": source,
                "common_time": common,
                "run_keys": " ".join(sorted(str(k)[:8] for k in keys)),
            }
        )
    tkeys = [(r["time_to_target"], -r["reached"]) for r in prow]
    ekeys = [(r["error_at_time"] if math.isfinite(r["error_at_time"]) else math.inf, -r["error_seeds"]) for r in prow]
    tied = uncertainty.tied_rank([r["time_ci_lo"] for r in prow], [r["time_ci_hi"] for r in prow])
    for r, rt, re_, tt in zip(prow, _shared_rank(tkeys), _shared_rank(ekeys), tied, strict=True):
        r["rank_time"], r["rank_error"], r["rank_time_tied"] = rt, re_, tt
    return sorted(prow, key=lambda r: (r["rank_time"], r["rank_error"], r["method"]))


def build(
    df: pd.DataFrame,
    kind: str = "training",
    policy=WORST_REFERENCE,
    max_ratio: float = MAX_RATIO,
    problems=None,
    clock: str = clocks.DEFAULT,
) -> Leaderboard:
    """The leaderboard of the runs in ``df`` (see the module docstring). ``policy``: the target
    policy (:func:`pgbench.analysis.targets.as_policy`: a policy, its name, a number for every
    problem or ``{problem: number}``); ``problems``: only these (ids or names); ``clock``: the
    clock times are read on (:mod:`pgbench.clocks`: ``wall`` or ``cpu``)."""
    if not max_ratio > 1:
        raise ValueError(f"max_ratio must be > 1, got {max_ratio}")
    clocks.column(clock)  # an unknown clock suggests the nearest
    policy = as_policy(policy)
    notes: list[str] = []
    empty = Leaderboard(
        pd.DataFrame(columns=TABLE_COLUMNS),
        pd.DataFrame(columns=["method", "score"]),
        pd.DataFrame(columns=["method", "tau", "rho"]),
        max_ratio,
        kind,
        notes,
        str(policy),
        clock,
    )
    if df is None or df.empty:
        return empty
    df = _select(df, kind, problems)
    if df.empty:
        return empty
    recs = {r.run_key: r for r in records(df)}
    runs = per_run(list(recs.values()), policy)
    runs["method"] = _method_names(runs)
    if clock == "cpu" and runs["cpu_time"].isna().all():
        notes.append("no run records CPU time (stores written before pgbench 0.4): nothing to rank on the CPU clock")
    rows: list[dict] = []
    seed_times: list[dict] = []
    for problem, pr in runs.groupby("problem", sort=True):
        rows.extend(_problem_rows(str(problem), pr, recs, clock, seed_times))
        if not math.isfinite(float(pr["target"].iloc[0])):
            notes.append(f"{problem}: no target (none given or declared, no reference method): not ranked by time")
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    scores, profile = profile_scores(table, max_ratio, notes)
    spread = uncertainty.score_intervals(pd.DataFrame(seed_times, columns=["problem", "method", "time"]), max_ratio)
    scores = scores.merge(spread.table.drop(columns="score"), on="method", how="left")
    return Leaderboard(table, scores, profile, max_ratio, kind, notes, str(policy), clock, spread.stability)


def profile_scores(table: pd.DataFrame, max_ratio: float = MAX_RATIO, notes: list | None = None):
    """``(scores, profile)`` from a leaderboard table (columns problem, method, time_to_target):
    ratios to the per-problem best, ρ_s(τ) on a grid and the normalised area up to ``max_ratio``
    (:mod:`pgbench.analysis.profiles`). Methods absent on a problem count as never reaching the target."""
    notes = notes if notes is not None else []
    methods = sorted(table["method"].unique()) if len(table) else []
    r = profiles.ratios(table, ["problem"], "method", "time_to_target", complete=True)
    for p in r.unsolved:
        notes.append(f"{p}: no method reached the target; left out of the profile score")
    scored = sorted(r.table["problem"].unique())
    ratio = {(p, m): v for p, m, v in r.table[["problem", "method", "ratio"]].itertuples(index=False)}
    taus = np.linspace(1.0, max_ratio, 301)
    rows = []
    for m in methods:
        rm = [ratio.get((p, m), math.inf) for p in scored]
        rows.append(
            {
                "method": m,
                "score": profiles.score(rm, max_ratio),
                "problems": len(scored),
                "within_max_ratio": int(np.sum(np.asarray(rm) <= max_ratio)),
                "fastest": int(np.sum(np.asarray(rm) == 1.0)),
                "ratios": "; ".join(f"{base_name(p)} {_ratio(v)}" for p, v in zip(scored, rm, strict=True)),
            }
        )
    prof = profiles.rho(r, taus)[["method", "tau", "rho"]] if scored else pd.DataFrame(columns=["method", "tau", "rho"])
    if not scored and methods:
        prof = pd.DataFrame([{"method": m, "tau": float(t), "rho": math.nan} for m in methods for t in taus])
    scores = pd.DataFrame(rows, columns=["method", "score", "problems", "within_max_ratio", "fastest", "ratios"])
    scores = scores.sort_values(["score", "method"], ascending=[False, True], na_position="last").reset_index(drop=True)
    scores.insert(0, "rank", _shared_rank([(-s if math.isfinite(s) else math.inf,) for s in scores["score"]]))
    return scores, prof


def _ratio(r: float) -> str:
    return "∞" if not math.isfinite(r) else f"{r:.2f}"


__all__ = ["Leaderboard", "build", "profile_scores", "MAX_RATIO", "TABLE_COLUMNS"]
