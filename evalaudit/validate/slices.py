"""Slice detection (item columns with few values, constant within each item) and the
consistency warnings (labeler attributes, missing timestamps, models within items).
"""

from __future__ import annotations

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
def _slice_columns(
    frame: pd.DataFrame, raw: RawFile, opts: IngestOptions, problems: list[Problem]
) -> tuple[tuple[str, ...], str]:
    candidates = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    if opts.slices is not None:
        chosen = []
        for col in opts.slices:
            if col not in frame.columns:
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
            varying = _varies_within_item(frame, col)
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
        return tuple(chosen), "given with --slice"
    chosen, skipped = [], []
    n_items = len(_codes(frame[ITEM_ID])[1])
    for col in candidates:
        s = frame[col]
        uniques = _codes(s)[1]
        nunique = len(uniques)
        low = col.lower()
        if low.endswith("_id") or low in ("id", "uuid") or nunique == 0:
            continue
        if nunique > MAX_SLICE_VALUES or (n_items > 100 and nunique > 0.5 * n_items):
            skipped.append(f"{col} ({nunique} values)")
            continue
        if nunique > 12 and pd.to_numeric(pd.Series(uniques), errors="coerce").notna().all():
            skipped.append(f"{col} (numeric)")
            continue
        varying = _varies_within_item(frame, col)
        if varying is not None:
            skipped.append(f"{col} (varies within items)")
            continue
        chosen.append(col)
    note = "auto-detected (text columns with <= 50 values, constant within each item)"
    if skipped:
        note += "; not used: " + ", ".join(skipped)
    return tuple(chosen), note


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
            out.append(
                Problem(
                    f"{col}_constant",
                    col,
                    int(mask.sum()),
                    tuple(int(r) for r in frame.index[mask][:MAX_ROWS_SHOWN]),
                    f"{len(bad)} labeler(s) appear under more than one {col}; per-{col} figures "
                    "count each label under its own row's value",
                    f"check the {col} of labelers " + ", ".join(map(str, bad[:3])),
                    severity=Severity.WARNING,
                )
            )
    if TIMESTAMP in frame.columns:
        miss = frame[TIMESTAMP].isna()
        if miss.any():
            out.append(
                Problem(
                    "timestamp_missing",
                    TIMESTAMP,
                    int(miss.sum()),
                    tuple(int(r) for r in frame.index[miss][:MAX_ROWS_SHOWN]),
                    f"{int(miss.sum())} label(s) have no timestamp; they are used everywhere "
                    "except in drift over time",
                    "fill the timestamps if you can",
                    severity=Severity.WARNING,
                )
            )
    if MODEL in frame.columns:
        varying = _varies_within_item(frame, MODEL)
        if varying is not None:
            out.append(
                Problem(
                    "model_constant",
                    MODEL,
                    varying[0],
                    varying[1],
                    "the same item is graded under different models; per-model headlines "
                    "use each label's own model",
                    "make item_id unique per (prompt, model output)",
                    severity=Severity.WARNING,
                )
            )
    return out
