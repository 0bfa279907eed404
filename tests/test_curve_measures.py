"""Measures of learning-curve shapes and of how seeds differ, on small frames with known answers."""

import math

import numpy as np
import pytest

from pgbench.analysis.curve_measures import (converges_like, knee, late_rate_above, parts_ways, rise, slowdown,
                                             steadier, still_falling)
from test_solver_measures import _runs


def _bent(k, n=120, fast=-0.05, slow=-0.002):
    """10^(piecewise-linear log): falls at ``fast`` per iteration up to ``k``, then at ``slow``."""
    i = np.arange(1, n + 1, dtype=float)
    return 10 ** (fast * np.minimum(i, k) + slow * np.clip(i - k, 0, None))


def test_knee_finds_the_break_and_only_a_slowdown():
    assert knee(_bent(35)) == 35
    assert knee(_bent(60)) == 60
    assert knee(_bent(35, fast=-0.002, slow=-0.05)) == math.inf      # speeds up: no slowdown
    assert math.isnan(knee([1.0, 0.5, 0.2]))                          # too short to fit
    noisy = _bent(35) * np.exp(0.02 * np.random.default_rng(0).standard_normal(120))
    assert abs(knee(noisy) - 35) <= 3


def test_slowdown_reads_the_horizon_per_seed_and_not_past_the_runs():
    # a problem without a running-average window, so the curve is read as given
    df = _runs("hig-toy-v0", "training", {"DP (Adam)": [list(_bent(30)), list(_bent(40)), list(_bent(80))]})
    m = slowdown("DP (Adam)", 100)(df, True)
    assert m.stats.values == (30.0, 40.0, 80.0)
    assert slowdown("DP (Adam)", 200)(df, True) is None               # runs stop at 120
    assert slowdown("DP (Adam)", 200)(df, False).stats.k == 3          # the same over what they reach


def test_converges_like_counts_seeds_within_the_factor_and_not_diverged():
    pg = [[1e-5] * 30] * 4
    newton = [[2e-5] * 30, [1e-3] * 30, [5e-5] * 30, [1e-6] * 30]
    df = _runs("sin-v0", "training", {"PG (inverse)": pg, "PG (Newton)": newton},
               status={("PG (Newton)", 2): "diverged"})
    m = converges_like("PG (Newton)", "PG (inverse)", 30, 10.0)(df, True)
    assert m.holds == (2, 4)                                           # seed 1: ×100; seed 2: diverged
    assert "diverged" in m.value


def test_rise_and_steadier_count_how_far_a_curve_climbs_back():
    import pandas as pd
    assert rise(pd.Series([1.0, 0.5, 0.25], index=[1, 2, 3]), 1, 1) == 0.0
    assert rise(pd.Series([1.0, 10.0, 1.0, 10.0], index=[1, 2, 3, 4]), 1, 1) == pytest.approx(2.0)
    smooth = list(np.linspace(1, 0.1, 40))
    jumpy = [1.0 if i % 2 else 0.1 for i in range(40)]
    df = _runs("sin-v0", "training", {"Supervised": [smooth, smooth, jumpy], "DP (Adam)": [jumpy, jumpy, jumpy]})
    m = steadier("Supervised", "DP (Adam)", 40, start=1, every=1)(df, True)
    assert m.holds == (2, 3)                                           # seed 2: both as erratic: not below


def test_late_rate_above_compares_how_fast_curves_still_fall():
    i = np.arange(1, 101, dtype=float)
    exp_curve = list(10 ** (-0.02 * i))                              # linear convergence
    flat = list(_bent(20, n=100))
    df = _runs("poisson-v0", "training", {"PG (inverse)": [exp_curve, flat], "DP (Adam)": [flat, exp_curve]})
    m = late_rate_above("PG (inverse)", "DP (Adam)", 100)(df, True)
    assert m.holds == (1, 2)
    assert late_rate_above("PG (inverse)", "DP (Adam)", 200)(df, True) is None


def test_parts_ways_is_where_the_leader_stays_ahead():
    follower = [1.0] * 60
    leader = [1.0] * 34 + [0.8] * 26                                  # apart from iteration 35 on
    back = [1.0] * 20 + [0.8] * 10 + [1.0] * 30                         # apart, then together again
    df = _runs("hig-toy-v0", "training", {"PG (L-BFGS-B)": [follower, follower], "PG (inverse)": [leader, back]})
    m = parts_ways("PG (L-BFGS-B)", "PG (inverse)", 60)(df, True)
    assert m.stats.values[0] == 35.0 and math.isinf(m.stats.values[1])


def test_still_falling_tells_an_unconverged_run():
    falling = [10.0 / (1 + 0.1 * k) for k in range(101)]
    flat = [10.0 / (1 + 0.1 * min(k, 50)) for k in range(101)]
    df = _runs("navier-stokes-v0", "iterative", {"GD": [falling, flat]})
    assert still_falling("GD", 100, 0.01)(df, True).holds == (1, 2)
    assert still_falling("GD", 10000, 0.01)(df, True) is None


def test_below_at_compares_seeds_at_one_iteration_and_a_diverged_run_loses():
    from pgbench.analysis.curve_measures import below_at
    df = _runs("hig-toy-v0", "training", {"DP (Adam)": [[0.5] * 10, [2.0] * 10, [0.5] * 10],
                                          "DP (SGD)": [[1.0] * 10, [1.0] * 10, [1.0] * 10]},
               status={("DP (Adam)", 2): "diverged"})
    assert below_at("DP (Adam)", "DP (SGD)", 10)(df, True).holds == (1, 3)
    assert below_at("DP (Adam)", "DP (SGD)", 300)(df, True) is None
    assert below_at("DP (Adam)", "DP (SGD)", 300)(df, False).holds == (1, 3)
