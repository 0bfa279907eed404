"""The headline table: per-seed statistics, verdicts, and claims that read existing methods."""

import math

import numpy as np
import pandas as pd
import pytest

from pgbench.analysis.measures import seed_stats
from pgbench.analysis.data import with_device
from pgbench.analysis.claim_measures import Measured, ratio_at
from pgbench.analysis.headline import (CLAIMS, NOT_AT_SCALE, NOT_REPRODUCED, OTHER_HARDWARE, QUALITATIVE,
                                     REPRODUCED, headline_table, verdict)
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


def test_verdicts():
    claim = next(c for c in CLAIMS if c.key == "poisson-3x-60")
    at = lambda *v: Measured("", "", (), seed_stats(v))   # noqa: E731
    assert verdict(claim, at(2.5, 3.5, 4.0))[0] == REPRODUCED          # median 3.5 within 1.5× of 3
    assert verdict(claim, at(1.2))[0] == QUALITATIVE                   # PG better, but 0.4× the paper's 3×
    assert verdict(claim, at(0.8))[0] == NOT_REPRODUCED                # Adam better
    assert verdict(claim, None)[0] == NOT_AT_SCALE
    assert verdict(claim, at(np.inf))[0] == NOT_REPRODUCED             # no seed reached a value
    v, reason, ratio = verdict(claim, at(4.4))
    assert v == REPRODUCED and ratio == pytest.approx(4.4 / 3)
    assert verdict(claim, at(4.6))[0] == QUALITATIVE
    timing = next(c for c in CLAIMS if c.key == "fig14-sin")
    assert verdict(timing, at(0.005), ["m · AMD EPYC (torch)"])[0] == OTHER_HARDWARE
    assert verdict(timing, at(0.0055), ["m · NVIDIA H100 (jax)"])[0] == REPRODUCED
    qual = next(c for c in CLAIMS if c.key == "hig-toy")
    assert verdict(qual, Measured("", "", (), holds=(3, 3)))[0] == REPRODUCED
    assert verdict(qual, Measured("", "", (), holds=(1, 3)))[0] == QUALITATIVE
    assert verdict(qual, Measured("", "", (), holds=(0, 3)))[0] == NOT_REPRODUCED
    # quick-scale runs: at best qualitative, the paper's number belongs to its sizes
    v, reason, _ = verdict(claim, at(2.5, 3.5, 4.0), scale="quick")
    assert v == QUALITATIVE and reason.startswith("quick scale")
    assert verdict(claim, at(0.8), scale="quick")[0] == NOT_REPRODUCED
    rate = next(c for c in CLAIMS if c.key == "wavepacket-0.12pc")
    assert verdict(rate, Measured("", "", (), seed_stats([0.1]), examples=150))[0] == NOT_AT_SCALE
    assert verdict(rate, Measured("", "", (), seed_stats([0.1]), examples=10000))[0] == REPRODUCED


def test_headline_table_has_a_verdict_for_every_claim():
    df = _sin_runs({"DP (Adam)": [1.0, 2.0], "PG (inverse)": [1e-3, 2e-3]}, n=20000 // 1000)
    head = headline_table(df).set_index("claim")
    assert set(head["verdict"]) <= {REPRODUCED, QUALITATIVE, NOT_REPRODUCED, NOT_AT_SCALE, OTHER_HARDWARE}
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
    assert verdict(claim, m)[0] == QUALITATIVE
