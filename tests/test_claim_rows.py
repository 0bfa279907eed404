"""The solver / ordering rows of the headline: judged by the one rule, and the rows the stored runs
cannot reach name the command that measures them."""

import pandas as pd

from pgbench.analysis.claim_rows import ROWS
from pgbench.analysis.headline import CLAIMS, NOT_MEASURED, headline_table
from pgbench.analysis.verdicts import DIRECTION, NOT_AT_SCALE, NOT_REPRODUCED, REPRODUCED
from test_solver_measures import _runs

SHARED = "../shared/paper/physical-gradients-iclr2022.txt"


def _rows(df, *keys):
    return headline_table(df, [c for c in ROWS if c.key in keys]).set_index("claim")


def test_rows_are_headline_claims_and_quote_the_paper():
    keys = [c.key for c in CLAIMS]
    assert all(r.key in keys for r in ROWS) and len(set(keys)) == len(keys)
    assert all(r.rule.reading.startswith("'") for r in ROWS)   # each reading quotes its sentence


def test_poisson_one_step_reproduced_at_one_not_at_twenty():
    one = _runs("poisson-v0", "iterative", {"PG (inverse)": [[3e3, 0.06] + [0.058] * 99]})
    head = _rows(one, "poisson-4b-one-step")
    assert head.loc["poisson-4b-one-step", ["measured", "k/n", "verdict"]].tolist() == ["1 (1 seed)", "1/1",
                                                                                          REPRODUCED]
    slow = _runs("poisson-v0", "iterative", {"PG (inverse)": [[3e3 / (1 + k) for k in range(20)] + [1.0] * 81]})
    assert _rows(slow, "poisson-4b-one-step").loc["poisson-4b-one-step", "verdict"] == DIRECTION  # 20 > 1×5, < 100


def test_heat_lbfgsb_beats_gd_per_seed():
    good = _runs("heat-v0", "iterative", {"L-BFGS-B": [[366.0, 154.0]], "GD": [[366.0, 300.0, 212.0]]})
    assert _rows(good, "heat-5b-lbfgsb-gd").loc["heat-5b-lbfgsb-gd", "verdict"] == REPRODUCED
    bad = _runs("heat-v0", "iterative", {"L-BFGS-B": [[366.0, 250.0]], "GD": [[366.0, 300.0, 212.0]]})
    row = _rows(bad, "heat-5b-lbfgsb-gd").loc["heat-5b-lbfgsb-gd"]
    assert (row["verdict"], row["k/n"]) == (NOT_REPRODUCED, "1/1")


def test_ns_estimator_needs_a_longer_run_and_names_the_command():
    short = _runs("navier-stokes-v0", "iterative", {"PG (inverse)": [[5.6] + [5.6 / k for k in range(1, 101)]]})
    row = _rows(short, "ns-estimator-100").loc["ns-estimator-100"]
    assert row["verdict"] == NOT_AT_SCALE and row["measured"] == NOT_MEASURED
    assert "pgbench run navier-stokes-v0 inverse --scale paper --iterations 200" in row["reason"]
    long = _runs("navier-stokes-v0", "iterative", {"PG (inverse)": [[5.6] + [max(5.6 / k, 0.1) for k in range(1, 201)]]})
    row = _rows(long, "ns-estimator-100").loc["ns-estimator-100"]
    assert (row["measured"], row["verdict"]) == ("51 (1 seed)", REPRODUCED)   # 5.6/51 ≤ 1.1 × 0.1


def test_fig2a_without_stored_runs_names_the_command():
    head = _rows(_runs("heat-v0", "iterative", {"GD": [[1.0, 0.5]]}), "fig2a-pg-closest")
    row = head.loc["fig2a-pg-closest"]
    assert row["verdict"] == NOT_AT_SCALE and "--only quadratic2d-trajectories" in row["reason"]
    quad = _runs("quadratic2d-v0", "iterative", {"PG (inverse)": [[4.2, 0.004]], "GD": [[4.2, 2.0]],
                                                 "Newton": [[4.2, 0.5]]})
    assert _rows(quad, "fig2a-pg-closest").loc["fig2a-pg-closest", "verdict"] == REPRODUCED


def test_sin_rows_hold_on_a_majority_of_seeds():
    df = _runs("sin-v0", "training", {"Supervised": [[1e-2] * 30] * 3, "DP (Adam)": [[2e-2] * 30, [1e-3] * 30, [1e-3] * 30],
                                      "PG (inverse)": [[1e-5] * 30, [1e-5] * 30, [1e-3] * 30]})
    from pgbench.analysis.claim import Claim
    from pgbench.analysis.solver_measures import average_above, average_below_level
    rows = {c.key: c for c in ROWS}
    at30 = [Claim(**{**rows["sin-supervised-poor"].__dict__,
                     "measure": average_above("Supervised", ("DP (Adam)", "PG (inverse)"), 30)}),
            Claim(**{**rows["sin-pg-1e-4"].__dict__, "measure": average_below_level("PG (inverse)", 1e-4, 30)})]
    head = headline_table(df, at30).set_index("claim")
    assert head.loc["sin-supervised-poor", ["k/n", "verdict"]].tolist() == ["2/3", REPRODUCED]
    assert head.loc["sin-pg-1e-4", ["k/n", "verdict"]].tolist() == ["2/3", REPRODUCED]
    assert _rows(df, "sin-pg-1e-4").loc["sin-pg-1e-4", "verdict"] == NOT_AT_SCALE   # 30 iterations, not 20k
