"""The parallel executors (pgbench.executors) and the in-process one under Ctrl-C: a real
``pgbench sweep`` signalled mid-way stops handing out work, says how far it got in one line and
exits with status 130: SIGINT to the driver alone, or to its whole process group as a Ctrl-C in a
terminal sends it (workers included)."""

import re
from pathlib import Path

import pytest
from sweep_signals import RUNS, signalled_sweep

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="counts processes through /proc")

LINE = re.compile(r"interrupted: (\d+) of (\d+) runs stored, (\d+) cancelled; run the same command again to resume")

IN_PROCESS, POOL, DASK = [], ["--workers", "2"], ["--cluster", "local", "--workers", "2"]


@pytest.mark.parametrize(
    "how, args",
    [
        ("SIGINT", IN_PROCESS),
        pytest.param("group SIGINT", IN_PROCESS, marks=pytest.mark.slow),
        pytest.param("SIGINT", POOL, marks=pytest.mark.slow),
        ("group SIGINT", POOL),
        pytest.param("SIGINT", DASK, marks=pytest.mark.slow),
        pytest.param("group SIGINT", DASK, marks=pytest.mark.slow),
    ],
    ids=["in-process", "in-process-group", "pool", "pool-group", "dask", "dask-group"],
)
def test_ctrl_c_stops_a_sweep_with_one_line(tmp_path, how, args):
    """No run starts after the signal, the runs in flight are abandoned (nothing is stored after
    the driver is gone, no process of the sweep is left), and stderr holds one line, no
    traceback, whose count is the store's."""
    if args == DASK:
        pytest.importorskip("distributed")
    r = signalled_sweep(tmp_path, how, args)
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    said = [line for line in r.stderr.splitlines() if not line.startswith("note: imported plugin")]
    assert len(said) == 1, r.stderr
    m = LINE.fullmatch(said[0])
    assert m, said[0]
    stored, total, cancelled = map(int, m.groups())
    assert (total, stored + cancelled) == (RUNS, RUNS)
    assert stored == r.stored_at_exit == r.stored < RUNS
    assert r.started == r.started_at_signal
    assert r.alive == []
