"""The one reduction of a run to a row, and the tables built from those rows.

:func:`summarize` turns one :class:`~pgbench.record.RunRecord` into a :class:`RunSummary`; it is
the only place a per-run row is assembled: ``pgbench results``, the report, the leaderboard, the
headline, Table 1, sweep outcomes, the asv quality metrics and the scripts all read it.
:func:`per_run` does it for every run of a store under a named target policy
(:mod:`pgbench.analysis.targets`); :func:`per_config` reduces the runs of one configuration to
per-seed statistics. Every number comes from :mod:`pgbench.analysis.measures`.

Per run (:class:`RunSummary`):

======================  ==================================================================================
identity                ``run_key``, problem, scale, solver, label, kind, backend, device name, machine,
                        ``device_key`` (machine · device name (backend)), ``config``
                        (:func:`pgbench.record.config_hash`), seed, ``x_error_name``, ``created``
``status`` / ``message``  as stored: reading never re-applies a divergence rule; ``divergence_rule``
                        names the rule that classified the run (``unrecorded`` for older stores)
``vectorized``          runs (lanes: seeds, settings) that shared its program (1: alone); its wall times are
                        the whole program's
``x_error``             final x-space error (:func:`~pgbench.analysis.measures.final_value`): the last
                        held-out ``eval_x_error`` of a training run, the last ``x_error`` of an iterative run
``train_x_error``       training runs: the last training-batch ``x_error`` (NaN for iterative runs)
``loss``                final y-space loss, same convention (``eval_loss`` / ``loss``); ``train_loss``
``nonfinite``           fraction of examples that are not finite in the last row (held-out for training)
``iterations``          update steps done (the last recorded iteration); ``wall_time``: seconds at the last record;
                        ``cpu_time``: process CPU seconds there (:mod:`pgbench.clocks`; NaN for older stores)
``target``              the x-error target (``target_source``: which policy and where it came from);
                        ``declared_target``: the one declared with the run
``iterations_to_target``  first iteration whose final-metric x error is <= target
``time_to_target``      wall time there; ``cpu_time_to_target`` CPU time there; NaN if never reached
``time_per_iteration``  median seconds per update step
======================  ==================================================================================

:func:`method_names` gives the name a method is shown by (its label; where a label names several
solver ids, with the id added). :func:`per_config` gives ``seeds`` (runs), ``ok`` /
``diverged`` / ``failed`` counts and, over the
``ok`` seeds only, the **median** of each final metric with ``x_error_lo`` / ``x_error_hi`` (min and
max over those seeds): a diverged seed never enters a median; it shows in ``diverged``.
``reached`` counts seeds (ok or diverged) that reached the target; ``iterations_to_target`` and
``time_to_target`` are medians over those; ``time_per_iteration`` the median over ok and diverged runs;
``vectorized`` the most runs (lanes) any of its runs shared a program with (1: every run ran alone; above 1,
its times are those of the shared program).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

from .. import divergence
from ..record import RunRecord, records
from . import measures
from .targets import Target, as_policy, resolve

GROUP = ["problem", "scale", "solver", "label", "backend", "device_name"]
METRICS = [
    "x_error",
    "x_error_lo",
    "x_error_hi",
    "train_x_error",
    "loss",
    "train_loss",
    "nonfinite",
    "iterations",
    "wall_time",
    "cpu_time",
    "target",
    "reached",
    "iterations_to_target",
    "time_to_target",
    "cpu_time_to_target",
    "time_per_iteration",
]


@dataclass(frozen=True)
class RunSummary:
    """One run as one row (module docstring)."""

    run_key: str
    problem: str
    scale: str
    solver: str
    label: str
    kind: str
    backend: str
    device_name: str
    machine: str
    device_key: str
    config: str
    seed: int
    status: str
    message: str
    divergence_rule: str
    vectorized: int
    x_error_name: str
    created: str
    x_error: float
    train_x_error: float
    loss: float
    train_loss: float
    nonfinite: float
    iterations: float
    wall_time: float
    cpu_time: float
    declared_target: float
    target: float
    target_source: str
    iterations_to_target: float
    time_to_target: float
    cpu_time_to_target: float
    time_per_iteration: float


COLUMNS = [f.name for f in fields(RunSummary)]


def device_key(machine, device_name, backend) -> str:
    """The unit results are compared by: ``machine · device name (backend)``."""
    return f"{machine} · {device_name} ({backend})"


def _float(v) -> float:
    try:
        return math.nan if v is None else float(v)
    except (TypeError, ValueError):
        return math.nan


def summarize(record: RunRecord, target: Target | float | None = None) -> RunSummary:
    """``record`` as one row. ``target``: a resolved :class:`~pgbench.analysis.targets.Target`, a
    number, or None (the target declared with the run)."""
    m = record.meta
    declared = measures.target_of(record)
    if target is None:
        target = Target(declared, "declared with the run") if math.isfinite(declared) else Target(math.nan, "none")
    elif not isinstance(target, Target):
        target = Target(_float(target), "given")
    it, t = measures.first_reaching(record, target.value)
    cpu_t = measures.first_reaching(record, target.value, clock="cpu")[1]
    training = record.training
    vec = (m.vectorized_with or {}).get("seeds") or [m.seed]
    return RunSummary(
        run_key=record.run_key,
        problem=str(m.problem),
        scale=str(m.scale),
        solver=str(m.solver),
        label=str(m.label or m.solver),
        kind=m.kind,
        backend=str(m.backend),
        device_name=str(m.device_name),
        machine=str(m.machine),
        device_key=device_key(m.machine, m.device_name, m.backend),
        config=record.config,
        seed=m.seed,
        status=record.status,
        message=record.message,
        divergence_rule=divergence.rule_name(m.divergence_rule),
        vectorized=len(vec),
        x_error_name=str(m.x_error_name),
        created=str(record.created or ""),
        x_error=measures.final_value(record, "x_error"),
        train_x_error=measures.last_value(record, "x_error") if training else math.nan,
        loss=measures.final_value(record, "loss"),
        train_loss=measures.last_value(record, "loss") if training else math.nan,
        nonfinite=measures.final_value(record, "nonfinite"),
        iterations=measures.iterations_done(record),
        wall_time=measures.last_value(record, "wall_time"),
        cpu_time=measures.last_value(record, "cpu_time"),
        declared_target=declared,
        target=target.value,
        target_source=target.source,
        iterations_to_target=it,
        time_to_target=t,
        cpu_time_to_target=cpu_t,
        time_per_iteration=measures.seconds_per_iteration(record),
    )


def _records(runs) -> list[RunRecord]:
    if isinstance(runs, pd.DataFrame):
        if "iteration" in runs:  # the same run found under two roots counts once
            runs = runs.drop_duplicates(subset=["run_key", "iteration"], keep="first")
        return list(records(runs))
    return list(runs)


def reclassified(recs: list[RunRecord], rule: divergence.Rule = divergence.RULE) -> list[RunRecord]:
    """``recs`` with each status and message as ``rule`` classifies it (explicit, never implied
    by reading), the rule recorded in their metadata."""
    out = []
    for r in recs:
        status, message = divergence.reclassify(r, rule)
        meta = replace(r.meta, divergence_rule=rule.as_dict())
        out.append(replace(r, status=status, message=message, meta=meta))
    return out


def per_run(runs, policy=None, kind: str | None = None) -> pd.DataFrame:
    """One :class:`RunSummary` row per run of ``runs`` (a loaded store frame or records), the
    targets resolved per problem and kind under ``policy`` (:mod:`pgbench.analysis.targets`:
    a policy, its name, a number, ``{problem: number}``, or None for ``declared``). ``kind``:
    only runs of that kind."""
    recs = [r for r in _records(runs) if kind is None or r.kind == kind]
    if not recs:
        return pd.DataFrame(columns=COLUMNS)
    rows = [summarize(r) for r in recs]
    targets = resolve(pd.DataFrame([asdict(s) for s in rows]), as_policy(policy))
    rows = [summarize(r, targets[(s.problem, s.kind)]) for r, s in zip(recs, rows, strict=True)]
    return pd.DataFrame([asdict(s) for s in rows], columns=COLUMNS)


def _median(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else math.nan


def per_config(runs, policy=None) -> pd.DataFrame:
    """Per configuration (:data:`GROUP` + ``config``): per-seed medians and spread of the per-run
    metrics, run counts by status and ``reached``. Sorted by problem, solver, label."""
    table = per_run(runs, policy)
    cols = [
        *GROUP,
        "config",
        "kind",
        "x_error_name",
        "seeds",
        "ok",
        "diverged",
        "failed",
        *METRICS,
        "target_source",
        "vectorized",
    ]
    if table.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for keys, g in table.groupby([*GROUP, "config"], sort=True, dropna=False):
        usable = g[g["status"] != "failed"]
        ok = g[g["status"] == "ok"]
        row = dict(zip([*GROUP, "config"], keys, strict=True))
        row.update(
            kind=g["kind"].iloc[0],
            x_error_name=g["x_error_name"].iloc[0],
            seeds=len(g),
            ok=len(ok),
            diverged=int((g["status"] == "diverged").sum()),
            failed=int((g["status"] == "failed").sum()),
        )
        for m in ("x_error", "train_x_error", "loss", "train_loss", "nonfinite", "iterations", "wall_time", "cpu_time"):
            row[m] = _median(ok[m])
        stats = measures.seed_stats(ok["x_error"], n=len(ok))
        row["x_error_lo"], row["x_error_hi"] = stats.lo, stats.hi
        reached = usable[usable["iterations_to_target"].notna()]
        row["target"], row["target_source"] = float(g["target"].iloc[0]), g["target_source"].iloc[0]
        row["reached"] = len(reached)
        row["iterations_to_target"] = _median(reached["iterations_to_target"])
        row["time_to_target"] = _median(reached["time_to_target"])
        row["cpu_time_to_target"] = _median(reached["cpu_time_to_target"])
        row["time_per_iteration"] = _median(usable["time_per_iteration"])
        row["vectorized"] = int(g["vectorized"].max())
        out.append(row)
    return pd.DataFrame(out, columns=cols).reset_index(drop=True)


def method_names(frame: pd.DataFrame) -> pd.Series:
    """The name each row's method is shown by: its label (else its solver id), with the solver id
    added where the label names several solver ids of one kind in ``frame`` (``gd (gd-v1)``; on
    every problem, so one method keeps one name across problems): runs of two solvers are never
    shown, or grouped by name, as one method. A label shared by a training scheme and an
    iterative solver (the paper's "PG (inverse)") is left as it is: kinds are never pooled.
    ``frame``: rows with label, solver and kind (per run, per configuration or per recorded row;
    without a solver column the labels as they are)."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    label = frame["label"] if "label" in frame else pd.Series(None, index=frame.index, dtype=object)
    if "solver" not in frame:  # nothing to tell apart by
        return label.astype(str)
    solver = frame["solver"].astype(str)
    name = label.where(label.map(lambda v: isinstance(v, str) and v != ""), solver).astype(str)
    kind = frame["kind"].astype(str) if "kind" in frame else pd.Series("", index=frame.index)
    several = solver.groupby([kind, name]).transform("nunique") > 1
    return name.where(~several, name + " (" + solver + ")")


def rule_notes(table: pd.DataFrame) -> list[str]:
    """What a reader must know about the divergence rules behind a per-run table: runs classified
    under a rule other than the current one, or under none recorded."""
    if table.empty or "divergence_rule" not in table:
        return []
    current = divergence.rule_name(divergence.RULE.as_dict())
    other = table[table["divergence_rule"] != current]
    if other.empty:
        return []
    counts = other["divergence_rule"].value_counts()
    listed = ", ".join(f"{n} under {rule}" for rule, n in counts.items())
    return [
        (
            f"{len(other)} of {len(table)} runs were classified by another divergence rule than {current} "
            f"({listed}); their stored status is shown; --reclassify applies {current}"
        )
    ]


__all__ = [
    "RunSummary",
    "summarize",
    "per_run",
    "per_config",
    "reclassified",
    "method_names",
    "rule_notes",
    "device_key",
    "GROUP",
    "METRICS",
    "COLUMNS",
]
