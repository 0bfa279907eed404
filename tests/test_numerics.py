"""One run key, one result: whatever changes a run's numbers (torch CPU threads, library versions,
determinism flags, XLA_FLAGS) is recorded in ``meta["numerics"]`` and is part of the run key; the
thread count is pinned for the run; merge reports two different results under one key."""

import platform

import numpy as np
import pandas as pd
import pytest
import torch

import pgbench
from pgbench import cli, store
from pgbench.runner import RunResult
from pgbench.analysis.summary import per_config as summarize

TINY = {"batch_size": 8, "test_size": 8}


def _plan(**kw):
    args = dict(problem=pgbench.make_problem("sin", scale="quick", **TINY), solver="gd", iterations=3)
    args.update(kw)
    return pgbench.plan(**args)


def test_thread_count_is_recorded_and_part_of_the_key():
    one, two = _plan(threads=1), _plan(threads=2)
    assert one.meta["numerics"]["torch_threads"] == 1 and two.meta["numerics"]["torch_threads"] == 2
    assert store.run_key(one.meta) != store.run_key(two.meta)
    # 0 / None: torch's current setting, recorded as the number it is
    assert _plan(threads=0).meta["numerics"]["torch_threads"] == torch.get_num_threads()
    assert _plan(threads=None).meta["numerics"]["torch_threads"] == torch.get_num_threads()
    assert one.meta["numerics"]["torch"] == torch.__version__
    assert "deterministic_algorithms" in one.meta["numerics"]


def test_python_api_defaults_to_one_thread_like_the_command_line():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _plan().meta["numerics"]["torch_threads"] == 1
        assert pgbench.run(pgbench.make_problem("sin", scale="quick", **TINY), "gd",
                           iterations=1).meta["numerics"]["torch_threads"] == 1
    finally:
        torch.set_num_threads(old)


def test_execute_pins_the_recorded_thread_count_and_restores_it():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    try:
        result = pgbench.execute(_plan(threads=1), callback=lambda p: seen.append(torch.get_num_threads()))
        assert result.status == "ok" and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)


def test_deterministic_flag_changes_the_key():
    base = store.run_key(_plan().meta)
    torch.use_deterministic_algorithms(True)
    try:
        assert store.run_key(_plan().meta) != base
    finally:
        torch.use_deterministic_algorithms(False)


def test_jax_runs_record_jax_versions_and_xla_flags(monkeypatch):
    pytest.importorskip("jax")
    import jax
    import jaxlib
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    p = _plan(backend="jax")
    assert p.meta["numerics"]["jax"] == jax.__version__ and p.meta["numerics"]["jaxlib"] == jaxlib.__version__
    assert "torch_threads" not in p.meta["numerics"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    flagged = _plan(backend="jax")
    assert flagged.meta["numerics"]["xla_flags"] == "--xla_cpu_enable_fast_math=true"
    assert store.run_key(flagged.meta) != store.run_key(p.meta)


def test_numerics_are_stored_with_the_run(tmp_path):
    path = store.save(pgbench.execute(_plan(threads=1)), tmp_path)
    import json
    assert json.loads(store.read(path)["numerics"].iloc[0])["torch_threads"] == 1


def test_backend_speed_settings_stay_out_of_the_key():
    p = _plan()
    faster = dict(p.meta, backend_settings={"cg_check_every": 99})
    assert store.run_key(faster) == store.run_key(p.meta)


def _stored_copy(root, result, loss_shift=0.0):
    """``result`` stored under ``root``, optionally with its loss curve shifted."""
    records = result.records.copy()
    records["loss"] = records["loss"] + loss_shift
    return store.save(RunResult(records, result.status, result.message, dict(result.meta)), root)


def test_merge_reports_a_key_with_different_results(tmp_path, capsys):
    result = pgbench.execute(_plan())
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    _stored_copy(a, result)
    _stored_copy(b, result, loss_shift=1e-3)       # same key, different curve
    assert store.merge([a], dest).copied == 1
    summary = store.merge([b], dest)
    assert len(summary.conflicts) == 1 and summary.copied == summary.replaced == 0
    # the destination's copy is kept
    kept = store.read(store.path_for(result.meta, dest))
    assert np.allclose(kept["loss"], result.records["loss"])
    # the command line lists the conflict and exits non-zero
    with pytest.raises(SystemExit) as exc:
        cli.main(["merge", str(b), "--into", str(dest)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "conflict:" in err and str(b) in err


def test_merge_of_the_same_result_written_twice_is_no_conflict(tmp_path, monkeypatch):
    """Two executions of one run differ in ``created``, machine and wall time, not in the curves."""
    result = pgbench.execute(_plan())
    _stored_copy(tmp_path / "a", result)
    monkeypatch.setattr(platform, "node", lambda: "another-host")
    again = pgbench.execute(_plan())
    assert again.meta["machine"] == "another-host"
    assert store.run_key(again.meta) == store.run_key(result.meta)   # the machine is not part of the key
    _stored_copy(tmp_path / "b", again)
    summary = store.merge([tmp_path / "a", tmp_path / "b"], tmp_path / "dest")
    assert (summary.copied, summary.kept, summary.conflicts) == (1, 1, [])


def test_merged_summary_counts_one_seed_from_two_machines_once(tmp_path, monkeypatch):
    for host, root in (("host-a", tmp_path / "a"), ("host-b", tmp_path / "b")):
        monkeypatch.setattr(platform, "node", lambda host=host: host)
        store.save(pgbench.execute(_plan(seed=0)), root)
    store.merge([tmp_path / "a", tmp_path / "b"], tmp_path / "dest")
    assert len(store.run_files(tmp_path / "dest")) == 1
    (row,) = summarize(pgbench.load_results(tmp_path / "dest")).to_dict("records")
    assert row["seeds"] == 1
    # side by side without merging, too
    (row,) = summarize(pgbench.load_results(tmp_path / "a", tmp_path / "b")).to_dict("records")
    assert row["seeds"] == 1


def test_load_results_warns_about_one_key_with_two_results(tmp_path):
    result = pgbench.execute(_plan())
    _stored_copy(tmp_path / "a", result)
    _stored_copy(tmp_path / "b", result, loss_shift=1.0)
    with pytest.warns(UserWarning, match="different results"):
        df = pgbench.load_results(tmp_path / "a", tmp_path / "b")
    assert df["run_key"].nunique() == 1
    assert isinstance(df, pd.DataFrame)
