"""The headline table: every number the paper states, the value measured from the store, and a
verdict.

Each :class:`Claim` measures one number from the stored runs at the paper's point (e.g. after 60
training iterations for "3× at 60"), **per seed**: seeds are paired across methods (same data
stream, same initial network), so a ratio is taken within each seed, then reduced to the median,
its min–max spread and "k/n seeds" (:func:`pgbench.measures.seed_stats`). Seeds that diverged or
did not reach the point are counted in n, never mixed into the median. ``measured`` is that value
when the stored runs reach the paper's point, else "not yet measured"; ``at this budget`` gives
the same quantity at the largest point the stored runs reach (e.g. at 200 instead of 5,000
iterations), so quick runs still show their analogue. Runs of the ``paper`` scale are used when
the store has them, else the ``quick`` ones. ``runs`` names the run keys (first 8 hex digits).

The ``verdict`` (:func:`verdict`): **reproduced** when the median is within 1.5× of the paper's
number (or range) on runs of the ``paper`` scale (on reduced scales at best "reproduced
qualitatively": the paper's numbers belong to its sizes); **reproduced qualitatively** when it is
on the paper's side (e.g. PG better than Adam) but not within 1.5×; **not reproduced** otherwise;
**not measured at this scale** when the stored runs do not reach the paper's point; **other
hardware** for absolute timings measured on another kind of device than the paper's GPU.
``reason`` says why where known.

Curves are the running averages of the paper's figures (training-batch x error); ratios are
"baseline / PG" of those. The HIG claims compare the final held-out loss (the HIG paper's metric)
at equal wall time, per seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..numbers import fmt
from .claim_measures import (
    Measured,
    cost_within,
    divergence_rate,
    final_average,
    final_average_ratio,
    iterations_to_match,
    overtake,
    percent_better_at,
    ranks_below,
    ratio_at,
    seconds_per_iteration,
    time_ratio,
)

_ADAM, _PG = "DP (Adam)", "PG (inverse)"
NEEDS_GPU = "needs a GPU"

NOT_MEASURED = "not yet measured"
REPRODUCED = "reproduced"
QUALITATIVE = "reproduced qualitatively"
NOT_REPRODUCED = "not reproduced"
NOT_AT_SCALE = "not measured at this scale"
OTHER_HARDWARE = "other hardware"
VERDICTS = (REPRODUCED, QUALITATIVE, NOT_REPRODUCED, NOT_AT_SCALE, OTHER_HARDWARE)
TOLERANCE = 1.5  # "reproduced": within this factor of the paper's number (or range)


@dataclass(frozen=True)
class Claim:
    """One number the paper states. ``value``: the paper's number or ``(lo, hi)`` range (None: a
    qualitative claim); ``better``: whether a measured median is on the paper's side (for
    "reproduced qualitatively"); ``labels``: the methods (experiment labels) it reads;
    ``hardware``: an absolute timing on the paper's GPU; ``min_examples``: held-out examples
    needed to resolve a rate."""

    key: str
    problem: str
    statement: str
    paper: str
    source: str
    measure: Callable[[pd.DataFrame, bool], Measured | None]  # (frame of the problem, at the paper's point?)
    labels: tuple[str, ...] = ()
    value: float | tuple[float, float] | None = None
    better: Callable[[float], bool] | None = None
    hardware: bool = False
    min_examples: int = 0
    gpu: str = ""  # the command measuring a claim the 2-core CPU cannot reach at the paper's size


def _gpu(experiment: str) -> str:
    return (
        f"pgbench reproduce --scale paper --only {experiment} --backend jax --device cuda "
        f"--results results/paper-gpu/runs --out results/paper-gpu/report"
    )


def _more(threshold):
    return lambda v: v > threshold


def _less(threshold):
    return lambda v: v < threshold


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "sin-1000x",
        "sin-v0",
        "PG (inverse physics) vs. DP (Adam): accuracy ratio after 20k iterations",
        "1000×",
        "§3.1, Fig. 3",
        final_average_ratio(_ADAM, _PG, 20000),
        (_ADAM, _PG),
        1000.0,
        _more(1),
    ),
    Claim(
        "sin-1e-5",
        "sin-v0",
        "PG (inverse physics) converges to an x error of about",
        "1e-5",
        "§3.1, Fig. 3",
        final_average(_PG, 20000),
        (_PG,),
        1e-5,
        _less(1e-4),
    ),
    Claim(
        "poisson-3x-60",
        "poisson-v0",
        "PG / Adam accuracy ratio at iteration 60",
        "3×",
        "§3.2, Fig. 4c",
        ratio_at(_ADAM, _PG, 60),
        (_ADAM, _PG),
        3.0,
        _more(1),
    ),
    Claim(
        "poisson-10x-5k",
        "poisson-v0",
        "PG / Adam accuracy ratio after 5k iterations",
        "10×",
        "§3.2, Fig. 4c",
        ratio_at(_ADAM, _PG, 5000),
        (_ADAM, _PG),
        10.0,
        _more(1),
        gpu=_gpu("poisson-training"),
    ),
    Claim(
        "heat-34pc-100",
        "heat-v0",
        "inverse-physics PG better than Adam at iteration 100",
        "34 %",
        "§3.3, Fig. 5c",
        percent_better_at(_ADAM, _PG, 100),
        (_ADAM, _PG),
        34.0,
        _more(0),
    ),
    Claim(
        "heat-130pc-10k",
        "heat-v0",
        "inverse-physics PG better than Adam after 10k iterations",
        "130 %",
        "§3.3, Fig. 5c",
        percent_better_at(_ADAM, _PG, 10000),
        (_ADAM, _PG),
        130.0,
        _more(0),
        gpu=_gpu("heat-training"),
    ),
    Claim(
        "heat-138",
        "heat-v0",
        "iterations of inverse-physics PG to reach Adam's 10k-iteration accuracy",
        "138",
        "§3.3, Fig. 5c",
        iterations_to_match(_ADAM, _PG, 10000),
        (_ADAM, _PG),
        138.0,
        _less(10000),
        gpu=_gpu("heat-training"),
    ),
    Claim(
        "heat-628",
        "heat-v0",
        "iterations of L-BFGS-B PG to reach Adam's 10k-iteration accuracy",
        "628",
        "§3.3, Fig. 5c",
        iterations_to_match(_ADAM, "PG (L-BFGS-B)", 10000),
        (_ADAM, "PG (L-BFGS-B)"),
        628.0,
        _less(10000),
        gpu=_gpu("heat-training"),
    ),
    Claim(
        "heat-17x",
        "heat-v0",
        "time per iteration of L-BFGS-B PG relative to Adam",
        "17×",
        "§3.3",
        time_ratio("PG (L-BFGS-B)", _ADAM),
        ("PG (L-BFGS-B)", _ADAM),
        17.0,
        _more(1),
    ),
    Claim(
        "ns-2.3x-200",
        "navier-stokes-v0",
        "PG / Adam accuracy ratio at iteration 200",
        "2.3×",
        "§3.4, Fig. 6c",
        ratio_at(_ADAM, _PG, 200),
        (_ADAM, _PG),
        2.3,
        _more(1),
    ),
    Claim(
        "ns-5x-20k",
        "navier-stokes-v0",
        "PG / Adam accuracy ratio after 20k iterations",
        "5×",
        "§3.4, Fig. 6c",
        ratio_at(_ADAM, _PG, 20000),
        (_ADAM, _PG),
        5.0,
        _more(1),
        gpu=_gpu("navier-stokes-training"),
    ),
    Claim(
        "ns-55",
        "navier-stokes-v0",
        "iterations of PG to match Adam at 20k",
        "55",
        "§3.4, Fig. 6c",
        iterations_to_match(_ADAM, _PG, 20000),
        (_ADAM, _PG),
        55.0,
        _less(20000),
        gpu=_gpu("navier-stokes-training"),
    ),
    Claim(
        "wavepacket-30-40",
        "wavepacket-v0",
        "training iterations until the network beats L-BFGS-B (ξ0 error)",
        "30–40",
        "App. B.1, Fig. 8",
        overtake("NN (Adam)", "L-BFGS-B"),
        ("NN (Adam)", "L-BFGS-B"),
        (30.0, 40.0),
        lambda v: math.isfinite(v),
    ),
    Claim(
        "wavepacket-0.12pc",
        "wavepacket-v0",
        "L-BFGS-B fits that diverge",
        "0.12 %",
        "§1, Fig. 1",
        divergence_rate("L-BFGS-B"),
        ("L-BFGS-B",),
        0.12,
        _more(0),
        min_examples=1000,
    ),
    Claim(
        "fig14-sin",
        "sin-v0",
        "seconds per training iteration (Fig. 14, paper's GPU)",
        "0.005–0.006 s",
        "App. C, Fig. 14",
        seconds_per_iteration(),
        (),
        (0.005, 0.006),
        hardware=True,
    ),
    Claim(
        "fig14-poisson",
        "poisson-v0",
        "seconds per training iteration (Fig. 14, paper's GPU)",
        "0.5–1.0 s",
        "App. C, Fig. 14",
        seconds_per_iteration(),
        (),
        (0.5, 1.0),
        hardware=True,
    ),
    Claim(
        "fig14-heat",
        "heat-v0",
        "seconds per training iteration (Fig. 14, paper's GPU)",
        "0.10–0.14 s",
        "App. C, Fig. 14",
        seconds_per_iteration(),
        (),
        (0.10, 0.14),
        hardware=True,
    ),
    *(
        Claim(
            f"fig14-cost-{name}",
            problem,
            "time per training iteration, PG (inverse physics) relative to Adam",
            "< 10 %",
            "App. C, Fig. 14",
            cost_within(_PG, _ADAM, 0.10),
            (_PG, _ADAM),
        )
        for name, problem in (("poisson", "poisson-v0"), ("heat", "heat-v0"), ("ns", "navier-stokes-v0"))
    ),
    Claim(
        "hig-oscillators",
        "oscillators-v0",
        "HIG below Adam and Gauss-Newton at equal wall time",
        "HIG lowest",
        "HIG paper, Fig. 2b",
        ranks_below("HIG", ("Adam", "Gauss-Newton"), "eval_loss"),
        ("HIG", "Adam", "Gauss-Newton"),
    ),
    Claim(
        "hig-dipole",
        "quantum-dipole-v0",
        "HIG below the paper's Adam at equal wall time",
        "HIG lower",
        "HIG paper, §4 (quantum dipole)",
        ranks_below("HIG", ("Adam (paper)",), "eval_loss"),
        ("HIG", "Adam (paper)"),
    ),
    Claim(
        "hig-poisson",
        "poisson-hig-v0",
        "Adam→HIG below Adam alone at equal wall time",
        "Adam→HIG lower",
        "HIG paper, §4 (Poisson)",
        ranks_below("Adam→HIG", ("Adam", "Adam (1e-3)"), "eval_loss"),
        ("Adam→HIG", "Adam", "Adam (1e-3)"),
    ),
    Claim(
        "hig-toy",
        "hig-toy-v0",
        "HIG far below Adam",
        "HIG ≪ Adam",
        "PBDL book, HIG chapter (toy)",
        ranks_below("HIG", ("Adam",), "eval_loss"),
        ("HIG", "Adam"),
    ),
)


def _paper_ratio(claim: Claim, median: float) -> float:
    """Measured median / the paper's number (a range: its geometric middle)."""
    v = claim.value
    mid = math.sqrt(v[0] * v[1]) if isinstance(v, tuple) else v
    return median / mid if mid else math.nan


def verdict(claim: Claim, exact: Measured | None, devices=(), scale: str = "paper") -> tuple[str, str, float]:
    """``(verdict, reason, ratio to the paper)`` of one claim from its value at the paper's point
    (``exact``; None when the stored runs do not reach it). See the module docstring. A number
    measured on runs of a reduced ``scale`` (not ``paper``) is at best "reproduced qualitatively":
    the paper's number belongs to the paper's sizes."""
    v, reason, ratio = _verdict(claim, exact, devices)
    if scale != "paper" and exact is not None and exact.holds is None and v in (REPRODUCED, QUALITATIVE):
        return QUALITATIVE, f"{scale} scale (reduced sizes): {reason}", ratio
    return v, reason, ratio


def _verdict(claim: Claim, exact: Measured | None, devices=()) -> tuple[str, str, float]:
    if exact is None:
        return NOT_AT_SCALE, "the stored runs stop before the paper's point", math.nan
    if exact.holds is not None:  # qualitative
        k, n = exact.holds
        if k == n:
            return REPRODUCED, f"holds for {n}/{n} seeds", math.nan
        if k:
            return QUALITATIVE, f"holds for {k}/{n} seeds", math.nan
        return NOT_REPRODUCED, f"holds for 0/{n} seeds", math.nan
    if claim.hardware and not any(
        "cuda" in str(d).lower() or "gpu" in str(d).lower() or "nvidia" in str(d).lower() for d in devices
    ):
        return OTHER_HARDWARE, "the paper's timings are on its GPU; these runs are not", math.nan
    if claim.min_examples and (exact.examples or 0) < claim.min_examples:
        return NOT_AT_SCALE, f"a rate of {claim.paper} needs ≥ {claim.min_examples} held-out examples", math.nan
    stats = exact.stats
    if stats is None or stats.k == 0:
        return NOT_REPRODUCED, f"no seed reached a value ({stats.n if stats else 0} seeds)", math.nan
    if claim.value is None:
        return NOT_REPRODUCED, "the claim states no number to compare with", math.nan
    lo, hi = claim.value if isinstance(claim.value, tuple) else (claim.value, claim.value)
    ratio = _paper_ratio(claim, stats.median)
    seeds = f"{stats.k}/{stats.n} seeds"
    if lo / TOLERANCE <= stats.median <= hi * TOLERANCE:
        return REPRODUCED, f"median within {TOLERANCE}× of the paper ({seeds})", ratio
    if claim.better is not None and claim.better(stats.median):
        return QUALITATIVE, f"on the paper's side but {fmt(ratio, 2)}× its value ({seeds})", ratio
    return NOT_REPRODUCED, f"{fmt(ratio, 2)}× the paper's value ({seeds})", ratio


def _claim_device(sub: pd.DataFrame, labels) -> pd.DataFrame:
    """The runs of one device key for a claim comparing ``labels``: among the device keys that
    have runs of every label, the one whose runs reach furthest (the smallest over the labels of
    the last iteration stored), so that e.g. a store with 6-iteration timing runs on one machine
    and 100-iteration runs on another reads the claim from the latter. No labels, or no device
    with all of them: unchanged."""
    if sub.empty or not labels or "device_key" not in sub:
        return sub
    best, reach = None, -1.0
    for dev, g in sorted(sub.groupby("device_key"), key=lambda kv: kv[0]):
        its = [pd.to_numeric(g.loc[g["label"] == lab, "iteration"], errors="coerce").max() for lab in labels]
        if any(not (v >= 0) for v in its):
            continue
        if min(its) > reach:
            best, reach = dev, float(min(its))
    return sub if best is None else sub[sub["device_key"] == best]


def headline_table(df: pd.DataFrame, claims=CLAIMS) -> pd.DataFrame:
    """One row per claim: claim, problem, statement, paper, measured (median, spread and seeds at
    the paper's point, or "not yet measured"), ratio to paper, verdict, reason, at this budget
    (the same quantity at the largest point reached), where, runs, source."""
    rows = []
    for c in claims:
        sub = df[df["problem"] == c.problem] if not df.empty else df
        if not sub.empty and "scale" in sub and (sub["scale"] == "paper").any():
            sub = sub[sub["scale"] == "paper"]  # the paper's numbers are measured at paper scale when there
        sub = _claim_device(sub, c.labels)
        exact = budget = None
        error = ""
        if not sub.empty:
            try:
                exact = c.measure(sub, True)
                budget = exact or c.measure(sub, False)
            except Exception as e:  # a malformed store must not break the report
                error = f"error: {type(e).__name__}: {e}"
                budget = Measured(error, "", ())
        devices = sorted(sub["device_key"].unique()) if not sub.empty and "device_key" in sub else []
        scale = str(sub["scale"].iloc[0]) if not sub.empty and "scale" in sub else ""
        if sub.empty:
            v, reason, ratio = NOT_AT_SCALE, "no stored runs of this problem", math.nan
        elif error:
            v, reason, ratio = NOT_REPRODUCED, error, math.nan
        else:
            v, reason, ratio = verdict(c, exact, devices, scale or "paper")
        gpu = bool(c.gpu) and exact is None and scale == "paper" and not error
        if gpu:
            reason = f"{NEEDS_GPU} (thousands of paper-size iterations): {c.gpu}"
        rows.append(
            {
                "claim": c.key,
                "problem": c.problem,
                "statement": c.statement,
                "paper": c.paper,
                "scale": scale,
                "measured": exact.value if exact else (NEEDS_GPU if gpu else NOT_MEASURED),
                "ratio to paper": ratio,
                "verdict": v,
                "reason": reason,
                "at this budget": budget.value if budget else NOT_MEASURED,
                "where": (budget.at if budget else ""),
                "runs": " ".join(budget.runs) if budget else "",
                "source": c.source,
            }
        )
    return pd.DataFrame(rows)
