"""The jax backend's optax optimizers (pgbench.backends.jax_backend): the jitted update compiles once
(the state is committed to the device at init) and gives optax's own numbers."""

import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

from pgbench.backends import get_backend  # noqa: E402


def _params(be):
    rng = np.random.default_rng(0)
    return {"w": be.asarray(rng.normal(size=(3, 4)), "float32"), "b": be.asarray(rng.normal(size=(4,)), "float32")}


@pytest.mark.parametrize("name,kwargs", [("adam", {}), ("sgd", {"momentum": 0.9})])
def test_update_compiles_once_and_matches_optax(name, kwargs):
    be = get_backend("jax", "cpu")
    opt = be.optimizer(name, 1e-2, **kwargs)
    params = _params(be)
    state = opt.init(params)
    tx = optax.adam(1e-2) if name == "adam" else optax.sgd(1e-2, momentum=0.9)
    ref_params, ref_state = dict(params), tx.init(params)
    for step in range(3):
        grads = {k: v * (step + 1.0) for k, v in params.items()}
        params, state = opt.update(params, grads, state)
        ref_grads = {k: v * (step + 1.0) for k, v in ref_params.items()}
        upd, ref_state = tx.update(ref_grads, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, upd)
        for k in params:
            np.testing.assert_allclose(np.asarray(params[k]), np.asarray(ref_params[k]), rtol=1e-6, atol=1e-7)
    assert opt._apply._cache_size() == 1     # a second compilation was 1-2 s per run on the CPU


def test_state_lives_on_the_backend_device():
    be = get_backend("jax", "cpu")
    state = be.optimizer("adam", 1e-3).init(_params(be))
    leaves = jax.tree_util.tree_leaves(state)
    assert leaves and all(leaf.committed and be._device in leaf.devices() for leaf in leaves)


@pytest.mark.parametrize("setting", ["dir", ""])
def test_compiled_programs_are_cached_on_disk_unless_turned_off(tmp_path, setting):
    """PGBENCH_JAX_CACHE names jax's persistent compilation cache; empty turns it off."""
    cache = tmp_path / "cache" if setting else ""
    code = ("import pgbench, jax; from pgbench.backends import jax_backend as jb; "
            "p = pgbench.make_problem('poisson', scale='quick', batch_size=2, eval_every=0); "
            "pgbench.run(p, 'dp', iterations=2, backend='jax', throw=True); "
            "print(jb.COMPILATION_CACHE, jax.config.jax_compilation_cache_dir)")
    env = dict(os.environ, PGBENCH_JAX_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    if setting:
        assert out.split() == [str(cache), str(cache)]
        assert any(cache.iterdir())
    else:
        assert out.split() == ["None", "None"]
