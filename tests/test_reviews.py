"""Review decisions: the store (durable, concurrent), the YAML export, the CLI, applying them."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from evalaudit.cli import cli
from evalaudit.commands.review import review
from evalaudit.contract import InputError
from evalaudit.reviews import (
    REVIEWS_DB,
    Decision,
    ReviewStore,
    StoreError,
    apply_decisions,
    decisions_for_gate,
    default_home,
    export_yaml,
    load_yaml,
    utc_today,
)

# the lead engineer registers the group in cli.py; until then (and idempotently after) do it here
cli.add_command(review)

T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def dec(fid: str, action: str = "dismiss", minutes: int = 0, until: str | None = None) -> Decision:
    return Decision.create(
        fid, action, "alice", f"reason for {fid}", until, now=T0 + timedelta(minutes=minutes)
    )


# ------------------------------------------------------------------ Decision
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"finding_id": "nonsense"}, "'nonsense' is not a finding id: expected KIND:SUBJECT"),
        ({"finding_id": "foo:bar"}, "unknown finding kind 'foo'"),
        ({"finding_id": "lenient_labeler:"}, "is not a finding id"),
        ({"finding_id": "  "}, "the finding id is empty"),
        ({"action": "ignore"}, "action 'ignore' is not one of: dismiss, confirm"),
        ({"by": " "}, "the reviewer name (by) is empty"),
        ({"reason": "\t\n"}, "the reason is empty"),
        ({"until": "2026-02-30"}, "until '2026-02-30' is not a calendar date"),
        ({"until": "30/06/2026"}, "until '30/06/2026' is not a date: use YYYY-MM-DD"),
        ({"until": "20260630"}, "is not a date: use YYYY-MM-DD"),
    ],
)
def test_decision_validation(kwargs: dict[str, str], message: str) -> None:
    base = {
        "finding_id": "lenient_labeler:lab017",
        "action": "dismiss",
        "by": "alice",
        "reason": "checked",
    }
    with pytest.raises(ValueError, match="invalid review decision") as exc:
        Decision.create(**{**base, **kwargs})
    assert message in str(exc.value)


def test_decision_normalises() -> None:
    d = Decision(
        " tilted_slice:lab017:failure_mode=hallucination ",
        "confirm",
        " bob ",
        " spot-checked ",
        date(2026, 6, 30),  # type: ignore[arg-type]
        "2026-03-01T11:00:00+01:00",
    )
    assert d.finding_id == "tilted_slice:lab017:failure_mode=hallucination"
    assert (d.by, d.reason, d.until) == ("bob", "spot-checked", "2026-06-30")
    assert d.recorded_at == "2026-03-01T10:00:00.000000Z"
    # until applies through its own day
    assert not d.expired(date(2026, 6, 30))
    assert d.expired(date(2026, 7, 1))


# ------------------------------------------------------------------ store
def test_store_latest_decision_wins(tmp_path: Path) -> None:
    a, b = "lenient_labeler:lab017", "labeler_drift:lab004"
    with ReviewStore(tmp_path / REVIEWS_DB) as store:
        store.record(dec(a, "dismiss", 0))
        store.record(dec(b, "dismiss", 1))
        store.record(dec(a, "confirm", 2))
        hist = store.all()
        assert [(d.finding_id, d.action) for d in hist] == [
            (a, "dismiss"),
            (b, "dismiss"),
            (a, "confirm"),
        ]
        cur = store.current(date(2026, 3, 1))
        assert list(cur) == sorted([a, b])
        assert cur[a].action == "confirm"
        assert cur[b].action == "dismiss"
    # a new connection sees the same (it was committed, not just cached)
    with ReviewStore(tmp_path / REVIEWS_DB) as store:
        assert store.all() == hist
        assert store.integrity_check() == "ok"
    con = sqlite3.connect(tmp_path / REVIEWS_DB)
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.close()
    assert mode == "wal"


def test_store_insertion_order_beats_a_clock_that_goes_back(tmp_path: Path) -> None:
    fid = "lenient_labeler:lab017"
    with ReviewStore(tmp_path / REVIEWS_DB) as store:
        first = store.record(dec(fid, "dismiss", minutes=60))
        second = store.record(dec(fid, "confirm", minutes=0))  # the clock went back an hour
        assert second.recorded_at > first.recorded_at  # bumped: strictly increasing
        assert store.current(date(2026, 3, 1))[fid].action == "confirm"
        stamps = [d.recorded_at for d in store.all()]
    assert stamps == sorted(stamps)
    # the export applies the same latest decision as the store
    export_yaml([first, second], tmp_path / "r.yaml")
    out = apply_decisions([fid], load_yaml(tmp_path / "r.yaml"), date(2026, 3, 1))
    assert list(out.confirmed) == [fid] and not out.dismissed


def test_store_until_expires(tmp_path: Path) -> None:
    a, b, c = "lenient_labeler:a", "lenient_labeler:b", "lenient_labeler:c"
    with ReviewStore(tmp_path / REVIEWS_DB) as store:
        store.record(dec(a, until="2026-03-10"))
        store.record(dec(b))  # no expiry
        store.record(dec(c, "dismiss", 0))  # an older dismissal without expiry ...
        store.record(dec(c, "confirm", 1, until="2026-03-05"))  # ... superseded by this one
        assert set(store.current(date(2026, 3, 5))) == {a, b, c}
        # c's latest expired: the older dismissal without expiry is not revived
        assert set(store.current(date(2026, 3, 6))) == {a, b}
        assert set(store.current(date(2026, 3, 10))) == {a, b}  # through that day
        assert set(store.current(date(2026, 3, 11))) == {b}
        assert set(store.latest()) == {a, b, c}
        assert len(store.all()) == 4


def test_store_refuses_newer_schema_and_non_database(tmp_path: Path) -> None:
    db = tmp_path / REVIEWS_DB
    ReviewStore(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StoreError, match="schema version 99, newer"):
        ReviewStore(db)
    junk = tmp_path / "junk" / REVIEWS_DB
    junk.parent.mkdir()
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open the review store"):
        ReviewStore(junk)


def test_default_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVALAUDIT_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # outside a git work tree (inside one: its root, test_ci_glue)
    assert default_home() == Path(".evalaudit")
    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    assert decisions_for_gate(home=tmp_path / "h") == []  # no store: none, and none created
    assert not (tmp_path / "h").exists()


# ------------------------------------------------------------------ YAML
def test_export_load_round_trip(tmp_path: Path) -> None:
    decisions = [
        dec("tilted_slice:lab017:failure_mode=hallucination", "confirm", 3),
        dec("lenient_labeler:lab017", "dismiss", 1, until="2026-06-30"),
        Decision.create(
            "data_quality:missing:label",
            "dismiss",
            "Zoë O'Brien",
            'multi-line\nreason: with "quotes", colons and ü',
            now=T0,
        ),
        dec("lenient_labeler:lab017", "confirm", 2),
        Decision.create("lenient_labeler:no", "dismiss", "no", "yes", now=T0),  # YAML booleans
    ]
    path = tmp_path / "sub" / "reviews.yaml"
    assert export_yaml(decisions, path) == 5
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# evalaudit review decisions")
    assert "\nversion: 1\ndecisions:\n" in text
    loaded = load_yaml(path)
    expected = sorted(decisions, key=lambda d: (d.finding_id, d.recorded_at))
    assert loaded == expected
    assert [d.finding_id for d in loaded] == sorted(d.finding_id for d in decisions)
    # exporting what was loaded gives the same bytes
    export_yaml(loaded, tmp_path / "again.yaml")
    assert (tmp_path / "again.yaml").read_text(encoding="utf-8") == text


def test_load_accepts_hand_written_file(tmp_path: Path) -> None:
    p = tmp_path / "reviews.yaml"
    p.write_text(
        "version: 1\n"
        "decisions:\n"
        "  - finding_id: lenient_labeler:lab017\n"
        "    action: dismiss\n"
        "    by: alice\n"
        "    reason: gold set updated\n"
        "    until: 2026-06-30\n"  # unquoted: YAML reads a date
        "    recorded_at: 2026-03-01T10:00:00Z\n"  # unquoted: YAML reads a timestamp
        "  - finding_id: severe_labeler:lab002\n"
        "    action: confirm\n"
        "    by: bob\n"
        "    reason: re-checked\n"  # no until: no expiry
        "    recorded_at: 2026-03-02 09:30:00\n",
        encoding="utf-8",
    )
    a, b = load_yaml(p)
    assert a.until == "2026-06-30" and a.recorded_at == "2026-03-01T10:00:00.000000Z"
    assert b.until is None and b.recorded_at == "2026-03-02T09:30:00.000000Z"
    p.write_text("version: 1\ndecisions: []\n", encoding="utf-8")
    assert load_yaml(p) == []


BAD = """\
version: 1
extra: true
decisions:
- finding_id: lenient_labeler:lab017
  action: dismiss
  by: no
  reason: ok
  until: 2026-13-01
  recorded_at: 2026-03-01T10:00:00Z
  colour: red
- finding_id: nonsense
  action: ignore
  by: alice
  reason: "  "
- finding_id: lenient_labeler:lab001
  action: dismiss
  by: alice
  reason: fine
  until: 30/06/2026
  recorded_at: 2026-03-01T10:00:00Z
  by: bob
- just a string
"""


def test_load_reports_every_problem_with_line_and_key(tmp_path: Path) -> None:
    p = tmp_path / "reviews.yaml"
    p.write_text(BAD, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_yaml(p)
    err = exc.value
    msg = str(err)
    assert msg.startswith(f"{p}: ")
    found = {(q.column, q.rows) for q in err.problems}
    assert found == {
        ("extra", (2,)),  # unknown top-level key
        ("by", (6,)),  # wrong type: YAML reads `no` as a boolean
        ("until", (8,)),  # bad date
        ("colour", (10,)),  # unknown key
        ("recorded_at", (11,)),  # missing key (line of the decision)
        ("finding_id", (11,)),  # bad finding id
        ("action", (12,)),  # bad action
        ("reason", (14,)),  # empty
        ("until", (19,)),  # not YYYY-MM-DD
        ("by", (21,)),  # duplicate key
        (None, (22,)),  # not a mapping
    }
    assert all(q.check == "reviews" for q in err.problems)
    for text in [
        "'extra': unknown top-level key 'extra' (line 2)",
        "'by': decision 1 (lenient_labeler:lab017): 'by' must be text, not a boolean (quote it) (line 6)",
        "'until': decision 1 (lenient_labeler:lab017): until '2026-13-01' is not a calendar date",
        "'colour': decision 1 (lenient_labeler:lab017): unknown key 'colour' (line 10)",
        "'recorded_at': decision 2 (nonsense): the key 'recorded_at' is missing (line 11)",
        "'nonsense' is not a finding id",
        "action 'ignore' is not one of: dismiss, confirm (line 12)",
        "the reason is empty (line 14)",
        "until '30/06/2026' is not a date: use YYYY-MM-DD",
        "key 'by' appears twice (first on line 17) (line 21)",
        "decision 4 must be a mapping of keys, not text (line 22)",
    ]:
        assert text in msg, text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 2\ndecisions: []\n", "'version' must be 1, got '2' (line 1)"),
        ("decisions: []\n", "the key 'version' is missing (line 1)"),
        ("version: 1\ndecisions: {a: 1}\n", "'decisions' must be a list, not a mapping (line 2)"),
        ("version: 1\ndecisions: [\n", "not valid YAML"),
        ("", "the reviews file is empty"),
        ("- a\n- b\n", "must be a mapping with keys version and decisions, not a list (line 1)"),
    ],
)
def test_load_rejects_bad_structure(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "reviews.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_yaml(p)
    assert str(exc.value).startswith(str(p))
    assert fragment in str(exc.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the reviews file does not exist"):
        load_yaml(tmp_path / "nope.yaml")


# ------------------------------------------------------------------ applying
def test_apply_decisions_classifies() -> None:
    today = date(2026, 3, 20)
    decisions = [
        dec("lenient_labeler:dismissed", "dismiss", 0),
        dec("tilted_slice:lab1:category=coding", "dismiss", 1),
        dec("tilted_slice:lab1:category=coding", "confirm", 2),  # latest wins: confirmed
        dec("severe_labeler:expired", "dismiss", 3, until="2026-03-19"),
        dec("labeler_drift:today", "dismiss", 4, until="2026-03-20"),  # through today: applies
        dec("lenient_labeler:gone", "dismiss", 5),  # no such finding: stale
        dec("lenient_labeler:gone-expired", "dismiss", 6, until="2026-01-01"),  # ignored
        dec("severe_labeler:revived", "dismiss", 7),
        dec("severe_labeler:revived", "confirm", 8, until="2026-03-01"),  # latest expired
    ]
    findings = [
        "lenient_labeler:dismissed",
        "tilted_slice:lab1:category=coding",
        "severe_labeler:expired",
        "labeler_drift:today",
        "severe_labeler:revived",
        "low_agreement:overall",  # no decision
    ]
    out = apply_decisions(findings, decisions, today)
    assert list(out.dismissed) == ["labeler_drift:today", "lenient_labeler:dismissed"]
    assert list(out.confirmed) == ["tilted_slice:lab1:category=coding"]
    assert [d.finding_id for d in out.expired] == [
        "severe_labeler:expired",
        "severe_labeler:revived",
    ]
    assert out.expired[1].action == "confirm"
    assert [d.finding_id for d in out.stale] == ["lenient_labeler:gone"]
    # the verdict part: who and why, never when; identical whatever the input order
    d = out.to_dict()
    assert d["dismissed"][1] == {
        "finding_id": "lenient_labeler:dismissed",
        "action": "dismiss",
        "by": "alice",
        "reason": "reason for lenient_labeler:dismissed",
        "until": None,
    }
    assert "recorded_at" not in json.dumps(d)
    shuffled = decisions[:]
    random.Random(3).shuffle(shuffled)
    assert json.dumps(apply_decisions(findings[::-1], shuffled, today).to_dict()) == json.dumps(d)
    # later on, the decision made "through today" has expired too
    later = apply_decisions(findings, decisions, today + timedelta(days=1))
    assert "labeler_drift:today" in [x.finding_id for x in later.expired]


# ------------------------------------------------------------------ CLI
def test_cli_round_trip(run_cli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    until = (utc_today() + timedelta(days=30)).isoformat()
    r = run_cli(
        "review", "dismiss", "lenient_labeler:lab017", "--by", "alice", "--reason",
        "gold set updated", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "dismissed lenient_labeler:lab017 (by alice)" in r.out
    r = run_cli(
        "review", "confirm", "lenient_labeler:lab017", "--by", "bob", "--reason",
        "re-checked 30 labels", "--until", until, "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert f"confirmed lenient_labeler:lab017 (by bob, until {until})" in r.out
    r = run_cli(
        "review", "dismiss", "tilted_slice:lab017:failure_mode=hallucination", "--by", "carol",
        "--reason", "known issue", "--home", home,
    )  # fmt: skip
    assert r.code == 0, r.err
    # an expired decision recorded through the API is marked in the list
    with ReviewStore(home / REVIEWS_DB) as store:
        store.record(dec("severe_labeler:lab002", until="2020-01-01"))
        stored = store.all()

    r = run_cli("review", "list", "--home", home)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "FINDING", "ID", "ACTION", "STATUS", "BY", "UNTIL", "RECORDED", "AT", "(UTC)", "REASON",
    ]  # fmt: skip
    body = [ln.split()[:5] for ln in lines[1:4]]
    assert body == [
        ["lenient_labeler:lab017", "confirm", "active", "bob", until],
        ["severe_labeler:lab002", "dismiss", "expired", "alice", "2020-01-01"],
        ["tilted_slice:lab017:failure_mode=hallucination", "dismiss", "active", "carol", "-"],
    ]
    assert "3 finding(s) reviewed: 2 active, 1 expired" in r.out

    r = run_cli("review", "list", "--all", "--home", home)
    assert r.code == 0, r.err
    statuses = [ln.split()[:3] for ln in r.out.splitlines()[1:5]]
    assert statuses == [
        ["lenient_labeler:lab017", "dismiss", "superseded"],
        ["lenient_labeler:lab017", "confirm", "active"],
        ["severe_labeler:lab002", "dismiss", "expired"],
        ["tilted_slice:lab017:failure_mode=hallucination", "dismiss", "active"],
    ]
    assert "4 decision(s) in total" in r.out

    out = tmp_path / "repo" / "reviews.yaml"
    r = run_cli("review", "export", out, "--home", home)
    assert r.code == 0, r.err
    assert f"wrote 4 decision(s) on 3 finding(s) to {out}" in r.out
    assert sorted(load_yaml(out), key=lambda d: d.recorded_at) == stored
    assert decisions_for_gate(reviews=out) == load_yaml(out)
    assert sorted(decisions_for_gate(home=home), key=lambda d: d.recorded_at) == stored


def test_cli_uses_evalaudit_home(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "envhome"))
    monkeypatch.chdir(tmp_path)
    r = run_cli("review", "dismiss", "low_agreement:overall", "--by", "a", "--reason", "b")
    assert r.code == 0, r.err
    assert (tmp_path / "envhome" / REVIEWS_DB).is_file()
    assert not (tmp_path / ".evalaudit").exists()
    monkeypatch.delenv("EVALAUDIT_HOME")
    r = run_cli("review", "list")
    assert r.code == 0 and "no review decisions (no store at .evalaudit/reviews.db)" in r.out
    assert not (tmp_path / ".evalaudit").exists()  # listing creates nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dismiss", "nonsense"], "Invalid value for 'FINDING_ID': 'nonsense' is not a finding id"),
        (["dismiss", "foo:bar"], "unknown finding kind 'foo'"),
        (["dismiss", "lenient_labeler:x", "--reason", " "], "Invalid value for '--reason'"),
        (["confirm", "lenient_labeler:x", "--by", ""], "the reviewer name (by) is empty"),
        (["dismiss", "lenient_labeler:x", "--until", "2026-02-30"], "is not a calendar date"),
        (["dismiss", "lenient_labeler:x", "--until", "tomorrow"], "use YYYY-MM-DD"),
        (["dismiss", "lenient_labeler:x", "--until", "2020-01-01"], "is in the past"),
    ],
)
def test_cli_bad_input_exits_2(run_cli, tmp_path: Path, args: list[str], message: str) -> None:
    defaults = {"--by": "alice", "--reason": "checked"}
    for k, v in defaults.items():
        if k not in args:
            args = [*args, k, v]
    r = run_cli("review", *args, "--home", tmp_path)
    assert r.code == 2
    assert message in r.err
    assert not (tmp_path / REVIEWS_DB).exists()  # nothing recorded


def test_cli_missing_or_broken_store_exits_2(run_cli, tmp_path: Path) -> None:
    r = run_cli("review", "export", tmp_path / "r.yaml", "--home", tmp_path / "none")
    assert r.code == 2
    assert "no review store at" in r.err
    assert not (tmp_path / "r.yaml").exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / REVIEWS_DB).write_bytes(b"garbage" * 1000)
    r = run_cli("review", "dismiss", "lenient_labeler:x", "--by", "a", "--reason", "b",
                "--home", tmp_path / "bad")  # fmt: skip
    assert r.code == 2
    assert "cannot open the review store" in r.err


# ------------------------------------------------------------------ concurrency and crashes
WRITER = r"""
import sys, time
from evalaudit.reviews import Decision, ReviewStore
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with ReviewStore(path) as store:  # all writers open a new store at once (schema race)
    print("ready", flush=True)
    sys.stdin.readline()  # start barrier
    print(time.time(), flush=True)
    for i in range(n):
        store.record(Decision.create(
            f"lenient_labeler:{tag}-{i:04d}", "confirm" if i % 3 else "dismiss",
            f"writer {tag}", f"decision {i} of writer {tag}"))
print(time.time(), flush=True)
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "home" / REVIEWS_DB
    writers, per_writer = 4, 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), f"w{k}", str(per_writer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(writers)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line == "ready\n", (line, p.stderr.read() if p.stderr else "")
        for p in procs:  # release them together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    spans = []
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert err == ""
        start, end = (float(x) for x in out.split())
        spans.append((start, end))
    # all writers were writing at the same moment (SQLite serialises the commits themselves)
    assert max(s for s, _ in spans) < min(e for _, e in spans)

    with ReviewStore(db) as store:
        assert store.integrity_check() == "ok"
        rows = store.all()
    assert len(rows) == writers * per_writer
    ids = [d.finding_id for d in rows]
    expected = {f"lenient_labeler:w{k}-{i:04d}" for k in range(writers) for i in range(per_writer)}
    assert set(ids) == expected and len(set(ids)) == len(ids)
    # each writer's decisions are in its own order; recorded_at increases with insertion
    for k in range(writers):
        mine = [x for x in ids if x.startswith(f"lenient_labeler:w{k}-")]
        assert mine == sorted(mine)
    stamps = [d.recorded_at for d in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


KILLED = r"""
import sys
from evalaudit.reviews import Decision, ReviewStore
path, tag = sys.argv[1], sys.argv[2]
padding = " lorem ipsum" * 400  # ~5 kB per decision: more pages per commit, more to tear
with ReviewStore(path) as store:
    i = 0
    while True:
        d = store.record(Decision.create(
            f"tilted_slice:{tag}:n={i}", "dismiss", "killer", f"decision {i}{padding}"))
        print(d.finding_id, flush=True)  # printed only after the commit returned
        i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_keeps_every_committed_decision(tmp_path: Path) -> None:
    db = tmp_path / REVIEWS_DB
    committed: set[str] = set()
    for run, (after, delay) in enumerate([(50, 0.0), (83, 0.0007), (121, 0.003)]):
        tag = f"run{run}"
        p = subprocess.Popen(
            [sys.executable, "-c", KILLED, str(db), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        printed: list[str] = []
        try:
            assert p.stdout is not None
            while len(printed) < after:
                line = p.stdout.readline()
                assert line, p.stderr.read() if p.stderr else "writer died"
                printed.append(line.rstrip("\n"))
            time.sleep(delay)
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
            rest = p.stdout.read()  # printed (so committed) before the kill
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == -signal.SIGKILL
        printed += [ln for ln in rest.split("\n")[:-1]]  # a torn last line is dropped
        committed.update(printed)

        with ReviewStore(db) as store:  # opens (recovers the WAL) and reads
            assert store.integrity_check() == "ok"
            stored = [d.finding_id for d in store.all()]
            assert committed <= set(stored), sorted(committed - set(stored))[:5]
            mine = [x for x in stored if x.startswith(f"tilted_slice:{tag}:")]
            # at most one decision committed whose id the writer had no time to print
            assert len(printed) <= len(mine) <= len(printed) + 1
            store.record(dec(f"lenient_labeler:after-{tag}"))  # and it is writable again
            committed.add(f"lenient_labeler:after-{tag}")
