"""Engines: where the label file is scanned, checked and encoded (``--engine``).

- ``memory``: pandas/pyarrow (:mod:`evalaudit.validate`), the default for files that fit;
- ``duckdb``: DuckDB, embedded, out of core (:mod:`evalaudit.engine.ingest` over
  :mod:`evalaudit.engine.query`): the file is never loaded as text columns, only the
  encoded LabelTable (about 30 bytes a label) comes back;
- ``spark``: the same SQL run by Spark (local mode or a cluster session), for a path or a
  table of the session's catalog.

``auto`` picks ``duckdb`` only when the in-memory audit of the file is predicted not to fit
the memory available and DuckDB's would need less (see :func:`choose_engine`), else
``memory``. Whatever the engine, the statistics run on the same LabelTable, so the
figures agree (tests/test_engine.py pins them to 1e-9 on the sample).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from evalaudit.contract import InputError, Problem
from evalaudit.io import RawFile
from evalaudit.validate.options import Ingested, IngestOptions
from evalaudit.validate.reasons import Check

__all__ = [
    "AUTO_BYTES",
    "ENGINES",
    "Engine",
    "auto_choice",
    "available_memory",
    "choose_engine",
    "ingest_with",
]

Engine = Literal["auto", "memory", "duckdb", "spark"]
ENGINES: tuple[str, ...] = ("auto", "memory", "duckdb", "spark")

#: Inputs smaller than this are always read in memory by ``auto`` (no estimate needed).
AUTO_BYTES = 256 * 1024**2

#: Peak resident bytes a label costs the statistics after the read, whatever the engine
#: (measured: 2.45-2.6 GB at 10^7 labels on every Parquet layout of ``benchmarks/scale.py
#: --layout``, 7.7 GB at 3x10^7; the LabelTable itself is ~35 of them).
STATS_BYTES_PER_LABEL = 260
#: The in-memory read's peak per label beyond the text it holds (1.6-1.8 GB at 10^7 labels,
#: the same layouts): codes, the validation's keys, the table being built.
READ_BYTES_PER_LABEL = 170
#: Share of the available memory the in-memory audit may be predicted to use under ``auto``.
AUTO_MEMORY_SHARE = 0.7
#: ``EVALAUDIT_MEMORY`` (e.g. ``8GB``) states the memory the audit may use, instead of the
#: system's available memory (cgroup limit, address-space limit, MemAvailable).
MEMORY_ENV = "EVALAUDIT_MEMORY"

#: ``EVALAUDIT_ENGINE`` sets the default engine (``auto`` when unset).
ENGINE_ENV = "EVALAUDIT_ENGINE"


def choose_engine(path: str | os.PathLike[str] | None, engine: str | None = None) -> str:
    """The engine to use: ``engine`` when given (not ``auto``), else by predicted memory.

    A DataFrame (``path is None``) is always audited in memory. Under ``auto`` see
    :func:`auto_choice`.
    """
    engine = engine or os.environ.get(ENGINE_ENV, "").strip() or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    if path is None:
        return "memory"
    return auto_choice(path)[0]


def auto_choice(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``auto``'s engine for ``path`` and why (a sentence for the audit's notes).

    Both engines hand the statistics the same LabelTable, so they need the same memory
    after the read (:data:`STATS_BYTES_PER_LABEL` a label); they differ in the read. The
    in-memory read holds the file's text columns while it codes them
    (:data:`READ_BYTES_PER_LABEL` a label plus the uncompressed text), DuckDB's holds
    only the encoded columns. So DuckDB is chosen when the in-memory audit is predicted
    to need more than :data:`AUTO_MEMORY_SHARE` of the memory available
    (:func:`available_memory`) *and* DuckDB's would need less: a file whose text
    (prompts, responses, long ids) outweighs its labels. Otherwise the in-memory engine,
    2-4x faster, is used (``benchmarks/scale.py --layout``: 10^7 labels in 265 MB of
    plain Parquet, 58.6 s by DuckDB and 32.1 s in memory at the same peak). Labels are
    counted from the Parquet footer, else estimated from the first 64 KB.
    """
    try:
        size = Path(path).stat().st_size
    except OSError:
        return "memory", ""  # the in-memory reader reports the missing file
    if size < AUTO_BYTES or not _has_duckdb():
        return "memory", ""
    labels, text = _estimate_input(Path(path), size)
    stats_need = STATS_BYTES_PER_LABEL * labels
    memory_need = max(READ_BYTES_PER_LABEL * labels + text, stats_need)
    duckdb_need = stats_need
    avail = available_memory()
    gb = 1024**3
    if memory_need <= AUTO_MEMORY_SHARE * avail or duckdb_need >= memory_need:
        return "memory", ""
    return "duckdb", (
        f"auto: ~{labels:,} labels with ~{text / gb:.1f} GB of text; the in-memory read "
        f"would need ~{memory_need / gb:.1f} GB of {avail / gb:.1f} GB available, DuckDB's "
        f"~{duckdb_need / gb:.1f} GB"
    )


def _estimate_input(path: Path, size: int) -> tuple[int, int]:
    """(labels, uncompressed bytes of text) of a label file, cheaply."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        try:
            import pyarrow.parquet as pq

            md = pq.ParquetFile(path).metadata
            text = sum(
                md.row_group(i).column(j).total_uncompressed_size
                for i in range(md.num_row_groups)
                for j in range(md.num_columns)
            )
            return int(md.num_rows), int(text)
        except Exception:  # not readable as Parquet: the reader will say so
            return 0, size
    text = size
    if name.endswith(".gz"):
        # gzip's footer holds the uncompressed size mod 2^32: a floor for larger files
        try:
            with open(path, "rb") as fh:
                fh.seek(-4, os.SEEK_END)
                isize = int.from_bytes(fh.read(4), "little")
        except OSError:
            isize = 0
        text = max(isize, 4 * size)
    elif name.endswith((".zst", ".bz2", ".xz")):
        text = 8 * size  # a typical text compression ratio: the estimate errs large
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if name.endswith(".gz"):
            import zlib

            head = zlib.decompressobj(31).decompress(head)
    except Exception:  # unreadable or not gzip after all: the reader will say so
        head = b""
    lines = head.count(b"\n")
    per_line = len(head) / lines if lines > 1 else max(len(head), 1)
    return int(text / per_line), int(text)


def available_memory() -> int:
    """Bytes the audit may use: ``EVALAUDIT_MEMORY`` if set, else the smallest of the
    cgroup's limit less its usage, the address-space limit and ``MemAvailable``."""
    stated = os.environ.get(MEMORY_ENV, "").strip()
    if stated:
        return _parse_bytes(stated)
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            found.append(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    return min(found) if found else 8 * 1024**3


def _parse_bytes(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
    t = text.strip().upper().replace("IB", "B")
    num = t.rstrip("KMGTB")
    unit = t[len(num) :]
    if unit in ("K", "M", "G", "T"):
        unit += "B"
    try:
        return int(float(num) * units[unit])
    except (KeyError, ValueError):
        raise ValueError(f"{MEMORY_ENV}={text!r}: give a size such as 8GB or 512MB") from None


def _has_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def ingest_with(
    path: str | RawFile,
    options: IngestOptions | None = None,
    engine: str | None = None,
    notes: list[str] | None = None,
) -> Ingested:
    """Read and validate ``path`` with ``engine`` (``auto``: :func:`auto_choice`).

    An option or input the SQL ingest does not take (see
    :mod:`evalaudit.engine.ingest`) falls back to the in-memory ingest when the engine
    was chosen automatically, and is an :class:`InputError` (exit 2) when it was asked
    for. The engine used is recorded in the result's notes. A table already in memory
    (a :class:`~evalaudit.io.RawFile`, e.g. from a DataFrame) is validated in memory; an
    ``engine`` that reads files is a ValueError for it.
    """
    from evalaudit.validate import ingest

    if isinstance(path, RawFile):
        if engine not in (None, "auto", "memory"):
            raise ValueError(f"engine={engine!r} reads files; a table is read in memory")
        return ingest(path, options)
    requested = engine or os.environ.get(ENGINE_ENV, "").strip() or "auto"
    if requested == "auto":
        chosen, why = auto_choice(path)
    else:
        chosen, why = choose_engine(path, requested), ""
    if chosen == "memory":
        return ingest(path, options)
    from evalaudit.engine.ingest import Unsupported, ingest_sql
    from evalaudit.engine.query import backend_for

    try:
        backend = backend_for(chosen, **_backend_options(chosen))
    except ImportError as exc:
        raise _engine_error(
            path,
            f"--engine {chosen} needs the Python package {exc.name or chosen!r}",
            "pip install 'evalaudit[spark]'" if chosen == "spark" else "pip install duckdb",
        ) from None
    try:
        ing = ingest_sql(str(path), options, backend)
    except (InputError, MemoryError):
        raise
    except Unsupported as exc:
        if requested != "auto":
            raise _engine_error(
                path,
                f"--engine {chosen} does not support {exc} yet",
                "use --engine memory for this input",
            ) from None
        ing = ingest(path, options)
        return _with_note(ing, f"engine: memory ({chosen} does not support {exc})")
    except Exception as exc:
        # the engine could not parse the file (a malformed CSV, a broken Parquet footer):
        # the in-memory reader names the line and the fix, so let it read the file
        if requested != "auto":
            raise _engine_error(
                path,
                f"{chosen} could not read the file: {str(exc).splitlines()[0][:300]}",
                "use --engine memory for a message naming the line and the fix",
            ) from None
        ing = ingest(path, options)
        return _with_note(ing, f"engine: memory ({chosen} could not read the file)")
    finally:
        backend.close()
    return _with_note(ing, f"engine: {chosen} ({why})" if why else f"engine: {chosen}")


def _engine_error(path: str, message: str, hint: str) -> InputError:
    """An input error about the engine asked for (check ``engine``, exit 2)."""
    return InputError(str(path), [Problem(Check.ENGINE, None, 0, (), message, hint)])


def _backend_options(engine: str) -> dict[str, object]:
    if engine != "duckdb":
        return {}
    out: dict[str, object] = {}
    limit = os.environ.get("EVALAUDIT_DUCKDB_MEMORY", "").strip()
    if limit:
        out["memory_limit"] = limit
    tmp = os.environ.get("EVALAUDIT_DUCKDB_TEMP", "").strip()
    if tmp:
        out["temp_directory"] = tmp
    return out


def _with_note(ing: Ingested, note: str) -> Ingested:
    from dataclasses import replace

    return replace(ing, notes=(*ing.notes, note))
