"""Gymnasium-style registries of problems and solvers.

Ids are versioned strings (``heat-v0``); the version may be left off (``heat`` means the highest
registered version). A spec names its class by an entry-point string (``"pkg.module:Class"``), so
nothing heavy is imported until ``make_*`` is called. Users register their own problems and
solvers from their own modules; nothing in pgbench is edited.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib
import importlib.util
import math
import numbers
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# ids name folders of the results store: letters, digits, ``_ . -`` only (no ``/``, no ``..``);
# always matched with ``fullmatch`` (``$`` would let a trailing newline through)
_ID = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+?)(?:-v(?P<version>\d+))?")


def split_id(id: str) -> tuple[str, int | None]:
    """A registry id as ``(name, version)``: ``split_id("sin-v0") -> ("sin", 0)``; a name without
    a version gives ``("sin", None)``. Raises InvalidSettingError for a string that is no id. The
    one place ids are parsed (no ``rsplit("-v")``: ``"my-vortex"`` is a name, not ``"my"``)."""
    m = _ID.fullmatch(id) if isinstance(id, str) else None
    if m is None:
        raise InvalidSettingError(f"{id!r} is not an id (letters, digits, '_', '.', '-', optionally '-v<version>')")
    return m["name"], None if m["version"] is None else int(m["version"])


def base_name(id: str) -> str:
    """The name of an id without its version: ``base_name("sin-v0") -> "sin"``; a name without a
    version, or a string that is no id, is returned unchanged."""
    m = _ID.fullmatch(id) if isinstance(id, str) else None
    return id if m is None else m["name"]


class UnknownIdError(KeyError):
    """An id that is not registered; the message suggests the nearest registered id."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class InvalidSettingError(ValueError):
    """A setting (scale, hyperparameter, override) that is rejected before any work starts."""


def suggest(name: str, candidates) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or a list of candidates."""
    candidates = sorted(candidates)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; registered: {', '.join(candidates)}" if candidates else ""


@dataclass(frozen=True)
class Spec:
    """What a registered id stands for: an entry point, default keyword arguments and metadata."""

    id: str
    entry_point: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    scales: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    variant: bool = False  # e.g. a variant from the authors' code rather than the paper text
    tuning: dict[str, dict[str, dict]] = field(default_factory=dict)  # scale -> solver/preset -> settings

    @property
    def name(self) -> str:
        return split_id(self.id)[0]

    @property
    def version(self) -> int:
        return split_id(self.id)[1] or 0

    def load(self):
        return load_entry_point(self.entry_point)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_entry_point(entry_point: str):
    module, _, attr = entry_point.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


_LOADING: list[str] = []  # the plugins being imported now, innermost last (:func:`_import_plugin`)


class Registry:
    """A ``dict[id, Spec]`` with version resolution and did-you-mean errors; ``origins`` holds
    the plugin that registered an id (ids registered outside a plugin have none)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.specs: dict[str, Spec] = {}
        self.origins: dict[str, str] = {}

    def register(self, spec: Spec) -> Spec:
        """Add ``spec``. Its id must look like ``name-v0`` in a safe character set (letters, digits,
        ``_ . -``; no ``..``). An id that is already registered is refused unless the spec is the
        same (a plugin imported twice): a plugin cannot silently replace a built-in."""
        m = _ID.fullmatch(spec.id)
        if m is None or m["version"] is None or ".." in spec.id or spec.id.startswith("."):
            raise InvalidSettingError(
                f"{self.kind} id {spec.id!r} must look like 'name-v0' (letters, digits, '_', '.', '-'; no '..' or '/')"
            )
        old = self.specs.get(spec.id)
        if old is not None and old != spec:
            raise InvalidSettingError(
                f"{self.kind} id {spec.id!r} is already registered (by {old.entry_point}); "
                f"register yours under a new id, e.g. 'my-{spec.name}-v0' or "
                f"'{spec.name}-v{spec.version + 1}'"
            )
        if old is None:  # a first registration states its origin (a repeated one keeps it)
            if _LOADING:
                self.origins[spec.id] = _LOADING[-1]
            else:
                self.origins.pop(spec.id, None)
        self.specs[spec.id] = spec
        return spec

    def origin(self, id: str) -> str:
        """Where a registered id comes from: ``plugin X``, ``built-in`` (a pgbench entry point
        registered outside any plugin) or ``registered by <module>``."""
        spec = self.specs[id]
        if id in self.origins:
            return f"plugin {self.origins[id]}"
        module = spec.entry_point.partition(":")[0]
        return "built-in" if module.split(".")[0] == "pgbench" else f"registered by {module}"

    def resolution(self, name: str) -> str | None:
        """One line saying which id a bare ``name`` (no ``-v<version>``) resolves to when several
        versions of it are registered (a choice was made: ``solver gd → gd-v1 (plugin
        my_plugin.py)``). None for a versioned id or a name with one version; raises
        UnknownIdError for an unknown one."""
        m = _ID.fullmatch(name) if isinstance(name, str) else None
        if m is None or m["version"] is not None:
            return None
        spec = self.resolve(name)
        where = self.origin(spec.id)
        if sum(s.name == spec.name for s in self.specs.values()) == 1:
            return None
        return f"{self.kind} {name} → {spec.id} ({where})"

    def names(self) -> list[str]:
        load_installed_plugins()
        return sorted({s.name for s in self.specs.values()})

    def latest(self) -> list[Spec]:
        """The highest version of every registered name."""
        return [self.resolve(n) for n in self.names()]

    def resolve(self, id: str) -> Spec:
        if id in self.specs:
            return self.specs[id]
        load_installed_plugins()
        m = _ID.fullmatch(id)
        if m and m["version"] is None:
            versions = [s for s in self.specs.values() if s.name == id]
            if versions:
                return max(versions, key=lambda s: s.version)
        raise UnknownIdError(f"unknown {self.kind} {id!r}{suggest(id, self.names() + list(self.specs))}")

    def __contains__(self, id: str) -> bool:
        try:
            self.resolve(id)
            return True
        except UnknownIdError:
            return False


PROBLEMS = Registry("problem")
SOLVERS = Registry("solver")


def register_problem(
    id: str,
    entry_point: str,
    *,
    scales: dict | None = None,
    kwargs: dict | None = None,
    description: str = "",
    variant: bool = False,
    tuning: dict | None = None,
) -> Spec:
    """Register a problem family. ``scales`` maps scale names (at least ``paper`` and ``quick``)
    to field overrides of the problem class; ``kwargs`` holds defaults common to all scales;
    ``tuning`` maps a scale to solver defaults on top of the class's (:mod:`pgbench.tuning`)."""
    scales = scales or {"paper": {}, "quick": {}}
    return PROBLEMS.register(
        Spec(
            id,
            entry_point,
            dict(kwargs or {}),
            dict(scales),
            description,
            variant,
            {k: dict(v) for k, v in (tuning or {}).items()},
        )
    )


def register_solver(id: str, entry_point: str, *, kwargs: dict | None = None, description: str = "") -> Spec:
    """Register a solver: an iterative optimizer or a network training scheme."""
    return SOLVERS.register(Spec(id, entry_point, dict(kwargs or {}), {}, description))


def field_types(cls) -> dict[str, Any]:
    """``{field name: resolved type}`` of a dataclass (``from __future__ import annotations``
    leaves them as strings); resolved once per class (a sweep plans thousands of runs), a fresh
    dict per call."""
    return dict(_field_types(cls))


@functools.cache
def _field_types(cls) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: treat every field as untyped
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _arms(tp) -> tuple[list, bool]:
    """The non-None types of ``tp`` (a union is split) and whether None is allowed."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        return [a for a in args if a is not type(None)], type(None) in args
    if tp is None or tp is type(None):
        return [], True
    return [tp], tp is Any


def _type_name(tp) -> str:
    arms, optional = _arms(tp)
    names = [getattr(a, "__name__", str(a)) for a in arms] + (["None"] if optional and arms else [])
    return " | ".join(names) or "None"


def _accepts(tp, value) -> bool:
    """Whether ``value`` fits the annotation ``tp`` (ints pass for floats, bools for nothing else)."""
    arms, optional = _arms(tp)
    if value is None:
        return optional
    for arm in arms:
        base = typing.get_origin(arm) or arm
        if arm is Any:
            return True
        if base is typing.Literal:
            if value in typing.get_args(arm):
                return True
        elif base is float:
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                return True
        elif base is int:
            if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
                return True
        elif base is bool:
            if isinstance(value, (bool, np.bool_)):
                return True
        elif base in (tuple, list):
            if isinstance(value, (tuple, list)):
                return True
        elif not isinstance(base, type) or isinstance(value, base):
            return True
    return False


def _check_fields(cls, kwargs: dict, what: str) -> None:
    """Unknown names (with the nearest one) and values of the wrong type are refused."""
    if not dataclasses.is_dataclass(cls):
        return
    hints = field_types(cls)
    for k, v in kwargs.items():
        if k not in hints:
            raise InvalidSettingError(f"{what} has no setting {k!r}{suggest(k, hints)}")
        if not _accepts(hints[k], v):
            raise InvalidSettingError(f"{what} setting {k}={v!r}: expected {_type_name(hints[k])}")
        if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) and not math.isfinite(v):
            raise InvalidSettingError(f"{what} setting {k}={v!r}: expected a finite number")


def make_problem(id: str, scale: str = "paper", **overrides):
    """Instantiate a registered problem at a named scale, with any field overridden."""
    spec = PROBLEMS.resolve(id)
    if scale not in spec.scales:
        raise InvalidSettingError(f"problem {spec.id} has no scale {scale!r}{suggest(scale, spec.scales)}")
    cls = spec.load()
    kwargs = {**spec.kwargs, **spec.scales[scale], **overrides}
    _check_fields(cls, kwargs, f"problem {spec.id}")
    problem = cls(**kwargs)
    object.__setattr__(problem, "id", spec.id)
    object.__setattr__(problem, "scale", scale)
    return problem


def make_solver(id: str, **hyperparameters):
    """Instantiate a registered solver with hyperparameters (validated by the solver class)."""
    spec = SOLVERS.resolve(id)
    cls = spec.load()
    kwargs = {**spec.kwargs, **hyperparameters}
    _check_fields(cls, kwargs, f"solver {spec.id}")
    solver = cls(**kwargs)
    object.__setattr__(solver, "id", spec.id)
    return solver


PLUGIN_GROUP = "pgbench.plugins"
_installed_loaded = False


def load_installed_plugins() -> None:
    """Import, once per process, every installed package's ``pgbench.plugins`` entry point (a
    module whose import registers problems or solvers, or a function that does so when called):

    .. code-block:: toml

        [project.entry-points."pgbench.plugins"]
        my_problems = "my_pkg.pgbench_plugin"

    A plugin that fails to import is reported with a warning and skipped."""
    global _installed_loaded
    if _installed_loaded:
        return
    _installed_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):

        def load(ep=ep):
            obj = ep.load()
            if callable(obj) and not isinstance(obj, type):
                obj()

        try:
            _import_plugin(f"{ep.name} ({ep.value})", load)
        except Exception as e:
            import warnings

            warnings.warn(
                f"pgbench plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}", stacklevel=2
            )


def plugin_module_name(path) -> str:
    """The module name a plugin file is imported under: ``pgbench_plugin_<stem>_<hash>``, the hash
    of its resolved path, so two files named alike in different folders are two modules and one
    file reached by two paths is one."""
    resolved = Path(path).resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    stem = re.sub(r"\W", "_", resolved.stem)
    return f"pgbench_plugin_{stem}_{digest}"


def _import_plugin(what: str, load) -> None:
    """Run ``load`` (a plugin's import) with ``what`` recorded as the origin of the ids it
    registers (:func:`origin`); a ``sys.exit`` there becomes an InvalidSettingError naming it."""
    _LOADING.append(what)
    try:
        load()
    except SystemExit as e:
        raise InvalidSettingError(f"plugin {what!r} called sys.exit({e.code!r}) on import") from None
    finally:
        _LOADING.pop()


def load_plugin(module_or_path: str) -> None:
    """Import a user module (``my_pkg.problems``) or file (``./my_problem.py``) whose import
    registers problems or solvers; a file is imported as :func:`plugin_module_name`. What the
    plugin raises on import propagates (a ``sys.exit`` as InvalidSettingError)."""
    path = Path(module_or_path)
    if module_or_path.endswith(".py") or path.exists():
        if not path.is_file():
            raise InvalidSettingError(f"plugin file {module_or_path!r} does not exist")
        name = plugin_module_name(path)
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # not a suffix Python imports (.py, .so, ...)
            raise InvalidSettingError(f"plugin file {module_or_path!r} is not a Python module file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            _import_plugin(module_or_path, lambda: spec.loader.exec_module(module))
        except BaseException:
            del sys.modules[name]
            raise
        return
    try:
        _import_plugin(module_or_path, lambda: importlib.import_module(module_or_path))
    except ModuleNotFoundError as e:
        raise InvalidSettingError(f"plugin {module_or_path!r} cannot be imported: {e}") from None
