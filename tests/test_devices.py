"""On a GPU, every registered problem and solver gives the CPU's numbers.

Each compatible (problem, solver) pair runs a few iterations of its tiny instance on ``cpu`` and on
``cuda`` from the same seeds, on each backend that sees a GPU; data, physics and the loss and x-error
curves agree to float32 round-off (float32 is IEEE float32 on the GPU too: pgbench turns TF32 off).
Where neither backend sees a GPU (CI) the module is skipped: there is nothing to compare.

    XLA_PYTHON_CLIENT_PREALLOCATE=false pytest tests/test_devices.py -n 8
"""

import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import available_backends, cuda_available, get_backend
from pgbench.registry import SOLVERS
from pgbench.testing import TINY_SOLVER_SETTINGS, compatible_pairs, tiny_problem

GPU_BACKENDS = [b for b in available_backends() if cuda_available(b)]
if not GPU_BACKENDS:
    pytest.skip("no GPU visible to torch or jax: nothing to compare", allow_module_level=True)
PAIRS = [(p, s) for p, s, r in compatible_pairs() if r is None]
# float32 curves after a few optimizer steps: a relative tolerance well above round-off (~1e-6 per op)
# yet far below any real difference of physics or data (which changes a loss by O(1))
CURVE_RTOL = 1e-3


def _tol(problem):
    """As between torch and jax (tests/test_parity.py): float32 reductions (CG dot products,
    FFTs) are summed in another order on the GPU."""
    return 1e-10 if problem.physics_dtype == "float64" else 1e-4


@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("problem_id", [s.id for s in pgbench.PROBLEMS.latest()])
def test_data_and_physics_match_cpu(problem_id, backend):
    problem = tiny_problem(problem_id)
    out = {}
    for device in ("cpu", "cuda"):
        be = get_backend(backend, device)
        x_true, y = problem.sample(keys.rng(5, "devices"), 2, be)
        x0 = problem.initial_guess(be, y)
        out[device] = [be.to_numpy(a) for a in (x_true, y, problem.loss(be, x0, y),
                                                problem.x_error(be, x0, x_true, y))]
    tol = _tol(problem)
    for a, b in zip(out["cpu"], out["cuda"]):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * (1 + np.abs(a).max()))


@pytest.mark.parametrize("backend", GPU_BACKENDS)
@pytest.mark.parametrize("problem_id,solver_id", PAIRS)
def test_training_curves_match_cpu(problem_id, solver_id, backend):
    name = SOLVERS.resolve(solver_id).name
    runs = {device: pgbench.run(tiny_problem(problem_id), solver_id, iterations=3, backend=backend,
                                device=device, **TINY_SOLVER_SETTINGS.get(name, {}))
            for device in ("cpu", "cuda")}
    assert runs["cpu"].status != "failed", runs["cpu"].message
    assert runs["cuda"].status == runs["cpu"].status, runs["cuda"].message
    assert runs["cuda"].meta["device"] == "cuda"
    for col in ("loss", "x_error"):
        np.testing.assert_allclose(runs["cuda"].records[col], runs["cpu"].records[col], rtol=CURVE_RTOL,
                                   atol=1e-7, err_msg=f"{col} of {solver_id} on {problem_id}")
