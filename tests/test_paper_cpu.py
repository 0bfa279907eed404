"""The paper-size CPU campaign (issue 19): the ``early`` budget set reproduces the stored
campaign's run keys (tests/test_run_keys.py: every other key), the sin DP objective variant and
its clipping, the final running average of the sin claims, and the "needs a GPU" rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pgbench import reproduce as R, store
from pgbench.analysis import measures
from pgbench.registry import InvalidSettingError, make_problem

CAMPAIGN = Path(__file__).parent.parent / "results" / "paper-cpu" / "runs"


def _stored_runs():
    rows = []
    for f in sorted(CAMPAIGN.glob("*/*.parquet")):
        r = store.read(f).iloc[0]
        if pd.isna(r.get("max_time")) and "numerics" in r:
            rows.append(r)
    return rows


def test_early_budget_reproduces_the_campaign_keys():
    """Every stored run of the committed paper-CPU campaign (the uncapped ones) is a task of
    ``--scale paper --budget early`` with the same key: recomputed from the task's plan with the
    stored machine fields (numerics, device name), never copied."""
    runs = _stored_runs()
    assert len(runs) >= 4, "the committed campaign store (results/paper-cpu/runs) is missing"
    tasks = {}
    for backend in {str(r["backend"]) for r in runs}:
        for t in R.tasks("paper", backend=backend, budget="early")[0]:
            # the budget tells apart sin-training's and sin-optimisation's "PG (inverse)"; a
            # one-shot solver (L-BFGS-B fits each example to maxiter in one runner step) stores 1
            # and the solver id a training scheme and an iterative solver sharing a label
            plan = t.plan()
            name = (t.problem, plan.meta["solver"], t.label, t.seed, backend, plan.iterations)
            assert name not in tasks, name
            tasks[name] = t
    for r in runs:
        t = tasks[(r["problem"], r["solver"], r["label"], int(r["seed"]), r["backend"], int(r["budget_iterations"]))]
        meta = {**t.plan().meta, "numerics": json.loads(r["numerics"]), "device_name": r["device_name"]}
        assert store.run_key(meta) == r["run_key"], (r["problem"], r["label"], int(r["seed"]))


def test_early_budget_caps_and_errors():
    todo, notes = R.tasks("paper", backend="jax", budget="early", only=["navier-stokes-training", "heat-training"])
    assert {(t.problem, t.label) for t in todo} == {(p, lab) for p in ("heat-v0", "navier-stokes-v0")
                                                   for lab in ("DP (Adam)", "PG (inverse)")}
    assert {t.problem: t.iterations for t in todo} == {"heat-v0": 150, "navier-stokes-v0": 250}
    assert sorted({t.seed for t in todo}) == [0, 1, 2]
    assert any("left out" in n for n in notes)
    # the PDE single-problem experiments: every method at 100 iterations (GD of Navier-Stokes,
    # 10,000 at the paper's budget, and the estimator's own 100-iteration override alike)
    todo, _ = R.tasks("paper", backend="jax", budget="early",
                      only=["poisson-optimisation", "heat-optimisation", "navier-stokes-optimisation"])
    assert {(t.problem, t.label): t.iterations for t in todo} == {
        **{("poisson-v0", lab): 100 for lab in ("GD", "Adam", "PG (inverse)")},
        **{("heat-v0", lab): 100 for lab in ("GD", "PG (inverse)", "L-BFGS-B")},
        **{("navier-stokes-v0", lab): 100 for lab in ("GD", "PG (inverse)")}}
    assert {t.seed for t in todo} == {0}
    with pytest.raises(InvalidSettingError, match="did you mean 'early'"):
        R.tasks("paper", budget="erly")
    with pytest.raises(InvalidSettingError, match="applies to --scale paper"):
        R.tasks("quick", budget="early")


def test_sin_l1_objective_and_batch_mean_clip():
    """``objective="l1"``: L = |sin(a/x)+1|; DP ``clip_scope="batch_mean"``: g = clip(∂L_i/∂x_i / N, ±c)."""
    from pgbench.backends import get_backend
    from pgbench.solvers.training import DifferentiablePhysics
    be = get_backend("torch", "cpu")
    a = be.asarray(np.array([[1.0], [2.0], [5.0], [9.0]]), "float32")
    x = be.asarray(np.array([[0.5], [0.3], [2.0], [0.05]]), "float32")
    h = np.sin(np.array([1.0, 2.0, 5.0, 9.0]) / np.array([0.5, 0.3, 2.0, 0.05])) + 1
    dh = np.cos(np.array([1.0, 2.0, 5.0, 9.0]) / np.array([0.5, 0.3, 2.0, 0.05])) * (
        -np.array([1.0, 2.0, 5.0, 9.0]) / np.array([0.5, 0.3, 2.0, 0.05]) ** 2)
    p1 = make_problem("sin-v0", scale="quick", objective="l1")
    assert np.allclose(np.asarray(p1.loss(be, x, a)), np.abs(h), rtol=1e-5)
    g, _ = DifferentiablePhysics(clip_x_grad=1.0, clip_scope="batch_mean").x_gradient(p1, be, x, a, None)
    assert np.allclose(np.asarray(g)[:, 0], np.clip(np.sign(h) * dh / 4, -1, 1), rtol=1e-4)
    p0 = make_problem("sin-v0", scale="quick")
    g0, _ = DifferentiablePhysics(clip_x_grad=1.0).x_gradient(p0, be, x, a, None)
    assert np.allclose(np.asarray(g0)[:, 0], np.clip(h * dh, -1, 1), rtol=1e-4)
    # at their defaults neither appears in the settings / hyperparameters (the run key)
    assert "objective" not in p0.settings() and p1.settings()["objective"] == "l1"
    assert "clip_scope" not in DifferentiablePhysics().hyperparameters()
    with pytest.raises(ValueError, match="did you mean 'l1'"):
        make_problem("sin-v0", scale="quick", objective="L1x")
    with pytest.raises(ValueError, match="clip_scope"):
        DifferentiablePhysics(clip_scope="batch")


def test_final_running_average():
    it = np.arange(1, 3001)
    err = np.where(it > 2000, 1e-5, 1e-2)
    run = pd.DataFrame({"iteration": it[::-1], "x_error": err[::-1], "kind": "training"})   # any order
    assert measures.final_running_average(run, 1000) == pytest.approx(1e-5)
    assert measures.final_running_average(run, 1000, iteration=2500) == pytest.approx((500 * 1e-2 + 500 * 1e-5) / 1000)
    assert measures.final_running_average(run, 1000, iteration=900) == pytest.approx(1e-2)   # fewer: all there are
    assert math.isnan(measures.final_running_average(run, 1000, iteration=4000))     # not reached
    run.loc[run["iteration"] == 2999, "x_error"] = np.inf
    assert measures.final_running_average(run, 1000) == math.inf


def test_headline_sin_and_gpu_rows():
    """At paper scale the sin ratio is the per-seed ratio of the final 1,000-batch running
    averages; the Poisson 5k row, out of the runs' reach, says "needs a GPU" with its command."""
    from pgbench.analysis.data import with_device
    from pgbench.analysis.headline import NEEDS_GPU, headline_table
    rows = []
    n = 1200
    for seed, (dp, pg) in enumerate([(1e-2, 1e-3), (2e-2, 1e-4), (4e-2, 1e-3)]):
        for label, v, key in (("DP (Adam)", dp, f"d{seed}"), ("PG (inverse)", pg, f"p{seed}")):
            e = np.full(n, 1.0)
            e[-1000:] = v
            rows.append(pd.DataFrame({"run_key": key * 8, "problem": "sin-v0", "scale": "paper", "kind": "training",
                                      "label": label, "solver": "dp", "status": "ok", "seed": seed,
                                      "iteration": np.arange(1, n + 1), "wall_time": np.arange(n) * 0.003,
                                      "loss": e, "x_error": e, "machine": "m", "device_name": "cpu",
                                      "backend": "torch"}))
    for label in ("DP (Adam)", "PG (inverse)"):
        rows.append(pd.DataFrame({"run_key": f"q{label[0]}" * 8, "problem": "poisson-v0", "scale": "paper",
                                  "kind": "training", "label": label, "solver": "dp", "status": "ok", "seed": 0,
                                  "iteration": np.arange(1, 101), "wall_time": np.arange(100.0),
                                  "loss": 1.0, "x_error": 1.0, "machine": "m", "device_name": "cpu",
                                  "backend": "jax"}))
    for label, v in (("DP (Adam)", 2.0), ("PG (inverse)", 1.0)):   # short timing runs on another machine
        rows.append(pd.DataFrame({"run_key": f"t{label[0]}" * 8, "problem": "poisson-v0", "scale": "paper",
                                  "kind": "training", "label": label, "solver": "dp", "status": "ok", "seed": 0,
                                  "iteration": np.arange(1, 7), "wall_time": np.arange(6.0), "loss": v,
                                  "x_error": v, "machine": "a-first-by-name", "device_name": "cpu",
                                  "backend": "jax"}))
    head = headline_table(with_device(pd.concat(rows, ignore_index=True))).set_index("claim")
    from pgbench.analysis import headline as H
    sin = [c for c in H.CLAIMS if c.key == "sin-1000x"][0]
    got = sin.measure(with_device(pd.concat(rows[:6], ignore_index=True)), False)
    assert got is not None and got.stats.median == pytest.approx(40.0) and got.stats.k == 3
    assert (got.stats.lo, got.stats.hi) == pytest.approx((10.0, 200.0))
    assert head.loc["sin-1000x", "measured"] == "not yet measured"      # 1,200 < 20,000 iterations
    assert head.loc["poisson-10x-5k", "measured"] == NEEDS_GPU
    assert "--only poisson-training" in head.loc["poisson-10x-5k", "reason"]
    assert head.loc["poisson-3x-60", "measured"].startswith("1×")   # the machine whose runs reach iteration 60


def test_sin_l1_gradient_is_the_same_on_torch_and_jax_where_float32_rounds_h_to_zero():
    """Within |a/x − a/x*| ≲ 2.4e-4 of a minimum float32 rounds h = sin(a/x) + 1 to exactly 0. The
    L1 objective's x-gradient there must not depend on the backend (torch's abs'(0) = 0, jax's
    abs'(0) = 1 before the fix: the cosine-annealed DP variant then ended 150× apart, issue 30)."""
    from pgbench.backends import get_backend
    from pgbench.solvers.training import DifferentiablePhysics
    p = make_problem("sin-v0", scale="quick", objective="l1")
    a = np.array([[0.75 * np.pi * (1 + 1e-5)], [2.0]], np.float32)
    x = np.array([[0.5], [0.3]], np.float32)            # example 1 sits 1e-5 (relative) off a minimum
    assert np.sin(a[0, 0] / x[0, 0]) + np.float32(1) == 0   # float32 rounds its h to exactly 0
    grads = {}
    for name in ("torch", "jax"):
        be = get_backend(name, "cpu")
        g, _ = DifferentiablePhysics(clip_x_grad=1.0, clip_scope="batch_mean").x_gradient(
            p, be, be.asarray(x, "float32"), be.asarray(a, "float32"), None)
        grads[name] = np.asarray(be.to_numpy(g))
        assert np.allclose(np.asarray(be.to_numpy(p.loss(be, be.asarray(x, "float32"), be.asarray(a, "float32")))),
                           np.abs(np.sin(a / x) + 1)[:, 0], atol=1e-7)
    assert grads["torch"][0, 0] == 0 and grads["jax"][0, 0] == 0   # abs'(0) = 0 on both (torch's, sign(0) = 0)
    assert np.allclose(grads["torch"], grads["jax"], rtol=1e-5)
