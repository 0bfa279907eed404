"""Terminal tables: the narrow default fits 120 columns with every number whole on one line;
--wide adds the other columns; --version and -h."""

import math
import re

import pandas as pd
import pytest
from rich.console import Console

from pgbench import cli
from pgbench.numbers import fmt
from pgbench.terminal import runs_table, summary_table

DEVICE = "Intel(R) Xeon(R) Processor (2 cores) with a long marketing name"


def _summary(n=6):
    rows = []
    for i in range(n):
        rows.append({"problem": ["navier-stokes-v0", "quantum-dipole-v0"][i % 2], "scale": "quick",
                     "label": ["Newton (small steps)", "PG (inv. grad.)", "DP (SGD+mom.)"][i % 3],
                     "solver": "x", "backend": "torch", "device_name": DEVICE, "config": f"{i:08x}",
                     "seeds": 3, "ok": 2, "diverged": 1, "failed": 0,
                     "x_error": 0.000935 * (i + 1), "x_error_lo": 0.000521 * (i + 1), "x_error_hi": 0.00131 * (i + 1),
                     "train_x_error": 1.5e-5, "loss": 3.35e3 + i, "iterations": 12000 + i, "target": 1e-4,
                     "reached": 1, "iterations_to_target": 812.0, "time_to_target": 61.2,
                     "time_per_iteration": 0.000679 + i * 1e-6})
    return pd.DataFrame(rows)


def _render(table, width=120):
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(table)
    return console.export_text()


def test_narrow_summary_fits_120_columns_without_splitting_numbers():
    s = _summary(12)   # each problem × solver twice: a config column too
    text = _render(summary_table(s, "results"))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "…" not in text
    heads = lines[2]
    for col in ("problem", "solver", "seeds", "x error", "y loss", "iters", "s / iter"):
        assert col in heads
    for col in ("device", "target", "reached", "ok/div/fail", "train x err"):
        assert col not in heads
    assert DEVICE in lines[0]                      # one device: named once, in the title
    for _, r in s.iterrows():                      # every number whole, on its row's line
        spread = f"{fmt(r['x_error'])} ({fmt(r['x_error_lo'], 2)}–{fmt(r['x_error_hi'], 2)})"
        row = next(line for line in lines if spread in line)
        for v in (fmt(r["loss"]), fmt(r["iterations"]), fmt(r["time_per_iteration"])):
            assert re.search(rf"(^|\s|\(){re.escape(v)}(\s|$| )", row), (v, row)
        assert "3 (1 div.)" in row and r["problem"] in row and r["label"] in row and r["config"][:6] in row


def test_wide_summary_has_every_column():
    text = _render(summary_table(_summary(2), "results", wide=True), width=400)
    for col in ("backend", "device", "ok/div/fail", "train x err", "target", "reached", "iters to target",
                "s to target"):
        assert col in text


def test_runs_table_narrow_and_wide():
    runs = pd.DataFrame([{"problem": "sin-v0", "label": "PG (Newton)", "seed": 0, "status": "diverged",
                          "x_error": 8.69e5, "loss": 0.5, "iterations": 1000, "run_key": "a5771f4f1497aaf0",
                          "message": "x error blew up at iteration 301", "backend": "torch", "device_name": DEVICE,
                          "nonfinite": 0.0, "wall_time": 2.08, "iterations_to_target": math.nan,
                          "time_to_target": math.nan}])
    narrow = _render(runs_table(runs))
    assert "a5771f4f1497aaf0" in narrow and fmt(8.69e5) in narrow and "blew up" in narrow
    assert "wall s" not in narrow and max(len(line) for line in narrow.splitlines()) <= 120
    assert "wall s" in _render(runs_table(runs, wide=True), width=300)


def test_fmt_numbers_and_text():
    assert fmt(float("inf")) == "inf" and fmt(-math.inf) == "-inf" and fmt(math.nan) == "-"
    assert fmt(1000.0) == "1000" and fmt(12000) == "12000" and fmt(None) == "-" and fmt("ok") == "ok"
    assert fmt(0.000679) == "6.79e-04" and fmt(12345.6) == "1.23e+04" and fmt(0.0123) == "0.0123"
    assert fmt(2.5e6) == "2.50e+06" and fmt(0.123456, 2) == "0.12"


def test_version_and_short_help(capsys):
    import pgbench
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"pgbench {pgbench.__version__}"
    for args in (["-h"], ["results", "-h"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        assert exc.value.code == 0 and "Usage" in capsys.readouterr().out


def test_run_and_sweep_take_wide(tmp_path):
    """``pgbench run`` (and sweep) print the narrow summary by default and every column with --wide."""
    import subprocess
    import sys
    base = [sys.executable, "-m", "pgbench.cli", "run", "sin", "gd", "--iterations", "3", "--results",
            str(tmp_path), "-q"]
    env = {**__import__("os").environ, "COLUMNS": "220"}
    narrow = subprocess.run(base, capture_output=True, text=True, env=env, check=True).stdout
    wide = subprocess.run(base + ["--wide"], capture_output=True, text=True, env=env, check=True).stdout
    assert "iters to target" in wide and "iters to target" not in narrow


def test_labels_are_shown_as_written():
    """Rich markup in a label is shown, not interpreted; control characters (a label stored by
    another program) are shown as escapes and never reach the terminal."""
    s = _summary(2)
    s["label"] = ["[red]DP[/red] [bold]", "a\x1b[31mb"]
    text = _render(summary_table(s, "results [x]"))
    assert "[red]DP[/red] [bold]" in text and "a\\x1b[31mb" in text and "\x1b" not in text


def test_a_narrow_terminal_keeps_a_usable_width(monkeypatch):
    """``COLUMNS=10`` on a terminal: tables are drawn MIN_WIDTH wide (lines wrap) instead of
    squeezing every cell to an ellipsis."""
    from pgbench import terminal

    monkeypatch.setenv("COLUMNS", "10")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    con = terminal.console()
    assert con.is_terminal and con.width == terminal.MIN_WIDTH
    assert terminal.console(stderr=True).width == terminal.MIN_WIDTH
    with con.capture() as cap:
        con.print(summary_table(_summary(2), "results"))
    text = re.sub(r"\x1b\[[0-9;]*m", "", cap.get())
    assert "…" not in text and fmt(0.000935) in text and "navier" in text


def _pgbench(encoding, *args):
    """``pgbench ARGS`` in a subprocess whose standard streams use ``encoding``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "pgbench", *args], capture_output=True, env=env, timeout=300)
    return proc.returncode, proc.stdout.decode(encoding), proc.stderr.decode(encoding)


def test_a_terminal_that_cannot_encode_the_glyphs_gets_stand_ins(tmp_path):
    """``PYTHONIOENCODING=ascii`` / latin-1: what the encoding lacks is written as ASCII stand-ins
    (× as x, – as -, τ as t, one character each), no UnicodeEncodeError after the run was stored."""
    code, out, err = _pgbench("ascii", "run", "sin", "gd", "-n", "2", "--problem-set", "batch_size=4",
                              "--problem-set", "test_size=4", "--results", str(tmp_path), "--label", "GD × 2 – τ")
    assert code == 0 and "Traceback" not in err, err
    assert "x error (min-max)" in out and "GD x 2 - t" in out
    code, out, err = _pgbench("latin-1", "list", "problems")
    assert code == 0 and "Traceback" not in err, err
    assert "§3.3 / B.4: periodic heat, t = 8 on 64×64" in out  # latin-1 has § and ×, not τ


def test_a_long_dry_run_is_listed_as_plain_lines(capsys):
    """Above MAX_TABLE_ROWS runs the dry run is plain aligned lines, one per run (a rich table of
    10,000 rows took longer to draw than the runs took to plan); text is shown as written."""
    from pgbench import terminal
    from pgbench.tasks import Task

    n = terminal.MAX_TABLE_ROWS + 1
    tasks = [Task("sin-v0", "gd-v0", seed=i, label="[red]gd" if i == 0 else None) for i in range(n)]
    terminal.print_dry_run(tasks, ["ok"] + [None] * (n - 1), "store")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{n} runs (store store)" and lines[1].split() == ["#", "problem", "solver", "seed", "backend",
                                                                        "device", "budget", "stored"]
    assert lines[2].split() == ["0", "sin-v0", "[red]gd", "0", "torch", "cpu", "quick", "done"]
    assert lines[-2].split() == [str(n - 1), "sin-v0", "gd-v0", str(n - 1), "torch", "cpu", "quick", "to", "run"]
    assert len(lines) == n + 3 and len({len(x) for x in lines[1:-1] if not x.endswith("done")}) == 1
