"""Review decisions on findings: record, store, export, load and apply them.

A reviewer looks at a finding and decides (DESIGN section 5):

- ``dismiss``: the finding is not a problem; the gate lists it as dismissed
  (with who and why) and it does not block;
- ``confirm``: the finding is real; the gate excludes those labels in the
  counterfactual.

A decision may carry ``until`` (``YYYY-MM-DD``): it applies through that day
(UTC) and then expires, and the finding is unreviewed again. For each finding
the *latest* decision applies and supersedes every earlier one, even when it
has expired (an expired confirmation does not revive an older dismissal).

Decisions live in ``$EVALAUDIT_HOME/reviews.db`` (default ``.evalaudit/`` at the git
work-tree root, else ``./.evalaudit/``: :func:`default_home`),
a SQLite database in WAL mode that several processes may write at once and
that survives a writer killed mid-write. CI runs on a clean checkout, so
``evalaudit review export reviews.yaml`` writes every decision to a plain
YAML file that is committed beside the eval set and read by the gate
(``--reviews reviews.yaml``) with :func:`load_yaml`.

``recorded_at`` is the audit trail (when the decision was recorded). It is
kept in the store and in the export but never in the gate's verdict
(:meth:`ReviewOutcome.to_dict`), so the gate's JSON is byte-identical across
runs.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn

import yaml

from evalaudit.contract import InputError, Problem
from evalaudit.rules import FINDING_KINDS
from evalaudit.sqlite_wal import retry_busy, setup_store

__all__ = [
    "ACTIONS",
    "EXPORT_VERSION",
    "REVIEWS_DB",
    "SCHEMA_VERSION",
    "Decision",
    "ReviewOutcome",
    "ReviewStore",
    "StoreError",
    "apply_decisions",
    "check_by",
    "check_finding_id",
    "check_reason",
    "check_until",
    "decisions_for_gate",
    "default_home",
    "describe_home",
    "export_yaml",
    "home_source",
    "latest_per_finding",
    "load_yaml",
    "utc_today",
]

Action = Literal["dismiss", "confirm"]
ACTIONS: tuple[str, ...] = ("dismiss", "confirm")

#: File name of the review store inside ``$EVALAUDIT_HOME``.
REVIEWS_DB = "reviews.db"
#: ``PRAGMA user_version`` of the store schema this code writes.
SCHEMA_VERSION = 1
#: ``version:`` of the exported YAML file.
EXPORT_VERSION = 1
#: How long a writer waits for another writer's lock before giving up (seconds).
BUSY_TIMEOUT_S = 30.0

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_ID_EXAMPLE = "tilted_slice:lab017:failure_mode=hallucination"


# ------------------------------------------------------------------ validation
def check_finding_id(value: str) -> str:
    """Return the finding id stripped, or raise ``ValueError`` saying what is wrong.

    A finding id is ``KIND:SUBJECT`` where KIND is one of
    :data:`evalaudit.rules.FINDING_KINDS` and SUBJECT is not empty.
    """
    if not isinstance(value, str):
        raise ValueError(f"the finding id must be text, not {type(value).__name__}")
    v = value.strip()
    if not v:
        raise ValueError("the finding id is empty")
    if any(ord(c) < 32 for c in v):
        raise ValueError(f"the finding id {v!r} contains a control character (a line break?)")
    kind, sep, subject = v.partition(":")
    if not sep or not subject.strip():
        raise ValueError(
            f"{v!r} is not a finding id: expected KIND:SUBJECT, e.g. {_ID_EXAMPLE} "
            "(copy it from the audit or gate output)"
        )
    if kind not in FINDING_KINDS:
        raise ValueError(
            f"{v!r} is not a finding id: unknown finding kind {kind!r} "
            f"(one of: {', '.join(FINDING_KINDS)})"
        )
    return v


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, not {type(value).__name__}")
    v = value.strip()
    if not v:
        raise ValueError(f"{what} is empty")
    return v


def check_by(value: str) -> str:
    """Return who decided, stripped; raise ``ValueError`` when empty."""
    return _check_text(value, "the reviewer name (by)")


def check_reason(value: str) -> str:
    """Return the reason, stripped; raise ``ValueError`` when empty."""
    return _check_text(value, "the reason")


def check_until(value: str | date | None) -> str | None:
    """Return ``until`` as ``YYYY-MM-DD`` (or ``None``); raise ``ValueError`` if it is no date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        raise ValueError(f"until must be a date YYYY-MM-DD, not a timestamp ({value})")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"until must be a date YYYY-MM-DD, not {type(value).__name__}")
    v = value.strip()
    if not _DATE_RE.match(v):
        raise ValueError(f"until {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-06-30")
    try:
        date.fromisoformat(v)
    except ValueError:
        raise ValueError(
            f"until {value!r} is not a calendar date (check the month and the day)"
        ) from None
    return v


def _check_action(value: str) -> str:
    if value not in ACTIONS:
        raise ValueError(f"action {value!r} is not one of: {', '.join(ACTIONS)}")
    return value


def _canonical_timestamp(value: str | datetime) -> str:
    """``recorded_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC); naive times are taken as UTC."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"recorded_at {value!r} is not an ISO timestamp (e.g. 2026-03-01T10:00:00Z)"
            ) from None
    else:
        raise ValueError(f"recorded_at must be an ISO timestamp, not {type(value).__name__}")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime(_TS_FORMAT)


def _now() -> str:
    return datetime.now(UTC).strftime(_TS_FORMAT)


def utc_today() -> date:
    """Today's date in UTC (``until`` is a UTC day)."""
    return datetime.now(UTC).date()


# ------------------------------------------------------------------ decision
@dataclass(frozen=True)
class Decision:
    """One review decision on one finding.

    Every instance is valid: the constructor strips ``finding_id``, ``by``
    and ``reason``, normalises ``recorded_at`` to ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
    (UTC) and raises ``ValueError`` listing every invalid field.

    Attributes
    ----------
    finding_id:
        The stable finding id, ``KIND:SUBJECT`` (e.g. ``lenient_labeler:lab017``).
    action:
        ``dismiss`` (does not block) or ``confirm`` (labels excluded in the counterfactual).
    by, reason:
        Who decided and why (non-empty).
    until:
        ``YYYY-MM-DD`` or ``None``; the decision applies through that day (UTC).
    recorded_at:
        When it was recorded (audit trail only; never in the gate's verdict).
    """

    finding_id: str
    action: Action
    by: str
    reason: str
    until: str | None
    recorded_at: str

    def __post_init__(self) -> None:
        errors: list[str] = []
        checks: list[tuple[str, Any]] = [
            ("finding_id", check_finding_id),
            ("action", _check_action),
            ("by", check_by),
            ("reason", check_reason),
            ("until", check_until),
            ("recorded_at", _canonical_timestamp),
        ]
        for name, check in checks:
            try:
                object.__setattr__(self, name, check(getattr(self, name)))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise ValueError("invalid review decision: " + "; ".join(errors))

    @classmethod
    def create(
        cls,
        finding_id: str,
        action: str,
        by: str,
        reason: str,
        until: str | date | None = None,
        *,
        now: datetime | None = None,
    ) -> Decision:
        """A new decision stamped with the current UTC time (or ``now``)."""
        return cls(
            finding_id=finding_id,
            action=action,  # type: ignore[arg-type]  # validated in __post_init__
            by=by,
            reason=reason,
            until=until,  # type: ignore[arg-type]  # a date is normalised to a string
            recorded_at=_canonical_timestamp(now) if now is not None else _now(),
        )

    def expired(self, today: date) -> bool:
        """True when ``until`` is before ``today`` (it applies through its own day)."""
        return self.until is not None and date.fromisoformat(self.until) < today

    def to_dict(self) -> dict[str, Any]:
        """Every field, ``recorded_at`` included (for the store's export and audit trail)."""
        return {
            "finding_id": self.finding_id,
            "action": self.action,
            "by": self.by,
            "reason": self.reason,
            "until": self.until,
            "recorded_at": self.recorded_at,
        }

    def verdict_dict(self) -> dict[str, Any]:
        """The fields the gate reports: no ``recorded_at``, so its output is reproducible."""
        return {
            "finding_id": self.finding_id,
            "action": self.action,
            "by": self.by,
            "reason": self.reason,
            "until": self.until,
        }


def latest_per_finding(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The latest decision of each finding, keyed and sorted by finding id.

    Latest = greatest ``recorded_at``; on a tie, the one that comes later in
    ``decisions``. (In a store ``recorded_at`` strictly increases with the
    insertion order, so both orders agree.)
    """
    best: dict[str, Decision] = {}
    for d in decisions:  # a later one wins ties
        cur = best.get(d.finding_id)
        if cur is None or d.recorded_at >= cur.recorded_at:
            best[d.finding_id] = d
    return {fid: best[fid] for fid in sorted(best)}


# ------------------------------------------------------------------ the store
class StoreError(Exception):
    """The review store cannot be opened or written (not a database, newer schema, ...)."""


def default_home() -> Path:
    """Where review decisions and the report history live (DESIGN section 5).

    ``$EVALAUDIT_HOME`` when set; else ``.evalaudit/`` at the root of the git work tree the
    current directory is in (so a gate run from any directory of the repository sees the
    same decisions); else ``./.evalaudit``. :func:`home_source` says which applied.
    """
    return home_source()[0]


def _git_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory, or the
    file a linked worktree has), without running git."""
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return None


def home_source() -> tuple[Path, str]:
    """(the default home, why): ``$EVALAUDIT_HOME``, the git work-tree root, or the current
    directory."""
    env = os.environ.get("EVALAUDIT_HOME")
    if env:
        return Path(env), "$EVALAUDIT_HOME"
    root = _git_root(Path.cwd().resolve())
    if root is not None:
        return root / ".evalaudit", "the git work-tree root"
    return Path(".evalaudit"), "the current directory"


def describe_home(home: str | Path | None = None) -> str:
    """One phrase for the user: which review store is read, and why that one."""
    if home is not None:
        path, why = Path(home), "--home"
    else:
        path, why = home_source()
    db = path / REVIEWS_DB
    state = "" if db.is_file() else "; none recorded there"
    return f"{db} ({why}{state})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id          INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('dismiss', 'confirm')),
    decided_by  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    until       TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_finding ON decisions (finding_id, id);
"""
_COLUMNS = "finding_id, action, decided_by, reason, until, recorded_at"


class ReviewStore:
    """The review decisions of one ``$EVALAUDIT_HOME``: an append-only SQLite table.

    Durability and concurrency:

    - ``journal_mode=WAL``: readers never block the writer and a commit is
      one append to the write-ahead log, so a process killed mid-write
      (SIGKILL) leaves the last committed state; the next open replays or
      discards the log tail.
    - ``synchronous=FULL``: the log is fsynced at every commit. In WAL mode
      ``NORMAL`` already survives a killed process (the data sit in the OS
      cache), but a power loss or kernel crash could roll back the last
      commits; a review decision is a human's judgement recorded once, so a
      commit must be on disk when ``record`` returns (a few ms per decision).
    - ``busy_timeout``: concurrent writers wait (up to :data:`BUSY_TIMEOUT_S`)
      for each other instead of failing; ``record`` takes the write lock up
      front (``BEGIN IMMEDIATE``) and retries the rare ``database is locked``
      that SQLite returns without waiting (e.g. while another process
      recovers the log).

    The schema version is ``PRAGMA user_version`` (:data:`SCHEMA_VERSION`).
    Rows are never updated or deleted: a new decision supersedes older ones.
    Usable as a context manager (closes the connection).
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the review store ({exc})") from None
        try:
            retry_busy(self._setup)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot open the review store ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def in_home(cls, home: str | Path | None = None) -> ReviewStore:
        """The store ``HOME/reviews.db`` (``HOME`` defaults to :func:`default_home`)."""
        return cls((Path(home) if home is not None else default_home()) / REVIEWS_DB)

    # -- setup
    def _setup(self) -> None:
        setup_store(
            self._conn,
            self.path,
            busy_timeout=self.busy_timeout,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            what="review store",
            error=StoreError,
            hint="put $EVALAUDIT_HOME on a local disk",
        )

    # -- writing
    def record(self, decision: Decision) -> Decision:
        """Append ``decision`` in its own transaction; return it as stored.

        The commit is durable when this returns. ``recorded_at`` is kept
        unless it is not later than the newest stored decision's, in which
        case it becomes that plus one microsecond: within a store,
        ``recorded_at`` strictly increases with the insertion order, so
        "latest" means the same thing here and in an export.
        """
        c = self._conn

        def write() -> Decision:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute(
                    "SELECT recorded_at FROM decisions ORDER BY id DESC LIMIT 1"
                ).fetchone()
                stored = decision
                if row is not None and decision.recorded_at <= row[0]:
                    bumped = datetime.strptime(row[0], _TS_FORMAT) + timedelta(microseconds=1)
                    stored = Decision(
                        decision.finding_id,
                        decision.action,
                        decision.by,
                        decision.reason,
                        decision.until,
                        bumped.strftime(_TS_FORMAT),
                    )
                c.execute(
                    f"INSERT INTO decisions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        stored.finding_id,
                        stored.action,
                        stored.by,
                        stored.reason,
                        stored.until,
                        stored.recorded_at,
                    ),
                )
                c.execute("COMMIT")
                return stored
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

        try:
            result: Decision = retry_busy(write)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot record the decision ({exc})") from None
        return result

    # -- reading
    def _select(self, where: str = "") -> list[Decision]:
        try:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM decisions {where} ORDER BY id"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the review store ({exc})") from None
        return [Decision(*r) for r in rows]

    def all(self) -> list[Decision]:
        """Every decision ever recorded, in insertion order."""
        return self._select()

    def latest(self) -> dict[str, Decision]:
        """The latest decision of each finding (expired ones included), sorted by finding id."""
        found = self._select("WHERE id IN (SELECT MAX(id) FROM decisions GROUP BY finding_id)")
        return {d.finding_id: d for d in sorted(found, key=lambda d: d.finding_id)}

    def current(self, today: date) -> dict[str, Decision]:
        """The decisions in force on ``today``: the latest per finding, unless it has expired."""
        return {k: d for k, d in self.latest().items() if not d.expired(today)}

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a healthy store."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def decisions_for_gate(
    reviews: str | Path | None = None, home: str | Path | None = None
) -> list[Decision]:
    """The decisions the gate honours.

    With ``reviews`` (the gate's ``--reviews FILE``) only that file is read;
    otherwise the local store ``HOME/reviews.db`` if it exists (it is not
    created), else none.
    """
    if reviews is not None:
        return load_yaml(reviews)
    db = (Path(home) if home is not None else default_home()) / REVIEWS_DB
    if not db.is_file():
        return []
    with ReviewStore(db) as store:
        return store.all()


# ------------------------------------------------------------------ export
_EXPORT_HEADER = """\
# evalaudit review decisions (DESIGN section 5), written by `evalaudit review export`.
# Commit this file beside the eval set; the gate reads it with `--reviews FILE`.
#
# Every decision ever recorded is listed (the audit trail), sorted by finding_id
# then recorded_at. For each finding only the latest decision (by recorded_at)
# applies; older ones are history. Keys of a decision:
#   finding_id   the stable finding id, KIND:SUBJECT (as printed by audit/gate)
#   action       dismiss (the finding does not block) or confirm (its labels are
#                excluded in the counterfactual)
#   by, reason   who decided and why
#   until        YYYY-MM-DD: applies through that day (UTC), then expires; null = no expiry
#   recorded_at  when it was recorded (UTC; audit trail, not used by the verdict)
"""


def export_yaml(decisions: Iterable[Decision], path: str | Path) -> int:
    """Write ``decisions`` (all of them, history included) to a YAML file, atomically.

    Sorted by finding id then ``recorded_at`` (stable, so equal timestamps
    keep their order); :func:`load_yaml` reads it back and
    :func:`apply_decisions` applies the latest per finding. Returns the
    number of decisions written.
    """
    from evalaudit.io import atomic_write

    ordered = sorted(decisions, key=lambda d: (d.finding_id, d.recorded_at))
    body = yaml.safe_dump(
        {"version": EXPORT_VERSION, "decisions": [d.to_dict() for d in ordered]},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    with atomic_write(path) as fh:
        fh.write(_EXPORT_HEADER + body)
    return len(ordered)


# ------------------------------------------------------------------ loading
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_TAG_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    _NULL: "empty (null)",
    _TIMESTAMP: "a date",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
    _STR: "text",
}
_REQUIRED = ("finding_id", "action", "by", "reason", "recorded_at")
_OPTIONAL = ("until",)
_TOP_KEYS = ("version", "decisions")
_HINT = "see the comment at the top of a file written by `evalaudit review export`"
_FIELD_HINTS = {
    "finding_id": "the finding id as printed by audit/gate, e.g. " + _ID_EXAMPLE,
    "action": "dismiss or confirm",
    "by": "who decided (text)",
    "reason": "why (text)",
    "until": "YYYY-MM-DD (applies through that day, UTC) or null",
    "recorded_at": "an ISO timestamp such as '2026-03-01T10:00:00Z'",
}


def _what(node: yaml.Node) -> str:
    return _TAG_NAMES.get(node.tag, f"of type {node.tag}")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _keys(
    node: yaml.MappingNode, where: str, problems: list[Problem]
) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """The mapping's scalar keys -> (key node, value node); duplicates are problems."""
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        name = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
        if name in out:
            problems.append(
                Problem(
                    "reviews",
                    name,
                    1,
                    (_line(k),),
                    f"{where}: key '{name}' appears twice (first on line {_line(out[name][0])})",
                    "keep one of them",
                )
            )
            continue
        out[name] = (k, v)
    return out


def load_yaml(path: str | Path) -> list[Decision]:
    """Read a reviews file written by :func:`export_yaml` (or by hand), strictly.

    Unknown, missing or duplicate keys, wrong types, an unknown action, a bad
    date or timestamp and a malformed finding id raise
    :class:`~evalaudit.contract.InputError` naming the file and, for each
    problem, the line and the key; every problem is reported at once.
    ``until`` may be omitted (no expiry). Decisions are returned in file order.
    """
    p = Path(path)
    name = str(path)

    def fail(message: str, hint: str, line: int | None = None, key: str | None = None) -> NoReturn:
        raise InputError(
            name,
            [Problem("reviews", key, 1 if line else 0, (line,) if line else (), message, hint)],
            row_label="line",
        )

    if not p.is_file():
        fail(
            "the reviews file does not exist",
            "check the --reviews path; write it with `evalaudit review export FILE`",
        )
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        fail("the reviews file is not UTF-8", "save it as UTF-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        fail(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            "fix the YAML syntax",
            (mark.line + 1) if mark is not None else None,
        )
    if root is None:
        fail("the reviews file is empty", "it needs `version: 1` and a `decisions:` list")
    if not isinstance(root, yaml.MappingNode):
        fail(
            f"the reviews file must be a mapping with keys version and decisions, not {_what(root)}",
            _HINT,
            _line(root),
        )

    problems: list[Problem] = []

    def problem(node: yaml.Node, key: str | None, message: str, hint: str = _HINT) -> None:
        problems.append(Problem("reviews", key, 1, (_line(node),), message, hint))

    top = _keys(root, "top level", problems)
    for key, (knode, _v) in top.items():
        if key not in _TOP_KEYS:
            problem(knode, key, f"unknown top-level key '{key}'", "use only: version, decisions")
    for key in _TOP_KEYS:
        if key not in top:
            problem(root, key, f"the key '{key}' is missing", "add `version: 1` and `decisions:`")
    if "version" in top:
        knode, vnode = top["version"]
        if not (
            isinstance(vnode, yaml.ScalarNode)
            and vnode.tag == "tag:yaml.org,2002:int"
            and vnode.value.strip() == str(EXPORT_VERSION)
        ):
            problem(
                knode,
                "version",
                f"'version' must be {EXPORT_VERSION}, got {getattr(vnode, 'value', _what(vnode))!r}",
                "a newer version needs a newer evalaudit" if vnode.tag.endswith(":int") else _HINT,
            )
    decisions: list[Decision] = []
    if "decisions" in top:
        knode, seq = top["decisions"]
        if seq.tag == _NULL:
            seq = yaml.SequenceNode("tag:yaml.org,2002:seq", [])  # `decisions:` with nothing
        if not isinstance(seq, yaml.SequenceNode):
            problem(knode, "decisions", f"'decisions' must be a list, not {_what(seq)}")
        else:
            for i, item in enumerate(seq.value, start=1):
                d = _load_decision(item, i, problem, problems)
                if d is not None:
                    decisions.append(d)
    if problems:
        problems.sort(key=lambda q: q.rows[0] if q.rows else 0)
        raise InputError(name, problems, row_label="line")
    return decisions


def _load_decision(
    item: yaml.Node, i: int, problem: Any, problems: list[Problem]
) -> Decision | None:
    """One decision from its YAML node, or ``None`` after adding its problems."""
    if not isinstance(item, yaml.MappingNode):
        problem(item, None, f"decision {i} must be a mapping of keys, not {_what(item)}")
        return None
    before = len(problems)
    keys = _keys(item, f"decision {i}", problems)
    fid = keys.get("finding_id", (None, None))[1]
    label = f"decision {i}"
    if isinstance(fid, yaml.ScalarNode) and fid.value:
        label += f" ({fid.value})"
    for key, (knode, _v) in keys.items():
        if key not in _REQUIRED + _OPTIONAL:
            problem(
                knode,
                key,
                f"{label}: unknown key '{key}'",
                "use only: " + ", ".join(_REQUIRED[:4] + _OPTIONAL + _REQUIRED[4:]),
            )
    for key in _REQUIRED:
        if key not in keys:
            problem(
                item, key, f"{label}: the key '{key}' is missing", f"add {key}: {_FIELD_HINTS[key]}"
            )
    values: dict[str, Any] = {}
    checks: dict[str, Any] = {
        "finding_id": check_finding_id,
        "action": _check_action,
        "by": check_by,
        "reason": check_reason,
        "until": check_until,
        "recorded_at": _canonical_timestamp,
    }
    for key, check in checks.items():
        if key not in keys:
            continue
        knode, vnode = keys[key]
        if key == "until" and vnode.tag == _NULL:
            values[key] = None
            continue
        allowed = (_STR, _TIMESTAMP) if key in ("until", "recorded_at") else (_STR,)
        if not isinstance(vnode, yaml.ScalarNode) or vnode.tag not in allowed:
            want = "a date YYYY-MM-DD or null" if key == "until" else "text"
            quote = " (quote it)" if isinstance(vnode, yaml.ScalarNode) else ""
            problem(
                knode,
                key,
                f"{label}: '{key}' must be {want}, not {_what(vnode)}{quote}",
                f"{key}: {_FIELD_HINTS[key]}",
            )
            continue
        try:
            values[key] = check(vnode.value)
        except ValueError as exc:
            problem(knode, key, f"{label}: {exc}", f"{key}: {_FIELD_HINTS[key]}")
    if len(problems) > before:
        return None
    values.setdefault("until", None)  # omitted: no expiry
    try:
        return Decision(**values)
    except ValueError as exc:  # pragma: no cover - every field was checked above
        problem(item, None, f"{label}: {exc}")
        return None


# ------------------------------------------------------------------ applying
@dataclass(frozen=True)
class ReviewOutcome:
    """How the decisions apply to one run's findings (every collection sorted by finding id).

    Attributes
    ----------
    dismissed:
        Findings of this run whose decision in force is ``dismiss`` (they do not block).
    confirmed:
        Findings of this run whose decision in force is ``confirm``.
    expired:
        Latest decisions of findings of this run whose ``until`` is past: no
        longer applied (the finding is unreviewed again).
    stale:
        Decisions in force whose finding is not in this run (fixed, or the id
        changed): reported so the reviews file can be cleaned up.
    """

    dismissed: dict[str, Decision] = field(default_factory=dict)
    confirmed: dict[str, Decision] = field(default_factory=dict)
    expired: list[Decision] = field(default_factory=list)
    stale: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Lists of ``{finding_id, action, by, reason, until}``; no ``recorded_at``."""
        return {
            "dismissed": [d.verdict_dict() for d in self.dismissed.values()],
            "confirmed": [d.verdict_dict() for d in self.confirmed.values()],
            "expired": [d.verdict_dict() for d in self.expired],
            "stale": [d.verdict_dict() for d in self.stale],
        }


def apply_decisions(
    finding_ids: Sequence[str], decisions: Sequence[Decision], today: date
) -> ReviewOutcome:
    """Classify the latest decision of each finding against this run's ``finding_ids``.

    For each finding id with decisions, the latest one (see
    :func:`latest_per_finding`) decides: a finding of this run is dismissed,
    confirmed, or (``until`` before ``today``) expired; a decision in force
    for an id that is not in this run is stale; an expired decision for an
    absent finding is ignored.
    """
    present = set(finding_ids)
    dismissed: dict[str, Decision] = {}
    confirmed: dict[str, Decision] = {}
    expired: list[Decision] = []
    stale: list[Decision] = []
    for fid, d in latest_per_finding(decisions).items():  # sorted by finding id
        if fid not in present:
            if not d.expired(today):
                stale.append(d)
        elif d.expired(today):
            expired.append(d)
        elif d.action == "dismiss":
            dismissed[fid] = d
        else:
            confirmed[fid] = d
    return ReviewOutcome(dismissed, confirmed, expired, stale)
