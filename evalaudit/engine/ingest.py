"""Ingest through a SQL engine: the contract's checks and the LabelTable's codes as queries.

The in-memory ingest (:mod:`evalaudit.validate`) reads every column of the file into
pandas strings, which at 10^8 rows does not fit (MemoryError at 14.5 GB, issue 16). Here
the file is scanned by the engine (DuckDB out of core, or Spark) and only two kinds of
results come back to Python:

- **small tables**: the label values and their counts, the distinct values of each
  item attribute, the distinct timestamp strings, the (labeler, labeler type, judge
  family) combinations with their counts and first rows, per-check counts and first rows.
  The decisions made on them (label spellings, the label spec, slice detection,
  timestamp parsing, labeler types and ``--judges``) call the same functions as the
  in-memory path, so the table, its notes and its errors are the same;
- **the encoded columns**: per used row the item code (first-appearance order, as
  ``pd.factorize``), the labeler code (sorted ids), the label code, the source row, the
  timestamp in nanoseconds and each attribute's category code: about 30 bytes a row,
  streamed in record batches into preallocated numpy arrays.

The statistics then run on that :class:`~evalaudit.table.LabelTable` unchanged, which is
why the figures equal the in-memory engine's (tests/test_engine.py, 1e-9).

Side tables (``--items``, ``--labelers``) are small next to the label file (one row per
item or labeler), so they are read by the in-memory reader and checked by the in-memory
code (:func:`evalaudit.validate.sidetables.read_side`), then registered in the engine and
joined there: the label file still never comes to pandas, and the one check on its rows
(ids missing from a side table) is a query. ``--skip-invalid`` sets blank rows aside by
query, counted under the in-memory reasons.

What the SQL ingest does not do (it raises :class:`Unsupported`, and the dispatcher
falls back to the in-memory engine when the engine was chosen automatically): a ``version``
or ``gold`` column, a side table bringing a column of the label contract (``label``,
``timestamp``, ``version``, ``gold``, the other table's key), ``--duplicates keep-last``,
labeling-tool exports and compressed files other than gzip.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from evalaudit.contract import (
    BATCH,
    GOLD,
    ITEM_ID,
    JUDGE_FAMILY,
    LABEL,
    LABELER_ATTRIBUTES,
    LABELER_ID,
    LABELER_TYPE,
    MAX_ROWS_SHOWN,
    MAX_SLICE_VALUES,
    MODEL,
    REQUIRED_COLUMNS,
    RESERVED_COLUMNS,
    TIMESTAMP,
    VENDOR,
    VERSION,
    InputError,
    LabelKind,
    LabelSpec,
    Problem,
    Severity,
)
from evalaudit.engine.query import SOURCE, Backend
from evalaudit.io import RawFile, detect_format, sha256_of
from evalaudit.table import (
    ITEM,
    LABELER,
    MISSING_SLICE,
    ROW_COL,
    SCORE,
    VALUE,
    LabelTable,
    types_by_code,
)
from evalaudit.validate.columns import (
    BLANK_REASONS,
    _guess_column,
    missing_column_fix,
    skip_invalid_note,
)
from evalaudit.validate.labeler_types import (
    COUNT,
    FIRST_ROWS,
    LabelerTypes,
    labeler_types_from_groups,
)
from evalaudit.validate.labels import (
    spec_from_counts,
    spelling_map,
    spelling_note,
    spelling_problem,
)
from evalaudit.validate.options import Accounting, Ingested, IngestOptions
from evalaudit.validate.sidetables import read_side, side_match_warning
from evalaudit.validate.slices import (
    auto_slice_note,
    auto_slice_skip,
    given_slices,
    labeler_attribute_warning,
    model_varies_warning,
    timestamp_missing_warning,
)
from evalaudit.validate.suite import contract_checks
from evalaudit.validate.timestamps import _parse_timestamp_values

__all__ = ["Unsupported", "ingest_sql"]

#: The cleaned rows every later query reads (mapped columns, identical duplicates removed).
CLEAN = "clean"


class Unsupported(Exception):
    """This input or option needs the in-memory ingest (the message says which)."""


def ingest_sql(path: str, options: IngestOptions | None, backend: Backend) -> Ingested:
    """Validate ``path`` and build its LabelTable with ``backend`` running the queries.

    Same contract, same LabelTable as :func:`evalaudit.validate.ingest` for the inputs
    it supports (module docstring); raises :class:`InputError` naming the file, the
    column, the first rows and the fix, and :class:`Unsupported` for the rest.

    Duplicate (item, labeler) pairs are looked for on the encoded codes first (a sort of
    the multi-labeled items' rows in numpy, cheaper than a group-by over every row's two
    string keys); only a file that has some is read again with the SQL duplicate checks,
    which set identical ones aside and report conflicting ones.
    """
    sides: dict[str, tuple[RawFile, pd.DataFrame]] = {}  # read once for both passes
    try:
        return _ingest_sql(path, options, backend, duplicates=False, sides=sides)
    except _Repeated:
        return _ingest_sql(path, options, backend, duplicates=True, sides=sides)


class _Repeated(Exception):
    """Some (item, labeler) pair has several rows: ingest again with the SQL checks."""


def _has_repeated_pairs(table: LabelTable) -> bool:
    f = table.frame
    item = f[ITEM].to_numpy()
    multi = np.bincount(item, minlength=table.n_items)[item] >= 2
    if not multi.any():
        return False
    key = item[multi].astype(np.int64) * max(table.n_labelers, 1) + f[LABELER].to_numpy()[multi]
    key.sort()
    return bool((key[1:] == key[:-1]).any())


def _ingest_sql(
    path: str,
    options: IngestOptions | None,
    backend: Backend,
    duplicates: bool,
    sides: dict[str, tuple[RawFile, pd.DataFrame]],
) -> Ingested:
    opts = options or IngestOptions()
    _refuse_unsupported(opts)
    is_table = backend.name == "spark" and not Path(path).exists()
    if is_table:
        fmt, digest, row_label = "table", "", "row"
    else:
        fmt, digest = _check_file(path, opts), sha256_of(path)
        row_label = "row" if fmt == "parquet" else "line"
    delimiter = opts.delimiter if fmt != "csv" else _sniff_text(path, fmt, opts.delimiter)
    if fmt == "jsonl":
        _sniff_text(path, fmt, None)
    backend.register_source(path, fmt, delimiter)
    q = _Queries(backend, path, row_label)
    types = backend.column_types()
    columns = _mapped_columns(types, opts, path)
    # before the side tables and the required columns, as the in-memory reader stops first
    rows_read = int(backend.scalar(f"SELECT count(*) FROM {SOURCE}"))
    if rows_read == 0:
        raise InputError(
            path,
            [
                Problem(
                    "empty",
                    None,
                    0,
                    (),
                    "the file has a header but no data rows",
                    "export the labels again; there is nothing to audit",
                )
            ],
        )
    joined = _side_tables(backend, q, path, opts, list(columns), sides)
    _require_columns(types, columns, path)
    # the label file's columns then each side table's, the in-memory join's column order
    every = [*columns, *(c for side in joined for c in side.columns)]
    for col in (VERSION, GOLD):
        if col in every:
            raise Unsupported(f"a '{col}' column")
    select = [f"s.{q.id(src)} AS {q.id(canon)}" for canon, src in columns.items()]
    joins = []
    for k, side in enumerate(joined):
        select += [f"t{k}.{q.id(a)} AS {q.id(c)}" for a, c in side.attrs]
        joins.append(
            f"LEFT JOIN {side.table} t{k} ON CAST(s.{q.id(columns[side.key])} AS STRING) = t{k}._k"
        )
    backend.execute(
        f"CREATE OR REPLACE TEMP VIEW _mapped AS SELECT {', '.join(select)}, s._row "
        f"FROM {SOURCE} s {' '.join(joins)}"
    )
    problems: list[Problem] = [w for side in joined for w in q.side_match(side)]
    notes: list[str] = []
    rejected: dict[str, int] = {}
    base = "_mapped"
    if opts.skip_invalid:
        counts = q.blank_reasons()
        if counts:
            rejected.update(counts)
            notes.append(skip_invalid_note(counts))
            backend.execute(
                "CREATE OR REPLACE TEMP VIEW _kept AS SELECT * FROM _mapped WHERE NOT "
                f"({' OR '.join(q.blank(c) for c in (ITEM_ID, LABELER_ID, LABEL))})"
            )
            base = "_kept"
    else:
        blank = q.blank_counts(REQUIRED_COLUMNS, base)
        errors = [p for col in REQUIRED_COLUMNS if blank[col] for p in q.null_check(col, base)]
        if errors:
            raise InputError(path, problems + errors, row_label=row_label)

    # label spellings, mapped as the in-memory ingest maps them (one row per spelling)
    label_counts = backend.frame(
        f"SELECT CAST({q.id(LABEL)} AS STRING) AS v, count(*) AS n FROM {base} "
        f"WHERE {q.id(LABEL)} IS NOT NULL GROUP BY CAST({q.id(LABEL)} AS STRING)"
    )
    freq = {str(v): int(n) for v, n in zip(label_counts["v"], label_counts["n"], strict=True)}
    mapping, spelling_notes = _spellings(freq, opts, path, q, base)
    notes += spelling_notes
    label_map = pd.DataFrame(
        {"raw": list(freq), "label": [mapping.get(v, v) for v in freq]}, dtype="string"
    )
    if mapping:
        backend.register_frame("_label_map", label_map)
        cols = ", ".join(
            f"m.{q.id(c)}" if c != LABEL else f"lm.label AS {q.id(LABEL)}" for c in every
        )
        backend.execute(
            f"CREATE OR REPLACE TEMP VIEW _labeled AS SELECT {cols}, m._row FROM {base} m "
            f"JOIN _label_map lm ON CAST(m.{q.id(LABEL)} AS STRING) = lm.raw"
        )
    else:  # no spelling to unify: no join on every later scan
        backend.execute(f"CREATE OR REPLACE TEMP VIEW _labeled AS SELECT * FROM {base}")

    i, lab, v = q.id(ITEM_ID), q.id(LABELER_ID), q.id(LABEL)
    # identical duplicates (same item, labeler and label): keep the last row, count the rest
    n_dup = 0
    if duplicates:
        backend.execute(
            "CREATE OR REPLACE TEMP TABLE _dup_drop AS SELECT _row FROM ("
            f"SELECT _row, row_number() OVER (PARTITION BY {i}, {lab}, {v} ORDER BY _row DESC) "
            f"AS k FROM _labeled WHERE ({i}, {lab}, {v}) IN (SELECT {i}, {lab}, {v} FROM "
            f"_labeled GROUP BY {i}, {lab}, {v} HAVING count(*) > 1)) d WHERE k > 1"
        )
        n_dup = int(backend.scalar("SELECT count(*) FROM _dup_drop"))
    q.repeated = duplicates
    if n_dup:
        rejected["identical_duplicate"] = n_dup
        backend.materialize(
            CLEAN, "SELECT * FROM _labeled WHERE _row NOT IN (SELECT _row FROM _dup_drop)"
        )
    else:
        backend.materialize(CLEAN, "SELECT * FROM _labeled")

    kept = {v: n for v, n in _merged(freq, mapping).items()}
    if n_dup:
        c2 = backend.frame(
            f"SELECT {q.id(LABEL)} AS v, count(*) AS n FROM {CLEAN} GROUP BY {q.id(LABEL)}"
        )
        kept = {str(v): int(n) for v, n in zip(c2["v"], c2["n"], strict=True)}
    spec = _label_spec(kept, opts, path)

    # the contract's row-level checks, declared once in validate.suite
    ts_kind = _timestamp_kind(types, columns)
    for c in contract_checks(spec, every):
        if c.kind == "in_set":
            if c.columns[0] == LABEL:
                problems += q.in_set(LABEL, c.value_set, c)
        elif c.kind == "not_null" and c.columns[0] not in REQUIRED_COLUMNS:
            if c.columns[0] == "label_number":
                problems += q.not_number(c)
        elif c.kind == "unique" and q.repeated:
            problems += q.conflicting(c)
    if ts_kind == "text":
        problems += _timestamp_map(backend, q)
    labeler_types = None
    if LABELER_TYPE in every or opts.judges:
        # a type from the labelers table is named as such in the messages, as in memory
        source = str(path) if LABELER_TYPE in columns else f"the labelers table {opts.labelers}"
        labeler_types = labeler_types_from_groups(
            q.labeler_groups(every), opts.judges, problems, source
        )
    if labeler_types is not None and labeler_types.note:
        notes.append(labeler_types.note)
    # they describe labelers, not items: as in memory, where they have left the frame by now
    item_columns = [c for c in every if c not in (LABELER_TYPE, JUDGE_FAMILY)]
    slices, slice_note = _slice_columns(item_columns, opts, q, problems)
    problems += _consistency_warnings(every, q, ts_kind)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        if not duplicates and q.has_repeated_pairs():
            # the counts above included identical duplicates and no conflicting pair was
            # looked for: the memory engine's errors come from the second pass
            raise _Repeated
        raise InputError(path, problems, row_label=row_label)

    table = _encode(backend, q, spec, slices, every, ts_kind, labeler_types)
    if not duplicates and _has_repeated_pairs(table):
        raise _Repeated
    acc = Accounting(
        rows_read=rows_read,
        rows_used=table.n_labels,
        rows_rejected=rejected,
        items=table.n_items,
        labelers=table.n_labelers,
    )
    if acc.rows_used + sum(rejected.values()) != acc.rows_read:  # a bug, never the input
        raise RuntimeError(
            f"row accounting does not add up for {path}: read {acc.rows_read}, used "
            f"{acc.rows_used}, set aside {rejected}; please report it"
        )
    return Ingested(
        path=str(path),
        sha256=digest,
        format=fmt,
        table=table,
        label_spec=spec,
        accounting=acc,
        warnings=tuple(p for p in problems if p.severity is Severity.WARNING),
        slice_note=slice_note,
        row_label=row_label,
        side_files={side.role: side.sha256 for side in joined},
        notes=tuple(notes),
        labeler_type_in_data=LABELER_TYPE in columns,
    )


# ------------------------------------------------------------------ inputs it takes
def _refuse_unsupported(opts: IngestOptions) -> None:
    if opts.version is not None:
        raise Unsupported("--version")
    if opts.duplicates != "error":
        raise Unsupported("--duplicates keep-last")
    if opts.control is not None:
        raise Unsupported("--control (labeling-tool exports)")


def _check_file(path: str, opts: IngestOptions) -> str:
    p = Path(path)
    if not p.exists() or p.is_dir():
        raise InputError(
            path,
            [
                Problem(
                    "exists",
                    None,
                    0,
                    (),
                    "the file does not exist" if not p.exists() else "this is a directory",
                    "check the path (a Spark table name needs --engine spark)",
                )
            ],
        )
    if p.stat().st_size == 0:
        raise InputError(
            path,
            [
                Problem(
                    "empty",
                    None,
                    0,
                    (),
                    "the file is empty (0 bytes)",
                    "export the labels again; the file has no data",
                )
            ],
        )
    fmt = detect_format(p, opts.fmt)
    suffix = p.suffix.lower()
    if suffix in (".zst", ".bz2", ".xz") or fmt not in ("csv", "tsv", "parquet", "jsonl"):
        raise Unsupported(f"the format {fmt!r}{' compressed as ' + suffix if suffix else ''}")
    if suffix == ".gz" and fmt == "parquet":
        raise Unsupported("a gzip-compressed Parquet file")
    return fmt


def _sniff_text(path: str, fmt: str, delimiter: str | None) -> str | None:
    """A text file's delimiter (sniffed as in memory), refusing what only memory reads.

    The in-memory reader recognises labeling-tool exports by content, decodes non-UTF-8
    text with a hint, and sniffs a CSV's delimiter; the first 64 KB tell which applies.
    """
    import gzip

    from evalaudit import readers
    from evalaudit.io import sniff_delimiter

    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(1 << 16)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) - exc.start > 4:  # not just a character cut at the 64 KB boundary
            raise Unsupported("a file that is not UTF-8") from None
        text = head[: exc.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    if fmt == "jsonl":
        if text.lstrip()[:1] == "[" or readers.detect_json(text.split("\n", 1)[0]) is not None:
            raise Unsupported("a labeling-tool export or a JSON array")
        return None
    sep = delimiter or sniff_delimiter(text)[0]
    if readers.detect_csv_header(text.split("\n", 1)[0], sep) is not None:
        raise Unsupported("a labeling-tool export")
    return sep


def _mapped_columns(types: dict[str, str], opts: IngestOptions, path: str) -> dict[str, str]:
    """Canonical name -> source column, with ``--column`` applied; missing ones are errors."""
    by_source = {c.strip(): c for c in types}
    from evalaudit.validate.columns import column_map_problems

    # a mapping that cannot apply is an error, as in memory (it was ignored here)
    problems = column_map_problems(opts.column_map, list(by_source))
    if problems:
        raise InputError(path, problems)
    out: dict[str, str] = {}
    taken = set()
    for canon, mine in opts.column_map.items():
        if mine in by_source:
            out[canon] = by_source[mine]
            taken.add(mine)
    for name, src in by_source.items():
        if name not in taken and name not in out:
            out[name] = src
    from evalaudit.validate.columns import AUTO_ALIASES

    if (
        set(AUTO_ALIASES.values()) <= set(out)
        and not set(out) & set(AUTO_ALIASES)
        and not set(AUTO_ALIASES) & set(opts.column_map)
    ):
        raise Unsupported("crowd-kit column names (task, worker)")
    return out


def _require_columns(types: dict[str, str], columns: dict[str, str], path: str) -> None:
    """A required column missing is an error (after the side tables, as in memory)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            path,
            [
                Problem(
                    "column_exists",
                    col,
                    0,
                    (),
                    f"required column '{col}' is missing (columns: {', '.join(types)})",
                    missing_column_fix(col, _guess_column(col, list(types))),
                )
                for col in missing
            ],
        )


def _timestamp_kind(types: dict[str, str], columns: dict[str, str]) -> str | None:
    if TIMESTAMP not in columns:
        return None
    t = types[columns[TIMESTAMP]]
    return "typed" if t.startswith("TIMESTAMP") or t == "DATE" else "text"


# ------------------------------------------------------------------ labels
def _spellings(
    freq: dict[str, int], opts: IngestOptions, path: str, q: _Queries, view: str
) -> tuple[dict[str, str], list[str]]:
    """Label spellings that differ only in case or surrounding whitespace, unified.

    :func:`evalaudit.validate.labels.spelling_map` on the value counts.
    """
    mapping = spelling_map(freq, opts)
    if not mapping:
        return {}, []
    if opts.labels_exact:
        rows = q.first_rows(view, f"CAST({q.id(LABEL)} AS STRING) IN ({_in_list(list(mapping))})")
        raise InputError(path, [spelling_problem(mapping, freq, rows)], row_label=q.row_label)
    return mapping, [spelling_note(mapping, freq)]


def _merged(freq: dict[str, int], mapping: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v, n in freq.items():
        t = mapping.get(v, v)
        out[t] = out.get(t, 0) + n
    return out


def _label_spec(counts: dict[str, int], opts: IngestOptions, path: str) -> LabelSpec:
    """:func:`evalaudit.validate.labels.spec_from_counts` on the non-blank value counts."""
    kept = {k: v for k, v in counts.items() if k.strip()}
    return spec_from_counts(kept, opts, path, sum(counts.values()))


# ------------------------------------------------------------------ side tables
#: Columns a side table may not bring (the label file lacking them): the SQL ingest reads
#: the label contract from the label file only.
_NOT_FROM_SIDE = frozenset({ITEM_ID, LABELER_ID, LABEL, TIMESTAMP, VERSION, GOLD})


@dataclass(frozen=True)
class _Side:
    """A side table registered in the engine as ``table`` (``_k``: its key as text)."""

    role: str
    key: str
    path: str
    sha256: str
    table: str
    #: (the registered table's column, the attribute's name), in the side table's order
    attrs: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> list[str]:
        return [c for _, c in self.attrs]


def _side_tables(
    backend: Backend,
    q: _Queries,
    path: str,
    opts: IngestOptions,
    label_columns: list[str],
    cache: dict[str, tuple[RawFile, pd.DataFrame]],
) -> list[_Side]:
    """``--items`` then ``--labelers``: read and checked in memory, registered in the engine.

    The side table's own checks (its key, duplicate keys, labeler types, columns in both
    files) are :func:`~evalaudit.validate.sidetables.read_side`'s, so their errors are the
    in-memory engine's; the rows with no match are counted by query (:meth:`_Queries.side_match`).
    """
    out: list[_Side] = []
    seen = list(label_columns)
    for role, key, side_path in (
        ("items", ITEM_ID, opts.items),
        ("labelers", LABELER_ID, opts.labelers),
    ):
        if not side_path:
            continue
        if role not in cache:
            cache[role] = read_side(side_path, key, role, opts, str(path), seen)
        side, frame = cache[role]
        attrs = [c for c in frame.columns if c != key]
        refused = sorted(set(attrs) & _NOT_FROM_SIDE)
        if refused:
            raise Unsupported(f"the {role} table's '{refused[0]}' column")
        keys = frame[key].astype("string")
        # a missing key matches no label row (one with a missing id is an error or set aside)
        reg = pd.DataFrame({"_k": keys.to_numpy()}, index=frame.index)
        for k, c in enumerate(attrs):
            reg[f"_a{k}"] = frame[c].astype("string").to_numpy()
        reg = reg[keys.notna().to_numpy()].reset_index(drop=True)
        for c in reg.columns:
            reg[c] = reg[c].astype("string")
        table = f"_side_{role}"
        backend.register_frame(f"{table}_frame", reg)
        # copied into the engine once: every later scan joins it (a registered pandas frame
        # would be converted again by each query)
        backend.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
        out.append(
            _Side(
                role,
                key,
                side.path,
                side.sha256,
                table,
                tuple((f"_a{k}", c) for k, c in enumerate(attrs)),
            )
        )
        seen += attrs
    return out


# ------------------------------------------------------------------ the queries
#: Every character ``str.strip`` removes, as a SQL literal (none is a quote or a backslash).
_WHITESPACE = "'" + "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "'"


def _in_list(values: list[str]) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "NULL"


class _Queries:
    """The checks as SQL over the views (one string each, run by any backend)."""

    def __init__(self, backend: Backend, path: str, row_label: str) -> None:
        self.b = backend
        self.path = path
        self.row_label = row_label
        self.id = backend.ident
        self.repeated = True  # whether some (item, labeler) pair has several rows
        self.items_ready = False  # whether _items (an id per item) exists
        self.hash_ok = False  # whether the items' 64-bit hashes are distinct

    def first_rows(self, view: str, where: str) -> tuple[int, ...]:
        t = self.b.table(
            f"SELECT _row FROM {view} WHERE {where} ORDER BY _row LIMIT {MAX_ROWS_SHOWN}"
        )
        return tuple(int(r) for r in t.column(0).to_pylist())

    def count(self, view: str, where: str) -> int:
        return int(self.b.scalar(f"SELECT count(*) FROM {view} WHERE {where}"))

    def blank_counts(self, cols: tuple[str, ...], view: str) -> dict[str, int]:
        """Rows with an empty (missing or blank) value, per column, in one query."""
        sums = ", ".join(
            f"sum(CASE WHEN {self.id(c)} IS NULL OR trim(CAST({self.id(c)} AS STRING)) = '' "
            "THEN 1 ELSE 0 END)"
            for c in cols
        )
        t = self.b.table(f"SELECT {sums} FROM {view}")
        return {c: int(t.column(k)[0].as_py() or 0) for k, c in enumerate(cols)}

    def side_match(self, side: _Side) -> list[Problem]:
        """The label rows whose key is not in the side table (a warning), over every row read."""
        key = self.id(side.key)
        where = f"{key} IS NOT NULL AND CAST({key} AS STRING) NOT IN (SELECT _k FROM {side.table})"
        n = self.count("_mapped", where)
        if not n:
            return []
        ex = self.b.table(
            f"SELECT CAST({key} AS STRING) AS k, min(_row) AS r FROM _mapped WHERE {where} "
            f"GROUP BY CAST({key} AS STRING) ORDER BY r LIMIT 5"
        ).column(0)
        return [
            side_match_warning(
                side.key,
                n,
                self.first_rows("_mapped", where),
                side.path,
                tuple(str(x) for x in ex.to_pylist()),
            )
        ]

    def blank(self, col: str) -> str:
        """SQL: ``col`` is missing or only whitespace, as Python's ``str.strip`` sees it.

        ``translate`` with no replacement deletes the characters (both dialects); SQL's
        ``trim`` strips spaces only, where the in-memory ``--skip-invalid`` strips tabs and
        Unicode spaces too.
        """
        c = self.id(col)
        return f"({c} IS NULL OR translate(CAST({c} AS STRING), {_WHITESPACE}, '') = '')"

    def blank_reasons(self) -> dict[str, int]:
        """``--skip-invalid``'s counts: rows blank in item_id, else labeler_id, else label.

        The reasons of :func:`evalaudit.validate.columns._set_aside_blanks`, in one query;
        only the reasons with rows.
        """
        cols = (ITEM_ID, LABELER_ID, LABEL)
        sums = []
        for k, col in enumerate(cols):
            earlier = "".join(f"NOT {self.blank(c)} AND " for c in cols[:k])
            sums.append(f"sum(CASE WHEN {earlier}{self.blank(col)} THEN 1 ELSE 0 END)")
        t = self.b.table(f"SELECT {', '.join(sums)} FROM _mapped")
        counts = {r: int(t.column(k)[0].as_py() or 0) for k, r in enumerate(BLANK_REASONS)}
        return {r: n for r, n in counts.items() if n}

    def null_check(self, col: str, view: str) -> list[Problem]:
        where = f"{self.id(col)} IS NULL OR trim(CAST({self.id(col)} AS STRING)) = ''"
        n = self.count(view, where)
        if not n:
            return []
        rows = self.first_rows(view, where)
        # the values on those rows, as the in-memory suite shows them (missing as '')
        t = self.b.table(
            f"SELECT _row, CAST({self.id(col)} AS STRING) AS v FROM {view} "
            f"WHERE _row IN ({', '.join(map(str, rows))}) ORDER BY _row"
        )
        values = ("" if v is None else str(v) for v in t.column(1).to_pylist())
        return [
            Problem(
                "not_null",
                col,
                n,
                rows,
                f"'{col}' is empty",
                f"fill '{col}' on those rows or remove them from the file, or pass "
                "--skip-invalid to set them aside (counted)",
                examples=tuple(dict.fromkeys(values))[:5],
            )
        ]

    def in_set(self, col: str, values: tuple[str, ...], c: Any) -> list[Problem]:
        where = f"{self.id(col)} IS NOT NULL AND {self.id(col)} NOT IN ({_in_list(list(values))})"
        n = self.count(CLEAN, where)
        if not n:
            return []
        ex = self.b.table(
            f"SELECT DISTINCT {self.id(col)} FROM {CLEAN} WHERE {where} LIMIT 5"
        ).column(0)
        return [
            Problem(
                c.check,
                col,
                n,
                self.first_rows(CLEAN, where),
                c.message,
                c.hint,
                examples=tuple(str(x) for x in ex.to_pylist()),
            )
        ]

    def not_number(self, c: Any) -> list[Problem]:
        num = f"TRY_CAST({self.id(LABEL)} AS DOUBLE)"
        # x - x = 0 is false for NaN and +-inf in both dialects (the in-memory check refuses
        # non-finite numbers too)
        where = f"{self.id(LABEL)} IS NOT NULL AND NOT coalesce(({num} - {num}) = 0, false)"
        n = self.count(CLEAN, where)
        if not n:
            return []
        return [Problem(c.check, LABEL, n, self.first_rows(CLEAN, where), c.message, c.hint)]

    def has_repeated_pairs(self) -> bool:
        """Whether some (item, labeler) pair has several rows in ``clean``."""
        i, lab = self.id(ITEM_ID), self.id(LABELER_ID)
        return bool(
            self.b.scalar(
                f"SELECT count(*) FROM (SELECT {i} FROM {CLEAN} GROUP BY {i}, {lab} "
                "HAVING count(*) > 1 LIMIT 1) r"
            )
        )

    def conflicting(self, c: Any) -> list[Problem]:
        i, lab, v = self.id(ITEM_ID), self.id(LABELER_ID), self.id(LABEL)
        keys = f"SELECT {i}, {lab} FROM {CLEAN} GROUP BY {i}, {lab} HAVING count(*) > 1"
        t = self.b.table(
            f"SELECT c.{i} AS i, c.{lab} AS l, c.{v} AS v, c._row AS r FROM {CLEAN} c "
            f"JOIN ({keys}) k ON c.{i} = k.{i} AND c.{lab} = k.{lab} ORDER BY c._row"
        ).to_pandas()
        if t.empty:
            return []
        rows = tuple(int(r) for r in t["r"].head(MAX_ROWS_SHOWN))
        examples = []
        for (item, labeler), g in t.groupby(["i", "l"], sort=False):
            examples.append(
                f"item {item}, labeler {labeler}: {'/'.join(map(str, g['v']))} on rows "
                + ",".join(str(int(r)) for r in g["r"])
            )
            if len(examples) == 3:
                break
        return [
            Problem(
                c.check,
                f"{ITEM_ID}+{LABELER_ID}",
                len(t),
                rows,
                c.message,
                c.hint,
                examples=tuple(examples),
            )
        ]

    def labeler_groups(self, columns: Collection[str]) -> pd.DataFrame:
        """:func:`evalaudit.validate.labeler_types.labeler_groups` as one group-by query.

        A few rows per labeler whatever the file's size: the labeler-type decisions then
        run in pandas on the same table as in memory.
        """
        keys = [c for c in (LABELER_ID, LABELER_TYPE, JUDGE_FAMILY) if c in columns]
        exprs = [f"CAST({self.id(c)} AS STRING)" for c in keys]
        select = ", ".join(f"{e} AS {self.id(c)}" for e, c in zip(exprs, keys, strict=True))
        t = self.b.frame(
            f"SELECT {select}, count(*) AS {COUNT}, "
            f"{self.b.smallest('_row', MAX_ROWS_SHOWN)} AS {FIRST_ROWS}, min(_row) AS _first "
            f"FROM {CLEAN} GROUP BY {', '.join(exprs)} ORDER BY _first"
        )
        out = pd.DataFrame({c: t[c].astype(object).where(t[c].notna(), None) for c in keys})
        out[COUNT] = t[COUNT].astype(np.int64)
        out[FIRST_ROWS] = [tuple(int(r) for r in rows) for rows in t[FIRST_ROWS]]
        return out

    def distinct(self, col: str) -> list[Any]:
        """The distinct values of ``col`` as text (None for missing)."""
        return self.distinct_many([col])[col]

    def distinct_many(self, cols: list[str], cap: int | None = None) -> dict[str, list[Any]]:
        """The distinct values of each column (at most ``cap`` each), in one query.

        One query, not one per column: on Spark each query is a job (~0.3 s on local[1]).
        """
        if not cols:
            return {}
        limit = f" LIMIT {int(cap)}" if cap is not None else ""
        not_null = " WHERE {c} IS NOT NULL" if cap is not None else ""
        parts = [
            f"SELECT * FROM (SELECT {k} AS k, v FROM (SELECT DISTINCT CAST({self.id(c)} AS "
            f"STRING) AS v FROM {CLEAN}{not_null.format(c=self.id(c))}) d{k}{limit}) e{k}"
            for k, c in enumerate(cols)
        ]
        t = self.b.table(" UNION ALL ".join(parts)).to_pandas()
        out: dict[str, list[Any]] = {c: [] for c in cols}
        for k, v in zip(t["k"], t["v"], strict=True):
            out[cols[int(k)]].append(None if pd.isna(v) else v)
        return out

    def varying(self, cols: list[str]) -> dict[str, int]:
        """Per column, the rows of items on which it takes several values; and ``n_items``.

        Missing counts as one value. One pass over the items for every column, which also
        makes the table ``_items`` (an id per item) that the encoding joins on.
        """
        i = self.id(ITEM_ID)
        # min <> max, not count(DISTINCT ...) > 1: the same answer without a hash set per item
        flags = "".join(
            f", CASE WHEN min({e}) <> max({e}) THEN 1 ELSE 0 END AS v{k}"
            for k, e in enumerate(f"coalesce(CAST({self.id(c)} AS STRING), '\x00')" for c in cols)
        )
        # the item's code is a 64-bit hash of its id: the encoding then needs no join on the
        # ids (the costliest step at 10^7 rows); distinct ids whose hashes collide are
        # detected below and the encoding joins instead
        self.b.execute(
            f"CREATE OR REPLACE TEMP TABLE _items AS SELECT item_id, "
            f"{self.b.hash64('item_id')} AS code, "
            f"n{''.join(f', v{k}' for k in range(len(cols)))} FROM (SELECT {i} AS item_id, "
            f"count(*) AS n{flags} FROM {CLEAN} GROUP BY {i}) g"
        )
        self.hash_ok = (
            int(self.b.scalar("SELECT count(*) - count(DISTINCT code) FROM _items") or 0) == 0
        )
        self.items_ready = True
        sums = "".join(f", sum(v{k} * n)" for k in range(len(cols)))
        t = self.b.table(f"SELECT count(*){sums} FROM _items")
        row = [t.column(j)[0].as_py() for j in range(t.num_columns)]
        out = {c: int(row[k + 1] or 0) for k, c in enumerate(cols)}
        out["n_items"] = int(row[0] or 0)
        return out

    def varies_within_item(self, col: str) -> tuple[int, tuple[int, ...]] | None:
        """Rows of items whose ``col`` takes several values (missing counts as one value)."""
        n = self._varying.get(col) if hasattr(self, "_varying") else None
        if n is None:
            n = self.varying([col])[col]
        if not n:
            return None
        i = self.id(ITEM_ID)
        val = f"coalesce(CAST({self.id(col)} AS STRING), '\x00')"
        bad = f"SELECT {i} FROM {CLEAN} GROUP BY {i} HAVING min({val}) <> max({val})"
        return n, self.first_rows(CLEAN, f"{i} IN ({bad})")

    def prepare(self, cols: list[str]) -> int:
        """Count the varying rows of ``cols`` in one pass (used by varies_within_item)."""
        self._varying = self.varying(cols)
        return self._varying["n_items"]


def _timestamp_map(backend: Backend, q: _Queries) -> list[Problem]:
    """Each distinct timestamp text parsed once by the in-memory parser; unparseable ones."""
    col = q.id(TIMESTAMP)
    text = backend.table(
        f"SELECT DISTINCT CAST({col} AS STRING) AS t FROM {CLEAN} WHERE {col} IS NOT NULL"
    ).column(0)
    s = pd.Series(pd.array(text.to_pylist(), dtype="string"))
    parsed = _parse_timestamp_values(s)
    ns = parsed.array.asi8
    ok = parsed.notna().to_numpy()
    ts_map = pd.DataFrame({"t": s.astype(object), "ns": np.where(ok, ns, 0), "ok": ok})
    backend.register_frame("_ts_map", ts_map)
    problems: list[Problem] = []
    bad = s[~ok].tolist()
    if bad:
        where = f"CAST({col} AS STRING) IN ({_in_list(bad)})"
        n = q.count(CLEAN, where)
        from evalaudit.validate.reasons import Check

        problems.append(
            Problem(
                str(Check.TIMESTAMP_PARSE),
                TIMESTAMP,
                n,
                q.first_rows(CLEAN, where),
                "timestamp cannot be parsed",
                "use ISO 8601 (2026-03-02T09:15:00Z) or epoch seconds",
                examples=tuple(bad[:5]),
            )
        )
    return problems


# ------------------------------------------------------------------ slices and warnings
def _slice_columns(
    columns: Collection[str], opts: IngestOptions, q: _Queries, problems: list[Problem]
) -> tuple[tuple[str, ...], str]:
    """The rules of :func:`evalaudit.validate.slices._slice_columns`, counts from queries."""
    candidates = [c for c in columns if c not in RESERVED_COLUMNS]
    if opts.slices is not None:
        given = given_slices(opts.slices, columns, candidates, q.varies_within_item, problems)
        return given, "given with --slice"
    chosen, skipped = [], []
    n_items = q.prepare([*candidates, *([MODEL] if MODEL in columns else [])])
    # capped: a column with more than MAX_SLICE_VALUES values is skipped whatever its exact
    # count (auto_slice_skip's other bound, half the items, only bites above it), so no more
    # than that many values of a text column (a prompt, a response) come back to Python
    cap = MAX_SLICE_VALUES + 1
    distinct = q.distinct_many(candidates, cap)
    for col in candidates:
        uniques = distinct[col]
        why = auto_slice_skip(col, uniques, n_items)
        if why == "values":
            shown = (
                len(uniques)
                if len(uniques) < cap
                else int(q.b.scalar(f"SELECT count(DISTINCT {q.id(col)}) FROM {CLEAN}"))
            )
            skipped.append(f"{col} ({shown} values)")
        elif why == "numeric":
            skipped.append(f"{col} (numeric)")
        elif why is None and q.varies_within_item(col) is not None:
            skipped.append(f"{col} (varies within items)")
        elif why is None:
            chosen.append(col)
    return tuple(chosen), auto_slice_note(skipped)


def _consistency_warnings(
    columns: Collection[str], q: _Queries, ts_kind: str | None
) -> list[Problem]:
    """As :func:`evalaudit.validate.slices._consistency_warnings`."""
    out: list[Problem] = []
    lab = q.id(LABELER_ID)
    for col in LABELER_ATTRIBUTES:
        if col not in columns or col == BATCH:
            continue
        c = q.id(col)
        bad_q = f"SELECT {lab} FROM {CLEAN} WHERE {c} IS NOT NULL GROUP BY {lab} HAVING min({c}) <> max({c})"
        bad = [str(x) for x in q.b.table(f"{bad_q} ORDER BY {lab}").column(0).to_pylist()]
        if bad:
            where = f"{lab} IN ({bad_q})"
            out.append(
                labeler_attribute_warning(
                    col, q.count(CLEAN, where), q.first_rows(CLEAN, where), bad
                )
            )
    if ts_kind is not None:
        col = q.id(TIMESTAMP)
        # missing in the file (an unparseable one is an error of its own, as in memory)
        where = f"{col} IS NULL"
        n = q.count(CLEAN, where)
        if n:
            out.append(timestamp_missing_warning(n, q.first_rows(CLEAN, where)))
    if MODEL in columns:
        varying = q.varies_within_item(MODEL)
        if varying is not None:
            out.append(model_varies_warning(*varying))
    return out


# ------------------------------------------------------------------ encoding
def _encode(
    backend: Backend,
    q: _Queries,
    spec: LabelSpec,
    slices: tuple[str, ...],
    columns: Collection[str],
    ts_kind: str | None,
    labeler_types: LabelerTypes | None = None,
) -> LabelTable:
    """The LabelTable's columns as codes, computed by the engine, streamed into numpy."""
    i, lab, v = q.id(ITEM_ID), q.id(LABELER_ID), q.id(LABEL)
    # items in order of first appearance (pd.factorize's order), labelers sorted
    # an arbitrary id per item here (made by the slice scan's pass over the items when it
    # ran); numpy renumbers them in order of first appearance (pd.factorize over the rows
    # in file order), which costs less than sorting the items by their first row in SQL
    if not q.items_ready:
        q.varying([])
    attrs = list(dict.fromkeys([c for c in (VENDOR, BATCH, MODEL) if c in columns] + list(slices)))
    distinct = q.distinct_many([LABELER_ID, *attrs])
    labelers = sorted(str(x) for x in distinct[LABELER_ID])
    backend.register_frame(
        "_labelers",
        pd.DataFrame({"id": pd.array(labelers, dtype="string"), "code": np.arange(len(labelers))}),
    )
    kind = spec.kind
    cats = tuple(spec.categories)
    if kind is not LabelKind.INTERVAL:
        backend.register_frame(
            "_values",
            pd.DataFrame({"v": pd.array(list(cats), dtype="string"), "code": np.arange(len(cats))}),
        )
    attr_cats: dict[str, list[str]] = {}
    for col in attrs:
        values = [MISSING_SLICE if x is None else str(x) for x in distinct[col]]
        cats_col = sorted(set(values))
        attr_cats[col] = cats_col
        backend.register_frame(
            f"_dim{len(attr_cats)}",
            pd.DataFrame(
                {"v": pd.array(cats_col, dtype="string"), "code": np.arange(len(cats_col))}
            ),
        )
    if q.hash_ok:
        select = [f"{backend.hash64('c.' + i)} AS item"]
        joins = []
    else:  # two ids share a hash: number the items by a join on the ids
        select = ["it.code AS item"]
        joins = [f"JOIN _items it ON c.{i} = it.item_id"]
        backend.execute(
            "CREATE OR REPLACE TEMP TABLE _items AS SELECT item_id, "
            f"{backend.dense_id()} AS code FROM (SELECT DISTINCT {i} AS item_id FROM {CLEAN}) d"
        )
    select += ["lb.code AS labeler", "c._row AS row"]
    joins.append(f"JOIN _labelers lb ON c.{lab} = lb.id")
    if kind is LabelKind.INTERVAL:
        select.append(f"CAST(c.{v} AS DOUBLE) AS score")
    else:
        select.append("vc.code AS value")
        joins.append(f"JOIN _values vc ON c.{v} = vc.v")
    if ts_kind == "typed":
        select.append(f"{backend.epoch_ns('c.' + q.id(TIMESTAMP))} AS ts")
    elif ts_kind == "text":
        select.append("tm.ns AS ts")
        joins.append(
            f"LEFT JOIN _ts_map tm ON CAST(c.{q.id(TIMESTAMP)} AS STRING) = tm.t AND tm.ok"
        )
    for k, col in enumerate(attrs, start=1):
        select.append(f"d{k}.code AS a{k}")
        joins.append(
            f"JOIN _dim{k} d{k} ON coalesce(CAST(c.{q.id(col)} AS STRING), "
            f"'{MISSING_SLICE}') = d{k}.v"
        )
    n, lo, hi = (
        backend.table(f"SELECT count(*), min(_row), max(_row) FROM {CLEAN}").to_pylist()[0].values()
    )
    n = int(n)
    # rows numbered without a gap (nothing set aside): each row's position is _row - lo, so
    # the rows are written where they belong and the engine need not sort them
    contiguous = n == 0 or int(hi) - int(lo) + 1 == n
    arrays: dict[str, np.ndarray] = {
        "item": np.empty(n, np.uint64 if q.hash_ok else np.int64),
        "labeler": np.empty(n, np.int32),
        "row": np.empty(n, np.int64),
    }
    if kind is LabelKind.INTERVAL:
        arrays["score"] = np.empty(n, np.float64)
    else:
        arrays["value"] = np.empty(n, np.int16)
    if ts_kind is not None:
        arrays["ts"] = np.empty(n, np.int64)
        arrays["ts_null"] = np.empty(n, bool)
    for k in range(1, len(attrs) + 1):
        arrays[f"a{k}"] = np.empty(n, np.int32)
    sql = f"SELECT {', '.join(select)} FROM {CLEAN} c {' '.join(joins)}"
    if not contiguous:
        sql += " ORDER BY c._row"
    pos = 0
    seen = np.zeros(n, dtype=bool) if contiguous else None
    for batch in backend.batches(sql):
        m = batch.num_rows
        if contiguous:
            at = batch.column("row").to_numpy(zero_copy_only=False) - int(lo)
            seen[at] = True
        else:
            at = slice(pos, pos + m)
        for name in batch.schema.names:
            col = batch.column(name)
            if name == "ts":
                arrays["ts_null"][at] = col.is_null().to_numpy(zero_copy_only=False)
                arrays["ts"][at] = col.fill_null(0).to_numpy(zero_copy_only=False)
            else:
                arrays[name][at] = col.to_numpy(zero_copy_only=False)
        pos += m
    if pos != n or (seen is not None and not seen.all()):
        raise RuntimeError(f"the engine returned {pos} encoded rows of {n}; please report it")
    del seen
    ids_by_code = backend.table("SELECT item_id, code FROM _items")
    first, uniq = pd.factorize(arrays.pop("item"))
    arrays["item"] = first.astype(np.int32)
    del first
    # the ids stay Arrow strings (10^8 Python str objects would cost ~5 GB)
    codes = ids_by_code.column("code").to_numpy().astype(uniq.dtype, copy=False)
    order = np.argsort(codes, kind="stable")
    where = order[np.searchsorted(codes[order], uniq)]
    item_ids = ids_by_code.column("item_id").take(pa.array(where)).combine_chunks()
    return _table(
        arrays, item_ids, labelers, spec, slices, attrs, attr_cats, ts_kind, labeler_types
    )


def _table(
    arrays: dict[str, np.ndarray],
    item_ids: Any,
    labelers: list[str],
    spec: LabelSpec,
    slices: tuple[str, ...],
    attrs: list[str],
    attr_cats: dict[str, list[str]],
    ts_kind: str | None,
    labeler_types: LabelerTypes | None = None,
) -> LabelTable:
    """A LabelTable with the columns and dtypes of :meth:`LabelTable.build`."""
    kind = spec.kind
    cats = tuple(spec.categories)
    out = pd.DataFrame({ITEM: arrays["item"], LABELER: arrays["labeler"]})
    positive = spec.positive
    if kind is LabelKind.INTERVAL:
        out[VALUE] = np.int16(-1)
        out[SCORE] = arrays["score"]
    else:
        codes = arrays["value"]
        out[VALUE] = codes
        if kind is LabelKind.BINARY:
            if positive is None:
                positive = cats[-1]
            out[SCORE] = (codes == cats.index(positive)).astype(np.float64)
        elif kind is LabelKind.ORDINAL:
            out[SCORE] = codes.astype(np.float64) / max(len(cats) - 1, 1)
        elif positive is not None and positive in cats:
            out[SCORE] = (codes == cats.index(positive)).astype(np.float64)
        else:
            out[SCORE] = np.nan
    rows = arrays["row"]
    small = not len(rows) or int(rows.max()) < np.iinfo(np.int32).max
    out[ROW_COL] = rows.astype(np.int32) if small else rows
    if ts_kind is not None:
        ns = np.where(arrays["ts_null"], np.iinfo(np.int64).min, arrays["ts"])
        out[TIMESTAMP] = pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))
    for k, col in enumerate(attrs, start=1):
        out[col] = pd.Categorical.from_codes(arrays[f"a{k}"], categories=attr_cats[col])
    ids = pd.array(item_ids, dtype="string") if len(item_ids) else pd.array([], dtype="string")
    lab_index = pd.Index(pd.array(labelers, dtype="string"), name=LABELER_ID)
    return LabelTable(
        frame=out,
        item_ids=pd.Index(ids, dtype="string", name=ITEM_ID),
        labeler_ids=lab_index,
        kind=kind,
        categories=cats,
        positive=positive,
        slice_columns=slices,
        labeler_types=types_by_code(
            labeler_types.types if labeler_types is not None else None, lab_index
        ),
        judge_family=dict(labeler_types.family) if labeler_types is not None else {},
    )
