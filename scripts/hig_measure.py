"""Measurements behind docs/hig.md: HIG-paper acceptance checks at equal wall time, and the
DP / SIP / HIG table. Every run is a fresh subprocess (so peak RSS is per run), torch on CPU
with one thread (the shared 2-core machine thrashes with more).

    python scripts/hig_measure.py acceptance --seeds 0,1,2 > hig_acceptance.jsonl   # ~35 min
    python scripts/hig_measure.py summary hig_acceptance.jsonl    # per-seed table, medians, holds?
    python scripts/hig_measure.py table > hig_table.jsonl          # DP / SIP / HIG, ~10 min
    python scripts/hig_measure.py one '{"problem": "hig-toy-v0", "solver": "hig", "max_time": 20}'

Fair timing: every method of a check gets the same ``max_time`` of the runner's training clock
(evaluation excluded, data sampling included, the same for all), and each run first does a short
untimed warm-up of the same method in its process so that one-off start-up costs (lazy imports,
LAPACK initialisation) are excluded for every method alike.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

# The spec's CPU-sized settings (shared/spec/hig.md §5.4) and budgets, per method: the check's
# comparison first; "seeds": (0,) marks a side comparison run for seed 0 only.
ACCEPTANCE = [
    # quantum dipole quick (Nt 96, dt 0.2): 90 s per method (§5.4b)
    *[{"group": "quantum-dipole", "problem": "quantum-dipole-v0", "max_time": 90, **m} for m in (
        {"label": "HIG b16 (paper)", "solver": "hig", "role": "winner"},
        {"label": "Adam 5e-4 b256 (paper)", "solver": "dp", "hp": {"lr": 5e-4}, "over": {"batch_size": 256},
         "role": "baseline"},
        {"label": "Adam 1e-3 b32 (tuned)", "solver": "dp", "hp": {"lr": 1e-3}, "over": {"batch_size": 32},
         "seeds": (0,)})],
    # poisson-hig quick (4x4, [16,32,16], b 64): 60 s per method (§5.4c "smaller, for CI")
    *[{"group": "poisson-hig", "problem": "poisson-hig-v0", "max_time": 60, **m} for m in (
        {"label": "Adam 1e-3 30 s -> HIG 30 s", "solver": "schedule", "role": "winner",
         "hp": {"first": "dp", "then": "hig", "switch_at": 30, "unit": "seconds", "first_settings": {"lr": 1e-3}}},
        {"label": "Adam 3e-4 (paper)", "solver": "dp", "role": "baseline"},
        {"label": "Adam 1e-3", "solver": "dp", "hp": {"lr": 1e-3}, "role": "baseline"})],
    # oscillators quick (Nt 48, dt 0.25): 60 s per method (§5.4a)
    *[{"group": "oscillators", "problem": "oscillators-v0", "max_time": 60, **m} for m in (
        {"label": "HIG b32", "solver": "hig", "role": "winner"},
        {"label": "Adam 1e-3 b64", "solver": "dp", "hp": {"lr": 1e-3}, "over": {"batch_size": 64}, "role": "baseline"},
        {"label": "GN b32", "solver": "gn", "role": "baseline"},
        {"label": "Adam 3e-4 b256 (paper)", "solver": "dp", "hp": {"lr": 3e-4}, "over": {"batch_size": 256},
         "seeds": (0,)})],
    # hig-toy (book, lambda 0.01): 20 s per method (§5.4d)
    *[{"group": "hig-toy", "problem": "hig-toy-v0", "max_time": 20, **m} for m in (
        {"label": "HIG", "solver": "hig", "role": "winner"},
        {"label": "Adam 1e-3", "solver": "dp", "hp": {"lr": 1e-3}, "role": "baseline"},
        {"label": "GN", "solver": "gn", "role": "baseline"})],
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


def _warm_up(problem, cfg):
    """A short untimed run of the same method in this process before the timed one, so that one-off
    process costs (torch.func's lazy imports, ~1-2 s; LAPACK start-up) fall on neither method's
    budget. Nothing of it is kept."""
    import pgbench
    hp = dict(cfg.get("hp", {}))
    its = 2
    if cfg["solver"] == "schedule":   # warm both stages: switch after one iteration
        hp.update(switch_at=1, unit="iterations")
        its = 3
    pgbench.run(problem, cfg["solver"], iterations=its, seed=cfg.get("seed", 0), backend="torch", throw=True, **hp)


def one(cfg: dict) -> dict:
    import resource
    import time

    import numpy as np
    import torch
    torch.set_num_threads(1)
    import pgbench

    problem = pgbench.make_problem(cfg["problem"], scale="quick", **cfg.get("over", {}))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cfg.get("warm_up", True):
        _warm_up(problem, cfg)
    rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    r = pgbench.run(problem, cfg["solver"], iterations=10**7, max_time=cfg["max_time"], seed=cfg.get("seed", 0),
                    backend="torch", **cfg.get("hp", {}))
    rec = r.records
    wall = rec["wall_time"].to_numpy()
    out = {**cfg, "status": r.status, "message": r.message[:300], "iterations": int(len(rec)),
           "train_time": float(wall[-1]) if len(wall) else None, "elapsed": time.perf_counter() - t0,
           "cpu_s": time.process_time() - c0,   # CPU time of the whole run (training + evaluation)
           "first_iteration_s": float(wall[0]) if len(wall) else None,
           "time_per_iteration": float(np.median(np.diff(wall))) if len(wall) > 2 else None,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mb": rss0,
           "rss_after_warm_up_mb": rss_warm,
           "hyperparameters": r.meta["hyperparameters"], "batch_size": problem.batch_size}
    ev = rec.dropna(subset=["eval_loss"]) if "eval_loss" in rec else rec.iloc[0:0]
    if len(ev):
        out.update(eval_loss=float(ev["eval_loss"].iloc[-1]), eval_x_error=float(ev["eval_x_error"].iloc[-1]),
                   best_eval_loss=float(ev["eval_loss"].min()))
    for k in ("t_jacobian", "t_inverse", "rank"):
        if k in rec:
            out[f"median_{k}"] = float(rec[k].median())
    if "stage" in rec:
        st = rec["stage"].to_numpy()
        if (st > 0).any():
            i = int((st > 0).argmax())
            out.update(switch_iteration=i, switch_time=float(wall[i]), stage2_iterations=int((st > 0).sum()))
    return out


def _g(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return "diverged" if np.isinf(v) else f"{v:.3g}"


def summarize(lines) -> str:
    """Markdown: per run (problem, method, seed) and, per check, the median over seeds of the
    held-out loss of the winner against each baseline, and per seed whether the winner is below."""
    rows = [json.loads(x) for x in lines if x.strip()]
    out = ["| problem | method | seed | budget (s) | steps | s/step | held-out loss | held-out x error | status |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['problem']} | {r['label']} | {r.get('seed', 0)} | {r['max_time']} | {r.get('iterations', '–')} "
                   f"| {_g(r.get('time_per_iteration'))} | {_g(r.get('eval_loss'))} | {_g(r.get('eval_x_error'))} "
                   f"| {r['status']}{' ' + r['message'][:60] if r['status'] != 'ok' else ''} |")
    out += ["", "| check | winner: median loss (seeds) | baseline: median loss (seeds) | winner below, per seed | holds? |",
            "|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)

    def loss(r):   # a diverged / crashed run counts as +inf (worse than anything)
        v = r.get("eval_loss")
        return v if r["status"] == "ok" and v is not None and np.isfinite(v) else np.inf

    for g, rs in groups.items():
        win = [r for r in rs if r.get("role") == "winner"]
        if not win:
            continue
        wl = win[0]["label"]
        wseed = {r.get("seed", 0): loss(r) for r in win}
        for bl in dict.fromkeys(r["label"] for r in rs if r.get("role") == "baseline"):
            bseed = {r.get("seed", 0): loss(r) for r in rs if r["label"] == bl}
            seeds = sorted(set(wseed) & set(bseed))
            below = [wseed[s] < bseed[s] for s in seeds]
            wm = np.median([wseed[s] for s in seeds]) if seeds else np.nan
            bm = np.median([bseed[s] for s in seeds]) if seeds else np.nan
            verdict = "yes" if seeds and all(below) else ("no" if seeds and not any(below) else "mixed")
            out.append(f"| {g}: {wl} < {bl} | {_g(wm)} ({', '.join(_g(wseed[s]) for s in seeds)}) "
                       f"| {_g(bm)} ({', '.join(_g(bseed[s]) for s in seeds)}) "
                       f"| {sum(below)}/{len(seeds)} | {verdict} |")
    return "\n".join(out)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("acceptance", "table", "one", "summary"))
    ap.add_argument("arg", nargs="?", help="one: the JSON config; summary: the JSONL file (default stdin)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (acceptance, table), e.g. 0,1,2")
    ap.add_argument("--only", default=None, help="run only this group (problem family)")
    a = ap.parse_args()
    if a.what == "one":
        print(json.dumps(one(json.loads(a.arg))))
        return
    if a.what == "summary":
        print(summarize(open(a.arg) if a.arg else sys.stdin))
        return
    seeds = [int(s) for s in a.seeds.split(",")]
    cfgs = {"acceptance": ACCEPTANCE, "table": TABLE}[a.what]
    # seed-major within a group, so that a cut-short measurement still has whole seeds
    for group in dict.fromkeys(c["group"] for c in cfgs):
        if a.only and group != a.only:
            continue
        for seed in seeds:
            for cfg in cfgs:
                if cfg["group"] != group or seed not in cfg.get("seeds", seeds):
                    continue
                cfg = {**{k: v for k, v in cfg.items() if k != "seeds"}, "seed": seed}
                p = subprocess.run([sys.executable, __file__, "one", json.dumps(cfg)], capture_output=True, text=True)
                line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else json.dumps(
                    {**cfg, "status": "crashed", "message": p.stderr[-500:]})
                print(line, flush=True)


if __name__ == "__main__":
    main()
