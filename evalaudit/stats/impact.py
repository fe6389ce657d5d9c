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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import MODEL, LabelKind
from evalaudit.stats.leniency import Z95
from evalaudit.table import ITEM, SCORE, LabelTable

__all__ = ["headline_impact"]


@dataclass(frozen=True)
class _Base:
    """What every headline of one table shares, whatever the suspect labels.

    ``cnt``: labels per item (int32); ``orig``: item scores (mean of their labels);
    ``shift``: the mean item score, subtracted before squaring so that variances
    from sums do not lose precision (the shifted-data algorithm).
    """

    item: np.ndarray
    score: np.ndarray
    cnt: np.ndarray
    orig: np.ndarray
    shift: float
    #: scores on the [0, 1] scale (binary, ordinal): a mean's interval stays inside it
    bounded: bool = False


@dataclass(frozen=True)
class ItemGroups:
    """Items grouped by their (first label's) value of one column.

    ``values`` in groupby order (observed values only); ``value_of_item`` each
    item's position in ``values`` (-1: none); ``n`` items per value; ``s1`` and
    ``s2`` the sums of ``orig - shift`` and its square per value.
    """

    values: list[Any]
    value_of_item: np.ndarray
    n: np.ndarray
    s1: np.ndarray
    s2: np.ndarray


def _base(table: LabelTable) -> _Base | None:
    """The :class:`_Base` of ``table`` (None without scores), computed once per frame."""
    cached = table.extra.get("_headline_base")
    if cached is not None and cached[0] is table.frame:
        out: _Base | None = cached[1]
        return out
    f = table.frame
    score = f[SCORE].to_numpy()
    base = None
    if np.isfinite(score).all():
        item = f[ITEM].to_numpy()
        cnt = np.bincount(item, minlength=table.n_items).astype(np.int32)
        with np.errstate(invalid="ignore", divide="ignore"):
            orig = np.bincount(item, weights=score, minlength=table.n_items)
            orig /= cnt
        shift = float(orig.mean()) if len(orig) else 0.0
        bounded = table.kind is not LabelKind.INTERVAL
        base = _Base(item, score, cnt, orig, shift, bounded)
    table.extra["_headline_base"] = (table.frame, base)
    return base


def item_groups(table: LabelTable, column: str | None) -> ItemGroups:
    """The :class:`ItemGroups` of ``column`` (``None``: one group of every item),
    computed once per table frame (the headline and its variants ask several times)."""
    cache = table.extra.get("_item_groups")
    if cache is None or cache[0] is not table.frame:
        cache = (table.frame, {})
        table.extra["_item_groups"] = cache
    groups: dict[Any, Any] = cache[1]
    if column not in groups:
        base = _base(table)
        assert base is not None, "item groups need scores"
        if column is None:
            names: list[Any] = ["(all)"]
            value_of_item = np.zeros(table.n_items, dtype=np.int8)
        else:
            names, value_of_item = _values_of_items(table, column)
        value_of_item.flags.writeable = False
        x = base.orig - base.shift
        has = value_of_item >= 0
        v, k = value_of_item[has], len(names)
        groups[column] = ItemGroups(
            names,
            value_of_item,
            np.bincount(v, minlength=k).astype(float),
            np.bincount(v, weights=x[has], minlength=k),
            np.bincount(v, weights=(x * x)[has], minlength=k),
        )
    out: ItemGroups = groups[column]
    return out


def items_in(table: LabelTable, columns: list[str], values: list[str]) -> np.ndarray:
    """Per item: whether its (first label's) value of each column is the given one."""
    mask = np.ones(table.n_items, dtype=bool)
    for col, val in zip(columns, values, strict=True):
        g = item_groups(table, col)
        names = [str(v) for v in g.values]
        if val not in names:
            return np.zeros(table.n_items, dtype=bool)
        mask &= g.value_of_item == names.index(val)
    return mask


def item_scores(table: LabelTable) -> tuple[np.ndarray, np.ndarray] | None:
    """Each item's score (mean of its labels) and its number of labels; None without scores."""
    base = _base(table)
    return None if base is None else (base.orig, base.cnt)


def _values_of_items(table: LabelTable, column: str) -> tuple[list[Any], np.ndarray]:
    """Each item's (first label's) value of ``column`` as a position in the observed values,
    in groupby order (category order for a categorical, else sorted)."""
    f = table.frame
    item = f[ITEM].to_numpy()
    rows = np.flatnonzero(table.first_rows())  # the first label of each item
    values = pd.Series(f[column].iloc[rows].array)
    vcode, uniques = pd.factorize(values, sort=True)
    names = list(uniques)
    if isinstance(values.dtype, pd.CategoricalDtype):
        pos = {c: i for i, c in enumerate(values.cat.categories)}
        order = sorted(range(len(names)), key=lambda i: pos[names[i]])
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        vcode = np.where(vcode >= 0, rank[np.maximum(vcode, 0)], -1)
        names = [names[i] for i in order]
    # the smallest integer type that holds the positions (one per item, kept per column)
    dtype = np.int8 if len(names) < 2**7 else np.int16 if len(names) < 2**15 else np.int64
    value_of_item = np.full(table.n_items, -1, dtype=dtype)
    value_of_item[item[rows]] = vcode  # missing values belong to no group (as in groupby)
    return names, value_of_item


def _mean_sd(n: np.ndarray, s1: np.ndarray, s2: np.ndarray, shift: float) -> tuple[Any, Any]:
    """Mean and sample SD (ddof 1) from the count and the sums of ``x - shift`` and its square."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, shift + s1 / n, np.nan)
        var = np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1.0)
        sd = np.where(n > 1, np.sqrt(var), np.nan)
    return mean, sd


def _ci(mean: float, sd: float, n: float) -> list[float]:
    if n < 2:
        return [float("nan"), float("nan")]
    se = sd / np.sqrt(n)
    return [float(mean - Z95 * se), float(mean + Z95 * se)]


def _score_ci(mean: float, sd: float, n: float, bounded: bool) -> list[float]:
    """95% CI of a mean item score: the normal interval (:func:`_ci`); on a bounded [0, 1]
    scale cut to it, and when every item sits at a bound (all pass, all fail: SD 0, where
    the normal interval has no width) the exact Clopper-Pearson interval of n out of n
    items, ``[0.025^(1/n), 1]`` (or its mirror), as for Bernoulli items (Clopper & Pearson
    1934, Biometrika 26:404-413)."""
    lo, hi = _ci(mean, sd, n)
    if not bounded or not (np.isfinite(lo) and np.isfinite(hi)):
        return [lo, hi]
    if sd == 0 and mean in (0.0, 1.0):
        b = float(0.025 ** (1.0 / n))
        return [b, 1.0] if mean == 1.0 else [0.0, 1.0 - b]
    return [max(lo, 0.0), min(hi, 1.0)]


@dataclass(frozen=True)
class _Touched:
    """The items that hold a suspect label (the only items whose score can move)."""

    items: np.ndarray  # item codes
    orig: np.ndarray  # their scores with every label
    cf: np.ndarray  # without the suspect labels; NaN where none is left


def _touched(base: _Base, suspect: np.ndarray, n_items: int) -> _Touched:
    sus_item = base.item[suspect]
    sus_cnt = np.bincount(sus_item, minlength=n_items)
    items = np.flatnonzero(sus_cnt)
    sus_tot = np.bincount(sus_item, weights=base.score[suspect], minlength=n_items)[items]
    cnt2 = base.cnt[items] - sus_cnt[items]
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = base.orig[items] * base.cnt[items]  # the item's score total
        cf = np.where(cnt2 > 0, (tot - sus_tot) / cnt2, np.nan)
    return _Touched(items, base.orig[items], cf)


def _impacts(base: _Base, groups: ItemGroups, t: _Touched) -> list[dict[str, Any]]:
    """The paired comparison of each group of items.

    Untouched items keep their score (``cf = orig``, difference 0), so every
    counterfactual sum is the group's baseline sum corrected on the touched items.
    """
    k = len(groups.values)
    v = groups.value_of_item[t.items].astype(np.int64)
    has = v >= 0
    v, orig, cf = v[has], t.orig[has], t.cf[has]
    kept = np.isfinite(cf)
    c = base.shift

    def per(weights: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(v[mask], weights=w, minlength=k).astype(float)

    dropped = ~kept
    x_o, x_cf = orig - c, cf - c
    d = cf - orig
    # the item score over kept items: the baseline less the dropped items
    n_kept = groups.n - per(None, dropped)
    s1_ok = groups.s1 - per(x_o, dropped)
    s2_ok = groups.s2 - per(x_o * x_o, dropped)
    # the counterfactual score over kept items: kept-item sums with touched items swapped
    s1_cf = s1_ok - per(x_o, kept) + per(x_cf, kept)
    s2_cf = s2_ok - per(x_o * x_o, kept) + per(x_cf * x_cf, kept)
    # the paired difference: 0 on untouched items
    s1_d, s2_d = per(d, kept), per(d * d, kept)
    changed = per(None, dropped | (kept & (cf != orig)))

    m_o, sd_o = _mean_sd(groups.n, groups.s1, groups.s2, c)
    m_ok, _ = _mean_sd(n_kept, s1_ok, s2_ok, c)
    m_cf, sd_cf = _mean_sd(n_kept, s1_cf, s2_cf, c)
    m_d, sd_d = _mean_sd(n_kept, s1_d, s2_d, 0.0)
    out = []
    for j in range(k):
        n, nk = int(groups.n[j]), int(n_kept[j])
        out.append(
            {
                "score": float(m_o[j]),
                "ci": _score_ci(m_o[j], sd_o[j], n, base.bounded),
                "score_without_suspects": float(m_cf[j]),
                "ci_without_suspects": _score_ci(m_cf[j], sd_cf[j], nk, base.bounded),
                "delta": float(m_d[j]),
                "delta_ci": [0.0, 0.0] if changed[j] == 0 else _ci(m_d[j], sd_d[j], nk),
                "items": n,
                "items_dropped": n - nk,
                "score_kept_items": float(m_ok[j]),
            }
        )
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
    base = _base(table)
    if base is None:
        return None
    t = _touched(base, np.asarray(suspect, dtype=bool), table.n_items)
    out = _impacts(base, item_groups(table, None), t)[0]
    out["method"] = "item-level (clustered) normal CI; paired over items that keep a label"

    def after(r: dict[str, Any]) -> float:
        return float(np.nan_to_num(r["score_without_suspects"], nan=-1))

    out.update(_breakdown(table, lambda g: _impacts(base, g, t), after))
    return out


def _breakdown(
    table: LabelTable,
    rows_of: Callable[[ItemGroups], list[dict[str, Any]]],
    after: Callable[[dict[str, Any]], float],
) -> dict[str, Any]:
    """``per_model``, ``ranking_changed`` and ``per_slice`` of one headline.

    ``rows_of`` gives the record of each value of an :class:`ItemGroups`; the models'
    order by ``score`` is compared with their order by ``after`` (the counterfactual).
    """
    out: dict[str, Any] = {"per_model": [], "ranking_changed": False, "per_slice": []}
    if table.has(MODEL):
        g = item_groups(table, MODEL)
        out["per_model"] = [
            {"model": str(v), **r} for v, r in zip(g.values, rows_of(g), strict=True)
        ]
        before = [r["model"] for r in sorted(out["per_model"], key=lambda r: -r["score"])]
        later = [r["model"] for r in sorted(out["per_model"], key=lambda r: -after(r))]
        out["ranking_changed"] = before != later
    for col in table.slice_columns:
        g = item_groups(table, col)
        out["per_slice"] += [
            {"slice_column": col, "slice_value": str(v), **r}
            for v, r in zip(g.values, rows_of(g), strict=True)
        ]
    return out


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def headline_corrected(
    table: LabelTable,
    group: np.ndarray,
    effect: np.ndarray,
    se: np.ndarray,
    *,
    cov: np.ndarray | None = None,
    centre: np.ndarray | None = None,
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

    ``cov`` (groups x groups), when given, is the joint covariance of the
    groups' estimates (they share peers and baselines), used instead of the
    independent ``se``: ``se(delta) = sqrt(c' cov c) / N``. With no suspect
    label the record says ``applied: false`` and "no correction applied", with
    ``delta`` 0 and no interval (``delta_ci`` and ``score_corrected_ci``
    None): there is nothing whose uncertainty an interval could describe.

    ``centre`` (by group), when given, is where each group's interval is centred
    when that is not its point estimate (a selection-adjusted interval is not
    symmetric about the conditional MLE): the CI is ``delta_c +- 1.96 se`` with
    ``delta_c`` computed from ``centre`` as ``delta`` is from ``effect``.
    """
    base = _base(table)
    if base is None:
        return None
    sus_rows = np.flatnonzero(np.asarray(group) >= 0)
    sus_item = base.item[sus_rows]
    sus_group = np.asarray(group)[sus_rows]
    sus_w = 1.0 / base.cnt[sus_item]  # the label's weight in its item's mean
    n_groups = len(effect)

    def by_value(groups: ItemGroups) -> list[dict[str, Any]]:
        """The corrected headline of each group of items."""
        k = len(groups.values)
        sv = groups.value_of_item[sus_item].astype(np.int64)
        in_v = sv >= 0
        c = np.bincount(
            sv[in_v] * n_groups + sus_group[in_v], weights=sus_w[in_v], minlength=k * n_groups
        ).reshape(k, n_groups)
        n_sus = np.bincount(sv[in_v], minlength=k)
        out = []
        for v in range(k):
            nv = int(groups.n[v])
            delta = float(-(effect * c[v]).sum() / nv) if nv else float("nan")
            mid = float(-(centre * c[v]).sum() / nv) if nv and centre is not None else delta
            if cov is not None:
                var = float(c[v] @ cov @ c[v])
                se_d = float(np.sqrt(max(var, 0.0)) / nv) if nv else float("nan")
            else:
                se_d = float(np.sqrt(((se * c[v]) ** 2).sum()) / nv) if nv else float("nan")
            score = float(base.shift + groups.s1[v] / nv) if nv else float("nan")
            applied = bool(n_sus[v] > 0)
            ci = [mid - Z95 * se_d, mid + Z95 * se_d] if applied else None
            out.append(
                {
                    "score": score,
                    "score_corrected": score + delta,
                    "delta": delta,
                    "delta_ci": ci,
                    "score_corrected_ci": [score + ci[0], score + ci[1]] if ci else None,
                    "applied": applied,
                    "note": None if applied else "no correction applied",
                    "items": nv,
                    "suspect_labels": int(n_sus[v]),
                }
            )
        return out

    out = by_value(item_groups(table, None))[0]
    out["method"] = (
        "suspect labels shifted by their estimated leniency; delta-method CI from the leniency SEs"
    )
    out.update(_breakdown(table, by_value, lambda r: r["score_corrected"]))
    return out
