"""Which run starts when on local worker processes (pgbench.scheduling): longest first, and a run
whose result depends on wall time never shares a core, checked on the rules and on real worker
processes whose runs log when they step."""

from __future__ import annotations

import pytest

import pgbench
from pgbench import scheduling
from pgbench.scheduling import longest_first, makespan, may_start, next_run, sharing, timed
from pgbench.sweep import Task, run_sweep


def test_longest_first_and_unknown_estimates():
    est = {0: 1.0, 1: 5.0, 2: None, 3: 3.0, 4: 5.0}
    # unknown (2) counts as the mean of the known, 3.5; equal estimates keep their order (1 before 4)
    assert longest_first([0, 1, 2, 3, 4], est) == [1, 4, 2, 3, 0]
    assert longest_first([3, 0], {}) == [3, 0]


def test_timed_runs_never_share_a_core():
    t = {7}
    # two workers on two cores: a timed run goes beside another, each has a core
    assert may_start(7, [1], t, workers=2, cores=2) and may_start(1, [7], t, workers=2, cores=2)
    assert not may_start(2, [7, 1], t, workers=2, cores=2)  # the workers are busy
    # three workers on two cores: untimed runs share, a timed one waits for a core of its own
    assert may_start(3, [1, 2], t, workers=3, cores=2)
    assert not may_start(7, [1, 2], t, workers=3, cores=2)
    assert not may_start(3, [7, 1], t, workers=3, cores=2)
    # cores=1: a timed run only alone
    assert not may_start(7, [1], t, workers=2, cores=1) and not may_start(1, [7], t, workers=2, cores=1)
    assert may_start(7, [], t, workers=2, cores=1)
    # the first run of the queue that may start; None if none
    assert next_run([7, 3, 4], [1, 2], t, workers=3, cores=2) == 3
    assert next_run([7], [1, 2], t, workers=3, cores=2) is None


def test_makespan_simulates_the_rules():
    est = {0: 3.0, 1: 3.0, 2: 2.0, 3: 2.0, 4: 2.0}
    assert makespan([0, 1, 2, 3, 4], est, set(), workers=1, cores=2) == pytest.approx(12.0)
    assert makespan([0, 1, 2, 3, 4], est, set(), workers=2, cores=2) == pytest.approx(7.0)  # 3+2+2 | 3+2
    # four 1-s runs on four workers but two cores: each at half speed
    assert makespan([0, 1, 2, 3], dict.fromkeys(range(4), 1.0), set(), workers=4, cores=2) == pytest.approx(2.0)
    # a timed 4-s run alone on the one core, then the two others share it (2 s)
    assert makespan([9, 0, 1], {9: 4.0, 0: 1.0, 1: 1.0}, {9}, workers=2, cores=1) == pytest.approx(6.0)


def test_sharing_sentence_and_bad_counts():
    assert sharing(3, 10, workers=1, cores=2) == "one run at a time in this process"
    assert "no run shares a core" in sharing(3, 10, workers=2, cores=2)
    assert "the 3 runs with a wall-time budget run beside others, each on a core of its own" in sharing(
        3, 10, workers=2, cores=2
    )
    s = sharing(3, 10, workers=4, cores=2)
    assert "the 10 iteration-budget runs share cores" in s and "have a core of their own" in s
    assert "every run shares the cores, those with a wall-time budget too" in sharing(3, 10, 2, 2, backend="jax")
    assert "the 3 runs with a wall-time budget run one at a time with nothing beside them" in sharing(
        3, 10, 2, 2, alone=True
    )
    # a timed run alone (room 1) on two workers: the 4-s run, then the two 1-s runs side by side
    assert makespan([9, 0, 1], {9: 4.0, 0: 1.0, 1: 1.0}, {9}, workers=2, cores=2, room=1) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        sharing(1, 1, workers=0, cores=2)
    with pytest.raises(ValueError, match="cores must be an integer >= 1"):
        makespan([0], {0: 1.0}, set(), workers=1, cores=0)


def test_default_workers_is_the_cores_capped(monkeypatch):
    monkeypatch.setattr(scheduling, "cores", lambda: 16)
    assert scheduling.default_workers() == 4
    monkeypatch.setattr(scheduling, "cores", lambda: 1)
    assert scheduling.default_workers() == 1


def test_a_wall_time_budget_or_seconds_schedule_is_timed():
    assert timed(Task("sin", "dp", max_time=5.0))
    assert timed(Task("sin", "schedule", hyperparameters={"unit": "seconds"}))
    assert not timed(Task("sin", "dp", iterations=5))


def test_a_budget_on_the_cpu_clock_is_not_timed():
    """A neighbour does not use up a run's CPU seconds: CPU-clock budgets share the pool."""
    assert not timed(Task("sin", "dp", max_time=5.0, max_time_clock="cpu"))
    assert not timed(Task("sin", "schedule", hyperparameters={"unit": "seconds"}, max_time_clock="cpu"))
    assert timed(Task("sin", "dp", max_time=5.0, max_time_clock="wall"))


SPANS = '''
import time
from dataclasses import dataclass
from typing import ClassVar
import pgbench
from pgbench.solvers.iterative import GradientDescent


@dataclass(frozen=True)
class LogsItsSteps(GradientDescent):
    """GD that naps a little and appends "<tag> <time>" to ``log`` at every step; with ``gather``
    it waits at its first step (up to a minute) until ``gather`` runs have logged."""
    log: str = ""
    tag: str = ""
    nap: float = 0.01
    gather: int = 0
    jittable: ClassVar[bool] = False

    def step(self, problem, be, x, y_target, state):
        with open(self.log, "a") as f:
            f.write(f"{self.tag} {time.time()}\\n")
        until = time.time() + 60
        while self.gather and time.time() < until:
            with open(self.log) as f:
                if len({line.split()[0] for line in f}) >= self.gather:
                    break
            time.sleep(0.05)
        time.sleep(self.nap)
        return super().step(problem, be, x, y_target, state)


pgbench.register_solver("logs-its-steps-v0", __name__ + ":LogsItsSteps")
'''


def _spans(log) -> dict[str, tuple[float, float]]:
    """Each run's (first step, last step) times from the log."""
    spans: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        tag, t = line.split()
        spans.setdefault(tag, []).append(float(t))
    return {tag: (min(ts), max(ts)) for tag, ts in spans.items()}


@pytest.mark.parametrize("cores", [1, 2])
def test_pool_runs_a_timed_run_on_a_core_of_its_own(tmp_path, monkeypatch, cores):
    """Three workers over ``cores`` cores: while a run with a wall-time budget steps, at most
    ``cores`` runs step (cores=1: it steps alone), measured from the runs' own step times. The
    first three iteration-budget runs wait for each other at their first step, so three runs did
    share the cores: it is the rule that keeps them off the timed runs' cores."""
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))  # leave no trace
    plugin, log = tmp_path / "spans_plugin.py", tmp_path / "steps.log"
    plugin.write_text(SPANS)
    overrides = {"batch_size": 4, "test_size": 4}

    def task(tag, gather=0, **budget):
        hp = {"log": str(log), "tag": tag, "gather": gather}
        return Task("sin", "logs-its-steps", hyperparameters=hp, problem_overrides=overrides,
                    plugins=(str(plugin),), label=tag, **budget)

    together = [task(f"it{k}", gather=3, iterations=20) for k in range(3)]
    timed_runs = [task(f"timed{k}", iterations=10**6, max_time=0.6) for k in range(2)]
    rest = [task(f"it{k}", iterations=20) for k in range(3, 6)]
    tasks = [*together, timed_runs[0], rest[0], timed_runs[1], *rest[1:]]
    out = run_sweep(tasks, root=tmp_path / "runs", workers=3, cores=cores)
    assert [o.status for o in out] == ["ok"] * len(tasks)
    spans = _spans(log)

    def in_flight(t):
        return [tag for tag, (a, b) in spans.items() if a <= t <= b]

    moments = sorted(t for span in spans.values() for t in span)
    assert max(len(in_flight(t)) for t in moments) == 3  # the iteration-budget runs shared the cores
    for tag in ("timed0", "timed1"):
        a, b = spans[tag]
        assert max(len(in_flight(t)) for t in moments if a <= t <= b) <= cores, (tag, spans)
