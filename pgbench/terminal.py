"""Everything pgbench prints to a terminal, drawn with rich: tables of stored runs (``pgbench
results``, ``pgbench run``), the registry (``list``), a sweep's dry run, the leaderboard, the
reproduction's plan and headline; the live progress view is :mod:`pgbench.progress_view`.

The summary table's default is narrow enough for a 120-column terminal: problem, solver, seeds, final x error
(median over the ok seeds with min–max), y loss, iterations and seconds per iteration; backend and
device join only when the rows differ in them (a single device is named in the title). ``wide``
adds every other summary column. Number columns never wrap (a number is never split over two
lines); text columns fold when the terminal is narrower than the table.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import math
import sys
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .analysis.headline import NEEDS_GPU, NOT_MEASURED, NOT_REPRODUCED, QUALITATIVE, REPRODUCED
from .analysis.summary import method_names
from .analysis.verdicts import DIRECTION
from .numbers import fmt
from .registry import field_types

NARROW = [
    ("problem", "problem"),
    ("label", "solver"),
    ("seeds", "seeds"),
    ("x_error", "x error (min–max)"),
    ("loss", "y loss"),
    ("iterations", "iters"),
    ("time_per_iteration", "s / iter"),
]
WIDE_EXTRA = [
    ("backend", "backend"),
    ("device_name", "device"),
    ("status", "ok/div/fail"),
    ("train_x_error", "train x err"),
    ("target", "target"),
    ("reached", "reached"),
    ("iterations_to_target", "iters to target"),
    ("time_to_target", "s to target"),
]
RUN_NARROW = ["problem", "label", "seed", "status", "x_error", "loss", "iterations", "run_key", "message"]
RUN_WIDE_EXTRA = ["backend", "device_name", "nonfinite", "wall_time", "iterations_to_target", "time_to_target"]
TEXT = {"problem", "label", "backend", "device_name", "config", "scale", "status", "run_key", "message", "seeds"}


#: ASCII stand-ins for the glyphs pgbench prints, on a terminal whose encoding lacks them
#: (``PYTHONIOENCODING=ascii``, latin-1); any other character becomes ``?`` (one character for
#: one, so tables stay aligned)
ASCII_GLYPHS = {"×": "x", "–": "-", "—": "-", "…": ".", "·": ".", "τ": "t", "§": "S", "≥": ">", "≤": "<"}


def _ascii_stand_ins(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return "".join(ASCII_GLYPHS.get(c, "?") for c in err.object[err.start : err.end]), err.end


codecs.register_error("pgbench-ascii", _ascii_stand_ins)


def degrade_streams() -> None:
    """Let stdout and stderr write what their encoding cannot encode as ASCII stand-ins
    (:data:`ASCII_GLYPHS`, else ``?``) instead of raising UnicodeEncodeError; streams whose
    error handling was chosen (``PYTHONIOENCODING=ascii:replace``) are left as they are."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="pgbench-ascii")


def printable(value) -> str:
    """``value`` as one line of text shown as written: control characters (escape codes,
    newlines) as their Python escapes (``\\x1b``, ``\\n``), so stored text cannot drive the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def plain(value) -> str:
    """``value`` for a rich console or table: :func:`printable`, with rich markup (``[red]``)
    escaped so that it is shown, not interpreted."""
    return escape(printable(value))


def _several(frame, column) -> bool:
    return column in frame and frame[column].astype(str).nunique() > 1


def _title(title: str, frame) -> str:
    """The title, with the device when every row ran on the same one."""
    if "device_name" in frame and frame["device_name"].astype(str).nunique() == 1 and len(frame):
        backends = ", ".join(sorted(frame["backend"].astype(str).unique())) if "backend" in frame else "?"
        return f"{title}; {plain(frame['device_name'].iloc[0])} ({plain(backends)})"
    return title


#: the narrowest width tables are drawn for: a narrower terminal (``COLUMNS=10``) would squeeze
#: every cell to "…", so there the lines wrap instead
MIN_WIDTH = 80


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr), at least :data:`MIN_WIDTH` columns wide; in a pipe or log
    at least 200, so tables are not squeezed into 80."""
    c = Console(stderr=stderr)
    least = MIN_WIDTH if c.is_terminal else 200
    return c if c.width >= least else Console(stderr=stderr, width=least)


def _table(title: str, heads: list[str], rows: list[list[str]], text: list[bool]):
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for head, is_text in zip(heads, text, strict=True):
        if is_text:  # text folds when the terminal is too narrow
            t.add_column(head, overflow="fold")
        else:  # numbers never: a number is never split over lines
            t.add_column(head, justify="right", no_wrap=True)
    for row in rows:
        t.add_row(*map(plain, row))
    return t


def table_of(title: str, heads: list[str], rows: list[list[str]], text: list[bool]) -> Table:
    """A rich table in pgbench's style; ``text`` says per column whether it folds (text) or is a
    number (right-aligned, never split)."""
    return _table(title, heads, rows, text)


def summary_table(summary, title: str = "summary", wide: bool = False):
    """A rich table of :func:`pgbench.summary.summarize` output (see the module docstring); a
    label naming several solver ids shows the id (:func:`~pgbench.analysis.summary.method_names`)."""
    summary = summary.assign(label=method_names(summary))
    cols = list(NARROW)
    if wide:
        cols += WIDE_EXTRA
    else:
        cols[2:2] = [c for c in (("backend", "backend"), ("device_name", "device")) if _several(summary, c[0])]
    keys = ["problem", "label", "backend", "device_name", "scale"]
    if summary.duplicated([k for k in keys if k in summary]).any():  # several settings under one label
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
            elif c == "x_error" and r["ok"] > 1:  # median over ok seeds (min–max)
                row.append(f"{fmt(r['x_error'])} ({fmt(r['x_error_lo'], 2)}–{fmt(r['x_error_hi'], 2)})")
            elif c == "reached":
                row.append("-" if math.isnan(r["target"]) else f"{r['reached']}/{r['seeds'] - r['failed']}")
            else:
                row.append(fmt(r[c]))
        rows.append(row)
    return _table(title if wide else _title(title, summary), [h for _, h in cols], rows, [c in TEXT for c, _ in cols])


def runs_table(runs, title: str = "runs", wide: bool = False):
    """A rich table of :func:`pgbench.summary.per_run` output: one row per run (labels as in
    :func:`summary_table`)."""
    runs = runs.assign(label=method_names(runs))
    cols = RUN_NARROW[:-2] + (RUN_WIDE_EXTRA if wide else []) + RUN_NARROW[-2:]
    if not wide:
        cols[2:2] = [c for c in ("backend", "device_name") if _several(runs, c)]
    rows = [
        [("" if str(r[c]) in ("None", "nan") else str(r[c])) if c in TEXT else fmt(r[c]) for c in cols]
        for _, r in runs.iterrows()
    ]
    heads = [
        {
            "label": "solver",
            "device_name": "device",
            "x_error": "x error",
            "iterations": "iters",
            "run_key": "run key",
            "wall_time": "wall s",
            "iterations_to_target": "iters to target",
            "time_to_target": "s to target",
        }.get(c, c)
        for c in cols
    ]
    return _table(title if wide else _title(title, runs), heads, rows, [c in TEXT for c in cols])


# --- the registry (``pgbench list``) ---------------------------------------------------------------


def problems_table(specs) -> Table:
    """The registered problems: id, description, capabilities, scales, variant."""
    t = Table(title="problems", title_justify="left")
    for col in ("id", "description", "capabilities", "scales", "variant"):
        t.add_column(col, overflow="fold")
    for spec in specs:
        try:
            caps = ", ".join(sorted(spec.load().capabilities))
        except Exception as e:  # a user's problem that cannot load is listed all the same
            caps = f"(cannot load: {type(e).__name__})"
        cells = (spec.id, spec.description, caps, ", ".join(spec.scales), "variant" if spec.variant else "")
        t.add_row(*map(plain, cells))
    return t


def _defaults(cls, spec) -> dict:
    """The solver's hyperparameters with their default values (the registration's own first)."""
    values = {
        f.name: f.default
        if f.default is not dataclasses.MISSING
        else (f.default_factory() if f.default_factory is not dataclasses.MISSING else "?")
        for f in dataclasses.fields(cls)
        if f.init
    }
    values.update(spec.kwargs)
    return {k: values[k] for k in field_types(cls)}


def solvers_table(specs) -> Table:
    """The registered solvers: id, kind, description, requirements, hyperparameters (defaults)."""
    t = Table(title="solvers", title_justify="left")
    for col in ("id", "kind", "description", "requires", "hyperparameters (defaults)"):
        t.add_column(col, overflow="fold")
    for spec in specs:
        try:
            cls = spec.load()
            kind, req = cls.kind, ", ".join(sorted(cls.requires))
            hp = ", ".join(f"{k}={v!r}" for k, v in _defaults(cls, spec).items())
        except Exception as e:  # a user's solver that cannot load is listed all the same
            kind, req, hp = "?", "", f"(cannot load: {type(e).__name__})"
        t.add_row(*map(plain, (spec.id, kind, spec.description, req, hp)))
    return t


# --- a sweep's dry run -----------------------------------------------------------------------------


#: the most runs a dry run lists as a rich table; a longer list is plain aligned lines (drawing a
#: rich table of 10,000 rows takes longer than planning them)
MAX_TABLE_ROWS = 500


def _budget(task) -> str:
    parts = (f"{task.iterations} it" if task.iterations else "", f"{task.max_time:g} s" if task.max_time else "")
    return " ".join(x for x in parts if x) or task.scale


def print_dry_run(tasks, statuses, results) -> None:
    """The runs of a sweep and which are stored (``pgbench sweep --dry-run``), then one count line;
    above :data:`MAX_TABLE_ROWS` runs as plain aligned lines."""
    heads = ("#", "problem", "solver", "seed", "backend", "device", "budget", "stored")
    mark = {"ok": "done", "diverged": "done (diverged)", "failed": "failed: will retry"}
    rows = [
        [str(i)]
        + [printable(v) for v in (t.problem, t.label or t.solver, t.seed, t.backend, t.device, _budget(t))]
        + [mark.get(st, "to run") if t.runs_here else "no such device here: the worker checks"]
        for i, (t, st) in enumerate(zip(tasks, statuses, strict=True))
    ]
    title = f"{len(tasks)} runs (store {printable(results)})"
    if len(rows) > MAX_TABLE_ROWS:
        widths = [max(len(r[c]) for r in [list(heads), *rows]) for c in range(len(heads))]
        right = (0, 3)  # the numbers: "#" and seed
        lines = [title] + [
            "  ".join(v.rjust(w) if c in right else v.ljust(w) for c, (v, w) in enumerate(zip(r, widths, strict=True)))
            for r in [list(heads), *rows]
        ]
        sys.stdout.write("\n".join(line.rstrip() for line in lines) + "\n")
    else:
        style = {"done": "green", "done (diverged)": "yellow", "failed: will retry": "red"}
        t = Table(title=escape(title), title_justify="left")
        for c in heads:
            t.add_column(c, justify="right" if c in ("#", "seed") else "left")
        for r in rows:
            t.add_row(*map(escape, r[:-1]), f"[{style[r[-1]]}]{r[-1]}" if r[-1] in style else r[-1])
        console().print(t)
    done = sum(s in ("ok", "diverged") for s in statuses)
    failed = sum(s == "failed" for s in statuses)
    elsewhere = sum(not t.runs_here for t in tasks)
    note = f" ({elsewhere} on a device this machine lacks: the workers check the store)" if elsewhere else ""
    print(
        f"{done} done, {failed} failed (will retry), {len(tasks) - done - failed} not yet run; "
        f"{len(tasks) - done} would run{note}"
    )


# --- the leaderboard -------------------------------------------------------------------------------


def print_leaderboard(
    board, display: pd.DataFrame, score_table: pd.DataFrame, stability: str, wide: bool = False
) -> None:
    """One table per problem (``display``: :func:`pgbench.report.leaderboard.display_table`), the
    performance-profile scores (``score_table``: :func:`~pgbench.report.leaderboard.score_table`)
    with the ranking's ``stability`` sentence, and the board's notes."""
    con = console()
    if not wide:
        display = display.drop(columns=["runs"])
    for prob, g in board.table.groupby("problem", sort=True):
        first = g.iloc[0]
        t = Table(
            title=f"{plain(prob)}: target x error {fmt(first['target'])} ({plain(first['target_source'])}), "
            f"common time {fmt(first['common_time'])} s",
            title_justify="left",
        )
        rows = display[display["problem"] == prob].drop(columns=["problem"])
        for c in rows.columns:
            t.add_column(c, justify="right" if c.startswith("#") else "left", overflow="fold")
        for r in rows.itertuples(index=False):
            t.add_row(*map(plain, r))
        con.print(t)
    clock = "process CPU time" if board.clock == "cpu" else "wall time"
    t = Table(
        title=f"performance-profile score (τ_max {board.max_ratio:g}; {board.kind}; {clock})", title_justify="left"
    )
    scores = score_table
    cols = ["rank", "tied rank", "method", "score", "90% interval", "P(first)", "within_max_ratio", "fastest"]
    cols += ["ratios"] if wide else []
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in scores.to_dict("records"):
        t.add_row(*[plain(r[c]) for c in cols])
    con.print(t)
    print(stability)
    for n in board.notes:
        print(f"note: {printable(n)}")


# --- a sweep's outcomes ------------------------------------------------------------------------------


def print_outcomes(outcomes, notes, summary, results, wide: bool = False) -> None:
    """After a sweep: its notes and first line of every failure (stderr), then the summary table."""
    err = console(stderr=True)
    for n in notes:
        err.print(f"[yellow]note[/] {plain(n)}", highlight=False)
    for o in outcomes:
        if o.status == "failed":
            first = (o.message or "").strip().splitlines()[:1]
            err.print(f"[red]failed[/] {plain(o.task.name)}: {plain(first[0]) if first else ''}", highlight=False)
    runs = len({o.path for o in outcomes if o.path})
    console().print(summary_table(summary, title=f"summary ({runs} runs, stored in {plain(results)})", wide=wide))


def print_skipped(skipped) -> None:
    """The problem × solver pairs left out of a grid, and why (stderr)."""
    err = console(stderr=True)
    for s in skipped:
        err.print(f"[yellow]skip[/] {plain(s.problem)} × {plain(s.solver)}: {plain(s.reason)}", highlight=False)


# --- the reproduction --------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """``45 s`` below two minutes, else ``7 min``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def plan_line(plan) -> str:
    """``plan: 57 runs on 9 problems: 12 stored (reused), 45 to run; about 21 min on the 2-core
    reference CPU`` for a :class:`pgbench.reproduce.Workload` (on several workers: the estimated
    wall time of the schedule, and one run at a time's in brackets)."""
    unknown = sum(v is None for v in plan.estimates.values())
    if not plan.estimates:
        est = "nothing to run"
    elif plan.workers > 1:
        est = (
            f"about {duration(plan.wall())} on the 2-core reference CPU with {plan.workers} workers "
            f"({duration(plan.known())} one at a time)"
        )
    else:
        est = f"about {duration(plan.known())} on the 2-core reference CPU"
    extra = f" (+ {unknown} runs without an estimate)" if unknown else ""
    return (
        f"plan: {plan.total} runs on {plan.problems} problems: {plan.stored} stored (reused), "
        f"{len(plan.estimates)} to run; {est}{extra}"
    )


def format_headline(table: pd.DataFrame, width: int | None = None):
    """The headline table as a rich Table for the terminal: claim, paper, measured, ×paper,
    verdict, at this budget."""
    t = Table(title="headline: the paper's numbers", title_justify="left", width=width)
    columns: tuple[tuple[str, dict[str, Any]], ...] = (
        ("claim", {}),
        ("paper", {"justify": "right"}),
        ("measured", {"justify": "right"}),
        ("×paper", {"justify": "right"}),
        ("verdict", {}),
        ("at this budget", {"justify": "right"}),
    )
    for col, kw in columns:
        t.add_column(col, overflow="fold", **kw)
    style = {REPRODUCED: "green", QUALITATIVE: "yellow", DIRECTION: "yellow", NOT_REPRODUCED: "red"}
    for _, r in table.iterrows():
        ratio = r["ratio to paper"]
        v = r["verdict"]
        shown = f"[{style[v]}]{v}[/]" if v in style else v
        t.add_row(
            r["claim"],
            r["paper"],
            r["measured"],
            "" if not math.isfinite(ratio) else f"{fmt(ratio, 2)}",
            shown,
            r["at this budget"] if r["measured"] in (NOT_MEASURED, NEEDS_GPU) else "",
        )
    return t


def print_headline(path) -> None:
    """The report's headline table (claims, measured values, verdicts) from its CSV at ``path``;
    nothing when it cannot be read."""
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError):
        return
    table["ratio to paper"] = pd.to_numeric(table["ratio to paper"], errors="coerce")
    Console(width=max(120, Console().width)).print(format_headline(table))


def print_reproduction(summary: dict, headline=None) -> None:
    """The end of ``reproduce``: its notes, the headline table (CSV at ``headline``, when a report
    was built) and one line of counts and times."""
    for n in summary["notes"]:
        print(f"note: {printable(n)}")
    if headline is not None:
        print_headline(headline)
    report = f"; report: {summary['report']}" if summary["report"] else "; no report"
    print(
        f"reproduce ({summary['scale']}): {summary['runs']} runs done, {summary['cached']} reused, "
        f"{summary['diverged']} diverged, {summary['failed']} failed; experiments "
        f"{summary['seconds_running']:.0f} s, total {summary['seconds']:.0f} s{report}"
    )


def print_plan(plan) -> None:
    """The reproduction's plan line (:func:`plan_line`) and which runs share a core, flushed
    before any run starts."""
    print(plan_line(plan), flush=True)
    if plan.estimates:
        order = "; longest runs first" if plan.workers > 1 else ""
        print(f"schedule: {plan.sharing()}{order}", flush=True)


def print_merge(summary, into) -> None:
    """What ``pgbench merge`` did: unreadable files, conflicts and runs not written (stderr), then
    the counts."""
    for path in summary.unreadable:
        print(f"warning: skipped unreadable result file {path}", file=sys.stderr)
    for c in summary.conflicts:
        print(f"conflict: {c} (same run key, different results; the destination's copy is kept)", file=sys.stderr)
    for w in summary.not_written:
        print(f"error: could not write {w}", file=sys.stderr)
    print(
        f"merged into {into}: {summary.copied} copied, {summary.replaced} replaced (failed -> finished), "
        f"{summary.kept} already there, {len(summary.unreadable)} unreadable, {len(summary.conflicts)} conflicts"
        + (f", {len(summary.not_written)} not written" if summary.not_written else "")
    )


def write_frame(frame: pd.DataFrame, format: str) -> None:
    """``frame`` on stdout as CSV (``format="csv"``) or as a JSON list of records (``json``)."""
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    else:
        sys.stdout.write(frame.to_json(orient="records", indent=1) + "\n")
