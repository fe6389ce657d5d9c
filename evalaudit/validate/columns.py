"""Columns and mapping: ``--column``, crowd-kit's names, required columns (with the right
fix when a header was split by the wrong delimiter), ``--skip-invalid`` and ``--version``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import (
    ITEM_ID,
    LABEL,
    LABELER_ID,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    VERSION,
    InputError,
    Problem,
)
from evalaudit.io import RawFile
from evalaudit.table import INTERNAL_COLUMNS
from evalaudit.validate.codes import _codes
from evalaudit.validate.options import IngestOptions


# ------------------------------------------------------------------ columns
def column_map_problems(mapping: dict[str, str], columns: Sequence[str]) -> list[Problem]:
    """The ``--column canonical=theirs`` entries that cannot apply to a file with ``columns``:
    an unknown canonical name, or a source column the file lacks (both ingests)."""
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    problems = []
    for canonical, theirs in mapping.items():
        if canonical not in known:
            problems.append(
                Problem(
                    "column_map",
                    canonical,
                    0,
                    (),
                    f"'{canonical}' is not a column evalaudit knows",
                    f"map one of: {', '.join(sorted(known))} (as canonical=theirs)",
                )
            )
        elif theirs not in columns:
            problems.append(
                Problem(
                    "column_map",
                    theirs,
                    0,
                    (),
                    f"--column {canonical}={theirs}: the file has no column '{theirs}'",
                    "the file's columns are: " + ", ".join(map(str, columns)),
                )
            )
    return problems


def _apply_column_map(raw: RawFile, mapping: dict[str, str]) -> pd.DataFrame:
    frame = raw.frame
    if not mapping:
        return frame
    problems = column_map_problems(mapping, list(frame.columns))
    if problems:
        raise InputError(raw.path, problems)
    rename = {theirs: canonical for canonical, theirs in mapping.items()}
    clash = [c for c in rename.values() if c in frame.columns and c not in rename]
    if clash:
        raise InputError(
            raw.path,
            [
                Problem(
                    "column_map",
                    clash[0],
                    0,
                    (),
                    f"the file already has a column '{clash[0]}'",
                    f"drop or rename the existing '{clash[0]}' column, or do not map onto it",
                )
            ],
        )
    return frame.rename(columns=rename)


def _require_columns(frame: pd.DataFrame, raw: RawFile) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if not missing:
        bad = sorted(INTERNAL_COLUMNS & set(frame.columns))
        if bad:
            raise InputError(
                raw.path,
                [
                    Problem(
                        "column_name",
                        bad[0],
                        0,
                        (),
                        f"column name '{bad[0]}' is reserved by evalaudit",
                        f"rename the column (e.g. '{bad[0]}_attr') before auditing",
                    )
                ],
            )
        return
    # the file's columns, including free text the reader did not hold: the missing one may
    # be one of them (a prompt as the item id), and the message must list it
    header = [*frame.columns, *raw.unread]
    found = ", ".join(map(str, header[:20]))
    problems = []
    glued = _glued_delimiter(header)
    for col in missing:
        guess = _guess_column(col, header)
        if glued is not None and any(col in str(c).split(glued) for c in header):
            shown = "tab" if glued == "\t" else glued
            hint = (
                f"the header is one column holding '{shown}'-separated names: the file is "
                f"'{shown}'-delimited; pass --delimiter '{shown}' (or drop --delimiter to sniff it)"
            )
        else:
            hint = missing_column_fix(col, guess)
        problems.append(
            Problem(
                "column_exists",
                col,
                0,
                (),
                f"required column '{col}' is missing (the file has: {found})",
                hint,
            )
        )
    raise InputError(raw.path, problems)


def _glued_delimiter(columns: list[str]) -> str | None:
    """The delimiter a header was really split by, when it was read with the wrong one."""
    for d in (";", "\t", "|", ","):
        if any(d in str(c) for c in columns):
            return d
    return None


#: crowd-kit's column names (https://toloka.ai/docs/crowd-kit/: its aggregators take a frame
#: of ``task``, ``worker``, ``label``). A table with ``task`` and ``worker`` and neither
#: ``item_id`` nor ``labeler_id`` is read as such without asking; other aliases (a lone
#: ``worker``, ``annotator`` ...) are only suggested in the missing-column fix.
AUTO_ALIASES = {ITEM_ID: "task", LABELER_ID: "worker"}


def _apply_aliases(frame: pd.DataFrame, opts: IngestOptions, notes: list[str]) -> pd.DataFrame:
    cols = set(frame.columns)
    if (
        not set(AUTO_ALIASES.values()) <= cols
        or cols & set(AUTO_ALIASES)
        or set(AUTO_ALIASES) & set(opts.column_map)
    ):
        return frame
    rename = {alias: canonical for canonical, alias in AUTO_ALIASES.items()}
    notes.append(
        "columns mapped: "
        + ", ".join(f"{a} -> {c}" for a, c in rename.items())
        + " (crowd-kit's names; map others with --column)"
    )
    return frame.rename(columns=rename)


def _set_aside_blanks(
    frame: pd.DataFrame, rejected: dict[str, int], notes: list[str]
) -> pd.DataFrame:
    """``--skip-invalid``: rows with a blank id or label are set aside, counted by reason.

    A row blank in several columns counts once, under the first of item_id, labeler_id,
    label. Whitespace-only values are blank too.
    """
    bad = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for col in (ITEM_ID, LABELER_ID, LABEL):
        s = frame[col]
        blank = np.array(s.isna().to_numpy(dtype=bool), copy=True)
        text = ~blank
        if isinstance(s.dtype, pd.CategoricalDtype):
            # strip each distinct value once, not each row (10^7 rows: a few categories)
            empty = (pd.Series(s.cat.categories).astype("string").str.strip() == "").fillna(False)
            codes = s.cat.codes.to_numpy()
            blank |= np.append(empty.to_numpy(dtype=bool), False)[codes]
        elif text.any():
            blank |= (s.astype("string").str.strip() == "").fillna(False).to_numpy(dtype=bool)
        new = blank & ~bad
        if new.any():
            counts[f"blank_{col}"] = int(new.sum())
        bad |= blank
    if not bad.any():
        return frame
    for reason, n in counts.items():
        rejected[reason] = rejected.get(reason, 0) + n
    notes.append(skip_invalid_note(counts))
    return frame[~bad]


def _blank_to_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Whitespace-only ids and labels are missing, as ``--skip-invalid`` and the SQL ingest
    read them: the contract's ``not_null`` check then names their lines (a label of ``'  '``
    was otherwise a third label value, an item id of ``'  '`` an item)."""
    out = frame
    for col in (ITEM_ID, LABELER_ID, LABEL):
        s = frame[col]
        if not (s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))):
            continue  # numbers and booleans are never blank text
        codes, uniques = _codes(s)
        if not len(uniques):
            continue
        empty = (pd.Series(uniques).astype("string").str.strip() == "").fillna(False)
        empty = empty.to_numpy(dtype=bool)
        if not empty.any():
            continue
        blank = np.append(empty, False)[codes]  # code -1 (missing) indexes the False
        if out is frame:
            out = frame.copy(deep=False)
        out[col] = s.mask(pd.Series(blank, index=s.index))
    return out


#: The reasons ``--skip-invalid`` sets a row aside under, in the order a row blank in several
#: of the columns is counted (the first one).
BLANK_REASONS = tuple(f"blank_{col}" for col in (ITEM_ID, LABELER_ID, LABEL))


def skip_invalid_note(counts: dict[str, int]) -> str:
    """The note of the rows ``--skip-invalid`` set aside (reason -> rows, none zero).

    Shared with the SQL ingest, which counts the same reasons with one query.
    """
    return (
        f"--skip-invalid: {sum(counts.values()):,} row(s) set aside ("
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
        + ")"
    )


_ALIASES = {
    ITEM_ID: ("item", "task", "task_id", "question_id", "example_id", "id", "sample_id"),
    LABELER_ID: (
        "labeler",
        "worker",
        "worker_id",
        "annotator",
        "annotator_id",
        "rater",
        "rater_id",
        "grader",
        "performer",
    ),
    LABEL: ("rating", "grade", "response", "answer", "judgement", "judgment", "verdict", "score"),
}


def missing_column_fix(col: str, guess: str | None) -> str:
    """The fix of a missing required column: map the file's column that looks like it
    (shell-quoted), else add or map one. Shared with the SQL ingest."""
    if guess:
        return f"rename it, or map it: --column {shlex.quote(f'{col}={guess}')}"
    return f"add the column, or map yours: --column {col}=YOUR_COLUMN"


def _norm_name(name: object) -> str:
    """A column name compared loosely: case, surrounding space and separators ignored
    (``Item ID``, ``item-id``, ``ITEM_ID`` are ``item_id``)."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _guess_column(canonical: str, columns: list[str]) -> str | None:
    lowered: dict[str, str] = {}
    for c in columns:
        lowered.setdefault(str(c).lower(), c)
        lowered.setdefault(_norm_name(c), c)
    # the canonical name itself spelled another way ('Label', 'Item ID') first, then aliases
    for alias in (canonical, *_ALIASES.get(canonical, ())):
        if alias in lowered:
            return lowered[alias]
    return None


def _select_version(
    frame: pd.DataFrame, raw: RawFile, opts: IngestOptions, rejected: dict[str, int]
) -> pd.DataFrame:
    if VERSION not in frame.columns:
        if opts.version is not None:
            raise InputError(
                raw.path,
                [
                    Problem(
                        "column_exists",
                        VERSION,
                        0,
                        (),
                        "--version given but the file has no 'version' column",
                        "drop --version, or map your column: --column version=COL",
                    )
                ],
            )
        return frame
    versions = sorted(frame[VERSION].dropna().unique().tolist(), key=_natural_key)
    if opts.version is None:
        if len(versions) > 1:
            raise InputError(
                raw.path,
                [
                    Problem(
                        "version",
                        VERSION,
                        len(frame),
                        (),
                        f"the file holds {len(versions)} eval-set versions ({', '.join(versions[:6])})",
                        "audit one with --version V, or compare two with `evalaudit diff`",
                    )
                ],
            )
        return frame
    if opts.version not in versions:
        raise InputError(
            raw.path,
            [
                Problem(
                    "version",
                    VERSION,
                    0,
                    (),
                    f"version '{opts.version}' is not in the file",
                    "use one of: " + ", ".join(versions[:20]),
                )
            ],
        )
    keep = frame[VERSION] == opts.version
    rejected["other_version"] = int((~keep).sum())
    return frame[keep.fillna(False)]


def _natural_key(v: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(v))]
