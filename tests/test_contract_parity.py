"""The two executors of the declared contract agree.

``build_suite`` (great-expectations) is the declared contract; large inputs are
checked by ``_validate_fast``, a vectorized executor of the same
``contract_checks``. On every bad input below both must report the same
problems: check, column, count, first rows, message, hint and examples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalaudit.contract import InputError, LabelKind
from evalaudit.validate import (
    CONTRACT_ENV,
    GX_MAX_ROWS,
    IngestOptions,
    contract_engine,
    ingest,
)
from tests.conftest import HEADER, good_rows, write


def _lines(n: int = 60) -> list[str]:
    return good_rows(n).splitlines()


def _with(lines: list[str], edits: dict[int, str]) -> list[str]:
    out = list(lines)
    for i, line in edits.items():
        out[i] = line
    return out


def _case_missing_ids() -> tuple[str, str, IngestOptions]:
    lines = _with(
        _lines(),
        {
            3: ",w1,pass,2026-03-04T10:00:00Z",
            7: "q3,,fail,2026-03-08T10:00:00Z",
            11: ",,pass,2026-03-12T10:00:00Z",
            12: ",,fail,2026-03-13T10:00:00Z",
            20: "q10,w2,,2026-03-21T10:00:00Z",
        },
    )
    return "missing_ids.csv", HEADER + "\n".join(lines) + "\n", IngestOptions()


def _case_unknown_labels() -> tuple[str, str, IngestOptions]:
    lines = _lines()
    for i in (5, 9, 30, 31, 32, 33, 40, 41):
        item, lab, _, ts = lines[i].split(",")
        lines[i] = ",".join([item, lab, "maybe" if i % 2 else "unsure", ts])
    return (
        "unknown_labels.csv",
        HEADER + "\n".join(lines) + "\n",
        IngestOptions(labels=("fail", "pass")),
    )


def _case_bad_timestamps() -> tuple[str, str, IngestOptions]:
    lines = _lines()
    for i, bad in ((2, "yesterday"), (8, "2026-13-45"), (15, "soon"), (16, "")):
        item, lab, label, _ = lines[i].split(",")
        lines[i] = ",".join([item, lab, label, bad])
    return "bad_timestamps.csv", HEADER + "\n".join(lines) + "\n", IngestOptions()


def _case_conflicting_duplicates() -> tuple[str, str, IngestOptions]:
    lines = _lines()
    lines += [
        "q1,w1,fail,2026-04-01T10:00:00Z",  # q1/w1 may or may not exist: both executors see it
        lines[4].replace(",pass,", ",X,").replace(",fail,", ",pass,").replace(",X,", ",fail,"),
        lines[10].replace(",pass,", ",X,").replace(",fail,", ",pass,").replace(",X,", ",fail,"),
        lines[10],  # identical to an original: collapsed, the conflict stays
        ",,pass,2026-04-02T10:00:00Z",
        ",,pass,2026-04-03T10:00:00Z",
        ",w1,pass,2026-04-04T10:00:00Z",  # one key missing: still a key
        ",w1,fail,2026-04-05T10:00:00Z",
        "q2,,pass,2026-04-06T10:00:00Z",
    ]
    return "duplicates.csv", HEADER + "\n".join(lines) + "\n", IngestOptions()


def _case_interval_non_numbers() -> tuple[str, str, IngestOptions]:
    rows = []
    for i in range(60):
        value = f"{(i * 37) % 10}.5"
        if i in (4, 17, 18):
            value = "n/a"
        if i == 25:
            value = "inf"
        if i == 26:
            value = ""
        rows.append(f"q{i // 2},w{i % 3},{value},2026-03-{i % 28 + 1:02d}T10:00:00Z")
    return (
        "interval.csv",
        HEADER + "\n".join(rows) + "\n",
        IngestOptions(label_kind=LabelKind.INTERVAL),
    )


def _case_gold_out_of_scale() -> tuple[str, str, IngestOptions]:
    rows = []
    for i, line in enumerate(_lines()):
        gold = "pass" if i % 3 else "fail"
        if i in (6, 7, 22):
            gold = "dunno"
        if i == 40:
            gold = ""
        rows.append(f"{line},{gold}")
    return (
        "gold.csv",
        "item_id,labeler_id,label,timestamp,gold\n" + "\n".join(rows) + "\n",
        IngestOptions(),
    )


def _case_everything() -> tuple[str, str, IngestOptions]:
    lines = _with(
        _lines(80),
        {
            1: ",w1,pass,2026-03-02T10:00:00Z",
            2: "q1,w0,maybe,not a time",
            50: "q25,w1,pass,2026-02-30T10:00:00Z",
        },
    )
    lines.append(
        lines[5].replace(",pass,", ",X,").replace(",fail,", ",pass,").replace(",X,", ",fail,")
    )
    return (
        "everything.csv",
        HEADER + "\n".join(lines) + "\n",
        IngestOptions(labels=("fail", "pass")),
    )


CASES = {
    "missing_ids": _case_missing_ids,
    "unknown_labels": _case_unknown_labels,
    "bad_timestamps": _case_bad_timestamps,
    "conflicting_duplicates": _case_conflicting_duplicates,
    "interval_non_numbers": _case_interval_non_numbers,
    "gold_out_of_scale": _case_gold_out_of_scale,
    "everything": _case_everything,
}


def _problems(path: Path, opts: IngestOptions, engine: str, monkeypatch) -> list[dict]:
    monkeypatch.setenv(CONTRACT_ENV, engine)
    with pytest.raises(InputError) as exc:
        ingest(str(path), opts)
    return [p.to_dict() for p in exc.value.problems]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_checks_match_the_gx_suite(case, tmp_path, monkeypatch):
    name, text, opts = CASES[case]()
    path = write(tmp_path / name, text)
    gx = _problems(path, opts, "gx", monkeypatch)
    fast = _problems(path, opts, "fast", monkeypatch)
    assert gx, "the case must be bad input"
    assert [p for p in gx if p["severity"] == "error"], "the case must fail a contract check"
    assert fast == gx


def test_engine_choice(monkeypatch):
    monkeypatch.delenv(CONTRACT_ENV, raising=False)
    assert contract_engine(100) == "gx"
    assert contract_engine(GX_MAX_ROWS) == "gx"
    assert contract_engine(GX_MAX_ROWS + 1) == "fast"
    monkeypatch.setenv(CONTRACT_ENV, "gx")
    assert contract_engine(10**8) == "gx"
    monkeypatch.setenv(CONTRACT_ENV, "fast")
    assert contract_engine(10) == "fast"


def test_good_input_passes_both(tmp_path, monkeypatch):
    path = write(tmp_path / "good.csv", HEADER + good_rows(60))
    tables = []
    for engine in ("gx", "fast"):
        monkeypatch.setenv(CONTRACT_ENV, engine)
        tables.append(ingest(str(path)).table.frame)
    assert tables[0].equals(tables[1])
