"""Seconds per training iteration of pgbench at the sizes the authors' code is timed at
(64×64, batch ``--batch``), for comparison with ``time_authors_code.py`` run right before or after
on the same machine. Median of the per-iteration wall-time differences after the first
iteration (which includes jax compilation); data generation, forward, backward and the optimizer
step are all inside the timed loop, as in the authors' loop.

    python time_pgbench.py --problem heat-v0 --solver dp --backend torch --batch 8 --steps 6
"""

from __future__ import annotations

import json

import numpy as np

import pgbench
from _common import parser, problem as make_problem


def main():
    ap = parser(__doc__, steps=6)
    ap.add_argument("--hp", default="{}", help="solver hyperparameters as JSON")
    ap.add_argument("--json", action="store_true", help="print one JSON line: per-iteration seconds (the "
                    "first includes compilation) and the median after the first")
    ap.add_argument("--cg-check-every", type=int, default=None,
                    help="torch: CG convergence-check interval (default: the backend's)")
    ap.add_argument("--torch-compile-cg", action="store_true",
                    help="torch: CG iterations under torch.compile (TorchBackend.cg_compile)")
    args = ap.parse_args()
    if args.backend == "torch":
        from pgbench.backends import get_backend
        be = get_backend("torch", args.device)
        if args.cg_check_every is not None:
            be.cg_check_every = args.cg_check_every
        if args.torch_compile_cg:
            be.cg_compile = True
    problem = make_problem(args)
    r = pgbench.run(problem, args.solver, iterations=args.steps, backend=args.backend, device=args.device,
                    throw=True, **json.loads(args.hp))
    wall = r.records["wall_time"].to_numpy()
    dts = np.diff(wall)
    cpu = r.records["cpu_time"].to_numpy()  # process CPU time (all threads)
    if args.json:
        print(json.dumps({"problem": args.problem, "solver": args.solver, "backend": args.backend,
                          "device": args.device, "batch": args.batch, "device_name": r.meta["device_name"],
                          "torch_compile_cg": args.backend == "torch" and be.cg_compile,
                          "seconds": [float(wall[0])] + [float(d) for d in dts], "median": float(np.median(dts)),
                          "cpu_seconds": [float(cpu[0])] + [float(d) for d in np.diff(cpu)],
                          "pgbench": pgbench.__file__}))
        return
    print(f"pgbench {args.problem} {args.solver} {args.backend} batch={args.batch} steps={args.steps}: "
          f"median {np.median(dts):.4f} s/iteration (all: {', '.join(f'{d:.3f}' for d in dts)})")


if __name__ == "__main__":
    main()
