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
