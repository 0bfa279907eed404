"""The peer: one training iteration of each paper experiment written on PhiFlow 2.2.7 (torch backend).

pgbench's own code, not the authors': it uses PhiFlow's public API (grids, ``diffuse.fourier``,
``field.solve_linear``, ``advect.mac_cormack``, ``fluid.make_incompressible``, ``u_net``) the way a
PhiFlow user would write the iteration the paper's code does, and times it. It runs in its own
Python with ``phiflow==2.2.7`` and torch installed (not pgbench's environment):

    /work/phiflow-venv/bin/python phiflow_peer.py --experiment heat --method pg --batch 8 --steps 6

One iteration = data generation (ground truth and its observation by the physics), network forward,
physics (forward, adjoint or inverse step), backward, Adam step, as in the paper's training loops:

* heat (64×64, τ = 8, float64 physics): ``dp`` backpropagates :math:`\\tfrac12\\|P(x)-y^*\\|^2`
  through Fourier diffusion; ``pg`` regresses onto :math:`\\hat x + \\Delta x` with Δx the
  probabilistically damped inverse diffusion of the residual;
* poisson (64×64, CG rel. tol. 1e-5): ``dp`` backpropagates through CG (implicit adjoint solve);
  ``pg`` (SIP) regresses onto :math:`\\hat x - \\nabla^2(P(\\hat x) - y^*)`;
* navier-stokes (64×64 on 128², 8 steps of Δt = 0.25): ``dp`` backpropagates the frequency loss
  through 8 projected MacCormack steps; ``pg`` regresses onto the reverse-simulation vortex estimate.

Prints one JSON line: ``{"experiment", "method", "batch", "device", "seconds": [...], "median"}``,
``median`` over the iterations after the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import phi.torch.flow  # noqa: F401  (makes torch PhiFlow's default backend, as in the paper's scripts)
from phi import math
from phi.field import (CenteredGrid, Noise, SoftGeometryMask, StaggeredGrid, native_call, stop_gradient)
from phi import field
from phi.geom import Box, Cuboid
from phi.math import Solve, batch, channel, extrapolation, spatial
from phi.physics import advect, diffuse, fluid
from phi.torch import TORCH
from phi.torch.nets import u_net

N = 64


def sum_sq(g):
    """:math:`\\tfrac12\\sum g^2` per example (PhiFlow ``l2_loss``)."""
    return field.l2_loss(g)


# --- heat --------------------------------------------------------------------------------------

def heat_truth(b: int):
    """x*: ⌊4 + 7U⌋ of 10 soft-edged rectangles per example with strengths U[0, 1), centres
    U[0.1, 0.9)·64, half-sizes U[0, 10)² clipped inside the domain (all ten at once on a
    ``rect`` batch dimension, then summed)."""
    shape = batch(batch=b)
    rect = batch(rect=10)
    count = math.to_int32(4 + 7 * math.random_uniform(shape))
    centre = (math.random_uniform(shape, rect, channel(vector="x,y")) - 0.5) * N * 0.8 + N * 0.5
    half = math.random_uniform(shape, rect, channel(vector="x,y")) * 10
    centre = math.clip(centre, half, N - half)
    strength = math.random_uniform(shape, rect) * math.to_float(math.range(rect) < count)
    masks = CenteredGrid(SoftGeometryMask(Cuboid(centre, half)), extrapolation.PERIODIC, x=N, y=N)
    return masks.with_values(math.sum(masks.values * strength, "rect"))


def heat_inverse_step(r, tau: float = 8.0, eps: float = 1e-6):
    """Damped inverse diffusion Δx of the residual r (see pgbench.ops.inverse_diffuse_damped):
    :math:`\\sigma = \\|\\epsilon r\\|`, :math:`p_k` the probability that Fourier mode
    :math:`R_k` is signal (amplitude :math:`N e^{-\\ell_k}`) rather than noise (σ), action
    :math:`\\alpha_k = 2(p_k - \\tfrac12)` outside (0.5, 0.68), :math:`\\Delta x = \\mathcal F^{-1}(R_k e^{\\alpha_k \\ell_k})`."""
    v = r.values
    sigma = math.sqrt(math.sum((abs(v) * eps) ** 2, spatial))
    k2 = math.sum(math.fftfreq(v.shape.spatial) ** 2, "vector")
    log_k = (2 * np.pi) ** 2 * k2 * tau
    amp = math.fft(v)
    mag = abs(amp)
    signal = 0.5 * math.exp(-0.5 * (mag / (N * math.exp(-log_k))) ** 2)
    signal = math.where(math.is_finite(signal), signal, 0.)
    noise = 0.5 * math.exp(-0.5 * (mag / sigma) ** 2)
    p = math.divide_no_nan(signal, signal + noise)
    action = math.where((p <= 0.5) | (p >= 0.68), 2 * (p - 0.5), 0.)
    return r.with_values(math.real(math.ifft(amp * math.to_complex(math.exp(log_k * action)))))


def heat_iteration(net, opt, b, method):
    x_true = heat_truth(b)
    y_target = diffuse.fourier(x_true, 8., 1)
    with math.precision(32):
        out = native_call(net, field.to_float(y_target)).vector[0]
        out = out - field.mean(out) + field.mean(y_target)
    x = field.to_float(out)
    if method == "dp":
        loss = sum_sq(diffuse.fourier(x, 8., 1) - y_target)
    else:
        x_ng = stop_gradient(x)
        dx = heat_inverse_step(y_target - diffuse.fourier(x_ng, 8., 1))
        loss = sum_sq(x - (x_ng + dx))
    opt.zero_grad()
    loss.sum.backward()
    opt.step()


# --- poisson -----------------------------------------------------------------------------------

def poisson_solve(x):
    """y with ∇²y = x (zero boundaries, dx = 1) by CG, rel. tol. 1e-5 from y = 0."""
    return field.solve_linear(field.laplace, x, Solve("CG", 1e-5, 0, x0=x * 0))


def poisson_iteration(net, opt, b, method):
    x_true = CenteredGrid(Noise(batch(batch=b)), x=N, y=N)
    y_target = poisson_solve(x_true)
    x = native_call(net, y_target)
    if method == "dp":
        loss = sum_sq(poisson_solve(x) - y_target)
    else:
        x_ng = stop_gradient(x)
        x_corr = x_ng - field.laplace(poisson_solve(x_ng) - y_target)
        loss = sum_sq(x - x_corr)
    opt.zero_grad()
    loss.sum.backward()
    opt.step()


# --- navier-stokes -----------------------------------------------------------------------------

NS_DOMAIN = dict(x=N, y=N, extrapolation=extrapolation.PERIODIC, bounds=Box(x=128, y=128))
NS_STEPS, NS_DT = 8, 2.0 / 8


def ns_step(m, u, p):
    """Energy-preserving step: self-advect u (MacCormack), project (CG abs 1e-4 from p), rescale
    to the kinetic energy before the step, advect the marker m with the new u."""
    e0 = field.mean(u ** 2)
    u = advect.mac_cormack(u, u, NS_DT)
    u, p = fluid.make_incompressible(u, solve=Solve("CG", 0, 1e-4, x0=p))
    e1 = field.mean(u ** 2)
    u = u * math.where(e1 == 0, e1, math.sqrt(e0 / e1))
    return advect.mac_cormack(m, u, NS_DT), u, p


def ns_rollout(m, u, with_com=False):
    p = CenteredGrid(0, **NS_DOMAIN)
    coms = [field.center_of_mass(m)]
    for _ in range(NS_STEPS):
        m, u, p = ns_step(m, u, p)
        if with_com:
            coms.append(field.center_of_mass(m))
    return m, u, coms


def ns_marker(b):
    """m0: the top fill-fraction of a Noise field inside a 56×56 box at U[32, 96)², binarised."""
    shape = batch(batch=b)
    pos = math.random_uniform(shape, channel(vector="x,y")) * 64 + 32
    box = CenteredGrid(Box(pos - 28, pos + 28), **NS_DOMAIN)
    v = (CenteredGrid(Noise(shape, scale=10), **NS_DOMAIN) * box).values
    fill = float(np.random.uniform() * 0.1 + 0.05)
    flat = v.native(["batch", "x", "y"]).reshape(b, -1)
    k = int(round(N * N * fill))
    thresh = torch.topk(flat, k, dim=1).values[:, -1:]
    m = (flat >= thresh).to(flat.dtype).reshape(b, N, N)
    return box.with_values(math.tensor(m, shape, spatial("x,y")) * box.values)


def ns_sample(b):
    """(m0, m_T*): a marker and the marker the ground-truth velocity carries it to in 8 steps;
    v0* = uniform drift to the centre + Gaussian vortex ω ~ U[-2, 2) + 0.1·Noise."""
    m0 = ns_marker(b)
    drift = CenteredGrid(64 - field.center_of_mass(m0), **NS_DOMAIN) / 2.0
    omega = (math.random_uniform(batch(batch=b)) - 0.5) * 4
    swirl = CenteredGrid(field.AngularVelocity(math.tensor([64, 64], channel(vector="x,y")), strength=omega,
                                               falloff=lambda d: math.exp(-0.5 * math.vec_squared(d) / 400)),
                         **NS_DOMAIN)
    v0 = drift + swirl + CenteredGrid(Noise(batch(batch=b), channel(vector="x,y")), **NS_DOMAIN) * 0.1
    mt, _, _ = ns_rollout(m0, v0)
    return m0, mt


def ns_match(m, target):
    return field.frequency_loss(m - target, n=1, frequency_falloff=80, ignore_mean=True)


def ns_estimate(v0, m0, mt):
    """Reverse-simulation vortex estimate: drift (64 - COM(m0))/T plus a vortex of strength
    ω̂(v0) + 1e-3·mean_i (c^f_{8-i} - c^r_i) × (c^r_i - s_i)."""
    omega0 = math.mean(math.cross_product(-v0.values, v0.points - 64), v0.shape.spatial) / 120.5
    u, _ = fluid.make_incompressible(StaggeredGrid(v0, **NS_DOMAIN))
    _, u, coms = ns_rollout(m0, u, with_com=True)
    drift_v = 64 - field.center_of_mass(m0)
    rc = field.center_of_mass(mt)
    d = [math.cross_product(coms[-1] - rc, rc - (64 + drift_v))]
    m, u, p = mt, -u, CenteredGrid(0, **NS_DOMAIN)
    for i in range(NS_STEPS):
        m, u, p = ns_step(m, u, p)
        rc = field.center_of_mass(m)
        d.append(math.cross_product(coms[-2 - i] - rc, rc - (64 + drift_v / 2.0 * (NS_STEPS - 1 - i))))
    omega = omega0 + math.mean(math.stack(d, batch("k")), "k") * 1e-3
    swirl = CenteredGrid(field.AngularVelocity(math.tensor([64, 64], channel(vector="x,y")), strength=omega,
                                               falloff=lambda d_: math.exp(-0.5 * math.vec_squared(d_) / 400)),
                         **NS_DOMAIN)
    return CenteredGrid(drift_v, **NS_DOMAIN) / 2.0 + swirl


def ns_iteration(net, opt, b, method):
    m0, mt = ns_sample(b)
    keys = field.stack([m0, mt], channel("keyframe"))
    v0 = CenteredGrid(math.native_call(net, keys.values), **NS_DOMAIN)
    if method == "dp":
        u, _ = fluid.make_incompressible(StaggeredGrid(v0, **NS_DOMAIN))
        m, _, _ = ns_rollout(m0, u)
        loss = ns_match(m, mt)
    else:
        corr = ns_estimate(stop_gradient(v0), m0, mt)
        loss = sum_sq(v0 - corr)
    opt.zero_grad()
    loss.mean.backward()
    opt.step()


# --- driver ------------------------------------------------------------------------------------

EXPERIMENTS = {
    "heat": (lambda: u_net(1, 1), 1e-3, heat_iteration),
    "poisson": (lambda: u_net(1, 1), 1e-3, poisson_iteration),
    "navier-stokes": (lambda: u_net(2, 2, levels=5, filters=16), 5e-3, ns_iteration),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", choices=sorted(EXPERIMENTS), required=True)
    ap.add_argument("--method", choices=("dp", "pg"), required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        assert TORCH.set_default_device("GPU"), "PhiFlow found no GPU"
    np.random.seed(0)   # math.seed(0) of PhiFlow 2.2.7 fails under NumPy 2
    torch.manual_seed(0)
    if args.experiment == "heat":
        math.set_global_precision(64)
    make_net, lr, iteration = EXPERIMENTS[args.experiment]
    net = make_net()
    if args.device == "cuda":
        net = net.cuda()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    seconds, cpu_seconds = [], []
    for _ in range(args.steps):
        t, c = time.perf_counter(), time.process_time()
        iteration(net, opt, args.batch, args.method)
        sync()
        seconds.append(time.perf_counter() - t)
        cpu_seconds.append(time.process_time() - c)
    out = {"experiment": args.experiment, "method": args.method, "batch": args.batch, "device": args.device,
           "seconds": seconds, "cpu_seconds": cpu_seconds, "median": statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0],
           "phiflow": __import__("phi").__version__, "torch": torch.__version__}
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
