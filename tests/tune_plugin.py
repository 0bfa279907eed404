"""Synthetic methods whose true order is known, for tests/test_tune.py.

Problem ``diag-quadratic``: :math:`y = a \\odot x` with :math:`a_i` from 1 to 10, so the loss
:math:`\\tfrac12\\lVert a \\odot x - y^*\\rVert^2` has curvatures μ = 1 … L = 100 (κ = 100).

* gradient descent at its best step η = 2/(L + μ) contracts the error by
  (κ − 1)/(κ + 1) ≈ 0.980 per step;
* heavy ball (Polyak) at its best η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))² contracts it by
  (√κ − 1)/(√κ + 1) ≈ 0.818 per step.

So tuned, heavy ball is far ahead. The problem's defaults favour GD: GD's default is its
optimal step, heavy ball's a tiny step (η = 1e-4, β = 0.5) — untuned, GD wins.

``costly-gd``: gradient descent whose step costs ``0.002 / damping`` CPU seconds (a busy loop),
so its cost depends on a hyperparameter the trials vary, as Hessian-free's CG steps depend on its
damping: cheap at the default damping 1 (what a pilot measures), 1000× dearer at 1e-3.

``growing-gd``: gradient descent whose k-th step of a run costs 0.4 k ms of CPU, as Hessian-free's
steps grow dearer while the network trains: five pilot steps see 1.4 ms each, a run of 100 steps
averages 20 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import time

import numpy as np
import pytest

import pgbench
from pgbench.problems.base import Problem
from pgbench.search_space import LogUniform, Uniform
from pgbench.solvers.base import IterativeSolver, loss_and_x_gradient

A = np.linspace(1.0, 10.0, 8).astype(np.float32)


@dataclass(frozen=True)
class DiagQuadratic(Problem):
    batch_size: int = 4
    test_size: int = 4
    solve_iterations: int = 100

    solver_defaults: ClassVar[dict] = {"gd": {"eta": 2.0 / 101.0}, "heavy-ball": {"eta": 1e-4, "beta": 0.5}}
    x_error_name: ClassVar[str] = "|x - x*|_1"

    @property
    def x_shape(self):
        return (len(A),)

    @property
    def y_shape(self):
        return (len(A),)

    def sample(self, rng, n, be):
        x = rng.standard_normal((n, len(A))).astype(np.float32)
        return be.asarray(x), be.asarray(x * A)

    def forward(self, be, x):
        return x * be.asarray(A)


@dataclass(frozen=True)
class HeavyBall(IterativeSolver):
    """:math:`x_{k+1} = x_k - \\eta\\nabla L(x_k) + \\beta (x_k - x_{k-1})`."""

    eta: float = 1e-4
    beta: float = 0.5
    search_space: ClassVar[dict] = {"eta": LogUniform(1e-4, 1e-1), "beta": Uniform(0.0, 0.99)}

    def init(self, problem, be, x0, y_target):
        return x0

    def step(self, problem, be, x, y_target, state):
        _, g = loss_and_x_gradient(problem, be)(x, y_target)
        return x - self.eta * g + self.beta * (x - state), x, {}


@dataclass(frozen=True)
class CostlyGD(IterativeSolver):
    """:math:`x_{k+1} = x_k - \\eta\\nabla L(x_k)`, each step working ``0.002 / damping`` CPU s."""

    eta: float = 0.01
    damping: float = 1.0
    jittable: ClassVar[bool] = False
    search_space: ClassVar[dict] = {"eta": LogUniform(1e-3, 2e-2), "damping": LogUniform(1e-3, 1.0)}

    def init(self, problem, be, x0, y_target):
        return None

    def step(self, problem, be, x, y_target, state):
        start = time.process_time()
        while time.process_time() - start < 0.002 / self.damping:  # work, as a CG step does
            pass
        _, g = loss_and_x_gradient(problem, be)(x, y_target)
        return x - self.eta * g, None, {}


@dataclass(frozen=True)
class GrowingGD(IterativeSolver):
    """:math:`x_{k+1} = x_k - \\eta\\nabla L(x_k)`, the k-th step working 0.4 k ms of CPU."""

    eta: float = 0.01
    jittable: ClassVar[bool] = False
    search_space: ClassVar[dict] = {"eta": LogUniform(1e-3, 2e-2)}

    def init(self, problem, be, x0, y_target):
        return 0

    def step(self, problem, be, x, y_target, state):
        start = time.process_time()
        while time.process_time() - start < 4e-4 * (state + 1):
            pass
        _, g = loss_and_x_gradient(problem, be)(x, y_target)
        return x - self.eta * g, state + 1, {}


def register() -> None:
    """Register ``diag-quadratic-v0``, ``heavy-ball-v0`` and ``costly-gd-v0`` (once)."""
    if "diag-quadratic-v0" not in pgbench.PROBLEMS:
        pgbench.register_problem("diag-quadratic-v0", f"{__name__}:DiagQuadratic", description="synthetic, κ = 100")
        pgbench.register_solver("heavy-ball-v0", f"{__name__}:HeavyBall", description="Polyak heavy ball")
        pgbench.register_solver("costly-gd-v0", f"{__name__}:CostlyGD", description="GD, cost set by damping")
        pgbench.register_solver("growing-gd-v0", f"{__name__}:GrowingGD", description="GD, steps dearer as it runs")


@contextmanager
def registered() -> Iterator[None]:
    """The two registered for the block only: tests that iterate over every registered problem and
    solver (conformance, search spaces) never see them."""
    with pytest.MonkeyPatch.context() as mp:
        for reg in (pgbench.PROBLEMS, pgbench.SOLVERS):
            mp.setattr(reg, "specs", dict(reg.specs))
            mp.setattr(reg, "origins", dict(reg.origins))
        register()
        yield


if __name__ != "tune_plugin":  # loaded as a plugin file (--plugin tests/tune_plugin.py): register now;
    register()  # imported by the tests as a module: they register it in a fixture (registered())
