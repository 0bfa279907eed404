"""Explicit, named random streams.

``rng(seed, "train", 17)`` is the numpy generator for training batch 17 of seed ``seed``: the
same numbers for every solver, backend and device, independent of what ran before. Streams are
keyed by name so adding a stream never shifts another.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng(seed: int, stream: str, index: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(stream.encode()), int(index)])


# --- many streams at once --------------------------------------------------------------------------
# numpy's SeedSequence (pool of 4 uint32 words, the hash constants of numpy.random.bit_generator)
# written over arrays, so that S seeds × k batches cost one pass instead of S·k SeedSequence
# constructions; each PCG64 is then seeded in C from its precomputed words. Checked against
# :func:`rng` at first use (a numpy that seeds otherwise takes :func:`rng` one by one).
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_VERIFIED: list[bool] = []


def _seed_states(words: np.ndarray) -> np.ndarray:
    """``SeedSequence(entropy).generate_state(4, np.uint64)`` for N entropies of 3 uint32 words
    each (``words``: (N, 3) uint32): hash the words into a pool of 4, mix every pool word into
    every other, then hash the pool into 8 output words; returns (N, 4) uint64."""
    u32 = np.uint32
    with np.errstate(over="ignore"):
        hc = u32(_INIT_A)

        def hashmix(v):
            nonlocal hc
            v = v ^ hc
            hc = u32(hc * u32(_MULT_A))
            v = v * hc
            return v ^ (v >> u32(16))

        def mix(x, y):
            r = u32(_MIX_L) * x - u32(_MIX_R) * y
            return r ^ (r >> u32(16))

        pool = [hashmix(words[:, i]) for i in range(3)] + [hashmix(np.zeros(words.shape[0], u32))]
        for src in range(4):
            for dst in range(4):
                if src != dst:
                    pool[dst] = mix(pool[dst], hashmix(pool[src]))
        hb = u32(_INIT_B)
        out = np.empty((words.shape[0], 8), u32)
        for i in range(8):
            v = pool[i % 4] ^ hb
            hb = u32(hb * u32(_MULT_B))
            v = v * hb
            out[:, i] = v ^ (v >> u32(16))
    lo, hi = out[:, 0::2].astype(np.uint64), out[:, 1::2].astype(np.uint64)  # little-endian word pairs
    return lo | (hi << np.uint64(32))


class _Words(np.random.bit_generator.ISeedSequence):
    """A seed sequence whose state words are already computed (:func:`_seed_states`)."""

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("precomputed for PCG64: 4 uint64 words")
        return self.words


def rngs(pairs, stream: str) -> list[np.random.Generator]:
    """``[rng(seed, stream, index) for seed, index in pairs]``: the same generators (the same
    numbers), seeded together: one array pass of numpy's SeedSequence over all pairs. Seeds or
    indices outside [0, 2³²) take :func:`rng` one by one."""
    pairs = [(int(s), int(i)) for s, i in pairs]
    if not pairs or not all(0 <= s < 2**32 and 0 <= i < 2**32 for s, i in pairs) or not _verified():
        return [rng(s, stream, i) for s, i in pairs]
    crc = zlib.crc32(stream.encode())
    states = _seed_states(np.array([(s, crc, i) for s, i in pairs], dtype=np.uint32))
    return [_generator(w) for w in states]


def _generator(words: np.ndarray) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(_Words(words)))  # type: ignore[arg-type]  # an ISeedSequence


def _verified() -> bool:
    """Whether the array seeding reproduces :func:`rng` on this numpy (checked once)."""
    if not _VERIFIED:
        pairs = [(0, 0), (1, 17), (12345, 4_000_000_000), (4_294_967_295, 3)]
        crc = zlib.crc32(b"train")
        ours = _seed_states(np.array([(s, crc, i) for s, i in pairs], dtype=np.uint32))
        same = [
            _generator(w).bit_generator.state == rng(s, "train", i).bit_generator.state
            for w, (s, i) in zip(ours, pairs, strict=True)
        ]
        _VERIFIED.append(all(same))
    return _VERIFIED[0]
