"""SQLite the way evalaudit's stores use it: WAL, durable commits, versioned schema, busy retries.

Shared by the review store (:mod:`evalaudit.reviews`) and the report history
(:mod:`evalaudit.history`). WAL lets readers and one writer work at once;
``synchronous=FULL`` makes a commit survive a power loss, not only a killed
process; the schema version lives in ``PRAGMA user_version`` so an older
evalaudit refuses a newer store instead of misreading it.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["is_busy", "retry_busy", "setup_store"]

T = TypeVar("T")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock."""
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


def retry_busy(fn: Callable[[], T], attempts: int = 8) -> T:
    """Run ``fn``, retrying with jittered exponential back-off while the database is busy."""
    delay = 0.01
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover


def setup_store(
    conn: sqlite3.Connection,
    path: Path,
    *,
    busy_timeout: float,
    schema: str,
    version: int,
    what: str,
    error: type[Exception],
    hint: str,
) -> None:
    """Put ``conn`` in WAL mode with durable commits and create or check the schema.

    ``what`` names the store in messages ("review store"); ``error`` is the
    exception raised when the file system has no WAL support (``hint`` says
    where to put the store instead) or the store's schema is newer than
    ``version``. The schema is created inside ``BEGIN IMMEDIATE`` and only if
    ``user_version`` is still 0 then: another process may have created it
    while this one waited for the lock.
    """
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise error(
            f"{path}: the file system does not support SQLite WAL mode "
            f"(journal mode is {mode!r}); {hint}"
        )
    conn.execute("PRAGMA synchronous = FULL")
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found == version:
        return
    if found > version:
        raise error(
            f"{path}: the {what} has schema version {found}, newer than this "
            f"evalaudit understands ({version}); upgrade evalaudit"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            for stmt in schema.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
