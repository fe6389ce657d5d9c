"""Bad input: each case exits 2, names the file, the column or row, and the problem in plain
words, prints no traceback and writes no output file. Good input is counted row by row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import HEADER, good_rows, write


def _bad(run_cli, path: Path, tmp_path: Path, *extra: str):
    out = tmp_path / "out.json"
    md = tmp_path / "out.md"
    r = run_cli("audit", path, "--json", out, "--markdown", md, "-q", *extra)
    assert r.code == 2, r.err
    assert "Traceback" not in r.err + r.out
    assert str(path) in r.err
    assert not out.exists() and not md.exists(), "no output may be written on bad input"
    assert not list(tmp_path.glob(".out.*")), "no temporary file may be left behind"
    return r.err


def test_missing_required_column(run_cli, tmp_path):
    p = write(tmp_path / "labels.csv", "item_id,worker,label\nq1,a,pass\n")
    err = _bad(run_cli, p, tmp_path)
    assert "required column 'labeler_id' is missing" in err
    assert "--column labeler_id=worker" in err  # the fix names their column


def test_unknown_label_value_names_line(run_cli, tmp_path):
    body = good_rows(200)
    lines = body.splitlines()
    lines[36] = lines[36].replace(",pass,", ",maybe,").replace(",fail,", ",maybe,")
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(lines) + "\n")
    err = _bad(run_cli, p, tmp_path)
    assert "unknown label value" in err
    assert "column 'label'" in err
    assert "line 38" in err  # header is line 1, data row 37 is line 38
    assert "'maybe'" in err


def test_unparseable_timestamp(run_cli, tmp_path):
    body = good_rows(40).replace("2026-03-05T10:00:00Z", "yesterday afternoon", 1)
    p = write(tmp_path / "labels.csv", HEADER + body)
    err = _bad(run_cli, p, tmp_path)
    assert "timestamp cannot be parsed" in err
    assert "column 'timestamp'" in err and "line 6" in err


def test_empty_file(run_cli, tmp_path):
    err = _bad(run_cli, write(tmp_path / "labels.csv", b""), tmp_path)
    assert "empty" in err


def test_header_only(run_cli, tmp_path):
    err = _bad(run_cli, write(tmp_path / "labels.csv", HEADER), tmp_path)
    assert "no data rows" in err


def test_not_utf8(run_cli, tmp_path):
    data = (HEADER + good_rows(10)).encode() + "q99,w1,pass,2026-03-01T10:00:00Z,caf\xe9\n".encode(
        "latin-1"
    )
    err = _bad(run_cli, write(tmp_path / "labels.csv", data), tmp_path)
    assert "not UTF-8" in err and "line 12" in err


def test_conflicting_duplicates_error_and_keep_last(run_cli, tmp_path):
    body = good_rows(40) + "q0,w1,fail,2026-03-28T10:00:00Z\n"  # q0/w1 said pass on line 3
    first = good_rows(40).splitlines()[1]
    assert first.startswith("q0,w1,pass")
    p = write(tmp_path / "labels.csv", HEADER + body)
    err = _bad(run_cli, p, tmp_path)
    assert "duplicate" in err and "line" in err and "item q0, labeler w1" in err
    out = tmp_path / "a.json"
    r = run_cli("audit", p, "--duplicates", "keep-last", "--json", out, "-q")
    assert r.code == 0, r.err
    inp = json.loads(out.read_text())["input"]
    assert inp["rows_read"] == 41
    assert inp["rows_rejected"] == {"duplicate_superseded": 1}
    assert inp["rows_used"] == 40


def test_identical_duplicates_are_collapsed_and_counted(run_cli, tmp_path):
    body = good_rows(40)
    dup = body.splitlines()[4]
    p = write(tmp_path / "labels.csv", HEADER + body + dup + "\n" + dup + "\n")
    out = tmp_path / "a.json"
    r = run_cli("audit", p, "--json", out, "-q")
    assert r.code == 0, r.err
    inp = json.loads(out.read_text())["input"]
    assert (inp["rows_read"], inp["rows_used"]) == (42, 40)
    assert inp["rows_rejected"] == {"identical_duplicate": 2}
    assert "not used 2 (identical duplicate 2)" in r.out


def test_parquet_that_is_not_parquet(run_cli, tmp_path):
    p = write(tmp_path / "labels.parquet", HEADER + good_rows(10))
    err = _bad(run_cli, p, tmp_path)
    assert "not a Parquet file" in err


def test_truncated_parquet(run_cli, tmp_path):
    src = tmp_path / "ok.parquet"
    pd.read_csv(pd.io.common.StringIO(HEADER + good_rows(40)), dtype=str).to_parquet(src)
    data = src.read_bytes()
    p = write(tmp_path / "labels.parquet", data[: len(data) // 2])
    err = _bad(run_cli, p, tmp_path)
    assert "Parquet" in err


def test_empty_ids_name_rows(run_cli, tmp_path):
    body = good_rows(40).splitlines()
    body[2] = "," + body[2].split(",", 1)[1]
    body[5] = body[5].split(",")[0] + ",," + ",".join(body[5].split(",")[2:])
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(body) + "\n")
    err = _bad(run_cli, p, tmp_path)
    assert "'item_id' is empty (line 4)" in err
    assert "'labeler_id' is empty (line 7)" in err


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_whitespace_only_ids_and_labels_are_empty(run_cli, tmp_path, engine):
    """'  ' as item_id, labeler_id or label is blank, as --skip-invalid and the SQL ingest read
    it. The in-memory ingest took it for a value: an item '  ', a labeler '  ', and a third
    label value that turned a pass/fail file into a nominal one (exit 0, nothing said)."""
    body = good_rows(40).splitlines()
    body[2] = "  ," + body[2].split(",", 1)[1]  # line 4: blank item
    parts = body[5].split(",")
    body[5] = ",".join([parts[0], " ", *parts[2:]])  # line 7: blank labeler
    parts = body[8].split(",")
    body[8] = ",".join([parts[0], parts[1], "   ", *parts[3:]])  # line 10: blank label
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(body) + "\n")
    r = run_cli("audit", p, "-q", "--engine", engine)
    assert r.code == 2, r.out
    assert "'item_id' is empty (line 4)" in r.err
    assert "'labeler_id' is empty (line 7)" in r.err
    assert "'label' is empty (line 10)" in r.err
    r = run_cli("audit", p, "-q", "--engine", engine, "--skip-invalid")
    assert r.code == 0, r.err
    assert "not used 3 (blank item id 1, blank label 1, blank labeler id 1)" in r.out
    assert "Labels: binary" in r.out


def test_all_problems_reported_at_once(run_cli, tmp_path):
    lines = good_rows(200).splitlines()
    lines[3] = lines[3].replace("2026-03", "03/2026/")
    lines[8] = lines[8].replace(",pass,", ",PASSS,").replace(",fail,", ",PASSS,")
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(lines) + "\n")
    err = _bad(run_cli, p, tmp_path)
    assert "2 problem(s)" in err
    assert "timestamp_parse" in err and "label_value" in err


def test_many_bad_rows_are_capped_not_dumped(run_cli, tmp_path):
    lines = good_rows(400).splitlines()
    lines = [ln.replace("T10:00:00Z", "x") if i % 2 else ln for i, ln in enumerate(lines)]
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(lines) + "\n")
    err = _bad(run_cli, p, tmp_path)
    assert "200 rows" in err and "and 195 more" in err
    assert len(err.splitlines()) < 15


def test_jsonl_bad_line(run_cli, tmp_path):
    rows = [
        json.dumps({"item_id": f"q{i // 2}", "labeler_id": f"w{i % 2}", "label": "pass"})
        for i in range(10)
    ]
    rows[6] = '{"item_id": "q3", "labeler_id": '
    p = write(tmp_path / "labels.jsonl", "\n".join(rows) + "\n")
    err = _bad(run_cli, p, tmp_path)
    assert "not valid JSON" in err and "line 7" in err


def test_column_mapping(run_cli, tmp_path):
    p = write(
        tmp_path / "labels.csv",
        "question_id,worker,verdict,timestamp\n" + good_rows(40),
    )
    r = run_cli(
        "validate",
        p,
        "--column",
        "item_id=question_id",
        "--column",
        "labeler_id=worker",
        "--column",
        "label=verdict",
    )
    assert r.code == 0, r.err
    assert "Rows read 40, usable 40" in r.out
    r = run_cli("validate", p, "--column", "item_id=nope")
    assert r.code == 2 and "no column 'nope'" in r.err and "question_id" in r.err


def test_missing_column_suggests_the_same_name_spelled_otherwise(run_cli, tmp_path):
    # 'Item ID' and 'Label' are the required columns in another case / with a space: the fix
    # names them (the old code suggested only aliases and said YOUR_COLUMN for these two)
    rows = "".join(f"q{i // 2},w{i % 2},{'pass' if i % 3 else 'fail'}\n" for i in range(30))
    p = write(tmp_path / "labels.csv", "Item ID,Labeler,Label\n" + rows)
    r = run_cli("validate", p)
    assert r.code == 2
    assert "--column 'item_id=Item ID'" in r.err
    assert "--column labeler_id=Labeler" in r.err
    assert "--column label=Label" in r.err
    assert "YOUR_COLUMN" not in r.err
    r = run_cli(
        "validate",
        p,
        "--column",
        "item_id=Item ID",
        "--column",
        "labeler_id=Labeler",
        "--column",
        "label=Label",
    )
    assert r.code == 0, r.err


def test_side_tables_join_and_duplicate_key(run_cli, tmp_path):
    labels = write(tmp_path / "labels.csv", HEADER + good_rows(40))
    items = write(
        tmp_path / "items.csv",
        "item_id,category\n" + "".join(f"q{i},{'math' if i % 2 else 'code'}\n" for i in range(20)),
    )
    labelers = write(
        tmp_path / "labelers.csv", "labeler_id,vendor\nw0,bolt\nw1,acme\nw2,bolt\nw3,acme\n"
    )
    out = tmp_path / "a.json"
    r = run_cli("audit", labels, "--items", items, "--labelers", labelers, "--json", out, "-q")
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    assert d["input"]["slice_columns"] == ["category"]
    assert {v["slice_value"] for v in d["agreement"]["per_vendor"]} == {"acme", "bolt"}
    bad_items = write(tmp_path / "items2.csv", "item_id,category\nq1,math\nq1,code\n")
    r = run_cli("audit", labels, "--items", bad_items, "-q")
    assert r.code == 2 and "items2.csv" in r.err and "same 'item_id' on several rows" in r.err
    assert "lines 2, 3" in r.err


def test_explicit_slice_must_be_item_attribute(run_cli, tmp_path):
    lines = good_rows(40).splitlines()
    rows = [ln + ("," + ("a" if i % 2 else "b")) for i, ln in enumerate(lines)]
    p = write(tmp_path / "labels.csv", HEADER.strip() + ",mood\n" + "\n".join(rows) + "\n")
    r = run_cli("validate", p, "--slice", "mood")
    assert r.code == 2 and "different values on the same item" in r.err
    r = run_cli("validate", p)  # auto-detection skips it and says so
    assert r.code == 0 and "mood (varies within items)" in r.out


def test_several_versions_need_a_choice(run_cli, tmp_path):
    lines = good_rows(40).splitlines()
    rows = [ln + ("," + ("v1" if i < 20 else "v2")) for i, ln in enumerate(lines)]
    p = write(tmp_path / "labels.csv", HEADER.strip() + ",version\n" + "\n".join(rows) + "\n")
    r = run_cli("validate", p)
    assert r.code == 2 and "2 eval-set versions" in r.err and "--version" in r.err
    r = run_cli("validate", p, "--version", "v2")
    assert r.code == 0 and "not used 20 (other_version 20)" in r.out


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["pass", "fail"], "binary"),
        (["Yes", "No"], "binary"),
        (["0", "1"], "binary"),
        (["1", "2", "3", "5"], "ordinal"),
        (["0.5", "1.25", "3.75"], "interval"),
        (["cat", "dog", "bird"], "nominal"),
    ],
)
def test_label_kind_detection_is_printed(run_cli, tmp_path, values, kind):
    rows = "".join(f"q{i // 2},w{i % 2},{values[i % len(values)]}\n" for i in range(30))
    p = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    r = run_cli("validate", p)
    assert r.code == 0, r.err
    assert f"Labels: {kind} (auto-detected" in r.out
    # an interval scale lists no values: no dangling ';' after the reason
    line = r.out.split("Labels: ", 1)[1].splitlines()[0]
    assert not line.rstrip().endswith(";"), line


def test_label_kind_override_and_order(run_cli, tmp_path):
    rows = "".join(f"q{i // 2},w{i % 2},{'abc'[i % 3]}\n" for i in range(30))
    p = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    r = run_cli("validate", p, "--order", "c,b,a")
    assert r.code == 0 and "ordinal (declared" in r.out and "c<b<a" in r.out
    r = run_cli("validate", p, "--order", "c,b")
    assert r.code == 2 and "unknown label value" in r.err


def test_ordinal_with_decimals_is_not_called_not_numbers(run_cli, tmp_path):
    # 0-1 scores read as ordinal: the old message said "labels that are not numbers"
    rows = "".join(f"q{i // 2},w{i % 2},{(i % 7) / 8}\n" for i in range(30))
    p = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    r = run_cli("validate", p, "--label-kind", "ordinal")
    assert r.code == 2
    assert "not numbers" not in r.err
    assert "ordinal labels with decimals (0.0, 0.125, 0.25, ...) need --order" in r.err
    assert "--label-kind interval" in r.err


def test_usage_error_exits_2(run_cli, tmp_path):
    assert run_cli("audit").code == 2
    assert run_cli("audit", tmp_path / "nope.csv", "-q").code == 2
    assert run_cli("frobnicate").code == 2
    assert run_cli("--help").code == 0
