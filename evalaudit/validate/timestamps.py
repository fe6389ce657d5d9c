"""Timestamps: ISO 8601 or epoch numbers to UTC, parsed once per distinct value; and
``--duplicates keep-last``, which orders by them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.contract import (
    ITEM_ID,
    LABELER_ID,
)
from evalaudit.table import factorize
from evalaudit.validate.codes import _codes


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """ISO 8601 strings or epoch numbers (seconds; milliseconds when > 1e11) -> UTC datetimes.

    Unparseable values become NaT (the suite reports them). A column the reader gave typed
    (a Parquet timestamp) is only converted to UTC: never rendered to text and parsed back.
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw.dtype):
        typed = raw if isinstance(raw.dtype, pd.DatetimeTZDtype) else raw.dt.tz_localize("UTC")
        return typed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    text = isinstance(raw.dtype, pd.CategoricalDtype | pd.StringDtype)
    s = raw if text else raw.astype("string")
    # parse each distinct value once (timestamps repeat: minutes, batches), then take;
    # the codes are the ones the reader may have computed already (see _codes)
    codes, uniques = _codes(s) if text else factorize(s)
    parsed = _parse_timestamp_values(pd.Series(uniques, dtype="string"))
    ns = parsed.array.asi8
    nat = np.iinfo(np.int64).min
    taken = ns[np.maximum(codes, 0)] if len(ns) else np.full(len(codes), nat, dtype=np.int64)
    taken = np.where(codes >= 0, taken, nat)
    return pd.Series(pd.DatetimeIndex(taken.view("M8[ns]")).tz_localize("UTC"), index=s.index)


def _parse_timestamp_values(s: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    # to_numeric on every string costs ~0.8 s per 10^6 rows: only try it where it can succeed
    is_num = s.str.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*").fillna(False).astype(bool)
    if is_num.any():
        secs = pd.to_numeric(s[is_num], errors="coerce").astype("float64")
        secs = secs.where(secs.abs() < 1e11, secs / 1000.0)
        out[is_num] = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
    text = s.notna() & ~is_num
    if text.any():
        out[text] = pd.to_datetime(s[text], utc=True, format="ISO8601", errors="coerce")
    return out


def _keep_last(frame: pd.DataFrame, parsed_ts: pd.Series | None) -> tuple[pd.DataFrame, int]:
    """Keep one label per (item, labeler): the latest timestamp, else the last row in the file."""
    if parsed_ts is not None:
        order = parsed_ts.loc[frame.index]
        tmp = frame.assign(__t=order.to_numpy(), __r=frame.index.to_numpy())
        tmp = tmp.sort_values(["__t", "__r"], na_position="first", kind="stable")
        keep = ~tmp.duplicated([ITEM_ID, LABELER_ID], keep="last")
        kept_index = tmp.index[keep]
    else:
        keep = ~frame.duplicated([ITEM_ID, LABELER_ID], keep="last")
        kept_index = frame.index[keep]
    out = frame.loc[frame.index.isin(kept_index)]
    return out, len(frame) - len(out)
