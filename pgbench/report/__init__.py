"""The report: the paper's figures and tables from stored runs only (it never runs an experiment).

``build_report(results_dirs, out)`` reads every run under the result directories (one store, a
merged store from several machines, or several stores side by side), and writes

* ``figures/*.png`` and, for each, ``data/*.csv``: the exact numbers drawn;
* ``tables/*.md``: the headline table (paper's numbers against measured ones), Table 1 (when
  :mod:`pgbench.table1` is present), a per-configuration summary, time-to-target, speedups;
* ``index.html``: all of it on one page, each with a sentence on what it shows;
* ``leaderboard.html``: the leaderboard (:mod:`pgbench.leaderboard`), linked from the index.

Machines and devices: every run carries ``machine``, ``device_name`` and ``backend``; together
they form the ``device_key``. Curves of different devices are drawn with different line styles,
time-per-iteration bars use the device as hue, and the speedup table relates each method to the
reference method on the same device (DP with Adam for training, GD for iterative solvers) and to
the same method on the first device.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .data import final_errors, latest_configs, reference_label, time_per_iteration, with_device

__all__ = ["build_report", "collect"]


def _as_list(results_dirs):
    if isinstance(results_dirs, (str, Path)):
        return [Path(results_dirs)]
    return [Path(p) for p in results_dirs]


def _targets(df: pd.DataFrame, kind: str) -> dict:
    """Per problem: the ``target_x_error`` stored with its runs (else the registered problem's),
    else the median final x error of the reference method of ``kind`` (so time-to-target reads
    "how fast does each method reach what the baseline ends at")."""
    from ..measures import target_of
    from ..summary import problem_target
    out = {}
    fe = final_errors(df[df["kind"] == kind])
    for problem, g in fe.groupby("problem"):
        stored = target_of(df[df["problem"] == problem])
        t = stored if math.isfinite(stored) else problem_target(problem)
        if t is None:
            ref = reference_label(g["label"].unique(), kind)
            v = g[(g["label"] == ref) & (g["status"] == "ok")]["x_error"].median()
            t = float(v) if math.isfinite(v) else None
        if t is not None:
            out[problem] = t
    return out


def time_to_target(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: target, iterations and wall time to reach it (held-out x error for training
    runs, at their evaluation cadence), with ``device_key`` and ``label``."""
    from ..summary import per_run
    parts = []
    for kind in ("training", "iterative"):
        sub = df[df["kind"] == kind]
        if sub.empty:
            continue
        runs = per_run(sub, _targets(df, kind))
        keys = sub.groupby("run_key")[["device_key"]].first()
        runs = runs.join(keys, on="run_key")
        parts.append(runs[runs["status"] != "failed"])
    if not parts:
        return pd.DataFrame(columns=["run_key", "problem", "kind", "label", "device_key", "seed", "target",
                                     "iterations_to_target", "time_to_target"])
    return pd.concat(parts, ignore_index=True)


def speedups(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds per iteration per problem × kind × label × device, the speedup of the reference
    method's time over this method's on the same device, and the speedup of this method on this
    device over the same method on the first device."""
    t = time_per_iteration(df)
    if t.empty:
        return t
    rows = []
    devices = sorted(t["device_key"].unique())
    for (problem, kind, dev), g in t.groupby(["problem", "kind", "device_key"]):
        ref = reference_label(g["label"], kind)
        ref_s = float(g[g["label"] == ref]["seconds"].iloc[0]) if ref is not None else math.nan
        for _, r in g.iterrows():
            base = t[(t["problem"] == problem) & (t["kind"] == kind) & (t["label"] == r["label"])
                     & (t["device_key"] == devices[0])]
            rows.append({"problem": problem, "kind": kind, "label": r["label"], "device": dev,
                         "s / iteration": r["seconds"], "reference": ref,
                         "speedup vs reference": ref_s / r["seconds"] if r["seconds"] > 0 else math.nan,
                         f"speedup vs {devices[0]}": (float(base["seconds"].iloc[0]) / r["seconds"]
                                                       if len(base) and r["seconds"] > 0 else math.nan)})
    return pd.DataFrame(rows)


def _statuses(df: pd.DataFrame) -> dict:
    """Run key → status, with the divergence rule applied (:func:`pgbench.summary.run_status`)."""
    from ..summary import run_status
    if df.empty:
        return {}
    return {key: run_status(g)[0] for key, g in df.groupby("run_key", sort=False)}


def collect(results_dirs):
    """The tidy frame of every run under ``results_dirs`` with ``device_key`` (see
    :func:`pgbench.load_results`); a run found in several directories is counted once."""
    from ..store import load_results
    df = load_results(*_as_list(results_dirs))
    if not df.empty and "iteration" in df:   # the same run stored in two of the directories: keep one copy
        if "created" in df:
            df = df.sort_values("created", kind="stable")
        df = df.drop_duplicates(["run_key", "iteration"], keep="last")
        df = df.sort_values(["problem", "solver", "run_key", "iteration"], kind="stable").reset_index(drop=True)
    return with_device(df)


def _md(df: pd.DataFrame, floatfmt=".3g") -> str:
    """A GitHub markdown table (no dependency on ``tabulate``)."""
    if df is None or df.empty:
        return "_no data_\n"

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(v) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(str(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_LINKED = ("runs", "run_key", "run keys")   # columns whose cells are run keys (or prefixes): linked to the run


def _run_links(cell: str, keys) -> str:
    """Each run key (or key prefix) in ``cell`` as a link to its row in the runs table, shown by
    its first 8 hex digits."""
    out = []
    for token in str(cell).split():
        full = next((k for k in keys if k.startswith(token)), None) if len(token) >= 6 else None
        out.append(f"<a href='#run-{html.escape(full)}'>{html.escape(token[:8])}</a>" if full else html.escape(token))
    return " ".join(out)


def _html_table(df: pd.DataFrame, keys=(), wide=()) -> str:
    """An HTML table in a horizontally scrolling box: numbers right-aligned on one line (3
    significant digits), text wrapping; run keys in the :data:`_LINKED` columns link to the run's
    row (``keys``: every run key of the report); ``wide`` columns may wrap wider."""
    if df is None or df.empty:
        return "<p><em>no data</em></p>"

    def cell(col, v):
        if isinstance(v, (float, np.floating)):
            return f"<td class='num'>{_g(v)}</td>"
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return f"<td class='num'>{int(v)}</td>"
        if v is None:
            return "<td></td>"
        text = _run_links(v, keys) if col in _LINKED else html.escape(str(v))
        return f"<td class='{'wide' if col in wide else 'txt'}'>{text}</td>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(cell(c, v) for c, v in zip(df.columns, row)) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<div class='scroll'><table class='tbl'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"


def _summary_table(df: pd.DataFrame) -> pd.DataFrame:
    from ..summary import summarize
    s = summarize(df)
    if s.empty:
        return s
    keep = ["problem", "scale", "label", "solver", "backend", "device_name", "seeds", "ok", "diverged", "failed",
            "iterations", "x_error", "x_error_lo", "x_error_hi", "loss", "nonfinite", "wall_time", "time_per_iteration"]
    return s[[c for c in keep if c in s]]


def _g(v) -> str:
    """A number for an HTML cell: whole numbers in full (iterations: 1000, not 1e+03), others
    with 3 significant digits; blank for NaN."""
    if v is None or not math.isfinite(float(v)):
        return ""
    v = float(v)
    return f"{v:.0f}" if v.is_integer() and abs(v) < 1e7 else f"{v:.3g}"


def _runs_html(df: pd.DataFrame, paths: dict, out: Path) -> tuple[str, str]:
    """The HTML of the "All runs" section: one row per configuration (seeds, final x error as
    median [min–max] over the ok seeds, or the stored message where no seed is ok; its runs
    linked), then one row per run with an anchor ``run-<key>``, its status and stored message,
    and its parquet file (``paths``: run key → file; linked relative to ``out``)."""
    import os

    from ..summary import per_run
    runs = per_run(df)
    if runs.empty:
        return "<p><em>no runs</em></p>", "<p><em>no runs</em></p>"
    keys = list(runs["run_key"].astype(str))
    runs = runs.assign(device=runs["backend"].astype(str) + " · " + runs["device_name"].astype(str))
    conf_rows = []
    for _, g in runs.groupby(["problem", "scale", "label", "device", "config"], sort=True, dropna=False):
        g = g.sort_values("seed")
        ok = g[g["status"] == "ok"]
        counts = ", ".join(f"{(g['status'] == s).sum()} {s}" for s in ("ok", "diverged", "failed")
                           if (g["status"] == s).any())
        if len(ok):
            x = pd.to_numeric(ok["x_error"], errors="coerce")
            err = _g(x.median()) + (f" [{_g(x.min())}–{_g(x.max())}]" if len(ok) > 1 else "")
        else:
            msgs = [m for m in g["message"].astype(str) if m and m != "nan"]
            err = f"{g['status'].iloc[0]}: {msgs[0]}" if msgs else str(g["status"].iloc[0])
        first = g.iloc[0]
        conf_rows.append({"problem": first["problem"], "scale": first["scale"], "method": first["label"],
                          "device": first["device"], "config": first["config"], "seeds": f"{len(g)} ({counts})", "x error": err,
                          "loss": pd.to_numeric(ok["loss"], errors="coerce").median() if len(ok) else math.nan,
                          "iterations": pd.to_numeric(g["iterations"], errors="coerce").median(),
                          "s / iteration": pd.to_numeric(g["time_per_iteration"], errors="coerce").median(),
                          "wall time [s]": pd.to_numeric(g["wall_time"], errors="coerce").median(),
                          "runs": " ".join(str(k) for k in g["run_key"])})
    conf = pd.DataFrame(conf_rows)
    per = []
    for _, r in runs.sort_values(["problem", "scale", "label", "device", "seed"]).iterrows():
        key = str(r["run_key"])
        path = paths.get(key)
        file = (f"<a href='{html.escape(Path(os.path.relpath(path, out)).as_posix())}'>parquet</a>"
                if path else "")
        msg = "" if r["message"] in (None, "") or str(r["message"]) == "nan" else str(r["message"])
        cells = [f"<td class='key'>{html.escape(key)}</td>", *(f"<td class='txt'>{html.escape(str(r[c]))}</td>"
                                                              for c in ("problem", "scale", "label", "device", "seed")),
                 f"<td class='nw st-{html.escape(str(r['status']))}'>{html.escape(str(r['status']))}</td>",
                 f"<td class='wide'>{html.escape(msg)}</td>",
                 *(f"<td class='num'>{_g(r[c])}</td>" for c in ("x_error", "iterations", "wall_time")),
                 f"<td class='nw'>{file}</td>"]
        per.append(f"<tr id='run-{html.escape(key)}'>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{c}</th>" for c in ("run key", "problem", "scale", "method", "device", "seed", "status",
                                             "message", "x error", "iterations", "wall time [s]", "file"))
    per_html = (f"<div class='scroll'><table class='tbl runs'><thead><tr>{head}</tr></thead><tbody>"
                + "".join(per) + "</tbody></table></div>")
    return _html_table(conf, keys, wide=("x error",)), per_html


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
    """Table 1 from :mod:`pgbench.table1` (another module's pure function), if it is present."""
    try:
        from .. import table1 as t1
    except ImportError:
        return None, "pgbench.table1 is not present: Table 1 not yet measured"
    for name in ("table1", "build_table1", "table", "compute"):
        fn = getattr(t1, name, None)
        if callable(fn):
            try:
                try:
                    out = fn(df, inference_time=_inference_times(examples) or None)
                except TypeError:
                    out = fn(df)
            except Exception as e:
                return None, f"pgbench.table1.{name} failed: {type(e).__name__}: {e}"
            if isinstance(out, pd.DataFrame):
                return out, f"from pgbench.table1.{name}"
            if isinstance(out, str):
                return out, f"from pgbench.table1.{name}"
    return None, "pgbench.table1 has no table function this report knows"


def _table1_costs(df: pd.DataFrame, examples=()) -> pd.DataFrame | None:
    """Median over runs of :func:`pgbench.table1.iteration_costs` per method, with the PG
    network's inference time per example and the ratios to it; None without iterative runs."""
    from ..table1 import iteration_costs
    runs = iteration_costs(df)
    if runs.empty:
        return None
    infer = _inference_times(examples).get("NN + PG", np.nan)
    out = runs.groupby("method", sort=False).agg(
        runs=("run_key", "size"), k=("k", "first"), iterations_done=("iterations_done", "max"),
        time_at_k_per_example_s=("time_at_k_per_example_s", "median"),
        seconds_per_iteration_per_example=("seconds_per_iteration_per_example", "median")).reset_index()
    out["inference_time_per_example_s"] = infer
    out["time_at_k_over_inference"] = out["time_at_k_per_example_s"] / infer
    return out


_SENTENCES = {
    "learning": "Learning curves of {p}: the training-batch x error (running average over mini-batches, mean over "
                "seeds, band = min–max over seeds) against training iteration and wall time, the y loss, and the "
                "x error on the fixed held-out batch; dashed levels are one-shot solvers (L-BFGS-B to convergence) on that same batch.",
    "optimisation": "Single-problem optimisation on {p}: every iterative solver solves the held-out batch from the "
                    "same start; x error (batch mean) against iteration and wall time.",
    "examples": "Held-out examples of {p}: the observation y*, each method's prediction x (and P(x) where the "
                "problem has a forward model), and the ground truth x*.",
}


def build_report(results_dirs, out) -> Path:
    """Write the report for the runs under ``results_dirs`` (a path or a list) into ``out``;
    returns the path of ``index.html``."""
    from . import figures as F
    from .examples import load_examples
    from .headline import headline_table

    dirs = _as_list(results_dirs)
    out = Path(out)
    for sub in ("figures", "data", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    everything = collect(dirs)
    df = latest_configs(everything)
    shown = set(df["run_key"]) if not df.empty else set()
    examples = [e for e in load_examples(*dirs) if e["meta"].get("run_key") in shown]
    status = _statuses(df)
    F.set_style()
    import matplotlib.pyplot as plt

    sections: list[tuple[str, list]] = []   # (title, items); item = ("fig"|"table"|"text", name, sentence, content)

    failures = []

    def fig_item(name, make, sentence):
        try:
            fig, data = make()
        except Exception as e:   # one broken figure must not take the report down
            failures.append(f"{name}: {type(e).__name__}: {e}")
            plt.close("all")
            return None
        if fig is None:
            return None
        fig.savefig(out / "figures" / f"{name}.png", bbox_inches="tight")
        plt.close(fig)
        data.to_csv(out / "data" / f"{name}.csv", index=False)
        return ("fig", name, sentence, f"figures/{name}.png")

    def table_item(name, table, sentence, floatfmt=".3g"):
        text = table if isinstance(table, str) else _md(table, floatfmt)
        (out / "tables" / f"{name}.md").write_text(f"# {name}\n\n{sentence}\n\n{text}")
        if isinstance(table, pd.DataFrame):
            table.to_csv(out / "data" / f"{name}.csv", index=False)
        return ("table", name, sentence, table)

    # headline and Table 1
    head = headline_table(df)
    items = [table_item("headline", head,
                        "Each number the paper states, the value measured from the store at the paper's point "
                        "(or 'not yet measured' when no stored run reaches it), the same quantity at the largest "
                        "point the stored runs reach, and the runs (run-key prefixes) it came from.")]
    t1, note = _table1(df, examples)
    items.append(table_item("table1", t1 if t1 is not None else f"_{note}_\n",
                            f"Table 1 (Navier-Stokes timings to equal accuracy); {note}."))
    costs = _table1_costs(df, examples)
    if costs is not None:
        items.append(table_item("table1_costs", costs,
                                "Table 1's timings at the paper's iteration counts, without a target: seconds per "
                                "example of the iterated estimator's first 7 and GD's first 20,000 iterations (empty "
                                "where the stored runs stop earlier; never extrapolated), seconds per iteration per "
                                "example, and each relative to the PG network's inference time per example "
                                "(paper: 2.2 s, > 4 h, 0.11 ms; > 10,000×)."))
    sections.append(("Headline numbers", items))

    problems = sorted(df["problem"].dropna().unique()) if not df.empty else []
    if "quadratic2d-v0" in problems:
        it = fig_item("fig2a_trajectories", lambda: F.trajectories(df),
                      "Fig. 2a: paths of gradient descent, Newton's method and iterated inverse physics (PG) on "
                      "y = (x1, x2²) from (3, 3). Circles: 10 steps at the paper's step sizes; lines: small steps. "
                      "In y space the inverse-physics path is a straight line to the target.")
        if it:
            sections.append(("Fig. 2a: 2-D trajectories", [it]))
    for p in problems:
        scales = sorted(df[df["problem"] == p]["scale"].dropna().astype(str).unique()) or ["?"]
        for sc in scales:   # runs of different scales are never averaged together
            sub = df[(df["problem"] == p) & (df["scale"].astype(str) == sc)] if len(scales) > 1 else df
            ex = [e for e in examples if len(scales) == 1 or e["meta"].get("scale") == sc]
            safe = p.replace("/", "_") + (f"_{sc}" if len(scales) > 1 else "")
            what = p + (f" ({sc} scale)" if len(scales) > 1 else "")
            items = [fig_item(f"learning_{safe}", lambda: F.learning_curves(sub, p), _SENTENCES["learning"].format(p=what)),
                     fig_item(f"optimisation_{safe}", lambda: F.optimisation_curves(sub, p),
                              _SENTENCES["optimisation"].format(p=what)),
                     fig_item(f"examples_{safe}", lambda: F.examples_figure(ex, p, status), _SENTENCES["examples"].format(p=what))]
            items = [i for i in items if i]
            if items:
                sections.append((what, items))

    # cost, time to target, profiles, devices
    items = [fig_item("fig14_time_per_iteration", lambda: F.time_per_iteration_figure(df),
                      "Fig. 14: median seconds per training iteration (data generation included, evaluation "
                      "excluded), mean over seeds; one bar colour per machine · device (backend).")]
    sp = speedups(df)
    items.append(table_item("speedups", sp, "Seconds per iteration of every method on every device; 'speedup vs "
                            "reference' = reference method's time / this method's time on the same device (DP "
                            "(Adam) for training, GD for iterative solvers); the last column compares devices."))
    tt = time_to_target(df)
    if not tt.empty:
        agg = (tt.groupby(["problem", "kind", "label", "device_key"], dropna=False)
               .agg(target=("target", "first"), seeds=("run_key", "count"),
                    reached=("time_to_target", lambda s: int(np.isfinite(s.astype(float)).sum())),
                    iterations_to_target=("iterations_to_target", "median"),
                    time_to_target=("time_to_target", "median")).reset_index())
    else:
        agg = tt
    items.append(table_item("time_to_target", agg,
                            "Time to target: the target is the problem's declared x-error target, else the final "
                            "x error of the reference method (DP (Adam) / GD); iterations and seconds until the "
                            "held-out x error first reaches it (training runs resolve this at their evaluation "
                            "cadence), median over the seeds that reached it; 'reached' counts them."))
    items.append(fig_item("time_to_target", lambda: F.time_to_target_figure(agg),
                          "Seconds until the held-out x error first reaches the target, per problem and method "
                          "(median over the seeds that reached it, labelled k/n seeds); 'not reached' where no seed did."))
    for kind in ("training", "iterative"):
        if not tt.empty:
            items.append(fig_item(f"profile_{kind}", lambda: F.performance_profile(tt, kind),
                                  f"Dolan–Moré performance profiles of the {kind} methods, one panel per problem (each "
                                  "problem has its own methods): for each method, the fraction of its runs (seed × "
                                  "device) that reached the target within τ times the fastest method's time on the "
                                  "same seed and device (legend: number of runs)."))
    sections.append(("Cost, time to target and performance profiles", [i for i in items if i]))

    summary = _summary_table(everything)
    summary_sentence = ("Every configuration in the store (also older ones that the figures leave out: figures and "
                        "headline show the newest configuration of each method; 'config' tells configurations of one "
                        "method apart): seeds by status, final x error (held-out): median [min–max] over the ok seeds, or the stored message where no seed is ok; "
                        "medians of loss, iterations, time per iteration and wall time; its runs, linked below.")
    table_item("summary", summary, summary_sentence)   # tables/summary.md and data/summary.csv: every column
    from ..store import run_files
    paths = {p.stem: p for d in dirs for p in run_files(d)}
    conf_html, runs_html = _runs_html(everything, paths, out)
    sections.append(("All runs", [("html", "summary", summary_sentence, conf_html),
                                  ("html", "runs", "Every stored run: status with the divergence rule applied and "
                                   "the stored message (why a run diverged or failed), final x error, iterations, "
                                   "wall time and its parquet file.", runs_html)]))

    try:   # the leaderboard page (pgbench.leaderboard), linked from here
        from .. import leaderboard as LB
        board = LB.build(everything)
        if not board.table.empty:
            fig, data = LB.profile_figure(board)
            if fig is not None:
                fig.savefig(out / "figures" / "leaderboard_profile.png", bbox_inches="tight")
                plt.close(fig)
                data.to_csv(out / "data" / "leaderboard_profile.csv", index=False)
            board.table.to_csv(out / "data" / "leaderboard.csv", index=False)
            (out / "tables" / "leaderboard.md").write_text(LB.markdown(board))
            (out / "leaderboard.html").write_text(LB.html_page(board, "figures/leaderboard_profile.png"
                                                              if fig is not None else None))
            sections.append(("Leaderboard", [("html", "leaderboard", "Every training method ranked per problem by "
                                              "time to target and by x error at equal wall time, with an AlgoPerf-"
                                              "style performance-profile score across problems.",
                                              "<p><a href='leaderboard.html'>leaderboard.html</a></p>")]))
    except Exception as e:   # the leaderboard must not take the report down
        failures.append(f"leaderboard: {type(e).__name__}: {e}")
        plt.close("all")

    if failures:
        sections.append(("Figures that could not be drawn", [("text", "failures", "; ".join(failures), "")]))
    index = out / "index.html"
    index.write_text(_render(sections, df, dirs))
    return index


def _render(sections, df, dirs) -> str:
    devices = sorted(df["device_key"].unique()) if not df.empty else []
    n_runs = df["run_key"].nunique() if not df.empty else 0
    keys = sorted(df["run_key"].astype(str).unique()) if not df.empty else []
    parts = ["<!doctype html><html><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'><title>pgbench report</title><style>",
             "body{font-family:system-ui,sans-serif;max-width:1360px;margin:1.5em auto;padding:0 1em;color:#222;"
             "line-height:1.4}",
             "img{max-width:min(100%,1000px);border:1px solid #eee}",
             ".scroll{overflow-x:auto;max-width:100%;margin:.5em 0 1em}",
             "table.tbl{border-collapse:collapse;font-size:0.8em}",
             "table.tbl th{position:sticky;top:0;background:#f4f4f4;text-align:left;padding:3px 6px;"
             "border-bottom:2px solid #ccc;white-space:nowrap}",
             "table.tbl td{border-bottom:1px solid #e4e4e4;padding:2px 6px;vertical-align:top}",
             "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}",
             "td.txt{max-width:16em;overflow-wrap:break-word}td.wide{max-width:30em;overflow-wrap:break-word}",
             "td.key{font-family:monospace;white-space:nowrap}td.nw{white-space:nowrap}tr:target{background:#fff3b0}",
             "td.st-diverged{color:#a15c00;font-weight:600}td.st-failed{color:#b00020;font-weight:600}",
             "figure{margin:1.2em 0}figcaption{font-size:0.92em;color:#444;max-width:1000px}",
             "h2{border-bottom:2px solid #ccc}p{max-width:1000px}nav a{margin-right:1em;white-space:nowrap}",
             "</style></head><body>",
             "<h1>pgbench report</h1>",
             f"<p>{n_runs} stored runs from {html.escape(', '.join(map(str, dirs)))}; devices: "
             f"{html.escape('; '.join(devices)) or 'none'}. Built "
             f"{_dt.datetime.now().isoformat(timespec='seconds')}. Every figure's numbers are in "
             "<code>data/</code>, every table in <code>tables/</code>; run keys link to the run's row under "
             "<a href='#runs'>All runs</a>.</p><nav>"]
    parts += [f"<a href='#s{i}'>{html.escape(t)}</a>" for i, (t, _) in enumerate(sections)]
    parts.append("</nav>")
    for i, (title, items) in enumerate(sections):
        parts.append(f"<h2 id='s{i}'>{html.escape(title)}</h2>")
        for kind, name, sentence, content in items:
            if kind == "text":
                parts.append(f"<p>{html.escape(sentence)}</p>")
            elif kind == "fig":
                parts.append(f"<figure><img src='{content}' alt='{html.escape(name)}'><figcaption>"
                             f"<b>{html.escape(name)}</b>: {html.escape(sentence)}</figcaption></figure>")
            elif kind == "html":
                parts.append(f"<h3 id='{html.escape(name)}'>{html.escape(name)}</h3><p>{html.escape(sentence)}</p>")
                parts.append(content)
            else:
                parts.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(sentence)}</p>")
                if isinstance(content, pd.DataFrame):
                    parts.append(_html_table(content, keys, wide=("statement", "reason", "claim")))
                else:
                    parts.append(f"<p>{html.escape(str(content).strip('_').strip())}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
