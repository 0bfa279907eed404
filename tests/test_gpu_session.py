"""benchmarks/gpu_session.sh fits a GPU lease: its plan stays inside the budget in order of value,
and a dry run (every command echoed, nothing measured) packs its outputs into at most 6 files."""

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_session.sh"
PARTS = ["machine", "ratio", "tests", "paper", "profile"]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _plan(*args, env=None):
    out = subprocess.run(["bash", str(SCRIPT), "--plan", *args], capture_output=True, text=True, env=env, check=True)
    rows = {m.group(1): m.group(3) for m in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+|skip)\s", out.stdout, re.M)}
    total = int(re.search(r"total planned: \d+ s of commands \+ \d+ s packing = (\d+) s", out.stdout).group(1))
    return rows, total, out.stdout


@pytest.mark.parametrize("budget", [480, 300, 200, 60])
def test_plan_lists_every_part_in_order_within_the_budget(budget):
    rows, total, text = _plan("--budget", str(budget))
    assert list(rows) == PARTS                              # ratio table first, then tests, then paper runs
    assert total <= budget
    planned = [int(v) for v in rows.values() if v != "skip"]
    assert sum(planned) + 10 == total
    if budget == 480:
        assert rows["ratio"] != "skip" and rows["tests"] != "skip" and rows["paper"] != "skip"


def test_default_budget_is_480_seconds():
    _, total, text = _plan()
    assert "budget 480 s" in text and total <= 480


def test_bad_budget_is_one_line_exit_2():
    p = subprocess.run(["bash", str(SCRIPT), "--budget", "soon"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "whole seconds" in p.stderr


def test_dry_run_packs_at_most_six_files(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "OUT": str(out), "TMPDIR": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    files = sorted(f.name for f in out.iterdir())
    assert files == ["gpu-session.tar.gz", "peers.md", "summary.txt"]
    summary = (out / "summary.txt").read_text()
    for part in PARTS:
        assert re.search(rf"^{part}\s+cap", summary, re.M), part
    with tarfile.open(out / "gpu-session.tar.gz") as tar:
        names = {Path(n).name for n in tar.getnames()}
    assert {"machine.txt", "ratio.log", "test_devices.log", "paper.log", "summary.txt"} <= names
    assert not any(tmp_path.glob("gpu-session.*")), "the work folder is removed"
