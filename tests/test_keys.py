"""pgbench.keys: ``rngs`` (the streams of many (seed, index) pairs seeded in one array pass) gives
the generators of ``rng`` one by one, so vectorised runs draw exactly a separate run's numbers."""

import numpy as np
import pytest

from pgbench import keys


def _same(a, b):
    return a.bit_generator.state == b.bit_generator.state and np.array_equal(a.standard_normal(7), b.standard_normal(7))


@pytest.mark.parametrize("stream", ["train", "test", "net"])
def test_rngs_equal_rng(stream):
    pairs = [(s, i) for s in (0, 1, 5, 123456, 2**32 - 1) for i in (0, 1, 17, 10_000, 2**32 - 1)]
    for (s, i), g in zip(pairs, keys.rngs(pairs, stream), strict=True):
        assert _same(g, keys.rng(s, stream, i)), (s, i)


def test_rngs_outside_32_bits_and_empty():
    pairs = [(2**33 + 1, 3), (4, 2**40)]
    for (s, i), g in zip(pairs, keys.rngs(pairs, "train"), strict=True):
        assert _same(g, keys.rng(s, "train", i))
    assert keys.rngs([], "train") == []


def test_streams_differ():
    a, b = keys.rngs([(0, 3), (1, 3)], "train")
    assert not np.array_equal(a.uniform(size=4), b.uniform(size=4))


def test_a_wrong_hash_constant_is_caught(monkeypatch):
    """The break-the-code check: the array seeding with one constant off gives other streams."""
    monkeypatch.setattr(keys, "_MULT_B", keys._MULT_B + 2)
    monkeypatch.setattr(keys, "_VERIFIED", [True])  # skip the once-only self-check
    (g,) = keys.rngs([(3, 4)], "train")
    assert not _same(g, keys.rng(3, "train", 4))


def test_self_check_falls_back(monkeypatch):
    """Should numpy seed otherwise, the first-use check fails and rngs takes rng one by one."""
    monkeypatch.setattr(keys, "_MULT_A", keys._MULT_A + 2)
    monkeypatch.setattr(keys, "_VERIFIED", [])
    (g,) = keys.rngs([(3, 4)], "train")
    assert keys._VERIFIED == [False] and _same(g, keys.rng(3, "train", 4))
