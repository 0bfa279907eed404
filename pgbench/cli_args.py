"""The command line's options: the ones several commands share (the executor group among them),
and their texts as values (no output): lists split at commas, seeds, ``KEY=VALUE`` pairs, the
executor's name, several values after one flag (``--seeds 0 1 2``), empty paths refused. Bad
input raises :class:`UserError`.

EXECUTOR, one option group shared by ``run``, ``sweep`` and ``reproduce``: ``--workers N`` (local
worker processes), ``--cluster local [--workers N]`` (a Dask LocalCluster) or ``--scheduler
ADDRESS`` (an existing Dask cluster)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from .sweep import check_executor

# --- the executor option group (run, sweep, reproduce) ------------------------------------------------

_EXECUTOR_PANEL = "Executor"
WORKERS = typer.Option(
    None,
    "--workers",
    rich_help_panel=_EXECUTOR_PANEL,
    help="worker processes (default: 1 in-process, or one per GPU for cuda runs; with --cluster local: one per core)",
)
REPRODUCE_WORKERS = typer.Option(
    None,
    "--workers",
    rich_help_panel=_EXECUTOR_PANEL,
    help="worker processes (default for torch on the CPU: one per core, at most 4, longest runs first, a run "
    "with a wall-time budget never sharing a core; 1 (jax's default): one run at a time in this process; "
    "cuda: one per GPU; with --cluster local: one per core)",
)
CLUSTER = typer.Option(
    None, "--cluster", rich_help_panel=_EXECUTOR_PANEL, help="'local': a Dask LocalCluster of --workers processes"
)
SCHEDULER = typer.Option(
    None,
    "--scheduler",
    rich_help_panel=_EXECUTOR_PANEL,
    help="a running Dask scheduler: tcp://host:8786 or the JSON file of `dask scheduler --scheduler-file`",
)


# --- options shared by several commands -----------------------------------------------------------------

RESULTS = typer.Option(Path("results/runs"), "--results", help="results store directory")
RESULTS_DIRS = typer.Option([Path("results/runs")], "--results", help="store directory (repeatable)")
OUT = typer.Option(Path("results/report"), "--out", help="where figures and tables go")
PLUGIN = typer.Option([], "--plugin", help="module or .py file registering problems/solvers")
FORCE = typer.Option(False, "--force", help="run again even if a finished result is stored")
QUIET = typer.Option(False, "--quiet", "-q", help="no progress bars")
WIDE = typer.Option(False, "--wide", help="every column of the summary (default: the ones that fit 120 columns)")
THREADS = typer.Option(
    1,
    "--threads",
    help="torch CPU threads of each run, recorded in its key (0: torch's default; at most 4 per core, at least 64)",
)
VECTORIZE = typer.Option(
    False,
    "--vectorize",
    help="train each configuration's seeds as one program where the "
    "solver allows (others run seed by seed, with a note)",
)
READ_EVERY = typer.Option(
    1, "--read-every", help="with --vectorize: read metrics back every K iterations; same numbers"
)


class UserError(Exception):
    """Bad input: reported as one ``error:`` line with exit status 2."""


def split_list(values) -> list[str]:
    """``["0,1 2", "3"]`` -> ``["0", "1", "2", "3"]``: values split at commas and spaces."""
    out: list[str] = []
    for v in values or []:
        out.extend(x for x in re.split(r"[,\s]+", v.strip()) if x)
    return out


def parse_seeds(values) -> list[int]:
    """The ``--seeds`` values as integers; UserError for anything else, and for none at all
    (``--seeds ''``: the option given, but no seed)."""
    seeds = []
    for s in split_list(values):
        if not re.fullmatch(r"\d+", s):
            raise UserError(f"--seeds: {s!r} is not a non-negative integer")
        seeds.append(int(s))
    if not seeds:
        raise UserError("--seeds names no seed")
    return seeds


def given_list(values, option: str, split: bool = True) -> list[str] | None:
    """A repeatable option's values, split at commas and spaces (:func:`split_list`; ``split``
    False: as given, e.g. labels with spaces), None when the option was not given; UserError when
    it was given but a value names nothing (``--only ''``), which must not mean "everything"."""
    if not values:
        return None
    items = split_list(values) if split else list(values)
    if not items or not all(v.strip() for v in values):
        raise UserError(f"{option} must name something, got {' '.join(map(repr, values))}")
    return items


def parse_pairs(values, option: str) -> dict[str, str]:
    """``["lr=0.1"]`` -> ``{"lr": "0.1"}``; UserError naming ``option`` for a value without ``=``."""
    pairs = {}
    for v in values or []:
        key, eq, value = v.partition("=")
        if not eq or not key.strip():
            raise UserError(f"{option} expects KEY=VALUE, got {v!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def executor_name(workers, cluster, scheduler) -> str:
    """Validate the executor options; returns the executor name (``local`` or ``dask``)."""
    if cluster is not None and cluster != "local":
        raise UserError(f"--cluster must be 'local' (for a remote cluster give --scheduler), got {cluster!r}")
    if cluster is not None and scheduler is not None:
        raise UserError("give either --cluster local or --scheduler, not both")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    executor = "dask" if (cluster or scheduler) else "local"
    check_executor(executor)
    return executor


_GREEDY = {
    "--seeds": re.compile(r"\d+(,\d+)*,?"),
    "--seed": re.compile(r"\d+(,\d+)*,?"),
    "--validation-seeds": re.compile(r"\d+(,\d+)*,?"),
    "--test-seeds": re.compile(r"\d+(,\d+)*,?"),
    "--backend": re.compile(r"(torch|jax)(,(torch|jax))*"),
    "--device": re.compile(r"(cpu|cuda|gpu)(,(cpu|cuda|gpu))*"),
}


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
        while i < len(args) and pattern.fullmatch(args[i]):
            values.append(args[i])
            i += 1
        out.append(",".join(values))
    return out


_PATH_OPTIONS = ("--results", "--out", "--into", "--scheduler", "--plugin")


def reject_empty(args: list[str]) -> None:
    """An empty path (``--results ''``) would mean the current directory: raise UserError."""
    for i, a in enumerate(args):
        name, eq, value = a.partition("=")
        if name in _PATH_OPTIONS and (
            (eq and not value.strip()) or (not eq and i + 1 < len(args) and not args[i + 1].strip())
        ):
            raise UserError(f"{name} must not be empty")


# --- options of one command, too long to read inside its signature ---------------------------------------

VECTORIZE_RUN = typer.Option(
    False,
    "--vectorize",
    help="train a run's seeds as one program (vmap over seeds); stored as separate runs with the same keys",
)
READ_EVERY_RUN = typer.Option(
    1,
    "--read-every",
    help="with --vectorize: read metrics back every K iterations (jax: K iterations in one lax.scan); same numbers",
)
BOARD_TARGETS = typer.Option(
    [],
    "--target",
    help="x-error target policy: worst-reference (default: the worst final error of Adam's ok seeds), "
    "median-reference, declared, X for every problem or PROBLEM=X (repeatable)",
)
BOARD_OUT = typer.Option(None, "--out", help="also write leaderboard.md, CSVs and the profile plot here")
REPRODUCE_SEEDS = typer.Option(
    None, "--seeds", help="seeds replacing every experiment's seeds: --seeds 0 1 2 or --seeds 0,1,2"
)
BUDGET_CLOCK = typer.Option(
    "wall",
    "--budget-clock",
    help="the clock --max-time counts on: wall, or cpu (CPU seconds of the run's process, which the "
    "machine's load does not use up)",
)
REPRODUCE_BUDGET_CLOCK = typer.Option(
    None,
    "--budget-clock",
    help="the clock every time budget counts on: wall or cpu (default: each experiment's; the quick "
    "HIG checks count CPU seconds)",
)
REPRODUCE_MAX_TIME = typer.Option(
    None, "--max-time", help="cap every run at this many seconds of wall time (paper scale as far as time allows)"
)
BUDGET = typer.Option(
    None,
    "--budget",
    help="a named budget set at --scale paper (early: each training run stops "
    "just after the paper's early claims; see docs/paper_cpu.md)",
)
METHOD = typer.Option([], "--method", help="only the methods with this label, e.g. 'PG (inverse)' (repeatable)")
