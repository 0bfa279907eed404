"""The headline in short (report/summary.md) and the README block generated from stores."""

import pandas as pd
import pytest

from pgbench.report.headline_summary import (BEGIN, END, counts, current_section, readme_section, replace_section,
                                             summary_markdown)


def _head():
    return pd.DataFrame({
        "claim": ["a", "b"], "paper": ["3×", "10×"], "measured": ["1.5× (3/3 seeds)", "needs a GPU"],
        "k/n": ["3/3", ""], "verdict": ["reproduced qualitatively", "not measured at this scale"],
        "at this budget": ["1.5× (3/3 seeds)", "1.8× (3/3 seeds)"], "where": ["iteration 60", "iteration 100"],
    })


def test_summary_shows_k_of_n_and_what_is_measured_so_far():
    md = summary_markdown(_head())
    assert md.splitlines()[0] == "| claim | paper | measured | k/n | verdict |"
    assert "| a | 3× | 1.5× (3/3 seeds) | 3/3 | reproduced qualitatively |" in md
    assert "needs a GPU; so far 1.8× (3/3 seeds), iteration 100" in md
    assert counts(_head()) == "1 reproduced qualitatively, 1 not measured at this scale"


def test_readme_section_is_built_from_store_files_and_replaced_between_markers(tmp_path):
    store = tmp_path / "results" / "s"
    (store / "report" / "data").mkdir(parents=True)
    _head().to_csv(store / "report" / "data" / "headline.csv", index=False)
    section = readme_section(tmp_path, {"results/s": "a store"})
    assert section.startswith(BEGIN) and section.endswith(END) and "| a | 3× |" in section
    text = f"intro\n{BEGIN}\nold 3.9×\n{END}\noutro\n"
    new = replace_section(text, section)
    assert new.startswith("intro\n") and new.endswith("\noutro\n") and "3.9×" not in new
    assert current_section(new) == section
    with pytest.raises(ValueError):
        replace_section("no markers", section)
