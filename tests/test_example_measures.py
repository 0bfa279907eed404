"""Claims read from stored held-out examples: the wave packet's off-centre error ratio."""

import math

import numpy as np
import pytest

from pgbench.analysis.example_measures import off_centre_ratio

XI = np.linspace(25.6, 230.4, 512)


def _ex(label, seed, pred_xi):
    x_true = np.stack([XI, np.full_like(XI, 2.0)], axis=1)
    x_pred = np.stack([pred_xi, np.full_like(XI, 2.0)], axis=1)
    return {"meta": {"label": label, "seed": seed, "run_key": f"{label}-{seed}"}, "x_true": x_true, "x_pred": x_pred}


def test_a_solver_that_stays_at_its_guess_fails_off_centre_and_a_network_does_not():
    stuck = np.where(np.abs(XI - 128) <= 40, XI + 1.0, 128.0)      # fits near 128, else stays there
    everywhere = XI + 1.0
    examples = [_ex("L-BFGS-B", 0, stuck), _ex("L-BFGS-B", 1, everywhere), _ex("NN (Adam)", 0, everywhere)]
    m = off_centre_ratio("L-BFGS-B", "NN (Adam)", 128.0, 32.0, 64.0, 3.0)(None, True, examples)
    assert m.holds == (1, 2)                                          # seed 1 fits everywhere: ratio 1
    assert m.stats.hi > 30 and m.stats.lo == pytest.approx(1.0)
    assert "NN (Adam) 1×" in m.value
    assert off_centre_ratio("L-BFGS-B", "NN (Adam)", 128.0, 32.0, 64.0, 3.0)(None, True, examples[2:]) is None


def test_non_finite_predictions_have_no_ratio():
    bad = XI.copy()
    bad[0] = np.nan
    m = off_centre_ratio("L-BFGS-B", "NN (Adam)", 128.0, 32.0, 64.0, 3.0)(None, True, [_ex("L-BFGS-B", 0, bad)])
    assert m.holds == (0, 1) and math.isnan(m.stats.values[0])
