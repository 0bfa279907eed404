"""Worker processes tied to their driver (pgbench.processes): a real ``pgbench sweep --workers 2``
killed mid-way leaves no process behind and stores nothing more; the ties themselves, one by one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_signals import RUNS, processes, signalled_sweep

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="counts processes through /proc")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_workers_die_with_their_driver(tmp_path, how):
    """SIGTERM or SIGKILL of the driver while both workers run: 3 s after the driver is gone no
    process of the sweep is alive (workers, resource tracker) and no run was started or stored
    after the signal. SIGTERM is a Ctrl-C: exit status 130 and the one line."""
    r = signalled_sweep(tmp_path, how, ["--workers", "2"])
    assert r.alive == []
    assert r.started == r.started_at_signal
    assert r.stored == r.stored_at_exit < RUNS
    if how == "SIGTERM":
        assert r.returncode == 130, r.stderr
        assert "Traceback" not in r.stderr
        assert r.stderr.splitlines()[-1].startswith(f"interrupted: {r.stored} of {RUNS} runs stored")
    else:
        assert r.returncode == -9


ORPHAN = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {code!r}], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, PYTHONPATH={root!r}, MARK={mark!r}))
child.stdout.readline()  # tied
sys.stdout.write(str(child.pid))
"""  # the parent waits until its child is tied, prints the child's pid and exits: the child loses its parent


@pytest.mark.parametrize(
    "tie",
    [
        "from pgbench.processes import die_with_parent; die_with_parent(os.getppid())",  # prctl on Linux
        "import threading; from pgbench.processes import _watch_parent; "  # the portable way
        "threading.Thread(target=_watch_parent, args=(os.getppid(), 0.05), daemon=True).start()",
    ],
    ids=["die_with_parent", "watch_parent"],
)
def test_a_tied_process_dies_when_its_parent_does(tie, tmp_path):
    mark = f"orphan-{tmp_path.name}-{time.monotonic_ns()}"
    code = f"import os, sys, time\n{tie}\nprint('tied', flush=True)\ntime.sleep(60)  # an untied orphan lives on\n"
    out = subprocess.run([sys.executable, "-c", ORPHAN.format(code=code, root=str(ROOT), mark=mark)],
                         capture_output=True, text=True, check=True)
    pid = int(out.stdout)
    deadline = time.monotonic() + 20
    while pid in processes(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = processes(mark)
    for orphan in left:
        os.kill(orphan, signal.SIGKILL)
    assert pid not in left
