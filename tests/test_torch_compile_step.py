"""torch: training and solver steps under ``torch.compile`` (``PGBENCH_TORCH_COMPILE_STEP`` /
``TorchBackend.step_compile``, issue 22 item 3) give eager's numbers to float32 round-off, under
eager's run keys; a step the compiler cannot take runs eagerly with a warning.

On the CPU, ``torch.compile`` fuses element-wise kernels (Inductor's C++ code), so sums may be
ordered differently: exp (SGD, no amplification) is compared over its whole curve, sin (Adam,
sin(a/x)) through its gradients at the initial network, since its curves part after one Adam
update (see test_vectorize.py)."""

import warnings

import numpy as np
import pytest

from pgbench import runner, store
from pgbench.backends import get_backend
from pgbench.backends.torch_backend import TorchBackend, compiled_or_eager


def _curves(problem, solver, iterations, compiled, monkeypatch, **kw):
    monkeypatch.setattr(TorchBackend, "step_compile", "default" if compiled else None)
    p = runner.plan(problem, solver, iterations=iterations, seed=1, backend="torch", **kw)
    return runner.execute(p, throw=True)


def test_compiled_step_gives_eager_curves(monkeypatch):
    eager = _curves("exp", "dp", 30, False, monkeypatch)
    compiled = _curves("exp", "dp", 30, True, monkeypatch)
    assert compiled.meta["backend_settings"]["step_compile"] == "default"
    assert "step_compile" not in eager.meta["backend_settings"]
    assert store.run_key(eager.meta) == store.run_key(compiled.meta)
    for col in ("loss", "x_error"):
        a, b = eager.records[col].to_numpy(), compiled.records[col].to_numpy()
        np.testing.assert_allclose(b, a, rtol=1e-5, err_msg=col)


def test_compiled_sin_gradients_equal_eager(monkeypatch):
    """sin(a/x) with Adam: curves part after one update (Adam's first step is ±lr for a ~0
    gradient, its sign set by round-off), so the gradients at the initial network are compared."""
    import functools

    from pgbench import keys
    monkeypatch.setattr(TorchBackend, "step_compile", "default")
    p = runner.plan("sin", "dp", iterations=1, seed=1, backend="torch")
    be, pr = p.backend, p.problem
    net = pr.network()
    params = net.init(keys.rng(1, "net"), be)
    xt, y = pr.sample(keys.rng(1, "train", 0), pr.batch_size, be)
    grads = functools.partial(p.solver.gradients, pr, be, net)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)    # no fallback to eager
        (gc, xc, lc), (ge, xe, le) = be.jit(grads)(params, y, xt), grads(params, y, xt)
    # the prediction to float32 round-off of the batch's scale (an x of 1e-5 beside x of 1 loses
    # digits to cancellation), the gradients in norm; the per-example loss sin(a/x) magnifies
    # a change of x by a/x², so it is not compared
    xe, xc = be.to_numpy(xe), be.to_numpy(xc)
    assert np.max(np.abs(xc - xe)) <= 1e-5 * np.max(np.abs(xe))
    for k in ge:
        a, b = be.to_numpy(ge[k]), be.to_numpy(gc[k])
        assert np.linalg.norm(a - b) <= 1e-4 * np.linalg.norm(a), k


def test_sin_pg_compiles_now_that_its_inner_solver_is_resolved_once(monkeypatch):
    """sin × pg (inverse): before 0.3 the step looked its inner solver up in the registry on every
    call, which stopped Inductor (the run fell back to eager with a warning); the inner solver is
    now resolved once, so the step compiles. The first row's x error (the initial network's
    prediction) equals eager's to float32 round-off; the loss sin(a/x) magnifies round-off in x
    (see the gradient test above), so later rows are not compared."""
    eager = _curves("sin", "pg", 3, False, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
        compiled = _curves("sin", "pg", 3, True, monkeypatch)
    assert compiled.meta["backend_settings"]["step_compile"] == "default"
    np.testing.assert_allclose(compiled.records["x_error"].iloc[0], eager.records["x_error"].iloc[0], rtol=1e-5)


def test_compiled_step_is_really_compiled(monkeypatch):
    """The break-the-code check for the test above: the compiled program is what runs."""
    import torch
    calls = []
    real = torch.compile

    def spy(f, **kw):
        calls.append(f)
        return real(f, **kw)
    monkeypatch.setattr(torch, "compile", spy)
    _curves("exp", "dp", 2, True, monkeypatch)
    assert calls, "step_compile set, but nothing went through torch.compile"


def test_failed_compilation_runs_eagerly_with_a_warning(monkeypatch):
    import torch

    def broken_compile(f, **kw):
        def fail(*a, **k):
            raise RuntimeError("inductor says no")
        return fail
    monkeypatch.setattr(torch, "compile", broken_compile)
    f = compiled_or_eager(lambda x: 2 * x)
    with pytest.warns(RuntimeWarning, match="inductor says no"):
        assert float(f(torch.tensor(3.0))) == 6.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # from then on eager, without another warning
        assert float(f(torch.tensor(4.0))) == 8.0
    g = compiled_or_eager(lambda x: x.no_such_method())
    with pytest.warns(RuntimeWarning), pytest.raises(AttributeError):   # f's own error is raised
        g(torch.tensor(1.0))


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setattr(TorchBackend, "step_compile", "fast")
    with pytest.raises(ValueError, match="reduce-overhead"):
        TorchBackend("cpu")
    monkeypatch.setattr(TorchBackend, "step_compile", None)
    assert get_backend("torch").jit(abs) is abs
