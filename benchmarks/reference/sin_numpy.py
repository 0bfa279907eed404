"""An independent NumPy reference of the sin(a/x) training experiment (paper §3.1, App. B.2; issue 30).

Everything that computes is written here by hand, in NumPy, in a chosen float width (float64 by
default): the MLP 1-10-20-10-1 (ReLU) forward pass and its backpropagation, Adam as torch.optim.Adam
and optax.adam define it, the learning-rate schedules, and every scheme's feedback vector g_x at the
network output with its clip. Only the *inputs* come from pgbench, so that a difference is
arithmetic, not data: the initial weights (``MLP.init_numpy(keys.rng(seed, "net"))`` rounded to
float32, as pgbench holds them) and the training batches (``Sin.draw(keys.rng(seed, "train", i))``,
float32 values of a).

The math, per iteration with the batch a (N = 1000) and the prediction x = NN(a | θ):

* h = sin(a/x) + 1, ∂h/∂x = −(a/x²) cos(a/x); the x error |x − x*(x)| with
  x*(x) = a/(3π/2 + 2πn), n = round(a/(2πx) − 3/4), n ≥ 0 for x > 0, n ≤ −1 for x < 0;
  (``residual="stable"`` computes h as 2 sin²(a/(2x) + π/4), which has no cancellation where
  sin(a/x) ≈ −1: in float32 sin(a/x) + 1 is exactly 0 within |a/x − a/x*| ≲ 2.4e-4 of a minimum);
* feedback g_x (then divided by N, the batch mean of the network loss):

  - ``dp``: clip(h ∂h/∂x, ±1) (Eq. 1, ½h², per-example clip);
  - ``dp-l1-mean``: clip(sign(h) ∂h/∂x / N, ±1) (L1 objective, the batch-mean gradient clipped);
  - ``supervised``: x − x*(1) (label: the minimum closest to x0 = 1);
  - ``pg-inverse``: x − x*(x);
  - ``pg-newton``: −clip(Δ, ±1), Δ = sign(cos(a/x)) |x² cos(a/x)/(2x cos(a/x) − a sin(a/x))|,
    then clipped to ±1 again (the PG clip);
  - ``pg-invgrad``: −clip(Δ, ±1), Δ = x² h/(a cos(a/x)), clipped to ±1 again;

* θ ← Adam(J_θᵀ g_x/N): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η_t m̂/(√v̂ + ε) with
  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), β = (0.9, 0.999), ε = 1e-8, t = 1, 2, …;
* η_t (update t − 1 = 0, 1, …): constant; cosine η·½(1 + cos(π min(t, T)/T)); step η·r^⌊t/k⌋.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEMES = ("dp", "dp-l1-mean", "supervised", "pg-inverse", "pg-newton", "pg-invgrad")
SCHEDULES = ("constant", "cosine", "step")
SIZES = (1, 10, 20, 10, 1)
BATCH = 1000
LR = 2e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
CLIP = 1.0


@dataclass(frozen=True)
class Config:
    """One training configuration: ``scheme`` (:data:`SCHEMES`), ``schedule`` (:data:`SCHEDULES`)
    with ``schedule_steps`` (cosine T) or ``step_every``/``decay_rate`` (step), float width ``dtype``."""

    scheme: str = "pg-inverse"
    schedule: str = "constant"
    schedule_steps: int = 20000
    step_every: int = 5000
    decay_rate: float = 0.1
    lr: float = LR
    dtype: str = "float64"
    clip: float = CLIP
    residual: str = "direct"  # "stable": h = 2 sin²(a/(2x) + π/4), no cancellation near the minimum

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.residual not in ("direct", "stable"):
            raise ValueError(f"residual must be direct or stable, got {self.residual!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if not (self.lr > 0 and self.schedule_steps >= 1 and self.step_every >= 1 and 0 < self.decay_rate <= 1):
            raise ValueError(f"invalid learning-rate settings in {self!r}")

    def rate(self, t: int) -> float:
        """η at update ``t`` (0-based), computed in float64."""
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(t, self.schedule_steps) / self.schedule_steps))
        if self.schedule == "step":
            return self.lr * self.decay_rate ** (t // self.step_every)
        return self.lr


# --- inputs taken from pgbench (data and initial weights only) --------------------------------------
def initial_params(seed: int, dtype: str = "float64") -> list[np.ndarray]:
    """pgbench's initial weights of seed ``seed`` (float32, as the run holds them) in ``dtype``, in the
    order w0, b0, w1, b1, …; weights (n_in, n_out)."""
    from pgbench import keys
    from pgbench.nets import MLP

    p = MLP(SIZES, "relu").init_numpy(keys.rng(seed, "net"))
    return [p[f"{k}{i}"].astype(np.float32).astype(dtype) for i in range(len(SIZES) - 1) for k in ("w", "b")]


def batch(seed: int, i: int, n: int = BATCH, dtype: str = "float64") -> np.ndarray:
    """The ``i``-th training batch (0-based) of a, shape (n, 1): pgbench's ``Sin.draw`` on
    ``keys.rng(seed, "train", i)`` (float32 values) in ``dtype``."""
    return _problem().draw(_keys().rng(seed, "train", i), n)[0].astype(dtype)


def _keys():
    from pgbench import keys

    return keys


_PROBLEM: list = []


def _problem():
    """pgbench's sin-v0 at paper scale (for its ``draw`` only), built once."""
    if not _PROBLEM:
        from pgbench.registry import make_problem

        _PROBLEM.append(make_problem("sin-v0", scale="paper"))
    return _PROBLEM[0]


# --- the network --------------------------------------------------------------------------------------
def forward(params: list[np.ndarray], a: np.ndarray):
    """x = NN(a) and the layer inputs / pre-activations backpropagation needs."""
    acts, pres = [a], []
    h = a
    n = len(params) // 2
    for i in range(n):
        z = h @ params[2 * i] + params[2 * i + 1]
        pres.append(z)
        h = np.maximum(z, 0) if i < n - 1 else z
        if i < n - 1:
            acts.append(h)
    return h, (acts, pres)


def backward(params: list[np.ndarray], cache, g_out: np.ndarray) -> list[np.ndarray]:
    """J_θᵀ g_out: the gradients of Σ g_out·x w.r.t. every parameter (ReLU' = [z > 0])."""
    acts, pres = cache
    n = len(params) // 2
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    d = g_out
    for i in reversed(range(n)):
        if i < n - 1:
            d = d * (pres[i] > 0)
        grads[2 * i] = acts[i].T @ d
        grads[2 * i + 1] = d.sum(axis=0)
        if i:
            d = d @ params[2 * i].T
    return grads


# --- the physics --------------------------------------------------------------------------------------
def closest_minimum(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """x*(x) = a/(3π/2 + 2πn), n = round(a/(2πx) − 3/4), n ≥ 0 for x > 0 and n ≤ −1 for x ≤ 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(x == 0, np.asarray(1e-30, x.dtype), x)
        n = np.round(a / (2 * np.pi * safe) - 0.75)
        n = np.where(x > 0, np.maximum(n, 0), np.minimum(n, -1))
        return a / (1.5 * np.pi + 2 * np.pi * n)


def feedback(cfg: Config, x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The scheme's g_x at the network output (before the division by N); see the module doc."""
    c, s = np.cos(a / x), np.sin(a / x)
    one = np.asarray(cfg.clip, x.dtype)
    if cfg.residual == "stable":  # sin z + 1 = 2 sin²(z/2 + π/4): exact near sin z = −1 in any width
        h = 2 * np.sin(a / (2 * x) + np.asarray(np.pi / 4, x.dtype)) ** 2
    else:
        h = s + 1
    if cfg.scheme == "dp":
        return np.clip(h * (-a / (x * x) * c), -one, one)
    if cfg.scheme == "dp-l1-mean":
        return np.clip(np.sign(h) * (-a / (x * x) * c) / x.shape[0], -one, one)
    if cfg.scheme == "supervised":
        return x - closest_minimum(np.ones_like(x), a)
    if cfg.scheme == "pg-inverse":
        return x - closest_minimum(x, a)
    if cfg.scheme == "pg-newton":
        den = 2 * x * c - a * s
        d = np.sign(c) * np.abs(x * x * c / np.where(den == 0, np.ones_like(den), den))
    else:  # pg-invgrad
        d = x * x * (s + 1) / (a * np.where(c == 0, np.full_like(c, 1e-30), c))
    x_corr = x + np.clip(d, -one, one)
    return np.clip(x - x_corr, -one, one)


# --- Adam -------------------------------------------------------------------------------------------------
class Adam:
    """torch.optim.Adam / optax.adam (no weight decay, no AMSGrad), one rate per update."""

    def __init__(self, params: list[np.ndarray]):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads, lr: float):
        self.t += 1
        b1, b2 = BETAS
        dt = params[0].dtype
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        out = []
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= dt.type(b1)
            m += dt.type(1 - b1) * g
            v *= dt.type(b2)
            v += dt.type(1 - b2) * g * g
            out.append(p - dt.type(lr) * (m / dt.type(bc1)) / (np.sqrt(v / dt.type(bc2)) + dt.type(EPS)))
        return out


# --- training --------------------------------------------------------------------------------------------
class Trainer:
    """The reference training loop of one seed and configuration; :meth:`step` does iteration i."""

    def __init__(self, cfg: Config, seed: int, perturb: int = 0):
        """``perturb`` = k > 0 multiplies every initial weight by 1 + 1e-7·u, u ~ U[−1, 1] from
        ``default_rng(k)`` (about one float32 rounding): a member of the round-off ensemble."""
        self.cfg, self.seed, self.it = cfg, seed, 0
        self.params = initial_params(seed, cfg.dtype)
        if perturb:
            rng = np.random.default_rng(perturb)
            self.params = [p * (1 + 1e-7 * rng.uniform(-1, 1, p.shape)).astype(p.dtype) for p in self.params]
        self.opt = Adam(self.params)

    def step(self) -> dict:
        """One update on the next batch; returns the batch's mean x error and loss before it."""
        a = batch(self.seed, self.it, dtype=self.cfg.dtype)
        x, cache = forward(self.params, a)
        g = feedback(self.cfg, x, a) / x.shape[0]
        grads = backward(self.params, cache, g.astype(x.dtype))
        self.params = self.opt.step(self.params, grads, self.cfg.rate(self.it))
        self.it += 1
        with np.errstate(all="ignore"):
            err = np.abs(x - closest_minimum(x, a))
            h = np.sin(a / x) + 1
        return {"x_error": float(err.mean()), "y_residual": float(np.abs(h).mean())}

    def flat(self) -> np.ndarray:
        """All 461 parameters, float64, in pgbench's order (w0, b0, w1, …)."""
        return np.concatenate([p.ravel() for p in self.params]).astype(np.float64)


def train(cfg: Config, seed: int, iterations: int) -> np.ndarray:
    """The per-iteration training-batch x errors of ``iterations`` updates (NaN/inf kept)."""
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    tr = Trainer(cfg, seed)
    return np.array([tr.step()["x_error"] for _ in range(iterations)])


__all__ = ["Config", "Trainer", "train", "SCHEMES", "SCHEDULES", "initial_params", "batch", "feedback"]
