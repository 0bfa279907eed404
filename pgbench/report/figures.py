"""The report's figures. Every function takes the tidy frame (with ``device_key``, see
:mod:`pgbench.report.data`) and returns ``(figure, data)``: the matplotlib figure and the exact
numbers drawn, as a DataFrame (the report writes both, so a plot can be checked against the
store). One style for all: seaborn ``paper`` context, white grid, one colour per method label."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..analysis import profiles
from ..analysis.data import curves, final_errors, time_per_iteration, usable
from ..registry import base_name as problem_name

STYLE = dict(context="paper", style="whitegrid", font_scale=1.25)
WIDTH = 7.0  # inches: a full text width
DPI = 150
_LINESTYLES = ["-", "--", ":", "-."]


def set_style():
    sns.set_theme(**STYLE)
    plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "legend.fontsize": 9, "axes.titlesize": 11})


_CANONICAL = {
    "DP (Adam)": 0,
    "Adam": 0,
    "NN (Adam)": 0,
    "Adam (paper)": 0,
    "PG (inverse)": 3,
    "SIP (Newton)": 3,
    "GD": 2,
    "HIG": 1,
    "Supervised": 7,
    "L-BFGS-B": 9,
    "Newton": 4,
    "PG (Newton)": 4,
    "DP (SGD+mom.)": 5,
    "DP (SGD)": 5,
    "SGD": 5,
    "Gauss-Newton": 6,
    "PG (inv. grad.)": 8,
    "Inverse gradient": 8,
    "Adam→HIG": 6,
    "PG (L-BFGS-B)": 9,
    "PG": 3,
}


def palette(labels) -> dict[str, tuple]:
    """Colours for the labels of one figure: the paper's usual methods keep a fixed colour in
    every figure (DP/Adam blue, PG red, GD green, HIG orange, ...); any other label gets a colour
    not used in this figure."""
    colors = sns.color_palette("tab10") + sns.color_palette("Dark2")
    out, used = {}, set()
    labels = list(dict.fromkeys(labels))
    for lab in labels:
        base = lab.replace(" (small steps)", "")
        if base in _CANONICAL and _CANONICAL[base] not in used:
            out[lab] = colors[_CANONICAL[base]]
            used.add(_CANONICAL[base])
    free = [i for i in range(len(colors)) if i not in used]
    for lab in labels:
        if lab not in out:
            out[lab] = colors[free.pop(0) if free else len(out) % len(colors)]
    return out


# what each problem's x error measures, in words, for axis labels (the stored ``x_error_name`` is
# the formula used in tables; every quantity here is in the problem's own dimensionless units)
ERROR_LABELS = {
    "exp": "x error |x − x*|",
    "heat": "x error ‖x − x*‖₁",
    "hig-toy": "x error ‖x − x*‖₂",
    "navier-stokes": "velocity error |v₀ − v₀*|",
    "oscillators": "miss distance ‖s(T) − y*‖₂",
    "poisson": "x error ‖x − x*‖₁",
    "poisson-hig": "x error, mean |x − x*|",
    "poisson-iclr": "x error ‖x − x*‖₁",
    "quadratic2d": "x error ‖x − x*‖₂",
    "quantum-dipole": "infidelity 1 − |⟨ψ*,ψ(T)⟩|²",
    "sin": "x error to nearest minimum",
    "sin2d": "x error to nearest minimum",
    "wavepacket": "position error |ξ₀ − ξ₀*|",
}


def error_label(problem: str, stored_name=None) -> str:
    """The axis label for a problem's x error: :data:`ERROR_LABELS`, else the stored name."""
    if problem_name(problem) in ERROR_LABELS:
        return ERROR_LABELS[problem_name(problem)]
    if stored_name is None or (isinstance(stored_name, float) and math.isnan(stored_name)):
        return "x error"
    name = str(stored_name).split(" (")[0].replace("mean_cells", "mean over cells")
    return "x error " + (name if len(name) <= 28 else name[:26] + "…")


def _axis_name(sub) -> str:
    """The x-error axis label of the rows ``sub`` (one problem)."""
    problems = sub["problem"].dropna() if "problem" in sub else pd.Series(dtype=object)
    stored = sub["x_error_name"].dropna() if "x_error_name" in sub else pd.Series(dtype=object)
    return error_label(str(problems.iloc[0]) if len(problems) else "?", stored.iloc[0] if len(stored) else None)


def _log_ok(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return len(v) > 0 and (v > 0).all() and v.max() / v.min() > 20


def legend(fig, axes):
    """One legend under all panels (each label once); the layout keeps room for it and for the
    figure's title, measured in inches so tall figures get no gaps and no overlaps."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
        if ax.get_legend():
            ax.get_legend().remove()
    height = fig.get_figheight()
    ncol = 1 if not labels else min(4 if max(len(lab) for lab in labels) < 26 else 2, len(labels))
    bottom = (0.1 + 0.24 * math.ceil(len(labels) / max(ncol, 1))) / height if handles else 0
    if handles:
        fig.legend(
            handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0.0), markerscale=2
        )
    top = 1 - 0.36 / height if fig.get_suptitle() else 1
    fig.tight_layout(rect=(0, bottom, 1, top))


def _draw(ax, c: pd.DataFrame, x: str, color, style, label):
    ax.plot(c[x], c["mean"], color=color, ls=style, lw=1.6, label=label)
    if (c["seeds"] > 1).any():
        ax.fill_between(c[x], c["lo"], c["hi"], color=color, alpha=0.2, lw=0)


def learning_curves(df: pd.DataFrame, problem: str):
    """Training runs of ``problem``: x error (running average, mean over seeds, band = min–max over
    seeds) against training iteration and wall time; y loss against iteration; the held-out x error.
    Final x errors of one-shot iterative solvers (run to convergence in one step, e.g. L-BFGS-B)
    on the same held-out batch are drawn as dashed levels (as in Fig. 8)."""
    sub = df[(df["problem"] == problem)]
    train = sub[sub["kind"] == "training"]
    c = curves(train, "x_error")
    if c.empty:
        return None, c
    cl = curves(train, "loss")
    ce = curves(train, "eval_x_error")
    one_shot = sub[(sub["kind"] == "iterative") & (pd.to_numeric(sub.get("budget_iterations"), errors="coerce") == 1)]
    levels = final_errors(one_shot)
    devices = sorted(c["device_key"].unique())
    pal = palette(sorted(c["label"].unique()) + sorted(levels["label"].unique()))
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 5.6))
    name = _axis_name(sub)
    for (label, dev), g in c.groupby(["label", "device_key"]):
        style = _LINESTYLES[devices.index(dev) % 4]
        tag = label if len(devices) == 1 else f"{label} [{dev}]"
        _draw(axes[0, 0], g, "iteration", pal[label], style, tag)
        _draw(axes[0, 1], g, "wall_time", pal[label], style, tag)
    for (label, dev), g in cl.groupby(["label", "device_key"]):
        _draw(
            axes[1, 0], g, "iteration", pal[label], _LINESTYLES[devices.index(dev) % 4] if dev in devices else "-", None
        )
    for (label, dev), g in ce.groupby(["label", "device_key"]):
        axes[1, 1].plot(
            g["iteration"],
            g["mean"],
            marker="o",
            ms=3,
            color=pal[label],
            ls=_LINESTYLES[devices.index(dev) % 4] if dev in devices else "-",
        )
    for label, g in levels.groupby("label"):
        v = float(g["x_error"].mean())
        if math.isfinite(v) and v > 0:
            for ax in (axes[0, 0], axes[0, 1], axes[1, 1]):
                ax.axhline(v, color=pal[label], ls="--", lw=1.2, label=f"{label} (solver)")
    w = int(c["window"].max())
    axes[0, 0].set(xlabel="training iteration", ylabel=f"{name}", title=f"training x error (running avg. {w})")
    axes[0, 1].set(xlabel="wall time [s]", ylabel=name, title="against wall time")
    axes[1, 0].set(xlabel="training iteration", ylabel="loss (y space)", title="training loss")
    axes[1, 1].set(xlabel="training iteration", ylabel=name, title="held-out x error")
    for ax, vals in (
        (axes[0, 0], c["mean"]),
        (axes[0, 1], c["mean"]),
        (axes[1, 0], cl["mean"]),
        (axes[1, 1], ce["mean"]),
    ):
        if _log_ok(vals):
            ax.set_yscale("log")
    fig.suptitle(f"{problem}: learning curves", fontsize=12)
    legend(fig, axes)
    data = pd.concat(
        [c.assign(metric="x_error"), cl.assign(metric="loss"), ce.assign(metric="eval_x_error")], ignore_index=True
    )
    return fig, data


def optimisation_curves(df: pd.DataFrame, problem: str):
    """Iterative solvers on the held-out batch of ``problem``: x error (mean over seeds and the
    batch, no smoothing) against iteration and wall time. One-shot solvers (L-BFGS-B to
    convergence) are a single marker at their end."""
    sub = df[(df["problem"] == problem) & (df["kind"] == "iterative")]
    c = curves(sub, "x_error", window=1)
    if c.empty:
        return None, c
    devices = sorted(c["device_key"].unique())
    pal = palette(sorted(c["label"].unique()))
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4))
    for (label, dev), g in c.groupby(["label", "device_key"]):
        style = _LINESTYLES[devices.index(dev) % 4]
        tag = label if len(devices) == 1 else f"{label} [{dev}]"
        marker = "o" if len(g) <= 12 else None
        for ax, x in zip(axes, ("iteration", "wall_time"), strict=True):
            xs = g[x] + (1 if x == "iteration" else 0)
            ax.plot(xs, g["mean"], color=pal[label], ls=style, marker=marker, ms=4, lw=1.6, label=tag)
            if (g["seeds"] > 1).any():
                ax.fill_between(xs, g["lo"], g["hi"], color=pal[label], alpha=0.2, lw=0)
    name = _axis_name(sub)
    axes[0].set(xlabel="iteration + 1", ylabel=name, title="single-problem optimisation")
    axes[1].set(xlabel="wall time [s]", ylabel=name, title="against wall time")
    if c["iteration"].max() > 50:
        axes[0].set_xscale("log")
    for ax in axes:
        if _log_ok(c["mean"]):
            ax.set_yscale("log")
    fig.suptitle(f"{problem}: iterative solvers", fontsize=12)
    legend(fig, axes)
    return fig, c


def trajectories(df: pd.DataFrame, problem: str = "quadratic2d-v0"):
    """Fig. 2a: x-space (contours of L = x1² + x2⁴) and y-space (y = (x1, x2²)) paths of the
    quadratic2d runs, read from the stored per-iteration coordinates x1, x2. Runs of at most 20
    steps are drawn with circles (constant step), longer ones as lines (≈ infinitesimal steps)."""
    sub = usable(df[df["problem"] == problem])
    if sub.empty or "x1" not in sub or sub["x1"].isna().all():
        return None, pd.DataFrame()
    data = sub[["label", "run_key", "iteration", "x1", "x2"]].dropna().sort_values(["label", "iteration"])
    families = {lab: lab.split(" (")[0] for lab in data["label"].unique()}  # GD, Newton, PG: one colour each
    pal = palette(sorted(set(families.values())))
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.6))
    g1, g2 = np.meshgrid(np.linspace(-0.3, 3.2, 300), np.linspace(-0.1, 3.5, 300))
    axes[0].contour(g1, g2, g1**2 + g2**4, levels=[2.0**i for i in range(-5, 8)], colors="0.8", linewidths=0.7)
    h1, h2 = np.meshgrid(np.linspace(-0.3, 3.2, 300), np.linspace(-0.1, 9.5, 300))
    axes[1].contour(h1, h2, h1**2 + h2**2, levels=[2.0**i for i in range(-5, 8)], colors="0.8", linewidths=0.7)
    for (label, _key), g in data.groupby(["label", "run_key"]):
        fam = families[label]
        short = len(g) <= 21
        kw = dict(
            color=pal[fam],
            lw=1.3 if short else 1.8,
            marker="o" if short else None,
            ms=4,
            ls="-",
            alpha=0.9 if short else 0.6,
        )
        axes[0].plot(g["x1"], g["x2"], label=label, **kw)
        axes[1].plot(g["x1"], g["x2"] ** 2, label=label, **kw)
    axes[0].set(xlim=(-0.3, 3.2), ylim=(-0.1, 3.5), xlabel="x1", ylabel="x2", title="x space")
    axes[1].set(xlim=(-0.3, 3.2), ylim=(-0.1, 9.5), xlabel="y1 = x1", ylabel="y2 = x2²", title="y space")
    fig.suptitle("Fig. 2a: optimisation trajectories from x = (3, 3)", fontsize=12)
    legend(fig, axes)
    return fig, data.assign(y2=data["x2"] ** 2)


def time_per_iteration_figure(df: pd.DataFrame):
    """Fig. 14: median seconds per update step (mean over seeds), per problem and method; the
    device is the hue when several machines are present."""
    t = time_per_iteration(df[df["kind"] == "training"])
    if t.empty:
        return None, t
    problems = sorted(t["problem"].unique())
    devices = sorted(t["device_key"].unique())
    ncol = min(2, len(problems))
    nrow = math.ceil(len(problems) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 2.3 * nrow + 0.8), squeeze=False)
    pal = sns.color_palette("colorblind", len(devices))
    for ax, prob in zip(axes.ravel(), problems, strict=False):
        g = t[t["problem"] == prob]
        sns.barplot(data=g, y="label", x="seconds", hue="device_key", hue_order=devices, palette=pal, ax=ax, orient="h")
        ax.set(title=prob, xlabel="s / iteration", ylabel="")
        if g["seconds"].max() / max(g["seconds"].min(), 1e-12) > 30:
            ax.set_xscale("log")
    for ax in axes.ravel()[len(problems) :]:
        ax.axis("off")
    fig.suptitle("Fig. 14: time per training iteration", fontsize=12)
    legend(fig, axes)
    return fig, t


def performance_profile(runs: pd.DataFrame, kind: str):
    """Dolan–Moré performance profiles of time-to-target (:mod:`pgbench.analysis.profiles`), one
    panel per problem (methods differ between problems, so they are never pooled): instances are
    seed × device; ρ_s(τ) is the fraction of the instances a method ran on where it reached the
    target within τ times the fastest method's time on that instance (never reaching it counts as
    ∞; instances no method solved are left out). Problems where no method reached the target get
    no panel."""
    r = runs[runs["kind"] == kind].copy()
    if r.empty:
        return None, pd.DataFrame()
    r["instance"] = r["seed"].astype(str) + " | " + r["device_key"].astype(str)
    ratios = profiles.ratios(r, ["problem", "instance"], "label", "time_to_target")
    problems = sorted(ratios.table["problem"].unique())
    if not problems:
        return None, pd.DataFrame()
    finite = ratios.table["ratio"][np.isfinite(ratios.table["ratio"])]
    taus = np.logspace(0, max(1.0, np.log10(finite.max()) + 0.3), 200)
    prof = profiles.rho(ratios, taus, by=["problem"]).rename(columns={"method": "label"})
    pal = palette(sorted(prof["label"].unique()))
    ncol = min(3, len(problems))
    nrow = math.ceil(len(problems) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 2.5 * nrow + 0.5), squeeze=False, sharey=True)
    for ax, problem in zip(axes.ravel(), problems, strict=False):
        for label, g in prof[prof["problem"] == problem].groupby("label"):
            ax.step(
                g["tau"],
                g["rho"],
                where="post",
                color=pal[label],
                lw=1.6,
                label=f"{label} ({int(g['instances'].iloc[0])})",
            )
        ax.set(xscale="log", ylim=(-0.03, 1.03), title=problem)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6.5, loc="best", frameon=True, framealpha=0.8, handlelength=1.2)
    for ax in axes[-1]:
        ax.set_xlabel("τ (time to target / best)", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of runs ρ(τ)", fontsize=9)
    for ax in axes.ravel()[len(problems) :]:
        ax.axis("off")
    skipped = sorted(set(r["problem"]) - set(problems))
    title = f"performance profiles, {kind} methods (legend: runs)"
    if skipped:
        import textwrap

        title += "\n" + textwrap.fill("no method reached the target on: " + ", ".join(skipped), 95)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.1 + 0.2 * title.count("\n")) / fig.get_figheight()))
    return fig, prof


def _plain_numbers(ax, axis="x"):
    """Tick labels as plain numbers (``0.5``, ``2e-05``): no offset or exponent text over the label."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def time_to_target_figure(agg: pd.DataFrame):
    """Per problem (and kind): wall time until the held-out x error first reaches the problem's
    target, per method: a dot at the median over the seeds that reached it, labelled "k/n seeds";
    methods that never reached it are marked "not reached". The axis is logarithmic when the
    times span more than a factor 20 (so a fast method is never a bar too thin to see). Problems
    where no method reached the target get no panel; they are listed in the last one."""
    if agg is None or agg.empty:
        return None, pd.DataFrame()
    agg = agg.copy()
    agg["panel"] = agg["problem"].astype(str) + " (" + agg["kind"].astype(str) + ")"
    reached = agg[(agg["reached"] > 0) & np.isfinite(agg["time_to_target"].astype(float))]
    panels = sorted(reached["panel"].unique())
    unreached = sorted(set(agg["panel"]) - set(panels))
    slots = len(panels) + (1 if unreached else 0)
    ncol = min(2, slots)
    nrow = math.ceil(slots / ncol)
    devices = sorted(agg["device_key"].unique())
    heights = [max(1.6, 0.32 * agg[agg["panel"] == p]["label"].nunique() + 0.9) for p in panels] or [1.6]
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(WIDTH, sum(heights[::ncol]) * 1.05 + 1.2 + 0.25 * len(unreached) / 2), squeeze=False
    )
    pal = sns.color_palette("colorblind", len(devices))
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        g = agg[agg["panel"] == panel]
        labels = sorted(g["label"].unique())
        times = g[(g["reached"] > 0)]["time_to_target"].astype(float)
        times = times[np.isfinite(times) & (times > 0)]
        log = len(times) > 0 and times.max() / times.min() > 20
        if log:
            ax.set_xscale("log")
            left, right = times.min() / 3, times.max() * 8
        else:
            left, right = 0.0, (times.max() if len(times) else 1.0) * 1.45
        ax.set_xlim(left, right)
        height = 0.8 / len(devices)
        for d, dev in enumerate(devices):
            for i, lab in enumerate(labels):
                r = g[(g["label"] == lab) & (g["device_key"] == dev)]
                if r.empty:
                    continue
                v = float(r["time_to_target"].iloc[0])
                y = i + (d - (len(devices) - 1) / 2) * height
                k, n = int(r["reached"].iloc[0]), int(r["seeds"].iloc[0])
                if math.isfinite(v) and k > 0:
                    ax.hlines(y, left, v, color=pal[d], lw=2.5, alpha=0.6)
                    ax.plot([v], [y], "o", color=pal[d], ms=6, label=dev)
                    ax.text(v, y, f"  {k}/{n} seeds", va="center", fontsize=7, color="0.3")
                else:
                    ax.text(
                        0.02,
                        y,
                        f"not reached (0/{n} seeds)",
                        va="center",
                        fontsize=7,
                        color="0.45",
                        transform=ax.get_yaxis_transform(),
                    )
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        if not log:
            ax.locator_params(axis="x", nbins=4)
        _plain_numbers(ax)
        t = g["target"].iloc[0]
        ax.set_title(f"{panel}, target {t:.3g}" if math.isfinite(t) else panel, fontsize=9)
        ax.set_xlabel("seconds to target", fontsize=9)
    rest = list(axes.ravel()[len(panels) :])
    for ax in rest:
        ax.axis("off")
    if unreached:
        targets = agg.groupby("panel")["target"].first()
        lines = [f"{p}: target {targets[p]:.3g}" if math.isfinite(targets[p]) else p for p in unreached]
        rest[0].text(
            0.0,
            1.0,
            "No method reached the target:\n" + "\n".join(lines),
            va="top",
            ha="left",
            fontsize=8,
            color="0.3",
            transform=rest[0].transAxes,
        )
    fig.suptitle("time to target", fontsize=12)
    legend(fig, axes)
    return fig, agg
