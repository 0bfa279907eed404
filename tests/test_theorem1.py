"""Paper Theorem 1: PG with one GD inner step of eta = 1 gives exactly the DP network updates."""

import numpy as np
import pytest

import pgbench
from pgbench import keys
from pgbench.backends import get_backend


@pytest.mark.parametrize("problem_id", ["sin", "exp", "wavepacket"])
def test_pg_with_unit_gd_step_has_dp_gradients(problem_id, backend):
    be = get_backend(backend)
    problem = pgbench.make_problem(problem_id, scale="quick", batch_size=16)
    net = problem.network()
    params = net.init(keys.rng(0, "net"), be)
    x_true, y = problem.sample(keys.rng(0, "train", 0), 16, be)
    dp = pgbench.make_solver("dp")
    pg = pgbench.make_solver("pg", inner="gd", inner_settings={"eta": 1.0})
    g_dp, _, _ = dp.gradients(problem, be, net, params, y, x_true)
    g_pg, _, _ = pg.gradients(problem, be, net, params, y, x_true)
    for k in g_dp:
        a, b = be.to_numpy(g_dp[k]), be.to_numpy(g_pg[k])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * (1 + np.abs(a).max()))


def test_pg_with_unit_gd_step_trains_like_dp():
    kw = dict(iterations=15, backend="torch", optimizer="sgd", lr=1e-3)
    problem = pgbench.make_problem("exp", scale="quick", eval_every=0)
    a = pgbench.run(problem, "dp", **kw).records
    b = pgbench.run(problem, "pg", inner="gd", inner_settings={"eta": 1.0}, **kw).records
    np.testing.assert_allclose(a["x_error"], b["x_error"], rtol=1e-5)


def test_pg_with_a_different_inner_step_differs_from_dp():
    """The check above can fail: a PG with the analytic inverse gives other gradients."""
    be = get_backend("torch")
    problem = pgbench.make_problem("exp", scale="quick")
    net = problem.network()
    params = net.init(keys.rng(0, "net"), be)
    x_true, y = problem.sample(keys.rng(0, "train", 0), 16, be)
    g_dp, _, _ = pgbench.make_solver("dp").gradients(problem, be, net, params, y, x_true)
    g_pg, _, _ = pgbench.make_solver("pg", inner="inverse").gradients(problem, be, net, params, y, x_true)
    assert not np.allclose(be.to_numpy(g_dp["w0"]), be.to_numpy(g_pg["w0"]), rtol=1e-2)
