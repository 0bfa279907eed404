"""The problem catalogue: registrations only. Scales set fields of the problem class;
``iterations`` is the training budget, ``solve_iterations`` the iterative-solver budget."""

from ..registry import register_problem

register_problem(
    "quadratic2d-v0", "pgbench.problems.quadratic2d:Quadratic2D",
    scales={"paper": {}, "quick": {}},
    description="Fig. 2a: y = (x1, x2^2) from x = (3, 3); GD, Newton and inverse-physics trajectories",
)
register_problem(
    "sin-v0", "pgbench.problems.sin:Sin",
    scales={"paper": {"batch_size": 1000, "test_size": 1000, "iterations": 20000, "solve_iterations": 100,
                      "eval_every": 200},
            "quick": {"batch_size": 1000, "test_size": 1000, "iterations": 3000, "solve_iterations": 50,
                      "eval_every": 100}},
    description="§3.1 / B.2: sin(a/x) = -1, multimodal; MLP 1-10-20-10-1 (461 parameters)",
)
register_problem(
    "wavepacket-v0", "pgbench.problems.wavepacket:WavePacket",
    scales={"paper": {"batch_size": 100, "test_size": 10000, "iterations": 2000, "solve_iterations": 1,
                      "eval_every": 50},
            "quick": {"batch_size": 100, "test_size": 500, "iterations": 400, "solve_iterations": 1,
                      "eval_every": 20}},
    description="§1 / B.1: fit (xi0, A) of a noisy wave packet; L-BFGS-B vs a 1-D conv net",
)
register_problem(
    "sin2d-v0", "pgbench.problems.sin2d:Sin2D",
    scales={"paper": {"iterations": 20000, "solve_iterations": 100, "eval_every": 200},
            "quick": {"iterations": 2500, "solve_iterations": 50, "eval_every": 100}},
    description="authors' code: rotated, ill-conditioned 2-D sin characterisation (NeurIPS Fig. 5)",
    variant=True,
)
register_problem(
    "exp-v0", "pgbench.problems.exp:Exp",
    scales={"paper": {"iterations": 100000, "solve_iterations": 100, "eval_every": 1000},
            "quick": {"iterations": 10000, "solve_iterations": 50, "eval_every": 250}},
    description="authors' code: invert y = exp(x), x* ~ U(-12, 0) (NeurIPS Fig. 2)",
    variant=True,
)
register_problem(
    "navier-stokes-v0", "pgbench.problems.navier_stokes:NavierStokes",
    scales={"paper": {"resolution": 64, "batch_size": 64, "test_size": 64, "iterations": 20000,
                      "solve_iterations": 10000, "eval_every": 100},
            "quick": {"resolution": 32, "frequency_falloff": 40.0, "batch_size": 8, "test_size": 16,
                      "iterations": 200, "solve_iterations": 100, "eval_every": 10}},
    description="§3.4 / B.5: match a marker after 8 steps of incompressible flow by the initial velocity; "
                "U-net 2-2 with 5 levels (49,570 parameters); PG = reverse-simulation vortex estimator",
)
