"""``pgbench tune``: the tuning protocol (:mod:`pgbench.tune`) from the command line (registered
on the app by :mod:`pgbench.cli`)."""

from __future__ import annotations

import json
import math
import sys
from contextlib import nullcontext
from pathlib import Path

import typer

from . import search_space, terminal
from .cli_args import CLUSTER, PLUGIN, QUIET, RESULTS, SCHEDULER, THREADS, WORKERS, executor_name, split_list
from .cli_checks import USER_ERRORS, fail, load_plugins
from .numbers import fmt
from .progress_view import ProgressView
from .tune import DEFAULT_TRIALS, TEST_SEEDS, VALIDATION_SEEDS, Method, Protocol, TuneReport, plan_tasks, tune


def _seeds(values: list[str], option: str, default) -> tuple[int, ...]:
    items = split_list(values)
    if not items:
        return tuple(default)
    try:
        seeds = tuple(int(s) for s in items)
    except ValueError:
        fail(f"{option}: expected non-negative integers, got {' '.join(items)!r}")
    if any(s < 0 for s in seeds):
        fail(f"{option}: seeds must be >= 0")
    return seeds


_VALIDATION = typer.Option(
    [], "--validation-seeds", help=f"seeds trials are chosen on (default {','.join(map(str, VALIDATION_SEEDS))})"
)
_TEST = typer.Option(
    [], "--test-seeds", help=f"seeds the chosen settings are judged on (default {','.join(map(str, TEST_SEEDS))})"
)


def tune_command(
    problem: str = typer.Argument(..., help="problem id, e.g. sin"),
    methods: list[str] = typer.Argument(..., help="SOLVER or SOLVER:KEY=VALUE,... e.g. dp:optimizer=sgd pg hig"),
    trials: int = typer.Option(DEFAULT_TRIALS, "--trials", help="trials per method (the same for every method)"),
    validation_seeds: list[str] = _VALIDATION,
    test_seeds: list[str] = _TEST,
    scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
    iterations: int | None = typer.Option(None, "--iterations", "-n", help="iteration budget of every run"),
    max_time: float | None = typer.Option(None, "--max-time", help="wall-time budget of every run in seconds"),
    backend: str = typer.Option("torch", "--backend", help="torch or jax"),
    sampler_seed: int = typer.Option(0, "--sampler-seed", help="seed of the quasi-random trial sequence"),
    results: Path = RESULTS,
    plugin: list[str] = PLUGIN,
    workers: int | None = WORKERS,
    cluster: str | None = CLUSTER,
    scheduler: str | None = SCHEDULER,
    threads: int | None = THREADS,
    quiet: bool = QUIET,
):
    """Tune methods on a problem with equal budgets: the same number of quasi-random trials per
    method on validation seeds, then the chosen settings and the defaults on unseen test seeds;
    ranks under both rulesets (external tuning, self-tuning) with bootstrap intervals."""
    load_plugins(plugin)
    try:
        executor = executor_name(workers, cluster, scheduler)
        protocol = Protocol(
            problem,
            scale=scale,
            trials=trials,
            validation_seeds=_seeds(validation_seeds, "--validation-seeds", VALIDATION_SEEDS),
            test_seeds=_seeds(test_seeds, "--test-seeds", TEST_SEEDS),
            iterations=iterations,
            max_time=max_time,
            backend=backend,
            sampler_seed=sampler_seed,
            threads=threads,
        )
        parsed = [Method.parse(m) for m in methods]
        planned = plan_tasks(protocol, parsed)
    except USER_ERRORS as e:
        fail(e)
    _print_plan(protocol, parsed, planned)
    total = sum(len(t) for trials_ in planned.values() for t in trials_) + 2 * len(parsed) * len(protocol.test_seeds)
    options = dict(executor=executor, workers=workers, scheduler=scheduler)
    try:
        with nullcontext(None) if quiet else ProgressView(total, terminal.console(stderr=True)) as view:
            report = tune(protocol, parsed, results, progress=view, **options)
    except USER_ERRORS as e:
        fail(e)
    _print_report(report)


def _print_plan(protocol: Protocol, methods: list[Method], planned) -> None:
    n_trials = sum(len(t) for trials_ in planned.values() for t in trials_)
    err = terminal.console(stderr=True)
    err.print(
        f"tuning {protocol.problem}: {len(methods)} methods × {protocol.trials} trials × "
        f"{len(protocol.validation_seeds)} validation seeds = {n_trials} trial runs, then "
        f"{2 * len(methods) * len(protocol.test_seeds)} test runs (chosen and default settings × "
        f"{len(protocol.test_seeds)} test seeds)",
        markup=False,
        highlight=False,
    )
    for m in methods:
        err.print(f"  {m.label}: {search_space.describe(m.resolved_space())}", markup=False, highlight=False)


def _interval(lo: float, hi: float) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]" if math.isfinite(lo) or math.isfinite(hi) else ""


def _settings(text: str) -> str:
    settings = json.loads(text)
    return ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in settings.items()) or "defaults"


def _print_report(report: TuneReport) -> None:
    table = report.table()
    heads = ["ruleset", "rank", "method", "test x error", "90% interval", "ok", "settings", "tuning s"]
    rows = [
        [
            "external tuning" if r.ruleset == "external" else "self-tuning (defaults)",
            str(r.rank),
            r.method,
            fmt(r.test_error),
            _interval(r.error_lo, r.error_hi),
            f"{r.ok}/{r.seeds}",
            _settings(r.settings),
            fmt(r.tuning_seconds) if r.ruleset == "external" else "",
        ]
        for r in table.itertuples()
    ]
    text = [True, False, True, False, False, False, True, False]
    terminal.console().print(terminal.table_of(f"tuned on {report.protocol.problem}", heads, rows, text))
    print(
        "ranks: methods whose 90% bootstrap intervals over the test seeds overlap share a rank; "
        f"protocol and choices: {report.path}",
        file=sys.stderr,
    )


__all__ = ["tune_command"]
