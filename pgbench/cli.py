"""The ``pgbench`` command line (``pgbench -h``; README): parse arguments, call the library, hand
results to :mod:`pgbench.terminal` (no logic, no drawing of its own). Here: the app, ``list``,
``run``, ``sweep``, ``merge``, ``reproduce`` and the entry point; the commands that only read stores
(``results``, ``leaderboard``, ``report``) are :mod:`pgbench.cli_stored`; options shared by several
commands and the parsing of option texts :mod:`pgbench.cli_args`; the input checks
:mod:`pgbench.cli_checks`.

Bad input (unknown id, bad value, unknown setting, nothing compatible) exits with status 2 and
one line ``error: ...`` on stderr before any work starts. ``run`` exits with 1 when a run failed
(its result, with the error message, is stored all the same).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NoReturn

import pandas as pd
import typer

from . import cli_stored as stored
from . import reproduce as _reproduce
from . import terminal
from ._version import __version__
from .analysis.summary import per_config
from .cli_args import (
    BUDGET,
    BUDGET_CLOCK,
    CLUSTER,
    FORCE,
    METHOD,
    OUT,
    PLUGIN,
    QUIET,
    READ_EVERY,
    READ_EVERY_RUN,
    REPRODUCE_BUDGET_CLOCK,
    REPRODUCE_MAX_TIME,
    REPRODUCE_SEEDS,
    REPRODUCE_WORKERS,
    RESULTS,
    SCHEDULER,
    THREADS,
    VECTORIZE,
    VECTORIZE_RUN,
    WIDE,
    WORKERS,
    UserError,
    executor_name,
    given_list,
    normalize_args,
    parse_pairs,
    parse_seeds,
    reject_empty,
    split_list,
)
from .cli_checks import USER_ERRORS, check_dir, check_exist, load_plugins, say_resolved
from .cli_checks import fail as _fail
from .cli_tune import advise_command, tune_command
from .processes import sigterm_as_interrupt
from .progress_view import ProgressView
from .registry import PROBLEMS, SOLVERS, InvalidSettingError, suggest
from .store import merge as _merge
from .store import read
from .sweep import ONE_RUN, REPEATED, Interrupted, expand, run_sweep, sweep_status, vector_groups
from .sweep_config import SweepConfig
from .tasks import unapplied_labels
from .vectorize import SUPPORTED

app = typer.Typer(
    name="pgbench",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG).",
)


def _version(value: bool):
    """``--version``: print it and exit."""
    if value:
        print(f"pgbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
):
    """Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG)."""


@app.command("list")
def list_(
    what: str | None = typer.Argument(None, help="problems or solvers (default: both)"),
    plugin: list[str] = typer.Option([], "--plugin", help="import a module or .py file that registers more"),
):
    """List the registered problems and solvers."""
    choices = ("problems", "solvers")
    if what is not None and what not in choices:
        _fail(f"can list 'problems' or 'solvers', not {what!r}{suggest(what, choices)}")
    load_plugins(plugin)
    if what in (None, "problems"):
        terminal.console().print(terminal.problems_table(PROBLEMS.latest()))
    if what in (None, "solvers"):
        terminal.console().print(terminal.solvers_table(SOLVERS.latest()))


@app.command()
def run(
    problem: str = typer.Argument(..., help="problem id, e.g. sin or sin-v0"),
    solvers: list[str] = typer.Argument(..., help="one or more solver ids"),
    scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
    iterations: int | None = typer.Option(None, "--iterations", "-n", help="iteration budget (default: the scale's)"),
    max_time: float | None = typer.Option(None, "--max-time", help="time budget per run in seconds"),
    budget_clock: str = BUDGET_CLOCK,
    seeds: list[str] = typer.Option(["0"], "--seeds", "--seed", help="seeds: --seeds 0 1 2 or --seeds 0,1,2"),
    backend: list[str] = typer.Option(["torch"], "--backend", help="torch or jax (repeatable)"),
    device: list[str] = typer.Option(["cpu"], "--device", help="cpu or cuda (repeatable)"),
    set_: list[str] = typer.Option([], "--set", help="solver hyperparameter KEY=VALUE (or SOLVER.KEY=VALUE)"),
    problem_set: list[str] = typer.Option([], "--problem-set", help="problem setting KEY=VALUE, e.g. batch_size=8"),
    results: Path = RESULTS,
    plugin: list[str] = PLUGIN,
    force: bool = FORCE,
    workers: int | None = WORKERS,
    cluster: str | None = CLUSTER,
    scheduler: str | None = SCHEDULER,
    label: str | None = typer.Option(
        None,
        "--label",
        help="display name of the method in tables and plots (one printable line, at most 120 characters)",
    ),
    threads: int | None = THREADS,
    vectorize: bool = VECTORIZE_RUN,
    read_every: int = READ_EVERY_RUN,
    quiet: bool = QUIET,
    wide: bool = WIDE,
):
    """Run solvers on a problem (every seed × backend × device) and store the results."""
    if threads is not None and threads < 0:
        _fail(f"--threads must be >= 0, got {threads}")
    load_plugins(plugin)
    try:
        executor = executor_name(workers, cluster, scheduler)
        tasks, skipped = expand(
            problem,
            solvers,
            seeds=parse_seeds(seeds),
            backends=split_list(backend),
            devices=split_list(device),
            scale=scale,
            iterations=iterations,
            max_time=max_time,
            hyperparameters=parse_pairs(set_, "--set"),
            problem_overrides=parse_pairs(problem_set, "--problem-set"),
            label=label,
            plugins=plugin,
            threads=threads,
            max_time_clock=budget_clock,
        )
    except USER_ERRORS as e:
        _fail(e)
    say_resolved([problem], solvers)
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
        if reason not in (ONE_RUN, REPEATED):
            _fail(f"{SUPPORTED}; {tasks[i].problem} × {tasks[i].solver}: {reason}")


def _run_tasks(
    tasks,
    results: Path,
    executor: str,
    workers,
    scheduler,
    force: bool,
    quiet: bool,
    wide: bool = False,
    vectorize: bool = False,
    read_every: int = 1,
) -> None:
    """Run a validated task list with progress (run_sweep checks the store first), print failures
    and the summary table; exit 1 if a run failed (its result is stored all the same)."""
    notes: list = []
    kwargs = dict(
        root=results,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        force=force,
        vectorize=vectorize,
        read_every=read_every,
        notes=notes,
    )
    try:  # run_sweep raises InvalidSettingError only while validating, before any run
        with _stops_on_interrupt():
            if quiet:
                outcomes = run_sweep(tasks, **kwargs)
            else:
                with ProgressView(len(tasks), terminal.console(stderr=True)) as view:
                    outcomes = run_sweep(tasks, **kwargs, progress=view)
    except InvalidSettingError as e:
        _fail(e)
    notes.extend(unapplied_labels(outcomes))
    stored = sorted({o.path for o in outcomes if o.path})  # a run that could not be stored has no path
    df = pd.concat([read(p) for p in stored], ignore_index=True) if stored else pd.DataFrame()
    terminal.print_outcomes(outcomes, notes, per_config(df), results, wide)
    if any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


@app.command()
def sweep(
    config: Path = typer.Argument(..., help="TOML sweep file (see docs/sweeps.md)"),
    results: Path = RESULTS,
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and which are already stored; run nothing"),
    workers: int | None = WORKERS,
    cluster: str | None = CLUSTER,
    scheduler: str | None = SCHEDULER,
    force: bool = FORCE,
    threads: int | None = THREADS,
    vectorize: bool = VECTORIZE,
    read_every: int = READ_EVERY,
    quiet: bool = QUIET,
    wide: bool = WIDE,
):
    """Run a sweep file's grid (problems × solvers × hyperparameters × backends × devices × seeds),
    locally or on Dask; resumable: stored finished runs are skipped, failed ones retried."""
    try:
        executor = executor_name(workers, cluster, scheduler)
        if threads is not None and threads < 0:
            raise UserError(f"--threads must be >= 0, got {threads}")
        grid = SweepConfig.from_toml(config)
    except USER_ERRORS as e:
        _fail(e)
    load_plugins(grid.plugins)
    try:
        tasks, skipped = grid.tasks(remote=scheduler is not None or dry_run, threads=threads)
    except USER_ERRORS as e:
        _fail(e)
    say_resolved(grid.problems, grid.solvers)
    if not tasks:
        _fail(f"{config}: no compatible run in the grid: " + "; ".join(s.reason for s in skipped))
    terminal.print_skipped(skipped)
    if dry_run:
        try:
            statuses = sweep_status(tasks, results)
        except USER_ERRORS as e:  # a stored path that leaves the results folder
            _fail(e)
        terminal.print_dry_run(tasks, statuses, results)
        return
    _run_tasks(tasks, results, executor, workers, scheduler, force, quiet, wide, vectorize, read_every)


@app.command()
def merge(
    sources: list[Path] = typer.Argument(..., help="result stores to merge (directories)"),
    into: Path = typer.Option(..., "--into", help="destination store (created if missing)"),
):
    """Combine result stores (e.g. from several machines) into one, one file per run key: a
    finished run wins over a failed one, else the destination's copy is kept. Two finished copies
    of one run key that hold different results are listed as conflicts, runs that cannot be
    written there as not written (exit status 1 for either)."""
    check_exist(sources)
    check_dir(into, "merge destination")
    try:
        summary = _merge(sources, into)
    except (OSError, ValueError) as e:
        _fail(f"cannot merge into {into}: {e}")
    terminal.print_merge(summary, into)
    if summary.conflicts or summary.not_written:
        raise SystemExit(1)


app.command()(stored.results)
app.command()(stored.leaderboard)


@app.command()
def reproduce(
    scale: str = typer.Option("quick", "--scale", help="quick or paper"),
    only: list[str] = typer.Option([], "--only", help="only these problems / experiments (repeatable)"),
    backend: str = typer.Option("torch", "--backend", help="torch or jax"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    results_dir: Path = RESULTS,
    out: Path = OUT,
    quiet: bool = QUIET,
    seeds: str | None = REPRODUCE_SEEDS,
    max_time: float | None = REPRODUCE_MAX_TIME,
    budget_clock: str | None = REPRODUCE_BUDGET_CLOCK,
    workers: int | None = REPRODUCE_WORKERS,
    cluster: str | None = CLUSTER,
    scheduler: str | None = SCHEDULER,
    force: bool = FORCE,
    budget: str | None = BUDGET,
    vectorize: bool = VECTORIZE,
    read_every: int = READ_EVERY,
    method: list[str] = METHOD,
    no_report: bool = typer.Option(False, "--no-report", help="run (and store) only; build no report"),
    timed_beside: bool = typer.Option(
        False,
        "--timed-beside",
        help="let runs with a wall-time budget run beside other runs, each on a core of its own (faster; on a "
        "busy machine they make fewer iterations); default: one at a time with nothing beside them",
    ),
):
    """Reproduce the paper's experiments at a scale: run them (resuming) and build the report."""
    if scale not in ("quick", "paper"):
        _fail(f"--scale must be quick or paper, got {scale!r}")
    try:
        seed_list = tuple(parse_seeds([seeds])) if seeds is not None else None
        only_list = given_list(only, "--only")
        methods = given_list(method, "--method", split=False)
        executor = executor_name(workers, cluster, scheduler)
    except USER_ERRORS as e:
        _fail(e)
    view = nullcontext(None) if quiet else ProgressView(0, terminal.console(stderr=True))
    try:
        with _stops_on_interrupt(), view as progress:
            _reproduce.reproduce(
                scale=scale,
                only=only_list,
                backend=backend,
                device=device,
                results=results_dir,
                out=out,
                seeds=seed_list,
                max_time=max_time,
                budget_clock=budget_clock,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                force=force,
                vectorize=vectorize,
                read_every=read_every,
                budget=budget,
                methods=methods,
                report=not no_report,
                progress=progress,
                timed_beside=timed_beside,
            )
    except USER_ERRORS as e:
        _fail(e)


app.command()(stored.report)
app.command("tune")(tune_command)
app.command("advise")(advise_command)


def _interrupted(e: KeyboardInterrupt) -> NoReturn:
    """Ctrl-C or SIGTERM: one line (a sweep's :class:`~pgbench.sweep.Interrupted` says how far it
    got), exit status 130."""
    if isinstance(e, Interrupted):
        print(e, file=sys.stderr)
    else:
        print("interrupted; finished runs are stored, run the same command again to resume", file=sys.stderr)
    raise SystemExit(130) from None


@contextmanager
def _stops_on_interrupt() -> Iterator[None]:
    """Around a sweep: Ctrl-C (or SIGTERM) ends the command with :func:`_interrupted`'s line
    (typer would turn it into a silent exit status 130)."""
    try:
        yield
    except KeyboardInterrupt as e:
        _interrupted(e)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``pgbench``)."""
    terminal.degrade_streams()  # an ASCII or latin-1 terminal gets stand-ins, not UnicodeEncodeError
    args = normalize_args(list(sys.argv[1:] if argv is None else argv))
    try:
        reject_empty(args)
    except UserError as e:
        _fail(e)
    try:
        with sigterm_as_interrupt():  # SIGTERM stops a sweep as Ctrl-C does
            rv = app(args=args, prog_name="pgbench", standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        print("aborted", file=sys.stderr)
        raise SystemExit(130) from None
    except KeyboardInterrupt as e:
        _interrupted(e)
    except typer.TyperException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # help was printed
            raise SystemExit(0) from None
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        _fail(message)
    if rv == 130:  # typer returns 130 for a KeyboardInterrupt outside a sweep (planning, a report)
        _interrupted(KeyboardInterrupt())
    raise SystemExit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
