"""Compare two stores run by run: are the iteration-budget runs bit-identical?

    python benchmarks/measure/compare_stores.py BEFORE_STORE AFTER_STORE

For every run key in both stores whose run has no wall-time budget (``max_time`` empty), every
column both files hold is compared bit for bit (NaN equal to NaN), except the timings
(``wall_time``, ``cpu_time``, ``t_*``), the file's ``created`` time and ``pgbench_version``. Columns only one
side has are listed. Runs with a wall-time budget are counted apart (their curves depend on the
clock). Exit status 1 if any compared run differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench import store

SKIP = {"wall_time", "cpu_time", "created", "pgbench_version"}


def _frames(root) -> dict[str, pd.DataFrame]:
    out = {}
    for path in store.run_files(root):
        df = store.read(path)
        out[str(df["run_key"].iloc[0])] = df.sort_values("iteration", kind="stable").reset_index(drop=True)
    return out


def _same(a: pd.Series, b: pd.Series) -> bool:
    x, y = a.to_numpy(), b.to_numpy()
    if x.dtype.kind in "fiu" and y.dtype.kind in "fiu":
        return bool(np.array_equal(x.astype(float), y.astype(float), equal_nan=True))
    return a.astype(str).equals(b.astype(str))


def main(before, after) -> int:
    a, b = _frames(before), _frames(after)
    common = sorted(set(a) & set(b))
    timed = [k for k in common if pd.notna(a[k]["max_time"].iloc[0])]
    compared = [k for k in common if k not in timed]
    differ, only = [], {"before": set(), "after": set()}
    for k in compared:
        x, y = a[k], b[k]
        only["before"] |= set(x.columns) - set(y.columns)
        only["after"] |= set(y.columns) - set(x.columns)
        cols = [c for c in x.columns if c in y.columns and c not in SKIP and not c.startswith("t_")]
        bad = [c for c in cols if len(x) != len(y) or not _same(x[c], y[c])]
        if bad:
            differ.append((k, str(x["problem"].iloc[0]), str(x["label"].iloc[0]), bad))
    print(
        f"runs: before {len(a)}, after {len(b)}, in both {len(common)}; "
        f"only before {len(set(a) - set(b))}, only after {len(set(b) - set(a))}"
    )
    print(f"iteration-budget runs compared: {len(compared)}; wall-time-budget runs (not compared): {len(timed)}")
    print(f"columns only before: {sorted(only['before'])}; only after: {sorted(only['after'])}")
    print(f"bit-identical: {len(compared) - len(differ)} of {len(compared)}")
    for k, problem, label, cols in differ:
        print(f"  differs: {k} {problem} {label}: {', '.join(cols[:8])}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
