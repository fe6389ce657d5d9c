"""Concentration: how much of a slice rests on one labeler or one vendor.

A slice graded mostly by one person (or one vendor) is a supply-chain risk
before any bias shows: their mistakes are the slice's mistakes, and nobody
overlaps them. For every scope (overall, and each value of each slice
column) and for labelers and vendors, the share of the scope's items that the
top entity labeled, and the effective number of entities ``1 / sum_j s_j^2``
(inverse Herfindahl index over label shares; equal to k when k entities
carry equal shares).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.contract import VENDOR
from evalaudit.table import ITEM, LABELER, LabelTable

__all__ = ["concentration"]


def _scope_rows(
    f: pd.DataFrame, who: str, key: np.ndarray, names: np.ndarray, scope: str, value_col: str | None
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    groups = (
        [("(all)", np.ones(len(f), dtype=bool))]
        if value_col is None
        else [(str(v), (f[value_col] == v).to_numpy()) for v in f[value_col].cat.categories]
    )
    for value, mask in groups:
        if not mask.any():
            continue
        items = f[ITEM].to_numpy()[mask]
        k = key[mask]
        n_items = len(np.unique(items))
        # items per entity (an entity labels an item once per labeler; dedupe for vendors)
        pairs = np.unique(np.stack([k, items]), axis=1) if who == "vendor" else np.stack([k, items])
        per = np.bincount(pairs[0], minlength=len(names))
        labels_per = np.bincount(k, minlength=len(names)).astype(float)
        share_items = per / n_items
        top = int(np.argmax(share_items))
        label_share = labels_per / labels_per.sum()
        rows.append(
            {
                "scope": scope,
                "slice_value": value,
                "who": who,
                "n_items": int(n_items),
                "top": str(names[top]),
                "top_share": float(share_items[top]),
                "effective_n": float(1.0 / np.sum(label_share**2)),
                "n_entities": int((per > 0).sum()),
            }
        )
    return rows


def concentration(table: LabelTable) -> pd.DataFrame:
    """Top labeler's and top vendor's share of items, overall and per slice value.

    Returns
    -------
    DataFrame with ``scope`` ("overall" or the slice column), ``slice_value``
    ("(all)" overall), ``who`` ("labeler" or "vendor"), ``n_items`` (items in
    scope), ``top`` (the entity with the most items), ``top_share`` (share of
    the scope's items it labeled at least once), ``effective_n`` (inverse
    Herfindahl index of label shares) and ``n_entities``.
    """
    f = table.frame
    lab = f[LABELER].to_numpy().astype(np.int64)
    whos: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("labeler", lab, table.labeler_ids.to_numpy())
    ]
    if table.has(VENDOR):
        vc = f[VENDOR].cat.codes.to_numpy().astype(np.int64)
        whos.append(("vendor", vc, np.asarray(f[VENDOR].cat.categories)))
    rows: list[dict[str, object]] = []
    for who, key, names in whos:
        rows += _scope_rows(f, who, key, names, "overall", None)
        for col in table.slice_columns:
            rows += _scope_rows(f, who, key, names, col, col)
    return pd.DataFrame(rows)
