"""Paper-size timing classes (benchmarks/bench_paper.py): generated for every problem, skipped on
the CPU unless asked for, and then timing real iterations of the paper-scale problem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pgbench.registry import PROBLEMS, SOLVERS, make_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench_paper, common  # noqa: E402


def test_every_problem_has_a_paper_class_over_every_solver_and_backend():
    names = {cls.__name__ for cls in vars(bench_paper).values() if isinstance(cls, type)}
    assert names == {common.class_name(s.id) for s in PROBLEMS.latest()}
    cls = bench_paper.heat_v0
    assert cls.params == [[s.id for s in SOLVERS.latest()], list(common.BACKEND_DEVICES)]
    assert cls.timeout == common.PAPER_TIMEOUT and hasattr(cls, "time_iteration")


def test_cpu_is_skipped_by_default_with_the_reason(monkeypatch):
    monkeypatch.setattr(common, "PAPER_ON_CPU", False)
    with pytest.raises(NotImplementedError, match="PGBENCH_ASV_PAPER_CPU"):
        bench_paper.heat_v0().setup("dp-v0", "torch:cpu")
    assert common.paper_skip_reason("heat-v0", "torch:cuda") is None


def test_incompatible_pairs_are_skipped_like_the_quick_suite(monkeypatch):
    monkeypatch.setattr(common, "PAPER_ON_CPU", True)
    with pytest.raises(NotImplementedError, match="newton"):
        bench_paper.poisson_v0().setup("newton-v0", "torch:cpu")


def test_paper_size_iterations_are_timed_when_enabled(monkeypatch):
    monkeypatch.setattr(common, "PAPER_ON_CPU", True)
    bench = bench_paper.sin_v0()
    bench.setup("dp-v0", "torch:cpu")
    plan = bench.driver._make_plan()
    paper = make_problem("sin-v0", scale="paper")
    assert plan.problem.scale == "paper" and plan.problem.batch_size == paper.batch_size
    assert plan.problem.eval_every == 0
    before = bench.driver.state.iteration
    bench.setup("dp-v0", "torch:cpu")
    bench.time_iteration("dp-v0", "torch:cpu")
    assert bench.driver.state.iteration == before + 1
    assert common.driver("sin-v0", "dp-v0", "torch:cpu") is not bench.driver   # the quick-size driver is separate
