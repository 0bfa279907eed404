"""The board of tuning campaigns: both rulesets side by side, per problem and overall, read from
the tuning protocols of one or more stores (``<store>/<problem>/tuning-<hash>.json``, written by
:func:`pgbench.tune.tune`; never runs anything).

**Which protocols.** On each problem, the protocols whose rules agree (scale, trials, seeds,
iterations, time budget and its clock, backend, sampler seed, threads: the fields of
:class:`pgbench.tune.Protocol` but the per-method time caps) judge their methods on the same test
seeds, so their methods are ranked together; of several rule sets on one problem the newest file's
is used and the others are named in ``notes``. Of one method in several files, the newest. Newest:
the time the file says it was written (``written``, UTC), else — for files written before pgbench
0.4 — the newest ``created`` stamp of its test runs in the store (a modification time, which a copy
or a checkout resets, only where no run is left; the ``protocol`` column names the file each row
comes from).

**Per problem** (one row per problem × method, :data:`COLUMNS`): under each ruleset — *external*
(the chosen trial's settings) and *self* (the defaults) — the median final held-out x error over
the test seeds, its 90 % bootstrap interval, k/n seeds ok and the tied rank
(:func:`~pgbench.analysis.uncertainty.tied_rank`: overlapping intervals share a rank);
``rank_change`` = self rank − external rank (> 0: tuning moved the method up). A method tuned on
another problem but not on this one gets a row saying why (``reason``): the reason it cannot run
here (planned as :func:`pgbench.planning.plan` would: an optimizer missing on the backend, a
Hessian-based solver on a problem without the capability, ...), or that no protocol here tuned it.

**Overall** (one row per method × ruleset): the performance-profile score of
:mod:`pgbench.analysis.uncertainty` on test errors instead of times — per problem the ratio
:math:`r_{p,m} = e_{p,m} / \\min_m e_{p,m}` of median test errors, credit
:math:`\\max(0, \\tau_{max} - r)/(\\tau_{max} - 1)` averaged over problems (1: the lowest error
everywhere; a method with no ok seed, or not run on a problem, gets no credit there) — with a 90 %
interval from resampling test seeds and problems, a tied rank and P(first); ``rank_change`` as
above. A failed, diverged or over-budget test seed counts as error ∞.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import uncertainty

MAX_RATIO = 4.0
RULESETS = ("external", "self")
COLUMNS = [
    "problem",
    "method",
    "state",  # tuned / cannot run / not tuned
    "reason",
    *(f"{r}_{c}" for r in RULESETS for c in ("error", "lo", "hi", "ok", "seeds", "rank")),
    "rank_change",
    "chosen_settings",
    "trials",
    "protocol",
]
SCORE_COLUMNS = ["method", "ruleset", "score", "score_lo", "score_hi", "rank_tied", "p_first", "problems"]
#: Protocol fields that are not its rules (they may differ between files ranked together)
_NOT_RULES = ("time_caps",)


@dataclass
class TunedBoard:
    """``table`` (:data:`COLUMNS`), ``scores`` (:data:`SCORE_COLUMNS` plus ``rank_change``),
    ``notes`` (protocols left out and why), ``files`` (the protocols read)."""

    table: pd.DataFrame
    scores: pd.DataFrame
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)
    max_ratio: float = MAX_RATIO


def protocol_files(roots) -> list[Path]:
    """Every ``<root>/<problem>/tuning-*.json`` of the given store roots, sorted."""
    return sorted(p for root in roots for p in Path(root).glob("*/tuning-*.json"))


def _rules(protocol: dict) -> str:
    return json.dumps({k: v for k, v in protocol.items() if k not in _NOT_RULES}, sort_keys=True, default=str)


def _seed_errors(m: dict, ruleset: str, folder: Path) -> list[float]:
    """Per test seed the final x error (∞ where not ok): from the protocol file, or for files
    written before it held them, from the stored runs next to it (∞ where a run is missing)."""
    stored = m.get(f"{'tuned' if ruleset == 'external' else 'default'}_errors")
    if stored is not None:
        return [math.inf if v is None else float(v) for v in stored]
    from ..analysis.summary import summarize
    from ..record import RunRecord
    from ..store import read

    out = []
    for key in m.get("tuned_runs" if ruleset == "external" else "default_runs", []):
        path = folder / f"{key}.parquet"
        try:
            rec = RunRecord.from_frame(read(path))
        except Exception:  # a lost or damaged run: no error to show
            out.append(math.inf)
            continue
        x = summarize(rec).x_error
        out.append(float(x) if rec.status == "ok" and x is not None and math.isfinite(x) else math.inf)
    return out


def _written(data: dict, f: Path) -> str:
    """When a protocol file was written (UTC, ISO 8601): as it says, else — for files written
    before pgbench 0.4 — the newest ``created`` stamp of the runs it names (what the store says,
    unlike a modification time, which a copy or a checkout resets), else its modification time."""
    written = data.get("written")
    if isinstance(written, str) and written:
        return written
    from ..store import read

    stamps = []
    for m in data.get("methods", []):
        for key in [*m.get("tuned_runs", []), *m.get("default_runs", [])]:
            try:
                created = read(f.parent / f"{key}.parquet", columns=["created"])["created"]
            except Exception:  # a lost or damaged run says nothing about when the file was written
                continue
            stamps += [str(c) for c in created.dropna().unique()]
    if stamps:
        return max(stamps)
    return datetime.datetime.fromtimestamp(f.stat().st_mtime, datetime.timezone.utc).isoformat(timespec="seconds")


def _load(files: list[Path], notes: list) -> dict[str, dict[str, tuple[dict, dict, Path]]]:
    """problem → method label → (method record, protocol, file): per problem the newest rules."""
    by_problem: dict[str, list[tuple[str, Path, dict]]] = {}
    for f in files:
        try:
            data = json.loads(f.read_text())
            problem = f.parent.name
            if not isinstance(data["protocol"]["problem"], str) or not isinstance(data["methods"], list):
                raise TypeError("no protocol problem or no methods list")
        except (OSError, ValueError, KeyError, TypeError) as e:
            notes.append(f"{f}: not a tuning protocol ({type(e).__name__}: {e}); left out")
            continue
        by_problem.setdefault(problem, []).append((_written(data, f), f, data))
    out: dict[str, dict[str, tuple[dict, dict, Path]]] = {}
    for problem, found in sorted(by_problem.items()):
        found.sort(key=lambda x: (x[0], str(x[1])))
        rules = _rules(found[-1][2]["protocol"])
        methods: dict[str, tuple[dict, dict, Path]] = {}
        for _, f, data in found:  # oldest first: the newest file's method wins
            if _rules(data["protocol"]) != rules:
                notes.append(f"{problem}: {f.name} left out (other rules than the newest: seeds, trials, budget...)")
                continue
            for m in data["methods"]:
                methods[m["label"]] = (m, data["protocol"], f)
        out[problem] = methods
    return out


def _why_not(problem: str, method: dict, protocol: dict) -> tuple[str, str]:
    """``(state, reason)`` for a method absent from ``problem``'s protocols."""
    from ..planning import plan
    from ..registry import PROBLEMS

    if problem not in PROBLEMS:
        return "not tuned", f"problem {problem} is not registered here (load its plugin) to say whether it could run"
    try:
        plan(problem, method["solver"], scale=protocol.get("scale", "quick"), backend=protocol.get("backend", "torch"),
             **method.get("settings", {}))  # fmt: skip
    except Exception as e:  # incompatible, missing optimizer or library, bad setting: the reason
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        return "cannot run", text
    return "not tuned", "can run here, but no tuning protocol on this problem includes it"


def _ruleset_cells(errors: list[float]) -> dict:
    lo, hi = uncertainty.seed_interval(errors)
    return {
        "error": float(np.median(errors)) if errors else math.nan,
        "lo": lo,
        "hi": hi,
        "ok": int(np.sum(np.isfinite(errors))),
        "seeds": len(errors),
    }


def build(roots, max_ratio: float = MAX_RATIO) -> TunedBoard:
    """The board of every tuning protocol under ``roots`` (module docstring)."""
    if not max_ratio > 1:
        raise ValueError(f"max_ratio must be > 1, got {max_ratio}")
    notes: list[str] = []
    files = protocol_files(roots)
    loaded = _load(files, notes)
    everywhere: dict[str, tuple[dict, dict]] = {}
    for methods in loaded.values():
        for label, (m, protocol, _) in methods.items():
            everywhere.setdefault(label, (m, protocol))
    rows: list[dict] = []
    seeds: list[dict] = []
    for problem, methods in loaded.items():
        prow: list[dict] = []
        for label, (m, _, f) in sorted(methods.items()):
            row: dict = {"problem": problem, "method": label, "state": "tuned", "reason": "", "protocol": f.name}
            for ruleset in RULESETS:
                errors = _seed_errors(m, ruleset, f.parent)
                row.update({f"{ruleset}_{k}": v for k, v in _ruleset_cells(errors).items()})
                seeds.extend({"problem": problem, "method": label, "ruleset": ruleset, "time": e} for e in errors)
            row["chosen_settings"] = json.dumps(m.get("chosen_settings", {}), sort_keys=True)
            row["trials"] = len(m.get("trials", []))
            prow.append(row)
        for ruleset in RULESETS:
            ranks = uncertainty.tied_rank([r[f"{ruleset}_lo"] for r in prow], [r[f"{ruleset}_hi"] for r in prow])
            for r, k in zip(prow, ranks, strict=True):
                r[f"{ruleset}_rank"] = k
        for r in prow:
            r["rank_change"] = r["self_rank"] - r["external_rank"]
        for label, (m, protocol) in sorted(everywhere.items()):
            if label not in methods:
                state, reason = _why_not(problem, m, protocol)
                prow.append({"problem": problem, "method": label, "state": state, "reason": reason})
        rows.extend(prow)
    table = pd.DataFrame(rows, columns=COLUMNS)
    scores = _scores(pd.DataFrame(seeds, columns=["problem", "method", "ruleset", "time"]), max_ratio)
    return TunedBoard(table, scores, notes, [str(f) for f in files], max_ratio)


def _scores(seeds: pd.DataFrame, max_ratio: float) -> pd.DataFrame:
    """Per method and ruleset the profile score on test errors with its interval, tied rank and
    P(first) (:func:`pgbench.analysis.uncertainty.score_intervals`); ``rank_change`` per method."""
    parts = []
    for ruleset in RULESETS:
        sub = seeds[seeds["ruleset"] == ruleset]
        if sub.empty:
            continue
        spread = uncertainty.score_intervals(sub[["problem", "method", "time"]], max_ratio).table
        spread["ruleset"] = ruleset
        spread["problems"] = spread["method"].map(sub.groupby("method")["problem"].nunique())
        parts.append(spread)
    if not parts:
        return pd.DataFrame(columns=[*SCORE_COLUMNS, "rank_change"])
    out = pd.concat(parts, ignore_index=True)[SCORE_COLUMNS]
    rank = out.pivot(index="method", columns="ruleset", values="rank_tied")
    change = (rank.get("self") - rank.get("external")) if {"self", "external"} <= set(rank.columns) else None
    out["rank_change"] = out["method"].map(change) if change is not None else math.nan
    return out


__all__ = ["TunedBoard", "build", "protocol_files", "COLUMNS", "SCORE_COLUMNS", "RULESETS", "MAX_RATIO"]
