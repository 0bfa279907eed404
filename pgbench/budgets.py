"""Named budget sets of the paper scale (``pgbench reproduce --scale paper --budget NAME``): which
experiments of :data:`pgbench.recipes.EXPERIMENTS` they hold and how far each runs (recipe data,
no running, no printing)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .recipes import EXPERIMENTS, Experiment
from .registry import InvalidSettingError, suggest


@dataclass(frozen=True)
class Budget:
    """One experiment's budget in a named budget set (paper scale only): ``iterations`` replaces
    the paper budget of every kept method (method-level overrides included); ``seeds`` the paper
    seeds; ``methods`` the labels kept (None: all)."""

    iterations: int | None = None
    seeds: tuple[int, ...] | None = None
    methods: tuple[str, ...] | None = None


#: Named budget sets for ``--scale paper --budget NAME``: the experiments they hold and how far
#: each runs. ``early`` stops every training run just after the point the paper's early claims are
#: read at (Poisson 60 → 100, heat 100 → 150, Navier-Stokes 200 → 250 iterations, DP (Adam) and
#: PG (inverse), 3 seeds), with sin (20,000 × 4 seeds), the wave packet (2,000 × 3 seeds) and the
#: cheap single-problem sin experiment at their full paper budgets, and the PDE single-problem
#: experiments at 100 iterations (heat's and the Navier-Stokes estimator's full budget; 100 of
#: Poisson's 1,000 and of Navier-Stokes GD's 10,000): what a 2-core CPU reaches
#: (docs/paper_cpu.md). Fig. 2a's trajectories (seconds) and NeurIPS Fig. 2's three nets (exp,
#: 10,000 steps, 3 seeds) run at their paper budgets. Experiments outside the set are left out with
#: a note.
BUDGETS: dict[str, dict[str, Budget]] = {
    "early": {
        "sin-training": Budget(20000, (0, 1, 2, 3)),
        "sin-optimisation": Budget(100),
        "sin-dp-variant": Budget(20000, (0, 1, 2, 3)),
        "sin-annealed": Budget(20000, (0, 1, 2, 3)),
        "sin-amsgrad": Budget(20000, (0, 1, 2, 3)),
        "wavepacket": Budget(2000, (0, 1, 2)),
        "poisson-training": Budget(100, (0, 1, 2), ("DP (Adam)", "PG (inverse)")),
        "heat-training": Budget(150, (0, 1, 2), ("DP (Adam)", "PG (inverse)")),
        "navier-stokes-training": Budget(250, (0, 1, 2), ("DP (Adam)", "PG (inverse)")),
        "heat-optimisation": Budget(100),
        "navier-stokes-optimisation": Budget(100),
        "poisson-optimisation": Budget(100),
        "quadratic2d-trajectories": Budget(),
        "exp-inversion": Budget(None, (0, 1, 2), ("DP (SGD)", "DP (Adam)", "Rescaled (sign)")),
    },
}


def budgeted(name: str, experiments=None) -> tuple[list[Experiment], list[str]]:
    """The experiments of budget set ``name`` with its budgets applied at the paper scale, and
    notes naming the experiments it leaves out. Raises InvalidSettingError (with the nearest
    name) for an unknown set or a set naming an unknown experiment or method."""
    if name not in BUDGETS:
        raise InvalidSettingError(f"unknown budget set {name!r}{suggest(str(name), BUDGETS)}")
    experiments = EXPERIMENTS if experiments is None else experiments
    by_name = {e.name: e for e in experiments}
    out, notes = [], []
    for ename, b in BUDGETS[name].items():
        if ename not in by_name:
            raise InvalidSettingError(f"budget set {name!r}: no experiment {ename!r}{suggest(ename, by_name)}")
        e = by_name[ename]
        methods = e.methods
        if b.methods is not None:
            labels = [m.label for m in e.methods]
            for lab in b.methods:
                if lab not in labels:
                    raise InvalidSettingError(
                        f"budget set {name!r}: {ename} has no method {lab!r}{suggest(lab, labels)}"
                    )
            methods = tuple(m for m in e.methods if m.label in b.methods)
        if b.iterations is not None:
            methods = tuple(
                dataclasses.replace(m, iterations={**m.iterations, "paper": b.iterations})
                if "paper" in m.iterations
                else m
                for m in methods
            )
        out.append(
            dataclasses.replace(
                e,
                methods=methods,
                iterations={**e.iterations, "paper": b.iterations} if b.iterations is not None else e.iterations,
                seeds={**e.seeds, "paper": b.seeds} if b.seeds is not None else e.seeds,
            )
        )
    left = [e.name for e in experiments if e.name not in BUDGETS[name]]
    if left:
        notes.append(f"budget {name}: not in the set, left out: {', '.join(left)}")
    return out, notes


__all__ = ["Budget", "BUDGETS", "budgeted"]
