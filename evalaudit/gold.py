"""The gold file: known answers for honeypot items, read at ingest (DESIGN section 2).

Statistics never read files; the audit, the gate and the consensus command read the gold file
here and hand :func:`evalaudit.stats.consensus.gold_accuracy` a Series.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalaudit.contract import ITEM_ID, MAX_ROWS_SHOWN, InputError, Problem
from evalaudit.io import read_table
from evalaudit.stats.consensus import GOLD_LABEL

__all__ = ["read_gold"]


def read_gold(path: str | Path) -> pd.Series:
    """Read a gold file (``item_id,gold_label``; CSV, TSV, Parquet or JSON Lines).

    Returns a string Series ``item_id -> gold label`` (name ``gold_label``), one entry
    per item; a row repeated with the same gold is kept once. ``attrs["path"]`` holds
    the path and ``attrs["rows"]`` maps each item id to its first row in the file, so
    later problems (a gold value that is not a label category) can name the row.

    Raises
    ------
    InputError
        Naming the file, column and rows: the file cannot be read, ``item_id`` or
        ``gold_label`` is missing, a value is empty, or an item has two different gold
        labels.
    """
    raw = read_table(path)
    frame = raw.frame
    missing = [c for c in (ITEM_ID, GOLD_LABEL) if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:20]))
        alias = "gold" if GOLD_LABEL in missing and "gold" in frame.columns else None
        raise InputError(
            raw.path,
            [
                Problem(
                    "column_exists",
                    col,
                    0,
                    (),
                    f"the gold file needs a '{col}' column (the file has: {found})",
                    f"rename the column '{alias}' to '{col}'"
                    if col == GOLD_LABEL and alias
                    else f"write the gold file as {ITEM_ID},{GOLD_LABEL} with a header line",
                )
                for col in missing
            ],
            row_label=raw.row_label,
        )
    problems: list[Problem] = []
    for col in (ITEM_ID, GOLD_LABEL):
        empty = frame[col].isna() | (frame[col].astype("string").str.strip() == "")
        if empty.any():
            problems.append(
                Problem(
                    "not_null",
                    col,
                    int(empty.sum()),
                    tuple(int(r) for r in frame.index[empty][:MAX_ROWS_SHOWN]),
                    f"'{col}' is empty in the gold file",
                    "give every gold row an item id and a gold label, or delete the row",
                )
            )
    if problems:
        raise InputError(raw.path, problems, row_label=raw.row_label)
    ids = frame[ITEM_ID].astype("string")
    vals = frame[GOLD_LABEL].astype("string")
    n_distinct = vals.groupby(ids, sort=False).nunique()
    conflict_ids = n_distinct.index[n_distinct > 1]
    if len(conflict_ids):
        mask = ids.isin(conflict_ids).to_numpy()
        examples = tuple(
            f"item {i}: " + "/".join(vals[(ids == i).to_numpy()].tolist()) for i in conflict_ids[:3]
        )
        raise InputError(
            raw.path,
            [
                Problem(
                    "unique_key",
                    ITEM_ID,
                    int(mask.sum()),
                    tuple(int(r) for r in frame.index[mask][:MAX_ROWS_SHOWN]),
                    f"{len(conflict_ids)} item(s) have different gold labels on different rows",
                    "keep one gold label per item_id",
                    examples=examples,
                )
            ],
            row_label=raw.row_label,
        )
    first = ~ids.duplicated(keep="first").to_numpy()
    out = pd.Series(
        vals.to_numpy()[first],
        index=pd.Index(ids.to_numpy()[first], dtype="string", name=ITEM_ID),
        dtype="string",
        name=GOLD_LABEL,
    )
    out.attrs["path"] = raw.path
    out.attrs["rows"] = dict(zip(out.index.tolist(), frame.index[first].tolist(), strict=True))
    out.attrs["row_label"] = raw.row_label
    return out
