"""The peer comparison (benchmarks/peers): ratio table arithmetic, output parsing, and the driver's
pgbench side end to end with ``--skip-peer`` (no PhiFlow needed)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"peers_{name}", PEERS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    sys.path.insert(0, str(PEERS))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(PEERS))
    return mod


table = _load("table")
compare = _load("compare")


def _m(side, exp, method, seconds, backend=None):
    return {
        "side": side,
        "experiment": exp,
        "method": method,
        "backend": backend,
        "seconds": seconds,
        "median": table.median_after_first(seconds),
    }


def test_median_drops_the_first_iteration():
    assert table.median_after_first([100.0, 1.0, 3.0, 2.0]) == 2.0
    assert table.median_after_first([5.0]) == 5.0
    assert math.isnan(table.median_after_first([]))


def test_ratio_rows_divide_peer_and_authors_time_by_pgbench_time():
    ms = [
        _m("peer", "poisson", "dp", [9, 6, 6, 6]),
        _m("authors", "poisson", "dp", [9, 5, 5]),
        _m("pgbench", "poisson", "dp", [3, 0.2, 0.3, 0.25], "torch"),
        _m("pgbench", "poisson", "dp", [3, 0.5, 0.5], "jax"),
        _m("pgbench", "heat", "pg", [1, 0.1, 0.1], "torch"),
    ]
    rows = {(r["experiment"], r["solver"], r["backend"]): r for r in table.ratio_rows(ms)}
    assert set(rows) == {("poisson", "dp", "torch"), ("poisson", "dp", "jax"), ("heat", "pg", "torch")}
    r = rows[("poisson", "dp", "torch")]
    assert r["pgbench_s"] == 0.25 and r["peer_s"] == 6 and r["speedup_vs_peer"] == pytest.approx(24.0)
    assert r["speedup_vs_authors"] == pytest.approx(20.0) and r["target"] == 100 and r["method"] == "Adam"
    assert rows[("poisson", "dp", "jax")]["speedup_vs_peer"] == pytest.approx(12.0)
    heat = rows[("heat", "pg", "torch")]  # no peer measured: NaN, shown as a dash
    assert math.isnan(heat["speedup_vs_peer"]) and heat["target"] == 30
    md = table.markdown(list(rows.values()), "header")
    assert md.startswith("header") and "| poisson | Adam | torch | 0.25 | 6 | 24× | 5 | 20× | ≥100× |" in md
    assert "| heat | Adam + PG | torch | 0.1 | – | – | – | – | ≥30× |" in md


def test_before_side_and_cpu_times_get_their_own_columns():
    """A ``pgbench-before`` side (an earlier tree, same run) and CPU-time medians: speed-ups of both
    against the same peer measurement, in wall and in CPU time."""
    cpu = lambda m, s: {**m, "cpu_seconds": s, "cpu_median": table.median_after_first(s)}  # noqa: E731
    ms = [
        cpu(_m("peer", "heat", "dp", [9, 6, 6]), [9, 4, 4]),
        cpu(_m("pgbench", "heat", "dp", [3, 2, 2], "torch"), [3, 1, 1]),
        cpu(_m("pgbench-before", "heat", "dp", [3, 4, 4], "torch"), [3, 5, 5]),
    ]
    (r,) = table.ratio_rows(ms, ("torch",))
    assert r["speedup_vs_peer"] == pytest.approx(3.0) and r["before_speedup_vs_peer"] == pytest.approx(1.5)
    assert r["cpu_speedup_vs_peer"] == pytest.approx(4.0) and r["before_cpu_speedup_vs_peer"] == pytest.approx(0.8)
    md = table.markdown([r])
    assert "| before s/it | before speed-up vs peer | pgbench s/it |" in md
    assert "| heat | Adam | torch | 4 | 1.5× | 2 | 6 | 3× | 0.8× | 4× | ≥30× |" in md
    parsed = compare._parse_json(json.dumps({"seconds": [3, 2, 2], "cpu_seconds": [3, 1, 1]}))
    assert parsed["median"] == 2 and parsed["cpu_median"] == 1


def test_failed_measurements_do_not_enter_the_table():
    ms = [
        {"side": "peer", "experiment": "heat", "method": "dp", "median": None, "seconds": []},
        _m("pgbench", "heat", "dp", [1, 0.1, 0.1], "torch"),
    ]
    (row,) = table.ratio_rows(ms)
    assert math.isnan(row["peer_s"])


def test_runs_combine_with_later_measurements_replacing_earlier_ones(tmp_path):
    """``table.py A.json B.json``: pgbench re-timed in B replaces A's time, A's peer time stays,
    and B's failed measurement does not erase A's."""
    a = {
        "meta": {"date": "d1", "device": "cuda", "cpu": "x"},
        "measurements": [
            _m("peer", "heat", "dp", [9, 2, 2]),
            _m("pgbench", "heat", "dp", [5, 1, 1], "jax"),
            _m("pgbench", "heat", "dp", [5, 0.5, 0.5], "torch"),
        ],
    }
    b = {
        "meta": {"date": "d2", "device": "cuda", "cpu": "x"},
        "measurements": [
            _m("pgbench", "heat", "dp", [5, 0.1, 0.1], "jax"),
            {
                "side": "pgbench",
                "experiment": "heat",
                "method": "dp",
                "backend": "torch",
                "median": None,
                "seconds": [],
            },
        ],
    }
    paths = []
    for name, run in (("a", a), ("b", b)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(run))
    assert table.main([str(p) for p in paths] + ["--out", str(tmp_path / "combined")]) == 0
    rows = {r["backend"]: r for r in json.loads((tmp_path / "combined.json").read_text())["rows"]}
    assert rows["jax"]["pgbench_s"] == 0.1 and rows["jax"]["speedup_vs_peer"] == pytest.approx(20.0)
    assert rows["torch"]["pgbench_s"] == 0.5
    assert "`a.json` (d1" in (tmp_path / "combined.md").read_text()


def test_unknown_experiment_is_an_error():
    with pytest.raises(ValueError, match="unknown experiments"):
        table.cases(["wave"])


def test_authors_output_is_parsed():
    out = "noise\nauthors heat 'Adam' batch=8 steps=6: median 0.2500 s/iteration (all: 0.240, 0.250, 0.260)\n"
    assert compare._parse_authors(out) == {"median": 0.25, "seconds": [0.24, 0.25, 0.26]}
    with pytest.raises(ValueError):
        compare._parse_authors("Traceback")


def test_driver_times_pgbench_without_phiflow(tmp_path):
    out = tmp_path / "t"
    compare.main(
        [
            "--experiments",
            "heat",
            "--methods",
            "dp",
            "--backends",
            "torch",
            "--batch",
            "2",
            "--steps",
            "3",
            "--skip-peer",
            "--out",
            str(out),
        ]
    )
    data = json.loads((tmp_path / "t.json").read_text())
    (m,) = data["measurements"]
    assert m["side"] == "pgbench" and m["error"] == "" and len(m["seconds"]) == 3
    assert m["median"] == table.median_after_first(m["seconds"]) > 0
    (row,) = data["rows"]
    assert row["pgbench_s"] == m["median"] and math.isnan(row["peer_s"])
    assert data["meta"]["uptime_before"] and data["meta"]["batch"] == 2
    assert "| heat | Adam | torch |" in (tmp_path / "t.md").read_text()


def test_driver_requires_the_peer_python_unless_skipped(tmp_path):
    with pytest.raises(SystemExit):
        compare.main(["--experiments", "heat", "--out", str(tmp_path / "x")])


def test_the_authors_fluid_script_gets_the_method_by_its_one_assignment():
    spec = importlib.util.spec_from_file_location(
        "time_authors_code", PEERS.parent / "reference" / "time_authors_code.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    code = "x = 1\nmethod = 'PG'\nif method == 'GD':\n    pass\n"
    assert "method = 'GD'\n" in mod.select_fluid_method(code, "GD")
    assert mod.select_fluid_method(code, "PG") == code
    with pytest.raises(SystemExit, match="PG or GD"):
        mod.select_fluid_method(code, "Adam")
    with pytest.raises(SystemExit, match="expected one line"):
        mod.select_fluid_method(code.replace("method = 'PG'", "method = 'BFGS'"), "GD")
    assert [c.authors for c in table.CASES if c.experiment == "navier-stokes"] == ["GD", "PG"]


def test_exp_authors_driver_swaps_only_the_optimizer_line_and_maps_every_variant():
    """exp_authors.py: the one text patch of the authors' script (Adam) and the pgbench
    configuration of each of the script's variants, which must be what the recipe runs."""
    exp_authors = _load("exp_authors")
    code = "a = 1\n" + exp_authors.SGD_LINE + exp_authors.ADAM_LINE + "b = 2\n"
    assert exp_authors.select_optimizer(code, "Sign") == code
    adam = exp_authors.select_optimizer(code, "Adam")
    assert adam == "a = 1\n# " + exp_authors.SGD_LINE + exp_authors.ADAM_LINE[2:] + "b = 2\n"
    with pytest.raises(SystemExit):
        exp_authors.select_optimizer("a = 1\n", "Adam")
    from pgbench import reproduce

    todo, _ = reproduce.tasks("quick", backend="torch", only=["exp-inversion"])
    recipe = {t.label: t.plan().meta["hyperparameters"] for t in todo}
    assert {label for label, _, _ in exp_authors.PGBENCH.values()} == set(recipe)
    for label, solver, hp in exp_authors.PGBENCH.values():
        for k, v in hp.items():
            want = None if (k, v) == ("inner", "inverse") else v  # pg stores the default inner as None
            assert recipe[label].get(k) == want, (label, k)
