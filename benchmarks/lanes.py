"""Whole-process wall time of N learning rates of one method trained as one vectorised program
(the hyperparameter axis, ``pgbench.lanes``) against one single run, same iteration count
(issues 31/32: the goal is N = 20 lanes in at most 3x the time of one run).

Each measurement is a fresh Python process (``python benchmarks/lanes.py --child ...``: imports,
planning, compilation, training, held-out evaluations, nothing stored), timed from outside; the
two are run alternately ``--repeats`` times and the median of each is reported, with the load
(``uptime``) before and after. The single run is the ordinary runner (``runner.execute``); the
lanes are ``run_vectorized`` over N plans whose learning rates are log-spaced in [1e-4, 1e-2].

    python benchmarks/lanes.py --backends jax torch --lanes 20 --iterations 2000 --out results/lanes/cpu
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def child(args) -> None:
    from pgbench import runner
    from pgbench.vectorize import run_vectorized

    lrs = np.geomspace(1e-4, 1e-2, args.lanes) if args.lanes > 1 else [None]
    plans = [
        runner.plan(args.problem, args.solver, iterations=args.iterations, seed=0, backend=args.backend,
                    device=args.device, **({} if lr is None else {"lr": float(lr)}))
        for lr in lrs
    ]
    if args.lanes == 1 and not args.vectorized:
        results = [runner.execute(plans[0], throw=True)]
    else:
        results = run_vectorized(plans, read_every=args.read_every, throw=True)
    assert all(r.status in ("ok", "diverged") for r in results), [r.status for r in results]


def _time(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="sin")
    ap.add_argument("--solver", default="dp")
    ap.add_argument("--lanes", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--backends", nargs="+", default=["jax", "torch"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--read-every", type=int, nargs="+", default=[1, 100],
                    help="the lanes' read cadences measured (jax: iterations per lax.scan)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="jax", help=argparse.SUPPRESS)
    ap.add_argument("--vectorized", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.read_every = args.read_every[0]
        return child(args)
    base = [sys.executable, __file__, "--child", "--problem", args.problem, "--solver", args.solver,
            "--iterations", str(args.iterations), "--device", args.device]
    rows = []
    before = _uptime()
    for backend in args.backends:
        one_cmd = base + ["--backend", backend, "--lanes", "1"]
        lane_cmds = {k: base + ["--backend", backend, "--lanes", str(args.lanes), "--read-every", str(k)]
                     for k in args.read_every}
        _time(one_cmd)  # warm the file cache and jax's compilation cache alike for both
        ones, lanes = [], {k: [] for k in lane_cmds}
        for _ in range(args.repeats):
            ones.append(_time(one_cmd))
            for k, cmd in lane_cmds.items():
                lanes[k].append(_time(cmd))
        one = float(np.median(ones))
        for k, ts in lanes.items():
            t = float(np.median(ts))
            row = {"backend": backend, "problem": args.problem, "solver": args.solver, "lanes": args.lanes,
                   "iterations": args.iterations, "read_every": k, "one_run_s": one, "lanes_s": t,
                   "ratio": t / one, "one_run_all_s": ones, "lanes_all_s": ts, "uptime": _uptime()}
            rows.append(row)
            print(json.dumps(row), flush=True)
    after = _uptime()
    head = ("| backend | lanes | read every | one run (s) | N lanes as one program (s) | ratio | load after |\n"
            "|---|---|---|---|---|---|---|\n")
    md = head + "".join(f"| {r['backend']} | {r['lanes']} | {r['read_every']} | {r['one_run_s']:.1f} | "
                        f"{r['lanes_s']:.1f} | {r['ratio']:.2f}x | {r['uptime'].split('load average:')[-1].strip()} |\n"
                        for r in rows)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.node(), "load_before": before, "load_after": after,
            "args": {k: str(v) for k, v in vars(args).items()}}
    print(md)
    print(f"load before: {before}\nload after: {after}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps({**info, "rows": rows}, indent=1))
        args.out.with_suffix(".md").write_text(
            f"{info['date']}, {args.problem} {args.solver}, {args.iterations} iterations, whole-process wall time, "
            f"median of {args.repeats}; load before `{before}`, after `{after}`.\n\n{md}")


if __name__ == "__main__":
    main()
