"""Register this machine with asv under a name that carries its GPU: ``<host>-<gpu>``.

asv's machine record has no GPU field and ``asv compare`` only compares results of one machine,
so the GPU must be in the machine name (``lab1-h100-80gb-hbm3``, ``lab1-cpu`` without a GPU); the
full GPU name is appended to the ``cpu`` field so that ``asv publish`` can facet by it.

    python scripts/asv_machine.py            # = asv machine --yes --machine <name> --cpu "<cpu> + <gpu>"
    python scripts/asv_machine.py --print    # only print the name

The GPU is read from ``nvidia-smi`` (no CUDA context is created); without it, from torch.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys


def gpu_names() -> list[str]:
    """Names of the visible NVIDIA GPUs, e.g. ``["NVIDIA H100 80GB HBM3"]`` (empty: none)."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            return [line.strip() for line in out.splitlines() if line.strip()]
        except (subprocess.SubprocessError, OSError):
            pass
    try:
        import torch
        if torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return []


def slug(text: str) -> str:
    text = re.sub(r"\b(nvidia|geforce|tesla)\b", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def machine_name(host: str | None = None, gpus: list[str] | None = None) -> str:
    """``<host>-<gpu>``: ``box-h100-80gb-hbm3``, ``box-2x-a100-sxm4-40gb``, or ``box-cpu``."""
    host = slug((host or platform.node() or "host").split(".")[0]) or "host"
    gpus = gpu_names() if gpus is None else gpus
    if not gpus:
        return f"{host}-cpu"
    first = slug(gpus[0])
    count = f"{len(gpus)}x-" if len(gpus) > 1 else ""
    return f"{host}-{count}{first}"


def cpu_name() -> str:
    try:
        from pgbench.backends.base import cpu_name as pg_cpu_name
        return pg_cpu_name()
    except Exception:  # noqa: BLE001 - any pgbench version
        return platform.processor() or platform.machine()


def register(name: str, cpu: str, path: str | None = None) -> dict:
    """Write the asv machine record ``name`` (detected os/arch/num_cpu/ram, our ``cpu``) to
    ``~/.asv-machine.json`` (or ``path``)."""
    from asv.machine import Machine, MachineCollection
    info = {**Machine.get_defaults(), "machine": name, "cpu": cpu}
    MachineCollection.save(name, info, _path=path)
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the machine name and exit")
    parser.add_argument("--host", help="host part of the name (default: this host's name)")
    args, rest = parser.parse_known_args(argv)
    gpus = gpu_names()
    name = machine_name(args.host, gpus)
    if args.print:
        print(name)
        return 0
    cpu = cpu_name() + (f" + {len(gpus)}x {gpus[0]}" if gpus else "")
    if not rest:
        # `asv machine --yes --machine X --cpu Y` stores only the fields that differ from the
        # detected defaults (asv 0.6.6), dropping os/arch/num_cpu/ram: write the full record.
        try:
            info = register(name, cpu)
            print(f"asv machine {name}: {info}")
            return 0
        except ImportError:
            pass
    cmd = [sys.executable, "-m", "asv", "machine", "--yes", "--machine", name, "--cpu", cpu, *rest]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
