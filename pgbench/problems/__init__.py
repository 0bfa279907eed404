"""The problem catalogue: registrations only. Scales set fields of the problem class;
``iterations`` is the training budget, ``solve_iterations`` the iterative-solver budget."""

from ..registry import register_problem

register_problem(
    "quadratic2d-v0",
    "pgbench.problems.quadratic2d:Quadratic2D",
    scales={"paper": {}, "quick": {}},
    description="Fig. 2a: y = (x1, x2^2) from x = (3, 3); GD, Newton and inverse-physics trajectories",
)
register_problem(
    "sin-v0",
    "pgbench.problems.sin:Sin",
    scales={
        "paper": {
            "batch_size": 1000,
            "test_size": 1000,
            "iterations": 20000,
            "solve_iterations": 100,
            "eval_every": 200,
        },
        "quick": {"batch_size": 1000, "test_size": 1000, "iterations": 3000, "solve_iterations": 50, "eval_every": 100},
    },
    description="§3.1 / B.2: sin(a/x) = -1, multimodal; MLP 1-10-20-10-1 (461 parameters)",
)
register_problem(
    "wavepacket-v0",
    "pgbench.problems.wavepacket:WavePacket",
    scales={
        "paper": {"batch_size": 100, "test_size": 10000, "iterations": 2000, "solve_iterations": 1, "eval_every": 50},
        "quick": {"batch_size": 100, "test_size": 500, "iterations": 400, "solve_iterations": 1, "eval_every": 20},
    },
    description="§1 / B.1: fit (xi0, A) of a noisy wave packet; L-BFGS-B vs a 1-D conv net",
)
register_problem(
    "sin2d-v0",
    "pgbench.problems.sin2d:Sin2D",
    scales={
        "paper": {"iterations": 20000, "solve_iterations": 100, "eval_every": 200},
        "quick": {"iterations": 2500, "solve_iterations": 50, "eval_every": 100},
    },
    description="authors' code: rotated, ill-conditioned 2-D sin characterisation (NeurIPS Fig. 5)",
    variant=True,
)
register_problem(
    "exp-v0",
    "pgbench.problems.exp:Exp",
    scales={
        "paper": {"iterations": 100000, "solve_iterations": 100, "eval_every": 1000},
        "quick": {"iterations": 10000, "solve_iterations": 50, "eval_every": 250},
    },
    description="authors' code: invert y = exp(x), x* ~ U(-12, 0) (NeurIPS Fig. 2)",
    variant=True,
)
register_problem(
    "navier-stokes-v0",
    "pgbench.problems.navier_stokes:NavierStokes",
    scales={
        "paper": {
            "resolution": 64,
            "batch_size": 64,
            "test_size": 64,
            "iterations": 20000,
            "solve_iterations": 10000,
            "eval_every": 100,
        },
        "quick": {
            "resolution": 32,
            "frequency_falloff": 40.0,
            "batch_size": 8,
            "test_size": 16,
            "iterations": 200,
            "solve_iterations": 100,
            "eval_every": 10,
        },
    },
    description="§3.4 / B.5: match a marker after 8 steps of incompressible flow by the initial velocity; "
    "U-net 2-2 with 5 levels (49,570 parameters); PG = reverse-simulation vortex estimator",
)

# the HIG paper's problems and the PBDL book's HIG toy (spec hig.md §2, §3.5, §5.4)
register_problem(
    "oscillators-v0",
    "pgbench.problems.oscillators:Oscillators",
    scales={
        "paper": {
            "steps": 96,
            "dt": 0.125,
            "batch_size": 128,
            "test_size": 4096,
            "iterations": 20000,
            "eval_every": 200,
        },
        "quick": {"steps": 48, "dt": 0.25, "batch_size": 32, "test_size": 512, "iterations": 1000, "eval_every": 25},
    },
    description="HIG §2.1: steer 2 nonlinear coupled oscillators back to the start (RK4); MLP 4-20-20-20-Nt",
)
register_problem(
    "quantum-dipole-v0",
    "pgbench.problems.quantum_dipole:QuantumDipole",
    scales={
        "paper": {
            "steps": 384,
            "dt": 0.05,
            "batch_size": 16,
            "test_size": 1024,
            "iterations": 20000,
            "eval_every": 200,
        },
        "quick": {"steps": 96, "dt": 0.2, "batch_size": 16, "test_size": 256, "iterations": 500, "eval_every": 25},
    },
    description="HIG §2.2: Crank-Nicolson Schrödinger control to a superposition of excited states, infidelity",
)
register_problem(
    "poisson-hig-v0",
    "pgbench.problems.poisson_hig:PoissonHIG",
    scales={
        "paper": {"size": 8, "batch_size": 64, "test_size": 256, "iterations": 20000, "eval_every": 200},
        # CPU-sized (spec §5.4c "smaller, for CI"): 4x4 grid, widths >= cells; J is 1,024 x 1,616
        "quick": {
            "size": 4,
            "hidden": (16, 32, 16),
            "batch_size": 64,
            "test_size": 256,
            "iterations": 2000,
            "eval_every": 50,
        },
    },
    description="HIG §2.3: dense net learns the 8x8 Poisson solve through the 5-point Laplacian (not SIP's poisson)",
)
register_problem(
    "hig-toy-v0",
    "pgbench.problems.hig_toy:HigToy",
    scales={
        "paper": {"lam": 0.01, "batch_size": 64, "test_size": 512, "iterations": 10000, "eval_every": 100},
        "quick": {"lam": 0.01, "batch_size": 64, "test_size": 512, "iterations": 2000, "eval_every": 50},
    },
    description="PBDL book HIG toy: 1-7-2 tanh net, physics scales output 2 by lambda = 0.01",
)
register_problem(
    "poisson-v0",
    "pgbench.problems.poisson:Poisson",
    scales={
        "paper": {},
        "quick": {
            "resolution": (32, 32),
            "noise_scale": 5.0,
            "batch_size": 16,
            "test_size": 32,
            "iterations": 500,
            "solve_iterations": 300,
            "eval_every": 10,
        },
    },
    tuning={"quick": {"gd": {"eta": 3e-4}, "paper_sgd": {"lr": 1e-10}}},
    description="§3.2 / B.3: Poisson ∇²y = x by CG (64×64, authors' code), U-net 37,697; PG = Laplacian",
)
register_problem(
    "poisson-iclr-v0",
    "pgbench.problems.poisson:Poisson",
    kwargs={"resolution": (80, 60)},
    scales={
        "paper": {},
        "quick": {
            "resolution": (32, 24),
            "noise_scale": 4.0,
            "batch_size": 16,
            "test_size": 32,
            "iterations": 500,
            "solve_iterations": 300,
            "eval_every": 10,
        },
    },
    tuning={"paper": {"paper_sgd": {"lr": 1e-9}}, "quick": {"gd": {"eta": 3e-4}, "paper_sgd": {"lr": 1e-10}}},
    description="§3.2 / B.3 as in the ICLR text: Poisson on 80×60, SGD lr 1e-9",
)
register_problem(
    "heat-v0",
    "pgbench.problems.heat:Heat",
    scales={
        "paper": {},
        "quick": {
            "resolution": (32, 32),
            "tau": 2.0,
            "half_size_max": 5.0,
            "batch_size": 32,
            "test_size": 32,
            "iterations": 300,
            "solve_iterations": 100,
            "eval_every": 10,
        },
    },
    description="§3.3 / B.4: periodic heat, τ = 8 on 64×64, float64 physics; PG = damped inverse",
)
