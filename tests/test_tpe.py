"""Optuna's TPE as the trial sampler (pgbench.tpe, ``pgbench tune --sampler tpe``) on the
synthetic methods of tests/tune_plugin.py."""

import hashlib
import json
import math
import sys
from dataclasses import asdict

import numpy as np
import pytest
import tune_plugin

from pgbench import tune
from pgbench.registry import InvalidSettingError


@pytest.fixture(scope="module", autouse=True)
def _synthetic_methods():
    with tune_plugin.registered():
        yield


HB = [tune.Method("HB", "heavy-ball")]


def _distance(settings: dict) -> float:
    """How far heavy ball's settings are from (η, β) = (0.01, 0.5), in decades of η and units of β."""
    return abs(math.log10(settings["eta"] / 0.01)) + abs(settings["beta"] - 0.5)


@pytest.mark.parametrize("informed", [True, False])
def test_tpe_learns_from_the_scores_it_is_told(informed):
    """A sweep whose validation error is the distance of the settings from a known optimum: once
    TPE has scores to learn from, its proposals concentrate near it (of trials 30-59, 40 % lie
    within 0.25 of it, measured with sampler seed 0); told the same score for every trial, they do
    not (13 %, about as often as the start-up's random draws)."""
    pytest.importorskip("optuna")
    from pgbench import tpe
    from pgbench.tasks import Outcome

    protocol = tune.Protocol("diag-quadratic", trials=60, validation_seeds=(1,), test_seeds=(2,), sampler="tpe")

    def sweep(tasks):
        return [Outcome(t, "ok", "-", "", x_error=_distance(t.hyperparameters) if informed else 1.0) for t in tasks]

    trials = tpe.run_trials(protocol, HB[0], sweep, tune.score)
    d = np.array([_distance(trial[0].task.hyperparameters) for trial in trials])
    assert len(d) == 60
    near = float(np.mean(d[30:] < 0.25))
    assert near >= 0.3 if informed else near < 0.2, d


def test_tpe_trials_are_reproducible_and_resume_from_the_store(tmp_path):
    pytest.importorskip("optuna")
    protocol = tune.Protocol("diag-quadratic", trials=12, validation_seeds=(1,), test_seeds=(2,), sampler="tpe")
    first = tune.tune(protocol, HB, tmp_path)
    events = []
    again = tune.tune(protocol, HB, tmp_path, progress=events.append)
    assert again.methods[0].trials == first.methods[0].trials
    finished = [e for e in events if e.kind == "finish"]
    assert finished and all(e.outcome.cached for e in finished)  # every trial and test run found stored


def test_the_sampler_is_checked_and_the_default_keeps_protocol_names():
    with pytest.raises(InvalidSettingError, match="sampler must be one of halton, tpe"):
        tune.Protocol("diag-quadratic", sampler="random")
    p = tune.Protocol("diag-quadratic", trials=3)
    old = {k: v for k, v in asdict(p).items() if k not in ("max_time_clock", "time_caps", "sampler")}
    spec = {"protocol": old, "methods": [("HB", "heavy-ball", {})]}
    before = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert p.key(HB) == before  # a protocol file written before the sampler existed keeps its name
    assert tune.Protocol("diag-quadratic", trials=3, sampler="tpe").key(HB) != before


def test_tpe_without_optuna_is_a_clear_error_before_any_run(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    protocol = tune.Protocol("diag-quadratic", trials=3, validation_seeds=(1,), test_seeds=(2,), sampler="tpe")
    with pytest.raises(InvalidSettingError, match="pip install optuna"):
        tune.tune(protocol, HB, tmp_path)
    assert not list(tmp_path.rglob("*.parquet"))
