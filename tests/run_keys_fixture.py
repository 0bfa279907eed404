"""Add the run keys of new reproduction tasks to tests/data/run_keys.json (checked by
tests/test_run_keys.py): every task of the quick and paper reproductions and of the paper
`early` budget set, on torch and jax, with the machine-dependent fields blanked (numerics {},
device name "-"). Entries already recorded are never rewritten, so a key that changed fails the
test instead of being re-recorded; remove an entry by hand only for a task that no longer exists.

    python tests/run_keys_fixture.py
"""

from __future__ import annotations

import json
from pathlib import Path

from pgbench import reproduce, store

FILE = Path(__file__).resolve().parent / "data" / "run_keys.json"


def task_name(scale: str, backend: str, task, budget: str | None = None) -> str:
    """``scale/backend/problem/solver/label/seed[/budget]``: unique per task (the solver id tells
    apart a training scheme and an iterative solver that share a label, e.g. "PG (inverse)")."""
    return f"{scale}/{backend}/{task.problem}/{task.solver}/{task.label}/{task.seed}" + (f"/{budget}" if budget else "")


def current() -> dict[str, str]:
    """``task_name -> run key`` for every task planned today."""
    out = {}
    for scale, budget in (("quick", None), ("paper", None), ("paper", "early")):
        for backend in ("torch", "jax"):
            todo, _ = reproduce.tasks(scale, backend=backend, budget=budget)
            for t in todo:
                meta = dict(t.plan().meta, numerics={}, device_name="-")
                name = task_name(scale, backend, t, budget)
                assert name not in out, f"two tasks named {name}"
                out[name] = store.run_key(meta)
    return out


def main():
    recorded = json.loads(FILE.read_text()) if FILE.exists() else {}
    now = current()
    added = {k: v for k, v in now.items() if k not in recorded}
    FILE.write_text(json.dumps({**recorded, **added}, indent=1, sort_keys=True) + "\n")
    print(f"{len(added)} added, {len(recorded)} kept in {FILE}")


if __name__ == "__main__":
    main()
