"""The tuning protocol (pgbench.tune) on synthetic methods whose true order is known
(tests/tune_plugin.py: heavy ball beats gradient descent when both are tuned; the defaults
favour gradient descent)."""

import json
import math

import pandas as pd
import pytest
import tune_plugin

from pgbench import store, tune
from pgbench.registry import InvalidSettingError, UnknownIdError


@pytest.fixture(scope="module", autouse=True)
def _synthetic_methods():
    with tune_plugin.registered():
        yield


PROTOCOL = dict(problem="diag-quadratic", trials=8, validation_seeds=(1, 2), test_seeds=(3, 4, 5))
METHODS = [tune.Method("GD", "gd"), tune.Method("HB", "heavy-ball")]


def _ranks(table, ruleset):
    t = table[table["ruleset"] == ruleset]
    return dict(zip(t["method"], t["rank"], strict=True))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    seen = []
    real_select = tune.select

    def spy(protocol, settings, outcomes):
        seen.extend(o.task.seed for trial in outcomes for o in trial)
        return real_select(protocol, settings, outcomes)

    tune.select = spy
    try:
        report = tune.tune(tune.Protocol(**PROTOCOL), METHODS, root)
    finally:
        tune.select = real_select
    return report, root, seen


def test_tuned_protocol_recovers_the_true_order_and_the_untuned_does_not(tuned):
    report, _, _ = tuned
    table = report.table()
    assert _ranks(table, "external") == {"HB": 1, "GD": 2}
    assert _ranks(table, "self") == {"GD": 1, "HB": 2}
    ext = table[table["ruleset"] == "external"].set_index("method")
    assert ext.loc["HB", "error_hi"] < ext.loc["GD", "error_lo"]  # apart beyond doubt
    assert ext.loc["HB", "trials"] == ext.loc["GD", "trials"] == 8  # equal budgets


def test_selection_never_reads_a_test_seed(tuned):
    report, _, seen = tuned
    assert seen and set(seen) <= {1, 2}
    for t in report.methods:
        assert {o.task.seed for o in t.tuned} == {3, 4, 5}
        assert {o.task.seed for o in t.default} == {3, 4, 5}
    with pytest.raises(RuntimeError, match="not a validation seed"):
        tune.select(tune.Protocol(**PROTOCOL), [{}], [[report.methods[0].tuned[0]]])


def test_selection_is_the_best_validation_score(tuned):
    report, _, _ = tuned
    for t in report.methods:
        s = t.selection
        assert s.score == min(s.scores) and s.scores.index(s.score) == s.index
        assert s.settings == t.trials[s.index]


def test_protocol_record_is_written_inside_the_store(tuned):
    report, root, _ = tuned
    data = json.loads(open(report.path).read())
    assert report.path.startswith(str(root)) and "tuning-" in report.path
    assert [m["label"] for m in data["methods"]] == ["GD", "HB"]
    assert len(data["methods"][1]["tuned_runs"]) == 3


def test_interrupted_tuning_resumes_with_the_same_results(tuned, tmp_path):
    report, root, _ = tuned
    files = sorted(p for p in store.run_files(root))
    lost = files[::4]  # as if the campaign was killed before these runs were stored
    before = {p.name: store.read(p) for p in lost}
    for p in lost:
        p.unlink()
    again = tune.tune(tune.Protocol(**PROTOCOL), METHODS, root)
    time_cols = ["wall_time", "cpu_time", "created", "pgbench_version"]
    for p in lost:
        a, b = before[p.name], store.read(p)
        pd.testing.assert_frame_equal(
            a.drop(columns=time_cols, errors="ignore"), b.drop(columns=time_cols, errors="ignore")
        )
    untimed = [t.drop(columns="tuning_seconds") for t in (report.table(), again.table())]
    pd.testing.assert_frame_equal(*untimed)


def test_bad_protocols_are_rejected_before_any_work(tmp_path):
    with pytest.raises(InvalidSettingError, match="disjoint"):
        tune.Protocol("diag-quadratic", validation_seeds=(1, 2), test_seeds=(2, 3))
    with pytest.raises(InvalidSettingError, match="trials"):
        tune.Protocol("diag-quadratic", trials=0)
    with pytest.raises(InvalidSettingError, match="own label"):
        tune.tune(tune.Protocol(**PROTOCOL), [tune.Method("X", "gd"), tune.Method("X", "heavy-ball")], tmp_path)
    with pytest.raises(UnknownIdError, match="did you mean"):
        tune.Method.parse("heavy-bal")
    with pytest.raises(InvalidSettingError):
        tune.Method.parse("dp:optimizer")
    assert list(tmp_path.iterdir()) == []


def test_method_text_sets_fixed_settings():
    m = tune.Method.parse("dp:optimizer=sgd,momentum=0.9")
    assert m.settings == {"optimizer": "sgd", "momentum": 0.9}
    assert set(m.resolved_space()) == {"lr"}
    assert math.isclose(tune.score([]), math.inf)
