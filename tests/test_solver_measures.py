"""Measures of the solver / ordering claims, on small frames with known answers."""

import math

import pandas as pd
import pytest

from pgbench.analysis.data import with_device
from pgbench.analysis.solver_measures import (average_above, average_below_level, final_below, held_out_below,
                                              iterations_to_converge)


def _runs(problem, kind, curves, status=None, eval_curves=None):
    """``curves[label][seed]``: the per-iteration x error from iteration 0 (iterative) or 1 (training)."""
    rows, status, eval_curves = [], status or {}, eval_curves or {}
    for label, per_seed in curves.items():
        for seed, curve in enumerate(per_seed):
            start = 0 if kind == "iterative" else 1
            for i, e in enumerate(curve):
                row = {"run_key": f"{label}-{seed}-{len(curve)}", "problem": problem, "scale": "paper",
                       "solver": "x", "label": label, "kind": kind, "backend": "torch", "device": "cpu",
                       "device_name": "cpu", "machine": "m", "seed": seed,
                       "status": status.get((label, seed), "ok"), "iteration": start + i,
                       "wall_time": 0.1 * i, "loss": 1.0, "x_error": e, "nonfinite": 0.0}
                if (label, seed) in eval_curves:
                    row["eval_x_error"] = eval_curves[(label, seed)][i]
                rows.append(row)
    return with_device(pd.DataFrame(rows))


def test_iterations_to_converge_is_the_first_step_within_ten_percent_of_the_end():
    fast = [100.0, 1.05, 1.0, 1.0, 1.0]                  # within 10 % of the end at step 1
    slow = [100.0, 50.0, 5.0, 1.2, 1.08, 1.0]            # at step 4 (1.08 ≤ 1.1), not 3 (1.2)
    df = _runs("poisson-v0", "iterative", {"PG (inverse)": [fast, slow]})
    m = iterations_to_converge("PG (inverse)", 0.1, reach=4)(df, True)
    assert m.stats.values == (1.0, 4.0) and m.stats.k == 2
    # runs that stop before `reach` cannot show convergence at the paper's point; the budget value is still read
    assert iterations_to_converge("PG (inverse)", 0.1, reach=10)(df, True) is None
    assert iterations_to_converge("PG (inverse)", 0.1, reach=10)(df, False).stats.values == (1.0, 4.0)
    bad = _runs("poisson-v0", "iterative", {"PG (inverse)": [fast, slow]}, status={("PG (inverse)", 1): "diverged"})
    v = iterations_to_converge("PG (inverse)", 0.1)(bad, True).stats
    assert v.values[0] == 1.0 and math.isinf(v.values[1]) and (v.k, v.n) == (1, 2)


def test_iterations_to_converge_reads_each_seeds_longest_run():
    short = _runs("navier-stokes-v0", "iterative", {"PG (inverse)": [[10.0, 5.0, 3.0]]})
    long = _runs("navier-stokes-v0", "iterative", {"PG (inverse)": [[10.0, 5.0, 3.0, 1.0, 1.0, 1.0]]})
    m = iterations_to_converge("PG (inverse)", 0.1, reach=5)(pd.concat([short, long]), True)
    assert m is not None and m.stats.values == (3.0,)


def test_final_below_compares_each_seeds_last_error():
    df = _runs("heat-v0", "iterative", {"L-BFGS-B": [[9.0, 2.0], [9.0, 5.0], [9.0, 1.0]],
                                        "GD": [[9.0, 4.0], [9.0, 3.0], [9.0, 2.0]]})
    m = final_below("L-BFGS-B", ("GD",))(df, True)
    assert m.holds == (2, 3)                               # seed 1: 5 > 3
    assert m.value.startswith("holds for 2/3 seeds: L-BFGS-B 2, GD 3")
    assert final_below("GD", ("L-BFGS-B",))(df, True).holds == (1, 3)
    diverged = _runs("heat-v0", "iterative", {"L-BFGS-B": [[9.0, 2.0]], "GD": [[9.0, 4.0]]},
                     status={("L-BFGS-B", 0): "diverged"})
    assert final_below("L-BFGS-B", ("GD",))(diverged, True).holds == (0, 1)   # a diverged fit never ranks below


def test_held_out_below_pairs_the_networks_last_evaluation_with_the_fit_of_its_seed():
    nets = _runs("wavepacket-v0", "training", {"NN (Adam)": [[50.0, 40.0, 30.0]] * 3},
                 eval_curves={("NN (Adam)", 0): [40.0, math.nan, 8.0], ("NN (Adam)", 1): [40.0, 9.0, 30.0],
                              ("NN (Adam)", 2): [40.0, 20.0, 12.0]})
    fits = _runs("wavepacket-v0", "iterative", {"L-BFGS-B": [[50.0, 28.0], [50.0, 28.0], [50.0, 10.0]]})
    m = held_out_below("NN (Adam)", "L-BFGS-B")(pd.concat([nets, fits]), True)
    assert m.holds == (1, 3)   # seed 0: 8 < 28; seed 1: the last evaluation 30 > 28; seed 2: 12 > 10


def test_average_above_and_below_level_read_the_final_running_average_per_seed():
    df = _runs("sin-v0", "training", {"Supervised": [[1e-2] * 30, [1e-3] * 30],
                                      "DP (Adam)": [[2e-2] * 30, [1e-4] * 30],
                                      "PG (inverse)": [[1e-5] * 30, [2e-4] * 30]})
    m = average_above("Supervised", ("DP (Adam)", "PG (inverse)"), 30)(df, True)
    assert m.holds == (1, 2)    # seed 0: Adam's 2e-2 is above Supervised's 1e-2; seed 1: Supervised worst
    assert average_above("Supervised", ("DP (Adam)", "PG (inverse)"), 31)(df, True) is None
    lv = average_below_level("PG (inverse)", 1e-4, 30)(df, True)
    assert lv.holds == (1, 2) and lv.stats.median == pytest.approx(1.05e-4)


def test_iterations_to_network_is_the_first_solver_step_at_the_networks_held_out_error():
    from pgbench.analysis.solver_measures import iterations_to_network
    fit = _runs("navier-stokes-v0", "iterative", {"PG (inverse)": [[8.0, 4.0, 2.0, 1.0, 0.5]]})
    nets = _runs("navier-stokes-v0", "training", {"PG (inverse)": [[1.0] * 4, [1.0] * 4]},
                 eval_curves={("PG (inverse)", 0): [5, 3, 2, 1.5], ("PG (inverse)", 1): [5, 3, 2, 0.4]})
    df = pd.concat([fit, nets], ignore_index=True)
    m = iterations_to_network("PG (inverse)", "PG (inverse)", 4)(df, True)
    assert m.stats.values == (3.0, math.inf)          # 1.0 ≤ 1.5 at step 3; 0.5 never ≤ 0.4
    assert iterations_to_network("PG (inverse)", "PG (inverse)", 3)(df, True).stats.values == (2.0, 2.0)
    assert iterations_to_network("PG (inverse)", "PG (inverse)", 15600)(df, True) is None
