"""The hyperparameter axis (pgbench.lanes, issues 31/32): runs of one method that differ in numeric
optimizer settings (and seeds) trained as one vectorised program give the separate runs' curves
under the separate runs' keys; their optimizers equal the library's per-lane; what cannot share
a program is refused before any work; sweeps and the tuning protocol group trials into lanes.

Tolerances as tests/test_vectorize.py (1e-5 relative; sin over 20 iterations on seeds 0 and 2,
whose Adam curves stay within round-off, see that module's docstring)."""

import numpy as np
import pytest
from test_vectorize import _compare, _max_rel

from pgbench import lanes, runner, store
from pgbench.vectorize import NotVectorizable, VectorRun, run_vectorized

BACKENDS = ["torch", "jax"]


def _grid(problem, backend, iterations, settings, seeds=(0,), **kw):
    return [
        runner.plan(problem, "dp", iterations=iterations, seed=s, backend=backend, **h, **kw)
        for h in settings
        for s in seeds
    ]


LRS = [{"lr": 1e-3}, {"lr": 2e-3}, {"lr": 5e-4}, {"lr": 1.5e-3}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_four_learning_rates_equal_separate_runs(backend):
    plans = _grid("sin", backend, 20, LRS)
    separate = [runner.execute(p, throw=True) for p in plans]
    vec = run_vectorized(plans, throw=True)
    _compare(separate, vec, 1e-5)
    assert [v.meta["vectorized_with"]["settings"] for v in vec] == [[{"lr": h["lr"]} for h in LRS]] * 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_learning_rates_times_seeds_equal_separate_runs(backend):
    plans = _grid("sin", backend, 20, LRS[:2], seeds=(0, 2))
    separate = [runner.execute(p, throw=True) for p in plans]
    _compare(separate, run_vectorized(plans, throw=True), 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sgd_momentum_and_adam_betas_as_lanes(backend):
    """SGD lanes of (lr, momentum) over exp's whole curve (momentum 0 beside 0.9: no momentum
    in a separate run, momentum 0 in the lane: the same numbers); Adam lanes of b1 / betas."""
    sgd = [{"optimizer": "sgd", "lr": 1e-3, "momentum": m} for m in (0.0, 0.5, 0.9)]
    plans = _grid("exp", backend, 60, sgd, seeds=(0, 1))
    _compare([runner.execute(p, throw=True) for p in plans], run_vectorized(plans, throw=True), 1e-5)
    name = "b1" if backend == "jax" else "betas"
    betas = [
        {"optimizer": "adam", "optimizer_settings": {name: b1 if backend == "jax" else (b1, 0.999)}}
        for b1 in (0.8, 0.9, 0.95)
    ]
    plans = _grid("exp", backend, 60, betas)
    _compare([runner.execute(p, throw=True) for p in plans], run_vectorized(plans, throw=True), 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_permuted_lanes_fail_the_comparison(monkeypatch, backend):
    """The break-the-code check: lanes handed each other's settings (reversed) give other curves."""
    plans = _grid("exp", backend, 40, [{"optimizer": "sgd", "lr": lr} for lr in (1e-3, 3e-3, 1e-2)])
    separate = [runner.execute(p, throw=True) for p in plans]
    real = lanes.optimizer
    monkeypatch.setattr(lanes, "optimizer", lambda ps, be: real(list(reversed(ps)), be))
    with pytest.raises(AssertionError):
        _compare(separate, run_vectorized(plans, throw=True), 1e-5)


def test_read_every_gives_the_same_lanes():
    """jax: lanes read back every 7 iterations (one lax.scan per chunk) = every iteration."""
    plans = _grid("exp", "jax", 30, [{"optimizer": "sgd", "lr": lr, "momentum": 0.5} for lr in (1e-3, 4e-3)])
    one, seven = run_vectorized(plans, read_every=1, throw=True), run_vectorized(plans, read_every=7, throw=True)
    for a, b in zip(one, seven, strict=True):
        cols = ["iteration", "loss", "x_error", "eval_loss", "eval_x_error"]
        np.testing.assert_array_equal(a.records[cols].to_numpy(), b.records[cols].to_numpy())


# --- the lanes' optimizers equal the library's, lane by lane -------------------------------------


def _lane_data(S, shapes, steps, seed=0):
    rng = np.random.default_rng(seed)
    p0 = {k: rng.normal(size=(S, *s)).astype(np.float32) for k, s in shapes.items()}
    gs = [{k: rng.normal(size=(S, *s)).astype(np.float32) for k, s in shapes.items()} for _ in range(steps)]
    return p0, gs


@pytest.mark.parametrize(
    "name, lanes_",
    [
        ("adam", [dict(lr=1e-3, betas=(0.9, 0.999)), dict(lr=3e-2, betas=(0.8, 0.99)), dict(lr=1e-2, eps=1e-6)]),
        ("sgd", [dict(lr=1e-2, momentum=0.0), dict(lr=3e-2, momentum=0.9), dict(lr=1e-1, momentum=0.5)]),
        ("adamw", [dict(lr=1e-3, weight_decay=0.0), dict(lr=1e-3, weight_decay=0.1)]),
    ],
)
def test_torch_lanes_are_torch_optim_bit_for_bit(name, lanes_):
    import torch

    from pgbench.optimizers import factory

    keys_ = set().union(*lanes_)  # every lane sets every key (lanes.why_not demands the same names)
    lanes_ = [{k: kw.get(k, lanes_[0].get(k)) if k in kw else _default(name, k) for k in keys_} for kw in lanes_]
    S, shapes = len(lanes_), {"w": (4, 3), "b": (3,)}
    p0, gs = _lane_data(S, shapes, 25)
    opt = lanes.TorchLanes(name, lanes_)
    params = {k: torch.tensor(v) for k, v in p0.items()}
    state = opt.init(params)
    for g in gs:
        params, state = opt.update(params, {k: torch.tensor(v) for k, v in g.items()}, state)
    for s, kw in enumerate(lanes_):
        kw = dict(kw)
        ref = {k: torch.tensor(v[s]) for k, v in p0.items()}
        lib = factory(name, "torch")(list(ref.values()), kw.pop("lr"), **kw)
        for g in gs:
            for k, p in ref.items():
                p.grad = torch.tensor(g[k][s])
            lib.step()
        for k in shapes:
            np.testing.assert_array_equal(params[k][s].numpy(), ref[k].detach().numpy(), err_msg=f"lane {s} {k}")


def _default(name, key):
    return {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}[key]


def test_optax_lanes_are_optax_per_lane():
    """Lanes of lr only are optax's own update (the rate from the state; every other setting a
    Python constant as in a separate run) to float32 round-off; lanes of b1 too."""
    import jax
    import jax.numpy as jnp
    import optax

    from pgbench.backends import get_backend

    get_backend("jax")
    for kws in (
        [dict(learning_rate=lr) for lr in (1e-3, 2e-3, 3e-2)],
        [dict(learning_rate=1e-2, b1=b1) for b1 in (0.5, 0.9, 0.95)],
    ):
        S, shapes = len(kws), {"w": (4, 3), "b": (3,)}
        p0, gs = _lane_data(S, shapes, 40)
        opt = lanes.OptaxLanes("adam", kws)
        params = {k: jnp.asarray(v) for k, v in p0.items()}
        state = opt.init(params)
        update = jax.jit(opt.update)
        for g in gs:
            params, state = update(params, {k: jnp.asarray(v) for k, v in g.items()}, state)
        for s, kw in enumerate(kws):
            tx = optax.adam(**kw)
            ref = {k: jnp.asarray(v[s]) for k, v in p0.items()}
            st = tx.init(ref)
            for g in gs:
                u, st = jax.jit(tx.update)({k: jnp.asarray(v[s]) for k, v in g.items()}, st, ref)
                ref = optax.apply_updates(ref, u)
            for k in shapes:
                np.testing.assert_allclose(np.asarray(params[k][s]), np.asarray(ref[k]), rtol=1e-6, atol=1e-7)
            # and not another lane's: the lanes' results differ from each other
            other = (s + 1) % S
            assert not np.allclose(np.asarray(params["w"][other]), np.asarray(ref["w"]), rtol=1e-5, atol=1e-6)


# --- refusals, before any work -------------------------------------------------------------------


def test_non_numeric_differences_are_refused():
    def plan(**h):
        return runner.plan("sin", "dp", iterations=3, seed=0, backend="torch", **h)

    with pytest.raises(NotVectorizable, match=r"hyperparameters\.optimizer"):
        VectorRun([plan(optimizer="adam"), plan(optimizer="sgd")])
    with pytest.raises(NotVectorizable, match=r"hyperparameters\.schedule"):
        VectorRun([plan(schedule="cosine", schedule_steps=10), plan(lr=1e-3)])
    with pytest.raises(NotVectorizable, match=r"hyperparameters\.clip_x_grad"):  # a scheme setting, not the optimizer's
        VectorRun([plan(clip_x_grad=1.0), plan(clip_x_grad=2.0)])
    with pytest.raises(NotVectorizable, match="must be given, as a number, in every run"):  # set in one lane only
        VectorRun([plan(optimizer_settings={"eps": 1e-6}), plan(lr=1e-3)])
    with pytest.raises(NotVectorizable, match="one base rate"):
        VectorRun([plan(schedule="cosine", schedule_steps=10, lr=lr) for lr in (1e-3, 2e-3)])
    with pytest.raises(NotVectorizable, match="distinct"):
        VectorRun([plan(lr=1e-3), plan(lr=1e-3)])
    with pytest.raises(NotVectorizable, match="iterative solver"):
        VectorRun([runner.plan("sin", "lbfgsb", iterations=3, seed=s, backend="torch") for s in (0, 1)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_shared_schedule_with_one_rate_is_lanes_of_other_settings(backend):
    """A schedule is shared by lanes of one lr (differing here in momentum: SGD on exp)."""
    h = [{"optimizer": "sgd", "lr": 1e-3, "momentum": m, "schedule": "step", "step_every": 10} for m in (0.0, 0.9)]
    plans = _grid("exp", backend, 40, h)
    _compare([runner.execute(p, throw=True) for p in plans], run_vectorized(plans, throw=True), 1e-5)


# --- sweeps and tuning ---------------------------------------------------------------------------


def _stored(root) -> dict:
    df = store.load_results(root)
    return {k: g.sort_values("iteration") for k, g in df.groupby("run_key")}


def test_sweep_groups_lanes_and_stores_the_separate_keys(tmp_path):
    from pgbench.sweep import run_sweep, vector_groups
    from pgbench.tasks import Task

    tasks = [
        Task("exp", "dp", seed=s, iterations=30, hyperparameters={"optimizer": "sgd", "lr": lr}, label=f"t{i}")
        for i, lr in enumerate((1e-3, 2e-3, 4e-3))
        for s in (0, 1)
    ]
    tasks.append(Task("exp", "dp", seed=0, iterations=30, hyperparameters={"optimizer": "adam"}))  # another optimizer
    plans = [t.plan() for t in tasks]
    groups, alone = vector_groups(tasks, plans, list(range(len(tasks))))
    assert groups == [[0, 1, 2, 3, 4, 5]] and alone == [(6, "one seed")]
    notes: list = []
    vec = run_sweep(tasks, tmp_path / "vec", vectorize=True, notes=notes)
    sep = run_sweep(tasks, tmp_path / "sep")
    assert [o.run_key for o in vec] == [o.run_key for o in sep] == [p.run_key for p in plans]
    assert not notes
    a, b = _stored(tmp_path / "sep"), _stored(tmp_path / "vec")
    assert set(a) == set(b) == {p.run_key for p in plans}
    for k in a:
        assert _max_rel(a[k]["loss"], b[k]["loss"]) < 1e-5


def test_sweep_splits_lanes_it_cannot_share_into_seed_groups():
    from pgbench.sweep import vector_groups
    from pgbench.tasks import Task

    h = {"schedule": "cosine", "schedule_steps": 10}
    tasks = [
        Task("exp", "dp", seed=s, iterations=5, hyperparameters={**h, "lr": lr}) for lr in (1e-3, 2e-3) for s in (0, 1)
    ]
    notes: list = []
    groups, alone = vector_groups(tasks, [t.plan() for t in tasks], [0, 1, 2, 3], notes=notes)
    assert groups == [[0, 1], [2, 3]] and not alone
    assert len(notes) == 1 and "one base rate" in notes[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_tuning_trials_as_lanes_equal_separate_trials(tmp_path, backend):
    from pgbench import tune

    protocol = tune.Protocol(
        "exp", trials=4, validation_seeds=(1, 2), test_seeds=(3, 4), iterations=25, backend=backend
    )
    methods = [tune.Method("dp-sgd", "dp", {"optimizer": "sgd"})]
    notes: list = []
    vec = tune.tune(protocol, methods, tmp_path / "vec", vectorize=True, notes=notes)
    sep = tune.tune(protocol, methods, tmp_path / "sep")
    assert not notes
    a, b = sep.as_dict()["methods"][0], vec.as_dict()["methods"][0]
    assert a["trials"] == b["trials"] and a["chosen"] == b["chosen"]
    assert a["tuned_runs"] == b["tuned_runs"] and a["default_runs"] == b["default_runs"]
    planned = tune.plan_tasks(protocol, methods)["dp-sgd"]
    keys = [t.plan().run_key for trial in planned for t in trial]
    ra, rb = _stored(tmp_path / "sep"), _stored(tmp_path / "vec")
    assert set(ra) == set(rb) >= set(keys + a["tuned_runs"] + a["default_runs"])
    for k in ra:
        assert _max_rel(ra[k]["loss"], rb[k]["loss"]) < 1e-5
        assert (rb[k]["vectorized_with"] != "null").all() and (ra[k]["vectorized_with"] == "null").all()


def test_a_run_twice_in_one_sweep_is_not_two_lanes(tmp_path):
    """The tuned settings may be the defaults (one run key twice): one lane, the repeat runs alone."""
    from pgbench.sweep import run_sweep, vector_groups
    from pgbench.tasks import Task

    tasks = [
        Task("exp", "dp", seed=s, iterations=5, hyperparameters={"lr": lr}) for lr in (1e-3, 1e-3, 2e-3) for s in (0,)
    ]
    plans = [t.plan() for t in tasks]
    groups, alone = vector_groups(tasks, plans, [0, 1, 2])
    assert groups == [[0, 2]] and [i for i, _ in alone] == [1]
    outs = run_sweep(tasks, tmp_path, vectorize=True)
    assert [o.status for o in outs] == ["ok"] * 3 and outs[0].run_key == outs[1].run_key
