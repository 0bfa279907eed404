import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend
from pgbench.solvers.iterative import GradientDescent


def test_records_have_the_documented_columns():
    r = pgbench.run("sin", "pg", iterations=5, scale="quick", backend="torch")
    assert r.ok
    for c in ("iteration", "wall_time", "cpu_time", "loss", "x_error", "nonfinite", "eval_x_error", "eval_loss", "y_residual"):
        assert c in r.records.columns
    assert list(r.records["iteration"]) == [1, 2, 3, 4, 5]   # a budget of 5 reaches iteration 5
    assert r.meta["hyperparameters"]["lr"] == 2e-3  # the problem's default for pg
    assert r.meta["problem"] == "sin-v0" and r.meta["solver"] == "pg-v0"


def test_iterative_run_records_the_start():
    r = pgbench.run("quadratic2d", "gd", iterations=4, backend="torch")
    assert list(r.records["iteration"]) == [0, 1, 2, 3, 4]
    assert r.records["x_error"].iloc[0] == pytest.approx(np.hypot(3, 3))


def test_divergence_is_a_status_not_a_crash():
    """GD with too large a step on y = (x1, x2²) blows up: stopped at the first iteration whose x
    error exceeds 1000× the start, recorded as ``diverged`` with the reason."""
    r = pgbench.run("quadratic2d", "gd", eta=1.0, iterations=50, backend="torch")
    assert r.status == "diverged"
    assert "blew up at iteration" in r.message
    x_error = r.records["x_error"].to_numpy()
    assert x_error[-1] > 1e3 * x_error[0] and (x_error[:-1] <= 1e3 * x_error[0]).all()


def test_half_the_examples_nonfinite_is_divergence(monkeypatch):
    """A solver that makes half of the examples NaN is ``diverged``, not ``ok`` with the mean of
    the finite half."""
    from pgbench.problems.sin import Sin

    def half_nan(self, be, x, a):
        xp = be.xp
        r = xp.sin(a / x) + 1.0
        return xp.where(xp.arange(r.shape[0])[:, None] % 2 == 0, r, xp.full_like(r, float("nan")))

    monkeypatch.setattr(Sin, "residual", half_nan)
    r = pgbench.run("sin", "gd", iterations=3, backend="torch")
    assert r.status == "diverged" and "50% of the batch non-finite" in r.message


def test_failed_run_keeps_the_message(monkeypatch):
    from pgbench.problems.sin import Sin

    def boom(self, be, x, a):
        raise RuntimeError("physics exploded")

    monkeypatch.setattr(Sin, "residual", boom)
    r = pgbench.run("sin", "gd", iterations=2, backend="torch")
    assert r.status == "failed" and "physics exploded" in r.message
    with pytest.raises(RuntimeError, match="physics exploded"):
        pgbench.run("sin", "gd", iterations=2, backend="torch", throw=True)


def test_wall_time_budget_stops_the_run():
    r = pgbench.run("sin", "dp", iterations=100000, max_time=0.5, backend="torch")
    assert r.ok and len(r.records) < 100000
    assert r.records["wall_time"].iloc[-1] >= 0.5


def test_invalid_settings_are_rejected_before_work():
    with pytest.raises(pgbench.InvalidSettingError):
        pgbench.plan("sin", "gd", iterations=0)
    with pytest.raises(pgbench.InvalidSettingError):
        pgbench.plan("sin", "gd", seed=-1)
    with pytest.raises(ValueError, match="backend"):
        pgbench.plan("sin", "gd", backend="tensorflow")
    with pytest.raises(pgbench.IncompatibleError, match="network"):
        pgbench.plan("quadratic2d", "dp")


def test_every_solver_sees_the_same_data_and_initialisation(monkeypatch):
    """Record the data each training scheme receives and the initial network output."""
    seen = {}
    from pgbench.problems.sin import Sin
    original = Sin.sample

    def spy(self, rng, n, be):
        x, a = original(self, rng, n, be)
        seen.setdefault(current, []).append(be.to_numpy(a).copy())
        return x, a

    monkeypatch.setattr(Sin, "sample", spy)
    firsts = {}
    for current in ("dp", "pg", "supervised"):
        r = pgbench.run("sin", current, iterations=3, seed=4, backend="torch", throw=True)
        firsts[current] = r.records["x_error"].iloc[0]
    for k in ("pg", "supervised"):
        assert len(seen[k]) == len(seen["dp"])
        for a, b in zip(seen["dp"], seen[k]):
            np.testing.assert_array_equal(a, b)
    # the first row is the prediction of the initial network on the first batch: identical
    assert firsts["dp"] == firsts["pg"] == firsts["supervised"]


def test_different_seeds_give_different_data():
    be = get_backend("torch")
    p = pgbench.make_problem("sin")
    a = be.to_numpy(p.sample(keys.rng(0, "train", 0), 5, be)[1])
    b = be.to_numpy(p.sample(keys.rng(1, "train", 0), 5, be)[1])
    assert not np.array_equal(a, b)


def test_progress_callback_sees_every_iteration():
    seen = []
    pgbench.run("sin", "gd", iterations=3, backend="torch", callback=seen.append)
    assert [p.iteration for p in seen] == [0, 1, 2, 3] and seen[-1].total == 3


@pytest.mark.parametrize("problem,solver", [("sin", "dp"), ("poisson", "pg"), ("heat", "dp")])
def test_fused_jax_training_step_gives_the_two_program_numbers(monkeypatch, problem, solver):
    """jax compiles gradients and the optax update into one program per iteration; the
    reference path (gradients jitted, then the update jitted on its own) gives the same curve."""
    pytest.importorskip("jax")
    import jax

    from pgbench.backends import jax_backend

    traced = []
    real_update = jax_backend._OptaxOptimizer.update

    def spy(self, params, grads, state):
        traced.append(isinstance(next(iter(params.values())), jax.core.Tracer))
        return real_update(self, params, grads, state)

    pgbench.plan(problem, solver, backend="jax")  # planning checks the optimizer with one eager update
    monkeypatch.setattr(jax_backend._OptaxOptimizer, "update", spy)
    fused = pgbench.run(problem, solver, iterations=4, backend="jax", throw=True).records
    assert traced and all(traced)   # the update ran inside the compiled step
    traced.clear()
    monkeypatch.setattr(jax_backend._OptaxOptimizer, "jittable", False)
    two = pgbench.run(problem, solver, iterations=4, backend="jax", throw=True).records
    assert traced and not any(traced)
    for c in ("loss", "x_error"):
        np.testing.assert_allclose(fused[c], two[c], rtol=1e-5)


def test_run_is_the_executors_path(monkeypatch, tmp_path):
    """``pgbench.run`` warms up exactly the runs with a wall-time budget (off their clock), attaches
    the held-out example predictions that a sweep stores, and writes no file."""
    from pgbench import runner
    from pgbench.sweep import Task, run_task

    warmed, real = [], runner.Run.warm_up
    monkeypatch.setattr(runner.Run, "warm_up", lambda self, steps=2: (warmed.append(self.plan.max_time),
                                                                      real(self, steps)))
    monkeypatch.chdir(tmp_path)
    r = pgbench.run("sin", "dp", iterations=3, backend="torch", throw=True)
    assert warmed == [] and r.examples["meta"]["kind"] == "training"
    assert r.examples["x_pred"].shape[0] == r.examples["x_true"].shape[0] > 0
    assert r.examples["meta"]["inference_seconds_per_example"] > 0
    t = pgbench.run("quadratic2d", "gd", iterations=10**6, max_time=0.2, backend="torch", throw=True)
    assert warmed == [0.2] and t.ok and t.examples["meta"]["kind"] == "iterative"
    assert list(tmp_path.iterdir()) == []   # nothing stored
    out = run_task(Task("sin", "dp", iterations=3), tmp_path / "runs")   # a sweep stores the same
    stored = np.load(tmp_path / "runs" / "sin-v0" / f"{out.run_key}.examples.npz")
    np.testing.assert_array_equal(stored["x_pred"], r.examples["x_pred"])
    assert warmed == [0.2]


def test_failed_run_has_no_examples(monkeypatch):
    from pgbench.problems.sin import Sin

    monkeypatch.setattr(Sin, "residual", lambda self, be, x, a: (_ for _ in ()).throw(RuntimeError("no")))
    r = pgbench.run("sin", "gd", iterations=2, backend="torch")
    assert r.status == "failed" and r.examples is None


FLAT_SIN = '''
from dataclasses import dataclass

import pgbench
from pgbench.problems.sin import Sin


@dataclass(frozen=True)
class FlatSin(Sin):
    """sin(a/x) whose sample() drops the batch dimension of x_true (or of y_target): (B,), not (B, 1)."""

    drop: str = "x"

    def sample(self, rng, n, be):
        x, y = super().sample(rng, n, be)
        return (x[:, 0], y) if self.drop == "x" else (x, y[:, 0])


pgbench.register_problem("flat-sin-v0", f"{__name__}:FlatSin",
                         scales={"quick": {"batch_size": 8, "test_size": 8}})
'''


def test_a_sample_that_breaks_the_shape_contract_fails_the_run(tmp_path, capsys, monkeypatch):
    """A plugin problem whose sample() drops the batch dimension: the run fails before its first
    step, with the shapes in its message (iterative and training runs), and is stored failed."""
    from pgbench import cli

    # the broken problem is registered for this test only (other tests iterate over every problem)
    monkeypatch.setattr(pgbench.PROBLEMS, "specs", dict(pgbench.PROBLEMS.specs))
    monkeypatch.setattr(pgbench.PROBLEMS, "origins", dict(pgbench.PROBLEMS.origins))

    path = tmp_path / "flat_sin_shapes.py"
    path.write_text(FLAT_SIN)
    pgbench.load_plugin(str(path))
    for solver in ("gd", "dp"):
        r = pgbench.run("flat-sin", solver, iterations=2, scale="quick")
        assert r.status == "failed" and r.records.empty, r.message
        assert "sample() returned x_true of shape (8,), expected (8, 1) (batch, *x_shape)" in r.message
    r = pgbench.run(pgbench.make_problem("flat-sin", scale="quick", drop="y"), "gd", iterations=2)
    assert r.status == "failed" and "y_target of shape (8,), expected (8, 1) (batch, *y_shape)" in r.message
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "flat-sin", "gd", "-n", "2", "--plugin", str(path), "--results", str(tmp_path / "runs")])
    assert exc.value.code == 1 and "sample() returned x_true of shape (8,)" in capsys.readouterr().err
    df = pgbench.load_results(tmp_path / "runs")
    assert list(df.drop_duplicates("run_key")["status"]) == ["failed"]


@dataclass(frozen=True)
class Napper(GradientDescent):
    """Gradient descent that sleeps ``nap`` seconds in every step: time waited, not worked."""

    nap: float = 0.05
    jittable: ClassVar[bool] = False

    def step(self, problem, be, x, y_target, state):
        time.sleep(self.nap)
        return super().step(problem, be, x, y_target, state)


@dataclass(frozen=True)
class HangsAtThird(GradientDescent):
    """Gradient descent whose third step of a run sleeps 30 s (the warm-up's two steps are quick)."""

    jittable: ClassVar[bool] = False

    def init(self, problem, be, x0, y_target):
        return 0

    def step(self, problem, be, x, y_target, state):
        if state + 1 == 3:
            time.sleep(30.0)
        x, _, info = super().step(problem, be, x, y_target, None)
        return x, state + 1, info


def test_a_cpu_clock_budget_is_not_spent_waiting():
    """20 steps that each sleep 0.05 s: a 0.3 s wall budget stops the run after a few of them, a
    0.3 s CPU budget lets all 20 run (sleeping costs no CPU seconds)."""
    wall = pgbench.run("sin", Napper(), iterations=20, max_time=0.3)
    cpu = pgbench.run("sin", Napper(), iterations=20, max_time=0.3, max_time_clock="cpu")
    assert wall.ok and cpu.ok
    assert wall.records["iteration"].iloc[-1] < 20
    assert wall.records["wall_time"].iloc[-1] >= 0.3
    assert cpu.records["iteration"].iloc[-1] == 20 and cpu.records["wall_time"].iloc[-1] >= 20 * 0.05
    assert cpu.meta["max_time_clock"] == "cpu" and wall.meta["max_time_clock"] is None


def test_a_cpu_clock_budget_stops_a_working_run():
    r = pgbench.run("sin", "dp", iterations=100000, max_time=0.5, max_time_clock="cpu")
    assert r.ok and r.records["iteration"].iloc[-1] < 100000
    assert r.records["cpu_time"].iloc[-1] >= 0.5


def test_an_unknown_budget_clock_is_refused_before_work():
    with pytest.raises(pgbench.InvalidSettingError, match="unknown clock 'cpuu'.*cpu"):
        pgbench.run("sin", "gd", iterations=2, max_time=1.0, max_time_clock="cpuu")
    with pytest.raises(pgbench.InvalidSettingError, match="time_cap must be"):
        pgbench.run("sin", "gd", iterations=2, time_cap=0.0)


def test_a_run_past_its_time_cap_is_over_budget():
    """A cap stops an unfinished run between steps (status over_budget, its rows so far kept)
    and inside a step that would run past it; a run done in time is ok."""
    slow = pgbench.run("sin", Napper(nap=0.1), iterations=100, time_cap=0.5)
    assert slow.status == "over_budget" and "time cap of 0.5 s" in slow.message
    assert 1 <= slow.records["iteration"].iloc[-1] < 100
    t = time.perf_counter()
    hung = pgbench.run("sin", HangsAtThird(), iterations=5, time_cap=0.5)
    assert hung.status == "over_budget" and "inside a step" in hung.message
    assert hung.records["iteration"].iloc[-1] == 2  # the rows before the step that was stopped
    assert time.perf_counter() - t < 20  # the 30 s step was stopped at the cap
    quick = pgbench.run("sin", Napper(nap=0.0), iterations=5, time_cap=30.0)
    assert quick.ok and quick.records["iteration"].iloc[-1] == 5


def test_a_cap_on_the_cpu_clock_is_not_spent_waiting():
    """The same 0.5 s cap on 10 steps that sleep 0.1 s: on the wall clock the run is over budget,
    on the CPU clock it is done (its steps wait, they do not work)."""
    wall = pgbench.run("sin", Napper(nap=0.1), iterations=10, time_cap=0.5)
    cpu = pgbench.run("sin", Napper(nap=0.1), iterations=10, time_cap=0.5, max_time_clock="cpu")
    assert wall.status == "over_budget" and cpu.ok and cpu.records["iteration"].iloc[-1] == 10
    assert cpu.meta["max_time_clock"] == "cpu" and cpu.meta["time_cap"] == 0.5
