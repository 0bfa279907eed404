"""A step that hangs past its run's --max-time is stopped (pgbench.watchdog): the run is stored
``failed`` with the reason and the sweep goes on, in this process, in a pool worker and on a Dask
worker's thread; the guard itself, in the main thread and in another one."""

import signal
import threading
import time
from pathlib import Path

import pytest

from pgbench.sweep import expand, run_sweep
from pgbench.watchdog import StepTimeout, grace, step_limit

SLOW = str(Path(__file__).resolve().parent / "slow_solvers.py")
TINY = {"batch_size": 8, "test_size": 8}


def test_a_hung_step_in_the_main_thread_is_stopped():
    t = time.monotonic()
    with pytest.raises(StepTimeout, match=r"exceeded --max-time 0.2 s inside one step \(hung for 2\.\d s; stopped 2 s"):
        with step_limit(0.2, 0.0):
            time.sleep(60)  # one blocking call: SIGALRM ends it
    assert time.monotonic() - t < 30
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_a_hung_step_in_another_thread_is_stopped():
    caught = []

    def step():
        try:
            with step_limit(0.1, 0.05):
                while True:  # Python code: the timer thread raises in it
                    time.sleep(0.01)
        except StepTimeout as e:
            caught.append(e)

    worker = threading.Thread(target=step)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and len(caught) == 1


def test_a_solver_catching_exception_does_not_swallow_it():
    with pytest.raises(StepTimeout):
        with step_limit(0.1, 0.0):
            try:
                time.sleep(60)
            except Exception:  # a solver's broad handler
                pass
            time.sleep(60)


def test_a_step_in_time_leaves_nothing_armed():
    """The budget already spent counts; a step that ends in time leaves no timer behind (sleeping
    past its deadline afterwards raises nothing), and a previous SIGALRM handler is back."""
    assert grace(0.1) == 2.0 and grace(10) == 10.0
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    try:
        with step_limit(0.1, 5.0):  # over budget already: the grace is what is left
            time.sleep(0.05)
        time.sleep(2.5)
        assert signal.getsignal(signal.SIGALRM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGALRM, previous)
    with step_limit(None, 0.0):  # no budget, no guard
        time.sleep(0.01)


@pytest.mark.parametrize(
    "executor, workers",
    [("local", 1), ("local", 2), pytest.param("dask", 2, marks=pytest.mark.slow)],
    ids=["in-process", "pool", "dask"],
)
def test_a_hung_run_is_stored_failed_and_the_sweep_goes_on(tmp_path, executor, workers):
    """``hangs`` sleeps 20 s in its 3rd step under a 0.5 s budget: stopped about 2 s past it."""
    if executor == "dask":
        pytest.importorskip("distributed")
    tasks, _ = expand("sin", ["hangs", "gd"], iterations=50, max_time=0.5, problem_overrides=TINY,
                      hyperparameters={"hang": 20.0}, plugins=[SLOW])
    outcomes = run_sweep(tasks, root=tmp_path, executor=executor, workers=workers)
    hung, other = outcomes
    assert hung.status == "failed", hung
    assert hung.message.startswith("StepTimeout: exceeded --max-time 0.5 s inside one step (hung for ")
    assert hung.iterations == 2  # the rows before the hung step are kept
    assert other.status == "ok"
