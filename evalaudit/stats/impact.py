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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import MODEL
from evalaudit.stats.leniency import Z95
from evalaudit.table import ITEM, SCORE, LabelTable

__all__ = ["headline_impact"]


def _segment_sum(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of ``x`` over consecutive non-empty segments beginning at ``starts``."""
    if not len(starts):
        return np.zeros(0)
    return np.add.reduceat(x, starts)


def _mean_sd(
    x: np.ndarray, kept: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment: count, mean and sample SD (ddof 1) of ``x`` over the ``kept`` rows.

    Two passes (the mean, then squared deviations from it), as ``x.mean()`` and
    ``x.std(ddof=1)`` would compute them; NaN where a segment keeps no row (mean) or
    fewer than two (SD).
    """
    n = _segment_sum(kept.astype(np.float64), starts)
    xz = np.where(kept, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _segment_sum(xz, starts) / n
        dev = np.where(kept, x - np.repeat(np.nan_to_num(mean), sizes), 0.0)
        sd = np.sqrt(_segment_sum(dev * dev, starts) / (n - 1.0))
    return n, np.where(n > 0, mean, np.nan), np.where(n > 1, sd, np.nan)


def _ci(mean: float, sd: float, n: float) -> list[float]:
    if n < 2:
        return [float("nan"), float("nan")]
    se = sd / np.sqrt(n)
    return [float(mean - Z95 * se), float(mean + Z95 * se)]


def _impacts(orig: np.ndarray, cf: np.ndarray, sizes: np.ndarray) -> list[dict[str, Any]]:
    """The paired comparison of each segment of items (consecutive, ``sizes`` long).

    ``orig``/``cf``: per-item scores (``cf`` NaN where the item lost every label).
    Item-level normal CIs; the delta is paired over the items that keep a label.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    nonempty = sizes > 0
    sz = sizes[nonempty]
    starts = np.cumsum(sz) - sz
    kept = np.isfinite(cf)
    every = np.ones(len(orig), dtype=bool)
    _, m_orig, sd_orig = _mean_sd(orig, every, starts, sz)
    n_kept, m_cf, sd_cf = _mean_sd(cf, kept, starts, sz)
    _, m_d, sd_d = _mean_sd(cf - orig, kept, starts, sz)
    _, m_ok, _ = _mean_sd(orig, kept, starts, sz)
    same = _segment_sum((~kept | (cf != orig)).astype(np.float64), starts) == 0
    out: list[dict[str, Any]] = []
    j = 0
    for size in sizes:
        if size == 0:
            nan = float("nan")
            out.append(_impact_record(0, nan, nan, 0, nan, nan, nan, nan, nan, False))
            continue
        out.append(
            _impact_record(
                int(size),
                m_orig[j],
                sd_orig[j],
                int(n_kept[j]),
                m_cf[j],
                sd_cf[j],
                m_d[j],
                sd_d[j],
                m_ok[j],
                bool(same[j]),
            )
        )
        j += 1
    return out


def _impact_record(
    n: int,
    m_orig: float,
    sd_orig: float,
    n_kept: int,
    m_cf: float,
    sd_cf: float,
    m_d: float,
    sd_d: float,
    m_ok: float,
    unchanged: bool,
) -> dict[str, Any]:
    delta_ci = [0.0, 0.0] if unchanged else _ci(m_d, sd_d, n_kept)
    return {
        "score": float(m_orig),
        "ci": _ci(m_orig, sd_orig, n),
        "score_without_suspects": float(m_cf),
        "ci_without_suspects": _ci(m_cf, sd_cf, n_kept),
        "delta": float(m_d),
        "delta_ci": delta_ci,
        "items": n,
        "items_dropped": n - n_kept,
        "score_kept_items": float(m_ok),
    }


@dataclass(frozen=True)
class ItemLayout:
    """Items grouped by their (first label's) value of one column.

    ``values`` in groupby order (observed only); ``perm`` the item codes of the
    first value, then of the second, ... (ascending within a value); ``sizes`` the
    number of items per value; ``value_of_item`` each item's position in ``values``.
    """

    values: list[Any]
    perm: np.ndarray
    sizes: np.ndarray
    value_of_item: np.ndarray


def item_layout(table: LabelTable, column: str) -> ItemLayout:
    """The :class:`ItemLayout` of ``column``, computed once per table frame (the
    headline and its variants ask several times)."""
    cache = table.extra.get("_item_layout")
    if cache is None or cache[0] is not table.frame:
        cache = (table.frame, {})
        table.extra["_item_layout"] = cache
    layouts: dict[str, Any] = cache[1]
    if column not in layouts:
        f = table.frame
        if "__firsts__" not in layouts:
            item = f[ITEM].to_numpy()
            rows = pd.Series(item).drop_duplicates().index.to_numpy()  # first label of each item
            rows = rows[np.argsort(item[rows], kind="stable")]
            layouts["__firsts__"] = (rows, item[rows])
        rows, codes = layouts["__firsts__"]
        values = pd.Series(f[column].iloc[rows].array)
        vcode, uniques = pd.factorize(values, sort=True)
        names = list(uniques)
        if isinstance(values.dtype, pd.CategoricalDtype):
            # groupby order of a categorical is its category order, not the sorted values
            cats = list(values.cat.categories)
            order = sorted(range(len(names)), key=lambda i: cats.index(names[i]))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            vcode = np.where(vcode >= 0, rank[np.maximum(vcode, 0)], -1)
            names = [names[i] for i in order]
        present = vcode >= 0  # missing values belong to no group (as in groupby)
        perm = codes[present][np.argsort(vcode[present], kind="stable")]
        value_of_item = np.full(table.n_items, -1, dtype=np.int64)
        value_of_item[codes] = vcode
        layouts[column] = ItemLayout(
            names, perm, np.bincount(vcode[present], minlength=len(names)), value_of_item
        )
    out: ItemLayout = layouts[column]
    return out


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
    out = _impacts(orig, cf, np.array([len(orig)]))[0]
    out["method"] = "item-level (clustered) normal CI; paired over items that keep a label"
    out["per_model"] = []
    if table.has(MODEL):
        lay = item_layout(table, MODEL)
        res = _impacts(orig[lay.perm], cf[lay.perm], lay.sizes)
        out["per_model"] = [{"model": str(v), **r} for v, r in zip(lay.values, res, strict=True)]
        base = sorted(out["per_model"], key=lambda r: -r["score"])
        after = sorted(
            out["per_model"], key=lambda r: -np.nan_to_num(r["score_without_suspects"], nan=-1)
        )
        out["ranking_changed"] = [r["model"] for r in base] != [r["model"] for r in after]
    else:
        out["ranking_changed"] = False
    out["per_slice"] = []
    for col in table.slice_columns:
        lay = item_layout(table, col)
        res = _impacts(orig[lay.perm], cf[lay.perm], lay.sizes)
        out["per_slice"] += [
            {"slice_column": col, "slice_value": str(v), **r}
            for v, r in zip(lay.values, res, strict=True)
        ]
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

    def by_value(value_of_item: np.ndarray, n_values: int) -> list[dict[str, Any]]:
        """The corrected headline of each group of items (``value_of_item``, -1 = none)."""
        has = value_of_item >= 0
        n = np.bincount(value_of_item[has], minlength=n_values)
        base_tot = np.bincount(value_of_item[has], weights=item_tot[has], minlength=n_values)
        sv = value_of_item[sus_item]
        in_v = sv >= 0
        c = np.bincount(
            sv[in_v] * n_groups + sus_group[in_v],
            weights=sus_w[in_v],
            minlength=n_values * n_groups,
        ).reshape(n_values, n_groups)
        n_sus = np.bincount(sv[in_v], minlength=n_values)
        out = []
        for v in range(n_values):
            nv = int(n[v])
            delta = float(-(effect * c[v]).sum() / nv) if nv else float("nan")
            se_d = float(np.sqrt(((se * c[v]) ** 2).sum()) / nv) if nv else float("nan")
            base = float(base_tot[v] / nv) if nv else float("nan")
            out.append(
                {
                    "score": base,
                    "score_corrected": base + delta,
                    "delta": delta,
                    "delta_ci": [delta - Z95 * se_d, delta + Z95 * se_d],
                    "items": nv,
                    "suspect_labels": int(n_sus[v]),
                }
            )
        return out

    out = by_value(np.zeros(table.n_items, dtype=np.int64), 1)[0]
    out["method"] = (
        "suspect labels shifted by their estimated leniency; delta-method CI from the leniency SEs"
    )
    out["per_model"] = []
    if table.has(MODEL):
        lay = item_layout(table, MODEL)
        res = by_value(lay.value_of_item, len(lay.values))
        out["per_model"] = [{"model": str(v), **r} for v, r in zip(lay.values, res, strict=True)]
        before = [r["model"] for r in sorted(out["per_model"], key=lambda r: -r["score"])]
        after = [r["model"] for r in sorted(out["per_model"], key=lambda r: -r["score_corrected"])]
        out["ranking_changed"] = before != after
    else:
        out["ranking_changed"] = False
    out["per_slice"] = []
    for col in table.slice_columns:
        lay = item_layout(table, col)
        res = by_value(lay.value_of_item, len(lay.values))
        out["per_slice"] += [
            {"slice_column": col, "slice_value": str(v), **r}
            for v, r in zip(lay.values, res, strict=True)
        ]
    return out
