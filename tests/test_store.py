"""The results store: round trip, run keys, resume, atomic writes, unreadable files."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import store
from pgbench.runner import RunResult
from pgbench.sweep import Task, run_sweep

TINY = {"batch_size": 8, "test_size": 8}


def _plan(**kw):
    args = dict(problem=pgbench.make_problem("sin", scale="quick", **TINY), solver="gd", iterations=3)
    args.update(kw)
    return pgbench.plan(args.pop("problem"), args.pop("solver"), **args)


def test_round_trip(tmp_path):
    result = pgbench.execute(_plan(eta=0.02))
    path = store.save(result, tmp_path)
    assert path == tmp_path / "sin-v0" / f"{store.run_key(result.meta)}.parquet"
    df = pgbench.load_results(tmp_path)
    assert len(df) == len(result.records) == 4  # iteration 0 (start) + 3 steps
    for col in ("iteration", "wall_time", "loss", "x_error"):
        np.testing.assert_array_equal(df[col].to_numpy(dtype=float), result.records[col].to_numpy(dtype=float))
    row = df.iloc[0]
    assert (row["problem"], row["solver"], row["scale"], row["kind"]) == ("sin-v0", "gd-v0", "quick", "iterative")
    assert (row["backend"], row["device"], row["seed"], row["status"]) == ("torch", "cpu", 0, "ok")
    assert row["hp_eta"] == 0.02
    assert row["run_key"] == store.run_key(result.meta)
    assert row["device_name"] and row["machine"]
    assert '"batch_size": 8' in row["problem_settings"]
    assert json.loads(row["backend_settings"]) == result.meta["backend_settings"]
    assert set(result.meta["backend_settings"]) == {"cg_check_every", "cg_compile", "fused_batch_norm"}


def test_run_key_is_deterministic_and_sensitive():
    base = _plan()
    assert store.run_key(base.meta) == store.run_key(_plan().meta)
    assert store.run_key(_plan(label="another name").meta) == store.run_key(base.meta)  # display only
    faster = dict(base.meta, backend_settings={"cg_check_every": 8, "cg_compile": True})
    assert store.run_key(faster) == store.run_key(base.meta)   # speed settings: same results, same run
    variants = [_plan(seed=1), _plan(eta=0.5), _plan(iterations=4), _plan(max_time=10.0), _plan(solver="adam"),
                _plan(problem=pgbench.make_problem("sin", scale="quick", batch_size=8, test_size=9)),
                _plan(backend="jax")]
    keys = {store.run_key(v.meta) for v in variants}
    assert store.run_key(base.meta) not in keys
    assert len(keys) == len(variants)


def test_finished_run_is_skipped_and_failed_is_retried(tmp_path):
    task = Task("sin", "gd", iterations=3, problem_overrides=dict(TINY))
    (first,) = run_sweep([task], root=tmp_path)
    assert first.status == "ok" and not first.cached
    mtime = os.stat(first.path).st_mtime_ns
    (again,) = run_sweep([task], root=tmp_path)
    assert again.cached and again.run_key == first.run_key
    assert os.stat(first.path).st_mtime_ns == mtime
    assert again.x_error == pytest.approx(first.x_error)

    # a failed attempt never replaces the finished result ...
    p = task.plan()
    failed = RunResult(pd.DataFrame(), "failed", "RuntimeError: boom", dict(p.meta))
    assert store.save(failed, tmp_path) == Path(first.path) and store.status_of(p.meta, tmp_path) == "ok"
    # ... and a stored failure is not finished: the next sweep runs it again and replaces it
    os.remove(first.path)
    store.save(failed, tmp_path)
    assert store.status_of(p.meta, tmp_path) == "failed" and not store.is_finished(p.meta, tmp_path)
    (retried,) = run_sweep([task], root=tmp_path)
    assert not retried.cached and retried.status == "ok"
    assert store.status_of(p.meta, tmp_path) == "ok"

    (forced,) = run_sweep([task], root=tmp_path, force=True)
    assert not forced.cached


def test_failed_run_without_records_keeps_its_status(tmp_path):
    p = _plan()
    store.save(RunResult(pd.DataFrame(), "failed", "ValueError: bad", dict(p.meta)), tmp_path)
    df = pgbench.load_results(tmp_path)
    assert len(df) == 1 and df["status"].iloc[0] == "failed" and "bad" in df["message"].iloc[0]


def test_atomic_write_leaves_no_temporary_files(tmp_path, monkeypatch):
    result = pgbench.execute(_plan())
    path = store.save(result, tmp_path)
    written = [path.name, store.examples_path(path).name]   # the run and its example predictions
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(written)

    # a write interrupted half-way leaves neither a partial file nor a temporary one
    other = pgbench.execute(_plan(seed=1))

    def broken(self, target, *a, **k):
        with open(target, "wb") as f:
            f.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(KeyboardInterrupt):
        store.save(other, tmp_path)
    monkeypatch.undo()
    left = sorted(p.name for p in path.parent.iterdir())
    assert [n for n in left if n.endswith(".parquet")] == [path.name] and not [n for n in left if n.endswith(".tmp")]
    assert not store.path_for(other.meta, tmp_path).exists()


def test_corrupt_file_is_skipped_with_a_warning(tmp_path):
    result = pgbench.execute(_plan())
    good = store.save(result, tmp_path)
    bad = good.parent / "0123456789abcdef.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.warns(UserWarning, match="unreadable"):
        df = pgbench.load_results(tmp_path)
    assert set(df["run_key"]) == {store.run_key(result.meta)}

    # an unreadable stored run counts as not finished, so a sweep redoes it
    other = _plan(seed=3)
    store.path_for(other.meta, tmp_path).write_bytes(b"garbage")
    assert not store.is_finished(other.meta, tmp_path)


def test_load_results_of_an_empty_store(tmp_path):
    df = pgbench.load_results(tmp_path)
    assert df.empty and {"run_key", "problem", "solver", "iteration", "x_error"} <= set(df.columns)


def _stored(root, status="ok", **plan_kw):
    result = pgbench.execute(_plan(**plan_kw))
    if status == "failed":
        result = RunResult(pd.DataFrame(), "failed", "RuntimeError: boom", result.meta, traceback="Traceback ...")
    return store.save(result, root)


def test_merge_combines_stores_without_duplicates(tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    _stored(a, seed=0)
    _stored(a, seed=1, status="failed")       # failed on machine a ...
    _stored(b, seed=1)                        # ... finished on machine b: the finished run wins
    _stored(b, seed=2)
    _stored(b, seed=0)                        # the same run as a's seed 0: kept once
    (b / "sin-v0" / "garbage.parquet").write_bytes(b"not parquet")
    summary = store.merge([a, b], dest)
    assert (summary.copied, summary.replaced, summary.kept) == (3, 1, 1)
    assert ["garbage.parquet (" in p for p in summary.unreadable] == [True]
    df = pgbench.load_results(dest)
    runs = df.groupby("run_key").first()
    assert len(store.run_files(dest)) == len(runs) == 3
    assert sorted(runs["seed"]) == [0, 1, 2] and set(runs["status"]) == {"ok"}
    # merging again changes nothing; a failed copy never replaces a finished one
    again = store.merge([a, b], dest)
    assert (again.copied, again.replaced, again.kept) == (0, 0, 5)


def test_load_results_over_several_roots_counts_a_run_once(tmp_path):
    _stored(tmp_path / "a", seed=0, status="failed")
    _stored(tmp_path / "b", seed=0)
    df = pgbench.load_results(tmp_path / "a", tmp_path / "b")
    assert df["run_key"].nunique() == 1 and set(df["status"]) == {"ok"}


def test_failed_run_keeps_its_traceback(tmp_path):
    path = _stored(tmp_path, status="failed")
    row = pd.read_parquet(path).iloc[0]
    assert row["message"] == "RuntimeError: boom" and row["traceback"] == "Traceback ..."


def test_example_arrays_named_like_numpy_savez_parameters_are_refused(tmp_path):
    # numpy.savez takes the arrays as keywords: an array named allow_pickle would be read as the flag and lost
    with pytest.raises(ValueError, match="allow_pickle"):
        store.write_examples({"allow_pickle": np.zeros(3)}, tmp_path / "r.examples.npz")
    path = store.write_examples({"x_pred": np.zeros(3)}, tmp_path / "r.examples.npz")
    with np.load(path) as npz:
        assert sorted(npz.files) == ["meta", "x_pred"]
