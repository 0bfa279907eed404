"""The ``pgbench`` command line (``pgbench -h``; README): parse arguments, call the library, hand
results to :mod:`pgbench.terminal` (no logic, no drawing of its own). Options shared by several
commands and the parsing of option texts are :mod:`pgbench.cli_args`.

Bad input (unknown id, bad value, unknown setting, nothing compatible) exits with status 2 and
one line ``error: ...`` on stderr before any work starts. ``run`` exits with 1 when a run failed
(its result, with the error message, is stored all the same).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import List, Optional

import pandas as pd
import typer

from . import leaderboard as _lb
from . import report as _report
from . import reproduce as _reproduce
from . import terminal
from ._version import __version__
from .cli_args import (BOARD_OUT, BOARD_TARGETS, BUDGET, CLUSTER, FORCE, METHOD, OUT, PLUGIN, QUIET, READ_EVERY,
                       READ_EVERY_RUN, REPRODUCE_MAX_TIME, REPRODUCE_SEEDS, RESULTS, RESULTS_DIRS, SCHEDULER, THREADS,
                       VECTORIZE, VECTORIZE_RUN, WIDE, WORKERS, UserError, executor_name, normalize_args, parse_pairs,
                       parse_seeds, reject_empty, split_list)
from .progress_view import ProgressView
from .registry import PROBLEMS, SOLVERS, InvalidSettingError, UnknownIdError, load_plugin, suggest
from .store import load_results, read, merge as _merge
from .summary import per_run as _per_run, summarize
from .sweep import expand, run_sweep, sweep_status, vector_groups
from .selection import select_runs, unknown
from .sweep_config import SweepConfig
from .targets import parse_targets
from .validate import writable_dir
from .vectorize import SUPPORTED

app = typer.Typer(name="pgbench", no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG).")


def _version(value: bool):
    if value:
        print(f"pgbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")):
    """Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG)."""


USAGE_ERROR = 2
#: exceptions that mean the input was bad (raised while validating, before any work)
USER_ERRORS = (UserError, UnknownIdError, InvalidSettingError, ValueError, TypeError, RuntimeError, KeyError,
               ImportError, FileNotFoundError)


def _fail(message: str, code: int = USAGE_ERROR):
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def _check_exist(dirs) -> None:
    """Exit 2 with one line unless every store directory in ``dirs`` exists."""
    missing = [str(d) for d in dirs if not Path(d).is_dir()]
    if missing:
        _fail(f"no results directory {', '.join(missing)}")


def _check_dir(path, what: str = "results folder") -> None:
    """Exit 2 with one line unless files can be written in ``path`` (see :mod:`pgbench.validate`)."""
    try:
        writable_dir(path, what)
    except InvalidSettingError as e:
        _fail(e)


def _load_plugins(plugins):
    """Import the plugins, saying which (their code runs here, also for ``--dry-run``)."""
    for p in plugins or []:
        try:
            load_plugin(p)
            print(f"note: imported plugin {p} (its code ran in this process)", file=sys.stderr)
        except InvalidSettingError as e:
            _fail(e)
        except USER_ERRORS as e:
            _fail(f"plugin {p!r}: {type(e).__name__}: {e}")
        except Exception as e:  # the user's module raised on import
            _fail(f"plugin {p!r} failed to import: {type(e).__name__}: {e}")


@app.command("list")
def list_(what: Optional[str] = typer.Argument(None, help="problems or solvers (default: both)"),
          plugin: List[str] = typer.Option([], "--plugin", help="import a module or .py file that registers more")):
    """List the registered problems and solvers."""
    choices = ("problems", "solvers")
    if what is not None and what not in choices:
        _fail(f"can list 'problems' or 'solvers', not {what!r}{suggest(what, choices)}")
    _load_plugins(plugin)
    if what in (None, "problems"):
        terminal.console().print(terminal.problems_table(PROBLEMS.latest()))
    if what in (None, "solvers"):
        terminal.console().print(terminal.solvers_table(SOLVERS.latest()))


@app.command()
def run(problem: str = typer.Argument(..., help="problem id, e.g. sin or sin-v0"),
        solvers: List[str] = typer.Argument(..., help="one or more solver ids"),
        scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
        iterations: Optional[int] = typer.Option(None, "--iterations", "-n",
                                                 help="iteration budget (default: the scale's)"),
        max_time: Optional[float] = typer.Option(None, "--max-time", help="wall-time budget per run in seconds"),
        seeds: List[str] = typer.Option(["0"], "--seeds", "--seed", help="seeds: --seeds 0 1 2 or --seeds 0,1,2"),
        backend: List[str] = typer.Option(["torch"], "--backend", help="torch or jax (repeatable)"),
        device: List[str] = typer.Option(["cpu"], "--device", help="cpu or cuda (repeatable)"),
        set_: List[str] = typer.Option([], "--set", help="solver hyperparameter KEY=VALUE (or SOLVER.KEY=VALUE)"),
        problem_set: List[str] = typer.Option([], "--problem-set", help="problem setting KEY=VALUE, e.g. batch_size=8"),
        results: Path = RESULTS, plugin: List[str] = PLUGIN, force: bool = FORCE,
        workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER, scheduler: Optional[str] = SCHEDULER,
        label: Optional[str] = typer.Option(None, "--label", help="display name of the method in tables and plots"),
        threads: Optional[int] = THREADS, vectorize: bool = VECTORIZE_RUN, read_every: int = READ_EVERY_RUN,
        quiet: bool = QUIET, wide: bool = WIDE):
    """Run solvers on a problem (every seed × backend × device) and store the results."""
    if threads is not None and threads < 0:
        _fail(f"--threads must be >= 0, got {threads}")
    _load_plugins(plugin)
    try:
        executor = executor_name(workers, cluster, scheduler)
        tasks, skipped = expand(problem, solvers, seeds=parse_seeds(seeds), backends=split_list(backend),
                                devices=split_list(device), scale=scale, iterations=iterations, max_time=max_time,
                                hyperparameters=parse_pairs(set_, "--set"),
                                problem_overrides=parse_pairs(problem_set, "--problem-set"), label=label,
                                plugins=plugin, threads=threads)
    except USER_ERRORS as e:
        _fail(e)
    if not tasks:
        _fail(f"no compatible solver for {problem}: " + "; ".join(s.reason for s in skipped))
    terminal.print_skipped(skipped)
    if vectorize:
        _check_vectorizable(tasks, read_every)
    _run_tasks(tasks, results, executor, workers, scheduler, force, quiet, wide, vectorize, read_every)


def _check_vectorizable(tasks, read_every: int) -> None:
    """``run --vectorize``: exit 2 (before any run) unless every solver's seeds can be one program."""
    if read_every < 1:
        _fail(f"--read-every must be >= 1, got {read_every}")
    try:
        plans = [t.plan() for t in tasks]
    except USER_ERRORS as e:
        _fail(e)
    _, alone = vector_groups(tasks, plans, list(range(len(tasks))), read_every)
    for i, reason in alone:
        if reason != "one seed":
            _fail(f"{SUPPORTED}; {tasks[i].problem} × {tasks[i].solver}: {reason}")


def _run_tasks(tasks, results: Path, executor: str, workers, scheduler, force: bool, quiet: bool,
               wide: bool = False, vectorize: bool = False, read_every: int = 1) -> None:
    """Run a validated task list with progress (run_sweep checks the store first), print failures
    and the summary table; exit 1 if a run failed (its result is stored all the same)."""
    notes: list = []
    kwargs = dict(root=results, executor=executor, workers=workers, scheduler=scheduler, force=force,
                  vectorize=vectorize, read_every=read_every, notes=notes)
    try:  # run_sweep raises InvalidSettingError only while validating, before any run
        if quiet:
            outcomes = run_sweep(tasks, **kwargs)
        else:
            with ProgressView(len(tasks), terminal.console(stderr=True)) as view:
                outcomes = run_sweep(tasks, **kwargs, progress=view)
    except InvalidSettingError as e:
        _fail(e)
    df = pd.concat([read(p) for p in sorted({o.path for o in outcomes})], ignore_index=True)
    terminal.print_outcomes(outcomes, notes, summarize(df), results, wide)
    if any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


@app.command()
def sweep(config: Path = typer.Argument(..., help="TOML sweep file (see docs/sweeps.md)"),
          results: Path = RESULTS,
          dry_run: bool = typer.Option(False, "--dry-run",
                                       help="list the runs and which are already stored; run nothing"),
          workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER, scheduler: Optional[str] = SCHEDULER,
          force: bool = FORCE, threads: Optional[int] = THREADS, vectorize: bool = VECTORIZE,
          read_every: int = READ_EVERY, quiet: bool = QUIET, wide: bool = WIDE):
    """Run a sweep file's grid (problems × solvers × hyperparameters × backends × devices × seeds),
    locally or on Dask; resumable: stored finished runs are skipped, failed ones retried."""
    try:
        executor = executor_name(workers, cluster, scheduler)
        if threads is not None and threads < 0:
            raise UserError(f"--threads must be >= 0, got {threads}")
        grid = SweepConfig.from_toml(config)
    except USER_ERRORS as e:
        _fail(e)
    _load_plugins(grid.plugins)
    try:
        tasks, skipped = grid.tasks(remote=scheduler is not None or dry_run, threads=threads)
    except USER_ERRORS as e:
        _fail(e)
    if not tasks:
        _fail(f"{config}: no compatible run in the grid: " + "; ".join(s.reason for s in skipped))
    terminal.print_skipped(skipped)
    if dry_run:
        terminal.print_dry_run(tasks, sweep_status(tasks, results), results)
        return
    _run_tasks(tasks, results, executor, workers, scheduler, force, quiet, wide, vectorize, read_every)


@app.command()
def merge(sources: List[Path] = typer.Argument(..., help="result stores to merge (directories)"),
          into: Path = typer.Option(..., "--into", help="destination store (created if missing)")):
    """Combine result stores (e.g. from several machines) into one, one file per run key: a
    finished run wins over a failed one, else the destination's copy is kept. Two finished copies
    of one run key that hold different results are listed as conflicts (exit status 1)."""
    _check_exist(sources)
    _check_dir(into, "merge destination")
    try:
        summary = _merge(sources, into)
    except (OSError, ValueError) as e:
        _fail(f"cannot merge into {into}: {e}")
    terminal.print_merge(summary, into)
    if summary.conflicts:
        raise SystemExit(1)


@app.command()
def results(results_dirs: List[Path] = RESULTS_DIRS,
            problem: List[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
            solver: List[str] = typer.Option([], "--solver", help="only these solvers (repeatable)"),
            format: str = typer.Option("table", "--format", help="table, csv or json"),
            target: Optional[float] = typer.Option(None, "--target", help="x-error target (default: each problem's)"),
            per_run: bool = typer.Option(False, "--per-run", help="one row per run instead of the mean over seeds"),
            wide: bool = typer.Option(False, "--wide", help="every column (default: the ones that fit 120 columns)"),
            plugin: List[str] = PLUGIN):
    """Summarise stored runs per problem × solver: final x error, y loss, iterations and time to
    reach the target x error, time per iteration (means over seeds)."""
    formats = ("table", "csv", "json")
    if format not in formats:
        _fail(f"--format must be one of {', '.join(formats)}, got {format!r}")
    if target is not None and not target > 0:
        _fail(f"--target must be > 0, got {target}")
    df = _load_stores(results_dirs, plugin)
    problems, solvers = split_list(problem), split_list(solver)
    _check_stored("problem", problems, df)
    _check_stored("solver", solvers, df)
    df = select_runs(df, problems, solvers)
    if df.empty:
        print("no stored runs match", file=sys.stderr)
        raise SystemExit(1)
    table = _per_run(df, target) if per_run else summarize(df, target)
    if format in ("csv", "json"):
        terminal.write_frame(table, format)
    elif per_run:
        terminal.console().print(terminal.runs_table(table, "runs", wide))
    else:
        terminal.console().print(terminal.summary_table(table, f"results ({', '.join(map(str, results_dirs))})",
                                                        wide))


def _load_stores(results_dirs, plugin):
    """Every run under ``results_dirs`` (each must exist) after loading ``plugin``; the store's
    warnings (damaged files) go to stderr."""
    _check_exist(results_dirs)
    _load_plugins(plugin)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_results(*results_dirs)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return df


@app.command()
def leaderboard(results_dirs: List[Path] = RESULTS_DIRS,
                problem: List[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
                kind: str = typer.Option("training", "--kind", help="training or iterative methods"),
                target: List[str] = BOARD_TARGETS,
                max_ratio: float = typer.Option(4.0, "--max-ratio", help="τ_max of the performance-profile score"),
                out: Optional[Path] = BOARD_OUT,
                format: str = typer.Option("table", "--format", help="table, md, csv or json"),
                wide: bool = typer.Option(False, "--wide", help="every column (run keys too)"),
                plugin: List[str] = PLUGIN):
    """Rank every method per problem by time to target and by x error at equal wall time (median
    over seeds, spread, k/n), with an AlgoPerf-style performance-profile score across problems."""
    if format not in ("table", "md", "csv", "json"):
        _fail(f"--format must be one of table, md, csv, json, got {format!r}")
    if kind not in ("training", "iterative"):
        _fail(f"--kind must be training or iterative, got {kind!r}")
    if not max_ratio > 1:
        _fail(f"--max-ratio must be > 1, got {max_ratio}")
    try:
        targets = parse_targets(split_list(target))
    except ValueError as e:
        _fail(e)
    if out is not None:
        _check_dir(out, "output folder")
    df = _load_stores(results_dirs, plugin)
    _check_stored("problem", split_list(problem) + (list(targets) if isinstance(targets, dict) else []), df)
    board = _lb.build(df, kind=kind, targets=targets, max_ratio=max_ratio, problems=split_list(problem) or None)
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
        terminal.print_leaderboard(board, _lb.display_table(board), wide)
    if out is not None:
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)


def _check_stored(kind: str, names, df) -> None:
    """Exit 2 with the nearest id when a ``--problem`` / ``--solver`` filter names neither a
    stored nor a registered id (:func:`pgbench.selection.unknown`)."""
    labels = df["label"] if kind == "solver" and "label" in df else None
    message = unknown(kind, names, df[kind] if kind in df else None, labels)
    if message:
        _fail(message)


@app.command()
def reproduce(scale: str = typer.Option("quick", "--scale", help="quick or paper"),
              only: List[str] = typer.Option([], "--only", help="only these problems / experiments (repeatable)"),
              backend: str = typer.Option("torch", "--backend", help="torch or jax"),
              device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
              results_dir: Path = RESULTS, out: Path = OUT, quiet: bool = QUIET,
              seeds: str = REPRODUCE_SEEDS, max_time: Optional[float] = REPRODUCE_MAX_TIME,
              workers: Optional[int] = WORKERS, cluster: Optional[str] = CLUSTER,
              scheduler: Optional[str] = SCHEDULER, force: bool = FORCE, budget: Optional[str] = BUDGET,
              vectorize: bool = VECTORIZE, read_every: int = READ_EVERY, method: List[str] = METHOD,
              no_report: bool = typer.Option(False, "--no-report", help="run (and store) only; build no report")):
    """Reproduce the paper's experiments at a scale: run them (resuming) and build the report."""
    if scale not in ("quick", "paper"):
        _fail(f"--scale must be quick or paper, got {scale!r}")
    try:
        seed_list = tuple(parse_seeds([seeds])) if seeds.strip() else None
        executor = executor_name(workers, cluster, scheduler)
    except USER_ERRORS as e:
        _fail(e)
    kwargs = dict(scale=scale, only=split_list(only) or None, backend=backend, device=device,
                  results=results_dir, out=out, seeds=seed_list, max_time=max_time, executor=executor,
                  workers=workers, scheduler=scheduler, force=force, vectorize=vectorize, read_every=read_every,
                  budget=budget, methods=method or None, report=not no_report)
    try:
        if quiet:
            _reproduce.reproduce(**kwargs, progress=None)
        else:
            with ProgressView(0, terminal.console(stderr=True)) as view:
                _reproduce.reproduce(**kwargs, progress=view)
    except USER_ERRORS as e:
        _fail(e)


@app.command()
def report(results_dirs: List[Path] = RESULTS_DIRS, out: Path = OUT):
    """Build figures and tables from stored runs (never runs an experiment)."""
    _check_exist(results_dirs)
    _check_dir(out, "report folder")
    path = _report.build_report(list(results_dirs), out)
    if path is not None:
        print(path)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``pgbench``)."""
    args = normalize_args(list(sys.argv[1:] if argv is None else argv))
    try:
        reject_empty(args)
    except UserError as e:
        _fail(e)
    try:
        rv = app(args=args, prog_name="pgbench", standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        print("aborted", file=sys.stderr)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        print("interrupted; finished runs are stored, run the same command again to resume", file=sys.stderr)
        raise SystemExit(130) from None
    except typer.TyperException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # help was printed
            raise SystemExit(0) from None
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        _fail(message)
    raise SystemExit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
