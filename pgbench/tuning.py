"""Per-problem solver tuning: the step sizes and learning rates that suit one problem (mostly the
paper's values), kept apart from the problem's settings.

A problem's table maps a solver name (``"gd"``) or a named preset (``"paper_sgd"``: the paper's
SGD baseline, ``lbfgsb_pg``: the ICLR L-BFGS-B physical gradient) to hyperparameters. It is the
problem class's ``solver_defaults`` (and ``presets``), updated per scale by the registration's
``tuning={scale: {name: settings}}``. Because the table is not part of the problem's settings,
retuning one solver on one problem changes only the keys of runs that use that solver there.

>>> tuned(make_problem("poisson", scale="quick"), "gd")      # {'eta': 0.0003}
>>> make_tuned_solver(problem, "dp", **preset(problem, "paper_sgd"))
"""

from __future__ import annotations

from .registry import PROBLEMS, SOLVERS, InvalidSettingError, make_solver, suggest


def table(problem) -> dict[str, dict]:
    """``{solver name or preset: hyperparameters}`` of ``problem`` at its scale."""
    out = {
        k: dict(v) for k, v in {**getattr(problem, "solver_defaults", {}), **getattr(problem, "presets", {})}.items()
    }
    pid = getattr(problem, "id", "?")
    if pid in PROBLEMS.specs:
        for name, settings in PROBLEMS.specs[pid].tuning.get(getattr(problem, "scale", "?"), {}).items():
            out[name] = {**out.get(name, {}), **settings}
    return out


def tuned(problem, solver: str) -> dict:
    """The problem's defaults for ``solver`` (an id or name; ``{}`` if it has none)."""
    return dict(table(problem).get(SOLVERS.resolve(solver).name, {}))


def preset(problem, name: str) -> dict:
    """A named set of hyperparameters of ``problem`` (e.g. ``paper_sgd``); raises if absent."""
    presets = {k: v for k, v in table(problem).items() if k not in SOLVERS.names()}
    if name not in presets:
        raise InvalidSettingError(f"problem {problem.id} has no preset {name!r}{suggest(name, presets)}")
    return dict(presets[name])


def make_tuned_solver(problem, solver: str, **hyperparameters):
    """``make_solver(solver)`` with the problem's defaults for it overridden by ``hyperparameters``."""
    return make_solver(solver, **{**tuned(problem, solver), **hyperparameters})


__all__ = ["table", "tuned", "preset", "make_tuned_solver"]
