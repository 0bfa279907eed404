"""The held-out example panels of the report: each method's prediction against the ground truth,
from the ``*.examples.npz`` stored with the runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..registry import base_name as problem_name
from .figures import WIDTH, legend, palette, plt


def clip_range(truth, pad: float = 0.5) -> tuple[float, float]:
    """The value range an example panel shows: the ground truth's range widened by ``pad`` times
    its span on each side (a blown-up prediction must not flatten every other method)."""
    t = np.asarray(truth, dtype=float)
    t = t[np.isfinite(t)]
    if not len(t):
        return -1.0, 1.0
    lo, hi = float(t.min()), float(t.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - pad * span, hi + pad * span


def _clipped_scatter(ax, xs, ys, lo, hi, color, label, marker="o"):
    """Scatter ``ys`` against ``xs`` within [lo, hi]; points outside are drawn as triangles on
    the edge (▲ above, ▼ below). Returns the boolean mask of the points off the scale."""
    ys = np.asarray(ys, dtype=float)
    above, below = ~(ys <= hi) & ~(ys < lo), ys < lo  # NaN/inf count as above
    inside = ~(above | below)
    ax.scatter(xs[inside], ys[inside], s=8, color=color, alpha=0.6, label=label, marker=marker)
    if above.any():
        ax.scatter(xs[above], np.full(above.sum(), hi), s=22, color=color, marker="^", clip_on=False)
    if below.any():
        ax.scatter(xs[below], np.full(below.sum(), lo), s=22, color=color, marker="v", clip_on=False)
    return above | below


def examples_figure(examples: list[dict], problem: str, status: dict | None = None):
    """Example panels from the stored ``*.examples.npz`` of ``problem`` (one run per method, lowest
    seed): signals (y* and each method's P(x)), scatter of x against x* for scalar unknowns, or
    images (y*, each method's P(x) and x, x*) for fields. ``status``: run key → status; a
    diverged run's label says so. Scalar panels show the truth's range (:func:`clip_range`);
    predictions off that scale sit on the edge as triangles, counted in the legend."""
    runs = [e for e in examples if e["meta"].get("problem") == problem]
    if not runs or problem_name(problem) == "quadratic2d":
        return None, pd.DataFrame()
    status = status or {}
    chosen: dict[str, dict] = {}
    for e in sorted(runs, key=lambda e: (e["meta"].get("kind") != "training", e["meta"].get("seed", 0))):
        chosen.setdefault(e["meta"]["label"], e)
    labels = list(chosen)
    pal = palette(sorted(labels))
    ref = chosen[labels[0]]
    x_shape, y_shape = ref["x_true"].shape[1:], ref["y_target"].shape[1:]
    x_size, rows = int(np.prod(x_shape)), []

    def tag(lab):
        st = status.get(chosen[lab]["meta"].get("run_key"))
        return f"{lab} (seed {chosen[lab]['meta'].get('seed')}, {st})" if st and st != "ok" else lab

    if (
        len(y_shape) == 1 and y_shape[0] > 8 and all("y_pred" in e for e in chosen.values()) and x_size <= 2
    ):  # a few numbers behind a long signal (wave packet): the signals
        n = min(3, len(ref["y_target"]))
        fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 1.9 * n + 0.6), squeeze=False)
        for i in range(n):
            ax = axes[i, 0]
            ax.plot(ref["y_target"][i], color="0.6", lw=0.8, label="y* (observed)")
            for lab, e in chosen.items():
                ax.plot(e["y_pred"][i], color=pal[lab], lw=1.4, label=f"{tag(lab)}: P(x)")
                rows.append(
                    {"label": lab, "example": i, "x_pred": e["x_pred"][i].tolist(), "x_true": e["x_true"][i].tolist()}
                )
            ax.set(ylabel=f"example {i}")
        axes[-1, 0].set(xlabel="sample index")
    elif x_size <= 2:
        # scalar unknowns: x against x* (one panel per component), or against the observation y*
        # when the problem has no standalone forward model (sin(a/x): x against a, showing which
        # branch of minima each method lands on); networks and iterative solvers in separate rows
        against_y = all("y_pred" not in e for e in chosen.values()) and int(np.prod(y_shape)) == 1
        kinds = [k for k in ("training", "iterative") if any(e["meta"].get("kind") == k for e in chosen.values())]
        fig, axes = plt.subplots(
            len(kinds), x_size, figsize=(WIDTH * (0.8 if x_size == 1 else 1), 3.0 * len(kinds)), squeeze=False
        )
        for row, kind in enumerate(kinds):
            for k in range(x_size):
                ax = axes[row, k]
                lo, hi = clip_range(ref["x_true"].reshape(len(ref["x_true"]), -1)[:, k])
                first = True
                for lab, e in chosen.items():
                    if e["meta"].get("kind") != kind:
                        continue
                    xt = e["x_true"].reshape(len(e["x_true"]), -1)[:, k]
                    xp = e["x_pred"].reshape(len(e["x_pred"]), -1)[:, k]
                    xs = e["y_target"].reshape(len(e["y_target"]), -1)[:, 0] if against_y else xt
                    if against_y and first:
                        ax.scatter(xs, xt, s=10, color="k", marker="x", lw=0.8, label="x* (closest to the start)")
                    first = False
                    off = np.asarray(~(xp >= lo) | ~(xp <= hi))
                    name = tag(lab) + (f": {int(off.sum())}/{len(off)} off scale" if off.any() else "")
                    _clipped_scatter(ax, xs, xp, lo, hi, pal[lab], name)
                    rows.extend(
                        {
                            "label": lab,
                            "kind": kind,
                            "component": k,
                            "abscissa": a,
                            "x_true": t,
                            "x_pred": b,
                            "off_scale": bool(o),
                        }
                        for a, t, b, o in zip(xs, xt, xp, off, strict=True)
                    )
                if not against_y:
                    ax.plot([lo, hi], [lo, hi], color="k", ls="--", lw=0.8)
                ax.set_ylim(lo, hi)
                ax.set(
                    xlabel="observation y*" if against_y else f"true x*[{k}]",
                    ylabel=f"predicted x[{k}]",
                    title=f"{'networks' if kind == 'training' else 'iterative solvers'}",
                )
    elif len(x_shape) == 1 or (len(x_shape) == 2 and min(x_shape) == 1):
        # signals: the unknown x (a control, a 1-D field) and, beside it, y* with what each x produces
        has_truth = bool(np.any(ref["x_true"][0] != 0))
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2), squeeze=False)
        if has_truth:
            axes[0, 0].plot(ref["x_true"][0].ravel(), color="k", ls="--", lw=1.0, label="x* (truth)")
        y_len = int(np.prod(y_shape))
        mk = "o" if y_len <= 8 else None
        for lab, e in chosen.items():
            axes[0, 0].plot(e["x_pred"][0].ravel(), color=pal[lab], lw=1.3, label=tag(lab))
            if "y_pred" in e:
                axes[0, 1].plot(e["y_pred"][0].ravel(), color=pal[lab], lw=1.3, marker=mk, ms=5)
            rows.append(
                {
                    "label": lab,
                    "example": 0,
                    "x_pred": e["x_pred"][0].ravel().tolist(),
                    "y_pred": e["y_pred"][0].ravel().tolist() if "y_pred" in e else None,
                }
            )
        axes[0, 1].plot(
            ref["y_target"][0].ravel(),
            color="k",
            ls="--",
            lw=1.2,
            marker="x" if mk else None,
            ms=7,
            label="y* (observed)",
        )
        axes[0, 0].set(title="x (example 0)" + ("" if has_truth else ", no ground truth"), xlabel="component index")
        axes[0, 1].set(
            title="y* and what each x produces (example 0)"
            if any("y_pred" in e for e in chosen.values())
            else "y* (example 0)",
            xlabel="component index",
        )
    else:

        def img(a):
            a = np.asarray(a)
            if a.ndim == 3 and a.shape[0] == 2:  # a 2-vector field: its magnitude
                return np.sqrt(a[0] ** 2 + a[1] ** 2)
            return a[-1] if a.ndim == 3 else a

        n = min(2, len(ref["x_true"]))
        has_y = [lab for lab, e in chosen.items() if "y_pred" in e]
        cols: list[tuple[str, Any, str | None]] = (
            [("y*", ref["y_target"], None)]
            + [(f"P(x) {lab}", chosen[lab]["y_pred"], lab) for lab in has_y]
            + [(f"x {lab}", chosen[lab]["x_pred"], lab) for lab in labels]
            + [("x*", ref["x_true"], None)]
        )
        fig, axes = plt.subplots(n, len(cols), figsize=(min(1.55 * len(cols), 14), 1.75 * n + 0.5), squeeze=False)
        for i in range(n):
            xlim = np.nanpercentile(np.abs(img(ref["x_true"][i])), 99.5) or 1.0
            ylim = np.nanpercentile(np.abs(img(ref["y_target"][i])), 99.5) or 1.0
            signed_x = np.nanmin(img(ref["x_true"][i])) < 0
            signed_y = np.nanmin(img(ref["y_target"][i])) < 0
            for j, (title, arr, method) in enumerate(cols):
                a = img(arr[i])
                is_x = title.startswith("x")
                vmax = xlim if is_x else ylim
                signed = signed_x if is_x else signed_y  # one colour map per quantity, set by the truth
                axes[i, j].imshow(
                    a, cmap="RdBu_r" if signed else "viridis", vmin=-vmax if signed else 0, vmax=vmax, origin="lower"
                )
                axes[i, j].set_xticks([])
                axes[i, j].set_yticks([])
                if i == 0:
                    axes[i, j].set_title(title, fontsize=8)
                rows.append(
                    {
                        "label": method or title,
                        "panel": title,
                        "example": i,
                        "mean": float(np.nanmean(a)),
                        "min": float(np.nanmin(a)),
                        "max": float(np.nanmax(a)),
                    }
                )
    fig.suptitle(f"{problem}: held-out examples", fontsize=12)
    if x_size <= 2 or len(x_shape) <= 1:
        legend(fig, axes)
    else:
        fig.tight_layout()
    return fig, pd.DataFrame(rows)
