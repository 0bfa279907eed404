"""Network optimizers by name (pgbench.optimizers): every entry of the table decreases the DP loss
of a small problem on each backend that provides it; clear errors for a backend that lacks a
name, a typo, settings the library rejects, and Hessian-based optimizers outside dp."""

import numpy as np
import pytest

import pgbench
from pgbench import optimizers
from pgbench.backends import get_backend
from pgbench.registry import InvalidSettingError
from pgbench.runner import IncompatibleError

pytest.importorskip("jax")
pytest.importorskip("optax")
pytest.importorskip("pytorch_optimizer")

# learning rate per optimizer (library conventions differ: Lion wants a small one, Prodigy 1.0)
LR = {"lion": 1e-3, "prodigy": 1.0, "sophia": 1e-2, "adahessian": 0.01, "adagrad": 0.1, "adafactor": 1e-2,
      "shampoo": 1e-2, "kron": 1e-3, "sgd": 0.05, ("sophia", "torch"): 0.06}   # SophiaH's default
SETTINGS = {("sophia", "torch"): {"update_period": 1}}   # its Hessian estimate from the first step on
CASES = [(name, b) for name in optimizers.OPTIMIZERS for b in optimizers.backends_for(name)]
STEPS = {"prodigy": 100}   # optax's Prodigy grows its step from 1e-6 slower than pytorch-optimizer's; 15 else


@pytest.fixture(scope="module")
def setup():
    """exp's DP objective on one fixed batch, per backend: (objective, gradient, initial params)."""
    out = {}
    problem = pgbench.make_problem("exp", scale="quick", batch_size=16)
    dp = pgbench.make_solver("dp", clip_x_grad=None)
    for backend in ("torch", "jax"):
        be = get_backend(backend)
        net = problem.network()
        x_true, y = problem.sample(np.random.default_rng(0), 16, be)

        def objective(p, be=be, net=net, y=y, x_true=x_true):
            return dp.objective(problem, be, net, p, y, x_true)
        grad = be.jit(be.value_and_grad(objective))
        out[backend] = (be, net, objective, grad)
    return out


@pytest.mark.parametrize("name,backend", CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_optimizer_decreases_the_loss(setup, name, backend):
    be, net, objective, grad = setup[backend]
    params = net.init(np.random.default_rng(1), be)
    opt = be.optimizer(name, LR.get((name, backend), LR.get(name, 1e-2)), **SETTINGS.get((name, backend), {}))
    state = opt.init(params)
    first = float(be.to_numpy(grad(params)[0]))
    if opt.needs == "hvp" and backend == "jax":   # as in the scheme: inside one compiled step
        step = be.jit(lambda p, s: opt.update(p, grad(p)[1], s, objective=objective))
    elif opt.needs == "hvp":
        step = lambda p, s: opt.update(p, None, s, objective=objective)  # noqa: E731
    else:
        step = lambda p, s: opt.update(p, grad(p)[1], s)  # noqa: E731
    for _ in range(STEPS.get(name, 15)):
        params, state = step(params, state)
    last = float(be.to_numpy(grad(params)[0]))
    assert np.isfinite(last) and last < 0.9 * first, f"{name} on {backend}: loss {first:.4g} -> {last:.4g}"


def test_a_backend_without_the_optimizer_is_named():
    with pytest.raises(IncompatibleError, match=r"not available on jax; backends that provide it: torch "
                                                r"\(pytorch_optimizer.SOAP\)"):
        pgbench.runner.plan("exp", "dp", backend="jax", optimizer="soap", iterations=2)


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(InvalidSettingError, match="did you mean 'adahessian'"):
        pgbench.make_solver("dp", optimizer="adahesian")


def test_settings_the_library_rejects_fail_when_planned():
    with pytest.raises(IncompatibleError, match=r"optax.lion.*rejects optimizer_settings"):
        pgbench.runner.plan("exp", "dp", backend="jax", optimizer="lion", optimizer_settings={"betaz": 1},
                            iterations=2)


def test_hessian_optimizers_need_a_loss():
    with pytest.raises(ValueError, match="not the gradient of a loss"):
        pgbench.make_solver("pg", optimizer="adahessian")
    with pytest.raises(ValueError, match="clip_x_grad"):
        pgbench.make_solver("dp", optimizer="sophia", clip_x_grad=1.0)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_run_with_a_hessian_optimizer_and_settings_in_the_key(backend):
    name = "adahessian" if backend == "torch" else "sophia"
    r = pgbench.run("exp", "dp", scale="quick", iterations=8, backend=backend, optimizer=name, lr=0.01,
                    optimizer_settings={"update_period": 1} if backend == "torch" else {"update_interval": 1},
                    throw=True)
    assert r.status == "ok" and r.records["loss"].iloc[-1] < r.records["loss"].iloc[0]
    assert r.meta["hyperparameters"]["optimizer_settings"]


def test_muon_splits_matrices_from_the_rest():
    """pytorch-optimizer's Muon: the 2-D weight matrices in a Muon group, the rest in an AdamW group."""
    be = get_backend("torch")
    params = pgbench.make_problem("exp", scale="quick").network().init(np.random.default_rng(0), be)
    st = be.optimizer("muon", 1e-2).init(params)
    groups = st.optimizer.param_groups
    assert [g["use_muon"] for g in groups] == [True, False]
    assert all(p.ndim == 2 for p in groups[0]["params"]) and all(p.ndim != 2 for p in groups[1]["params"])
