"""Regenerate the headline of committed stores and the README section built from them.

    python scripts/headline.py                       # README section from the committed headline.csv files
    python scripts/headline.py --rebuild results/paper-cpu   # first recompute that store's headline

``--rebuild STORE`` recomputes ``STORE/report/data/headline.csv`` and ``tables/headline.md`` from
``STORE/runs`` with the current verdict rule (analysis only: no experiment is run; ``pgbench report
--results STORE/runs --out STORE/report`` rebuilds the whole report). Then each committed store's
``report/summary.md`` and the README's block between ``<!-- headline:begin -->`` and
``<!-- headline:end -->`` are rewritten from the committed stores' headline.csv
(``pgbench.report.headline_summary.STORES``); ``tests/test_readme.py`` fails when they differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pgbench.analysis.data import collect, latest_configs
from pgbench.analysis.headline import headline_table
from pgbench.report.examples import load_examples
from pgbench.report.headline_summary import (
    SENTENCE,
    STORES,
    read_headline,
    readme_section,
    replace_section,
    summary_file,
)
from pgbench.report.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def rebuild(store: Path) -> None:
    df = latest_configs(collect([store / "runs"]))
    shown = set(df["run_key"]) if not df.empty else set()
    examples = [e for e in load_examples(store / "runs") if e["meta"].get("run_key") in shown]
    head = headline_table(df, examples=examples)
    out = store / "report"
    head.to_csv(out / "data" / "headline.csv", index=False)
    (out / "tables" / "headline.md").write_text(f"# headline\n\n{SENTENCE}\n\n{markdown_table(head, '.3g')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rebuild", type=Path, action="append", default=[], help="a store to recompute first")
    args = ap.parse_args()
    for store in args.rebuild:
        rebuild(store)
        print(f"rebuilt {store}/report/data/headline.csv and tables/headline.md")
    for store in STORES:
        (ROOT / store / "report" / "summary.md").write_text(summary_file(read_headline(ROOT / store)))
    readme = ROOT / "README.md"
    readme.write_text(replace_section(readme.read_text(), readme_section(ROOT)))
    print(f"wrote the headline section of {readme}")


if __name__ == "__main__":
    main()
