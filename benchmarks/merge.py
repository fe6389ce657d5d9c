"""Mergeable aggregates: a new batch updates the stored aggregates without rereading old rows.

Usage::

    python benchmarks/merge.py FILE.parquet [--workdir DIR]

``FILE`` is a label file with a ``batch`` column (e.g. one made by ``benchmarks/scale.py``).
The last batch (in sorted order) plays the new batch, the others the rows audited before.
The script writes the two parts as Parquet under ``--workdir``, then times, each with
DuckDB (:mod:`evalaudit.engine.aggregates`):

1. **full**: the aggregates of the whole file, scanned at once (what a re-audit costs);
2. **old**: the aggregates of the old rows, stored as Parquet (done once, earlier);
3. **update**: the new batch's aggregates plus the stored ones read back and merged.

It checks that the update equals the full aggregates exactly (every table, every row) and
prints the rows, the sizes and the times, and the headline from the aggregates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evalaudit.engine.aggregates import Aggregates, aggregate, merge
from evalaudit.engine.query import DuckDBBackend

SLICES = ("category", "failure_mode", "model")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "evalaudit-merge")
    ap.add_argument("--positive", default="pass")
    args = ap.parse_args(argv)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    table = pq.read_table(args.file)
    last = sorted(pc.unique(table["batch"]).to_pylist())[-1]
    is_new = pc.equal(table["batch"], last)
    old_path, new_path = work / "old.parquet", work / "new.parquet"
    pq.write_table(table.filter(pc.invert(is_new)), old_path, compression="zstd")
    pq.write_table(table.filter(is_new), new_path, compression="zstd")
    n_rows, n_new = table.num_rows, int(pc.sum(is_new).as_py())
    del table

    b = DuckDBBackend()
    t = time.perf_counter()
    full = aggregate(b, str(args.file), "parquet", args.positive, SLICES)
    t_full = time.perf_counter() - t

    t = time.perf_counter()
    old = aggregate(b, str(old_path), "parquet", args.positive, SLICES)
    store = work / "aggregates"
    store.mkdir(exist_ok=True)
    for name, df in old.tables.items():
        df.to_parquet(store / f"{name}.parquet")
    t_old = time.perf_counter() - t

    t = time.perf_counter()
    new = aggregate(b, str(new_path), "parquet", args.positive, SLICES)
    stored = Aggregates(
        {p.stem: pd.read_parquet(p) for p in sorted(store.glob("*.parquet"))}, old.rows
    )
    updated = merge(stored, new)
    t_update = time.perf_counter() - t

    for name, df in full.tables.items():
        pd.testing.assert_frame_equal(df, updated.tables[name], check_exact=True, obj=name)
    sizes = {k: len(v) for k, v in updated.tables.items()}
    stored_mb = sum(p.stat().st_size for p in store.glob("*.parquet")) / 1e6
    print(f"file: {args.file} ({n_rows:,} rows; new batch {last}: {n_new:,} rows)")
    print(f"aggregate rows: {sizes}; stored aggregates of the old rows: {stored_mb:.1f} MB")
    print(f"full scan of every row:            {t_full:7.2f} s")
    print(f"old rows, once (stored):           {t_old:7.2f} s")
    print(f"update: new batch + stored, merged {t_update:7.2f} s")
    print(f"update equals the full scan exactly: yes; headline {updated.headline():.6f}")
    print(f"single-labeled items: {updated.single_labeled():,} of {sizes['items']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
