"""``pgbench advise``: which method to train a user's problem with, found by the tuning protocol
(:mod:`pgbench.tune`) sized to a wall-time budget planned up front.

1. **candidates** — every method that can run on the problem: for a problem with a network the
   training schemes (DP with Adam and with SGD, PG, supervised, HIG, L-BFGS, Hessian-free), else
   the iterative solvers; those that cannot run are listed with the reason.
2. **pilot** — each candidate runs ``PILOT_ITERATIONS`` steps at its defaults (not stored): its
   start-up seconds :math:`s_m` and its mean wall and CPU seconds per iteration after the first
   step, :math:`c_m` and :math:`\\gamma_m`; a method whose pilot takes
   more than ``PILOT_SHARE`` of the budget (at least ``PILOT_FLOOR`` seconds) cannot be tuned
   within it and is left out, with the reason.
3. **plan** — with :math:`n = T V + 2 S` runs per method (T trials × V validation seeds, then
   the chosen and the default settings on S test seeds), every run of method m gets a time cap
   :math:`C_m = \\max(k I \\gamma_m, C_0)` CPU seconds (``CAP_FACTOR`` k = 2, ``CAP_FLOOR``
   :math:`C_0`, :math:`\\gamma_m` the pilot's CPU seconds per iteration: on the CPU clock, which
   the machine's load does not bend, so a trial is stopped for its own cost, never for a busy
   neighbour); a run not done by then is stopped and stored ``over_budget``, which selection
   counts as failed (:func:`pgbench.tune.score`). The iteration budget is the largest
   :math:`I \\le I_{scale}` for which both the expected time
   :math:`n \\sum_m (s_m + I c_m + (I/e + 1) v_m) \\le f\\,B'` and the worst case, every run
   stopped at its cap, :math:`n \\sum_m (s_m + C_m c_m/\\gamma_m + (I/e + 1) v_m) \\le B'`
   (:math:`c_m` wall seconds per iteration, :math:`s_m` start-up, warm-up and storing, :math:`v_m`
   one held-out evaluation every :math:`e` iterations, all measured by the pilot; B' the budget
   left after the pilot, f = 0.8 for safety). The pilot runs at the defaults and
   cannot foresee settings that make a step costlier (a damping that multiplies the CG steps of
   Hessian-free): the caps make the budget a bound (at the machine's load during the pilot), not
   an estimate. Below ``MIN_ITERATIONS`` the
   trials shrink (not below ``MIN_TRIALS``), and a budget that still cannot hold the protocol is
   refused with the budget it needs. The plan (runs, iterations, caps, ETA, worst case) is shown
   before any tuning run.
   **calibration** — the pilot's five steps cannot show a step cost that grows during a run
   (Hessian-free's CG steps as the network trains): each method then runs once at its defaults
   for the planned iterations (unstored, capped at ``CALIBRATION_FACTOR`` × its planned cap), its
   mean wall and CPU seconds per iteration replace the pilot's, and the protocol is sized again
   with what is left of the budget — caps included.
4. **recommendation** — the methods ranked by median test error under external tuning, with
   90 % intervals, tied ranks and the bootstrap probability of being best, the chosen settings,
   and what tuning cost.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace

from .registry import make_problem
from .runner import run as run_once
from .tune import Method, Protocol

PILOT_ITERATIONS = 5
PILOT_SHARE = 0.03  # of the budget, per method: a method whose pilot takes longer is left out ...
PILOT_FLOOR = 30.0  # ... but never less than this many seconds (one-off start-up: imports, compilation)
MIN_ITERATIONS = 50
MIN_TRIALS = 4
SAFETY = 0.8
CAP_FACTOR = 2.0  # a run may take this many times the clock time the pilot predicts for it ...
CAP_FLOOR = 1.0  # ... and never less than this many seconds (timing jitter of very cheap runs)
WARM_UP_STEPS = 2  # a capped run is warmed up first (pgbench.runner.execute_runs): steps off its clock
CALIBRATION_FACTOR = 2.0  # the calibration run's cap, in caps of the pilot's plan
TRAINING = ("dp:optimizer=adam", "dp:optimizer=sgd", "pg", "supervised", "hig", "lbfgs", "hf")
ITERATIVE = ("gd", "adam", "newton", "gauss-newton", "lm", "lbfgsb", "invgrad", "inverse")


def parse_budget(text: str) -> float:
    """``"20m"``, ``"90s"``, ``"1h30m"`` or plain seconds → seconds (> 0)."""
    t = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        seconds = float(t)
    else:
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
        if not t or parts is None or not any(parts.groups()):
            raise ValueError(f"budget {text!r}: expected e.g. 20m, 90s, 1h30m or seconds")
        h, m, s = (float(g) if g else 0.0 for g in parts.groups())
        seconds = 3600 * h + 60 * m + s
    if not 0 < seconds < math.inf:
        raise ValueError(f"budget {text!r} must be a positive duration")
    return seconds


def has_network(problem) -> bool:
    try:
        problem.network()
    except (TypeError, NotImplementedError):
        return False
    return True


@dataclass
class Candidates:
    methods: list[Method]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def candidates(problem_id: str, scale: str, backend: str, names=None) -> Candidates:
    """The methods that can run on the problem (each planned once; failures become reasons)."""
    from .planning import plan

    problem = make_problem(problem_id, scale=scale)
    names = list(names) if names else list(TRAINING if has_network(problem) else ITERATIVE)
    out = Candidates([])
    for name in names:
        m = Method.parse(name)
        try:
            plan(problem, m.solver, backend=backend, scale=scale, **m.settings)
        except Exception as e:  # incompatible, missing library, bad setting: a reason, not a crash
            out.skipped.append((name, str(e).splitlines()[0] if str(e) else type(e).__name__))
            continue
        out.methods.append(m)
    return out


@dataclass(frozen=True)
class Cost:
    """A method's measured cost: start-up seconds, wall seconds per iteration and per held-out
    evaluation, and CPU seconds per iteration (NaN: not measured, taken equal to the wall's)."""

    startup: float
    per_iteration: float
    per_evaluation: float = 0.0  # one held-out evaluation (off the run's clock, not off the user's)
    cpu_per_iteration: float = math.nan

    @property
    def cpu(self) -> float:
        """CPU seconds per iteration (the wall's where not measured or not positive)."""
        c = self.cpu_per_iteration
        return c if math.isfinite(c) and c > 0 else self.per_iteration

    @property
    def wall_per_cpu(self) -> float:
        """Wall seconds per CPU second of a step, as the pilot saw it (the machine's load then)."""
        return self.per_iteration / self.cpu if self.cpu > 0 else 1.0

    def overhead(self, iterations: int, eval_every: int) -> float:
        """Wall seconds of one stored run that are off its clock: start-up, warm-up, storing and
        held-out evaluations."""
        evaluations = (iterations // eval_every + 1) if eval_every else 0
        return self.startup + WARM_UP_STEPS * self.per_iteration + evaluations * self.per_evaluation

    def run_seconds(self, iterations: int, eval_every: int) -> float:
        """Estimated wall seconds of one stored run of ``iterations``."""
        return self.overhead(iterations, eval_every) + iterations * self.per_iteration

    def cap(self, iterations: int) -> float:
        """The time cap of one run of ``iterations``: CPU seconds of the run (module docstring)."""
        return max(CAP_FACTOR * iterations * self.cpu, CAP_FLOOR)

    def worst_seconds(self, iterations: int, eval_every: int) -> float:
        """Wall seconds of one stored run stopped at its cap (at the pilot's ratio of wall to CPU
        seconds): the most a run of the plan takes."""
        return self.overhead(iterations, eval_every) + self.cap(iterations) * self.wall_per_cpu


class TooSlow(Exception):
    """A pilot run passed its time cap."""


def pilot(problem_id: str, method: Method, scale: str, backend: str, seed: int, cap: float = math.inf) -> Cost:
    """Run ``PILOT_ITERATIONS`` steps of ``method`` at its defaults, unstored, and time them;
    raises :class:`TooSlow` as soon as the pilot has taken more than ``cap`` seconds."""
    import tempfile

    from . import store

    t0 = time.perf_counter()
    stamps: dict[int, float] = {}

    def watch(progress) -> None:
        stamps[progress.iteration] = time.perf_counter()
        if stamps[progress.iteration] - t0 > cap:
            raise TooSlow(f"{PILOT_ITERATIONS} pilot iterations take more than {cap:.0f} s here")

    settings = dict(method.settings)
    result = run_once(problem_id, method.solver, iterations=PILOT_ITERATIONS, seed=seed, backend=backend, scale=scale,
                      callback=watch, throw=True, **settings)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # a stored run also pays for its file
        store.save(result, tmp, result.examples)
    total = time.perf_counter() - t0
    per = _mean_step(result.records, "wall_time")
    per = per if math.isfinite(per) and per > 0 else total / PILOT_ITERATIONS
    cpu = _mean_step(result.records, "cpu_time")
    # the last row follows a held-out evaluation (off the run's clock): real minus clock time
    rows = result.records.set_index("iteration")["wall_time"] if len(result.records) else None
    first, last = min(stamps, default=0), max(stamps, default=0)
    per_eval = 0.0
    if rows is not None and last > first and first in rows.index and last in rows.index:
        per_eval = max((stamps[last] - stamps[first]) - float(rows[last] - rows[first]), 0.0)
    return Cost(max(total - PILOT_ITERATIONS * per - per_eval, 0.0), per, per_eval, cpu)


def _mean_step(rows, column: str) -> float:
    """Mean seconds per step on ``column``'s clock over the pilot's steps after its first (whose
    one-off costs count as start-up): the time between the first and the last recorded update
    over the steps between them; NaN with fewer than two updates recorded."""
    if rows is None or column not in rows or "iteration" not in rows:
        return math.nan
    done = rows[rows["iteration"] >= 1].sort_values("iteration")
    if len(done) < 2:
        return math.nan
    steps = float(done["iteration"].iloc[-1] - done["iteration"].iloc[0])
    return float(done[column].iloc[-1] - done[column].iloc[0]) / steps if steps > 0 else math.nan


def calibrate(
    problem_id: str, method: Method, cost: Cost, iterations: int, scale: str, backend: str, seed: int
) -> tuple[Cost, str]:
    """One run of ``method`` at its defaults for the planned ``iterations`` (unstored), capped at
    ``CALIBRATION_FACTOR`` × the cap the pilot gives, and the cost with its wall and CPU seconds
    per iteration replaced by that run's means (over the iterations it did, if it reached the cap):
    a step whose cost grows during a run (Hessian-free's CG steps) is seen at the planned length,
    which five pilot steps cannot show. Returns the cost and its status (ok, over_budget, ...)."""
    cap = CALIBRATION_FACTOR * cost.cap(iterations)
    result = run_once(problem_id, method.solver, iterations=iterations, seed=seed, backend=backend, scale=scale,
                      max_time_clock="cpu", time_cap=cap, **method.settings)  # fmt: skip
    rows = result.records
    done = rows[rows["iteration"] >= 1] if len(rows) else rows
    if done.empty:
        return cost, result.status
    last = done.iloc[-1]
    steps = float(last["iteration"])
    wall, cpu = float(last["wall_time"]) / steps, float(last["cpu_time"]) / steps
    if not (math.isfinite(wall) and wall > 0):
        return cost, result.status
    return replace(cost, per_iteration=wall, cpu_per_iteration=cpu), result.status


@dataclass(frozen=True)
class Plan:
    """The sized protocol (with every method's time cap), its estimated wall time and the most it
    can take (every run stopped at its cap)."""

    protocol: Protocol
    runs: int
    eta_seconds: float
    worst_seconds: float = math.nan


def size(
    problem_id: str,
    costs: dict[str, Cost],
    budget: float,
    scale: str,
    backend: str,
    trials: int,
    validation_seeds: tuple[int, ...],
    test_seeds: tuple[int, ...],
    default_iterations: int,
    eval_every: int = 0,
) -> Plan:
    """The largest iteration budget (≤ the scale's) and trials (≤ ``trials``, ≥ ``MIN_TRIALS``)
    whose estimated wall time fits ``SAFETY`` × ``budget`` and whose worst case (every run at its
    cap) fits ``budget`` (module docstring); ValueError naming the budget needed when even the
    smallest protocol does not fit."""
    v, s = len(validation_seeds), len(test_seeds)

    def seconds(n: int, iterations: int) -> float:
        return n * sum(c.run_seconds(iterations, eval_every) for c in costs.values())

    def worst(n: int, iterations: int) -> float:
        return n * sum(c.worst_seconds(iterations, eval_every) for c in costs.values())

    def fits(n: int, iterations: int) -> bool:
        return seconds(n, iterations) <= SAFETY * budget and worst(n, iterations) <= budget

    for t in range(trials, MIN_TRIALS - 1, -1):
        n = t * v + 2 * s
        lo, hi = 0, default_iterations  # the largest that fits: both times grow with the iterations
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(n, mid) else (lo, mid - 1)
        iterations = lo
        if iterations >= min(MIN_ITERATIONS, default_iterations) and fits(n, iterations):
            protocol = Protocol(
                problem_id,
                scale=scale,
                trials=t,
                validation_seeds=validation_seeds,
                test_seeds=test_seeds,
                iterations=iterations,
                backend=backend,
                max_time_clock="cpu",
                time_caps={m: round(c.cap(iterations), 3) for m, c in costs.items()},
            )
            return Plan(protocol, n * len(costs), seconds(n, iterations), worst(n, iterations))
    n = MIN_TRIALS * v + 2 * s
    least = min(MIN_ITERATIONS, default_iterations)
    need = max(seconds(n, least) / SAFETY, worst(n, least))
    raise ValueError(
        f"a budget of {budget:.0f} s cannot hold {MIN_TRIALS} trials × {v} validation seeds + {2 * s} test runs "
        f"of {min(MIN_ITERATIONS, default_iterations)} iterations for {len(costs)} methods; it needs about "
        f"{math.ceil(need / 60)} min"
    )


__all__ = [
    "calibrate",
    "CAP_FACTOR",
    "CAP_FLOOR",
    "parse_budget",
    "candidates",
    "pilot",
    "TooSlow",
    "size",
    "Plan",
    "Cost",
    "Candidates",
    "has_network",
]
