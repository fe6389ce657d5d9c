"""Engines: where the label file is scanned, checked and encoded (``--engine``).

- ``memory``: pandas/pyarrow (:mod:`evalaudit.validate`), the default for files that fit;
- ``duckdb``: DuckDB, embedded, out of core (:mod:`evalaudit.engine.ingest` over
  :mod:`evalaudit.engine.query`): the file is never loaded as text columns, only the
  encoded LabelTable (about 30 bytes a label) comes back;
- ``spark``: the same SQL run by Spark (local mode or a cluster session), for a path or a
  table of the session's catalog.

``auto`` picks ``duckdb`` above :data:`AUTO_BYTES` of input (see :func:`choose_engine`),
else ``memory``. Whatever the engine, the statistics run on the same LabelTable, so the
figures agree (tests/test_engine.py pins them to 1e-9 on the sample).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from evalaudit.contract import InputError, Problem
from evalaudit.validate.options import Ingested, IngestOptions
from evalaudit.validate.reasons import Check

__all__ = ["AUTO_BYTES", "ENGINES", "Engine", "choose_engine", "ingest_with"]

Engine = Literal["auto", "memory", "duckdb", "spark"]
ENGINES: tuple[str, ...] = ("auto", "memory", "duckdb", "spark")

#: Input size from which ``auto`` uses DuckDB (docs/scale.md). Below it the in-memory
#: ingest is faster (benchmarks/scale.py's 10^7 labels: 79 MB of Parquet, read and
#: validated in memory 4x faster than by DuckDB); above it the in-memory readers' peak
#: grows with the text they hold (issue 16: 9.1 GB for the 0.93 GB CSV of 10^7 labels,
#: MemoryError for 10^8 labels of Parquet, 1.35 GB), while the SQL ingest's is DuckDB's
#: bounded buffer plus the encoded table.
AUTO_BYTES = 256 * 1024**2

#: ``EVALAUDIT_ENGINE`` sets the default engine (``auto`` when unset).
ENGINE_ENV = "EVALAUDIT_ENGINE"


def choose_engine(path: str | os.PathLike[str] | None, engine: str | None = None) -> str:
    """The engine to use: ``engine`` when given (not ``auto``), else by the input's size.

    A DataFrame (``path is None``) is always audited in memory.
    """
    engine = engine or os.environ.get(ENGINE_ENV, "").strip() or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    if path is None:
        return "memory"
    try:
        size = Path(path).stat().st_size
    except OSError:
        return "memory"  # the in-memory reader reports the missing file
    if size >= AUTO_BYTES and _has_duckdb():
        return "duckdb"
    return "memory"


def _has_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def ingest_with(
    path: str,
    options: IngestOptions | None = None,
    engine: str | None = None,
    notes: list[str] | None = None,
) -> Ingested:
    """Read and validate ``path`` with ``engine`` (``auto``: :func:`choose_engine`).

    An option or input the SQL ingest does not take (see
    :mod:`evalaudit.engine.ingest`) falls back to the in-memory ingest when the engine
    was chosen automatically, and is an :class:`InputError` (exit 2) when it was asked
    for. The engine used is recorded in the result's notes.
    """
    from evalaudit.validate import ingest

    requested = engine or os.environ.get(ENGINE_ENV, "").strip() or "auto"
    chosen = choose_engine(path, requested)
    if chosen == "memory":
        return ingest(path, options)
    from evalaudit.engine.ingest import Unsupported, ingest_sql
    from evalaudit.engine.query import backend_for

    try:
        backend = backend_for(chosen, **_backend_options(chosen))
    except ImportError as exc:
        raise InputError(
            str(path),
            [
                Problem(
                    Check.ENGINE,
                    None,
                    0,
                    (),
                    f"--engine {chosen} needs the Python package {exc.name or chosen!r}",
                    "pip install 'evalaudit[spark]'" if chosen == "spark" else "pip install duckdb",
                )
            ],
        ) from None
    try:
        ing = ingest_sql(str(path), options, backend)
    except (InputError, MemoryError):
        raise
    except Unsupported as exc:
        if requested != "auto":
            raise InputError(
                str(path),
                [
                    Problem(
                        Check.ENGINE,
                        None,
                        0,
                        (),
                        f"--engine {chosen} does not support {exc} yet",
                        "use --engine memory for this input",
                    )
                ],
            ) from None
        ing = ingest(path, options)
        return _with_note(ing, f"engine: memory ({chosen} does not support {exc})")
    except Exception as exc:
        # the engine could not parse the file (a malformed CSV, a broken Parquet footer):
        # the in-memory reader names the line and the fix, so let it read the file
        if requested != "auto":
            raise InputError(
                str(path),
                [
                    Problem(
                        Check.ENGINE,
                        None,
                        0,
                        (),
                        f"{chosen} could not read the file: {str(exc).splitlines()[0][:300]}",
                        "use --engine memory for a message naming the line and the fix",
                    )
                ],
            ) from None
        ing = ingest(path, options)
        return _with_note(ing, f"engine: memory ({chosen} could not read the file)")
    finally:
        backend.close()
    return _with_note(ing, f"engine: {chosen}")


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
