"""Follow one run from the command line to its parquet file: which pgbench modules it passes
through, how often the run key is computed and how often a divergence rule is applied.

    python benchmarks/measure/trace_run.py [ARGS...]    # default: run sin pg --iterations 5 --seeds 0

Run it from a checkout's root (the ``pgbench`` package found first on ``sys.path`` is traced).
Prints the modules in the order first entered, then the counts; ``--results`` goes to a
temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path


def main(argv: list[str]) -> None:
    import pgbench
    from pgbench import cli

    root = Path(pgbench.__file__).resolve().parent
    order: list[str] = []
    calls: Counter = Counter()

    def tracer(frame, event, arg):
        if event != "call":
            return None
        path = Path(frame.f_code.co_filename)
        if root in path.parents:
            mod = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
            if mod not in calls:
                order.append(mod)
            calls[mod] += 1
            calls[f"{mod}:{frame.f_code.co_name}"] += 1
        return None

    with tempfile.TemporaryDirectory() as tmp:
        args = argv or ["run", "sin", "pg", "--iterations", "5", "--seeds", "0"]
        sys.setprofile(tracer)
        try:
            cli.main([*args, "--results", tmp, "--quiet"])
        except SystemExit:
            pass
        finally:
            sys.setprofile(None)
        files = list(Path(tmp).rglob("*.parquet"))
    print(f"{len(order)} modules: {' → '.join(order)}")
    print(f"parquet files written: {len(files)}")
    cached = ("pgbench.runner", "pgbench.planning")  # RunPlan.run_key: the cached property, not a hash
    run_key = sum(v for k, v in calls.items() if k.endswith(":run_key") and not k.startswith(cached))
    print(f"run_key computations (hashes of the key fields): {run_key}")
    watch = sum(v for k, v in calls.items() if k.endswith("divergence:__call__"))
    classify = sum(v for k, v in calls.items() if k.endswith("divergence:classify"))
    print(f"divergence rule: {watch} rows watched while running; classify() on read: {classify}")


if __name__ == "__main__":
    main(sys.argv[1:])
