"""Measurements behind docs/hig.md: HIG-paper acceptance checks at equal wall time, and the
DP / SIP / HIG table. Every run is a fresh subprocess (so peak RSS is per run), torch on CPU
with one thread (the shared 2-core machine thrashes with more).

    python scripts/hig_measure.py acceptance  > hig_acceptance.jsonl
    python scripts/hig_measure.py table       > hig_table.jsonl
    python scripts/hig_measure.py one '{"problem": "hig-toy-v0", "solver": "hig", "max_time": 20}'
"""

from __future__ import annotations

import json
import subprocess
import sys

ACCEPTANCE = [
    # hig-toy (book): 20 s per method
    *[{"group": "hig-toy", "problem": "hig-toy-v0", "max_time": 20, **m} for m in (
        {"label": "HIG", "solver": "hig"},
        {"label": "Adam 1e-3", "solver": "dp", "hp": {"lr": 1e-3}},
        {"label": "GN", "solver": "gn"})],
    # oscillators quick: 60 s per method
    *[{"group": "oscillators", "problem": "oscillators-v0", "max_time": 60, **m} for m in (
        {"label": "HIG b32", "solver": "hig"},
        {"label": "Adam 1e-3 b64", "solver": "dp", "hp": {"lr": 1e-3}, "over": {"batch_size": 64}},
        {"label": "Adam 3e-4 b256 (paper)", "solver": "dp", "hp": {"lr": 3e-4}, "over": {"batch_size": 256}},
        {"label": "GN b32", "solver": "gn"})],
    # quantum dipole quick: 150 s per method
    *[{"group": "quantum-dipole", "problem": "quantum-dipole-v0", "max_time": 150, **m} for m in (
        {"label": "HIG b16 (paper)", "solver": "hig"},
        {"label": "Adam 5e-4 b256 (paper)", "solver": "dp", "hp": {"lr": 5e-4}, "over": {"batch_size": 256}},
        {"label": "Adam 1e-3 b32 (tuned)", "solver": "dp", "hp": {"lr": 1e-3}, "over": {"batch_size": 32}})],
    # poisson-hig quick (4x4): 60 s per method
    *[{"group": "poisson-hig", "problem": "poisson-hig-v0", "max_time": 60, **m} for m in (
        {"label": "Adam 3e-4", "solver": "dp"},
        {"label": "Adam 1e-3", "solver": "dp", "hp": {"lr": 1e-3}},
        {"label": "HIG from scratch", "solver": "hig"},
        {"label": "Adam 1e-3 30 s -> HIG 30 s", "solver": "schedule",
         "hp": {"first": "dp", "then": "hig", "switch_at": 30, "unit": "seconds", "first_settings": {"lr": 1e-3}}})],
]

# DP / SIP / HIG on every problem where all three apply (equal wall time per problem)
TABLE = []
for problem, t, over, hig_hp, pg_hp in (
        ("sin-v0", 30, {}, {"eta": 0.1}, {}),
        ("exp-v0", 30, {}, {"eta": 0.1, "tau": 1e-6}, {}),
        ("sin2d-v0", 30, {}, {"eta": 0.1}, {}),
        ("wavepacket-v0", 30, {"batch_size": 8}, {"eta": 0.1}, {"inner": "newton"}),
        ("hig-toy-v0", 20, {}, {}, {}),
        ("poisson-hig-v0", 60, {}, {}, {})):
    for label, solver, hp in (("DP", "dp", {}), ("SIP", "pg", pg_hp), ("HIG", "hig", hig_hp)):
        TABLE.append({"group": problem, "problem": problem, "label": label, "solver": solver, "hp": hp,
                      "over": over, "max_time": t})


def one(cfg: dict) -> dict:
    import resource
    import time

    import numpy as np
    import torch
    torch.set_num_threads(1)
    import pgbench

    problem = pgbench.make_problem(cfg["problem"], scale="quick", **cfg.get("over", {}))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    r = pgbench.run(problem, cfg["solver"], iterations=10**7, max_time=cfg["max_time"], seed=cfg.get("seed", 0),
                    backend="torch", **cfg.get("hp", {}))
    rec = r.records
    wall = rec["wall_time"].to_numpy()
    out = {**cfg, "status": r.status, "message": r.message[:300], "iterations": int(len(rec)),
           "train_time": float(wall[-1]) if len(wall) else None, "elapsed": time.perf_counter() - t0,
           "time_per_iteration": float(np.median(np.diff(wall))) if len(wall) > 2 else None,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mb": rss0,
           "hyperparameters": r.meta["hyperparameters"], "batch_size": problem.batch_size}
    ev = rec.dropna(subset=["eval_loss"]) if "eval_loss" in rec else rec.iloc[0:0]
    if len(ev):
        out.update(eval_loss=float(ev["eval_loss"].iloc[-1]), eval_x_error=float(ev["eval_x_error"].iloc[-1]),
                   best_eval_loss=float(ev["eval_loss"].min()))
    for k in ("t_jacobian", "t_inverse", "rank"):
        if k in rec:
            out[f"median_{k}"] = float(rec[k].median())
    if "stage" in rec:
        out["switch_iteration"] = int((rec["stage"] > 0).to_numpy().argmax())
    return out


def main():
    what = sys.argv[1]
    if what == "one":
        print(json.dumps(one(json.loads(sys.argv[2]))))
        return
    cfgs = {"acceptance": ACCEPTANCE, "table": TABLE}[what]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    for cfg in cfgs:
        if only and cfg["group"] != only:
            continue
        p = subprocess.run([sys.executable, __file__, "one", json.dumps(cfg)], capture_output=True, text=True)
        line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else json.dumps({**cfg, "status": "crashed",
                                                                                      "message": p.stderr[-500:]})
        print(line, flush=True)


if __name__ == "__main__":
    main()
