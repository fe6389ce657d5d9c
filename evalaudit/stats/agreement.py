"""Inter-labeler agreement: Krippendorff's alpha and Cohen's kappa on the long label table.

Every function here works on the long arrays of a :class:`~evalaudit.table.LabelTable`
(one row per label) with grouped aggregations (``np.bincount``); none builds a dense
labeler x item matrix (DESIGN section 3). The dense ``krippendorff`` package is the
reference the tests compare against on small inputs.

Conventions shared by every function:

- A *unit* is an item. A unit with fewer than two labels is not *pairable*: it carries
  no information about agreement and is ignored by alpha and kappa (Krippendorff 2011).
- Missing labels are absent rows. They are never a category (the nltk trap, nltk
  issue #2865): :func:`krippendorff_alpha` raises ``ValueError`` on NaN/None values.
- When the expected disagreement is 0 (all pairable values equal) alpha is undefined
  and returned as NaN; likewise when no unit is pairable.

References
----------
Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School
for Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43

Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard reliability
measure for coding data. Communication Methods and Measures, 1(1), 77-89.
https://doi.org/10.1080/19312450709336664
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.table import ITEM, LABELER, SCORE, VALUE, LabelTable

__all__ = [
    "LEVELS",
    "LEVEL_FOR_KIND",
    "MAX_LABELS_PAIRWISE",
    "AlphaResult",
    "alpha_by_group",
    "alpha_for_table",
    "krippendorff_alpha",
    "labeler_agreement",
    "pairwise_kappa",
]

#: Levels of measurement supported by :func:`krippendorff_alpha`.
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval")

#: The alpha level used for each label kind (binary labels are two nominal categories).
LEVEL_FOR_KIND: dict[LabelKind, str] = {
    LabelKind.BINARY: "nominal",
    LabelKind.NOMINAL: "nominal",
    LabelKind.ORDINAL: "ordinal",
    LabelKind.INTERVAL: "interval",
}

#: :func:`pairwise_kappa` skips items with more labels than this (bounds the self-join).
MAX_LABELS_PAIRWISE = 20

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with the quantities it is made of.

    Attributes
    ----------
    alpha:
        ``1 - D_o / D_e``; NaN when not computable (no pairable unit, or ``D_e == 0``).
    level:
        Level of measurement: ``"nominal"``, ``"ordinal"`` or ``"interval"``.
    n_units:
        Pairable units (items with at least two labels).
    n_values:
        Pairable values (labels on pairable units), ``n`` in Krippendorff (2011).
    observed_disagreement:
        ``D_o = sum_ck o_ck delta2_ck / n``; NaN when ``n < 2``.
    expected_disagreement:
        ``D_e = sum_ck n_c n_k delta2_ck / (n (n - 1))``; NaN when ``n < 2``.
    """

    alpha: float
    level: str
    n_units: int
    n_values: int
    observed_disagreement: float
    expected_disagreement: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN floats become ``None``."""
        return {
            "alpha": _none_if_nan(self.alpha),
            "level": self.level,
            "n_units": self.n_units,
            "n_values": self.n_values,
            "observed_disagreement": _none_if_nan(self.observed_disagreement),
            "expected_disagreement": _none_if_nan(self.expected_disagreement),
        }


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


# ----------------------------------------------------------------- input checking
def _check_level(level: str) -> str:
    level = str(level)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return level


def _as_items(items: npt.ArrayLike) -> IntArray:
    arr = np.asarray(items)
    if arr.ndim != 1:
        raise ValueError("items must be a 1-D array of integer unit codes")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"items must be integer unit codes, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if out.min() < 0:
        raise ValueError("items must be non-negative integer codes")
    return out


def _as_interval_values(values: npt.ArrayLike) -> FloatArray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("interval values must be numbers") from exc
    if x.ndim != 1:
        raise ValueError("values must be a 1-D array")
    if not np.isfinite(x).all():
        raise ValueError(
            "values contain NaN/None or infinities: drop missing labels before computing "
            "alpha (a missing label is never a category)"
        )
    return x


def _as_category_codes(values: npt.ArrayLike, n_categories: int | None) -> tuple[IntArray, int]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError("values must be a 1-D array")
    if arr.dtype.kind not in "iu":
        try:
            f = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "nominal/ordinal values must be integer category codes 0..K-1"
            ) from exc
        if np.isnan(f).any():
            raise ValueError(
                "values contain NaN/None: drop missing labels before computing alpha "
                "(a missing label is never a category)"
            )
        if not (np.isfinite(f).all() and (f == np.round(f)).all()):
            raise ValueError("nominal/ordinal values must be integer category codes 0..K-1")
        arr = f
    codes = arr if arr.dtype.kind in "iu" else arr.astype(np.int64)
    observed = int(codes.max()) + 1 if codes.size else 0
    k = observed if n_categories is None else int(n_categories)
    if codes.size and (codes.min() < 0 or observed > k):
        raise ValueError(f"category codes must lie in 0..{k - 1}")
    return codes, k


# ------------------------------------------------------------------ shared kernels
@dataclass(frozen=True)
class _Pairable:
    rows: npt.NDArray[np.bool_]  # mask over input rows: label on a pairable unit
    unit: IntArray  # compact unit index 0..U-1 of each pairable row
    m: FloatArray  # labels per pairable unit (m_u >= 2)


def _pairable(items: IntArray) -> _Pairable:
    if items.size == 0:
        return _Pairable(np.zeros(0, dtype=bool), np.zeros(0, np.int64), np.zeros(0))
    m_all = np.bincount(items)
    keep = m_all >= 2
    rows = keep[items]
    compact = np.cumsum(keep) - 1
    return _Pairable(rows, compact[items[rows]], m_all[keep].astype(np.float64))


def _value_counts(unit: IntArray, codes: IntArray, n_units: int, k: int) -> IntArray:
    """Units x K matrix of n_uc (how many labels of unit u have category c)."""
    flat = np.bincount(unit * k + codes, minlength=n_units * k)
    return flat.reshape(n_units, k)


def _coincidence(counts: IntArray, m: FloatArray) -> FloatArray:
    """o_ck = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1) over pairable units."""
    weighted = counts * (1.0 / (m - 1.0))[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o


def _delta2(level: str, n_c: FloatArray) -> FloatArray:
    """Squared distance delta^2_ck, shape ``n_c.shape + (K,)``.

    Nominal: ``[c != k]``. Ordinal (Krippendorff 2011):
    ``(sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2`` with ``n_g`` the pairable marginals.
    """
    k = n_c.shape[-1]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(k), (*n_c.shape, k))
    idx = np.arange(k)
    lo = np.minimum(idx[:, None], idx[None, :])
    hi = np.maximum(idx[:, None], idx[None, :])
    cs = np.cumsum(n_c, axis=-1)
    between = cs[..., hi] - cs[..., lo] + n_c[..., lo]
    return (between - (n_c[..., :, None] + n_c[..., None, :]) / 2.0) ** 2


def _alpha_from_coincidence(
    o: FloatArray, n_c: FloatArray, level: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """alpha, D_o, D_e from coincidences ``o`` (..., K, K) and exact marginals ``n_c`` (..., K)."""
    n = n_c.sum(axis=-1)
    d = _delta2(level, n_c)
    do_sum = (o * d).sum(axis=(-2, -1))
    de_sum = (n_c[..., :, None] * n_c[..., None, :] * d).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where((n >= 2) & (de_sum > 0), 1.0 - (n - 1.0) * do_sum / de_sum, np.nan)
        d_o = np.where(n >= 2, do_sum / n, np.nan)
        d_e = np.where(n >= 2, de_sum / (n * (n - 1.0)), np.nan)
    return alpha, d_o, d_e


@dataclass(frozen=True)
class _IntervalParts:
    y: FloatArray  # pairable values centred on their pooled mean
    s1: FloatArray  # per-unit sum of y
    ss: FloatArray  # per-unit sum of squares about the unit mean
    dev: FloatArray  # y minus its unit mean, per row
    do_sum: float  # sum_u 2 m_u ss_u / (m_u - 1)
    de_sum: float  # 2 n * pooled sum of squares
    distinct: int  # distinct pairable values


def _interval_parts(pr: _Pairable, x: FloatArray) -> _IntervalParts:
    n_units = pr.m.size
    centre = float(x.mean()) if x.size else 0.0
    y = x - centre
    s1 = np.bincount(pr.unit, weights=y, minlength=n_units)
    dev = y - (s1 / pr.m)[pr.unit] if n_units else y
    ss = np.bincount(pr.unit, weights=dev * dev, minlength=n_units)
    do_sum = float((2.0 * pr.m * ss / (pr.m - 1.0)).sum())
    pooled = float(((y - y.mean()) ** 2).sum()) if y.size else 0.0
    distinct = int(np.unique(x).size)
    return _IntervalParts(y, s1, ss, dev, do_sum, 2.0 * y.size * pooled, distinct)


def _interval_alpha(pr: _Pairable, x: FloatArray) -> tuple[float, float, float]:
    n = x.size
    if n < 2:
        return math.nan, math.nan, math.nan
    p = _interval_parts(pr, x)
    d_o = p.do_sum / n
    if p.distinct < 2:  # all pairable values equal: D_e is exactly 0
        return math.nan, d_o, 0.0
    return 1.0 - (n - 1.0) * p.do_sum / p.de_sum, d_o, p.de_sum / (n * (n - 1.0))


def _alpha_arrays(
    items: IntArray, values: npt.ArrayLike, level: str, n_categories: int | None
) -> AlphaResult:
    if np.asarray(values).shape != items.shape:
        raise ValueError("items and values must have the same length")
    if level == "interval":
        x = _as_interval_values(values)
        pr = _pairable(items)
        alpha, d_o, d_e = _interval_alpha(pr, x[pr.rows])
    else:
        codes, k = _as_category_codes(values, n_categories)
        pr = _pairable(items)
        counts = _value_counts(pr.unit, codes[pr.rows], pr.m.size, k)
        o = _coincidence(counts, pr.m)
        a, do_, de_ = _alpha_from_coincidence(o, counts.sum(axis=0).astype(np.float64), level)
        alpha, d_o, d_e = float(a), float(do_), float(de_)
    return AlphaResult(
        alpha=float(alpha),
        level=level,
        n_units=int(pr.m.size),
        n_values=int(pr.rows.sum()),
        observed_disagreement=float(d_o),
        expected_disagreement=float(d_e),
    )


# --------------------------------------------------------------------- public API
def krippendorff_alpha(
    items: npt.ArrayLike,
    values: npt.ArrayLike,
    level: str,
    n_categories: int | None = None,
) -> AlphaResult:
    """Krippendorff's alpha from long arrays (one entry per label).

    Estimand: ``alpha = 1 - D_o / D_e``, the agreement among labelers beyond what the
    pooled distribution of their values would give by chance, at the given level of
    measurement (Krippendorff 2011; Hayes & Krippendorff 2007). Computed as
    ``1 - (n - 1) * sum_ck o_ck delta2_ck / sum_ck n_c n_k delta2_ck``.

    Parameters
    ----------
    items:
        Non-negative integer code of the unit (item) of each label.
    values:
        For ``"nominal"``/``"ordinal"``: integer category codes ``0..K-1`` (ordinal codes
        in scale order). For ``"interval"``: the numbers themselves (may be continuous).
    level:
        ``"nominal"``, ``"ordinal"`` or ``"interval"``.
    n_categories:
        ``K`` for nominal/ordinal; default ``max(values) + 1``. Unused categories do
        not change alpha.

    Returns
    -------
    AlphaResult
        ``alpha`` with ``n_units``, ``n_values``, ``observed_disagreement`` and
        ``expected_disagreement``.

    Raises
    ------
    ValueError
        On an unknown level, mismatched lengths, non-integer or out-of-range codes,
        or any NaN/None value (drop missing labels first; they are never a category).

    Notes
    -----
    Rows used: labels on units with at least two labels (pairable units). Units with
    one label are ignored; missing labels are simply absent rows. Alpha is NaN when
    no unit is pairable or when the expected disagreement is 0 (all pairable values
    equal), where it is undefined.

    Nominal/ordinal: the units x K value-count matrix of pairable units is built with
    ``np.bincount`` and reduced to the K x K coincidence matrix
    ``o_ck = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1)``; ``n_c`` are its marginals.
    ``delta2`` is ``[c != k]`` (nominal) or
    ``(sum_{g=c..k} n_g - (n_c + n_k) / 2) ** 2`` (ordinal). Interval uses the closed
    form ``sum_{i != j in u} (x_i - x_j) ** 2 = 2 m_u SS_u`` (``SS_u`` the within-unit
    sum of squares), O(N) and without a K x K matrix. Matches the ``krippendorff``
    package (0.9.0) to floating-point precision. Conventional reading (Krippendorff):
    alpha >= 0.8 reliable, 0.667 <= alpha < 0.8 tentative; context, not a rule.

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg
    School for Communication, University of Pennsylvania.

    Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard
    reliability measure for coding data. Communication Methods and Measures 1(1),
    77-89. doi:10.1080/19312450709336664

    Examples
    --------
    Krippendorff (2011) worked example C: 4 observers x 12 units, values 1-5, NaN missing.

    >>> data = np.array([
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    ...     [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]])
    >>> observer, unit = np.nonzero(~np.isnan(data))
    >>> codes = data[observer, unit].astype(int) - 1
    >>> r = krippendorff_alpha(unit, codes, "nominal", n_categories=5)
    >>> round(r.alpha, 3), r.n_units, r.n_values
    (0.743, 11, 40)
    >>> round(krippendorff_alpha(unit, codes, "ordinal").alpha, 3)
    0.815
    >>> round(krippendorff_alpha(unit, data[observer, unit], "interval").alpha, 3)
    0.849
    """
    return _alpha_arrays(_as_items(items), values, _check_level(level), n_categories)


def _table_arrays(table: LabelTable) -> tuple[IntArray, npt.NDArray[Any], str, int | None]:
    level = LEVEL_FOR_KIND[LabelKind(table.kind)]
    f = table.frame
    # read-only views of the frame's int32 / int16 codes: no 80 MB int64 copy per call
    items = _read_only(f[ITEM].to_numpy())
    if level == "interval":
        return items, _read_only(f[SCORE].to_numpy(dtype=np.float64)), level, None
    return items, _read_only(f[VALUE].to_numpy()), level, len(table.categories)


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def alpha_for_table(table: LabelTable, mask: npt.ArrayLike | None = None) -> AlphaResult:
    """Krippendorff's alpha of a label table at the level of its label kind.

    Parameters
    ----------
    table:
        The validated label table. Level from :data:`LEVEL_FOR_KIND` (binary and
        nominal: nominal on ``value``; ordinal: ordinal on ``value`` in scale order;
        interval: interval on ``score``).
    mask:
        Optional boolean row mask over ``table.frame`` selecting a subset of labels.

    Returns
    -------
    AlphaResult
        See :func:`krippendorff_alpha` for the estimand, the rows used (labels on items
        with at least two selected labels), and NaN when expected disagreement is 0.
    """
    items, values, level, k = _table_arrays(table)
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != items.shape:
            raise ValueError("mask must be a boolean array with one entry per label row")
        items, values = items[m], values[m]
    return _alpha_arrays(items, values, level, k)


def alpha_by_group(table: LabelTable, column: str) -> pd.DataFrame:
    """Krippendorff's alpha within each value of a column (a slice, or a labeler attribute).

    Parameters
    ----------
    table:
        The label table.
    column:
        A column of ``table.frame``: an item slice (e.g. ``category``) or a labeler
        attribute (``vendor``, ``batch``). The group is the set of label rows with that
        value, so for ``vendor`` it is alpha among that vendor's labelers on the items
        they co-labeled.

    Returns
    -------
    pandas.DataFrame
        One row per observed value, sorted by ``slice_value``, with columns
        ``slice_column``, ``slice_value`` (str), ``alpha`` (NaN when not computable),
        ``n_items`` and ``n_labels`` (all items / labels in the group), ``n_units`` and
        ``n_values`` (pairable items / labels: items with at least two labels in the
        group). Missing slice values are the group ``"(missing)"`` (see LabelTable).

    Notes
    -----
    Rows are sorted once by group; each group is one :func:`krippendorff_alpha`
    computation (same estimand, level, missing-value and single-label treatment).
    """
    if column not in table.frame.columns:
        raise ValueError(f"column {column!r} is not in the label table")
    items, values, level, k = _table_arrays(table)
    col = table.frame[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy(dtype=np.int64)
        names = [str(c) for c in col.cat.categories]
    else:
        fcodes, uniques = pd.factorize(col.astype("string").fillna("(missing)"), sort=True)
        codes = fcodes.astype(np.int64)
        names = [str(u) for u in uniques]
    n_groups = len(names)
    n_labels = np.bincount(codes, minlength=n_groups)
    # only an item with two or more labels in the whole table can be pairable within a
    # group: the groups are computed on those rows alone (items re-coded compactly), and
    # each single-labeled item counts once towards its group's items
    m_all = np.bincount(items)
    multi = m_all[items] >= 2
    n_single = np.bincount(codes[~multi], minlength=n_groups)
    sel = np.flatnonzero(multi)
    compact = (np.cumsum(m_all >= 2) - 1)[items[sel]]
    codes_m, values_m = codes[sel], values[sel]
    order = np.argsort(codes_m, kind="stable")
    bounds = np.searchsorted(codes_m[order], np.arange(n_groups + 1))
    rows: list[dict[str, Any]] = []
    for g, name in enumerate(names):
        if n_labels[g] == 0:
            continue
        idx = order[bounds[g] : bounds[g + 1]]
        gi = compact[idx]
        r = _alpha_arrays(gi, values_m[idx], level, k)
        rows.append(
            {
                "slice_column": column,
                "slice_value": name,
                "alpha": r.alpha,
                "n_items": int(n_single[g]) + int(np.count_nonzero(np.bincount(gi))),
                "n_labels": int(n_labels[g]),
                "n_units": r.n_units,
                "n_values": r.n_values,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "slice_column",
            "slice_value",
            "alpha",
            "n_items",
            "n_labels",
            "n_units",
            "n_values",
        ],
    )
    return out.sort_values("slice_value", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------- kappa
def _kappa_weights(k: int, weighted: bool) -> FloatArray:
    idx = np.arange(k)
    if weighted:
        return np.abs(idx[:, None] - idx[None, :]) / max(k - 1, 1)
    return 1.0 - np.eye(k)


def _kappa_from_confusion(conf: npt.NDArray[Any], weighted: bool) -> FloatArray:
    """Cohen's kappa ``1 - sum w O / sum w E`` for confusion matrices (..., K, K).

    NaN when there are no pairs or the expected agreement is 1 (``sum w E == 0``).
    """
    conf = conf.astype(np.float64)
    w = _kappa_weights(conf.shape[-1], weighted)
    n = conf.sum(axis=(-2, -1))
    rows = conf.sum(axis=-1)
    cols = conf.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows[..., :, None] * cols[..., None, :] / n[..., None, None]
        num = (w * conf).sum(axis=(-2, -1))
        den = (w * expected).sum(axis=(-2, -1))
        return np.where((n > 0) & (den > 0), 1.0 - num / den, np.nan)


# ----------------------------------------------------------- per-labeler agreement
def _categorical_without(
    counts: IntArray,
    pr: _Pairable,
    v: IntArray,
    lab: IntArray,
    n_labelers: int,
    level: str,
) -> tuple[float, FloatArray]:
    """Alpha overall and with each labeler's labels removed (nominal/ordinal).

    The coincidence matrix is a sum over units. Removing row r (category e) from unit u
    with counts n and m labels changes the unit's term from ``(n n' - diag n) / (m - 1)``
    to ``(A - n e' - e n' + 2 e e') / (m - 2)`` with ``A = n n' - diag n`` (0 when only
    one label is left). A labeler has at most one label per unit, so the per-row changes
    add up per labeler; they are accumulated with one bincount per matrix entry. The
    diagonal terms (``- diag n`` and ``2 e e'``) are skipped: ``delta2_cc = 0`` at every
    level, so the diagonal of the coincidence matrix never enters alpha, and the
    marginals ``n_c`` are updated separately in exact integer counts.
    """
    k = counts.shape[1]
    n_c = counts.sum(axis=0).astype(np.float64)
    o = _coincidence(counts, pr.m)
    overall = float(_alpha_from_coincidence(o, n_c, level)[0])
    m = pr.m[pr.unit]
    nr = counts[pr.unit].astype(np.float64)
    b = 1.0 / (m - 1.0)
    a = np.divide(1.0, m - 2.0, out=np.zeros_like(m), where=m >= 3)
    ab = a - b
    two = (m == 2).astype(np.float64)
    lk = lab * k + v
    delta = np.zeros((n_labelers, k, k))
    removed = np.bincount(lk, weights=1.0 - two, minlength=n_labelers * k).reshape(n_labelers, k)
    for c in range(k):
        for d in range(c, k):
            s = np.bincount(lab, weights=ab * nr[:, c] * nr[:, d], minlength=n_labelers)
            delta[:, c, d] += s
            if d != c:
                delta[:, d, c] += s
        mcv = np.bincount(lk, weights=a * nr[:, c], minlength=n_labelers * k).reshape(n_labelers, k)
        delta[:, c, :] -= mcv
        delta[:, :, c] -= mcv
        removed[:, c] += np.bincount(lab, weights=two * nr[:, c], minlength=n_labelers)
    without = _alpha_from_coincidence(o[None, :, :] + delta, n_c[None, :] - removed, level)[0]
    return overall, without


def _interval_without(
    pr: _Pairable, x: FloatArray, lab: IntArray, n_labelers: int
) -> tuple[float, FloatArray]:
    """Alpha overall and with each labeler's labels removed (interval), closed form.

    Per row, the unit's within sum of squares after removal is
    ``SS - m / (m - 1) * (x - mean_u) ** 2``; the pooled sums lose the row (or, on a
    unit with two labels, the whole unit). Alpha is NaN when fewer than two distinct
    pairable values remain (checked exactly by counting values, not by a tolerance).
    """
    overall = _interval_alpha(pr, x)[0]
    out = np.full(n_labelers, np.nan)
    n = x.size
    if n < 2:
        return overall, out
    p = _interval_parts(pr, x)
    m = pr.m[pr.unit]
    ss_u = p.ss[pr.unit]
    ss_new = np.maximum(ss_u - m / (m - 1.0) * p.dev**2, 0.0)
    m1 = m - 1.0
    new = np.divide(2.0 * m1 * ss_new, m1 - 1.0, out=np.zeros_like(m), where=m1 >= 2)
    old = 2.0 * m * ss_u / (m - 1.0)
    do_wo = p.do_sum + np.bincount(lab, weights=new - old, minlength=n_labelers)

    two = m == 2
    s2_u = np.bincount(pr.unit, weights=p.y**2, minlength=pr.m.size)
    rn = np.bincount(lab, weights=np.where(two, 2.0, 1.0), minlength=n_labelers)
    r1 = np.bincount(lab, weights=np.where(two, p.s1[pr.unit], p.y), minlength=n_labelers)
    r2 = np.bincount(lab, weights=np.where(two, s2_u[pr.unit], p.y**2), minlength=n_labelers)
    n_wo = n - rn
    t1, t2 = float(p.y.sum()), float((p.y**2).sum())

    # distinct values left per labeler: a value disappears when all its copies are removed
    uniq, vidx = np.unique(x, return_inverse=True)
    n_distinct = uniq.size
    total = np.bincount(vidx, minlength=n_distinct)
    vsum_u = np.bincount(pr.unit, weights=vidx, minlength=pr.m.size).astype(np.int64)
    other = vsum_u[pr.unit] - vidx
    keys = np.concatenate([lab * n_distinct + vidx, (lab * n_distinct + other)[two]])
    kk, kc = np.unique(keys, return_counts=True)
    gone = np.bincount(kk // n_distinct, weights=kc == total[kk % n_distinct], minlength=n_labelers)
    left = n_distinct - gone

    with np.errstate(divide="ignore", invalid="ignore"):
        ss_wo = np.maximum((t2 - r2) - (t1 - r1) ** 2 / n_wo, 0.0)
        de_wo = 2.0 * n_wo * ss_wo
        out = np.where((left >= 2) & (de_wo > 0), 1.0 - (n_wo - 1.0) * do_wo / de_wo, np.nan)
    # the downdate subtracts sums of squares: when what is left is tiny beside what the
    # labeler took away (it holds the scale's far values), the difference keeps few exact
    # digits (alpha 5e-9 where it is 0); those labelers are recomputed on their complement
    unsure = np.flatnonzero((left >= 2) & (ss_wo <= 1e-6 * max(t2, np.finfo(float).tiny)))
    for j in unsure:
        keep = lab != j
        sub = _pairable(pr.unit[keep])
        out[j] = _interval_alpha(sub, x[keep][sub.rows])[0] if sub.rows.any() else np.nan
    return overall, out


def _loo_kappa(
    counts: IntArray,
    pr: _Pairable,
    v: IntArray,
    lab: IntArray,
    n_labelers: int,
    weighted: bool,
) -> tuple[FloatArray, IntArray, IntArray]:
    k = counts.shape[1]
    others = counts[pr.unit].astype(np.int32)
    others[np.arange(v.size), v] -= 1
    top = others.max(axis=1) if v.size else np.zeros(0, np.int32)
    tie = (others == top[:, None]).sum(axis=1) > 1
    cons = others.argmax(axis=1) if v.size else np.zeros(0, np.int64)
    ok = ~tie
    flat = (lab[ok] * k + v[ok]) * k + cons[ok]
    conf = np.bincount(flat, minlength=n_labelers * k * k).reshape(n_labelers, k, k)
    kappa = _kappa_from_confusion(conf, weighted)
    n_kappa = conf.sum(axis=(1, 2)).astype(np.int64)
    n_ties = np.bincount(lab[tie], minlength=n_labelers).astype(np.int64)
    return kappa, n_kappa, n_ties


def labeler_agreement(table: LabelTable) -> pd.DataFrame:
    """Per-labeler agreement: kappa vs the leave-one-out consensus and alpha without them.

    Parameters
    ----------
    table:
        The label table (one label per (item, labeler), guaranteed by validation).

    Returns
    -------
    pandas.DataFrame
        One row per labeler code ``0..n_labelers-1`` (all labelers, even without
        overlap), columns:

        - ``labeler`` (code), ``labeler_id``;
        - ``n_labels``: the labeler's labels; ``n_overlap``: those on items with at
          least two labels;
        - ``kappa``: Cohen's kappa between the labeler's labels and the leave-one-out
          consensus, i.e. the modal category among the *other* labels on the same item.
          Unweighted for binary/nominal, linearly weighted (``|i - j| / (K - 1)``) for
          ordinal, over all K categories of the table; NaN for interval labels, when no
          label qualifies, or when the expected agreement is 1;
        - ``n_kappa``: labels used for kappa; ``n_ties``: overlapping labels excluded
          because the other labels' modal category was tied;
        - ``alpha_without``: Krippendorff's alpha of the whole table without this
          labeler's labels (NaN when not computable);
        - ``alpha_delta``: ``alpha_without - alpha``; positive means the labeler
          lowers agreement.

    Notes
    -----
    Rows used: labels on items with at least two labels; single-labeled items carry no
    agreement information. Everything is vectorized: the others' category counts are
    the item counts minus the row's own one-hot (N x K, K small) and confusions come
    from one bincount on ``labeler * K * K + own * K + consensus``. ``alpha_without``
    is not recomputed per labeler: the coincidence matrix (or, for interval labels,
    the closed-form sums of squares) is additive over units, so each labeler's
    contribution is removed exactly (up to rounding), with the marginals ``n_c``
    updated in exact integer counts. See :func:`krippendorff_alpha` for alpha and its
    references; kappa: Cohen (1960, 1968).
    """
    f = table.frame
    n_labelers = table.n_labelers
    items, values, level, k = _table_arrays(table)
    lab_all = f[LABELER].to_numpy(dtype=np.int64)
    pr = _pairable(items)
    lab = lab_all[pr.rows]
    n_labels = np.bincount(lab_all, minlength=n_labelers).astype(np.int64)
    n_overlap = np.bincount(lab, minlength=n_labelers).astype(np.int64)
    if level == "interval":
        x = _as_interval_values(values)[pr.rows]
        overall, without = _interval_without(pr, x, lab, n_labelers)
        kappa = np.full(n_labelers, np.nan)
        n_kappa = np.zeros(n_labelers, np.int64)
        n_ties = np.zeros(n_labelers, np.int64)
    else:
        v = values[pr.rows]
        counts = _value_counts(pr.unit, v, pr.m.size, int(k or 0))
        overall, without = _categorical_without(counts, pr, v, lab, n_labelers, level)
        kappa, n_kappa, n_ties = _loo_kappa(
            counts, pr, v, lab, n_labelers, weighted=level == "ordinal"
        )
    # without overlap a labeler contributes nothing: alpha_without is alpha exactly
    without = np.where(n_overlap == 0, overall, without)
    return pd.DataFrame(
        {
            "labeler": np.arange(n_labelers, dtype=np.int64),
            "labeler_id": np.asarray(table.labeler_ids, dtype=object),
            "n_labels": n_labels,
            "n_overlap": n_overlap,
            "kappa": kappa,
            "n_kappa": n_kappa,
            "n_ties": n_ties,
            "alpha_without": without,
            "alpha_delta": without - overall,
        }
    )


# ---------------------------------------------------------------------- pairwise
def pairwise_kappa(table: LabelTable, min_support: int) -> pd.DataFrame:
    """Cohen's kappa for every pair of labelers sharing at least ``min_support`` items.

    Parameters
    ----------
    table:
        The label table. Binary/nominal: unweighted kappa; ordinal: linearly weighted
        kappa; both over all K categories of the table. Interval labels: no kappa, an
        empty frame is returned.
    min_support:
        Minimum number of shared items for a pair to be reported (>= 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``labeler_a``, ``labeler_b`` (ids, ``a < b``), ``n_shared`` (items both
        labeled, among the items used) and ``kappa`` (NaN when expected agreement is 1),
        sorted by ``labeler_a``, ``labeler_b``.

    Notes
    -----
    Rows used: items with 2 to :data:`MAX_LABELS_PAIRWISE` (20) labels. Pairs come from
    a self-join on item over rows sorted by item; items with more than 20 labels are
    skipped to bound the join (an item with m labels yields m (m - 1) / 2 pairs), so
    ``n_shared`` may undercount on heavily labeled items. Kappa estimand: Cohen (1960),
    weighted: Cohen (1968), as in ``sklearn.metrics.cohen_kappa_score``.
    """
    if int(min_support) < 1:
        raise ValueError("min_support must be at least 1")
    columns = ["labeler_a", "labeler_b", "n_shared", "kappa"]
    empty = pd.DataFrame(
        {
            "labeler_a": pd.Series([], dtype=object),
            "labeler_b": pd.Series([], dtype=object),
            "n_shared": pd.Series([], dtype=np.int64),
            "kappa": pd.Series([], dtype=np.float64),
        }
    )
    items, values, level, k = _table_arrays(table)
    if level == "interval" or items.size == 0 or not k:
        return empty
    lab = table.frame[LABELER].to_numpy(dtype=np.int64)
    m_all = np.bincount(items)[items]
    use = (m_all >= 2) & (m_all <= MAX_LABELS_PAIRWISE)
    idx = np.nonzero(use)[0]
    idx = idx[np.argsort(items[idx], kind="stable")]
    it, lb, vv = items[idx], lab[idx], values[idx]
    a_parts: list[IntArray] = []
    b_parts: list[IntArray] = []
    for d in range(1, MAX_LABELS_PAIRWISE):
        if it.size <= d:
            break
        first = np.nonzero(it[:-d] == it[d:])[0]
        if first.size == 0:
            break
        a_parts.append(first)
        b_parts.append(first + d)
    if not a_parts:
        return empty
    ia, ib = np.concatenate(a_parts), np.concatenate(b_parts)
    la, lb2, va, vb = lb[ia], lb[ib], vv[ia], vv[ib]
    swap = la > lb2
    la, lb2 = np.where(swap, lb2, la), np.where(swap, la, lb2)
    va, vb = np.where(swap, vb, va), np.where(swap, va, vb)
    n_lab = table.n_labelers
    keys, inv, cnt = np.unique(la * n_lab + lb2, return_inverse=True, return_counts=True)
    conf = np.bincount((inv * k + va) * k + vb, minlength=keys.size * k * k)
    conf = conf.reshape(keys.size, k, k)
    keep = cnt >= int(min_support)
    if not keep.any():
        return empty
    kappa = _kappa_from_confusion(conf[keep], weighted=level == "ordinal")
    ids = np.asarray(table.labeler_ids, dtype=object)
    out = pd.DataFrame(
        {
            "labeler_a": ids[keys[keep] // n_lab],
            "labeler_b": ids[keys[keep] % n_lab],
            "n_shared": cnt[keep].astype(np.int64),
            "kappa": kappa,
        },
        columns=columns,
    )
    return out.reset_index(drop=True)
