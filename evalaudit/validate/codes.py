"""Integer codes of the string columns, computed once per ingest and shared by the checks.

At scale the cost of validation is hashing strings (DESIGN section 8): each column is
factorized once (:func:`_codes`) and the duplicate, slice and consistency checks work on
the codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalaudit.contract import (
    ITEM_ID,
)
from evalaudit.io import RawFile
from evalaudit.table import factorize

# ------------------------------------------------------------------ codes
_CODES: dict[int, tuple[Any, np.ndarray, pd.Index]] = {}


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(s)`` (missing -> -1), computed once per column array during an ingest.

    Several checks group or compare the same string columns (DESIGN section 8:
    hashing strings is the cost at scale), so they share one factorization.
    """
    arr = s.array
    hit = _CODES.get(id(arr))
    if hit is not None and hit[0] is arr:
        return hit[1], hit[2]
    codes, uniques = factorize(s)
    return _remember(arr, codes, uniques)


def _remember(arr: Any, codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Keep ``codes`` (int32 when they fit: half the memory of intp) for column array ``arr``."""
    if len(uniques) < np.iinfo(np.int32).max:
        codes = codes.astype(np.int32, copy=False)
    _CODES[id(arr)] = (arr, codes, uniques)
    return codes, uniques


def _key_codes(
    frame: pd.DataFrame, columns: Sequence[str], rows: np.ndarray | None = None
) -> np.ndarray:
    """One int64 code per distinct tuple of ``columns`` (a missing value is a value too).

    ``rows``: positions to code (default every row). The checks only ever compare rows of
    repeated items, a third of a large eval set: coding those alone keeps the int64
    temporaries at that size.
    """
    combined = np.zeros(len(frame) if rows is None else len(rows), dtype=np.int64)
    size = 1
    for col in columns:
        codes, uniques = _codes(frame[col])
        width = len(uniques) + 1
        if size * width >= 2**62:  # keep the product in range
            combined, uniq = pd.factorize(combined)
            combined, size = combined.astype(np.int64), len(uniq)
        part = (codes if rows is None else codes[rows]).astype(np.int64)
        part += 1
        combined *= width
        combined += part
        del part
        size *= width
    return combined


def _seed_codes(frame: pd.DataFrame, raw: RawFile) -> None:
    """Let :func:`_codes` reuse the factorizations the reader made (its columns, unchanged)."""
    for name, (codes, uniques) in raw.codes.items():
        if name not in raw.frame.columns:
            continue
        arr = raw.frame[name].array
        if len(codes) == len(arr) and any(frame[col].array is arr for col in frame.columns):
            _remember(arr, codes, uniques)


def _item_repeats(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose ``item_id`` (missing counts as one value) is on more than one row.

    Only these rows can repeat a key that contains the item, or disagree on an item
    attribute: most items of a large eval set carry one label, so checks look at these
    rows alone.
    """
    codes, uniques = _codes(frame[ITEM_ID])
    hit = _REPEATS.get(id(codes))
    if hit is not None and hit[0] is codes:
        return hit[1]
    shifted = codes.astype(np.int64) + 1
    out = np.bincount(shifted, minlength=len(uniques) + 1)[shifted] >= 2
    out.flags.writeable = False
    _REPEATS[id(codes)] = (codes, out)
    return out


#: :func:`_item_repeats` per item-code array (the checks ask for it several times).
_REPEATS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _duplicated_keys(
    frame: pd.DataFrame,
    columns: Sequence[str],
    candidates: np.ndarray,
    keep: Literal["first", "last", False],
) -> np.ndarray:
    """``duplicated(keep)`` of the tuples of ``columns``, where every repeated tuple lies in
    ``candidates`` (rows of repeated items): only those rows are coded and hashed."""
    out = np.zeros(len(frame), dtype=bool)
    idx = np.flatnonzero(candidates)
    keys = _key_codes(frame, columns, idx)
    out[idx] = pd.Series(keys).duplicated(keep=keep).to_numpy()
    return out


def _per_group_varies(group: np.ndarray, n_groups: int, value: np.ndarray) -> np.ndarray:
    """Per group (code >= 0): whether it holds two different ``value`` codes."""
    ok = group >= 0
    g, v = group[ok], value[ok].astype(np.int64)
    lo = np.full(n_groups, np.iinfo(np.int64).max)
    hi = np.full(n_groups, np.iinfo(np.int64).min)
    np.minimum.at(lo, g, v)
    np.maximum.at(hi, g, v)
    return hi > lo
