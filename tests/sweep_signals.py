"""A real ``pgbench sweep`` in a subprocess, signalled mid-way: the helper behind
tests/test_processes.py and tests/test_executors.py. The sweep (8 runs of the ``sleeper`` test
solver, tests/slow_solvers.py, each about 4 s) leaves a file per started run in a folder, and
every process it starts carries a marker in its environment, so that a test can count the runs
started, the runs stored and the processes alive, re-parented ones included (Linux ``/proc``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pgbench import store

ROOT = Path(__file__).resolve().parents[1]
RUNS = 8
SWEEP = f"""
problems = ["sin"]
solvers = ["sleeper"]
seeds = {list(range(RUNS))}
iterations = 8
plugins = ["{ROOT / "tests" / "slow_solvers.py"}"]

[hyperparameters.sleeper]
nap = 0.5

[problem_settings.sin]
batch_size = 8
test_size = 8
"""


@dataclass
class Signalled:
    """What a signalled sweep did: its exit status and stderr, the runs started and stored when
    the signal was sent, when the driver had exited, and ``settle`` seconds later, and the
    processes of the sweep alive then."""

    returncode: int
    stderr: str
    started_at_signal: int
    started: int
    stored_at_exit: int
    stored: int
    alive: list[str]


def processes(marker: str) -> dict[int, str]:
    """The live processes whose environment holds ``marker``: pid → command line."""
    found = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if marker.encode() in (d / "environ").read_bytes():
                    found[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # gone meanwhile, or not ours to read
                pass
    return found


def signalled_sweep(tmp_path: Path, how: str, args: list[str], settle: float = 3.0) -> Signalled:
    """Start ``pgbench sweep`` (with ``args``) in its own process group, wait until two runs
    started, then send ``how``: ``"SIGINT"``, ``"SIGTERM"`` or ``"SIGKILL"`` to the driver, or
    ``"group SIGINT"`` to the whole group (a Ctrl-C in a terminal); wait for the driver to exit
    and ``settle`` seconds more."""
    config, starts, results = tmp_path / "sweep.toml", tmp_path / "starts", tmp_path / "results"
    config.write_text(SWEEP)
    starts.mkdir()
    marker = f"pgbench-test-{uuid.uuid4().hex}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PGBENCH_TEST_STARTS=str(starts), PGBENCH_TEST_MARKER=marker)
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "pgbench", "sweep", str(config), "--results", str(results), "--quiet", *args]
    with open(tmp_path / "stderr", "w+") as err:  # a file, not a pipe: a surviving worker would hold a pipe open
        driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while len(list(starts.iterdir())) < 2 and driver.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert driver.poll() is None, "the sweep ended before two runs started"
            started_at_signal = len(list(starts.iterdir()))
            if how == "group SIGINT":
                os.killpg(driver.pid, signal.SIGINT)
            else:
                driver.send_signal(getattr(signal, how))
            driver.wait(timeout=120)
            stored_at_exit = len(store.run_files(results))
            time.sleep(settle)
            alive = list(processes(marker).values())
        finally:
            if driver.poll() is None:
                driver.kill()
            for pid in processes(marker):  # never leave a test's processes behind, whatever happened
                os.kill(pid, signal.SIGKILL)
        err.seek(0)
        return Signalled(
            driver.returncode,
            err.read(),
            started_at_signal,
            len(list(starts.iterdir())),
            stored_at_exit,
            len(store.run_files(results)),
            alive,
        )
