"""``pgbench tune`` (pgbench.cli_tune) on the synthetic methods of tests/tune_plugin.py."""

import json

import pytest
import tune_plugin

from pgbench import cli


@pytest.fixture(scope="module", autouse=True)
def _synthetic_methods():
    with tune_plugin.registered():
        yield


def invoke(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_tune_ranks_both_rulesets_and_records_the_protocol(capsys, tmp_path):
    code, out, err = invoke(
        capsys,
        "tune",
        "diag-quadratic",
        "gd",
        "heavy-ball",
        "--trials",
        "6",
        "--validation-seeds",
        "1",
        "2",
        "--test-seeds",
        "3",
        "4",
        "5",
        "--results",
        tmp_path,
        "-q",
    )
    assert code in (0, None), err
    assert "6 trials × 2 validation seeds = 24 trial runs, then 12 test runs" in err
    assert "eta ~ log-uniform[0.0001, 0.1]" in err  # the declared space is stated before the work
    lines = [line.split() for line in out.splitlines()]
    external = [w for w in lines if w[:2] == ["external", "tuning"]]
    default = [w for w in lines if w[:1] == ["self-tuning"]]
    assert [w[3] for w in external] == ["heavy-ball", "gd"] and external[0][2] == "1"
    assert [w[3] for w in default] == ["gd", "heavy-ball"]
    (record,) = (tmp_path / "diag-quadratic-v0").glob("tuning-*.json")
    data = json.loads(record.read_text())
    assert data["protocol"]["test_seeds"] == [3, 4, 5] and len(data["methods"][0]["trials"]) == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["gd", "--test-seeds", "1000"], "disjoint"),
        (["heavy-bal"], "did you mean 'heavy-ball'"),
        (["gd", "--trials", "0"], "trials must be >= 1"),
        (["gd:eta"], "KEY=VALUE"),
        (["gd", "--test-seeds", "x"], "--test-seeds"),
    ],
)
def test_bad_input_is_one_line_before_any_work(capsys, tmp_path, args, message):
    code, _, err = invoke(capsys, "tune", "diag-quadratic", *args, "--results", tmp_path)
    assert code == 2 and message in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.parquet"))


def test_vectorize_trains_trials_as_lanes_and_notes_what_it_cannot(capsys, tmp_path):
    """``--vectorize``: dp's trials (lr lanes) share programs and are stored with ``vectorized_with``;
    gd (an iterative solver) cannot, and a note says so (its runs go one by one)."""
    from pgbench import store

    args = ["tune", "exp", "dp:optimizer=sgd", "--trials", "3", "--validation-seeds", "1", "2"]
    args += ["--test-seeds", "3", "4", "-n", "5", "--results", tmp_path, "--vectorize", "-q"]
    code, out, err = invoke(capsys, *args)
    assert code in (0, None), out + err
    df = store.load_results(tmp_path)
    assert df["run_key"].nunique() == 3 * 2 + 2 * 2
    lanes = df.groupby("run_key")["vectorized_with"].first().map(lambda v: len(json.loads(v)["seeds"]))
    assert lanes.max() == 3 * 2  # the three trials x two validation seeds: one program
    code, out, err = invoke(capsys, "tune", "diag-quadratic", "gd", "--trials", "2", "--validation-seeds", "1", "2",
                            "--test-seeds", "3", "-n", "5", "--results", tmp_path / "gd", "--vectorize", "-q")
    assert code in (0, None), out + err
    assert "not vectorised" in out + err
