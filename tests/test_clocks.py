"""The run clocks (pgbench.clocks): wall time and process CPU time, both with pauses excluded."""

import math
import time

import numpy as np
import pandas as pd
import pytest

import pgbench
from pgbench import clocks
from pgbench.analysis import measures
from pgbench.registry import InvalidSettingError


def _spin(cpu_seconds: float) -> None:
    """Busy work until this process has spent ``cpu_seconds`` more CPU time (however loaded the
    machine is)."""
    end = time.process_time() + cpu_seconds
    while time.process_time() < end:
        pass


def test_cpu_clock_counts_work_not_waiting():
    """Sleeping advances the wall clock only; work advances the CPU clock by the work done."""
    c = clocks.Clock()
    time.sleep(0.3)
    assert c.now() >= 0.29
    assert c.cpu() < 0.15
    cpu0 = c.cpu()
    _spin(0.2)
    assert c.cpu() - cpu0 > 0.1


def test_excluded_time_is_on_neither_clock():
    """Evaluation and set-up run inside ``excluded``: neither their work nor their waiting counts."""
    c = clocks.Clock()
    with c.excluded():
        _spin(0.2)
        time.sleep(0.1)
    assert c.now() < 0.05 and c.cpu() < 0.05


def test_unknown_clock_suggests():
    with pytest.raises(InvalidSettingError, match="did you mean 'cpu'"):
        clocks.column("cpus")


def test_runs_record_cpu_time_per_row():
    r = pgbench.run("quadratic2d", "gd", iterations=5, backend="torch")
    cpu = r.records["cpu_time"].to_numpy(dtype=float)
    assert np.all(np.isfinite(cpu)) and np.all(np.diff(cpu) >= 0)


def test_time_to_target_on_either_clock():
    rows = pd.DataFrame(
        {
            "iteration": [0, 1, 2, 3],
            "wall_time": [0.0, 1.0, 2.0, 3.0],
            "cpu_time": [0.0, 0.5, 0.9, 1.2],
            "x_error": [4.0, 2.0, 0.5, 0.1],
            "kind": "iterative",
        }
    )
    assert measures.first_reaching(rows, 0.5) == (2.0, 2.0)
    assert measures.first_reaching(rows, 0.5, clock="cpu") == (2.0, 0.9)
    assert measures.value_at_time(rows, 1.0, clock="cpu") == 0.5
    assert measures.value_at_time(rows, 1.0) == 2.0
    assert measures.seconds_per_iteration(rows, clock="cpu") == pytest.approx(0.4)
    old = rows.drop(columns="cpu_time")  # a store written before the CPU clock
    assert math.isnan(measures.first_reaching(old, 0.5, clock="cpu")[1])


def test_summary_carries_both_clocks():
    from pgbench.analysis.summary import per_config, per_run
    from pgbench.record import RunRecord

    r = pgbench.run("quadratic2d", "gd", iterations=30, backend="torch")
    rec = RunRecord.from_result(r)
    table = per_run([rec], policy=1e9)
    assert table["cpu_time"].iloc[0] == pytest.approx(r.records["cpu_time"].iloc[-1])
    assert table["cpu_time_to_target"].iloc[0] == pytest.approx(r.records["cpu_time"].iloc[0])
    assert "cpu_time_to_target" in per_config([rec], policy=1e9)
