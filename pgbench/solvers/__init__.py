"""The solver catalogue: registrations only."""

from ..registry import register_solver

# iterative optimizers: each inverse problem of the batch on its own
register_solver("gd-v0", "pgbench.solvers.iterative:GradientDescent", description="gradient descent x -= eta dL/dx")
register_solver("adam-v0", "pgbench.solvers.iterative:Adam", description="Adam on x")
register_solver("lbfgsb-v0", "pgbench.solvers.iterative:LBFGSB", description="scipy L-BFGS-B per example")
register_solver(
    "newton-v0",
    "pgbench.solvers.iterative:Newton",
    description="Newton flipped towards minima, limited and clipped (App. B.2)",
)
register_solver(
    "invgrad-v0", "pgbench.solvers.iterative:InverseGradient", description="linearised inversion x -= J^-1 (P(x) - y*)"
)
register_solver(
    "gauss-newton-v0",
    "pgbench.solvers.iterative:GaussNewton",
    description="Gauss-Newton per example x -= (JᵀJ)⁻¹Jᵀr (optimistix on jax)",
)
register_solver(
    "lm-v0",
    "pgbench.solvers.iterative:LevenbergMarquardt",
    description="Levenberg-Marquardt per example (JᵀJ + λI)δ = -Jᵀr, trust-region λ (optimistix on jax)",
)
register_solver(
    "inverse-v0", "pgbench.solvers.iterative:InversePhysics", description="iterated inverse physics x <- P^-1(y* | x)"
)

# network training schemes
register_solver(
    "dp-v0",
    "pgbench.solvers.training:DifferentiablePhysics",
    description="backpropagation through the physics (Eq. 2), Adam or SGD+momentum",
)
register_solver(
    "supervised-v0",
    "pgbench.solvers.training:Supervised",
    description="supervised on ground truth or iterative-solver labels (Eq. 3)",
)
register_solver(
    "pg-v0",
    "pgbench.solvers.training:PhysicalGradient",
    description="physical gradients / SIP with any inner solver (Eq. 5, Algorithm 1)",
)
register_solver(
    "hig-v0",
    "pgbench.solvers.hig:HalfInverseGradient",
    description="half-inverse gradients: θ -= η V Σ^-1/2 Uᵀ ∂L/∂ŷ over the batch Jacobian (HIG paper)",
)
register_solver(
    "gn-v0",
    "pgbench.solvers.hig:HalfInverseGradient",
    kwargs={"beta": -1.0},
    description="Gauss-Newton through network and physics: HIG with exponent -1 (d = J⁺g)",
)
register_solver(
    "lbfgs-v0",
    "pgbench.solvers.second_order:LBFGSTraining",
    description="L-BFGS on the network parameters through the physics loss (torch.optim.LBFGS / optax.lbfgs)",
)
register_solver(
    "hf-v0",
    "pgbench.solvers.second_order:HessianFree",
    description="Hessian-free: Gauss-Newton CG step (jvp/vjp) with Levenberg-Marquardt damping",
)
register_solver(
    "schedule-v0",
    "pgbench.solvers.schedule:StagedScheme",
    description="switch training scheme after N iterations or seconds (e.g. Adam then HIG)",
)
