"""Measurements behind docs/hig.md, as recipes in the format of :mod:`pgbench.recipes`
(:class:`~pgbench.recipes.Experiment` / :class:`~pgbench.recipes.Method`), run by the same
executors as every sweep (:func:`pgbench.sweep.run_sweep`) into a results store, and summarised
from that store:

    python benchmarks/measure/hig_measure.py acceptance --seeds 0,1,2 --results results/hig    # ~35 min
    python benchmarks/measure/hig_measure.py table --results results/hig                       # DP / SIP / HIG, ~10 min
    python benchmarks/measure/hig_measure.py summary --results results/hig                     # per-seed table, medians, holds?
    python benchmarks/measure/hig_measure.py acceptance --only hig-toy --workers 2             # executor options as the CLI's

Fair timing: every method of a check gets the same ``max_time`` of the runner's training clock
(evaluation excluded, data sampling included, the same for all), and the executor warms every
wall-time run up first (two untimed steps on a throwaway state; a schedule switches after the
first), so that one-off start-up costs (lazy imports, LAPACK initialisation) are excluded for every
method alike. Torch on the CPU with one thread per process. (The former per-run subprocesses also
recorded each run's peak RSS; memory is now the asv suite's ``peakmem_iteration``.)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pgbench import load_results
from pgbench.analysis import measures
from pgbench.recipes import Experiment, Method
from pgbench.reproduce import tasks
from pgbench.sweep import run_sweep

QUICK_ONLY = {"quick": 100000}   # an iteration cap far beyond what the wall-time budgets allow


def _check(group, problem, max_time, methods, seeds):
    """One acceptance check: ``methods`` are ``(label, solver, hyperparameters, problem
    overrides, role)``; role ``winner``, ``baseline`` or ``side`` (a side comparison: seed 0 only)."""
    main, side = [], []
    for label, solver, hp, over, role in methods:
        m = Method(label, solver, dict(hp), iterations=QUICK_ONLY, problem_overrides={"quick": dict(over)},
                   scales=("quick",))
        (side if role == "side" else main).append(m)
    out = [Experiment(group, problem, "HIG acceptance", tuple(main), max_time={"quick": float(max_time)},
                      seeds={"quick": tuple(seeds)}, group="acceptance",
                      description=";".join(f"{lbl}={role}" for lbl, _, _, _, role in methods))]
    if side:
        out.append(Experiment(f"{group}-side", problem, "HIG acceptance (side)", tuple(side),
                              max_time={"quick": float(max_time)}, seeds={"quick": (0,)}, group="acceptance"))
    return out


def acceptance(seeds=(0,)) -> tuple[Experiment, ...]:
    """The spec's CPU-sized settings (shared/spec/hig.md §5.4) and budgets, per method: the
    check's comparison first."""
    return (
        # quantum dipole quick (Nt 96, dt 0.2): 90 s per method (§5.4b)
        *_check("quantum-dipole", "quantum-dipole-v0", 90, (
            ("HIG b16 (paper)", "hig", {}, {}, "winner"),
            ("Adam 5e-4 b256 (paper)", "dp", {"lr": 5e-4}, {"batch_size": 256}, "baseline"),
            ("Adam 1e-3 b32 (tuned)", "dp", {"lr": 1e-3}, {"batch_size": 32}, "side")), seeds),
        # poisson-hig quick (4x4, [16,32,16], b 64): 60 s per method (§5.4c "smaller, for CI")
        *_check("poisson-hig", "poisson-hig-v0", 60, (
            ("Adam 1e-3 30 s -> HIG 30 s", "schedule", {"first": "dp", "then": "hig", "switch_at": 30,
                                                        "unit": "seconds", "first_settings": {"lr": 1e-3}}, {}, "winner"),
            ("Adam 3e-4 (paper)", "dp", {}, {}, "baseline"),
            ("Adam 1e-3", "dp", {"lr": 1e-3}, {}, "baseline")), seeds),
        # oscillators quick (Nt 48, dt 0.25): 60 s per method (§5.4a)
        *_check("oscillators", "oscillators-v0", 60, (
            ("HIG b32", "hig", {}, {}, "winner"),
            ("Adam 1e-3 b64", "dp", {"lr": 1e-3}, {"batch_size": 64}, "baseline"),
            ("GN b32", "gn", {}, {}, "baseline"),
            ("Adam 3e-4 b256 (paper)", "dp", {"lr": 3e-4}, {"batch_size": 256}, "side")), seeds),
        # hig-toy (book, lambda 0.01): 20 s per method (§5.4d)
        *_check("hig-toy", "hig-toy-v0", 20, (
            ("HIG", "hig", {}, {}, "winner"),
            ("Adam 1e-3", "dp", {"lr": 1e-3}, {}, "baseline"),
            ("GN", "gn", {}, {}, "baseline")), seeds),
    )


def table(seeds=(0,)) -> tuple[Experiment, ...]:
    """DP / SIP / HIG on every problem where all three apply (equal wall time per problem)."""
    out = []
    for problem, t, over, hig_hp, pg_hp in (
            ("sin-v0", 30, {}, {"eta": 0.1}, {}),
            ("exp-v0", 30, {}, {"eta": 0.1, "tau": 1e-6}, {}),
            ("sin2d-v0", 30, {}, {"eta": 0.1}, {}),
            ("wavepacket-v0", 30, {"batch_size": 8}, {"eta": 0.1}, {"inner": "newton"}),
            ("hig-toy-v0", 20, {}, {}, {}),
            ("poisson-hig-v0", 60, {}, {}, {})):
        methods = tuple(Method(label, solver, hp, iterations=QUICK_ONLY, scales=("quick",))
                        for label, solver, hp in (("DP", "dp", {}), ("SIP", "pg", pg_hp), ("HIG", "hig", hig_hp)))
        out.append(Experiment(f"table-{problem}", problem, "DP / SIP / HIG", methods,
                              max_time={"quick": float(t)}, seeds={"quick": tuple(seeds)},
                              problem_overrides={"quick": over}, group="table"))
    return tuple(out)


def _g(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return "diverged" if np.isinf(v) else f"{v:.3g}"


def summarize(df, experiments=None) -> str:
    """Markdown: per run (problem, method, seed) and, per acceptance check, the median over seeds
    of the held-out loss of the winner against each baseline, and per seed whether it is below."""
    experiments = experiments if experiments is not None else acceptance()
    out = ["| problem | method | seed | budget (s) | steps | s/step | held-out loss | held-out x error | status |",
           "|---|---|---|---|---|---|---|---|---|"]
    runs = {}
    for key, g in df.groupby("run_key", sort=False):
        g = g.sort_values("iteration")
        r = g.iloc[-1]
        status = measures.status_of(g)   # as stored (pgbench.divergence: classified when it ran)
        loss, xerr = measures.final_value(g, "loss"), measures.final_value(g, "x_error")
        runs[(r["problem"], r["label"], int(r["seed"]))] = (loss if status == "ok" and np.isfinite(loss) else np.inf)
        out.append(f"| {r['problem']} | {r['label']} | {int(r['seed'])} | {_g(r['max_time'])} | {len(g)} "
                   f"| {_g(measures.seconds_per_iteration(g))} | {_g(loss)} | {_g(xerr)} | {status} |")
    out += ["", "| check | winner: median loss (seeds) | baseline: median loss (seeds) | winner below, per seed | holds? |",
            "|---|---|---|---|---|"]
    for e in experiments:
        roles = dict(item.split("=") for item in e.description.split(";") if "=" in item)
        winners = [lbl for lbl, role in roles.items() if role == "winner"]
        if not winners:
            continue
        wl = winners[0]
        wseed = {s: v for (p, lbl, s), v in runs.items() if p == e.problem and lbl == wl}
        for bl in (lbl for lbl, role in roles.items() if role == "baseline"):
            bseed = {s: v for (p, lbl, s), v in runs.items() if p == e.problem and lbl == bl}
            seeds = sorted(set(wseed) & set(bseed))
            if not seeds:
                continue
            below = [wseed[s] < bseed[s] for s in seeds]
            verdict = "yes" if all(below) else ("no" if not any(below) else "mixed")
            out.append(f"| {e.name}: {wl} < {bl} | {_g(np.median([wseed[s] for s in seeds]))} "
                       f"({', '.join(_g(wseed[s]) for s in seeds)}) | {_g(np.median([bseed[s] for s in seeds]))} "
                       f"({', '.join(_g(bseed[s]) for s in seeds)}) | {sum(below)}/{len(seeds)} | {verdict} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("acceptance", "table", "summary"))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    ap.add_argument("--only", default=None, help="only this check or problem (e.g. hig-toy)")
    ap.add_argument("--results", default="results/hig", help="results store (resumable)")
    ap.add_argument("--max-time", type=float, default=None, help="cap every run's budget (seconds), e.g. for a smoke run")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (as pgbench's --workers)")
    ap.add_argument("--scheduler", default=None, help="a running Dask scheduler (as pgbench's --scheduler)")
    a = ap.parse_args(argv)
    seeds = tuple(int(s) for s in a.seeds.split(","))
    if a.what == "summary":
        print(summarize(load_results(a.results)))
        return
    experiments = {"acceptance": acceptance, "table": table}[a.what](seeds)
    todo, notes = tasks("quick", only=a.only, experiments=experiments, max_time=a.max_time)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    run_sweep(todo, root=a.results, executor="dask" if a.scheduler else "local", workers=a.workers,
              scheduler=a.scheduler)
    print(summarize(load_results(a.results), experiments))


if __name__ == "__main__":
    main()
