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
                                 "device", "device_name", "numerics", "seed", "iterations", "max_time",
                                 "max_time_clock", "time_cap")
    assert set(record.CONFIG_FIELDS) == {
        "problem", "solver", "problem_settings", "hyperparameters", "numerics", "iterations", "max_time",
        "max_time_clock", "time_cap"}
    assert record.IF_SET_FIELDS == ("max_time_clock", "time_cap")  # in keys only when set
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


def test_a_cpu_clock_and_capped_run_round_trips_with_its_key_and_config(tmp_path):
    """The fields in keys only when set are stored, read back, and give the same run key and
    configuration hash from the store as from the run; unset, the configuration hash is the one
    of before (the fields add nothing to it)."""
    r = pgbench.run("sin", "gd", iterations=3, max_time=30.0, max_time_clock="cpu", time_cap=60.0)
    rec = RunRecord.from_frame(store.read(store.save(r, tmp_path)))
    assert rec.meta.max_time_clock == "cpu" and rec.meta.time_cap == 60.0
    assert rec.run_key == store.run_key(r.meta) and rec.config == RunRecord.from_result(r).config
    plain = pgbench.run("sin", "gd", iterations=3, max_time=30.0)
    row = RunRecord.from_result(plain)._meta_columns()
    assert record.config_hash(row) == record.config_hash({k: v for k, v in row.items()
                                                          if k not in record.IF_SET_FIELDS})
    assert record.config_hash(row) != rec.config
