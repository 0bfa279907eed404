"""Network optimizers by name (pgbench.optimizers): every entry of the table decreases the DP loss
of a small problem on each backend that provides it; clear errors for a backend that lacks a
name, a typo, settings the library rejects, and Hessian-based optimizers outside dp."""

import json

import numpy as np
import pytest

import pgbench
from pgbench import optimizers
from pgbench.backends import get_backend
from pgbench.registry import InvalidSettingError
from pgbench.planning import IncompatibleError
from pgbench.schedules import Schedule

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


@pytest.mark.parametrize("backend, settings, error", [
    ("torch", {"betas": [0.9]}, r"torch.optim.Adam\) rejects optimizer_settings \{'betas': \[0.9\]\}: IndexError"),
    ("jax", {"b1": "x"}, r"optax.adam\) rejects optimizer_settings \{'b1': 'x'\}: TypeError"),  # only an update fails
])
def test_settings_that_fail_on_their_first_update_fail_when_planned(capsys, tmp_path, backend, settings, error):
    """Whatever the library raises (not only TypeError / ValueError, and also when only its update
    does) is one line when the run is planned, before any work; the command line says it in one
    line with exit status 2."""
    from pgbench import cli

    with pytest.raises(IncompatibleError, match=error):
        pgbench.runner.plan("sin", "dp", backend=backend, optimizer_settings=settings, iterations=2)
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "sin", "dp", "--backend", backend, "--set", f"optimizer_settings={json.dumps(settings)}",
                  "-n", "2", "--results", str(tmp_path / "runs")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(lines) == 1 and "rejects optimizer_settings" in lines[0]
    assert not (tmp_path / "runs").exists()


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
    opt = be.optimizer("muon", 1e-2)
    assert [g["use_muon"] for g in opt.init(params).groups] == [True, False]
    groups = opt.library(params).param_groups
    assert all(p.ndim == 2 for p in groups[0]["params"]) and all(p.ndim != 2 for p in groups[1]["params"])


# --- torch: the optimizer's state is data, the library object built once ----------------------
TORCH_NAMES = [n for n in optimizers.OPTIMIZERS if optimizers.entry(n).torch is not None]
COSINE = Schedule.from_settings(schedule="cosine", schedule_steps=4, warmup_steps=2)   # SequentialLR


def _torch_lr(name: str) -> float:
    return LR.get((name, "torch"), LR.get(name, 1e-2))


def _seed(run: int, step: int) -> None:
    """The global generators seeded per run and step (Kron draws from numpy's and torch's)."""
    import torch
    torch.manual_seed(100 * run + step)
    np.random.seed(100 * run + step)  # noqa: NPY002 (Kron draws from the legacy global generator)


def _torch_steps(setup, name, seeds, schedule, steps=5, interleave=True):
    """Final parameters of runs from the network seeds ``seeds`` on ONE pgbench optimizer, their
    updates interleaved (or run one after the other), and the leaves of their states."""
    be, net, objective, grad = setup["torch"]
    opt = be.optimizer(name, _torch_lr(name), schedule, **SETTINGS.get((name, "torch"), {}))
    params = [net.init(np.random.default_rng(s), be) for s in seeds]
    states = [opt.init(p) for p in params]
    order = [i for _ in range(steps) for i in range(len(seeds))] if interleave else \
        [i for i in range(len(seeds)) for _ in range(steps)]
    done = [0] * len(seeds)
    for i in order:
        _seed(seeds[i], done[i])
        done[i] += 1
        if opt.needs == "hvp":
            params[i], states[i] = opt.update(params[i], None, states[i], objective=objective)
        else:
            params[i], states[i] = opt.update(params[i], grad(params[i])[1], states[i])
    return params, states, opt


def _library_steps(setup, name, seed, schedule, steps=5):
    """Final parameters of ``steps`` updates of one library object and its scheduler (as pgbench
    did before its state was data): the reference of bit identity."""
    import torch
    be, net, _, grad = setup["torch"]
    params = net.init(np.random.default_rng(seed), be)
    lib = optimizers.factory(name, "torch")(list(params.values()), _torch_lr(name),
                                            **SETTINGS.get((name, "torch"), {}))
    sched = schedule.torch(lib)
    for n in range(steps):
        _seed(seed, n)
        g = grad(params)[1]
        with torch.no_grad():
            for k, p in params.items():
                p.grad = g[k]
            lib.step()
        sched.step()
    return params


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_torch_state_is_data_and_independent_of_the_library_object(setup, name):
    """Two runs interleaved on one optimizer end where each ends alone (all that changes is in the
    state), bit for bit; the state's leaves are tensors, numbers, strings and dtypes (Kron's
    ``precondition_dtype`` setting); one library object
    serves both; without a Hessian, the same numbers as stepping the library object itself."""
    import jax
    import torch
    together, states, opt = _torch_steps(setup, name, (1, 2), COSINE)
    alone = [_torch_steps(setup, name, (s,), COSINE)[0][0] for s in (1, 2)]
    for a, b in zip(together, alone, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a), f"{name}: interleaved runs differ from separate ones"
    leaves = jax.tree_util.tree_leaves(states)
    bad = [type(v) for v in leaves if not isinstance(v, (torch.Tensor, int, float, bool, str, torch.dtype))]
    assert leaves and not bad, f"{name}: its state holds {bad}"
    assert len(opt._built) == 1, "one library object for one parameter structure"
    if opt.needs is None:
        ref = _library_steps(setup, name, 1, COSINE)
        assert all(torch.equal(alone[0][k], ref[k]) for k in ref), f"{name}: not the library's numbers"


def test_torch_lbfgs_state_is_its_history():
    """torch.optim.LBFGS: two runs interleaved on one optimizer end where each ends alone, and
    where one library object stepped with the closure ends; the history is tensors and numbers."""
    import jax
    import torch
    problem = pgbench.make_problem("exp", scale="quick", batch_size=16)
    be = get_backend("torch")
    net = problem.network()
    _, y = problem.sample(np.random.default_rng(0), 16, be)
    dp = pgbench.make_solver("dp", clip_x_grad=None)

    def objective(p):
        return dp.objective(problem, be, net, p, y, None)

    def run(seeds, interleave):
        opt = be.lbfgs(0.5, 4, 2, "strong_wolfe")
        params = [net.init(np.random.default_rng(s), be) for s in seeds]
        states = [opt.init(p) for p in params]
        order = [i for _ in range(4) for i in range(len(seeds))] if interleave else \
            [i for i in range(len(seeds)) for _ in range(4)]
        for i in order:
            params[i], states[i] = opt.update(params[i], None, states[i], objective=objective)
        return params, states

    (a, b), states = run((1, 2), True)
    assert all(torch.equal(a[k], run((1,), False)[0][0][k]) for k in a)
    assert all(torch.equal(b[k], run((2,), False)[0][0][k]) for k in b)
    leaves = jax.tree_util.tree_leaves(states)
    assert leaves and all(isinstance(v, (torch.Tensor, int, float, bool, str)) for v in leaves), leaves
    params = net.init(np.random.default_rng(1), be)
    lib = torch.optim.LBFGS(list(params.values()), lr=0.5, max_iter=2, history_size=4, line_search_fn="strong_wolfe")
    for p in params.values():
        p.requires_grad_(True)

    def closure():
        lib.zero_grad()
        loss = objective(params)
        loss.backward()
        return loss
    for _ in range(4):
        lib.step(closure)
    assert all(torch.equal(a[k], params[k].detach()) for k in a)
