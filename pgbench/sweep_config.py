"""Sweep files: a grid of runs written down once, in TOML, and usable from Python.

.. code-block:: toml

    problems = ["sin", "wavepacket"]
    solvers  = ["pg", "dp", "supervised"]
    seeds    = [0, 1, 2]
    scale    = "quick"              # default "quick"
    backends = ["torch", "jax"]     # default ["torch"]
    devices  = ["cpu"]              # default ["cpu"]; "cuda" runs ask for one GPU each
    iterations = 300                # optional budget (default: the scale's)
    max_time   = 120.0              # optional wall-time budget per run, seconds
    plugins    = ["my_problem.py"]  # optional; paths relative to this file

    [hyperparameters.dp]            # per solver; a list is a grid axis, a scalar is fixed
    lr = [1e-3, 3e-4]

    [problem_settings.sin]          # per problem, the same rule
    batch_size = [256, 1024]

The runs are ``problems × problem_settings grid × solvers × hyperparameter grid × backends ×
devices × seeds`` (at most :data:`MAX_RUNS`: a larger grid is refused before any run is planned).
A solver with more than one hyperparameter point gets a label that names the
point (``dp lr=0.001``) so tables and plots tell them apart. A field whose own type is a list
(or tuple, dict) takes a list as its value; a list of such values is then an axis.

>>> config = SweepConfig.from_toml("sweep.toml")
>>> tasks, skipped = config.tasks()      # validated: a bad id or value raises before any run
>>> run_sweep(tasks, root="results/runs", executor="dask", workers=2)
"""

from __future__ import annotations

import itertools
import math
import sys
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # tomllib is 3.11+; tomli is the same parser (a dependency on 3.10 only, so possibly absent where mypy runs)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from .registry import PROBLEMS, SOLVERS, InvalidSettingError, _arms, field_types, load_plugin, suggest
from .sweep import unique
from .tasks import Skipped, Task, as_list, expand

#: the most runs one sweep file may hold; a larger grid is refused before any run is planned (its
#: size is the product of its axis lengths)
MAX_RUNS = 10_000


@dataclass(frozen=True)
class SweepConfig:
    """A sweep grid (see the module docstring for the file format)."""

    problems: tuple[str, ...]
    solvers: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    scale: str = "quick"
    backends: tuple[str, ...] = ("torch",)
    devices: tuple[str, ...] = ("cpu",)
    iterations: int | None = None
    max_time: float | None = None
    plugins: tuple[str, ...] = ()
    hyperparameters: dict = field(default_factory=dict)
    problem_settings: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict, base_dir: str | Path = ".") -> SweepConfig:
        """A config from parsed TOML (or any mapping); relative plugin paths resolve from ``base_dir``."""
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise InvalidSettingError(f"sweep file: unknown key {key!r}{suggest(key, known)}")
        for key in ("problems", "solvers"):
            if not data.get(key):
                raise InvalidSettingError(f"sweep file: {key!r} is required (a list of ids)")
        for key in ("hyperparameters", "problem_settings"):
            table = data.get(key, {})
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise InvalidSettingError(
                    f"sweep file: {key!r} must hold one table per id, "
                    f"e.g. [{key}.{'dp' if key == 'hyperparameters' else 'sin'}]"
                )
        for key in ("iterations", "max_time", "scale"):
            if isinstance(data.get(key), list):
                raise InvalidSettingError(f"sweep file: {key!r} takes one value, got a list")
        _check_types(data)
        plugins = tuple(
            str((Path(base_dir) / p).resolve()) if str(p).endswith(".py") else str(p)
            for p in as_list(data.get("plugins"))
        )
        return cls(
            problems=tuple(as_list(data["problems"])),
            solvers=tuple(as_list(data["solvers"])),
            seeds=tuple(as_list(data.get("seeds", [0]))),
            scale=data.get("scale", "quick"),
            backends=tuple(as_list(data.get("backends", ["torch"]))),
            devices=tuple(as_list(data.get("devices", ["cpu"]))),
            iterations=data.get("iterations"),
            max_time=data.get("max_time"),
            plugins=plugins,
            hyperparameters=dict(data.get("hyperparameters", {})),
            problem_settings=dict(data.get("problem_settings", {})),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no sweep file {path}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise InvalidSettingError(f"sweep file {path}: {e}") from None
        return cls.from_dict(data, base_dir=path.parent)

    def tasks(self, remote: bool = False, threads: int | None = 1) -> tuple[list[Task], list[Skipped]]:
        """Every run of the grid as a validated :class:`~pgbench.sweep.Task` (in grid order), and
        the problem × solver pairs left out as incompatible. Raises on any bad id or value.
        ``remote``: the runs go to a cluster, so a device this machine lacks is not an error.
        ``threads``: torch CPU threads of every run (see :func:`~pgbench.sweep.expand`)."""
        for p in self.plugins:
            load_plugin(p)
        problems = list(dict.fromkeys(PROBLEMS.resolve(p).id for p in self.problems))  # sin, sin-v0: one
        solvers = list(dict.fromkeys(SOLVERS.resolve(s).id for s in self.solvers))
        problem_axes = _axes(self.problem_settings, problems, PROBLEMS, "problem_settings", "problem")
        solver_axes = _axes(self.hyperparameters, solvers, SOLVERS, "hyperparameters", "solver")
        size = (
            sum(_size(a) for a in problem_axes.values())
            * sum(_size(a) for a in solver_axes.values())
            * len(set(self.backends))
            * len(set(self.devices))
            * len(set(self.seeds))
        )
        if size > MAX_RUNS:
            raise InvalidSettingError(
                f"sweep file: the grid has {size:,} runs, more than the {MAX_RUNS:,} one sweep may hold; "
                "split it into several sweep files"
            )
        problem_grid = {i: _points(a) for i, a in problem_axes.items()}
        solver_grid = {i: _points(a) for i, a in solver_axes.items()}
        tasks: list[Task] = []
        skipped: list[Skipped] = []
        for p in problems:
            for settings in problem_grid[p]:
                for s in solvers:
                    points = solver_grid[s]
                    for hp in points:
                        label = _label(SOLVERS.resolve(s).name, hp, points) if len(points) > 1 else None
                        t, sk = expand(
                            [p],
                            [s],
                            seeds=list(self.seeds),
                            backends=list(self.backends),
                            devices=list(self.devices),
                            scale=self.scale,
                            iterations=self.iterations,
                            max_time=self.max_time,
                            hyperparameters=hp,
                            problem_overrides=settings,
                            label=label,
                            plugins=self.plugins,
                            remote=remote,
                            threads=threads,
                        )
                        tasks.extend(t)
                        skipped.extend(x for x in sk if x not in skipped)
        return unique(tasks), skipped


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_LISTS = {
    "problems": (str, "ids (strings)"),
    "solvers": (str, "ids (strings)"),
    "backends": (str, "names (strings)"),
    "devices": (str, "names (strings)"),
    "plugins": (str, "module names or .py paths (strings)"),
}


def _check_types(data: dict) -> None:
    """The top-level values have the right types and ranges; the message names the key and
    what it expects (hyperparameters and problem settings are checked against their classes)."""

    def bad(key, expected):
        value = data[key]
        return InvalidSettingError(f"sweep file: {key!r} must be {expected}, got {value!r} ({type(value).__name__})")

    for key, (tp, what) in _LISTS.items():
        if key in data and not all(isinstance(v, tp) and v.strip() for v in as_list(data[key])):
            raise bad(key, f"a list of {what}")
    if "seeds" in data and not all(_is_int(v) and 0 <= v < 2**63 for v in as_list(data["seeds"])):
        raise bad("seeds", "a list of integers in [0, 2**63)")
    if "scale" in data and not isinstance(data["scale"], str):
        raise bad("scale", 'a scale name (a string, e.g. "quick")')
    if data.get("iterations") is not None and not (_is_int(data["iterations"]) and 1 <= data["iterations"] < 2**63):
        raise bad("iterations", "an integer >= 1")
    if data.get("max_time") is not None and not (_is_number(data["max_time"]) and 0 < data["max_time"] < math.inf):
        raise bad("max_time", "a finite number of seconds > 0")


def _is_sequence_type(tp) -> bool:
    """Whether a field of type ``tp`` takes a list as one value (list, tuple, dict or a union with one)."""
    return any((typing.get_origin(a) or a) in (list, tuple, dict) for a in _arms(tp)[0])


def _size(axes: dict[str, list]) -> int:
    """The number of points of the grid ``axes`` (the product of the axis lengths)."""
    return math.prod(len(v) for v in axes.values())


def _points(axes: dict[str, list]) -> list[dict]:
    """The grid ``axes`` as its points (one settings dict each; ``[{}]`` for no axis)."""
    keys = list(axes)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(axes[k] for k in keys))] or [{}]


def _axes(tables: dict, ids: list[str], registry, what: str, noun: str) -> dict[str, dict[str, list]]:
    """``{id: {setting: [values]}}``: each id's settings as grid axes (a fixed value is an axis
    of one), checked against the id's class; the grid is their cross product (:func:`_points`)."""
    tables = dict(tables)
    out = {}
    for i in ids:
        spec = registry.resolve(i)
        names = [n for n in (spec.id, spec.name, i) if n in tables]
        table = {}
        for n in dict.fromkeys(names):
            table.update(tables.pop(n))
        types = field_types(spec.load())
        axes = {}
        for key, value in table.items():
            if key not in types:
                raise InvalidSettingError(
                    f"sweep file: [{what}.{spec.name}] {spec.id} has no setting {key!r}{suggest(key, types)}"
                )
            is_axis = isinstance(value, list) and (
                not _is_sequence_type(types[key]) or all(isinstance(v, (list, dict)) for v in value)
            )
            if is_axis and not value:
                raise InvalidSettingError(f"sweep file: [{what}.{spec.name}] {key} is an empty list")
            axes[key] = value if is_axis else [value]
        out[i] = axes
    for name in tables:
        raise InvalidSettingError(f"sweep file: [{what}.{name}] names no {noun} of the sweep{suggest(name, ids)}")
    return out


def _label(name: str, point: dict, points: list[dict]) -> str:
    """``dp lr=0.001``: the solver's name and the settings that vary across its grid points."""
    varying = [k for k in point if len({repr(p[k]) for p in points}) > 1]
    return " ".join(
        [name] + [f"{k}={point[k]:g}" if isinstance(point[k], float) else f"{k}={point[k]}" for k in varying]
    )


__all__ = ["SweepConfig", "MAX_RUNS"]
