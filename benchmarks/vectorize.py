"""Seconds per iteration of S seeds trained as one vectorised program (``pgbench.vectorize``)
against S separate runs, in one run of this script (issue 22's acceptance table).

For every problem × scale × backend: one separate run (seed 0) is timed, and S × its seconds per
iteration is the cost of S separate runs one after the other (runs are independent and of equal
cost; it is that product, not S measured runs); then S = 1, 4, 16 seeds are run vectorised. Seconds
per iteration = median of the per-iteration wall-time differences after the first ``--skip``
iterations (the first include jax compilation); every iteration includes drawing the seeds'
batches on the host, the step, and reading the metrics back. Each run pins one torch thread.

    python benchmarks/vectorize.py --out results/vectorize/cpu --iterations 40
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
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
    w = result.records["wall_time"].to_numpy()
    return float(np.median(np.diff(w[skip:])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--skip", type=int, default=5, help="iterations left out of the median (compilation)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--scales", nargs="+", default=["quick", "paper"])
    ap.add_argument("--backends", nargs="+", default=["torch", "jax"])
    ap.add_argument("--read-every", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    ap.add_argument("--torch-compile-step", default=None, metavar="MODE",
                    help="torch: compile the steps with torch.compile(mode=MODE) (PGBENCH_TORCH_COMPILE_STEP)")
    args = ap.parse_args()
    if args.torch_compile_step:
        from pgbench.backends.torch_backend import TorchBackend
        TorchBackend.step_compile = args.torch_compile_step
    rows = []
    before = _uptime()
    for problem, solver in CASES:
        for scale in args.scales:
            for backend in args.backends:
                def plans(n):
                    return [runner.plan(problem, solver, scale=scale, iterations=args.iterations, seed=s,
                                        backend=backend) for s in range(n)]
                one = _per_it(runner.execute(plans(1)[0], throw=True), args.skip)
                for S in args.seeds:
                    vec = _per_it(run_vectorized(plans(S), read_every=args.read_every, throw=True)[0], args.skip)
                    row = {"problem": problem, "solver": solver, "scale": scale, "backend": backend, "seeds": S,
                           "separate_one_s_per_it": one, "separate_S_s_per_it": S * one, "vectorized_s_per_it": vec,
                           "vectorized_over_one": vec / one, "speedup_vs_separate": S * one / vec}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    after = _uptime()
    head = ("| problem | scale | backend | S | S separate runs s/it (S × one) | vectorised s/it | "
            "vectorised / one run | speed-up vs separate |\n|---|---|---|---|---|---|---|---|\n")
    md = head + "".join(f"| {r['problem']} | {r['scale']} | {r['backend']} | {r['seeds']} | "
                        f"{r['separate_S_s_per_it']:.4g} | {r['vectorized_s_per_it']:.4g} | "
                        f"{r['vectorized_over_one']:.2f}× | {r['speedup_vs_separate']:.2f}× |\n" for r in rows)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.node(), "load_before": before, "load_after": after, "args": vars(args) | {"out": str(args.out)}}
    print(md)
    print(f"load before: {before}\nload after: {after}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps({**info, "rows": rows}, indent=1))
        args.out.with_suffix(".md").write_text(f"{info['date']}, {args.iterations} iterations, median after "
                                               f"{args.skip}; load before `{before}`, after `{after}`.\n\n{md}")


if __name__ == "__main__":
    main()
