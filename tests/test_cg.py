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
