"""The ``--target`` option's text as x-error targets: one number for every problem, or
``PROBLEM=X`` pairs (the leaderboard's ``targets`` argument)."""

from __future__ import annotations


def parse_targets(items) -> float | dict[str, float] | None:
    """``["1e-3"]`` -> ``0.001``; ``["sin-v0=0.1", "exp-v0=2"]`` -> ``{"sin-v0": 0.1, "exp-v0": 2.0}``;
    no items -> None. Raises ValueError (with the option's message) for a value that is not a
    number > 0 or for a number mixed with pairs."""
    targets: float | dict[str, float] | None = None
    for item in items:
        name, _, value = item.rpartition("=")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"--target must be X or PROBLEM=X with X a number > 0, got {item!r}") from None
        if not v > 0:
            raise ValueError(f"--target must be > 0, got {item!r}")
        if name:
            targets = {**(targets if isinstance(targets, dict) else {}), name: v}
        elif isinstance(targets, dict):
            raise ValueError("--target: give one number for every problem or PROBLEM=X pairs, not both")
        else:
            targets = v
    return targets
