"""Mergeable sufficient statistics: a batch's group-by sums, added to the ones kept so far.

Every table here is a sum over label rows grouped by a key (counts, sums of scores, sums
of squares), so the tables of two batches merge by adding the rows with equal keys: the
aggregate of old + new rows equals the merge of the aggregates, exactly (integer counts;
sums of 0/1 scores are exact in floating point; other scores to rounding). A new batch is
scanned alone and the stored aggregates of the old rows are never read again as rows.

Tables (one SQL string each, run by DuckDB or Spark through :mod:`evalaudit.engine.query`):

- ``items``: per item, labels ``n`` and score sum ``s``. The headline (mean over items of
  the item's mean score, DESIGN section 4) and the single- vs multi-labeled split follow;
  an item labeled in two batches merges into one row.
- ``labeler_slice``: per labeler x slice column x value, ``n``, ``s``, ``s2`` (the cell
  means and variances the heat map and the stratified evidence read).
- ``labeler_day``: per labeler x UTC day, ``n``, ``s`` (the drift timeline's bins).
- ``vendor_slice``: per vendor x slice column x value, ``n``, ``s``.

What does *not* merge this way is said in docs/scale.md: the joint model's fit (its
normal equations are sums per unit, but the units of multi-labeled items need the item's
rows), Dawid-Skene (iterative over the multi-labeled items), the CUSUM drift test (an
ordered statistic) and the cluster-robust SEs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, TIMESTAMP, VENDOR
from evalaudit.engine.query import SOURCE, Backend

__all__ = ["KEYS", "Aggregates", "aggregate", "merge"]

#: The key columns of each table; every other column is a sum.
KEYS: dict[str, tuple[str, ...]] = {
    "items": (ITEM_ID,),
    "labeler_slice": (LABELER_ID, "slice_column", "slice_value"),
    "labeler_day": (LABELER_ID, "day"),
    "vendor_slice": (VENDOR, "slice_column", "slice_value"),
}


@dataclass(frozen=True)
class Aggregates:
    """The sufficient-statistic tables of some label rows (module docstring)."""

    tables: dict[str, pd.DataFrame]
    rows: int

    def headline(self) -> float:
        """Mean over items of the item's mean score: the audit's ``headline.score``."""
        it = self.tables["items"]
        return float((it["s"] / it["n"]).mean())

    def single_labeled(self) -> int:
        """Items with exactly one label."""
        return int((self.tables["items"]["n"] == 1).sum())


def aggregate(
    backend: Backend, path: str, fmt: str, positive: str, slices: tuple[str, ...]
) -> Aggregates:
    """The tables of the label rows in ``path`` (a binary label: score 1 = ``positive``).

    The rows are used as they are in the file (run ``evalaudit validate`` on a batch
    before adding it: the audit's checks are not repeated here).
    """
    backend.register_source(path, fmt)
    q = backend.ident
    lit = "'" + positive.replace("'", "''") + "'"
    backend.execute(
        "CREATE OR REPLACE TEMP VIEW _scored AS SELECT *, CASE WHEN CAST("
        f"{q(LABEL)} AS STRING) = {lit} THEN 1.0 ELSE 0.0 END AS _score FROM {SOURCE}"
    )
    cols = backend.column_types()
    out: dict[str, pd.DataFrame] = {}
    out["items"] = backend.frame(
        f"SELECT {q(ITEM_ID)} AS {q(ITEM_ID)}, count(*) AS n, sum(_score) AS s "
        f"FROM _scored GROUP BY {q(ITEM_ID)}"
    )

    def by_slice(who: str, extra: str) -> str:
        parts = [
            f"SELECT {q(who)} AS {q(who)}, '{c}' AS slice_column, CAST({q(c)} AS STRING) AS "
            f"slice_value, count(*) AS n, sum(_score) AS s{extra} FROM _scored "
            f"GROUP BY {q(who)}, CAST({q(c)} AS STRING)"
            for c in slices
        ]
        return " UNION ALL ".join(parts)

    if slices:
        out["labeler_slice"] = backend.frame(by_slice(LABELER_ID, ", sum(_score * _score) AS s2"))
        if VENDOR in cols:
            out["vendor_slice"] = backend.frame(by_slice(VENDOR, ""))
    if TIMESTAMP in cols:
        day = f"substr(CAST({q(TIMESTAMP)} AS STRING), 1, 10)"
        out["labeler_day"] = backend.frame(
            f"SELECT {q(LABELER_ID)} AS {q(LABELER_ID)}, {day} AS day, count(*) AS n, "
            f"sum(_score) AS s FROM _scored GROUP BY {q(LABELER_ID)}, {day}"
        )
    rows = int(out["items"]["n"].sum())
    return Aggregates({k: _canonical(k, v) for k, v in out.items()}, rows)


def merge(*parts: Aggregates) -> Aggregates:
    """The aggregates of the union of the parts' rows: equal keys add."""
    names = sorted({k for p in parts for k in p.tables})
    out = {}
    for name in names:
        frames = [p.tables[name] for p in parts if name in p.tables]
        both = pd.concat(frames, ignore_index=True)
        keys = list(KEYS[name])
        out[name] = _canonical(name, both.groupby(keys, as_index=False, sort=False).sum())
    return Aggregates(out, sum(p.rows for p in parts))


def _canonical(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Sorted by key with a fresh index, counts as int64: equal aggregates compare equal."""
    keys = list(KEYS[name])
    df = df.copy()
    for k in keys:
        df[k] = df[k].astype("string")
    df["n"] = df["n"].astype("int64")
    for c in df.columns:
        if c not in keys and c != "n":
            df[c] = df[c].astype("float64")
    return df.sort_values(keys, kind="stable").reset_index(drop=True)
