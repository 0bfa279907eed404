"""A user-defined problem and solver, registered from outside pgbench.

Gravity inversion (linear geophysics): find the density contrast of a row of buried cells from the
vertical gravity anomaly measured along the surface.

* Unknown ``x``: density contrast of ``n_cells`` cells (width ``cell_width``, thickness
  ``thickness``) whose centres lie at depth ``depth``, in units of 100 kg/m³.
* Observation ``y``: the vertical gravity anomaly at ``n_stations`` surface stations, in mGal,
  plus Gaussian instrument noise of standard deviation ``noise`` mGal.
* Forward model: every cell is a long horizontal prism, treated as a 2-D line mass of linear
  density :math:`\\lambda_j = \\Delta\\rho_j\\,w\\,t`, whose vertical attraction at horizontal
  offset :math:`d` and depth :math:`h` is

  .. math:: g_z = \\frac{2 G \\lambda h}{d^2 + h^2},

  so ``y = K x`` with :math:`K_{ij} = 2 G\\,(100\\,\\mathrm{kg/m^3})\\,w\\,t\\,h / ((s_i - c_j)^2 + h^2)`
  converted to mGal (:math:`1\\,\\mathrm{mGal} = 10^{-5}\\,\\mathrm{m/s^2}`). The kernel smooths
  like :math:`e^{-|k| h}` in wavenumber, so short wavelengths are nearly invisible: the problem
  is ill-conditioned, the classic setting of potential-field inversion.
* Inverse physics (capability ``inverse``): one Tikhonov-regularised Gauss-Newton step
  :math:`x \\leftarrow x + \\eta\\,(K^T K + \\varepsilon I)^{-1} K^T (y^* - K x)`, precomputed as a
  dense matrix (iterating it converges to the least-squares solution).

The solver ``cgls`` (conjugate gradients on the normal equations, the standard iterative method
for linear inverse problems; regularised by stopping early) needs the problem capability
``linear`` that this problem declares: on any other problem pgbench skips it with a reason.

Use it from Python::

    import pgbench, importlib
    importlib.import_module("examples.plugin_problem")          # or pgbench.load_plugin("examples/plugin_problem.py")
    result = pgbench.run("gravity", "cgls", iterations=20)

or from the command line (nothing in pgbench is edited)::

    pgbench run --plugin examples/plugin_problem.py gravity gd cgls inverse pg dp --scale quick
    pgbench run --plugin examples/plugin_problem.py gravity pg --set inner=cgls --set n=4   # CGLS as PG's inner solver

A solver follows pgbench's contract (:mod:`pgbench.solvers.base`): ``init(problem, be, x0, y*) ->
state`` and ``step(problem, be, x, y*, state) -> (x, state, info)``, ``info`` a dict of scalar
diagnostics that the runner records in the row (here the residual norm ``rnorm``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import pgbench
from pgbench.nets import MLP
from pgbench.problems.base import Problem, sum_per_example
from pgbench.solvers.base import IterativeSolver, check_positive

GRAVITY = 6.674e-11     # m³ / (kg s²)
DENSITY_UNIT = 100.0    # kg/m³ per unit of x
MGAL = 1e-5             # m/s² per mGal


@functools.lru_cache(maxsize=32)
def _operators(n_cells, n_stations, cell_width, thickness, depth, margin, epsilon):
    """The forward matrix K (n_stations × n_cells, mGal per unit of x) and the regularised
    inverse R = (KᵀK + εI)⁻¹Kᵀ, in float64 numpy."""
    centres = (np.arange(n_cells) + 0.5) * cell_width
    length = n_cells * cell_width
    stations = np.linspace(-margin * length, (1 + margin) * length, n_stations)
    d = stations[:, None] - centres[None, :]
    lam = DENSITY_UNIT * cell_width * thickness  # kg/m per unit of x
    K = 2 * GRAVITY * lam * depth / (d * d + depth * depth) / MGAL
    R = np.linalg.solve(K.T @ K + epsilon * np.eye(n_cells), K.T)
    return K, R


@dataclass(frozen=True)
class GravityInversion(Problem):
    """Density contrast of buried cells from surface gravity (see the module docstring)."""

    n_cells: int = 32
    n_stations: int = 48
    cell_width: float = 100.0    # m
    thickness: float = 100.0     # m (vertical extent of each cell)
    depth: float = 200.0         # m, depth of the cell centres
    margin: float = 0.25         # stations extend this fraction of the profile beyond each end
    noise: float = 0.002         # mGal, instrument noise
    epsilon: float = 1e-4        # Tikhonov weight of the inverse-physics step (mGal²)
    max_bodies: int = 3          # anomalous bodies per example
    batch_size: int = 64
    test_size: int = 128

    capabilities: ClassVar[frozenset[str]] = frozenset({"inverse", "small", "network", "linear"})
    loss_reduction: ClassVar[str] = "mean"
    x_error_name: ClassVar[str] = "rms(Δρ - Δρ*) [100 kg/m³]"
    target_x_error: ClassVar[float | None] = 0.3
    solver_defaults: ClassVar[dict] = {
        "gd": {"eta": 10.0},       # below 2 / λ_max(KᵀK) ≈ 15 for the default geometry
        "adam": {"lr": 0.05},
        "lbfgsb": {"maxiter": 200},
        "dp": {"lr": 1e-3},
        "supervised": {"lr": 1e-3},
        "pg": {"lr": 1e-3},
    }

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_cells", "n_stations", "max_bodies"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("cell_width", "thickness", "depth", "epsilon"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.noise < 0 or self.margin < 0:
            raise ValueError("noise and margin must be >= 0")

    @property
    def x_shape(self):
        return (self.n_cells,)

    @property
    def y_shape(self):
        return (self.n_stations,)

    def operators(self):
        return _operators(self.n_cells, self.n_stations, self.cell_width, self.thickness, self.depth, self.margin,
                          self.epsilon)

    def sample(self, rng, n, be):
        """Up to ``max_bodies`` blocks of random extent (2-8 cells) and contrast U(-2, 3) on a
        zero background; y = K x* + noise."""
        x = np.zeros((n, self.n_cells))
        for i in range(n):
            for _ in range(rng.integers(1, self.max_bodies + 1)):
                width = rng.integers(2, min(8, self.n_cells) + 1)
                start = rng.integers(0, self.n_cells - width + 1)
                x[i, start:start + width] += rng.uniform(-2.0, 3.0)
        K, _ = self.operators()
        y = x @ K.T + self.noise * rng.standard_normal((n, self.n_stations))
        return be.asarray(x, "float32"), be.asarray(y, "float32")

    def forward(self, be, x):
        K, _ = self.operators()
        return be.xp.matmul(x, be.asarray(K.T, "float32"))

    def x_error(self, be, x, x_true, y_target):
        """Root-mean-square density error per example."""
        d = x - x_true
        return be.xp.sqrt(sum_per_example(be.xp, d * d) / self.n_cells)

    def inverse(self, be, x, y_target, eta=1.0):
        """Tikhonov-regularised Gauss-Newton step x + η R (y* - K x)."""
        _, R = self.operators()
        return x + eta * be.xp.matmul(y_target - self.forward(be, x), be.asarray(R.T, "float32"))

    def network(self):
        return MLP((self.n_stations, 64, 64, self.n_cells), "relu")


@dataclass(frozen=True)
class CGLS(IterativeSolver):
    """Conjugate gradients on the normal equations :math:`K^TKx = K^Ty^*` for a linear forward
    model (Hestenes-Stiefel CGLS), every example on its own; ``K^T`` comes from the backend's
    vector-Jacobian product. In exact arithmetic it solves the least-squares problem in at most
    ``n`` steps; stopped early it regularises. ``tiny`` guards the divisions once converged."""

    tiny: float = 1e-30

    requires: ClassVar[frozenset[str]] = frozenset({"linear"})

    def __post_init__(self):
        check_positive(self, "tiny")

    def _dot(self, be, a, b):
        return sum_per_example(be.xp, a * b)[:, None]

    def _adjoint(self, problem, be, r, x):
        _, pullback = be.vjp(lambda z: problem.forward(be, z), x)
        (s,) = pullback(r)
        return s

    def init(self, problem, be, x0, y_target):
        r = y_target - problem.forward(be, x0)
        s = self._adjoint(problem, be, r, x0)
        return {"r": r, "p": s, "gamma": self._dot(be, s, s)}

    def step(self, problem, be, x, y_target, state):
        xp = be.xp
        r, p, gamma = state["r"], state["p"], state["gamma"]
        q = problem.forward(be, p)
        qq = self._dot(be, q, q)
        alpha = xp.where(qq > self.tiny, gamma / xp.where(qq > self.tiny, qq, xp.ones_like(qq)), xp.zeros_like(qq))
        x = x + alpha * p
        r = r - alpha * q
        s = self._adjoint(problem, be, r, x)
        gamma_new = self._dot(be, s, s)
        beta = xp.where(gamma > self.tiny, gamma_new / xp.where(gamma > self.tiny, gamma, xp.ones_like(gamma)),
                        xp.zeros_like(gamma))
        info = {"rnorm": xp.sqrt(self._dot(be, r, r))[:, 0]}   # per example; the row holds the batch mean
        return x, {"r": r, "p": s + beta * p, "gamma": gamma_new}, info


pgbench.register_problem(
    "gravity-v0", f"{__name__}:GravityInversion",
    scales={"paper": {"iterations": 3000, "solve_iterations": 200, "eval_every": 100, "batch_size": 128,
                      "test_size": 1000},
            "quick": {"iterations": 400, "solve_iterations": 50, "eval_every": 25}},
    description="plugin example: density of buried cells from surface gravity (line masses, 2G λ h/(d²+h²))",
)
pgbench.register_solver("cgls-v0", f"{__name__}:CGLS",
                        description="plugin example: conjugate gradients on the normal equations (linear problems)")
