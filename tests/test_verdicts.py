"""The one verdict rule (pgbench.analysis.verdicts): a test per kind of claim, each failing when
the rule is loosened."""

import math

import pytest

from pgbench.analysis import verdicts as V
from pgbench.analysis.verdicts import (DIRECTION, MACHINE_BOUND, NOT_REPRODUCED, QUALITATIVE, REPRODUCED,
                                       verdict)

GPU = ("lab · NVIDIA H100 80GB HBM3 (jax)",)
CPU = ("vm · AMD EPYC (2 cores) (jax)",)


def test_factor_on_the_log_scale_qualitatively_only_within_its_tolerance():
    """sin's 1000×: 8.1× is on the paper's side but 123× off; with a qualitative tolerance of ×10
    it reads "direction only", never "qualitatively" (the old rule: anything above 1)."""
    rule = V.factor(1000.0, "ratio", tol=3, qual=10)
    assert verdict(rule, [8.1, 6.65, 34.9, math.nan]).verdict == DIRECTION
    assert verdict(rule, [8.1, 6.65, 34.9, math.nan]).agreement == "3/4"
    assert verdict(rule, [150.0, 120.0, 200.0]).verdict == QUALITATIVE     # within ×10, not ×3
    assert verdict(rule, [400.0, 2000.0, 2900.0]).verdict == REPRODUCED     # within ×3
    assert verdict(rule, [0.5, 0.8, 0.9]).verdict == NOT_REPRODUCED        # the wrong side of 1
    # one scale: a factor too large by ×2 is as far off as one too small by ×2
    r3 = V.factor(3.0, "ratio")
    assert verdict(r3, [6.1]).verdict == verdict(r3, [3 / 2.03]).verdict == QUALITATIVE
    assert verdict(r3, [4.4]).verdict == verdict(r3, [3 / 1.45]).verdict == REPRODUCED
    # the band never reaches the other side of 1: heat's 1.34 with ×1.5 would include 0.9
    assert verdict(V.factor(1.34, "ratio", tol=1.5, qual=3), [0.95]).verdict == NOT_REPRODUCED


def test_per_seed_agreement_and_the_majority():
    """ns-2.3x-200: seeds 1.51, 1.74, 1.88 against 2.3 within ×1.5 (≥ 1.533): 2/3 seeds; a single
    seed in the band is no majority."""
    rule = V.factor(2.3, "ratio")
    v = verdict(rule, [1.51, 1.74, 1.88])
    assert (v.verdict, v.k, v.n) == (REPRODUCED, 2, 3)
    v = verdict(rule, [1.51, 1.52, 1.88])                  # 1/3 reproduced, 3/3 qualitatively
    assert (v.verdict, v.agreement) == (QUALITATIVE, "3/3")
    v = verdict(rule, [2.3, 2.3, math.nan, math.nan])     # diverged seeds count in n: 2/4 is no majority
    assert (v.verdict, v.agreement) == (NOT_REPRODUCED, "2/4")
    assert verdict(rule, [2.3, 2.3, 2.3, math.nan]).agreement == "3/4"


def test_level_without_a_direction():
    """sin's "around 1e-5" (×3, qualitatively ×10, no stated direction): 1.65e-3 is not
    reproduced (no "direction only" tier for a level without a null)."""
    rule = V.level(1e-5, "x error", tol=3, qual=10)
    assert verdict(rule, [1.65e-3, 9.85e-4, 2.26e-3, 1e-3]).verdict == NOT_REPRODUCED
    assert verdict(rule, [5e-5, 8e-5, 2e-6]).verdict == QUALITATIVE
    assert verdict(rule, [2e-5, 8e-6, 1e-5]).verdict == REPRODUCED
    rate = V.level(0.12, "rate", tol=2, qual=4, null=0.0)
    assert verdict(rate, [0.06, 0.04, 0.12]).agreement == "2/3"          # 0.06: exactly ×2, inside
    assert verdict(rate, [0.0, 0.0, 0.12]).verdict == NOT_REPRODUCED     # none diverge: the wrong side


def test_iterations_with_a_range_and_never_reached():
    rule = V.iterations((30.0, 40.0), "first iteration", null=math.inf)
    assert verdict(rule, [35.0, 31.0, 55.0]).verdict == REPRODUCED        # 55 / 40 = 1.38 ≤ 1.5
    v = verdict(rule, [79.0, 83.0, 151.0])
    assert (v.verdict, v.agreement) == (QUALITATIVE, "2/3")              # 151 / 40 > 3
    assert verdict(rule, [500.0, 600.0, 151.0]).verdict == DIRECTION
    assert verdict(rule, [math.inf, math.inf, 35.0]).verdict == NOT_REPRODUCED   # never overtakes
    match = V.iterations(138.0, "iterations to match Adam at 10k", null=10000)
    assert verdict(match, [12000.0, 150.0, 20000.0]).verdict == NOT_REPRODUCED   # slower than Adam itself


@pytest.mark.parametrize("kind", [V.ordering, V.qualitative])
def test_true_false_claims_need_a_majority(kind):
    rule = kind("holds")
    assert verdict(rule, [True, True, False]).verdict == REPRODUCED
    assert verdict(rule, [True, True, False]).agreement == "2/3"
    v = verdict(rule, [True, False, False])
    assert (v.verdict, v.agreement) == (NOT_REPRODUCED, "2/3")
    assert verdict(rule, [True, False]).verdict == NOT_REPRODUCED


def test_machine_bound_is_judged_only_on_a_gpu():
    rule = V.factor(17.0, "seconds per iteration ratio", machine_bound=True)
    v = verdict(rule, [18.0], devices=CPU)
    assert v.verdict == MACHINE_BOUND and v.agreement == ""
    assert verdict(rule, [18.0], devices=GPU).verdict == REPRODUCED
    assert verdict(rule, [939.0], devices=GPU).verdict == DIRECTION
    cost = V.qualitative("within 10 %", machine_bound=True)
    assert verdict(cost, [True, True, True], devices=CPU).verdict == MACHINE_BOUND


def test_reduced_scale_is_capped_at_qualitatively():
    rule = V.factor(3.0, "ratio")
    v = verdict(rule, [3.0, 3.1, 2.9], scale="quick")
    assert (v.verdict, v.agreement) == (QUALITATIVE, "3/3") and "quick scale" in v.reason
    assert verdict(V.factor(10.0, "ratio"), [2.0, 1.5, 2.5], scale="quick").verdict == DIRECTION
    assert verdict(V.ordering("x"), [True, True, True], scale="quick").verdict == QUALITATIVE
    assert verdict(V.qualitative("x", machine_bound=True), [True] * 3, scale="quick", devices=GPU).verdict == QUALITATIVE


def test_a_rule_states_its_tolerance_and_rejects_nonsense():
    assert V.factor(2.3, "r").tolerance() == "×1.5 (qualitatively ×3; direction: above 1)"
    assert V.iterations((30.0, 40.0), "r", null=math.inf).tolerance().endswith("direction: reached)")
    with pytest.raises(ValueError):
        V.Rule("speed", 1.0, "r")
    with pytest.raises(ValueError):
        V.factor(2.0, "r", tol=3, qual=2)


def test_some_seeds_needs_a_seed_on_each_side():
    """"Converges only for certain initializations": 2/4 seeds converging reproduces it; every seed
    or no seed does not (a majority rule would call 4/4 reproduced), nor does one seed alone."""
    rule = V.some_seeds("converges")
    v = verdict(rule, [True, False, True, False])
    assert (v.verdict, v.agreement) == (REPRODUCED, "2/4")
    assert verdict(rule, [True, False, False, False]).verdict == REPRODUCED     # a minority is still "some"
    v = verdict(rule, [True, True, True, True])
    assert (v.verdict, v.agreement) == (NOT_REPRODUCED, "4/4")
    assert verdict(rule, [False, False, False]).verdict == NOT_REPRODUCED
    assert verdict(rule, [True]).verdict == NOT_REPRODUCED                      # one seed cannot show "some"
    assert verdict(rule, [True, False], scale="quick").verdict == QUALITATIVE
    assert rule.tolerance() == "holds on some seeds and fails on others"
