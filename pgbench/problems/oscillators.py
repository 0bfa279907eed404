"""Nonlinear coupled oscillators, the HIG paper's first control task (spec ``hig.md`` §2.1;
``half-inverse-gradients/Nonlinear_oscillators``).

State :math:`s = (q_1..q_n, p_1..p_n)`, dynamics

.. math:: \\dot q_i = p_i,\\qquad \\dot p_i = -q_i + \\alpha\\left[(q_{i+1}-q_i)^3 + (q_{i-1}-q_i)^3\\right]
          + \\kappa\\,(q_{i+1} + q_{i-1} - 2q_i) + g\\,u(t)\\,\\delta_{in}

(a chain end has only its single neighbour term; κ = 0 in the paper's code), integrated with
classic RK4, the control held constant within each of the Nt steps. The unknown is the control
sequence :math:`x = (u_1..u_{N_t})`; the target is the initial state, :math:`y^* = s_0`
(return to the start after T = Nt·dt), and the loss is :math:`\\lVert s(T) - y^*\\rVert^2`
(no ½) with the batch mean. The network (4 → 20 → 20 → 20 → Nt, ReLU, Glorot-uniform weights,
zero biases as Keras) sees y*. Data ~ U[0, 1)^{2n}, drawn fresh every batch (the paper's fixed
4,096-example training set is not reproduced; the held-out batch plays its test set).

No ground-truth control exists: ``sample`` returns the zero control as ``x_true`` (used by no
metric; ``has_ground_truth = False``) and ``x_error`` is the miss distance
:math:`\\lVert s(T) - y^*\\rVert_2`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..nets import MLP
from .base import Problem, dtype_of, sum_per_example


@dataclass(frozen=True)
class GlorotMLP(MLP):
    """:class:`~pgbench.nets.MLP` with Keras' default initialisation: Glorot-uniform weights
    (:math:`\\pm\\sqrt{6/(n_{in}+n_{out})}`) and zero biases (the HIG paper's TF networks)."""

    def layer_init(self, rng, n_in, n_out):
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=(n_in, n_out)), np.zeros((n_out,))


@dataclass(frozen=True)
class Oscillators(Problem):
    n: int = 2
    steps: int = 96
    dt: float = 0.125
    alpha: float = 1.0
    spring: float = 0.0
    gain: float = 3.0
    hidden: tuple[int, ...] = (20, 20, 20)
    batch_size: int = 128
    test_size: int = 512

    capabilities: ClassVar[frozenset[str]] = frozenset({"small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    has_ground_truth: ClassVar[bool] = False
    x_error_name: ClassVar[str] = "||s(T) - y*||_2 (miss distance; no ground-truth control)"
    target_x_error: ClassVar[float | None] = 0.03
    solver_defaults: ClassVar[dict] = {
        "hig": {"eta": 1.0, "tau": 1e-6},
        "gn": {"eta": 1.0, "tau": 1e-6},
        "dp": {"lr": 1e-3},
        "adam": {"lr": 0.01},
        "gd": {"eta": 1e-3},
    }

    def __post_init__(self):
        super().__post_init__()
        if self.n < 1 or self.steps < 1 or self.dt <= 0:
            raise ValueError(f"need n >= 1, steps >= 1, dt > 0; got {self.n}, {self.steps}, {self.dt}")

    @property
    def x_shape(self):
        return (self.steps,)

    @property
    def y_shape(self):
        return (2 * self.n,)

    def sample(self, rng, n, be):
        s0 = rng.uniform(0.0, 1.0, size=(n, 2 * self.n))
        return be.zeros((n, self.steps)), be.asarray(s0, "float32")

    def rhs(self, be, s, u):
        """:math:`\\dot s` for states (B, 2n) and controls (B,)."""
        xp = be.xp
        n = self.n
        q, p = s[:, :n], s[:, n:]
        zero = xp.zeros_like(q[:, :1])
        force = -q
        if n > 1:
            dq = q[:, 1:] - q[:, :-1]  # q_{i+1} - q_i, (B, n-1)
            c = self.alpha * dq**3 + self.spring * dq
            force = force + xp.concat([c, zero], axis=1) - xp.concat([zero, c], axis=1)
        ctrl = xp.concat([xp.zeros_like(q[:, 1:]), self.gain * u[:, None]], axis=1)
        return xp.concat([p, force + ctrl], axis=1)

    def simulate(self, be, x, s0):
        """RK4 over the Nt steps with control ``x[:, t]`` held within step t; returns s(T)."""
        s, h = s0, self.dt
        for t in range(self.steps):
            u = x[:, t]
            k1 = self.rhs(be, s, u)
            k2 = self.rhs(be, s + 0.5 * h * k1, u)
            k3 = self.rhs(be, s + 0.5 * h * k2, u)
            k4 = self.rhs(be, s + h * k3, u)
            s = s + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        return s

    def observable(self, be, x, y):
        """The final state s(T) reached from s0 = y* under the control x (to compare with y*)."""
        return self.simulate(be, x, y)

    def residual(self, be, x, y):
        return self.simulate(be, x, y) - y

    def loss(self, be, x, y):
        r = self.residual(be, x, y)
        return sum_per_example(be.xp, r * r)

    def hig_loss(self, be, out, y):
        """ℓ of the HIG output (the residual s(T) - y*): :math:`\\lVert r\\rVert^2`."""
        return sum_per_example(be.xp, out * out)

    def x_error(self, be, x, x_true, y):
        r = self.residual(be, x, y)
        return be.xp.sqrt(sum_per_example(be.xp, r * r))

    def extras(self, be, x, x_true, y):
        return {"control_rms": be.xp.sqrt(be.xp.mean(x * x, axis=1))}

    def network(self):
        return GlorotMLP((2 * self.n,) + tuple(self.hidden) + (self.steps,), "relu")

    def net_input(self, be, y):
        return be.xp.astype(y, dtype_of(be, self.net_dtype))
