"""Quantum dipole control, the HIG paper's second task (spec ``hig.md`` §2.2;
``half-inverse-gradients/Quantum_dipole``).

A particle in a box :math:`[0, 2]` with :math:`\\psi(0) = \\psi(2) = 0`,
:math:`i\\partial_t\\psi = (-\\partial_x^2 + u(t)\\,x)\\psi`, on 16 grid points (14 interior unknowns,
dx = 2/15, :math:`x_j = j\\,dx`), 3-point Laplacian, Crank-Nicolson

.. math:: (I + \\tfrac{i\\,dt}{2}H_t)\\,\\psi^{+} = (I - \\tfrac{i\\,dt}{2}H_t)\\,\\psi,\\qquad
          H_t = -D_2/dx^2 + \\mathrm{diag}(u_t x_j)

with the control :math:`u_t` held within each of the Nt steps. Complex states are stored as
real (re, im) pairs. As H is real symmetric, the Cayley step
:math:`(I + ikH)^{-1}(I - ikH) = \\big[(I - k^2H^2) - 2ikH\\big](I + k^2H^2)^{-1}` (k = dt/2, all
factors commute), so each step needs only the real 14×14 inverse :math:`S = (I + k^2H^2)^{-1}`:
:math:`a^+ = (I - k^2H^2)Sa + 2kHSb`, :math:`b^+ = (I - k^2H^2)Sb - 2kHSa`. (An explicit inverse
keeps the reverse pass to matrix products; a ``solve`` re-factorises for every cotangent.) The
step maps of all Nt steps are formed at once, then applied to the state in order.

The start is the ground state :math:`\\psi_1`; the target a real superposition
:math:`(c_1\\psi_2 + c_2\\psi_3)/\\lVert c\\rVert`, :math:`c \\sim \\mathcal N(0, I_2)`, with
:math:`\\psi_n(x_j) \\propto \\sin(\\pi n j/15)` normalised in discrete ℓ². Observations are the
target as 14 interleaved (re, im) pairs (the network input, 28 → 20 → 20 → 20 tanh → Nt,
Glorot-uniform as Keras); the loss is the infidelity :math:`1 - |\\langle\\psi^*, \\psi(T)\\rangle|^2`
(batch mean). HIG works in the 28-real output space of the final state.

No ground-truth control exists: ``x_true`` is the zero control (used by no metric) and
``x_error`` is the infidelity itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Problem, dtype_of
from .oscillators import GlorotMLP


def eigenstate(n: int, points: int = 14) -> np.ndarray:
    """Discrete sine mode :math:`\\sin(\\pi n j/(points+1))`, j = 1..points, unit ℓ² norm."""
    j = np.arange(1, points + 1)
    v = np.sin(np.pi * n * j / (points + 1))
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class QuantumDipole(Problem):
    steps: int = 384
    dt: float = 0.05
    points: int = 14  # interior grid points (16 with the walls)
    length: float = 2.0
    hidden: tuple[int, ...] = (20, 20, 20)
    batch_size: int = 16
    test_size: int = 256

    capabilities: ClassVar[frozenset[str]] = frozenset({"small", "network"})
    loss_reduction: ClassVar[str] = "mean"
    has_ground_truth: ClassVar[bool] = False
    x_error_name: ClassVar[str] = "infidelity (no ground-truth control)"
    target_x_error: ClassVar[float | None] = 1e-2
    solver_defaults: ClassVar[dict] = {
        "hig": {"eta": 0.5, "tau": 1e-5},
        "gn": {"eta": 0.5, "tau": 1e-5},
        "dp": {"lr": 5e-4},
        "adam": {"lr": 0.01},
    }

    @property
    def x_shape(self):
        return (self.steps,)

    @property
    def y_shape(self):
        return (2 * self.points,)

    @property
    def dx(self) -> float:
        return self.length / (self.points + 1)

    def _matrices(self):
        """Host constants: :math:`H_0 = -D_2/dx^2` and the positions :math:`x_j`."""
        n, dx = self.points, self.dx
        H0 = (2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)) / dx**2
        return H0, dx * np.arange(1, n + 1)

    def sample(self, rng, n, be):
        c = rng.standard_normal(size=(n, 2))
        c /= np.linalg.norm(c, axis=1, keepdims=True)
        psi = c[:, :1] * eigenstate(2, self.points) + c[:, 1:] * eigenstate(3, self.points)
        y = np.stack([psi, np.zeros_like(psi)], axis=2).reshape(n, -1)  # interleaved (re, im)
        return be.zeros((n, self.steps)), be.asarray(y, "float32")

    def _cayley(self, be, x):
        """Per step (B, Nt, n, n): :math:`S = (I + k^2H_t^2)^{-1}`, :math:`RS = (I - k^2H_t^2)S`,
        :math:`KS = 2kH_tS`."""
        xp = be.xp
        n, k = self.points, 0.5 * self.dt
        H0, pos = self._matrices()
        eye = be.asarray(np.eye(n), self.physics_dtype)
        kpos = be.asarray(k * pos, self.physics_dtype)
        kH = be.asarray(k * H0, self.physics_dtype) + (x[:, :, None] * kpos)[..., None] * eye
        kH2 = xp.matmul(kH, kH)
        S = xp.linalg.inv(eye + kH2)  # symmetric positive definite, commutes with H
        return S, xp.matmul(eye - kH2, S), 2 * xp.matmul(kH, S)

    def step_matrices(self, be, x):
        """The real 2n×2n Crank-Nicolson step maps of every step, (B, Nt, 2n, 2n):
        :math:`\\begin{pmatrix}RS & 2kHS\\\\ -2kHS & RS\\end{pmatrix}` with
        :math:`S = (I + k^2H_t^2)^{-1}`, :math:`R = I - k^2H_t^2`, acting on (re, im) stacked."""
        xp = be.xp
        _, RS, KS = self._cayley(be, x)
        return xp.concat([xp.concat([RS, KS], axis=3), xp.concat([-KS, RS], axis=3)], axis=2)

    def hig_output_jacobian(self, be, x, y):
        """:math:`\\partial\\,\\mathrm{out}/\\partial u`, (B, 2·points, Nt), of :meth:`hig_output`
        (the final state, interleaved) by the adjoint recursion instead of Nt-step reverse-mode
        autodiff per output (which costs ~50x more here: it differentiates through every step's
        14×14 inverse once per output). With :math:`v_t = M_t v_{t-1}` and the Cayley step
        :math:`M = (I + iA)^{-1}(I - iA)`, :math:`A = kH_t`,
        :math:`\\partial v_t/\\partial u_t = -(I + iA)^{-1}\\,ikX\\,(v_t + v_{t-1})` (X = diag(x_j),
        :math:`(I + iA)^{-1} = (I - iA)S`), and :math:`\\partial\\mathrm{out}/\\partial u_t =
        \\Lambda_t\\,\\partial v_t/\\partial u_t` with :math:`\\Lambda_{Nt}` the interleaving and
        :math:`\\Lambda_{t-1} = \\Lambda_t M_t`. Used by HIG (``hig_output_jacobian``), tested against
        autodiff."""
        xp = be.xp
        B, n, k = x.shape[0], self.points, 0.5 * self.dt
        S, RS, KS = self._cayley(be, x)
        M = xp.concat([xp.concat([RS, KS], axis=3), xp.concat([-KS, RS], axis=3)], axis=2)
        Ms = xp.unstack(M, axis=1)
        v0 = be.asarray(np.concatenate([eigenstate(1, n), np.zeros(n)]), self.physics_dtype)
        v = xp.broadcast_to(v0[None], (B, 2 * n))
        states = [v]
        for Mt in Ms:
            v = xp.matmul(Mt, v[..., None])[..., 0]
            states.append(v)
        V = xp.stack(states, axis=1)  # (B, Nt+1, 2n)
        s = V[:, 1:] + V[:, :-1]
        kX = be.asarray(k * self._matrices()[1], self.physics_dtype)
        kxp, kxq = kX * s[..., :n], kX * s[..., n:]

        def mv(A, w):
            return xp.matmul(A, w[..., None])[..., 0]

        Z = xp.concat([mv(S, kxq) - 0.5 * mv(KS, kxp), -mv(S, kxp) - 0.5 * mv(KS, kxq)], axis=2)  # (B, Nt, 2n)
        perm = np.zeros((2 * n, 2 * n))
        perm[2 * np.arange(n), np.arange(n)] = 1.0  # out[2j] = re_j
        perm[2 * np.arange(n) + 1, n + np.arange(n)] = 1.0  # out[2j+1] = im_j
        lam = xp.broadcast_to(be.asarray(perm, self.physics_dtype)[None], (B, 2 * n, 2 * n))
        Zs = xp.unstack(Z, axis=1)
        cols = [None] * len(Ms)
        for t in range(len(Ms) - 1, -1, -1):
            cols[t] = mv(lam, Zs[t])
            lam = xp.matmul(lam, Ms[t])
        return xp.stack(cols, axis=2)

    def simulate(self, be, x, psi0=None):
        """Crank-Nicolson over the Nt steps; returns the final state (B, 2·points) interleaved.
        The step maps of all steps are built at once, then applied in order (two array
        operations per step)."""
        xp = be.xp
        B, n = x.shape[0], self.points
        M = self.step_matrices(be, x)
        if psi0 is None:
            psi0 = eigenstate(1, n)
        v0 = be.asarray(np.concatenate([psi0, np.zeros(n)]), self.physics_dtype)  # (re, im) stacked
        v = xp.broadcast_to(v0[None], (B, 2 * n))
        for Mt in xp.unstack(M, axis=1):  # unstack, not M[:, t]: a slice's reverse pass is a full-size scatter
            v = xp.matmul(Mt, v[..., None])[..., 0]
        out = v
        return xp.reshape(xp.stack([out[:, :n], out[:, n:]], axis=2), (B, 2 * n))

    def infidelity(self, be, out, y):
        """:math:`1 - |\\langle\\psi^*, \\psi\\rangle|^2` for interleaved (re, im) states."""
        xp = be.xp
        a, b = out[:, 0::2], out[:, 1::2]
        tr, ti = y[:, 0::2], y[:, 1::2]
        re = xp.sum(tr * a + ti * b, axis=1)
        im = xp.sum(tr * b - ti * a, axis=1)
        return 1.0 - (re * re + im * im)

    def observable(self, be, x, y):
        """The final state ψ(T), interleaved (re, im), times the global phase
        :math:`e^{-i\\arg\\langle\\psi^*, \\psi(T)\\rangle}` (which the infidelity ignores), so that
        a converged control shows ψ(T) on top of ψ*."""
        xp = be.xp
        out = self.simulate(be, x)
        a, b = out[:, 0::2], out[:, 1::2]
        tr, ti = y[:, 0::2], y[:, 1::2]
        re = xp.sum(tr * a + ti * b, axis=1, keepdims=True)
        im = xp.sum(tr * b - ti * a, axis=1, keepdims=True)
        r = xp.sqrt(re * re + im * im)
        c = xp.where(r > 0, re / xp.where(r > 0, r, 1.0), 1.0)
        d = xp.where(r > 0, im / xp.where(r > 0, r, 1.0), 0.0)
        rot = xp.stack([a * c + b * d, b * c - a * d], axis=2)  # ψ · (c - i d)
        return xp.reshape(rot, out.shape)

    def hig_output(self, be, x, y):
        return self.simulate(be, x)

    def hig_loss(self, be, out, y):
        return self.infidelity(be, out, y)

    def loss(self, be, x, y):
        return self.infidelity(be, self.simulate(be, x), y)

    def x_error(self, be, x, x_true, y):
        return self.loss(be, x, y)

    def extras(self, be, x, x_true, y):
        out = self.simulate(be, x)
        return {"norm_drift": be.xp.abs(be.xp.sum(out * out, axis=1) - 1.0)}

    def network(self):
        return GlorotMLP((2 * self.points,) + tuple(self.hidden) + (self.steps,), "tanh")

    def net_input(self, be, y):
        return be.xp.astype(y, dtype_of(be, self.net_dtype))
