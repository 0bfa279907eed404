"""The experiment set and reproduce(): recipes plan, unregistered problems are skipped with a
note, finished runs are reused, example artifacts are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pgbench import InvalidSettingError, load_results
from pgbench.recipes import EXPERIMENTS, Experiment, Method, select
from pgbench.reproduce import planned, reproduce, tasks

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
                    assert ((e.problem, m.label) in planned) == (scale in m.scales), (scale, e.name, m.label)


def test_hig_checks_group_seeds_and_per_method_problem_settings():
    """``only="hig"`` selects the four HIG experiments; ``seeds`` replaces their seeds; a method's
    own problem settings (the paper's Adam batch next to HIG's) and scales apply to it alone."""
    ts, notes = tasks("quick", only=["hig"], seeds=(0, 1, 2))
    assert not notes
    assert {t.problem for t in ts} == {"oscillators-v0", "quantum-dipole-v0", "poisson-hig-v0", "hig-toy-v0"}
    assert all(sorted(t.seed for t in ts if (t.problem, t.label) == key) == [0, 1, 2]
               for key in {(t.problem, t.label) for t in ts})
    by = {(t.problem, t.label, t.seed): t for t in ts}
    adam, hig = by[("quantum-dipole-v0", "Adam (paper)", 1)], by[("quantum-dipole-v0", "HIG", 1)]
    assert adam.problem_overrides == {"batch_size": 256} and adam.hyperparameters == {"lr": 5e-4}
    assert hig.problem_overrides == {}
    assert adam.plan().problem.batch_size == 256 and hig.plan().problem.batch_size == 16
    assert adam.max_time == hig.max_time == 90.0          # equal wall time
    assert ("poisson-hig-v0", "HIG", 0) not in by          # HIG from scratch: paper scale only
    sched = by[("poisson-hig-v0", "Adam→HIG", 0)]
    assert sched.hyperparameters == {"unit": "seconds", "switch_at": 30.0, "first_settings": {"lr": 1e-3}}
    assert sched.max_time == 60.0
    paper, _ = tasks("paper", only=["poisson-hig"])
    assert {t.label for t in paper} == {"Adam", "Adam→HIG", "HIG"}


def test_max_time_caps_every_run_and_is_checked_first():
    """``max_time`` caps every run (the paper's budgets as far as a time allows), keeps shorter
    budgets of their own (the book toy's 20 s) and is refused when not positive."""
    ts, _ = tasks("paper", only=["heat-training", "hig"], max_time=30.0)
    assert {t.problem for t in ts} >= {"heat-v0", "hig-toy-v0", "oscillators-v0"}
    assert {t.max_time for t in ts} == {20.0, 30.0}
    # the book toy keeps its 20 s; its paper-scale "Adam (4× time)" (80 s) is capped like the rest
    assert {(t.label, t.max_time) for t in ts if t.problem == "hig-toy-v0"} == {
        ("HIG", 20.0), ("Adam", 20.0), ("SIP", 20.0), ("Adam (4× time)", 30.0)}
    assert all(t.iterations == 10000 for t in ts if t.problem == "heat-v0" and t.label == "DP (Adam)")
    for bad in (0.0, -1.0):
        with pytest.raises(InvalidSettingError, match="max_time"):
            tasks("paper", max_time=bad)


def _spy_warm_ups(monkeypatch):
    """Record every Run.warm_up: (label, max_time, the stage of each warm-up step)."""
    from pgbench.runner import Run
    calls, real = [], Run.warm_up

    def spy(self, steps=2):
        seen, step = [], self.step

        def recording(state):
            state = step(state)
            seen.append(state.rows[-1].get("stage"))
            return state
        self.step = recording
        try:
            real(self, steps)
        finally:
            del self.step
        calls.append((self.plan.meta["label"], self.plan.max_time, seen))
    monkeypatch.setattr(Run, "warm_up", spy)
    return calls


def test_wall_time_runs_are_warmed_up_but_only_the_timed_run_is_stored(tmp_path, monkeypatch):
    """A run with a wall-time budget is preceded by two untimed steps on a throwaway state (a
    schedule's warm-up switches after one step, so both stages run); iteration-budget runs are
    not; only the timed runs are stored. reproduce and sweep share the executor, so both do this."""
    calls = _spy_warm_ups(monkeypatch)
    exp = (Experiment("toy", "hig-toy-v0", "book",
                      (Method("HIG", "hig"),
                       Method("Adam→HIG", "schedule", {"unit": "seconds", "switch_at": 30.0})),
                      iterations={"quick": 4}, max_time={"quick": 60.0}),
           Experiment("toy-it", "hig-toy-v0", "book", (Method("Adam", "dp"),), iterations={"quick": 4}))
    runs = tmp_path / "runs"
    summary = reproduce("quick", results=runs, out=tmp_path / "report", experiments=exp, workers=1)  # spied here
    assert summary["runs"] == 3 and summary["failed"] == 0
    assert calls == [("HIG", 60.0, [None, None]), ("Adam→HIG", 60.0, [0.0, 1.0])]
    df = load_results(runs)
    assert df["run_key"].nunique() == 3
    assert df.groupby("run_key")["iteration"].apply(lambda it: sorted(it) == [1, 2, 3, 4]).all()
    stages = df[df["label"] == "Adam→HIG"]["stage"].tolist()
    assert stages == [0.0] * 4     # the timed run itself never reached its 30 s switch
    from pgbench.sweep import expand, run_sweep
    calls.clear()
    ts, _ = expand("hig-toy", ["hig", "dp"], iterations=2, max_time=30.0)
    run_sweep(ts, root=tmp_path / "sweep")
    assert [c[:2] for c in calls] == [("hig", 30.0), ("dp", 30.0)]


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
    # budgets of the recipe are what was run (training: iterations 1..3; iterative: 0..4)
    last = df.groupby("run_key")["iteration"].max()
    kinds = df.groupby("run_key")["kind"].first()
    assert set(last[kinds == "training"]) == {3} and set(last[kinds == "iterative"]) == {4}


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


def _curves(root) -> pd.DataFrame:
    """Every row of every run in ``root`` but its timings (wall and CPU time, ``t_*``, the file's
    creation time), sorted by run and iteration."""
    df = load_results(root)
    cols = [c for c in df.columns if c not in ("wall_time", "cpu_time", "created") and not c.startswith("t_")]
    return df[cols].sort_values(["run_key", "iteration"]).reset_index(drop=True)


def test_reproduce_on_worker_processes_stores_what_the_serial_run_stores(tmp_path, monkeypatch, capsys):
    """By default a reproduction runs on one worker process per core (two here): the same run keys
    and, bit for bit, the same curves (every column but the timings) as ``workers=1`` (one at a time
    in this process), for the quick recipe of Fig. 2a and tiny training runs; every run's examples
    are written by the worker that ran it, and the plan says how the runs share the cores."""
    from pgbench import scheduling

    monkeypatch.setattr(scheduling, "cores", lambda: 2)
    experiments = (*TINY, *select(["quadratic2d-trajectories"]))
    serial, pool = tmp_path / "serial", tmp_path / "pool"
    one = reproduce("quick", results=serial, out=tmp_path / "r1", experiments=experiments, workers=1, report=False)
    assert "schedule: one run at a time in this process" in capsys.readouterr().out
    s = reproduce("quick", results=pool, out=tmp_path / "r2", experiments=experiments, report=False)
    said = capsys.readouterr().out
    assert "schedule: 2 worker processes on 2 cores, 1 torch thread each: no run shares a core" in said
    assert one["runs"] == s["runs"] == 12 and s["failed"] == 0
    a, b = _curves(serial), _curves(pool)
    assert set(a["run_key"]) == set(b["run_key"]) and len(a) == len(b)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    keys = {p.name.split(".")[0] for p in pool.rglob("*.examples.npz")}
    assert keys == set(b["run_key"])


def test_plan_estimates_and_eta(tmp_path):
    """The plan counts stored and pending runs and estimates their time from the reference CPU's
    measured timings (wall-time runs: their budget); the ETA scales what is left by the pace of the
    finished runs."""
    from pgbench.reproduce import Workload, estimate_seconds, reference_timings
    from pgbench.terminal import plan_line
    p = planned("quick", only=["sin-training"])
    todo = p.tasks
    assert all(estimate_seconds(t) == reference_timings()[f"sin-v0|{t.label}"] for t in todo)
    plan = Workload.of(todo, p.plans, tmp_path)
    assert (plan.total, plan.stored, len(plan.estimates)) == (len(todo), 0, len(todo))
    assert f"{len(todo)} to run" in plan_line(plan) and "reference CPU" in plan_line(plan)
    total = plan.known()
    first = plan.estimates[0]
    plan.finished(0)
    assert plan.eta(elapsed=2 * first) == pytest.approx(2 * (total - first))   # twice as slow as the reference
    hig, _ = tasks("quick", only=["hig-toy"])
    assert estimate_seconds(hig[0]) == pytest.approx(1.1 * hig[0].max_time)


def test_each_task_is_planned_once(tmp_path, monkeypatch):
    """reproduce plans every task once: the store lookup of its plan and run_sweep reuse that plan."""
    from pgbench import tasks as T
    calls, real = [], T._plan

    def counting(problem, solver, **kw):
        calls.append((kw.get("label"), kw.get("seed")))
        return real(problem, solver, **kw)
    monkeypatch.setattr(T, "_plan", counting)
    summary = reproduce("quick", results=tmp_path / "runs", out=tmp_path / "report", experiments=TINY[:1],
                        report=False)
    assert summary["runs"] == 2 and sorted(calls) == [("GD", 0), ("PG (inverse)", 0)]


def test_methods_and_no_report(tmp_path, capsys):
    """``methods`` keeps the named methods only (the same tasks and keys as without it); ``report=False``
    runs and stores without building the report; an unknown label is refused with the nearest."""
    full, _ = tasks("paper", only=["heat-training"], budget="early", seeds=(1,))
    some, _ = tasks("paper", only=["heat-training"], budget="early", seeds=(1,), methods=["PG (inverse)"])
    assert some == [t for t in full if t.label == "PG (inverse)"] and len(some) == 1
    with pytest.raises(InvalidSettingError, match="did you mean 'PG \\(inverse\\)'"):
        tasks("quick", experiments=TINY, methods=["PG (inverted)"])
    out = tmp_path / "report"
    summary = reproduce("quick", results=tmp_path / "runs", out=out, experiments=TINY[:1], methods=["GD"],
                        report=False)
    assert summary["runs"] == 1 and summary["report"] is None and not out.exists()
    assert set(load_results(tmp_path / "runs")["label"]) == {"GD"}
    assert "no report" in capsys.readouterr().out


def test_a_recipe_solver_taken_over_by_a_newer_version_is_noted(tmp_path, monkeypatch):
    """Recipes name solvers bare (``gd``): a plugin registering ``gd-v1`` takes them over, and the
    plan's notes say so in one line (an installed plugin needs no flag, so nothing else would)."""
    import pgbench

    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    assert not [n for n in tasks("quick", experiments=TINY[:1])[1] if "→" in n]
    plugin = tmp_path / "newer_gd_for_recipes.py"
    plugin.write_text("import pgbench\npgbench.register_solver('gd-v1', 'pgbench.solvers.iterative:GradientDescent')\n")
    pgbench.load_plugin(str(plugin))
    ts, notes = tasks("quick", experiments=TINY[:1])
    assert [n for n in notes if "→" in n] == [f"solver gd → gd-v1 (plugin {plugin})"]


def test_timed_runs_run_alone_unless_timed_beside(tmp_path, monkeypatch):
    """reproduce hands run_sweep room for one run while a wall-time run runs (it runs alone; the rule
    itself is tests/test_scheduling.py's), or the machine's cores with ``timed_beside``."""
    import pgbench.reproduce as R

    seen, real = [], R.run_sweep
    monkeypatch.setattr(R, "run_sweep", lambda *a, **kw: seen.append(kw["cores"]) or real(*a, **kw))
    reproduce("quick", results=tmp_path / "a", out=tmp_path / "r", experiments=TINY[:1], report=False, workers=1)
    reproduce("quick", results=tmp_path / "b", out=tmp_path / "r", experiments=TINY[:1], report=False,
              workers=1, timed_beside=True)
    assert seen == [1, None]
