"""Batched CG (pgbench.backends.cg): checking convergence only every k iterations (fewer host
synchronisations) gives exactly the reference path's numbers (k = 1), forward and adjoint."""

import math

import numpy as np
import pytest
import torch

from pgbench.backends import cg
from pgbench.backends.torch_backend import TorchBackend
from pgbench.ops import laplace


def _system(n=24, b=3, seed=0):
    """−∇² y = −x per example; the examples have very different scales, so they converge at
    different iterations (the batch mask matters)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b, 1, n, n)) * np.array([1.0, 1e-3, 30.0])[:b, None, None, None]
    x[1] = np.sin(np.arange(n) * 2 * np.pi / n)[None, :, None] * 1e-3   # a smooth example: few iterations
    return torch.as_tensor(x)


def _matvec(v):
    return -laplace(torch, v)


@pytest.mark.parametrize("k", [2, 3, 4, 16])
def test_check_every_k_equals_every_iteration(k):
    b = -_system()
    x1, it1 = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-5, 0.0, 1000, check_every=1)
    xk, itk = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-5, 0.0, 1000, check_every=k)
    assert torch.equal(x1, xk)
    assert itk == k * math.ceil(it1 / k)        # at most k - 1 extra (zero) steps
    r = b - _matvec(x1)
    rel = (r ** 2).sum(dim=(1, 2, 3)).sqrt() / (b ** 2).sum(dim=(1, 2, 3)).sqrt()
    assert (rel <= 1e-5).all() and it1 > 10


def test_maxiter_caps_iterations_for_any_check_interval():
    b = -_system()
    for k in (1, 4, 7):
        x, it = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-12, 0.0, 9, check_every=k)
        assert it == 9
        ref, _ = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-12, 0.0, 9, check_every=1)
        assert torch.equal(x, ref)


@pytest.mark.parametrize("k", [1, 4, 32])
def test_backend_solve_and_adjoint_do_not_depend_on_check_interval(k):
    x = _system().requires_grad_(True)
    w = torch.as_tensor(np.random.default_rng(1).normal(size=x.shape))

    def solve_and_grad(check_every):
        be = TorchBackend("cpu")
        be.cg_check_every = check_every
        y = be.linear_solve(_matvec, -x, rtol=1e-5)
        (g,) = torch.autograd.grad((y * w).sum(), x)
        return y.detach(), g

    y_ref, g_ref = solve_and_grad(1)
    y, g = solve_and_grad(k)
    assert torch.equal(y, y_ref) and torch.equal(g, g_ref)
    assert torch.linalg.vector_norm(g) > 0


def test_default_check_interval_is_the_backend_setting():
    from pgbench.backends import torch_backend
    assert TorchBackend("cpu").cg_check_every == torch_backend.CG_CHECK_EVERY >= 1


def test_solution_matches_a_dense_solve_and_a_zero_example_stays_zero():
    """Against an independent direct solve of the assembled −∇² matrix (float64); an all-zero
    right-hand side is frozen from the start and must come back exactly 0 (no 0/0 leaks)."""
    n = 10
    b = -_system(n=n)
    b[1] = 0.0
    eye = torch.eye(n * n, dtype=torch.float64).reshape(n * n, 1, n, n)
    A = _matvec(eye).reshape(n * n, n * n).T
    x, _ = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-12, 0.0, 1000, check_every=3)
    exact = torch.linalg.solve(A, b.reshape(3, -1).T).T.reshape(b.shape)
    assert torch.all(x[1] == 0)
    torch.testing.assert_close(x, exact, rtol=1e-9, atol=1e-12 * exact.abs().max().item())


@pytest.mark.parametrize("k", [3, 8])
def test_jax_solve_and_adjoint_do_not_depend_on_steps_per_check(k):
    """jax CG unrolls ``cg_check_every`` steps per loop-condition check: same solve, same adjoint,
    and ``maxiter`` still caps every example at exactly that many steps."""
    pytest.importorskip("jax")
    import jax
    import jax.numpy as jnp

    from pgbench.backends.jax_backend import JaxBackend, _batched_cg

    JaxBackend("cpu")  # enables float64 before the arrays below are made (else they are float32
    #                    when this test runs first in its process, and the float64 comparison fails)
    x = jnp.asarray(_system().numpy())
    w = jnp.asarray(np.random.default_rng(1).normal(size=x.shape))
    mv = lambda v: -laplace(jnp, v)  # noqa: E731

    def solve_and_grad(check_every):
        be = JaxBackend("cpu")
        be.cg_check_every = check_every
        f = lambda x: jnp.sum(be.linear_solve(mv, -x, rtol=1e-5) * w)  # noqa: E731
        return be.linear_solve(mv, -x, rtol=1e-5), jax.grad(f)(x)

    (y_ref, g_ref), (y, g) = solve_and_grad(1), solve_and_grad(k)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y_ref))
    np.testing.assert_array_equal(np.asarray(g), np.asarray(g_ref))
    capped = [_batched_cg(mv, -x, jnp.zeros_like(x), 1e-12, 0.0, 5, c) for c in (1, k)]
    np.testing.assert_array_equal(np.asarray(capped[0]), np.asarray(capped[1]))
    torch_capped, _ = cg.cg_eager(_matvec, -_system(), torch.zeros_like(_system()), 1e-12, 0.0, 5)
    np.testing.assert_allclose(np.asarray(capped[0]), torch_capped.numpy(), rtol=1e-10, atol=1e-12)


def _compiled_graphs():
    """Graphs Dynamo has compiled in this process. Its caches are emptied first, so a call that
    really runs compiled (no graph break, no eager fallback) must add one."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    return counters["stats"]["unique_graphs"]


def test_compiled_chunks_take_the_same_iterations_to_round_off():
    """``torch.compile`` of the k-iteration chunk (``TorchBackend.cg_compile``): the same
    iteration count and frozen examples, the solution equal to float64 round-off, ``maxiter``
    still a hard cap (the last, shorter chunk), and the chunk really compiled, not run eagerly."""
    b = -_system()
    b[1] = 0.0
    steps = cg.compiled_cg_steps()
    graphs = _compiled_graphs()
    x, it = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-8, 0.0, 1000, 4, steps)
    assert _compiled_graphs() > graphs
    ref, it_ref = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-8, 0.0, 1000, 4)
    assert it == it_ref > 10 and torch.all(x[1] == 0)
    torch.testing.assert_close(x, ref, rtol=1e-12, atol=1e-12 * ref.abs().max().item())
    capped, it = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-12, 0.0, 9, 4, steps)
    assert it == 9
    torch.testing.assert_close(capped, cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-12, 0.0, 9)[0],
                               rtol=1e-12, atol=1e-15)


def test_compiled_solve_inside_torch_func_grad_gives_the_eager_gradient():
    """The training step differentiates with ``torch.func``; the compiled chunk runs inside it
    (functorch's interpreter is set aside), forward and adjoint, with the eager path's numbers."""
    x = _system()
    w = torch.as_tensor(np.random.default_rng(1).normal(size=x.shape))

    def grad(compile_cg):
        be = TorchBackend("cpu")
        be.cg_compile = compile_cg
        return torch.func.grad(lambda x: (be.linear_solve(_matvec, -x, rtol=1e-8) * w).sum())(x)

    graphs = _compiled_graphs()
    g = grad(True)
    assert _compiled_graphs() > graphs
    g_ref = grad(False)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12 * g_ref.abs().max().item())


def test_compiled_chunk_on_wrapped_tensors_runs_eagerly():
    """Under ``vmap`` the state tensors are functorch-wrapped; the chunk is then run eagerly
    (Dynamo would not compile it) and gives the batched result."""
    b = -_system()
    state = lambda b: (torch.zeros_like(b), b, b.clone(), cg._dot(b, b), torch.ones(b.shape[0], dtype=torch.bool),  # noqa: E731
                       torch.zeros(b.shape[0], dtype=b.dtype))
    ref = cg.cg_steps(_matvec, *state(b), 5)[0]
    per_example = torch.func.vmap(lambda bi: cg.compiled_cg_steps()(_matvec, *state(bi[None]), 5)[0][0])(b)
    torch.testing.assert_close(per_example, ref, rtol=1e-12, atol=1e-15)


def test_reduce_overhead_mode_gives_the_eager_solution():
    """``TorchBackend.cg_compile_mode = "reduce-overhead"`` (CUDA graphs on a GPU; on the CPU it
    compiles without graphs, which is what can be checked here): the eager solution to round-off.
    The graph replay itself is untested (no GPU in the session that wrote this)."""
    b = -_system()
    steps = cg.compiled_cg_steps("reduce-overhead")
    x, it = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-8, 0.0, 1000, 4, steps)
    ref, it_ref = cg.cg_eager(_matvec, b, torch.zeros_like(b), 1e-8, 0.0, 1000, 4)
    assert it == it_ref > 10
    torch.testing.assert_close(x, ref, rtol=1e-12, atol=1e-12 * ref.abs().max().item())
    from pgbench.backends import get_backend
    be = get_backend("torch")
    assert be.cg_compile_mode == "default" and "cg_compile_mode" not in be.settings()
