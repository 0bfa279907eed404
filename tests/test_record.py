"""What a stored run is (pgbench.record): one declaration of its fields, the key, the round trip."""

import dataclasses

import pandas as pd
import pytest

import pgbench
from pgbench import divergence, record, store
from pgbench.record import RunMeta, RunRecord


@pytest.fixture(scope="module")
def result():
    return pgbench.run("sin", "gd", iterations=5, scale="quick", backend="torch")


def test_every_field_states_its_role_once():
    assert record.KEY_FIELDS == ("problem", "scale", "problem_settings", "solver", "hyperparameters", "backend",
                                 "device", "device_name", "numerics", "seed", "iterations", "max_time")
    assert set(record.CONFIG_FIELDS) == {
        "problem", "solver", "problem_settings", "hyperparameters", "numerics", "iterations", "max_time"}
    assert set(record.CONFIG_FIELDS) <= set(record.KEY_FIELDS)
    assert record.COLUMNS["iterations"] == "budget_iterations"
    # every field a plan writes is declared (an undeclared one would be dropped by the store)
    assert set(record.FIELD_NAMES) >= {"kind", "label", "target_x_error", "divergence_rule", "vectorized_with"}


def test_a_plan_meta_field_that_is_not_declared_is_refused(result):
    with pytest.raises(ValueError, match="undeclared run metadata"):
        RunMeta.from_dict({**result.meta, "colour": "blue"})


def test_the_run_records_kind_target_rule_and_round_trips(result, tmp_path):
    path = store.save(result, tmp_path)
    frame = store.read(path)
    rec = RunRecord.from_frame(frame)
    assert rec.run_key == store.run_key(result.meta) == path.stem
    assert rec.meta == RunRecord.from_result(result).meta
    assert rec.kind == "iterative" and rec.meta.target_x_error == pytest.approx(1e-4)
    assert rec.meta.divergence_rule == divergence.RULE.as_dict()
    pd.testing.assert_frame_equal(rec.rows.drop(columns=[]).reset_index(drop=True),
                                  result.records.reset_index(drop=True), check_dtype=False)
    assert rec.config == record.config_hash(frame.iloc[0])


def test_vectorized_with_is_kept_by_the_store(result, tmp_path):
    info = {"seeds": [0, 1, 2], "read_every": 5}
    vec = dataclasses.replace(result, meta={**result.meta, "vectorized_with": info})
    rec = RunRecord.from_frame(store.read(store.save(vec, tmp_path)))
    assert rec.meta.vectorized_with == info
    assert rec.run_key == store.run_key(result.meta)   # outside the key: the separate run's key


def test_the_key_ignores_every_field_that_is_not_a_key_field(result):
    meta = RunMeta.from_dict(result.meta)
    for f in dataclasses.fields(RunMeta):
        if f.name in record.KEY_FIELDS:
            continue
        other = dataclasses.replace(meta, **{f.name: "changed"})
        assert record.run_key(other) == record.run_key(meta), f.name
    for name in record.KEY_FIELDS:
        assert record.run_key(dataclasses.replace(meta, **{name: "changed"})) != record.run_key(meta), name
