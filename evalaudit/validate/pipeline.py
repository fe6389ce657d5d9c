"""The ingest pipeline: file -> columns -> values (the contract) -> consistency -> LabelTable."""

from __future__ import annotations

import sys

import pandas as pd

from evalaudit.contract import (
    BATCH,
    ITEM_ID,
    LABEL,
    LABELER_ID,
    LABELER_TYPE,
    MODEL,
    RESERVED_COLUMNS,
    TIMESTAMP,
    VENDOR,
    InputError,
    Problem,
    Severity,
)
from evalaudit.io import RawFile, read_table
from evalaudit.table import LabelTable
from evalaudit.validate.codes import (
    _CODES,
    _REPEATS,
    _codes,
    _duplicated_keys,
    _item_repeats,
    _seed_codes,
)
from evalaudit.validate.columns import (
    _apply_aliases,
    _apply_column_map,
    _blank_to_missing,
    _require_columns,
    _select_version,
    _set_aside_blanks,
)
from evalaudit.validate.labeler_types import read_labeler_types
from evalaudit.validate.labels import _label_spec, _normalise_labels
from evalaudit.validate.options import Accounting, Ingested, IngestOptions
from evalaudit.validate.sidetables import _join_side
from evalaudit.validate.slices import _consistency_warnings, _slice_columns
from evalaudit.validate.suite import _run_suite
from evalaudit.validate.timestamps import _keep_last, _parse_timestamps


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


def _needed_columns(opts: IngestOptions) -> frozenset[str]:
    """The file's names of the columns read whatever they hold: the contract's (as mapped by
    ``--column``, or crowd-kit's names), and the slices given with ``--slice``. Any other
    column is read as a slice candidate only, so a free-text one is not held
    (:func:`evalaudit.io.read_table`)."""
    from evalaudit.validate.columns import AUTO_ALIASES

    names = set(RESERVED_COLUMNS) | set(AUTO_ALIASES.values()) | set(opts.column_map.values())
    return frozenset(names | set(opts.slices or ()))


def _ingest(path: str | RawFile, options: IngestOptions | None = None) -> Ingested:
    opts = options or IngestOptions()
    if isinstance(path, RawFile):
        raw = path
    else:
        raw = read_table(
            path,
            opts.fmt,
            delimiter=opts.delimiter,
            control=opts.control,
            timestamp_column=opts.column_map.get(TIMESTAMP, TIMESTAMP),
            keep=_needed_columns(opts),
        )
    notes: list[str] = list(raw.notes)
    frame = _apply_column_map(raw, opts.column_map)
    frame = _apply_aliases(frame, opts, notes)
    _seed_codes(frame, raw)
    side: dict[str, str] = {}
    problems: list[Problem] = []
    types_in_data = LABELER_TYPE in frame.columns  # the label file's own column (the GX suite)
    type_source = raw.path if types_in_data else f"the labelers table {opts.labelers}"
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
    else:
        frame = _blank_to_missing(frame)
    frame = _normalise_labels(frame, raw, opts, notes)

    # identical duplicates: same item, labeler and label; keep one, count the rest
    keys = [ITEM_ID, LABELER_ID]
    dup_identical = pd.Series(
        _duplicated_keys(frame, [*keys, LABEL], _item_repeats(frame), keep="last"),
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

    frame, labeler_types = read_labeler_types(frame, opts.judges, problems, type_source)
    if labeler_types is not None and labeler_types.note:
        notes.append(labeler_types.note)
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
        labeler_types=labeler_types.types if labeler_types is not None else None,
        judge_family=labeler_types.family if labeler_types is not None else None,
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
        labeler_type_in_data=types_in_data,
    )
