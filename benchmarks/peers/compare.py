"""Seconds per training iteration of pgbench next to its PhiFlow peer, in one run, as a ratio table.

For every experiment and method (heat: Adam, Adam + PG; Poisson: Adam, SIP; Navier-Stokes: Adam
(DP), PG) this runs, each in a fresh subprocess and one after the other:

* the peer, ``phiflow_peer.py``, under ``--phiflow-python`` (a Python with phiflow 2.2.7 + torch;
  ``--phiflow-python-ns`` for Navier-Stokes if that needs another environment);
* pgbench on each ``--backends`` entry through ``benchmarks/reference/time_pgbench.py --json``;
* optionally (``--authors-sip PATH``) the authors' unchanged scripts through
  ``benchmarks/reference/time_authors_code.py`` (heat, Poisson and, under ``--phiflow-python-ns``,
  Navier-Stokes) as a cross-check of the peer.

Each side reports the median over the iterations after the first (which includes compilation).
Writes ``OUT.json`` (every measurement, the table rows, machine, load before and after) and
``OUT.md`` (the table). ``--skip-peer`` times pgbench only (no PhiFlow needed).

    python benchmarks/peers/compare.py --experiments heat poisson navier-stokes --batch 8 --batch-ns 2 \\
        --device cpu --phiflow-python /work/phiflow-venv/bin/python --out results/peers/cpu
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from table import EXPERIMENTS, cases, markdown, median_after_first, ratio_rows  # noqa: E402


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _env(threads: int, pythonpath: str | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def _run(cmd, env, timeout) -> tuple[str | None, str]:
    """(stdout, error message or '')."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if p.returncode != 0:
        return None, (p.stderr or p.stdout)[-2000:]
    return p.stdout, ""


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def measure(side, case, cmd, env, timeout, backend=None, parse=None) -> dict:
    """Run one timing subprocess and return its measurement (``median`` None on failure)."""
    out, err = _run(cmd, env, timeout)
    m = {"side": side, "experiment": case.experiment, "method": case.method, "backend": backend,
         "command": " ".join(cmd), "seconds": [], "median": None, "error": err}
    if out is not None:
        try:
            m.update((parse or _parse_json)(out))
        except (ValueError, KeyError) as e:
            m["error"] = f"could not parse output ({e}): {out[-500:]}"
    print(f"  {side:8s} {case.experiment:14s} {case.method:3s} {backend or '':6s} "
          f"{m['median'] if m['median'] is not None else 'FAILED: ' + m['error'][-300:]}", flush=True)
    return m


def _parse_json(out: str) -> dict:
    d = _last_json(out)
    m = {"seconds": d["seconds"], "median": median_after_first(d["seconds"])}
    if d.get("cpu_seconds"):
        m.update(cpu_seconds=d["cpu_seconds"], cpu_median=median_after_first(d["cpu_seconds"]))
    return m


def _parse_authors(out: str) -> dict:
    """``time_authors_code.py`` prints the median and the times after the first iteration."""
    mt = re.search(r"median ([0-9.eE+-]+) s/iteration \(all: ([^)]*)\)", out)
    if not mt:
        raise ValueError("no 'median ... s/iteration' line")
    return {"median": float(mt.group(1)), "seconds": [float(s) for s in mt.group(2).split(",") if s.strip()]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    ap.add_argument("--methods", nargs="+", default=["dp", "pg"], choices=["dp", "pg"])
    ap.add_argument("--backends", nargs="+", default=["torch", "jax"], choices=["torch", "jax"])
    ap.add_argument("--batch", type=int, default=128, help="heat and Poisson batch (paper: 128)")
    ap.add_argument("--batch-ns", type=int, default=64, help="Navier-Stokes batch (paper: 64)")
    ap.add_argument("--steps", type=int, default=6, help="timed iterations per run (the first is dropped)")
    ap.add_argument("--steps-ns", type=int, default=None, help="iterations for Navier-Stokes (default --steps)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS / torch threads of every side")
    ap.add_argument("--phiflow-python", default=None, help="Python with phiflow 2.2.7 + torch (the peer)")
    ap.add_argument("--phiflow-python-ns", default=None, help="the same for Navier-Stokes (default --phiflow-python)")
    ap.add_argument("--torch-compile-cg", action="store_true",
                    help="pgbench torch: CG iterations under torch.compile (TorchBackend.cg_compile)")
    ap.add_argument("--skip-peer", action="store_true", help="time pgbench only")
    ap.add_argument("--pgbench-before", default=None, help="another pgbench source tree (e.g. `git archive` of "
                    "an earlier commit): also timed, right after pgbench, as side 'pgbench-before' (the "
                    "'before' columns), with this tree's time_pgbench.py")
    ap.add_argument("--authors-sip", default=None, help="clone or bare git dir of tum-pbs/SIP: also time the "
                    "authors' unchanged scripts (cross-check of the peer)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    ap.add_argument("--out", required=True, help="output prefix: writes OUT.json and OUT.md")
    args = ap.parse_args(argv)
    if not args.skip_peer and not args.phiflow_python:
        ap.error("--phiflow-python is required unless --skip-peer")
    if args.authors_sip and not args.phiflow_python:
        ap.error("--authors-sip needs --phiflow-python (the authors' scripts run under PhiFlow)")

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.node(), "cpu": _cpu(), "device": args.device, "threads": args.threads,
            "batch": args.batch, "batch_ns": args.batch_ns, "steps": args.steps,
            "torch_compile_cg": args.torch_compile_cg, "pgbench_before": args.pgbench_before,
            "command": " ".join([Path(sys.executable).name] + sys.argv), "uptime_before": uptime()}
    print(f"{meta['uptime_before']}", flush=True)
    measurements = []
    for case in cases(args.experiments):
        if case.method not in args.methods:
            continue
        ns = case.experiment == "navier-stokes"
        batch, steps = (args.batch_ns, args.steps_ns or args.steps) if ns else (args.batch, args.steps)
        common = ["--batch", str(batch), "--steps", str(steps), "--device", args.device]
        py = (args.phiflow_python_ns or args.phiflow_python) if ns else args.phiflow_python
        if not args.skip_peer:
            cmd = [py, str(HERE / "phiflow_peer.py"), "--experiment", case.experiment, "--method", case.method,
                   "--threads", str(args.threads)] + common
            measurements.append(measure("peer", case, cmd, _env(args.threads, None), args.timeout))
        if args.authors_sip and case.authors:
            cmd = [py, str(ROOT / "benchmarks/reference/time_authors_code.py"), "--sip",
                   args.authors_sip, "--experiment", case.experiment, "--method", case.authors,
                   "--batch", str(batch), "--steps", str(steps), "--device", args.device]
            measurements.append(measure("authors", case, cmd, _env(args.threads, None), args.timeout,
                                        parse=_parse_authors))
        for backend in args.backends:
            cmd = [sys.executable, str(ROOT / "benchmarks/reference/time_pgbench.py"), "--problem", case.problem,
                   "--solver", case.method, "--backend", backend, "--json"] + common
            if backend == "torch" and args.torch_compile_cg:
                cmd.append("--torch-compile-cg")
            measurements.append(measure("pgbench", case, cmd, _env(args.threads, str(ROOT)), args.timeout,
                                        backend=backend))
            if args.pgbench_before:
                measurements.append(measure("pgbench-before", case, cmd, _env(args.threads, args.pgbench_before),
                                            args.timeout, backend=backend))
    meta["uptime_after"] = uptime()
    rows = ratio_rows(measurements, tuple(args.backends))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows, "measurements": measurements},
                                                   indent=1, default=str))
    header = (f"Seconds per training iteration, median after the first; {args.device} ({meta['cpu']}), "
              f"{args.threads} thread(s), batch {args.batch} (Navier-Stokes {args.batch_ns}); "
              + ("torch CG under torch.compile; " if args.torch_compile_cg else "")
              + f"{meta['date']}.\nLoad before: `{meta['uptime_before']}`; after: `{meta['uptime_after']}`.")
    md = markdown(rows, header)
    Path(args.out + ".md").write_text(md)
    print(md)
    return 0


def _cpu() -> str:
    """CPU model and core count (from /proc/cpuinfo where there is one)."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


if __name__ == "__main__":
    sys.exit(main())
