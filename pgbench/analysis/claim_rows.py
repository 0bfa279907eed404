"""Headline claims read from single-problem solvers, held-out comparisons and orderings (Fig. 2a,
4b, 5b, 6b; §1; App. B.1, B.2): one :class:`~pgbench.analysis.claim.Claim` each, appended to
:data:`pgbench.analysis.headline.CLAIMS`. Each reading quotes the sentence it reads."""

from __future__ import annotations

import math

from . import verdicts as V
from .claim import Claim
from .solver_measures import (
    average_above,
    average_below_level,
    final_below,
    held_out_below,
    iterations_to_converge,
)

_WITHIN = "first iteration at which the single-problem x error is within 10 % of its error at the run's end"

ROWS: tuple[Claim, ...] = (
    Claim(
        "wavepacket-fits-all",
        "wavepacket-v0",
        "the network ends below L-BFGS-B on held-out wave packets",
        "NN < L-BFGS-B",
        "§1, Fig. 1; App. B.1, Fig. 8",
        held_out_below("NN (Adam)", "L-BFGS-B"),
        V.ordering(
            "'a neural network trained on the same data using the same objective quickly learns to fit all wave "
            "packets' (§1), 'outperforming L-BFGS-B after 30 to 40 training iterations' (App. B.1): the network's "
            "last held-out ξ0 error below L-BFGS-B's final error on that seed's held-out batch, per seed"
        ),
        ("NN (Adam)", "L-BFGS-B"),
    ),
    Claim(
        "poisson-4b-one-step",
        "poisson-v0",
        "inverse-physics solver: single-problem iterations to converge",
        "about 1",
        "§3.2, Fig. 4b; App. B.3",
        iterations_to_converge("PG (inverse)", 0.1, reach=10),
        V.iterations(
            1.0,
            f"'∆x = −η·∇²(y − y*) which directly points to x* for η = 1' (App. B.3), Fig. 4b: {_WITHIN} "
            "(100 iterations stored), per seed; 'about one step': ×2, qualitatively ×5",
            null=100.0,
            tol=2,
            qual=5,
        ),
        ("PG (inverse)",),
    ),
    Claim(
        "heat-5b-lbfgsb-gd",
        "heat-v0",
        "L-BFGS-B below GD on single inverse problems",
        "L-BFGS-B < GD",
        "§3.3, Fig. 5b",
        final_below("L-BFGS-B", ("GD",)),
        V.ordering(
            "'L-BFGS-B outperforms GD when optimizing single inverse problems but is limited by the "
            "ill-conditioning (see Fig. 5b)': final x error of the held-out batch optimised from x = 0, "
            "L-BFGS-B (one scipy call, maxiter 1000) below GD (100 iterations), per seed"
        ),
        ("L-BFGS-B", "GD"),
    ),
    Claim(
        "sin-supervised-poor",
        "sin-v0",
        "supervised training ends above Adam and inverse-physics PG",
        "Supervised worst",
        "§3.1, Fig. 3",
        average_above("Supervised", ("DP (Adam)", "PG (inverse)"), 20000),
        V.ordering(
            "'Supervised training schemes (Eq. 3) perform poorly on this task due to multi-modality. Using Adam "
            "[…] avoids the aforementioned problem': Supervised's final running-average x error over the last "
            "1,000 batches at 20k above DP (Adam)'s and PG (inverse)'s, per seed"
        ),
        ("Supervised", "DP (Adam)", "PG (inverse)"),
    ),
    Claim(
        "sin-pg-1e-4",
        "sin-v0",
        "inverse-physics PG converges below 1e-4 on most seeds, sometimes stopping above",
        "mostly < 1e-4",
        "App. B.2, Fig. 10",
        average_below_level("PG (inverse)", 1e-4, 20000),
        V.qualitative(
            "'While yielding superior accuracy than pure Adam for the large majority of tested initializations, "
            "it sometimes stops converging to an accuracy larger than 10-4': PG (inverse)'s final running-average "
            "x error over the last 1,000 batches at 20k below 1e-4, per seed; 'sometimes' above: the exception, "
            "so it must hold on a majority"
        ),
        ("PG (inverse)",),
    ),
    Claim(
        "ns-estimator-100",
        "navier-stokes-v0",
        "vortex estimator: single-problem iterations to converge",
        "≤ about 100",
        "§3.4, Fig. 6b",
        iterations_to_converge("PG (inverse)", 0.1, reach=200),
        V.iterations(
            (1.0, 100.0),
            f"'This method converges for single inverse problems within around 100 iterations': {_WITHIN}, "
            "read only from runs of ≥ 200 iterations (a run that stops at 100 cannot show convergence by 100), "
            "per seed; 'within' read as at most: the range 1–100",
            null=math.inf,
        ),
        ("PG (inverse)",),
        gpu="pgbench run navier-stokes-v0 inverse --scale paper --iterations 200 --backend jax "
        "--label 'PG (inverse)' --results results/paper-cpu/runs",
        needs="needs a single-problem run of ≥ 200 iterations (the stored one stops at 100)",
    ),
    Claim(
        "fig2a-pg-closest",
        "quadratic2d-v0",
        "after 10 constant-size steps PG is closest to the minimum",
        "PG < GD, Newton",
        "§2, Fig. 2a",
        final_below("PG (inverse)", ("GD", "Newton")),
        V.ordering(
            "'Figure 2a visually compares gradient descent, Newton's method and PGs'; 'Circles represent the "
            "first 10 iterations with constant step size': after those 10 steps from (3, 3) (GD η = 0.5/36, "
            "Newton and PG η = 0.5), PG (inverse)'s x error below GD's and Newton's (the figure's reading; the "
            "paper states no number)"
        ),
        ("PG (inverse)", "GD", "Newton"),
        gpu="pgbench reproduce --scale paper --only quadratic2d-trajectories --results results/paper-cpu/runs "
        "--out results/paper-cpu/report",
        needs="no stored quadratic2d runs (seconds on a CPU)",
    ),
)
