"""The Fig. 2 measure (pgbench.analysis.exp_range) on predictions whose fitted range is known by hand."""

import numpy as np
import pytest

from pgbench import store
from pgbench.analysis.exp_range import binned_error, fitted_width, fitted_widths, range_claim, stored_examples

XS = np.linspace(-12, 0, 1201)  # x* every 0.01


def test_identity_fits_the_whole_range_and_nan_fits_nothing():
    assert fitted_width(XS, XS) == 12.0
    assert fitted_width(XS, np.full_like(XS, np.nan)) == 0.0
    assert fitted_width(XS, XS + 0.6) == 0.0  # off by more than the tolerance everywhere


def test_a_net_that_saturates_below_a_level_fits_down_to_it():
    """x = max(x*, −3.2): the bin (−4, −3] has mean error ∫(−3.2 − x*)dx / 1 = 0.32 ≤ 0.5 (fitted),
    the bin (−5, −4] 1.3 (not): the width is 4."""
    pred = np.maximum(XS, -3.2)
    uppers, err = binned_error(XS, pred)
    assert uppers[:5].tolist() == [0.0, -1.0, -2.0, -3.0, -4.0]
    assert err[3] == pytest.approx(0.32, abs=0.01) and err[4] == pytest.approx(1.3, abs=0.01)
    assert fitted_width(XS, pred) == 4.0


def test_a_gap_near_zero_ends_the_fitted_range():
    pred = XS.copy()
    pred[(XS > -2) & (XS <= -1)] += 1.0
    assert fitted_width(XS, pred) == 1.0


def _store(tmp_path, widths_by_label: dict[str, list[float]]):
    """Runs with examples whose net fits x* ≥ −w exactly and predicts 0 below it."""
    for label, widths in widths_by_label.items():
        for seed, w in enumerate(widths):
            key = f"{abs(hash((label, seed))):016x}"[:16]
            (tmp_path / f"{key}.parquet").write_bytes(b"")
            pred = np.where(XS >= -w, XS, 0.0).astype(np.float32)
            meta = {"problem": "exp-v0", "label": label, "seed": seed, "run_key": key, "scale": "paper"}
            store.write_examples(
                {"meta": meta, "x_true": XS.astype(np.float32), "x_pred": pred}, tmp_path / f"{key}.examples.npz"
            )


def test_the_claim_from_a_store_counts_the_seeds_it_holds_for(tmp_path):
    _store(tmp_path, {"Rescaled (sign)": [12, 12, 6], "DP (SGD)": [3, 2, 7], "DP (Adam)": [4, 5, 5]})
    result = fitted_widths(stored_examples([tmp_path]))
    assert result.widths["Rescaled (sign)"] == {0: 12.0, 1: 12.0, 2: 6.0}
    assert result.widths["DP (SGD)"] == {0: 3.0, 1: 2.0, 2: 7.0}
    assert result.stats["DP (Adam)"].median == 5.0
    m = range_claim(result)
    assert m.holds == (2, 3)  # seed 2: the rescaled net fits only 6 < 11
    assert "Rescaled (sign) 12 (6–12, 3/3 seeds)" in m.value


def test_no_claim_without_every_method(tmp_path):
    _store(tmp_path, {"Rescaled (sign)": [12]})
    assert range_claim(fitted_widths(stored_examples([tmp_path]))) is None


def test_the_error_ordering_claim_counts_seeds_and_puts_diverged_runs_last(tmp_path):
    """Mean |x − x*| of the nets of ``_store``: a net fitting x* ≥ −w and predicting 0 below errs
    ∫_w^12 t dt / 12 = (144 − w²)/24, decreasing in w."""
    _store(tmp_path, {"Rescaled (sign)": [4, 4, 2], "DP (Adam)": [5, 3, 3], "DP (SGD)": [0, 0, 1]})
    from pgbench.analysis.exp_range import error_order_claim

    m = error_order_claim(stored_examples([tmp_path]))
    assert m.holds == (1, 3)  # seed 1 only: 4 > 3 > 0 in width; seed 0 has Adam best, seed 2 Adam better
    assert m.stats.median == pytest.approx((144 - 4**2) / 24, rel=0.02)
    bad = tmp_path / "nan"
    bad.mkdir()
    _store(bad, {"Rescaled (sign)": [4], "DP (Adam)": [5]})
    key = "0" * 16
    (bad / f"{key}.parquet").write_bytes(b"")
    meta = {"problem": "exp-v0", "label": "DP (SGD)", "seed": 0, "run_key": key}
    store.write_examples({"meta": meta, "x_true": XS, "x_pred": np.full_like(XS, np.nan)}, bad / f"{key}.examples.npz")
    assert error_order_claim(stored_examples([bad]), order=("DP (Adam)", "Rescaled (sign)", "DP (SGD)")).holds == (1, 1)


def test_the_headline_rows_read_the_examples_of_the_frames_runs(tmp_path):
    """exp-fig2-accuracy / exp-fig2-range: measured from the examples of the runs in the frame,
    only once every run reached the figure's step 10,000."""
    import pandas as pd

    from pgbench.analysis.data import with_device
    from pgbench.analysis.headline import CLAIMS, headline_table
    from pgbench.analysis.verdicts import NOT_AT_SCALE, NOT_REPRODUCED, REPRODUCED

    _store(tmp_path, {"Rescaled (sign)": [4, 4, 4], "DP (Adam)": [3, 3, 5], "DP (SGD)": [0, 0, 0]})
    examples = [{**e, "meta": e["meta"]} for e in stored_examples([tmp_path])]

    def frame(last):
        rows = [{"run_key": e["meta"]["run_key"], "problem": "exp-v0", "scale": "paper", "solver": "x",
                 "label": e["meta"]["label"], "kind": "training", "backend": "torch", "device": "cpu",
                 "device_name": "cpu", "machine": "m", "seed": e["meta"]["seed"], "status": "ok", "iteration": it,
                 "wall_time": 0.1 * it, "loss": 1.0, "x_error": 1.0, "nonfinite": 0.0}
                for e in examples for it in (1, last)]
        return with_device(pd.DataFrame(rows))

    claims = [c for c in CLAIMS if c.key.startswith("exp-fig2")]
    head = headline_table(frame(10000), claims, examples=examples).set_index("claim")
    assert head.loc["exp-fig2-accuracy", ["k/n", "verdict"]].tolist() == ["2/3", REPRODUCED]   # seed 2: Adam best
    assert head.loc["exp-fig2-range", ["k/n", "verdict"]].tolist() == ["3/3", NOT_REPRODUCED]  # fits 4, not 11
    short = headline_table(frame(5000), claims, examples=examples).set_index("claim")
    assert short.loc["exp-fig2-accuracy", "verdict"] == NOT_AT_SCALE
    assert headline_table(frame(10000), claims).set_index("claim").loc["exp-fig2-accuracy", "verdict"] == NOT_AT_SCALE
