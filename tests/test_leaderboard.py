"""The leaderboard on synthetic stores with known answers: ranks by time to target (ties share a
rank), error at equal wall time, a diverged seed, a method that never reaches the target, the
performance-profile score (hand-computed), and the CLI."""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from pgbench.analysis import leaderboard as L
from pgbench.report import leaderboard as LR
from pgbench import record, store
from pgbench.analysis import measures


def _run(problem, label, seed, times, errors, status="ok", key=None):
    """One synthetic training run: held-out x error ``errors`` at wall ``times`` (iterations 1..n)."""
    n = len(times)
    return pd.DataFrame({
        "run_key": key or hashlib.sha256(f"{problem}|{label}|{seed}".encode()).hexdigest()[:16], "problem": problem, "scale": "quick",
        "kind": "training", "label": label, "solver": "dp-v0", "status": status, "message": "", "seed": seed,
        "iteration": np.arange(1, n + 1), "wall_time": np.asarray(times, float), "loss": 1.0,
        "x_error": np.asarray(errors, float), "eval_x_error": np.asarray(errors, float), "nonfinite": 0.0,
        "machine": "m", "device_name": "cpu", "backend": "torch", "problem_settings": "{}",
        "hyperparameters": f'{{"label": "{label}"}}', "numerics": "{}", "created": "2026-01-01",
        "target_x_error": np.nan, "x_error_name": "|x - x*|"})


T = [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.fixture
def synthetic():
    """Problem A (target 0.1): fast reaches at 2 s, slow at 4 s, tie reaches at 2 s like fast,
    never stays at 0.5; diverging: seed 0 reaches at 3 s, seed 1 diverged (never reaches).
    Problem B (target 0.1): slow reaches at 1 s (best), fast at 3 s, never/tie absent."""
    e_fast = [0.5, 0.1, 0.05, 0.02, 0.01]
    e_slow = [0.5, 0.4, 0.3, 0.1, 0.08]
    runs = []
    for s in (0, 1):
        runs.append(_run("a-v0", "fast", s, T, e_fast))
        runs.append(_run("a-v0", "tie", s, T, e_fast))
        runs.append(_run("a-v0", "slow", s, T, e_slow))
        runs.append(_run("a-v0", "never", s, T, [0.5] * 5))
        runs.append(_run("b-v0", "slow", s, T, [0.1, 0.09, 0.08, 0.07, 0.06]))
        runs.append(_run("b-v0", "fast", s, T, [0.5, 0.4, 0.1, 0.05, 0.04]))
    runs.append(_run("a-v0", "diverging", 0, T, [0.5, 0.3, 0.1, 0.05, 0.04]))
    runs.append(_run("a-v0", "diverging", 1, [1.0, 2.0, 3.0], [0.5, 0.05, 1e6], status="diverged"))
    return pd.concat(runs, ignore_index=True)


def test_ranks_by_time_to_target_with_ties_and_failures(synthetic):
    board = L.build(synthetic, policy=0.1)
    a = board.table[board.table["problem"] == "a-v0"].set_index("method")
    assert a.loc["fast", "time_to_target"] == a.loc["tie", "time_to_target"] == 2.0
    assert a.loc["fast", "rank_time"] == a.loc["tie", "rank_time"] == 1
    assert a.loc["slow", "time_to_target"] == 4.0 and a.loc["slow", "rank_time"] == 3
    # one of two seeds reached (the diverged seed passed the target at 2 s, then blew up: it counts
    # as not reaching): the median over seeds (∞ counted in) is ∞, ranked after full reaches
    assert math.isinf(a.loc["diverging", "time_to_target"]) and a.loc["diverging", "reached"] == 1
    assert a.loc["diverging", "time_lo"] == 3.0 and a.loc["diverging", "diverged"] == 1
    assert a.loc["diverging", "rank_time"] == 4
    assert math.isinf(a.loc["never", "time_to_target"]) and a.loc["never", "reached"] == 0
    assert a.loc["never", "rank_time"] == 5


def test_error_at_equal_wall_time(synthetic):
    board = L.build(synthetic, policy=0.1)
    a = board.table[board.table["problem"] == "a-v0"].set_index("method")
    # common time = smallest final wall time of the ok runs (5 s: the diverged seed stopped at 3 s but is not ok)
    assert (a["common_time"] == 5.0).all()
    assert a.loc["fast", "error_at_time"] == pytest.approx(0.01) and a.loc["fast", "rank_error"] == 1
    assert a.loc["tie", "rank_error"] == 1
    assert a.loc["diverging", "error_at_time"] == pytest.approx(0.04) and a.loc["diverging", "error_seeds"] == 1
    assert a.loc["never", "error_at_time"] == 0.5 and a.loc["never", "rank_error"] == 5
    # a shorter ok run moves the common time and the errors are read from the curves there
    short = pd.concat([synthetic, _run("a-v0", "short", 0, [1.0, 2.5], [0.5, 0.2])], ignore_index=True)
    a = L.build(short, policy=0.1).table.query("problem == 'a-v0'").set_index("method")
    assert (a["common_time"] == 2.5).all()
    assert a.loc["slow", "error_at_time"] == 0.4 and a.loc["fast", "error_at_time"] == 0.1


def test_profile_score_hand_computed(synthetic):
    board = L.build(synthetic, policy=0.1)
    s = board.scores.set_index("method")["score"]
    # ratios: a: fast 1, tie 1, slow 2, never ∞, diverging ∞; b: slow 1 (1 s), fast 3 (3 s), tie/never/diverging absent
    assert s["fast"] == pytest.approx(((4 - 1) + (4 - 3)) / (2 * 3))
    assert s["slow"] == pytest.approx(((4 - 2) + (4 - 1)) / (2 * 3))
    assert s["tie"] == pytest.approx(3 / 6)
    assert s["never"] == 0.0 and s["diverging"] == 0.0
    assert list(board.scores["method"][:2]) == ["slow", "fast"]
    assert board.scores.set_index("method").loc["slow", "rank"] == 1
    prof = board.profile[board.profile["method"] == "fast"]
    assert prof["rho"].iloc[0] == 0.5 and prof["rho"].iloc[-1] == 1.0   # a at τ = 1, b from τ = 3


def test_problem_nobody_reaches_is_left_out_of_the_score(synthetic):
    board = L.build(synthetic, policy={"a": 0.1, "b": 1e-9})
    assert any("b-v0: no method reached" in n for n in board.notes)
    s = board.scores.set_index("method")
    assert (s["problems"] == 1).all() and s.loc["slow", "score"] == pytest.approx(2 / 3)


def test_default_target_is_the_reference_methods_worst_seed(synthetic):
    df = synthetic.assign(label=synthetic["label"].replace({"slow": "DP (Adam)"}))
    one = (df["label"] == "DP (Adam)") & (df["seed"] == 1) & (df["problem"] == "a-v0")
    df.loc[one, "eval_x_error"] *= 1.5                      # seed 1 ends at 0.12, seed 0 at 0.08
    board = L.build(df)
    a = board.table[board.table["problem"] == "a-v0"].set_index("method")
    assert np.allclose(a["target"], 0.12)
    assert a["target_source"].iloc[0] == "worst final error of DP (Adam) (2 seeds)"
    assert a.loc["DP (Adam)", "reached"] == 2 and np.isfinite(a.loc["DP (Adam)", "time_to_target"])


def test_markdown_and_files(tmp_path, synthetic):
    board = L.build(synthetic, policy=0.1)
    paths = LR.write(board, tmp_path)
    text = paths["md"].read_text()
    assert "## a-v0" in text and "not reached (0/2)" in text and "Performance-profile score" in text
    assert paths["png"].exists() and len(pd.read_csv(paths["csv"])) == len(board.table)


def _write_store(root, frame):
    for key, g in frame.groupby("run_key"):
        path = root / g["problem"].iloc[0] / f"{key}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        store.write_frame(g.assign(store_format=record.STORE_FORMAT).reset_index(drop=True), path)


def test_cli(tmp_path, synthetic, capsys):
    from pgbench.cli import main
    root = tmp_path / "runs"
    _write_store(root, synthetic)
    with pytest.raises(SystemExit) as e:
        main(["leaderboard", "--results", str(root), "--target", "0.1", "--out", str(tmp_path / "lb")])
    assert e.value.code in (0, None)
    out = capsys.readouterr().out
    assert "fast" in out and "never" in out and "score" in out
    assert (tmp_path / "lb" / "leaderboard.md").exists()
    with pytest.raises(SystemExit) as e:
        main(["leaderboard", "--results", str(root), "--problem", "aa"])
    assert e.value.code == 2 and "did you mean 'a'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["leaderboard", "--results", str(root), "--target", "b=x"])
    assert e.value.code == 2


def test_report_links_the_leaderboard_page(tmp_path, synthetic):
    from pgbench.report import build_report
    root = tmp_path / "runs"
    _write_store(root, synthetic)
    index = build_report([root], tmp_path / "report")
    page = tmp_path / "report" / "leaderboard.html"
    assert "href='leaderboard.html'" in index.read_text()
    text = page.read_text()
    assert "a-v0" in text and "never" in text and "Performance-profile score" in text
    assert ":func:" not in text and ":mod:" not in text   # docstring markup rendered as plain names
    assert (tmp_path / "report" / "figures" / "leaderboard_profile.png").exists()


def test_leaderboard_experiment_set():
    from pgbench import reproduce
    tasks, notes = reproduce.tasks("quick", only="leaderboard")
    by_problem = {}
    for t in tasks:
        by_problem.setdefault(t.problem, []).append(t)
    assert set(by_problem) == {"sin-v0", "exp-v0", "poisson-v0", "heat-v0"}
    for problem, ts in by_problem.items():
        assert len({t.max_time for t in ts}) == 1 and ts[0].max_time > 0     # equal wall time per problem
        labels = {t.label for t in ts}
        assert {"Adam", "SGD", "PG"} <= labels
        for label in labels:
            assert sorted(t.seed for t in ts if t.label == label) == [0, 1]
        assert ("HIG" in labels) == (problem in ("sin-v0", "exp-v0"))
    assert any("poisson: HIG (hig) skipped: IncompatibleError" in n and "BatchNorm" in n for n in notes)
    # opt-in: neither a plain quick reproduction nor --only sin picks it
    assert not any(e.group == "leaderboard" for e in reproduce.select(None))
    assert not any(e.group == "leaderboard" for e in reproduce.select("sin"))


def test_two_solver_ids_under_one_label_are_two_methods():
    """``gd-v0`` and ``gd-v1`` with the same label and settings ran one seed each: two methods
    (the label gets the solver id), never one method with "2/2 seeds"."""
    runs = pd.concat([
        _run("a-v0", "m", 0, T, [0.5, 0.1, 0.05, 0.02, 0.01], key="0" * 16).assign(solver="dp-v0"),
        _run("a-v0", "m", 0, T, [0.5, 0.4, 0.3, 0.1, 0.08], key="1" * 16).assign(solver="dp-v1"),
    ], ignore_index=True)
    board = L.build(runs, policy=0.1)
    t = board.table.set_index("method")
    assert sorted(t.index) == ["m (dp-v0)", "m (dp-v1)"]
    assert list(t["seeds"]) == [1, 1] and t.loc["m (dp-v0)", "time_to_target"] == 2.0
    assert t.loc["m (dp-v1)", "time_to_target"] == 4.0
    assert sorted(board.scores["method"]) == ["m (dp-v0)", "m (dp-v1)"]


def test_a_label_shared_by_two_solvers_hides_neither():
    """Two solvers stored under one label (``run sin gd --label same``, then adam): the newer
    configuration of the label does not hide the other solver's runs; each shows with its id,
    on every problem alike (one name per method across problems)."""
    runs = pd.concat([
        _run("a-v0", "same", 0, T, [0.5, 0.1, 0.05, 0.02, 0.01], key="0" * 16).assign(solver="dp-v0"),
        _run("a-v0", "same", 0, T, [0.5, 0.4, 0.3, 0.1, 0.08], key="1" * 16).assign(
            solver="supervised-v0", hyperparameters="{}", created="2026-02-01"),
        _run("b-v0", "same", 0, T, [0.5, 0.1, 0.05, 0.02, 0.01], key="2" * 16).assign(solver="dp-v0"),
    ], ignore_index=True)
    board = L.build(runs, policy=0.1)
    assert sorted(zip(board.table["problem"], board.table["method"])) == [
        ("a-v0", "same (dp-v0)"), ("a-v0", "same (supervised-v0)"), ("b-v0", "same (dp-v0)")]
    assert set(board.scores["method"]) == {"same (dp-v0)", "same (supervised-v0)"}


def test_the_cpu_clock_ranks_work_not_waiting(synthetic):
    """On problem B "slow" reaches the target first on the wall clock, but it waited (its process
    got a quarter of a core): on the CPU clock it spent 4× less per second, so "fast" ranks first
    there. A store without cpu_time cannot be ranked on the CPU clock and says so."""
    runs = synthetic.copy()
    runs["cpu_time"] = runs["wall_time"]
    slow_b = (runs["problem"] == "b-v0") & (runs["label"] == "slow")
    runs.loc[slow_b, "cpu_time"] = runs.loc[slow_b, "wall_time"] * 4.0
    wall = L.build(runs, policy=0.1).table.set_index(["problem", "method"])
    cpu = L.build(runs, policy=0.1, clock="cpu").table.set_index(["problem", "method"])
    assert wall.loc[("b-v0", "slow"), "rank_time"] == 1 and wall.loc[("b-v0", "fast"), "rank_time"] == 2
    assert cpu.loc[("b-v0", "fast"), "rank_time"] == 1 and cpu.loc[("b-v0", "slow"), "time_to_target"] == 4.0
    old = L.build(synthetic, policy=0.1, clock="cpu")
    assert any("CPU time" in n for n in old.notes)
    with pytest.raises(Exception, match="did you mean 'cpu'"):
        L.build(runs, policy=0.1, clock="cpus")


def test_times_and_scores_carry_bootstrap_intervals_and_tied_ranks(synthetic):
    board = L.build(synthetic, policy=0.1)
    a = board.table[board.table["problem"] == "a-v0"].set_index("method")
    assert a.loc["fast", "time_ci_lo"] == a.loc["fast", "time_ci_hi"] == 2.0  # both seeds at 2 s
    assert a.loc["slow", "time_ci_lo"] == 4.0
    assert a.loc["fast", "rank_time_tied"] == 1 and a.loc["slow", "rank_time_tied"] == 3
    assert math.isinf(a.loc["never", "time_ci_lo"])
    s = board.scores.set_index("method")
    assert (s["score_lo"] <= s["score"] + 1e-12).all() and (s["score"] <= s["score_hi"] + 1e-12).all()
    assert np.isclose(s["p_first"].sum(), 1.0)
    assert 0 < board.stability <= 1
    md = LR.markdown(board)
    assert "90% interval" in md and "Ranking stability" in md and "Clock: wall seconds" in md
