"""Read label tables (CSV, TSV, Parquet, JSON Lines, labeling-tool exports) and write outputs.

Readers return every column as text (typed Parquet/JSON values are rendered the way they
would appear in a CSV: ``1`` not ``1.0``), plus the source row number in
:data:`evalaudit.contract.ROW` as the frame index, so every later problem can name the row
the user sees in the file. File-level problems (missing, empty, not UTF-8, not Parquet,
unparseable) raise :class:`evalaudit.contract.InputError`.

Two paths, one result. Parquet files, and CSV/TSV/JSON Lines files whose rows are their
lines, are read by Arrow into integer codes column by column (:mod:`evalaudit.columnar`):
each column is a pandas ``Categorical`` whose codes are ``pd.factorize``'s (kept in
:attr:`RawFile.codes` for validation to reuse), and the file's timestamp column stays typed
when the file stores it typed. Everything else (labeling-tool exports, UTF-16, quoted
newlines, blank lines, ragged rows, invalid UTF-8, nested JSON) is read the careful way:
the whole text decoded, pandas or ``json`` per line, which maps every row to its physical
line and names the line of a problem. The fast path hands a file to the careful one
whenever it could read it differently (see :class:`evalaudit.columnar.Fallback`), so the
two give the same values, notes and problems; ``tests/test_io_layouts.py`` checks it.

Messy files are read as they come, and each step taken is said in
:attr:`RawFile.notes`: compressed files (gzip, bz2, xz, zstd) are recognised by
their extension *and* by their magic bytes (so ``--format csv`` on a ``.gz`` file
still works); a CSV's delimiter (``,`` ``;`` ``|`` tab) is sniffed from its first
lines unless ``--delimiter`` sets it; exports of labeling tools (Label Studio,
Prodigy, Argilla, Inspect AI, LangSmith, Langfuse; see :mod:`evalaudit.readers`)
are recognised by content and mapped to the contract, each counting what it could
not map in :attr:`RawFile.rejected`. A DataFrame or any Arrow stream
(``__arrow_c_stream__``: pyarrow, polars) becomes a RawFile with :func:`frame_to_raw`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import MAX_SLICE_VALUES, ROW, TIMESTAMP, InputError, Problem

__all__ = [
    "FORMATS",
    "RawFile",
    "atomic_write",
    "detect_format",
    "frame_to_raw",
    "read_table",
    "sha256_of",
    "sniff_delimiter",
]

#: Formats evalaudit reads: plain tables, then the labeling-tool exports of
#: :mod:`evalaudit.readers` (by name, as ``--format`` takes them).
FORMATS = (
    "csv",
    "tsv",
    "parquet",
    "jsonl",
    "label-studio",
    "label-studio-min",
    "label-studio-csv",
    "prodigy",
    "argilla",
    "inspect",
    "langsmith",
    "langfuse",
)
#: Compression by file extension; the magic bytes are checked too (:func:`_sniff_compression`).
_COMPRESSION_EXTENSIONS = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bz2",
    ".xz": "xz",
    ".zst": "zstd",
    ".zstd": "zstd",
}
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bz2"),
)
#: Delimiters :func:`sniff_delimiter` tries, preferred in this order on a tie.
DELIMITERS = (",", ";", "\t", "|")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class RawFile:
    """A table as read: text columns (categoricals on the coded path; the timestamp column
    may be typed), indexed by the row number in the file."""

    path: str
    format: str
    frame: pd.DataFrame
    sha256: str
    row_label: str  # "line" for text formats, "row" for Parquet
    #: ``pd.factorize(frame[col])`` of the columns read as codes (see :mod:`evalaudit.columnar`)
    codes: dict[str, tuple[np.ndarray, pd.Index]] = field(default_factory=dict)
    #: records the reader read but could not map to a label row, by reason (a labeling
    #: tool's cancelled or ignored annotations, records without a label ...)
    rejected: dict[str, int] = field(default_factory=dict)
    #: what was done to read the file (decompressed, delimiter sniffed, export mapped)
    notes: tuple[str, ...] = ()
    #: columns of the file not held: free text that cannot be a slice (see ``read_table``)
    unread: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        """Rows (or export records) read: those in ``frame`` plus those the reader set aside."""
        return len(self.frame) + sum(self.rejected.values())


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise InputError(
                str(path),
                [
                    _file_problem(
                        "format", f"unknown format '{fmt}'", f"use one of: {', '.join(FORMATS)}"
                    )
                ],
            )
        return fmt
    suffixes = [x.lower() for x in Path(path).suffixes]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _COMPRESSION_EXTENSIONS and len(suffixes) >= 2:
        suffix = suffixes[-2]  # labels.csv.gz -> .csv
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    raise InputError(
        str(path),
        [
            _file_problem(
                "format",
                f"cannot tell the format from the extension '{suffix or '(none)'}'",
                "rename the file to .csv, .tsv, .parquet or .jsonl (optionally compressed: "
                ".csv.gz, .jsonl.zst ...), or pass --format (one of: " + ", ".join(FORMATS) + ")",
            )
        ],
    )


def read_table(
    path: str | Path,
    fmt: str | None = None,
    *,
    delimiter: str | None = None,
    control: str | None = None,
    timestamp_column: str | None = TIMESTAMP,
    keep: Collection[str] | None = None,
) -> RawFile:
    """Read one table. Raises InputError naming the file and the problem.

    ``delimiter`` fixes a CSV's delimiter (default: sniffed, see :func:`sniff_delimiter`);
    ``control`` picks the labeling-tool control (Label Studio ``from_name``, an Inspect
    scorer, an Argilla question, a LangSmith/Langfuse feedback key) when a file has several.
    ``timestamp_column`` (the file's name of the contract's ``timestamp``) may come back
    typed (UTC datetimes) when the file stores it typed; every other column is text.
    ``keep`` (the file's names of the columns the audit needs whatever they hold): when
    given, another column of free text in a large CSV or Parquet file (prompts, responses:
    :class:`evalaudit.columnar.ColumnCoder`) is not held, and a note says so.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise InputError(
            name, [_file_problem("exists", "the file does not exist", "check the path")]
        )
    if p.is_dir():
        raise InputError(
            name,
            [
                _file_problem(
                    "exists", "this is a directory, not a file", "pass the path of a label file"
                )
            ],
        )
    notes: list[str] = []
    if fmt:
        fmt = detect_format(p, fmt)
    if p.stat().st_size == 0:
        raise InputError(
            name,
            [
                _file_problem(
                    "empty",
                    "the file is empty (0 bytes)",
                    "export the labels again; the file has no data",
                )
            ],
        )
    # the digest is taken on a second thread while the file is read (hashlib releases the GIL)
    hashing = ThreadPoolExecutor(max_workers=1)
    digest_job = hashing.submit(sha256_of, p)
    try:
        dropped: dict[str, tuple[int, int, float]] = {}
        kept = frozenset(keep) if keep is not None else None
        raw = _read_any(p, name, fmt, delimiter, control, notes, timestamp_column, kept, dropped)
    finally:
        hashing.shutdown(wait=True)
    digest = digest_job.result()
    fmt, frame, codes, rejected, row_label = raw
    for col, (rows, distinct, mean) in dropped.items():
        notes.append(
            f"not read: column '{col}' (free text: {distinct:,} distinct values of ~{mean:,.0f} "
            f"bytes in its first {rows:,} rows; a slice has at most {MAX_SLICE_VALUES} values); "
            f"name it with --slice to read it"
        )
    if frame.empty and not rejected:
        raise InputError(
            name,
            [
                _file_problem(
                    "empty",
                    "the file has a header but no data rows"
                    if len(frame.columns)
                    else "the file has no rows",
                    "export the labels again; there is nothing to audit",
                )
            ],
        )
    return RawFile(
        path=name,
        format=fmt,
        frame=frame,
        sha256=digest,
        row_label=row_label,
        codes=codes,
        rejected=rejected,
        notes=tuple(notes),
        unread=tuple(dropped),
    )


def _read_any(
    p: Path,
    name: str,
    fmt: str | None,
    delimiter: str | None,
    control: str | None,
    notes: list[str],
    timestamp_column: str | None,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[str, pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]], dict[str, int], str]:
    """The format, frame, codes, rejected counts and row label of one file."""
    codes: dict[str, tuple[np.ndarray, pd.Index]] = {}
    with open(p, "rb") as fh:
        head = fh.read(8)
    compressed = _sniff_compression(head) or p.suffix.lower() in _COMPRESSION_EXTENSIONS
    plain_parquet = not compressed and (
        fmt == "parquet" or (fmt is None and _EXTENSIONS.get(p.suffix.lower()) == "parquet")
    )
    rejected: dict[str, int] = {}
    fast = (
        None
        if plain_parquet
        else _read_text_fast(p, fmt, delimiter, name, head, notes, timestamp_column, keep, dropped)
    )
    if plain_parquet:
        # read by pyarrow from the path (one column at a time), never into one bytes object
        frame, codes = _read_parquet(p, name, None, timestamp_column, keep, dropped)
        row_label = "row"
    elif fast is not None:
        fmt, frame, codes = fast
        row_label = "line"
    else:
        # the careful path: the whole (decompressed) file as one text, read by pandas and the
        # labeling-tool readers; for small files, exports, and what the fast path refused
        data = _decompress(p.read_bytes(), p, name, notes)
        if fmt is None:
            fmt = _format_of(p, data, name)
        if fmt == "parquet":
            frame, codes = _read_parquet(p, name, data, timestamp_column)
            row_label = "row"
        else:
            frame, rejected, row_label, fmt = _read_text_careful(
                data, fmt, name, delimiter, control, notes
            )
    return fmt or "parquet", frame, codes, rejected, row_label


def _read_text_careful(
    data: bytes,
    fmt: str,
    name: str,
    delimiter: str | None,
    control: str | None,
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, int], str, str]:
    """A text file read whole: pandas for CSV/TSV, ``json`` for JSON Lines, or an export reader."""
    text = _decode(data, name, notes)
    del data
    from evalaudit import readers

    rejected: dict[str, int] = {}
    if fmt == "jsonl" and delimiter is None:
        detected = readers.detect_json(text)
        if detected is not None:
            fmt = detected
            notes.append(f"read as: {readers.TITLES[fmt]} (recognised by content)")
    elif fmt == "csv" and delimiter is None:
        end = text.find("\n")
        header = text if end < 0 else text[:end]  # no copy of the rest of a large file
        detected = readers.detect_csv_header(header, sniff_delimiter(text)[0])
        if detected is not None:
            fmt = detected
            notes.append(f"read as: {readers.TITLES[fmt]} (recognised by its columns)")
    if fmt in readers.READERS:
        out = readers.read_export(fmt, text, name, control=control, delimiter=delimiter)
        notes.extend(out.notes)
        return out.frame, dict(out.rejected), out.row_label, fmt
    if fmt == "jsonl":
        return _read_jsonl(text, name), rejected, "line", fmt
    sep = _delimiter(text, fmt, delimiter, notes)
    return _read_delimited(text, name, sep), rejected, "line", fmt


#: The head of a text file decoded to sniff its delimiter and header (more than the 64 KiB
#: :func:`sniff_delimiter` looks at, so it cuts the same partial last line the full text would).
_HEAD_BYTES = 1 << 18


def _read_text_fast(
    p: Path,
    fmt: str | None,
    delimiter: str | None,
    name: str,
    head8: bytes,
    notes: list[str],
    timestamp_column: str | None = TIMESTAMP,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[str, pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]]] | None:
    """A CSV/TSV or JSON Lines file streamed through Arrow into codes (:mod:`evalaudit.columnar`).

    ``None`` when the file is better read the careful way (:func:`_read_text_careful`):
    anything that is not a plain delimited table in UTF-8 whose rows are its lines, so that
    the careful reader, which reads it exactly as before, can name the line of any problem.
    Nothing read here is kept when it returns ``None``: the careful path starts over.
    """
    from evalaudit import columnar

    by_ext = _COMPRESSION_EXTENSIONS.get(p.suffix.lower())
    by_magic = _sniff_compression(head8)
    if by_ext and by_magic is None:
        return None  # named .gz but not gzip: the careful path says so
    kind = by_magic or by_ext
    opener = columnar.path_opener(p, kind)
    try:
        if fmt is None:
            try:
                fmt = detect_format(p)
            except InputError:
                if kind is None:
                    raise
                with opener() as fh:
                    fmt = _format_of(p, fh.read(4096), name)
        if fmt not in ("csv", "tsv", "jsonl"):
            return None  # exports named by --format: their readers
        head, skip = columnar.sniff_head(opener, _HEAD_BYTES)
        from evalaudit import readers

        said: list[str] = []
        if fmt == "jsonl":
            if not head.lstrip().startswith("{"):
                return None  # a JSON array or not JSON: the careful reader says which
            if delimiter is None and readers.detect_json(head) is not None:
                return None  # a labeling-tool export: its reader
            seen_json: dict[str, tuple[int, int, float]] = {}
            frame, codes, n_bytes = columnar.read_jsonl_coded(
                opener,
                timestamp_column,
                skip=skip,
                on_rows=_progress_rows,
                keep=keep,
                dropped=seen_json,
            )
            if dropped is not None:
                dropped.update(seen_json)  # only once the fast read succeeded
            first_line = 1
        else:
            end = head.find("\n")
            if delimiter is None and readers.detect_csv_header(
                head if end < 0 else head[:end], sniff_delimiter(head)[0]
            ):
                return None  # a labeling-tool export: its reader
            sep = _delimiter(head, fmt, delimiter, said)
            header = columnar.header_of(head, sep)
            seen: dict[str, tuple[int, int, float]] = {}
            frame, codes, n_bytes = columnar.read_csv_coded(
                opener, sep, header, skip=skip, on_rows=_progress_rows, keep=keep, dropped=seen
            )
            if dropped is not None:
                dropped.update(seen)  # only once the fast read succeeded
            first_line = 2  # the header is line 1
    except columnar.Fallback:
        return None
    except (OSError, EOFError, ValueError):  # a corrupt compressed stream: the careful path
        return None
    if kind is not None:
        size = p.stat().st_size
        notes.append(
            f"decompressed {kind} ({size:,} -> {n_bytes:,} bytes"
            + (", recognised by its magic bytes" if by_ext is None else "")
            + ")"
        )
    notes.extend(said)
    if fmt != "jsonl":
        frame.columns = [str(c).strip() for c in frame.columns]
        codes = {str(c).strip(): v for c, v in codes.items()}
        _check_header(frame, name)
    # every row is one line (checked while streaming)
    frame.index = pd.Index(np.arange(first_line, len(frame) + first_line, dtype=np.int64), name=ROW)
    return fmt, frame, codes


def _progress_rows(done: int, total: int | None = None) -> None:
    """Rows read so far (of ``total``, when the file says), for the running step's progress line."""
    from evalaudit.progress import report_rows

    report_rows(done, total)


def frame_to_raw(data: Any, name: str | None = None) -> RawFile:
    """A pandas DataFrame, or anything with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: a pyarrow Table, a polars DataFrame), as a RawFile.

    Columns are rendered as strings exactly as :func:`read_table` renders a Parquet
    file's typed columns (``1`` not ``1.0``), so a frame and the file it came from audit
    alike. Rows are numbered from 1 in frame order; the frame's own index is ignored
    (a named index, e.g. after ``set_index("item_id")``, is kept as a column). The
    sha256 is that of the frame's CSV rendering, so the same frame always has the same
    digest.
    """
    kind = "DataFrame"
    if isinstance(data, pd.DataFrame):
        frame = data
    elif hasattr(data, "__arrow_c_stream__"):
        import pyarrow as pa

        kind = type(data).__name__
        try:
            table = pa.RecordBatchReader.from_stream(data).read_all()
        except Exception as exc:  # a foreign producer can fail in many ways
            raise InputError(
                name or f"<{kind}>",
                [
                    _file_problem(
                        "format",
                        f"the Arrow stream of this {kind} cannot be read: {exc}",
                        "pass a pandas DataFrame, a pyarrow Table or a file path",
                    )
                ],
            ) from None
        frame = table.to_pandas()
    else:
        raise TypeError(
            "data must be a path, a pandas DataFrame or an object with the Arrow PyCapsule "
            f"stream interface (__arrow_c_stream__), not {type(data).__name__}"
        )
    label = name or f"<{kind}>"
    if any(n is not None for n in frame.index.names) and not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame = frame.copy(deep=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_header(frame, label)
    out = pd.DataFrame({c: _to_string(frame[c].reset_index(drop=True)) for c in frame.columns})
    out.index = pd.Index(np.arange(1, len(out) + 1, dtype=np.int64), name=ROW)
    if out.empty:
        raise InputError(
            label,
            [
                _file_problem(
                    "empty", "the frame has no rows", "pass a frame with one row per label"
                )
            ],
        )
    digest = hashlib.sha256(out.to_csv(index=False).encode("utf-8")).hexdigest()
    return RawFile(path=label, format="dataframe", frame=out, sha256=digest, row_label="row")


def _format_of(p: Path, data: bytes, name: str) -> str:
    """The format from the extension (after any compression suffix), else from the content."""
    try:
        return detect_format(p)
    except InputError:
        if Path(p).suffix.lower() not in _COMPRESSION_EXTENSIONS:
            raise
    head = data[:4096].lstrip()
    if data[:4] == b"PAR1":
        return "parquet"
    if head[:1] in (b"{", b"["):
        return "jsonl"
    return "csv"


# ----------------------------------------------------------------- compression
def _sniff_compression(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            if kind == "bz2" and (len(data) < 4 or data[3:4] not in b"123456789"):
                continue
            return kind
    return None


def _decompress(data: bytes, p: Path, name: str, notes: list[str]) -> bytes:
    """Decompress gzip, bz2, xz or zstd data (by magic bytes; the extension must agree).

    A file named ``.gz`` that is not gzip data is an error naming what it is; a file
    whose bytes are compressed but whose name does not say so is decompressed and the
    note says so.
    """
    by_ext = _COMPRESSION_EXTENSIONS.get(p.suffix.lower())
    by_magic = _sniff_compression(data)
    kind = by_magic or by_ext
    if kind is None:
        return data
    if by_ext and by_magic is None:
        raise InputError(
            name,
            [
                _file_problem(
                    "compression",
                    f"the file is named {p.suffix} but is not {by_ext} data",
                    f"compress it again with {by_ext}, or rename it without the {p.suffix}",
                )
            ],
        )
    try:
        if kind == "gzip":
            import gzip

            out = gzip.decompress(data)
        elif kind == "bz2":
            import bz2

            out = bz2.decompress(data)
        elif kind == "xz":
            import lzma

            out = lzma.decompress(data)
        else:
            import zstandard

            out = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except Exception as exc:  # each codec raises its own types for corrupt data
        if by_ext is None:
            return data  # looked like a magic number by chance: read it as it is
        raise InputError(
            name,
            [
                _file_problem(
                    "compression",
                    f"the {kind} data cannot be decompressed ({type(exc).__name__}: {exc})",
                    "the file looks truncated or corrupt: copy or export it again",
                )
            ],
        ) from None
    notes.append(
        f"decompressed {kind} ({len(data):,} -> {len(out):,} bytes"
        + (", recognised by its magic bytes" if by_ext is None else "")
        + ")"
    )
    if not out:
        raise InputError(
            name,
            [
                _file_problem(
                    "empty",
                    f"the {kind} data decompresses to nothing",
                    "export the labels again; the file has no data",
                )
            ],
        )
    return out


# ----------------------------------------------------------------- delimiters
def sniff_delimiter(text: str, lines: int = 50) -> tuple[str, bool]:
    """The delimiter of a delimited text (``,`` ``;`` tab ``|``) and whether it is sure.

    Each candidate splits the first ``lines`` lines (quotes respected); the one giving
    the most fields (>= 2) on the header, with the same count on at least 90% of the
    following lines, wins; ties go to the earlier of :data:`DELIMITERS`. When none
    splits the header, ``,`` (not sure).
    """
    head = text[: 1 << 16]  # the first 64 KiB: enough lines, and no pass over a large file
    if len(text) > len(head) and "\n" in head:
        head = head[: head.rfind("\n")]  # drop the line the cut went through
    sample = "\n".join(head.splitlines()[: lines + 1])
    best: tuple[int, str] | None = None
    for d in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=d) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:]
        if body and sum(len(r) == width for r in body) < 0.9 * len(body):
            continue
        if best is None or width > best[0]:
            best = (width, d)
    return (best[1], True) if best else (",", False)


def parse_delimiter(value: str) -> str:
    """``--delimiter`` as typed: one character, or ``tab`` / ``\\t``."""
    v = {"tab": "\t", "\\t": "\t", "TAB": "\t"}.get(value, value)
    if len(v) != 1 or v in '"\r\n':
        raise ValueError(f"--delimiter {value!r}: give one character such as , ; | or tab")
    return v


def _delimiter(text: str, fmt: str, given: str | None, notes: list[str]) -> str:
    if given is not None:
        return parse_delimiter(given)
    default = "\t" if fmt == "tsv" else ","
    sniffed, sure = sniff_delimiter(text)
    if sure and sniffed != default:
        shown = "tab" if sniffed == "\t" else repr(sniffed)
        notes.append(f"delimiter {shown} (sniffed from the first lines; set it with --delimiter)")
        return sniffed
    return default


# ----------------------------------------------------------------- decoding
def _decode(data: bytes, name: str, notes: list[str] | None = None) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a UTF-16 byte-order mark (Excel's "Unicode text")
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            pass
        else:
            if notes is not None:
                notes.append("decoded as UTF-16 (the file starts with its byte-order mark)")
            data = text.encode("utf-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            name,
            [
                Problem(
                    check="encoding",
                    column=None,
                    count=1,
                    rows=(line,),
                    message=f"the file is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                    hint=_encoding_hint(data, name),
                )
            ],
            row_label="line",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise InputError(
            name,
            [
                _file_problem(
                    "empty",
                    "the file contains only whitespace",
                    "export the labels again; the file has no data",
                )
            ],
        )
    return text


def _encoding_hint(data: bytes, name: str) -> str:
    """The fix for bytes that are not UTF-8: what they are, when the magic bytes say so."""
    if data.startswith(b"PK\x03\x04"):
        return "this is a ZIP archive (an .xlsx workbook is one too): extract the table, or save it as CSV, and pass that file"
    if data.startswith(b"PAR1"):
        return "this is a Parquet file: name it .parquet or pass --format parquet"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "this is an old Excel (.xls) workbook: save it as CSV (UTF-8) and pass that file"
    if b"\x00" in data[:1000]:
        return "the file holds NUL bytes: it is binary or UTF-16 without a byte-order mark; export it as UTF-8 text"
    stem = Path(name).name
    return f"re-export the file as UTF-8 (for a Latin-1 file: `iconv -f latin1 -t utf-8 {stem} > utf8-{stem}`)"


def _read_delimited(text: str, name: str, sep: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype="string",
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            name,
            [
                _file_problem(
                    "empty", "the file has no header and no rows", "export the labels again"
                )
            ],
        ) from None
    except pd.errors.ParserError as exc:
        raise InputError(
            name,
            [
                _file_problem(
                    "parse",
                    f"not a valid {'TSV' if sep == chr(9) else 'CSV'} file: {exc}".strip(),
                    "check quoting and the number of fields on that line",
                )
            ],
            row_label="line",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_header(frame, name)
    frame.index = pd.Index(_line_numbers(text, sep, len(frame)), name=ROW)
    return frame


def _line_numbers(text: str, sep: str, n_rows: int) -> np.ndarray:
    """Physical line on which each data row starts (header = line 1).

    Fast path when no field spans lines; otherwise the csv module walks the
    text so quoted newlines do not shift the numbers.
    """
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines == n_rows + 1 and "\n\n" not in text and "\r" not in text.replace("\r\n", ""):
        return np.arange(2, n_rows + 2, dtype=np.int64)
    # newline="": the csv module sees \r, \n and \r\n line ends as pandas does
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    starts: list[int] = []
    try:
        next(reader, None)
        line = reader.line_num + 1
        for record in reader:
            if record:  # pandas skips blank lines
                starts.append(line)
            line = reader.line_num + 1
    except csv.Error:  # the csv module is stricter than pandas: fall back to record order
        return np.arange(2, n_rows + 2, dtype=np.int64)
    if len(starts) != n_rows:  # cannot reconcile: fall back to record order
        return np.arange(2, n_rows + 2, dtype=np.int64)
    return np.asarray(starts, dtype=np.int64)


def _check_header(frame: pd.DataFrame, name: str) -> None:
    cols = list(frame.columns)
    dupes = sorted({c for c in cols if cols.count(c) > 1 or c.startswith("Unnamed: ")})
    blanks = [c for c in cols if c.startswith("Unnamed: ") or not c]
    if blanks:
        raise InputError(
            name,
            [
                _file_problem(
                    "header",
                    f"the header has {len(blanks)} empty column name(s)",
                    "give every column a name in the first line",
                )
            ],
            row_label="line",
        )
    if dupes:
        raise InputError(
            name,
            [
                _file_problem(
                    "header",
                    f"duplicate column names in the header: {', '.join(dupes)}",
                    "rename the columns so each name appears once",
                )
            ],
            row_label="line",
        )
    # pandas renames duplicates to name.1; catch that too
    mangled = [
        c
        for c in cols
        if "." in c and c.rsplit(".", 1)[0] in cols and c.rsplit(".", 1)[1].isdigit()
    ]
    if mangled:
        raise InputError(
            name,
            [
                _file_problem(
                    "header",
                    "duplicate column names in the header: "
                    + ", ".join(sorted({c.rsplit(".", 1)[0] for c in mangled})),
                    "rename the columns so each name appears once",
                )
            ],
            row_label="line",
        )


def _read_jsonl(text: str, name: str) -> pd.DataFrame:
    records: list[dict[str, object]] = []
    lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                name,
                [
                    Problem(
                        check="parse",
                        column=None,
                        count=1,
                        rows=(lineno,),
                        message=f"line is not valid JSON ({exc.msg})",
                        hint="each line must be one JSON object such as "
                        '{"item_id": "q1", "labeler_id": "a", "label": "pass"}',
                    )
                ],
                row_label="line",
            ) from None
        if not isinstance(obj, dict):
            raise InputError(
                name,
                [
                    Problem(
                        check="parse",
                        column=None,
                        count=1,
                        rows=(lineno,),
                        message=f"line is a JSON {type(obj).__name__}, not an object",
                        hint="each line must be one JSON object with the columns as keys",
                    )
                ],
                row_label="line",
            )
        records.append(obj)
        lines.append(lineno)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    for col in frame.columns:
        frame[col] = _to_string(frame[col])
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.Index(np.asarray(lines, dtype=np.int64), name=ROW)
    return frame


def _read_parquet(
    p: Path,
    name: str,
    data: bytes | None = None,
    timestamp_column: str | None = TIMESTAMP,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]]]:
    """Read a Parquet file (``data``: its bytes, when they came out of a compressed file)."""
    if data is not None:
        head, tail = data[:4], data[-4:] if len(data) >= 8 else b""
    else:
        with open(p, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END) if p.stat().st_size >= 8 else None
            tail = fh.read(4)
    source: Any = p if data is None else io.BytesIO(data)
    if head != b"PAR1" or tail != b"PAR1":
        raise InputError(
            name,
            [
                _file_problem(
                    "format",
                    "not a Parquet file (it lacks the PAR1 magic bytes; it may be "
                    "truncated or another format with a .parquet name)",
                    "write it again with a Parquet writer, or pass --format csv/jsonl if it is text",
                )
            ],
        )
    from evalaudit import columnar

    try:
        import pyarrow as pa

        return columnar.read_parquet_coded(
            pa.py_buffer(data) if data is not None else p,
            on_rows=_progress_rows,
            typed=timestamp_column,
            keep=keep,
            dropped=dropped,
        )
    except columnar.Fallback:
        pass  # nested or binary columns: read whole and rendered below
    except Exception as exc:  # pyarrow raises several types for corrupt files
        _parquet_error(name, exc)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(source)
    except Exception as exc:
        _parquet_error(name, exc)
    frame = table.to_pandas()
    del table
    for col in frame.columns:
        frame[col] = _to_string(frame[col])
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.Index(np.arange(1, len(frame) + 1, dtype=np.int64), name=ROW)
    return frame, {}


def _parquet_error(name: str, exc: Exception) -> None:
    if isinstance(exc, MemoryError):
        raise exc
    raise InputError(
        name,
        [
            _file_problem(
                "format",
                f"the Parquet file cannot be read: {exc}",
                "write the file again; it looks corrupt or truncated",
            )
        ],
    ) from None


def arrow_factorize(column: Any) -> tuple[np.ndarray, pd.Index] | None:
    """``pd.factorize`` of an Arrow text column by Arrow's ``dictionary_encode``.

    Codes (int32) in order of first appearance (null -> -1) and the uniques as pandas
    ``string``: what ``pd.factorize`` gives, hashed in C++ without holding the GIL (so
    it can run beside other work). ``None`` when the encoded chunks do not share
    one dictionary (Arrow encodes a chunked array with one hash table, so they do).
    """
    import pyarrow as pa

    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    enc = chunked.dictionary_encode()
    if enc.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), pd.Index([], dtype="string")
    dictionary = enc.chunk(enc.num_chunks - 1).dictionary
    if any(not c.dictionary.equals(dictionary) for c in enc.chunks[:-1]):
        return None
    indices = pa.chunked_array([c.indices for c in enc.chunks]).combine_chunks()
    codes = indices.fill_null(-1).to_numpy(zero_copy_only=False)  # int32: half of pd's intp
    return codes, pd.Index(pd.array(dictionary.cast(pa.large_string()), dtype="string"))


def _to_string(s: pd.Series) -> pd.Series:
    """Render typed values as they would read in a CSV (integral floats without .0).

    A categorical stays categorical (its categories rendered, and merged where two
    render alike): the values are the same strings, hashed once per category.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        rendered = _to_string(pd.Series(np.asarray(s.cat.categories, dtype=object)))
        codes, uniques = pd.factorize(rendered)  # rendered NA -> -1
        remap = np.append(codes, -1).astype(np.int64)
        cat = pd.Categorical.from_codes(
            remap[s.cat.codes.to_numpy()], categories=pd.Index(np.asarray(uniques, dtype=object))
        )
        return pd.Series(cat, index=s.index)
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
        ts = pd.to_datetime(s, utc=True)
        return ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype("string")
    if pd.api.types.is_bool_dtype(s):
        return s.map({True: "true", False: "false"}).astype("string")
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(v)
        if finite.any() and np.all(np.mod(v[finite], 1) == 0) and np.all(np.abs(v[finite]) < 2**53):
            ints = pd.array(np.where(finite, v, 0).astype(np.int64), dtype="Int64")
            # a missing or infinite value stays missing (not "0"); the Series keeps the index
            return pd.Series(ints, index=s.index).astype("string").where(finite, pd.NA)
        return s.astype("string")
    if pd.api.types.is_integer_dtype(s):
        return s.astype("string")
    if s.dtype == object:

        def conv(v: object) -> object:
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return pd.NA
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
                return str(int(v))
            if isinstance(v, dict | list):
                return json.dumps(v, sort_keys=True)
            return str(v)

        return pd.Series([conv(v) for v in s], index=s.index, dtype="string")
    return s.astype("string")


def _file_problem(check: str, message: str, hint: str) -> Problem:
    return Problem(check=check, column=None, count=0, rows=(), message=message, hint=hint)


# ----------------------------------------------------------------- writing
@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[io.TextIOBase]:
    """Write to a temporary file beside ``path`` and rename on success.

    A crash or an exception leaves no partial output file behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh  # type: ignore[misc]
        # mkstemp creates 0600; an output gets the mode of a normal new file (0666 - umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
