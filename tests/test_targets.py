"""Named target policies and their one resolver (pgbench.analysis.targets): for one store and one
policy, ``pgbench results``, the report's time to target, the leaderboard and Table 1 rank against
the same targets and report the same times."""

import math

import numpy as np
import pandas as pd
import pytest

from pgbench import store
from pgbench.analysis import leaderboard as L
from pgbench.analysis.data import collect
from pgbench.analysis.summary import per_run
from pgbench.analysis.table1 import table1_runs
from pgbench.analysis.targets import TargetPolicy, as_policy, resolve
from pgbench.analysis.timing import time_to_target
from pgbench.record import RunMeta, RunRecord, run_key
from pgbench.report import build_report

NS = "navier-stokes-v0"


def _record(label, solver, kind, seed, times, errors, inner=None):
    hp = {"inner": inner} if solver == "pg-v0" else {}
    meta = RunMeta(problem=NS, scale="quick", problem_settings={"test_size": 4}, solver=solver, hyperparameters=hp,
                   backend="torch", device="cpu", device_name="cpu", numerics={}, seed=seed, iterations=len(times),
                   max_time=None, kind=kind, label=label, x_error_name="|x - x*|", target_x_error=0.5, machine="m")
    first = 1 if kind == "training" else 0
    errors = np.asarray(errors, float)
    rows = pd.DataFrame({"iteration": np.arange(first, first + len(times)), "wall_time": np.asarray(times, float),
                         "loss": errors, "x_error": errors, "nonfinite": 0.0})
    if kind == "training":
        rows["eval_x_error"] = errors
    return RunRecord(meta, rows, "ok", run_key=run_key(meta), created="2026-12-07T00:00:00+00:00")


def _runs():
    t = [1.0, 2.0, 3.0, 4.0, 5.0]
    return [
        _record("DP (Adam)", "dp-v0", "training", 0, t, [2.0, 1.5, 1.2, 1.0, 0.9]),
        _record("DP (Adam)", "dp-v0", "training", 1, t, [2.0, 1.6, 1.3, 1.1, 1.05]),
        _record("PG (inverse)", "pg-v0", "training", 0, t, [1.5, 0.9, 0.6, 0.3, 0.2]),
        _record("PG (inverse)", "pg-v0", "training", 1, t, [1.6, 1.0, 0.7, 0.4, 0.25]),
        _record("GD", "gd-v0", "iterative", 0, [0.0, 4.0, 8.0, 12.0], [3.0, 2.0, 1.0, 0.8]),
        _record("inverse", "inverse-v0", "iterative", 0, [0.0, 1.0, 2.0], [3.0, 0.5, 0.1]),
    ]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for r in _runs():
        path = root / NS / f"{r.run_key}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        store.write_frame(r.to_frame(), path)
    return root


POLICIES = [TargetPolicy("declared"), TargetPolicy("worst-reference"), TargetPolicy("median-reference"),
            TargetPolicy("given", 1.05), TargetPolicy("median-reference", reference="PG (inverse)")]


@pytest.mark.parametrize("policy", POLICIES, ids=str)
def test_results_report_leaderboard_and_table1_agree(stored, policy, tmp_path):
    df = collect(stored)
    # 1. pgbench results (per run)
    runs = per_run(df, policy)
    train = runs[runs["kind"] == "training"].set_index("run_key")
    target = float(train["target"].iloc[0])
    assert math.isfinite(target) and (train["target"] == target).all()
    # 2. the report: its time-to-target table and figure data, and its leaderboard page
    tt = time_to_target(df, policy)
    tt = tt[tt["kind"] == "training"].set_index("run_key")
    # 3. the leaderboard
    board = L.build(df, policy=policy).table.set_index("method")
    # 4. Table 1
    t1 = table1_runs(df, policy)
    t1 = t1[t1["method"].str.startswith("NN")]

    assert (tt["target"] == target).all()
    assert (board["target"] == target).all()
    assert (t1["target_x_error"] == target).all()
    for label, method in (("DP (Adam)", "NN + Adam (DP)"), ("PG (inverse)", "NN + PG")):
        mine = train[train["label"] == label]
        times = mine["time_to_target"].to_numpy()
        np.testing.assert_array_equal(tt.loc[mine.index, "time_to_target"].to_numpy(), times)
        reached = times[np.isfinite(times)]
        expected = float(np.median(np.where(np.isfinite(times), times, np.inf)))
        assert board.loc[label, "time_to_target"] == expected
        assert board.loc[label, "reached"] == len(reached)
        t1_times = t1[t1["method"] == method].set_index("run_key")
        for key, sec in mine["time_to_target"].items():
            got = t1_times.loc[key]
            if math.isfinite(sec):
                assert got["reached"] and got["training_time_s"] == sec
            else:
                assert not got["reached"]


@pytest.mark.parametrize("policy", [POLICIES[1], POLICIES[3]], ids=str)
def test_the_report_uses_one_policy_for_time_to_target_and_its_leaderboard(stored, policy, tmp_path):
    build_report(stored, tmp_path / "report", policy=policy)
    board = pd.read_csv(tmp_path / "report" / "data" / "leaderboard.csv")
    tt = pd.read_csv(tmp_path / "report" / "data" / "time_to_target.csv")
    target = per_run(collect(stored), policy).query("kind == 'training'")["target"].iloc[0]
    assert (board["target"] == target).all() and (tt[tt["kind"] == "training"]["target"] == target).all()
    assert str(policy) in (tmp_path / "report" / "leaderboard.html").read_text()


def test_the_policies_give_different_targets(stored):
    """The agreement above is not vacuous: each policy resolves to its own number here."""
    runs = per_run(collect(stored))
    targets = {str(p): resolve(runs, p, "training")[(NS, "training")] for p in POLICIES}
    assert targets["declared"].value == 0.5 and "declared with the runs" in targets["declared"].source
    assert targets["worst-reference"].value == 1.05 and "DP (Adam)" in targets["worst-reference"].source
    assert targets["median-reference"].value == pytest.approx(0.975)
    assert targets["given 1.05"].source == "given"
    assert targets["median-reference (PG (inverse))"].value == pytest.approx(0.225)
    assert len({round(t.value, 9) for k, t in targets.items() if k != "given 1.05"}) == 4


def test_fallbacks_are_named():
    runs = per_run([r for r in _runs() if r.meta.label != "DP (Adam)"])
    t = resolve(runs, TargetPolicy("worst-reference", reference="DP (Adam)"), "training")[(NS, "training")]
    assert t.value == 0.5 and "no ok seed" in t.source and "declared" in t.source
    t = resolve(runs, {"heat": 1.0}, "training")[(NS, "training")]
    assert t.value == 0.5 and t.source.startswith("not given")


def test_policies_are_validated():
    with pytest.raises(ValueError, match="unknown target policy"):
        TargetPolicy("best")
    with pytest.raises(ValueError, match="> 0"):
        as_policy(-1.0)
    with pytest.raises(ValueError, match="needs a value"):
        TargetPolicy("given")
    assert as_policy(None).name == "declared" and as_policy({"sin": 0.1}).name == "given"
