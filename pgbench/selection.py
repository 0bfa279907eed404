"""Stored runs picked by problem and solver ids (``pgbench results`` / ``leaderboard`` filters):
an id with or without its version (``sin`` or ``sin-v0``), a solver also by its label."""

from __future__ import annotations

import pandas as pd

from .registry import PROBLEMS, SOLVERS, base_name, suggest


def unknown(kind: str, names, ids, labels=None) -> str | None:
    """The message for the first of ``names`` (``kind``: ``problem`` or ``solver``) that is
    neither among the stored ``ids`` (or ``labels``) nor registered, else None (a registered id
    with no stored runs is not bad input)."""
    if not names or ids is None:
        return None
    known = set(ids.dropna().astype(str))
    known |= {base_name(i) for i in known}
    if labels is not None:
        known |= set(labels.dropna().astype(str))
    registry = PROBLEMS if kind == "problem" else SOLVERS
    for name in names:
        if name not in known and name not in registry:
            return f"--{kind} {name!r}: no such {kind} in the store" + suggest(name, known).replace(
                "; registered:", "; stored:"
            )
    return None


def select_runs(df: pd.DataFrame, problems=(), solvers=()) -> pd.DataFrame:
    """The rows of ``df`` whose problem is in ``problems`` and whose solver (id or label) is in
    ``solvers``; an empty list keeps every one."""
    if problems:
        names = set(problems)
        df = df[df["problem"].isin(names) | df["problem"].map(base_name).isin(names)]
    if solvers:
        names = set(solvers)
        df = df[
            df["solver"].isin(names)
            | df["solver"].map(base_name).isin(names)
            | (df["label"].isin(names) if "label" in df else False)
        ]
    return df
