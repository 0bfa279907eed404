"""The cases of the peer comparison and its ratio table (pure functions, no subprocesses).

A *measurement* is a dict ``{"side", "experiment", "method", "backend", "seconds", "median"}`` with
``side`` one of ``pgbench`` / ``peer`` / ``authors`` and ``seconds`` the per-iteration wall times
(the first includes compilation and warm-up; ``median`` is over the rest). The table has one row
per (experiment, method, pgbench backend) with the speed-up :math:`t_{peer} / t_{pgbench}` (and
:math:`t_{authors} / t_{pgbench}` where the authors' code was timed too).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One experiment × method: pgbench ids, the peer's method name, the authors' method name
    (None: their script cannot be timed by ``time_authors_code.py``), the paper's speed-up target."""

    experiment: str
    method: str          # "dp" or "pg" (pgbench solver id = peer method)
    label: str           # the paper's name of the method
    problem: str         # pgbench problem id
    authors: str | None  # method name in the authors' script
    target: float        # aimed-for speed-up over the authors' code on the same GPU


CASES = (
    Case("heat", "dp", "Adam", "heat-v0", "Adam", 30.0),
    Case("heat", "pg", "Adam + PG", "heat-v0", "Adam + PG", 30.0),
    Case("poisson", "dp", "Adam", "poisson-v0", "Adam", 100.0),
    Case("poisson", "pg", "SIP", "poisson-v0", "SIP", 100.0),
    Case("navier-stokes", "dp", "Adam (DP)", "navier-stokes-v0", "GD", 100.0),
    Case("navier-stokes", "pg", "PG", "navier-stokes-v0", "PG", 100.0),
)
EXPERIMENTS = tuple(dict.fromkeys(c.experiment for c in CASES))


def cases(experiments=EXPERIMENTS) -> list[Case]:
    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"unknown experiments {sorted(unknown)}; expected some of {list(EXPERIMENTS)}")
    return [c for c in CASES if c.experiment in experiments]


def median_after_first(seconds) -> float:
    """Median of the per-iteration times after the first (which includes compilation)."""
    seconds = [float(s) for s in seconds]
    if not seconds:
        return math.nan
    return statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]


def _find(measurements, side, experiment, method, backend=None):
    for m in measurements:
        if (m["side"], m["experiment"], m["method"]) == (side, experiment, method) and \
                (backend is None or m.get("backend") == backend) and m.get("median") is not None:
            return m
    return None


def ratio_rows(measurements: list[dict], backends=("torch", "jax")) -> list[dict]:
    """One row per case and pgbench backend that was measured: medians and speed-ups (NaN where a
    side is missing or failed)."""
    rows = []
    for c in CASES:
        peer = _find(measurements, "peer", c.experiment, c.method)
        authors = _find(measurements, "authors", c.experiment, c.method)
        for b in backends:
            ours = _find(measurements, "pgbench", c.experiment, c.method, b)
            if ours is None:
                continue
            t = ours["median"]
            tp = peer["median"] if peer else math.nan
            ta = authors["median"] if authors else math.nan
            row = {"experiment": c.experiment, "method": c.label, "solver": c.method, "backend": b,
                   "pgbench_s": t, "peer_s": tp, "speedup_vs_peer": tp / t if t > 0 else math.nan,
                   "authors_s": ta, "speedup_vs_authors": ta / t if t > 0 else math.nan,
                   "target": c.target}
            before = _find(measurements, "pgbench-before", c.experiment, c.method, b)
            if before is not None:
                tb = before["median"]
                row.update(before_s=tb, before_speedup_vs_peer=tp / tb if tb > 0 else math.nan)
            if peer and ours.get("cpu_median") is not None and peer.get("cpu_median") is not None:
                row["cpu_speedup_vs_peer"] = _ratio(peer["cpu_median"], ours["cpu_median"])
                if before is not None and before.get("cpu_median") is not None:
                    row["before_cpu_speedup_vs_peer"] = _ratio(peer["cpu_median"], before["cpu_median"])
            rows.append(row)
    return rows


def _ratio(a, b) -> float:
    return a / b if b and b > 0 else math.nan


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}g}"


def _x(v):
    return "–" if v is None or math.isnan(v) else f"{v:.3g}×"


def markdown(rows: list[dict], header: str = "") -> str:
    """The ratio table as markdown (speed-up = other's seconds / pgbench's seconds). With a
    ``pgbench-before`` side: its seconds and speed-up next to pgbench's; with CPU times: the
    speed-ups in process CPU time too (robust to other processes sharing the cores)."""
    with_authors = any(not math.isnan(r["authors_s"]) for r in rows)
    with_before = any("before_s" in r for r in rows)
    with_cpu = any("cpu_speedup_vs_peer" in r for r in rows)
    cols = ["experiment", "method", "backend"]
    if with_before:
        cols += ["before s/it", "before speed-up vs peer"]
    cols += ["pgbench s/it", "PhiFlow peer s/it", "speed-up vs peer"]
    if with_cpu:
        cols += (["before speed-up, CPU time"] if with_before else []) + ["speed-up, CPU time"]
    if with_authors:
        cols += ["authors' code s/it", "speed-up vs authors"]
    cols += ["GPU target"]
    lines = ([header, ""] if header else []) + ["| " + " | ".join(cols) + " |",
                                                 "|" + "---|" * len(cols)]
    for r in rows:
        cells = [r["experiment"], r["method"], r["backend"]]
        if with_before:
            cells += [_fmt(r.get("before_s")), _x(r.get("before_speedup_vs_peer"))]
        cells += [_fmt(r["pgbench_s"]), _fmt(r["peer_s"]), _x(r["speedup_vs_peer"])]
        if with_cpu:
            cells += ([_x(r.get("before_cpu_speedup_vs_peer"))] if with_before else []) + [
                _x(r.get("cpu_speedup_vs_peer"))]
        if with_authors:
            cells += [_fmt(r["authors_s"]), _x(r["speedup_vs_authors"])]
        cells += [f"≥{r['target']:.0f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def combine(runs: list[dict]) -> list[dict]:
    """Measurements of several ``compare.py`` runs (their JSON), a later run's measurement of a
    (side, experiment, method, backend) replacing an earlier one; failed measurements never replace."""
    latest: dict = {}
    for run in runs:
        for m in run["measurements"]:
            if m.get("median") is not None:
                latest[(m["side"], m["experiment"], m["method"], m.get("backend"))] = m
    return list(latest.values())


def main(argv=None) -> int:
    """``python table.py RUN.json ... --out PREFIX``: one ratio table from several compare.py runs on
    the same machine (e.g. pgbench re-timed after a change, the peer and authors' code not)."""
    import argparse
    import json
    from pathlib import Path

    ap = argparse.ArgumentParser(description=main.__doc__.split(":")[0])
    ap.add_argument("runs", nargs="+", help="compare.py OUT.json files, oldest first")
    ap.add_argument("--out", required=True, help="writes OUT.json and OUT.md")
    args = ap.parse_args(argv)
    runs = [json.loads(Path(p).read_text()) for p in args.runs]
    measurements = combine(runs)
    rows = ratio_rows(measurements)
    sources = "; ".join(f"`{Path(p).name}` ({r['meta']['date']}, {r['meta']['device']}, {r['meta']['cpu']})"
                        for p, r in zip(args.runs, runs))
    md = markdown(rows, f"Seconds per training iteration, median after the first, combined from: {sources}.")
    Path(args.out + ".json").write_text(json.dumps({"sources": args.runs, "rows": rows,
                                                    "measurements": measurements}, indent=1, default=str))
    Path(args.out + ".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
