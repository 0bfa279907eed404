"""Sweeps: grid expansion and validation, skip reasons, stored failures, resume, the Dask executor."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import store
from pgbench.solvers.base import IterativeSolver
from pgbench.sweep import Task, coerce, expand, run_sweep

TINY = {"batch_size": 8, "test_size": 8}


@dataclass(frozen=True)
class Exploding(IterativeSolver):
    """A solver whose step raises, to check that a crash becomes a stored ``failed`` result."""

    after: int = 1
    jittable: ClassVar[bool] = False

    def step(self, problem, be, x, y_target, state):
        raise FloatingPointError("exploded on purpose")



def test_expand_grid_and_skip_reasons():
    tasks, skipped = expand(["sin", "wavepacket"], ["gd", "inverse", "pg"], seeds=[0, 1], iterations=2,
                            problem_overrides=TINY)
    # wavepacket declares no inverse physics: inverse and pg (inner solver "inverse") are skipped
    assert {(s.problem, s.solver) for s in skipped} == {("wavepacket-v0", "inverse-v0"), ("wavepacket-v0", "pg-v0")}
    assert all("inverse" in s.reason and "wavepacket-v0" in s.reason for s in skipped)
    pairs = [(t.problem, t.solver, t.seed) for t in tasks]
    assert len(pairs) == len(set(pairs)) == (3 + 1) * 2
    assert all(t.scale == "quick" and t.iterations == 2 and t.problem_overrides == TINY for t in tasks)


def test_expand_distributes_and_types_settings():
    tasks, _ = expand("sin", ["gd", "pg", "dp"], hyperparameters={"lr": "0.01", "pg.inner": "newton", "eta": "0.5",
                                                                   "pg.inner_settings": '{"clip": 2}',
                                                                   "dp.clip_x_grad": "none"})
    hp = {t.solver: t.hyperparameters for t in tasks}
    assert hp["gd-v0"] == {"eta": 0.5}
    assert hp["pg-v0"] == {"lr": 0.01, "inner": "newton", "inner_settings": {"clip": 2}}
    assert hp["dp-v0"] == {"lr": 0.01, "clip_x_grad": None}
    plan = next(t for t in tasks if t.solver == "pg-v0").plan()
    assert plan.meta["hyperparameters"]["inner"] == "newton" and plan.meta["hyperparameters"]["lr"] == 0.01


def test_coerce_by_field_type():
    from pgbench.problems.exp import Exp
    from pgbench.solvers.iterative import Newton
    from pgbench.solvers.training import PhysicalGradient, Supervised

    assert coerce(Supervised, "label_steps", "3") == 3 and coerce(Supervised, "label_steps", "1e2") == 100
    assert coerce(PhysicalGradient, "lr", "2e-3") == pytest.approx(2e-3)
    assert coerce(PhysicalGradient, "clip", "None") is None and coerce(PhysicalGradient, "clip", "0.5") == 0.5
    assert coerce(PhysicalGradient, "inner", "null") is None and coerce(PhysicalGradient, "inner", "gd") == "gd"
    assert coerce(PhysicalGradient, "inner_settings", '{"eta": 1}') == {"eta": 1}
    assert coerce(Newton, "fidelity", "authors") == "authors"
    assert coerce(Exp, "x_range", "[-5, 0]") == (-5, 0)
    assert coerce(Newton, "eta", 2) == 2  # non-strings pass through
    with pytest.raises(pgbench.InvalidSettingError, match="expected float"):
        coerce(PhysicalGradient, "lr", "fast")
    with pytest.raises(pgbench.InvalidSettingError, match="expected int"):
        coerce(Supervised, "label_steps", "1.5")
    with pytest.raises(pgbench.InvalidSettingError, match="expected dict"):
        coerce(PhysicalGradient, "inner_settings", "[1, 2]")
    with pytest.raises(pgbench.InvalidSettingError, match="did you mean 'lr'"):
        coerce(PhysicalGradient, "lrr", "1")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(problems="sinn", solvers="gd"), pgbench.UnknownIdError, "did you mean 'sin'"),
    (dict(problems="sin", solvers="gdd"), pgbench.UnknownIdError, "did you mean 'gd'"),
    (dict(problems="sin", solvers="gd", hyperparameters={"etaa": 1}), pgbench.InvalidSettingError, "did you mean 'eta'"),
    (dict(problems="sin", solvers="gd", hyperparameters={"pg.lr": 1}), pgbench.InvalidSettingError, "not among"),
    (dict(problems="sin", solvers="gd", scale="huge"), pgbench.InvalidSettingError, "no scale 'huge'"),
    (dict(problems="sin", solvers="gd", hyperparameters={"eta": -1}), ValueError, "must be > 0"),
    (dict(problems="sin", solvers="gd", seeds=[-1]), pgbench.InvalidSettingError, "seed"),
    (dict(problems="sin", solvers="gd", backends=["tf"]), ValueError, "unknown backend"),
    (dict(problems="sin", solvers="gd", problem_overrides={"batch_size": 0}), ValueError, "batch_size"),
])
def test_bad_settings_raise_before_any_work(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        expand(**kwargs)
    assert not any(tmp_path.iterdir())


def test_diverging_and_crashing_runs_are_stored_with_their_status(tmp_path, monkeypatch):
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))  # registration undone afterwards
    pgbench.register_solver("exploding-v0", f"{__name__}:Exploding", description="test: raises in step")
    tasks, _ = expand("quadratic2d", ["gd", "exploding"], iterations=10, hyperparameters={"gd.eta": 100.0})
    diverged, failed = run_sweep(tasks, root=tmp_path)
    assert diverged.status == "diverged" and "blew up" in diverged.message
    assert failed.status == "failed" and "exploded on purpose" in failed.message
    df = pgbench.load_results(tmp_path)
    assert set(df.groupby("run_key")["status"].first()) == {"diverged", "failed"}
    # diverged is a finished result; failed is retried (and fails again, still stored)
    again = run_sweep(tasks, root=tmp_path)
    assert [o.cached for o in again] == [True, False]
    assert again[1].status == "failed"


def test_interrupted_sweep_resumes(tmp_path):
    tasks, _ = expand("sin", ["gd", "inverse"], seeds=[0, 1], iterations=3, problem_overrides=TINY)
    finished = []

    def stop_after_two(event):
        if event.kind == "finish":
            finished.append(event.outcome)
            if len(finished) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(tasks, root=tmp_path, progress=stop_after_two)
    assert len(list(tmp_path.rglob("*.parquet"))) == 2
    events = []
    outcomes = run_sweep(tasks, root=tmp_path, progress=events.append)
    assert [o.cached for o in outcomes] == [True, True, False, False]
    assert [o.run_key for o in outcomes[:2]] == [o.run_key for o in finished]
    assert sum(e.kind == "start" for e in events) == 2  # only the two missing runs ran
    iters = [e.progress.iteration for e in events if e.kind == "iteration" and e.index == 2]
    assert iters == [0, 1, 2, 3]
    assert len(list(tmp_path.rglob("*.parquet"))) == 4


def test_task_is_plain_data():
    import pickle
    task = Task("sin", "pg", seed=2, hyperparameters={"inner_settings": {"eta": 1.0}}, problem_overrides=TINY)
    assert pickle.loads(pickle.dumps(task)) == task
    assert task.plan().meta["seed"] == 2


def test_every_task_is_planned_once_and_the_store_checked_once(tmp_path, monkeypatch):
    """expand, unique, the dry-run status and run_sweep share each task's plan; the plan does not
    travel in a pickle; the store folder is checked and cleaned once per sweep."""
    import pickle

    from pgbench import sweep, tasks as T, validate
    planned, checked, cleaned = [], [], []
    real_plan, real_writable, real_clean = T._plan, validate.writable_dir, store.clean_stale_tmp
    monkeypatch.setattr(T, "_plan", lambda *a, **k: planned.append(k["seed"]) or real_plan(*a, **k))
    monkeypatch.setattr(validate, "writable_dir", lambda *a, **k: checked.append(a) or real_writable(*a, **k))
    monkeypatch.setattr(store, "clean_stale_tmp", lambda *a, **k: cleaned.append(a) or real_clean(*a, **k))
    tasks, _ = expand("sin", "gd", seeds=[0, 1], iterations=2, problem_overrides=TINY)
    tasks = sweep.unique(tasks + tasks)
    assert sweep.sweep_status(tasks, tmp_path) == [None, None]
    outcomes = run_sweep(tasks, tmp_path)
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert planned == [0, 1] and len(checked) == len(cleaned) == 1
    assert "_plan" not in pickle.loads(pickle.dumps(tasks[0])).__dict__


def test_dask_executor_matches_local(tmp_path):
    pytest.importorskip("distributed")
    tasks, _ = expand("sin", "gd", seeds=[0, 1], iterations=3, problem_overrides=TINY)
    events = []
    outcomes = run_sweep(tasks, root=tmp_path / "dask", executor="dask", workers=2, progress=events.append)
    assert [o.status for o in outcomes] == ["ok", "ok"] and not any(o.cached for o in outcomes)
    assert sorted(e.index for e in events if e.kind == "finish") == [0, 1]
    # the workers wrote the store themselves, with the same keys and curves as a local run
    local = run_sweep(tasks, root=tmp_path / "local")
    assert [o.run_key for o in outcomes] == [o.run_key for o in local]
    a, b = pgbench.load_results(tmp_path / "dask"), pgbench.load_results(tmp_path / "local")
    np.testing.assert_allclose(a["x_error"].to_numpy(), b["x_error"].to_numpy(), rtol=1e-6)
    # everything finished: no cluster is started, the stored runs are reused
    again = run_sweep(tasks, root=tmp_path / "dask", executor="dask", workers=2)
    assert all(o.cached for o in again)
    assert store.is_finished(tasks[0].plan().meta, tmp_path / "dask")


def _curves(root):
    """Per run key: status and the recorded curves (wall time left out: it differs between runs)."""
    df = pgbench.load_results(root)
    return {k: (g["status"].iloc[0], g["loss"].to_numpy(float).round(12).tolist(),
                g["x_error"].to_numpy(float).round(12).tolist()) for k, g in df.groupby("run_key")}


def test_local_worker_processes_match_in_process(tmp_path):
    tasks, _ = expand("sin", ["gd", "dp"], seeds=[0, 1], iterations=3, problem_overrides=TINY)
    events = []
    outcomes = run_sweep(tasks, root=tmp_path / "pool", workers=2, progress=events.append)
    assert [o.status for o in outcomes] == ["ok"] * 4
    assert sorted(e.index for e in events if e.kind == "start") == [0, 1, 2, 3]  # workers announce starts
    assert sorted(e.index for e in events if e.kind == "finish") == [0, 1, 2, 3]
    run_sweep(tasks, root=tmp_path / "serial")
    assert _curves(tmp_path / "pool") == _curves(tmp_path / "serial")


KILLER = '''
import os, signal
from dataclasses import dataclass
from typing import ClassVar
import pgbench
from pgbench.solvers.iterative import GradientDescent


@dataclass(frozen=True)
class KillsItsProcess(GradientDescent):
    """Dies like a worker hit by the OOM killer: SIGKILL of its own process at the first step."""
    jittable: ClassVar[bool] = False

    def step(self, problem, be, x, y_target, state):
        os.kill(os.getpid(), signal.SIGKILL)


pgbench.register_solver("kills-its-process-v0", __name__ + ":KillsItsProcess")
'''


def test_a_killed_dask_worker_is_a_failed_run_and_the_sweep_goes_on(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    import dask

    # registrations made here are undone afterwards (another test registers the id from its own file)
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    plugin = tmp_path / "killer_plugin.py"
    plugin.write_text(KILLER)
    tasks, _ = expand("sin", ["kills-its-process", "gd"], iterations=2, problem_overrides=TINY, plugins=[str(plugin)])
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        outcomes = run_sweep(tasks, root=tmp_path / "r", executor="dask", workers=2)
    assert [o.status for o in outcomes] == ["failed", "ok"]
    assert "KilledWorker" in outcomes[0].message
    df = pgbench.load_results(tmp_path / "r")
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1 and "KilledWorker" in failed["traceback"].iloc[0]
    # the failed run is retried on the next sweep; the finished one is not
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        again = run_sweep(tasks, root=tmp_path / "r", executor="dask", workers=2)
    assert [o.cached for o in again] == [False, True]


def test_a_killed_pool_worker_is_a_failed_run(tmp_path, monkeypatch):
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))  # leave no trace (see above)
    plugin = tmp_path / "killer_plugin.py"
    plugin.write_text(KILLER)
    tasks, _ = expand("sin", ["kills-its-process"], iterations=2, problem_overrides=TINY, plugins=[str(plugin)])
    outcomes = run_sweep(tasks, root=tmp_path / "r", workers=2)
    assert outcomes[0].status == "failed" and "worker process died" in outcomes[0].message


SWEEP = """
problems = ["sin"]
solvers = ["dp", "gd"]
seeds = [0, 1, 2, 3]
iterations = 150

[problem_settings.sin]
batch_size = 64
test_size = 64
"""


def test_sigkilled_driver_resumes_to_the_same_store(tmp_path):
    """SIGKILL the sweep's driver once some runs are stored; running the sweep again completes the
    store with exactly the runs (and curves) of an uninterrupted sweep, none twice, none partial."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "sweep.toml"
    config.write_text(SWEEP)
    cmd = [sys.executable, "-m", "pgbench", "sweep", str(config), "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--results", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(store.run_files(killed)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_at_kill = len(store.run_files(killed))
    assert 2 <= n_at_kill < 8, n_at_kill  # killed mid-way
    subprocess.run(cmd + ["--results", str(killed)], env=env, check=True, capture_output=True)
    subprocess.run(cmd + ["--results", str(tmp_path / "whole")], env=env, check=True, capture_output=True)
    assert len(store.run_files(killed)) == 8  # one file per run: nothing duplicated, nothing lost
    assert _curves(killed) == _curves(tmp_path / "whole")
    assert all(status == "ok" for status, _, _ in _curves(killed).values())


def _save_many(args):
    root, results = args
    for r in results:
        store.save(r, root)


def test_concurrent_writers_never_corrupt_the_store(tmp_path):
    """Four processes write the same six runs at once, many times over: every file stays readable,
    one per run key, and no temporary file is left behind."""
    import multiprocessing as mp

    results = [pgbench.execute(Task("sin", "gd", seed=s, iterations=2, problem_overrides=TINY).plan())
               for s in range(6)]
    with mp.get_context("spawn").Pool(4) as pool:
        pool.map(_save_many, [(str(tmp_path), results * 10)] * 4)
    files = store.run_files(tmp_path)
    assert len(files) == 6
    for f in files:
        assert len(pd.read_parquet(f)) == 3
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".tmp"]


def test_runs_for_a_remote_cluster_are_validated_without_its_devices():
    """A driver on a login node without a GPU can send cuda runs to a cluster: every setting but
    the device is checked here, and a bad one still raises before anything runs."""
    from pgbench.backends import cuda_available

    tasks, _ = expand("sin", "gd", devices=["cuda"], iterations=2, problem_overrides=TINY, remote=True)
    assert [t.device for t in tasks] == ["cuda"]
    assert tasks[0].runs_here == cuda_available("torch")
    assert tasks[0].validate().meta["problem"] == "sin-v0"
    with pytest.raises(ValueError, match="eta"):
        expand("sin", "gd", devices=["cuda"], hyperparameters={"eta": -1.0}, problem_overrides=TINY, remote=True)
    if not cuda_available("torch"):
        with pytest.raises(RuntimeError, match="CUDA"):
            expand("sin", "gd", devices=["cuda"], problem_overrides=TINY)  # a local run needs the device here


def test_examples_travel_with_the_run_through_merge_and_resume(tmp_path):
    """Each run's example predictions (and a training run's inference time) are written next to
    it by the executor, copied with it by merge, and left alone when a resumed sweep reuses it."""
    from pgbench.report.examples import load_examples
    ts, _ = expand("sin", ["gd", "dp"], iterations=2)
    a, b = tmp_path / "a", tmp_path / "b"
    outcomes = run_sweep(ts, root=a)
    paths = [store.examples_path(o.path) for o in outcomes]
    assert all(p.exists() for p in paths)
    ex = {e["meta"]["solver"]: e for e in load_examples(a)}
    assert ex["dp-v0"]["meta"]["inference_seconds_per_example"] > 0
    assert ex["gd-v0"]["meta"]["inference_seconds_per_example"] is None
    mtimes = [p.stat().st_mtime_ns for p in paths]
    again = run_sweep(ts, root=a)
    assert all(o.cached for o in again) and [p.stat().st_mtime_ns for p in paths] == mtimes
    store.merge([a], b)
    for p in paths:
        q = b / p.relative_to(a)
        assert q.exists() and q.read_bytes() == p.read_bytes()
