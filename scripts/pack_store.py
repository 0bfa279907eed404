"""Copy a results store for committing, losslessly smaller: every run file is rewritten with zstd
(level 19, page checksums on, as the store writes them) and read back to check that the frame is
identical; example files (``*.examples.npz``) are copied as they are. Runs already in the
destination with an identical frame are left as they are (no churn of committed files); others
are replaced. Nothing is thinned: every recorded row is kept.

    python scripts/pack_store.py /work/campaign/results/paper-cpu/runs results/paper-cpu/runs
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pgbench import store


def pack(src: Path, dst: Path) -> tuple[int, int, int]:
    """Returns (runs copied, bytes before, bytes after)."""
    n = before = after = 0
    for f in store.run_files(src):
        rel = f.relative_to(src)
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        frame = store.read(f)
        if out.exists() and store.read(out).equals(frame):
            continue
        tmp = out.with_name(f".{out.name}.pack.tmp")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp, compression="zstd",
                       compression_level=19, write_page_checksum=True)
        if not store.read(tmp).equals(frame):
            tmp.unlink()
            raise RuntimeError(f"{f}: the packed frame differs from the stored one")
        tmp.replace(out)
        ex = f.with_name(f.name.replace(".parquet", ".examples.npz"))
        if ex.exists():
            shutil.copy2(ex, out.with_name(ex.name))
        n, before, after = n + 1, before + f.stat().st_size, after + out.stat().st_size
    return n, before, after


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    a = ap.parse_args(argv)
    if not a.src.is_dir():
        ap.error(f"no results directory {a.src}")
    n, before, after = pack(a.src, a.dst)
    print(f"{n} runs: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB in {a.dst}")


if __name__ == "__main__":
    main()
