"""Headline impact: how the reported score moves without suspect labels.

Item score = mean score of the item's labels; headline = mean item score
over items (DESIGN section 4), overall, per model and per slice value.
The counterfactual drops the suspect labels (a boolean row mask), re-scores
the items that keep at least one label, and counts the items that lose all
of them; those are excluded from *both* sides of the paired comparison, so
``delta`` is the mean over kept items of (counterfactual - original).

Confidence intervals are normal intervals with item-level standard errors:
items are the independent units and the labels of one item are a cluster
(a clustered SE with one cluster per item). For the paired delta the SE is
that of the per-item differences, so the between-item spread of difficulty
cancels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import MODEL
from evalaudit.stats.leniency import Z95
from evalaudit.table import ITEM, SCORE, LabelTable

__all__ = ["headline_impact"]


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if n < 2:
        return m, float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(n))
    return m, m - Z95 * se, m + Z95 * se


def _impact(orig: np.ndarray, cf: np.ndarray) -> dict[str, Any]:
    """orig/cf: per-item scores (cf NaN where the item lost every label)."""
    kept = np.isfinite(cf)
    score, lo, hi = _mean_ci(orig)
    s2, lo2, hi2 = _mean_ci(cf[kept])
    d, dlo, dhi = _mean_ci(cf[kept] - orig[kept])
    s_kept, _, _ = _mean_ci(orig[kept])
    if kept.all() and np.array_equal(cf, orig):
        dlo = dhi = 0.0
    return {
        "score": score,
        "ci": [lo, hi],
        "score_without_suspects": s2,
        "ci_without_suspects": [lo2, hi2],
        "delta": d,
        "delta_ci": [dlo, dhi],
        "items": len(orig),
        "items_dropped": int((~kept).sum()),
        "score_kept_items": s_kept,
    }


def item_groups(table: LabelTable, column: str) -> list[tuple[Any, np.ndarray]]:
    """Items by their (first label's) value of ``column``: ``[(value, item codes), ...]``.

    The values in groupby order (observed only), the codes ascending. Computed
    once per table frame (the headline and its variants ask several times).
    """
    cache = table.extra.get("_item_groups")
    if cache is None or cache[0] is not table.frame:
        cache = (table.frame, {})
        table.extra["_item_groups"] = cache
    groups: dict[str, Any] = cache[1]
    if column not in groups:
        f = table.frame
        if "__firsts__" not in groups:
            item = f[ITEM].to_numpy()
            rows = pd.Series(item).drop_duplicates().index.to_numpy()  # first label of each item
            rows = rows[np.argsort(item[rows], kind="stable")]
            groups["__firsts__"] = (rows, pd.Index(item[rows], name=ITEM))
        rows, codes = groups["__firsts__"]
        values = pd.Series(f[column].iloc[rows].array, index=codes)
        groups[column] = [
            (value, np.asarray(idx))
            for value, idx in values.groupby(values, observed=True).groups.items()
        ]
    return groups[column]


def headline_impact(table: LabelTable, suspect: np.ndarray) -> dict[str, Any] | None:
    """Headline with and without the labels in ``suspect`` (boolean per label row).

    Returns ``None`` when labels have no score (nominal labels without a
    passing class). Otherwise a dict with ``score``, ``ci``,
    ``score_without_suspects``, ``ci_without_suspects``, ``delta``,
    ``delta_ci``, ``items_dropped``, ``per_model`` and ``per_slice`` (lists
    of the same fields with ``model`` or ``slice_column``/``slice_value``),
    and ``ranking_changed`` (whether the order of models by score differs).
    """
    f = table.frame
    score = f[SCORE].to_numpy()
    if not np.isfinite(score).all():
        return None
    item = f[ITEM].to_numpy()
    n = table.n_items
    cached = table.extra.get("_headline_totals")
    if cached is not None and cached[0] is f and np.array_equal(cached[1], score):
        cnt, tot = cached[2], cached[3]
    else:  # the same for every suspect set (the headline and its variants)
        cnt = np.bincount(item, minlength=n).astype(float)
        tot = np.bincount(item, weights=score, minlength=n)
        table.extra["_headline_totals"] = (f, score.copy(), cnt, tot)
    keep = ~suspect
    cnt2 = np.bincount(item[keep], minlength=n).astype(float)
    tot2 = np.bincount(item[keep], weights=score[keep], minlength=n)
    orig = tot / cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        cf = np.where(cnt2 > 0, tot2 / cnt2, np.nan)
    out = _impact(orig, cf)
    out["method"] = "item-level (clustered) normal CI; paired over items that keep a label"
    out["per_model"] = []
    if table.has(MODEL):
        for value, codes in item_groups(table, MODEL):
            out["per_model"].append({"model": str(value), **_impact(orig[codes], cf[codes])})
        base = sorted(out["per_model"], key=lambda r: -r["score"])
        after = sorted(
            out["per_model"], key=lambda r: -np.nan_to_num(r["score_without_suspects"], nan=-1)
        )
        out["ranking_changed"] = [r["model"] for r in base] != [r["model"] for r in after]
    else:
        out["ranking_changed"] = False
    out["per_slice"] = []
    for col in table.slice_columns:
        for value, codes in item_groups(table, col):
            out["per_slice"].append(
                {"slice_column": col, "slice_value": str(value), **_impact(orig[codes], cf[codes])}
            )
    return out


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def headline_corrected(
    table: LabelTable, group: np.ndarray, effect: np.ndarray, se: np.ndarray
) -> dict[str, Any] | None:
    """Headline with suspect labels *corrected* for their estimated leniency.

    Excluding suspect labels (:func:`headline_impact`) cannot move the
    headline of items whose only label is suspect: they drop out of both
    sides. In single-label eval sets that is most of them. The corrected
    counterfactual keeps every item and replaces each suspect label's score
    ``s`` by ``s - e_g``, where ``e_g`` is the leniency estimated for the
    label's suspect group (a flagged cell, or a flagged labeler): the score
    an average peer would be expected to give on the same kind of item.

    ``group`` is the suspect group of each label row (-1 = not suspect);
    ``effect`` and ``se`` are indexed by group. The shift of the headline is
    ``delta = -(1/N) sum_g e_g c_g`` with ``c_g = sum over g's labels of
    1/m_u`` (the label's weight in its item's mean), and its 95% CI comes
    from the delta method treating the groups' estimates as independent:
    ``se(delta) = sqrt(sum_g se_g^2 c_g^2) / N``. The uncertainty is that of
    the leniency estimates; the item sample is held fixed. Corrected item
    scores are not clipped to the label scale. Returns ``None`` without
    scores.
    """
    f = table.frame
    score = f[SCORE].to_numpy()
    if not np.isfinite(score).all():
        return None
    item = f[ITEM].to_numpy()
    m = np.bincount(item, minlength=table.n_items).astype(float)
    w = 1.0 / m[item]
    sus = group >= 0
    n_groups = len(effect)

    # per-item weighted totals once; a subset of items sums the same bins in the same order
    item_tot = np.bincount(item, weights=score * w, minlength=table.n_items)
    sus_rows = np.flatnonzero(sus)
    sus_item, sus_group, sus_w = item[sus_rows], group[sus_rows], w[sus_rows]

    def one(item_mask: np.ndarray) -> dict[str, Any]:
        n = int(item_mask.sum())
        rows = item_mask[sus_item]
        c = np.bincount(sus_group[rows], weights=sus_w[rows], minlength=n_groups)
        delta = float(-(effect * c).sum() / n) if n else float("nan")
        se_d = float(np.sqrt(((se * c) ** 2).sum()) / n) if n else float("nan")
        base = float(np.where(item_mask, item_tot, 0.0).sum() / n) if n else float("nan")
        return {
            "score": base,
            "score_corrected": base + delta,
            "delta": delta,
            "delta_ci": [delta - Z95 * se_d, delta + Z95 * se_d],
            "items": n,
            "suspect_labels": int(rows.sum()),
        }

    all_items = np.ones(table.n_items, dtype=bool)
    out = one(all_items)
    out["method"] = (
        "suspect labels shifted by their estimated leniency; delta-method CI from the leniency SEs"
    )
    out["per_model"] = []
    if table.has(MODEL):
        for value, codes in item_groups(table, MODEL):
            mask = np.zeros(table.n_items, dtype=bool)
            mask[codes] = True
            out["per_model"].append({"model": str(value), **one(mask)})
        before = [r["model"] for r in sorted(out["per_model"], key=lambda r: -r["score"])]
        after = [r["model"] for r in sorted(out["per_model"], key=lambda r: -r["score_corrected"])]
        out["ranking_changed"] = before != after
    else:
        out["ranking_changed"] = False
    out["per_slice"] = []
    for col in table.slice_columns:
        for value, codes in item_groups(table, col):
            mask = np.zeros(table.n_items, dtype=bool)
            mask[codes] = True
            out["per_slice"].append({"slice_column": col, "slice_value": str(value), **one(mask)})
    return out
