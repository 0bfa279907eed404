"""Torch CG: seconds per solve against the convergence-check interval k (one host synchronisation
every k iterations; converged examples take zero steps, so up to k - 1 iterations are wasted).

Times, interleaved over ``--rounds`` rounds (median per k), two solves of the paper experiments:
the Poisson forward solve (64×64, rel. tol. 1e-5 from 0, batch ``--batch``) and the Navier-Stokes
forward simulation (8 steps, each a warm-started pressure solve, abs. tol. 1e-4, batch
``--batch-ns``), and counts the CG iterations they run.

    python cg_check_interval.py --device cpu --intervals 1 2 4 8 16
"""

from __future__ import annotations

import argparse
import statistics
import time

import pgbench
from pgbench import keys
from pgbench.backends import cg, get_backend, torch_backend

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batch-ns", type=int, default=2)
    ap.add_argument("--intervals", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    be = get_backend("torch", args.device)
    iters: list[int] = []
    real = cg.cg_eager

    def counting(*a, **k):
        x, it = real(*a, **k)
        iters.append(it)
        return x, it

    torch_backend.cg_eager = counting
    poisson = pgbench.make_problem("poisson-v0", scale="paper")
    x_true, _ = poisson.sample(keys.rng(0, "test"), args.batch, be)
    ns = pgbench.make_problem("navier-stokes-v0", scale="paper")
    m0, v0, _ = ns._marker_and_velocity(keys.rng(0, "test"), args.batch_ns)
    m0, v0 = be.asarray(m0, "float32"), be.asarray(v0, "float32")
    cases = {"poisson forward solve": lambda: poisson.forward(be, x_true),
             "navier-stokes 8-step simulation": lambda: ns.simulate(be, v0, m0)[0]}
    times = {(c, k): [] for c in cases for k in args.intervals}
    counts = {}
    for r in range(args.rounds + 1):
        for c, f in cases.items():
            for k in args.intervals:
                be.cg_check_every = k
                iters.clear()
                be.block_until_ready()
                t = time.perf_counter()
                f()
                be.block_until_ready()
                if r:   # round 0 warms up
                    times[(c, k)].append(time.perf_counter() - t)
                counts[(c, k)] = (len(iters), sum(iters))
    print(f"torch {be.device_name()}, {args.rounds} rounds, median seconds (CG solves, total CG iterations):")
    for c in cases:
        cells = [f"k={k}: {statistics.median(times[(c, k)]):.4f} ({counts[(c, k)][0]}, {counts[(c, k)][1]})"
                 for k in args.intervals]
        print(f"  {c}: " + "; ".join(cells))

if __name__ == "__main__":
    main()
