"""Ingest and validate: from a user's file to a :class:`~evalaudit.table.LabelTable`.

Runs before any statistic. Every problem is collected (not just the first)
and reported with check, column, count, the first row numbers as in the file
and a fix hint. Errors raise :class:`~evalaudit.contract.InputError`; warnings
travel on with the table and become ``data_quality`` findings. Row
accounting (rows read, used, and rejected by reason) is always returned:
nothing is dropped silently.

The row-level checks of the contract
-----------------------------------
They are declared once, in :func:`contract_checks` (column present, not null,
value in the label scale, gold in the scale, timestamp parses, (item, labeler)
unique), and have two executors that must agree:

- great-expectations: :func:`build_suite` turns the declaration into the
  declared contract, a GX suite (one expectation per check, hint and message in
  ``meta``). GX is imported lazily (the import costs ~2.5 s) and validates at
  ~2.3 s per 10^6 rows (DESIGN section 8).
- vectorized: :func:`_validate_fast` evaluates the same declaration with
  pandas/numpy over *every* row (never a sample), with GX's semantics:
  ``in_set`` ignores missing values, ``unique`` counts every row of a
  duplicated key and skips rows whose key columns are all missing, the first
  row numbers are those of the offending rows in file order, capped at
  ``MAX_ROWS_SHOWN``.

:func:`contract_engine` picks GX for inputs of up to :data:`GX_MAX_ROWS` rows
and the vectorized executor above that; ``EVALAUDIT_CONTRACT=gx`` (or
``fast``) forces one. Both feed the same conversion to :class:`Problem`, so the
user sees the same report either way; ``tests/test_contract_parity.py`` checks
that they give the same problems (check, column, count, first rows, examples)
on bad inputs of every kind.

At scale the cost is hashing strings (DESIGN section 8), so each column is
factorized once per ingest (:func:`_codes`) and the duplicate, slice and
consistency checks work on the integer codes; the item and attribute codes go
on to :meth:`LabelTable.build`. Timestamps are parsed once per distinct value.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalaudit.contract import (
    BATCH,
    GOLD,
    ITEM_ID,
    LABEL,
    LABELER_ATTRIBUTES,
    LABELER_ID,
    MAX_ROWS_SHOWN,
    MAX_SLICE_VALUES,
    MODEL,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RESERVED_COLUMNS,
    ROW,
    TIMESTAMP,
    VENDOR,
    VERSION,
    InputError,
    LabelKind,
    LabelSpec,
    Problem,
    Severity,
    detect_label_spec,
)
from evalaudit.io import RawFile, read_table
from evalaudit.table import INTERNAL_COLUMNS, LabelTable, factorize

__all__ = ["Accounting", "IngestOptions", "Ingested", "build_suite", "ingest"]

DuplicatePolicy = Literal["error", "keep-last"]


@dataclass(frozen=True)
class IngestOptions:
    """How to read the user's files. Mirrors the CLI options of ``audit`` and ``validate``."""

    fmt: str | None = None
    items: str | None = None
    labelers: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    label_kind: LabelKind | None = None
    positive: str | None = None
    order: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    slices: tuple[str, ...] | None = None  # None: auto-detect
    duplicates: DuplicatePolicy = "error"
    version: str | None = None
    #: a CSV's delimiter (default: sniffed from the first lines)
    delimiter: str | None = None
    #: the labeling-tool control / scorer / question / feedback key to read
    control: str | None = None
    #: set rows with a blank item_id, labeler_id or label aside (counted) instead of stopping
    skip_invalid: bool = False
    #: refuse label spellings that differ only in case or surrounding whitespace
    labels_exact: bool = False


@dataclass(frozen=True)
class Accounting:
    """Rows read, used, and each reason a row was not used (they add up)."""

    rows_read: int
    rows_used: int
    rows_rejected: dict[str, int]
    items: int
    labelers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_rejected": dict(sorted(self.rows_rejected.items())),
            "items": self.items,
            "labelers": self.labelers,
        }


@dataclass(frozen=True)
class Ingested:
    """A validated input: the table plus what the user should know about how it was read."""

    path: str
    sha256: str
    format: str
    table: LabelTable
    label_spec: LabelSpec
    accounting: Accounting
    warnings: tuple[Problem, ...]
    slice_note: str
    row_label: str
    side_files: dict[str, str] = field(default_factory=dict)  # role -> sha256
    #: what was done to read the input (decompressed, delimiter, export mapped, labels
    #: normalised, rows set aside): printed, and carried into ``AuditResult.notes``
    notes: tuple[str, ...] = ()


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


def _key_codes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One int64 code per distinct tuple of ``columns`` (a missing value is a value too)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for col in columns:
        codes, uniques = _codes(frame[col])
        width = len(uniques) + 1
        if size * width >= 2**62:  # keep the product in range
            combined, uniq = pd.factorize(combined)
            combined, size = combined.astype(np.int64), len(uniq)
        combined = combined * width + (codes.astype(np.int64) + 1)
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


def _duplicated(
    codes: np.ndarray, candidates: np.ndarray, keep: Literal["first", "last", False]
) -> np.ndarray:
    """``pd.Series(codes).duplicated(keep)`` where every repeated code lies in ``candidates``."""
    out = np.zeros(len(codes), dtype=bool)
    idx = np.flatnonzero(candidates)
    out[idx] = pd.Series(codes[idx]).duplicated(keep=keep).to_numpy()
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


# ==========================================================================
def ingest(path: str | RawFile, options: IngestOptions | None = None) -> Ingested:
    """Read ``path`` (and side tables), check the contract, build the LabelTable.

    ``path`` may also be a :class:`~evalaudit.io.RawFile` already read (a DataFrame
    through :func:`evalaudit.io.frame_to_raw`).

    Raises :class:`InputError` with every error found. The order of checks:
    file -> columns -> values (the contract) -> item/labeler consistency.
    """
    _CODES.clear()
    _REPEATS.clear()
    try:
        return _ingest(path, options)
    finally:
        _CODES.clear()
        _REPEATS.clear()
        _release_arrow_memory()


def _release_arrow_memory() -> None:
    """Hand the Arrow pool's freed pages (the raw file's string columns) back to the OS.

    Arrow's allocator keeps freed memory for reuse by Arrow, but the statistics
    allocate through numpy: at 10^7 rows this returns about 600 MB to the audit.
    """
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()


def _ingest(path: str | RawFile, options: IngestOptions | None = None) -> Ingested:
    opts = options or IngestOptions()
    if isinstance(path, RawFile):
        raw = path
    else:
        raw = read_table(path, opts.fmt, delimiter=opts.delimiter, control=opts.control)
    notes: list[str] = list(raw.notes)
    frame = _apply_column_map(raw, opts.column_map)
    frame = _apply_aliases(frame, opts, notes)
    _seed_codes(frame, raw)
    side: dict[str, str] = {}
    problems: list[Problem] = []
    if opts.items:
        frame, sha = _join_side(frame, raw, opts.items, ITEM_ID, "items", opts, problems)
        side["items"] = sha
    if opts.labelers:
        frame, sha = _join_side(frame, raw, opts.labelers, LABELER_ID, "labelers", opts, problems)
        side["labelers"] = sha
    _require_columns(frame, raw)
    rejected: dict[str, int] = dict(raw.rejected)

    frame = _select_version(frame, raw, opts, rejected)
    if opts.skip_invalid:
        frame = _set_aside_blanks(frame, rejected, notes)
    frame = _normalise_labels(frame, raw, opts, notes)

    # identical duplicates: same item, labeler and label; keep one, count the rest
    keys = [ITEM_ID, LABELER_ID]
    dup_identical = pd.Series(
        _duplicated(_key_codes(frame, [*keys, LABEL]), _item_repeats(frame), keep="last"),
        index=frame.index,
    ) & (frame[ITEM_ID].notna() & frame[LABELER_ID].notna())
    if dup_identical.any():
        rejected["identical_duplicate"] = int(dup_identical.sum())
        frame = frame[~dup_identical]

    spec = _label_spec(frame, raw, opts)
    # parsed once: the suite checks it, keep-last orders by it, the table stores it
    parsed_ts = _parse_timestamps(frame[TIMESTAMP]) if TIMESTAMP in frame.columns else None
    problems += _run_suite(frame, raw, spec, opts, parsed_ts)

    conflicting = [p for p in problems if p.check == "duplicate"]
    if conflicting and opts.duplicates == "keep-last":
        problems = [p for p in problems if p.check != "duplicate"]
        frame, n = _keep_last(frame, parsed_ts)
        rejected["duplicate_superseded"] = n
        problems.append(
            Problem(
                check="duplicate",
                column=f"{ITEM_ID}+{LABELER_ID}",
                count=n,
                rows=conflicting[0].rows,
                severity=Severity.WARNING,
                message=f"{n} earlier label(s) of the same (item, labeler) were replaced by the "
                "last one (--duplicates keep-last)",
                hint="fix the export so each labeler labels an item once",
            )
        )

    slices, slice_note = _slice_columns(frame, raw, opts, problems)
    problems += _consistency_warnings(frame, raw)

    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise InputError(raw.path, problems, row_label=raw.row_label)

    # the ids and item attributes were factorized for the checks already: reuse the codes
    reuse = [ITEM_ID, *(c for c in (VENDOR, BATCH, MODEL, *slices) if c in frame.columns)]
    codes = {col: _codes(frame[col]) for col in reuse}
    if parsed_ts is not None:
        # rows may have been dropped since parsing (keep-last): align, unless none were
        same = len(parsed_ts) == len(frame) and parsed_ts.index.equals(frame.index)
        frame = frame.assign(**{TIMESTAMP: parsed_ts if same else parsed_ts.loc[frame.index]})
    frame = frame.reset_index()
    table = LabelTable.build(
        frame,
        spec.kind,
        categories=spec.categories or None,
        positive=spec.positive,
        slice_columns=slices,
        codes=codes,
    )
    acc = Accounting(
        rows_read=raw.rows_read,
        rows_used=table.n_labels,
        rows_rejected=rejected,
        items=table.n_items,
        labelers=table.n_labelers,
    )
    if acc.rows_used + sum(rejected.values()) != acc.rows_read:  # a bug, never the user's input
        raise RuntimeError(
            f"row accounting does not add up for {raw.path}: read {acc.rows_read}, used "
            f"{acc.rows_used}, set aside {sum(rejected.values())} ({rejected}); please report it"
        )
    return Ingested(
        path=raw.path,
        sha256=raw.sha256,
        format=raw.format,
        table=table,
        label_spec=spec,
        accounting=acc,
        warnings=tuple(p for p in problems if p.severity is Severity.WARNING),
        slice_note=slice_note,
        row_label=raw.row_label,
        side_files=side,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ columns
def _apply_column_map(raw: RawFile, mapping: dict[str, str]) -> pd.DataFrame:
    frame = raw.frame
    if not mapping:
        return frame
    problems = []
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    rename: dict[str, str] = {}
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
        elif theirs not in frame.columns:
            problems.append(
                Problem(
                    "column_map",
                    theirs,
                    0,
                    (),
                    f"--column {canonical}={theirs}: the file has no column '{theirs}'",
                    "the file's columns are: " + ", ".join(map(str, frame.columns)),
                )
            )
        else:
            rename[theirs] = canonical
    if problems:
        raise InputError(raw.path, problems)
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
    found = ", ".join(map(str, frame.columns[:20]))
    problems = []
    glued = _glued_delimiter(list(frame.columns))
    for col in missing:
        guess = _guess_column(col, list(frame.columns))
        if glued is not None and any(col in str(c).split(glued) for c in frame.columns):
            shown = "tab" if glued == "\t" else glued
            hint = (
                f"the header is one column holding '{shown}'-separated names: the file is "
                f"'{shown}'-delimited; pass --delimiter '{shown}' (or drop --delimiter to sniff it)"
            )
        elif guess:
            hint = f"rename it, or map it: --column {col}={guess}"
        else:
            hint = f"add the column, or map yours: --column {col}=YOUR_COLUMN"
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
        if text.any():
            blank |= (s.astype("string").str.strip() == "").fillna(False).to_numpy(dtype=bool)
        new = blank & ~bad
        if new.any():
            counts[f"blank_{col}"] = int(new.sum())
        bad |= blank
    if not bad.any():
        return frame
    for reason, n in counts.items():
        rejected[reason] = rejected.get(reason, 0) + n
    notes.append(
        f"--skip-invalid: {int(bad.sum()):,} row(s) set aside ("
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items())
        + ")"
    )
    return frame[~bad]


def _normalise_labels(
    frame: pd.DataFrame, raw: RawFile, opts: IngestOptions, notes: list[str]
) -> pd.DataFrame:
    """Unify label spellings that differ only in case or surrounding whitespace.

    ``'PASS'``, ``'Pass '`` and ``' pass'`` are one label: each group of spellings is
    rewritten to one (a declared ``--labels`` / ``--order`` / ``--positive`` value when one
    matches, else the lower-case stripped spelling when it is in the data, else the most
    frequent stripped spelling), and the note says which spellings on how many rows.
    The ``gold`` column gets the same mapping. ``--labels-exact`` refuses instead.
    """
    columns = [c for c in (LABEL, GOLD) if c in frame.columns]
    codes, uniques = _codes(frame[LABEL])
    if not len(uniques):
        return frame
    n_rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
    freq = {str(u): int(n) for u, n in zip(uniques, n_rows, strict=True)}
    if GOLD in frame.columns:
        for v in frame[GOLD].dropna().unique():
            freq.setdefault(str(v), 0)
    declared = [
        *(opts.labels or ()),
        *(opts.order or ()),
        *([opts.positive] if opts.positive else []),
    ]
    groups: dict[str, list[str]] = {}
    for v in freq:
        groups.setdefault(v.strip().casefold(), []).append(v)
    mapping: dict[str, str] = {}
    for key, spellings in groups.items():
        if not key:
            continue  # a whitespace-only label is blank, not a spelling (see --skip-invalid)
        target = next((d for d in declared if d.strip().casefold() == key), None)
        if target is None:
            lower = [v for v in spellings if v == key]
            stripped = sorted((v for v in spellings if v == v.strip()), key=lambda v: -freq[v])
            target = lower[0] if lower else stripped[0] if stripped else spellings[0].strip()
        for v in spellings:
            if v != target:
                mapping[v] = target
    if not mapping:
        return frame
    by_target: dict[str, list[str]] = {}
    for v, t in mapping.items():
        by_target.setdefault(t, []).append(v)
    changed = sum(freq[v] for v in mapping)
    if opts.labels_exact:
        rows = np.flatnonzero(
            np.isin(codes, [i for i, u in enumerate(uniques) if str(u) in mapping])
        )
        raise InputError(
            raw.path,
            [
                Problem(
                    "label_spelling",
                    LABEL,
                    changed,
                    tuple(int(r) for r in frame.index[rows[:MAX_ROWS_SHOWN]]),
                    "label values differ only in case or surrounding whitespace ("
                    + "; ".join(
                        f"{', '.join(map(repr, vs))} vs {t!r}" for t, vs in by_target.items()
                    )
                    + ")",
                    "fix the spellings in the file, or drop --labels-exact to unify them",
                    examples=tuple(mapping)[:5],
                )
            ],
            row_label=raw.row_label,
        )
    notes.append(
        "labels normalised: "
        + "; ".join(f"{', '.join(map(repr, vs))} -> {t!r}" for t, vs in sorted(by_target.items()))
        + f" on {changed:,} row(s) (--labels-exact to refuse)"
    )
    out = frame.copy(deep=False)
    for col in columns:
        c, u = _codes(frame[col]) if col == LABEL else factorize(frame[col])
        renamed = np.asarray([mapping.get(str(x), str(x)) for x in u], dtype=object)
        values = np.where(c >= 0, renamed[np.maximum(c, 0)] if len(u) else None, None)
        out[col] = pd.array(values, dtype="string")
    return out


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


def _guess_column(canonical: str, columns: list[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for alias in _ALIASES.get(canonical, ()):
        if alias in lowered:
            return lowered[alias]
    return None


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


# ------------------------------------------------------------------ labels
def _label_spec(frame: pd.DataFrame, raw: RawFile, opts: IngestOptions) -> LabelSpec:
    counts = frame[LABEL].dropna().value_counts()
    if counts.empty:
        raise InputError(
            raw.path,
            [
                Problem(
                    "not_null",
                    LABEL,
                    len(frame),
                    tuple(int(r) for r in frame.index[:MAX_ROWS_SHOWN]),
                    "every label is empty",
                    "fill the label column",
                )
            ],
            row_label=raw.row_label,
        )
    try:
        spec = detect_label_spec(
            {str(k): int(v) for k, v in counts.items()},
            kind=opts.label_kind,
            positive=opts.positive,
            order=list(opts.order) if opts.order else None,
            labels=list(opts.labels) if opts.labels else None,
        )
    except ValueError as exc:
        raise InputError(
            raw.path,
            [
                Problem(
                    "label_kind",
                    LABEL,
                    0,
                    (),
                    str(exc),
                    "pass --order with the values, lowest first",
                )
            ],
        ) from None
    if spec.kind is LabelKind.NOMINAL and len(spec.categories) > MAX_SLICE_VALUES:
        raise InputError(
            raw.path,
            [
                Problem(
                    "label_kind",
                    LABEL,
                    len(frame),
                    (),
                    f"the label column has {len(spec.categories)} distinct text values; "
                    "that does not look like a label scale",
                    "check --column label=..., or declare the scale with --labels / --order / "
                    "--label-kind",
                )
            ],
        )
    if opts.positive is not None and spec.categories and opts.positive not in spec.categories:
        raise InputError(
            raw.path,
            [
                Problem(
                    "positive",
                    LABEL,
                    0,
                    (),
                    f"--positive {opts.positive!r} is not a label value",
                    "use one of: " + ", ".join(spec.categories[:20]),
                )
            ],
        )
    return spec


# ------------------------------------------------------------------ the GX suite
#: Derived columns the suite checks; they hold a value only where the raw value is present.
LABEL_NUMBER = "label__as_number"
TIMESTAMP_PARSED = "timestamp__parsed"

#: Inputs up to this many rows are validated by great-expectations itself; larger ones by
#: the vectorized executor of the same declared checks (see the module docstring).
GX_MAX_ROWS = 200_000
#: ``EVALAUDIT_CONTRACT=gx`` forces the GX executor, ``fast`` the vectorized one.
CONTRACT_ENV = "EVALAUDIT_CONTRACT"


@dataclass(frozen=True)
class ContractCheck:
    """One declared row-level check of the contract (one GX expectation).

    ``kind`` is ``exists``, ``not_null``, ``in_set`` or ``unique``; ``columns``
    the column (or, for ``unique``, the compound key) it reads.
    """

    kind: str
    columns: tuple[str, ...]
    check: str
    hint: str
    message: str
    value_set: tuple[str, ...] = ()


def contract_checks(spec: LabelSpec, columns: Sequence[str]) -> list[ContractCheck]:
    """The row-level checks of the contract, in suite order (the single declaration)."""
    out: list[ContractCheck] = []
    for col in REQUIRED_COLUMNS:
        out.append(
            ContractCheck(
                "exists",
                (col,),
                "column_exists",
                f"add the column or map yours with --column {col}=YOUR_COLUMN",
                f"required column '{col}' is missing",
            )
        )
        out.append(
            ContractCheck(
                "not_null",
                (col,),
                "not_null",
                f"fill '{col}' on those rows or remove them from the file, or pass "
                "--skip-invalid to set them aside (counted)",
                f"'{col}' is empty",
            )
        )
    if spec.kind is LabelKind.INTERVAL:
        out.append(
            ContractCheck(
                "not_null",
                (LABEL_NUMBER,),
                "label_value",
                "interval labels must be numbers; fix those values or declare --label-kind",
                "label is not a number",
            )
        )
    else:
        allowed = ", ".join(spec.categories[:12])
        out.append(
            ContractCheck(
                "in_set",
                (LABEL,),
                "label_value",
                f"use one of the label values ({allowed}), or declare the full set with --labels "
                "/ --order",
                f"unknown label value (the scale is {spec.kind}: {allowed})",
                tuple(spec.categories),
            )
        )
        if GOLD in columns:
            out.append(
                ContractCheck(
                    "in_set",
                    (GOLD,),
                    "gold_value",
                    f"gold answers must be label values ({allowed})",
                    "unknown gold value",
                    tuple(spec.categories),
                )
            )
    if TIMESTAMP in columns:
        out.append(
            ContractCheck(
                "not_null",
                (TIMESTAMP_PARSED,),
                "timestamp_parse",
                "use ISO 8601 (2026-03-02T09:15:00Z) or epoch seconds",
                "timestamp cannot be parsed",
            )
        )
    out.append(
        ContractCheck(
            "unique",
            (ITEM_ID, LABELER_ID),
            "duplicate",
            "keep one label per (item, labeler), or pass --duplicates keep-last",
            "the same labeler labeled the same item more than once with different labels",
        )
    )
    return out


def build_suite(spec: LabelSpec, columns: Sequence[str]) -> Any:
    """The great-expectations suite for the row-level checks of the contract.

    One expectation per :func:`contract_checks` entry, each tagged (``meta``)
    with the hint shown to the user. ``columns`` are those present after
    mapping and joins.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    _gx_context()  # GX suites need an active context
    suite = gx.ExpectationSuite(name="evalaudit_contract")
    for c in contract_checks(spec, columns):
        if c.kind == "exists":
            exp = gxe.ExpectColumnToExist(column=c.columns[0])
        elif c.kind == "not_null":
            exp = gxe.ExpectColumnValuesToNotBeNull(column=c.columns[0])
        elif c.kind == "in_set":
            exp = gxe.ExpectColumnValuesToBeInSet(column=c.columns[0], value_set=list(c.value_set))
        else:
            exp = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(c.columns))
        exp.meta = {"check": c.check, "hint": c.hint, "message": c.message}
        suite.add_expectation(exp)
    return suite


@dataclass(frozen=True)
class _Failure:
    """A failed check as either executor reports it (column: the checked column)."""

    check: str
    column: str | None
    count: int
    rows: tuple[int, ...]
    hint: str
    message: str


def contract_engine(n_rows: int) -> str:
    """``gx`` or ``fast``: which executor validates an input of ``n_rows`` rows."""
    forced = os.environ.get(CONTRACT_ENV, "").strip().lower()
    if forced in ("gx", "fast"):
        return forced
    return "gx" if n_rows <= GX_MAX_ROWS else "fast"


def _run_suite(
    frame: pd.DataFrame,
    raw: RawFile,
    spec: LabelSpec,
    opts: IngestOptions,
    parsed_ts: pd.Series | None,
    engine: str | None = None,
) -> list[Problem]:
    engine = engine or contract_engine(len(frame))
    columns = [c for c in frame.columns if c in RESERVED_COLUMNS]
    derived: dict[str, pd.Series] = {}
    if spec.kind is LabelKind.INTERVAL:
        label = frame[LABEL]
        num = pd.to_numeric(label, errors="coerce")
        num = num.where(np.isfinite(num.astype("float64")), np.nan)
        derived[LABEL_NUMBER] = num.where(label.isna() | num.notna(), np.nan).fillna(
            pd.Series(0.0, index=frame.index).where(label.isna())
        )
    if parsed_ts is not None:
        ok = parsed_ts.notna() | frame[TIMESTAMP].isna()
        derived[TIMESTAMP_PARSED] = pd.Series(np.where(ok, 1.0, np.nan), index=frame.index)
    all_columns = columns + list(derived)
    if engine == "gx":
        checked = frame[columns].copy()
        for name, values in derived.items():
            checked[name] = values
        failures = _validate_gx(checked, spec, all_columns)
    else:
        failures = _validate_fast(frame, derived, spec, all_columns)
    problems: list[Problem] = []
    for f in failures:
        column = f.column
        if column in (LABEL_NUMBER, TIMESTAMP_PARSED):
            column = LABEL if column == LABEL_NUMBER else TIMESTAMP
        examples: tuple[str, ...] = ()
        if f.rows and column in frame.columns:
            vals = frame.loc[list(f.rows), column]
            examples = tuple(dict.fromkeys("" if pd.isna(v) else str(v) for v in vals))[:5]
        if f.check == "duplicate":
            column = f"{ITEM_ID}+{LABELER_ID}"
            examples = _duplicate_examples(frame, f.rows)
        message = f.message
        if f.check == "not_null":
            message = f"'{column}' is empty"
        problems.append(
            Problem(
                check=f.check,
                column=column,
                count=f.count,
                rows=f.rows,
                message=message,
                hint=f.hint,
                examples=examples,
            )
        )
    return problems


def _validate_gx(checked: pd.DataFrame, spec: LabelSpec, columns: list[str]) -> list[_Failure]:
    results = _validate_with_gx(checked, build_suite(spec, columns))
    out: list[_Failure] = []
    for res in results:
        if res.success:
            continue
        meta = res.expectation_config.meta or {}
        info = res.result or {}
        rows = tuple(
            dict.fromkeys(
                int(r[ROW] if isinstance(r, dict) else r)
                for r in (info.get("partial_unexpected_index_list") or [])
            )
        )[:MAX_ROWS_SHOWN]
        check = meta.get("check", res.expectation_config.type)
        out.append(
            _Failure(
                check=check,
                column=res.expectation_config.kwargs.get("column"),
                count=int(info.get("unexpected_count") or 0),
                rows=rows,
                hint=meta.get("hint", ""),
                message=meta.get("message", check),
            )
        )
    return out


def _validate_fast(
    frame: pd.DataFrame, derived: dict[str, pd.Series], spec: LabelSpec, columns: list[str]
) -> list[_Failure]:
    """The declared checks, vectorized over every row (the GX semantics, see the docstring)."""
    out: list[_Failure] = []
    index = frame.index.to_numpy()

    def col(name: str) -> pd.Series:
        return derived[name] if name in derived else frame[name]

    for c in contract_checks(spec, columns):
        if c.kind == "exists":
            if c.columns[0] not in columns:
                out.append(_Failure(c.check, c.columns[0], 0, (), c.hint, c.message))
            continue
        if any(name not in columns for name in c.columns):
            continue  # GX reports the missing column under column_exists only
        if c.kind == "not_null":
            bad = col(c.columns[0]).isna().to_numpy(dtype=bool)
        elif c.kind == "in_set":
            s = col(c.columns[0])
            present = s.notna().to_numpy(dtype=bool)
            bad = present & ~s.isin(list(c.value_set)).to_numpy(dtype=bool)
        else:
            keys = [col(name) for name in c.columns]
            # GX skips rows where every key is missing
            any_present = np.zeros(len(frame), dtype=bool)
            for k in keys:
                any_present |= k.notna().to_numpy(dtype=bool)
            codes = _key_codes(frame, c.columns)
            candidates = any_present & _item_repeats(frame) if ITEM_ID in c.columns else any_present
            bad = _duplicated(codes, candidates, keep=False)
        count = int(bad.sum())
        if count:
            rows = tuple(int(r) for r in index[np.flatnonzero(bad)[:MAX_ROWS_SHOWN]])
            column = c.columns[0] if c.kind != "unique" else None
            out.append(_Failure(c.check, column, count, rows, c.hint, c.message))
    return out


def _duplicate_examples(frame: pd.DataFrame, rows: tuple[int, ...]) -> tuple[str, ...]:
    """``item X, labeler Y: pass/fail on rows 2,3`` for the first duplicated keys.

    A blank id is a value here (GX groups it so): shown as ``(blank)`` and matched with
    the other blanks, never compared with ``==`` (which is never true for a missing value).
    """

    def same_as(col: str, value: Any) -> pd.Series:
        s = frame[col]
        return s.isna() if pd.isna(value) else (s == value).fillna(False)

    def shown(v: Any) -> str:
        return "(blank)" if pd.isna(v) else str(v)

    out = []
    for r in rows[:3]:
        item, labeler = frame.at[r, ITEM_ID], frame.at[r, LABELER_ID]
        same = frame[same_as(ITEM_ID, item) & same_as(LABELER_ID, labeler)]
        labels = "/".join(shown(v) for v in same[LABEL].tolist())
        out.append(
            f"item {shown(item)}, labeler {shown(labeler)}: {labels} on rows "
            + ",".join(str(i) for i in same.index)
        )
    return tuple(dict.fromkeys(out))


_GX_CONTEXT: Any = None


def _gx_context() -> Any:
    """One quiet ephemeral GX context per process (no progress bars, no logs, no files)."""
    global _GX_CONTEXT
    if _GX_CONTEXT is None:
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _GX_CONTEXT = ctx
    return _GX_CONTEXT


def _validate_with_gx(frame: pd.DataFrame, suite: Any) -> list[Any]:
    """Run ``suite`` on ``frame`` in the ephemeral context, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = _gx_context()
        name = f"labels_{id(frame)}"
        source = ctx.data_sources.add_or_update_pandas(name)
        asset = source.add_dataframe_asset(name="labels")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        result = batch.validate(
            suite,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_ROWS_SHOWN},
        )
        ctx.data_sources.delete(name)
    return list(result.results)


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """ISO 8601 strings or epoch numbers (seconds; milliseconds when > 1e11) -> UTC datetimes.

    Unparseable values become NaT (the suite reports them).
    """
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
