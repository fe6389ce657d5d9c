"""Concentration: how much of a slice rests on one labeler or one vendor.

A slice graded mostly by one person (or one vendor) is a supply-chain risk
before any bias shows: their mistakes are the slice's mistakes, and nobody
overlaps them. For every scope (overall, and each value of each slice
column) and for labelers and vendors, the share of the scope's items that the
top entity labeled, and the effective number of entities ``1 / sum_j s_j^2``
(inverse Herfindahl index over label shares; equal to k when k entities
carry equal shares). Computed with bincounts over (scope value, entity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.contract import VENDOR
from evalaudit.table import ITEM, LABELER, LabelTable

__all__ = ["concentration"]


def _rows(
    who: str,
    entity: np.ndarray,
    names: np.ndarray,
    value: np.ndarray | None,
    value_names: list[str],
    scope: str,
    first: np.ndarray,
    uniq: np.ndarray | None,
) -> list[dict[str, object]]:
    """One row per scope value: the top entity's item share and the effective number.

    ``first`` marks each item's first label row, ``uniq`` each (entity, item)
    pair's first row (``None``: every row is one); ``value`` is the scope value of
    each row (``None``: one scope). Keys are built in 32 bits: at 10^7 rows every
    64-bit temporary costs 80 MB.
    """
    n_val, n_ent = len(value_names), len(names)

    def counts(rows: np.ndarray | None) -> np.ndarray:
        ent = entity if rows is None else entity[rows]
        if value is None:
            return np.bincount(ent, minlength=n_ent).reshape(1, n_ent).astype(float)
        val = value if rows is None else value[rows]
        key = val.astype(np.int32) * np.int32(n_ent) + ent
        return np.bincount(key, minlength=n_val * n_ent).reshape(n_val, n_ent).astype(float)

    # items per scope value (a slice is an item attribute: count each item once)
    if value is None:
        items_in = np.array([float(np.count_nonzero(first))])
    else:
        items_in = np.bincount(value[first], minlength=n_val).astype(float)
    per = counts(uniq)
    labels = counts(None)
    out: list[dict[str, object]] = []
    for v in range(n_val):
        if items_in[v] == 0:
            continue
        top = int(np.argmax(per[v]))
        share = labels[v] / labels[v].sum()
        out.append(
            {
                "scope": scope,
                "slice_value": value_names[v],
                "who": who,
                "n_items": int(items_in[v]),
                "top": str(names[top]),
                "top_share": float(per[v, top] / items_in[v]),
                "effective_n": float(1.0 / np.sum(share**2)),
                "n_entities": int((per[v] > 0).sum()),
            }
        )
    return out


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
    item = f[ITEM].to_numpy()
    whos: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("labeler", f[LABELER].to_numpy().astype(np.int32), table.labeler_ids.to_numpy())
    ]
    if table.has(VENDOR):
        whos.append(
            (
                "vendor",
                f[VENDOR].cat.codes.to_numpy().astype(np.int32),
                np.asarray(f[VENDOR].cat.categories),
            )
        )
    scopes: list[tuple[str, np.ndarray | None, list[str]]] = [("overall", None, ["(all)"])]
    for col in table.slice_columns:
        scopes.append((col, f[col].cat.codes.to_numpy(), [str(c) for c in f[col].cat.categories]))
    rows: list[dict[str, object]] = []
    first = table.first_rows()
    multi = np.flatnonzero(np.bincount(item, minlength=table.n_items)[item] >= 2)
    for who, entity, names in whos:
        # items per (value, entity): a labeler labels an item once (the contract), but a
        # vendor's several labelers may share an item, so dedupe (vendor, item) first; only
        # items with several labels can repeat a pair
        uniq: np.ndarray | None = None
        if who != "labeler":
            pair = entity[multi].astype(np.int64) * table.n_items + item[multi]
            uniq = np.ones(len(f), dtype=bool)
            uniq[multi] = ~pd.Series(pair).duplicated().to_numpy()
        for scope, value, value_names in scopes:
            rows += _rows(who, entity, names, value, value_names, scope, first, uniq)
    return pd.DataFrame(rows)
