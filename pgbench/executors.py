"""The parallel executors of :func:`pgbench.sweep.run_sweep`: which tasks run where when they do not
run in this process. :func:`run_pool` hands runs to spawned local worker processes,
:func:`run_dask` to a Dask cluster (a new ``LocalCluster`` or an existing scheduler).

Both get the task list, its plans, the indices ``todo`` still to run and the ``outcomes`` list
to fill in place, and two functions of :mod:`pgbench.sweep` (passed in, so that this module does
not import it): ``run_task(task, root, force) -> Outcome`` (what a worker executes for a task)
and ``fail(plan, task, message, root, trace) -> Outcome`` (a run the executor lost, stored as
``failed``). Each reports ``start`` and ``finish`` events to ``emit``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import time
import traceback
import uuid
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from . import scheduling
from .processes import die_with_parent, ignore_interrupts, no_interrupts_for_children
from .registry import InvalidSettingError, suggest
from .tasks import Event, Outcome, Task

EXECUTORS = ("local", "dask")


def check_executor(executor: str) -> None:
    """Raise (before any work) if ``executor`` is unknown or its library is not installed."""
    if executor not in EXECUTORS:
        raise InvalidSettingError(f"unknown executor {executor!r}{suggest(executor, EXECUTORS)}")
    if executor == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the environment
            raise RuntimeError("the dask executor needs dask.distributed (pip install 'pgbench[dist]')") from None


# --- local worker processes -----------------------------------------------------------------------------

_STARTED = None  # in a pool worker: the queue to announce a run's start on


def _pool_init(slots, started, gpu: bool, driver: int):
    """Pool worker set-up: die with the driver (pid ``driver``) and leave Ctrl-C to it
    (:mod:`pgbench.processes`); take a slot (a GPU index), pin it, run single-threaded on the CPU."""
    global _STARTED
    die_with_parent(driver)
    ignore_interrupts()
    _STARTED = started
    slot = slots.get()
    if gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    else:  # each run pins its own torch thread count (its key says which); other libraries get one
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def _pool_run(run_task, index: int, task: Task, root: str, force: bool) -> Outcome:
    if _STARTED is not None:
        _STARTED.put(index)
    return run_task(task, root, force)


def run_pool(
    run_task,
    fail,
    tasks,
    plans,
    todo,
    outcomes,
    root: Path,
    n: int,
    gpu: bool,
    force: bool,
    emit,
    timed_runs=frozenset(),
    cores: int | None = None,
) -> None:
    """Run ``todo`` on ``n`` spawned worker processes. A worker that dies takes the pool down: its
    run and every run not yet finished are stored as ``failed`` (rerun the sweep to retry them).

    The driver hands out one run per idle worker, in the order of ``todo`` as far as
    :func:`pgbench.scheduling.next_run` allows: the runs ``timed_runs`` (indices whose result
    depends on wall time) never share one of the ``cores`` cores (default: all of this machine's,
    :func:`pgbench.scheduling.cores`; on GPUs each worker has its own device and the rule is off).

    The workers die with the driver and never see a Ctrl-C (:mod:`pgbench.processes`). When the
    driver is interrupted (KeyboardInterrupt: Ctrl-C, or SIGTERM in the CLI) or anything else
    stops it here, no run starts any more: the workers are killed at once (the runs in flight
    are abandoned, not stored; the next sweep runs them), the queue is dropped, and the
    exception goes on."""
    cores = n if gpu else (cores or scheduling.cores())
    scheduling.check(n, cores)
    ctx = mp.get_context("spawn")
    slots, started = ctx.Queue(), ctx.Queue()
    for k in range(n):
        slots.put(k)
    pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_pool_init, initargs=(slots, started, gpu, os.getpid()))
    queue_ = list(todo)
    running: dict[Future, int] = {}  # future -> task index
    died = "a worker process died (killed or crashed); run the sweep again to retry"

    def fill() -> None:
        """Start every run that may start now (workers start here: they must not see a Ctrl-C)."""
        spawning = len(getattr(pool, "_processes", None) or {}) < n
        with no_interrupts_for_children() if spawning else contextlib.nullcontext():
            while True:
                i = scheduling.next_run(queue_, list(running.values()), timed_runs, n, cores)
                if i is None:
                    return
                queue_.remove(i)
                try:
                    running[pool.submit(_pool_run, run_task, i, tasks[i], str(root), force)] = i
                except BrokenProcessPool:  # a worker died: this run and the ones queued fail as in flight
                    for j in [i, *queue_]:
                        outcomes[j] = fail(plans[j], tasks[j], died, root)
                        emit(Event("finish", j, tasks[j], plans[j].iterations, outcome=outcomes[j]))
                    queue_.clear()
                    return

    try:
        fill()
        while running:
            done, _ = wait(set(running), timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    i = started.get_nowait()
                except queue.Empty:
                    break
                emit(Event("start", i, tasks[i], plans[i].iterations))
            for fut in done:
                i = running.pop(fut)
                try:
                    out = fut.result()
                except BrokenProcessPool:
                    out = fail(plans[i], tasks[i], died, root)
                except Exception as e:
                    out = fail(plans[i], tasks[i], f"{type(e).__name__}: {e}", root, "".join(_format_exception(e)))
                outcomes[i] = out
                emit(Event("finish", i, tasks[i], plans[i].iterations, outcome=out))
            if done:
                fill()
    except BaseException:
        _abandon(pool)
        raise
    pool.shutdown()


def _abandon(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Stop ``pool`` now: kill its workers (their runs in flight are lost, not stored), drop the
    queued runs, and wait up to ``grace`` seconds for the workers to be gone."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # Python < 3.14: no kill_workers()
    for proc in processes:
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.join(grace)


def _format_exception(e: BaseException) -> list[str]:
    return traceback.format_exception(type(e), e, e.__traceback__)


# --- dask ---------------------------------------------------------------------------------------------------


def _dask_run(run_task, topic: str, index: int, task: Task, root: str, force: bool) -> Outcome:
    """What a Dask worker executes: announce the start on ``topic``, then ``run_task``."""
    from distributed import Queue

    Queue(topic).put(index)
    return run_task(task, root, force)


def run_dask(run_task, fail, tasks, plans, todo, outcomes, root: Path, workers, scheduler, force, emit) -> None:
    """Run ``todo`` on a Dask cluster: a new ``LocalCluster`` (or dask-cuda's) of single-threaded
    worker processes, or the one at ``scheduler``; one task per run, started in order.

    A local cluster's worker processes ignore a Ctrl-C once they are up (:mod:`pgbench.processes`;
    one that arrives while the cluster starts closes them, as Dask does). When the driver is
    interrupted (KeyboardInterrupt) no run starts any more: a local cluster is closed quietly
    with its workers (a run in flight is abandoned, not stored, unless it ends while they
    close); on an existing cluster the queued runs are cancelled and the ones running finish and
    are stored by their workers. The exception goes on."""
    check_executor("dask")
    from distributed import Client, Queue, as_completed

    gpu = any(tasks[i].device == "cuda" for i in todo)
    cluster = client = None
    futures: dict = {}
    interrupted = False
    try:
        if scheduler is None:
            n = workers or (gpu_count() if gpu else min(os.cpu_count() or 1, len(todo)))
            cluster = _local_cluster(max(1, n), gpu)
        if cluster is not None or not isinstance(scheduler, (str, os.PathLike)):
            client = Client(cluster if cluster is not None else scheduler)  # a cluster object, e.g. SLURMCluster
        elif str(scheduler).endswith(".json"):
            client = Client(scheduler_file=str(scheduler))  # written by `dask scheduler --scheduler-file`
        else:
            client = Client(str(scheduler))
        if cluster is not None:  # our workers: a Ctrl-C is the driver's to handle
            client.run(ignore_interrupts)
        topic = f"pgbench-started-{uuid.uuid4().hex}"  # workers announce a run's start here
        started = Queue(topic, client=client)
        for i in todo:
            task = tasks[i]
            resources = {"GPU": 1} if task.device == "cuda" else None
            fut = client.submit(
                _dask_run,
                run_task,
                topic,
                i,
                task,
                str(root),
                force,
                pure=False,
                resources=resources,
                key=f"pgbench-run-{i}-{plans[i].run_key}",
            )
            futures[fut] = i
        by_index = {i: fut for fut, i in futures.items()}
        ac = as_completed(futures)
        left = len(futures)
        while left:
            batch = ac.next_batch(block=False)
            for i in started.get(batch=True):  # every start announced so far; does not block
                if outcomes[i] is None and not by_index[i].done():
                    emit(Event("start", i, tasks[i], plans[i].iterations))
            if not batch:
                time.sleep(0.2)
                continue
            for fut in batch:
                i = futures[fut]
                left -= 1
                try:
                    out = fut.result()
                except Exception as e:  # the worker died (KilledWorker) or the task raised outside the runner
                    out = fail(plans[i], tasks[i], f"{type(e).__name__}: {e}", root, "".join(_format_exception(e)))
                outcomes[i] = out
                emit(Event("finish", i, tasks[i], plans[i].iterations, outcome=out))
    except BaseException:
        interrupted = True
        raise
    finally:
        _close(client, cluster, list(futures), interrupted)


def _local_cluster(n: int, gpu: bool):
    """A new local cluster of ``n`` single-threaded worker processes."""
    from distributed import LocalCluster

    kwargs: dict = dict(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    if gpu:
        kwargs["resources"] = {"GPU": 1}
    with warnings.catch_warnings():
        # the scheduler's HTTP server moves off a busy default port by itself; no need to say so
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = _cuda_cluster(kwargs) if gpu else None
        return cluster if cluster is not None else LocalCluster(**kwargs)


def _close(client, cluster, futures: list, interrupted: bool) -> None:
    """Close the client and a cluster of our own. Workers that imported torch can outlive their
    close request; the nanny then kills them after a few seconds and logs a warning per worker,
    which is noise here. After an interrupt the queued runs on an existing cluster are
    cancelled, and a local cluster is closed without a word (its workers and their runs go)."""
    if interrupted and cluster is None and client is not None:
        client.cancel(futures)
    if interrupted and cluster is not None and client is not None:
        with contextlib.suppress(Exception):  # the workers' own logs: a cancelled run is no news now
            client.run(_silence_dask_logs)
    names = ("distributed",) if interrupted else ("distributed.nanny",)
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL if interrupted else logging.ERROR)
    try:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def _silence_dask_logs() -> None:
    """On a worker: log nothing below CRITICAL from now on (every ``distributed`` logger)."""
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def gpu_count() -> int:
    try:
        import torch

        return max(1, torch.cuda.device_count())
    except Exception:
        return 1


def _cuda_cluster(kwargs):
    """dask-cuda's ``LocalCUDACluster`` (one worker per GPU, ``CUDA_VISIBLE_DEVICES`` pinned per
    worker) when it is installed; else None and a plain ``LocalCluster`` is used."""
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        if kwargs["n_workers"] > 1:
            warnings.warn(
                "dask-cuda is not installed: every local worker sees the same GPUs; install dask-cuda "
                "to pin one GPU per worker",
                stacklevel=3,
            )
        return None
    kw = {k: v for k, v in kwargs.items() if k not in ("processes", "n_workers")}
    return LocalCUDACluster(n_workers=kwargs["n_workers"], **kw)
