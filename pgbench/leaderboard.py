"""The leaderboard: every method ranked per problem by time to target and by error at equal wall
time, and an AlgoPerf-style performance-profile score across problems. A pure function of the
stored runs (:func:`pgbench.load_results`); every per-run number comes from :mod:`pgbench.measures`.

Per problem (one ``kind`` of method, training by default; newest configuration of each method,
:func:`pgbench.report.data.latest_configs`):

* **target**: the one given (a number or ``{problem: number}``), else the worst final held-out x
  error over the ok seeds of the reference method (DP with Adam, "Adam"): AlgoPerf sets its targets
  from a baseline's result the same way, and "time to target" reads "how fast does each method
  reach what every Adam seed reaches within the budget"; else the problem's declared target.
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import measures

MAX_RATIO = 4.0
TABLE_COLUMNS = ["problem", "method", "rank_time", "time_to_target", "time_lo", "time_hi", "reached", "seeds",
                 "rank_error", "error_at_time", "error_lo", "error_hi", "error_seeds", "final_error",
                 "diverged", "failed", "target", "target_source", "common_time", "run_keys"]


@dataclass
class Leaderboard:
    """``table``: one row per problem × method (:data:`TABLE_COLUMNS`); ``scores``: one row per
    method (score, problems it reached within ``max_ratio`` of the best, its ratios);
    ``profile``: ρ_s(τ) on a grid of τ in [1, max_ratio]; ``notes``: what was left out and why."""

    table: pd.DataFrame
    scores: pd.DataFrame
    profile: pd.DataFrame
    max_ratio: float = MAX_RATIO
    kind: str = "training"
    notes: list = field(default_factory=list)


def _method_names(runs: pd.DataFrame) -> pd.Series:
    """A method is its label (else solver and optimizer); labels used by several configurations
    or devices of one problem get the config hash / device added so they are never pooled."""
    def base(r):
        label = r.get("label")
        if isinstance(label, str) and label:
            return label
        return str(r.get("solver"))
    name = runs.apply(base, axis=1)
    several_dev = runs.groupby("problem")["device_key"].transform("nunique") > 1
    name = name.where(~several_dev, name + " · " + runs["device_key"].astype(str))
    tmp = runs.assign(_name=name)
    several_cfg = tmp.groupby(["problem", "_name"])["config"].transform("nunique") > 1
    return name.where(~several_cfg, name + " [" + runs["config"].astype(str) + "]")


def _per_run(df: pd.DataFrame) -> pd.DataFrame:
    from .summary import run_status
    rows = []
    for key, g in df.groupby("run_key", sort=False):
        first = g.iloc[0]
        status = run_status(g)[0]
        wall = pd.to_numeric(g["wall_time"], errors="coerce")
        rows.append({"run_key": key, "problem": first["problem"], "label": first.get("label"),
                     "solver": first.get("solver"), "device_key": first["device_key"], "config": first["config"],
                     "seed": first.get("seed"), "status": status,
                     "final_error": measures.final_value(g) if status == "ok" else math.nan,
                     "last_time": float(wall.max()) if wall.notna().any() else math.nan})
    return pd.DataFrame(rows)


def _target(problem: str, given, runs: pd.DataFrame, frames: dict) -> tuple[float, str]:
    """``(target, where it came from)``: given; else the worst final held-out x error of the
    reference method's ok seeds (AlgoPerf-style target setting from a baseline: what every seed of
    Adam reaches within the budget); else the target stored with the runs or declared by the problem."""
    from .report.data import reference_label
    from .summary import problem_target
    if isinstance(given, dict):
        v = given.get(problem, given.get(problem.rsplit("-v", 1)[0]))
        if v is not None:
            return float(v), "given"
    elif given is not None:
        return float(given), "given"
    ref = reference_label(runs["label"].dropna().unique(), "training")
    ok = runs[(runs["label"] == ref) & (runs["status"] == "ok")]["final_error"].dropna()
    if len(ok):
        return float(ok.max()), f"worst final error of {ref} ({len(ok)} seeds)"
    stored = [measures.target_of(frames[k]) for k in runs["run_key"]]
    stored = [v for v in stored if math.isfinite(v)]
    if stored:
        return float(stored[0]), "problem"
    declared = problem_target(problem)
    return (float(declared), "problem") if declared is not None else (math.nan, "none")


def _shared_rank(keys: list[tuple]) -> list[int]:
    """1 + the number of entries strictly better (lexicographically smaller): equal keys share a rank."""
    return [1 + sum(other < k for other in keys) for k in keys]


def build(df: pd.DataFrame, kind: str = "training", targets=None, max_ratio: float = MAX_RATIO,
          problems=None) -> Leaderboard:
    """The leaderboard of the runs in ``df`` (see the module docstring). ``targets``: None, a
    number for every problem, or ``{problem: number}``; ``problems``: only these (ids or names)."""
    from .report.data import latest_configs, with_device

    if not max_ratio > 1:
        raise ValueError(f"max_ratio must be > 1, got {max_ratio}")
    notes: list[str] = []
    empty = Leaderboard(pd.DataFrame(columns=TABLE_COLUMNS), pd.DataFrame(columns=["method", "score"]),
                        pd.DataFrame(columns=["method", "tau", "rho"]), max_ratio, kind, notes)
    if df is None or df.empty:
        return empty
    df = latest_configs(with_device(df))
    df = df[df["kind"] == kind]
    if problems:
        names = set(problems)
        df = df[df["problem"].isin(names) | df["problem"].astype(str).str.rsplit("-v", n=1).str[0].isin(names)]
    if df.empty:
        return empty
    frames = {k: g for k, g in df.groupby("run_key", sort=False)}
    runs = _per_run(df)
    runs["method"] = _method_names(runs)
    rows = []
    for problem, pr in runs.groupby("problem", sort=True):
        target, source = _target(problem, targets, pr, frames)
        ok = pr[pr["status"] == "ok"]
        common = float(ok["last_time"].min()) if len(ok) else math.nan
        ttt, err = {}, {}
        for key, status in zip(pr["run_key"], pr["status"]):
            t = measures.first_reaching(frames[key], target)[1] if status == "ok" else math.nan
            ttt[key] = t if math.isfinite(t) else math.inf
            err[key] = measures.value_at_time(frames[key], common) if status == "ok" else math.nan
        prow = []
        for method, g in pr.groupby("method", sort=True):
            keys = list(g["run_key"])
            times = np.array([ttt[k] for k in keys])
            reached = times[np.isfinite(times)]
            e = measures.seed_stats([err[k] for k in keys], n=len(keys))
            fin = measures.seed_stats(g["final_error"], n=len(keys))
            prow.append({"problem": problem, "method": method,
                         "time_to_target": float(np.median(times)),
                         "time_lo": float(reached.min()) if len(reached) else math.nan,
                         "time_hi": float(reached.max()) if len(reached) else math.nan,
                         "reached": len(reached), "seeds": len(keys),
                         "error_at_time": e.median, "error_lo": e.lo, "error_hi": e.hi, "error_seeds": e.k,
                         "final_error": fin.median,
                         "diverged": int((g["status"] == "diverged").sum()),
                         "failed": int((g["status"] == "failed").sum()),
                         "target": target, "target_source": source, "common_time": common,
                         "run_keys": " ".join(sorted(str(k)[:8] for k in keys))})
        tkeys = [(r["time_to_target"], -r["reached"]) for r in prow]
        ekeys = [(r["error_at_time"] if math.isfinite(r["error_at_time"]) else math.inf, -r["error_seeds"])
                 for r in prow]
        for r, rt, re_ in zip(prow, _shared_rank(tkeys), _shared_rank(ekeys)):
            r["rank_time"], r["rank_error"] = rt, re_
        if not math.isfinite(target):
            notes.append(f"{problem}: no target (none given or declared, no reference method): not ranked by time")
        rows.extend(sorted(prow, key=lambda r: (r["rank_time"], r["rank_error"], r["method"])))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    scores, profile = profile_scores(table, max_ratio, notes)
    return Leaderboard(table, scores, profile, max_ratio, kind, notes)


def profile_scores(table: pd.DataFrame, max_ratio: float = MAX_RATIO, notes: list | None = None):
    """``(scores, profile)`` from a leaderboard table (columns problem, method, time_to_target):
    ratios to the per-problem best, ρ_s(τ) on a grid and the normalised area up to ``max_ratio``
    (see the module docstring). Methods absent on a problem count as never reaching the target."""
    notes = notes if notes is not None else []
    methods = sorted(table["method"].unique()) if len(table) else []
    best = table.groupby("problem")["time_to_target"].min() if len(table) else pd.Series(dtype=float)
    scored = sorted(p for p, b in best.items() if math.isfinite(b) and b > 0)
    for p in sorted(set(best.index) - set(scored)):
        notes.append(f"{p}: no method reached the target; left out of the profile score")
    ratios = {m: {} for m in methods}
    for p in scored:
        sub = table[table["problem"] == p].set_index("method")["time_to_target"]
        for m in methods:
            ratios[m][p] = float(sub[m] / best[p]) if m in sub.index else math.inf
    taus = np.linspace(1.0, max_ratio, 301)
    rows, prof = [], []
    for m in methods:
        r = np.array([ratios[m][p] for p in scored]) if scored else np.array([])
        area = float(np.sum(np.clip(max_ratio - r, 0.0, None))) if len(r) else math.nan
        score = area / (len(r) * (max_ratio - 1.0)) if len(r) else math.nan
        rows.append({"method": m, "score": score, "problems": len(scored),
                     "within_max_ratio": int(np.sum(r <= max_ratio)) if len(r) else 0,
                     "fastest": int(np.sum(r == 1.0)) if len(r) else 0,
                     "ratios": "; ".join(f"{p.rsplit('-v', 1)[0]} {_ratio(ratios[m][p])}" for p in scored)})
        prof.extend({"method": m, "tau": float(t), "rho": float(np.mean(r <= t)) if len(r) else math.nan} for t in taus)
    scores = pd.DataFrame(rows, columns=["method", "score", "problems", "within_max_ratio", "fastest", "ratios"])
    scores = scores.sort_values(["score", "method"], ascending=[False, True], na_position="last").reset_index(drop=True)
    scores.insert(0, "rank", _shared_rank([(-s if math.isfinite(s) else math.inf,) for s in scores["score"]]))
    return scores, pd.DataFrame(prof, columns=["method", "tau", "rho"])


def _ratio(r: float) -> str:
    return "∞" if not math.isfinite(r) else f"{r:.2f}"


# --- rendering ----------------------------------------------------------------------------------------

def _time(v, lo, hi, k, n) -> str:
    if not math.isfinite(v):
        return f"not reached ({k}/{n})" if k == 0 else f"∞ ({measures.fmt(lo)}–{measures.fmt(hi)} s, {k}/{n})"
    spread = f"{measures.fmt(lo)}–{measures.fmt(hi)}, " if k > 1 else ""
    return f"{measures.fmt(v)} s ({spread}{k}/{n})"


def _err(v, lo, hi, k, n) -> str:
    return measures.format_stats(measures.SeedStats(v, lo, hi, k, n))


def display_table(board: Leaderboard) -> pd.DataFrame:
    """The table as text cells: problem, ranks, method, time to target and error at equal time
    with their spread and k/n, final error, diverged/failed counts."""
    t = board.table
    rows = []
    for r in t.itertuples(index=False):
        rows.append({"problem": r.problem, "#t": r.rank_time, "method": r.method,
                     "time to target": _time(r.time_to_target, r.time_lo, r.time_hi, r.reached, r.seeds),
                     "#e": r.rank_error,
                     f"x error at equal time": _err(r.error_at_time, r.error_lo, r.error_hi, r.error_seeds, r.seeds),
                     "final x error": measures.fmt(r.final_error),
                     "div/fail": f"{r.diverged}/{r.failed}", "runs": r.run_keys})
    return pd.DataFrame(rows, columns=["problem", "#t", "method", "time to target", "#e", "x error at equal time",
                                       "final x error", "div/fail", "runs"])


def markdown(board: Leaderboard, title: str = "Leaderboard") -> str:
    """The leaderboard as Markdown: one table per problem (with its target and common time), the
    profile scores, and the notes."""
    from .report import _md
    out = [f"# {title}\n", f"Method kind: {board.kind}. Time to target: median over seeds of the wall seconds "
           "until the held-out x error first reaches the problem's target (∞ when not reached; spread over the "
           "seeds that reached it, k/n). x error at equal time: each ok seed's held-out x error at the "
           "problem's common time T (the smallest final wall time of its ok runs), median (min–max, k/n). "
           "#t / #e: ranks (ties share a rank).\n"]
    disp = display_table(board)
    for problem, g in board.table.groupby("problem", sort=True):
        first = g.iloc[0]
        out.append(f"## {problem}\n")
        out.append(f"target x error {measures.fmt(first['target'])} ({first['target_source']}); common time "
                   f"T = {measures.fmt(first['common_time'])} s\n")
        out.append(_md(disp[disp["problem"] == problem].drop(columns=["problem"]).reset_index(drop=True)) + "\n")
    out.append(f"## Performance-profile score (τ_max = {board.max_ratio:g})\n")
    out.append("Score = normalised area under ρ(τ) for τ in [1, τ_max] (1: fastest to target on every scored "
               "problem; a problem not reached, or not run, earns nothing). Ratios: time to target / best.\n")
    sc = board.scores.copy()
    sc["score"] = sc["score"].map(lambda v: f"{v:.3f}" if math.isfinite(v) else "nan")
    out.append(_md(sc.reset_index(drop=True)) + "\n")
    if board.notes:
        out.append("Notes:\n\n" + "\n".join(f"- {n}" for n in board.notes) + "\n")
    return "\n".join(out)


def _plain(text: str) -> str:
    """Docstring prose for HTML: Sphinx roles (``:func:`x```) and double backticks as plain names."""
    import re
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def profile_figure(board: Leaderboard):
    """ρ_s(τ) step curves of every method (legend: score); ``(fig, data)`` or ``(None, empty)``."""
    import matplotlib.pyplot as plt
    prof = board.profile.dropna()
    if prof.empty:
        return None, prof
    scores = board.scores.set_index("method")["score"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    order = list(board.scores["method"])
    cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
    for i, m in enumerate(order):
        g = prof[prof["method"] == m]
        # true values (no vertical offset); overlapping curves told apart by line style, the best on top
        ax.step(g["tau"], g["rho"], where="post", lw=1.8, color=cmap(i % cmap.N),
                ls=("-", "--", "-.", ":")[i % 4], zorder=len(order) - i, label=f"{m} ({scores[m]:.2f})")
    n = int(board.scores["problems"].iloc[0]) if len(board.scores) else 0
    ax.set(xlim=(1, board.max_ratio), ylim=(-0.04, 1.04), xlabel="τ (time to target / best method's)",
           ylabel="fraction of problems ρ(τ)",
           title=f"performance profiles over {n} problems ({board.kind}); legend: score")
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    fig.tight_layout()
    return fig, prof


def write(board: Leaderboard, out, title: str = "Leaderboard") -> dict:
    """Write ``leaderboard.md``, ``leaderboard.csv``, ``leaderboard_scores.csv``,
    ``leaderboard_profile.csv`` and ``leaderboard_profile.png`` into ``out``; returns their paths."""
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "scores": out / "leaderboard_scores.csv",
             "profile": out / "leaderboard_profile.csv", "png": out / "leaderboard_profile.png"}
    paths["md"].write_text(markdown(board, title))
    board.table.to_csv(paths["csv"], index=False)
    board.scores.to_csv(paths["scores"], index=False)
    fig, data = profile_figure(board)
    data.to_csv(paths["profile"], index=False)
    if fig is not None:
        fig.savefig(paths["png"], dpi=120, bbox_inches="tight")
        plt.close(fig)
    else:
        paths.pop("png")
    return paths


def html_page(board: Leaderboard, image: str | None = "figures/leaderboard_profile.png") -> str:
    """A standalone HTML page of the leaderboard (the report's ``leaderboard.html``)."""
    import html as _h
    from .report import _html_table
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>pgbench leaderboard</title><style>",
             "body{font-family:system-ui,sans-serif;max-width:1360px;margin:1.5em auto;padding:0 1em;color:#222}",
             "table.tbl{border-collapse:collapse;font-size:0.85em}table.tbl th{background:#f4f4f4;text-align:left;"
             "padding:3px 6px;border-bottom:2px solid #ccc}table.tbl td{border-bottom:1px solid #e4e4e4;"
             "padding:2px 6px}td.num{text-align:right}img{max-width:min(100%,900px)}",
             "</style></head><body><h1>pgbench leaderboard</h1><p><a href='index.html'>back to the report</a></p>",
             f"<p>{_h.escape(_plain(__doc__.split(chr(10) + chr(10))[0]))}</p>"]
    disp = display_table(board)
    for problem, g in board.table.groupby("problem", sort=True):
        first = g.iloc[0]
        parts.append(f"<h2>{_h.escape(str(problem))}</h2><p>target x error {measures.fmt(first['target'])} "
                     f"({_h.escape(str(first['target_source']))}); common time T = "
                     f"{measures.fmt(first['common_time'])} s</p>")
        parts.append(_html_table(disp[disp["problem"] == problem].drop(columns=["problem"]).reset_index(drop=True)))
    parts.append(f"<h2>Performance-profile score (τ_max = {board.max_ratio:g})</h2>")
    parts.append(_html_table(board.scores))
    if image:
        parts.append(f"<img src='{_h.escape(image)}' alt='performance profile'>")
    if board.notes:
        parts.append("<ul>" + "".join(f"<li>{_h.escape(n)}</li>" for n in board.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["Leaderboard", "build", "profile_scores", "display_table", "markdown", "profile_figure", "write",
           "html_page", "MAX_RATIO"]
