"""Slice detection (item columns with few values, constant within each item) and the
consistency warnings (labeler attributes, missing timestamps, models within items).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import (
    ITEM_ID,
    LABELER_ATTRIBUTES,
    LABELER_ID,
    MAX_ROWS_SHOWN,
    MAX_SLICE_VALUES,
    MODEL,
    RESERVED_COLUMNS,
    TIMESTAMP,
    Problem,
    Severity,
)
from evalaudit.io import RawFile
from evalaudit.validate.codes import _codes, _item_repeats, _per_group_varies
from evalaudit.validate.options import IngestOptions

# ------------------------------------------------------------------ slices
#: The note of auto-detected slices (both ingest engines).
AUTO_SLICE_NOTE = "auto-detected (text columns with <= 50 values, constant within each item)"

Varies = Callable[[str], "tuple[int, tuple[int, ...]] | None"]


def given_slices(
    given: Sequence[str],
    columns: Collection[str],
    candidates: Sequence[str],
    varies: Varies,
    problems: list[Problem],
) -> tuple[str, ...]:
    """The ``--slice`` columns that can be slices; a problem for each that cannot.

    ``varies(col)``: the rows of items on which ``col`` takes several values (count
    and the first rows), None when it is constant within every item. Shared by the
    in-memory and the SQL ingest, which differ only in how they answer it.
    """
    chosen = []
    for col in given:
        if col not in columns:
            problems.append(
                Problem(
                    "slice",
                    col,
                    0,
                    (),
                    f"--slice {col}: no such column",
                    "columns available as slices: " + (", ".join(candidates) or "(none)"),
                )
            )
            continue
        if col in RESERVED_COLUMNS and col not in (MODEL,):
            problems.append(
                Problem(
                    "slice",
                    col,
                    0,
                    (),
                    f"'{col}' is a reserved column, not an item slice",
                    "vendor and batch are reported as labeler groups already",
                )
            )
            continue
        varying = varies(col)
        if varying is not None:
            problems.append(
                Problem(
                    "slice_constant",
                    col,
                    varying[0],
                    varying[1],
                    f"'{col}' takes different values on the same item, so it is not an item slice",
                    "give each item one value of the slice (it describes the item, not the label)",
                )
            )
            continue
        chosen.append(col)
    return tuple(chosen)


def auto_slice_skip(col: str, uniques: Sequence[Any], n_items: int) -> str | None:
    """Why an auto-detection candidate is not a slice, before the within-item check.

    ``""``: left out silently (an id column, or no value at all); ``"values"``: too
    many distinct values (the caller says how many); ``"numeric"``; None: it may be
    a slice if it is constant within each item.
    """
    nunique = len(uniques)
    low = col.lower()
    if low.endswith("_id") or low in ("id", "uuid") or nunique == 0:
        return ""
    if nunique > MAX_SLICE_VALUES or (n_items > 100 and nunique > 0.5 * n_items):
        return "values"
    if nunique > 12 and pd.to_numeric(pd.Series(uniques), errors="coerce").notna().all():
        return "numeric"
    return None


def auto_slice_note(skipped: Sequence[str]) -> str:
    """The note of auto-detected slices, with the candidates left out and why."""
    return AUTO_SLICE_NOTE + ("; not used: " + ", ".join(skipped) if skipped else "")


def _slice_columns(
    frame: pd.DataFrame, raw: RawFile, opts: IngestOptions, problems: list[Problem]
) -> tuple[tuple[str, ...], str]:
    candidates = [c for c in frame.columns if c not in RESERVED_COLUMNS]

    def varies(col: str) -> tuple[int, tuple[int, ...]] | None:
        return _varies_within_item(frame, col)

    if opts.slices is not None:
        given = given_slices(opts.slices, frame.columns, candidates, varies, problems)
        return given, "given with --slice"
    chosen, skipped = [], []
    n_items = len(_codes(frame[ITEM_ID])[1])
    for col in candidates:
        uniques = _codes(frame[col])[1]
        why = auto_slice_skip(col, uniques, n_items)
        if why == "values":
            skipped.append(f"{col} ({len(uniques)} values)")
        elif why == "numeric":
            skipped.append(f"{col} (numeric)")
        elif why is None and varies(col) is not None:
            skipped.append(f"{col} (varies within items)")
        elif why is None:
            chosen.append(col)
    return tuple(chosen), auto_slice_note(skipped)


def _varies_within_item(frame: pd.DataFrame, col: str) -> tuple[int, tuple[int, ...]] | None:
    """Rows of items (with an id) whose ``col`` takes several values (missing counts as one)."""
    item, items = _codes(frame[ITEM_ID])
    value, _ = _codes(frame[col])
    multi = _item_repeats(frame)  # an item with one row cannot vary
    bad = _per_group_varies(np.where(multi, item, -1), len(items), value)
    if not bad.any():
        return None
    rows_mask = (item >= 0) & bad[np.maximum(item, 0)]
    rows = tuple(int(r) for r in frame.index[np.flatnonzero(rows_mask)[:MAX_ROWS_SHOWN]])
    return int(rows_mask.sum()), rows


def labeler_attribute_warning(
    col: str, n_rows: int, rows: tuple[int, ...], labelers: Sequence[object]
) -> Problem:
    """``labelers`` appear under more than one value of ``col`` (vendor): a warning."""
    return Problem(
        f"{col}_constant",
        col,
        n_rows,
        rows,
        f"{len(labelers)} labeler(s) appear under more than one {col}; per-{col} figures "
        "count each label under its own row's value",
        f"check the {col} of labelers " + ", ".join(map(str, labelers[:3])),
        severity=Severity.WARNING,
    )


def timestamp_missing_warning(n_rows: int, rows: tuple[int, ...]) -> Problem:
    """``n_rows`` labels without a timestamp: a warning."""
    return Problem(
        "timestamp_missing",
        TIMESTAMP,
        n_rows,
        rows,
        f"{n_rows} label(s) have no timestamp; they are used everywhere except in drift over time",
        "fill the timestamps if you can",
        severity=Severity.WARNING,
    )


def model_varies_warning(n_rows: int, rows: tuple[int, ...]) -> Problem:
    """Items graded under several models (rows of those items): a warning."""
    return Problem(
        "model_constant",
        MODEL,
        n_rows,
        rows,
        "the same item is graded under different models; per-model headlines "
        "use each label's own model",
        "make item_id unique per (prompt, model output)",
        severity=Severity.WARNING,
    )


def _consistency_warnings(frame: pd.DataFrame, raw: RawFile) -> list[Problem]:
    out: list[Problem] = []
    for col in LABELER_ATTRIBUTES:
        if col not in frame.columns or col == "batch":
            continue
        lab, lab_ids = _codes(frame[LABELER_ID])
        value, _ = _codes(frame[col])
        known = value >= 0  # nunique(dropna=True)
        varies = _per_group_varies(np.where(known, lab, -1), len(lab_ids), value)
        bad = pd.Index(lab_ids[np.flatnonzero(varies)])
        if len(bad):
            mask = (lab >= 0) & varies[np.maximum(lab, 0)]
            rows = tuple(int(r) for r in frame.index[mask][:MAX_ROWS_SHOWN])
            out.append(labeler_attribute_warning(col, int(mask.sum()), rows, list(bad)))
    if TIMESTAMP in frame.columns:
        miss = frame[TIMESTAMP].isna()
        if miss.any():
            rows = tuple(int(r) for r in frame.index[miss][:MAX_ROWS_SHOWN])
            out.append(timestamp_missing_warning(int(miss.sum()), rows))
    if MODEL in frame.columns:
        varying = _varies_within_item(frame, MODEL)
        if varying is not None:
            out.append(model_varies_warning(*varying))
    return out
