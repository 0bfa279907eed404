"""The backend interface is complete: what physics and solvers need (pad, upsample, device and
dtype queries, constants) is declared on Backend and implemented alike by every backend, and no
module outside pgbench/backends branches on a backend's name or array module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pgbench.backends import available_backends, get_backend
from pgbench.backends.base import Backend

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = available_backends()


def test_declared_on_the_interface():
    for name in ("pad", "upsample", "array_device", "dtype_name", "constant", "conv", "max_pool"):
        assert hasattr(Backend, name), name
    assert {"pad", "upsample"} <= Backend.__abstractmethods__


@pytest.mark.parametrize("backend", BACKENDS)
def test_pad_dtype_and_constant(backend):
    be = get_backend(backend)
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    for mode, np_mode in (("constant", "constant"), ("wrap", "wrap")):
        got = be.to_numpy(be.pad(be.asarray(x), [(1, 2), (0, 1)], mode))
        np.testing.assert_array_equal(got, np.pad(x, [(0, 0), (1, 2), (0, 1)], mode=np_mode))
    assert be.dtype_name(be.asarray(x, "float32")) == "float32"
    assert be.dtype_name(be.asarray(x)) == "float64"
    c = be.constant(("test", 1), x, "float64")
    np.testing.assert_array_equal(be.to_numpy(c), x)
    y = be.xp.arange(3, dtype=be.xp.float64, **({} if be.array_device is None else {"device": be.array_device}))
    np.testing.assert_array_equal(be.to_numpy(y), [0.0, 1.0, 2.0])


def test_no_backend_branches_outside_the_backends():
    """Physics, solvers and networks never ask which backend or array module they run on."""
    pattern = re.compile(r"\.name\s*==\s*[\"'](torch|jax)|__module__\.startswith|import torch|import jax|"
                         r"from torch|from jax|str\([^)]*dtype\)")
    offenders = []
    for folder in ("ops", "problems", "solvers"):
        for path in (ROOT / "pgbench" / folder).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    for path in (ROOT / "pgbench" / "nets.py",):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.skipif("jax" not in BACKENDS, reason="jax not installed")
def test_importing_the_jax_backend_leaves_jax_settings_alone():
    """Only making a jax backend switches on x64 and highest matmul precision (documented as
    process-wide); importing pgbench or the backend module does not."""
    code = ("import jax, pgbench, pgbench.backends.jax_backend\n"
            "assert not jax.config.jax_enable_x64, 'x64 on after import'\n"
            "assert jax.config.jax_default_matmul_precision is None\n"
            "pgbench.backends.get_backend('jax')\n"
            "assert jax.config.jax_enable_x64 and jax.config.jax_default_matmul_precision == 'highest'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_values_and_derivative_zero_at_zero(backend):
    """max(x, 0) with derivative 0 at x = 0 on every backend (torch.relu, jax.nn.relu, the base
    class' where), not the 1/2 of maximum(x, 0)."""
    be = get_backend(backend)
    x = be.asarray(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(be.to_numpy(be.relu(x)), [0.0, 0.0, 3.0])
    _, g = be.value_and_grad(lambda a: be.xp.sum(be.relu(a)))(x)
    np.testing.assert_array_equal(be.to_numpy(g), [0.0, 0.0, 1.0])
    _, g = be.value_and_grad(lambda a: be.xp.sum(Backend.relu(be, a)))(x)
    np.testing.assert_array_equal(be.to_numpy(g), [0.0, 0.0, 1.0])
