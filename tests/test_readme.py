"""The README's plugin example is complete and works, from Python and from the CLI."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import pgbench
from pgbench.testing import check_problem

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return next(b for b in blocks if b.startswith("# my_blur.py"))


def test_readme_starts_with_the_two_commands():
    text = README.read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)[:2]
    assert "pgbench reproduce --scale quick" in commands[0]
    assert "pytest" in commands[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci, ".ci/run must run the README's test command"


def test_plugin_example_from_python(tmp_path):
    path = tmp_path / "my_blur.py"
    path.write_text(_example())
    pgbench.load_plugin(str(path))
    try:
        problem = pgbench.make_problem("deblur", scale="quick")
        check_problem(problem, backend="torch")
        r = pgbench.run(problem, "inverse", iterations=3, backend="torch", throw=True)
        # one Wiener step from zero recovers the smooth signal far better than the zero guess
        assert r.records["x_error"].iloc[1] < 0.2 * r.records["x_error"].iloc[0]
        assert np.isfinite(pgbench.run(problem, "pg", iterations=2, backend="jax").records["loss"]).all()
    finally:
        pgbench.PROBLEMS.specs.pop("deblur-v0", None)


def test_plugin_example_from_the_cli(tmp_path):
    path = tmp_path / "my_blur.py"
    path.write_text(_example())
    out = subprocess.run([sys.executable, "-m", "pgbench.cli", "run", "--plugin", str(path), "deblur", "gd", "dp",
                          "--iterations", "2", "--results", str(tmp_path / "r"), "-q"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    df = pgbench.load_results(tmp_path / "r")
    assert set(df["solver"]) == {"gd-v0", "dp-v0"} and set(df["status"]) == {"ok"}


def test_readme_headline_is_what_the_committed_stores_say():
    """The README's "What is reproduced so far" block is generated from the committed stores'
    report/data/headline.csv (`python scripts/headline.py`); it fails when the two differ."""
    from pgbench.report.headline_summary import current_section, readme_section
    root = README.parent
    assert current_section(README.read_text()) == readme_section(root), (
        "README's headline block is stale: run `python scripts/headline.py`")


def test_committed_summaries_and_headlines_follow_the_current_claims():
    """Each committed store's summary.md is its headline.csv in short, and the headline.csv has
    one row per declared claim with the current reading and tolerance (a changed declaration makes
    the committed table stale: `python scripts/headline.py --rebuild STORE`)."""
    from pgbench.analysis.headline import CLAIMS
    from pgbench.report.headline_summary import STORES, read_headline, summary_file
    for store in STORES:
        head = read_headline(README.parent / store)
        assert (README.parent / store / "report" / "summary.md").read_text() == summary_file(head), store
        assert list(head["claim"]) == [c.key for c in CLAIMS], store
        assert list(head["reading"]) == [c.rule.reading for c in CLAIMS], store
        assert list(head["tolerance"]) == [c.rule.tolerance() for c in CLAIMS], store
        assert {"claim", "reading", "tolerance", "measured", "k/n", "verdict"} <= set(head.columns)


def test_readme_prose_keeps_no_hand_typed_headline_numbers():
    """The numbers the generated block replaced are not typed into the README's prose again."""
    from pgbench.report.headline_summary import BEGIN
    text = README.read_text()
    section = text[text.index("## What is reproduced so far"):text.index(BEGIN)]
    for stale in ("844 s", "57 runs", "3.9×", "about 1.25×", "0.6–0.8×"):
        assert stale not in section
