"""pgbench: a benchmark suite for optimizers in physics-based deep learning.

>>> import pgbench
>>> result = pgbench.run("sin", "pg", iterations=100, backend="torch")
>>> result.records[["iteration", "wall_time", "loss", "x_error"]].tail()
"""

from . import problems as _problems  # noqa: F401  (registrations)
from . import solvers as _solvers  # noqa: F401  (registrations)
from ._version import __version__
from .planning import IncompatibleError, RunPlan, plan
from .registry import (
    PROBLEMS,
    SOLVERS,
    InvalidSettingError,
    UnknownIdError,
    load_plugin,
    make_problem,
    make_solver,
    register_problem,
    register_solver,
)
from .runner import Run, RunResult, RunState, execute, run

__all__ = [
    "run",
    "plan",
    "execute",
    "Run",
    "RunState",
    "RunPlan",
    "RunResult",
    "make_problem",
    "make_solver",
    "register_problem",
    "register_solver",
    "load_plugin",
    "PROBLEMS",
    "SOLVERS",
    "UnknownIdError",
    "InvalidSettingError",
    "IncompatibleError",
    "load_results",
    "__version__",
]


def load_results(*paths):
    """All stored runs under ``paths`` (default ``results/runs``) as one tidy DataFrame, each run
    once (see :mod:`pgbench.store`)."""
    from .store import load_results as _load

    return _load(*paths)
