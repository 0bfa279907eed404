"""asv environment plugin ``pgbench-venv``: a virtualenv per Python version that *inherits* the
packages of the Python running asv (torch, jax, numpy, scipy, ...) and holds only pgbench itself,
rebuilt and reinstalled (``--no-deps``) for every benchmarked commit.

Why: asv's plain ``virtualenv`` type would download and install torch and jax (several GB, CUDA
wheels on GPU machines) into every new environment, and the ``existing`` type cannot install other
commits at all (no ``asv continuous``). Inheriting keeps exactly the torch/jax build the user
installed for their hardware, costs nothing per commit, and works offline.

How: after creating the virtualenv, a ``_pgbench_inherit.pth`` file in its site-packages lists the
host's site-packages directories. Those are appended to ``sys.path`` *after* the environment's own
site-packages, so the pgbench wheel of the benchmarked commit always wins over any pgbench the host
has installed (``.pth`` files inside the inherited directories, e.g. an editable pgbench install,
are not processed). The versions of torch, jax and jaxlib become part of the environment's name
and of every result's parameters, so upgrading them starts a new, separately graphed series.

Loaded by ``asv.conf.json`` (``"plugins": [".scripts.asv_env"]``, relative to the directory asv
runs in, which must be the repository root).
"""

from __future__ import annotations

import importlib.metadata
import os
import site
import sys

from asv import environment
from asv.console import log
from asv.plugins.virtualenv import Virtualenv

#: Heavy packages whose host versions name the environment (they are never installed by asv).
INHERITED = ("torch", "jax", "jaxlib")


def host_versions() -> dict[str, str]:
    out = {}
    for name in INHERITED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def host_site_packages() -> list[str]:
    """The site-packages directories of the Python running asv (a venv's own first)."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


class InheritingVirtualenv(Virtualenv):
    """A virtualenv that sees the host's site-packages after its own (see the module docstring)."""

    tool_name = "pgbench-venv"

    def __init__(self, conf, python, requirements, tagged_env_vars):
        host = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if python != host:
            raise environment.EnvironmentUnavailable(
                f"pgbench-venv inherits the packages of the Python running asv ({host}); "
                f"python {python} cannot use them")
        requirements = {**host_versions(), **requirements}
        super().__init__(conf, python, requirements, tagged_env_vars)
        self._executable = sys.executable   # same interpreter build as the inherited packages

    @classmethod
    def matches(cls, python):
        return python == f"{sys.version_info[0]}.{sys.version_info[1]}"

    def _install_requirements(self):
        purelib = self.run(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
        inherited = host_site_packages()
        with open(os.path.join(purelib, "_pgbench_inherit.pth"), "w") as f:
            f.write("\n".join(inherited) + "\n")
        log.info(f"{self.name} inherits packages from {', '.join(inherited)}")
        # torch/jax (and anything else the host has) are found through the .pth file; pip then only
        # installs what the host lacks of asv's own needs (asv_runner, build, pympler, wheel, ...).
        heavy = {k: self._requirements.pop(k) for k in INHERITED if k in self._requirements}
        try:
            super()._install_requirements()
        finally:
            self._requirements.update(heavy)
