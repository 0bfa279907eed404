"""What ``time_pgbench.py`` and ``profile_pgbench.py`` share: their arguments and the problem they
build (paper scale at a given batch, held-out evaluation off so that it does not enter the loop)."""

from __future__ import annotations

import argparse

import pgbench


def parser(doc: str, steps: int) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--problem", required=True)
    ap.add_argument("--solver", required=True)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=steps)
    return ap


def problem(args):
    return pgbench.make_problem(args.problem, scale="paper", batch_size=args.batch, test_size=args.batch,
                                eval_every=0)
