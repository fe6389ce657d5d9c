"""Side tables (``--items``, ``--labelers``) joined on their key.

The checks are split by what they read, so the SQL ingest (:mod:`evalaudit.engine.ingest`),
which never holds the label file in pandas, runs the same ones: :func:`read_side` reads a
side table and runs every check that needs only it and the label file's column names;
:func:`side_match_warning` is the one check on the label rows (ids missing from the side
table), from counts and first rows either engine computes.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from evalaudit.contract import (
    MAX_ROWS_SHOWN,
    InputError,
    Problem,
    Severity,
)
from evalaudit.io import RawFile, read_table
from evalaudit.validate.options import IngestOptions

__all__ = ["read_side", "side_match_warning"]


def read_side(
    path: str,
    key: str,
    role: str,
    opts: IngestOptions,
    label_path: str,
    label_columns: Collection[str],
) -> tuple[RawFile, pd.DataFrame]:
    """The side table at ``path`` (``role``: items or labelers) and its frame, key named ``key``.

    Raises :class:`InputError` for a side table without the key column, a label file
    without it (``label_columns``: the label file's columns after ``--column`` and the
    side tables joined before this one), a key on several rows, an unknown
    ``labeler_type`` in the labelers table, and a column in both tables.
    """
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
    if key not in label_columns:
        raise InputError(
            label_path,
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
    overlap = sorted((set(side_frame.columns) & set(label_columns)) - {key})
    if overlap:
        raise InputError(
            side.path,
            [
                Problem(
                    "column_clash",
                    overlap[0],
                    0,
                    (),
                    f"column(s) {', '.join(overlap)} are in both {label_path} and the {role} table",
                    "keep each attribute in one file",
                )
            ],
        )
    return side, side_frame


def side_match_warning(
    key: str, n_rows: int, rows: tuple[int, ...], side_path: str, examples: tuple[str, ...]
) -> Problem:
    """``n_rows`` label rows whose ``key`` is not in the side table: a warning.

    ``rows``: the first of them; ``examples``: their first distinct ids, in row order.
    """
    return Problem(
        "side_table_match",
        key,
        n_rows,
        rows,
        f"{n_rows} label row(s) have a {key} that is not in {side_path}; "
        "their attributes are missing",
        f"add those ids to {side_path}",
        severity=Severity.WARNING,
        examples=examples,
    )


def _join_side(
    frame: pd.DataFrame,
    raw: RawFile,
    path: str,
    key: str,
    role: str,
    opts: IngestOptions,
    problems: list[Problem],
) -> tuple[pd.DataFrame, str]:
    side, side_frame = read_side(path, key, role, opts, raw.path, frame.columns)
    joined = frame.join(side_frame.set_index(key), on=key, how="left")
    missing = ~frame[key].isin(side_frame[key]) & frame[key].notna()
    if missing.any():
        problems.append(
            side_match_warning(
                key,
                int(missing.sum()),
                tuple(int(r) for r in frame.index[missing][:MAX_ROWS_SHOWN]),
                side.path,
                tuple(frame.loc[missing, key].astype(str).unique()[:5]),
            )
        )
    return joined, side.sha256
