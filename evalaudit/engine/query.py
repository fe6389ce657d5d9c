"""The one query layer shared by the out-of-core engines: SQL text that DuckDB and Spark both run.

Why SQL text and not ibis: every query the engines need is a group-by, a join on a small
dimension table or a window over one partition key, which the common subset of DuckDB's
and Spark SQL's dialects expresses directly; ibis would add a dependency tree (and its
own version coupling to both backends) to generate the same strings. The dialect
differences are confined to this module: how a file becomes the view ``src`` (with the
1-based source row number ``_row``), how an identifier is quoted, how a small pandas
table is registered, and how a typed timestamp becomes epoch nanoseconds. Everything
else in :mod:`evalaudit.engine` is one SQL string per statistic, run unchanged by both.

Each backend returns query results as :class:`pyarrow.Table` (the small tables) or as
record batches (the encoded label columns), so nothing is converted row by row in Python.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["Backend", "DuckDBBackend", "SparkBackend", "backend_for"]

#: The view every query reads: the source's columns plus ``_row``.
SOURCE = "src"


class Backend(ABC):
    """A SQL engine that runs the shared queries."""

    name: str

    @abstractmethod
    def register_source(self, path: str, fmt: str, delimiter: str | None = None) -> None:
        """Make ``path`` the view ``src`` with a 1-based source row number ``_row``."""

    @abstractmethod
    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Register a small pandas table under ``name`` (dimension tables, mappings)."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement (CREATE VIEW / TABLE)."""

    def materialize(self, name: str, sql: str) -> None:
        """``name`` as the result of ``sql``, read by several later queries.

        A view by default (DuckDB streams it from the file each time, which costs less
        than holding 10^8 rows); Spark caches it (each query would replan the source).
        """
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    @abstractmethod
    def table(self, sql: str) -> pa.Table:
        """The whole result of a query (small results only)."""

    @abstractmethod
    def batches(self, sql: str, rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
        """The result of a query in record batches, in the query's ORDER BY order."""

    @abstractmethod
    def ident(self, name: str) -> str:
        """``name`` quoted as an identifier."""

    @abstractmethod
    def epoch_ns(self, expr: str) -> str:
        """SQL for a typed timestamp expression as int64 nanoseconds since the epoch (UTC)."""

    @abstractmethod
    def dense_id(self) -> str:
        """A window expression numbering the rows of a query (any order, unique, >= 0)."""

    @abstractmethod
    def hash64(self, expr: str) -> str:
        """A 64-bit hash of a string expression (deterministic within one session)."""

    @abstractmethod
    def smallest(self, expr: str, n: int) -> str:
        """An aggregate: the ``n`` smallest values of ``expr`` in the group, as a list, ascending."""

    @abstractmethod
    def column_types(self) -> dict[str, str]:
        """The source's column names and their SQL types (upper case)."""

    def frame(self, sql: str) -> pd.DataFrame:
        """A small result as pandas (strings stay strings)."""
        return self.table(sql).to_pandas()

    def scalar(self, sql: str) -> Any:
        t = self.table(sql)
        return t.column(0)[0].as_py() if t.num_rows else None

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the engine's resources (the Spark session is shared and kept)."""


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBBackend(Backend):
    """DuckDB, embedded: scans the file in parallel and spills to ``temp_directory``.

    ``memory_limit`` (e.g. ``"4GB"``) bounds DuckDB's own buffers (joins, sorts and
    aggregates spill beyond it); the default leaves DuckDB's (80% of RAM).
    """

    name = "duckdb"

    def __init__(
        self,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
        threads: int | None = None,
    ) -> None:
        import duckdb

        self.con = duckdb.connect(":memory:")
        self.con.execute("SET enable_progress_bar = false")  # stdout is the summary's
        memory_limit = memory_limit or default_memory_limit()
        if not temp_directory:
            import tempfile

            temp_directory = str(Path(tempfile.gettempdir()) / "evalaudit-duckdb")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {_quote_literal(memory_limit)}")
        if temp_directory:
            self.con.execute(f"SET temp_directory = {_quote_literal(temp_directory)}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # the encoded columns must come back in source-row order (ORDER BY _row); insertion
        # order is kept so a CSV materialised into a table keeps its line order
        self.con.execute("SET preserve_insertion_order = true")
        self._frames: dict[str, pd.DataFrame] = {}

    def register_source(self, path: str, fmt: str, delimiter: str | None = None) -> None:
        lit = _quote_literal(str(path))
        if fmt == "parquet":
            # file_row_number is the row's position in the file (0-based), exact under
            # DuckDB's parallel scan
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {SOURCE} AS SELECT * EXCLUDE (file_row_number), "
                f"file_row_number + 1 AS _row FROM read_parquet({lit}, file_row_number = true)"
            )
            return
        if fmt == "jsonl":
            reader = f"read_json_auto({lit}, format = 'newline_delimited')"
            first = 1  # line 1 is the first record
        else:
            sep = _quote_literal(delimiter or ("\t" if fmt == "tsv" else ","))
            # every column as text, as the in-memory reader reads it; empty fields are NULL
            reader = f"read_csv({lit}, delim = {sep}, header = true, all_varchar = true)"
            first = 2  # line 1 is the header
        # a table (not a view) so rowid numbers the records in file order
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM {reader}")
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {SOURCE} AS SELECT *, rowid + {first} AS _row FROM _raw"
        )

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self._frames[name] = frame
        self.con.register(name, frame)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def table(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def batches(self, sql: str, rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
        reader = self.con.sql(sql).to_arrow_reader(rows)
        yield from reader

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def epoch_ns(self, expr: str) -> str:
        return f"epoch_ns(CAST({expr} AS TIMESTAMPTZ))"

    def dense_id(self) -> str:
        return "row_number() OVER ()"

    def hash64(self, expr: str) -> str:
        return f"hash({expr})"

    def smallest(self, expr: str, n: int) -> str:
        return f"min({expr}, {int(n)})"  # a bounded heap per group, not a list of its rows

    def column_types(self) -> dict[str, str]:
        rows = self.con.sql(f"DESCRIBE SELECT * FROM {SOURCE}").fetchall()
        return {str(r[0]): str(r[1]).upper() for r in rows if r[0] != "_row"}

    def close(self) -> None:
        self.con.close()


class SparkBackend(Backend):
    """Spark SQL through pyspark: the same queries, run by a (local or cluster) session.

    ``session`` defaults to the active one, else a ``local[*]`` session is started.
    ``register_source`` also accepts a table name of the session's catalog instead of a
    path (``evalaudit audit --engine spark db.labels``).
    """

    name = "spark"

    def __init__(self, session: Any | None = None) -> None:
        from pyspark.sql import SparkSession

        self.spark = session or SparkSession.getActiveSession() or _local_session()
        self.spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")

    def register_source(self, path: str, fmt: str, delimiter: str | None = None) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        reader = self.spark.read
        if fmt == "table":
            df = self.spark.table(path)
            first = 1
        elif fmt == "parquet":
            df = reader.parquet(path)
            first = 1
        elif fmt == "jsonl":
            df = reader.json(path)
            first = 1
        else:
            sep = delimiter or ("\t" if fmt == "tsv" else ",")
            df = reader.option("header", True).option("sep", sep).csv(path)
            first = 2
        # the source row number: file order is partition order then position, which
        # monotonically_increasing_id preserves (ids are not consecutive: rank them)
        df = df.withColumn("_mid", F.monotonically_increasing_id())
        w = Window.orderBy("_mid")
        df = df.withColumn("_row", F.row_number().over(w) + (first - 1)).drop("_mid")
        df.cache().createOrReplaceTempView(SOURCE)

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            # Spark cannot infer a schema from no rows: declare every column a string
            from pyspark.sql.types import StringType, StructField, StructType

            schema = StructType([StructField(str(c), StringType()) for c in frame.columns])
            self.spark.createDataFrame([], schema).createOrReplaceTempView(name)
            return
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def execute(self, sql: str) -> None:
        # Spark has no temporary tables: a CREATE TEMP TABLE ... AS becomes a cached view
        text = sql.strip()
        prefix = "CREATE OR REPLACE TEMP TABLE "
        if text.upper().startswith(prefix):
            rest = text[len(prefix) :]
            name, _, query = rest.partition(" AS ")
            df = self.spark.sql(query).cache()
            df.createOrReplaceTempView(name.strip())
            return
        self.spark.sql(text.replace("TEMP VIEW", "TEMPORARY VIEW"))

    def materialize(self, name: str, sql: str) -> None:
        self.spark.sql(sql).cache().createOrReplaceTempView(name)

    def table(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def batches(self, sql: str, rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
        # toArrow collects on the driver: the encoded columns of one audit must fit it
        yield from self.spark.sql(sql).toArrow().to_batches(rows)

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def epoch_ns(self, expr: str) -> str:
        return f"(unix_micros(CAST({expr} AS TIMESTAMP)) * 1000)"

    def dense_id(self) -> str:
        # unique, not dense (the partition id is in the high bits), and no single-partition
        # window: numpy renumbers the ids anyway
        return "monotonically_increasing_id()"

    def hash64(self, expr: str) -> str:
        return f"xxhash64({expr})"

    def smallest(self, expr: str, n: int) -> str:
        import re

        found = re.match(r"(\d+)\.(\d+)", self.spark.version)
        version = (int(found[1]), int(found[2])) if found else (0, 0)
        if version >= (4, 2):  # min_by's bound k: no list of the group's rows
            return f"min_by({expr}, {expr}, {int(n)})"
        return f"slice(array_sort(collect_list({expr})), 1, {int(n)})"

    def column_types(self) -> dict[str, str]:
        df = self.spark.table(SOURCE)
        return {f.name: f.dataType.simpleString().upper() for f in df.schema if f.name != "_row"}


def default_memory_limit() -> str:
    """DuckDB's buffer limit: a quarter of physical memory, at most 4 GB.

    DuckDB's default (80% of RAM) would leave nothing for the encoded table and the
    statistics that run after the scan; beyond the limit its joins and aggregates spill
    to the temporary directory instead of failing.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(min(total // 4, 4 * 1024**3) // 1024**2, 256)}MB"


def _local_session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[*]")
        .appName("evalaudit")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )


def backend_for(engine: str, **kwargs: Any) -> Backend:
    """The backend of ``engine`` (``duckdb`` or ``spark``)."""
    if engine == "duckdb":
        return DuckDBBackend(**kwargs)
    if engine == "spark":
        return SparkBackend(**kwargs)
    raise ValueError(f"no SQL backend for engine {engine!r}")


def is_path(text: str) -> bool:
    return Path(text).exists()
