"""Search spaces and their quasi-random trials (pgbench.search_space)."""

import math

import numpy as np
import pytest

from pgbench import search_space as ss
from pgbench.registry import SOLVERS, InvalidSettingError


def test_points_lie_in_their_dimensions_and_cover_them():
    space = {"lr": ss.LogUniform(1e-5, 1e-1), "momentum": ss.Uniform(0.0, 0.99), "history": ss.Choice((5, 10, 20))}
    pts = ss.sample(space, 64, seed=3)
    lr = np.array([p["lr"] for p in pts])
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1
    # quasi-random: every decade of the learning rate gets its share (16 ± a few of 64)
    counts = np.histogram(np.log10(lr), bins=[-5, -4, -3, -2, -1])[0]
    assert counts.min() >= 12, counts
    assert {p["history"] for p in pts} == {5, 10, 20}
    assert all(0.0 <= p["momentum"] <= 0.99 for p in pts)


def test_same_seed_same_trials_other_seed_other_trials():
    space = {"lr": ss.LogUniform(1e-4, 1.0)}
    assert ss.sample(space, 5, seed=0) == ss.sample(space, 5, seed=0)
    assert ss.sample(space, 5, seed=0) != ss.sample(space, 5, seed=1)


def test_empty_space_is_one_trial_of_defaults():
    assert ss.sample({}, 20) == [{}]


@pytest.mark.parametrize("bad", [lambda: ss.LogUniform(0.0, 1.0), lambda: ss.LogUniform(1.0, 0.5),
                                 lambda: ss.Uniform(1.0, 1.0), lambda: ss.Uniform(0.0, math.inf),
                                 lambda: ss.Choice(()), lambda: ss.sample({}, 0)])
def test_bad_spaces_are_rejected(bad):
    with pytest.raises(InvalidSettingError):
        bad()


def test_every_registered_solver_declares_a_valid_space():
    for name in SOLVERS.names():
        cls = SOLVERS.resolve(name).load()
        space = cls.space_for({})
        fields = set(cls.__dataclass_fields__)
        assert set(space) <= fields, f"{name} declares a space over {set(space) - fields}, not its fields"
        for p in ss.sample(space, 4):
            cls(**p)  # every point is a valid setting


def test_sgd_adds_momentum_and_fixed_settings_are_not_varied():
    dp = SOLVERS.resolve("dp").load()
    assert set(dp.space_for({"optimizer": "sgd"})) == {"lr", "momentum"}
    assert set(dp.space_for({"optimizer": "adam"})) == {"lr"}
    assert set(dp.space_for({"optimizer": "adam", "lr": 1e-3})) == set()
    assert "momentum ~ uniform[0, 0.99]" in ss.describe(dp.space_for({"optimizer": "sgd"}))
