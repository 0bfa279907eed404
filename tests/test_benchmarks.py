"""The asv suite in benchmarks/: generated from the registries, skips carry reasons, and the
benchmark methods really run and return finite numbers. (asv itself is exercised by
.ci/asv_check.sh; here the generated classes are driven directly, as asv would.)"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

import pytest

import pgbench
from pgbench.registry import PROBLEMS, SOLVERS, make_problem, register_problem
from pgbench.planning import resolve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_iteration, bench_quality, common  # noqa: E402
from scripts import asv_machine  # noqa: E402


def _incompatibility(problem_id, solver_id):
    """Independent of benchmarks/: the runner's own compatibility verdict at benchmark size."""
    problem, solver = resolve(common.bench_problem(problem_id), solver_id)
    return solver.missing(problem)


def test_every_registered_problem_has_generated_classes_over_every_solver():
    # pgbench's own registrations (other tests' plugins may be registered in this process too,
    # before or after the benchmark modules were generated)
    problems = [s.id for s in PROBLEMS.latest() if s.entry_point.startswith("pgbench.")]
    solvers = [s.id for s in SOLVERS.latest() if s.entry_point.startswith("pgbench.")]
    assert len(problems) >= 5 and len(solvers) >= 9
    for module in (bench_iteration, bench_quality):
        names = {cls.__name__ for cls in vars(module).values() if isinstance(cls, type)}
        assert {common.class_name(p) for p in problems} <= names
        for p in problems:
            cls = getattr(module, common.class_name(p))
            assert set(solvers) <= set(cls.params[0]) and cls.params[1] == list(common.BACKEND_DEVICES)
            assert cls.param_names == ["solver", "backend"]
    assert {"time_iteration", "peakmem_iteration"} <= set(dir(bench_iteration.sin_v0))
    tracks = {m for m in dir(bench_quality.sin_v0) if m.startswith("track_")}
    assert tracks == {"track_final_x_error", "track_final_loss", "track_iterations_to_target",
                      "track_seconds_to_target"}
    assert "x error |x - x*_closest|" in bench_quality.sin_v0.track_final_x_error.unit


def test_cases_match_runner_compatibility_and_skips_carry_reasons():
    from pgbench.backends import available_backends, cuda_available

    cases = common.cases()
    assert len(cases) == len(PROBLEMS.latest()) * len(SOLVERS.latest()) * len(common.BACKEND_DEVICES)
    verdicts = {}
    for c in cases:
        key = (c["problem"], c["solver"])
        if key not in verdicts:
            verdicts[key] = _incompatibility(*key)
        backend, device = common.split_backend(c["backend"])
        if verdicts[key]:
            assert c["skip"] == verdicts[key]
        elif backend not in available_backends():
            assert "not installed" in c["skip"]
        elif device == "cuda" and not cuda_available(backend):
            assert "CUDA is not available" in c["skip"]
        else:
            assert c["skip"] is None
        assert c["skip"] is None or (isinstance(c["skip"], str) and len(c["skip"]) > 10)
    # the suite really contains runnable and skipped combinations
    assert any(c["skip"] is None for c in cases) and any(c["skip"] for c in cases)


def test_setup_skips_incompatible_combination_with_its_reason():
    bench = bench_iteration.quadratic2d_v0()
    with pytest.raises(NotImplementedError, match="needs problem capability network"):
        bench.setup("dp-v0", "torch:cpu")
    quality = bench_quality.quadratic2d_v0()
    with pytest.raises(NotImplementedError, match="needs problem capability network"):
        quality.setup("/nonexistent", "dp-v0", "torch:cpu")


def test_unregistered_ids_at_an_older_commit_are_skipped():
    assert "not registered" in common.skip_reason("no-such-problem-v0", "gd-v0", "torch:cpu")
    assert "not registered" in common.skip_reason("sin-v0", "no-such-solver-v0", "torch:cpu")


def test_benchmark_size_caps_quick_scale_of_every_problem():
    for spec in PROBLEMS.latest():
        p = common.bench_problem(spec.id)
        quick = make_problem(spec.id, scale="quick")
        if common.ASV_SCALE in spec.scales:
            continue
        for field, cap in common.BENCH_CAPS.items():
            assert getattr(p, field) == min(getattr(quick, field), cap)
        assert 1 <= p.eval_every <= max(1, p.iterations // common.EVALUATIONS)


@pytest.fixture
def scratch_problem():
    """A problem registered by a 'user' after benchmarks/ was written, removed afterwards."""
    ids = []

    def register(pid, scales):
        register_problem(pid, "pgbench.problems.sin:Sin", scales=scales)
        ids.append(pid)
        return pid

    yield register
    for pid in ids:
        PROBLEMS.specs.pop(pid, None)


def test_new_problem_appears_without_editing_benchmarks_and_asv_scale_wins(scratch_problem):
    pid = scratch_problem("zz-asvtest-v0", {"paper": {}, "quick": {"batch_size": 500, "iterations": 3000},
                                            "asv": {"batch_size": 3, "test_size": 5, "iterations": 7}})
    ns = {"__name__": "benchmarks.scratch"}
    names = common.generate("quality", ns)
    assert "zz_asvtest_v0" in names and ns["zz_asvtest_v0"].params[0] == common.solver_ids()
    p = common.bench_problem(pid)
    assert (p.batch_size, p.test_size, p.iterations) == (3, 5, 7)   # the registered asv scale
    pid2 = scratch_problem("zz-asvtest2-v0", {"paper": {}, "quick": {"batch_size": 500, "iterations": 3000}})
    p2 = common.bench_problem(pid2)
    assert (p2.batch_size, p2.iterations) == (common.BENCH_CAPS["batch_size"], common.BENCH_CAPS["iterations"])


def test_time_and_peakmem_benchmarks_run_real_iterations():
    bench = bench_iteration.sin_v0()
    bench.setup("gd-v0", "torch:cpu")
    driver = bench.driver
    before = driver.state.iteration
    t0 = time.perf_counter()
    for _ in range(3):
        bench.setup("gd-v0", "torch:cpu")   # asv re-runs setup before every timed call
        bench.time_iteration("gd-v0", "torch:cpu")
    elapsed = time.perf_counter() - t0
    assert driver.state.iteration == before + 3 and driver.state.rows[-1]["iteration"] == before + 3
    assert math.isfinite(elapsed) and elapsed > 0
    bench.peakmem_iteration("gd-v0", "torch:cpu")
    assert driver.state.iteration == before + 6


def test_one_shot_solver_restarts_between_timed_calls():
    """L-BFGS-B is one runner step: each timed call solves from the initial guess again."""
    bench = bench_iteration.sin_v0()
    for _ in range(2):
        bench.setup("lbfgsb-v0", "torch:cpu")
        assert bench.driver.state.iteration == 0 and bench.driver.state.rows[-1]["iteration"] == 0
        bench.time_iteration("lbfgsb-v0", "torch:cpu")
        assert bench.driver.state.iteration == 1 and bench.driver.state.done


def test_training_iteration_driver_advances_one_step():
    d = common.driver("sin-v0", "dp-v0", "jax:cpu")
    d.ready()
    # warmed up (two compiling steps) on a throwaway state: the timed state starts fresh
    assert d.state.iteration == 0 and d.state.rows == []
    d.advance()
    assert d.state.iteration == 1 and math.isfinite(d.state.rows[-1]["loss"])


def test_track_benchmarks_share_one_cached_run(tmp_path, monkeypatch):
    bench = bench_quality.sin_v0()
    bench.setup(str(tmp_path), "inverse-v0", "torch:cpu")
    x_error = bench.track_final_x_error(str(tmp_path), "inverse-v0", "torch:cpu")
    # the iterated inverse physics of sin jumps to the analytic closest minimum in one step
    assert math.isfinite(x_error) and x_error < common.bench_problem("sin-v0").target_x_error
    assert bench.track_iterations_to_target(str(tmp_path), "inverse-v0", "torch:cpu") == 1.0
    assert math.isfinite(bench.track_final_loss(str(tmp_path), "inverse-v0", "torch:cpu"))
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["status"] == "ok"

    def no_second_run(*a, **k):
        raise AssertionError("the cached run must be reused")

    monkeypatch.setattr(common, "quality_run", no_second_run)
    other = bench_quality.sin_v0()     # a separate asv process would construct a fresh instance
    other.setup(str(tmp_path), "inverse-v0", "torch:cpu")
    assert other.track_final_x_error(str(tmp_path), "inverse-v0", "torch:cpu") == x_error


def test_quality_metrics_of_a_training_run_use_held_out_evaluations():
    problem = common.bench_problem("sin-v0")
    result = pgbench.run(problem, "supervised-v0", seed=0, backend="torch")
    m = common.quality_metrics(result, problem)
    evals = result.records.dropna(subset=["eval_x_error"])
    assert m["final_x_error"] == pytest.approx(evals["eval_x_error"].iloc[-1])
    assert m["iterations_done"] == m["iterations_planned"] == problem.iterations
    reached = evals[evals["eval_x_error"] <= problem.target_x_error]
    if len(reached):
        assert m["iterations_to_target"] == reached["iteration"].iloc[0] + 1
    else:
        assert math.isnan(m["iterations_to_target"])


def test_failed_and_time_guarded_runs_fail_the_track_benchmark():
    ok = {"status": "ok", "message": "", "iterations_done": 10, "iterations_planned": 10, "final_loss": 0.5}
    assert common.metric_value(ok, "final_loss") == 0.5
    with pytest.raises(RuntimeError, match="boom"):
        common.metric_value({**ok, "status": "failed", "message": "boom"}, "final_loss")
    with pytest.raises(RuntimeError, match="guard"):
        common.metric_value({**ok, "iterations_done": 3}, "final_loss")
    assert math.isnan(common.metric_value({**ok, "status": "diverged", "iterations_done": 3,
                                           "final_loss": float("nan")}, "final_loss"))


def test_machine_name_carries_the_gpu():
    assert asv_machine.machine_name("lab1.example.org", ["NVIDIA H100 80GB HBM3"]) == "lab1-h100-80gb-hbm3"
    assert asv_machine.machine_name("lab1", ["NVIDIA A100-SXM4-40GB"] * 2) == "lab1-2x-a100-sxm4-40gb"
    assert asv_machine.machine_name("Lab_1", []) == "lab-1-cpu"
    assert re.fullmatch(r"[a-z0-9-]+", asv_machine.machine_name())


def test_machine_record_is_complete(tmp_path):
    pytest.importorskip("asv")
    from asv.machine import MachineCollection
    path = str(tmp_path / "asv-machine.json")
    asv_machine.register("box-h100", "Xeon + 1x NVIDIA H100", path=path)
    rec = MachineCollection.load("box-h100", _path=path)
    assert rec["machine"] == "box-h100" and rec["cpu"].endswith("H100")
    assert all(rec.get(k) for k in ("os", "arch", "num_cpu", "ram"))


def test_asv_config_and_environment_plugin():
    asv_util = pytest.importorskip("asv.util")
    conf = asv_util.load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    assert conf["results_dir"] == "results/asv/results" and conf["html_dir"] == "results/asv/html"
    assert conf["benchmark_dir"] == "benchmarks" and conf["environment_type"] == "pgbench-venv"
    assert all("--no-deps" in c for c in conf["install_command"] + conf["build_command"])
    from scripts import asv_env
    dirs = asv_env.host_site_packages()
    import numpy
    assert any(os.path.dirname(os.path.dirname(numpy.__file__)) == d for d in dirs)
    assert "torch" in asv_env.host_versions() or "jax" in asv_env.host_versions()


def test_backend_devices_follow_the_machine(monkeypatch):
    """CUDA rows only where nvidia-smi lists a GPU; PGBENCH_ASV_DEVICES overrides."""
    monkeypatch.delenv("PGBENCH_ASV_DEVICES", raising=False)
    monkeypatch.setattr(common, "_gpu_listed", lambda: False)
    assert common._backend_devices() == ("torch:cpu", "jax:cpu")
    monkeypatch.setattr(common, "_gpu_listed", lambda: True)
    assert common._backend_devices() == ("torch:cpu", "jax:cpu", "torch:cuda", "jax:cuda")
    monkeypatch.setenv("PGBENCH_ASV_DEVICES", "torch:cpu, jax:cuda")
    assert common._backend_devices() == ("torch:cpu", "jax:cuda")


def test_asv_results_are_not_tracked():
    """asv writes under results/asv/, which git ignores (no tracked file is edited by asv)."""
    import subprocess
    out = subprocess.run(["git", "check-ignore", "-q", "results/asv/results/box/machine.json"], cwd=ROOT)
    assert out.returncode == 0
    tracked = subprocess.run(["git", "ls-files", "results/asv"], cwd=ROOT, capture_output=True, text=True).stdout
    assert tracked == ""
