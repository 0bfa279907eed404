"""The leaderboard rendered: Markdown, a standalone HTML page, the profile figure and files.
The numbers come from :func:`pgbench.analysis.leaderboard.build`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from ..analysis import leaderboard as LB
from ..analysis import measures
from ..analysis.leaderboard import Leaderboard
from ..numbers import fmt
from .tables import html_table as _html_table
from .tables import markdown_table as _md


def _time(v, lo, hi, k, n) -> str:
    if not math.isfinite(v):
        return f"not reached ({k}/{n})" if k == 0 else f"∞ ({fmt(lo)}–{fmt(hi)} s, {k}/{n})"
    spread = f"{fmt(lo)}–{fmt(hi)}, " if k > 1 else ""
    return f"{fmt(v)} s ({spread}{k}/{n})"


def _interval(lo, hi) -> str:
    """A 90 % bootstrap interval as ``[lo, hi]`` (∞ written out); empty when unknown."""
    if not (isinstance(lo, float | int) and isinstance(hi, float | int)) or math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{fmt(lo) if math.isfinite(lo) else '∞'}, {fmt(hi) if math.isfinite(hi) else '∞'}]"


def clock_words(board: Leaderboard) -> str:
    """How the board's times are measured, for titles and captions."""
    return "process CPU seconds" if board.clock == "cpu" else "wall seconds"


def score_table(board: Leaderboard) -> pd.DataFrame:
    """The scores as text cells: rank, tied rank, method, score with its 90 % interval, P(first),
    problems within τ_max, fastest, ratios."""
    rows = []
    for r in board.scores.to_dict("records"):
        rows.append(
            {
                "rank": r["rank"],
                "tied rank": r.get("rank_tied", ""),
                "method": r["method"],
                "score": f"{r['score']:.3f}" if math.isfinite(r["score"]) else "nan",
                "90% interval": (
                    f"[{r['score_lo']:.3f}, {r['score_hi']:.3f}]" if math.isfinite(r.get("score_lo", math.nan)) else ""
                ),
                "P(first)": f"{r['p_first']:.2f}" if math.isfinite(r.get("p_first", math.nan)) else "",
                "within_max_ratio": r["within_max_ratio"],
                "fastest": r["fastest"],
                "ratios": r["ratios"],
            }
        )
    return pd.DataFrame(rows)


def stability_line(board: Leaderboard) -> str:
    """One sentence on how stable the score ranking is under resampling of seeds and problems."""
    if not math.isfinite(board.stability):
        return "Ranking stability: not defined (fewer than two methods with distinct scores)."
    return (
        f"Ranking stability: mean Kendall τ {board.stability:.2f} between the scores of 2000 bootstrap replicates "
        "(seeds and problems resampled) and the point scores (1: every replicate orders the methods alike). "
        "Methods whose 90 % intervals overlap share a tied rank."
    )


def _err(v, lo, hi, k, n) -> str:
    return measures.format_stats(measures.SeedStats(v, lo, hi, k, n))


def display_table(board: Leaderboard) -> pd.DataFrame:
    """The table as text cells: problem, ranks, method, time to target and error at equal time
    with their spread and k/n, final error, diverged/failed counts."""
    t = board.table
    rows = []
    for r in t.itertuples(index=False):
        rows.append(
            {
                "problem": r.problem,
                "#t": r.rank_time,
                "method": r.method,
                "time to target": _time(r.time_to_target, r.time_lo, r.time_hi, r.reached, r.seeds),
                "90% interval": _interval(r.time_ci_lo, r.time_ci_hi),
                "#t tied": r.rank_time_tied,
                "#e": r.rank_error,
                "x error at equal time": _err(r.error_at_time, r.error_lo, r.error_hi, r.error_seeds, r.seeds),
                "final x error": fmt(r.final_error),
                "div/fail": f"{r.diverged}/{r.failed}",
                "runs": r.run_keys,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "problem",
            "#t",
            "method",
            "time to target",
            "90% interval",
            "#t tied",
            "#e",
            "x error at equal time",
            "final x error",
            "div/fail",
            "runs",
        ],
    )


def markdown(board: Leaderboard, title: str = "Leaderboard") -> str:
    """The leaderboard as Markdown: one table per problem (with its target and common time), the
    profile scores, and the notes."""
    out = [
        f"# {title}\n",
        (
            f"Method kind: {board.kind}. Targets: {board.policy}. Clock: {clock_words(board)}. Time to target: "
            "median over seeds of the seconds until the held-out x error first reaches the problem's target (∞ when "
            "not reached; spread over the seeds that reached it, k/n; 90 % bootstrap interval over the seeds). x error "
            "at equal time: each ok seed's held-out x error at the problem's common time T (the smallest final time "
            "of its ok runs), median (min–max, k/n). #t / #e: ranks (ties share a rank); #t tied: methods whose "
            "intervals overlap share a rank.\n"
        ),
    ]
    disp = display_table(board)
    for problem, g in board.table.groupby("problem", sort=True):
        first = g.iloc[0]
        out.append(f"## {problem}\n")
        out.append(
            f"target x error {fmt(first['target'])} ({first['target_source']}); common time "
            f"T = {fmt(first['common_time'])} s\n"
        )
        out.append(_md(disp[disp["problem"] == problem].drop(columns=["problem"]).reset_index(drop=True)) + "\n")
    out.append(f"## Performance-profile score (τ_max = {board.max_ratio:g})\n")
    out.append(
        "Score = normalised area under ρ(τ) for τ in [1, τ_max] (1: fastest to target on every scored "
        "problem; a problem not reached, or not run, earns nothing). Ratios: time to target / best.\n"
    )
    out.append(_md(score_table(board)) + "\n")
    out.append(stability_line(board) + "\n")
    if board.notes:
        out.append("Notes:\n\n" + "\n".join(f"- {n}" for n in board.notes) + "\n")
    return "\n".join(out)


def _plain(text: str) -> str:
    """Docstring prose for HTML: Sphinx roles (``:func:`x```) and double backticks as plain names."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def profile_figure(board: Leaderboard):
    """ρ_s(τ) step curves of every method (legend: score); ``(fig, data)`` or ``(None, empty)``."""
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
        ax.step(
            g["tau"],
            g["rho"],
            where="post",
            lw=1.8,
            color=cmap(i % cmap.N),
            ls=("-", "--", "-.", ":")[i % 4],
            zorder=len(order) - i,
            label=f"{m} ({scores[m]:.2f})",
        )
    n = int(board.scores["problems"].iloc[0]) if len(board.scores) else 0
    ax.set(
        xlim=(1, board.max_ratio),
        ylim=(-0.04, 1.04),
        xlabel="τ (time to target / best method's)",
        ylabel="fraction of problems ρ(τ)",
        title=f"performance profiles over {n} problems ({board.kind}); legend: score",
    )
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    fig.tight_layout()
    return fig, prof


def write(board: Leaderboard, out, title: str = "Leaderboard") -> dict:
    """Write ``leaderboard.md``, ``leaderboard.csv``, ``leaderboard_scores.csv``,
    ``leaderboard_profile.csv`` and ``leaderboard_profile.png`` into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": out / "leaderboard.md",
        "csv": out / "leaderboard.csv",
        "scores": out / "leaderboard_scores.csv",
        "profile": out / "leaderboard_profile.csv",
        "png": out / "leaderboard_profile.png",
    }
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

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>pgbench leaderboard</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1360px;margin:1.5em auto;padding:0 1em;color:#222}",
        (
            "table.tbl{border-collapse:collapse;font-size:0.85em}table.tbl th{background:#f4f4f4;text-align:left;"
            "padding:3px 6px;border-bottom:2px solid #ccc}table.tbl td{border-bottom:1px solid #e4e4e4;"
            "padding:2px 6px}td.num{text-align:right}img{max-width:min(100%,900px)}"
        ),
        "</style></head><body><h1>pgbench leaderboard</h1><p><a href='index.html'>back to the report</a></p>",
        f"<p>{_h.escape(_plain(LB.__doc__.split(chr(10) + chr(10))[0]))}</p>",
        f"<p>Targets: {_h.escape(board.policy)} (pgbench.analysis.targets). Clock: {clock_words(board)}.</p>",
    ]
    disp = display_table(board)
    for problem, g in board.table.groupby("problem", sort=True):
        first = g.iloc[0]
        parts.append(
            f"<h2>{_h.escape(str(problem))}</h2><p>target x error {fmt(first['target'])} "
            f"({_h.escape(str(first['target_source']))}); common time T = "
            f"{fmt(first['common_time'])} s</p>"
        )
        parts.append(_html_table(disp[disp["problem"] == problem].drop(columns=["problem"]).reset_index(drop=True)))
    parts.append(f"<h2>Performance-profile score (τ_max = {board.max_ratio:g})</h2>")
    parts.append(_html_table(score_table(board)))
    parts.append(f"<p>{_h.escape(stability_line(board))}</p>")
    if image:
        parts.append(f"<img src='{_h.escape(image)}' alt='performance profile'>")
    if board.notes:
        parts.append("<ul>" + "".join(f"<li>{_h.escape(n)}</li>" for n in board.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = [
    "display_table",
    "score_table",
    "stability_line",
    "clock_words",
    "markdown",
    "profile_figure",
    "write",
    "html_page",
]
