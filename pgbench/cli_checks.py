"""The command line's input checks: bad input exits with status 2 and one line ``error: ...``
on stderr, before any work starts (shared by :mod:`pgbench.cli` and :mod:`pgbench.cli_stored`)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from .cli_args import UserError
from .registry import PROBLEMS, SOLVERS, InvalidSettingError, UnknownIdError, load_plugin
from .selection import unknown
from .store import load_results
from .validate import writable_dir

USAGE_ERROR = 2
#: exceptions that mean the input was bad (raised while validating, before any work)
USER_ERRORS = (
    UserError,
    UnknownIdError,
    InvalidSettingError,
    ValueError,
    TypeError,
    RuntimeError,
    KeyError,
    ImportError,
    FileNotFoundError,
)


def fail(message: object, code: int = USAGE_ERROR) -> NoReturn:
    """Print ``message`` as one ``error:`` line on stderr and exit with ``code``."""
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def check_exist(dirs) -> None:
    """Exit 2 with one line unless every store directory in ``dirs`` exists."""
    missing = [str(d) for d in dirs if not Path(d).is_dir()]
    if missing:
        fail(f"no results directory {', '.join(missing)}")


def check_dir(path, what: str = "results folder") -> None:
    """Exit 2 with one line unless files can be written in ``path`` (see :mod:`pgbench.validate`)."""
    try:
        writable_dir(path, what)
    except InvalidSettingError as e:
        fail(e)


def load_plugins(plugins):
    """Import the plugins, saying which (their code runs here, also for ``--dry-run``)."""
    for p in plugins or []:
        try:
            load_plugin(p)
            print(f"note: imported plugin {p} (its code ran in this process)", file=sys.stderr)
        except InvalidSettingError as e:
            fail(e)
        except USER_ERRORS as e:
            fail(f"plugin {p!r}: {type(e).__name__}: {e}")
        except Exception as e:  # the user's module raised on import
            fail(f"plugin {p!r} failed to import: {type(e).__name__}: {e}")


@contextmanager
def warning_lines() -> Iterator[None]:
    """The warnings raised inside (a store's damaged files) as one ``warning:`` line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                print(f"warning: {' '.join(str(w.message).split())}", file=sys.stderr)


def say_resolved(problems, solvers) -> None:
    """One ``note:`` line on stderr for each bare name that resolves to anything but a built-in
    ``-v0`` id (``note: solver gd → gd-v1 (plugin my_plugin.py)``): a plugin's newer version
    never runs unannounced."""
    for registry, names in ((PROBLEMS, problems), (SOLVERS, solvers)):
        for name in dict.fromkeys(names or []):
            try:
                line = registry.resolution(name)
            except UnknownIdError:  # reported where the ids are checked
                continue
            if line:
                print(f"note: {line}", file=sys.stderr)


def load_stores(results_dirs, plugin):
    """Every run under ``results_dirs`` (each must exist) after loading ``plugin``; the store's
    warnings (damaged files) go to stderr."""
    check_exist(results_dirs)
    load_plugins(plugin)
    with warning_lines():
        return load_results(*results_dirs)


def check_stored(kind: str, names, df) -> None:
    """Exit 2 with the nearest id when a ``--problem`` / ``--solver`` filter names neither a
    stored nor a registered id (:func:`pgbench.selection.unknown`)."""
    labels = df["label"] if kind == "solver" and "label" in df else None
    message = unknown(kind, names, df[kind] if kind in df else None, labels)
    if message:
        fail(message)
