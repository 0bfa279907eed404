"""Poisson and heat quick, DP (Adam), seed 0, 60 iterations: the U-net against the FNO (default sizes)
(docs/poisson_heat.md). Run from the repository root with PYTHONPATH set."""

from pgbench.registry import make_problem
from pgbench.runner import run
from pgbench.analysis import measures
for prob in ("poisson", "heat"):
    for net in ("unet", "fno"):
        p = make_problem(prob, scale="quick", net=net)
        load = open("/proc/loadavg").read().split()[:3]
        r = run(p, "dp", iterations=60, seed=0, throw=True)
        n = p.network().n_params()
        print(f"{prob} {net} params={n} s/it={measures.seconds_per_iteration(r):.4f} "
              f"eval_x_error first={r.records['eval_x_error'].dropna().iloc[0]:.4g} final={measures.final_value(r):.4g} "
              f"wall={r.records.wall_time.iloc[-1]:.1f}s load={' '.join(load)}", flush=True)
