"""``pgbench advise`` (pgbench.advise, pgbench.cli_tune) on the synthetic methods of tests/tune_plugin.py."""

import json
import math

import pytest
import tune_plugin

from pgbench import advise, cli


@pytest.fixture(scope="module", autouse=True)
def _synthetic_methods():
    with tune_plugin.registered():
        yield


@pytest.mark.parametrize("text, seconds", [("20m", 1200), ("90s", 90), ("1h30m", 5400), ("45", 45), ("0.5h", 1800)])
def test_budgets(text, seconds):
    assert advise.parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "20x", "m", "inf"])
def test_bad_budgets(text):
    with pytest.raises(ValueError):
        advise.parse_budget(text)


def test_the_plan_fits_the_budget_and_shrinks_iterations_then_trials():
    costs = {"a": advise.Cost(1.0, 0.01), "b": advise.Cost(1.0, 0.03)}
    kw = dict(
        scale="quick", backend="torch", trials=20, validation_seeds=(1,), test_seeds=(2, 3, 4), default_iterations=1000
    )
    roomy = advise.size("diag-quadratic", costs, 1e6, **kw)
    assert roomy.protocol.iterations == 1000 and roomy.protocol.trials == 20
    tight = advise.size("diag-quadratic", costs, 600.0, **kw)
    n = 20 * 1 + 2 * 3
    assert tight.protocol.trials == 20 and tight.runs == 2 * n
    assert tight.eta_seconds <= advise.SAFETY * 600.0 and tight.worst_seconds <= 600.0
    # the worst case binds: n runs × (start-ups 2 s + 2 warm-up steps + caps 2 × I × (0.01 + 0.03) s) ≤ 600 s
    assert tight.protocol.iterations == math.floor((600 / n - 2.0 - 2 * 0.04) / (2 * 0.04))
    assert tight.protocol.time_caps == {"a": pytest.approx(2 * 0.01 * tight.protocol.iterations, abs=1e-3),
                                        "b": pytest.approx(2 * 0.03 * tight.protocol.iterations, abs=1e-3)}
    shrunk = advise.size("diag-quadratic", costs, 100.0, **kw)  # 50 iterations no longer fit 20 trials
    assert advise.MIN_TRIALS <= shrunk.protocol.trials < 20 and shrunk.eta_seconds <= 80.0
    with pytest.raises(ValueError, match="needs about"):
        advise.size("diag-quadratic", costs, 10.0, **kw)


def test_candidates_say_why_a_method_cannot_run():
    found = advise.candidates("diag-quadratic", "quick", "torch", ["gd", "heavy-ball", "inverse"])
    assert [m.label for m in found.methods] == ["gd", "heavy-ball"]
    assert found.skipped and found.skipped[0][0] == "inverse"


def test_advise_recommends_the_method_that_wins_when_tuned(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(
            [
                "advise",
                "diag-quadratic",
                "--method",
                "gd",
                "--method",
                "heavy-ball",
                "--budget",
                "10m",  # roomy: the plan keeps the 100 iterations even on a loaded machine
                "--trials",
                "6",
                "--results",
                str(tmp_path),
                "-q",
            ]
        )
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert "pilot: 2 methods" in err and "plan: 2 methods × (6 trials" in err and "ETA" in err
    assert "recommended: heavy-ball" in out
    assert "P(best)" in out and "tuning cost:" in err


def test_a_run_costs_its_evaluations_and_storing_too():
    """Held-out evaluations are off a run's clock but not off the user's: the plan counts them."""
    c = advise.Cost(startup=1.0, per_iteration=0.01, per_evaluation=0.5)
    # start-up, 100 steps and the 2 warm-up steps of a capped run, 11 evaluations
    assert c.run_seconds(100, 10) == pytest.approx(1.0 + 102 * 0.01 + 11 * 0.5)
    assert c.run_seconds(100, 0) == pytest.approx(1.0 + 102 * 0.01)  # an iterative solver is not evaluated
    kw = dict(scale="quick", backend="torch", trials=4, validation_seeds=(1,), test_seeds=(2,), default_iterations=1000)
    plain = advise.size("diag-quadratic", {"a": advise.Cost(1.0, 0.01)}, 200.0, **kw)
    evaluated = advise.size("diag-quadratic", {"a": c}, 200.0, eval_every=10, **kw)
    assert evaluated.protocol.iterations < plain.protocol.iterations and evaluated.eta_seconds <= 160.0


def test_every_run_is_capped_and_the_floor_counts_in_the_worst_case():
    cheap = advise.Cost(0.1, 1e-4)
    assert cheap.cap(100) == advise.CAP_FLOOR and advise.Cost(0.1, 0.05).cap(100) == pytest.approx(10.0)
    kw = dict(scale="quick", backend="torch", trials=4, validation_seeds=(1,), test_seeds=(2,), default_iterations=100)
    plan = advise.size("diag-quadratic", {"a": cheap}, 60.0, **kw)
    n = 4 + 2
    assert plan.worst_seconds == pytest.approx(n * (0.1 + 2e-4 + advise.CAP_FLOOR))
    assert plan.protocol.time_caps == {"a": advise.CAP_FLOOR} and plan.protocol.max_time_clock == "cpu"


def test_caps_count_cpu_seconds_and_the_worst_case_converts_them_at_the_pilots_load():
    """A pilot on a loaded machine (4 wall seconds per CPU second): the cap is twice the CPU time,
    the worst case is that cap in wall seconds at the pilot's load."""
    loaded = advise.Cost(0.5, per_iteration=0.02, cpu_per_iteration=0.005)
    assert loaded.cap(400) == pytest.approx(2 * 400 * 0.005) and loaded.wall_per_cpu == pytest.approx(4.0)
    assert loaded.worst_seconds(400, 0) == pytest.approx(0.5 + 2 * 0.02 + 4.0 * 4.0)
    assert advise.Cost(0.5, 0.02).cap(400) == pytest.approx(16.0)  # CPU not measured: taken as the wall's


def test_a_trial_made_costly_by_its_setting_is_stopped_at_its_cap_and_advise_keeps_its_budget(capsys, tmp_path):
    """costly-gd's step costs 0.002 CPU s / damping: the pilot (damping 1) sees 2 ms per step,
    trials with a small damping would take up to 1000× that. Each is stopped at its cap (over_budget,
    never chosen) and advise ends within its budget (a margin of 25 % for this loaded test)."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        cli.main(["advise", "diag-quadratic", "--method", "costly-gd", "--budget", "90s", "--trials", "8",
                  "--test-seeds", "2000", "--results", str(tmp_path), "-q"])  # fmt: skip
    took = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert "time caps per run" in err and "trial runs over their time cap" in err, err
    assert took <= 1.25 * 90, (took, err)
    record = json.loads(next(tmp_path.glob("*/tuning-*.json")).read_text())
    (m,) = record["methods"]
    scores = m["validation_scores"]
    assert m["trial_statuses"].get("over_budget", 0) >= 1 and math.isinf(max(scores))
    assert math.isfinite(scores[m["chosen"]]) and m["chosen_settings"]["damping"] > 1e-2
    assert record["protocol"]["time_caps"]["costly-gd"] >= advise.CAP_FLOOR


def test_a_step_cost_that_grows_during_a_run_is_calibrated_before_the_caps_are_set(capsys, tmp_path):
    """growing-gd's steps grow dearer as a run goes on (as Hessian-free's): the pilot's five steps
    see 1.4 ms each, a run of 100 steps needs 2 CPU s, above the 1 s cap the pilot alone gives.
    The calibration run at the planned length measures the real cost, so no run is over budget."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["advise", "diag-quadratic", "--method", "growing-gd", "--budget", "6m", "--trials", "4",
                  "--results", str(tmp_path), "-q"])  # fmt: skip
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert "calibration: 1 methods" in err and "growing-gd:" in err, err
    (m,) = json.loads(next(tmp_path.glob("*/tuning-*.json")).read_text())["methods"]
    assert set(m["trial_statuses"]) == {"ok"}, m["trial_statuses"]
    assert None not in m["default_errors"] and None not in m["tuned_errors"]
