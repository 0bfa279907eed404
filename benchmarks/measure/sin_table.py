"""The sin(a/x) table of docs/sin.md from a store: scheme × schedule × seed, the final
running-average x error over the last 1,000 training batches at the end of each run
(:func:`pgbench.analysis.measures.final_running_average`), per seed the ratio DP / PG (inverse) at the
same schedule and optimizer (seeds are paired: same data stream and initial network), and the
number of error spikes after iteration 2,500 (:func:`spikes`).

    python benchmarks/measure/sin_table.py --results results/paper-cpu/runs [--csv out.csv]

Prints a markdown table; diverged runs show "diverged" (no value, not in any ratio).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from pgbench import load_results
from pgbench.analysis.measures import final_running_average, running_average, status_of
from pgbench.numbers import fmt

# label -> (scheme, schedule / optimizer variant, the PG label a DP label is compared with)
ROWS = {
    "DP (Adam)": ("DP, Eq. 1, per-example clip", "constant", "PG (inverse)"),
    "DP (L1, mean-clip)": ("DP, L1, batch-mean clip", "constant", "PG (inverse)"),
    "Supervised": ("Supervised", "constant", "PG (inverse)"),
    "PG (Newton)": ("PG (Newton)", "constant", "PG (inverse)"),
    "PG (inv. grad.)": ("PG (inv. grad.)", "constant", "PG (inverse)"),
    "PG (inverse)": ("PG (inverse)", "constant", None),
    "DP (Adam, cosine)": ("DP, Eq. 1, per-example clip", "cosine", "PG (inverse, cosine)"),
    "PG (inverse, cosine)": ("PG (inverse)", "cosine", None),
    "DP (Adam, step)": ("DP, Eq. 1, per-example clip", "step", "PG (inverse, step)"),
    "PG (inverse, step)": ("PG (inverse)", "step", None),
    "DP (L1, mean-clip, cosine)": ("DP, L1, batch-mean clip", "cosine", "PG (inverse, cosine)"),
    "DP (Adam, AMSGrad)": ("DP, Eq. 1, per-example clip", "AMSGrad", "PG (inverse, AMSGrad)"),
    "PG (inverse, AMSGrad)": ("PG (inverse)", "AMSGrad", None),
}


def spikes(run: pd.DataFrame, start: int = 2500, level: float = 1e-3, smooth: int = 50) -> int:
    """Error spikes after iteration ``start``: upward crossings of ``level`` by the
    ``smooth``-batch running average of the training-batch x error (the count of
    docs/sin_data/sin_spikes.png; meaningful for runs that get below ``level``)."""
    r = run.sort_values("iteration")
    avg = running_average(pd.to_numeric(r["x_error"], errors="coerce").to_numpy(dtype=float), smooth)
    avg = avg[pd.to_numeric(r["iteration"]).to_numpy() > start]
    return int(((avg[1:] > level) & (avg[:-1] <= level)).sum()) if len(avg) > 1 else 0


def sin_table(df: pd.DataFrame, window: int = 1000) -> pd.DataFrame:
    """One row per stored sin training run of a known label: scheme, schedule, seed, iterations,
    status, final running average, and the ratio to its PG partner on the same seed."""
    d = df[(df["problem"] == "sin-v0") & (df["kind"] == "training") & (df["scale"] == "paper")]
    rows = []
    for key, r in d.groupby("run_key"):
        label = str(r["label"].iloc[0])
        if label not in ROWS:
            continue
        status = status_of(r)
        it = int(pd.to_numeric(r["iteration"]).max())
        v = final_running_average(r, window) if status == "ok" else math.nan
        rows.append({"label": label, "scheme": ROWS[label][0], "schedule": ROWS[label][1],
                     "seed": int(r["seed"].iloc[0]), "iterations": it, "status": status, "final_avg": v,
                     "spikes": spikes(r) if status == "ok" else None,
                     "spikes_late": spikes(r, start=it - 5000) if status == "ok" else None, "run_key": str(key)[:8]})
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    t = t.sort_values(["seed", "iterations"]).drop_duplicates(["label", "seed"], keep="last")
    by = {(r.label, r.seed): r.final_avg for r in t.itertuples()}

    def ratio(r):
        pg = ROWS[r.label][2]
        b = by.get((pg, r.seed), math.nan) if pg else math.nan
        return r.final_avg / b if pg and b > 0 and math.isfinite(r.final_avg) else math.nan
    t["ratio_to_pg"] = [ratio(r) for r in t.itertuples()]
    order = {lab: i for i, lab in enumerate(ROWS)}
    return t.sort_values(["label", "seed"], key=lambda c: c.map(order) if c.name == "label" else c)


def markdown(t: pd.DataFrame) -> str:
    out = ["| scheme | schedule | seed | iterations | final running avg. x error | ratio to PG (same seed, "
           "schedule) | spikes after 2.5k / in the last 5k (avg. 50 crossing 1e-3) | run |",
           "|---|---|---|---|---|---|---|---|"]
    for r in t.itertuples():
        v = "diverged" if r.status == "diverged" else fmt(r.final_avg)
        ratio = "" if not math.isfinite(r.ratio_to_pg) else f"{fmt(r.ratio_to_pg)}×"
        sp = "" if r.status != "ok" else f"{int(r.spikes)} / {int(r.spikes_late)}"
        out.append(f"| {r.scheme} | {r.schedule} | {r.seed} | {r.iterations} | {v} | {ratio} | {sp} | {r.run_key} |")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=Path("results/paper-cpu/runs"))
    ap.add_argument("--csv", type=Path, default=None)
    a = ap.parse_args(argv)
    if not a.results.is_dir():
        ap.error(f"no results directory {a.results}")
    t = sin_table(load_results(a.results))
    if a.csv:
        t.to_csv(a.csv, index=False)
    print(markdown(t) if not t.empty else "no paper-scale sin training runs in the store")


if __name__ == "__main__":
    main()
