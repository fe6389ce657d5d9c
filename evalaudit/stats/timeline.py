"""Drift timelines: a labeler's leniency residuals, binned along time (or batches).

The drift test (:mod:`evalaudit.stats.drift`) answers *whether* a labeler's
leniency changed and *when*; a reader wants to see it. This module bins the
same residuals the test uses (:func:`~evalaudit.stats.drift.leniency_residuals`,
in the same order) so that a chart can draw the labeler's leniency over time
with the estimated change point on top. It is the data of the report's drift
charts and is computed next to the audit (the renderers compute nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from evalaudit.contract import BATCH
from evalaudit.stats.drift import _NAT, _batch_rank, _iso, _timestamps_ns, drift_residuals
from evalaudit.table import LABELER, ROW_COL, LabelTable

__all__ = ["TIMELINE_COLUMNS", "drift_timeline"]

TIMELINE_COLUMNS = (
    "labeler_id",
    "order",
    "bin",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "start",
    "end",
    "mid",
    "batch",
)

_Z95 = 1.959963984540054


def drift_timeline(
    table: LabelTable,
    labeler_ids: Sequence[str],
    bins: int = 12,
    order: Literal["time", "batch"] = "time",
    strata: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Mean leniency residual of each labeler per bin of its labels, in time (or batch) order.

    Parameters
    ----------
    table:
        The validated labels.
    labeler_ids:
        The labelers to bin (unknown ids are ignored), e.g. the flagged ones.
    bins:
        ``order="time"``: the number of bins per labeler; a labeler's residuals
        in time order are cut into ``bins`` runs of (nearly) equal count, so
        every point has about the same precision. Fewer bins when the labeler
        has fewer residuals than ``2 * bins`` (at least two per bin).
        ``order="batch"``: ignored, one bin per batch.
    order:
        ``"time"`` (needs a ``timestamp`` column) or ``"batch"`` (needs ``batch``).
    strata:
        Strata of single-labeled items, as in :func:`~evalaudit.stats.drift.labeler_drift`.

    Returns
    -------
    pandas.DataFrame
        One row per (labeler, bin), columns :data:`TIMELINE_COLUMNS`: ``n``
        residuals in the bin; ``mean`` their mean (the labeler's leniency in
        that bin, on the score scale); ``ci_low``/``ci_high`` a normal 95% CI
        (``mean +- 1.96 sd / sqrt(n)``, ``sd`` with ddof 1; NaN when ``n < 2``);
        ``start``/``end``/``mid`` the first, last and middle timestamp of the
        bin (ISO 8601 UTC, seconds; ``None`` without timestamps); ``batch`` the
        batch name (``order="batch"``). Empty (with these columns) when the
        table has no usable order column or none of the labelers has a residual.

    Notes
    -----
    Estimand and rows: exactly the residuals and order of the drift test
    (labels with a finite residual and, for time, a timestamp; ties by source
    row), so a change at ``change_at`` in the drift table shows here as a step
    in ``mean`` at that time. The per-bin CI treats residuals as independent,
    the same assumption as the test; it is a reading aid, not a test (the
    test is the CUSUM q-value). Reference: the binned-means display of a
    change in mean is the usual companion of a CUSUM test (Page 1954,
    doi:10.2307/2333009).

    >>> t = LabelTable.build(
    ...     pd.DataFrame({"item_id": list("aabbccdd"), "labeler_id": list("xyxyxyxy"),
    ...                   "label": ["pass", "fail"] * 2 + ["fail", "fail"] * 2,
    ...                   "timestamp": [f"2026-03-0{i // 2 + 1}T10:00:00Z" for i in range(8)]}),
    ...     "binary", positive="pass")
    >>> tl = drift_timeline(t, ["x"], bins=2)
    >>> tl[["bin", "n", "mean", "start"]].to_dict(orient="list")  # doctest: +NORMALIZE_WHITESPACE
    {'bin': [0, 1], 'n': [2, 2], 'mean': [1.0, 0.0],
     'start': ['2026-03-01T10:00:00Z', '2026-03-03T10:00:00Z']}
    """
    if order not in ("time", "batch"):
        raise ValueError(f"drift_timeline: order must be 'time' or 'batch', not {order!r}")
    if bins < 1:
        raise ValueError(f"drift_timeline: bins must be at least 1, not {bins}")
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in TIMELINE_COLUMNS})
    ids = pd.Index(table.labeler_ids)
    codes = [int(ids.get_loc(i)) for i in dict.fromkeys(labeler_ids) if i in ids]
    if not codes:
        return empty
    f = table.frame
    labeler = f[LABELER].to_numpy().astype(np.int64)
    ts = _timestamps_ns(table)
    row = f[ROW_COL].to_numpy() if ROW_COL in f.columns else np.arange(len(f))
    selected = np.isin(labeler, codes)
    if order == "time":
        if ts is None:
            return empty
        usable = selected & (ts != _NAT)
        bcode, batch_names = None, None
    else:
        if not table.has(BATCH):
            return empty
        bcode, batch_names = _batch_rank(f[BATCH])
        usable = selected & (bcode >= 0)
    if not usable.any():
        return empty
    res = drift_residuals(table, strata)[0]  # the drift test's own series (cached)
    usable &= np.isfinite(res)
    rows: list[dict[str, object]] = []
    for code in codes:
        idx = np.flatnonzero(usable & (labeler == code))
        if not len(idx):
            continue
        if order == "time":
            assert ts is not None
            idx = idx[np.lexsort((row[idx], ts[idx]))]
            n_bins = max(1, min(bins, len(idx) // 2))
            groups = np.array_split(idx, n_bins)
        else:
            assert bcode is not None and batch_names is not None
            t_key = ts[idx] if ts is not None else row[idx]
            idx = idx[np.lexsort((row[idx], t_key, bcode[idx]))]
            b = bcode[idx]
            cut = np.flatnonzero(np.diff(b)) + 1
            groups = np.split(idx, cut)
        for k, g in enumerate(groups):
            r = res[g]
            n = len(r)
            mean = float(r.mean())
            half = _Z95 * float(r.std(ddof=1)) / np.sqrt(n) if n >= 2 else np.nan
            t_start = t_end = t_mid = None
            if ts is not None:
                tg = ts[g][ts[g] != _NAT]
                if len(tg):
                    lo, hi = int(tg.min()), int(tg.max())
                    t_start, t_end, t_mid = _iso(np.array([lo, hi, lo + (hi - lo) // 2]))
            rows.append(
                {
                    "labeler_id": str(table.labeler_ids[code]),
                    "order": order,
                    "bin": k,
                    "n": n,
                    "mean": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                    "start": t_start,
                    "end": t_end,
                    "mid": t_mid,
                    "batch": str(batch_names[bcode[g[0]]])
                    if order == "batch" and batch_names is not None and bcode is not None
                    else None,
                }
            )
    if not rows:
        return empty
    return pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
