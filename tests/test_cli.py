"""The command line: list, run, results, the reproduce/report wrappers, and bad input (exit 2, one line)."""

import io
import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

import pgbench
from pgbench import cli
from pgbench.progress_view import ProgressView

TINY = ["--problem-set", "batch_size=8", "--problem-set", "test_size=8", "--iterations", "3"]


def invoke(capsys, *args):
    """Run ``pgbench ARGS`` in this process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_list(capsys):
    code, out, _ = invoke(capsys, "list")
    assert code == 0
    for text in ("sin-v0", "wavepacket-v0", "variant", "inverse", "pg-v0", "training", "lbfgsb-v0", "eta="):
        assert text in out
    code, out, _ = invoke(capsys, "list", "solvers")
    assert code == 0 and "pg-v0" in out and "wavepacket-v0" not in out
    code, out, _ = invoke(capsys, "list", "problems")
    assert code == 0 and "sin2d-v0" in out and "lbfgsb-v0" not in out


def test_normalize_args():
    assert cli.normalize_args(["run", "sin", "pg", "--seeds", "0", "1", "2", "--backend", "torch", "jax", "-q"]) == \
        ["run", "sin", "pg", "--seeds", "0,1,2", "--backend", "torch,jax", "-q"]
    assert cli.normalize_args(["run", "sin", "--seeds", "0,1", "pg"]) == ["run", "sin", "--seeds", "0,1", "pg"]


def test_run_then_results(capsys, tmp_path):
    results = tmp_path / "runs"
    code, out, err = invoke(capsys, "run", "sin", "gd", "inverse", "--seeds", "0", "1", *TINY, "--set", "gd.eta=0.02",
                            "--results", results)
    assert code == 0, err
    assert "summary" in out and "gd" in out and "inverse" in out
    assert "sin-v0 gd-v0 seed=1 torch/cpu: ok" in err  # one line per run when stderr is not a terminal
    files = sorted(results.rglob("*.parquet"))
    assert len(files) == 4
    df = pgbench.load_results(results)
    assert set(df["seed"]) == {0, 1} and set(df.loc[df["solver"] == "gd-v0", "hp_eta"]) == {0.02}

    # same command again: every run is reused, nothing is rewritten
    stamps = [f.stat().st_mtime_ns for f in files]
    code, _, err = invoke(capsys, "run", "sin", "gd", "inverse", "--seeds", "0,1", *TINY, "--set", "gd.eta=0.02",
                          "--results", results)
    assert code == 0 and "(stored)" in err
    assert [f.stat().st_mtime_ns for f in files] == stamps

    code, out, _ = invoke(capsys, "results", "--results", results, "--format", "csv")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert sorted(table["solver"]) == ["gd-v0", "inverse-v0"] and set(table["seeds"]) == {2}
    assert table.set_index("solver").loc["inverse-v0", "x_error"] < 1e-6

    code, out, _ = invoke(capsys, "results", "--results", results, "--format", "json", "--target", "0.5",
                          "--solver", "gd")
    rows = json.loads(out)
    assert code == 0 and [r["solver"] for r in rows] == ["gd-v0"] and rows[0]["target"] == 0.5

    code, out, _ = invoke(capsys, "results", "--results", results, "--problem", "sin")
    assert code == 0 and "gd" in out and "x error" in out

    code, out, _ = invoke(capsys, "results", "--results", results, "--per-run", "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 4

    code, _, err = invoke(capsys, "results", "--results", results, "--problem", "wavepacket")
    assert code == 1 and "no stored runs" in err


def test_run_prints_skipped_pairs(capsys, tmp_path):
    code, out, err = invoke(capsys, "run", "wavepacket", "lbfgsb", "inverse", "--iterations", "1",
                            "--problem-set", "test_size=4", "--set", "maxiter=3", "--results", tmp_path, "-q")
    assert code == 0, err
    assert "skip wavepacket-v0 × inverse-v0" in err and "capability inverse" in err
    assert "lbfgsb" in out


@pytest.mark.parametrize("args, message", [
    (["run", "sinn", "gd"], "unknown problem 'sinn'; did you mean 'sin'?"),
    (["run", "sin", "gdd"], "unknown solver 'gdd'; did you mean 'gd'?"),
    (["run", "sin", "gd", "--set", "etaa=1"], "has a setting 'etaa'; did you mean 'eta'?"),
    (["run", "sin", "pg", "--set", "lr=fast"], "lr='fast': expected float"),
    (["run", "sin", "pg", "--set", "n=1.5"], "n='1.5': expected int"),
    (["run", "sin", "pg", "--set", "lr"], "--set expects KEY=VALUE"),
    (["run", "sin", "gd", "--scale", "huge"], "no scale 'huge'"),
    (["run", "wavepacket", "inverse"], "no compatible solver for wavepacket"),
    (["run", "sin", "gd", "--problem-set", "batch=3"], "did you mean 'batch_size'?"),
    (["run", "sin", "gd", "--set", "eta=-1"], "eta must be > 0"),
    (["run", "sin", "gd", "--seeds", "x"], "--seeds: 'x'"),
    (["run", "sin", "gd", "--backend", "tf"], "unknown backend 'tf'"),
    (["run", "sin", "gd", "--iterations", "0"], "iterations must be >= 1"),
    (["run", "sin", "gd", "--executor", "dask"], "No such option: --executor"),   # removed: --cluster local
    (["run", "sin", "gd", "--plugin", "no_such_module_xyz"], "cannot be imported"),
    (["run", "sin"], "Missing argument"),
    (["run", "sin", "gd", "--threads", "100000"], "threads must be an integer from 0"),
    (["run", "sin", "gd", "--label", "a\x1b[31mred"], "a label must be one line of printable characters"),
    (["run", "sin", "gd", "--label", "two\nlines"], "a label must be one line of printable characters"),
    (["run", "sin", "gd", "--label", "x" * 5000], "a label must be at most 120 characters"),
    (["list", "things"], "can list 'problems' or 'solvers'"),
    (["results", "--format", "xml"], "--format must be one of table, csv, json"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, message):
    results = tmp_path / "runs"
    extra = ["--results", str(results)] if args[0] in ("run", "results") else []
    code, out, err = invoke(capsys, *args, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not results.exists()  # nothing ran


def test_console_script_exit_code():
    exe = shutil.which("pgbench") or pytest.skip("console script not installed")
    proc = subprocess.run([exe, "run", "sinn", "pg"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown problem 'sinn'; did you mean 'sin'?"
    assert proc.stdout == ""


def test_reproduce_and_report_pass_arguments_through(capsys, tmp_path, monkeypatch):
    import pgbench.report
    import pgbench.reproduce

    calls = {}
    monkeypatch.setattr(pgbench.reproduce, "reproduce", lambda **kw: calls.setdefault("reproduce", kw))
    monkeypatch.setattr(pgbench.report, "build_report",
                        lambda dirs, out, policy: calls.setdefault("report", (dirs, out, policy)))
    code, _, _ = invoke(capsys, "reproduce", "--scale", "paper", "--only", "sin,wavepacket", "--backend", "jax",
                        "--results", tmp_path / "r", "--out", tmp_path / "o", "-q")
    assert code == 0
    kw = calls["reproduce"]
    assert (kw["scale"], kw["only"], kw["backend"], kw["device"]) == ("paper", ["sin", "wavepacket"], "jax", "cpu")
    assert (str(kw["results"]), str(kw["out"]), kw["progress"]) == (str(tmp_path / "r"), str(tmp_path / "o"), None)
    code, _, err = invoke(capsys, "reproduce", "--scale", "big")
    assert code == 2 and err.startswith("error: --scale must be quick or paper")

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code, _, _ = invoke(capsys, "report", "--results", tmp_path / "a", "--results", tmp_path / "b", "--out",
                        tmp_path / "o")
    assert code == 0
    dirs, out, policy = calls["report"]
    assert [str(d) for d in dirs] == [str(tmp_path / "a"), str(tmp_path / "b")] and str(out) == str(tmp_path / "o")
    assert str(policy) == "worst-reference"   # the leaderboard's default, for time to target too
    code, _, err = invoke(capsys, "report", "--results", tmp_path / "missing")
    assert code == 2 and "no results directory" in err


def test_progress_bars_on_a_terminal(tmp_path):
    from rich.console import Console

    from pgbench.sweep import expand, run_sweep

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    tasks, _ = expand("sin", ["gd", "dp"], iterations=3, problem_overrides={"batch_size": 8, "test_size": 8})
    with ProgressView(len(tasks), console) as view:
        assert view.live
        run_sweep(tasks, root=tmp_path, progress=view)
    text = buf.getvalue()
    for needle in ("sweep", "sin-v0 gd-v0 seed=0 torch/cpu", "sin-v0 dp-v0 seed=0 torch/cpu", "x err", "3/3", "2/2"):
        assert needle in text
    bars = {view.progress.tasks[i].description.split(":")[0]: view.progress.tasks[i] for i in view.bars.values()}
    assert all(t.completed == t.total == 3 for t in bars.values())


SWEEP_FILE = """
problems = ["sin"]
solvers = ["gd", "dp"]
seeds = [0, 1]
iterations = 3

[hyperparameters.dp]
lr = [1e-3, 1e-4]

[problem_settings.sin]
batch_size = 8
test_size = 8
"""


def test_sweep_dry_run_then_run_then_resume(capsys, tmp_path):
    config, results = tmp_path / "sweep.toml", tmp_path / "runs"
    config.write_text(SWEEP_FILE)
    code, out, _ = invoke(capsys, "sweep", config, "--results", results, "--dry-run")
    assert code == 0 and "6 runs" in out and "dp lr=0.0001" in out
    assert "0 done, 0 failed (will retry), 6 not yet run; 6 would run" in out
    assert not results.exists()  # a dry run runs nothing
    code, out, err = invoke(capsys, "sweep", config, "--results", results, "--quiet")
    assert code == 0 and "summary (6 runs" in out
    assert len(pgbench.store.run_files(results)) == 6
    code, out, _ = invoke(capsys, "sweep", config, "--results", results, "--dry-run")
    assert "6 done, 0 failed (will retry), 0 not yet run; 0 would run" in out


@pytest.mark.parametrize("text, extra, message", [
    ('problems = ["sin"]\nsolvers = ["gd"]\nseed = [1]\n', [], "did you mean 'seeds'?"),
    ('problems = ["sinn"]\nsolvers = ["gd"]\n', [], "did you mean"),
    ('problems = ["wavepacket"]\nsolvers = ["inverse"]\n', [], "no compatible run in the grid"),
    ('problems = ["sin"]\nsolvers = ["gd"]\n', ["--cluster", "slurm"], "--cluster must be 'local'"),
    ('problems = ["sin"]\nsolvers = ["gd"]\n', ["--cluster", "local", "--scheduler", "tcp://x:1"], "not both"),
    ('problems = ["sin"]\nsolvers = ["gd"]\n', ["--workers", "0"], "--workers must be >= 1"),
])
def test_bad_sweep_exits_2_with_one_line(capsys, tmp_path, text, extra, message):
    config, results = tmp_path / "sweep.toml", tmp_path / "runs"
    config.write_text(text)
    code, _, err = invoke(capsys, "sweep", config, "--results", results, *extra)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not results.exists()


def test_merge(capsys, tmp_path):
    a, b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "all"
    for root, seeds in ((a, "0,1"), (b, "1,2")):
        code, _, _ = invoke(capsys, "run", "sin", "gd", *TINY, "--seeds", seeds, "--results", root, "--quiet")
        assert code == 0
    code, out, _ = invoke(capsys, "merge", a, b, "--into", dest)
    assert code == 0 and "3 copied, 0 replaced (failed -> finished), 1 already there" in out
    assert len(pgbench.store.run_files(dest)) == 3
    code, _, err = invoke(capsys, "merge", tmp_path / "nope", "--into", dest)
    assert code == 2 and "no results directory" in err


def test_sweep_on_an_existing_dask_scheduler(capsys, tmp_path):
    """``--scheduler ADDRESS``: the runs go to a cluster that was started elsewhere (here a
    one-worker LocalCluster standing in for `dask scheduler` + `dask worker` on other nodes)."""
    distributed = pytest.importorskip("distributed")
    config, results = tmp_path / "sweep.toml", tmp_path / "runs"
    config.write_text(SWEEP_FILE.replace("[0, 1]", "[0]"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        code, out, _ = invoke(capsys, "sweep", config, "--results", results, "--scheduler", c.scheduler_address,
                              "--quiet")
    assert code == 0 and "summary (3 runs" in out
    df = pgbench.load_results(results)
    assert df["run_key"].nunique() == 3 and set(df["status"]) == {"ok"}


def test_progress_view_learns_the_total_later(capsys, tmp_path):
    """``reproduce`` makes the view before it knows how many runs there are; the log lines then
    count against the real total."""
    from rich.console import Console

    from pgbench.sweep import expand, run_sweep

    buf = io.StringIO()
    view = ProgressView(0, Console(file=buf, force_terminal=False, width=200))
    tasks, _ = expand("sin", ["gd", "dp"], iterations=2, problem_overrides={"batch_size": 8, "test_size": 8})
    view.set_total(len(tasks))
    run_sweep(tasks, root=tmp_path, progress=view)
    assert "[2/2]" in buf.getvalue() and "/?]" not in buf.getvalue()


def test_reproduce_method_and_no_report_pass_through(capsys, tmp_path, monkeypatch):
    import pgbench.reproduce

    calls = {}
    monkeypatch.setattr(pgbench.reproduce, "reproduce", lambda **kw: calls.setdefault("reproduce", kw))
    code, _, _ = invoke(capsys, "reproduce", "--scale", "paper", "--budget", "early", "--only", "heat-training",
                        "--seeds", "1", "--method", "PG (inverse)", "--no-report", "-q")
    kw = calls["reproduce"]
    assert code == 0 and kw["methods"] == ["PG (inverse)"] and kw["report"] is False and kw["seeds"] == (1,)


def test_parse_targets():
    from pgbench.analysis.targets import TargetPolicy, from_option

    def parse_targets(items):
        p = from_option(items)
        return p.value if p.name == "given" else None
    assert parse_targets([]) is None and parse_targets(["1e-3"]) == 1e-3
    assert parse_targets(["sin-v0=0.1", "exp=2"]) == {"sin-v0": 0.1, "exp": 2.0}
    assert from_option(["median-reference"]) == TargetPolicy("median-reference")
    assert from_option([], "worst-reference") == TargetPolicy("worst-reference")
    for bad, message in ((["x"], "a number > 0"), (["sin=-1"], "finite number > 0"), (["inf"], "finite"),
                         (["1e400"], "finite"), (["sin=nan"], "finite"), (["sin=1", "2"], "not both")):
        with pytest.raises(ValueError, match=message):
            parse_targets(bad)


def test_results_keeps_stored_statuses_and_reclassifies_only_when_asked(capsys, tmp_path):
    """A store written before the divergence rule was recorded holds a blown-up run as ``ok``:
    ``results`` shows the stored status with a note naming the rule; ``--reclassify`` applies it."""
    import io

    import numpy as np
    import pandas as pd

    from pgbench import store
    from pgbench.record import RunMeta, RunRecord, run_key

    for seed, errors in ((0, [1.0, 0.5, 0.2]), (1, [1.0, 30.0, 9.85e5])):
        meta = RunMeta(problem="sin-v0", scale="quick", problem_settings={}, solver="gd-v0", hyperparameters={},
                       backend="torch", device="cpu", device_name="cpu", numerics={}, seed=seed, iterations=2,
                       max_time=None, kind="iterative", label="GD", store_format="0.2")
        rows = pd.DataFrame({"iteration": [0, 1, 2], "wall_time": [0.0, 0.1, 0.2], "loss": errors, "x_error": errors,
                             "nonfinite": 0.0})
        rec = RunRecord(meta, rows, "ok", run_key=run_key(meta))
        path = tmp_path / "sin-v0" / f"{rec.run_key}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        store.write_frame(rec.to_frame(), path)
    code, out, err = invoke(capsys, "results", "--results", tmp_path, "--per-run", "--format", "csv")
    table = pd.read_csv(io.StringIO(out))
    assert code in (0, None) and sorted(table["status"]) == ["ok", "ok"]
    assert "note: 2 of 2 runs were classified by another divergence rule" in err and "unrecorded" in err
    code, out, err = invoke(capsys, "results", "--results", tmp_path, "--per-run", "--format", "csv", "--reclassify")
    table = pd.read_csv(io.StringIO(out)).sort_values("seed")
    assert list(table["status"]) == ["ok", "diverged"] and "note:" not in err
    assert np.isnan(table["x_error"].iloc[1]) or table["x_error"].iloc[1] > 1e5


def test_run_says_which_id_a_bare_name_resolved_to(capsys, tmp_path, monkeypatch):
    """A plugin registering ``gd-v1`` makes ``gd`` mean ``gd-v1``: ``run`` says so in one line
    (and nothing about the built-in ``sin-v0``)."""
    from pgbench.registry import plugin_module_name

    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    plugin = tmp_path / "newer_gd.py"
    plugin.write_text("import pgbench\npgbench.register_solver('gd-v1', 'pgbench.solvers.iterative:GradientDescent')\n")
    monkeypatch.delitem(sys.modules, plugin_module_name(plugin), raising=False)
    code, out, err = invoke(capsys, "run", "sin", "gd", "--plugin", plugin, *TINY, "--results", tmp_path / "runs", "-q")
    assert code == 0, err
    assert f"note: solver gd → gd-v1 (plugin {plugin})" in err.splitlines()
    assert "problem sin" not in err
    assert set(pgbench.load_results(tmp_path / "runs")["solver"]) == {"gd-v1"}


def test_one_label_for_several_solvers_is_refused_before_work(capsys, tmp_path):
    """``run sin gd adam --label same`` would store two solvers under one label: refused in one
    line before anything runs."""
    code, out, err = invoke(capsys, "run", "sin", "gd", "adam", "--label", "same", *TINY, "--results", tmp_path / "r")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "label 'same' would name 2 different solvers (gd-v0, adam-v0)" in err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.parquet"))
    # one solver (seeds, backends) under one label is fine
    code, _, err = invoke(capsys, "run", "sin", "gd", "gd-v0", "--label", "same", *TINY, "--results", tmp_path / "r", "-q")
    assert code == 0, err


def test_a_label_not_applied_to_a_reused_stored_run_is_said(capsys, tmp_path):
    """The label is no part of the run key: re-running a stored run under another label reuses
    it as stored (tables keep its label), and ``run`` says the new label was not applied."""
    results = tmp_path / "runs"
    code, _, err = invoke(capsys, "run", "sin", "gd", "--label", "first", *TINY, "--results", results, "-q")
    assert code == 0, err
    code, out, err = invoke(capsys, "run", "sin", "gd", "--label", "other", *TINY, "--results", results, "-q")
    assert code == 0, err
    line = ("label 'other' not applied to 1 stored run of sin-v0 gd-v0: reused as stored, labelled 'first' "
            "(--force re-runs it under 'other')")
    assert line in " ".join(err.split())
    assert "first" in out and "other" not in out
    assert set(pgbench.load_results(results)["label"]) == {"first"}
    code, out, err = invoke(capsys, "run", "sin", "gd", "--label", "other", *TINY, "--results", results, "-q",
                            "--force")
    assert code == 0 and "not applied" not in err and set(pgbench.load_results(results)["label"]) == {"other"}


@pytest.mark.parametrize("args, message", [
    (["reproduce", "--only", ""], "--only must name something, got ''"),
    (["reproduce", "--only", "sin", "--only", " "], "--only must name something"),
    (["reproduce", "--seeds", ""], "--seeds names no seed"),
    (["reproduce", "--method", ""], "--method must name something"),
    (["run", "sin", "gd", *TINY, "--seeds", ""], "--seeds names no seed"),
    (["run", "sin", "gd", *TINY, "--seeds", ","], "--seeds names no seed"),
    (["leaderboard", "--target", "inf"], "--target must be a finite number > 0, got 'inf'"),
    (["results", "--target", "1e400"], "--target must be a finite number > 0, got '1e400'"),
    (["report", "--target", "sin=inf"], "--target must be a finite number > 0"),
])
def test_empty_and_infinite_values_are_refused(capsys, tmp_path, monkeypatch, args, message):
    """An option given with nothing in it never means "everything" (or seed 0), and a target is
    finite: one line, exit 2, nothing run."""
    import pgbench.reproduce

    monkeypatch.setattr(pgbench.reproduce, "reproduce", lambda **kw: pytest.fail(f"reproduce ran: {kw}"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "runs").mkdir(parents=True)  # the default store the read commands look at
    code, _, err = invoke(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not list((tmp_path / "results").rglob("*.parquet"))


def test_run_with_a_budget_on_the_cpu_clock(capsys, tmp_path):
    """``--budget-clock cpu`` stores a run whose budget counts CPU seconds (its key says so); an
    unknown clock is refused before any run."""
    from pgbench import load_results

    code, _, err = invoke(capsys, "run", "sin", "gd", "-n", "3", "--max-time", "30", "--budget-clock", "cpu",
                          "--results", tmp_path, "-q")  # fmt: skip
    assert code == 0, err
    df = load_results(tmp_path)
    assert set(df["max_time_clock"]) == {"cpu"} and set(df["max_time"]) == {30.0}
    code, _, err = invoke(capsys, "run", "sin", "gd", "-n", "3", "--max-time", "30", "--budget-clock", "cpuu",
                          "--results", tmp_path / "other", "-q")  # fmt: skip
    assert code != 0 and "unknown clock 'cpuu'" in err and not (tmp_path / "other").exists()
