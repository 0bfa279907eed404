"""Tables rendered: GitHub Markdown, HTML cells and tables (run keys linked), Table 1 as text.
Nothing here computes a number; the frames come from :mod:`pgbench.analysis`."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd


def markdown_table(df: pd.DataFrame, floatfmt=".3g") -> str:
    """A GitHub markdown table (no dependency on ``tabulate``)."""
    if df is None or df.empty:
        return "_no data_\n"

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(v) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(str(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LINKED = ("runs", "run_key", "run keys")  # columns whose cells are run keys (or prefixes): linked to the run


def _run_links(cell: str, keys) -> str:
    """Each run key (or key prefix) in ``cell`` as a link to its row in the runs table, shown by
    its first 8 hex digits."""
    out = []
    for token in str(cell).split():
        full = next((k for k in keys if k.startswith(token)), None) if len(token) >= 6 else None
        out.append(f"<a href='#run-{html.escape(full)}'>{html.escape(token[:8])}</a>" if full else html.escape(token))
    return " ".join(out)


def html_table(df: pd.DataFrame, keys=(), wide=()) -> str:
    """An HTML table in a horizontally scrolling box: numbers right-aligned on one line (3
    significant digits), text wrapping; run keys in the :data:`_LINKED` columns link to the run's
    row (``keys``: every run key of the report); ``wide`` columns may wrap wider."""
    if df is None or df.empty:
        return "<p><em>no data</em></p>"

    def cell(col, v):
        if isinstance(v, (float, np.floating)):
            return f"<td class='num'>{number_cell(v)}</td>"
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"<td class='num'>{int(v)}</td>"
        if v is None:
            return "<td></td>"
        text = _run_links(v, keys) if col in _LINKED else html.escape(str(v))
        return f"<td class='{'wide' if col in wide else 'txt'}'>{text}</td>"

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(cell(c, v) for c, v in zip(df.columns, row, strict=True)) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<div class='scroll'><table class='tbl'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def number_cell(v) -> str:
    """A number for an HTML cell: whole numbers in full (iterations: 1000, not 1e+03), others
    with 3 significant digits; blank for NaN."""
    if v is None or not math.isfinite(float(v)):
        return ""
    v = float(v)
    return f"{v:.0f}" if v.is_integer() and abs(v) < 1e7 else f"{v:.3g}"


def format_table1(table: pd.DataFrame) -> str:
    """Plain-text rendering in the paper's layout ("> t" where the target was not reached)."""

    def duration(t):
        if not np.isfinite(t):
            return "—"
        if t >= 3600:
            return f"{t / 3600:.2f} h"
        if t >= 60:
            return f"{t / 60:.1f} min"
        return f"{t:.3g} s" if t >= 1e-2 else f"{t * 1e3:.3g} ms"

    lines = [
        f"target x error {table['target_x_error'].iloc[0]:.4g}" if len(table) else "no runs",
        f"{'method':<24}{'training time':>24}{'time / example':>20}{'inference / example':>22}",
    ]
    for _, r in table.iterrows():
        gt = "" if r["reached"] else "> "
        train = (
            f"{gt}{duration(r['training_time_s'])} ({r['iterations']:.0f} it)"
            if np.isfinite(r["training_time_s"])
            else "—"
        )
        per = (
            f"{gt}{duration(r['time_per_example_s'])} ({r['iterations']:.0f} it)"
            if np.isfinite(r["time_per_example_s"])
            else "—"
        )
        lines.append(f"{r['method']:<24}{train:>24}{per:>20}{duration(r['inference_time_per_example_s']):>22}")
    return "\n".join(lines)


__all__ = ["markdown_table", "html_table", "number_cell", "format_table1"]
