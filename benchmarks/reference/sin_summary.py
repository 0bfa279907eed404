"""Summaries of the series written by ``sin_distributions.py`` (issue 30): per implementation,
configuration and seed the 1,000-batch running average R_K over the last iterations, and the
ratio DP / PG (inverse) at the same K (seeds paired), as distributions, not one endpoint.

Per run: R_20000 (docs/sin.md's endpoint measure), the median and 10–90 % range of R_K for K in
[``--from``, 20000] (every K), and the minimum and maximum of R_K for K in [19000, 20000].
Per DP-like configuration and seed: the same statistics of the ratio R_K(config) / R_K(PG) at the
same schedule. Writes ``runs.csv``, ``ratios.csv`` and ``distributions.md`` to ``--out``, and
``running_average.png`` (R_K of every implementation, one panel per configuration and seed).

    python benchmarks/reference/sin_summary.py --out results/sin-reference
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.reference.sin_distributions import CONFIGS, ITERATIONS, PARTNER, describe, running

#: implementations whose PG partner runs under another name (jax before the L1 fix: same PG code)
PARTNER_IMPL = {
    "jax-abs1": "jax",
    "ref32-stable": "ref32",
    "ref64-stable": "ref64",
    **{f"ref64-p{k}": "ref64" for k in range(1, 10)},
}
IMPLS = ("ref64", "ref32", "ref32-stable", "torch-stored", "jax", "jax-abs1")


def load(series: Path) -> dict:
    """{(impl, config, seed): (x errors, stop or None)} of every series file."""
    out = {}
    for f in sorted(series.glob("*.npz")):
        m = re.match(
            r"(ref64-p\d+|ref64-stable|ref32-stable|ref64|ref32|torch-stored|torch|jax-abs1|jax)_(.+)_s(\d+)\.npz$",
            f.name,
        )
        if not m:
            continue
        impl, name, seed = m.group(1), m.group(2), int(m.group(3))
        config = next(c for c in CONFIGS if c.replace("|", "_") == name)
        z = np.load(f)
        stop = int(z["stop"])
        out[(impl, config, seed)] = (z["x_error"].astype(np.float64), None if stop < 0 else stop)
    return out


def stats(r: np.ndarray, start: int) -> dict:
    """R_20000, the distribution of R_K over K ≥ start and the range over the last 1,000 K."""
    d = describe(r[start - 1 :])
    last = r[ITERATIONS - 1000 :]
    last = last[np.isfinite(last)]
    return {
        "R_20000": r[-1],
        **{f"K≥{start}_{k}": v for k, v in d.items()},
        "last1000_min": last.min() if len(last) else np.nan,
        "last1000_max": last.max() if len(last) else np.nan,
    }


def fmt(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.3g}"


def main(argv=None) -> None:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("results/sin-reference"))
    ap.add_argument("--from", dest="start", type=int, default=15000)
    a = ap.parse_args(argv)
    data = load(a.out / "series")
    runs, ratios = [], []
    curves = {k: running(e) for k, (e, _) in data.items()}
    for (impl, config, seed), (_, stop) in sorted(data.items()):
        row = {"impl": impl, "config": config, "seed": seed, "stopped_at": stop}
        row.update(stats(curves[(impl, config, seed)], a.start) if stop is None else {})
        runs.append(row)
        partner = PARTNER.get(config)
        mate = PARTNER_IMPL.get(impl, impl)  # the PG run of the same implementation
        if partner and (mate, partner, seed) in curves and stop is None and data[(mate, partner, seed)][1] is None:
            q = curves[(impl, config, seed)] / curves[(mate, partner, seed)]
            ratios.append({"impl": impl, "config": config, "vs": partner, "seed": seed, **stats(q, a.start)})
    runs_df, ratios_df = pd.DataFrame(runs), pd.DataFrame(ratios)
    runs_df.to_csv(a.out / "runs.csv", index=False)
    ratios_df.to_csv(a.out / "ratios.csv", index=False)
    k = f"K≥{a.start}"
    lines = [
        "# sin(a/x): running averages and ratios as distributions over the last iterations",
        "",
        (
            f"R_K: mean training-batch x error over the 1,000 updates ending at K. Columns: R_K at K = 20,000 (the "
            f"endpoint of docs/sin.md), the median and 10–90 % range of R_K over every K from {a.start:,} to 20,000, "
            "and its minimum–maximum over K from 19,000 to 20,000. ref64/ref32: the NumPy reference in "
            "float64/float32; ref32-stable: float32 with h = 2 sin²(a/(2x) + π/4); "
            "jax-abs1: pgbench jax before this branch's L1 fix (abs'(0) = 1); torch-stored: pgbench's stored "
            "runs (results/paper-cpu/runs); jax: fresh pgbench jax runs. Written by "
            "`benchmarks/reference/sin_summary.py`."
        ),
        "",
        "## Ratios R_K(DP-like) / R_K(PG inverse, same schedule), same seed",
        "",
        f"| configuration | seed | impl | at 20,000 | median {a.start // 1000}k–20k | 10–90 % | min–max 19k–20k |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {c: i for i, c in enumerate(CONFIGS)}
    if not ratios_df.empty:
        ratios_df = ratios_df.sort_values(
            ["config", "seed", "impl"], key=lambda c: c.map(order) if c.name == "config" else c
        )
        for r in ratios_df.to_dict("records"):
            lines.append(
                f"| {r['config']} | {r['seed']} | {r['impl']} | {fmt(r['R_20000'])} | {fmt(r[f'{k}_median'])} | "
                f"{fmt(r[f'{k}_p10'])}–{fmt(r[f'{k}_p90'])} | {fmt(r['last1000_min'])}–{fmt(r['last1000_max'])} |"
            )
    lines += [
        "",
        "## Running averages R_K per run",
        "",
        (
            f"| configuration | seed | impl | stopped | at 20,000 | median {a.start // 1000}k–20k | 10–90 % "
            "| min–max 19k–20k |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    runs_df = runs_df.sort_values(["config", "seed", "impl"], key=lambda c: c.map(order) if c.name == "config" else c)
    for r in runs_df.to_dict("records"):
        if r["stopped_at"] is not None and np.isfinite(r["stopped_at"]):
            lines.append(f"| {r['config']} | {r['seed']} | {r['impl']} | diverged at {int(r['stopped_at'])} | | | | |")
            continue
        lines.append(
            f"| {r['config']} | {r['seed']} | {r['impl']} | | {fmt(r['R_20000'])} | {fmt(r[f'{k}_median'])} | "
            f"{fmt(r[f'{k}_p10'])}–{fmt(r[f'{k}_p90'])} | {fmt(r['last1000_min'])}–{fmt(r['last1000_max'])} |"
        )
    (a.out / "distributions.md").write_text("\n".join(lines) + "\n")
    plot(curves, a.out / "running_average.png")
    print("\n".join(lines))


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(c, s) for (_, c, s) in curves}, key=lambda p: (list(CONFIGS).index(p[0]), p[1]))
    if not panels:
        return
    configs = [c for c in CONFIGS if any(p[0] == c for p in panels)]
    seeds = sorted({s for _, s in panels})
    fig, axes = plt.subplots(
        len(configs), len(seeds), figsize=(3.2 * len(seeds), 2.2 * len(configs)), sharex=True, squeeze=False
    )
    colors = {
        "ref64": "k",
        "ref32": "tab:gray",
        "ref32-stable": "tab:green",
        "torch-stored": "tab:red",
        "jax": "tab:blue",
        "jax-abs1": "tab:cyan",
    }
    x = np.arange(1, ITERATIONS + 1)
    for i, c in enumerate(configs):
        for j, s in enumerate(seeds):
            ax = axes[i][j]
            for impl in IMPLS:
                r = curves.get((impl, c, s))
                if r is not None and np.isfinite(r).any():
                    ax.semilogy(x[::10], r[::10], color=colors[impl], lw=0.8, label=impl)
            ax.set_title(f"{c}, seed {s}", fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6)
    fig.supxlabel("iteration K")
    fig.supylabel("R_K (1,000-batch running average of the x error)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
