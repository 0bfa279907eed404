"""Machinery of pgbench's airspeed velocity (asv) suite; the ``bench_*`` modules only call it.

The suite is generated from the registries: every registered problem (latest version) becomes a
class in :mod:`benchmarks.bench_iteration` (``time_iteration``, ``peakmem_iteration``) and one in
:mod:`benchmarks.bench_quality` (``track_*``), each parameterised by every registered solver and
every ``backend:device`` in :data:`BACKEND_DEVICES`. A combination that cannot run is *skipped*
(``NotImplementedError`` in ``setup``, asv's skip) with its reason: the solver needs a capability
the problem lacks, the backend is not installed, CUDA is absent, or the id is not registered at the
commit being benchmarked.

Benchmark scale (:func:`bench_problem`): a problem that registers a scale named ``"asv"`` is used
at that scale; otherwise its ``quick`` scale with the generic caps :data:`BENCH_CAPS` on batch,
test set and iteration budgets, then :data:`BENCH_OVERRIDES` for that problem name. So a problem
registered tomorrow is benchmarked at a small size without editing this folder, and a heavy one can
be shrunk further by registering an ``asv`` scale next to its other scales.

Everything goes through the public runner (:func:`pgbench.plan`, :class:`pgbench.Run`,
:func:`pgbench.run`): the benchmarks measure exactly what a user's run does.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile

import pgbench
from pgbench.registry import PROBLEMS, SOLVERS, UnknownIdError, make_problem

#: CPU threads of torch's intra-op pool in benchmark processes (``PGBENCH_ASV_THREADS``, default 1).
#: One thread gives stable timings (asv's advice); with OpenMP teams of 2+ threads a loaded 2-core
#: machine showed 25x slower and bimodal training iterations.
THREADS = int(os.environ.get("PGBENCH_ASV_THREADS", "1"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)   # before torch is imported: every thread's default

# Import the heavy libraries once here (without initialising any device): asv's forkserver imports
# the benchmark modules once and forks a process per benchmark, so each fork starts with them loaded.
for _lib in ("torch", "jax"):
    try:
        __import__(_lib)
    except ImportError:
        pass

def _backend_devices() -> tuple[str, ...]:
    """The backend/device axis of this machine: both backends on the CPU, and on CUDA where
    ``nvidia-smi`` lists a GPU (read without creating a CUDA context: asv forks every benchmark
    from this process). asv keeps results per machine, so machines may differ in this axis.
    ``PGBENCH_ASV_DEVICES="torch:cpu,jax:cuda"`` sets it explicitly."""
    chosen = os.environ.get("PGBENCH_ASV_DEVICES")
    if chosen:
        return tuple(d.strip() for d in chosen.split(",") if d.strip())
    cpu = ("torch:cpu", "jax:cpu")
    return cpu + (("torch:cuda", "jax:cuda") if _gpu_listed() else ())


def _gpu_listed() -> bool:
    import shutil
    import subprocess
    if not shutil.which("nvidia-smi"):
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (subprocess.SubprocessError, OSError):
        return False
    return "GPU" in out


#: The backend/device axis (:func:`_backend_devices`); a listed combination that cannot run (backend
#: not installed, CUDA not usable by it) is skipped with the reason.
BACKEND_DEVICES = _backend_devices()

#: A problem that registers this scale is benchmarked at it (then BENCH_OVERRIDES apply on top).
ASV_SCALE = "asv"

#: Generic caps on the ``quick`` scale: a field is set to ``min(quick value, cap)`` if the
#: problem has it. ``iterations`` is the training budget, ``solve_iterations`` the iterative one.
BENCH_CAPS = {"batch_size": 8, "test_size": 8, "iterations": 100, "solve_iterations": 30}

#: ``PGBENCH_ASV_SMOKE=1`` (CI's dry runs): every problem is cut to these sizes, whatever its scale.
#: Results are then meaningless as numbers; use it only with ``asv run --dry-run``.
SMOKE = os.environ.get("PGBENCH_ASV_SMOKE", "") not in ("", "0")
SMOKE_CAPS = {"batch_size": 2, "test_size": 2, "iterations": 4, "solve_iterations": 3, "eval_every": 1}

#: Extra field overrides per problem *name* (without ``-vN``), applied last. Prefer registering
#: an ``asv`` scale with the problem; this table is for problems whose module one cannot edit.
BENCH_OVERRIDES: dict[str, dict] = {}

#: Number of held-out evaluations during a quality (``track_*``) training run.
EVALUATIONS = 20

#: Seconds a quality run may take before it is cut short (and its ``track_*`` values fail with a
#: message asking for a smaller ``asv`` scale); below asv's per-benchmark timeout.
QUALITY_TIME_GUARD = 120.0

#: Iteration budget of a timing run; runs restart (outside the timed calls) when it is used up.
TIMING_ITERATIONS = 1000

#: Seed of every benchmark run.
SEED = 0

#: Scale of the paper-size timing classes (:mod:`benchmarks.bench_paper`).
PAPER_SCALE = "paper"

#: ``PGBENCH_ASV_PAPER_CPU=1``: time paper-size iterations on the CPU too. Skipped by default: at
#: paper size one iteration takes seconds (heat) to minutes (Navier-Stokes) on a small CPU.
PAPER_ON_CPU = os.environ.get("PGBENCH_ASV_PAPER_CPU", "") not in ("", "0")

#: asv attributes of the generated classes.
TIMEOUT = 180            # seconds per benchmark process (setup included)
PAPER_TIMEOUT = 600      # the same for paper-size timings (compilation and warm-up at full size)
TIMING = {"repeat": (5, 30, 2.0), "rounds": 1, "warmup_time": 0.0, "min_run_count": 1}


# --- enumeration -------------------------------------------------------------------------------

def problem_ids() -> list[str]:
    """The latest version of every registered problem."""
    return [s.id for s in PROBLEMS.latest()]


def solver_ids() -> list[str]:
    """The latest version of every registered solver."""
    return [s.id for s in SOLVERS.latest()]


def class_name(problem_id: str) -> str:
    """``navier-stokes-v0`` -> ``navier_stokes_v0`` (the asv class name)."""
    name = re.sub(r"\W", "_", problem_id)
    return name if name[0].isalpha() else f"p_{name}"


def split_backend(backend_device: str) -> tuple[str, str]:
    backend, _, device = backend_device.partition(":")
    return backend, device or "cpu"


def bench_overrides(problem_id: str) -> tuple[str, dict]:
    """``(scale, field overrides)`` that define the benchmark size of ``problem_id``."""
    spec = PROBLEMS.resolve(problem_id)
    extra = dict(BENCH_OVERRIDES.get(spec.name, {}))
    scale = ASV_SCALE if ASV_SCALE in spec.scales else "quick"
    base = make_problem(spec.id, scale=scale)
    names = {f.name for f in dataclasses.fields(base)}
    if scale == ASV_SCALE:
        overrides = {}
    else:
        overrides = {k: min(getattr(base, k), cap) for k, cap in BENCH_CAPS.items() if k in names}
        if "eval_every" in names:
            budget = overrides.get("iterations", getattr(base, "iterations", EVALUATIONS))
            overrides["eval_every"] = max(1, budget // EVALUATIONS)
    overrides.update(extra)
    if SMOKE:
        overrides.update({k: min(overrides.get(k, getattr(base, k)), cap)
                          for k, cap in SMOKE_CAPS.items() if k in names})
    return scale, overrides


def bench_problem(problem_id: str):
    """The problem at its benchmark size (see the module docstring)."""
    scale, overrides = bench_overrides(problem_id)
    return make_problem(problem_id, scale=scale, **overrides)


def skip_reason(problem_id: str, solver_id: str, backend_device: str) -> str | None:
    """Why this combination cannot be benchmarked here, or None if it can."""
    from pgbench.backends import available_backends, cuda_available

    if problem_id not in PROBLEMS:
        return f"problem {problem_id} is not registered at this commit"
    if solver_id not in SOLVERS:
        return f"solver {solver_id} is not registered at this commit"
    backend, device = split_backend(backend_device)
    if backend not in available_backends():
        return f"backend {backend} is not installed"
    problem = bench_problem(problem_id)
    try:
        plan_for(problem, solver_id, backend, "cpu", iterations=1)
    except pgbench.IncompatibleError as e:
        return str(e)
    if device == "cuda" and not cuda_available(backend):
        return f"{backend}: CUDA is not available on this machine"
    return None


def plan_for(problem, solver_id: str, backend: str, device: str, **kwargs):
    """A validated :class:`pgbench.RunPlan`, falling back to :func:`pgbench.run`'s checks for
    commits that predate ``pgbench.plan``."""
    if hasattr(pgbench, "plan"):
        import inspect
        if "threads" in inspect.signature(pgbench.plan).parameters:  # the run pins (and keys) its threads
            kwargs = {"threads": THREADS, **kwargs}
        return pgbench.plan(problem, solver_id, seed=SEED, backend=backend, device=device, **kwargs)
    from pgbench.runner import IncompatibleError, resolve
    p, s = resolve(problem, solver_id)
    reason = s.missing(p)
    if reason:
        raise IncompatibleError(reason)
    return None


def cases() -> list[dict]:
    """Every parameter combination of the generated suite with its skip reason (None: runs)."""
    out = []
    for p in problem_ids():
        for s in solver_ids():
            for bd in BACKEND_DEVICES:
                out.append({"problem": p, "solver": s, "backend": bd, "skip": skip_reason(p, s, bd)})
    return out


def _skip_if_needed(problem_id, solver_id, backend_device):
    try:
        reason = skip_reason(problem_id, solver_id, backend_device)
    except UnknownIdError as e:
        reason = str(e)
    if reason:
        raise NotImplementedError(reason)


# --- timing: one runner iteration at a time ----------------------------------------------------

class IterationDriver:
    """Times :meth:`pgbench.Run.step`, one iteration of the real runner loop (solver step or
    training step, device synchronisation, metrics). The :class:`pgbench.Run` is made once and
    warmed up (:meth:`pgbench.Run.warm_up`: two steps on a throwaway state, as before every
    equal-wall-time run); :meth:`ready` (untimed) starts a fresh state when the current one is used
    up. One-shot solvers (``max_steps`` 1, e.g. L-BFGS-B) are timed from the initial guess every
    time."""

    def __init__(self, make_plan):
        self._make_plan = make_plan
        self.run = None
        self.state = None

    def ready(self):
        if self.run is None:
            _set_threads()
            self.run = pgbench.Run(self._make_plan())
            self.run.warm_up()
        if self.state is None or self.state.done:
            self.state = self.run.init()

    def advance(self):
        """One iteration of the runner loop."""
        self.state = self.run.step(self.state)

    def close(self):
        self.run = self.state = None


def _set_threads():
    """Apply :data:`THREADS` to torch (OpenMP settings are per thread)."""
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        pass


_DRIVERS: dict[tuple, IterationDriver] = {}


def _close_drivers():
    for d in _DRIVERS.values():
        d.close()


atexit.register(_close_drivers)


def paper_overrides(problem_id: str) -> dict:
    """Field overrides of the paper-size timing runs: no evaluation (and the smoke caps under
    ``PGBENCH_ASV_SMOKE``)."""
    base = make_problem(problem_id, scale=PAPER_SCALE)
    names = {f.name for f in dataclasses.fields(base)}
    out = {"eval_every": 0} if "eval_every" in names else {}
    if SMOKE:
        out.update({k: min(getattr(base, k), cap) for k, cap in SMOKE_CAPS.items() if k in names and k != "eval_every"})
    return out


def driver(problem_id: str, solver_id: str, backend_device: str, paper: bool = False) -> IterationDriver:
    """The process-wide driver of one combination (asv re-runs ``setup`` before every timed call;
    the driver and its compiled functions survive that); ``paper``: at the problem's paper scale."""
    key = (problem_id, solver_id, backend_device, paper)
    if key not in _DRIVERS:
        backend, device = split_backend(backend_device)
        if paper:
            problem = make_problem(problem_id, scale=PAPER_SCALE, **paper_overrides(problem_id))
        else:
            scale, overrides = bench_overrides(problem_id)
            problem = make_problem(problem_id, scale=scale, **{**overrides, "eval_every": 0})  # no evaluation
        _DRIVERS[key] = IterationDriver(
            lambda: plan_for(problem, solver_id, backend, device, iterations=TIMING_ITERATIONS))
    return _DRIVERS[key]


# --- quality: one cached run feeds every track_* value -----------------------------------------

def quality_metrics(result, problem) -> dict:
    """Numbers (lower is better) from one run: the final held-out x error and loss (training:
    the last evaluation; iterative: the solved batch after the last step), and the first update
    count / wall time at which the x error reached ``problem.target_x_error`` (NaN if never)."""
    from pgbench.analysis.summary import summarize
    from pgbench.record import RunRecord
    s = summarize(RunRecord.from_result(result), problem.target_x_error)
    out = {"status": result.status, "message": result.message[:2000],
           "final_x_error": s.x_error, "final_loss": s.loss,
           "iterations_to_target": s.iterations_to_target, "seconds_to_target": s.time_to_target,
           "iterations_done": int(s.iterations) if math.isfinite(s.iterations) else 0,
           "iterations_planned": int(result.meta["iterations"])}
    nan = float("nan")
    for k in ("final_x_error", "final_loss"):
        if not math.isfinite(out[k]):
            out[k] = nan
    return out


def quality_run(problem_id: str, solver_id: str, backend_device: str) -> dict:
    """Run the combination once at benchmark size and return :func:`quality_metrics`."""
    backend, device = split_backend(backend_device)
    problem = bench_problem(problem_id)
    _set_threads()
    result = pgbench.run(problem, solver_id, seed=SEED, backend=backend, device=device,
                         max_time=QUALITY_TIME_GUARD)
    return quality_metrics(result, problem)


def cached_quality(cache_dir: str, problem_id: str, solver_id: str, backend_device: str) -> dict:
    """:func:`quality_run`, computed once per asv ``setup_cache`` directory and read back by the
    other ``track_*`` benchmarks of the same combination (each runs in its own process)."""
    key = re.sub(r"[^\w.-]", "_", f"{problem_id}__{solver_id}__{backend_device}")
    path = os.path.join(cache_dir, f"{key}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    out = quality_run(problem_id, solver_id, backend_device)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(out, f)
    os.replace(tmp, path)
    return out


def metric_value(metrics: dict, name: str) -> float:
    """One number for asv; a failed or time-guarded run raises (asv shows ``failed``)."""
    if metrics["status"] == "failed":
        raise RuntimeError(f"benchmark run failed: {metrics['message']}")
    if metrics["status"] == "ok" and metrics["iterations_done"] < metrics["iterations_planned"]:
        raise RuntimeError(
            f"quality run stopped by the {QUALITY_TIME_GUARD:.0f} s guard after "
            f"{metrics['iterations_done']} of {metrics['iterations_planned']} iterations; register "
            f"a smaller '{ASV_SCALE}' scale for this problem")
    return float(metrics[name])


# --- class generation --------------------------------------------------------------------------

def _version(problem_id: str) -> str:
    """Benchmark version: changes when the benchmark size or the timing protocol changes."""
    try:
        scale, overrides = bench_overrides(problem_id)
    except Exception:  # noqa: BLE001 - a broken problem still gets a class (its setup fails)
        scale, overrides = "?", {}
    blob = json.dumps([2, scale, overrides, SMOKE, THREADS, TIMING, TIMING_ITERATIONS, EVALUATIONS, SEED],
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def iteration_class(problem_id: str) -> type:
    """``time_iteration`` (seconds per runner iteration, synchronised) and ``peakmem_iteration``
    (peak RSS of a process that ran a few iterations) for every solver x backend:device."""

    def setup(self, solver, backend):
        _skip_if_needed(problem_id, solver, backend)
        if not hasattr(pgbench, "Run"):
            raise NotImplementedError("pgbench at this commit has no steppable Run to time iterations")
        self.driver = driver(problem_id, solver, backend)
        self.driver.ready()

    def time_iteration(self, solver, backend):
        self.driver.advance()

    def peakmem_iteration(self, solver, backend):
        for _ in range(3):
            self.driver.ready()
            self.driver.advance()

    time_iteration.pretty_name = f"{problem_id}: seconds per iteration"
    peakmem_iteration.pretty_name = f"{problem_id}: peak memory of a run"
    attrs = {"params": [solver_ids(), list(BACKEND_DEVICES)], "param_names": ["solver", "backend"],
             "timeout": TIMEOUT, "version": _version(problem_id), "setup": setup,
             "time_iteration": time_iteration, "peakmem_iteration": peakmem_iteration,
             "__doc__": f"Per-iteration cost of {problem_id}.", **TIMING}
    return type(class_name(problem_id), (), attrs)


def _setup_cache(self):
    """The directory (asv's working directory for these benchmarks) that holds one JSON file of
    quality metrics per combination, filled lazily by the first track_* of each."""
    return os.getcwd()


TRACKS = {
    "final_x_error": "final x error {x_error_name} (held-out batch)",
    "final_loss": "final loss (held-out batch)",
    "iterations_to_target": "iterations to x error <= {target} (NaN: not reached)",
    "seconds_to_target": "seconds to x error <= {target} (NaN: not reached)",
}


def paper_skip_reason(problem_id: str, backend_device: str) -> str | None:
    """Why a paper-size timing is skipped here (beyond :func:`skip_reason`), or None."""
    if PAPER_SCALE not in PROBLEMS.resolve(problem_id).scales:
        return f"{problem_id} registers no '{PAPER_SCALE}' scale"
    if split_backend(backend_device)[1] == "cpu" and not PAPER_ON_CPU:
        return "paper-size iterations are timed on CUDA only; set PGBENCH_ASV_PAPER_CPU=1 to time them on the CPU"
    return None


def paper_iteration_class(problem_id: str) -> type:
    """``time_iteration`` at the problem's paper scale (batch, resolution, network, tolerances as
    in the paper) for every solver x backend:device; CPU entries skipped unless :data:`PAPER_ON_CPU`."""

    def setup(self, solver, backend):
        _skip_if_needed(problem_id, solver, backend)
        reason = paper_skip_reason(problem_id, backend)
        if reason:
            raise NotImplementedError(reason)
        if not hasattr(pgbench, "Run"):
            raise NotImplementedError("pgbench at this commit has no steppable Run to time iterations")
        self.driver = driver(problem_id, solver, backend, paper=True)
        self.driver.ready()

    def time_iteration(self, solver, backend):
        self.driver.advance()

    time_iteration.pretty_name = f"{problem_id} (paper size): seconds per iteration"
    try:
        overrides = paper_overrides(problem_id)
    except Exception:  # noqa: BLE001 - a broken problem still gets a class (its setup fails)
        overrides = {}
    blob = json.dumps([2, PAPER_SCALE, overrides, SMOKE, THREADS, TIMING, TIMING_ITERATIONS, SEED],
                      sort_keys=True, default=str)
    attrs = {"params": [solver_ids(), list(BACKEND_DEVICES)], "param_names": ["solver", "backend"],
             "timeout": PAPER_TIMEOUT, "version": hashlib.sha1(blob.encode()).hexdigest()[:12], "setup": setup,
             "time_iteration": time_iteration,
             "__doc__": f"Per-iteration cost of {problem_id} at paper size.", **TIMING}
    return type(class_name(problem_id), (), attrs)


def _track_method(name: str):
    def track(self, cache_dir, solver, backend):
        return metric_value(self.metrics, name)

    track.__name__ = f"track_{name}"
    return track


def quality_class(problem_id: str) -> type:
    """``track_*``: quality after the fixed benchmark budget, from one cached run per combination."""
    try:
        p = bench_problem(problem_id)
        x_error_name, target = p.x_error_name, p.target_x_error
    except Exception:  # noqa: BLE001
        x_error_name, target = "?", None

    def setup(self, cache_dir, solver, backend):
        _skip_if_needed(problem_id, solver, backend)
        self.metrics = cached_quality(cache_dir, problem_id, solver, backend)

    attrs = {"params": [solver_ids(), list(BACKEND_DEVICES)], "param_names": ["solver", "backend"],
             "timeout": TIMEOUT, "version": _version(problem_id), "setup": setup,
             "setup_cache": _setup_cache, "__doc__": f"Quality of {problem_id} after the benchmark budget."}
    for name, unit in TRACKS.items():
        if name.endswith("_to_target") and target is None:
            continue   # the problem declares no accuracy target
        track = _track_method(name)
        track.unit = unit.format(x_error_name=x_error_name, target=target)
        track.pretty_name = f"{problem_id}: {name.replace('_', ' ')}"
        attrs[f"track_{name}"] = track
    return type(class_name(problem_id), (), attrs)


def generate(kind: str, namespace: dict) -> list[str]:
    """Put one generated class per registered problem into ``namespace`` (a module's globals)."""
    factory = {"iteration": iteration_class, "quality": quality_class, "paper": paper_iteration_class}[kind]
    names = []
    for pid in problem_ids():
        cls = factory(pid)
        cls.__module__ = namespace["__name__"]
        namespace[cls.__name__] = cls
        names.append(cls.__name__)
    return names


def summary() -> str:
    """A readable list of the generated combinations: runnable ones per problem, skips with reasons."""
    lines, by_reason = [], {}
    all_cases = cases()
    for pid in problem_ids():
        mine = [c for c in all_cases if c["problem"] == pid]
        runs = [f"{c['solver']}@{c['backend']}" for c in mine if c["skip"] is None]
        lines.append(f"{pid}: {len(runs)} of {len(mine)} run: {', '.join(runs) or '-'}")
        for c in mine:
            if c["skip"]:
                by_reason.setdefault(c["skip"], []).append(f"{c['problem']}/{c['solver']}@{c['backend']}")
    lines.append(f"skipped ({sum(map(len, by_reason.values()))}):")
    for reason, which in sorted(by_reason.items()):
        lines.append(f"  {len(which):3d} x {reason}")
    methods = 2 + len(TRACKS)
    lines.append(f"{len(all_cases)} parameter sets per method, about {methods} methods per problem")
    return "\n".join(lines)


if __name__ == "__main__":   # python -m benchmarks.common
    print(summary())
