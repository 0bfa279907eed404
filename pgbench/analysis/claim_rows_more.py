"""Headline claims about the shape of learning curves, how seeds differ, single-problem orderings,
Table 1, NeurIPS Fig. 2 (exp) and the PBDL book's discussion of SIP and HIG: one
:class:`~pgbench.analysis.claim.Claim` each, appended to :data:`pgbench.analysis.headline.CLAIMS`
after :data:`pgbench.analysis.claim_rows.ROWS`. Each reading quotes the sentence it reads.

Slowdown rows read the break of a two-piece fit in a window of 2.5 × the paper's (upper) iteration
(:func:`pgbench.analysis.curve_measures.slowdown`: a break moves with the window it is read in, so
the window is part of the reading).
"""

from __future__ import annotations

import math

from . import verdicts as V
from .claim import Claim
from .claim import gpu_command as _gpu
from .claim_measures import costlier, ranks_below, ratio_at
from .curve_measures import below_at, converges_like, late_rate_above, parts_ways, slowdown, steadier, still_falling
from .example_measures import off_centre_ratio
from .exp_range import order_measure, range_measure
from .solver_measures import final_below, iterations_to_network

_ADAM, _PG = "DP (Adam)", "PG (inverse)"
_KNEE = (
    "the break of the best continuous two-piece line through log10 of {lab}'s running-average x error over "
    "iterations 1–{h} (2.5 × the paper's number), per seed; a break whose second piece falls faster: never (inf)"
)
_HIG_RUNS = (
    "pgbench reproduce --scale paper --only hig-toy --seeds 0,1,2 --backend torch --results results/paper-cpu/runs "
    "--no-report"
)


def _slows(key, problem, lab, paper, text, source, quote, gpu="", needs=""):
    hi = paper[1] if isinstance(paper, tuple) else paper
    h = int(2.5 * hi)
    return Claim(
        key,
        problem,
        f"{lab}'s learning curve slows down after about",
        text,
        source,
        slowdown(lab, h),
        V.iterations(paper, f"'{quote}': " + _KNEE.format(lab=lab, h=h), null=math.inf),
        (lab,),
        gpu=gpu,
        needs=needs,
    )


ROWS: tuple[Claim, ...] = (
    # --- sin (§3.1, App. B.2) -----------------------------------------------------------------
    *(
        Claim(
            f"sin-{name}-some-seeds",
            "sin-v0",
            f"{lab} converges only for some network initializations",
            "some seeds",
            "App. B.2, Fig. 10",
            converges_like(lab, _PG, 20000, 10.0),
            V.some_seeds(
                "'Training with physical gradients based on Newton's method or inverse gradients yields a "
                "convergence that strongly depends on the network initialization. This variant converges only for "
                "certain initializations. However, upon convergence, it typically reaches an accuracy similar to the "
                f"inverse physics variant': a seed converges when {lab}'s run does not diverge and its final running "
                "average over the last 1,000 batches at 20k is at most 10 × PG (inverse)'s on that seed"
            ),
            (lab, _PG),
        )
        for name, lab in (("newton", "PG (Newton)"), ("invgrad", "PG (inv. grad.)"))
    ),
    Claim(
        "sin-supervised-steady",
        "sin-v0",
        "supervised training behaves consistently, Adam erratically",
        "Supervised steadier",
        "App. B.2, Fig. 10",
        steadier("Supervised", _ADAM, 20000, start=1000),
        V.ordering(
            "'While supervised training shows very consistent behavior across training runs, the convergence "
            "curves of Adam show more erratic behavior': the rise of the running-average x error, Σ max(0, "
            "log10 r(i+100) − log10 r(i)) over iterations 1,000–20,000 (how far the curve climbs back; a diverged "
            "run: inf), of Supervised below DP (Adam)'s, per seed"
        ),
        ("Supervised", _ADAM),
    ),
    # --- §3: Adam against SGD -------------------------------------------------------------------
    *(
        Claim(
            f"{name}-adam-beats-sgd",
            problem,
            "Adam ahead of SGD at equal training iterations",
            "Adam < SGD",
            f"§3; {fig}",
            below_at(_ADAM, sgd, it),
            V.ordering(
                "'For the weight update, we primarily employ the Adam optimizer (Kingma & Ba, 2015), a standard "
                f"method in deep learning that outperforms SGD in our experiments': DP (Adam)'s running-average x "
                f"error at iteration {it:,} below {sgd}'s, per seed"
            ),
            (_ADAM, sgd),
            gpu=_gpu(f"{problem.split('-')[0]}-training"),
        )
        for name, problem, sgd, it, fig in (
            ("poisson", "poisson-v0", "DP (SGD+mom.)", 300, "Fig. 4c"),
            ("heat", "heat-v0", "DP (SGD)", 1000, "Fig. 5c"),
        )
    ),
    # --- Poisson (§3.2, Fig. 4b/4c) -----------------------------------------------------------
    _slows(
        "poisson-adam-slows-200",
        "poisson-v0",
        _ADAM,
        200.0,
        "≈ 200",
        "§3.2, Fig. 4c",
        "When learning with Adam or SGD with momentum, learning drastically slows after around 200 and 300 "
        "iterations, respectively",
        gpu=_gpu("poisson-training"),
    ),
    _slows(
        "poisson-sgd-slows-300",
        "poisson-v0",
        "DP (SGD+mom.)",
        300.0,
        "≈ 300",
        "§3.2, Fig. 4c",
        "When learning with Adam or SGD with momentum, learning drastically slows after around 200 and 300 "
        "iterations, respectively",
        gpu=_gpu("poisson-training"),
    ),
    Claim(
        "poisson-pg-keeps-converging",
        "poisson-v0",
        "PG keeps converging (exponential curve) where Adam has slowed",
        "PG faster late",
        "§3.2, Fig. 4c",
        late_rate_above(_PG, _ADAM, 600),
        V.ordering(
            "'Meanwhile, the learning curve involving PGs closely resembles an exponential curve, which indicates "
            "linear convergence': PG (inverse)'s rate of decrease of the running average, log10 r(300) − log10 "
            "r(600) per iteration, above DP (Adam)'s, per seed (Adam has slowed by 200)"
        ),
        (_PG, _ADAM),
        gpu=_gpu("poisson-training"),
    ),
    Claim(
        "poisson-4b-pg-below",
        "poisson-v0",
        "inverse-physics solver below GD and Adam on single problems",
        "PG < GD, Adam",
        "§3.2, Fig. 4b; App. B.3",
        final_below(_PG, ("GD", "Adam")),
        V.ordering(
            "'For both GD and Adam, the optimization converges extremely slowly, making GD-based methods unfeasible "
            "for this problem' (App. B.3), Fig. 4b: final x error of the held-out batch after the stored iterations, "
            "PG (inverse) below GD and Adam, per seed"
        ),
        (_PG, "GD", "Adam"),
    ),
    # --- heat (§3.3, Fig. 5b/5c) ---------------------------------------------------------------
    _slows(
        "heat-adam-slows-30-40",
        "heat-v0",
        _ADAM,
        (30.0, 40.0),
        "30–40",
        "§3.3, Fig. 5c",
        "we use Adam with η = 10-3 and observe that the distance to the solution starts rapidly decreasing before "
        "decelerating between iterations 30 and 40 to a slow but mostly stable convergence",
    ),
    Claim(
        "heat-lbfgsb-20pc",
        "heat-v0",
        "L-BFGS-B PG more accurate than Adam after the same iterations",
        "≈ 20 %",
        "§3.3, Fig. 5c",
        ratio_at(_ADAM, "PG (L-BFGS-B)", 100),
        V.factor(
            1.2,
            "'Using L-BFGS-B with n = 32 as a PG to train the network leads to solutions that are about 20% more "
            "accurate […] This advantage is achieved early during training and stays relatively constant': DP "
            "(Adam) / PG (L-BFGS-B) running-average x error at iteration 100, per seed, read as the ratio 1.2 (as "
            "heat's 34 %); a small effect: ×1.1, qualitatively ×1.2",
            tol=1.1,
            qual=1.2,
        ),
        (_ADAM, "PG (L-BFGS-B)"),
        gpu=_gpu("heat-training"),
        needs="needs PG (L-BFGS-B) training runs of ≥ 100 paper-size iterations (the stored ones stop at 4; "
        "≈ 10 s per iteration on the 2-core CPU)",
    ),
    Claim(
        "heat-inverse-par-35",
        "heat-v0",
        "inverse-physics PG on par with L-BFGS-B PG for the first iterations",
        "≈ 35",
        "§3.3, Fig. 5c",
        parts_ways("PG (L-BFGS-B)", _PG, 100),
        V.iterations(
            35.0,
            "'They perform on par with L-BFGS-B training for the first ~35 iterations. However, afterwards the "
            "increase in accuracy does not slow down as much': the first iteration from which PG (inverse)'s "
            "running average stays more than 10 % below PG (L-BFGS-B)'s, up to iteration 100, per seed",
            null=math.inf,
        ),
        (_PG, "PG (L-BFGS-B)"),
        gpu=_gpu("heat-training"),
        needs="needs PG (L-BFGS-B) training runs of ≥ 100 paper-size iterations (the stored ones stop at 4; "
        "≈ 10 s per iteration on the 2-core CPU)",
    ),
    Claim(
        "heat-5b-inverse-best",
        "heat-v0",
        "inverse-physics solver below GD and L-BFGS-B on single problems",
        "PG < GD, L-BFGS-B",
        "App. B.4, Fig. 12",
        final_below(_PG, ("GD", "L-BFGS-B")),
        V.ordering(
            "'This leads to a much faster convergence and more precise solution than any generic optimization "
            "method': final x error of the held-out batch optimised from x = 0, PG (inverse) (100 iterations) below "
            "GD (100) and L-BFGS-B, per seed"
        ),
        (_PG, "GD", "L-BFGS-B"),
    ),
    # --- Navier-Stokes (§3.4, Fig. 6, Table 1) ----------------------------------------------------
    _slows(
        "ns-adam-slows-100",
        "navier-stokes-v0",
        _ADAM,
        100.0,
        "≈ 100",
        "§3.4, Fig. 6c",
        "For unsupervised training (Eq. 2) with Adam, the error decreases for the first 100 iterations […] The "
        "error then proceeds to decline at a much lower rate, nearly coming to a standstill",
    ),
    _slows(
        "ns-pg-slows-200",
        "navier-stokes-v0",
        _PG,
        200.0,
        "≈ 200",
        "§3.4, Fig. 6c",
        "The error rapidly decreases during the first 200 iterations […] The error then continues to improve at a "
        "slower but still exponentially faster rate",
        gpu=_gpu("navier-stokes-training"),
    ),
    Claim(
        "ns-6b-estimator-below-gd",
        "navier-stokes-v0",
        "vortex estimator below GD on single problems",
        "PG < GD",
        "§3.4, Fig. 6b",
        final_below(_PG, ("GD",)),
        V.ordering(
            "'A similar behavior can also be seen when optimizing single inverse problems with GD (Fig. 6b). Here "
            "the strongly varying magnitude of the gradients […] causing its progress to stall': final x error of "
            "the held-out batch after the stored iterations (100 each), PG (inverse) below GD, per seed"
        ),
        (_PG, "GD"),
    ),
    Claim(
        "ns-gd-20k",
        "navier-stokes-v0",
        "GD has not converged on single problems after 10,000 iterations",
        "> 20k",
        "§3.4, Fig. 6b",
        still_falling("GD", 10000, 0.01),
        V.qualitative(
            "'With η = 1, it takes more than 20K iterations for GD to converge for single problems': GD's x error "
            "at iteration 10,000 (its paper budget) still more than 1 % below its value at 9,000 (not converged), "
            "per seed"
        ),
        ("GD",),
        gpu=_gpu("navier-stokes-optimisation"),
        needs="needs GD's single-problem run of 10,000 paper-size iterations (the stored one stops at 100)",
    ),
    Claim(
        "ns-table1-7",
        "navier-stokes-v0",
        "iterations of the vortex estimator to the PG network's accuracy",
        "7",
        "§3.4, Table 1",
        iterations_to_network(_PG, _PG, 15600),
        V.iterations(
            7.0,
            "'Domain-specific solver 2.2 s (7 iterations)' against 'Neural network with PG 17.6h (15.6k "
            "iterations)' (Table 1): the first iteration of the estimator's single-problem run whose x error is "
            "at or below the PG network's held-out x error after 15,600 training iterations, per network seed",
            null=math.inf,
        ),
        (_PG,),
        gpu=_gpu("navier-stokes-training"),
    ),
    # --- wave packet (App. B.1) ---------------------------------------------------------------------
    Claim(
        "wavepacket-lbfgsb-centre",
        "wavepacket-v0",
        "L-BFGS-B finds packets near its initial guess, not to either side",
        "fails off-centre",
        "App. B.1, Fig. 1",
        off_centre_ratio("L-BFGS-B", "NN (Adam)", 128.0, 32.0, 64.0, 3.0),
        V.qualitative(
            "'We observe that L-BFGS-B manages to fit the wave packet when it is reasonably close to the center "
            "where the initial guess predicts it. When the wave packet is located to either side, L-BFGS-B does not "
            "find it and instead fits the noise near the center': L-BFGS-B's mean ξ0 error on held-out packets at "
            "least 64 from the initial guess ξ0 = 128 at least 3 × its error on those within 32 of it, per seed "
            "(the network's ratio shown beside it)"
        ),
        ("L-BFGS-B", "NN (Adam)"),
        examples=True,
    ),
    # --- NeurIPS Fig. 2 (exp) -------------------------------------------------------------------
    Claim(
        "exp-fig2-accuracy",
        "exp-v0",
        "rescaled update more accurate than Adam, Adam than SGD, over x* ∈ [−12, 0]",
        "Rescaled < Adam < SGD",
        "NeurIPS Fig. 2",
        order_measure(),
        V.ordering(
            "'Rescaled' follows the identity over x* ∈ [−12, 0], SGD and Adam only near x* = 0 (Fig. 2, the nets at "
            "step 10,000): mean held-out |x − x*| over x* ∈ [−12, 0] of Rescaled (sign) below DP (Adam)'s, and "
            "DP (Adam)'s below DP (SGD)'s, per seed (the stored held-out examples)"
        ),
        ("Rescaled (sign)", _ADAM, "DP (SGD)"),
        examples=True,
    ),
    Claim(
        "exp-fig2-range",
        "exp-v0",
        "the rescaled net fits the whole range x* ∈ [−11, 0]",
        "width 11, widest",
        "NeurIPS Fig. 2",
        range_measure(),
        V.qualitative(
            "'Rescaled' follows the identity over the plotted x* ∈ [−11, 0] (Fig. 2): the fitted width (the x* "
            "interval from 0 down whose 1-wide bins all have mean |x − x*| ≤ 0.5) of Rescaled (sign) at least 11 "
            "and wider than DP (SGD)'s and DP (Adam)'s, per seed"
        ),
        ("Rescaled (sign)", _ADAM, "DP (SGD)"),
        examples=True,
    ),
    # --- the PBDL book's discussion of SIP and HIG (hig-toy, paper scale: 20 s as the book) -------
    Claim(
        "book-hig-beyond-longer-dp",
        "hig-toy-v0",
        "HIG reaches a loss that Adam does not reach in 4× the time",
        "HIG (20 s) < Adam (80 s)",
        "PBDL book, Discussion of Improved Gradients",
        ranks_below("HIG", ("Adam (4× time)",), "eval_loss"),
        V.ordering(
            "'the resulting neural networks can yield a performance that we simply can't obtain by, e.g., training "
            "longer with a simpler DP or supervised approach': final held-out loss of HIG after 20 s below Adam's "
            "after 80 s, per seed"
        ),
        ("HIG", "Adam (4× time)"),
        gpu=_HIG_RUNS,
        needs="needs the book toy's runs at paper scale, 3 seeds (about 7 min on a 2-core CPU)",
    ),
    Claim(
        "book-sip-accurate",
        "hig-toy-v0",
        "SIP's update improves on Adam at equal time",
        "SIP < Adam",
        "PBDL book, Discussion of Improved Gradients",
        ranks_below("SIP", ("Adam",), "eval_loss"),
        V.ordering(
            "'✅ Pro SIP: Very accurate “gradient” information for physical simulations. Often strongly improved "
            "convergence and model performance.' / '❌ Con SIP: Only makes the physics component scale-invariant': "
            "final held-out loss of SIP (exact inverse of the toy's physics) below Adam's at equal time (20 s), per "
            "seed"
        ),
        ("SIP", "Adam"),
        gpu=_HIG_RUNS,
        needs="needs the book toy's runs at paper scale, 3 seeds (about 7 min on a 2-core CPU)",
    ),
    Claim(
        "book-hig-cost",
        "hig-toy-v0",
        "HIG's Jacobian and SVD make a step costlier than Adam's",
        "HIG costlier",
        "PBDL book, Discussion of Improved Gradients",
        costlier("HIG", "Adam"),
        V.qualitative(
            "'❌ Con HIG: Requires an SVD for a potentially large Jacobian matrix. This can be costly in terms of "
            "runtime and memory': HIG / Adam seconds per training iteration above 1, per seed (runs of one seed on "
            "one machine; the direction, not the amount, is read: the amount is the machine's)"
        ),
        ("HIG", "Adam"),
        gpu=_HIG_RUNS,
        needs="needs the book toy's runs at paper scale, 3 seeds (about 7 min on a 2-core CPU)",
    ),
)
