"""Item drill-down: the label rows behind an item, a cell or a finding, with their ids.

The entry point the dashboard's Items and Slices views call (they render; this
module reads the validated :class:`~evalaudit.table.LabelTable`). Every function
decodes only the rows it returns, so a page of a 10^6-row table is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from evalaudit.contract import BATCH, MODEL, TIMESTAMP, VENDOR, VERSION, LabelKind
from evalaudit.table import ITEM, LABELER, ROW_COL, VALUE, LabelTable

__all__ = ["cell_positions", "item_positions", "label_rows", "peer_labels"]


def _labels_text(table: LabelTable, values: np.ndarray, scores: np.ndarray) -> np.ndarray:
    if table.kind is LabelKind.INTERVAL or not table.categories:
        return np.array([f"{s:g}" for s in scores], dtype=object)
    cats = np.asarray(table.categories, dtype=object)
    return cats[values]


def label_rows(table: LabelTable, positions: np.ndarray | Iterable[int]) -> pd.DataFrame:
    """The label rows at ``positions`` (positions in ``table.frame``) with their original ids.

    Columns: ``row`` (line/row in the file), ``item_id``, ``labeler_id``,
    ``label``, then ``timestamp``, ``vendor``, ``batch``, ``model``,
    ``version`` and the slice columns when present. Only these rows are
    decoded, so it is cheap on a page of a 10^6-row table.
    """
    pos = np.asarray(list(positions) if not isinstance(positions, np.ndarray) else positions)
    pos = pos.astype(np.int64, copy=False)
    f = table.frame
    sub = f.iloc[pos]
    out = pd.DataFrame(
        {
            "row": sub[ROW_COL].to_numpy(),
            "item_id": table.item_ids.to_numpy()[sub[ITEM].to_numpy()],
            "labeler_id": table.labeler_ids.to_numpy()[sub[LABELER].to_numpy()],
            "label": _labels_text(table, sub[VALUE].to_numpy(), sub["score"].to_numpy()),
        }
    )
    if TIMESTAMP in f.columns:
        out["timestamp"] = sub[TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    for col in (VENDOR, BATCH, MODEL, VERSION, *table.slice_columns):
        if col in f.columns and col not in out.columns:
            out[col] = sub[col].astype(str).to_numpy()
    return out


def cell_positions(
    table: LabelTable, labeler_id: str, slice_column: str, slice_value: str
) -> np.ndarray:
    """Positions of the labels of one labeler x slice cell (``a+b`` pair cells too).

    Empty when the labeler or a column is unknown. In file order.
    """
    try:
        code = table.labeler_ids.get_loc(labeler_id)
    except KeyError:
        return np.empty(0, dtype=np.int64)
    f = table.frame
    mask = f[LABELER].to_numpy() == code
    cols, vals = slice_column.split("+"), slice_value.split("+")
    if len(cols) != len(vals):
        cols, vals = [slice_column], [slice_value]
    for c, v in zip(cols, vals, strict=True):
        if c not in f.columns:
            return np.empty(0, dtype=np.int64)
        mask &= (f[c] == v).to_numpy()
    return _in_file_order(table, np.flatnonzero(mask))


def item_positions(table: LabelTable, item_id: str) -> np.ndarray:
    """Positions of every label of ``item_id`` (empty when unknown), in time then file order."""
    try:
        code = table.item_ids.get_loc(str(item_id).strip())
    except KeyError:
        return np.empty(0, dtype=np.int64)
    pos = np.flatnonzero(table.frame[ITEM].to_numpy() == code)
    if TIMESTAMP in table.frame.columns and len(pos) > 1:
        ts = table.frame[TIMESTAMP].iloc[pos].to_numpy(dtype="datetime64[ns]")
        order = np.lexsort((table.frame[ROW_COL].to_numpy()[pos], ts))
        return pos[order]
    return _in_file_order(table, pos)


def _in_file_order(table: LabelTable, pos: np.ndarray) -> np.ndarray:
    rows = table.frame[ROW_COL].to_numpy()[pos]
    return pos[np.argsort(rows, kind="stable")]


def peer_labels(table: LabelTable, positions: np.ndarray) -> pd.Series:
    """For each label at ``positions``: the other labels of the same item, as text.

    ``"lab003: fail; lab011: pass"`` (empty when the item has one label).
    Indexed like ``positions``; reads only the labels of those items.
    """
    pos = np.asarray(positions, dtype=np.int64)
    if len(pos) == 0:
        return pd.Series([], dtype=object)
    f = table.frame
    items = f[ITEM].to_numpy()
    wanted = np.unique(items[pos])
    others = np.flatnonzero(np.isin(items, wanted))
    rows = label_rows(table, others)
    rows["_item"] = items[others]
    rows["_pos"] = others
    rows["text"] = rows["labeler_id"].astype(str) + ": " + rows["label"].astype(str)
    by_item: dict[int, list[tuple[int, str]]] = {}
    for it, p, t in zip(rows["_item"], rows["_pos"], rows["text"], strict=True):
        by_item.setdefault(int(it), []).append((int(p), t))
    out = []
    for p in pos:
        lst = by_item.get(int(items[p]), [])
        out.append("; ".join(t for q, t in lst if q != p))
    return pd.Series(out, dtype=object)
