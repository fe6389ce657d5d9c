"""Side tables (``--items``, ``--labelers``) joined on their key."""

from __future__ import annotations

import pandas as pd

from evalaudit.contract import (
    MAX_ROWS_SHOWN,
    InputError,
    Problem,
    Severity,
)
from evalaudit.io import RawFile, read_table
from evalaudit.validate.options import IngestOptions


def _join_side(
    frame: pd.DataFrame,
    raw: RawFile,
    path: str,
    key: str,
    role: str,
    opts: IngestOptions,
    problems: list[Problem],
) -> tuple[pd.DataFrame, str]:
    side = read_table(path, None)
    side_frame = side.frame
    if key in opts.column_map and opts.column_map[key] in side_frame.columns:
        side_frame = side_frame.rename(columns={opts.column_map[key]: key})
    if key not in side_frame.columns:
        raise InputError(
            side.path,
            [
                Problem(
                    "column_exists",
                    key,
                    0,
                    (),
                    f"the {role} table has no '{key}' column to join on",
                    f"add a '{key}' column, or map yours with --column {key}=YOUR_COLUMN",
                )
            ],
        )
    if key not in frame.columns:
        raise InputError(
            raw.path,
            [
                Problem(
                    "column_exists",
                    key,
                    0,
                    (),
                    f"cannot join the {role} table: '{key}' is missing",
                    f"add the column, or map yours: --column {key}=YOUR_COLUMN",
                )
            ],
        )
    dup = side_frame[key].duplicated(keep=False) & side_frame[key].notna()
    if dup.any():
        rows = tuple(int(r) for r in side_frame.index[dup][:MAX_ROWS_SHOWN])
        raise InputError(
            side.path,
            [
                Problem(
                    "unique_key",
                    key,
                    int(dup.sum()),
                    rows,
                    f"{role} table has the same '{key}' on several rows",
                    f"keep one row per {key} in {side.path}",
                    examples=tuple(side_frame.loc[dup, key].astype(str).unique()[:5]),
                )
            ],
            row_label=side.row_label,
        )
    if role == "labelers":
        from evalaudit.validate.labeler_types import side_type_problems

        bad = side_type_problems(side_frame, side.path)
        if bad:
            raise InputError(side.path, bad, row_label=side.row_label)
    overlap = sorted((set(side_frame.columns) & set(frame.columns)) - {key})
    if overlap:
        raise InputError(
            side.path,
            [
                Problem(
                    "column_clash",
                    overlap[0],
                    0,
                    (),
                    f"column(s) {', '.join(overlap)} are in both {raw.path} and the {role} table",
                    "keep each attribute in one file",
                )
            ],
        )
    joined = frame.join(side_frame.set_index(key), on=key, how="left")
    missing = ~frame[key].isin(side_frame[key]) & frame[key].notna()
    if missing.any():
        problems.append(
            Problem(
                "side_table_match",
                key,
                int(missing.sum()),
                tuple(int(r) for r in frame.index[missing][:MAX_ROWS_SHOWN]),
                f"{int(missing.sum())} label row(s) have a {key} that is not in {side.path}; "
                "their attributes are missing",
                f"add those ids to {side.path}",
                severity=Severity.WARNING,
                examples=tuple(frame.loc[missing, key].astype(str).unique()[:5]),
            )
        )
    return joined, side.sha256
