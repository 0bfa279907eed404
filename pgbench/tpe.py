"""Trials proposed by Optuna's tree-structured Parzen estimator (``pgbench tune --sampler tpe``),
an optional alternative to the quasi-random trials of :mod:`pgbench.search_space`.

TPE (Bergstra et al. 2011) is sequential: after a few random start-up trials it splits the trials
so far at a quantile of their validation score into "good" and "bad", fits a Parzen density
:math:`\\ell(x)` to the good and :math:`g(x)` to the bad settings, and proposes the candidate that
maximises :math:`\\ell(x)/g(x)`. So trial i's settings depend on the scores of trials 0..i−1:
the trials of a method run one after another (each on every validation seed), never as one batch.
The score told to it is the protocol's validation score (:func:`pgbench.tune.score`: ∞ for a
diverged, failed or over-budget seed; TPE ranks scores, so their scale does not matter).

Reproducible: the sampler is seeded by the protocol's ``sampler_seed``, and each trial is an
ordinary keyed run, so a resumed campaign is told the same scores, proposes the same settings
and finds their runs stored. Optuna is an optional dependency (``pip install optuna`` or
``pgbench[tune]``); without it, asking for TPE is a clear error before any run.
"""

from __future__ import annotations

from collections.abc import Callable

from .registry import InvalidSettingError
from .search_space import Choice, Dimension, LogUniform, Uniform


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InvalidSettingError(
            "--sampler tpe needs Optuna: pip install optuna (or pgbench[tune]); the default sampler "
            "(halton) needs nothing"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_available() -> None:
    """Raise InvalidSettingError (how to install it) unless Optuna can be imported."""
    _optuna()


def distribution(d: Dimension):
    """The Optuna distribution of a dimension of :mod:`pgbench.search_space`."""
    optuna = _optuna()
    if isinstance(d, LogUniform):
        return optuna.distributions.FloatDistribution(d.low, d.high, log=True)
    if isinstance(d, Uniform):
        return optuna.distributions.FloatDistribution(d.low, d.high)
    if isinstance(d, Choice):
        return optuna.distributions.CategoricalDistribution(tuple(d.values))
    raise InvalidSettingError(f"TPE cannot sample a dimension of type {type(d).__name__}")


def run_trials(protocol, method, run: Callable[[list], list], score: Callable[[list], float]) -> list[list]:
    """``protocol.trials`` trials of ``method`` proposed by TPE, one after another: each trial's
    validation tasks are handed to ``run`` (a sweep: tasks → outcomes), its ``score`` (the
    protocol's validation score, :func:`pgbench.tune.score`) told to TPE.
    Returns the outcomes per trial (the trials' settings are their tasks'). An empty space: one
    trial, the defaults (as with the quasi-random sampler)."""
    optuna = _optuna()
    space = method.resolved_space()
    dists = {name: distribution(space[name]) for name in sorted(space)}
    sampler = optuna.samplers.TPESampler(seed=protocol.sampler_seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    trials = []
    for i in range(protocol.trials if dists else 1):
        proposal = study.ask(dists)
        settings = {**method.settings, **proposal.params}
        tasks = [protocol.task(method, settings, s, f"{method.label} · trial {i}") for s in protocol.validation_seeds]
        outcomes = run(tasks)
        study.tell(proposal, score(outcomes))  # ∞ for a trial with a failed seed: the worst
        trials.append(outcomes)
    return trials


__all__ = ["run_trials", "distribution", "check_available"]
