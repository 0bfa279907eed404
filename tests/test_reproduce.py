"""The experiment set and reproduce(): recipes plan, unregistered problems are skipped with a
note, finished runs are reused, example artifacts are written."""

from __future__ import annotations

import numpy as np
import pytest

from pgbench import InvalidSettingError, load_results
from pgbench.reproduce import EXPERIMENTS, Experiment, Method, reproduce, select, tasks

TINY = (
    Experiment("q2d", "quadratic2d-v0", "Fig. 2a",
               (Method("GD", "gd", {"eta": 0.5 / 36}, iterations={"quick": 4}),
                Method("PG (inverse)", "inverse", {"eta": 0.5}, iterations={"quick": 4}))),
    Experiment("sin-tiny", "sin-v0", "Fig. 3",
               (Method("DP (Adam)", "dp"), Method("PG (inverse)", "pg")),
               iterations={"quick": 3}, seeds={"quick": (0, 1)}),
    Experiment("not-here", "no-such-problem-v0", "Fig. 99", (Method("GD", "gd"),)),
)


def test_every_recipe_plans_at_both_scales():
    """Every method of every registered problem's recipe is a valid run (solver ids,
    hyperparameter names and values, problem overrides), at quick and paper scale."""
    for scale in ("quick", "paper"):
        ts, notes = tasks(scale)
        assert ts, "no task at all"
        bad = [n for n in notes if "not registered" not in n]
        assert not bad, bad
        planned = {(t.problem, t.label) for t in ts}
        for e in EXPERIMENTS:
            if e.problem in {t.problem for t in ts}:
                for m in e.methods:
                    assert (e.problem, m.label) in planned


def test_unregistered_problem_is_skipped_with_note():
    ts, notes = tasks("quick", experiments=TINY)
    assert {t.problem for t in ts} == {"quadratic2d-v0", "sin-v0"}
    assert any("no-such-problem-v0" in n and "not registered" in n for n in notes)
    # seeds x methods
    assert sum(t.problem == "sin-v0" for t in ts) == 4


def test_select_by_name_or_problem():
    assert [e.name for e in select(["sin"], TINY)] == ["sin-tiny"]
    assert [e.name for e in select("q2d", TINY)] == ["q2d"]
    with pytest.raises(InvalidSettingError):
        select(["nonsense-experiment"], TINY)


def test_reproduce_skips_finished_runs(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "report"
    first = reproduce("quick", results=runs, out=out, experiments=TINY)
    assert first["runs"] == 6 and first["cached"] == 0 and first["failed"] == 0
    files = sorted(runs.rglob("*.parquet"))
    assert len(files) == 6
    mtimes = [f.stat().st_mtime_ns for f in files]
    second = reproduce("quick", results=runs, out=out, experiments=TINY)
    assert second["runs"] == 0 and second["cached"] == 6
    assert [f.stat().st_mtime_ns for f in sorted(runs.rglob("*.parquet"))] == mtimes
    assert (out / "index.html").exists()
    df = load_results(runs)
    assert set(df["label"]) == {"GD", "PG (inverse)", "DP (Adam)"}
    # budgets of the recipe are what was run (training: iterations 0..2; iterative: 0..4)
    last = df.groupby("run_key")["iteration"].max()
    kinds = df.groupby("run_key")["kind"].first()
    assert set(last[kinds == "training"]) == {2} and set(last[kinds == "iterative"]) == {4}


def test_examples_artifact_matches_the_run(tmp_path):
    """The examples file of an iterative run holds its final x; its x error equals the stored one."""
    runs = tmp_path / "runs"
    reproduce("quick", results=runs, out=tmp_path / "report", experiments=TINY[:1])
    df = load_results(runs)
    for key, g in df.groupby("run_key"):
        f = np.load(runs / "quadratic2d-v0" / f"{key}.examples.npz")
        x, xt = f["x_pred"], f["x_true"]
        err = float(np.sqrt(((x - xt) ** 2).sum(axis=1)).mean())
        assert err == pytest.approx(float(g.sort_values("iteration")["x_error"].iloc[-1]), rel=1e-5)
        assert np.allclose(x[0], g.sort_values("iteration")[["x1", "x2"]].iloc[-1].to_numpy(), rtol=1e-6)
