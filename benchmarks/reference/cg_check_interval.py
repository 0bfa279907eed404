"""CG: seconds per solve against the convergence-check interval k (one loop-condition check, on a
GPU one host synchronisation, every k iterations; converged examples take zero steps, so up to
k - 1 iterations are wasted).

Times, interleaved over ``--rounds`` rounds (median per k), two solves of the paper experiments:
the Poisson forward solve (64×64, rel. tol. 1e-5 from 0, batch ``--batch``) and the Navier-Stokes
forward simulation (8 steps, each a warm-started pressure solve, abs. tol. 1e-4, batch
``--batch-ns``). torch: counts the CG iterations too. jax: each case is jitted per k (the k steps
are unrolled into the loop body), and the first call's time (compilation) is printed as well.

    python cg_check_interval.py --backend torch --device cpu --intervals 1 2 4 8 16
    python cg_check_interval.py --backend torch --device cpu --intervals 4 8 --torch-compile-cg
    python cg_check_interval.py --backend jax --device cuda --intervals 1 4 8
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
    ap.add_argument("--backend", default="torch", choices=["torch", "jax"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batch-ns", type=int, default=2)
    ap.add_argument("--intervals", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--torch-compile-cg", action="store_true",
                    help="torch: each chunk of k CG iterations under torch.compile (compiled in round 0)")
    args = ap.parse_args()
    be = get_backend(args.backend, args.device)
    if args.backend == "torch":
        be.cg_compile = args.torch_compile_cg
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
    solves = {"poisson forward solve": (lambda x: poisson.forward(be, x), (x_true,)),
              "navier-stokes 8-step simulation": (lambda v, m: ns.simulate(be, v, m)[0], (v0, m0))}
    fns, first = {}, {}
    for k in args.intervals:
        for c, (f, a) in solves.items():
            be.cg_check_every = k
            fns[(c, k)] = (be.jit(lambda *x, f=f: f(*x)), a)   # a new function per k: jax traces it at its first call
    times = {key: [] for key in fns}
    counts = {}
    for r in range(args.rounds + 1):
        for (c, k), (f, a) in fns.items():
            be.cg_check_every = k          # torch reads it at every solve
            iters.clear()
            t = time.perf_counter()
            be.block_until_ready(f(*a))
            dt = time.perf_counter() - t
            if r:   # round 0 warms up (and compiles, for jax and compiled torch CG)
                times[(c, k)].append(dt)
            else:
                first[(c, k)] = dt
            counts[(c, k)] = (len(iters), sum(iters))
    torch_ = args.backend == "torch"
    compiled = not torch_ or be.cg_compile
    print(f"{args.backend}{' (CG under torch.compile)' if torch_ and compiled else ''} {be.device_name()}, "
          f"{args.rounds} rounds, median seconds per solve ("
          + ", ".join((["CG solves, total CG iterations"] if torch_ else []) + (["first call"] if compiled else []))
          + "):")
    for c in solves:
        cells = [f"k={k}: {statistics.median(times[(c, k)]):.4f} ("
                 + ", ".join(([f"{counts[(c, k)][0]}, {counts[(c, k)][1]}"] if torch_ else [])
                             + ([f"{first[(c, k)]:.1f} s"] if compiled else [])) + ")" for k in args.intervals]
        print(f"  {c}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
