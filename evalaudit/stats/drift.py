"""Drift: does a labeler's leniency change over time (or over batches)?

Drift is *change*, not level: a labeler who is 10 points lenient from the
first label to the last has leniency (:mod:`evalaudit.stats.leniency`) but no
drift. The test works on the labeler's leniency residuals
(:func:`leniency_residuals`), whose mean is the labeler's leniency, put in time
(or batch) order, and asks whether that mean shifts somewhere in the series.

The test is the OLS-CUSUM of the residuals around their own mean (Page 1954,
doi:10.2307/2333009; Ploberger & Krämer 1992, doi:10.2307/2951576):

    S_k = sum_{i <= k} (r_i - rbar),  T = max_{1 <= k < n} |S_k| / (sigma_hat sqrt(n)).

Under "no change" (the residuals of a labeler are independent with a constant
mean and a finite variance) the partial-sum process ``S_[tn] / (sigma
sqrt(n))`` converges to a Brownian bridge (functional CLT; binary residuals are
not Gaussian, but only a finite variance is needed), whose sup of the absolute
value has the Kolmogorov distribution (``scipy.stats.kstwobign``).

Finite-sample calibration. ``T`` is a maximum over ``n - 1`` grid points, not
over a continuum, so ``kstwobign.sf(T)`` is conservative at small ``n`` (by
simulation: 2-3.5% of null p-values below 0.05 at n = 30-40, 3-3.7% at n = 100).
The p-value uses Siegmund's continuity correction for a discretely monitored
Brownian motion: the discrete maximum behaves like the continuous one moved by
``rho / sqrt(n)``, ``rho = -zeta(1/2) / sqrt(2 pi) = 0.5826`` (Siegmund 1985,
*Sequential Analysis*, ch. X; Broadie, Glasserman & Kou 1997,
doi:10.1111/1467-9965.00035), so

    p = kstwobign.sf(T + 0.5826 / sqrt(n)).

By simulation (10^4 to 2 x 10^4 null series per case; ``tests/test_drift.py``
checks n = 40, 100, 400) this puts 4.3-5.5% of null p-values below 0.05 for
Gaussian, Bernoulli(0.2..0.5) and overlap-like residuals at n = 30..2000. Residual series with very rare non-zero values (a labeler
who almost always agrees, Bernoulli(0.05) at n = 40) are lattice-valued and
stay conservative (1.5%): the test never over-rejects there, it just has
little to work with. A Stephens-type factor ``sqrt(n) + 0.12 +
0.11/sqrt(n)`` (made for the one-sample Kolmogorov-Smirnov statistic, which is
a sup over a continuum) corrects only about a quarter of the gap.

``sigma_hat`` is the sample standard deviation of the residuals (ddof 1).
Under no change it is consistent; under a shift ``delta`` at fraction ``tau``
it is inflated to ``sqrt(sigma^2 + tau (1 - tau) delta^2)``, which costs a
little power (a 25-point shift at tau = 0.6 on binary residuals with sd 0.45
shrinks ``T`` by about 3.5%) and never calibration. A MAD is not an option
(binary and overlap residuals are mostly one value, so their MAD is often 0),
and a
difference-based or pre-whitened estimate is only needed when residuals are
autocorrelated in time, which they are not for independently drawn items.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from evalaudit.contract import BATCH, TIMESTAMP
from evalaudit.stats.leniency import _score_parts, release_score_parts, strata_codes
from evalaudit.stats.multitest import bh_qvalues
from evalaudit.table import LABELER, MISSING_SLICE, ROW_COL, SCORE, LabelTable

__all__ = [
    "DRIFT_COLUMNS",
    "RHO",
    "cusum_test",
    "flag_drift",
    "labeler_drift",
    "leniency_residuals",
]

#: Siegmund's continuity correction constant, ``-zeta(1/2) / sqrt(2 pi)``.
RHO = 0.5825971579390106

DRIFT_COLUMNS = (
    "labeler",
    "labeler_id",
    "order",
    "n",
    "statistic",
    "p_value",
    "q_value",
    "change_at",
    "change_index",
    "before",
    "after",
    "effect",
    "span_start",
    "span_end",
)

_NAT = np.iinfo(np.int64).min


# --------------------------------------------------------------------------- residuals


def drift_residuals(
    table: LabelTable, strata: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`leniency_residuals` and the epoch-ns times, computed once per table (cached):
    the drift tests and the drift timelines read the same series."""
    f = table.frame
    cached = table.extra.get("_drift_residuals")
    if cached is not None and cached[0] is f and cached[1] == strata:
        return cached[2], cached[3]
    res, ts = leniency_residuals(table, strata, _take=True), _timestamps_ns(table)
    res.flags.writeable = False  # shared by the tests and the timelines
    table.extra["_drift_residuals"] = (f, strata, res, ts)
    return res, ts


def leniency_residuals(
    table: LabelTable, strata: tuple[str, ...] | None = None, _take: bool = False
) -> np.ndarray:
    """Per-label leniency residual: the label's score minus its peers' on comparable items.

    Parameters
    ----------
    table:
        The validated labels.
    strata:
        Item columns whose combinations define the strata of single-labeled
        items (:func:`~evalaudit.stats.leniency.strata_codes`). Default:
        every slice column plus ``model``.

    Returns
    -------
    numpy.ndarray
        float64, one value per row of ``table.frame`` (same order), NaN where
        the label cannot be compared.

    Notes
    -----
    Estimand: the mean of a labeler's residuals is its leniency (signed
    bias against peers, on the score scale), so a change in the mean of the
    residual series over time is a change in leniency.

    Rows used: labels with a finite score. On items with at least two such
    labels (evidence A of :mod:`~evalaudit.stats.leniency`), the residual is
    the score minus the mean of the *other* labels of the item
    (:func:`~evalaudit.stats.leniency.overlap_residuals`). On items with one
    label (evidence B), it is the score minus the mean score of the *other
    labelers'* single labels in the same stratum, NaN when no other labeler
    has a single label there. Nominal labels without a passing value have no
    score and so no residual.

    Assumption (B): within a stratum items are assigned to labelers at random,
    so the peers' stratum mean is what this labeler's items would have got.
    The peer mean is one number for the whole period: it moves no labeler's
    residuals in time.

    >>> t = LabelTable.build(
    ...     pd.DataFrame({"item_id": ["a", "a", "b", "c"], "labeler_id": ["x", "y", "x", "y"],
    ...                   "label": ["pass", "fail", "pass", "fail"]}),
    ...     "binary", positive="pass")
    >>> leniency_residuals(t).tolist()  # a: 1 - 0, 0 - 1; b: 1 - mean(y's singles); c: 0 - 1
    [1.0, -1.0, 1.0, -1.0]
    """
    f = table.frame
    score = f[SCORE].to_numpy(dtype=np.float64)
    labeler = f[LABELER].to_numpy()
    ok = np.isfinite(score)
    if not ok.any():
        return np.full(len(f), np.nan)
    # the overlap residuals and single-labeled rows the leniency pass computed (same table)
    _, overlap, single, _ = _score_parts(table, score)
    if _take:
        # the drift series are the last use of the leniency pass's overlap residuals (it has
        # returned; the drift cache keeps this series): fill them in place, not in a copy
        # that would sit beside the joint model's first fit
        release_score_parts(table)
        res = overlap
    else:
        res = overlap.copy()
    if single.any():
        stratum = strata_codes(table, strata)[single]
        y = score[single]
        n_strata = int(stratum.max()) + 1
        n_s = np.bincount(stratum, minlength=n_strata).astype(np.float64)
        t_s = np.bincount(stratum, weights=y, minlength=n_strata)
        # the peers' mean per (labeler, stratum) pair, then one gather per label (this runs
        # beside the first fit: per-label intermediates there raise the audit's peak)
        code, pairs = pd.factorize(labeler[single].astype(np.int64) * n_strata + stratum)
        st_pair = np.asarray(pairs, dtype=np.int64) % n_strata
        n_peer = n_s[st_pair] - np.bincount(code, minlength=len(pairs))
        with np.errstate(invalid="ignore", divide="ignore"):
            peer_mean = (t_s[st_pair] - np.bincount(code, weights=y, minlength=len(pairs))) / n_peer
        peer_mean[~(n_peer > 0)] = np.nan
        y -= peer_mean[code]
        res[single] = y
    return res


# --------------------------------------------------------------------------- CUSUM


def cusum_test(
    values: np.ndarray, sizes: np.ndarray, order: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """OLS-CUSUM change-in-mean test of many series at once.

    Parameters
    ----------
    values:
        The series one after the other, each in its own order (time).
    sizes:
        Length of each series; ``values`` holds ``sizes.sum()`` numbers.
    order:
        Optional positions: the series are ``values[order]`` (gathered a block at a
        time, so the reordered copy of every value is never held at once).

    Returns
    -------
    dict of str to numpy.ndarray
        One entry per series: ``n``; ``statistic`` ``T = max_{1<=k<n} |S_k| /
        (sd sqrt(n))`` with ``S_k = sum_{i<=k} (x_i - xbar)`` and ``sd`` the
        sample standard deviation (ddof 1); ``p_value`` ``kstwobign.sf(T +
        RHO / sqrt(n))`` (the module docstring has the calibration);
        ``change_index`` the first ``k`` at which ``|S_k|`` is largest (the
        number of values before the change); ``before`` and ``after`` the
        means of the first ``k`` and the last ``n - k`` values. NaN for series
        with fewer than 2 values; a constant series has ``T = 0``, ``p = 1``
        and no change.

    Notes
    -----
    Assumes the values of a series are independent with a constant mean and
    finite variance under the null (module docstring). Vectorized over the
    series (``np.cumsum`` and ``reduceat``, no loop over series), in blocks of
    whole series of about :data:`CUSUM_BLOCK` values: the block's temporaries
    (five arrays of its length) are what it holds, not five of the table's.

    >>> out = cusum_test(np.r_[np.zeros(50), np.ones(50)], np.array([100]))
    >>> int(out["change_index"][0]), float(out["before"][0]), float(out["after"][0])
    (50, 0.0, 1.0)
    >>> round(float(out["statistic"][0]), 3), bool(out["p_value"][0] < 1e-15)
    (4.975, True)
    """
    x = np.asarray(values, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.int64)
    n_series = len(sizes)
    n_values = len(x) if order is None else len(order)
    if n_values != sizes.sum():
        raise ValueError(f"cusum_test: {n_values} values but the sizes add up to {sizes.sum()}")

    def block(at: int, end: int) -> np.ndarray:
        return x[at:end] if order is None else x[order[at:end]]

    ends = np.cumsum(sizes)
    if not n_values or ends[-1] <= CUSUM_BLOCK:
        return _cusum_block(block(0, n_values), sizes)
    parts = []
    first = 0
    while first < n_series:
        # whole series up to the block size (a longer series is a block of its own)
        at = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, at + CUSUM_BLOCK, side="right")), first + 1)
        parts.append(_cusum_block(block(at, int(ends[last - 1])), sizes[first:last]))
        first = last
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


#: Values per block of :func:`cusum_test` (8 MB a temporary).
CUSUM_BLOCK = 1 << 20


def _cusum_block(x: np.ndarray, sizes: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`cusum_test` on series that lie one after the other in ``x``."""
    n_series = len(sizes)
    n = sizes.astype(np.float64)
    out = {
        "n": sizes.copy(),
        "statistic": np.full(n_series, np.nan),
        "p_value": np.full(n_series, np.nan),
        "change_index": np.full(n_series, np.nan),
        "before": np.full(n_series, np.nan),
        "after": np.full(n_series, np.nan),
    }
    if not len(x):
        return out
    starts = np.cumsum(sizes) - sizes
    nonempty = np.flatnonzero(sizes > 0)
    # per-series values are spread over their rows with np.repeat (a sequential copy), not
    # gathered through a per-row series index: the series lie one after the other. At 10^7
    # values every temporary is 80 MB, so the work is done in place where it can be.
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.zeros(n_series)
        sums[nonempty] = np.add.reduceat(x, starts[nonempty])
        mean = sums / n
        d = np.repeat(np.nan_to_num(mean), sizes)
        np.subtract(x, d, out=d)  # deviations from the series mean
        ss = np.zeros(n_series)
        ss[nonempty] = np.add.reduceat(np.square(d), starts[nonempty])
        var = ss / (n - 1.0)
    sd = np.sqrt(var)
    c = np.empty(len(d) + 1)
    c[0] = 0.0
    np.cumsum(d, out=c[1:])
    del d
    s = c[1:]
    s -= np.repeat(c[starts], sizes)  # S_k for k = 1..n within each series (c[starts] copies)
    negative = np.signbit(s)
    a = np.abs(s, out=s)  # |S_k|; S_k's sign is kept in `negative`
    a[starts[nonempty] + sizes[nonempty] - 1] = -1.0  # k = n is not a split
    testable = sizes >= 2
    varies = testable & (sd > 1e-12 * (1.0 + np.abs(np.nan_to_num(mean))))
    amax = np.full(n_series, np.nan)
    amax[nonempty] = np.maximum.reduceat(a, starts[nonempty])
    at_max = np.equal(a, np.repeat(amax, sizes))
    at_max &= np.repeat(varies, sizes)
    hit = np.flatnonzero(at_max)
    del at_max
    g_hit = np.repeat(np.arange(n_series), sizes)[hit] if len(hit) else hit
    first_of = np.r_[True, g_hit[1:] != g_hit[:-1]] if len(hit) else np.zeros(0, dtype=bool)
    first = hit[first_of]
    gs = g_hit[first_of]
    k = (first - starts[gs]) + 1.0
    s_k = np.where(negative[first], -a[first], a[first])
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = amax / (sd * np.sqrt(n))
    out["statistic"] = np.where(varies, stat, np.where(testable, 0.0, np.nan))
    rn = np.sqrt(np.where(testable, n, 1.0))
    p = stats.kstwobign.sf(np.nan_to_num(out["statistic"]) + RHO / rn)
    out["p_value"] = np.where(varies, np.clip(p, 0.0, 1.0), np.where(testable, 1.0, np.nan))
    out["change_index"][gs] = k
    out["before"][gs] = mean[gs] + s_k / k
    out["after"][gs] = mean[gs] - s_k / (n[gs] - k)
    return out


# --------------------------------------------------------------------------- per labeler


def labeler_drift(
    table: LabelTable,
    order: Literal["time", "batch"] = "time",
    min_support: int = 30,
    strata: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Per-labeler change-point test of leniency over time (or batches), with BH q-values.

    Parameters
    ----------
    table:
        The validated labels.
    order:
        ``"time"``: residuals sorted by ``timestamp`` (ties by source row);
        labels without a timestamp (NaT) are left out. ``"batch"``: sorted by
        ``batch`` in natural order (``b2`` before ``b10``), within a batch by
        timestamp when there is one (labels without one last) and then by
        row; labels without a batch are left out.
    min_support:
        Usable residuals a labeler needs to be tested.
    strata:
        Strata of single-labeled items (:func:`leniency_residuals`).

    Returns
    -------
    pandas.DataFrame
        One row per labeler (all labelers, in code order), columns
        :data:`DRIFT_COLUMNS`: ``n`` usable residuals; ``statistic`` and
        ``p_value`` of :func:`cusum_test`; ``q_value`` Benjamini-Hochberg over
        the tested labelers; ``change_index`` the number of residuals before
        the change; ``change_at`` where the new regime starts: the timestamp
        (ISO 8601 UTC, seconds) of the first residual after the change, or
        its batch for ``order="batch"``; ``before``/``after`` the mean
        residual (= leniency) before and after, ``effect = after - before``;
        ``span_start``/``span_end`` the first and last timestamp of the
        labeler's series (ISO). Test columns are NaN (``None`` for strings)
        for labelers with fewer than ``min_support`` usable residuals, and for
        everyone when the table has no ``timestamp`` (``"time"``) or ``batch``
        (``"batch"``) column.

    Notes
    -----
    Estimand: a shift in the mean of the labeler's leniency residuals, i.e. in
    its leniency against peers on comparable items; a constant leniency is
    not drift. Assumptions: under no change the labeler's residuals are
    independent with constant mean and variance in the chosen order (items
    labeled in the same period are no more alike than others; a labeler whose
    item mix moves between strata over time, with a stratum-dependent bias,
    can show a small drift). A drifting *peer* moves this labeler's overlap
    residuals by ``-delta / (m - 1)`` on the items they share: a dilute echo,
    usually below any useful ``min_effect``. Calibration and references:
    module docstring (OLS-CUSUM, Kolmogorov limit, continuity correction).
    The change time is the CUSUM argmax, a consistent estimate of the time
    of a single change (Csörgő & Horváth 1997, *Limit Theorems in
    Change-Point Analysis*, ch. 2); with several changes it points at the
    largest cumulative one. ``before``/``after``/``effect`` are measured at
    the estimated change, so for an untested or non-significant labeler they
    are selected to look large: read them only with the q-value.
    """
    if order not in ("time", "batch"):
        raise ValueError(f"labeler_drift: order must be 'time' or 'batch', not {order!r}")
    f = table.frame
    n_lab = table.n_labelers
    labeler = f[LABELER].to_numpy()  # int32 codes: half the bytes of every gather below
    res, ts = drift_residuals(table, strata)
    row = f[ROW_COL].to_numpy() if ROW_COL in f.columns else np.arange(len(f))

    batch_names: np.ndarray | None = None
    bcode: np.ndarray | None = None  # natural-order batch rank, -1 = none (batch order only)
    if order == "time":
        usable = np.isfinite(res) & (ts != _NAT) if ts is not None else np.zeros(len(f), bool)
        inner: tuple[np.ndarray, ...] = ()
    elif table.has(BATCH):
        bcode, batch_names = _batch_rank(f[BATCH])
        usable = np.isfinite(res) & (bcode >= 0)
        inner = (bcode,)
    else:
        usable = np.zeros(len(f), bool)
        inner = ()
    # every row by (timestamp, labels without one last, source row), once per table; the
    # series are that order refined by stable radix sorts on the small keys (batch rank,
    # then labeler): one sort of the 64-bit times serves both orders
    base = _time_order(table, ts, row)
    srt = base[usable[base]]
    for key in (*inner, labeler):
        srt = srt[np.argsort(_small(key[srt]), kind="stable")]
    sizes = np.bincount(labeler[srt], minlength=n_lab).astype(np.int64)
    cus = cusum_test(res, sizes, order=srt)
    tested = sizes >= max(int(min_support), 2)
    for key in ("statistic", "p_value", "change_index", "before", "after"):
        cus[key] = np.where(tested, cus[key], np.nan)

    starts = np.cumsum(sizes) - sizes
    has_change = np.isfinite(cus["change_index"])
    change_at = np.full(n_lab, None, dtype=object)
    first_after = srt[starts[has_change] + cus["change_index"][has_change].astype(np.int64)]
    if order == "time" and ts is not None:
        change_at[has_change] = _iso(ts[first_after])
    elif order == "batch" and batch_names is not None and bcode is not None:
        change_at[has_change] = batch_names[bcode[first_after]]
    span_start = np.full(n_lab, None, dtype=object)
    span_end = np.full(n_lab, None, dtype=object)
    if ts is not None and len(srt):
        t = ts[srt]
        valid = t != _NAT
        nonempty = np.flatnonzero(sizes > 0)
        lo = np.minimum.reduceat(np.where(valid, t, np.iinfo(np.int64).max), starts[nonempty])
        hi = np.maximum.reduceat(np.where(valid, t, _NAT), starts[nonempty])
        seen = hi != _NAT
        span_start[nonempty[seen]] = _iso(lo[seen])
        span_end[nonempty[seen]] = _iso(hi[seen])

    out = pd.DataFrame(
        {
            "labeler": np.arange(n_lab),
            "labeler_id": table.labeler_ids.to_numpy(),
            "order": order,
            "n": sizes,
            "statistic": cus["statistic"],
            "p_value": cus["p_value"],
            "q_value": bh_qvalues(cus["p_value"]),
            "change_at": change_at,
            "change_index": cus["change_index"],
            "before": cus["before"],
            "after": cus["after"],
            "effect": cus["after"] - cus["before"],
            "span_start": span_start,
            "span_end": span_end,
        }
    )
    return out[list(DRIFT_COLUMNS)]


def order_equal(table: LabelTable) -> bool:
    """Whether the batch order is the time order (each batch's labels follow the previous one's).

    Then the CUSUM in batch order is the CUSUM in time order run again (same
    series up to the order of labels tied in time, the same p-values): the audit
    tests it once. True when, for batches in their natural order, no label of a
    later batch is earlier than a label of an earlier batch (ties allowed:
    ``max(t | batch b) <= min(t | batch c)`` for ``b`` before ``c``); missing
    batches or timestamps make it False. One pass of per-batch minima and maxima
    (``ufunc.at`` on the batch codes): no per-label copy, where sorting the
    labels by time held ~0.5 GB at 10^7 labels beside the joint model's first fit.
    """
    ts = _timestamps_ns(table)
    if ts is None or not table.has(BATCH):
        return False
    batch = table.frame[BATCH]
    cat = batch if isinstance(batch.dtype, pd.CategoricalDtype) else batch.astype("category")
    codes = cat.cat.codes.to_numpy()
    rank_of, _ = _category_rank(cat)
    n_cat = len(rank_of)
    if n_cat == 0 or (codes < 0).any() or (ts == _NAT).any():
        return False
    lo = np.full(n_cat, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_cat, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(lo, codes, ts)
    np.maximum.at(hi, codes, ts)
    used = lo <= hi
    if (rank_of[used] < 0).any():
        return False
    by_rank = np.argsort(np.where(used, rank_of, np.iinfo(np.int64).max), kind="stable")
    by_rank = by_rank[: int(used.sum())]
    # every earlier batch's latest label is no later than this batch's earliest
    latest_before = np.maximum.accumulate(hi[by_rank])[:-1]
    return bool(np.all(latest_before <= lo[by_rank][1:]))


def flag_drift(drift_df: pd.DataFrame, fdr: float, min_effect: float) -> np.ndarray:
    """Labelers whose drift is both significant and large: ``q < fdr`` and ``|effect| >= min_effect``.

    Untested labelers (NaN q-value or effect) are never flagged.

    >>> df = pd.DataFrame({"q_value": [0.001, 0.001, 0.2, np.nan],
    ...                    "effect": [0.10, -0.02, 0.30, 0.5]})
    >>> flag_drift(df, fdr=0.01, min_effect=0.05).tolist()
    [True, False, False, False]
    """
    q = drift_df["q_value"].to_numpy(dtype=np.float64)
    effect = drift_df["effect"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray((q < fdr) & (np.abs(effect) >= min_effect), dtype=bool)


# --------------------------------------------------------------------------- helpers


def _time_order(table: LabelTable, ts: np.ndarray | None, row: np.ndarray) -> np.ndarray:
    """Row positions sorted by timestamp (NaT last), ties and NaT by source row; cached."""
    cached = table.extra.get("_drift_time_order")
    if cached is not None and cached[0] is table.frame:
        out: np.ndarray = cached[1]
        return out
    ascending = len(row) < 2 or bool(np.all(row[1:] > row[:-1]))
    if ts is None:
        out = np.arange(len(row)) if ascending else np.argsort(row, kind="stable")
    else:
        ts_last = np.where(ts == _NAT, np.iinfo(np.int64).max, ts)
        # positions ascend with the source row, so a stable sort breaks ties by row
        out = np.argsort(ts_last, kind="stable") if ascending else np.lexsort((row, ts_last))
    if len(out) < np.iinfo(np.int32).max:
        out = out.astype(np.int32)  # held for the audit: half the bytes
    out.flags.writeable = False
    table.extra["_drift_time_order"] = (table.frame, out)
    return out


def _small(key: np.ndarray) -> np.ndarray:
    """``key`` as int16 when its values fit (numpy sorts 16-bit keys by radix)."""
    if (
        key.dtype.kind == "i"
        and len(key)
        and key.min() >= np.iinfo(np.int16).min
        and key.max() <= np.iinfo(np.int16).max
    ):
        return key.astype(np.int16)
    return key


def _timestamps_ns(table: LabelTable) -> np.ndarray | None:
    """The ``timestamp`` column as int64 ns since the epoch (UTC), NaT as int64 min; None if absent."""
    if not table.has(TIMESTAMP):
        return None
    cached = table.extra.get("_drift_ts_ns")
    if cached is not None and cached[0] is table.frame:
        out: np.ndarray = cached[1]
        return out
    col = table.frame[TIMESTAMP]
    if not (isinstance(col.dtype, pd.DatetimeTZDtype) and col.dtype.unit == "ns"):
        col = pd.to_datetime(col, utc=True).dt.as_unit("ns")
    # asi8 is epoch ns in UTC whatever the zone: a view of the table's own column (the
    # LabelTable keeps UTC ns), not an 8-byte-a-label copy; NaT is int64 min
    out = pd.DatetimeIndex(col).asi8.view()
    out.flags.writeable = False
    table.extra["_drift_ts_ns"] = (table.frame, out)
    return out


def _iso(ns: np.ndarray) -> np.ndarray:
    """int64 ns (UTC) to ISO 8601 strings with seconds and a ``Z``."""
    return np.datetime_as_string(
        np.asarray(ns, dtype=np.int64).view("datetime64[ns]"), unit="s", timezone="UTC"
    ).astype(object)


def _natural_key(value: str) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"(\d+)", value)
    return tuple((1, int(p)) if p.isdigit() else (0, p.lower()) for p in parts if p)


def _batch_rank(batch: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per-row natural-order rank of the batch (-1 = missing) and the batch names by rank."""
    cat = batch if isinstance(batch.dtype, pd.CategoricalDtype) else batch.astype("category")
    rank_of, names_by_rank = _category_rank(cat)
    rank_of = np.append(rank_of, -1)  # last slot: code -1 (NaN)
    codes = cat.cat.codes.to_numpy().astype(np.int64)
    return rank_of[codes], names_by_rank


def _category_rank(cat: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Natural-order rank of each category of ``cat`` (-1 = the missing-slice value) and the
    batch names by rank."""
    names = [str(c) for c in cat.cat.categories]
    order = sorted(
        (i for i, name in enumerate(names) if name != MISSING_SLICE),
        key=lambda i: _natural_key(names[i]),
    )
    rank_of = np.full(len(names), -1, dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    return rank_of, np.array([names[i] for i in order], dtype=object)
