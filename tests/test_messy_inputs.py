"""Messy files audit to the figures of the clean file, every row used, and say what was done:
compressed (by extension and by magic bytes), other delimiters, label spellings in other case
or whitespace. Blank rows can be set aside (counted); the fix hints are the right ones."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import HEADER, SAMPLE, good_rows, write

CSV = SAMPLE / "labels.csv"


def _same_figures(run_cli, path: Path, reference: dict, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "a.json"
    r = run_cli("audit", path, "-q", "--json", out, *extra)
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    ref = {x["labeler_id"]: x["leniency"] for x in reference["labelers"]}
    got = {x["labeler_id"]: x["leniency"] for x in d["labelers"]}
    assert set(ref) == set(got)
    assert max(abs(ref[k] - got[k]) for k in ref) <= 1e-9
    assert abs(d["headline"]["score"] - reference["headline"]["score"]) <= 1e-9
    assert d["verdict"] == reference["verdict"]
    assert d["input"]["rows_used"] == d["input"]["rows_read"] == 7800
    assert d["input"]["rows_rejected"] == {}
    return r.out + "\n".join(d["notes"])


def _compress(kind: str, data: bytes) -> bytes:
    if kind == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[kind](data)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_compressed_by_extension(run_cli, tmp_path, reference, kind):
    p = write(tmp_path / f"labels.csv.{kind}", _compress(kind, CSV.read_bytes()))
    said = _same_figures(run_cli, p, reference, tmp_path)
    assert "decompressed" in said


def test_compressed_by_magic_bytes(run_cli, tmp_path, reference):
    # the issue's case: a gzip file read with --format csv once gave a wrong iconv hint
    p = write(tmp_path / "labels.csv", gzip.compress(CSV.read_bytes()))
    said = _same_figures(run_cli, p, reference, tmp_path, "--format", "csv")
    assert "recognised by its magic bytes" in said
    parquet = write(
        tmp_path / "l.parquet.gz", gzip.compress((SAMPLE / "labels.parquet").read_bytes())
    )
    _same_figures(run_cli, parquet, reference, tmp_path)


def test_named_gz_but_not_gzip(run_cli, tmp_path):
    p = write(tmp_path / "labels.csv.gz", CSV.read_bytes()[:2000])
    r = run_cli("audit", p, "-q")
    assert r.code == 2 and "is named .gz but is not gzip data" in r.err and str(p) in r.err


@pytest.mark.parametrize("sep,shown", [(";", "';'"), ("|", "'|'"), ("\t", "tab")])
def test_delimiter_is_sniffed(run_cli, tmp_path, reference, sep, shown):
    df = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    p = tmp_path / "labels.csv"
    df.to_csv(p, sep=sep, index=False)
    said = _same_figures(run_cli, p, reference, tmp_path)
    assert f"delimiter {shown}" in said


def test_wrong_delimiter_gives_the_right_fix(run_cli, tmp_path):
    df = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    p = tmp_path / "labels.csv"
    df.to_csv(p, sep=";", index=False)
    r = run_cli("audit", p, "-q", "--delimiter", ",")
    assert r.code == 2
    assert "--delimiter ';'" in r.err
    assert "YOUR_COLUMN" not in r.err  # the old, wrong fix
    ok = run_cli("validate", p, "--delimiter", ";")
    assert ok.code == 0, ok.err


def test_respelled_labels_are_unified_and_said(run_cli, tmp_path, reference):
    df = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    rng = random.Random(14)
    spell = [
        str.upper,
        str.capitalize,
        lambda v: f" {v}",
        lambda v: f"{v} ",
        lambda v: f" {v.upper()} ",
    ]
    chosen = [rng.random() < 0.3 for _ in range(len(df))]
    df["label"] = [
        rng.choice(spell)(v) if c else v for v, c in zip(df["label"], chosen, strict=True)
    ]
    n = sum(chosen)
    p = tmp_path / "labels.csv"
    df.to_csv(p, index=False)
    said = _same_figures(run_cli, p, reference, tmp_path)
    assert "labels normalised:" in said and f"on {n:,} row(s)" in said
    assert "-> 'pass'" in said and "-> 'fail'" in said
    r = run_cli("audit", p, "-q", "--labels-exact")
    assert r.code == 2 and "[label_spelling]" in r.err and "drop --labels-exact" in r.err


def test_issue_spellings_keep_plain_pass(run_cli, tmp_path):
    rows = good_rows(60).replace(",pass,", ",PASS,", 5).replace(",fail,", ",fail ,", 3)
    rows = rows.replace(",pass,", ",Pass ,", 4).replace(",pass,", ", pass,", 6)
    p = write(tmp_path / "labels.csv", HEADER + rows)
    r = run_cli("validate", p)
    assert r.code == 0, r.err
    assert "values fail, pass" in r.out and "'PASS'" in r.out and "-> 'pass'" in r.out


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_one_number_written_two_ways_is_one_label(run_cli, tmp_path, engine):
    """A 1-5 scale with some rows written '3.0' (concatenated exports): the old code read ten
    ordinal levels 1<1.0<2<2.0<...<5<5.0, moving the headline and counting 3 vs 3.0 as a
    disagreement. The spellings are unified and said, like 'PASS' / 'pass'."""
    rows = "".join(
        f"q{i // 2},w{i % 2},{1 + (i * 7) % 5}{'.0' if i % 3 == 0 else ''}\n" for i in range(60)
    )
    p = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    plain = write(tmp_path / "plain.csv", "item_id,labeler_id,label\n" + rows.replace(".0", ""))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    r = run_cli("audit", p, "-q", "--engine", engine, "--json", a)
    assert r.code == 0, r.err
    assert "values 1<2<3<4<5" in r.out and "'3.0' -> '3'" in r.out
    assert run_cli("audit", plain, "-q", "--engine", engine, "--json", b).code == 0
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da["headline"]["score"] == db["headline"]["score"]
    assert da["agreement"]["alpha"] == db["agreement"]["alpha"]
    r = run_cli("audit", p, "-q", "--engine", engine, "--labels-exact")
    assert r.code == 2 and "[label_spelling]" in r.err and "number format" in r.err


def test_blank_rows_stop_or_are_set_aside(run_cli, tmp_path):
    lines = good_rows(80).splitlines()
    lines[3] = ",w1,pass,2026-03-04T10:00:00Z"
    lines[7] = "q3,,fail,2026-03-08T10:00:00Z"
    lines[9] = "q4,w2,,2026-03-10T10:00:00Z"
    lines[11] = "q5,w1,  ,2026-03-12T10:00:00Z"
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(lines) + "\n")
    r = run_cli("audit", p, "-q")
    assert r.code == 2 and "--skip-invalid" in r.err  # the default still stops, naming the fix
    out = tmp_path / "a.json"
    r = run_cli("audit", p, "-q", "--skip-invalid", "--json", out)
    assert r.code == 0, r.err
    inp = json.loads(out.read_text())["input"]
    assert inp["rows_rejected"] == {"blank_item_id": 1, "blank_labeler_id": 1, "blank_label": 2}
    assert inp["rows_read"] == 80 and inp["rows_used"] == 76
    assert "--skip-invalid: 4 row(s) set aside" in r.out and "blank label 2" in r.out


def test_duplicate_with_blank_labeler_is_not_garbled(run_cli, tmp_path):
    text = (
        HEADER
        + good_rows(40)
        + "it10,,pass,2026-03-01T10:00:00Z\nit10,,fail,2026-03-02T10:00:00Z\n"
    )
    p = write(tmp_path / "labels.csv", text)
    r = run_cli("validate", p)
    assert r.code == 2
    assert "item it10, labeler (blank): pass/fail on rows 42,43" in r.err
    assert "<NA>" not in r.err


def test_encoding_hints_name_what_the_file_is(run_cli, tmp_path):
    latin = write(
        tmp_path / "latin.csv", (HEADER + "q1,w\xe9,pass,2026-03-01T10:00:00Z\n").encode("latin1")
    )
    r = run_cli("validate", latin)
    assert r.code == 2 and "iconv -f latin1 -t utf-8 latin.csv" in r.err
    zipped = write(tmp_path / "labels.csv", b"PK\x03\x04" + bytes(range(200, 256)) * 4)
    r = run_cli("validate", zipped)
    assert r.code == 2 and "ZIP archive" in r.err and "iconv" not in r.err
    utf16 = write(tmp_path / "u16.csv", (HEADER + good_rows(20)).encode("utf-16"))
    r = run_cli("validate", utf16)
    assert r.code == 0 and "UTF-16" in r.out
