"""Leniency evidence A and B: the v0.1 estimator, kept as diagnostics beside the joint model.

The audit's leniency, its CI and its test come from the joint labeler-effects
model (:mod:`evalaudit.stats.effects`, :mod:`evalaudit.stats.joint`). This
module's two kinds of evidence stay in the labelers table (``effect_overlap``,
``effect_stratified``, the item-mix imbalance check), combined by inverse
variance:

(A) *overlap*. On items with at least two labels, the residual of a label is
    its score minus the mean score of the *other* labels of the same item.
    A labeler's overlap effect is the mean of their residuals.
(B) *stratified*. On items with exactly one label, the labeler's mean score is
    compared with the mean score of other labelers' single labels within the
    same stratum (the combination of every item slice column and ``model``),
    pooled over strata with Mantel-Haenszel weights
    ``w_s = n_Ls n_Os / (n_Ls + n_Os)``. For binary labels this is the MH
    risk difference (Greenland & Robins 1985, doi:10.2307/2531175): a labeler
    who mostly grades an easy slice is compared with peers on that slice, so
    the slice's own pass rate does not show up as leniency.

Scores are on the label's scale (LabelTable): pass rate for binary labels
(0.05 = 5 points), rank scaled to [0, 1] for ordinal, raw units for interval.
Nominal labels without a passing value are tested one class at a time (the
labeler's over- or under-use of each class) and the class with the smallest
p-value is reported, its p-value Bonferroni-adjusted for the number of
classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalaudit.contract import MODEL, LabelKind
from evalaudit.stats.multitest import bh_qvalues, wald_p
from evalaudit.table import ITEM, LABELER, SCORE, VALUE, LabelTable

__all__ = ["LENIENCY_COLUMNS", "labeler_leniency", "overlap_residuals", "strata_codes"]

Z95 = float(stats.norm.ppf(0.975))
#: Pseudo-observations pulling a labeler's residual variance toward the pooled
#: one, so a labeler with few, all-agreeing labels does not get a zero SE.
VARIANCE_PRIOR_WEIGHT = 10.0
#: Pseudo-observations pulling a stratum's score variance toward the overall one.
STRATUM_PRIOR_WEIGHT = 2.0

LENIENCY_COLUMNS = (
    "labeler",
    "labeler_id",
    "n_labels",
    "share",
    "effect",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "evidence",
    "n_used",
    "n_overlap",
    "effect_overlap",
    "se_overlap",
    "n_stratified",
    "effect_stratified",
    "se_stratified",
    "n_unmatched",
    "raw_difference",
    "imbalance_tv",
    "imbalance_chi2",
    "imbalance_df",
    "imbalance_p",
    "label_class",
    "shrunk",
)


@dataclass(frozen=True)
class _Evidence:
    n: np.ndarray
    effect: np.ndarray
    var: np.ndarray


#: Additive sufficient statistics per group (see :func:`effects_from_sums`). Groups that
#: partition a labeler's labels (cells of one slice column, since strata include it) add
#: up to the labeler's, so "the labeler outside the cell" is a subtraction.
SUM_COLUMNS = ("a_n", "a_s1", "a_s2", "b_n", "b_w", "b_num", "b_vnum")


def strata_codes(table: LabelTable, columns: tuple[str, ...] | None = None) -> np.ndarray:
    """Stratum id per label: the combination of the given item columns.

    Defaults to every slice column plus ``model`` (pass rates differ by model
    as much as by slice). Returns int64 codes 0..S-1 (one stratum when there
    are no such columns).
    """
    f = table.frame
    if columns is None:
        columns = tuple(table.slice_columns) + ((MODEL,) if table.has(MODEL) else ())
    cache = table.extra.get("_strata")
    if cache is None or cache[0] is not f:
        cache = (f, {})
        table.extra["_strata"] = cache
    key = tuple(columns)
    if key in cache[1]:
        return cache[1][key]
    code = np.zeros(len(f), dtype=np.int64)
    for col in columns:
        c = f[col].cat.codes.to_numpy().astype(np.int64)
        code = code * (int(c.max()) + 1 if len(c) else 1) + c
    out = pd.factorize(code)[0]
    # int32 while it fits: the codes are held for the whole audit (4 bytes a label less)
    out = out.astype(np.int32 if len(out) < np.iinfo(np.int32).max else np.int64)
    out.flags.writeable = False  # shared by every caller on this table
    cache[1][key] = out
    return out


def overlap_residuals(item: np.ndarray, score: np.ndarray, n_items: int) -> np.ndarray:
    """Own score minus the mean of the other labels on the same item (NaN if no other label)."""
    m = np.bincount(item, minlength=n_items).astype(np.float64)
    s = np.bincount(item, weights=score, minlength=n_items)
    mi, si = m[item], s[item]
    with np.errstate(invalid="ignore", divide="ignore"):
        res = score - (si - score) / (mi - 1.0)
    res[mi < 2] = np.nan
    return res


def _overlap_sums(group: np.ndarray, res: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    ok = np.isfinite(res)
    g, r = group[ok], res[ok]
    return {
        "a_n": np.bincount(g, minlength=n_groups).astype(np.float64),
        "a_s1": np.bincount(g, weights=r, minlength=n_groups),
        "a_s2": np.bincount(g, weights=r * r, minlength=n_groups),
    }


def _overlap_from_sums(n: np.ndarray, s1: np.ndarray, s2: np.ndarray, pooled: float) -> _Evidence:
    """Mean residual and its variance, the residual variance shrunk toward ``pooled``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        ss = np.maximum(s2 - s1 * mean, 0.0)  # within-group sum of squares
        var_obs = (ss + VARIANCE_PRIOR_WEIGHT * pooled) / (n - 1.0 + VARIANCE_PRIOR_WEIGHT)
        var = var_obs / n
    mean = np.where(n < 2, np.nan, mean)
    var = np.where(n < 2, np.nan, var)
    return _Evidence(n, mean, var)


def _stratified_from_sums(
    n: np.ndarray, w: np.ndarray, num: np.ndarray, vnum: np.ndarray
) -> _Evidence:
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = num / w
        var = vnum / w**2
    bad = (n < 1) | (w <= 0)
    return _Evidence(n, np.where(bad, np.nan, effect), np.where(bad, np.nan, var))


_STRATUM_MEMO: list[Any] = []


def release_leniency_caches(table: LabelTable, score_parts: bool = True) -> None:
    """Forget the leniency pass's per-label caches: the single-labeled rows' copies
    (``table.extra`` and the stratum memo) and, with ``score_parts``, the overlap residuals.

    The copies serve :func:`labeler_leniency` only (its groups and per-class passes), so
    the audit drops them as soon as it returns (``score_parts=False``: ~16 bytes a label
    that would otherwise sit beside the joint model's first fit). The overlap residuals
    also feed the drift series (:func:`evalaudit.stats.drift.drift_residuals`), which runs
    beside the joint model: they go after detection. Recomputing any of them later is
    correct, only slower.
    """
    table.extra.pop("_single_rows", None)
    _STRATUM_MEMO.clear()
    if score_parts:
        release_score_parts(table)


def release_score_parts(table: LabelTable) -> None:
    """Forget the overlap residuals and masks of the labeler pass (``table.extra`` only):
    the drift series, once cached, keep their own."""
    table.extra.pop("_score_parts", None)


def _stratum_parts(labeler: np.ndarray, stratum: np.ndarray, score: np.ndarray) -> tuple[Any, ...]:
    """The per-stratum and per-(labeler, stratum) sums of :func:`_evidence_stratified`.

    They do not depend on the groups, and one audit asks for them with the same
    single-labeled rows for the labeler pass and every slice scan, so the last
    result is kept (and reused only for equal inputs).
    """
    # a copy first: another audit's thread (the dashboard runs one per session) may clear
    # or replace the memo between a check and the unpacking
    memo = list(_STRATUM_MEMO)
    if len(memo) == 4:
        lab0, st0, sc0, parts = memo
        if lab0 is labeler and st0 is stratum and sc0 is score:
            return parts
        if (
            lab0.shape == labeler.shape
            and np.array_equal(lab0, labeler)
            and np.array_equal(st0, stratum)
            and np.array_equal(sc0, score, equal_nan=True)
        ):
            return parts
    n_strata = int(stratum.max()) + 1 if len(stratum) else 1
    n_s = np.bincount(stratum, minlength=n_strata).astype(np.float64)
    t_s = np.bincount(stratum, weights=score, minlength=n_strata)
    q_s = np.bincount(stratum, weights=score * score, minlength=n_strata)
    n_all = n_s.sum()
    v_all = (q_s.sum() - t_s.sum() ** 2 / n_all) / max(n_all - 1.0, 1.0) if n_all else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        v_s = np.where(n_s > 1, (q_s - t_s**2 / n_s) / np.maximum(n_s - 1.0, 1.0), 0.0)
    v_s = ((n_s - 1.0).clip(0) * v_s + STRATUM_PRIOR_WEIGHT * v_all) / (
        (n_s - 1.0).clip(0) + STRATUM_PRIOR_WEIGHT
    )

    # the labeler's own rows per stratum (peers exclude them)
    key_l = labeler.astype(np.int64) * n_strata + stratum
    lcode, luniq = pd.factorize(key_l)
    ln = np.bincount(lcode).astype(np.float64)
    lt = np.bincount(lcode, weights=score)
    parts = (n_strata, n_s, t_s, v_s, n_all, ln, lt, pd.Index(luniq))
    _STRATUM_MEMO[:] = [labeler, stratum, score, parts]  # callers pass fresh arrays
    return parts


def _evidence_stratified(
    group: np.ndarray,
    labeler: np.ndarray,
    stratum: np.ndarray,
    score: np.ndarray,
    n_groups: int,
    group_labeler: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """MH-weighted difference vs other labelers' single labels in the same stratum (its sums).

    ``group`` and ``labeler`` index the rows (single-labeled items only); peers
    of a group are every label in the stratum not given by the group's labeler.
    """
    n_strata, n_s, t_s, v_s, n_all, ln, lt, luniq_index = _stratum_parts(labeler, stratum, score)

    # the group's rows per stratum
    key_g = group.astype(np.int64) * n_strata + stratum
    gcode, guniq = pd.factorize(key_g)
    gn = np.bincount(gcode).astype(np.float64)
    gt = np.bincount(gcode, weights=score)
    g_of = guniq // n_strata
    s_of = guniq % n_strata
    l_key = group_labeler[g_of].astype(np.int64) * n_strata + s_of
    lidx = luniq_index.get_indexer(l_key)
    n_o = n_s[s_of] - ln[lidx]
    t_o = t_s[s_of] - lt[lidx]
    matched = n_o > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        d = gt / gn - t_o / n_o
        w = gn * n_o / (gn + n_o)
    d = np.where(matched, d, 0.0)
    w = np.where(matched, w, 0.0)
    wsum = np.bincount(g_of, weights=w, minlength=n_groups)
    num = np.bincount(g_of, weights=w * d, minlength=n_groups)
    vnum = np.bincount(g_of, weights=w * v_s[s_of], minlength=n_groups)
    n_used = np.bincount(g_of, weights=np.where(matched, gn, 0.0), minlength=n_groups)
    n_unmatched = np.bincount(g_of, weights=np.where(matched, 0.0, gn), minlength=n_groups)
    sums = {"b_n": n_used, "b_w": wsum, "b_num": num, "b_vnum": vnum}

    # item-mix imbalance: the group's spread over strata vs everyone else's
    n_g = np.bincount(g_of, weights=gn, minlength=n_groups)
    qsum = np.bincount(g_of, weights=gn**2 / n_s[s_of], minlength=n_groups)
    others = n_all - n_g
    with np.errstate(invalid="ignore", divide="ignore"):
        chi2 = n_all / n_g * qsum - n_g + n_all / others * (n_all - 2 * n_g + qsum) - others
        a = gn / n_g[g_of]
        b = (n_s[s_of] - gn) / others[g_of]
        tv = 0.5 * (1.0 + np.bincount(g_of, weights=np.abs(a - b) - b, minlength=n_groups))
        raw = (
            np.bincount(g_of, weights=gt, minlength=n_groups) / n_g
            - (t_s.sum() - np.bincount(g_of, weights=gt, minlength=n_groups)) / others
        )
    df_ = float(max((n_s > 0).sum() - 1, 0))
    chi2 = np.where((n_g > 0) & (others > 0), np.maximum(chi2, 0.0), np.nan)
    p_imb = stats.chi2.sf(chi2, df_) if df_ > 0 else np.full(n_groups, np.nan)
    imbalance = {
        "imbalance_tv": np.where(n_g > 0, tv, np.nan),
        "imbalance_chi2": chi2,
        "imbalance_df": np.full(n_groups, df_),
        "imbalance_p": np.where(np.isfinite(chi2), p_imb, np.nan),
        "raw_difference": np.where(n_g > 0, raw, np.nan),
    }
    return sums, n_unmatched, imbalance


def _combine(a: _Evidence, b: _Evidence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse-variance combination; evidence code 1 = overlap, 2 = stratified, 3 = both."""
    ok_a = np.isfinite(a.effect) & np.isfinite(a.var) & (a.var > 0)
    ok_b = np.isfinite(b.effect) & np.isfinite(b.var) & (b.var > 0)
    wa = np.where(ok_a, 1.0 / np.where(ok_a, a.var, 1.0), 0.0)
    wb = np.where(ok_b, 1.0 / np.where(ok_b, b.var, 1.0), 0.0)
    wsum = wa + wb
    with np.errstate(invalid="ignore", divide="ignore"):
        effect = (wa * np.nan_to_num(a.effect) + wb * np.nan_to_num(b.effect)) / wsum
        var = 1.0 / wsum
    code = ok_a.astype(int) + 2 * ok_b.astype(int)
    effect[code == 0] = np.nan
    var[code == 0] = np.nan
    return effect, var, code


_EVIDENCE_NAMES = {0: "none", 1: "overlap", 2: "stratified", 3: "overlap+stratified"}


def effects_from_sums(sums: dict[str, np.ndarray], a_pooled: float) -> pd.DataFrame:
    """Effect, SE, CI, p and evidence columns from the additive sums of :data:`SUM_COLUMNS`."""
    a = _overlap_from_sums(sums["a_n"], sums["a_s1"], sums["a_s2"], a_pooled)
    b = _stratified_from_sums(sums["b_n"], sums["b_w"], sums["b_num"], sums["b_vnum"])
    effect, var, code = _combine(a, b)
    se = np.sqrt(var)
    return pd.DataFrame(
        {
            "effect": effect,
            "se": se,
            "ci_low": effect - Z95 * se,
            "ci_high": effect + Z95 * se,
            "p_value": wald_p(effect, se),
            "evidence": [_EVIDENCE_NAMES[int(c)] for c in code],
            "n_used": (
                np.where(np.isfinite(a.effect), a.n, 0) + np.where(np.isfinite(b.effect), b.n, 0)
            ).astype(np.int64),
            "n_overlap": a.n.astype(np.int64),
            "effect_overlap": a.effect,
            "se_overlap": np.sqrt(a.var),
            "n_stratified": b.n.astype(np.int64),
            "effect_stratified": b.effect,
            "se_stratified": np.sqrt(b.var),
        }
    )


def _score_parts(
    table: LabelTable, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """What :func:`estimate_groups` needs of the table whatever the groups.

    Rows with a score, their overlap residuals, the rows of single-labeled
    items, and the pooled residual variance. Computed once per (table frame,
    score) and kept in ``table.extra``: the labeler pass, every slice scan and
    the suspects re-estimate group the same rows.
    """
    cached = table.extra.get("_score_parts")
    if (
        cached is not None
        and cached[0] is table.frame
        and cached[1].shape == score.shape
        and (_same_buffer(cached[1], score) or np.array_equal(cached[1], score, equal_nan=True))
    ):
        return cached[2]
    f = table.frame
    item = f[ITEM].to_numpy()
    ok = np.isfinite(score)
    res = np.full(len(f), np.nan)
    res[ok] = overlap_residuals(item[ok], score[ok], table.n_items)
    m = np.bincount(item[ok], minlength=table.n_items)
    single = ok & (m[item] == 1)
    # the shrinkage target is a property of the table, not of how rows are grouped, so a
    # labeler's estimate is the same whether computed alone or as cells minus a cell
    finite = np.isfinite(res)
    a_pooled = float(np.var(res[finite], ddof=1)) if finite.sum() > 1 else 0.0
    parts = (ok, res, single, a_pooled)
    # keep the caller's array itself (usually a view of the frame's score column, which
    # nothing writes to): the next view of the same column is recognised by its address
    # without a 10^7-element compare, and holding the array keeps that memory from being
    # handed to another array in the meantime
    table.extra["_score_parts"] = (table.frame, score, parts)
    return parts


def _single_rows(
    table: LabelTable,
    single: np.ndarray,
    labeler: np.ndarray,
    stratum: np.ndarray,
    score: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``labeler``, ``stratum`` and ``score`` on the ``single`` rows, kept per table.

    The labeler pass and every slice scan ask with the same ``single`` mask (from
    :func:`_score_parts`) and the same cached ``stratum``; returning the same
    arrays lets :func:`_stratum_parts` recognise them without comparing 10^7 values.
    """
    cached = table.extra.get("_single_rows")
    if (
        cached is not None
        and cached[0] is single
        and cached[1] is stratum
        and _same_buffer(cached[2], score)
    ):
        out: tuple[np.ndarray, np.ndarray, np.ndarray] = cached[3]
        return out
    out = (labeler[single], stratum[single], score[single])
    for a in out:
        a.flags.writeable = False
    table.extra["_single_rows"] = (single, stratum, score, out)
    return out


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are views of the very same memory (same start, shape, strides)."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def estimate_groups(
    table: LabelTable,
    score: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    group_labeler: np.ndarray,
    stratum: np.ndarray,
) -> pd.DataFrame:
    """Leniency of arbitrary groups of one labeler's labels (a labeler, or a labeler x slice cell).

    ``group`` is a per-row group code (-1 = not in any group); the peers of a
    group are all other labelers. Returns one row per group code with the
    evidence columns of :data:`LENIENCY_COLUMNS` (no q-values, no ids).
    """
    f = table.frame
    labeler = f[LABELER].to_numpy()
    ok, res, single, a_pooled = _score_parts(table, score)
    in_group = group >= 0
    sums = _overlap_sums(group[in_group & ok], res[in_group & ok], n_groups)

    # peers for (B) are every single label; the group's own rows are those with group >= 0
    g_single = group[single]
    b_rows = g_single >= 0
    # rows outside any group still count as peers: give them a dummy group n_groups
    g_all = np.where(b_rows, g_single, n_groups)
    lab_s, stratum_s, score_s = _single_rows(table, single, labeler, stratum, score)
    b_sums, n_unmatched, imb = _evidence_stratified(
        g_all, lab_s, stratum_s, score_s, n_groups + 1, np.append(group_labeler, -1)
    )
    sums.update({k: v[:n_groups] for k, v in b_sums.items()})
    out = effects_from_sums(sums, a_pooled)
    out["n_unmatched"] = n_unmatched[:n_groups].astype(np.int64)
    for k in SUM_COLUMNS:
        out[k] = sums[k]
    out.attrs["a_pooled"] = a_pooled
    for k, v in imb.items():
        out[k] = v[:n_groups]
    return out


def labeler_leniency(table: LabelTable, strata: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per-labeler leniency with 95% CI, p-value and BH q-value.

    Parameters
    ----------
    table:
        The validated labels. Rows with a NaN score (nominal labels without a
        passing class) are tested class by class, see the module docstring.
    strata:
        Item columns whose combinations define the strata of evidence (B).
        Default: every slice column plus ``model``.

    Returns
    -------
    DataFrame with one row per labeler (all labelers, in code order) and the
    columns of :data:`LENIENCY_COLUMNS`:

    - ``effect``: inverse-variance combination of the overlap effect (A) and
      the stratified effect (B), positive = more lenient than peers; ``se``,
      ``ci_low``/``ci_high`` (normal 95% interval), ``p_value`` (two-sided z
      test), ``q_value`` (Benjamini-Hochberg across labelers with a p-value);
    - ``evidence``: which of A and B was used; ``n_used``, ``n_overlap``,
      ``n_stratified`` the labels behind each; ``n_unmatched`` the labeler's
      single labels in strata where no other labeler has labels (unusable);
    - ``shrunk``: the empirical-Bayes shrunken effect (:func:`shrink_effects`),
      the order in which labelers are ranked;
    - ``raw_difference``: the unstratified difference of single-label means;
      its gap to ``effect_stratified`` is how much the item mix explained;
    - ``imbalance_*``: the item-mix check (B assumes items are assigned to
      labelers at random *within* strata; across strata the mix may differ,
      which is what stratification corrects): total variation distance
      between the labeler's and the others' distribution over strata, and a
      chi-square test of homogeneity of the 2 x S table.

    Notes
    -----
    (A) The SE is from the labeler's residuals (one per item, items assumed
    independent), with the variance shrunk toward the residual variance of
    the whole table by :data:`VARIANCE_PRIOR_WEIGHT` pseudo-observations. A lenient
    peer pulls a residual by delta/(m-1): it dilutes the lenient labeler's own
    effect, and it *shifts every honest co-labeler's effect by -delta/(m-1)*
    on the items they share (measured: honest labelers 1-3 points severe when a
    poisoner is present). That leak is why the audit's leniency comes from the
    joint model of :mod:`evalaudit.stats.effects`; this estimator is kept as
    the diagnostic evidence A/B columns.
    (B) ``Var = sum_s w_s v_s / (sum_s w_s)^2`` with ``v_s`` the stratum's
    pooled score variance (for binary labels the CMH null variance), shrunk
    toward the overall variance by :data:`STRATUM_PRIOR_WEIGHT`
    pseudo-observations so strata where everyone agrees do not get zero
    variance.
    A and B use disjoint items (multi- vs single-labeled), so their
    estimates are independent and the inverse-variance combination is valid
    under the assumption that the labeler's bias is the same on both.
    """
    f = table.frame
    labeler = f[LABELER].to_numpy().astype(np.int64)
    n_lab = table.n_labelers
    stratum = strata_codes(table, strata)
    group_labeler = np.arange(n_lab)
    if table.kind is LabelKind.NOMINAL and not np.isfinite(f[SCORE].to_numpy()).any():
        out = _per_class(table, labeler, n_lab, group_labeler, stratum)
    else:
        out = estimate_groups(table, f[SCORE].to_numpy(), labeler, n_lab, group_labeler, stratum)
        out["label_class"] = table.positive
    n_labels = np.bincount(labeler, minlength=n_lab)
    items_per_labeler = n_labels  # one label per (item, labeler)
    out.insert(0, "labeler", np.arange(n_lab))
    out.insert(1, "labeler_id", table.labeler_ids.to_numpy())
    out.insert(2, "n_labels", n_labels)
    out.insert(3, "share", items_per_labeler / max(table.n_items, 1))
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy())
    out["shrunk"] = shrink_effects(out["effect"].to_numpy(), out["se"].to_numpy())
    return out[list(LENIENCY_COLUMNS)]


def shrink_effects(effect: np.ndarray, se: np.ndarray, min_tau: float = 0.0) -> np.ndarray:
    """Empirical-Bayes posterior means of effects under a normal prior N(0, tau^2).

    ``tau^2`` is the method-of-moments estimate ``mean(effect^2) - mean(se^2)``
    over the finite estimates (a prior centred on 0: a typical labeler agrees
    with peers), floored at ``min_tau^2``. Each effect is pulled toward 0 by
    ``tau^2 / (tau^2 + se^2)``, so a +7 pt estimate from 80 labels ranks below
    a +7 pt estimate from 700. The floor matters when nearly every labeler is
    clean: the moment estimate is then 0 and would shrink everything to 0,
    losing the ranking; the audit sets ``min_tau`` to the policy's minimum
    effect (a bias of that size is one prior SD). Used for *ranking* only;
    tests and flags use the unshrunk estimate. Reference: Efron & Morris
    (1975), doi:10.1080/01621459.1975.10479864.

    tau^2 = mean(e^2) - mean(se^2) = 0.01 - 0.00505 = 0.00495, so the factors
    are 0.00495 / 0.00505 and 0.00495 / 0.01495:

    >>> shrink_effects(np.array([0.1, 0.1]), np.array([0.01, 0.1])).round(3).tolist()
    [0.098, 0.033]
    """
    ok = np.isfinite(effect) & np.isfinite(se)
    out = np.full(len(effect), np.nan)
    if not ok.any():
        return out
    tau2 = max(float(np.mean(effect[ok] ** 2) - np.mean(se[ok] ** 2)), min_tau**2, 0.0)
    out[ok] = effect[ok] * tau2 / (tau2 + se[ok] ** 2) if tau2 > 0 else 0.0
    return out
    tau2 = max(float(np.mean(effect[ok] ** 2) - np.mean(se[ok] ** 2)), 0.0)
    out[ok] = effect[ok] * tau2 / (tau2 + se[ok] ** 2) if tau2 > 0 else 0.0
    return out


def _per_class(
    table: LabelTable,
    labeler: np.ndarray,
    n_lab: int,
    group_labeler: np.ndarray,
    stratum: np.ndarray,
) -> pd.DataFrame:
    value = table.frame[VALUE].to_numpy()
    best: pd.DataFrame | None = None
    k = len(table.categories)
    for c, name in enumerate(table.categories):
        est = estimate_groups(
            table, (value == c).astype(np.float64), labeler, n_lab, group_labeler, stratum
        )
        est["label_class"] = name
        if best is None:
            best = est
        else:
            better = est["p_value"].fillna(2.0) < best["p_value"].fillna(2.0)
            best = best.where(~better, est)
    assert best is not None
    best["p_value"] = np.minimum(best["p_value"] * k, 1.0)
    return best
