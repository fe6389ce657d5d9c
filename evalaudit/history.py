"""Report history: one summary per scheduled run, so trends and changes show.

Each ``evalaudit report`` run appends a :class:`RunSummary` (when, which input,
how many rows, agreement, the headline with and without suspect labels, the
findings by kind and severity, the verdict and the finding ids) to
``$EVALAUDIT_HOME/history.db`` (default ``.evalaudit/`` at the git work-tree root, else ``./.evalaudit/``; ``--history PATH``
overrides), a SQLite database in WAL mode like the review store
(:mod:`evalaudit.reviews`): several processes may append at once and a writer
killed mid-write leaves the last committed state.

Runs belong to a *series* (by default the report's title, else the data file's
path), so one store can hold the history of several eval sets without mixing
their trends. :func:`compare_runs` says what changed between the previous run
of a series and this one: new and resolved findings (by their stable ids,
DESIGN section 5), verdict, headline and agreement.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from evalaudit.result import AuditResult
from evalaudit.sqlite_wal import retry_busy, setup_store

__all__ = [
    "HISTORY_DB",
    "SCHEMA_VERSION",
    "HistoryError",
    "HistoryStore",
    "RunChanges",
    "RunSummary",
    "compare_runs",
    "default_history_path",
    "default_series",
    "summarize",
]

#: File name of the history store inside ``$EVALAUDIT_HOME``.
HISTORY_DB = "history.db"
#: ``PRAGMA user_version`` of the store schema this code writes.
SCHEMA_VERSION = 1
#: How long a writer waits for another writer's lock (seconds).
BUSY_TIMEOUT_S = 30.0

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class HistoryError(Exception):
    """The history store cannot be opened, read or written."""


def default_history_path(home: str | Path | None = None) -> Path:
    """``HOME/history.db``; ``HOME`` defaults to :func:`evalaudit.reviews.default_home`."""
    from evalaudit.reviews import default_home

    return (Path(home) if home is not None else default_home()) / HISTORY_DB


def default_series(data_path: str | Path, title: str | None = None) -> str:
    """The series a run belongs to: the title if given, else the normalized data path.

    >>> default_series("sample_data/./labels.csv")
    'sample_data/labels.csv'
    >>> default_series("labels.csv", title="Weekly eval")
    'Weekly eval'
    """
    if title and title.strip():
        return title.strip()
    return os.path.normpath(str(data_path))


# ------------------------------------------------------------------ summary
@dataclass(frozen=True)
class RunSummary:
    """What one run found, as kept in the history (one row of ``runs``).

    Scores are on the label's scale (binary: pass rate in [0, 1]); ``delta``
    is the paired headline difference without the suspect labels,
    ``delta_corrected`` the difference after correcting them for their
    estimated leniency (``headline.corrected`` of the audit JSON). ``id`` is
    ``None`` until the summary is stored.
    """

    series: str
    recorded_at: str
    input_path: str
    input_sha256: str
    rows_read: int
    rows_used: int
    items: int
    labelers: int
    label_kind: str
    alpha: float | None
    headline: float | None
    headline_ci_low: float | None
    headline_ci_high: float | None
    headline_without_suspects: float | None
    delta: float | None
    headline_corrected: float | None
    delta_corrected: float | None
    verdict: str
    findings_by_kind: dict[str, int] = field(default_factory=dict)
    findings_by_severity: dict[str, int] = field(default_factory=dict)
    finding_ids: tuple[str, ...] = ()
    title: str | None = None
    policy_sha256: str | None = None
    evalaudit_version: str | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["finding_ids"] = list(self.finding_ids)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSummary:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["finding_ids"] = tuple(kw.get("finding_ids") or ())
        return cls(**kw)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def summarize(
    result: AuditResult,
    series: str,
    *,
    title: str | None = None,
    recorded_at: datetime | None = None,
) -> RunSummary:
    """The history summary of one audit (pure; ``recorded_at`` defaults to now, UTC)."""
    d = result.to_dict()
    inp = d["input"]
    h = d.get("headline") or {}
    corr = h.get("corrected") or {}
    ci = h.get("ci") or [None, None]
    when = (recorded_at or datetime.now(UTC)).astimezone(UTC).strftime(_TS_FORMAT)
    kinds = Counter(f["kind"] for f in d["findings"])
    sev = Counter(f["severity"] for f in d["findings"])
    return RunSummary(
        series=series,
        recorded_at=when,
        input_path=str(inp.get("path", "")),
        input_sha256=str(inp.get("sha256", "")),
        rows_read=int(inp.get("rows_read") or 0),
        rows_used=int(inp.get("rows_used") or 0),
        items=int(inp.get("items") or 0),
        labelers=int(inp.get("labelers") or 0),
        label_kind=str(inp.get("label_kind", "")),
        alpha=_num(d["agreement"].get("alpha")),
        headline=_num(h.get("score")),
        headline_ci_low=_num(ci[0]),
        headline_ci_high=_num(ci[1]),
        headline_without_suspects=_num(h.get("score_without_suspects")),
        delta=_num(h.get("delta")),
        headline_corrected=_num(corr.get("score_corrected")),
        delta_corrected=_num(corr.get("delta")),
        verdict=str(d["verdict"]),
        findings_by_kind=dict(sorted(kinds.items())),
        findings_by_severity=dict(sorted(sev.items())),
        finding_ids=tuple(f["id"] for f in d["findings"]),
        title=title,
        policy_sha256=(d.get("policy") or {}).get("sha256"),
        evalaudit_version=d.get("evalaudit_version"),
    )


# ------------------------------------------------------------------ changes
@dataclass(frozen=True)
class RunChanges:
    """What changed from the previous run of a series to this one.

    ``new_findings`` are ids in this run and not in the previous one (in this
    run's order: most severe first), ``resolved_findings`` the reverse,
    ``persisting`` in both. With no previous run (``first_run``) every list
    is empty and every change is ``None``.
    """

    current: RunSummary
    previous: RunSummary | None
    new_findings: tuple[str, ...] = ()
    resolved_findings: tuple[str, ...] = ()
    persisting: tuple[str, ...] = ()
    headline_change: float | None = None
    headline_corrected_change: float | None = None
    alpha_change: float | None = None

    @property
    def first_run(self) -> bool:
        return self.previous is None

    @property
    def verdict_changed(self) -> bool:
        return self.previous is not None and self.previous.verdict != self.current.verdict

    @property
    def same_input(self) -> bool:
        return self.previous is not None and self.previous.input_sha256 == self.current.input_sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_run": self.first_run,
            "previous": self.previous.to_dict() if self.previous else None,
            "new_findings": list(self.new_findings),
            "resolved_findings": list(self.resolved_findings),
            "persisting": list(self.persisting),
            "verdict_changed": self.verdict_changed,
            "same_input": self.same_input,
            "headline_change": self.headline_change,
            "headline_corrected_change": self.headline_corrected_change,
            "alpha_change": self.alpha_change,
        }


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare_runs(previous: RunSummary | None, current: RunSummary) -> RunChanges:
    """New, resolved and persisting findings and the change of the key numbers.

    >>> base = dict(series="s", input_path="x.csv", rows_read=1, rows_used=1, items=1,
    ...             labelers=1, label_kind="binary", alpha=0.8, headline_ci_low=None,
    ...             headline_ci_high=None, headline_without_suspects=None, delta=None,
    ...             headline_corrected=None, delta_corrected=None)
    >>> old = RunSummary(recorded_at="t0", input_sha256="a", headline=0.60, verdict="warn",
    ...                  finding_ids=("low_agreement:all", "lenient_labeler:lab001"), **base)
    >>> new = RunSummary(recorded_at="t1", input_sha256="b", headline=0.62, verdict="block",
    ...                  finding_ids=("lenient_labeler:lab001", "lenient_labeler:lab009"), **base)
    >>> ch = compare_runs(old, new)
    >>> ch.new_findings, ch.resolved_findings, ch.verdict_changed, round(ch.headline_change, 2)
    (('lenient_labeler:lab009',), ('low_agreement:all',), True, 0.02)
    """
    if previous is None:
        return RunChanges(current=current, previous=None)
    before, now = set(previous.finding_ids), set(current.finding_ids)
    return RunChanges(
        current=current,
        previous=previous,
        new_findings=tuple(i for i in current.finding_ids if i not in before),
        resolved_findings=tuple(i for i in previous.finding_ids if i not in now),
        persisting=tuple(i for i in current.finding_ids if i in before),
        headline_change=_diff(previous.headline, current.headline),
        headline_corrected_change=_diff(previous.headline_corrected, current.headline_corrected),
        alpha_change=_diff(previous.alpha, current.alpha),
    )


# ------------------------------------------------------------------ store
_JSON_FIELDS = ("findings_by_kind", "findings_by_severity", "finding_ids")
_FIELDS = tuple(f.name for f in fields(RunSummary) if f.name != "id")
# Written out (not derived from RunSummary) so that a new field is a deliberate schema change:
# add the column here and bump SCHEMA_VERSION with a migration in HistoryStore._setup.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id                        INTEGER PRIMARY KEY,
    series                    TEXT NOT NULL,
    recorded_at               TEXT NOT NULL,
    input_path                TEXT NOT NULL,
    input_sha256              TEXT NOT NULL,
    rows_read                 INTEGER NOT NULL,
    rows_used                 INTEGER NOT NULL,
    items                     INTEGER NOT NULL,
    labelers                  INTEGER NOT NULL,
    label_kind                TEXT,
    alpha                     REAL,
    headline                  REAL,
    headline_ci_low           REAL,
    headline_ci_high          REAL,
    headline_without_suspects REAL,
    delta                     REAL,
    headline_corrected        REAL,
    delta_corrected           REAL,
    verdict                   TEXT NOT NULL,
    findings_by_kind          TEXT NOT NULL,  -- JSON object kind -> count
    findings_by_severity      TEXT NOT NULL,  -- JSON object severity -> count
    finding_ids               TEXT NOT NULL,  -- JSON list, most severe first
    title                     TEXT,
    policy_sha256             TEXT,
    evalaudit_version         TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_series ON runs (series, id)
"""
_COLUMNS = ", ".join(_FIELDS)


class HistoryStore:
    """The run history: an append-only SQLite table ``runs``, one row per report run.

    WAL mode with ``synchronous=FULL`` and a busy timeout, as the review store
    (:class:`evalaudit.reviews.ReviewStore`): concurrent reports wait for each
    other, a killed writer leaves the last committed run. The schema version
    is ``PRAGMA user_version``. Rows are never updated or deleted. Usable as a
    context manager.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if self.path.is_dir():
            raise HistoryError(f"{self.path}: is a directory; pass the path of a history file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{self.path}: cannot open the history store ({exc})") from None
        try:
            retry_busy(self._setup)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise HistoryError(f"{self.path}: cannot open the history store ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def in_home(cls, home: str | Path | None = None) -> HistoryStore:
        """The store ``HOME/history.db`` (:func:`default_history_path`)."""
        return cls(default_history_path(home))

    def _setup(self) -> None:
        setup_store(
            self._conn,
            self.path,
            busy_timeout=self.busy_timeout,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            what="history store",
            error=HistoryError,
            hint="put the history on a local disk",
        )

    # -- writing
    def append(self, summary: RunSummary) -> RunSummary:
        """Store ``summary`` in its own transaction; return it with its ``id``."""
        values = [
            json.dumps(getattr(summary, name), sort_keys=True)
            if name in _JSON_FIELDS
            else getattr(summary, name)
            for name in _FIELDS
        ]
        marks = ", ".join("?" for _ in _FIELDS)

        def write() -> int:
            cur = self._conn.execute(f"INSERT INTO runs ({_COLUMNS}) VALUES ({marks})", values)
            return int(cur.lastrowid or 0)

        try:
            rowid: int = retry_busy(write)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot record the run ({exc})") from None
        return RunSummary.from_dict({**summary.to_dict(), "id": rowid})

    # -- reading
    def _select(self, where: str, params: Sequence[Any]) -> list[RunSummary]:
        try:
            rows = self._conn.execute(
                f"SELECT id, {_COLUMNS} FROM runs {where}", tuple(params)
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot read the history store ({exc})") from None
        out = []
        for r in rows:
            d = dict(zip(("id", *_FIELDS), r, strict=True))
            for name in _JSON_FIELDS:
                d[name] = json.loads(d[name]) if d[name] else ({} if name != "finding_ids" else [])
            out.append(RunSummary.from_dict(d))
        return out

    def runs(self, series: str | None = None, limit: int | None = None) -> list[RunSummary]:
        """The runs of ``series`` (all series with ``None``), oldest first; the last ``limit``."""
        where, params = ("WHERE series = ?", [series]) if series is not None else ("", [])
        if limit is not None:
            inner = f"SELECT id FROM runs {where} ORDER BY id DESC LIMIT {int(limit)}"
            return self._select(f"WHERE id IN ({inner}) ORDER BY id", params)
        return self._select(f"{where} ORDER BY id", params)

    def last(self, series: str) -> RunSummary | None:
        """The most recent run of ``series``, or ``None``."""
        found = self._select("WHERE series = ? ORDER BY id DESC LIMIT 1", [series])
        return found[0] if found else None

    def series(self) -> list[str]:
        """Every series in the store, sorted."""
        try:
            rows = self._conn.execute("SELECT DISTINCT series FROM runs ORDER BY series").fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot read the history store ({exc})") from None
        return [r[0] for r in rows]

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
