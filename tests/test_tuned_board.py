"""The board of tuning campaigns (pgbench.analysis.tuned_board, ``pgbench leaderboard --tuned``)
on two real campaigns of synthetic methods (tests/tune_plugin.py): diag-quadratic with gd and
heavy ball, quadratic2d with gd, heavy ball and the inverse solver, which diag-quadratic cannot run."""

import json
import math
import os
import shutil

import pytest
import tune_plugin

from pgbench import cli
from pgbench.analysis import tuned_board
from pgbench.planning import IncompatibleError, plan
from pgbench.tune import Method, Protocol, tune

RULES = dict(trials=3, validation_seeds=(1000,), test_seeds=(2000, 2001, 2002))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuned")
    with tune_plugin.registered():
        rules = {**RULES, "trials": 8}  # enough for heavy ball's tuned step to win (tests/test_tune.py)
        tune(Protocol("diag-quadratic", **rules), [Method.parse("gd"), Method.parse("heavy-ball")], root)
        methods = [Method.parse(m) for m in ("gd", "heavy-ball", "inverse")]
        tune(Protocol("quadratic2d", iterations=20, **RULES), methods, root)
        yield root


def _row(board, problem, method):
    t = board.table
    (row,) = t[(t["problem"] == problem) & (t["method"] == method)].itertuples()
    return row


def test_a_method_that_cannot_run_on_a_problem_says_why(store):
    board = tuned_board.build([store])
    row = _row(board, "diag-quadratic-v0", "inverse")
    with pytest.raises(IncompatibleError) as why:
        plan("diag-quadratic", "inverse")
    assert row.state == "cannot run" and row.reason == str(why.value).splitlines()[0]
    assert math.isnan(row.external_error)
    assert len(board.table) == 3 + 3  # every method on every problem: none left blank
    assert set(board.table["state"]) == {"tuned", "cannot run"}


def test_per_problem_both_rulesets_and_what_tuning_moved(store):
    """The board's ranks are the campaign's own (tied ranks on the same intervals); tuning moves
    heavy ball up on diag-quadratic (untuned its tiny default step loses, tuned it wins)."""
    board = tuned_board.build([store])
    (path,) = store.glob("diag-quadratic-v0/tuning-*.json")
    own = {(r["method"], r["ruleset"]): r for r in json.loads(path.read_text())["table"]}
    for method in ("gd", "heavy-ball"):
        row = _row(board, "diag-quadratic-v0", method)
        for ruleset in ("external", "self"):
            assert getattr(row, f"{ruleset}_rank") == own[(method, ruleset)]["rank"]
            assert getattr(row, f"{ruleset}_error") == pytest.approx(own[(method, ruleset)]["test_error"])
            assert getattr(row, f"{ruleset}_ok") == own[(method, ruleset)]["ok"]
        assert row.rank_change == row.self_rank - row.external_rank
    hb = _row(board, "diag-quadratic-v0", "heavy-ball")
    assert hb.external_rank == 1 and hb.self_rank == 2 and hb.rank_change == 1


def test_overall_scores_under_both_rulesets(store):
    board = tuned_board.build([store])
    s = board.scores
    assert set(s["ruleset"]) == {"external", "self"} and set(s["method"]) == {"gd", "heavy-ball", "inverse"}
    for r in s.itertuples():
        assert 0.0 <= r.score_lo <= r.score <= r.score_hi <= 1.0
    inverse = s[s["method"] == "inverse"]
    assert (inverse["problems"] == 1).all()  # ran on quadratic2d only: no credit on diag-quadratic
    ext = s[s["ruleset"] == "external"].set_index("method")
    slf = s[s["ruleset"] == "self"].set_index("method")
    for m in ext.index:
        assert ext.loc[m, "rank_change"] == slf.loc[m, "rank_tied"] - ext.loc[m, "rank_tied"]


def test_older_protocol_files_read_their_errors_from_the_store(store, tmp_path):
    """A protocol written before it held per-seed errors gets them from its stored runs: the same board."""
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    for f in copy.glob("*/tuning-*.json"):
        data = json.loads(f.read_text())
        for m in data["methods"]:
            del m["tuned_errors"], m["default_errors"]
        f.write_text(json.dumps(data))
    a, b = tuned_board.build([store]), tuned_board.build([copy])
    cols = ["external_error", "external_lo", "external_hi", "self_error", "self_rank", "external_rank"]
    assert a.table[cols].equals(b.table[cols])


def test_protocols_under_other_rules_are_left_out_with_a_note(store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    (path,) = copy.glob("diag-quadratic-v0/tuning-*.json")
    old = json.loads(path.read_text())
    assert "written" in old  # when it was written, in UTC: the board's "newest"
    old["protocol"]["trials"] = 99
    old["methods"][0]["label"] = "gd (old campaign)"
    old["written"] = "1970-01-01T00:00:00+00:00"  # older than the campaign's own file
    older = path.with_name("tuning-000000000000.json")
    older.write_text(json.dumps(old))
    board = tuned_board.build([copy])
    assert "gd (old campaign)" not in set(board.table["method"])
    assert any("tuning-000000000000.json left out (other rules" in n for n in board.notes)
    old["written"] = "2096-01-01T00:00:00+00:00"  # now the newest: its rules win and the campaign is left out
    older.write_text(json.dumps(old))
    board = tuned_board.build([copy])
    assert "gd (old campaign)" in set(board.table["method"])
    assert any(f"{path.name} left out (other rules" in n for n in board.notes)


def test_a_file_without_its_writing_time_is_dated_by_its_runs_not_by_the_checkout(store, tmp_path):
    """Files of pgbench before 0.4 have no ``written``: their newest run's ``created`` stamp dates
    them, whatever modification time a copy or checkout gave the file."""
    from pgbench.store import read

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    (path,) = copy.glob("diag-quadratic-v0/tuning-*.json")
    data = json.loads(path.read_text())
    del data["written"]
    path.write_text(json.dumps(data))
    keys = [k for m in data["methods"] for k in m["tuned_runs"] + m["default_runs"]]
    newest = max(str(c) for k in keys for c in read(path.parent / f"{k}.parquet", columns=["created"])["created"])
    for stamp in (1, 4e9):  # 1970 and 2096: the file's date does not move
        os.utime(path, (stamp, stamp))
        assert tuned_board._written(data, path) == newest


def test_the_cli_shows_the_tuned_board(store, capsys):
    with tune_plugin.registered():
        with pytest.raises(SystemExit) as exc:
            cli.main(["leaderboard", "--tuned", "--results", str(store), "--format", "md"])
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    assert "external: x error" in out and "cannot run: " in out and "tuning moved" in out and "↑1" in out


def test_no_protocols_is_said(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["leaderboard", "--tuned", "--results", str(tmp_path)])
    assert exc.value.code == 1 and "no tuning protocols" in capsys.readouterr().err
