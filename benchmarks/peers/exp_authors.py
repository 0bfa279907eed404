"""Run the paper authors' ``exp/train_exp.py`` (github.com/tum-pbs/SIP, NeurIPS Fig. 2) unchanged
next to pgbench's ``exp-v0`` variants, and record both learning curves.

This file contains none of the authors' code. ``authors`` reads their script from a clone or bare
git dir at run time and executes it, in a Python with PhiFlow 2.2.7 and torch, with these
stand-ins (nothing in the training step is touched):

* ``vis.control`` (the script's method switch, a GUI drop-down) returns ``--method``;
* ``view`` returns a viewer whose ``range()`` yields ``--steps`` steps (the script asks for
  100,001), keeps the script's logged training scalars every ``--every`` steps and, after the
  update of every such step, evaluates the script's ``net`` on the held-out grid
  x* = linspace(-12, 0, 1000) (mean |x - x*|, as ``plot_exp.py`` plots it);
* ``Scene.create`` writes the script's checkpoints (``net_<step>.pth`` every 1000 steps) to a
  temporary folder;
* ``math.seed(0)``: PhiFlow 2.2.7's seeding fails under NumPy 2; the stand-in seeds NumPy, torch and
  ``random`` with ``--seed`` (0 is the script's own);
* ``TORCH.set_default_device('GPU')`` is a no-op on a CPU-only machine;
* ``--method Adam``: the one text patch. The script's optimizer line (SGD 1e-2) and the commented
  Adam 1e-3 line below it are swapped (the authors' "Adam" curve, ``plot_exp.py:62``).

``pgbench`` runs the matching pgbench configuration (see :data:`PGBENCH`) in the pgbench venv and
records its held-out ``eval_x_error`` (its own fixed held-out batch of 1000 x* ~ U(-12, 0)) and
the final network's mean |x - x*| on the same grid. ``plot`` draws both side by side.

    /work/phiflow-venv/bin/python benchmarks/peers/exp_authors.py authors --sip SIP --method Sign \\
        --steps 10000 --seed 0 --out results/exp-authors/authors-Sign-0.json
    PYTHONPATH=. python benchmarks/peers/exp_authors.py pgbench --method Sign --steps 10000 --seed 0 \\
        --out results/exp-authors/pgbench-Sign-0.json
    python benchmarks/peers/exp_authors.py plot --dir results/exp-authors
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

SCRIPT = "exp/train_exp.py"
METHODS = ("Adjoint", "Adam", "Ground Truth", "Newton", "Newton Clipped", "Sign")
SGD_LINE = "optimizer = optim.SGD(net.parameters(), lr=1e-2)\n"
ADAM_LINE = "# optimizer = optim.Adam(net.parameters(), lr=1e-3)\n"
# the authors' variant -> pgbench's recipe label, solver and hyperparameters (exp-v0 defaults: SGD 1e-2)
PGBENCH = {
    "Adjoint": ("DP (SGD)", "dp", {}),
    "Adam": ("DP (Adam)", "dp", {"optimizer": "adam", "lr": 1e-3}),
    "Ground Truth": ("Supervised", "supervised", {}),
    "Newton": ("PG (Newton)", "pg", {}),
    "Newton Clipped": ("PG (Newton, clipped)", "pg", {"inner": "newton", "inner_settings": {"clip": 0.1}}),
    "Sign": ("Rescaled (sign)", "pg", {"proxy": "l1", "inner": "inverse"}),
}
GRID = (-12.0, 0.0, 1000)


def read_source(sip: Path) -> str:
    if (sip / SCRIPT).exists():
        return (sip / SCRIPT).read_text()
    out = subprocess.run(
        ["git", "--git-dir", str(sip), "show", f"HEAD:{SCRIPT}"], check=True, capture_output=True, text=True
    )
    return out.stdout


def select_optimizer(code: str, method: str) -> str:
    """The script with the commented Adam line in place of the SGD line for ``Adam``; unchanged otherwise."""
    if method != "Adam":
        return code
    if code.count(SGD_LINE) != 1 or code.count(ADAM_LINE) != 1:
        raise SystemExit("train_exp.py: expected one SGD line and one commented Adam line")
    return code.replace(SGD_LINE, "# " + SGD_LINE).replace(ADAM_LINE, ADAM_LINE[2:])


def _machine() -> dict:
    return {
        "machine": platform.node(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
    }


def authors(args) -> dict:
    import numpy as np
    import phi.math
    import phi.vis
    import torch
    from phi import math

    torch.set_num_threads(1)
    method = "Adam" if args.method == "Adam" else args.method
    script_method = "Adjoint" if args.method == "Adam" else args.method

    def seed(_s):  # the script's math.seed(0), with NumPy 2's seeding and --seed
        np.random.seed(args.seed)  # noqa: NPY002 (what PhiFlow's math.seed does)
        torch.manual_seed(args.seed)
        random.seed(args.seed)

    phi.math.seed = seed
    math.seed = seed
    ckpt = Path(tempfile.mkdtemp())
    grid = torch.linspace(*GRID[:2], GRID[2])
    rows: list[dict] = []
    ns: dict = {}

    def held_out(net) -> float:
        with torch.no_grad():
            x = net(torch.exp(grid)[:, None])[:, 0]
        return float(torch.mean(torch.abs(x - grid)))

    class Viewer:
        steps = 0
        scene = types.SimpleNamespace(subpath=lambda p: str(ckpt / p))
        logged: dict = {}  # noqa: RUF012 (one viewer per process)

        def info(self, *a, **k):
            pass

        def log_scalars(self, **k):
            self.logged = k  # phi tensors; batch means taken only on recorded steps

        def range(self, n):
            t0 = time.perf_counter()
            for i in range(min(n, args.steps)):
                self.steps = i
                yield i
                done = i + 1  # updates done so far
                if done == 1 or done % args.every == 0 or done == args.steps:
                    rows.append(
                        {
                            "iteration": done,
                            "wall_time": time.perf_counter() - t0,
                            "eval_x_error": held_out(ns["net"]),
                            **{n: float(v.native().detach().double().mean()) for n, v in self.logged.items()},
                        }
                    )

    viewer = Viewer()

    def view(*a, namespace=None, **k):
        ns.update(namespace or {})
        return viewer

    overrides = {
        "view": view,
        "Scene": types.SimpleNamespace(create=lambda path, name="": None),
        "vis": types.SimpleNamespace(control=lambda value, options: script_method, action=phi.vis.action),
    }
    from phi.torch import TORCH

    TORCH.set_default_device = lambda *a, **k: False
    code = select_optimizer(read_source(Path(args.sip)), method)
    head = "from phi.torch.flow import *\n"
    if code.count(head) != 1:
        raise SystemExit("train_exp.py: expected its star import of phi.torch.flow")
    code = code.replace(head, head + "globals().update(__overrides__)\n")
    module = types.ModuleType("authors_train_exp")
    module.__dict__["__overrides__"] = overrides
    script = ckpt / "train_exp.py"
    script.write_text(code)
    module.__file__ = str(script)
    sys.modules[module.__name__] = module
    t0 = time.perf_counter()
    exec(compile(code, str(script), "exec"), module.__dict__)
    net = module.__dict__["net"]
    with torch.no_grad():
        x_pred = net(torch.exp(grid)[:, None])[:, 0]
    return {
        "implementation": "authors",
        "method": args.method,
        "seed": args.seed,
        "steps": args.steps,
        "seconds": time.perf_counter() - t0,
        "rows": rows,
        "final_grid": {"x_true": grid.tolist(), "x_pred": x_pred.tolist()},
        **_machine(),
    }


def pgbench_side(args) -> dict:
    import numpy as np

    import pgbench
    from pgbench.backends import get_backend

    label, solver, hp = PGBENCH[args.method]
    t0 = time.perf_counter()
    r = pgbench.run("exp", solver, iterations=args.steps, seed=args.seed, backend="torch", label=label, **hp)
    seconds = time.perf_counter() - t0
    rec = r.records
    ev = rec.dropna(subset=["eval_x_error"]) if "eval_x_error" in rec else rec.iloc[0:0]
    rows = [
        {"iteration": int(i), "wall_time": float(w), "eval_x_error": float(e), "x_l1": float(x), "y_l2": float(lo)}
        for i, w, e, x, lo in zip(
            ev["iteration"], ev["wall_time"], ev["eval_x_error"], ev["x_error"], ev["loss"], strict=True
        )
    ]
    final = None
    if r.final is not None:
        problem = pgbench.make_problem("exp")
        be = get_backend("torch")
        grid = np.linspace(*GRID[:2], GRID[2], dtype=np.float32)[:, None]
        x_pred = be.to_numpy(problem.predict(be, problem.network(), r.final, be.asarray(np.exp(grid))))
        final = {"x_true": grid[:, 0].tolist(), "x_pred": np.asarray(x_pred)[:, 0].tolist()}
    return {
        "implementation": "pgbench",
        "method": args.method,
        "label": label,
        "solver": solver,
        "hyperparameters": hp,
        "seed": args.seed,
        "steps": args.steps,
        "status": r.status,
        "message": r.message,
        "seconds": seconds,
        "rows": rows,
        "final_grid": final,
        **_machine(),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("authors", "pgbench"):
        p = sub.add_parser(name)
        p.add_argument("--method", choices=METHODS, required=True)
        p.add_argument("--steps", type=int, default=10000)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--every", type=int, default=100)
        p.add_argument("--out", required=True)
        if name == "authors":
            p.add_argument("--sip", required=True, help="clone (or bare git dir) of tum-pbs/SIP")
    p = sub.add_parser("plot")
    p.add_argument("--dir", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "plot":
        from exp_authors_plot import plot

        plot(Path(args.dir))
        return
    out = authors(args) if args.cmd == "authors" else pgbench_side(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out))
    last = out["rows"][-1] if out["rows"] else {}
    print(
        f"{out['implementation']} {args.method} seed {args.seed}: {len(out['rows'])} rows, "
        f"last {last.get('iteration')}: held-out |x-x*| {last.get('eval_x_error')}, {out['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
