"""One read path for every file layout: the same rows audit to the same figures whether the
Parquet file has typed or string timestamps, one or many row groups, dictionary-typed or
plain-encoded columns, sorted or shuffled rows; a CSV streamed through Arrow reads exactly as
the careful pandas reader does, and falls back to it for what it cannot read the same way."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import evalaudit.io as eio
from evalaudit import columnar
from tests.conftest import SAMPLE

CSV = SAMPLE / "labels.csv"


def _audit(path: Path, tmp_path: Path) -> dict:
    from evalaudit.cli import main

    out = tmp_path / "a.json"
    assert main(["audit", str(path), "-q", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _but_input(d: dict) -> dict:
    d = copy.deepcopy(d)
    for k in ("path", "sha256", "format"):
        d["input"].pop(k)
    return d


def _sample_table() -> pa.Table:
    return pq.read_table(SAMPLE / "labels.parquet")


def _typed(t: pa.Table, unit: str, tz: str | None) -> pa.Table:
    ts = pc.strptime(t["timestamp"], format="%Y-%m-%dT%H:%M:%SZ", unit=unit)
    if tz:
        ts = ts.cast(pa.timestamp(unit, tz=tz))
    return t.set_column(t.schema.get_field_index("timestamp"), "timestamp", ts)


# the same rows in the same order: the audit JSON is identical but for the file's name and digest
SAME_ORDER = {
    "typed-ms": lambda t, p: pq.write_table(_typed(t, "ms", None), p),
    "typed-us-utc": lambda t, p: pq.write_table(_typed(t, "us", "UTC"), p, row_group_size=1000),
    "one-row-group": lambda t, p: pq.write_table(t, p, row_group_size=len(t)),
    "100-row-groups": lambda t, p: pq.write_table(t, p, row_group_size=78),
    "plain-pages": lambda t, p: pq.write_table(t, p, use_dictionary=False, row_group_size=2000),
    "arrow-dictionaries": lambda t, p: pq.write_table(
        pa.table({c: t[c].dictionary_encode() for c in t.column_names}), p, row_group_size=3000
    ),
}


@pytest.mark.parametrize("layout", sorted(SAME_ORDER))
def test_every_parquet_layout_gives_the_same_audit(reference, tmp_path, layout):
    p = tmp_path / f"{layout}.parquet"
    SAME_ORDER[layout](_sample_table(), p)
    assert _but_input(_audit(p, tmp_path)) == _but_input(reference)


def test_shuffled_and_sorted_rows_give_the_same_figures(reference, tmp_path):
    t = _sample_table()
    ref = {x["labeler_id"]: x["leniency"] for x in reference["labelers"]}
    rng = np.random.default_rng(3)
    for name, table in (
        ("shuffled", t.take(pa.array(rng.permutation(len(t))))),
        ("by-item", t.sort_by("item_id")),
    ):
        p = tmp_path / f"{name}.parquet"
        pq.write_table(_typed(table, "ms", None), p, row_group_size=1000)
        d = _audit(p, tmp_path)
        got = {x["labeler_id"]: x["leniency"] for x in d["labelers"]}
        assert set(got) == set(ref), name
        assert max(abs(got[k] - ref[k]) for k in ref) < 1e-6, name
        assert d["headline"]["score"] == pytest.approx(reference["headline"]["score"], abs=1e-12)
        assert d["input"]["rows_used"] == d["input"]["rows_read"] == 7800
        assert d["verdict"] == reference["verdict"]


def test_typed_timestamps_are_never_rendered_to_text(tmp_path):
    p = tmp_path / "t.parquet"
    pq.write_table(_typed(_sample_table(), "ms", None), p)
    raw = eio.read_table(p)
    assert str(raw.frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert raw.frame["timestamp"].iloc[0] == pd.Timestamp("2026-08-28T11:32:00Z")


def test_typed_numbers_render_as_in_a_csv(tmp_path):
    p = tmp_path / "n.parquet"
    pq.write_table(
        pa.table(
            {
                "item_id": pa.array([1, 2, 3, 4], pa.int64()),
                "labeler_id": ["a", "b", "a", None],
                "label": pa.array([1.0, 0.0, None, 1.0]),
                "flag": [True, False, True, None],
            }
        ),
        p,
    )
    f = eio.read_table(p).frame
    assert f["item_id"].astype(object).tolist() == ["1", "2", "3", "4"]
    assert f["label"].astype(object).where(f["label"].notna(), None).tolist() == [
        "1",
        "0",
        None,
        "1",
    ]
    assert f["flag"].astype(object).where(f["flag"].notna(), None).tolist() == [
        "true",
        "false",
        "true",
        None,
    ]
    assert f["labeler_id"].isna().tolist() == [False, False, False, True]


# ------------------------------------------------------------------ the coder
@pytest.mark.parametrize("seed", range(6))
def test_column_coder_is_pd_factorize(seed):
    """Whatever the batches (dictionaries in any order with unused values, plain, mostly
    distinct, with nulls), the codes are pd.factorize's of the whole column."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    pool = [f"v{i}" for i in range(int(rng.integers(1, 2 * n)))]
    values = [None if rng.random() < 0.05 else pool[int(rng.integers(len(pool)))] for _ in range(n)]
    coder = columnar.ColumnCoder()
    at = 0
    while at < n:
        size = int(rng.integers(1, 500))
        part = pa.array(values[at : at + size], pa.string())
        how = rng.integers(3)
        if how == 0:  # a dictionary whose values are shuffled and padded with unused ones
            extra = pa.array([f"unused{seed}_{at}"], pa.string())
            enc = part.dictionary_encode()
            perm = rng.permutation(len(enc.dictionary))
            dictionary = pa.concat_arrays([enc.dictionary.take(pa.array(perm)), extra])
            inverse = np.argsort(perm)
            idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
            indices = pa.array(
                [
                    None if v is None else int(inverse[i])
                    for v, i in zip(part.to_pylist(), idx, strict=True)
                ],
                pa.int32(),
            )
            part = pa.DictionaryArray.from_arrays(indices, dictionary)
        elif how == 1:  # the whole column's dictionary stored with every batch
            full = pa.array(pool, pa.string())
            pos = {v: i for i, v in enumerate(pool)}
            indices = pa.array(
                [None if v is None else pos[v] for v in part.to_pylist()], pa.int32()
            )
            part = pa.DictionaryArray.from_arrays(indices, full)
        coder.add(part)
        at += size
    codes, uniques = coder.finish()
    expect, expect_uniques = pd.factorize(pd.Series(values, dtype=object))
    assert np.array_equal(codes, expect)
    assert uniques.to_pylist() == list(expect_uniques)


# ------------------------------------------------------------------ CSV: fast and careful
def _careful(monkeypatch, path: Path) -> eio.RawFile:
    with monkeypatch.context() as m:
        m.setattr(eio, "_read_text_fast", lambda *a, **k: None)
        return eio.read_table(path)


def _same_raw(a: eio.RawFile, b: eio.RawFile) -> None:
    assert list(a.frame.columns) == list(b.frame.columns)
    assert a.frame.index.equals(b.frame.index)
    for c in a.frame.columns:
        x = a.frame[c].astype(object).where(a.frame[c].notna(), None).tolist()
        y = b.frame[c].astype(object).where(b.frame[c].notna(), None).tolist()
        assert x == y, c
    assert a.notes == b.notes


def test_csv_fast_path_reads_as_the_careful_one(monkeypatch, tmp_path):
    text = CSV.read_text()
    lines = text.splitlines()
    # blanks, spaces kept as they are, quoted fields, a quoted empty field
    lines[3] = lines[3].replace(",pass,", ", pass ,").replace(",fail,", ", fail ,")
    lines[5] = ",".join(f'"{v}"' for v in lines[5].split(","))
    lines[7] = lines[7].split(",", 1)[0] + ',"",' + lines[7].split(",", 2)[2]
    p = tmp_path / "l.csv"
    p.write_text("\n".join(lines) + "\n")
    fast = eio.read_table(p)
    assert fast.codes, "the fast path was not taken"
    _same_raw(fast, _careful(monkeypatch, p))
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert eio.read_table(crlf).codes
    _same_raw(eio.read_table(crlf), _careful(monkeypatch, crlf))
    bom = tmp_path / "bom.csv.gz"
    bom.write_bytes(gzip.compress(b"\xef\xbb\xbf" + p.read_bytes()))
    got = eio.read_table(bom)
    assert got.codes and any("decompressed gzip" in n for n in got.notes)
    _same_raw(got, _careful(monkeypatch, bom))


def _quote_newline(line: str) -> str:
    parts = line.split(",")
    parts[7] = f'"{parts[7]}\n\nmore"'
    return ",".join(parts)


@pytest.mark.parametrize(
    "why,edit",
    [
        ("quoted newline", lambda ls: ls.__setitem__(4, ls[4].replace("pass", '"pa\nss"', 1))),
        # far from the start: Arrow's chunker may cut inside it
        (
            "late quoted newline",
            lambda ls: ls.__setitem__(7000, _quote_newline(ls[7000])),
        ),
        ("blank line", lambda ls: ls.insert(6, "")),
        ("ragged row", lambda ls: ls.__setitem__(8, ls[8] + ",extra")),
        ("short row", lambda ls: ls.__setitem__(8, ls[8].rsplit(",", 2)[0])),
    ],
)
def test_csv_that_is_not_one_row_per_line_falls_back(monkeypatch, tmp_path, why, edit):
    lines = CSV.read_text().splitlines()
    edit(lines)
    p = tmp_path / "l.csv"
    p.write_text("\n".join(lines) + "\n")
    careful_error = fast_error = None
    try:
        careful = _careful(monkeypatch, p)
    except eio.InputError as exc:
        careful_error = str(exc)
    try:
        fast = eio.read_table(p)
    except eio.InputError as exc:
        fast_error = str(exc)
    assert fast_error == careful_error, why
    if careful_error is None:
        assert not fast.codes, why  # read by the careful reader: it maps rows to lines
        _same_raw(fast, careful)


def test_bad_utf8_deep_in_a_csv_names_its_line(tmp_path):
    lines = CSV.read_bytes().splitlines()
    lines[5000] = lines[5000].replace(b"pass", b"p\xe9ss").replace(b"fail", b"f\xe9il")
    p = tmp_path / "l.csv"
    p.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(eio.InputError) as exc:
        eio.read_table(p)
    assert "not UTF-8" in str(exc.value) and "line 5001" in str(exc.value)


# ------------------------------------------------------------------ JSON Lines
def test_jsonl_fast_path_reads_as_the_careful_one(monkeypatch, tmp_path, reference):
    df = pd.read_csv(CSV, dtype=str, keep_default_na=False)
    df["score"] = [1.0 if i % 3 else 0.5 for i in range(len(df))]  # the column reads "1.0"
    df["whole"] = [float(i % 4) for i in range(len(df))]  # every value whole: reads "1"
    df["n"] = range(len(df))
    df["ok"] = [bool(i % 2) for i in range(len(df))]
    df.loc[3, "vendor"] = None
    p = tmp_path / "l.jsonl"
    df.to_json(p, orient="records", lines=True)
    fast = eio.read_table(p)
    assert fast.codes, "the fast path was not taken"
    assert str(fast.frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    careful = _careful(monkeypatch, p)
    for c in careful.frame.columns:
        if c == "timestamp":
            want = pd.to_datetime(careful.frame[c], utc=True).astype("datetime64[ns, UTC]")
            assert want.equals(fast.frame[c])
            continue
        x = careful.frame[c].astype(object).where(careful.frame[c].notna(), None).tolist()
        y = fast.frame[c].astype(object).where(fast.frame[c].notna(), None).tolist()
        assert x == y, c
    assert fast.frame.index.equals(careful.frame.index)


def test_jsonl_whose_text_arrow_would_lose_falls_back(monkeypatch, tmp_path):
    # a date-like item attribute (Arrow reads it as a time) and a nested value
    lines = [
        json.dumps({"item_id": f"q{i}", "labeler_id": "a", "label": "pass", "day": "2026-03-02"})
        for i in range(5)
    ]
    lines.append(
        json.dumps({"item_id": "q9", "labeler_id": "a", "label": "pass", "meta": {"k": 1}})
    )
    p = tmp_path / "l.jsonl"
    p.write_text("\n".join(lines) + "\n")
    got = eio.read_table(p)
    assert not got.codes  # the careful reader
    assert got.frame["day"].iloc[0] == "2026-03-02"
    _same_raw(got, _careful(monkeypatch, p))


def _with_responses(t: pa.Table) -> pa.Table:
    """The sample plus what an LLM-judge log carries: a free-text response per row and a short
    per-item prompt (repeated on the item's labels)."""
    n = t.num_rows
    resp = [f"response {i}: " + "the model explained its answer at length " * 5 for i in range(n)]
    return t.append_column("response", pa.array(resp)).append_column(
        "prompt_id", pc.binary_join_element_wise("p-", t["item_id"], "")
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_free_text_columns_are_not_held_and_change_nothing(reference, tmp_path, fmt):
    """A free-text column (more than 50 distinct values of 128+ bytes) cannot be a slice:
    the read stops holding it after its first batch, says so in the notes, and the audit is
    the same as without the column; a short id-like extra column is still read."""
    t = _with_responses(_sample_table())
    p = tmp_path / f"wide.{fmt}"
    if fmt == "parquet":
        pq.write_table(t, p, row_group_size=3000)
    elif fmt == "jsonl":
        t.to_pandas().to_json(p, orient="records", lines=True, force_ascii=False)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(t, p)
    raw = eio.read_table(p, keep=frozenset({"item_id", "labeler_id", "label", "timestamp"}))
    assert raw.codes  # the fast reader
    assert "response" not in raw.frame.columns and "prompt_id" in raw.frame.columns
    assert any("not read: column 'response' (free text" in n for n in raw.notes)
    # read without keep (every column): the response is there
    assert "response" in eio.read_table(p).frame.columns
    got = _audit(p, tmp_path)
    assert any("not read: column 'response'" in n for n in got["notes"])
    ref, new = _but_input(reference), _but_input(got)
    ref["notes"] = new["notes"] = None
    assert new == ref


def test_a_free_text_column_the_contract_needs_is_read(tmp_path):
    """The prompt as the item id (a long, mostly distinct text) is kept: it is the item."""
    t = _sample_table()
    prompts = pc.binary_join_element_wise(
        "Explain, step by step and with care, the following question number ", t["item_id"], ""
    )
    t = t.set_column(t.schema.get_field_index("item_id"), "item_id", pc.utf8_rpad(prompts, 160))
    p = tmp_path / "prompts.parquet"
    pq.write_table(t, p)
    raw = eio.read_table(p, keep=frozenset({"item_id", "labeler_id", "label"}))
    assert "item_id" in raw.frame.columns and not any("not read" in n for n in raw.notes)


def test_a_missing_column_is_named_among_the_unread_free_text(run_cli, tmp_path):
    """The item id column under another name, holding long prompts: not held as a slice
    candidate, but the missing-column error still lists it (and suggests the mapping)."""
    t = _sample_table()
    prompts = pc.utf8_rpad(
        pc.binary_join_element_wise("Explain with care the question number ", t["item_id"], ""),
        160,
    )
    t = t.drop_columns(["item_id"]).append_column("prompt", prompts)
    p = tmp_path / "prompts.parquet"
    pq.write_table(t, p)
    r = run_cli("audit", p, "-q")
    assert r.code == 2
    assert "item_id" in r.err and "prompt" in r.err  # the file's columns, the unread included


def test_mostly_distinct_parquet_columns_are_decoded_one_at_a_time(tmp_path, monkeypatch):
    """Ids and exact times hold every value until the coder finishes: the two reader
    threads must not hold two such columns at once (10^7 labels: ~0.1-0.9 GB of peak)."""
    import threading
    import time

    n = 40_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "item_id": [f"item-{i:07d}" for i in rng.permutation(n)],
            "labeler_id": [f"w{i % 7}" for i in range(n)],
            "label": np.where(rng.random(n) < 0.5, "pass", "fail"),
            "timestamp": [f"2026-03-01T00:00:{i:07d}" for i in range(n)],
            "category": [f"c{i % 3}" for i in range(n)],
        }
    )
    path = tmp_path / "labels.parquet"
    frame.to_parquet(path, row_group_size=n // 4)
    lock = threading.Lock()
    active = {"now": 0, "most": 0, "distinct": 0}
    finish = columnar.ColumnCoder.finish

    def slow_finish(self):
        plain = bool(self._parts) and self._parts[0][0] is None  # a mostly distinct column
        if plain:
            with lock:
                active["now"] += 1
                active["distinct"] += 1
                active["most"] = max(active["most"], active["now"])
            time.sleep(0.3)  # long enough for the other thread to reach its own
        try:
            return finish(self)
        finally:
            if plain:
                with lock:
                    active["now"] -= 1

    monkeypatch.setattr(columnar.ColumnCoder, "finish", slow_finish)
    columnar.read_parquet_coded(path, threads=2)
    assert active["distinct"] == 2  # item_id and timestamp
    assert active["most"] == 1
