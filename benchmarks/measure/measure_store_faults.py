"""Kill, resume and concurrent-writer measurements of the results store (issue 18's acceptance).

    python benchmarks/measure/measure_store_faults.py OUT_DIR [--kills 3] [--save-kills 20]

Every case runs ``pgbench sweep`` in subprocesses on one small grid (sin × dp, gd × 4 seeds, 150
iterations: 8 runs) and compares the resulting store with an uninterrupted one, run by run: the
curves (everything but wall times) must be bit-identical, no file may be unreadable, no run
missing or stored twice. Cases:

* ``driver``: SIGKILL the sweep's driver (``--workers 2``) after k runs are stored, then resume.
* ``worker``: SIGKILL one worker process of ``--workers 2``, then resume.
* ``force``:  ``--workers 2 --force`` on the complete store with a worker SIGKILLed: how many
  finished results were replaced by ``failed`` placeholders.
* ``saves``:  SIGKILL a process that saves runs in a loop, at random moments (mostly inside a
  write); count unreadable files and leftover temporary files, then :func:`clean_stale_tmp`.
* ``concurrent``: two ``--workers 2`` sweeps of the same grid on one store at once.

Prints one line per case and writes ``OUT_DIR/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from pgbench import store

SWEEP = """
problems = ["sin"]
solvers = ["dp", "gd"]
seeds = [0, 1, 2, 3]
iterations = 150

[problem_settings.sin]
batch_size = 64
test_size = 64
"""
N_RUNS = 8


def sweep_cmd(config, root, *extra):
    return [sys.executable, "-m", "pgbench", "sweep", str(config), "--quiet", "--results", str(root), *extra]


def env():
    return dict(os.environ, OMP_NUM_THREADS="1")


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p.name))
    return out


def check(root: Path, reference: dict) -> dict:
    """Compare a store with the reference curves: files, unreadable, missing, differing, tmp left."""
    files = store.run_files(root)
    unreadable, frames = 0, {}
    for p in files:
        try:
            df = store.read(p)
            frames[str(df["run_key"].iloc[0])] = df
        except Exception:
            unreadable += 1
    finished = {k: df for k, df in frames.items() if df["status"].iloc[0] in store.FINISHED}
    differ = sum(not store.same_result(df, reference[k]) for k, df in finished.items() if k in reference)
    return {"files": len(files), "unreadable": unreadable, "finished": len(finished),
            "missing": len(set(reference) - set(finished)), "differ": differ,
            "tmp_left": len(list(root.rglob(".*.tmp")))}


def n_finished(root: Path) -> int:
    n = 0
    for p in store.run_files(root):
        try:
            n += store.read(p, columns=["status"])["status"].iloc[0] in store.FINISHED
        except Exception:
            pass
    return n


def wait_for(root: Path, n: int, proc, timeout: float = 600) -> int:
    """Wait until ``n`` finished runs are stored (or the sweep ends); returns how many are."""
    deadline = time.time() + timeout
    while n_finished(root) < n and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    return n_finished(root)


def pool_workers(pid: int) -> list[int]:
    cmd = lambda c: Path(f"/proc/{c}/cmdline").read_text()  # noqa: E731
    return [c for c in children(pid) if "multiprocessing" in cmd(c) and "resource_tracker" not in cmd(c)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--save-kills", type=int, default=20)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    config = a.out / "sweep.toml"
    config.write_text(SWEEP)
    results = {}

    whole = a.out / "whole"
    subprocess.run(sweep_cmd(config, whole), env=env(), check=True, capture_output=True)
    reference = {str(store.read(p)["run_key"].iloc[0]): store.read(p) for p in store.run_files(whole)}
    assert len(reference) == N_RUNS

    # driver SIGKILLs, each followed by nothing: the next kill hits the resumed sweep, the last is resumed
    root = a.out / "driver"
    at = []
    for k in range(a.kills):
        proc = subprocess.Popen(sweep_cmd(config, root, "--workers", "2"), env=env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        at.append(wait_for(root, min(N_RUNS - 1, n_finished(root) + 2), proc))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(3)  # orphaned workers notice the dead driver and exit
    before = check(root, reference)
    subprocess.run(sweep_cmd(config, root, "--workers", "2"), env=env(), capture_output=True)
    results["driver"] = {"kills": a.kills, "finished_at_kill": at, "before_resume": before, "after": check(root, reference)}

    # worker SIGKILLs
    root = a.out / "worker"
    at, killed = [], 0
    for k in range(a.kills):
        proc = subprocess.Popen(sweep_cmd(config, root, "--workers", "2"), env=env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        at.append(wait_for(root, min(N_RUNS - 1, n_finished(root) + 1), proc))
        workers = pool_workers(proc.pid)
        if workers and proc.poll() is None:
            os.kill(workers[-1], signal.SIGKILL)
            killed += 1
        proc.wait()
    before = check(root, reference)
    subprocess.run(sweep_cmd(config, root, "--workers", "2"), env=env(), capture_output=True)
    results["worker"] = {"kills": killed, "finished_at_kill": at, "before_resume": before,
                         "after": check(root, reference)}

    # --force on a complete store with a worker SIGKILLed
    root = a.out / "force"
    subprocess.run(["cp", "-r", str(whole), str(root)], check=True)
    proc = subprocess.Popen(sweep_cmd(config, root, "--workers", "2", "--force"), env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline and proc.poll() is None:  # kill a worker once it has started running
        workers = pool_workers(proc.pid)
        if len(workers) == 2:
            time.sleep(6)
            break
        time.sleep(0.1)
    if workers:
        os.kill(workers[-1], signal.SIGKILL)
    proc.wait()
    after = check(root, reference)
    results["force"] = {"worker_killed": bool(workers), "exit": proc.returncode, **after,
                        "finished_replaced_by_failed": N_RUNS - after["finished"]}

    # SIGKILLs during saves
    root = a.out / "saves"
    saver = a.out / "saver.py"
    saver.write_text(f"""
import sys, pandas as pd
from pgbench import store
from pgbench.runner import RunResult
frames = [store.read(p) for p in store.run_files({str(whole)!r})]
results = []
for df in frames:
    import json
    from pgbench.sweep import Task
    from pgbench.record import RunRecord
    from pgbench.registry import base_name
    t = Task("sin", base_name(df["solver"].iloc[0]), seed=int(df["seed"].iloc[0]), iterations=150,
             problem_overrides={{"batch_size": 64, "test_size": 64}})
    results.append(RunResult(RunRecord.from_frame(df).rows, "ok", "", t.plan().meta))
print("ready", flush=True)
while True:
    for r in results:
        store.save(r, {str(root)!r})
""")
    rng = random.Random(0)
    for _ in range(a.save_kills):
        proc = subprocess.Popen([sys.executable, str(saver)], env=env(), stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # ready: the saves start now
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = check(root, reference)
    removed = len(store.clean_stale_tmp(root))
    results["saves"] = {"kills": a.save_kills, **before, "tmp_removed_by_clean": removed,
                        "tmp_after_clean": len(list(root.rglob(".*.tmp")))}

    # two concurrent sweeps on one store
    root = a.out / "concurrent"
    procs = [subprocess.Popen(sweep_cmd(config, root, "--workers", "2"), env=env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(2)]
    codes = [p.wait() for p in procs]
    results["concurrent"] = {"exit": codes, **check(root, reference)}

    for case, r in results.items():
        print(case, json.dumps(r))
    (a.out / "summary.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
