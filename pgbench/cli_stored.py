"""The commands that read stored runs and never run one: ``pgbench results``, ``leaderboard`` and
``report`` (registered on the app by :mod:`pgbench.cli`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import report as _report
from . import terminal
from .analysis.leaderboard import build as build_leaderboard
from .analysis.summary import per_config, reclassified, rule_notes
from .analysis.summary import per_run as _per_run
from .analysis.targets import from_option
from .cli_args import BOARD_OUT, BOARD_TARGETS, OUT, PLUGIN, RESULTS_DIRS, split_list
from .cli_checks import check_dir, check_exist, check_stored, fail, load_plugins, load_stores, warning_lines
from .record import records
from .report import leaderboard as _lb
from .selection import select_runs


def results(
    results_dirs: list[Path] = RESULTS_DIRS,
    problem: list[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
    solver: list[str] = typer.Option([], "--solver", help="only these solvers (repeatable)"),
    format: str = typer.Option("table", "--format", help="table, csv or json"),
    target: list[str] = typer.Option(
        [], "--target", help="x-error target: declared (default), worst-reference, median-reference, X or PROBLEM=X"
    ),
    per_run: bool = typer.Option(False, "--per-run", help="one row per run instead of the mean over seeds"),
    reclassify: bool = typer.Option(
        False, "--reclassify", help="apply the current divergence rule to every run (default: the stored status)"
    ),
    wide: bool = typer.Option(False, "--wide", help="every column (default: the ones that fit 120 columns)"),
    plugin: list[str] = PLUGIN,
):
    """Summarise stored runs per problem × solver: final x error, y loss, iterations and time to
    reach the target x error, time per iteration (means over seeds)."""
    formats = ("table", "csv", "json")
    if format not in formats:
        fail(f"--format must be one of {', '.join(formats)}, got {format!r}")
    try:
        policy = from_option(split_list(target), "declared")
    except ValueError as e:
        fail(e)
    df = load_stores(results_dirs, plugin)
    problems, solvers = split_list(problem), split_list(solver)
    check_stored("problem", problems, df)
    check_stored("solver", solvers, df)
    df = select_runs(df, problems, solvers)
    if df.empty:
        print("no stored runs match", file=sys.stderr)
        raise SystemExit(1)
    runs = reclassified(list(records(df))) if reclassify else list(records(df))
    table = _per_run(runs, policy) if per_run else per_config(runs, policy)
    for note in rule_notes(_per_run(runs) if not per_run else table):
        print(f"note: {note}", file=sys.stderr)
    if format in ("csv", "json"):
        terminal.write_frame(table, format)
    elif per_run:
        terminal.console().print(terminal.runs_table(table, "runs", wide))
    else:
        terminal.console().print(
            terminal.summary_table(table, terminal.plain(f"results ({', '.join(map(str, results_dirs))})"), wide)
        )


def leaderboard(
    results_dirs: list[Path] = RESULTS_DIRS,
    problem: list[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
    kind: str = typer.Option("training", "--kind", help="training or iterative methods"),
    target: list[str] = BOARD_TARGETS,
    max_ratio: float = typer.Option(4.0, "--max-ratio", help="τ_max of the performance-profile score"),
    clock: str = typer.Option("wall", "--clock", help="read times on the wall clock or the process CPU clock (cpu)"),
    out: Path | None = BOARD_OUT,
    format: str = typer.Option("table", "--format", help="table, md, csv or json"),
    wide: bool = typer.Option(False, "--wide", help="every column (run keys too)"),
    plugin: list[str] = PLUGIN,
    tuned: bool = typer.Option(
        False,
        "--tuned",
        help="the tuning campaigns instead (every tuning-*.json of the stores, from pgbench tune / advise): "
        "external tuning and self-tuning side by side, per problem and overall",
    ),
):
    """Rank every method per problem by time to target and by x error at equal wall time (median
    over seeds, spread, k/n), with an AlgoPerf-style performance-profile score across problems;
    with --tuned, the tuning campaigns under both rulesets."""
    if format not in ("table", "md", "csv", "json"):
        fail(f"--format must be one of table, md, csv, json, got {format!r}")
    if tuned:
        _tuned_board(results_dirs, plugin, max_ratio, format)
        return
    if kind not in ("training", "iterative"):
        fail(f"--kind must be training or iterative, got {kind!r}")
    if not max_ratio > 1:
        fail(f"--max-ratio must be > 1, got {max_ratio}")
    try:
        policy = from_option(split_list(target), "worst-reference")
    except ValueError as e:
        fail(e)
    targets = policy.value if policy.name == "given" else None
    if out is not None:
        check_dir(out, "output folder")
    df = load_stores(results_dirs, plugin)
    check_stored("problem", split_list(problem) + (list(targets) if isinstance(targets, dict) else []), df)
    if clock not in ("wall", "cpu"):
        fail(f"--clock must be wall or cpu, got {clock!r}")
    board = build_leaderboard(
        df, kind=kind, policy=policy, max_ratio=max_ratio, problems=split_list(problem) or None, clock=clock
    )
    if board.table.empty:
        print("no stored runs match", file=sys.stderr)
        raise SystemExit(1)
    if out is not None:
        paths = _lb.write(board, out)
    if format == "md":
        sys.stdout.write(_lb.markdown(board))
    elif format in ("csv", "json"):
        terminal.write_frame(board.table, format)
    else:
        terminal.print_leaderboard(
            board, _lb.display_table(board), _lb.score_table(board), _lb.stability_line(board), wide
        )
    if out is not None:
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)


def _tuned_board(results_dirs: list[Path], plugin: list[str], max_ratio: float, format: str) -> None:
    """``pgbench leaderboard --tuned``: :mod:`pgbench.analysis.tuned_board` printed."""
    from .analysis import tuned_board
    from .report import tuned_board as view

    if not max_ratio > 1:
        fail(f"--max-ratio must be > 1, got {max_ratio}")
    check_exist(results_dirs)
    load_plugins(plugin)
    board = tuned_board.build(results_dirs, max_ratio)
    if not board.files:
        print(f"no tuning protocols (tuning-*.json) in {', '.join(map(str, results_dirs))}", file=sys.stderr)
        raise SystemExit(1)
    if format == "md":
        sys.stdout.write(view.markdown(board))
    elif format in ("csv", "json"):
        terminal.write_frame(board.table, format)
    else:
        console = terminal.console()
        title = "tuned board: external tuning (chosen settings) and self-tuning (defaults), per problem"
        console.print(terminal.table_of(title, view.PROBLEM_HEADS, view.problem_rows(board), view.PROBLEM_TEXT))
        title = f"overall: performance-profile score on test errors (τ_max {max_ratio:g}), both rulesets"
        console.print(terminal.table_of(title, view.SCORE_HEADS, view.score_rows(board), view.SCORE_TEXT))
        for n in board.notes:
            print(f"note: {n}", file=sys.stderr)
        print(
            "x error: median over the test seeds; ranks tie overlapping 90% bootstrap intervals; tuning moved: "
            f"self rank - external rank (↑ up with tuning); {len(board.files)} protocols read",
            file=sys.stderr,
        )


def report(
    results_dirs: list[Path] = RESULTS_DIRS,
    out: Path = OUT,
    target: list[str] = typer.Option(
        [], "--target", help="target policy of time to target and the leaderboard (default: worst-reference)"
    ),
):
    """Build figures and tables from stored runs (never runs an experiment)."""
    try:
        policy = from_option(split_list(target), "worst-reference")
    except ValueError as e:
        fail(e)
    check_exist(results_dirs)
    check_dir(out, "report folder")
    with warning_lines():  # damaged store files, one line each
        path = _report.build_report(list(results_dirs), out, policy)
    if path is not None:
        print(path)
