"""The sin(a/x) claims as distributions over the last iterations, not one endpoint (issue 30).

For every configuration and seed the training-batch x error e_k of all 20,000 updates comes from
the float64 reference (``sin_numpy.py``), optionally the float32 reference, pgbench torch (the
stored runs of ``results/paper-cpu/runs``, or a fresh run) and pgbench jax (a fresh run through
:class:`pgbench.runner.Run`). The paper's curve value at iteration K is the 1,000-batch running
average R_K = (1/1000) Σ_{k=K−999..K} e_k; the endpoint measure of docs/sin.md is R_20000. Here
R_K is evaluated at every K from ``--from`` (15,000) to 20,000 and summarised by its median and
10–90 % range, per run and for the ratio DP / PG at the same K (seeds paired).

Divergence: pgbench's rule (held-out x error above 1000× its first value, evaluated every 200
updates on ``keys.rng(seed, "test")``) is applied to the reference as the runner applies it to
pgbench, so a reference run that pgbench would have stopped is marked diverged at the same place.

    python benchmarks/reference/sin_distributions.py --seeds 0,1,2,3 --impls ref64,torch-stored,jax \\
        --out results/sin-reference
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.reference.sin_compare import PgbenchRun
from benchmarks.reference.sin_numpy import Config, Trainer, closest_minimum, forward

ITERATIONS = 20000
WINDOW = 1000
EVAL_EVERY = 200
BLOWUP = 1e3

#: configuration name → (reference Config, the stored run's label in results/paper-cpu/runs)
CONFIGS = {
    "dp|constant": (Config("dp"), "DP (Adam)"),
    "pg-inverse|constant": (Config("pg-inverse"), "PG (inverse)"),
    "dp|cosine": (Config("dp", "cosine"), "DP (Adam, cosine)"),
    "pg-inverse|cosine": (Config("pg-inverse", "cosine"), "PG (inverse, cosine)"),
    "dp|step": (Config("dp", "step"), "DP (Adam, step)"),
    "pg-inverse|step": (Config("pg-inverse", "step"), "PG (inverse, step)"),
    "dp-l1-mean|constant": (Config("dp-l1-mean"), "DP (L1, mean-clip)"),
    "dp-l1-mean|cosine": (Config("dp-l1-mean", "cosine"), "DP (L1, mean-clip, cosine)"),
    "supervised|constant": (Config("supervised"), "Supervised"),
    "pg-newton|constant": (Config("pg-newton"), "PG (Newton)"),
    "pg-invgrad|constant": (Config("pg-invgrad"), "PG (inv. grad.)"),
}
#: DP-like configuration → the PG (inverse) configuration its ratio is taken against
PARTNER = {k: f"pg-inverse|{k.split('|')[1]}" for k in CONFIGS if not k.startswith("pg-inverse")}


def held_out(seed: int, dtype: str):
    """The held-out batch a of ``seed`` (pgbench's ``keys.rng(seed, "test")``), in ``dtype``."""
    from pgbench import keys
    from pgbench.registry import make_problem

    p = make_problem("sin-v0", scale="paper")
    return p.draw(keys.rng(seed, "test"), p.test_size)[0].astype(dtype)


def reference_series(
    cfg: Config, seed: int, iterations: int = ITERATIONS, perturb: int = 0
) -> tuple[np.ndarray, int | None]:
    """Training-batch x errors of the reference (``perturb``: see :class:`Trainer`) and the iteration
    pgbench's divergence rule would stop it at (None: it runs to the end; NaN after a stop)."""
    tr = Trainer(cfg, seed, perturb)
    a_test = held_out(seed, cfg.dtype)
    e = np.full(iterations, np.nan)
    first = None
    for k in range(iterations):
        e[k] = tr.step()["x_error"]
        it = k + 1
        if it == 1 or it % EVAL_EVERY == 0 or it == iterations:
            with np.errstate(all="ignore"):
                x, _ = forward(tr.params, a_test)
                v = float(np.abs(x - closest_minimum(x, a_test)).mean())
            if not np.isfinite(v):
                continue
            if first is None:
                first = v if v > 0 else None
            elif v > BLOWUP * first:
                e[it:] = np.nan
                return e, it
    return e, None


def pgbench_series(cfg: Config, seed: int, backend: str, iterations: int = ITERATIONS):
    """A fresh pgbench run's training-batch x errors (the runner's divergence rule active)."""
    r = PgbenchRun(cfg, seed, iterations, backend, {"eval_every": EVAL_EVERY})
    try:
        e = np.full(iterations, np.nan)
        k = 0
        while not r.state.done:
            e[k] = r.step()
            k += 1
        stop = k if k < iterations else None
        return e, stop
    finally:
        r.close()


@functools.lru_cache(maxsize=2)
def _load(root: str):
    """The sin-v0 runs of a store, read once (``load_results`` on the problem's folder)."""
    from pgbench import load_results

    sub = Path(root) / "sin-v0"
    return load_results(sub if sub.is_dir() else root)


def stored_series(label: str, seed: int, root: Path, iterations: int = ITERATIONS):
    """The stored pgbench torch run of ``label`` and ``seed``: its x errors and stop iteration."""
    df = _load(str(root))
    d = df[(df["problem"] == "sin-v0") & (df["label"] == label) & (df["seed"] == seed) & (df["kind"] == "training")]
    if d.empty:
        return None, None
    key = d.sort_values("iteration").groupby("run_key")["iteration"].max().idxmax()
    r = d[d["run_key"] == key].sort_values("iteration").drop_duplicates("iteration", keep="last")
    e = np.full(iterations, np.nan)
    its = r["iteration"].to_numpy(int)
    e[its[its <= iterations] - 1] = r["x_error"].to_numpy(float)[its <= iterations]
    n = int(its.max())
    return e, (n if n < iterations else None)


def running(e: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """R_K = mean of e over the ``window`` iterations ending at K (1-based K ≥ window; NaN before)."""
    c = np.concatenate([[0.0], np.cumsum(e)])
    r = np.full(len(e), np.nan)
    r[window - 1 :] = (c[window:] - c[:-window]) / window
    return r


def describe(v: np.ndarray) -> dict:
    """Median and 10/90 % quantiles, minimum and maximum of the finite values (NaN if none)."""
    v = v[np.isfinite(v)]
    if not len(v):
        return {"median": np.nan, "p10": np.nan, "p90": np.nan, "min": np.nan, "max": np.nan}
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return {"median": q[1], "p10": q[0], "p90": q[2], "min": v.min(), "max": v.max()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument(
        "--impls",
        default="ref64,torch-stored",
        help="ref64, ref32, ref32-stable, ref64-stable, torch-stored, torch, jax",
    )
    ap.add_argument("--stored", type=Path, default=Path("results/paper-cpu/runs"))
    ap.add_argument("--out", type=Path, default=Path("results/sin-reference"))
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    series_dir = a.out / "series"
    series_dir.mkdir(exist_ok=True)
    for impl in a.impls.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            for name in a.configs.split(","):
                path = series_dir / f"{impl}_{name.replace('|', '_')}_s{seed}.npz"
                if path.exists():
                    continue
                cfg, label = CONFIGS[name]
                t0 = time.time()
                if impl.startswith("ref"):  # ref64, ref32, ref32-stable (stable residual), ref64-p1 (perturbed)
                    width, _, form = impl[3:].partition("-")
                    k = int(form[1:]) if form.startswith("p") else 0
                    form = "direct" if k or not form else form
                    e, stop = reference_series(
                        Config(**{**cfg.__dict__, "dtype": "float" + width, "residual": form}), seed, perturb=k
                    )
                elif impl == "torch-stored":
                    e, stop = stored_series(label, seed, a.stored)
                    if e is None:
                        print(f"no stored run of {label} seed {seed}", flush=True)
                        continue
                else:
                    e, stop = pgbench_series(cfg, seed, impl)
                np.savez_compressed(path, x_error=e.astype(np.float32), stop=-1 if stop is None else stop)
                tail = running(e)[-1]
                print(
                    f"{impl} {name} seed {seed}: R_20000 {tail:.3g} stop {stop} ({time.time() - t0:.0f} s)", flush=True
                )
    (a.out / "distributions_args.json").write_text(json.dumps(vars(a), default=str))


if __name__ == "__main__":
    main()
