"""The headline table: per-seed statistics, verdicts, and claims that read existing methods."""

import math

import numpy as np
import pandas as pd
import pytest

from pgbench.analysis.measures import seed_stats
from pgbench.analysis.data import with_device
from pgbench.analysis.claim_measures import Measured, ratio_at
from pgbench.analysis.headline import CLAIMS, headline_table, judge
from pgbench.analysis.verdicts import (DIRECTION, MACHINE_BOUND, NOT_AT_SCALE, NOT_REPRODUCED, QUALITATIVE,
                                       REPRODUCED, VERDICTS)
from pgbench.reproduce import EXPERIMENTS


def test_every_claim_reads_methods_of_the_experiment_set():
    """A claim whose label no experiment of its problem runs could never be measured."""
    for claim in CLAIMS:
        labels = {m.label for e in EXPERIMENTS if e.problem == claim.problem for m in e.methods}
        assert labels, f"{claim.key}: no experiment runs {claim.problem}"
        missing = set(claim.labels) - labels
        assert not missing, f"{claim.key}: labels {missing} are not in the experiments of {claim.problem}"


def _sin_runs(finals, n=30, status=None):
    """Training runs of sin whose x error decays to ``finals[label][seed]``."""
    rows = []
    status = status or {}
    for label, per_seed in finals.items():
        for seed, final in enumerate(per_seed):
            key = f"{label}-{seed}"
            for it in range(1, n + 1):
                rows.append({"run_key": key, "problem": "sin-v0", "scale": "paper", "solver": "x", "label": label,
                             "kind": "training", "backend": "torch", "device": "cpu", "device_name": "cpu",
                             "machine": "m", "seed": seed, "status": status.get((label, seed), "ok"),
                             "iteration": it, "wall_time": 0.1 * it, "loss": 1.0, "x_error": final,
                             "nonfinite": 0.0})
    return with_device(pd.DataFrame(rows))


def test_ratios_are_per_seed_medians_and_diverged_seeds_are_counted_not_mixed():
    df = _sin_runs({"DP (Adam)": [1.0, 1.0, 1.0], "PG (inverse)": [0.1, 0.01, 1e-3]},
                   status={("PG (inverse)", 2): "diverged"})
    m = ratio_at("DP (Adam)", "PG (inverse)", 30)(df, True)
    assert m.stats.k == 2 and m.stats.n == 3
    assert m.stats.median == pytest.approx(55.0) and (m.stats.lo, m.stats.hi) == (pytest.approx(10), pytest.approx(100))
    assert m.value == "55× (10–100, 2/3 seeds)"
    assert ratio_at("DP (Adam)", "PG (inverse)", 31)(df, True) is None   # the paper's point is not reached


def test_claims_are_judged_by_the_one_rule():
    """Every claim's verdict comes from its declared rule over the per-seed values (k/n), with the
    cases a claim adds: the paper's point not reached, too few examples for a rate."""
    claim = next(c for c in CLAIMS if c.key == "poisson-3x-60")
    at = lambda *v: Measured("", "", (), seed_stats(v))   # noqa: E731
    v = judge(claim, at(2.5, 3.5, 4.0))
    assert (v.verdict, v.agreement) == (REPRODUCED, "3/3")               # all within 1.5× of 3
    assert judge(claim, at(1.2, 1.3, 1.25)).verdict == QUALITATIVE        # PG better, within 3× of 3
    assert judge(claim, at(0.8)).verdict == NOT_REPRODUCED                # Adam better
    assert judge(claim, None).verdict == NOT_AT_SCALE
    assert judge(claim, at(np.inf)).verdict == NOT_REPRODUCED             # no seed reached a value
    assert judge(claim, at(4.4)).verdict == REPRODUCED and judge(claim, at(4.6)).verdict == QUALITATIVE
    sin = next(c for c in CLAIMS if c.key == "sin-1000x")
    v = judge(sin, at(8.1, 6.65, 34.9, np.nan))                           # the paper-cpu store's seeds
    assert (v.verdict, v.agreement) == (DIRECTION, "3/4")
    timing = next(c for c in CLAIMS if c.key == "fig14-sin")
    spi = lambda dev, *v: Measured("", dev, (), seed_stats(v))   # noqa: E731
    assert judge(timing, spi("m · AMD EPYC (torch)", 0.005)).verdict == MACHINE_BOUND
    assert judge(timing, spi("m · NVIDIA H100 (jax)", 0.0055)).verdict == REPRODUCED
    assert judge(timing, spi("m · AMD EPYC (torch)", 0.0055), ["m · NVIDIA H100 (jax)"]).verdict == MACHINE_BOUND
    qual = next(c for c in CLAIMS if c.key == "hig-toy")
    assert judge(qual, Measured("", "", (), holds=(3, 3))).verdict == REPRODUCED
    assert judge(qual, Measured("", "", (), holds=(2, 3))).agreement == "2/3"
    assert judge(qual, Measured("", "", (), holds=(1, 3))).verdict == NOT_REPRODUCED
    # quick-scale runs: at best qualitative, the paper's number belongs to its sizes
    v = judge(claim, at(2.5, 3.5, 4.0), scale="quick")
    assert v.verdict == QUALITATIVE and "quick scale" in v.reason
    assert judge(claim, at(0.8), scale="quick").verdict == NOT_REPRODUCED
    rate = next(c for c in CLAIMS if c.key == "wavepacket-0.12pc")
    assert judge(rate, Measured("", "", (), seed_stats([0.1]), examples=150)).verdict == NOT_AT_SCALE
    assert judge(rate, Measured("", "", (), seed_stats([0.1]), examples=10000)).verdict == REPRODUCED


def test_heat_reads_percent_more_accurate_as_the_error_ratio():
    """"34 % more accurate" is the ratio 1.34 (so that "130 %" is 2.3): the measured ratio per seed."""
    rules = {c.key: c.rule for c in CLAIMS}
    assert rules["heat-34pc-100"].paper == pytest.approx(1.34) and rules["heat-130pc-10k"].paper == pytest.approx(2.3)
    assert "1.52" in rules["heat-34pc-100"].reading


def test_headline_table_has_a_verdict_for_every_claim():
    df = _sin_runs({"DP (Adam)": [1.0, 2.0], "PG (inverse)": [1e-3, 2e-3]}, n=20000 // 1000)
    head = headline_table(df).set_index("claim")
    assert set(head["verdict"]) <= set(VERDICTS)
    assert {"reading", "tolerance", "k/n"} <= set(head.columns) and all(head["reading"])
    assert head.loc["poisson-3x-60", "verdict"] == NOT_AT_SCALE and head.loc["poisson-3x-60", "reason"]
    assert head.loc["sin-1000x", "verdict"] == NOT_AT_SCALE   # 20 iterations, not 20k
    assert math.isnan(head.loc["sin-1000x", "ratio to paper"])
    assert all(not s.startswith("P:") for s in head["source"])   # sections and figures, not extraction lines


def test_cost_claim_pairs_seeds_and_checks_ten_percent():
    """fig14-cost-*: PG / Adam seconds per iteration per seed (not medians of unpaired runs);
    holds for the seeds within 10 %."""
    from pgbench.analysis.claim_measures import cost_within
    rows = []
    for label, per_seed in {"DP (Adam)": [1.0, 3.0, 1.0], "PG (inverse)": [1.05, 3.1, 1.5]}.items():
        for seed, s_it in enumerate(per_seed):
            for it in range(1, 11):
                rows.append({"run_key": f"{label}-{seed}", "problem": "poisson-v0", "scale": "paper", "solver": "x",
                             "label": label, "kind": "training", "backend": "jax", "device": "cpu",
                             "device_name": "cpu", "machine": "m", "seed": seed, "status": "ok", "iteration": it,
                             "wall_time": s_it * it, "loss": 1.0, "x_error": 1.0, "nonfinite": 0.0})
    m = cost_within("PG (inverse)", "DP (Adam)", 0.10)(with_device(pd.DataFrame(rows)), True)
    assert m.stats.n == 3 and m.stats.median == pytest.approx(1.05)   # ratios 1.05, 1.033, 1.5
    assert m.holds == (2, 3)
    claim = next(c for c in CLAIMS if c.key == "fig14-cost-poisson")
    assert judge(claim, m).verdict == MACHINE_BOUND            # a cost of this CPU: not judged
    on_gpu = Measured(m.value, "s / iteration, lab · NVIDIA H100 (jax)", m.runs, m.stats, holds=m.holds)
    v = judge(claim, on_gpu)
    assert (v.verdict, v.agreement) == (REPRODUCED, "2/3")


def test_costlier_holds_per_seed_where_the_step_costs_more():
    """book-hig-cost: HIG / Adam seconds per iteration above 1, per seed."""
    from pgbench.analysis.claim_measures import costlier
    rows = []
    for label, per_seed in {"Adam": [1.0, 1.0, 2.0], "HIG": [3.0, 1.5, 1.0]}.items():
        for seed, s_it in enumerate(per_seed):
            for it in range(1, 11):
                rows.append({"run_key": f"{label}-{seed}", "problem": "hig-toy-v0", "scale": "paper", "solver": "x",
                             "label": label, "kind": "training", "backend": "torch", "device": "cpu",
                             "device_name": "cpu", "machine": "m", "seed": seed, "status": "ok", "iteration": it,
                             "wall_time": s_it * it, "loss": 1.0, "x_error": 1.0, "nonfinite": 0.0})
    m = costlier("HIG", "Adam")(with_device(pd.DataFrame(rows)), True)
    assert m.holds == (2, 3) and m.stats.median == pytest.approx(1.5)
    claim = next(c for c in CLAIMS if c.key == "book-hig-cost")
    assert judge(claim, m).verdict == REPRODUCED          # the direction, judged on any machine
