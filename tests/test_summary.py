"""The one reduction of a run to a row (pgbench.analysis.summary): per-run metrics from the curves,
per-seed medians, targets, and the stored divergence status (never silently reclassified)."""

import math

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import divergence
from pgbench.analysis.summary import per_config as summarize, per_run, reclassified, rule_notes
from pgbench.analysis.targets import declared_target as problem_target
from pgbench.record import records
from pgbench.sweep import expand, run_sweep

TINY = {"batch_size": 8, "test_size": 8}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    tasks, _ = expand("sin", ["gd", "inverse", "dp"], seeds=[0, 1], iterations=4, problem_overrides=TINY)
    run_sweep(tasks, root=root)
    return root


def test_per_run_metrics_follow_the_curves(store_dir):
    df = pgbench.load_results(store_dir)
    runs = per_run(df, 0.19).set_index("run_key")
    assert len(runs) == 6
    for key, g in df.groupby("run_key"):
        r = runs.loc[key]
        if r["kind"] == "iterative":
            assert r["x_error"] == pytest.approx(g["x_error"].iloc[-1])
            assert r["loss"] == pytest.approx(g["loss"].iloc[-1])
            assert math.isnan(r["train_x_error"])
            assert r["iterations"] == g["iteration"].iloc[-1] == 4
            hit = g[g["x_error"] <= 0.19]
            expected_steps = hit["iteration"].iloc[0] if len(hit) else math.nan
        else:  # training: the held-out evaluation after the first and the last update (eval_every=100)
            ev = g.dropna(subset=["eval_x_error"])
            assert list(g["iteration"]) == [1, 2, 3, 4]
            assert list(ev["iteration"]) == [1, 4]
            assert r["x_error"] == pytest.approx(ev["eval_x_error"].iloc[-1])
            assert r["loss"] == pytest.approx(ev["eval_loss"].iloc[-1])
            assert r["train_x_error"] == pytest.approx(g["x_error"].iloc[-1])
            assert r["iterations"] == 4
            hit = ev[ev["eval_x_error"] <= 0.19]
            expected_steps = hit["iteration"].iloc[0] if len(hit) else math.nan
        np.testing.assert_equal(r["iterations_to_target"], expected_steps)
        steps = np.diff(g["wall_time"].to_numpy())
        assert r["time_per_iteration"] == pytest.approx(np.median(steps))
        assert r["wall_time"] == pytest.approx(g["wall_time"].iloc[-1])


def test_summary_medians_over_seeds(store_dir):
    df = pgbench.load_results(store_dir)
    runs = per_run(df)
    table = summarize(df).set_index("solver")
    assert list(table.index) == ["dp-v0", "gd-v0", "inverse-v0"]
    for solver, row in table.iterrows():
        mine = runs[runs["solver"] == solver]
        assert row["seeds"] == 2 and row["ok"] == 2 and row["failed"] == row["diverged"] == 0
        assert row["x_error"] == pytest.approx(mine["x_error"].median())
        assert row["x_error_lo"] == pytest.approx(mine["x_error"].min())
        assert row["x_error_hi"] == pytest.approx(mine["x_error"].max())
        assert row["time_per_iteration"] == pytest.approx(mine["time_per_iteration"].median())
        assert row["target"] == pytest.approx(1e-4)  # the sin problem's registered target
    # the analytic inverse lands on the closest minimum in one step
    assert table.loc["inverse-v0", "x_error"] < 1e-6
    assert table.loc["inverse-v0", "reached"] == 2 and table.loc["inverse-v0", "iterations_to_target"] == 1
    assert table.loc["gd-v0", "reached"] == 0 and math.isnan(table.loc["gd-v0", "time_to_target"])


def _synthetic(run_key, seed, status, x_errors, solver="gd-v0", settings='{"eta": 1}'):
    n = len(x_errors)
    return pd.DataFrame({
        "run_key": run_key, "problem": "sin-v0", "scale": "quick", "solver": solver, "label": "gd",
        "kind": "iterative", "backend": "torch", "device_name": "cpu", "seed": seed, "status": status,
        "x_error_name": "|x - x*|", "hyperparameters": settings, "problem_settings": "{}", "budget_iterations": 3,
        "max_time": None, "iteration": np.arange(n), "wall_time": 0.5 * np.arange(n),
        "loss": np.asarray(x_errors) * 2, "x_error": x_errors,
        "nonfinite": [0.0] * n})


def test_summary_statuses_targets_and_configs():
    df = pd.concat([
        _synthetic("a", 0, "ok", [1.0, 0.5, 0.2, 0.1]),
        _synthetic("b", 1, "ok", [1.0, 0.8, 0.4, 0.3]),
        _synthetic("c", 2, "diverged", [1.0, 5.0, np.nan, np.nan]),
        _synthetic("d", 3, "failed", [np.nan]),
        _synthetic("e", 0, "ok", [1.0, 0.1, 0.05, 0.01], settings='{"eta": 2}'),  # another configuration
    ], ignore_index=True)
    s = summarize(df, 0.25)
    assert len(s) == 2
    # the same runs found twice (two result roots) count once
    pd.testing.assert_frame_equal(summarize(pd.concat([df, df], ignore_index=True), 0.25), s)
    main = s[s["seeds"] == 4].iloc[0]
    assert (main["ok"], main["diverged"], main["failed"]) == (2, 1, 1)
    assert main["x_error"] == pytest.approx(0.2)           # median of 0.1 and 0.3; diverged has no final value
    assert (main["x_error_lo"], main["x_error_hi"]) == (0.1, 0.3)
    assert main["reached"] == 1 and main["iterations_to_target"] == 2 and main["time_to_target"] == 1.0
    assert main["time_per_iteration"] == pytest.approx(0.5)
    assert main["iterations"] == 3
    other = s[s["seeds"] == 1].iloc[0]
    assert other["x_error"] == pytest.approx(0.01) and other["iterations_to_target"] == 1
    assert other["config"] != main["config"]
    # a per-problem target, and the registry's when none is given
    assert sorted(summarize(df, {"sin": 0.09})["reached"]) == [0, 1]
    assert summarize(df)["target"].iloc[0] == pytest.approx(problem_target("sin-v0"))
    assert problem_target("not-registered-v0") is None


def test_empty_frame():
    assert summarize(pgbench.load_results("/nonexistent/path")).empty


def test_reading_never_reclassifies_and_says_which_rule_classified():
    """Stores written before the divergence rule was recorded hold blow-ups as ``ok`` (sin PG with
    Newton ended at an x error of 9.85e5): reading keeps the stored status and says that no rule is
    recorded; reclassifying is explicit and then uses the current rule."""
    df = pd.concat([
        _synthetic("a", 0, "ok", [1.0, 0.5, 0.2, 0.1]),
        _synthetic("b", 1, "ok", [1.0, 0.8, 0.4, 0.3]),
        _synthetic("c", 2, "ok", [1.0, 10.0, 3e3, 9.85e5]),
    ], ignore_index=True)
    runs = per_run(df).set_index("run_key")
    assert (runs["status"] == "ok").all() and (runs["divergence_rule"] == "unrecorded").all()
    (note,) = rule_notes(runs)
    assert "3 of 3 runs" in note and "unrecorded" in note
    again = per_run(reclassified(list(records(df)))).set_index("run_key")
    assert again.loc["c", "status"] == "diverged" and "blew up at iteration 2" in again.loc["c", "message"]
    assert (again.loc[["a", "b"], "status"] == "ok").all()
    assert (again["divergence_rule"] == divergence.rule_name(divergence.RULE.as_dict())).all()
    assert rule_notes(again) == []
    s = summarize(reclassified(list(records(df)))).iloc[0]
    assert (s["ok"], s["diverged"]) == (2, 1)
    assert s["x_error"] == pytest.approx(0.2) and s["x_error_hi"] == pytest.approx(0.3)
    # a rule with other parameters is another rule: runs classified under it are flagged
    strict = divergence.Rule(version=2, blowup_factor=5.0)
    assert per_run(reclassified(list(records(df)), strict)).set_index("run_key").loc["b", "status"] == "ok"
    assert per_run(reclassified(list(records(df)), strict)).set_index("run_key").loc["c", "status"] == "diverged"
    assert rule_notes(per_run(reclassified(list(records(df)), strict)))


def test_two_solver_ids_under_one_label_are_two_configurations_shown_apart():
    """``gd-v0`` and ``gd-v1`` stored with the label ``gd`` and the same settings: two
    configurations (the configuration identity includes the solver id) and two rows that say
    which is which, in the results table too."""
    import io

    from rich.console import Console

    from pgbench import terminal
    from pgbench.analysis.summary import method_names

    df = pd.concat([_synthetic("a", 0, "ok", [1.0, 0.5, 0.2, 0.1]),
                    _synthetic("b", 0, "ok", [1.0, 0.8, 0.4, 0.3], solver="gd-v1")], ignore_index=True)
    s = summarize(df, 0.25)
    assert list(s["solver"]) == ["gd-v0", "gd-v1"] and list(s["seeds"]) == [1, 1]
    assert s["config"].nunique() == 2
    assert list(method_names(s)) == ["gd (gd-v0)", "gd (gd-v1)"]
    assert list(method_names(s[s["solver"] == "gd-v0"])) == ["gd"]  # one solver under the label: as stored
    # the paper's "PG (inverse)" names a training scheme and an iterative solver: kinds never pool
    both = pd.DataFrame({"problem": "sin-v0", "label": "PG (inverse)", "solver": ["pg-v0", "inverse-v0"],
                         "kind": ["training", "iterative"]})
    assert list(method_names(both)) == ["PG (inverse)", "PG (inverse)"]
    con = Console(file=io.StringIO(), width=200)
    con.print(terminal.summary_table(s))
    text = con.file.getvalue()
    assert "gd (gd-v0)" in text and "gd (gd-v1)" in text
    con = Console(file=io.StringIO(), width=200)
    con.print(terminal.runs_table(per_run(df, 0.25)))
    assert "gd (gd-v1)" in con.file.getvalue()
