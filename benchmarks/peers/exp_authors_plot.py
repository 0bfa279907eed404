"""Curves, final predictions and a summary table of ``exp_authors.py``'s runs (pgbench venv).

Reads ``DIR/runs/{authors,pgbench}-<method>-<seed>.json`` and writes ``DIR/curves.csv`` (every
recorded step of both implementations), ``DIR/summary.csv`` (final held-out |x - x*| and fitted
width over x* ∈ [-12, 0] per method, implementation and seed), ``DIR/curves.png`` (held-out error
against step, one panel per method, both implementations) and ``DIR/fig2.png`` (predicted x
against x* at the last step, as the paper's Fig. 2, plus |x - x*| against x*).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from exp_authors import METHODS

STYLE = {"authors": dict(ls="--", color="tab:orange"), "pgbench": dict(ls="-", color="tab:blue")}


def load(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*.json"))]


def _authors_status(rows: list[dict]) -> str:
    """The authors' loop runs on through NaN: the first recorded step whose held-out error is not finite."""
    bad = [row["iteration"] for row in rows if not np.isfinite(row["eval_x_error"])]
    return f"non-finite from step {bad[0]}" if bad else "ran"


def tables(runs: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from pgbench.analysis.exp_range import fitted_width

    curves, summary = [], []
    for r in runs:
        for row in r["rows"]:
            curves.append({"implementation": r["implementation"], "method": r["method"], "seed": r["seed"], **row})
        last = r["rows"][-1] if r["rows"] else {}
        g = r.get("final_grid")
        xt, xp = (np.asarray(g["x_true"]), np.asarray(g["x_pred"])) if g else (None, None)
        summary.append(
            {
                "method": r["method"],
                "implementation": r["implementation"],
                "seed": r["seed"],
                "steps": r["steps"],
                "status": r.get("status") or _authors_status(r["rows"]),
                "last_step": last.get("iteration"),
                "held_out_error": last.get("eval_x_error"),
                "grid_error": float(np.mean(np.abs(xp - xt))) if g else np.nan,
                "fitted_width": fitted_width(xt, xp) if g else 0.0,
                "seconds": round(r["seconds"], 1),
            }
        )
    order = {m: i for i, m in enumerate(METHODS)}
    s = pd.DataFrame(summary).sort_values(
        ["method", "implementation"], key=lambda c: c.map(order) if c.name == "method" else c
    )
    return pd.DataFrame(curves), s


def _num(v, digits: int = 3) -> str:
    return "-" if v is None or v != v else f"{float(v):.{digits}g}"


def markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (``summary.md``)."""
    head = (
        "| variant | implementation | seed | last step | status | held-out \\|x − x*\\| | grid \\|x − x*\\| "
        "| fitted width | wall s |\n|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r.method} | {r.implementation} | {r.seed} | {r.last_step} | {r.status} | {_num(r.held_out_error)} "
        f"| {_num(r.grid_error)} | {_num(r.fitted_width, 2)} | {_num(r.seconds, 4)} |"
        for r in summary.itertuples()
    ]
    return "\n".join([head, *rows]) + "\n"


def plot(folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = load(folder)
    curves, summary = tables(runs)
    curves.to_csv(folder / "curves.csv", index=False)
    summary.to_csv(folder / "summary.csv", index=False)
    (folder / "summary.md").write_text(markdown(summary))
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, m in zip(axes.flat, METHODS, strict=True):
        for r in runs:
            if r["method"] != m or not r["rows"]:
                continue
            it = [row["iteration"] for row in r["rows"]]
            ev = [row["eval_x_error"] for row in r["rows"]]
            ax.plot(it, ev, label=f"{r['implementation']} (seed {r['seed']})", **STYLE[r["implementation"]])
        ax.set_title(m)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("held-out mean |x − x*|")
    fig.suptitle("exp (NeurIPS Fig. 2): pgbench vs the authors' train_exp.py, held-out error over x* ∈ [−12, 0]")
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(2, 6, figsize=(18, 5.5), sharex=True)
    for j, m in enumerate(METHODS):
        for r in runs:
            g = r.get("final_grid")
            if r["method"] != m or not g:
                continue
            xt, xp = np.asarray(g["x_true"]), np.asarray(g["x_pred"])
            lab = f"{r['implementation']} @ {r['rows'][-1]['iteration'] if r['rows'] else '?'}"
            axes[0, j].plot(xt, xp, label=lab, **STYLE[r["implementation"]])
            axes[1, j].plot(xt, np.abs(xp - xt), **STYLE[r["implementation"]])
        axes[0, j].plot([-12, 0], [-12, 0], ":", color="grey")
        axes[0, j].set_ylim(-13, 1)
        axes[0, j].set_title(m)
        axes[0, j].legend(fontsize=7)
        axes[1, j].set_xlabel("x*")
    axes[0, 0].set_ylabel("predicted x")
    axes[1, 0].set_ylabel("|x − x*|")
    fig.tight_layout()
    fig.savefig(folder / "fig2.png", dpi=110)
    plt.close(fig)
    print(summary.to_string(index=False))
