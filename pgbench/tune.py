"""The tuning protocol: every method gets the same number of trials, chosen on validation seeds,
judged on test seeds that selection never sees (AlgoPerf's *external tuning* ruleset), beside
its defaults on the same test seeds (the *self-tuning* ruleset: no tuning at all).

For a problem and methods (a solver with fixed settings, e.g. ``dp:optimizer=sgd``):

1. **trials** — ``trials`` points of the method's declared search space
   (:mod:`pgbench.search_space`, quasi-random, the same sampler seed for every method; or, with
   ``sampler="tpe"``, proposed one after another by Optuna's TPE, :mod:`pgbench.tpe`), each
   run on every validation seed. A trial is an ordinary keyed run: stored, resumable,
   distributable like any sweep (:func:`pgbench.sweep.run_sweep`).
2. **selection** — per method the trial with the lowest *validation score*: the median over the
   validation seeds of the final held-out x error, a diverged, failed or over-budget seed (a run
   stopped at its time cap, ``Protocol.time_caps``) counting as ∞
   (ties: the earlier trial). Selection is a function of the validation outcomes only.
3. **test** — the chosen settings and the defaults, each on every test seed (disjoint from the
   validation seeds, checked before any work).

Methods are compared on the test seeds by the median final x error with a bootstrap interval
(:func:`pgbench.analysis.uncertainty.seed_interval`) and a rank that ties overlapping intervals
(:func:`~pgbench.analysis.uncertainty.tied_rank`), under each ruleset. The protocol and its
outcome are written to ``<store>/<problem>/tuning-<hash>.json``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import search_space
from .registry import SOLVERS, InvalidSettingError, make_problem
from .store import DEFAULT_ROOT, inside, write_text_atomic
from .sweep import run_sweep
from .tasks import Event, Outcome, Task, coerce

DEFAULT_TRIALS = 20
SAMPLERS = ("halton", "tpe")
VALIDATION_SEEDS = (1000, 1001)
TEST_SEEDS = (2000, 2001, 2002, 2003, 2004)


@dataclass(frozen=True)
class Method:
    """A method to tune: ``solver`` with fixed ``settings`` (never varied), shown as ``label``;
    ``space``: what the trials vary (default: the solver's declaration, ``space_for(settings)``)."""

    label: str
    solver: str
    settings: dict = field(default_factory=dict)
    space: dict | None = None

    def resolved_space(self) -> dict:
        if self.space is not None:
            return dict(self.space)
        return SOLVERS.resolve(self.solver).load().space_for(self.settings)

    @classmethod
    def parse(cls, text: str) -> Method:
        """``SOLVER`` or ``SOLVER:KEY=VALUE,KEY=VALUE`` (e.g. ``dp:optimizer=sgd``), labelled by
        the text itself; values are typed by the solver's fields."""
        solver, _, rest = text.partition(":")
        cls_ = SOLVERS.resolve(solver).load()  # unknown ids suggest the nearest
        settings = {}
        for part in filter(None, rest.split(",")):
            key, eq, value = part.partition("=")
            if not eq:
                raise InvalidSettingError(f"method {text!r}: expected KEY=VALUE after ':', got {part!r}")
            settings[key.strip()] = coerce(cls_, key.strip(), value.strip(), what=f"{solver} setting")
        return cls(text, solver, settings)


@dataclass(frozen=True)
class Protocol:
    """The rules of one tuning campaign on ``problem`` (every method under the same ones)."""

    problem: str
    scale: str = "quick"
    trials: int = DEFAULT_TRIALS
    validation_seeds: tuple[int, ...] = VALIDATION_SEEDS
    test_seeds: tuple[int, ...] = TEST_SEEDS
    iterations: int | None = None
    max_time: float | None = None
    backend: str = "torch"
    sampler_seed: int = 0
    threads: int | None = 1
    max_time_clock: str = "wall"  # the clock of max_time and the time caps (pgbench.clocks)
    time_caps: dict | None = None  # method label -> seconds per run (pgbench.advise), else None
    sampler: str = "halton"  # how trials are proposed: "halton" (quasi-random) or "tpe" (pgbench.tpe)

    def __post_init__(self):
        if self.trials < 1:
            raise InvalidSettingError(f"trials must be >= 1, got {self.trials}")
        if not self.validation_seeds or not self.test_seeds:
            raise InvalidSettingError("the protocol needs at least one validation seed and one test seed")
        shared = sorted(set(self.validation_seeds) & set(self.test_seeds))
        if shared:
            raise InvalidSettingError(f"validation and test seeds must be disjoint; both have {shared}")
        if self.sampler not in SAMPLERS:
            raise InvalidSettingError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")

    def task(self, method: Method, settings: dict, seed: int, label: str) -> Task:
        return Task(
            self.problem,
            method.solver,
            scale=self.scale,
            seed=seed,
            backend=self.backend,
            iterations=self.iterations,
            max_time=self.max_time,
            hyperparameters=settings,
            label=label,
            threads=self.threads,
            max_time_clock=self.max_time_clock,
            time_cap=(self.time_caps or {}).get(method.label),
        )

    def key(self, methods: list[Method]) -> str:
        """12 hex digits naming this protocol with these methods (its JSON file); the fields added
        after the first protocols were written count only when set, so their names stay."""
        fields_ = asdict(self)
        for name, default in (("max_time_clock", "wall"), ("time_caps", None), ("sampler", "halton")):
            if fields_[name] == default:
                del fields_[name]
        spec = {"protocol": fields_, "methods": [(m.label, m.solver, m.settings) for m in methods]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]


def trial_settings(protocol: Protocol, method: Method) -> list[dict]:
    """The settings of each trial: the fixed settings with one point of the space each (an empty
    space: one trial, the defaults)."""
    points = search_space.sample(method.resolved_space(), protocol.trials, protocol.sampler_seed)
    return [{**method.settings, **p} for p in points]


def score(outcomes: list[Outcome]) -> float:
    """A trial's validation score: the median final held-out x error over its seeds, a seed that
    diverged, failed or has no finite error counting as ∞."""
    vals = [
        o.x_error if o.status == "ok" and o.x_error is not None and math.isfinite(o.x_error) else math.inf
        for o in outcomes
    ]
    return float(np.median(vals)) if vals else math.inf


@dataclass(frozen=True)
class Selection:
    """The chosen trial of a method: its index, settings and validation score; ``scores``: every
    trial's."""

    index: int
    settings: dict
    score: float
    scores: tuple[float, ...]


def select(protocol: Protocol, settings: list[dict], outcomes: list[list[Outcome]]) -> Selection:
    """The trial with the lowest validation score (ties: the earlier). Raises if an outcome is
    not of a validation seed: selection must never see a test seed."""
    for trial in outcomes:
        for o in trial:
            if o.task.seed not in protocol.validation_seeds:
                raise RuntimeError(f"selection was handed seed {o.task.seed}, not a validation seed")
    scores = tuple(score(t) for t in outcomes)
    best = int(np.argmin(scores))  # argmin returns the first of equal values
    return Selection(best, settings[best], scores[best], scores)


@dataclass
class Tuned:
    """One method's outcome: trials, selection, test outcomes under both rulesets, tuning cost."""

    method: Method
    trials: list[dict]
    selection: Selection
    tuned: list[Outcome]
    default: list[Outcome]
    cost_seconds: float
    trial_statuses: dict = field(default_factory=dict)  # status -> how many trial runs ended so


@dataclass
class TuneReport:
    protocol: Protocol
    methods: list[Tuned]
    path: str = ""
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Per method and ruleset: median test error with its interval, k/n ok, tied rank."""
        from .analysis.uncertainty import seed_interval, tied_rank

        rows = []
        for t in self.methods:
            for ruleset, outs in (("external", t.tuned), ("self", t.default)):
                errs = [o.x_error if o.status == "ok" and o.x_error is not None else math.inf for o in outs]
                errs = [e if math.isfinite(e) else math.inf for e in errs]
                lo, hi = seed_interval(errs)
                rows.append(
                    {
                        "method": t.method.label,
                        "ruleset": ruleset,
                        "test_error": float(np.median(errs)),
                        "error_lo": lo,
                        "error_hi": hi,
                        "ok": sum(o.status == "ok" for o in outs),
                        "seeds": len(outs),
                        "settings": json.dumps(
                            t.selection.settings if ruleset == "external" else t.method.settings, sort_keys=True
                        ),
                        "validation_score": t.selection.score if ruleset == "external" else math.nan,
                        "trials": len(t.trials) if ruleset == "external" else 0,
                        "tuning_seconds": t.cost_seconds if ruleset == "external" else 0.0,
                    }
                )
        df = pd.DataFrame(rows)
        if df.empty:
            return df
        df["rank"] = 0
        for _, g in df.groupby("ruleset"):
            df.loc[g.index, "rank"] = tied_rank(g["error_lo"], g["error_hi"])
        return df.sort_values(["ruleset", "rank", "test_error"]).reset_index(drop=True)

    def as_dict(self) -> dict:
        return {
            "protocol": asdict(self.protocol),
            "methods": [
                {
                    "label": t.method.label,
                    "solver": t.method.solver,
                    "settings": t.method.settings,
                    "space": search_space.describe(t.method.resolved_space()),
                    "trials": t.trials,
                    "validation_scores": list(t.selection.scores),
                    "chosen": t.selection.index,
                    "chosen_settings": t.selection.settings,
                    "tuned_runs": [o.run_key for o in t.tuned],
                    "default_runs": [o.run_key for o in t.default],
                    "tuned_errors": [_finite(o) for o in t.tuned],  # per test seed; None: not ok or no error
                    "default_errors": [_finite(o) for o in t.default],
                    "tuning_seconds": t.cost_seconds,
                    "trial_statuses": dict(t.trial_statuses),
                }
                for t in self.methods
            ],
            "table": json.loads(self.table().to_json(orient="records")),
        }


def _finite(o: Outcome) -> float | None:
    """A test run's final x error, None where it is not ok or not finite (∞ for the board)."""
    x = o.x_error
    return float(x) if o.status == "ok" and x is not None and math.isfinite(x) else None


def plan_tasks(protocol: Protocol, methods: list[Method]) -> dict[str, list[list[Task]]]:
    """Every trial's validation tasks, per method label, validated (planned) before any work
    (with TPE, whose trials depend on earlier scores, the quasi-random points stand in for them:
    the space's bounds are checked, the counts hold)."""
    make_problem(protocol.problem, scale=protocol.scale)  # an unknown problem suggests the nearest
    if protocol.sampler == "tpe":
        from .tpe import check_available

        check_available()
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        repeated = sorted({x for x in labels if labels.count(x) > 1})
        raise InvalidSettingError(f"each method needs its own label; repeated: {repeated}")
    out = {}
    for m in methods:
        trials = trial_settings(protocol, m)
        out[m.label] = [
            [protocol.task(m, s, seed, f"{m.label} · trial {i}") for seed in protocol.validation_seeds]
            for i, s in enumerate(trials)
        ]
        for seed in protocol.test_seeds:  # the defaults' test runs: checked now, run last
            protocol.task(m, dict(m.settings), seed, f"{m.label} (default)").validate()
        for trial in out[m.label]:
            for task in trial:
                task.validate()
    return out


def tune(
    protocol: Protocol,
    methods: list[Method],
    root=DEFAULT_ROOT,
    progress: Callable[[Event], None] | None = None,
    **sweep_options,
) -> TuneReport:
    """Run the protocol (module docstring) for ``methods``: trials, selection, test runs; every
    run stored under ``root`` (finished runs are reused, so an interrupted campaign resumes).
    ``sweep_options`` go to :func:`pgbench.sweep.run_sweep` (executor, workers, scheduler,
    vectorize...)."""
    if not methods:
        raise InvalidSettingError("name at least one method to tune")
    planned = plan_tasks(protocol, methods)
    if protocol.sampler == "tpe":  # sequential: each trial's settings depend on the scores before it
        from .tpe import run_trials

        sweep = lambda tasks: run_sweep(tasks, root, progress=progress, **sweep_options)  # noqa: E731
        done = {m.label: run_trials(protocol, m, sweep, score) for m in methods}
    else:
        flat = [task for m in methods for trial in planned[m.label] for task in trial]
        by_task = dict(zip(map(id, flat), run_sweep(flat, root, progress=progress, **sweep_options), strict=True))
        done = {m.label: [[by_task[id(t)] for t in trial] for trial in planned[m.label]] for m in methods}
    results, test = [], []
    for m in methods:
        trials = done[m.label]
        chosen = select(protocol, [trial[0].task.hyperparameters for trial in trials], trials)
        # a vectorised program's time is shared evenly by its lanes (each run records the whole program's)
        cost = sum((o.wall_time or 0.0) / max(o.lanes, 1) for trial in trials for o in trial)
        results.append((m, trials, chosen, cost, Counter(o.status for trial in trials for o in trial)))
        test += [protocol.task(m, chosen.settings, seed, f"{m.label} (tuned)") for seed in protocol.test_seeds]
        test += [protocol.task(m, dict(m.settings), seed, f"{m.label} (default)") for seed in protocol.test_seeds]
    test_outs = run_sweep(test, root, progress=progress, **sweep_options)
    n = len(protocol.test_seeds)
    report = TuneReport(protocol, [])
    for i, (m, trials, chosen, cost, statuses) in enumerate(results):
        block = test_outs[2 * n * i : 2 * n * (i + 1)]
        report.methods.append(
            Tuned(m, [trial[0].task.hyperparameters for trial in trials], chosen, block[:n], block[n:], cost, statuses)
        )
    path = root_path(root, protocol, methods)
    written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")  # the board's "newest"
    write_text_atomic(path, json.dumps({**report.as_dict(), "written": written}, indent=1, sort_keys=True, default=str))
    report.path = str(path)
    return report


def root_path(root, protocol: Protocol, methods: list[Method]) -> Path:
    """``<root>/<problem>/tuning-<hash>.json`` (inside the store)."""
    problem = make_problem(protocol.problem, scale=protocol.scale).id
    return inside(Path(root) / problem / f"tuning-{protocol.key(methods)}.json", root)


__all__ = [
    "Method",
    "Protocol",
    "Selection",
    "TuneReport",
    "Tuned",
    "plan_tasks",
    "score",
    "select",
    "trial_settings",
    "tune",
    "DEFAULT_TRIALS",
    "VALIDATION_SEEDS",
    "TEST_SEEDS",
]
