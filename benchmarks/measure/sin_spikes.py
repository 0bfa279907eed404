"""The sin(a/x) spike mechanism, measured: training-batch x error and Adam's effective step over
the iterations of DP (Adam) and PG (inverse) at the paper's constant learning rate (docs/sin.md).

Adam's update of one parameter is :math:`\\Delta\\theta = -\\mathrm{lr}\\,\\hat m/(\\sqrt{\\hat v}+\\epsilon)` with
the bias-corrected moments :math:`\\hat m = m/(1-\\beta_1^t)`, :math:`\\hat v = v/(1-\\beta_2^t)`. The
script steps the runs through the Run API (:class:`pgbench.runner.Run`), reads the optimizer
state (torch.optim.Adam's ``exp_avg``, ``exp_avg_sq``, ``step``) every ``--every`` iterations and
records the largest and the median |Δθ| over all 461 parameters, the smallest :math:`\\sqrt{\\hat v}`
and the training-batch x error. Writes ``<out>/sin_spikes.csv`` and ``<out>/sin_spikes.png``.

    python benchmarks/measure/sin_spikes.py --iterations 6000 --seed 0 --out docs/sin_data

The runs are the experiment set's own runs (sin-training's DP (Adam) and PG (inverse): same
problem, seed, hyperparameters and thread count, so the same run keys); reading the optimizer
state is excluded from their clock, as evaluations are. ``--store DIR`` saves each finished run
there (with its examples) unless that key is stored already, in which case the recorded
training-batch x errors are compared with the stored ones (they must be identical: the trace
is then the stored run's).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench import store
from pgbench.backends import set_torch_threads
from pgbench.registry import make_problem
from pgbench.runner import Run, plan

METHODS = {"DP (Adam)": ("dp", {}), "PG (inverse)": ("pg", {}),
           "DP (Adam, AMSGrad)": ("dp", {"optimizer": "amsgrad"})}   # the last one: sin-amsgrad's


def torch_adam(state):
    """The torch Adam state (a :class:`~pgbench.backends.torch_optim.TorchOptState`) inside a
    training scheme's state (the state itself, or an element of it); raises TypeError when there is none."""
    from pgbench.backends.torch_optim import TorchOptState
    todo = [state]
    while todo:
        s = todo.pop()
        if isinstance(s, TorchOptState):
            return s
        if isinstance(s, (tuple, list)):
            todo.extend(s)
        elif isinstance(s, dict):
            todo.extend(s.values())
    raise TypeError(f"no torch optimizer state in the scheme state {type(state).__name__}")


def effective_steps(opt) -> dict:
    """``max_step``, ``median_step``: over all parameter elements, :math:`|\\mathrm{lr}\\,\\hat m/(\\sqrt{\\hat
    v}+\\epsilon)|`; ``min_sqrt_v``: the smallest :math:`\\sqrt{\\hat v}` (float64 on the host)."""
    steps, roots = [], []
    (group,) = opt.groups   # torch.optim.Adam: one parameter group
    b1, b2 = group["betas"]
    lr, eps = float(group["lr"]), group["eps"]
    for st in opt.params:
        if not st:
            continue
        t = float(st["step"])
        m = st["exp_avg"].detach().double().cpu().numpy().ravel() / (1 - b1 ** t)
        v = st["exp_avg_sq"].detach().double().cpu().numpy().ravel() / (1 - b2 ** t)
        steps.append(np.abs(lr * m / (np.sqrt(v) + eps)))
        roots.append(np.sqrt(v))
    s, r = np.concatenate(steps), np.concatenate(roots)
    return {"max_step": float(s.max()), "median_step": float(np.median(s)), "min_sqrt_v": float(r.min())}


def trace(label: str, iterations: int, seed: int, every: int, root: Path | None = None) -> pd.DataFrame:
    solver, hp = METHODS[label]
    p = plan(make_problem("sin-v0", scale="paper"), solver, iterations=iterations, seed=seed, backend="torch",
             scale="paper", label=label, **hp)
    restore = set_torch_threads(p.meta["numerics"].get("torch_threads"))
    try:
        run = Run(p)
        state = run.init()
        rows = []
        while not state.done:
            state = run.step(state)
            if state.iteration % every == 0 or state.done:
                t = time.perf_counter()
                rows.append({"label": label, "seed": seed, "iteration": state.iteration,
                             "x_error": state.rows[-1]["x_error"],
                             **effective_steps(torch_adam(state.solver_state))})
                state.clock.paused += time.perf_counter() - t   # not on the run's clock
        result = run.finish(state)
    finally:
        restore()
    if root is not None:
        keep(p, result, root)
    out = pd.DataFrame(rows)
    # the training-batch x error of every iteration, for the running average
    full = pd.DataFrame(state.rows)[["iteration", "x_error"]]
    out["x_error_avg50"] = out["iteration"].map(
        full.set_index("iteration")["x_error"].rolling(50, min_periods=1).mean())
    return out


def keep(p, result, root: Path) -> None:
    """Store the run unless its key is stored; if it is, check that the recorded training-batch x
    errors are identical to the stored ones."""
    path = store.path_for(result.meta, root)
    if store.is_finished(result.meta, root):
        stored = store.read(path).sort_values("iteration")["x_error"].to_numpy()
        mine = pd.DataFrame(result.records).sort_values("iteration")["x_error"].to_numpy()
        same = len(stored) == len(mine) and bool((stored == mine).all())
        print(f"{p.meta['label']} seed {p.seed}: stored as {path.name}; recorded x errors identical: {same}")
        return
    print(f"{p.meta['label']} seed {p.seed}: stored {store.save(result, root)} ({result.status})")


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for label, g in df.groupby("label"):
        axes[0].semilogy(g["iteration"], g["x_error_avg50"], label=label, lw=0.8)
        axes[1].semilogy(g["iteration"], g["max_step"], label=f"{label}: max |lr·m̂/(√v̂+ε)|", lw=0.8)
    axes[0].set_ylabel("training x error (running avg. 50)")
    axes[1].set_ylabel("Adam's effective step")
    axes[1].set_xlabel("training iteration")
    for a in axes:
        a.legend(fontsize=8)
    seed = int(df["seed"].iloc[0])
    fig.suptitle(f"sin(a/x), Adam 2e-3 constant, seed {seed}: error spikes follow step blow-ups")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=10, help="read the optimizer state every this many iterations")
    ap.add_argument("--out", type=Path, default=Path("docs/sin_data"))
    ap.add_argument("--store", type=Path, default=None, help="results store to save the runs to (see above)")
    ap.add_argument("--methods", default="DP (Adam);PG (inverse)", help="labels separated by ;: " + "; ".join(METHODS))
    a = ap.parse_args(argv)
    if a.iterations < 1 or a.every < 1:
        ap.error("--iterations and --every must be >= 1")
    labels = [m.strip() for m in a.methods.split(";") if m.strip()]
    for lab in labels:
        if lab not in METHODS:
            from pgbench.registry import suggest
            ap.error(f"unknown method {lab!r}{suggest(lab, METHODS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    df = pd.concat([trace(label, a.iterations, a.seed, a.every, a.store) for label in labels], ignore_index=True)
    df.to_csv(a.out / "sin_spikes.csv", index=False)
    plot(df, a.out / "sin_spikes.png")
    for label, g in df.groupby("label"):
        late = g[g["iteration"] > a.iterations // 2]
        print(f"{label}: max effective step (2nd half) {late['max_step'].max():.3g}, median of the max "
              f"{late['max_step'].median():.3g}; x error avg50 at the end {g['x_error_avg50'].iloc[-1]:.3g}")
    print(f"{a.out}/sin_spikes.csv, .png in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
