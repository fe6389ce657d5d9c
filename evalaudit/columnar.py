"""Columns to integer codes with Arrow, batch by batch: the read path of large files.

Every column of a label file becomes a pandas ``Categorical`` whose codes are those of
``pd.factorize`` (first appearance, missing -> -1) and whose categories are the values
rendered as a CSV would show them (``1`` not ``1.0``, see :func:`evalaudit.io._to_string`);
typed timestamps stay typed (UTC datetimes, never rendered to text and parsed back). The
codes ride along in :attr:`evalaudit.io.RawFile.codes`, so validation and
:class:`~evalaudit.table.LabelTable` never hash the strings again (DESIGN section 8: hashing
strings is the cost at scale).

One path for every layout: a column is fed to a :class:`ColumnCoder` one Arrow batch at a
time (a Parquet row group or part of one, a CSV block), in file order, whatever the row
groups, the sort order or the page encoding. A batch is either already a dictionary (Parquet
dictionary pages, a dictionary-typed Arrow schema) or is dictionary-encoded on its own (a
small hash table), or, when most of its values are distinct (item ids), kept as it is; at
the end the batch dictionaries are encoded once together. Because each batch dictionary
lists its values in first-appearance order and the batches come in file order, the codes of
that one encoding are ``pd.factorize``'s. No text of the whole file is ever held: a CSV is
streamed (``pyarrow.csv.open_csv``), a Parquet file read one column at a time.

:func:`read_csv_coded` and :func:`read_parquet_coded` raise :class:`Fallback` for what they
do not handle exactly as the careful text reader of :mod:`evalaudit.io` does (ragged rows,
quoted newlines, blank lines, bare CR line ends, invalid UTF-8, labeling-tool exports): the
caller then reads that one file the careful way, which also names the line of any problem.
"""

from __future__ import annotations

import codecs
import csv
import io
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

__all__ = ["ColumnCoder", "Fallback", "read_csv_coded", "read_parquet_coded"]

#: Rows per Arrow batch read from a Parquet file (a row group larger than this is read in parts).
BATCH_ROWS = 1 << 20
#: Bytes per CSV block handed to Arrow's parser.
CSV_BLOCK = 16 << 20
#: A batch with more distinct values than this share of its rows is kept as it is (hashing it
#: twice, once per batch and once at the end, would cost more than it saves).
_DISTINCT_SHARE = 0.5

#: A callback told the rows read so far, and the total when the file says (progress lines).
OnRows = Callable[..., None]


class Fallback(Exception):
    """The fast reader cannot read this file exactly as the careful one would (the reason)."""


class ColumnCoder:
    """``pd.factorize`` of one column fed in Arrow batches (in file order).

    :meth:`add` takes a batch (an Arrow array, dictionary or not); :meth:`finish` returns the
    codes (int32, missing -> -1) and the distinct values as one Arrow array in order of first
    appearance. A ``droppable`` column (one the audit reads only as a slice candidate) whose
    first batch is free text, more than :data:`~evalaudit.contract.MAX_SLICE_VALUES` distinct
    values of :data:`LONG_TEXT_BYTES` or more on average, cannot be a slice: the coder stops
    holding it (:attr:`dropped` says what it saw) instead of keeping every prompt or response
    of the file in memory.
    """

    def __init__(self, droppable: bool = False) -> None:
        self._parts: list[tuple[Any, Any]] = []  # (indices or None, dictionary or values)
        self.rows = 0
        self.droppable = droppable
        #: (rows of the first batch, distinct values there, mean bytes a value) once dropped
        self.dropped: tuple[int, int, float] | None = None

    def add(self, array: Any) -> None:
        import pyarrow as pa

        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.add(chunk)
            return
        if self.dropped is not None:
            self.rows += len(array)
            return
        if self.droppable and self.rows == 0 and len(array):
            self.dropped = _free_text(array)
            if self.dropped is not None:
                self.rows += len(array)
                return
        self.rows += len(array)
        if pa.types.is_dictionary(array.type):
            if len(array.dictionary) > _DISTINCT_SHARE * max(len(array), 1):
                # a dictionary larger than its batch (a writer stored the whole column's
                # dictionary with every row group): decoding the batch costs less than hashing
                # that dictionary again for every batch
                self._parts.append((None, array.dictionary.take(array.indices)))
            else:
                self._parts.append((array.indices, array.dictionary))
            return
        if len(array) == 0:
            return
        if self._parts and self._parts[-1][0] is None:
            # the previous batch was mostly distinct values: so is this one, most likely
            self._parts.append((None, array))
            return
        enc = array.dictionary_encode()
        if len(enc.dictionary) > _DISTINCT_SHARE * len(array):
            self._parts.append((None, array))
        else:
            self._parts.append((enc.indices, enc.dictionary))

    def finish(self) -> tuple[np.ndarray, Any]:
        import pyarrow as pa

        if not self._parts:
            return np.zeros(0, dtype=np.int32), pa.array([], type=pa.string())
        dictionaries = [d for _, d in self._parts]
        value_type = dictionaries[0].type
        if any(d.type != value_type for d in dictionaries):
            dictionaries = [d.cast(pa.large_string()) for d in dictionaries]
        if (
            len(dictionaries) == 1
            and self._parts[0][0] is not None
            and not dictionaries[0].null_count
        ):
            # one batch dictionary: its own order is (checked below) the first-appearance order
            indices, uniques = self._parts[0]
            self._parts.clear()
            codes = indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
            return first_appearance(codes, uniques)
        enc = pa.chunked_array(dictionaries).dictionary_encode().combine_chunks()
        # a null value in a batch dictionary (or a kept batch) is a missing value: -1
        remap = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        out = np.empty(self.rows, dtype=np.int32)
        at = start = 0
        for indices, dictionary in self._parts:
            part = remap[start : start + len(dictionary)]
            if indices is None:
                out[at : at + len(part)] = part
                at += len(part)
            else:
                idx = indices.fill_null(-1).to_numpy(zero_copy_only=False)
                # -1 (a missing value) takes the appended -1
                out[at : at + len(idx)] = np.append(part, np.int32(-1))[idx]
                at += len(idx)
            start += len(dictionary)
        self._parts.clear()
        return first_appearance(out, enc.dictionary)


#: Mean bytes a value from which a column with many distinct values is free text (a prompt,
#: a response, a rationale), not an attribute: ids and names are shorter.
LONG_TEXT_BYTES = 128


def _free_text(array: Any) -> tuple[int, int, float] | None:
    """(rows, distinct values, mean bytes) when ``array`` is free text, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalaudit.contract import MAX_SLICE_VALUES

    values = array.dictionary if pa.types.is_dictionary(array.type) else array
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    mean = pc.mean(pc.binary_length(values)).as_py()
    if mean is None or mean < LONG_TEXT_BYTES:
        return None
    n = int(pc.count_distinct(values).as_py())
    if n <= MAX_SLICE_VALUES:
        return None
    return len(array), n, float(mean)


def first_appearance(codes: np.ndarray, uniques: Any) -> tuple[np.ndarray, Any]:
    """``codes`` renumbered in order of first appearance, ``uniques`` cut to the values used.

    Batch dictionaries list first-appearance order, but a dictionary written by another tool
    (an Arrow dictionary column stored in Parquet) may hold values in any order or values no
    row uses: the codes must be ``pd.factorize``'s either way (item counts and orders hang on
    them). One pass checks it (a new code is always the largest so far plus one); only when
    that fails are the integer codes factorized again.
    """
    n = len(uniques)
    if len(codes) == 0:
        return codes.astype(np.int32), uniques[:0]
    running = np.maximum.accumulate(codes)
    ok = codes[0] <= 0 and bool(np.all(codes[1:] <= running[:-1] + 1)) and running[-1] == n - 1
    if ok:
        return codes, uniques
    present = codes >= 0
    new, order = pd.factorize(codes[present])
    out = np.full(len(codes), -1, dtype=np.int32)
    out[present] = new
    return out, uniques.take(order)


# --------------------------------------------------------------------------- to pandas
def categorical(codes: np.ndarray, uniques: Any) -> tuple[pd.Series, np.ndarray, pd.Index]:
    """The pandas column, its ``pd.factorize`` codes and uniques, from codes and Arrow values.

    Values are rendered as :func:`evalaudit.io._to_string` renders them (``1`` not ``1.0``);
    two values that render alike (``1`` and ``1.0`` in one JSON column) become one.
    """
    import pyarrow as pa

    from evalaudit.io import _to_string

    if pa.types.is_string(uniques.type) or pa.types.is_large_string(uniques.type):
        rendered = pd.Index(pd.array(uniques, dtype=pd.StringDtype("pyarrow")))
    else:
        shown = _to_string(pd.Series(uniques.to_pandas()))
        rc, ru = pd.factorize(shown)  # rendered missing -> -1; merges values shown alike
        codes = np.append(rc, -1).astype(np.int32)[codes]
        rendered = pd.Index(pd.array(np.asarray(ru, dtype=object), dtype="string"))
        codes, rendered = first_appearance(codes, rendered)
    return _from_codes(codes, rendered), codes, rendered


def _from_codes(codes: np.ndarray, categories: pd.Index) -> pd.Series:
    """``pd.Categorical.from_codes`` without re-checking that the categories are distinct.

    They are by construction (one dictionary encoding); the check would hash every id once
    more (~1.5 s for 7.7M item ids).
    """
    try:
        dtype = pd.CategoricalDtype._from_fastpath(categories, ordered=False)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # a pandas without the fast path: check them
        dtype = pd.CategoricalDtype(categories, ordered=False)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False))


def timestamps(column: Any) -> pd.Series:
    """A typed Arrow timestamp column as UTC datetimes (naive times are taken as UTC, as
    :func:`evalaudit.validate.timestamps._parse_timestamps` takes them)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    s = pd.Series(column.to_pandas()).reset_index(drop=True)
    if s.dt.tz is None:
        s = s.dt.tz_localize("UTC")
    return s.astype("datetime64[ns, UTC]")


def _is_timestamp(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_timestamp(t) or (
        pa.types.is_dictionary(t) and pa.types.is_timestamp(t.value_type)
    )


def _supported(t: Any) -> bool:
    """Arrow types the coder renders exactly as the careful reader does."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_null(t)
    )


# --------------------------------------------------------------------------- Parquet
def read_parquet_coded(
    source: Any,
    on_rows: OnRows | None = None,
    threads: int | None = None,
    typed: str | None = None,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]]]:
    """Every column of a Parquet file as codes (see the module docstring).

    ``keep``: the columns the audit needs whatever they hold (the contract's, given
    slices); any other free-text column (:class:`ColumnCoder`) is not read past its first
    batch and is reported in ``dropped`` (name -> what was seen) instead.

    Each column is read on its own (two at a time: Arrow decodes and hashes without the
    GIL), as dictionaries where its pages are dictionary-encoded (Arrow then hands over
    the page dictionaries, nothing to hash per row) and as plain values where they are not
    (a column whose first batch is mostly distinct, or a file written without dictionaries).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def opened(**kw: Any) -> Any:
        # a reader of its own per column: the threads never share a file position
        return pq.ParquetFile(
            pa.BufferReader(source) if isinstance(source, pa.Buffer) else source, **kw
        )

    pf = opened()
    schema = pf.schema_arrow
    names = [f.name for f in schema]
    if len(set(names)) != len(names):
        raise Fallback("duplicate column names")
    unsupported = [f.name for f in schema if not _supported(f.type)]
    if unsupported:
        # nested or binary columns: the careful reader renders them as JSON text
        raise Fallback(f"column types the coder does not render: {unsupported}")
    total = pf.metadata.num_rows
    done = [0] * len(names)
    heavy = threading.Semaphore(1)

    def one(j: int) -> tuple[str, Any]:
        name = names[j]
        field = schema.field(j)
        if _is_timestamp(field.type):
            col = opened().read(columns=[name]).column(0)
            done[j] = total
            _tell(on_rows, done, total)
            return name, ("ts", col)
        droppable = keep is not None and name not in keep
        coder = ColumnCoder(droppable)
        as_dict = True
        reader = opened(read_dictionary=[name]).iter_batches(batch_size=BATCH_ROWS, columns=[name])
        for batch in reader:
            arr = batch.column(0)
            if droppable:
                seen = _free_text(arr) if len(arr) else None
                if seen is not None:  # free text: not read past this batch
                    done[j] = total
                    _tell(on_rows, done, total)
                    return name, ("dropped", seen)
                droppable = False  # decided on the first batch, as the coders do
            if (
                as_dict
                and coder.rows == 0
                and hasattr(arr, "dictionary")
                and len(arr.dictionary) > _DISTINCT_SHARE * max(len(arr), 1)
            ):
                # mostly distinct values (ids): Arrow would build a dictionary per batch for
                # nothing; read the column as plain values instead
                as_dict = False
                break
            coder.add(arr)
            done[j] = coder.rows
            _tell(on_rows, done, total)
        if not as_dict:
            # a mostly distinct column (ids, exact times) holds every value until finish():
            # one at a time, or the two threads stack the two largest (10^7 labels: item
            # ids beside timestamp strings, a peak 0.2-0.9 GB higher, run to run)
            with heavy:
                coder = ColumnCoder()
                for batch in opened().iter_batches(batch_size=BATCH_ROWS, columns=[name]):
                    coder.add(batch.column(0))
                    done[j] = coder.rows
                    _tell(on_rows, done, total)
                return name, ("codes", coder.finish())
        return name, ("codes", coder.finish())

    if threads is None:
        import os

        # EVALAUDIT_THREADS=1 (see evalaudit.audit.parallel_steps) keeps the read on one thread
        threads = 1 if os.environ.get("EVALAUDIT_THREADS", "").strip() == "1" else 2
    results = _map(one, range(len(names)), threads)
    for name, (kind, value) in results:
        if kind == "dropped" and dropped is not None:
            dropped[name] = value
    return _frame([r for r in results if r[1][0] != "dropped"], total, typed)


def _tell(on_rows: OnRows | None, done: list[int], total: int) -> None:
    if on_rows is not None:
        # rows of every column read, as a share of the file's rows
        on_rows(sum(done) // max(len(done), 1), total)


def _map(fn: Callable[[int], Any], items: Iterable[int], threads: int) -> list[Any]:
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fn, items))


def _frame(
    results: list[tuple[str, tuple[str, Any]]], n_rows: int, typed: str | None
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]]]:
    """The frame of coded columns; the timestamp column ``typed`` stays typed when it is."""
    from evalaudit.contract import ROW
    from evalaudit.io import _to_string

    columns: dict[str, pd.Series] = {}
    codes: dict[str, tuple[np.ndarray, pd.Index]] = {}
    for name, (kind, value) in results:
        if kind == "ts" and name == typed:
            columns[name] = timestamps(value)
            continue
        if kind == "ts":
            # another typed time (an item attribute): text as the careful reader renders it,
            # hashed as integers and rendered once per distinct value
            c, uniq = pd.factorize(timestamps(value))
            shown = _to_string(pd.Series(uniq))
            s, c, u = _from_codes(c.astype(np.int32), pd.Index(shown)), c.astype(np.int32), None
            columns[name] = s
            codes[name] = (c, pd.Index(shown))
            continue
        s, c, u = categorical(*value)
        columns[name] = s
        codes[name] = (c, u)
    frame = pd.DataFrame(columns, copy=False)
    frame.index = pd.Index(np.arange(1, n_rows + 1, dtype=np.int64), name=ROW)
    return frame, codes


# --------------------------------------------------------------------------- CSV
class _CountingStream(io.RawIOBase):
    """A binary stream that counts line ends as Arrow reads it (row -> line numbers)."""

    def __init__(self, raw: BinaryIO, skip: int = 0) -> None:
        self._raw = raw
        if skip:
            raw.read(skip)
        self.newlines = 0
        self.bare_cr = False
        self.nul = False
        self._pending_cr = False
        self.bytes = 0
        self.ends_with_newline = True

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        if n:
            self._count(data)
            b[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._count(data)
        return data

    def _count(self, data: bytes) -> None:
        self.bytes += len(data)
        self.newlines += data.count(b"\n")
        if self._pending_cr and data[:1] != b"\n":
            self.bare_cr = True  # the last block ended in a CR no LF followed
        cr = data.count(b"\r")
        if cr and cr - data.count(b"\r\n") - (data[-1:] == b"\r") > 0:
            self.bare_cr = True
        self._pending_cr = data[-1:] == b"\r"
        if not self.nul and b"\x00" in data:
            self.nul = True
        self.ends_with_newline = data[-1:] == b"\n"

    def finished(self) -> None:
        if self._pending_cr:
            self.bare_cr = True


def read_csv_coded(
    open_stream: Callable[[], BinaryIO],
    sep: str,
    header: list[str],
    skip: int = 0,
    on_rows: OnRows | None = None,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]], int]:
    """A delimited text file, streamed through Arrow's CSV parser, every column as codes.

    ``keep`` / ``dropped``: as for :func:`read_parquet_coded` (a free-text column is parsed
    block by block like the others, but not held).

    ``open_stream`` opens the (decompressed) bytes; ``skip`` bytes (a UTF-8 byte-order mark)
    are skipped; ``header`` is the first line as the csv module splits it. Values are read
    as the careful reader reads them: text as it is (no trimming), only an empty field is
    missing. Returns the frame, its codes and the bytes read. Raises :class:`Fallback` for
    what that reader would read differently or must report with a line number.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [h for h in header]
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise Fallback("header with duplicate or empty names")
    stream = _CountingStream(open_stream(), skip=skip)
    coders = {n: ColumnCoder(keep is not None and n not in keep) for n in names}
    rows = 0
    try:
        reader = pcsv.open_csv(
            io.BufferedReader(stream, buffer_size=CSV_BLOCK),
            read_options=pcsv.ReadOptions(block_size=CSV_BLOCK, use_threads=True),
            # Arrow's faster chunking (it assumes no newline inside a quoted value): a quoted
            # newline then still parses, or stops the reader ("out of sync with chunker"); either
            # way the rows no longer match the lines below and the careful reader takes the file
            parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
        if reader.schema.names != names:
            raise Fallback("the header Arrow read differs from the csv module's")
        for batch in reader:
            for j, n in enumerate(names):
                coders[n].add(batch.column(j))
            rows += batch.num_rows
            if on_rows is not None:
                on_rows(rows)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, EOFError) as exc:
        # ragged rows, invalid UTF-8, corrupt compressed data: the careful reader names the line
        raise Fallback(f"Arrow could not parse it: {exc}") from None
    except OSError as exc:  # gzip/bz2/xz/zstd streams raise OSError subclasses on corrupt data
        raise Fallback(f"the stream could not be read: {exc}") from None
    stream.finished()
    lines = stream.newlines + (0 if stream.ends_with_newline or stream.bytes == 0 else 1)
    if stream.bare_cr or stream.nul or lines != rows + 1:
        # quoted newlines, blank lines or CR line ends: row r is not on line r + 1, and only
        # the careful reader maps rows to lines then
        raise Fallback("rows and lines do not match one to one")
    results = []
    for n in names:
        coder = coders.pop(n)
        if coder.dropped is not None:
            if dropped is not None:
                dropped[n] = coder.dropped
            continue
        results.append((n, ("codes", coder.finish())))
    frame, codes = _frame(results, rows, None)
    return frame, codes, stream.bytes + skip


def sniff_head(open_stream: Callable[[], BinaryIO], size: int = 1 << 16) -> tuple[str, int]:
    """The first ``size`` bytes decoded (a cut character dropped) and the byte-order mark length.

    Raises :class:`Fallback` when the head is not plain UTF-8 (UTF-16, other encodings, NUL
    bytes: the careful reader says what the file is) or holds only whitespace.
    """
    with open_stream() as fh:
        head = fh.read(size)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        raise Fallback("UTF-16 or binary")
    skip = 3 if head.startswith(codecs.BOM_UTF8) else 0
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head[skip:], final=False)
    except UnicodeDecodeError:
        raise Fallback("not UTF-8 in the first bytes") from None
    if not text.strip():
        raise Fallback("only whitespace")
    return text, skip


def header_of(text: str, sep: str) -> list[str]:
    """The first record of ``text`` as the csv module splits it (names stripped, as pandas')."""
    try:
        first = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), None)
    except csv.Error:
        raise Fallback("the header cannot be split") from None
    if not first:
        raise Fallback("no header")
    return first


def path_opener(p: Path, compression: str | None) -> Callable[[], BinaryIO]:
    """A function opening ``p`` decompressed (gzip, bz2, xz, zstd) as a binary stream."""

    def opener() -> BinaryIO:
        if compression is None:
            return open(p, "rb")
        if compression == "gzip":
            import gzip

            return gzip.open(p, "rb")  # type: ignore[return-value]
        if compression == "bz2":
            import bz2

            return bz2.open(p, "rb")  # type: ignore[return-value]
        if compression == "xz":
            import lzma

            return lzma.open(p, "rb")  # type: ignore[return-value]
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(p, "rb"))  # type: ignore[return-value]

    return opener


# --------------------------------------------------------------------------- JSON Lines
#: Line separators Python's ``str.splitlines`` (the careful JSON Lines reader) splits on
#: besides ``\n`` and ``\r``: a file holding one reads differently there, so it goes there.
_OTHER_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8")


class _JsonStream(_CountingStream):
    def __init__(self, raw: BinaryIO, skip: int = 0) -> None:
        super().__init__(raw, skip)
        self.other_breaks = False

    def _count(self, data: bytes) -> None:
        super()._count(data)
        if not self.other_breaks and any(b in data for b in _OTHER_LINE_BREAKS):
            self.other_breaks = True
        if not self.other_breaks and b"\xe2\x80\xa9" in data:
            self.other_breaks = True


def read_jsonl_coded(
    open_stream: Callable[[], BinaryIO],
    typed: str | None,
    skip: int = 0,
    on_rows: OnRows | None = None,
    keep: frozenset[str] | None = None,
    dropped: dict[str, tuple[int, int, float]] | None = None,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, pd.Index]], int]:
    """JSON Lines through Arrow's JSON reader, every column as codes.

    ``keep`` / ``dropped``: as for :func:`read_parquet_coded`. Arrow's JSON reader parses
    every field, so a free-text column (a prompt, a response) is held as Arrow text until its
    turn, but it is not coded (no Python string per distinct value) and goes then.

    Numbers, booleans and nulls are rendered as the careful reader renders their column
    (a number column whose values are all whole reads ``1`` for ``1.0``); a value Arrow reads as a time is kept only in the ``typed`` column
    (the file's timestamp column), elsewhere the original text would be lost, so such a file
    goes to the careful reader. So do nested values (rendered there as JSON text), columns
    whose values change type, blank lines and anything Arrow cannot parse.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    stream = _JsonStream(open_stream(), skip=skip)
    try:
        table = pj.read_json(
            io.BufferedReader(stream, buffer_size=CSV_BLOCK),
            read_options=pj.ReadOptions(block_size=CSV_BLOCK, use_threads=True),
            parse_options=pj.ParseOptions(newlines_in_values=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, EOFError) as exc:
        raise Fallback(f"Arrow could not parse it: {exc}") from None
    except OSError as exc:
        raise Fallback(f"the stream could not be read: {exc}") from None
    stream.finished()
    rows = table.num_rows
    lines = stream.newlines + (0 if stream.ends_with_newline or stream.bytes == 0 else 1)
    if stream.bare_cr or stream.nul or stream.other_breaks or lines != rows:
        raise Fallback("rows and lines do not match one to one")
    results = []
    for name in table.column_names:
        col = table.column(name)
        t = col.type
        if pa.types.is_timestamp(t) and name == typed:
            results.append((name, ("ts", col)))
        elif pa.types.is_timestamp(t) or not _supported(t):
            raise Fallback(f"column {name!r} is {t}: the careful reader keeps its text")
        else:
            coder = ColumnCoder(keep is not None and name not in keep)
            coder.add(col)
            if coder.dropped is not None:
                if dropped is not None:
                    dropped[name] = coder.dropped
            else:
                codes, uniques = coder.finish()
                results.append((name, ("codes", (codes, uniques))))
        table = table.drop_columns([name])  # each column's memory goes once it is coded
        if on_rows is not None:
            on_rows(rows)
    frame, codes = _frame(results, rows, typed)
    return frame, codes, stream.bytes + skip
