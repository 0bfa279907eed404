"""The example panels' data (y*, each method's prediction, x*; paper Fig. 1, 4a, 5a, 6a, 11-13
tops): the ``<run_key>.examples.npz`` files stored next to the runs. They are made by the run's
finish (:mod:`pgbench.examples`, contents described there); the report only reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def load_examples(*roots) -> list[dict]:
    """Every ``*.examples.npz`` under the roots: dicts with the arrays and ``meta``."""
    out = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.examples.npz")):
            try:
                with np.load(path) as f:
                    d = {k: f[k] for k in f.files if k != "meta"}
                    d["meta"] = json.loads(str(f["meta"]))
                    d["path"] = str(path)
                out.append(d)
            except Exception:
                continue
    return out
