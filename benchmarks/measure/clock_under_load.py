"""The same small leaderboard measured quiet and with busy processes beside it, read on the wall
clock and on the process CPU clock (issue 31, item 2).

    python benchmarks/measure/clock_under_load.py OUT_DIR [--busy 2]

Runs sin (1000 iterations) and exp (2000 iterations) with five training methods × 2 seeds, one run
at a time, first on a quiet machine (store ``OUT_DIR/quiet``), then with ``--busy`` processes
spinning beside it (``OUT_DIR/loaded``). Iteration budgets, so both stores hold bit-identical
curves; only the times differ. For each clock it reports the leaderboard's times to target, the
rank lists, Kendall's τ between the quiet and the loaded times, and the median loaded / quiet
time ratio. Writes ``OUT_DIR/summary.json`` and ``OUT_DIR/summary.md``; prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pgbench import load_results
from pgbench.analysis.leaderboard import build
from pgbench.sweep import Task, run_sweep

METHODS = {
    "Adam": ("dp", {"optimizer": "adam"}),
    "SGD": ("dp", {"optimizer": "sgd"}),
    "SOAP": ("dp", {"optimizer": "soap"}),
    "Muon": ("dp", {"optimizer": "muon"}),
    "PG": ("pg", {}),
}
PROBLEMS = {"sin": 1000, "exp": 2000}


def _spin() -> None:
    while True:
        pass


def tasks() -> list[Task]:
    return [
        Task(problem, solver, seed=seed, iterations=its, hyperparameters=dict(hp), label=label)
        for problem, its in PROBLEMS.items()
        for label, (solver, hp) in METHODS.items()
        for seed in (0, 1)
    ]


def run(root: Path) -> float:
    t0 = time.perf_counter()
    run_sweep(tasks(), root)
    return time.perf_counter() - t0


def board(root: Path, clock: str) -> pd.DataFrame:
    b = build(load_results(root), clock=clock, policy="worst-reference")
    return b.table[["problem", "method", "time_to_target", "rank_time"]].assign(clock=clock)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--busy", type=int, default=2)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    quiet_s = run(a.out / "quiet")
    busy = [mp.Process(target=_spin, daemon=True) for _ in range(a.busy)]
    for p in busy:
        p.start()
    time.sleep(2)
    load1 = os.getloadavg()
    loaded_s = run(a.out / "loaded")
    load2 = os.getloadavg()
    for p in busy:
        p.terminate()
    rows, summary = [], {
        "busy": a.busy,
        "cores": os.cpu_count(),
        "load_quiet_start": load0,
        "load_loaded": [load1, load2],
        "wall_s": {"quiet": quiet_s, "loaded": loaded_s},
    }
    for clock in ("wall", "cpu"):
        q, lo = board(a.out / "quiet", clock), board(a.out / "loaded", clock)
        m = q.merge(lo, on=["problem", "method", "clock"], suffixes=("_quiet", "_loaded"))
        fin = np.isfinite(m["time_to_target_quiet"]) & np.isfinite(m["time_to_target_loaded"])
        tau = stats.kendalltau(m.loc[fin, "time_to_target_quiet"], m.loc[fin, "time_to_target_loaded"]).statistic
        ratio = float(np.median(m.loc[fin, "time_to_target_loaded"] / m.loc[fin, "time_to_target_quiet"]))
        same = bool((m["rank_time_quiet"] == m["rank_time_loaded"]).all())
        summary[clock] = {"kendall_tau": float(tau), "median_loaded_over_quiet": ratio, "same_ranks": same}
        rows.append(m)
    table = pd.concat(rows, ignore_index=True)
    table.to_csv(a.out / "times.csv", index=False)
    (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
    md = [
        f"busy processes: {a.busy} on {os.cpu_count()} cores; load (1/5/15 min) quiet start {load0}, "
        f"loaded {load1} → {load2}; sweep wall time quiet {quiet_s:.0f} s, loaded {loaded_s:.0f} s",
        "",
        "| clock | Kendall τ (quiet vs loaded times to target) | median loaded / quiet | same ranks |",
        "|---|---|---|---|",
    ]
    for clock in ("wall", "cpu"):
        s = summary[clock]
        md.append(f"| {clock} | {s['kendall_tau']:.3f} | {s['median_loaded_over_quiet']:.2f} | {s['same_ranks']} |")
    md += ["", table.to_markdown(index=False)]
    (a.out / "summary.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
