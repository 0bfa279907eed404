"""The curve-shape, seed-difference, Table 1, exp and book rows of the headline: judged by the one
rule, and the rows the stored runs cannot reach name the command that measures them."""

import numpy as np

from pgbench.analysis.claim import Claim
from pgbench.analysis.claim_rows_more import ROWS
from pgbench.analysis.curve_measures import converges_like, slowdown
from pgbench.analysis.headline import CLAIMS, NOT_MEASURED, headline_table
from pgbench.analysis.verdicts import NOT_AT_SCALE, NOT_REPRODUCED, QUALITATIVE, REPRODUCED
from test_solver_measures import _runs

_BY_KEY = {c.key: c for c in ROWS}


def _with(key, measure):
    return Claim(**{**_BY_KEY[key].__dict__, "measure": measure})


def test_rows_are_headline_claims_and_quote_their_source():
    keys = [c.key for c in CLAIMS]
    assert all(r.key in keys for r in ROWS) and len(set(keys)) == len(keys)
    assert all(r.rule.reading.startswith("'") for r in ROWS)


def test_newton_converging_on_some_seeds_is_reproduced_on_all_seeds_not():
    pg = [[1e-5] * 30] * 4
    some = _runs("sin-v0", "training", {"PG (inverse)": pg, "PG (Newton)": [[2e-5] * 30] + [[1.0] * 30] * 3},
                 status={("PG (Newton)", s): "diverged" for s in (1, 2, 3)})
    row = [_with("sin-newton-some-seeds", converges_like("PG (Newton)", "PG (inverse)", 30))]
    head = headline_table(some, row).set_index("claim").loc["sin-newton-some-seeds"]
    assert (head["k/n"], head["verdict"]) == ("1/4", REPRODUCED)
    every = _runs("sin-v0", "training", {"PG (inverse)": pg, "PG (Newton)": [[2e-5] * 30] * 4})
    head = headline_table(every, row).set_index("claim").loc["sin-newton-some-seeds"]
    assert (head["k/n"], head["verdict"]) == ("4/4", NOT_REPRODUCED)


def test_a_slowdown_past_the_stored_runs_names_the_gpu_command():
    i = np.arange(1, 101, dtype=float)
    curve = list(10 ** (-0.05 * np.minimum(i, 20) - 0.002 * np.clip(i - 20, 0, None)))
    df = _runs("poisson-v0", "training", {"DP (Adam)": [curve] * 3})
    row = headline_table(df, [_BY_KEY["poisson-adam-slows-200"]]).set_index("claim").loc["poisson-adam-slows-200"]
    assert row["verdict"] == NOT_AT_SCALE and "--only poisson-training" in row["reason"]
    assert row["at this budget"] != NOT_MEASURED                    # the same reading over iterations 1–100


def test_heat_slowdown_at_thirty_to_forty_is_judged_on_the_range():
    def bent(k, n=120):
        i = np.arange(1, n + 1, dtype=float)
        return list(10 ** (-0.05 * np.minimum(i, k) - 0.002 * np.clip(i - k, 0, None)))

    # hig-toy has no running-average window: the curves are read as given
    df = _runs("hig-toy-v0", "training", {"DP (Adam)": [bent(33), bent(38), bent(70)]})
    row = [Claim(**{**_BY_KEY["heat-adam-slows-30-40"].__dict__, "problem": "hig-toy-v0",
                    "measure": slowdown("DP (Adam)", 100)})]
    head = headline_table(df, row).set_index("claim").loc["heat-adam-slows-30-40"]
    assert (head["k/n"], head["verdict"]) == ("2/3", REPRODUCED)     # 70 / 40 = 1.75 > 1.5
    df = _runs("hig-toy-v0", "training", {"DP (Adam)": [bent(15), bent(16), bent(70)]})
    assert headline_table(df, row).set_index("claim").loc["heat-adam-slows-30-40", "verdict"] == QUALITATIVE


def test_rows_needing_longer_runs_say_what_and_how():
    stub = _runs("heat-v0", "training", {"DP (Adam)": [[1.0] * 4], "PG (L-BFGS-B)": [[1.0] * 4]})
    row = headline_table(stub, [_BY_KEY["heat-lbfgsb-20pc"]]).set_index("claim").loc["heat-lbfgsb-20pc"]
    assert row["verdict"] == NOT_AT_SCALE
    assert "PG (L-BFGS-B) training runs" in row["reason"] and "--only heat-training" in row["reason"]
    none = headline_table(stub, [_BY_KEY["book-hig-beyond-longer-dp"]]).set_index("claim")
    assert "--only hig-toy --seeds 0,1,2" in none.loc["book-hig-beyond-longer-dp", "reason"]
