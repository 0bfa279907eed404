"""Per-run quantities (pgbench.analysis.measures) and the divergence rule (pgbench.divergence)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import record
from pgbench.analysis import measures
from pgbench.divergence import BLOWUP_FACTOR, NONFINITE_LIMIT, Watch, classify


def _training_run(evals, n=6, fmt=None):
    rows = []
    for it in range(1, n + 1):
        rows.append({"run_key": "k", "kind": "training", "iteration": it, "wall_time": 0.1 * it,
                     "loss": 1.0 / it, "x_error": 2.0 / it, "nonfinite": 0.0,
                     "eval_x_error": evals.get(it, np.nan), "eval_loss": evals.get(it, np.nan),
                     "store_format": fmt or record.STORE_FORMAT, "target_x_error": 0.3})
    return pd.DataFrame(rows)


def test_final_value_reads_the_held_out_metric_of_training_runs():
    run = _training_run({1: 0.9, 3: 0.4, 6: 0.2})
    assert measures.final_value(run, "x_error") == 0.2
    assert measures.metric_column(run) == "eval_x_error"
    assert measures.iterations_done(run) == 6
    assert measures.first_reaching(run, 0.4) == (3, pytest.approx(0.3))
    assert all(math.isnan(v) for v in measures.first_reaching(run, 0.01))
    assert measures.seconds_per_iteration(run) == pytest.approx(0.1)
    assert measures.target_of(run) == 0.3


def test_a_budget_of_100_reaches_iteration_100():
    r = pgbench.run("sin", "dp", iterations=100, scale="quick", backend="torch")
    assert r.records["iteration"].iloc[-1] == 100 and measures.iterations_done(r) == 100
    # a result's records carry no ``kind`` column: the measures read it from the run, not the frame
    assert "kind" not in r.records and measures.metric_column(r) == "eval_x_error"
    assert measures.final_value(r) == r.records["eval_x_error"].dropna().iloc[-1]
    assert r.meta["target_x_error"] == pytest.approx(1e-4)


def test_old_stores_are_renumbered_on_load(tmp_path):
    """Training rows written before store format 0.2 started at 0: they are shifted by one."""
    run = _training_run({1: 0.9, 6: 0.2}).drop(columns="store_format")
    run["iteration"] -= 1
    up = record.upgrade(run)
    assert list(up["iteration"]) == [1, 2, 3, 4, 5, 6]
    assert record.upgrade(up)["iteration"].tolist() == [1, 2, 3, 4, 5, 6]   # idempotent
    iterative = run.assign(kind="iterative")
    assert record.upgrade(iterative)["iteration"].tolist() == [0, 1, 2, 3, 4, 5]


def test_config_hash_ignores_seed_and_machine_but_not_settings():
    a = {"problem_settings": "{}", "hyperparameters": '{"lr": 1}', "budget_iterations": 5, "max_time": None,
         "seed": 0, "machine": "a"}
    assert record.config_hash(a) == record.config_hash({**a, "seed": 3, "machine": "b"})
    assert record.config_hash(a) != record.config_hash({**a, "hyperparameters": '{"lr": 2}'})
    # the visible core count is the machine's (the paper-CPU campaign pinned later seeds with taskset)
    one, two = ({**a, "numerics": json.dumps({"jax": "0.10", "cpu_cores": c})} for c in (1, 2))
    assert record.config_hash(one) == record.config_hash(two)
    assert record.config_hash(one) != record.config_hash({**one, "numerics": '{"jax": "0.11", "cpu_cores": 1}'})


def test_seed_stats_never_mix_in_missing_seeds():
    s = measures.seed_stats([2.0, 4.0, np.nan, np.inf], n=4)
    assert (s.median, s.lo, s.hi, s.k, s.n) == (3.0, 2.0, 4.0, 2, 4)
    assert measures.format_stats(s, "×") == "3× (2–4, 2/4 seeds)"
    assert measures.format_stats(measures.seed_stats([5.0]), "×") == "5× (1 seed)"
    assert measures.format_stats(measures.seed_stats([np.nan], n=1)) == "nan (0/1 seeds)"


def test_watch_flags_blowups_and_nonfinite_fractions():
    w = Watch("iterative")
    assert w({"iteration": 0, "x_error": 2.0, "nonfinite": 0.0}) is None
    assert w({"iteration": 1, "x_error": 2.0 * BLOWUP_FACTOR, "nonfinite": 0.0}) is None   # at the limit
    assert "blew up at iteration 2" in w({"iteration": 2, "x_error": 2.1 * BLOWUP_FACTOR, "nonfinite": 0.0})
    w = Watch("training")
    assert w({"iteration": 1, "x_error": 1e9, "nonfinite": 0.0}) is None    # training batch: not the rule
    assert "non-finite" in w({"iteration": 2, "nonfinite": NONFINITE_LIMIT})
    assert "held-out" in Watch("training")({"iteration": 2, "nonfinite": 0.0, "eval_nonfinite": 1.0})


def test_classify_a_stored_run():
    assert classify(_training_run({1: 0.9, 6: 0.2}), "training") is None
    assert "blew up at iteration 6" in classify(_training_run({1: 0.9, 3: 50.0, 6: 9.85e5}), "training")
