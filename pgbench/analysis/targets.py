"""Targets for "time to target": named policies and the one resolver every table uses.

A target is the x error a run must reach. Every consumer (``pgbench results``, the report and its
time-to-target figure, the leaderboard, Table 1) names a :class:`TargetPolicy` and gets its
targets from :func:`resolve`, so for one store and one policy they rank against the same numbers:

=====================  ==========================================================================
``declared``           the target declared with the runs (``target_x_error``, stored when they
                       ran), else the registered problem's
``worst-reference``    the worst final x error over the ``ok`` seeds of the reference method: what
                       every seed of the baseline reaches within its budget (AlgoPerf sets its
                       targets from a baseline the same way)
``median-reference``   the median of those final errors
``given``              a number for every problem, or ``{problem: number}``
=====================  ==========================================================================

The reference method is ``reference`` (a label) if the policy names one, else the first of
:data:`REFERENCE_LABELS` present for the kind of method (DP with Adam for training, GD for
iterative solvers). A policy that yields nothing for a problem (no ``ok`` reference seed, a
problem missing from a ``given`` mapping) falls back to ``declared``, and the target's
``source`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..registry import PROBLEMS, base_name

POLICIES = ("declared", "worst-reference", "median-reference", "given")
REFERENCE_LABELS = {
    "training": ("DP (Adam)", "Adam", "NN (Adam)", "Adam (paper)", "DP (SGD)"),
    "iterative": ("GD", "Adam", "L-BFGS-B"),
}


@dataclass(frozen=True)
class TargetPolicy:
    """How a problem's target is chosen (module docstring). ``value``: the ``given`` number or
    ``{problem: number}`` (problem ids or names); ``reference``: the reference method's label."""

    name: str = "declared"
    value: float | Mapping | None = None
    reference: str | None = None

    def __post_init__(self):
        if self.name not in POLICIES:
            raise ValueError(f"unknown target policy {self.name!r}; one of {', '.join(POLICIES)}")
        if (self.name == "given") != (self.value is not None):
            raise ValueError("a 'given' target policy needs a value, and only it takes one")
        values = self.value.values() if isinstance(self.value, Mapping) else [self.value]
        for v in values if self.value is not None else []:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"a target must be a finite number > 0, got {v!r}")

    def __str__(self) -> str:
        if self.name == "given":
            return f"given {self.value}"
        return self.name + (f" ({self.reference})" if self.reference else "")


DECLARED = TargetPolicy("declared")
WORST_REFERENCE = TargetPolicy("worst-reference")


def as_policy(spec) -> TargetPolicy:
    """A policy from a policy, a policy name, a number or ``{problem: number}`` (both ``given``),
    or None (``declared``)."""
    if spec is None:
        return DECLARED
    if isinstance(spec, TargetPolicy):
        return spec
    if isinstance(spec, str):
        return TargetPolicy(spec)
    if isinstance(spec, Mapping):
        return TargetPolicy("given", dict(spec))
    return TargetPolicy("given", float(spec))


def from_option(items, default=None) -> TargetPolicy:
    """The ``--target`` option's values as a policy: a policy name (``worst-reference``, …), one
    number for every problem, or ``PROBLEM=X`` pairs; none: ``default`` (as :func:`as_policy`).
    Raises ValueError with the option's message for anything else."""
    items = list(items)
    if len(items) == 1 and items[0] in POLICIES and items[0] != "given":
        return TargetPolicy(items[0])
    given: float | dict[str, float] | None = None
    for item in items:
        name, _, value = item.rpartition("=")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(
                f"--target must be {', '.join(p for p in POLICIES if p != 'given')}, X or "
                f"PROBLEM=X with X a number > 0, got {item!r}"
            ) from None
        if not 0 < v < math.inf:  # nan, inf and 1e400 (inf as a float) too
            raise ValueError(f"--target must be a finite number > 0, got {item!r}")
        if name:
            given = {**(given if isinstance(given, dict) else {}), name: v}
        elif isinstance(given, dict):
            raise ValueError("--target: give one number for every problem or PROBLEM=X pairs, not both")
        else:
            given = v
    return as_policy(default) if given is None else TargetPolicy("given", given)


@dataclass(frozen=True)
class Target:
    """A problem's resolved target and where it came from."""

    value: float
    source: str


def declared_target(problem: str) -> float | None:
    """The registered problem's ``target_x_error`` (None if it has none or is not registered)."""
    try:
        value = PROBLEMS.resolve(problem).load().target_x_error
    except Exception:  # a problem of a plugin not loaded here: it has no declared target
        return None
    return None if value is None else float(value)


def reference_label(labels, kind: str, reference: str | None = None) -> str | None:
    """The reference method among ``labels``: ``reference`` if given (None when absent), else the
    first of :data:`REFERENCE_LABELS` present, else the first label alphabetically."""
    labels = [str(x) for x in labels]
    if reference is not None:
        return reference if reference in labels else None
    for cand in REFERENCE_LABELS.get(kind, ()):
        if cand in labels:
            return cand
    return sorted(labels)[0] if labels else None


def _declared(problem: str, runs: pd.DataFrame) -> Target:
    stored = (
        pd.to_numeric(runs["declared_target"], errors="coerce").dropna()
        if "declared_target" in runs
        else pd.Series(dtype=float)
    )
    if len(stored):
        return Target(float(stored.iloc[0]), "declared with the runs")
    v = declared_target(problem)
    return Target(float(v), "declared by the problem") if v is not None else Target(math.nan, "none")


def _given(policy: TargetPolicy, problem: str) -> float | None:
    if policy.value is None:
        return None
    if not isinstance(policy.value, Mapping):
        return float(policy.value)
    v = policy.value.get(problem, policy.value.get(base_name(problem)))
    return None if v is None else float(v)


def resolve_one(problem: str, runs: pd.DataFrame, policy: TargetPolicy, kind: str) -> Target:
    """The target of ``problem`` from its runs of ``kind`` (a per-run frame with columns
    ``label``, ``status``, ``x_error`` (final) and ``declared_target``)."""
    if policy.name == "given":
        v = _given(policy, problem)
        if v is not None:
            return Target(v, "given")
        fallback = _declared(problem, runs)
        return Target(fallback.value, f"not given; {fallback.source}")
    if policy.name == "declared":
        return _declared(problem, runs)
    ref = reference_label(runs["label"].dropna().unique(), kind, policy.reference)
    finals = pd.to_numeric(runs[(runs["label"] == ref) & (runs["status"] == "ok")]["x_error"], errors="coerce")
    finals = finals[np.isfinite(finals)]
    if len(finals):
        worst = policy.name == "worst-reference"
        value = float(finals.max() if worst else finals.median())
        return Target(value, f"{'worst' if worst else 'median'} final error of {ref} ({len(finals)} seeds)")
    fallback = _declared(problem, runs)
    return Target(fallback.value, f"no ok seed of {ref or policy.reference or 'a reference'}; {fallback.source}")


def resolve(runs: pd.DataFrame, policy=None, kind: str | None = None) -> dict[tuple[str, str], Target]:
    """Per ``(problem, kind)``, its target under ``policy`` (see :func:`resolve_one`) from the per-run frame
    ``runs`` (:func:`pgbench.analysis.summary.per_run` columns), restricted to ``kind`` when given."""
    policy = as_policy(policy)
    if runs is None or runs.empty:
        return {}
    out = {}
    for (problem, k), g in runs.groupby(["problem", "kind"], sort=True):
        if kind is None or k == kind:
            out[(str(problem), str(k))] = resolve_one(str(problem), g, policy, str(k))
    return out


__all__ = [
    "TargetPolicy",
    "Target",
    "as_policy",
    "from_option",
    "resolve",
    "resolve_one",
    "declared_target",
    "reference_label",
    "POLICIES",
    "REFERENCE_LABELS",
    "DECLARED",
    "WORST_REFERENCE",
]
