"""``pgbench tune`` and ``pgbench advise``: the tuning protocol (:mod:`pgbench.tune`,
:mod:`pgbench.advise`) from the command line (registered on the app by :mod:`pgbench.cli`)."""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import typer

from . import search_space, terminal
from .advise import PILOT_ITERATIONS as PILOT
from .cli_args import (
    BUDGET_CLOCK,
    CLUSTER,
    PLUGIN,
    QUIET,
    READ_EVERY_RUN,
    RESULTS,
    SCHEDULER,
    THREADS,
    WORKERS,
    executor_name,
    split_list,
)
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


VECTORIZE_TUNE = typer.Option(
    False,
    "--vectorize",
    help="train a method's trials (seeds and numeric optimizer settings such as lr) as one program "
    "where the solver allows; stored as the separate runs with the same keys",
)


def tune_command(
    problem: str = typer.Argument(..., help="problem id, e.g. sin"),
    methods: list[str] = typer.Argument(..., help="SOLVER or SOLVER:KEY=VALUE,... e.g. dp:optimizer=sgd pg hig"),
    trials: int = typer.Option(DEFAULT_TRIALS, "--trials", help="trials per method (the same for every method)"),
    validation_seeds: list[str] = _VALIDATION,
    test_seeds: list[str] = _TEST,
    scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
    iterations: int | None = typer.Option(None, "--iterations", "-n", help="iteration budget of every run"),
    max_time: float | None = typer.Option(None, "--max-time", help="time budget of every run in seconds"),
    budget_clock: str = BUDGET_CLOCK,
    backend: str = typer.Option("torch", "--backend", help="torch or jax"),
    sampler_seed: int = typer.Option(0, "--sampler-seed", help="seed of the trial sampler"),
    sampler: str = typer.Option(
        "halton", "--sampler", help="halton (quasi-random, the default) or tpe (Optuna's TPE, sequential; needs optuna)"
    ),
    results: Path = RESULTS,
    plugin: list[str] = PLUGIN,
    workers: int | None = WORKERS,
    cluster: str | None = CLUSTER,
    scheduler: str | None = SCHEDULER,
    threads: int | None = THREADS,
    vectorize: bool = VECTORIZE_TUNE,
    read_every: int = READ_EVERY_RUN,
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
            max_time_clock=budget_clock,
            backend=backend,
            sampler_seed=sampler_seed,
            sampler=sampler,
            threads=threads,
        )
        parsed = [Method.parse(m) for m in methods]
        planned = plan_tasks(protocol, parsed)
    except USER_ERRORS as e:
        fail(e)
    _print_plan(protocol, parsed, planned)
    total = sum(len(t) for trials_ in planned.values() for t in trials_) + 2 * len(parsed) * len(protocol.test_seeds)
    options = dict(executor=executor, workers=workers, scheduler=scheduler, vectorize=vectorize, read_every=read_every)
    notes: list = []
    try:
        with nullcontext(None) if quiet else ProgressView(total, terminal.console(stderr=True)) as view:
            report = tune(protocol, parsed, results, progress=view, notes=notes, **options)
    except USER_ERRORS as e:
        fail(e)
    _print_report(report)
    for note in dict.fromkeys(notes):  # the trials' and the test runs' sweeps may say the same
        terminal.console(stderr=True).print(terminal.plain(note))


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


def _errors(outcomes) -> list[float]:
    return [
        o.x_error if o.status == "ok" and o.x_error is not None and math.isfinite(o.x_error) else math.inf
        for o in outcomes
    ]


def advise_command(
    problem: str = typer.Argument(..., help="problem id (a plugin's with --plugin)"),
    budget: str = typer.Option("20m", "--budget", help="wall time for the whole advice: 20m, 90s, 1h30m"),
    method: list[str] = typer.Option([], "--method", help="only these candidates (SOLVER[:KEY=VALUE,...])"),
    trials: int = typer.Option(
        DEFAULT_TRIALS, "--trials", help="most trials per method (fewer if the budget is short)"
    ),
    validation_seeds: list[str] = typer.Option([], "--validation-seeds", help="default 1000"),
    test_seeds: list[str] = typer.Option([], "--test-seeds", help="default 2000,2001,2002"),
    scale: str = typer.Option("quick", "--scale", help="named problem scale: quick or paper"),
    backend: str = typer.Option("torch", "--backend", help="torch or jax"),
    results: Path = RESULTS,
    plugin: list[str] = PLUGIN,
    quiet: bool = QUIET,
):
    """Recommend a method for a problem: every candidate tuned with equal trials within a
    wall-time budget planned up front (pilot runs, then trials × methods × seeds sized to fit),
    ranked on unseen test seeds with intervals and the probability of being best."""
    from .advise import CAP_FACTOR, PILOT_FLOOR, PILOT_SHARE, TooSlow, calibrate, candidates, parse_budget, pilot, size
    from .analysis.uncertainty import p_best
    from .planning import plan

    load_plugins(plugin)
    start = time.perf_counter()
    try:
        seconds = parse_budget(budget)
        val = _seeds(validation_seeds, "--validation-seeds", (1000,))
        test = _seeds(test_seeds, "--test-seeds", (2000, 2001, 2002))
        Protocol(problem, trials=trials, validation_seeds=val, test_seeds=test)  # checks seeds and trials
        found = candidates(problem, scale, backend, method or None)
    except (*USER_ERRORS, ValueError) as e:
        fail(e)
    err = terminal.console(stderr=True)
    for name, reason in found.skipped:
        err.print(f"skipped {name}: {reason}", markup=False, highlight=False)
    if not found.methods:
        fail(f"no method can run on {problem}")
    err.print(f"pilot: {len(found.methods)} methods × {PILOT} iterations at their defaults", markup=False)
    costs, kept = {}, []
    for m in found.methods:
        try:
            costs[m.label] = pilot(problem, m, scale, backend, val[0], cap=max(PILOT_SHARE * seconds, PILOT_FLOOR))
        except TooSlow as e:
            err.print(f"left out {m.label}: {e}; too costly for a {terminal.duration(seconds)} budget", markup=False)
            continue
        kept.append(m)
        c = costs[m.label]
        err.print(
            f"  {m.label}: {fmt(c.per_iteration)} s per iteration ({fmt(c.cpu)} CPU s), "
            f"{fmt(c.per_evaluation)} s per evaluation, "
            f"{fmt(c.startup)} s start-up and storing",
            markup=False,
        )
    if not kept:
        fail(f"no method can be tuned on {problem} within {terminal.duration(seconds)}")
    found.methods = kept
    first = plan(problem, found.methods[0].solver, scale=scale, **found.methods[0].settings)
    default_iterations = first.iterations
    eval_every = first.problem.eval_every if first.solver.kind == "training" else 0
    try:
        sized = size(problem, costs, seconds - (time.perf_counter() - start), scale, backend, trials, val, test,
                     default_iterations, eval_every)  # fmt: skip
    except ValueError as e:
        fail(e)
    planned = sized.protocol.iterations or default_iterations
    err.print(f"calibration: {len(found.methods)} methods × {planned} iterations at their defaults", markup=False)
    for m in found.methods:
        before = costs[m.label]
        costs[m.label], status = calibrate(problem, m, before, planned, scale, backend, val[0])
        after = costs[m.label]
        err.print(f"  {m.label}: {fmt(after.cpu)} CPU s per iteration (pilot: {fmt(before.cpu)}), run {status}",
                  markup=False)  # fmt: skip
    try:  # sized again on the calibrated costs, with what is left of the budget
        sized = size(problem, costs, seconds - (time.perf_counter() - start), scale, backend, sized.protocol.trials,
                     val, test, planned, eval_every)  # fmt: skip
    except ValueError as e:
        fail(e)
    p = sized.protocol
    err.print(
        f"plan: {len(found.methods)} methods × ({p.trials} trials × {len(val)} validation seeds + 2 × {len(test)} "
        f"test seeds) = {sized.runs} runs of {p.iterations} iterations (scale default {default_iterations}); "
        f"ETA {terminal.duration(sized.eta_seconds)}, at most {terminal.duration(sized.worst_seconds)} (every run "
        f"stopped at its cap), of the {terminal.duration(seconds)} budget",
        markup=False,
        highlight=False,
    )
    caps = ", ".join(f"{label} {fmt(cap)} s" for label, cap in (p.time_caps or {}).items())
    err.print(
        f"time caps per run, CPU seconds ({fmt(CAP_FACTOR)}× the calibrated CPU time of {p.iterations} iterations; a "
        f"run past its cap is stopped and counts as failed): {caps}",
        markup=False,
        highlight=False,
    )
    with nullcontext(None) if quiet else ProgressView(sized.runs, terminal.console(stderr=True)) as view:
        report = tune(p, found.methods, results, progress=view)
    table = report.table()
    ext = table[table["ruleset"] == "external"]
    chance = p_best({t.method.label: _errors(t.tuned) for t in report.methods})
    heads = ["rank", "method", "test x error", "90% interval", "P(best)", "ok", "chosen settings"]
    rows = [
        [str(r.rank), r.method, fmt(r.test_error), _interval(r.error_lo, r.error_hi), f"{chance[r.method]:.2f}",
         f"{r.ok}/{r.seeds}", _settings(r.settings)]
        for r in ext.itertuples()
    ]  # fmt: skip
    text = [False, True, False, False, False, False, True]
    title = f"advice for {p.problem}: methods tuned with {p.trials} trials each, judged on {len(test)} unseen seeds"
    terminal.console().print(terminal.table_of(title, heads, rows, text))
    for t in report.methods:
        over = t.trial_statuses.get("over_budget", 0)
        if over:
            n_trial_runs = sum(t.trial_statuses.values())
            err.print(f"{t.method.label}: {over} of {n_trial_runs} trial runs over their time cap", markup=False)
    best = ext.iloc[0]
    tied = [m for m in ext["method"] if ext.set_index("method").loc[m, "rank"] == 1]
    verdict = (
        f"recommended: {best.method} ({_settings(best.settings)})"
        if len(tied) == 1
        else f"no single winner: {', '.join(tied)} are tied (overlapping intervals); more test seeds may separate them"
    )
    print(verdict)
    print(
        f"tuning cost: {sized.runs} runs in {terminal.duration(time.perf_counter() - start)} "
        f"(planned {terminal.duration(sized.eta_seconds)}, budget {terminal.duration(seconds)}); record: {report.path}",
        file=sys.stderr,
    )


__all__ = ["tune_command", "advise_command"]
