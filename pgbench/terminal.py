"""Terminal tables of stored runs (``pgbench results``, ``pgbench run``), drawn with rich.

The default is narrow enough for a 120-column terminal: problem, solver, seeds, final x error
(median over the ok seeds with min–max), y loss, iterations and seconds per iteration; backend and
device join only when the rows differ in them (a single device is named in the title). ``wide``
adds every other summary column. Number columns never wrap (a number is never split over two
lines); text columns fold when the terminal is narrower than the table.
"""

from __future__ import annotations

import math

NARROW = [("problem", "problem"), ("label", "solver"), ("seeds", "seeds"), ("x_error", "x error (min–max)"),
          ("loss", "y loss"), ("iterations", "iters"), ("time_per_iteration", "s / iter")]
WIDE_EXTRA = [("backend", "backend"), ("device_name", "device"), ("status", "ok/div/fail"),
              ("train_x_error", "train x err"), ("target", "target"), ("reached", "reached"),
              ("iterations_to_target", "iters to target"), ("time_to_target", "s to target")]
RUN_NARROW = ["problem", "label", "seed", "status", "x_error", "loss", "iterations", "run_key", "message"]
RUN_WIDE_EXTRA = ["backend", "device_name", "nonfinite", "wall_time", "iterations_to_target", "time_to_target"]
TEXT = {"problem", "label", "backend", "device_name", "config", "scale", "status", "run_key", "message", "seeds"}


def fmt(v, digits: int = 3) -> str:
    """A number in at most ``digits`` significant digits; whole numbers in full; '-' for missing."""
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e6:
        return str(int(f))
    return f"{f:.{digits}g}"


def _several(frame, column) -> bool:
    return column in frame and frame[column].astype(str).nunique() > 1


def _title(title: str, frame) -> str:
    """The title, with the device when every row ran on the same one."""
    if "device_name" in frame and frame["device_name"].astype(str).nunique() == 1 and len(frame):
        backends = ", ".join(sorted(frame["backend"].astype(str).unique())) if "backend" in frame else "?"
        return f"{title}; {frame['device_name'].iloc[0]} ({backends})"
    return title


def _table(title: str, heads: list[str], rows: list[list[str]], text: list[bool]):
    from rich import box
    from rich.table import Table
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for head, is_text in zip(heads, text):
        if is_text:   # text folds when the terminal is too narrow
            t.add_column(head, overflow="fold")
        else:         # numbers never: a number is never split over lines
            t.add_column(head, justify="right", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    return t


def summary_table(summary, title: str = "summary", wide: bool = False):
    """A rich table of :func:`pgbench.summary.summarize` output (see the module docstring)."""
    cols = list(NARROW)
    if wide:
        cols += WIDE_EXTRA
    else:
        cols[2:2] = [c for c in (("backend", "backend"), ("device_name", "device")) if _several(summary, c[0])]
    keys = ["problem", "label", "backend", "device_name", "scale"]
    if summary.duplicated([k for k in keys if k in summary]).any():   # several settings under one label
        cols.insert(2, ("config", "config"))
    if _several(summary, "scale"):
        cols.insert(1, ("scale", "scale"))
    rows = []
    for _, r in summary.iterrows():
        row = []
        for c, _ in cols:
            if c == "status":
                row.append(f"{r['ok']}/{r['diverged']}/{r['failed']}")
            elif c == "seeds" and not wide:
                bad = [f"{r[k]} {short}" for k, short in (("diverged", "div."), ("failed", "failed")) if r[k]]
                row.append(f"{r['seeds']}" + (f" ({', '.join(bad)})" if bad else ""))
            elif c == "config" and not wide:
                row.append(str(r[c])[:6])
            elif c in TEXT:
                row.append(str(r[c]))
            elif c == "x_error" and r["ok"] > 1:   # median over ok seeds (min–max)
                row.append(f"{fmt(r['x_error'])} ({fmt(r['x_error_lo'], 2)}–{fmt(r['x_error_hi'], 2)})")
            elif c == "reached":
                row.append("-" if math.isnan(r["target"]) else f"{r['reached']}/{r['seeds'] - r['failed']}")
            else:
                row.append(fmt(r[c]))
        rows.append(row)
    return _table(title if wide else _title(title, summary), [h for _, h in cols], rows,
                  [c in TEXT for c, _ in cols])


def runs_table(runs, title: str = "runs", wide: bool = False):
    """A rich table of :func:`pgbench.summary.per_run` output: one row per run."""
    cols = RUN_NARROW[:-2] + (RUN_WIDE_EXTRA if wide else []) + RUN_NARROW[-2:]
    if not wide:
        cols[2:2] = [c for c in ("backend", "device_name") if _several(runs, c)]
    rows = [[("" if str(r[c]) in ("None", "nan") else str(r[c])) if c in TEXT else fmt(r[c]) for c in cols]
            for _, r in runs.iterrows()]
    heads = [{"label": "solver", "device_name": "device", "x_error": "x error", "iterations": "iters",
              "run_key": "run key", "wall_time": "wall s", "iterations_to_target": "iters to target",
              "time_to_target": "s to target"}.get(c, c) for c in cols]
    return _table(title if wide else _title(title, runs), heads, rows, [c in TEXT for c in cols])
