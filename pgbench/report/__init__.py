"""The report: the paper's figures and tables from stored runs only (it never runs an experiment).

``build_report(results_dirs, out)`` reads every run under the result directories (one store, a
merged store from several machines, or several stores side by side), and writes

* ``figures/*.png`` and, for each, ``data/*.csv``: the exact numbers drawn;
* ``tables/*.md``: the headline table (paper's numbers against measured ones), Table 1 (when
  :mod:`pgbench.table1` is present), a per-configuration summary, time-to-target, speedups;
* ``summary.md``: the headline in short (claim, paper, measured, k/n, verdict; the README's section);
* ``index.html``: all of it on one page, each with a sentence on what it shows;
* ``leaderboard.html``: the leaderboard (:mod:`pgbench.leaderboard`), linked from the index.

Machines and devices: every run carries ``machine``, ``device_name`` and ``backend``; together
they form the ``device_key``. Curves of different devices are drawn with different line styles,
time-per-iteration bars use the device as hue, and the speedup table relates each method to the
reference method on the same device (DP with Adam for training, GD for iterative solvers) and to
the same method on the first device.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..analysis.data import as_paths, collect, latest_configs, thin
from ..analysis.headline import headline_table
from ..analysis.leaderboard import build as build_leaderboard
from ..analysis.summary import per_config
from ..analysis.table1 import iteration_costs, table1
from ..analysis.targets import WORST_REFERENCE, as_policy
from ..analysis.timing import speedups, time_to_target
from ..store import run_files
from . import example_figures as EF
from . import figures as F
from . import leaderboard as LB
from .examples import load_examples
from .headline_summary import SENTENCE as HEADLINE_SENTENCE
from .headline_summary import summary_file
from .html import page, runs_sections
from .tables import markdown_table as _md

__all__ = ["build_report", "collect"]


def _summary_table(df: pd.DataFrame, policy) -> pd.DataFrame:
    s = per_config(df, policy)
    if s.empty:
        return s
    keep = [
        "problem",
        "scale",
        "label",
        "solver",
        "backend",
        "device_name",
        "seeds",
        "ok",
        "diverged",
        "failed",
        "iterations",
        "x_error",
        "x_error_lo",
        "x_error_hi",
        "loss",
        "nonfinite",
        "wall_time",
        "time_per_iteration",
    ]
    return s[[c for c in keep if c in s]]


def _inference_times(examples, problem="navier-stokes-v0") -> dict:
    """Table 1's inference time per example, from the example files of the training runs:
    ``{"NN + PG": s, "NN + Adam (DP)": s}`` (means over runs)."""
    names = {"pg-v0": "NN + PG", "dp-v0": "NN + Adam (DP)"}
    found: dict[str, list] = {}
    for e in examples:
        m = e["meta"]
        if m.get("problem") == problem and m.get("solver") in names and m.get("inference_seconds_per_example"):
            found.setdefault(names[m["solver"]], []).append(float(m["inference_seconds_per_example"]))
    return {k: float(np.mean(v)) for k, v in found.items()}


def _table1(df: pd.DataFrame, examples=()):
    """Table 1 (:func:`pgbench.analysis.table1.table1`) and a note on its target, or None and why not."""
    try:
        out = table1(df, inference_time=_inference_times(examples) or None)
    except ValueError as e:  # no PG training run to set the target: the table says so
        return None, str(e)
    source = out["target_source"].iloc[0] if len(out) and "target_source" in out else ""
    return out, f"targets: {source}" if source else "no runs"


def _table1_costs(df: pd.DataFrame, examples=()) -> pd.DataFrame | None:
    """Median over runs of :func:`pgbench.analysis.table1.iteration_costs` per method, with the PG
    network's inference time per example and the ratios to it; None without iterative runs."""
    runs = iteration_costs(df)
    if runs.empty:
        return None
    infer = _inference_times(examples).get("NN + PG", np.nan)
    out = (
        runs.groupby("method", sort=False)
        .agg(
            runs=("run_key", "size"),
            k=("k", "first"),
            iterations_done=("iterations_done", "max"),
            time_at_k_per_example_s=("time_at_k_per_example_s", "median"),
            seconds_per_iteration_per_example=("seconds_per_iteration_per_example", "median"),
        )
        .reset_index()
    )
    out["inference_time_per_example_s"] = infer
    out["time_at_k_over_inference"] = out["time_at_k_per_example_s"] / infer
    return out


_SENTENCES = {
    "learning": "Learning curves of {p}: the training-batch x error (running average over mini-batches, mean over "
    "seeds, band = min–max over seeds) against training iteration and wall time, the y loss, and the "
    "x error on the fixed held-out batch; dashed levels are one-shot solvers (L-BFGS-B to convergence) on that "
    "same batch.",
    "optimisation": "Single-problem optimisation on {p}: every iterative solver solves the held-out batch from the "
    "same start; x error (batch mean) against iteration and wall time.",
    "examples": "Held-out examples of {p}: the observation y*, each method's prediction x (and P(x) where the "
    "problem has a forward model), and the ground truth x*.",
}


def build_report(results_dirs, out, policy=WORST_REFERENCE) -> Path:
    """Write the report for the runs under ``results_dirs`` (a path or a list) into ``out``;
    returns the path of ``index.html``. ``policy``: the target policy of the time-to-target
    table, figure, profiles and the leaderboard (:mod:`pgbench.analysis.targets`), one for all."""
    policy = as_policy(policy)

    dirs = as_paths(results_dirs)
    out = Path(out)
    for sub in ("figures", "data", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    everything = collect(dirs)
    df = latest_configs(everything)
    shown = set(df["run_key"]) if not df.empty else set()
    examples = [e for e in load_examples(*dirs) if e["meta"].get("run_key") in shown]
    status = {} if df.empty else df.groupby("run_key", sort=False)["status"].first().astype(str).to_dict()
    F.set_style()

    sections: list[tuple[str, list]] = []  # (title, items); item = ("fig"|"table"|"text", name, sentence, content)

    failures = []

    def fig_item(name, make, sentence):
        try:
            fig, data = make()
        except Exception as e:  # one broken figure must not take the report down
            failures.append(f"{name}: {type(e).__name__}: {e}")
            plt.close("all")
            return None
        if fig is None:
            return None
        fig.savefig(out / "figures" / f"{name}.png", bbox_inches="tight")
        plt.close(fig)
        thin(data).to_csv(out / "data" / f"{name}.csv", index=False)
        return ("fig", name, sentence, f"figures/{name}.png")

    def table_item(name, table, sentence, floatfmt=".3g"):
        text = table if isinstance(table, str) else _md(table, floatfmt)
        (out / "tables" / f"{name}.md").write_text(f"# {name}\n\n{sentence}\n\n{text}")
        if isinstance(table, pd.DataFrame):
            table.to_csv(out / "data" / f"{name}.csv", index=False)
        return ("table", name, sentence, table)

    # headline and Table 1
    head = headline_table(df, examples=examples)
    (out / "summary.md").write_text(summary_file(head))
    items = [
        table_item(
            "headline",
            head,
            HEADLINE_SENTENCE,
        )
    ]
    t1, note = _table1(df, examples)
    items.append(
        table_item(
            "table1",
            t1 if t1 is not None else f"_{note}_\n",
            f"Table 1 (Navier-Stokes timings to equal accuracy); {note}.",
        )
    )
    costs = _table1_costs(df, examples)
    if costs is not None:
        items.append(
            table_item(
                "table1_costs",
                costs,
                "Table 1's timings at the paper's iteration counts, without a target: seconds per "
                "example of the iterated estimator's first 7 and GD's first 20,000 iterations (empty "
                "where the stored runs stop earlier; never extrapolated), seconds per iteration per "
                "example, and each relative to the PG network's inference time per example "
                "(paper: 2.2 s, > 4 h, 0.11 ms; > 10,000×).",
            )
        )
    sections.append(("Headline numbers", items))

    problems = sorted(df["problem"].dropna().unique()) if not df.empty else []
    if "quadratic2d-v0" in problems:
        it = fig_item(
            "fig2a_trajectories",
            lambda: F.trajectories(df),
            "Fig. 2a: paths of gradient descent, Newton's method and iterated inverse physics (PG) on "
            "y = (x1, x2²) from (3, 3). Circles: 10 steps at the paper's step sizes; lines: small steps. "
            "In y space the inverse-physics path is a straight line to the target.",
        )
        if it:
            sections.append(("Fig. 2a: 2-D trajectories", [it]))
    for p in problems:
        scales = sorted(df[df["problem"] == p]["scale"].dropna().astype(str).unique()) or ["?"]
        for sc in scales:  # runs of different scales are never averaged together
            sub = df[(df["problem"] == p) & (df["scale"].astype(str) == sc)] if len(scales) > 1 else df
            ex = [e for e in examples if len(scales) == 1 or e["meta"].get("scale") == sc]
            safe = p.replace("/", "_") + (f"_{sc}" if len(scales) > 1 else "")
            what = p + (f" ({sc} scale)" if len(scales) > 1 else "")
            items = [
                fig_item(f"learning_{safe}", partial(F.learning_curves, sub, p), _SENTENCES["learning"].format(p=what)),
                fig_item(
                    f"optimisation_{safe}",
                    partial(F.optimisation_curves, sub, p),
                    _SENTENCES["optimisation"].format(p=what),
                ),
                fig_item(
                    f"examples_{safe}",
                    partial(EF.examples_figure, ex, p, status),
                    _SENTENCES["examples"].format(p=what),
                ),
            ]
            items = [i for i in items if i]
            if items:
                sections.append((what, items))

    # cost, time to target, profiles, devices
    items = [
        fig_item(
            "fig14_time_per_iteration",
            lambda: F.time_per_iteration_figure(df),
            "Fig. 14: median seconds per training iteration (data generation included, evaluation "
            "excluded), mean over seeds; one bar colour per machine · device (backend).",
        )
    ]
    sp = speedups(df)
    items.append(
        table_item(
            "speedups",
            sp,
            "Seconds per iteration of every method on every device; 'speedup vs "
            "reference' = reference method's time / this method's time on the same device (DP "
            "(Adam) for training, GD for iterative solvers); the last column compares devices.",
        )
    )
    tt = time_to_target(df, policy)
    if not tt.empty:
        agg = (
            tt.groupby(["problem", "kind", "label", "device_key"], dropna=False)
            .agg(
                target=("target", "first"),
                target_source=("target_source", "first"),
                seeds=("run_key", "count"),
                reached=("time_to_target", lambda s: int(np.isfinite(s.astype(float)).sum())),
                iterations_to_target=("iterations_to_target", "median"),
                time_to_target=("time_to_target", "median"),
            )
            .reset_index()
        )
    else:
        agg = tt
    items.append(
        table_item(
            "time_to_target",
            agg,
            f"Time to target; targets: {policy} (pgbench.analysis.targets; the leaderboard uses the "
            "same), per problem and kind of method, 'target_source' says where each came from; "
            "iterations and seconds until the "
            "held-out x error first reaches it (training runs resolve this at their evaluation "
            "cadence), median over the seeds that reached it; 'reached' counts them.",
        )
    )
    items.append(
        fig_item(
            "time_to_target",
            lambda: F.time_to_target_figure(agg),
            "Seconds until the held-out x error first reaches the target, per problem and method "
            "(median over the seeds that reached it, labelled k/n seeds); 'not reached' where no seed did.",
        )
    )
    for kind in ("training", "iterative"):
        if not tt.empty:
            items.append(
                fig_item(
                    f"profile_{kind}",
                    partial(F.performance_profile, tt, kind),
                    f"Dolan–Moré performance profiles of the {kind} methods, one panel per problem (each "
                    "problem has its own methods): for each method, the fraction of its runs (seed × "
                    "device) that reached the target within τ times the fastest method's time on the "
                    "same seed and device (legend: number of runs).",
                )
            )
    sections.append(("Cost, time to target and performance profiles", [i for i in items if i]))

    summary = _summary_table(everything, policy)
    summary_sentence = (
        "Every configuration in the store (also older ones that the figures leave out: figures and "
        "headline show the newest configuration of each method; 'config' tells configurations of one "
        "method apart): seeds by status, final x error (held-out): median [min–max] over the ok seeds, or the "
        "stored message where no seed is ok; "
        "medians of loss, iterations, time per iteration and wall time; its runs, linked below."
    )
    table_item("summary", summary, summary_sentence)  # tables/summary.md and data/summary.csv: every column
    paths = {p.stem: p for d in dirs for p in run_files(d)}
    conf_html, runs_html = runs_sections(everything, paths, out)
    sections.append(
        (
            "All runs",
            [
                ("html", "summary", summary_sentence, conf_html),
                (
                    "html",
                    "runs",
                    (
                        "Every stored run: its stored status (classified when it ran) and "
                        "the stored message (why a run diverged or failed), final x error, iterations, "
                        "wall time and its parquet file."
                    ),
                    runs_html,
                ),
            ],
        )
    )

    try:  # the leaderboard page (pgbench.analysis.leaderboard), linked from here
        board = build_leaderboard(everything, policy=policy)
        if not board.table.empty:
            fig, data = LB.profile_figure(board)
            if fig is not None:
                fig.savefig(out / "figures" / "leaderboard_profile.png", bbox_inches="tight")
                plt.close(fig)
                data.to_csv(out / "data" / "leaderboard_profile.csv", index=False)
            board.table.to_csv(out / "data" / "leaderboard.csv", index=False)
            (out / "tables" / "leaderboard.md").write_text(LB.markdown(board))
            (out / "leaderboard.html").write_text(
                LB.html_page(board, "figures/leaderboard_profile.png" if fig is not None else None)
            )
            sections.append(
                (
                    "Leaderboard",
                    [
                        (
                            "html",
                            "leaderboard",
                            (
                                "Every training method ranked per problem by "
                                "time to target and by x error at equal wall time, with an AlgoPerf-"
                                "style performance-profile score across problems."
                            ),
                            "<p><a href='leaderboard.html'>leaderboard.html</a></p>",
                        )
                    ],
                )
            )
    except Exception as e:  # the leaderboard must not take the report down
        failures.append(f"leaderboard: {type(e).__name__}: {e}")
        plt.close("all")

    if failures:
        sections.append(("Figures that could not be drawn", [("text", "failures", "; ".join(failures), "")]))
    index = out / "index.html"
    index.write_text(page(sections, df, dirs))
    return index
