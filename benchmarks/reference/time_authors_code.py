"""Time one training iteration of the paper authors' own code (github.com/tum-pbs/SIP), unchanged.

Run in a separate environment with PhiFlow 2.2.7 (``pip install phiflow==2.2.7 torch``); this file
contains none of the authors' code: it reads their ``heat/train_heat.py``, ``poisson/train_poisson.py``
or ``fluid/train_fluid.py`` from a local clone at run time and executes it with these stand-ins:

* ``phi.vis.view`` returns a viewer whose ``range()`` yields ``--steps`` training steps for the
  chosen method (zero for the others) and records ``time.perf_counter()`` per step;
* ``Scene.create`` records nothing and networks are saved under a temporary HOME; the scripts'
  GPU request answers False with ``--device cpu`` and is carried out with ``--device cuda``
  (then every time stamp waits for the GPU: ``torch.cuda.synchronize()``);
* the batch size literal is replaced via ``phi.math.batch(batch=...)`` (``--batch``);
* the fluid script picks its method by the assignment ``method = 'PG'``; that one literal becomes
  ``--method`` (``PG`` or ``GD``, their name for Adam through the differentiable simulation). It
  needs NumPy < 2 (PhiFlow 2.2.7's ``Noise``), so run it from such an environment;
* optional packages of methods not timed (torch_optimizer, hessianfree, torch_kfac) are stubbed;
* PhiFlow 2.2.7's ``math.seed`` is given NumPy 2's legacy seeding (the only fix the reference
  measurement in shared/reference/authors-code-timings.md applied).

Prints the median seconds per iteration over the steps after the first (data generation,
forward, backward and optimizer step, as the authors' loop does them).

    python time_authors_code.py --sip /path/to/SIP --experiment heat --method Adam --batch 8 --steps 6
    python time_authors_code.py --sip /path/to/SIP --experiment navier-stokes --method PG --batch 2 --steps 4
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

FILES = {"heat": "heat/train_heat.py", "poisson": "poisson/train_poisson.py",
         "navier-stokes": "fluid/train_fluid.py"}
FLUID_METHOD = "method = 'PG'\n"   # the fluid script's only method switch


def read_source(sip: Path, rel: str) -> str:
    if (sip / rel).exists():
        return (sip / rel).read_text()
    return subprocess.run(["git", "--git-dir", str(sip), "show", f"HEAD:{rel}"], check=True,
                          capture_output=True, text=True).stdout


def select_fluid_method(code: str, method: str) -> str:
    """The fluid script with its one method assignment set to ``method``."""
    if method not in ("PG", "GD"):
        raise SystemExit(f"navier-stokes: method must be PG or GD (the script's names), got {method!r}")
    if code.count(FLUID_METHOD) != 1:
        raise SystemExit(f"fluid script: expected one line {FLUID_METHOD.strip()!r} to set the method")
    return code.replace(FLUID_METHOD, f"method = {method!r}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sip", required=True, help="clone (or bare git dir) of tum-pbs/SIP")
    ap.add_argument("--experiment", choices=sorted(FILES), required=True)
    ap.add_argument("--method", required=True,
                    help="heat: Adam | 'Adam + PG' | SGD; poisson: Adam | SIP | SGD; navier-stokes: PG | GD")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args()
    sip = Path(args.sip)
    exp_dir = Path(tempfile.mkdtemp())
    rel = FILES[args.experiment]
    for name in (rel, "heat/inv_diffuse.py"):
        (exp_dir / Path(name).name).write_text(read_source(sip, name))
    sys.path.insert(0, str(exp_dir))

    for mod in ("torch_optimizer", "hessianfree", "hessianfree.optimizer", "torch_kfac"):
        m = types.ModuleType(mod)
        m.Adahessian = m.HessianFree = m.KFAC = lambda *a, **k: None
        sys.modules[mod] = m
    import numpy as np
    import torch
    import phi.math
    import phi.vis
    from phi import math
    from phi.math.backend import _backend as _b  # noqa: F401

    def seed(s):
        np.random.seed(s)
        torch.manual_seed(s)
    math.seed = phi.math.seed = seed

    real_batch = phi.math.batch

    def batch(*a, **k):
        if "batch" in k:
            k["batch"] = args.batch
        return real_batch(*a, **k)
    phi.math.batch = batch

    import os
    home = Path(tempfile.mkdtemp())   # the scripts save networks under ~/phi/...; keep that out of the way
    os.environ["HOME"] = str(home)
    for d in ("heat_net2", "poisson_net2"):
        (home / "phi" / d).mkdir(parents=True)
    times: list[float] = []
    state = {"scene": ""}
    cuda = args.device == "cuda"
    fluid = args.experiment == "navier-stokes"

    def stamp():
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    class Scene:
        @staticmethod
        def create(path, name=""):
            state["scene"] = name
            return types.SimpleNamespace(subpath=lambda p: str(home / p), path=path)

    class Viewer:
        def __init__(self, *a, **k):
            self.scene = types.SimpleNamespace(subpath=lambda p: str(home / p))

        def info(self, *a, **k):
            pass

        def log_scalars(self, **k):
            stamp()

        def range(self):
            if not fluid and state["scene"].split("_lr")[0] != args.method:
                return
            stamp()
            for i in range(args.steps):
                yield i

    phi.vis.view = lambda *a, **k: Viewer()
    import phi.torch.flow as flow
    flow.view = phi.vis.view
    flow.Scene = Scene
    flow.batch = batch
    flow.math.seed = seed
    from phi.torch import TORCH
    if cuda:
        assert TORCH.set_default_device("GPU"), "PhiFlow found no GPU"
    else:
        TORCH.set_default_device = lambda *a, **k: False
    import phi.math.backend as mb
    real_default = mb.default_backend

    class _BackendProxy:
        def __getattr__(self, n):
            if n == "set_default_device":
                return (lambda *a, **k: True) if not cuda else real_default().set_default_device
            return getattr(real_default(), n)
    flow.backend = types.SimpleNamespace(default_backend=lambda: _BackendProxy())

    code = (exp_dir / Path(rel).name).read_text()
    if fluid:
        code = select_fluid_method(code, args.method)
    code = code.replace("from phi.torch.flow import *", "from phi.torch.flow import *\nfrom __main__ import _overrides\nglobals().update(_overrides)")
    import __main__
    __main__._overrides = {"view": phi.vis.view, "Scene": Scene, "batch": batch,
                           "backend": flow.backend, "TORCH": TORCH, "torch": torch}
    script = exp_dir / Path(rel).name
    script.write_text(code)   # PhiFlow's vis.control() reads its calling line back from this file
    module = types.ModuleType("authors_script")   # a real module: PhiFlow's record() looks up its caller's
    module.__file__ = str(script)                  # module through inspect.getmodule
    sys.modules[module.__name__] = module
    exec(compile(code, str(script), "exec"), module.__dict__)
    dts = [b - a for a, b in zip(times[:-1], times[1:])][1:]
    print(f"authors {args.experiment} {args.method!r} batch={args.batch} steps={len(dts) + 1}: "
          f"median {statistics.median(dts):.4f} s/iteration (all: {', '.join(f'{d:.3f}' for d in dts)})")


if __name__ == "__main__":
    main()
