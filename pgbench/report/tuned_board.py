"""The board of tuning campaigns (:mod:`pgbench.analysis.tuned_board`) as display rows and
Markdown: per problem both rulesets side by side, then the overall scores."""

from __future__ import annotations

import json
import math

from ..numbers import fmt

PROBLEM_HEADS = [
    "problem",
    "method",
    "external: x error",
    "90% interval",
    "ok",
    "rank",
    "self: x error",
    "90% interval",
    "ok",
    "rank",
    "tuning moved",
    "chosen settings / why not",
]
PROBLEM_TEXT = [True, True, False, False, False, False, False, False, False, False, False, True]
SCORE_HEADS = ["method", "external: score", "90% interval", "rank", "P(first)",
               "self: score", "90% interval", "rank", "P(first)", "tuning moved", "problems"]  # fmt: skip
SCORE_TEXT = [True, False, False, False, False, False, False, False, False, False, False]


def _interval(lo: float, hi: float) -> str:
    if not (isinstance(lo, float) and isinstance(hi, float)) or (math.isnan(lo) and math.isnan(hi)):
        return ""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def moved(change) -> str:
    """A rank change (self rank − external rank) in words: ↑2 moved up two ranks with tuning."""
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return ""
    c = int(change)
    return "=" if c == 0 else (f"↑{c}" if c > 0 else f"↓{-c}")


def _settings(text) -> str:
    if not isinstance(text, str) or not text:
        return ""
    settings = json.loads(text)
    return ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in settings.items()) or "defaults"


def problem_rows(board) -> list[list[str]]:
    """One row per problem × method: both rulesets, the rank change, the chosen settings, or for
    a method that did not run there, its state and why."""
    rows = []
    for r in board.table.itertuples():
        if r.state != "tuned":
            rows.append([r.problem, r.method, *([""] * 9), f"{r.state}: {r.reason}"])
            continue
        cells = []
        for ruleset in ("external", "self"):
            v = {c: getattr(r, f"{ruleset}_{c}") for c in ("error", "lo", "hi", "ok", "seeds", "rank")}
            cells += [fmt(v["error"]), _interval(v["lo"], v["hi"]), f"{v['ok']}/{v['seeds']}", str(v["rank"])]
        rows.append([r.problem, r.method, *cells, moved(r.rank_change), _settings(r.chosen_settings)])
    return rows


def score_rows(board) -> list[list[str]]:
    """One row per method: the overall score under each ruleset and the rank change."""
    s = board.scores
    rows = []
    for method in dict.fromkeys(s["method"]):
        cells = []
        change = math.nan
        for ruleset in ("external", "self"):
            row = s[(s["method"] == method) & (s["ruleset"] == ruleset)]
            if row.empty:
                cells += ["", "", "", ""]
                continue
            x = row.iloc[0]
            cells += [fmt(x.score), _interval(x.score_lo, x.score_hi), str(x.rank_tied), f"{x.p_first:.2f}"]
            change, problems = x.rank_change, x.problems
        rows.append([method, *cells, moved(change), str(problems)])
    return rows


def _md(heads: list[str], rows: list[list[str]]) -> str:
    def cell(v: str) -> str:
        return v.replace("|", "\\|")

    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def markdown(board) -> str:
    """The board as Markdown: per problem, overall, and the notes."""
    out = [
        "## Per problem: external tuning (chosen settings) and self-tuning (defaults)\n",
        (
            "Median final held-out x error over the test seeds, 90 % bootstrap interval, seeds ok, tied rank "
            "(overlapping intervals share a rank); *tuning moved*: self rank − external rank (↑: up with tuning).\n"
        ),
        _md(PROBLEM_HEADS, problem_rows(board)),
        f"\n## Overall: performance-profile score on test errors (τ_max = {board.max_ratio:g})\n",
        _md(SCORE_HEADS, score_rows(board)),
    ]
    if board.notes:
        out.append("\n" + "\n".join(f"* {n}" for n in board.notes) + "\n")
    return "\n".join(out)


__all__ = ["problem_rows", "score_rows", "markdown", "moved"]
