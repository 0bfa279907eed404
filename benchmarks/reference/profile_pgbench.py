"""Where a pgbench training iteration spends its time, at the sizes of ``time_pgbench.py``.

torch: ``torch.profiler`` over ``--steps`` iterations after one warm-up iteration, operators sorted
by self CPU time (and CUDA time on a GPU); jax (or ``--python``): ``cProfile`` of the same loop,
functions sorted by total time. Data generation, forward, backward and the optimizer step are all
inside the profiled loop, as in the timed one.

    python profile_pgbench.py --problem poisson-v0 --solver dp --backend torch --batch 8 --steps 3
"""

from __future__ import annotations

import cProfile
import io
import pstats

import pgbench
from _common import parser, problem as make_problem


def main():
    ap = parser(__doc__, steps=3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--python", action="store_true", help="cProfile also for torch")
    args = ap.parse_args()
    problem = make_problem(args)

    def run(n):
        return pgbench.run(problem, args.solver, iterations=n, backend=args.backend, device=args.device,
                           throw=True)

    run(2)  # warm-up: compilation and caches (the profiled run compiles nothing new under jax)
    if args.backend == "torch" and not args.python:
        import torch
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device != "cpu" else [])
        with profile(activities=acts) as prof:
            r = run(args.steps)
        key = "self_cuda_time_total" if args.device != "cpu" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=args.top))
        del torch
    else:
        pr = cProfile.Profile()
        pr.enable()
        r = run(args.steps)
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(args.top)
        print(s.getvalue())
    wall = r.records["wall_time"].to_numpy()
    print(f"{args.problem} {args.solver} {args.backend}: {args.steps} iterations in {wall[-1]:.3f} s "
          f"(profiler overhead included)")


if __name__ == "__main__":
    main()
