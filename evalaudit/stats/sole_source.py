"""Sole-source shares: how much of a slice rests on one labeler (or vendor) *alone*.

:func:`evalaudit.stats.concentration.concentration` gives the top entity's
share of the items it labeled at all. That share cannot tell a slice graded
by one person from a slice double-labeled by two people who each labeled
every item: both have a top share of 100%. What makes a slice rest on one
source is the items nobody else looked at. For every scope (overall, and each
value of each slice column) and for labelers and vendors, this module counts
the items whose labels all come from one entity, and reports the entity with
the most such items and its share of the scope's items.

Estimand: ``sole_share = #{items u in scope: every label of u is by e} /
#{items in scope}`` for the entity ``e`` that maximises it. An item with one
label is sole-sourced by its labeler; an item labeled by two labelers of the
same vendor is sole-sourced by that vendor but by neither labeler. Items are
assigned to a slice by their first label's value (slices are item
attributes, as in :mod:`evalaudit.stats.concentration`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.contract import VENDOR
from evalaudit.table import ITEM, LABELER, LabelTable

__all__ = ["sole_source"]


def _sole_entity(
    item: np.ndarray, entity: np.ndarray, first: np.ndarray, n_items: int
) -> np.ndarray:
    """Per item: the entity that gave all of its labels, or -1 when two or more did.

    ``first``: the positions of each item's first label. An item is one entity's when
    none of its labels differs from its first label's entity: one pass over the rows
    and a bincount, no group-by of the whole table.
    """
    out = np.full(n_items, -1, dtype=np.int32)
    out[item[first]] = entity[first]
    mixed = np.bincount(item[entity != out[item]], minlength=n_items) > 0
    out[mixed] = -1
    return out


def sole_source(table: LabelTable) -> pd.DataFrame:
    """Top sole-source entity per scope, for labelers and vendors.

    Returns
    -------
    DataFrame with ``scope`` ("overall" or the slice column), ``slice_value``
    ("(all)" overall), ``who`` ("labeler" or "vendor"), ``n_items`` (items in
    scope), ``top_sole`` (the entity with the most items labeled by it alone;
    empty when no item is), ``sole_share`` (that entity's sole items over
    ``n_items``) and ``sole_items`` (their number). The keys match the rows of
    :func:`~evalaudit.stats.concentration.concentration`.
    """
    f = table.frame
    item = f[ITEM].to_numpy()
    n_items = table.n_items
    # labels per item, capped at 2 (one byte an item: only "one label" is asked)
    cnt = np.minimum(np.bincount(item, minlength=n_items), 2).astype(np.int8)
    first_mask = table.first_rows()
    first = np.flatnonzero(first_mask)
    if len(item) < np.iinfo(np.int32).max:
        first = first.astype(np.int32)
    whos: list[tuple[str, np.ndarray, np.ndarray]] = []
    # a labeler labels an item once (the contract): an item is sole-sourced by its
    # labeler exactly when it has one label
    # per-item arrays as int32 (items x 4 bytes each): at 10^7 labels this step ran beside
    # agreement and consensus with ~1 GB of int64 temporaries
    lab_sole = np.full(n_items, -1, dtype=np.int32)
    single = first[cnt[item[first]] == 1]
    del cnt
    lab_sole[item[single]] = f[LABELER].to_numpy()[single]
    del single
    whos.append(("labeler", lab_sole, table.labeler_ids.to_numpy()))
    if table.has(VENDOR):
        vcode = f[VENDOR].cat.codes.to_numpy()
        whos.append(
            (
                "vendor",
                _sole_entity(item, vcode, first, n_items),
                np.asarray(f[VENDOR].cat.categories),
            )
        )
    item_first = item[first]
    del first

    scopes: list[tuple[str, str | None, list[str]]] = [("overall", None, ["(all)"])]
    for col in table.slice_columns:
        scopes.append((col, col, [str(c) for c in f[col].cat.categories]))
    # scope by scope (one slice column's per-item values at a time, int32 an item, built
    # once for labelers and vendors); rows listed entity kind first, as before
    rows: dict[str, list[dict[str, object]]] = {who: [] for who, _, _ in whos}
    for scope, column, value_names in scopes:
        k = len(value_names)
        value = None
        if column is not None:
            value = np.full(n_items, -1, dtype=np.int32)
            value[item_first] = f[column].cat.codes.to_numpy()[first_mask]
            has = value >= 0
            n_in = np.bincount(value[has], minlength=k)
        else:  # overall: one scope of every item
            n_in = np.array([n_items])
        for who, sole, names in whos:
            n_ent = len(names)
            if value is None:
                per = np.bincount(sole[sole >= 0], minlength=n_ent).reshape(1, n_ent)
            else:
                ok = has & (sole >= 0)
                key_type = np.int32 if k * n_ent < np.iinfo(np.int32).max else np.int64
                key = value[ok].astype(key_type) * key_type(n_ent) + sole[ok]
                del ok
                per = np.bincount(key, minlength=k * n_ent).reshape(k, n_ent)
                del key
            for j in range(k):
                if n_in[j] == 0:
                    continue
                top = int(np.argmax(per[j]))
                n_sole = int(per[j, top])
                rows[who].append(
                    {
                        "scope": scope,
                        "slice_value": value_names[j],
                        "who": who,
                        "n_items": int(n_in[j]),
                        "top_sole": str(names[top]) if n_sole else "",
                        "sole_share": n_sole / float(n_in[j]),
                        "sole_items": n_sole,
                    }
                )
        del value
    return pd.DataFrame([r for who, _, _ in whos for r in rows[who]])
