"""What to run: a :class:`Task` (one run, by ids and settings, planned once), the grid
:func:`expand` makes of problems × solvers × seeds × backends × devices, settings given as text
coerced to their declared types (:func:`coerce`), and the records a sweep reports
(:class:`Outcome`, :class:`Event`, :class:`Skipped`). Running them: :mod:`pgbench.sweep`."""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .backends import cuda_available, effective_torch_threads
from .planning import IncompatibleError
from .planning import plan as _plan
from .registry import (
    PROBLEMS,
    SOLVERS,
    InvalidSettingError,
    _arms,
    _type_name,
    field_types,
    load_plugin,
    make_problem,
    suggest,
)
from .runner import Progress

# --- tasks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One run of a sweep, described by plain values only (so it pickles to a Dask worker).

    ``hyperparameters`` override the problem's defaults for the solver; ``problem_overrides``
    set fields of the problem at ``scale``; ``plugins`` are imported (``pgbench.load_plugin``)
    before the ids are resolved, so a worker process knows user-registered problems too."""

    problem: str
    solver: str
    scale: str = "quick"
    seed: int = 0
    backend: str = "torch"
    device: str = "cpu"
    iterations: int | None = None
    max_time: float | None = None
    hyperparameters: dict = field(default_factory=dict)
    problem_overrides: dict = field(default_factory=dict)
    label: str | None = None
    plugins: tuple[str, ...] = ()
    threads: int | None = 1  # torch CPU threads of the run (part of its key); None: torch's setting
    max_time_clock: str = "wall"  # the clock of max_time and time_cap: "wall" or "cpu" (pgbench.clocks)
    time_cap: float | None = None  # seconds; an unfinished run stops there, status over_budget

    def plan(self):
        """The validated :class:`~pgbench.planning.RunPlan` (raises on any bad setting). Planned
        once per task object: later calls (expand, unique, status, run_sweep, run_task) get the
        same plan; a copy sent to another process (pickled) plans there afresh."""
        cached = self.__dict__.get("_plan")
        if cached is None:
            for plugin in self.plugins:
                load_plugin(plugin)
            problem = make_problem(self.problem, scale=self.scale, **self.problem_overrides)
            cached = _plan(
                problem,
                self.solver,
                iterations=self.iterations,
                max_time=self.max_time,
                seed=self.seed,
                backend=self.backend,
                device=self.device,
                scale=self.scale,
                label=self.label,
                threads=self.threads,
                max_time_clock=self.max_time_clock,
                time_cap=self.time_cap,
                **self.hyperparameters,
            )
            object.__setattr__(self, "_plan", cached)  # a cache, not a field: equality and pickles ignore it
        return cached

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_plan", "_cpu_plan")}

    @property
    def runs_here(self) -> bool:
        """Whether this machine has the task's device (a driver on a login node without a GPU
        cannot plan ``cuda`` runs; it validates them on the CPU and the workers plan them)."""
        return self.device != "cuda" or cuda_available(self.backend)

    def validate(self):
        """The task's plan where it :attr:`runs_here`, else the plan of the same run on the CPU
        (every setting but the device checked, once per task object); raises on any bad setting."""
        if self.runs_here:
            return self.plan()
        cached = self.__dict__.get("_cpu_plan")
        if cached is None:
            cached = dataclasses.replace(self, device="cpu").plan()
            object.__setattr__(self, "_cpu_plan", cached)
        return cached

    @property
    def name(self) -> str:
        """A short readable name: ``sin-v0 pg seed=0 torch/cpu``."""
        solver = self.label or self.solver
        return f"{self.problem} {solver} seed={self.seed} {self.backend}/{self.device}"


@dataclass(frozen=True)
class Skipped:
    """A problem × solver pair left out of the sweep, and why."""

    problem: str
    solver: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What became of one task. ``cached`` is True when a finished stored run was reused; the
    final metrics are the last recorded row (``x_error`` is the held-out ``eval_x_error`` for
    training runs)."""

    task: Task
    status: str
    run_key: str
    path: str
    cached: bool = False
    message: str = ""
    iterations: int | None = None
    wall_time: float | None = None
    loss: float | None = None
    x_error: float | None = None
    label: str | None = None  # the label the run is stored with
    lanes: int = 1  # runs that shared its vectorised program (1: it ran alone); wall_time is the program's


def unapplied_labels(outcomes) -> list[str]:
    """One line per problem × solver whose requested label was not applied: its finished stored
    runs were reused and keep the label they were stored with (the label is no part of the run
    key; ``force`` re-runs them under the new label)."""
    counts: dict[tuple, int] = {}
    for o in outcomes:
        if o.cached and o.task.label is not None and o.label is not None and o.label != o.task.label:
            key = (o.task.problem, o.task.solver, o.task.label, o.label)
            counts[key] = counts.get(key, 0) + 1
    return [
        f"label {want!r} not applied to {n} stored run{'s' * (n > 1)} of {p} {s}: reused as stored, "
        f"labelled {have!r} (--force re-runs {'them' if n > 1 else 'it'} under {want!r})"
        for (p, s, want, have), n in counts.items()
    ]


@dataclass(frozen=True)
class Event:
    """Progress of a sweep, handed to ``run_sweep(progress=...)``.

    ``kind`` is ``"start"`` (a run begins on some worker; ``total`` = its iteration budget),
    ``"iteration"`` (``progress`` holds the runner's :class:`~pgbench.runner.Progress`; in-process
    local executor only) or ``"finish"`` (``outcome`` is set; also for stored runs that are reused,
    without a ``start``). ``index`` is the task's position in the task list."""

    kind: str
    index: int
    task: Task
    total: int | None = None
    progress: Progress | None = None
    outcome: Outcome | None = None


# --- settings ----------------------------------------------------------------------------------------

_NONE = ("none", "null")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _convert(text: str, tp):
    base = typing.get_origin(tp) or tp
    if base is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError
    if base is int:
        try:
            return int(text)
        except ValueError:
            f = float(text)  # accept 1e3
            if f.is_integer():
                return int(f)
            raise
    if base is float:
        return float(text)
    if base is str:
        return text
    if base in (dict, list, tuple):
        v = json.loads(text)
        if not isinstance(v, dict if base is dict else list):
            raise ValueError
        return tuple(v) if base is tuple else v
    if base is typing.Literal:
        for choice in typing.get_args(tp):
            if str(choice) == text:
                return choice
        raise ValueError
    # Any or an unknown type: JSON if it parses, else the text
    try:
        return json.loads(text)
    except ValueError:
        return text


def coerce(cls, key: str, value, what: str = "setting"):
    """``value`` for the field ``key`` of the dataclass ``cls``: a string (from the command line)
    is parsed by the field's type (``int``, ``float``, ``bool``, ``None``, JSON for ``dict``,
    text for ``str``); any other value is returned unchanged. Raises InvalidSettingError."""
    types = field_types(cls)
    if key not in types:
        raise InvalidSettingError(f"{what} has no setting {key!r}{suggest(key, types)}")
    if not isinstance(value, str):
        return value
    tp = types[key]
    arms, optional = _arms(tp)
    if optional and value.strip().lower() in _NONE:
        return None
    # try the declared types, most specific first (a str arm accepts anything, so it goes last)
    order = sorted(arms, key=lambda a: (typing.get_origin(a) or a) is str)
    for arm in order:
        try:
            return _convert(value, arm)
        except (ValueError, TypeError):
            continue
    raise InvalidSettingError(f"{what} setting {key}={value!r}: expected {_type_name(tp)}")


def _split(ids: list[str], settings: dict | None, registry, what: str) -> dict[str, dict]:
    """Distribute ``settings`` over the classes of ``ids``. A key ``name`` goes to every id whose
    class has that field; ``id.name`` (e.g. ``pg.lr``) to that id only. A key that no id has is
    an error (with the nearest field name)."""
    specs = {i: registry.resolve(i) for i in ids}
    classes = {i: s.load() for i, s in specs.items()}
    fields = {i: field_types(c) for i, c in classes.items()}
    out: dict[str, dict] = {i: {} for i in ids}
    for key, value in (settings or {}).items():
        scope, dot, name = key.rpartition(".")
        if dot:
            targets = [i for i in ids if scope in (i, specs[i].name, specs[i].id)]
            if not targets:
                raise InvalidSettingError(
                    f"{what} setting {key!r}: {scope!r} is not among "
                    f"{', '.join(ids)}{suggest(scope, [specs[i].name for i in ids])}"
                )
        else:
            name, targets = key, [i for i in ids if key in fields[i]]
            if not targets:
                known = sorted({n for f in fields.values() for n in f})
                raise InvalidSettingError(
                    f"no {what} among {', '.join(specs[i].id for i in ids)} has a setting {key!r}{suggest(key, known)}"
                )
        for i in targets:
            out[i][name] = coerce(classes[i], name, value, f"{what} {specs[i].id}")
    return out


def _plugins_for(spec) -> tuple[str, ...]:
    """The user module or file that registered ``spec``, so a worker process can import it."""
    module = spec.entry_point.partition(":")[0]
    if module == "pgbench" or module.startswith("pgbench."):
        return ()
    file = getattr(sys.modules.get(module), "__file__", None)
    if module.startswith("pgbench_plugin_") and file:
        return (str(Path(file).resolve()),)
    return (module,)


def as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, (str, int)):
        return [v]
    return list(v)


def expand(
    problems,
    solvers,
    seeds=(0,),
    backends=("torch",),
    devices=("cpu",),
    scale: str = "quick",
    *,
    iterations: int | None = None,
    max_time: float | None = None,
    hyperparameters: dict | None = None,
    problem_overrides: dict | None = None,
    label: str | None = None,
    plugins: Iterable[str] = (),
    remote: bool = False,
    threads: int | None = 1,
    max_time_clock: str = "wall",
) -> tuple[list[Task], list[Skipped]]:
    """The grid ``problems × solvers × backends × devices × seeds`` as validated tasks.

    ``hyperparameters`` go to every solver that has the field (``"pg.lr"`` scopes a key to one
    solver); ``problem_overrides`` likewise to the problems; string values are parsed by the
    field's type. ``plugins`` are loaded first. Every task is planned here, so an unknown id or
    a bad value raises (UnknownIdError, InvalidSettingError / ValueError, RuntimeError for a
    missing backend or device) before anything runs; incompatible pairs come back in
    ``skipped`` with their reason instead. With ``remote`` (runs go to a cluster), a device this
    machine lacks is not an error: those runs are validated on the CPU (:meth:`Task.validate`).
    ``threads``: torch CPU threads of every run (0 or None: this process's current torch setting,
    resolved here so that the driver and every worker agree on the run key). ``max_time_clock``:
    the clock ``max_time`` counts on ("wall" or "cpu", :mod:`pgbench.clocks`).
    """
    threads = effective_torch_threads(threads)
    plugins = tuple(str(Path(p).resolve()) if (p.endswith(".py") or Path(p).exists()) else p for p in as_list(plugins))
    for p in plugins:
        load_plugin(p)
    problems, solvers = as_list(problems), as_list(solvers)
    seeds, backends = as_list(seeds), as_list(backends)
    devices = ["cuda" if d == "gpu" else d for d in as_list(devices)]
    for name, values in (
        ("problem", problems),
        ("solver", solvers),
        ("seed", seeds),
        ("backend", backends),
        ("device", devices),
    ):
        if not values:
            raise InvalidSettingError(f"no {name} given")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise InvalidSettingError(f"seed must be a non-negative integer, got {s!r}")
    # ``sin`` and ``sin-v0`` (or ``gd`` and ``gd-v0``) are one id: each runs once
    problem_ids = list(dict.fromkeys(PROBLEMS.resolve(p).id for p in problems))
    solver_ids = list(dict.fromkeys(SOLVERS.resolve(s).id for s in solvers))
    if label is not None and len(solver_ids) > 1:  # one label would pool different configurations
        raise InvalidSettingError(
            f"label {label!r} would name {len(solver_ids)} different solvers ({', '.join(solver_ids)}); "
            "a label names one configuration: run each solver with its own label"
        )
    hp = _split(solver_ids, hyperparameters, SOLVERS, "solver")
    po = _split(problem_ids, problem_overrides, PROBLEMS, "problem")

    tasks, skipped = [], []
    for p in problem_ids:
        extra = plugins + tuple(x for x in _plugins_for(PROBLEMS.resolve(p)) if x not in plugins)
        for s in solver_ids:
            solver_plugins = extra + tuple(x for x in _plugins_for(SOLVERS.resolve(s)) if x not in extra)
            pair = [
                Task(
                    p,
                    s,
                    scale,
                    seed,
                    b,
                    d,
                    iterations,
                    max_time,
                    dict(hp[s]),
                    dict(po[p]),
                    label,
                    solver_plugins,
                    threads,
                    max_time_clock,
                )
                for b in dict.fromkeys(backends)
                for d in dict.fromkeys(devices)
                for seed in dict.fromkeys(seeds)
            ]
            try:
                for t in pair:
                    t.plan() if not remote else t.validate()
            except IncompatibleError as e:
                skipped.append(Skipped(p, s, str(e)))
                continue
            tasks.extend(pair)
    return tasks, skipped
