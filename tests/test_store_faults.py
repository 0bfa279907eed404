"""Fault injection for the store, the sweep executors and the command line (issue 18: nothing lost,
nothing misfiled). Each test names the case it guards."""

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pgbench
from pgbench import cli, record, store, validate
from pgbench.registry import PROBLEMS, SOLVERS, InvalidSettingError
from pgbench.sweep import expand, run_sweep
from pgbench.sweep_config import SweepConfig

TINY = {"batch_size": 8, "test_size": 8}
TINY_ARGS = ["--problem-set", "batch_size=8", "--problem-set", "test_size=8", "--iterations", "3"]


def invoke(capsys, *args):
    """``pgbench ARGS`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def no_runs(monkeypatch):
    """Fail the test if any run starts."""
    import pgbench.sweep as sweep

    def refuse(*a, **k):
        raise AssertionError("a run started before the input was validated")
    monkeypatch.setattr(sweep, "execute", refuse)


# --- 1. --force never replaces a finished result with a failure --------------------------------------

KILL_IF_MARKED = '''
import os, signal
from dataclasses import dataclass
from typing import ClassVar
import pgbench
from pgbench.solvers.iterative import GradientDescent


@dataclass(frozen=True)
class KillsIfMarked(GradientDescent):
    """Gradient descent, except that it SIGKILLs its own process while the marker file exists."""
    jittable: ClassVar[bool] = False

    def step(self, problem, be, x, y_target, state):
        if os.path.exists(os.environ["PGBENCH_TEST_KILL_MARKER"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().step(problem, be, x, y_target, state)


pgbench.register_solver("kills-if-marked-v0", __name__ + ":KillsIfMarked")
'''


def test_force_with_a_killed_worker_keeps_every_finished_result(tmp_path, monkeypatch):
    """Case 1: ``sweep --workers 2 --force`` on a complete store, a worker SIGKILLed."""
    plugin = tmp_path / "kill_if_marked.py"
    plugin.write_text(KILL_IF_MARKED)
    marker = tmp_path / "kill-now"
    monkeypatch.setenv("PGBENCH_TEST_KILL_MARKER", str(marker))
    tasks, _ = expand("sin", ["kills-if-marked", "gd"], seeds=[0, 1], iterations=3, problem_overrides=TINY,
                      plugins=[str(plugin)])
    root = tmp_path / "r"
    first = run_sweep(tasks, root=root, workers=2)
    assert [o.status for o in first] == ["ok"] * 4
    before = {p: store.read(p) for p in store.run_files(root)}
    marker.touch()
    forced = run_sweep(tasks, root=root, workers=2, force=True)
    assert any(o.status == "failed" for o in forced)
    after = {p: store.read(p) for p in store.run_files(root)}
    assert set(after) == set(before)
    for p in before:
        assert after[p]["status"].iloc[0] == "ok" and store.same_result(before[p], after[p]), p


def test_a_failed_placeholder_never_replaces_a_finished_result(tmp_path):
    from pgbench.sweep import Task, _failed
    task = Task("sin", "gd", iterations=3, problem_overrides=dict(TINY))
    (done,) = run_sweep([task], root=tmp_path)
    out = _failed(task.plan(), task, "a worker process died", tmp_path)
    assert out.status == "failed"
    assert store.read(done.path)["status"].iloc[0] == "ok"


# --- 2. the results folder and every stored value are checked before any work -----------------------

def _tasks():
    return expand("sin", ["gd"], iterations=3, problem_overrides=TINY)[0]


def test_results_under_a_file_is_refused_before_work(tmp_path, no_runs):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidSettingError, match="not writable|is a file"):
        run_sweep(_tasks(), root=tmp_path / "file" / "runs")
    with pytest.raises(InvalidSettingError, match="is a file"):
        run_sweep(_tasks(), root=tmp_path / "file")


def test_too_long_results_name_is_refused_before_work(tmp_path, no_runs):
    with pytest.raises(InvalidSettingError, match="not writable"):
        run_sweep(_tasks(), root=tmp_path / ("a" * 300))


def test_empty_results_path_is_refused(tmp_path, no_runs, capsys, monkeypatch):
    with pytest.raises(InvalidSettingError, match="empty"):
        run_sweep(_tasks(), root="")
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--results", "")
    assert code == 2 and "--results must not be empty" in one_error_line(err)
    code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--results=")
    assert code == 2 and list(tmp_path.iterdir()) == []


def test_read_only_results_folder_is_refused_before_work(tmp_path, no_runs, monkeypatch):
    def read_only(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(validate, "open", read_only, raising=False)
    with pytest.raises(InvalidSettingError, match="Permission denied"):
        run_sweep(_tasks(), root=tmp_path / "runs")
    assert store.run_files(tmp_path) == []


def test_full_disk_is_refused_before_work(tmp_path, no_runs, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    with pytest.raises(InvalidSettingError, match="bytes free"):
        run_sweep(_tasks(), root=tmp_path / "runs")


def test_results_folder_errors_on_the_command_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    start = time.perf_counter()
    code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--results", tmp_path / "file" / "runs")
    assert code == 2 and "not writable" in one_error_line(err)
    code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--results", tmp_path / ("a" * 300))
    assert code == 2 and "File name too long" in one_error_line(err)
    assert time.perf_counter() - start < 60   # sanity only: nothing ran


def test_seed_beyond_int64_is_refused_before_work(tmp_path, capsys, no_runs):
    code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--seeds", str(2**63), "--results", tmp_path / "r")
    assert code == 2 and "seed must be an integer in [0, 2**63)" in one_error_line(err)
    with pytest.raises(InvalidSettingError, match="seed"):
        pgbench.plan(pgbench.make_problem("sin", scale="quick", **TINY), "gd", seed=2**63)
    assert not (tmp_path / "r").exists()


def test_unstorable_hyperparameter_is_refused_before_work(tmp_path, no_runs):
    tasks, _ = expand("sin", ["lbfgsb"], problem_overrides=TINY, hyperparameters={"maxiter": 2**64})
    with pytest.raises(InvalidSettingError, match="cannot be stored"):
        run_sweep(tasks, root=tmp_path)
    assert store.run_files(tmp_path) == []


# --- 3. ids cannot leave the store ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["../../escaped-v0", "/abs/p-v0", "a/b-v0", "a..b-v0", ".hidden-v0"])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(InvalidSettingError, match="must look like"):
        pgbench.register_problem(bad, "pgbench.problems.sin:Sin")
    with pytest.raises(InvalidSettingError, match="must look like"):
        pgbench.register_solver(bad, "pgbench.solvers.iterative:GradientDescent")
    assert bad not in PROBLEMS.specs and bad not in SOLVERS.specs


def test_every_store_path_stays_inside_the_store(tmp_path):
    meta = dict(pgbench.plan(pgbench.make_problem("sin", scale="quick", **TINY), "gd", iterations=2).meta)
    for problem in ("../../escaped-v0", "/abs/p-v0", ".."):
        with pytest.raises(store.UnsafePathError):
            store.path_for(dict(meta, problem=problem), tmp_path / "runs")
    assert list(tmp_path.iterdir()) == []


# --- 4. merge is idempotent: one file per key, whatever the folders ---------------------------------------

def _store_with_runs(root, seeds=(0, 1, 2)):
    tasks, _ = expand("sin", ["gd"], seeds=list(seeds), iterations=2, problem_overrides=TINY)
    run_sweep(tasks, root=root)
    return root


def test_merging_a_store_into_its_own_subfolder_changes_nothing_the_second_time(tmp_path):
    s = _store_with_runs(tmp_path / "S")
    counts, summaries = [], []
    for _ in range(3):
        m = store.merge([s], s / "sub")
        summaries.append((m.copied, m.replaced, m.kept))
        counts.append(len(store.run_files(s / "sub")))
    assert counts == [3, 3, 3]
    assert summaries == [(3, 0, 0), (0, 0, 3), (0, 0, 3)]   # the destination is not merged into itself
    assert not (s / "sub" / "sub").exists()


def test_merging_a_parent_folder_files_each_run_once_at_its_place(tmp_path):
    _store_with_runs(tmp_path / "machine-a" / "runs")
    dest = tmp_path / "dest"
    first = store.merge([tmp_path / "machine-a"], dest)
    assert first.copied == 3
    assert sorted(p.relative_to(dest).parts[0] for p in store.run_files(dest)) == ["sin-v0"] * 3
    again = store.merge([tmp_path / "machine-a"], dest)
    assert (again.copied, again.replaced, again.kept) == (0, 0, 3)
    # a source inside the destination is fine too
    assert store.merge([dest / "sin-v0"], dest).kept == 3 and len(store.run_files(dest)) == 3


def test_merge_into_a_file_is_one_line(tmp_path, capsys):
    s = _store_with_runs(tmp_path / "S", seeds=(0,))
    (tmp_path / "file").write_text("x")
    code, _, err = invoke(capsys, "merge", s, "--into", tmp_path / "file")
    assert code == 2 and "is a file" in one_error_line(err)


# --- 5. a plugin cannot replace a registered id -----------------------------------------------------------

def test_a_plugin_cannot_replace_a_built_in_id():
    before_p, before_s = PROBLEMS.specs["sin-v0"], SOLVERS.specs["gd-v0"]
    with pytest.raises(InvalidSettingError, match="already registered"):
        pgbench.register_problem("sin-v0", "pgbench.problems.sin2d:Sin2D")
    with pytest.raises(InvalidSettingError, match="already registered"):
        pgbench.register_solver("gd-v0", "pgbench.solvers.iterative:Adam")
    assert PROBLEMS.specs["sin-v0"] is before_p and SOLVERS.specs["gd-v0"] is before_s
    # the same registration again (a plugin imported twice) is harmless
    pgbench.register_solver("gd-v0", before_s.entry_point, kwargs=before_s.kwargs, description=before_s.description)


# --- 6. a damaged file is detected, reported and re-run -------------------------------------------------

def _flip_a_silent_bit(path) -> None:
    """Flip one bit inside the ``loss`` column's data so that a reader without checksums still
    reads the file, with different numbers (the silent case)."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    col = meta.row_group(0).column(names.index("loss"))
    start = col.dictionary_page_offset or col.data_page_offset
    good = pd.read_parquet(path)["loss"].to_numpy()
    raw = path.read_bytes()
    for offset in range(start + col.total_compressed_size - 1, start, -1):
        damaged = bytearray(raw)
        damaged[offset] ^= 0x04
        path.write_bytes(bytes(damaged))
        try:
            loss = pd.read_parquet(path)["loss"].to_numpy()
        except Exception:
            continue
        if not np.array_equal(loss, good, equal_nan=True):
            return
    raise AssertionError("no silent bit flip found")


def test_a_flipped_bit_is_reported_and_the_run_redone(tmp_path):
    (task,) = _tasks()
    (done,) = run_sweep([task], root=tmp_path)
    path = store.path_for(task.plan().meta, tmp_path)
    good = store.read(path)
    _flip_a_silent_bit(path)
    with pytest.warns(UserWarning, match="damaged result file"):
        assert not store.is_finished(task.plan().meta, tmp_path)
    with pytest.warns(UserWarning, match="skipping unreadable"):
        assert pgbench.load_results(tmp_path).empty
    with pytest.warns(UserWarning, match="damaged result file"):
        (again,) = run_sweep([task], root=tmp_path)
    assert not again.cached and again.status == "ok"
    assert store.same_result(store.read(path), good)


# --- 6b. issue 29: a file holding another run, bad places in the store, damaged footers and companions ---

def _runs(root, seeds=(0, 1)):
    """``(tasks, paths)``: one stored sin × gd run per seed under ``root``."""
    tasks, _ = expand("sin", ["gd"], seeds=list(seeds), iterations=2, problem_overrides=TINY)
    run_sweep(tasks, root=root)
    return tasks, [store.path_for(t.plan(), root) for t in tasks]


def test_a_file_holding_another_runs_result_is_damage(tmp_path):
    """Issue 29.1: seed 0's file copied over seed 1's name is reported, left out, never merged, and
    seed 1 is run again."""
    root = tmp_path / "r"
    tasks, (p0, p1) = _runs(root)
    shutil.copyfile(p0, p1)
    with pytest.warns(UserWarning, match=f"{re.escape(p1.name)}.*holds run key {p0.stem}"):
        assert store.status_of(tasks[1].plan(), root) is None
    with pytest.warns(UserWarning, match=re.escape(p1.name)):
        assert set(pgbench.load_results(root)["run_key"]) == {p0.stem}
    merged = store.merge([root], tmp_path / "dest")
    assert merged.copied == 1 and [p1.name in u for u in merged.unreadable] == [True]
    assert [p.name for p in store.run_files(tmp_path / "dest")] == [p0.name]
    with pytest.warns(UserWarning, match=re.escape(p1.name)):
        again = run_sweep(tasks, root=root)
    assert [(o.cached, o.status) for o in again] == [(True, "ok"), (False, "ok")]
    assert store.read(p1)["run_key"].iloc[0] == p1.stem


def _run_cli(capsys, root, *extra):
    return invoke(capsys, "run", "sin", "gd", *TINY_ARGS, "--results", root, *extra)


def test_a_file_named_like_a_problem_folder_is_refused_before_work(tmp_path, no_runs, capsys):
    """Issue 29.5: ``<root>/sin-v0`` is a file."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "sin-v0").write_text("x")
    with pytest.raises(InvalidSettingError, match="sin-v0 is not a directory"):
        run_sweep(_tasks(), root=root)
    code, _, err = _run_cli(capsys, root)
    assert code == 2 and "sin-v0 is not a directory" in one_error_line(err)


@contextlib.contextmanager
def _unwritable(folder):
    """``folder`` made unwritable: by chmod, or for root (whom chmod does not stop) by the immutable
    flag (``chattr +i``); skipped only where neither can."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root without a working chattr: chmod cannot make a folder unwritable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_an_unwritable_problem_folder_is_refused_before_work(tmp_path, no_runs, capsys):
    """Issue 29.5: the problem folder cannot be written (chmod 555, or immutable)."""
    root = tmp_path / "r"
    (root / "sin-v0").mkdir(parents=True)
    with _unwritable(root / "sin-v0"):
        with pytest.raises(InvalidSettingError, match="sin-v0 is not writable"):
            run_sweep(_tasks(), root=root)
        code, _, err = _run_cli(capsys, root)
    assert code == 2 and "sin-v0 is not writable" in one_error_line(err)


@pytest.mark.parametrize("which", ["run file", "examples file"])
def test_a_directory_named_like_a_run_file_is_refused_before_work(tmp_path, no_runs, capsys, which):
    """Issue 29.5: a directory ``<key>.parquet`` (or ``<key>.examples.npz``) where the run goes."""
    root = tmp_path / "r"
    (task,) = _tasks()
    path = store.path_for(task.plan(), root)
    blocked = path if which == "run file" else store.examples_path(path)
    blocked.mkdir(parents=True)
    with pytest.raises(InvalidSettingError, match=f"{re.escape(blocked.name)} is a directory"):
        run_sweep([task], root=root)
    code, _, err = _run_cli(capsys, root, "--force")
    assert code == 2 and f"{blocked.name} is a directory" in one_error_line(err)


@pytest.mark.parametrize("link", ["run file", "problem folder"])
def test_a_symlink_leaving_the_store_is_refused_in_one_line(tmp_path, capsys, link):
    """Issue 29.5: a symlinked ``<key>.parquet`` (with and without ``--force``) or problem folder
    pointing out of the store: one line before any work, as ``merge`` says it; nothing outside
    is touched."""
    source = _store_with_runs(tmp_path / "S", seeds=(0,))
    root, outside = tmp_path / "r", tmp_path / "outside"
    outside.mkdir()
    (task,) = expand("sin", ["gd"], iterations=2, problem_overrides=TINY)[0]
    path = store.path_for(task.plan(), root)
    if link == "run file":
        path.parent.mkdir(parents=True)
        (outside / "precious.parquet").write_bytes(b"precious")
        path.symlink_to(outside / "precious.parquet")
    else:
        root.mkdir()
        path.parent.symlink_to(outside, target_is_directory=True)
    before = sorted((p.name, p.read_bytes()) for p in outside.iterdir())
    for force in ([], ["--force"]):
        code, _, err = invoke(capsys, "run", "sin", "gd", *TINY_ARGS[:4], "--iterations", "2", "--results", root,
                              *force)
        assert code == 2 and "is outside the results folder" in one_error_line(err)
    with pytest.raises(InvalidSettingError, match="is outside the results folder"):
        run_sweep([task], root=root, force=True)
    config = tmp_path / "sweep.toml"
    config.write_text('problems = ["sin"]\nsolvers = ["gd"]\niterations = 2\n'
                      '[problem_settings.sin]\nbatch_size = 8\ntest_size = 8\n')
    code, _, err = invoke(capsys, "sweep", config, "--dry-run", "--results", root)
    assert code == 2 and "is outside the results folder" in one_error_line(err)
    code, _, err = invoke(capsys, "merge", source, "--into", root)
    assert code == 2 and "is outside the results folder" in one_error_line(err)
    assert sorted((p.name, p.read_bytes()) for p in outside.iterdir()) == before


def test_a_run_that_cannot_be_stored_does_not_stop_the_sweep(tmp_path):
    """Issue 29.5: seed 1's place is taken by a directory after planning (while seed 0 runs): seed 1
    is reported failed with the reason, and seed 2 still runs and is stored."""
    root = tmp_path / "r"
    tasks, _ = expand("sin", ["gd"], seeds=[0, 1, 2], iterations=2, problem_overrides=TINY)
    blocked = store.path_for(tasks[1].plan(), root)

    def hostile(event):
        if event.kind == "finish" and event.index == 0:
            blocked.mkdir(parents=True)

    outcomes = run_sweep(tasks, root=root, progress=hostile)
    assert [o.status for o in outcomes] == ["ok", "failed", "ok"]
    assert "not stored" in outcomes[1].message and "IsADirectoryError" in outcomes[1].message
    assert outcomes[1].path == "" and not outcomes[1].cached
    stored = {p.stem for p in store.run_files(root) if p.is_file()}
    assert stored == {outcomes[0].run_key, outcomes[2].run_key}


def test_the_command_line_reports_a_run_that_could_not_be_stored(tmp_path, capsys, monkeypatch):
    """Issue 29.5 on the command line: the run whose file cannot be written is one ``failed`` line,
    the others are stored and shown; exit status 1, no traceback."""
    root, save = tmp_path / "r", store.save

    def hostile(run, root_, examples=None):  # seed 1's place is taken by a folder just before it is written
        if record.as_record(run).meta.seed == 1:
            store.path_for(run, root_).mkdir(parents=True)
        return save(run, root_, examples)

    monkeypatch.setattr(store, "save", hostile)
    code, out, err = _run_cli(capsys, root, "--seeds", "0", "1", "2")
    assert code == 1 and "Traceback" not in err and "Error" not in out
    assert len([ln for ln in err.splitlines() if "not stored" in ln]) == 1
    assert len([p for p in store.run_files(root) if p.is_file()]) == 2


def _rename_in_footer(path, column: str) -> str:
    """Flip the lowest bit of the last letter of ``column``'s name in the parquet footer (which page
    checksums do not cover), at the first place where that renames the column on read; returns
    the new name. Deterministic: the footer's occurrences are tried in order."""
    raw = path.read_bytes()
    footer = len(raw) - 8 - int.from_bytes(raw[-8:-4], "little")
    renamed = column[:-1] + chr(ord(column[-1]) ^ 1)
    at = raw.find(column.encode(), footer)
    while at >= 0:
        damaged = bytearray(raw)
        damaged[at + len(column) - 1] ^= 1
        path.write_bytes(bytes(damaged))
        try:
            columns = list(pd.read_parquet(path, page_checksum_verification=True).columns)
        except Exception:
            columns = []
        if renamed in columns and column not in columns:
            return renamed
        at = raw.find(column.encode(), at + 1)
    raise AssertionError(f"no single bit flip renames {column}")


@pytest.mark.parametrize("column", ["iteration", "kind", "seed", "x_error"])
def test_a_footer_flip_that_renames_a_column_is_damage(tmp_path, column):
    """Issue 29.6: the renamed file is reported and left out everywhere the store is read (the run
    is done again, merge skips it)."""
    root = tmp_path / "r"
    tasks, (p0, p1) = _runs(root)
    _rename_in_footer(p1, column)
    with pytest.warns(UserWarning, match=f"{re.escape(p1.name)}.*{column}"):
        assert store.status_of(tasks[1].plan(), root) is None
    with pytest.warns(UserWarning, match=re.escape(p1.name)):
        assert set(pgbench.load_results(root)["run_key"]) == {p0.stem}
    merged = store.merge([root], tmp_path / "dest")
    assert merged.copied == 1 and [p1.name in u for u in merged.unreadable] == [True]
    with pytest.warns(UserWarning, match=re.escape(p1.name)):
        again = run_sweep(tasks, root=root)
    assert [(o.cached, o.status) for o in again] == [(True, "ok"), (False, "ok")]


def test_results_leaderboard_and_report_skip_a_renamed_column(tmp_path, capsys):
    """Issue 29.6: ``iteration`` renamed in the only file of a problem made these commands crash
    (KeyError: 'iteration'); now they warn and go on without it."""
    root = tmp_path / "r"
    _, (p0, p1) = _runs(root)
    _rename_in_footer(p1, "iteration")
    for args in (["results"], ["leaderboard", "--kind", "iterative"], ["report", "--out", tmp_path / "report"]):
        code, _, err = invoke(capsys, *args, "--results", root)
        assert code in (0, None) and "Traceback" not in err, (args, err)
        assert [ln for ln in err.splitlines() if ln.startswith("warning:") and p1.name in ln], (args, err)
    p0.unlink()   # the damaged file alone: nothing to show, said in two lines
    code, _, err = invoke(capsys, "results", "--results", root)
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2 and p1.name in lines[0] and lines[1] == "no stored runs match"


def test_a_run_file_with_text_where_numbers_belong_is_damage(tmp_path):
    """Issue 29.6: a column of the record schema with the wrong type (text losses) is damage."""
    root = tmp_path / "r"
    tasks, (_, p1) = _runs(root)
    df = store.read(p1)
    store.write_frame(df.assign(loss=df["loss"].astype(str)), p1)
    with pytest.warns(UserWarning, match=f"{re.escape(p1.name)}.*loss"):
        assert store.status_of(tasks[1].plan(), root) is None


def test_merge_skips_damaged_example_files_and_finishes(tmp_path, capsys):
    """Issue 29.6: a truncated ``.examples.npz`` and one that is a directory are skipped (reported),
    their runs still merged; a destination whose examples place is a directory gets that run
    reported as not written, and the merge goes on."""
    source, dest = tmp_path / "S", tmp_path / "dest"
    _, paths = _runs(source, seeds=(0, 1, 2))
    npz = [store.examples_path(p) for p in paths]
    assert all(n.is_file() for n in npz)
    raw = npz[0].read_bytes()
    npz[0].write_bytes(raw[: len(raw) // 2])
    npz[1].unlink()
    npz[1].mkdir()
    merged = store.merge([source], dest)
    assert merged.copied == 3 and not merged.not_written
    assert sorted(u.split(" (")[0] for u in merged.unreadable) == sorted(map(str, npz[:2]))
    assert [store.examples_path(dest / "sin-v0" / p.name).is_file() for p in paths] == [False, False, True]
    with np.load(store.examples_path(dest / "sin-v0" / paths[2].name)) as z:
        assert "meta" in z.files

    other = tmp_path / "other"
    store.examples_path(other / "sin-v0" / paths[2].name).mkdir(parents=True)
    merged = store.merge([source], other)
    assert merged.copied == 2 and [paths[2].stem in u for u in merged.not_written] == [True]
    assert sorted(p.name for p in store.run_files(other) if p.is_file()) == sorted(p.name for p in paths[:2])
    code, out, err = invoke(capsys, "merge", source, "--into", other)   # the command line says so, exits 1
    assert code == 1 and "1 not written" in out and err.startswith("error: could not write") and len(err.splitlines()) == 1


# --- 7. conformance checks catch a lost batch dimension and partly NaN examples -----------------------------

BROKEN = {
    "test-drops-batch-v0": "DropsBatch", "test-couples-batch-v0": "CouplesBatch", "test-half-nan-v0": "HalfNaN",
}


def _register_broken():
    for sid, cls in BROKEN.items():
        if sid not in SOLVERS.specs:
            pgbench.register_solver(sid, f"tests.broken_solvers:{cls}")


@pytest.mark.parametrize("solver_id,message", [
    ("test-drops-batch-v0", "batch dimension lost"),
    ("test-couples-batch-v0", "depends on the other examples"),
    ("test-half-nan-v0", "became non-finite"),
])
def test_check_solver_catches_broken_solvers(solver_id, message, backend, monkeypatch):
    from pgbench.testing import check_solver
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(__file__)))
    _register_broken()
    with pytest.raises(AssertionError, match=message):
        check_solver(solver_id, "sin", backend=backend)
    check_solver("gd", "sin", backend=backend)  # the healthy solver they derive from passes


# --- 8. sweep files and command-line values: types and ranges before work -----------------------------------

@pytest.mark.parametrize("data,message", [
    ({"iterations": True}, "'iterations' must be an integer >= 1, got True (bool)"),
    ({"iterations": 5.5}, "'iterations' must be an integer >= 1, got 5.5 (float)"),
    ({"iterations": "five"}, "'iterations' must be an integer >= 1, got 'five' (str)"),
    ({"iterations": 2**63}, "'iterations' must be an integer >= 1"),
    ({"max_time": math.nan}, "'max_time' must be a finite number of seconds > 0"),
    ({"max_time": True}, "'max_time' must be a finite number"),
    ({"problems": [1, 2]}, "'problems' must be a list of ids (strings), got [1, 2] (list)"),
    ({"solvers": "gd", "scale": 3}, "'scale' must be a scale name"),
    ({"seeds": [0, -1]}, "'seeds' must be a list of integers in [0, 2**63)"),
    ({"seeds": [True]}, "'seeds' must be a list of integers"),
    ({"backends": [1]}, "'backends' must be a list of names"),
    ({"problem_settings": {"sin": {"a_low": math.nan}}}, "a_low=nan: expected a finite number"),
    ({"problem_settings": {"sin": {"a_low": 5.0, "a_high": 1.0}}}, "0 < a_low < a_high"),
])
def test_bad_sweep_file_values_are_named(data, message, no_runs):
    data = {"problems": ["sin"], "solvers": ["gd"], **data}
    with pytest.raises((InvalidSettingError, ValueError)) as exc:
        SweepConfig.from_dict(data).tasks()
    assert message in str(exc.value)


@pytest.mark.parametrize("args,message", [
    (["--problem-set", "a_low=nan"], "a_low=nan: expected a finite number"),
    (["--problem-set", "a_low=5", "--problem-set", "a_high=1"], "0 < a_low < a_high"),
    (["--max-time", "nan"], "max_time must be a finite number of seconds > 0"),
    (["--max-time", "inf"], "max_time must be a finite number of seconds > 0"),
])
def test_bad_values_on_the_command_line(args, message, tmp_path, capsys, no_runs):
    code, _, err = invoke(capsys, "run", "sin", "gd", "-n", "2", *args, "--results", tmp_path / "r")
    assert code == 2 and message in one_error_line(err)
    assert not (tmp_path / "r").exists()


# --- 9. an unreachable scheduler ends in one line, in time -----------------------------------------------------

def test_missing_scheduler_file_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    config = tmp_path / "sweep.toml"
    config.write_text('problems = ["sin"]\nsolvers = ["gd"]\niterations = 2\n')
    code, _, err = invoke(capsys, "sweep", config, "--scheduler", tmp_path / "missing.json", "--results", tmp_path / "r")
    assert code == 2 and "no Dask scheduler file" in one_error_line(err)


def test_unreachable_scheduler_times_out_with_one_line(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(InvalidSettingError, match="cannot reach the Dask scheduler tcp://127.0.0.1:1 within 1 s"):
        validate.scheduler("tcp://127.0.0.1:1", timeout=1)
    with pytest.raises(InvalidSettingError, match="cannot reach"):
        run_sweep(_tasks(), root=tmp_path, executor="dask", scheduler="not-an-address")


# --- 10. plugins say that they run, also on --dry-run ----------------------------------------------------------

def test_dry_run_says_which_plugin_files_it_imports(tmp_path, capsys):
    plugin = tmp_path / "dry_plugin.py"
    plugin.write_text("import pgbench\npgbench.register_problem('dry-plugin-sin-v0', 'pgbench.problems.sin:Sin')\n")
    config = tmp_path / "sweep.toml"
    config.write_text('problems = ["dry-plugin-sin"]\nsolvers = ["gd"]\nplugins = ["dry_plugin.py"]\n')
    code, _, err = invoke(capsys, "sweep", config, "--dry-run", "--results", tmp_path / "r")
    assert code == 0 and f"note: imported plugin {plugin}" in err


# --- 11. the rest: foreign files, read-only report, unknown filters, duplicate ids, stale temporaries ------------

def test_report_survives_a_foreign_parquet_file(tmp_path, capsys):
    s = _store_with_runs(tmp_path / "S", seeds=(0,))
    pd.DataFrame({"problem": [1.0, 2.0], "x": ["a", "b"]}).to_parquet(s / "sin-v0" / "foreign.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(s / "other.parquet")
    with pytest.warns(UserWarning, match="not a pgbench result file"):
        df = pgbench.load_results(s)
    assert df["run_key"].nunique() == 1
    code, out, err = invoke(capsys, "report", "--results", s, "--out", tmp_path / "report")
    assert code == 0 and (tmp_path / "report" / "index.html").exists(), err


def test_report_into_an_unwritable_folder_is_one_line(tmp_path, capsys, monkeypatch):
    s = _store_with_runs(tmp_path / "S", seeds=(0,))
    (tmp_path / "file").write_text("x")
    code, _, err = invoke(capsys, "report", "--results", s, "--out", tmp_path / "file")
    assert code == 2 and "report folder" in one_error_line(err)
    monkeypatch.setattr(validate, "open", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")),
                        raising=False)
    code, _, err = invoke(capsys, "report", "--results", s, "--out", tmp_path / "ro")
    assert code == 2 and "Permission denied" in one_error_line(err)


def test_results_with_an_unknown_problem_suggests(tmp_path, capsys):
    s = _store_with_runs(tmp_path / "S", seeds=(0,))
    code, _, err = invoke(capsys, "results", "--results", s, "--problem", "sinn")
    assert code == 2 and "did you mean 'sin" in one_error_line(err)
    code, _, err = invoke(capsys, "results", "--results", s, "--problem", "nosuch")
    assert code == 2 and "stored: sin" in one_error_line(err)


def test_one_id_given_twice_is_one_run():
    tasks, _ = expand(["sin", "sin-v0"], ["gd", "gd-v0"], problem_overrides=TINY, iterations=2)
    assert len(tasks) == 1
    config = SweepConfig.from_dict({"problems": ["sin", "sin-v0"], "solvers": ["gd", "gd-v0"], "iterations": 2,
                                    "hyperparameters": {"gd": {"eta": [0.01, 0.010]}}})
    assert len(config.tasks()[0]) == 1


def test_stale_temporary_files_of_dead_writers_are_cleaned(tmp_path):
    import socket
    (tmp_path / "sin-v0").mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    host = socket.gethostname()
    stale = tmp_path / "sin-v0" / f".0123456789abcdef.parquet.{host}.{dead}.0badc0de.tmp"
    live = tmp_path / "sin-v0" / f".0123456789abcdef.parquet.{host}.{os.getpid()}.0badc0de.tmp"
    remote_new = tmp_path / "sin-v0" / ".0123456789abcdef.parquet.other-host.1.0badc0de.tmp"
    remote_old = tmp_path / "sin-v0" / ".0123456789abcdef.parquet.other-host.2.0badc0de.tmp"
    for p in (stale, live, remote_new, remote_old):
        p.write_bytes(b"partial")
    old = time.time() - 3 * 86400
    os.utime(remote_old, (old, old))
    removed = store.clean_stale_tmp(tmp_path)
    assert set(removed) == {stale, remote_old}
    assert live.exists() and remote_new.exists()
    # a sweep cleans its store before it starts
    stale.write_bytes(b"partial")
    run_sweep(_tasks(), root=tmp_path)
    assert not stale.exists() and live.exists()


def test_a_reachable_scheduler_passes_the_check(tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        validate.scheduler(cluster.scheduler_address, timeout=5)
        f = tmp_path / "scheduler.json"
        f.write_text('{"address": "%s"}' % cluster.scheduler_address)
        validate.scheduler(str(f), timeout=5)


def test_concurrent_folder_checks_never_fail_each_other(tmp_path):
    """Two sweeps starting at once on a new store both pass the folder check (the check must not
    remove a folder another process is probing)."""
    from concurrent.futures import ThreadPoolExecutor
    for i in range(30):
        root = tmp_path / f"new-{i}" / "runs"
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: validate.writable_dir(root), range(4)))
        assert root.is_dir()
