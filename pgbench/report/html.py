"""The report's HTML: the page around the sections, and the "All runs" tables (one row per
configuration, one per run, each linked to its parquet file)."""

from __future__ import annotations

import datetime as _dt
import html
import math
import os
from pathlib import Path

import pandas as pd

from ..analysis.summary import method_names, per_run
from .tables import html_table as _html_table
from .tables import number_cell as _g


def runs_sections(df: pd.DataFrame, paths: dict, out: Path) -> tuple[str, str]:
    """The HTML of the "All runs" section: one row per configuration (seeds, final x error as
    median [min–max] over the ok seeds, or the stored message where no seed is ok; its runs
    linked), then one row per run with an anchor ``run-<key>``, its status and stored message,
    and its parquet file (``paths``: run key → file; linked relative to ``out``)."""

    runs = per_run(df)
    if runs.empty:
        return "<p><em>no runs</em></p>", "<p><em>no runs</em></p>"
    keys = list(runs["run_key"].astype(str))
    runs = runs.assign(label=method_names(runs))  # a label naming several solver ids shows the id
    runs = runs.assign(device=runs["backend"].astype(str) + " · " + runs["device_name"].astype(str))
    conf_rows = []
    for _, g in runs.groupby(["problem", "scale", "label", "device", "config"], sort=True, dropna=False):
        g = g.sort_values("seed")
        ok = g[g["status"] == "ok"]
        counts = ", ".join(
            f"{(g['status'] == s).sum()} {s}" for s in ("ok", "diverged", "failed") if (g["status"] == s).any()
        )
        if len(ok):
            x = pd.to_numeric(ok["x_error"], errors="coerce")
            err = _g(x.median()) + (f" [{_g(x.min())}–{_g(x.max())}]" if len(ok) > 1 else "")
        else:
            msgs = [m for m in g["message"].astype(str) if m and m != "nan"]
            err = f"{g['status'].iloc[0]}: {msgs[0]}" if msgs else str(g["status"].iloc[0])
        first = g.iloc[0]
        conf_rows.append(
            {
                "problem": first["problem"],
                "scale": first["scale"],
                "method": first["label"],
                "device": first["device"],
                "config": first["config"],
                "seeds": f"{len(g)} ({counts})",
                "x error": err,
                "loss": pd.to_numeric(ok["loss"], errors="coerce").median() if len(ok) else math.nan,
                "iterations": pd.to_numeric(g["iterations"], errors="coerce").median(),
                "s / iteration": pd.to_numeric(g["time_per_iteration"], errors="coerce").median(),
                "wall time [s]": pd.to_numeric(g["wall_time"], errors="coerce").median(),
                "runs": " ".join(str(k) for k in g["run_key"]),
            }
        )
    conf = pd.DataFrame(conf_rows)
    per = []
    for _, r in runs.sort_values(["problem", "scale", "label", "device", "seed"]).iterrows():
        key = str(r["run_key"])
        path = paths.get(key)
        file = f"<a href='{html.escape(Path(os.path.relpath(path, out)).as_posix())}'>parquet</a>" if path else ""
        msg = "" if r["message"] in (None, "") or str(r["message"]) == "nan" else str(r["message"])
        cells = [
            f"<td class='key'>{html.escape(key)}</td>",
            *(
                f"<td class='txt'>{html.escape(str(r[c]))}</td>"
                for c in ("problem", "scale", "label", "device", "seed")
            ),
            f"<td class='nw st-{html.escape(str(r['status']))}'>{html.escape(str(r['status']))}</td>",
            f"<td class='wide'>{html.escape(msg)}</td>",
            *(f"<td class='num'>{_g(r[c])}</td>" for c in ("x_error", "iterations", "wall_time")),
            f"<td class='nw'>{file}</td>",
        ]
        per.append(f"<tr id='run-{html.escape(key)}'>" + "".join(cells) + "</tr>")
    head = "".join(
        f"<th>{c}</th>"
        for c in (
            "run key",
            "problem",
            "scale",
            "method",
            "device",
            "seed",
            "status",
            "message",
            "x error",
            "iterations",
            "wall time [s]",
            "file",
        )
    )
    per_html = (
        f"<div class='scroll'><table class='tbl runs'><thead><tr>{head}</tr></thead><tbody>"
        + "".join(per)
        + "</tbody></table></div>"
    )
    return _html_table(conf, keys, wide=("x error",)), per_html


def page(sections, df, dirs) -> str:
    """The report's ``index.html``: its sections (figures, tables, HTML blocks) with navigation."""
    devices = sorted(df["device_key"].unique()) if not df.empty else []
    n_runs = df["run_key"].nunique() if not df.empty else 0
    keys = sorted(df["run_key"].astype(str).unique()) if not df.empty else []
    parts = [
        (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>pgbench report</title><style>"
        ),
        (
            "body{font-family:system-ui,sans-serif;max-width:1360px;margin:1.5em auto;padding:0 1em;color:#222;"
            "line-height:1.4}"
        ),
        "img{max-width:min(100%,1000px);border:1px solid #eee}",
        ".scroll{overflow-x:auto;max-width:100%;margin:.5em 0 1em}",
        "table.tbl{border-collapse:collapse;font-size:0.8em}",
        (
            "table.tbl th{position:sticky;top:0;background:#f4f4f4;text-align:left;padding:3px 6px;"
            "border-bottom:2px solid #ccc;white-space:nowrap}"
        ),
        "table.tbl td{border-bottom:1px solid #e4e4e4;padding:2px 6px;vertical-align:top}",
        "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}",
        "td.txt{max-width:16em;overflow-wrap:break-word}td.wide{max-width:30em;overflow-wrap:break-word}",
        "td.key{font-family:monospace;white-space:nowrap}td.nw{white-space:nowrap}tr:target{background:#fff3b0}",
        "td.st-diverged{color:#a15c00;font-weight:600}td.st-failed{color:#b00020;font-weight:600}",
        "figure{margin:1.2em 0}figcaption{font-size:0.92em;color:#444;max-width:1000px}",
        "h2{border-bottom:2px solid #ccc}p{max-width:1000px}nav a{margin-right:1em;white-space:nowrap}",
        "</style></head><body>",
        "<h1>pgbench report</h1>",
        (
            f"<p>{n_runs} stored runs from {html.escape(', '.join(map(str, dirs)))}; devices: "
            f"{html.escape('; '.join(devices)) or 'none'}. Built "
            f"{_dt.datetime.now().isoformat(timespec='seconds')}. Every figure's numbers are in "
            "<code>data/</code>, every table in <code>tables/</code>; run keys link to the run's row under "
            "<a href='#runs'>All runs</a>.</p><nav>"
        ),
    ]
    parts += [f"<a href='#s{i}'>{html.escape(t)}</a>" for i, (t, _) in enumerate(sections)]
    parts.append("</nav>")
    for i, (title, items) in enumerate(sections):
        parts.append(f"<h2 id='s{i}'>{html.escape(title)}</h2>")
        for kind, name, sentence, content in items:
            if kind == "text":
                parts.append(f"<p>{html.escape(sentence)}</p>")
            elif kind == "fig":
                parts.append(
                    f"<figure><img src='{content}' alt='{html.escape(name)}'><figcaption>"
                    f"<b>{html.escape(name)}</b>: {html.escape(sentence)}</figcaption></figure>"
                )
            elif kind == "html":
                parts.append(f"<h3 id='{html.escape(name)}'>{html.escape(name)}</h3><p>{html.escape(sentence)}</p>")
                parts.append(content)
            else:
                parts.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(sentence)}</p>")
                if isinstance(content, pd.DataFrame):
                    parts.append(_html_table(content, keys, wide=("statement", "reason", "claim")))
                else:
                    parts.append(f"<p>{html.escape(str(content).strip('_').strip())}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
