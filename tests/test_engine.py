"""The engines (--engine duckdb / spark) give the in-memory engine's figures, to 1e-9.

Every figure of the audit's JSON is compared (labelers, cells, drift, headline, findings,
agreement, concentration ...), plus the LabelTable itself column by column; the only
difference allowed is the note naming the engine. Bad input still gets errors naming the
file, the column, the rows and the fix. Spark runs one local[1] session for the whole test
session and skips cleanly when pyspark or Java is missing.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evalaudit.api import audit, read_labels
from evalaudit.audit import audit_ingested
from evalaudit.contract import InputError
from evalaudit.engine import AUTO_BYTES, choose_engine
from evalaudit.rules import load_policy

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TOL = 1e-9


def _close(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two JSON values differ (floats to TOL, relative for large values)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        if set(a) != set(b):
            out.append(f"{where}: keys {sorted(set(a) ^ set(b))}")
        for k in set(a) & set(b):
            out += _close(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} entries"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _close(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return [] if a is b else [f"{where}: {a} vs {b}"]
        if math.isnan(a) and math.isnan(b):
            return []
        return [] if abs(a - b) <= TOL * max(1.0, abs(a)) else [f"{where}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def _json(result: Any) -> dict[str, Any]:
    d = json.loads(result.to_json())
    d.pop("notes", None)  # names the engine
    return d


def _same_table(a: Any, b: Any) -> None:
    fa, fb = a.table.frame, b.table.frame
    assert list(fa.columns) == list(fb.columns)
    for c in fa.columns:
        x, y = fa[c], fb[c]
        assert x.dtype == y.dtype, c
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.cat.categories) == list(y.cat.categories), c
            np.testing.assert_array_equal(x.cat.codes, y.cat.codes, err_msg=c)
        else:
            np.testing.assert_array_equal(x.to_numpy(), y.to_numpy(), err_msg=c)
    assert a.table.item_ids.equals(b.table.item_ids)
    assert a.table.labeler_ids.equals(b.table.labeler_ids)
    assert a.label_spec == b.label_spec
    assert a.accounting == b.accounting
    assert a.slice_note == b.slice_note
    assert a.warnings == b.warnings


@pytest.fixture(scope="module")
def memory_audits() -> dict[str, dict[str, Any]]:
    return {
        name: _json(audit(SAMPLE / name, engine="memory"))
        for name in ("labels.csv", "labels.parquet")
    }


@pytest.mark.parametrize("name", ["labels.csv", "labels.parquet"])
def test_duckdb_equals_memory_on_the_sample(name: str, memory_audits: dict[str, Any]) -> None:
    mem = read_labels(SAMPLE / name, engine="memory")
    duck = read_labels(SAMPLE / name, engine="duckdb")
    _same_table(mem, duck)
    assert "engine: duckdb" in duck.notes
    got = _json(audit(SAMPLE / name, engine="duckdb"))
    want = memory_audits[name]
    assert _close(want, got) == []
    # the comparison can fail: the sample has flagged findings, cells and a corrected headline
    assert want["findings"] and want["cells"] and want["headline"]["corrected"]
    assert any(c["flagged"] for c in want["cells"])
    moved = json.loads(json.dumps(got))
    moved["headline"]["score"] += 1e-6
    assert _close(want, moved) != []


def test_duckdb_typed_timestamps_and_shuffled_rows(tmp_path: Path) -> None:
    """A Parquet file with a typed timestamp column and rows not in item order."""
    df = pd.read_csv(SAMPLE / "labels.csv", dtype="string")
    df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    path = tmp_path / "typed.parquet"
    df.to_parquet(path, row_group_size=1000)
    _same_table(read_labels(path, engine="memory"), read_labels(path, engine="duckdb"))


def test_duckdb_unifies_spellings_and_sets_identical_duplicates_aside(tmp_path: Path) -> None:
    text = (SAMPLE / "labels.csv").read_text().splitlines()
    rows = [text[0], *text[1:400]]
    rows[5] = rows[5].replace(",fail,", ",FAIL ,") if ",fail," in rows[5] else rows[5]
    rows.append(rows[10])  # an identical duplicate
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(rows) + "\n")
    mem, duck = read_labels(path, engine="memory"), read_labels(path, engine="duckdb")
    _same_table(mem, duck)
    assert duck.accounting.rows_rejected == {"identical_duplicate": 1}
    assert [n for n in mem.notes if "normalised" in n] == [
        n for n in duck.notes if "normalised" in n
    ]


def _csv(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "bad.csv"
    p.write_text("item_id,labeler_id,label,timestamp\n" + body)
    return p


def _raised(path: Path, engine: str, **options: Any) -> InputError:
    with pytest.raises(InputError) as exc:
        read_labels(path, engine=engine, **options)
    return exc.value


def _problems(
    path: Path, engine: str, examples: bool = False, named: Path | None = None, **options: Any
) -> list[tuple[Any, ...]]:
    """The errors reading ``path``, which must name ``named`` (default ``path``) and its
    line numbering."""
    with pytest.raises(InputError) as exc:
        read_labels(path, engine=engine, **options)
    assert exc.value.path == str(named or path) and str(named or path) in str(exc.value)
    return [
        (str(p.check), p.column, p.count, p.rows, p.message, p.hint, str(p.severity))
        + ((p.examples,) if examples else ())
        for p in exc.value.problems
    ]


@pytest.mark.parametrize(
    ("body", "check", "rows"),
    [
        ("i1,a,pass,2026-01-01T00:00:00Z\ni2,,fail,2026-01-02T00:00:00Z\n", "not_null", (3,)),
        ("i1,a,pass,2026-01-01T00:00:00Z\ni1,a,fail,2026-01-02T00:00:00Z\n", "duplicate", (2, 3)),
        ("i1,a,pass,yesterday\ni2,b,fail,2026-01-02T00:00:00Z\n", "timestamp_parse", (2,)),
    ],
)
def test_duckdb_errors_are_the_memory_engines(
    tmp_path: Path, body: str, check: str, rows: tuple[int, ...]
) -> None:
    """The same check, column, count, rows, message and fix hint as the in-memory ingest."""
    p = _csv(tmp_path, body)
    got = _problems(p, "duckdb")
    assert got == _problems(p, "memory")
    assert [(g[0], g[3]) for g in got] == [(check, rows)]


def test_duckdb_reports_every_error_of_a_file_with_repeated_pairs(tmp_path: Path) -> None:
    """Another error and repeated (item, labeler) pairs: the conflicting pair is reported
    too, and an identical duplicate (set aside) is not counted, as in memory."""
    p = _csv(
        tmp_path,
        "i1,a,pass,2026-01-01T00:00:00Z\ni1,a,pass,2026-01-01T00:00:00Z\n"
        "i2,a,maybe,2026-01-02T00:00:00Z\ni2,b,maybe,2026-01-02T00:00:00Z\n"
        "i3,a,fail,2026-01-03T00:00:00Z\ni3,a,pass,2026-01-04T00:00:00Z\n",
    )
    got = _problems(p, "duckdb", examples=True, labels=["pass", "fail"])
    assert got == _problems(p, "memory", examples=True, labels=["pass", "fail"])
    assert [(g[0], g[2], g[3]) for g in got] == [
        ("label_value", 2, (4, 5)),
        ("duplicate", 2, (6, 7)),
    ]


def test_duckdb_missing_column_and_mapping(tmp_path: Path) -> None:
    p = tmp_path / "nolabel.csv"
    p.write_text("item_id,labeler_id,verdict\ni1,a,pass\n")
    with pytest.raises(InputError) as exc:
        read_labels(p, engine="duckdb")
    assert exc.value.problems[0].column == "label"
    assert "--column label=" in exc.value.problems[0].hint
    ok = read_labels(p, engine="duckdb", columns={"label": "verdict"})
    assert ok.table.n_labels == 1
    # the required names in another case / with a space: both engines name the column to map
    p = tmp_path / "spelled.csv"
    p.write_text("Item ID,labeler_id,Label\ni1,a,pass\n")
    for engine in ("duckdb", "memory"):
        with pytest.raises(InputError) as exc:
            read_labels(p, engine=engine)
        hints = {q.column: q.hint for q in exc.value.problems}
        assert "--column 'item_id=Item ID'" in hints["item_id"], (engine, hints)
        assert "--column label=Label" in hints["label"], (engine, hints)


def test_unsupported_options_fall_back_or_say_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--engine duckdb does not support --duplicates keep"):
        read_labels(SAMPLE / "labels.csv", engine="duckdb", duplicates="keep-last")
    # chosen automatically: the in-memory ingest takes over, and the note says why
    ing = read_labels(SAMPLE / "labels.csv", engine="memory", duplicates="keep-last")
    assert ing.table.n_labels > 0


def test_auto_picks_duckdb_only_when_the_in_memory_read_would_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalaudit.engine import auto_choice

    monkeypatch.delenv("EVALAUDIT_ENGINE", raising=False)
    assert choose_engine(SAMPLE / "labels.csv") == "memory"  # small: never estimated
    # 256 MB of text in ~2.7M short lines: the in-memory read needs ~0.7 GB
    big = tmp_path / "big.csv"
    line = b"item,labeler,pass,2026-01-01T00:00:00Z,vendor-a,category-x\n"
    with open(big, "wb") as fh:
        fh.write(b"item_id,labeler_id,label,timestamp,vendor,category\n")
        fh.write(line * 4096)
        fh.truncate(AUTO_BYTES + 1)
    monkeypatch.setenv("EVALAUDIT_MEMORY", "16GB")
    assert choose_engine(big) == "memory"  # fits: the faster engine
    monkeypatch.setenv("EVALAUDIT_MEMORY", "512MB")
    # the statistics need ~1.2 GB (260 B a label) whatever the engine: DuckDB cannot help
    assert choose_engine(big) == "memory"
    # the same size of file with few, wide rows (prompts and responses): the text dominates
    wide = tmp_path / "wide.csv"
    row = b"item,labeler,pass," + b"x" * 20_000 + b"\n"
    with open(wide, "wb") as fh:
        fh.write(b"item_id,labeler_id,label,response\n")
        fh.write(row * 4)
        fh.truncate(AUTO_BYTES + 1)
    assert choose_engine(wide) == "memory"  # 0.26 GB to read: fits in 512 MB
    monkeypatch.setenv("EVALAUDIT_MEMORY", "300MB")
    engine, why = auto_choice(wide)
    assert engine == "duckdb" and "GB of text" in why and "0.3 GB available" in why
    assert choose_engine(wide, "memory") == "memory"
    assert choose_engine(None) == "memory"
    monkeypatch.setenv("EVALAUDIT_ENGINE", "duckdb")
    assert choose_engine(SAMPLE / "labels.csv") == "duckdb"
    with pytest.raises(ValueError, match="unknown engine"):
        choose_engine(big, "polars")
    monkeypatch.setenv("EVALAUDIT_MEMORY", "lots")
    with pytest.raises(ValueError, match="EVALAUDIT_MEMORY"):
        auto_choice(wide)


def test_cli_engine_option(run_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    r = run_cli("audit", SAMPLE / "labels.csv", "--engine", "duckdb", "-q", "--json", out)
    assert r.code == 0, r.err
    got = json.loads(out.read_text())
    assert "engine: duckdb" in got["notes"]


def test_gate_and_report_take_the_engine(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gate and report read through the engine too: same verdict and findings as memory."""
    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "home"))
    gates = {}
    for engine in ("memory", "duckdb"):
        out = tmp_path / f"gate_{engine}.json"
        r = run_cli("gate", SAMPLE / "labels.csv", "--engine", engine, "-q", "--json", out)
        assert r.code == 1, r.err  # the sample blocks (lab017 and its hallucination cell)
        gates[engine] = json.loads(out.read_text())
    assert "engine: duckdb" in gates["duckdb"]["audit"]["notes"]
    assert "engine: duckdb" not in gates["memory"]["audit"]["notes"]
    for key in ("verdict", "exit_code"):
        assert gates["duckdb"][key] == gates["memory"][key]
    ids = {e: sorted(f["id"] for f in g["blocking"]) for e, g in gates.items()}
    assert ids["duckdb"] == ids["memory"] and ids["memory"]
    diff = _close(gates["memory"]["audit"]["findings"], gates["duckdb"]["audit"]["findings"])
    assert not diff, diff[:5]

    rep = tmp_path / "rep"
    r = run_cli(
        "report", SAMPLE / "labels.csv", "--out", rep, "--engine", "duckdb", "--no-history", "-q"
    )
    assert r.code == 1, r.err
    assert "engine: duckdb" in json.loads((rep / "audit.json").read_text())["notes"]
    # a table, not a file, cannot go to an engine that reads files
    with pytest.raises(ValueError, match="reads files"):
        from evalaudit.api import gate

        gate(pd.read_csv(SAMPLE / "labels.csv"), engine="duckdb")


# ------------------------------------------------------------------ Spark
@pytest.fixture(scope="session")
def spark() -> Any:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH (scripts/test-deps.sh installs openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("evalaudit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_equals_memory_on_the_sample(spark: Any, memory_audits: dict[str, Any]) -> None:
    path = SAMPLE / "labels.parquet"
    ing = read_labels(path, engine="spark")
    _same_table(read_labels(path, engine="memory"), ing)
    got = _json(audit_ingested(ing, load_policy()))
    assert _close(memory_audits["labels.parquet"], got) == []


def test_spark_reads_llm_judge_types(spark: Any, judge_audit: dict[str, Any]) -> None:
    path = SAMPLE / "judges.csv"
    ing = read_labels(path, engine="spark")
    _same_types(read_labels(path, engine="memory"), ing)
    assert ing.table.has_judges
    assert _close(judge_audit, _json(audit_ingested(ing, load_policy()))) == []


@pytest.mark.parametrize("version", ["4.0.1", "4.2.0"])
def test_spark_smallest_rows_per_group(
    spark: Any, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first rows of a group: collect_list before Spark 4.2, min_by's bound k from it."""
    from evalaudit.engine.query import SparkBackend

    b = SparkBackend(spark)
    installed = tuple(int(v) for v in spark.version.split(".")[:2])
    monkeypatch.setattr(type(spark), "version", property(lambda self: version))
    expr = b.smallest("x", 3)
    monkeypatch.undo()
    assert ("min_by" in expr) == (version == "4.2.0")
    if "min_by" in expr and installed < (4, 2):
        return  # this Spark has no min_by(x, ord, k) to run
    rows = [(k % 2, x) for k, x in enumerate([9, 4, 7, 1, 3, 8, 2, 6])]
    spark.createDataFrame(rows, "g int, x long").createOrReplaceTempView("smallest_t")
    got = b.table(f"SELECT g, {expr} AS r FROM smallest_t GROUP BY g ORDER BY g").to_pylist()
    assert got == [{"g": 0, "r": [2, 3, 7]}, {"g": 1, "r": [1, 4, 6]}]


def test_spark_reads_a_catalog_table(spark: Any) -> None:
    """``--engine spark NAME``: a table of the session's catalog is the source, rows numbered."""
    from evalaudit.engine.query import SparkBackend

    df = pd.read_csv(SAMPLE / "labels.csv", dtype="string").head(40)
    spark.createDataFrame(df).createOrReplaceTempView("sample_labels")
    b = SparkBackend(spark)
    b.register_source("sample_labels", "table")
    assert b.scalar("SELECT count(*) FROM src") == 40
    assert b.scalar("SELECT min(_row) FROM src") == 1


# ------------------------------------------------------------------ mergeable aggregates
def test_batch_aggregates_merge_to_the_whole_and_give_the_headline(
    tmp_path: Path, memory_audits: dict[str, Any]
) -> None:
    """A new batch's aggregates added to the old ones equal the whole file's, exactly."""
    from evalaudit.engine.aggregates import aggregate, merge
    from evalaudit.engine.query import DuckDBBackend

    df = pd.read_csv(SAMPLE / "labels.csv", dtype="string")
    last = sorted(df["batch"].unique())[-1]
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    df[df["batch"] != last].to_parquet(old)
    df[df["batch"] == last].to_parquet(new)
    slices = ("category", "failure_mode", "model")
    b = DuckDBBackend()
    whole = aggregate(b, str(SAMPLE / "labels.parquet"), "parquet", "pass", slices)
    merged = merge(
        aggregate(b, str(old), "parquet", "pass", slices),
        aggregate(b, str(new), "parquet", "pass", slices),
    )
    assert (
        set(whole.tables)
        == set(merged.tables)
        == {
            "items",
            "labeler_slice",
            "labeler_day",
            "vendor_slice",
        }
    )
    for name, t in whole.tables.items():
        pd.testing.assert_frame_equal(t, merged.tables[name], check_exact=True, obj=name)
    assert merged.rows == len(df)
    # some items are labeled in both parts: their rows merged into one
    assert len(merged.tables["items"]) < len(
        aggregate(b, str(old), "parquet", "pass", ()).tables["items"]
    ) + len(aggregate(b, str(new), "parquet", "pass", ()).tables["items"])
    want = memory_audits["labels.parquet"]
    assert abs(merged.headline() - want["headline"]["score"]) <= TOL
    # the per-cell label counts are the audit's cells' n
    cells = pd.DataFrame(want["cells"])
    one = cells[cells["slice_column"] == "failure_mode"].set_index(["labeler_id", "slice_value"])
    agg = merged.tables["labeler_slice"]
    agg = agg[agg["slice_column"] == "failure_mode"].set_index(["labeler_id", "slice_value"])
    common = one.index.intersection(agg.index)
    assert len(common) == len(one)
    np.testing.assert_array_equal(one.loc[common, "n"], agg.loc[common, "n"])


def test_duckdb_item_hash_collisions_fall_back_to_a_join(monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are coded by a 64-bit hash of the id; when two ids collide the codes come from
    a join instead, and the table is the same (a hash of 10 values forces collisions)."""
    from evalaudit.engine import query

    monkeypatch.setattr(query.DuckDBBackend, "hash64", lambda self, e: f"(hash({e}) % 10)")
    path = SAMPLE / "labels.parquet"
    _same_table(read_labels(path, engine="memory"), read_labels(path, engine="duckdb"))


def test_duckdb_sniffs_the_delimiter_and_refuses_exports(tmp_path: Path) -> None:
    df = pd.read_csv(SAMPLE / "labels.csv", dtype="string").head(300)
    semi = tmp_path / "semi.csv"
    df.to_csv(semi, sep=";", index=False)
    _same_table(read_labels(semi, engine="memory"), read_labels(semi, engine="duckdb"))
    export = tmp_path / "ls.csv"
    export.write_text("annotator,annotation_id,text,sentiment\n1,2,hello,pos\n")
    with pytest.raises(InputError, match="does not support a labeling-tool export"):
        read_labels(export, engine="duckdb")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(InputError) as exc:
        read_labels(broken, engine="duckdb")
    assert "--engine memory" in exc.value.problems[0].hint


# ------------------------------------------------------------------ LLM judges
def _same_types(a: Any, b: Any) -> None:
    """The labeler types, families and their note, as well as the table."""
    _same_table(a, b)
    assert a.table.labeler_types == b.table.labeler_types
    assert list(a.table.judge_family.items()) == list(b.table.judge_family.items())
    assert a.labeler_type_in_data == b.labeler_type_in_data
    assert [n for n in a.notes if not n.startswith("engine:")] == [
        n for n in b.notes if not n.startswith("engine:")
    ]


def _without_types(tmp_path: Path) -> Path:
    """The judge sample without its labeler_type column (judge_family kept)."""
    df = pd.read_csv(SAMPLE / "judges.csv", dtype="string").drop(columns=["labeler_type"])
    path = tmp_path / "untyped.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def judge_audit() -> dict[str, Any]:
    return _json(audit(SAMPLE / "judges.csv", engine="memory"))


def test_duckdb_reads_llm_judge_types_as_memory_does(judge_audit: dict[str, Any]) -> None:
    """The labeler_type and judge_family columns: the same judges, families, notes, audit."""
    path = SAMPLE / "judges.csv"
    mem, duck = read_labels(path, engine="memory"), read_labels(path, engine="duckdb")
    _same_types(mem, duck)
    assert "engine: duckdb" in duck.notes
    assert duck.table.labeler_types == ("human",) * 4 + ("model",) * 2
    assert dict(duck.table.judge_family) == {"judge-a": "model-a", "judge-b": "model-b"}
    assert duck.labeler_type_in_data and "labeler types from labeler_type" in duck.notes[0]
    # labeler attributes, not item slices; and no row set aside
    assert not {"labeler_type", "judge_family"} & set(duck.table.slice_columns)
    assert duck.accounting.rows_used == duck.accounting.rows_read == 8800
    slice_error = _problems(path, "duckdb", slices=["labeler_type"])
    assert slice_error == _problems(path, "memory", slices=["labeler_type"])
    assert slice_error[0][4] == "--slice labeler_type: no such column"
    got = _json(audit(path, engine="duckdb"))
    assert _close(judge_audit, got) == []
    # the comparison can fail: the judges are audited (an ingest blind to the types would
    # give no judges table, no PPI headline and humans only)
    assert len(judge_audit["judges"]) == 2 and judge_audit["headline"]["ppi"]
    assert {lab["labeler_type"] for lab in judge_audit["labelers"]} == {"human", "model"}
    moved = json.loads(json.dumps(got))
    moved["judges"][0]["bias"] += 1e-6
    assert _close(judge_audit, moved) != []


def test_duckdb_takes_judges_globs_as_memory_does(tmp_path: Path) -> None:
    """``--judges GLOB`` instead of the column: the same audit as the in-memory engine."""
    path = _without_types(tmp_path)
    mem = read_labels(path, engine="memory", judges=["judge-*"])
    duck = read_labels(path, engine="duckdb", judges=["judge-*"])
    _same_types(mem, duck)
    assert duck.table.has_judges and not duck.labeler_type_in_data
    assert "labeler types from --judges judge-*" in duck.notes[0]
    want = _json(audit(path, engine="memory", judges=["judge-*"]))
    got = _json(audit(path, engine="duckdb", judges=["judge-*"]))
    assert _close(want, got) == []
    assert len(want["judges"]) == 2 and want["headline"]["ppi"]
    # judge_family alone names no judge: dropped in both engines, never a slice
    plain = read_labels(path, engine="duckdb")
    _same_types(read_labels(path, engine="memory"), plain)
    assert not plain.table.has_judges and "judge_family" not in plain.table.slice_columns


_JUDGE_HEADER = "item_id,labeler_id,label,labeler_type,judge_family\n"


@pytest.mark.parametrize(
    ("body", "judges", "want"),
    [
        pytest.param(  # spellings nobody reads as a type (one with blanks), on more rows
            # than are shown and interleaved: the first rows come from several groups
            "i1,a,pass,human,\ni1,j,pass,robot,gpt\ni2,a,fail,LLM-ish,\n"
            + "".join(f"i{k},j,pass,robot,gpt\n" for k in range(2, 5))
            + "i5,j,fail, robot ,gpt\ni6,a,pass,,\n",
            (),
            [("labeler_type", "labeler_type", 6, (3, 4, 5, 6, 7))],
            id="unknown-type",
        ),
        pytest.param(  # j is a model on two rows and a human on one
            "i1,a,pass,human,\ni1,j,pass,model,gpt\ni2,j,fail,annotator,gpt\n"
            "i2,a,fail,human,\ni3,j,pass,llm,gpt\n",
            (),
            [("labeler_type", "labeler_type", 3, (3, 4, 6))],
            id="typed-both-ways",
        ),
        pytest.param(
            "i1,a,pass,human,\ni1,j,pass,model,gpt\ni2,j,fail,model,claude\n",
            (),
            [("labeler_type", "judge_family", 2, (3, 4))],
            id="two-families",
        ),
        pytest.param(
            "i1,a,pass,human,\ni1,j,pass,model,gpt\n",
            ("gpt-*", "a"),
            [("labeler_type", "labeler_id", 0, ()), ("labeler_type", "labeler_type", 1, ())],
            id="glob-matches-nobody-and-glob-names-a-human",
        ),
        pytest.param(  # an identical duplicate (set aside) is not counted in the error
            "i1,a,pass,human,\ni1,j,pass,robot,gpt\ni1,j,pass,robot,gpt\ni2,a,fail,human,\n",
            (),
            [("labeler_type", "labeler_type", 1, (4,))],
            id="unknown-type-and-identical-duplicate",
        ),
    ],
)
def test_duckdb_labeler_type_errors_are_the_memory_engines(
    tmp_path: Path, body: str, judges: tuple[str, ...], want: list[tuple[Any, ...]]
) -> None:
    """Same check, column, count, rows, message, hint and examples as in memory."""
    p = tmp_path / "judged.csv"
    p.write_text(_JUDGE_HEADER + body)
    got = _problems(p, "duckdb", examples=True, judges=list(judges))
    assert got == _problems(p, "memory", examples=True, judges=list(judges))
    assert [g[:4] for g in got] == want


def test_cli_duckdb_bad_labeler_type_exits_2(run_cli: Any, tmp_path: Path) -> None:
    df = pd.read_csv(SAMPLE / "judges.csv", dtype="string")
    df.loc[7, "labeler_type"] = "robot"
    path = tmp_path / "robot.csv"
    df.to_csv(path, index=False)
    runs = {e: run_cli("audit", path, "--engine", e, "-q") for e in ("memory", "duckdb")}
    for r in runs.values():
        assert r.code == 2
        assert "column 'labeler_type'" in r.err and "unknown labeler type" in r.err
    assert runs["duckdb"].err == runs["memory"].err


def test_python_dash_c_run_is_not_ended_by_pyspark() -> None:
    """With pyspark installed, importing great-expectations imports pyspark.sql.connect,
    which calls sys.exit(0) when __main__ has no __file__ (``python -c``): the gate then
    "passed" a blocked sample with exit 0 and no output."""
    import subprocess
    import sys

    pytest.importorskip("pyspark")
    code = "import sys; from evalaudit.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run(
        [sys.executable, "-c", code, "gate", str(SAMPLE / "labels.csv"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "BLOCK" in p.stdout
    assert "FutureWarning" not in p.stderr


# ------------------------------------------------------------------ side tables, --skip-invalid
def _split_sample(tmp_path: Path) -> dict[str, Path]:
    """The judge sample as a label file, an items table and a labelers table.

    The items table lacks one item and the labelers table one human labeler (rows the
    side_table_match warning counts), and has an item the label file does not use; the
    labelers table brings labeler_type and judge_family.
    """
    df = pd.read_csv(SAMPLE / "judges.csv", dtype="string")
    items = df[["item_id", "category", "failure_mode", "model"]].drop_duplicates("item_id")
    items = items[items["item_id"] != df["item_id"].iloc[40]]
    items = pd.concat(
        [items, pd.DataFrame({"item_id": ["unused"], "category": ["math"]})], ignore_index=True
    )
    labelers = df[["labeler_id", "vendor", "labeler_type", "judge_family"]].drop_duplicates(
        "labeler_id"
    )
    missing_labeler = df.loc[df["labeler_type"] == "human", "labeler_id"].iloc[7]
    labelers = labelers[labelers["labeler_id"] != missing_labeler]
    out = {
        "labels": tmp_path / "labels.csv",
        "items": tmp_path / "items.csv",
        "labelers": tmp_path / "labelers.csv",
    }
    df[["item_id", "labeler_id", "label", "timestamp", "batch"]].to_csv(out["labels"], index=False)
    items.to_csv(out["items"], index=False)
    labelers.to_csv(out["labelers"], index=False)
    return out


def test_duckdb_joins_side_tables_as_memory_does(tmp_path: Path) -> None:
    """--items and --labelers: the same table, types, warnings, hashes and audit JSON."""
    f = _split_sample(tmp_path)
    kw = {"items": f["items"], "labelers": f["labelers"]}
    mem = read_labels(f["labels"], engine="memory", **kw)
    duck = read_labels(f["labels"], engine="duckdb", **kw)
    _same_types(mem, duck)
    assert duck.side_files == mem.side_files and set(duck.side_files) == {"items", "labelers"}
    # the comparison can fail: the side tables' attributes are slices, labeler groups, types
    assert duck.table.slice_columns == ("category", "failure_mode")
    assert {"vendor", "model"} <= set(duck.table.frame.columns)
    assert duck.table.has_judges and not duck.labeler_type_in_data
    assert "the labelers table" in duck.notes[0]
    assert [w.check for w in duck.warnings if w.check == "side_table_match"] == [
        "side_table_match"
    ] * 2
    want = _json(audit(f["labels"], engine="memory", **kw))
    got = _json(audit(f["labels"], engine="duckdb", **kw))
    assert _close(want, got) == []
    assert len(want["judges"]) == 2 and want["agreement"]["per_vendor"]
    moved = json.loads(json.dumps(got))
    moved["input"]["slice_columns"] = ["category"]
    assert _close(want, moved) != []


def _side_case(tmp_path: Path, case: str) -> tuple[Path, dict[str, Path]]:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "item_id,labeler_id,label,topic\ni1,a,pass,x\ni1,b,fail,x\ni2,a,pass,y\n"
        "i3,b,pass,y\ni3,c,fail,y\n"
    )
    items = tmp_path / "items.csv"
    labelers = tmp_path / "labelers.csv"
    items.write_text("item_id,category\ni1,math\ni2,code\ni3,code\n")
    labelers.write_text("labeler_id,vendor,labeler_type\na,acme,human\nb,bolt,human\nc,bolt,llm\n")
    if case in _SIDE_EDITS:
        which, text = _SIDE_EDITS[case]
        {"labels": labels, "items": items, "labelers": labelers}[which].write_text(text)
    return labels, {"items": items, "labelers": labelers}


#: Per side-table case: the file it rewrites and its text.
_SIDE_EDITS = {
    "duplicate-key": ("items", "item_id,category\ni1,math\ni2,code\ni1,code\ni3,math\n"),
    "overlapping-column": ("items", "item_id,topic\ni1,math\ni2,code\ni3,code\n"),
    "overlap-between-side-tables": ("labelers", "labeler_id,category\na,x\nb,y\nc,z\n"),
    "bad-labeler-type": ("labelers", "labeler_id,labeler_type\na,human\nb,martian\nc,llm\n"),
    "no-key-in-side-table": ("items", "id,category\ni1,math\n"),
    "no-key-in-label-file": ("labels", "item,labeler_id,label\ni1,a,pass\ni2,b,fail\n"),
    # the warning rides along with the error
    "blank-label-and-missing-key": (
        "labels",
        "item_id,labeler_id,label\ni1,a,pass\ni9,b,\ni2,a,fail\n",
    ),
    "bad-label-and-missing-labeler": (
        "labels",
        "item_id,labeler_id,label\ni1,a,pass\ni1,z,fail\ni2,a,maybe\ni2,b,fail\n",
    ),
}


@pytest.mark.parametrize(
    ("case", "where", "want"),
    [
        ("duplicate-key", "items", [("unique_key", "item_id", 2, (2, 4))]),
        ("overlapping-column", "items", [("column_clash", "topic", 0, ())]),
        ("overlap-between-side-tables", "labelers", [("column_clash", "category", 0, ())]),
        ("bad-labeler-type", "labelers", [("labeler_type", "labeler_type", 1, (3,))]),
        ("no-key-in-side-table", "items", [("column_exists", "item_id", 0, ())]),
        ("no-key-in-label-file", "labels", [("column_exists", "item_id", 0, ())]),
        (
            "blank-label-and-missing-key",
            "labels",
            [("side_table_match", "item_id", 1, (3,)), ("not_null", "label", 1, (3,))],
        ),
        (
            "bad-label-and-missing-labeler",
            "labels",
            [("side_table_match", "labeler_id", 1, (3,)), ("label_value", "label", 1, (4,))],
        ),
    ],
)
def test_duckdb_side_table_errors_are_the_memory_engines(
    tmp_path: Path, case: str, where: str, want: list[tuple[Any, ...]]
) -> None:
    """The file named, check, column, count, rows, message, hint and examples as in memory."""
    labels, side = _side_case(tmp_path, case)
    named = labels if where == "labels" else side[where]
    opts = {"examples": True, "named": named, "labels": ["pass", "fail"], **side}
    got = _problems(labels, "duckdb", **opts)
    assert got == _problems(labels, "memory", **opts)
    assert [g[:4] for g in got] == want
    # the rows are the named file's lines, and so are said to be (line 3, not row 3)
    said = {
        e: str(_raised(labels, e, labels=["pass", "fail"], **side)) for e in ("memory", "duckdb")
    }
    assert said["duckdb"] == said["memory"]


def test_duckdb_side_tables_without_errors_warn_as_memory_does(tmp_path: Path) -> None:
    """Ids missing from a side table: the same warning (count, rows, examples) in both."""
    labels, side = _side_case(tmp_path, "")
    side["items"].write_text("item_id,category\ni1,math\n")  # i2 and i3 are missing
    mem = read_labels(labels, engine="memory", **side)
    duck = read_labels(labels, engine="duckdb", **side)
    _same_types(mem, duck)
    (w,) = duck.warnings
    assert (w.check, w.count, w.rows, w.examples) == (
        "side_table_match",
        3,
        (4, 5, 6),
        ("i2", "i3"),
    )
    assert duck.table.labeler_types == ("human", "human", "model")


def _blanks(tmp_path: Path) -> Path:
    """The sample with blank item ids, labeler ids and labels (some whitespace only)."""
    lines = (SAMPLE / "labels.csv").read_text().splitlines()
    for k, (col, blank) in enumerate(
        [(0, ""), (1, ""), (2, ""), (2, "  "), (2, "\t"), (0, " "), (1, "\u3000"), (0, "")]
    ):
        cells = lines[10 + 37 * k].split(",")
        cells[col] = blank
        if k == 7:
            cells[2] = ""  # blank in two columns: counted once, as a blank item_id
        lines[10 + 37 * k] = ",".join(cells)
    lines.append(lines[200])  # an identical duplicate, set aside too
    path = tmp_path / "blanks.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_duckdb_skip_invalid_sets_the_same_rows_aside(tmp_path: Path) -> None:
    path = _blanks(tmp_path)
    for engine in ("memory", "duckdb"):  # without it: the blank cells are errors
        assert ("not_null", "labeler_id") in {p[:2] for p in _problems(path, engine)}
    mem = read_labels(path, engine="memory", skip_invalid=True)
    duck = read_labels(path, engine="duckdb", skip_invalid=True)
    _same_table(mem, duck)
    assert duck.accounting.rows_rejected == {
        "blank_item_id": 3,
        "blank_labeler_id": 2,
        "blank_label": 3,
        "identical_duplicate": 1,
    }
    assert [n for n in duck.notes if not n.startswith("engine:")] == list(mem.notes)
    assert "--skip-invalid: 8 row(s) set aside" in duck.notes[0]
    want = _json(audit(path, engine="memory", skip_invalid=True))
    assert _close(want, _json(audit(path, engine="duckdb", skip_invalid=True))) == []


def test_duckdb_skip_invalid_with_side_tables(tmp_path: Path) -> None:
    """Blank rows set aside after the join: the missing-id warning counts them, as in memory."""
    labels, side = _side_case(tmp_path, "blank-label-and-missing-key")
    mem = read_labels(labels, engine="memory", skip_invalid=True, **side)
    duck = read_labels(labels, engine="duckdb", skip_invalid=True, **side)
    _same_types(mem, duck)
    assert duck.accounting.rows_rejected == {"blank_label": 1}
    assert [w.count for w in duck.warnings] == [1]


def test_side_table_columns_of_the_label_contract_are_refused(tmp_path: Path) -> None:
    """A side table bringing a timestamp or a label: the SQL ingest says it does not take it
    (the in-memory ingest reads it), rather than auditing without it."""
    labels, side = _side_case(tmp_path, "")
    side["items"].write_text("item_id,timestamp\ni1,2026-01-01\ni2,2026-01-02\ni3,2026-01-03\n")
    with pytest.raises(InputError, match="does not support the items table's 'timestamp' col"):
        read_labels(labels, engine="duckdb", items=side["items"])
    assert "timestamp" in read_labels(labels, engine="memory", items=side["items"]).table.frame


def test_cli_duckdb_side_table_error_exits_2(run_cli: Any, tmp_path: Path) -> None:
    labels, side = _side_case(tmp_path, "duplicate-key")
    runs = {
        e: run_cli("audit", labels, "--items", side["items"], "--engine", e, "-q")
        for e in ("memory", "duckdb")
    }
    assert runs["duckdb"].code == runs["memory"].code == 2
    assert "same 'item_id' on several rows" in runs["duckdb"].err
    assert runs["duckdb"].err == runs["memory"].err


def test_spark_joins_side_tables_and_skips_invalid(spark: Any, tmp_path: Path) -> None:
    """The side tables and --skip-invalid through Spark: the in-memory table and audit."""
    f = _split_sample(tmp_path)
    text = f["labels"].read_text().splitlines()
    text[5] = ",".join(["", *text[5].split(",")[1:]])  # a blank item_id, set aside
    f["labels"].write_text("\n".join(text) + "\n")
    kw = {"items": f["items"], "labelers": f["labelers"], "skip_invalid": True}
    mem = read_labels(f["labels"], engine="memory", **kw)
    ing = read_labels(f["labels"], engine="spark", **kw)
    _same_types(mem, ing)
    assert ing.accounting.rows_rejected == {"blank_item_id": 1} and ing.table.has_judges
    assert ing.side_files == mem.side_files
    got = _json(audit_ingested(ing, load_policy()))
    assert _close(_json(audit_ingested(mem, load_policy())), got) == []


def test_duckdb_reports_an_empty_file_before_a_missing_column(tmp_path: Path) -> None:
    """A header without data rows or a label column: 'empty', as the in-memory reader says."""
    p = tmp_path / "header.csv"
    p.write_text("item_id,labeler_id\n")
    got = _problems(p, "duckdb")
    assert got == _problems(p, "memory") and [g[0] for g in got] == ["empty"]


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_a_mapping_from_a_column_the_file_lacks_is_an_error_in_both_engines(
    run_cli: Any, tmp_path: Path, engine: str
) -> None:
    """``--column vendor=nope`` on a file without 'nope': exit 2 naming the column and the
    file's columns (the SQL ingest ignored the mapping and audited the file)."""
    path = tmp_path / "l.csv"
    path.write_text("item_id,labeler_id,label\nq1,a,pass\nq1,b,fail\nq2,a,pass\n")
    r = run_cli("audit", path, "--column", "vendor=nope", "--engine", engine, "-q")
    assert r.code == 2, r.out
    assert "--column vendor=nope: the file has no column 'nope'" in r.err
    assert "the file's columns are: item_id, labeler_id, label" in r.err
