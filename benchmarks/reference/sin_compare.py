"""pgbench's sin(a/x) training next to the NumPy reference (``sin_numpy.py``), step by step (issue 30).

For one reference configuration (scheme, schedule) and seed, :func:`lockstep` runs pgbench's own run
(:class:`pgbench.runner.Run` on a plan of ``sin-v0`` at paper scale: same data stream, same
initial weights) and the reference in float64 and float32 side by side, and after every update
records the relative parameter difference

    d_k = ‖θ_k − θ_k^ref64‖₂ / ‖θ_k^ref64‖₂     (all 461 parameters)

for pgbench and for the float32 reference. ``first_above(d, tol)`` is the first iteration where
d_k > tol: where the trajectories separate. The float32 reference separates from the float64 one
by round-off alone; pgbench separating at about the same iteration is round-off amplified by the
dynamics, pgbench separating much earlier (or with a large d from the first update) is a
difference of computation.

    python benchmarks/reference/sin_compare.py --iterations 3000 --seeds 0 --out results/sin-reference
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.reference.sin_numpy import SCHEMES, Config, Trainer

#: reference scheme → (pgbench solver, hyperparameters, problem settings)
PGBENCH = {
    "dp": ("dp", {}, {}),
    "dp-l1-mean": ("dp", {"clip_scope": "batch_mean"}, {"objective": "l1"}),
    "supervised": ("supervised", {}, {}),
    "pg-inverse": ("pg", {}, {}),
    "pg-newton": ("pg", {"inner": "newton", "clip": 1.0}, {}),
    "pg-invgrad": ("pg", {"inner": "invgrad", "clip": 1.0}, {}),
}
TOLERANCES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def schedule_settings(cfg: Config) -> dict:
    """pgbench's schedule hyperparameters for the reference configuration."""
    if cfg.schedule == "cosine":
        return {"schedule": "cosine", "schedule_steps": cfg.schedule_steps}
    if cfg.schedule == "step":
        return {"schedule": "step", "step_every": cfg.step_every, "decay_rate": cfg.decay_rate}
    return {}


def pgbench_plan(cfg: Config, seed: int, iterations: int, backend: str, problem_settings=None, **extra):
    """The pgbench plan of ``cfg`` (sin-v0, paper scale); ``extra`` overrides hyperparameters,
    ``problem_settings`` problem settings (default: no held-out evaluation, ``eval_every=0``)."""
    from pgbench.registry import make_problem
    from pgbench.runner import plan

    solver, hp, prob = PGBENCH[cfg.scheme]
    settings = {"eval_every": 0} if problem_settings is None else problem_settings
    problem = make_problem("sin-v0", scale="paper", **{**prob, **settings})
    return plan(
        problem,
        solver,
        iterations=iterations,
        seed=seed,
        backend=backend,
        scale="paper",
        **{**hp, **schedule_settings(cfg), **extra},
    )


class PgbenchRun:
    """A pgbench run stepped one update at a time, its parameters readable as one float64 vector."""

    def __init__(self, cfg: Config, seed: int, iterations: int, backend: str, problem_settings=None, **extra):
        from pgbench.backends import set_torch_threads
        from pgbench.runner import Run

        self.plan = pgbench_plan(cfg, seed, iterations, backend, problem_settings, **extra)
        self._restore = set_torch_threads(self.plan.meta["numerics"].get("torch_threads"))
        self.run = Run(self.plan)
        self.state = self.run.init()

    def step(self) -> float:
        """One update; the training-batch mean x error before it (NaN once the run has stopped)."""
        if self.state.done:
            return float("nan")
        self.state = self.run.step(self.state)
        return float(self.state.rows[-1]["x_error"])

    def flat(self) -> np.ndarray:
        be, p = self.plan.backend, self.state.iterate
        keys = sorted(p, key=lambda k: (int(k[1:]), k[0] == "b"))  # w0, b0, w1, b1, ...
        return np.concatenate([np.asarray(be.to_numpy(p[k]), np.float64).ravel() for k in keys])

    def close(self):
        self._restore()


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def first_above(d: np.ndarray, tol: float) -> int | None:
    """The first iteration (1-based) with d > tol (NaN counts as above), None if none."""
    bad = ~(d <= tol)
    return int(np.argmax(bad)) + 1 if bad.any() else None


def lockstep(cfg: Config, seed: int, iterations: int, backends=("torch", "jax")) -> dict:
    """Per-iteration relative parameter differences to the float64 reference: ``d[name]`` for
    every backend and for ``ref32``; ``x_error[name]`` the training-batch x errors (ref64 too)."""
    ref64 = Trainer(cfg, seed)
    ref32 = Trainer(Config(**{**cfg.__dict__, "dtype": "float32"}), seed)
    runs = {b: PgbenchRun(cfg, seed, iterations, b) for b in backends}
    names = ["ref32", *backends]
    d = {n: np.full(iterations, np.nan) for n in names}
    xe = {n: np.full(iterations, np.nan) for n in ["ref64", *names]}
    try:
        for k in range(iterations):
            xe["ref64"][k] = ref64.step()["x_error"]
            xe["ref32"][k] = ref32.step()["x_error"]
            base = ref64.flat()
            d["ref32"][k] = rel(ref32.flat(), base)
            for b, r in runs.items():
                xe[b][k] = r.step()
                d[b][k] = rel(r.flat(), base)
    finally:
        for r in runs.values():
            r.close()
    return {"d": d, "x_error": xe}


def summary(cfg: Config, seed: int, res: dict) -> list[dict]:
    """One row per compared implementation: d after 1, 10, 50 updates and the separation iterations."""
    rows = []
    for name, d in res["d"].items():
        row = {
            "scheme": cfg.scheme,
            "schedule": cfg.schedule,
            "seed": seed,
            "impl": name,
            "iterations": len(d),
            "d_1": d[0],
            "d_10": d[min(9, len(d) - 1)],
            "d_50": d[min(49, len(d) - 1)],
        }
        row.update({f"sep_{t:g}": first_above(d, t) for t in TOLERANCES})
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--schemes", default=",".join(SCHEMES))
    ap.add_argument("--schedules", default="constant", help="comma-separated: constant, cosine, step")
    ap.add_argument("--schedule-steps", type=int, default=20000, help="cosine T (a short T tests the schedule)")
    ap.add_argument("--step-every", type=int, default=5000)
    ap.add_argument("--backends", default="torch,jax")
    ap.add_argument("--out", type=Path, default=Path("results/sin-reference"))
    ap.add_argument("--tag", default="lockstep")
    a = ap.parse_args(argv)
    import pandas as pd

    a.out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for seed in [int(s) for s in a.seeds.split(",")]:
        for sched in a.schedules.split(","):
            for scheme in a.schemes.split(","):
                cfg = Config(scheme, sched, schedule_steps=a.schedule_steps, step_every=a.step_every)
                t0 = time.time()
                res = lockstep(cfg, seed, a.iterations, tuple(a.backends.split(",")))
                rows += summary(cfg, seed, res)
                curves[f"{scheme}|{sched}|{seed}"] = {k: v.tolist() for k, v in res["d"].items()}
                print(f"{scheme} {sched} seed {seed}: {time.time() - t0:.0f} s", flush=True)
                print(pd.DataFrame(rows[-len(res["d"]) :]).to_string(index=False), flush=True)
    pd.DataFrame(rows).to_csv(a.out / f"{a.tag}.csv", index=False)
    # the curves, every 10th iteration and the first 100 (small enough to commit)
    keep = sorted(set(range(100)) | set(range(99, a.iterations, 10)))
    thin = {k: {n: [v[i] for i in keep if i < len(v)] for n, v in c.items()} for k, c in curves.items()}
    (a.out / f"{a.tag}_curves.json").write_text(json.dumps({"iterations": [i + 1 for i in keep], "d": thin}))


if __name__ == "__main__":
    main()
