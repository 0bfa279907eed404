"""Bootstrap intervals of leaderboard numbers (pgbench.analysis.uncertainty)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pgbench.analysis import uncertainty
from pgbench.analysis.leaderboard import profile_scores


def test_seed_interval_matches_scipy_percentile_bootstrap():
    v = np.random.default_rng(3).lognormal(size=9)
    ours = uncertainty.seed_interval(v, confidence=0.9, resamples=20000, seed=1)
    ref = stats.bootstrap((v,), np.median, confidence_level=0.9, n_resamples=20000, method="percentile",
                          rng=np.random.default_rng(2)).confidence_interval
    assert ours[0] == pytest.approx(ref.low, rel=0.1)
    assert ours[1] == pytest.approx(ref.high, rel=0.1)
    assert ours[0] <= np.median(v) <= ours[1]


def test_seed_interval_keeps_never_reached_as_infinite():
    lo, hi = uncertainty.seed_interval([1.0, 2.0, math.inf, math.inf, math.inf])
    assert hi == math.inf and lo <= 2.0
    assert uncertainty.seed_interval([math.nan]) != uncertainty.seed_interval([1.0])
    assert uncertainty.seed_interval([4.0]) == (4.0, 4.0)


def _times(spec, seeds=5, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for problem, per_method in spec.items():
        for method, t in per_method.items():
            for s in range(seeds):
                rows.append({"problem": problem, "method": method, "seed": s,
                             "time": t * float(np.exp(noise * rng.standard_normal()))})
    return pd.DataFrame(rows)


def test_point_score_is_the_leaderboards_score():
    times = _times({"p1": {"a": 1.0, "b": 2.0, "c": 9.0}, "p2": {"a": 3.0, "b": 1.0, "c": math.inf},
                    "p3": {"a": math.inf, "b": math.inf, "c": math.inf}})
    table = times.groupby(["problem", "method"], as_index=False)["time"].median()
    table = table.rename(columns={"time": "time_to_target"})
    expected, _ = profile_scores(table, 4.0)
    got = uncertainty.score_intervals(times, 4.0, resamples=200).table
    merged = expected.merge(got, on="method", suffixes=("_lb", ""))
    assert np.allclose(merged["score_lb"], merged["score"])


def test_a_clear_winner_ranks_alone_and_noise_ties():
    clear = _times({f"p{i}": {"fast": 1.0, "slow": 3.0} for i in range(4)})
    u = uncertainty.score_intervals(clear, 4.0, resamples=500)
    ranks = dict(zip(u.table["method"], u.table["rank_tied"], strict=True))
    assert ranks == {"fast": 1, "slow": 2}
    assert u.stability == pytest.approx(1.0)
    assert u.table.set_index("method").loc["fast", "p_first"] > 0.99
    # the same methods, equally fast up to seed noise: neither is better beyond doubt
    noisy = _times({f"p{i}": {"fast": 1.0, "slow": 1.05} for i in range(4)}, noise=0.5)
    u = uncertainty.score_intervals(noisy, 4.0, resamples=500)
    assert list(u.table["rank_tied"]) == [1, 1]
    assert u.stability < 1.0


def test_intervals_are_reproducible_and_contain_the_point():
    times = _times({"p1": {"a": 1.0, "b": 1.5}, "p2": {"a": 2.0, "b": 1.0}}, noise=0.3)
    u1 = uncertainty.score_intervals(times, 4.0, resamples=300, seed=7).table
    u2 = uncertainty.score_intervals(times, 4.0, resamples=300, seed=7).table
    pd.testing.assert_frame_equal(u1, u2)
    assert (u1["score_lo"] <= u1["score"]).all() and (u1["score"] <= u1["score_hi"]).all()


def test_tied_rank_counts_only_methods_better_beyond_doubt():
    # times: lower is better; b overlaps a; c is worse than both beyond doubt
    assert uncertainty.tied_rank([1.0, 1.5, 5.0], [2.0, 2.5, 6.0]) == [1, 1, 3]
    assert uncertainty.tied_rank([0.8, 0.5, 0.1], [0.9, 0.85, 0.2], higher_is_better=True) == [1, 1, 3]
