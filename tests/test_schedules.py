"""Learning-rate schedules and AMSGrad (pgbench.schedules, Backend.optimizer, FeedbackScheme): the
same rate per update on both backends, update sizes that follow it in training, run keys of
existing configurations unchanged."""


import numpy as np
import pytest

import pgbench
from pgbench.backends import get_backend
from pgbench.registry import InvalidSettingError
from pgbench.schedules import Schedule

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
torch = pytest.importorskip("torch")

LR = 2e-3
SCHEDULES = {
    "constant": Schedule(),
    "cosine": Schedule("cosine", steps=30),                       # passes its end at 30 and holds
    "cosine-floor-warmup": Schedule("cosine", steps=30, final_fraction=0.1, warmup_steps=7),
    "step": Schedule("step", step_every=8, decay_rate=0.5),
    "step-warmup": Schedule("step", step_every=8, warmup_steps=4, warmup_start_fraction=0.2),
    "exponential": Schedule("exponential", step_every=5, decay_rate=0.3),
    "exponential-warmup": Schedule("exponential", step_every=1, decay_rate=0.9, warmup_steps=3),
    "constant-warmup": Schedule("constant", warmup_steps=10),
}


def _expected(sc: Schedule, t: int) -> float:
    """The documented formula (pgbench.schedules), written out once more for the test."""
    if t < sc.warmup_steps:
        s = sc.warmup_start_fraction
        return LR * (s + (1 - s) * t / sc.warmup_steps)
    t -= sc.warmup_steps
    if sc.kind == "cosine":
        f = sc.final_fraction
        return LR * (f + (1 - f) * 0.5 * (1 + np.cos(np.pi * min(t, sc.steps) / sc.steps)))
    if sc.kind == "step":
        return LR * sc.decay_rate ** (t // sc.step_every)
    if sc.kind == "exponential":
        return LR * sc.decay_rate ** (t / sc.step_every)
    return LR


def _rates_by_update(backend: str, sc: Schedule, steps: int = 50) -> np.ndarray:
    """The rate each of ``steps`` plain-SGD updates used, read off the parameter change under a
    unit gradient through the backend's optimizer (float64)."""
    be = get_backend(backend)
    opt = be.optimizer("sgd", LR, schedule=None if sc.is_constant else sc)
    params = {"w": be.asarray(np.zeros(1), "float64")}
    grads = {"w": be.asarray(np.ones(1), "float64")}
    state = opt.init(params)
    out, prev = [], 0.0
    for _ in range(steps):
        params, state = opt.update(params, grads, state)
        now = float(be.to_numpy(params["w"])[0])
        out.append(prev - now)
        prev = now
    return np.array(out)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_same_rate_per_update_on_both_backends(name):
    sc = SCHEDULES[name]
    expected = np.array([_expected(sc, t) for t in range(50)])
    if not sc.is_constant:   # the schedules themselves, as the libraries compute them
        get_backend("jax")   # float64 on (before it, optax's schedules compute in float32)
        f = sc.optax(LR)
        np.testing.assert_allclose([float(f(t)) for t in range(50)], expected, rtol=1e-7, atol=0)
    rates = {b: _rates_by_update(b, sc) for b in ("torch", "jax")}
    np.testing.assert_allclose(rates["torch"], expected, rtol=1e-7, atol=1e-15)
    np.testing.assert_allclose(rates["jax"], expected, rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_training_updates_follow_the_schedule(backend):
    """A DP run with SGD, a warm-up and a step schedule: each update is -lr_t times the
    parameter gradient, lr_t = 0.05 · (0.5, 1, 1, 0.5, 0.5, 0.25)."""
    p = pgbench.runner.plan("exp", "dp", iterations=6, backend=backend, optimizer="sgd", lr=0.05, schedule="step",
                            step_every=2, decay_rate=0.5, warmup_steps=1, warmup_start_fraction=0.5)
    problem, scheme, be = p.problem, p.solver, p.backend
    net = problem.network()
    params = net.init(np.random.default_rng(0), be)
    st = scheme.init(problem, be, net, params)
    update = scheme.compile(problem, be, net)
    grads = be.jit(lambda prm, y, xt: scheme.gradients(problem, be, net, prm, y, xt)[0])
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(6):
        x_true, y = problem.sample(rng, 4, be)
        before = {k: be.to_numpy(v).copy() for k, v in params.items()}
        g = {k: be.to_numpy(v).copy() for k, v in grads(params, y, x_true).items()}
        params, st, _ = update(params, st, y, x_true)
        big = max(np.abs(v).max() for v in g.values()) / 10   # float32: well above round-off
        ratios = np.concatenate([((before[k] - be.to_numpy(params[k])) / g[k])[np.abs(g[k]) > big] for k in g])
        rates.append(np.median(ratios))
        assert ratios.size and np.allclose(ratios, rates[-1], rtol=1e-2)
    np.testing.assert_allclose(rates, [0.025, 0.05, 0.05, 0.025, 0.025, 0.0125], rtol=1e-4)


def _amsgrad_pair(grads, eps=1e-8):
    """Parameters after each update of torch Adam(amsgrad=True) and optax.amsgrad, float64."""
    get_backend("jax")   # float64 on
    import jax.numpy as jnp
    w0 = np.linspace(-1.0, 1.0, 5)
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = torch.optim.Adam([p], lr=1e-2, amsgrad=True, eps=eps)
    tx = optax.amsgrad(1e-2, eps=eps)
    q = jnp.asarray(w0)
    st = tx.init(q)
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        u, st = tx.update(jnp.asarray(g), st, q)
        q = optax.apply_updates(q, u)
        out.append((p.detach().numpy().copy(), np.asarray(q)))
    return out


def test_amsgrad_torch_and_optax_agree_while_the_second_moment_grows():
    """Both put eps outside the square root, after bias correction; they agree in float64 while
    every element's second-moment estimate, raw and bias-corrected, is at its running maximum."""
    rng = np.random.default_rng(0)
    g0 = rng.normal(size=5)
    for a, b in _amsgrad_pair([g0 * 2.0 ** k for k in range(4)]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_amsgrad_torch_and_optax_differ_where_the_maximum_is_taken():
    """torch keeps max(v_s) of the raw second moments and divides by the current bias correction;
    optax (0.2.x) keeps max(v_s / (1 - β2^s)), the bias-corrected ones. With shrinking gradients
    the maximum is an old v_s and the steps differ (by up to sqrt((1-β2^t)/(1-β2^s))); eps does
    not matter (same with eps=0)."""
    rng = np.random.default_rng(0)
    g0 = rng.normal(size=5)
    pairs = _amsgrad_pair([g0 / 2.0 ** k for k in range(4)])
    assert np.abs(pairs[0][0] - pairs[0][1]).max() < 1e-15           # the first step is Adam's on both
    assert np.abs(pairs[-1][0] - pairs[-1][1]).max() > 1e-3
    pairs0 = _amsgrad_pair([g0 / 2.0 ** k for k in range(4)], eps=0.0)
    assert np.abs(pairs0[-1][0] - pairs0[-1][1]).max() > 1e-3


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_amsgrad_trains(backend):
    r = pgbench.run("exp", "dp", scale="quick", iterations=30, backend=backend, optimizer="amsgrad", lr=1e-2,
                    throw=True)
    assert r.status == "ok" and r.records["loss"].iloc[-1] < r.records["loss"].iloc[0]


@pytest.mark.parametrize("settings,match", [
    ({"schedule": "cosin"}, "did you mean 'cosine'"),
    ({"schedule": "cosine"}, "needs schedule_steps"),
    ({"schedule": "step"}, "needs step_every"),
    ({"schedule": "step", "step_every": 10, "schedule_steps": 5}, "applies to schedule='cosine' only"),
    ({"schedule": "cosine", "schedule_steps": 10, "step_every": 5}, "step_every applies"),
    ({"schedule": "cosine", "schedule_steps": 0}, "positive integer"),
    ({"schedule": "step", "step_every": 10, "decay_rate": 1.5}, "decay_rate"),
    ({"warmup_steps": 5, "warmup_start_fraction": 0.0}, "warmup_start_fraction"),
    ({"optimizer": "amsgard"}, "amsgrad"),
])
def test_bad_schedule_settings_fail_before_any_work(settings, match):
    with pytest.raises((InvalidSettingError, ValueError), match=match):
        pgbench.make_solver("pg", **settings)


def test_new_settings_are_in_the_key_only_when_set():
    from pgbench.store import run_key
    plain = pgbench.runner.plan("sin", "dp", iterations=5).meta
    cos = pgbench.runner.plan("sin", "dp", iterations=5, schedule="cosine", schedule_steps=5).meta
    ams = pgbench.runner.plan("sin", "dp", iterations=5, optimizer="amsgrad").meta
    assert "schedule" not in plain["hyperparameters"] and "warmup_steps" not in plain["hyperparameters"]
    assert cos["hyperparameters"]["schedule"] == "cosine" and cos["hyperparameters"]["schedule_steps"] == 5
    keys = {run_key(m) for m in (plain, cos, ams)}
    assert len(keys) == 3
