"""S seeds trained as one vectorised program (``pgbench.vectorize``) against one plain run
(issue 22's acceptance table; issue 32: 4 seeds ≤ 1.2× one run, 16 seeds ≤ 3×).

For every problem × scale × backend, in one process, back to back: one plain run (seed 0,
``runner.execute``: one step per iteration, metrics read every iteration) and S = 1, 4, 16 seeds
run vectorised (metrics read every ``--read-every`` iterations), all of them ``--repeats`` times in
turn; each keeps its smallest time (the first round pays tracing and compilation; the machine's
load varies). Two ratios to the plain run:

* whole: seconds of the whole call (plan to results: program set-up, compilation, every
  iteration, held-out evaluations, example predictions), what a user waits for;
* per iteration: the mean wall time per iteration after the first ``--skip`` iterations (the
  runs' own clocks: evaluation excluded, drawing the seeds' batches on the host included).

"S × one / vectorised" is the speed-up over S plain runs one after the other (S times the plain
run's time: runs are independent and of equal cost). Each run pins one torch thread.

    python benchmarks/vectorize.py --out results/vectorize/cpu-DATE --iterations 1000
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from pgbench import runner
from pgbench.vectorize import run_vectorized

CASES = [("sin", "dp"), ("exp", "dp"), ("hig-toy", "dp")]


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _per_it(result, skip: int) -> float:
    """Mean seconds per iteration after the first ``skip`` (a mean, not a median: a vectorised
    run's clock is read once per chunk, so its rows cannot leave out a pre-empted iteration)."""
    w = result.records["wall_time"].to_numpy()
    return float((w[-1] - w[skip - 1]) / (len(w) - skip))


def _timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--skip", type=int, default=20, help="iterations left out of the per-iteration mean (compilation)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--scales", nargs="+", default=["quick"])
    ap.add_argument("--backends", nargs="+", default=["torch", "jax"])
    ap.add_argument("--cases", nargs="+", default=[f"{p}:{s}" for p, s in CASES], help="problem:solver")
    ap.add_argument("--read-every", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2, help="rounds of all runs; the smallest time of each is kept")
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    ap.add_argument(
        "--torch-compile-step",
        default=None,
        metavar="MODE",
        help="torch: compile the steps with torch.compile(mode=MODE) (PGBENCH_TORCH_COMPILE_STEP)",
    )
    args = ap.parse_args()
    if args.torch_compile_step:
        from pgbench.backends.torch_backend import TorchBackend

        TorchBackend.step_compile = args.torch_compile_step
    rows = []
    before = _uptime()
    for case in args.cases:
        problem, solver = case.split(":")
        for scale in args.scales:
            for backend in args.backends:

                def plans(n, problem=problem, solver=solver, scale=scale, backend=backend):
                    return [
                        runner.plan(problem, solver, scale=scale, iterations=args.iterations, seed=s, backend=backend)
                        for s in range(n)
                    ]

                def timed(S):
                    if S == 0:  # the plain run
                        return _timed(lambda: runner.execute(plans(1)[0], throw=True))
                    return _timed(lambda: run_vectorized(plans(S), read_every=args.read_every, throw=True)[0])

                best = {}
                for _ in range(args.repeats):  # back to back: plain, S = 1, 4, 16, then again
                    for S in [0, *args.seeds]:
                        whole, res = timed(S)
                        w, it = best.get(S, (np.inf, np.inf))
                        best[S] = (min(w, whole), min(it, _per_it(res, args.skip)))
                whole_one, it_one = best[0]
                for S in args.seeds:
                    whole, it = best[S]
                    row = {
                        "problem": problem,
                        "solver": solver,
                        "scale": scale,
                        "backend": backend,
                        "seeds": S,
                        "plain_whole_s": whole_one,
                        "plain_s_per_it": it_one,
                        "vectorized_whole_s": whole,
                        "vectorized_s_per_it": it,
                        "whole_over_one": whole / whole_one,
                        "per_it_over_one": it / it_one,
                        "speedup_vs_separate_whole": S * whole_one / whole,
                        "speedup_vs_separate_per_it": S * it_one / it,
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    after = _uptime()
    head = (
        "| problem | backend | S | one run: whole s (s/it) | vectorised: whole s (s/it) | whole / one | "
        "per it / one | S × one / vectorised (whole, per it) |\n|---|---|---|---|---|---|---|---|\n"
    )
    md = head + "".join(
        f"| {r['problem']} {r['scale']} {r['solver']} | {r['backend']} | {r['seeds']} | "
        f"{r['plain_whole_s']:.3g} ({r['plain_s_per_it']:.3g}) | "
        f"{r['vectorized_whole_s']:.3g} ({r['vectorized_s_per_it']:.3g}) | "
        f"{r['whole_over_one']:.2f}× | {r['per_it_over_one']:.2f}× | "
        f"{r['speedup_vs_separate_whole']:.1f}×, {r['speedup_vs_separate_per_it']:.1f}× |\n"
        for r in rows
    )
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "load_before": before,
        "load_after": after,
        "args": vars(args) | {"out": str(args.out)},
    }
    print(md)
    print(f"load before: {before}\nload after: {after}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps({**info, "rows": rows}, indent=1))
        args.out.with_suffix(".md").write_text(
            f"{info['date']}, {args.iterations} iterations, metrics read every {args.read_every} (vectorised), "
            f"per-iteration mean after {args.skip}; one process, back to back; load before `{before}`, "
            f"after `{after}`.\n\n{md}"
        )


if __name__ == "__main__":
    main()
