"""The report from a small fixture store: every expected figure and table is written, the numbers
behind the figures equal the stored ones, missing experiments read "not yet measured", and
several machines are compared side by side."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pgbench import load_results
from pgbench.analysis.timing import speedups
from pgbench.report import build_report
from pgbench.analysis.data import running_average, with_device
from pgbench.report.figures import performance_profile
from pgbench.analysis.headline import NOT_MEASURED, headline_table
from pgbench.reproduce import Experiment, Method, reproduce

FIXTURE = (
    Experiment("q2d", "quadratic2d-v0", "Fig. 2a",
               (Method("GD", "gd", {"eta": 0.5 / 36}, iterations={"quick": 10}),
                Method("Newton", "newton", {"eta": 0.5}, iterations={"quick": 10}),
                Method("PG (inverse)", "inverse", {"eta": 0.5}, iterations={"quick": 10}))),
    Experiment("sin", "sin-v0", "Fig. 3",
               (Method("DP (Adam)", "dp"), Method("PG (inverse)", "pg")),
               iterations={"quick": 40}, seeds={"quick": (0, 1)}),
    Experiment("sin-opt", "sin-v0", "§3.1", (Method("GD", "gd"), Method("PG (inverse)", "inverse")),
               iterations={"quick": 5}),
    Experiment("wave", "wavepacket-v0", "Fig. 8", (Method("NN (Adam)", "dp"), Method("L-BFGS-B", "lbfgsb")),
               iterations={"quick": 6}, problem_overrides={"quick": {"test_size": 6, "eval_every": 2}}),
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    reproduce("quick", results=root / "runs", out=root / "report", experiments=FIXTURE)
    return root / "runs", root / "report"


def test_every_figure_and_table(built):
    runs, out = built
    figures = {"fig2a_trajectories", "learning_sin-v0", "optimisation_sin-v0", "optimisation_quadratic2d-v0",
               "examples_sin-v0", "learning_wavepacket-v0", "examples_wavepacket-v0", "optimisation_wavepacket-v0",
               "fig14_time_per_iteration", "profile_iterative"}
    for name in figures:
        png = out / "figures" / f"{name}.png"
        assert png.exists() and png.stat().st_size > 10_000, name
        assert (out / "data" / f"{name}.csv").exists(), name
    assert (out / "figures" / "time_to_target.png").exists()
    for name in ("headline", "table1", "speedups", "time_to_target", "summary"):
        assert (out / "tables" / f"{name}.md").exists(), name
    index = (out / "index.html").read_text()
    for name in figures:
        assert f"figures/{name}.png" in index
    assert "not yet measured" in index and "<table" in index


def test_learning_curve_data_equals_store(built):
    """The plotted x error is the running average of the stored per-iteration x error, averaged
    over seeds; the band is the min/max over seeds."""
    runs, out = built
    df = load_results(runs)
    data = pd.read_csv(out / "data" / "learning_sin-v0.csv")
    d = data[(data["metric"] == "x_error") & (data["label"] == "DP (Adam)")].sort_values("iteration")
    w = int(d["window"].iloc[0])
    assert w == 2   # quick scale: a twentieth of the 40-iteration budget
    stored = df[(df["problem"] == "sin-v0") & (df["label"] == "DP (Adam)") & (df["kind"] == "training")]
    per_seed = np.stack([running_average(g.sort_values("iteration")["x_error"], w)
                         for _, g in stored.groupby("run_key")])
    assert per_seed.shape == (2, 40)
    np.testing.assert_allclose(d["mean"].to_numpy(), per_seed.mean(0), rtol=1e-12)
    np.testing.assert_allclose(d["lo"].to_numpy(), per_seed.min(0), rtol=1e-12)
    np.testing.assert_allclose(d["hi"].to_numpy(), per_seed.max(0), rtol=1e-12)
    assert (d["seeds"] == 2).all()


def test_trajectory_and_timing_data_equal_store(built):
    runs, out = built
    df = load_results(runs)
    traj = pd.read_csv(out / "data" / "fig2a_trajectories.csv")
    q = df[df["problem"] == "quadratic2d-v0"]
    for label, g in q.groupby("label"):
        t = traj[traj["label"] == label].sort_values("iteration")
        np.testing.assert_allclose(t["x1"].to_numpy(), g.sort_values("iteration")["x1"].to_numpy())
        np.testing.assert_allclose(t["x2"].to_numpy(), g.sort_values("iteration")["x2"].to_numpy())
    # the first PG step from (3, 3) with eta = 0.5: y = (1.5, 4.5) -> x = (1.5, sqrt(4.5))
    pg = traj[(traj["label"] == "PG (inverse)") & (traj["iteration"] == 1)].iloc[0]
    assert pg["x1"] == pytest.approx(1.5) and pg["x2"] == pytest.approx(np.sqrt(4.5), rel=1e-6)
    times = pd.read_csv(out / "data" / "fig14_time_per_iteration.csv")
    sin_pg = df[(df["problem"] == "sin-v0") & (df["label"] == "PG (inverse)") & (df["kind"] == "training")]
    expect = np.mean([np.median(np.diff(g.sort_values("iteration")["wall_time"])) for _, g in
                      sin_pg.groupby("run_key")])
    got = times[(times["problem"] == "sin-v0") & (times["label"] == "PG (inverse)")]["seconds"].iloc[0]
    assert got == pytest.approx(expect, rel=1e-9)


def test_headline_measured_and_missing(built):
    runs, out = built
    df = with_device(load_results(runs))
    head = headline_table(df).set_index("claim")
    # problems with no stored runs: not yet measured everywhere
    for claim in ("poisson-3x-60", "heat-138", "ns-2.3x-200", "hig-oscillators"):
        assert head.loc[claim, "measured"] == NOT_MEASURED
        assert head.loc[claim, "at this budget"] == NOT_MEASURED
    # sin: 20k iterations not reached, but the ratio at the last iteration is given
    assert head.loc["sin-1000x", "measured"] == NOT_MEASURED
    # per seed (seeds are paired: same data, same initial network), then median and min–max
    sin = df[(df["problem"] == "sin-v0") & (df["kind"] == "training")]
    ratios = []
    for seed in (0, 1):
        avg = {lab: running_average(g.sort_values("iteration")["x_error"], 2)[-1]
               for lab, g in sin[sin["seed"] == seed].groupby("label")}
        ratios.append(avg["DP (Adam)"] / avg["PG (inverse)"])
    lo, hi = sorted(ratios)
    expected = f"{np.median(ratios):.3g}× ({lo:.3g}–{hi:.3g}, 2/2 seeds)"
    assert head.loc["sin-1000x", "at this budget"] == expected
    assert head.loc["sin-1000x", "where"] == "iteration 40"   # a 40-iteration budget reaches iteration 40
    assert head.loc["sin-1000x", "verdict"] == "not measured at this scale"
    # the runs it came from are named by run-key prefix
    keys = set(df[(df["problem"] == "sin-v0") & (df["kind"] == "training")]["run_key"].str[:8])
    assert set(head.loc["sin-1000x", "runs"].split()) == keys
    # wave packet: a measured divergence rate on the held-out batch
    assert head.loc["wavepacket-0.12pc", "measured"].startswith("0 % (1 seed)")
    # 6 examples cannot resolve a rate of 0.12 %
    assert head.loc["wavepacket-0.12pc", "verdict"] == "not measured at this scale"
    assert "6 held-out" in head.loc["wavepacket-0.12pc", "where"]


def test_empty_store_reports_not_yet_measured(tmp_path):
    (tmp_path / "runs").mkdir()
    index = build_report([tmp_path / "runs"], tmp_path / "report")
    assert index.exists()
    head = pd.read_csv(tmp_path / "report" / "data" / "headline.csv")
    assert (head["measured"] == NOT_MEASURED).all()
    assert "| claim | paper | measured | k/n | verdict |" in (tmp_path / "report" / "summary.md").read_text()


def _synthetic(machine, device, labels_seconds, kind="training", problem="sin-v0", seeds=(0,), n=5):
    """A frame with the store's columns: constant time per iteration per label."""
    rows = []
    for label, (sec, err_scale) in labels_seconds.items():
        for seed in seeds:
            key = f"{machine}{device}{label}{seed}".encode().hex()[:16]
            for it in range(n):
                rows.append({"run_key": key, "problem": problem, "scale": "quick", "solver": label.lower(),
                             "label": label, "kind": kind, "backend": "torch", "device": "cpu",
                             "device_name": device, "machine": machine, "seed": seed, "status": "ok",
                             "iteration": it, "wall_time": sec * it, "loss": 1.0, "x_error": err_scale / (it + 1),
                             "eval_x_error": err_scale / (it + 1), "x_error_name": "e",
                             "problem_settings": json.dumps({"test_size": 4}), "hyperparameters": "{}",
                             "budget_iterations": n, "max_time": None})
    return pd.DataFrame(rows)


def _write_runs(frame, directory):
    """Store every run of ``frame`` as its own parquet file under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, g in frame.groupby("run_key"):
        g.to_parquet(directory / f"{key}.parquet", index=False)


def test_machines_side_by_side_and_speedups(tmp_path):
    a = _synthetic("box-a", "CPU A", {"DP (Adam)": (0.2, 1.0), "PG (inverse)": (0.4, 0.1)})
    b = _synthetic("box-b", "GPU B", {"DP (Adam)": (0.05, 1.0), "PG (inverse)": (0.1, 0.1)})
    for name, frame in (("a", a), ("b", b)):
        _write_runs(frame, tmp_path / name / "sin-v0")
    index = build_report([tmp_path / "a", tmp_path / "b"], tmp_path / "report")
    text = index.read_text()
    assert "box-a · CPU A (torch)" in text and "box-b · GPU B (torch)" in text
    sp = speedups(with_device(pd.concat([a, b])))
    row = sp[(sp["device"] == "box-b · GPU B (torch)") & (sp["label"] == "PG (inverse)")].iloc[0]
    assert row["s / iteration"] == pytest.approx(0.1)
    assert row["speedup vs reference"] == pytest.approx(0.5)          # DP (Adam) 0.05 s / PG 0.1 s
    assert row["speedup vs box-a · CPU A (torch)"] == pytest.approx(4.0)   # 0.4 s on A / 0.1 s on B
    times = pd.read_csv(tmp_path / "report" / "data" / "fig14_time_per_iteration.csv")
    assert set(times["device_key"]) == {"box-a · CPU A (torch)", "box-b · GPU B (torch)"}


def test_performance_profile_values():
    """One profile per problem. On p, A is fastest, B 2x slower, C never reaches; on q, A and B tie."""
    runs = pd.DataFrame({
        "problem": ["p", "p", "p", "q", "q"], "seed": [0] * 5, "device_key": ["d"] * 5, "kind": ["training"] * 5,
        "label": ["A", "B", "C", "A", "B"], "time_to_target": [1.0, 2.0, np.nan, 3.0, 3.0]})
    fig, prof = performance_profile(runs, "training")
    assert fig is not None
    assert [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.lines] == ["p", "q"]

    def rho(problem, label, tau):
        g = prof[(prof["problem"] == problem) & (prof["label"] == label)]
        return g[g["tau"] <= tau]["rho"].iloc[-1]
    assert rho("p", "A", 1.0) == 1.0
    assert rho("p", "B", 1.0) == 0.0 and rho("p", "B", 2.5) == 1.0
    assert rho("p", "C", 100.0) == 0.0
    assert rho("q", "A", 1.0) == 1.0 and rho("q", "B", 1.0) == 1.0
    assert set(prof[prof["problem"] == "q"]["label"]) == {"A", "B"}   # p's methods never enter q's panel


def test_scales_are_never_mixed(tmp_path):
    """Runs of the quick and paper scale get separate figures; the headline uses the paper runs."""
    quick = _synthetic("m", "cpu", {"DP (Adam)": (0.1, 1.0), "PG (inverse)": (0.1, 0.5)}, n=30)
    paper = _synthetic("m", "cpu", {"DP (Adam)": (0.1, 1.0), "PG (inverse)": (0.1, 0.01)}, n=30)
    paper["scale"] = "paper"
    paper["run_key"] = paper["run_key"].str[:-1] + "f"
    _write_runs(pd.concat([quick, paper]), tmp_path / "runs" / "sin-v0")
    build_report(tmp_path / "runs", tmp_path / "report")
    for sc in ("quick", "paper"):
        data = pd.read_csv(tmp_path / "report" / "data" / f"learning_sin-v0_{sc}.csv")
        assert (data["seeds"] == 1).all()
    head = pd.read_csv(tmp_path / "report" / "data" / "headline.csv").set_index("claim")
    # paper scale, window 1000 > 30 iterations: running mean of err/(it+1) up to iteration 29, ratio 1/0.01
    assert head.loc["sin-1000x", "at this budget"] == "100× (1 seed)"
    times = pd.read_csv(tmp_path / "report" / "data" / "fig14_time_per_iteration.csv")
    assert set(times["device_key"]) == {"m · cpu (torch) · quick scale", "m · cpu (torch) · paper scale"}
    assert (times["seeds"] == 1).all()


def test_older_configurations_are_not_averaged_in(tmp_path):
    """Two runs of one label with different problem settings: the figures use the newest one only."""
    old = _synthetic("m", "cpu", {"DP (Adam)": (0.1, 1.0)}, n=10)
    new = _synthetic("m", "cpu", {"DP (Adam)": (0.1, 4.0)}, n=10)
    old["created"], new["created"] = "2026-01-01T00:00:00", "2026-01-02T00:00:00"
    new["problem_settings"] = json.dumps({"test_size": 8})
    new["run_key"] = new["run_key"].str[:-1] + "e"
    _write_runs(pd.concat([old, new]), tmp_path / "runs" / "sin-v0")
    build_report(tmp_path / "runs", tmp_path / "report")
    data = pd.read_csv(tmp_path / "report" / "data" / "learning_sin-v0.csv")
    d = data[data["metric"] == "x_error"].sort_values("iteration")
    assert (d["seeds"] == 1).all()
    assert d["mean"].iloc[0] == pytest.approx(4.0)
    summary = pd.read_csv(tmp_path / "report" / "data" / "summary.csv")
    assert len(summary) == 2   # the summary still lists both configurations


def test_the_same_run_in_two_directories_counts_once(built, tmp_path):
    import shutil
    runs, _ = built
    shutil.copytree(runs, tmp_path / "copy")
    build_report([runs, tmp_path / "copy"], tmp_path / "report")
    data = pd.read_csv(tmp_path / "report" / "data" / "learning_sin-v0.csv")
    assert (data[data["metric"] == "x_error"]["seeds"] == 2).all()   # seeds 0 and 1, not 4 copies


def _final_loss_runs(values, problem="poisson-hig-v0", diverged=()):
    """Training runs whose held-out loss ends at ``values[label][seed]`` (evaluated at iterations 0
    and 2; the loss at 0 is 100, larger than every final value)."""
    rows = []
    for label, per_seed in values.items():
        for seed, final in enumerate(per_seed):
            status = "diverged" if (label, seed) in diverged else "ok"
            for it, ev in ((0, 100.0), (1, np.nan), (2, final)):
                rows.append({"run_key": f"{seed}-{label}", "problem": problem, "scale": "quick",
                             "label": label, "kind": "training", "seed": seed, "status": status, "iteration": it,
                             "wall_time": float(it), "eval_loss": ev, "eval_x_error": 1.0})
    return pd.DataFrame(rows)


def test_hig_claims_compare_final_held_out_loss_per_seed_with_medians():
    from pgbench.analysis.claim_measures import ranks_below
    measure = ranks_below("Adam→HIG", ("Adam", "Adam (1e-3)"), "eval_loss")
    # holds on seeds 0 and 2 only (seed 1: Adam (1e-3) 0.2 < 0.3); medians over the 3 seeds
    df = _final_loss_runs({"Adam→HIG": [0.1, 0.3, 0.2], "Adam": [0.5, 0.6, 0.7], "Adam (1e-3)": [0.4, 0.2, 0.25]})
    m = measure(df, False)
    assert m.value == "holds for 2/3 seeds: Adam→HIG 0.2, Adam 0.6, Adam (1e-3) 0.25"
    assert m.at == "final held-out loss, median of 3 seeds"
    # every seed: holds; a diverged baseline counts as worse although its last evaluation was lower
    df = _final_loss_runs({"Adam→HIG": [0.1, 0.2], "Adam": [0.01, 0.3]}, diverged={("Adam", 0)})
    m = ranks_below("Adam→HIG", ("Adam",), "eval_loss")(df, False)
    assert m.value == "holds: Adam→HIG 0.15, Adam diverged"   # median of (diverged, 0.3)
    assert not m.value.startswith("holds for")
    # the winner diverged on every seed: does not hold
    df = _final_loss_runs({"Adam→HIG": [0.1], "Adam": [0.5]}, diverged={("Adam→HIG", 0)})
    assert ranks_below("Adam→HIG", ("Adam",), "eval_loss")(df, False).value.startswith("does not hold")
    # nothing to compare with: not measured
    assert ranks_below("HIG", ("Adam",), "eval_loss")(df, False) is None


def test_time_to_target_figure_panels_scale_and_labels():
    """Problems no method reached get no panel (listed instead); times spanning more than 20x get
    a log axis; tick labels carry no offset or exponent text; the title stays above the panels."""
    from pgbench.report.figures import time_to_target_figure
    agg = pd.DataFrame({
        "problem": ["a-v0", "a-v0", "a-v0", "b-v0"], "kind": ["iterative"] * 4, "label": ["GD", "PG", "Slow", "GD"],
        "device_key": ["d"] * 4, "target": [1.0, 1.0, 1.0, 0.1], "seeds": [2, 2, 2, 1], "reached": [2, 1, 0, 0],
        "iterations_to_target": [5.0, 1.0, np.nan, np.nan], "time_to_target": [30.0, 0.002, np.nan, np.nan]})
    fig, data = time_to_target_figure(agg)
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in panels] == ["a-v0 (iterative), target 1"]
    ax = panels[0]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] < 0.002 < 30 < ax.get_xlim()[1]
    assert ax.xaxis.get_offset_text().get_text() == ""
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert any("b-v0 (iterative)" in t and "No method reached" in t for t in texts)
    assert any("1/2 seeds" in t for t in texts) and any("not reached (0/2 seeds)" in t for t in texts)
    title = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert title.y0 >= ax.title.get_window_extent(fig.canvas.get_renderer()).y1   # no overlap


def test_examples_clip_blown_up_predictions_and_name_diverged_runs():
    """A diverged network predicting 1e6 must not stretch the axis: the panel shows the truth's range,
    the blown-up points are counted off scale, and the diverged run is named in the legend."""
    from pgbench.report.example_figures import clip_range, examples_figure
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 10, size=(64, 1)).astype(np.float32)
    truth = (a / 5).astype(np.float32)

    def example(label, key, pred):
        return {"x_true": truth, "y_target": a, "x_pred": pred,
                "meta": {"problem": "sin-v0", "label": label, "kind": "training", "seed": 0, "run_key": key}}
    blown = np.full_like(truth, 1.5e6)
    blown[:4] = truth[:4]
    examples = [example("good", "k1", truth + 0.01), example("blown", "k2", blown)]
    fig, data = examples_figure(examples, "sin-v0", {"k1": "ok", "k2": "diverged"})
    lo, hi = clip_range(truth)
    ax = fig.axes[0]
    assert ax.get_ylim() == pytest.approx((lo, hi)) and hi < 10
    assert data.groupby("label")["off_scale"].sum().to_dict() == {"blown": 60, "good": 0}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "blown (seed 0, diverged): 60/64 off scale" in legend and "good" in legend


def test_error_labels_are_words_for_every_problem():
    from pgbench.registry import PROBLEMS
    from pgbench.report.figures import error_label
    built_in = [n for n, spec in PROBLEMS.specs.items()   # a plugin may register a built-in class
                if spec.entry_point.startswith("pgbench.problems.") and n not in PROBLEMS.origins]
    for name in built_in:   # other tests' plugin problems may be registered in this process too
        label = error_label(name, "code_name |x|")
        assert "_" not in label and label != "x error", name
    assert error_label("navier-stokes-v0", "mean_cells |v0 - v0*|").startswith("velocity error")


def test_html_runs_table_messages_anchors_and_files(tmp_path):
    """The "All runs" section: a diverged run shows its stored message, every run has an anchor,
    run keys elsewhere link to it, each run links its parquet file, and wide tables scroll."""
    frame = _synthetic("m", "cpu", {"DP (Adam)": (0.1, 1.0), "PG (inverse)": (0.1, 0.5)})
    bad = frame["label"].eq("PG (inverse)")
    frame.loc[bad, "status"] = "diverged"
    frame.loc[bad, "message"] = "x error blew up at iteration 3: 1e+09"
    frame.loc[~bad, "message"] = ""
    _write_runs(frame, tmp_path / "runs" / "sin-v0")
    text = build_report(tmp_path / "runs", tmp_path / "report").read_text()
    assert "x error blew up at iteration 3: 1e+09" in text
    for key in frame["run_key"].unique():
        assert f"<tr id='run-{key}'>" in text
        assert f"href='#run-{key}'" in text
        assert f"href='../runs/sin-v0/{key}.parquet'" in text
    assert "overflow-x:auto" in text and "1 (1 diverged)" in text
    assert "<td class='wide'>diverged: x error blew up at iteration 3: 1e+09</td>" in text   # not a blank cell


def test_figure_data_files_are_thinned_to_log_spaced_rows():
    """A 20k-iteration curve's data file keeps at most about 500 log-spaced rows (first and last always),
    not every iteration: the paper-size store's learning-curve data must stay small."""
    from pgbench.analysis.data import thin

    n = 20000
    frame = pd.DataFrame({"problem": "sin-v0", "kind": "training", "label": "PG", "device_key": "m",
                          "iteration": np.arange(1, n + 1), "mean": 1.0 / np.arange(1, n + 1)})
    two = pd.concat([frame, frame.assign(label="Adam")], ignore_index=True)
    out = thin(two)
    for _, g in out.groupby("label"):
        assert 250 <= len(g) <= 501
        assert g["iteration"].iloc[0] == 1 and g["iteration"].iloc[-1] == n
        assert (np.diff(g["iteration"]) > 0).all()
        assert (g["iteration"] <= 10).sum() == 10  # every early iteration: the log axis needs them
    small = frame.head(30)
    pd.testing.assert_frame_equal(thin(small), small)
