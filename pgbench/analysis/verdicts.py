"""The verdict rule of the headline table, for every kind of claim, in one place.

A claim is declared once as a :class:`Rule`: its ``kind``, the paper's number (or range), its
``reading`` (what measured quantity the paper's words are read as), a tolerance ``tol`` and a wider
qualitative tolerance ``qual`` (both factors on the log scale), the ``null`` value that means "no
effect" (the direction of the claim is the side of it the paper's number is on) and whether the
number is ``machine_bound`` (a cost or time ratio of the hardware, not of the method).

**Per seed**, a numeric value ``v`` (factor, level, iterations) gets a tier; with
``d = |log(v / paper)|`` (0 inside a range, else the distance to its nearer end):

* 3 *reproduced*: on the paper's side of ``null`` and ``d ≤ log(tol)``;
* 2 *reproduced qualitatively*: on the paper's side and ``d ≤ log(qual)``;
* 1 *direction only*: on the paper's side (only for claims with a ``null``);
* 0 *not reproduced*: otherwise, and for a seed without a finite value (diverged, not reached).

A true/false claim (``ordering``: a method ranks below others; ``qualitative``: a stated property)
gets tier 3 on the seeds where it holds, 0 elsewhere.

A claim that a property holds **only for some seeds** (``some_seeds``: "converges only for certain
initializations") is about the set of seeds, not about each: it is *reproduced* when the property
holds on at least one seed and fails on at least one (``0 < k < n``, so ``n ≥ 2``), *not
reproduced* otherwise; ``k/n`` counts the seeds it holds on.

**The verdict** is the highest tier reached by a strict majority of the ``n`` seeds asked about
(``k > n / 2``; seeds without a value count in ``n``); ``k/n`` counts the seeds at or above that
tier. Without a majority for any tier: *not reproduced*, ``k`` the seeds of tier 0. Runs of a reduced
scale (not ``paper``) are capped at *reproduced qualitatively*: the paper's numbers belong to its
sizes. A machine-bound claim is judged only on the paper's hardware class (a GPU); elsewhere it
reads *machine-bound: not judged* (the value is still shown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

FACTOR, LEVEL, ITERATIONS, ORDERING, QUALITATIVE_KIND = "factor", "level", "iterations", "ordering", "qualitative"
SOME_SEEDS = "some seeds"
KINDS = (FACTOR, LEVEL, ITERATIONS, ORDERING, QUALITATIVE_KIND, SOME_SEEDS)

REPRODUCED = "reproduced"
QUALITATIVE = "reproduced qualitatively"
DIRECTION = "direction only"
NOT_REPRODUCED = "not reproduced"
MACHINE_BOUND = "machine-bound: not judged"
NOT_AT_SCALE = "not measured at this scale"
VERDICTS = (REPRODUCED, QUALITATIVE, DIRECTION, NOT_REPRODUCED, MACHINE_BOUND, NOT_AT_SCALE)
_TIERS = {3: REPRODUCED, 2: QUALITATIVE, 1: DIRECTION, 0: NOT_REPRODUCED}
_SLACK = 1e-9  # on the log scale: a value exactly on a tolerance's edge is inside it


@dataclass(frozen=True)
class Rule:
    """How one claim is judged; see the module docstring. ``paper``: the paper's number in the
    units of the measured quantity (after the ``reading``), or ``(lo, hi)``; None for true/false
    kinds. ``tol`` ≤ ``qual``: factors (≥ 1) on the log scale."""

    kind: str
    paper: float | tuple[float, float] | None
    reading: str
    tol: float = 1.5
    qual: float = 3.0
    null: float | None = None
    machine_bound: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.numeric and (self.paper is None or not 1 <= self.tol <= self.qual):
            raise ValueError(f"a {self.kind} rule needs the paper's number and 1 ≤ tol ≤ qual")

    @property
    def numeric(self) -> bool:
        return self.kind in (FACTOR, LEVEL, ITERATIONS)

    @property
    def bounds(self) -> tuple[float, float]:
        p = self.paper
        return (float(p[0]), float(p[1])) if isinstance(p, tuple) else (float(p), float(p))  # type: ignore[arg-type]

    @property
    def middle(self) -> float:
        """The paper's number; of a range, its geometric middle."""
        lo, hi = self.bounds
        return math.sqrt(lo * hi)

    def tolerance(self) -> str:
        """The declared tolerance as text (a table column)."""
        if self.kind == SOME_SEEDS:
            return "holds on some seeds and fails on others"
        if not self.numeric:
            return "holds on a majority of seeds"
        if self.null is None:
            side = ""
        elif math.isinf(self.null):
            side = "; direction: reached"
        else:
            side = f"; direction: {'below' if self.middle < self.null else 'above'} {self.null:g}"
        return f"×{self.tol:g} (qualitatively ×{self.qual:g}{side})"

    def direction(self, v: float) -> bool:
        """``v`` on the paper's side of ``null`` (always true without a ``null``)."""
        if self.null is None:
            return True
        return v < self.null if self.middle < self.null else v > self.null

    def distance(self, v: float) -> float:
        """``|log(v / paper)|``, 0 inside the paper's range; inf for v ≤ 0 or not finite."""
        if not (v > 0 and math.isfinite(v)):
            return math.inf
        lo, hi = self.bounds
        return max(math.log(lo / v), math.log(v / hi), 0.0)

    def tier(self, v) -> int:
        """A seed's tier (3 reproduced … 0 not reproduced); None, NaN or inf (no value: diverged,
        never reached) is 0."""
        if not self.numeric:
            return 3 if v is not None and bool(v == 1) else 0
        if v is None or not math.isfinite(float(v)) or not self.direction(float(v)):
            return 0
        d = self.distance(float(v))
        if d <= math.log(self.tol) + _SLACK:
            return 3
        if d <= math.log(self.qual) + _SLACK:
            return 2
        return 1 if self.null is not None else 0


@dataclass(frozen=True)
class Verdict:
    verdict: str
    k: int = 0
    n: int = 0
    reason: str = ""

    @property
    def agreement(self) -> str:
        """``"k/n"``, empty where no seed was judged."""
        return f"{self.k}/{self.n}" if self.n else ""


def factor(paper, reading: str, tol: float = 1.5, qual: float = 3.0, machine_bound: bool = False) -> Rule:
    """A ratio claim ("PG 3× more accurate"); the direction is the side of 1 the paper's number is on."""
    return Rule(FACTOR, paper, reading, tol, qual, null=1.0, machine_bound=machine_bound)


def level(paper, reading: str, tol: float = 1.5, qual: float = 3.0, null=None, machine_bound: bool = False) -> Rule:
    """An absolute value (an accuracy, a rate, seconds); ``null`` only where the claim has a direction."""
    return Rule(LEVEL, paper, reading, tol, qual, null=null, machine_bound=machine_bound)


def iterations(paper, reading: str, null: float, tol: float = 1.5, qual: float = 3.0) -> Rule:
    """An iteration count; ``null``: the count meaning no gain (e.g. the baseline's, or inf: never)."""
    return Rule(ITERATIONS, paper, reading, tol, qual, null=null)


def ordering(reading: str) -> Rule:
    """A ranking of methods, true or false per seed."""
    return Rule(ORDERING, None, reading)


def qualitative(reading: str, machine_bound: bool = False) -> Rule:
    """A stated property, true or false per seed."""
    return Rule(QUALITATIVE_KIND, None, reading, machine_bound=machine_bound)


def some_seeds(reading: str) -> Rule:
    """A property stated to hold for some seeds only ("converges only for certain initializations")."""
    return Rule(SOME_SEEDS, None, reading)


def on_paper_hardware(devices) -> bool:
    """The paper's hardware class: a GPU (a device key naming CUDA, a GPU or NVIDIA)."""
    return any(w in str(d).lower() for d in devices for w in ("cuda", "gpu", "nvidia"))


def verdict(rule: Rule, per_seed: Sequence, scale: str = "paper", devices=()) -> Verdict:
    """The verdict of ``rule`` from one value per seed asked about (None / NaN: no value; for
    true/false kinds, booleans), on runs of ``scale`` on ``devices``; see the module docstring."""
    n = len(per_seed)
    if rule.machine_bound and not on_paper_hardware(devices):
        return Verdict(MACHINE_BOUND, 0, 0, "a property of the machine, judged only on the paper's hardware (a GPU)")
    if n == 0:
        return Verdict(NOT_REPRODUCED, 0, 0, "no seed to judge")
    tiers = [rule.tier(v) for v in per_seed]
    cap = 3 if scale == "paper" else 2
    if rule.kind == SOME_SEEDS:
        k = sum(t == 3 for t in tiers)
        if 0 < k < n:
            capped = f"; {scale} scale (reduced sizes): at most qualitatively" if cap < 3 else ""
            return Verdict(_TIERS[cap], k, n, f"holds on {k}/{n} seeds, fails on the others{capped}")
        return Verdict(NOT_REPRODUCED, k, n, f"holds on {k}/{n} seeds: {'every' if k == n else 'no'} seed, not some")
    for t in (3, 2, 1):
        k = sum(x >= t for x in tiers)
        if 2 * k > n:
            capped = f"; {scale} scale (reduced sizes): at most qualitatively" if t > cap else ""
            t = min(t, cap)
            k = sum(x >= t for x in tiers)
            return Verdict(_TIERS[t], k, n, f"{_TIERS[t]} on {k}/{n} seeds{capped}")
    k = sum(x == 0 for x in tiers)
    return Verdict(NOT_REPRODUCED, k, n, f"no tier reached by a majority; {k}/{n} seeds not reproduced")
