"""The ``pgbench`` command line: parse arguments, show progress, print tables (no logic of its own).

    pgbench list [problems|solvers]
    pgbench run PROBLEM SOLVER [SOLVER ...] [--scale quick] [--iterations N] [--seeds 0 1 2]
                [--backend torch --backend jax] [--device cpu] [--set KEY=VALUE] [--problem-set KEY=VALUE]
                [--results DIR] [--plugin MODULE_OR_PATH] [--force] [EXECUTOR]
    pgbench sweep CONFIG.toml [--results DIR] [--dry-run] [EXECUTOR]
    pgbench merge STORE [STORE ...] --into DEST
    pgbench results [--results DIR ...] [--problem ID] [--format table|csv|json] [--target X]
    pgbench reproduce --scale quick|paper [--budget early] [--only PROBLEMS] [EXECUTOR] ...
    pgbench report [--results DIR ...] [--out DIR]
    pgbench leaderboard [--results DIR ...] [--problem ID ...] [--target X|PROBLEM=X] [--out DIR] [--wide]

EXECUTOR, one option group shared by ``run``, ``sweep`` and ``reproduce``: ``--workers N`` (local
worker processes), ``--cluster local [--workers N]`` (a Dask LocalCluster) or ``--scheduler
ADDRESS`` (an existing Dask cluster).

Bad input (unknown id, bad value, unknown setting, nothing compatible) exits with status 2 and
one line ``error: ...`` on stderr before any work starts. ``run`` exits with 1 when a run failed
(its result, with the error message, is stored all the same).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(name="pgbench", no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG).")


def _version(value: bool):
    if value:
        from . import __version__
        print(f"pgbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")):
    """Benchmark optimizers for physics-based deep learning (physical gradients, SIP, HIG)."""

USAGE_ERROR = 2
DEFAULT_RESULTS = "results/runs"


class UserError(Exception):
    """Bad input: reported as one ``error:`` line with exit status 2."""


def _fail(message: str, code: int = USAGE_ERROR):
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def _user_errors():
    """Exceptions that mean the input was bad (raised while validating, before any work)."""
    from .registry import InvalidSettingError, UnknownIdError
    return (UserError, UnknownIdError, InvalidSettingError, ValueError, TypeError, RuntimeError, KeyError,
            ImportError, FileNotFoundError)


def _console(stderr: bool = False):
    from rich.console import Console
    c = Console(stderr=stderr)
    if not c.is_terminal:  # pipes and logs: do not squeeze tables into 80 columns
        c = Console(stderr=stderr, width=max(c.width, 200))
    return c


# --- the executor option group (run, sweep, reproduce) ------------------------------------------------

_EXECUTOR_PANEL = "Executor"
WORKERS = typer.Option(None, "--workers", rich_help_panel=_EXECUTOR_PANEL,
                       help="worker processes (default: 1 in-process, or one per GPU for cuda runs; with --cluster "
                            "local: one per core)")
CLUSTER = typer.Option(None, "--cluster", rich_help_panel=_EXECUTOR_PANEL,
                       help="'local': a Dask LocalCluster of --workers processes")
SCHEDULER = typer.Option(None, "--scheduler", rich_help_panel=_EXECUTOR_PANEL,
                         help="a running Dask scheduler: tcp://host:8786 or the JSON file of "
                              "`dask scheduler --scheduler-file`")


def _executor(workers, cluster, scheduler) -> str:
    """Validate the executor options; returns the executor name (``local`` or ``dask``)."""
    from .sweep import check_executor
    if cluster is not None and cluster != "local":
        raise UserError(f"--cluster must be 'local' (for a remote cluster give --scheduler), got {cluster!r}")
    if cluster is not None and scheduler is not None:
        raise UserError("give either --cluster local or --scheduler, not both")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    executor = "dask" if (cluster or scheduler) else "local"
    check_executor(executor)
    return executor


def _check_dir(path, what: str = "results folder") -> None:
    """Exit 2 with one line unless files can be written in ``path`` (see :mod:`pgbench.validate`)."""
    from .registry import InvalidSettingError
    from .validate import writable_dir
    try:
        writable_dir(path, what)
    except InvalidSettingError as e:
        _fail(e)


def _load_plugins(plugins):
    """Import the plugins, saying which (their code runs here, also for ``--dry-run``)."""
    from .registry import load_plugin
    from .registry import InvalidSettingError
    for p in plugins or []:
        try:
            load_plugin(p)
            print(f"note: imported plugin {p} (its code ran in this process)", file=sys.stderr)
        except InvalidSettingError as e:
            _fail(e)
        except _user_errors() as e:
            _fail(f"plugin {p!r}: {type(e).__name__}: {e}")
        except Exception as e:  # the user's module raised on import
            _fail(f"plugin {p!r} failed to import: {type(e).__name__}: {e}")


def _split_list(values) -> list[str]:
    out = []
    for v in values or []:
        out.extend(x for x in re.split(r"[,\s]+", v.strip()) if x)
    return out


def _parse_seeds(values) -> list[int]:
    seeds = []
    for s in _split_list(values):
        if not re.fullmatch(r"\d+", s):
            raise UserError(f"--seeds: {s!r} is not a non-negative integer")
        seeds.append(int(s))
    return seeds or [0]


def _parse_pairs(values, option: str) -> dict[str, str]:
    pairs = {}
    for v in values or []:
        key, eq, value = v.partition("=")
        if not eq or not key.strip():
            raise UserError(f"{option} expects KEY=VALUE, got {v!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _fmt(v, digits: int = 3) -> str:
    from .terminal import fmt
    return fmt(v, digits)


# --- list ------------------------------------------------------------------------------------------


@app.command("list")
def list_(what: Optional[str] = typer.Argument(None, help="problems or solvers (default: both)"),
          plugin: List[str] = typer.Option([], "--plugin", help="import a module or .py file that registers more")):
    """List the registered problems and solvers."""
    from rich.table import Table

    from .registry import PROBLEMS, SOLVERS
    from .registry import field_types

    choices = ("problems", "solvers")
    if what is not None and what not in choices:
        from .registry import suggest
        _fail(f"can list 'problems' or 'solvers', not {what!r}{suggest(what, choices)}")
    _load_plugins(plugin)
    console = _console()
    if what in (None, "problems"):
        t = Table(title="problems", title_justify="left")
        for col in ("id", "description", "capabilities", "scales", "variant"):
            t.add_column(col, overflow="fold")
        for spec in PROBLEMS.latest():
            try:
                caps = ", ".join(sorted(spec.load().capabilities))
            except Exception as e:
                caps = f"(cannot load: {type(e).__name__})"
            t.add_row(spec.id, spec.description, caps, ", ".join(spec.scales), "variant" if spec.variant else "")
        console.print(t)
    if what in (None, "solvers"):
        t = Table(title="solvers", title_justify="left")
        for col in ("id", "kind", "description", "requires", "hyperparameters (defaults)"):
            t.add_column(col, overflow="fold")
        for spec in SOLVERS.latest():
            try:
                import dataclasses
                cls = spec.load()
                kind, req = cls.kind, ", ".join(sorted(cls.requires))
                defaults = {f.name: f.default if f.default is not dataclasses.MISSING else
                            (f.default_factory() if f.default_factory is not dataclasses.MISSING else "?")
                            for f in dataclasses.fields(cls) if f.init}
                defaults.update(spec.kwargs)
                hp = ", ".join(f"{k}={defaults[k]!r}" for k in field_types(cls))
            except Exception as e:
                kind, req, hp = "?", "", f"(cannot load: {type(e).__name__})"
            t.add_row(spec.id, kind, spec.description, req, hp)
        console.print(t)


# --- run -------------------------------------------------------------------------------------------


class _ProgressView:
    """Rich progress bars: one per run (iteration, loss, x error) and one for the sweep (done,
    running, failed). In a log (not a terminal): one line per finished run."""

    MAX_BARS = 12

    def __init__(self, n_tasks: int, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                                 TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), console=console,
                                 transient=False, refresh_per_second=5)
        self.console, self.n_tasks, self.done = console, n_tasks, 0
        self.running: set[int] = set()
        self.failed = self.diverged = 0
        self.live = console.is_terminal
        self.bars: dict[int, int] = {}
        self.overall = (self.progress.add_task("[bold]sweep", total=n_tasks, metrics="") if n_tasks > 1 else None)

    def _bar(self, event):
        if event.index not in self.bars:
            self.bars[event.index] = self.progress.add_task(event.task.name, total=event.total or None, metrics="")
        return self.bars[event.index]

    def set_total(self, n_tasks: int) -> None:
        """The number of runs, once known (``reproduce`` learns it after the view is made)."""
        self.n_tasks = n_tasks
        if self.overall is None and n_tasks > 1:
            self.overall = self.progress.add_task("[bold]sweep", total=n_tasks, metrics="")

    def set_eta(self, seconds: float | None) -> None:
        """The estimated seconds left (``reproduce``'s plan), shown on the sweep line."""
        self.eta = seconds

    def counts(self) -> str:
        """``done 3 · running 2 · diverged 1 · failed 1 · ETA 4 min`` for the sweep line."""
        eta = getattr(self, "eta", None)
        left = "" if eta is None else (f" · ETA {eta:.0f} s" if eta < 120 else f" · ETA {eta / 60:.0f} min")
        return (f"done {self.done} · running {len(self.running)} · diverged {self.diverged} · "
                f"failed {self.failed}{left}")

    def __call__(self, event):
        if event.kind == "start":
            self.running.add(event.index)
        elif event.kind == "finish":
            self.running.discard(event.index)
            self.done += 1
            self.failed += event.outcome.status == "failed"
            self.diverged += event.outcome.status == "diverged"
        if not self.live:  # a log, not a terminal: one line per finished run
            if event.kind == "finish":
                o = event.outcome
                stored = " (stored)" if o.cached else ""
                self.console.print(f"[{self.done}/{self.n_tasks or '?'}] {event.task.name}: {o.status}{stored}  "
                                   f"iterations {_fmt(o.iterations)}  loss {_fmt(o.loss)}  x err {_fmt(o.x_error)}  "
                                   f"{_fmt(o.wall_time)} s  ({self.counts()})", highlight=False)
            return
        bar = self._bar(event)
        if event.kind == "iteration":
            p = event.progress
            self.progress.update(bar, completed=p.iteration,   # update steps done (pgbench.measures)
                                 metrics=f"loss {_fmt(p.loss)}  x err {_fmt(p.x_error)}")
        elif event.kind == "finish":
            o = event.outcome
            mark = {"ok": "[green]ok", "diverged": "[yellow]diverged", "failed": "[red]failed"}.get(o.status, o.status)
            stored = " (stored)" if o.cached else ""
            self.progress.update(bar, completed=event.total or 1, total=event.total or 1,
                                 description=f"{event.task.name}: {mark}[/]{stored}",
                                 metrics=f"loss {_fmt(o.loss)}  x err {_fmt(o.x_error)}")
            if self.n_tasks > self.MAX_BARS:  # a long sweep: keep bars for running runs only
                self.progress.update(bar, visible=False)
                self.progress.console.print(f"{event.task.name}: {mark}[/]{stored}  loss {_fmt(o.loss)}  "
                                            f"x err {_fmt(o.x_error)}", highlight=False)
        if self.overall is not None:
            self.progress.update(self.overall, completed=self.done, metrics=self.counts())

    def __enter__(self):
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.progress.stop()


def _summary_table(summary, title: str = "summary", wide: bool = False):
    """The summary as a rich table (:func:`pgbench.terminal.summary_table`)."""
    from .terminal import summary_table
    return summary_table(summary, title, wide)


@app.command()
def run(problem: str = typer.Argument(..., help="problem id, e.g. sin or sin-v0"),
        solvers: List[str] = typer.Argument(..., help="one or more solver ids"),
        scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
        iterations: Optional[int] = typer.Option(None, "--iterations", "-n", help="iteration budget (default: the scale's)"),
        max_time: Optional[float] = typer.Option(None, "--max-time", help="wall-time budget per run in seconds"),
        seeds: List[str] = typer.Option(["0"], "--seeds", "--seed", help="seeds: --seeds 0 1 2 or --seeds 0,1,2"),
        backend: List[str] = typer.Option(["torch"], "--backend", help="torch or jax (repeatable)"),
        device: List[str] = typer.Option(["cpu"], "--device", help="cpu or cuda (repeatable)"),
        set_: List[str] = typer.Option([], "--set", help="solver hyperparameter KEY=VALUE (or SOLVER.KEY=VALUE)"),
        problem_set: List[str] = typer.Option([], "--problem-set", help="problem setting KEY=VALUE, e.g. batch_size=8"),
        results: Path = typer.Option(Path(DEFAULT_RESULTS), "--results", help="results store directory"),
        plugin: List[str] = typer.Option([], "--plugin", help="module or .py file registering problems/solvers"),
        force: bool = typer.Option(False, "--force", help="run again even if a finished result is stored"),
        workers: Optional[int] = WORKERS,
        cluster: Optional[str] = CLUSTER,
        scheduler: Optional[str] = SCHEDULER,
        executor: Optional[str] = typer.Option(None, "--executor", hidden=True,
                                               help="deprecated: 'dask' is --cluster local"),
        label: Optional[str] = typer.Option(None, "--label", help="display name of the method in tables and plots"),
        threads: Optional[int] = typer.Option(1, "--threads", help="torch CPU threads of each run, recorded in its key "
                                              "(0: torch's default)"),
        vectorize: bool = typer.Option(False, "--vectorize", help="train a run's seeds as one program "
                                       "(vmap over seeds); stored as separate runs with the same keys"),
        read_every: int = typer.Option(1, "--read-every", help="with --vectorize: read metrics back every K "
                                       "iterations (jax: K iterations in one lax.scan); same numbers"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
        wide: bool = typer.Option(False, "--wide",
                                  help="every column of the summary (default: the ones that fit 120 columns)")):
    """Run solvers on a problem (every seed × backend × device) and store the results."""
    from .sweep import EXECUTORS, expand

    if threads is not None and threads < 0:
        _fail(f"--threads must be >= 0, got {threads}")
    _load_plugins(plugin)
    err = _console(stderr=True)
    try:
        if executor is not None and executor not in EXECUTORS:
            raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if executor == "dask" and cluster is None and scheduler is None:
            cluster = "local"
        executor = _executor(workers, cluster, scheduler)
        tasks, skipped = expand(problem, solvers, seeds=_parse_seeds(seeds), backends=_split_list(backend),
                                devices=_split_list(device), scale=scale, iterations=iterations, max_time=max_time,
                                hyperparameters=_parse_pairs(set_, "--set"),
                                problem_overrides=_parse_pairs(problem_set, "--problem-set"), label=label,
                                plugins=plugin, threads=threads)
    except _user_errors() as e:
        _fail(e)
    if not tasks:
        _fail(f"no compatible solver for {problem}: " + "; ".join(s.reason for s in skipped))
    for s in skipped:
        err.print(f"[yellow]skip[/] {s.problem} × {s.solver}: {s.reason}", highlight=False)
    if vectorize:
        _check_vectorizable(tasks, read_every)
    _check_dir(results)
    _run_tasks(tasks, results, executor, workers, scheduler, force, quiet, wide, vectorize, read_every)


def _check_vectorizable(tasks, read_every: int) -> None:
    """``run --vectorize``: exit 2 (before any run) unless every solver's seeds can be one program."""
    from .sweep import vector_groups
    from .vectorize import SUPPORTED

    if read_every < 1:
        _fail(f"--read-every must be >= 1, got {read_every}")
    try:
        plans = [t.plan() for t in tasks]
    except _user_errors() as e:
        _fail(e)
    _, alone = vector_groups(tasks, plans, list(range(len(tasks))), read_every)
    for i, reason in alone:
        if reason != "one seed":
            _fail(f"{SUPPORTED}; {tasks[i].problem} × {tasks[i].solver}: {reason}")


def _run_tasks(tasks, results: Path, executor: str, workers, scheduler, force: bool, quiet: bool,
               wide: bool = False, vectorize: bool = False, read_every: int = 1) -> None:
    """Run a validated task list with progress, print failures and the summary table; exit 1
    if a run failed (its result is stored all the same)."""
    import pandas as pd

    from .summary import summarize
    from .sweep import run_sweep

    from .registry import InvalidSettingError

    err = _console(stderr=True)
    notes: list = []
    kwargs = dict(root=results, executor=executor, workers=workers, scheduler=scheduler, force=force,
                  vectorize=vectorize, read_every=read_every, notes=notes)
    try:  # run_sweep raises InvalidSettingError only while validating, before any run
        if quiet:
            outcomes = run_sweep(tasks, **kwargs)
        else:
            with _ProgressView(len(tasks), err) as view:
                outcomes = run_sweep(tasks, **kwargs, progress=view)
    except InvalidSettingError as e:
        _fail(e)
    for n in notes:
        err.print(f"[yellow]note[/] {n}", highlight=False)
    for o in outcomes:
        if o.status == "failed":
            first = (o.message or "").strip().splitlines()[:1]
            err.print(f"[red]failed[/] {o.task.name}: {first[0] if first else ''}", highlight=False)
    paths = sorted({o.path for o in outcomes})
    from .store import read
    df = pd.concat([read(p) for p in paths], ignore_index=True)
    _console().print(_summary_table(summarize(df), title=f"summary ({len(paths)} runs, stored in {results})",
                                    wide=wide))
    if any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


# --- sweep / merge -------------------------------------------------------------------------------------


@app.command()
def sweep(config: Path = typer.Argument(..., help="TOML sweep file (see docs/sweeps.md)"),
          results: Path = typer.Option(Path(DEFAULT_RESULTS), "--results", help="results store directory"),
          dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and which are already stored; run nothing"),
          workers: Optional[int] = WORKERS,
          cluster: Optional[str] = CLUSTER,
          scheduler: Optional[str] = SCHEDULER,
          force: bool = typer.Option(False, "--force", help="run again even if a finished result is stored"),
          threads: Optional[int] = typer.Option(1, "--threads", help="torch CPU threads of each run, recorded in its key "
                                                "(0: torch's default)"),
          vectorize: bool = typer.Option(False, "--vectorize", help="train each configuration's seeds as one "
                                         "program where the solver allows (others run seed by seed, with a note)"),
          read_every: int = typer.Option(1, "--read-every", help="with --vectorize: read metrics back every K "
                                         "iterations; same numbers"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
          wide: bool = typer.Option(False, "--wide",
                                  help="every column of the summary (default: the ones that fit 120 columns)")):
    """Run a sweep file's grid (problems × solvers × hyperparameters × backends × devices × seeds),
    locally or on Dask; resumable: stored finished runs are skipped, failed ones retried."""
    from .sweep import sweep_status
    from .sweep_config import SweepConfig

    try:
        executor = _executor(workers, cluster, scheduler)
        if threads is not None and threads < 0:
            raise UserError(f"--threads must be >= 0, got {threads}")
        grid = SweepConfig.from_toml(config)
    except _user_errors() as e:
        _fail(e)
    _load_plugins(grid.plugins)
    try:
        tasks, skipped = grid.tasks(remote=scheduler is not None or dry_run, threads=threads)
    except _user_errors() as e:
        _fail(e)
    if not tasks:
        _fail(f"{config}: no compatible run in the grid: " + "; ".join(s.reason for s in skipped))
    err = _console(stderr=True)
    for s in skipped:
        err.print(f"[yellow]skip[/] {s.problem} × {s.solver}: {s.reason}", highlight=False)
    if dry_run:
        _print_dry_run(tasks, sweep_status(tasks, results), results)
        return
    _check_dir(results)
    _run_tasks(tasks, results, executor, workers, scheduler, force, quiet, wide, vectorize, read_every)


def _print_dry_run(tasks, statuses, results: Path) -> None:
    from rich.table import Table

    t = Table(title=f"{len(tasks)} runs (store {results})", title_justify="left")
    for c in ("#", "problem", "solver", "seed", "backend", "device", "budget", "stored"):
        t.add_column(c, justify="right" if c in ("#", "seed") else "left")
    for i, (task, st) in enumerate(zip(tasks, statuses)):
        budget = " ".join(x for x in (f"{task.iterations} it" if task.iterations else "",
                                       f"{task.max_time:g} s" if task.max_time else "") if x) or task.scale
        mark = {"ok": "[green]done", "diverged": "[yellow]done (diverged)", "failed": "[red]failed: will retry"}
        t.add_row(str(i), task.problem, task.label or task.solver, str(task.seed), task.backend, task.device, budget,
                  mark.get(st, "to run") if task.runs_here else "no such device here: the worker checks")
    _console().print(t)
    done = sum(s in ("ok", "diverged") for s in statuses)
    failed = sum(s == "failed" for s in statuses)
    elsewhere = sum(not t.runs_here for t in tasks)
    note = f" ({elsewhere} on a device this machine lacks: the workers check the store)" if elsewhere else ""
    print(f"{done} done, {failed} failed (will retry), {len(tasks) - done - failed} not yet run; "
          f"{len(tasks) - done} would run{note}")


@app.command()
def merge(sources: List[Path] = typer.Argument(..., help="result stores to merge (directories)"),
          into: Path = typer.Option(..., "--into", help="destination store (created if missing)")):
    """Combine result stores (e.g. from several machines) into one, one file per run key: a
    finished run wins over a failed one, else the destination's copy is kept. Two finished copies
    of one run key that hold different results are listed as conflicts (exit status 1)."""
    from .store import merge as _merge

    missing = [str(d) for d in sources if not Path(d).is_dir()]
    if missing:
        _fail(f"no results directory {', '.join(missing)}")
    _check_dir(into, "merge destination")
    try:
        summary = _merge(sources, into)
    except (OSError, ValueError) as e:
        _fail(f"cannot merge into {into}: {e}")
    for path in summary.unreadable:
        print(f"warning: skipped unreadable result file {path}", file=sys.stderr)
    for c in summary.conflicts:
        print(f"conflict: {c} (same run key, different results; the destination's copy is kept)", file=sys.stderr)
    print(f"merged into {into}: {summary.copied} copied, {summary.replaced} replaced (failed -> finished), "
          f"{summary.kept} already there, {len(summary.unreadable)} unreadable, {len(summary.conflicts)} conflicts")
    if summary.conflicts:
        raise SystemExit(1)


# --- results -----------------------------------------------------------------------------------------


@app.command()
def results(results_dirs: List[Path] = typer.Option([Path(DEFAULT_RESULTS)], "--results", help="store directory (repeatable)"),
            problem: List[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
            solver: List[str] = typer.Option([], "--solver", help="only these solvers (repeatable)"),
            format: str = typer.Option("table", "--format", help="table, csv or json"),
            target: Optional[float] = typer.Option(None, "--target", help="x-error target (default: each problem's)"),
            per_run: bool = typer.Option(False, "--per-run", help="one row per run instead of the mean over seeds"),
            wide: bool = typer.Option(False, "--wide", help="every column (default: the ones that fit 120 columns)"),
            plugin: List[str] = typer.Option([], "--plugin", help="module or .py file registering problems")):
    """Summarise stored runs per problem × solver: final x error, y loss, iterations and time to
    reach the target x error, time per iteration (means over seeds)."""
    from .summary import per_run as _per_run
    from .summary import summarize

    formats = ("table", "csv", "json")
    if format not in formats:
        _fail(f"--format must be one of {', '.join(formats)}, got {format!r}")
    if target is not None and not target > 0:
        _fail(f"--target must be > 0, got {target}")
    df = _load_stores(results_dirs, plugin)
    for option, column, values in (("--problem", "problem", problem), ("--solver", "solver", solver)):
        _check_stored(option, values, df[column] if column in df else None,
                      df["label"] if column == "solver" and "label" in df else None)
    if problem:
        names = set(_split_list(problem))
        df = df[df["problem"].isin(names) | df["problem"].str.rsplit("-v", n=1).str[0].isin(names)]
    if solver:
        names = set(_split_list(solver))
        df = df[df["solver"].isin(names) | df["solver"].str.rsplit("-v", n=1).str[0].isin(names)
                | (df["label"].isin(names) if "label" in df else False)]
    if df.empty:
        print("no stored runs match", file=sys.stderr)
        raise SystemExit(1)
    table = _per_run(df, target) if per_run else summarize(df, target)
    if format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(table.to_json(orient="records", indent=1) + "\n")
    elif per_run:
        from .terminal import runs_table
        _console().print(runs_table(table, "runs", wide))
    else:
        _console().print(_summary_table(table, f"results ({', '.join(map(str, results_dirs))})", wide))


def _load_stores(results_dirs, plugin):
    """Every run under ``results_dirs`` (each must exist) after loading ``plugin``; the store's
    warnings (damaged files) go to stderr."""
    import warnings

    from .store import load_results
    missing = [str(d) for d in results_dirs if not Path(d).is_dir()]
    if missing:
        _fail(f"no results directory {', '.join(missing)}")
    _load_plugins(plugin)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_results(*results_dirs)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return df


@app.command()
def leaderboard(results_dirs: List[Path] = typer.Option([Path(DEFAULT_RESULTS)], "--results", help="store directory (repeatable)"),
                problem: List[str] = typer.Option([], "--problem", help="only these problems (repeatable)"),
                kind: str = typer.Option("training", "--kind", help="training or iterative methods"),
                target: List[str] = typer.Option([], "--target", help="x-error target: X for every problem or "
                                                 "PROBLEM=X (repeatable; default: the worst final error "
                                                 "of Adam's ok seeds)"),
                max_ratio: float = typer.Option(4.0, "--max-ratio", help="τ_max of the performance-profile score"),
                out: Optional[Path] = typer.Option(None, "--out", help="also write leaderboard.md, CSVs and the "
                                                   "profile plot here"),
                format: str = typer.Option("table", "--format", help="table, md, csv or json"),
                wide: bool = typer.Option(False, "--wide", help="every column (run keys too)"),
                plugin: List[str] = typer.Option([], "--plugin", help="module or .py file registering problems")):
    """Rank every method per problem by time to target and by x error at equal wall time (median
    over seeds, spread, k/n), with an AlgoPerf-style performance-profile score across problems."""
    from . import leaderboard as _lb

    if format not in ("table", "md", "csv", "json"):
        _fail(f"--format must be one of table, md, csv, json, got {format!r}")
    if kind not in ("training", "iterative"):
        _fail(f"--kind must be training or iterative, got {kind!r}")
    if not max_ratio > 1:
        _fail(f"--max-ratio must be > 1, got {max_ratio}")
    targets: float | dict | None = None
    for item in _split_list(target):
        name, _, value = item.rpartition("=")
        try:
            v = float(value)
        except ValueError:
            _fail(f"--target must be X or PROBLEM=X with X a number > 0, got {item!r}")
        if not v > 0:
            _fail(f"--target must be > 0, got {item!r}")
        if name:
            targets = {**(targets if isinstance(targets, dict) else {}), name: v}
        elif isinstance(targets, dict):
            _fail("--target: give one number for every problem or PROBLEM=X pairs, not both")
        else:
            targets = v
    if out is not None:
        _check_dir(out, "output folder")
    df = _load_stores(results_dirs, plugin)
    _check_stored("--problem", problem, df["problem"] if "problem" in df else None)
    if isinstance(targets, dict):
        _check_stored("--problem", list(targets), df["problem"] if "problem" in df else None)
    board = _lb.build(df, kind=kind, targets=targets, max_ratio=max_ratio, problems=_split_list(problem) or None)
    if board.table.empty:
        print("no stored runs match", file=sys.stderr)
        raise SystemExit(1)
    if out is not None:
        paths = _lb.write(board, out)
    if format == "md":
        sys.stdout.write(_lb.markdown(board))
    elif format == "csv":
        sys.stdout.write(board.table.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(board.table.to_json(orient="records", indent=1) + "\n")
    else:
        from rich.table import Table
        con = _console()
        disp = _lb.display_table(board)
        if not wide:
            disp = disp.drop(columns=["runs"])
        for prob, g in board.table.groupby("problem", sort=True):
            first = g.iloc[0]
            t = Table(title=f"{prob}: target x error {_fmt(first['target'])} ({first['target_source']}), "
                            f"common time {_fmt(first['common_time'])} s", title_justify="left")
            rows = disp[disp["problem"] == prob].drop(columns=["problem"])
            for c in rows.columns:
                t.add_column(c, justify="right" if c.startswith("#") else "left", overflow="fold")
            for r in rows.itertuples(index=False):
                t.add_row(*map(str, r))
            con.print(t)
        t = Table(title=f"performance-profile score (τ_max {max_ratio:g}; {board.kind})", title_justify="left")
        cols = ["rank", "method", "score", "within_max_ratio", "fastest"] + (["ratios"] if wide else [])
        for c in cols:
            t.add_column(c, overflow="fold")
        for r in board.scores.to_dict("records"):
            t.add_row(*[f"{r[c]:.3f}" if c == "score" else str(r[c]) for c in cols])
        con.print(t)
        for n in board.notes:
            print(f"note: {n}")
    if out is not None:
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)


def _check_stored(option: str, values, ids, labels=None) -> None:
    """Exit 2 with the nearest id when a ``--problem`` / ``--solver`` filter names neither a
    stored nor a registered id (a registered one with no stored runs is not bad input)."""
    from .registry import PROBLEMS, SOLVERS, suggest

    if not values or ids is None:
        return
    known = set(ids.dropna().astype(str))
    known |= {i.rsplit("-v", 1)[0] for i in known}
    if labels is not None:
        known |= set(labels.dropna().astype(str))
    registry = PROBLEMS if option == "--problem" else SOLVERS
    for name in _split_list(values):
        if name not in known and name not in registry:
            _fail(f"{option} {name!r}: no such {option[2:]} in the store"
                  + suggest(name, known).replace("; registered:", "; stored:"))


# --- reproduce / report (thin wrappers) ------------------------------------------------------------------


@app.command()
def reproduce(scale: str = typer.Option("quick", "--scale", help="quick or paper"),
              only: List[str] = typer.Option([], "--only", help="only these problems / experiments (repeatable)"),
              backend: str = typer.Option("torch", "--backend", help="torch or jax"),
              device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
              results_dir: Path = typer.Option(Path(DEFAULT_RESULTS), "--results", help="results store directory"),
              out: Path = typer.Option(Path("results/report"), "--out", help="where figures and tables go"),
              quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
              seeds: str = typer.Option("", "--seeds", help="seeds replacing every experiment's seeds: "
                                        "--seeds 0 1 2 or --seeds 0,1,2"),
              max_time: Optional[float] = typer.Option(None, "--max-time", help="cap every run at this many "
                                                       "seconds of wall time (paper scale as far as time allows)"),
              workers: Optional[int] = WORKERS,
              cluster: Optional[str] = CLUSTER,
              scheduler: Optional[str] = SCHEDULER,
              force: bool = typer.Option(False, "--force", help="run again even if a finished result is stored"),
              budget: Optional[str] = typer.Option(None, "--budget", help="a named budget set at --scale paper "
                                                   "(early: each training run stops just after the paper's early "
                                                   "claims; see docs/paper_cpu.md)"),
              vectorize: bool = typer.Option(False, "--vectorize", help="train each method's seeds as one program "
                                             "where the solver allows (others run seed by seed, with a note)"),
              read_every: int = typer.Option(1, "--read-every", help="with --vectorize: read metrics back every "
                                             "K iterations; same numbers")):
    """Reproduce the paper's experiments at a scale: run them (resuming) and build the report."""
    from . import reproduce as _reproduce

    if scale not in ("quick", "paper"):
        _fail(f"--scale must be quick or paper, got {scale!r}")
    err = _console(stderr=True)
    try:
        seed_list = tuple(_parse_seeds([seeds])) if seeds.strip() else None
        executor = _executor(workers, cluster, scheduler)
    except _user_errors() as e:
        _fail(e)
    kwargs = dict(scale=scale, only=_split_list(only) or None, backend=backend, device=device,
                  results=results_dir, out=out, seeds=seed_list, max_time=max_time, executor=executor,
                  workers=workers, scheduler=scheduler, force=force, vectorize=vectorize, read_every=read_every,
                  budget=budget)
    try:
        if quiet:
            _reproduce.reproduce(**kwargs, progress=None)
        else:
            with _ProgressView(0, err) as view:
                _reproduce.reproduce(**kwargs, progress=view)
    except _user_errors() as e:
        _fail(e)


@app.command()
def report(results_dirs: List[Path] = typer.Option([Path(DEFAULT_RESULTS)], "--results", help="store directory (repeatable)"),
           out: Path = typer.Option(Path("results/report"), "--out", help="where figures and tables go")):
    """Build figures and tables from stored runs (never runs an experiment)."""
    from . import report as _report

    missing = [str(d) for d in results_dirs if not Path(d).is_dir()]
    if missing:
        _fail(f"no results directory {', '.join(missing)}")
    _check_dir(out, "report folder")
    path = _report.build_report(list(results_dirs), out)
    if path is not None:
        print(path)


# --- entry point ---------------------------------------------------------------------------------------

_GREEDY = {"--seeds": re.compile(r"^\d+(,\d+)*,?$"), "--seed": re.compile(r"^\d+(,\d+)*,?$"),
           "--backend": re.compile(r"^(torch|jax)(,(torch|jax))*$"),
           "--device": re.compile(r"^(cpu|cuda|gpu)(,(cpu|cuda|gpu))*$")}


def normalize_args(args: list[str]) -> list[str]:
    """Let list options take several values after one flag (``--seeds 0 1 2``,
    ``--backend torch jax``) by joining them with commas before parsing."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        out.append(a)
        i += 1
        pattern = _GREEDY.get(a)
        if pattern is None or i >= len(args):
            continue
        values = [args[i]]
        i += 1
        while i < len(args) and pattern.match(args[i]):
            values.append(args[i])
            i += 1
        out.append(",".join(values))
    return out


_PATH_OPTIONS = ("--results", "--out", "--into", "--scheduler", "--plugin")


def _reject_empty(args: list[str]) -> None:
    """An empty path (``--results ''``) would mean the current directory: refuse it."""
    for i, a in enumerate(args):
        name, eq, value = a.partition("=")
        if name in _PATH_OPTIONS and ((eq and not value.strip()) or
                                      (not eq and i + 1 < len(args) and not args[i + 1].strip())):
            _fail(f"{name} must not be empty")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``pgbench``)."""
    args = normalize_args(list(sys.argv[1:] if argv is None else argv))
    _reject_empty(args)
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
