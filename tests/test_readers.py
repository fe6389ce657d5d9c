"""Labeling-tool exports of the sample's rows, made in each tool's documented schema
(:mod:`evalaudit.readers.examples`), audit to the CSV's leniencies (1e-9), recognised by
content; what a reader cannot map (cancelled, ignored, drafts, errors) is counted, not used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from evalaudit.readers import examples as ex
from tests.conftest import SAMPLE, write

CSV = SAMPLE / "labels.csv"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(CSV, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def reference(reference: dict) -> dict[str, float]:
    """The sample's leniencies (from conftest's audit of the sample)."""
    return {r["labeler_id"]: r["leniency"] for r in reference["labelers"]}


def _audit(run_cli, path: Path, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "a.json"
    r = run_cli("audit", path, "-q", "--json", out, *extra)
    assert r.code == 0, r.err
    return json.loads(out.read_text()), r.out


def _canonical(labeler: str) -> str:
    """The sample's labeler id behind an export's user id (email, number, dataset-session)."""
    m = re.search(r"lab\d+", labeler)
    return m.group(0) if m else f"lab{int(labeler):03d}"


def _assert_same_leniency(d: dict, reference: dict[str, float]) -> None:
    got = {_canonical(r["labeler_id"]): r["leniency"] for r in d["labelers"]}
    assert set(got) == set(reference)
    worst = max(abs(got[k] - reference[k]) for k in reference)
    assert worst <= 1e-9, worst


def test_label_studio_json(run_cli, tmp_path, sample, reference):
    p = write(tmp_path / "export.json", ex.to_label_studio(sample, cancelled=25))
    d, out = _audit(run_cli, p, tmp_path)
    _assert_same_leniency(d, reference)
    assert d["input"]["format"] == "label-studio"
    assert d["input"]["rows_rejected"] == {"cancelled": 25}
    assert d["input"]["rows_read"] == 7825 and d["input"]["rows_used"] == 7800
    assert "Label Studio JSON export (recognised by content)" in out
    assert d["input"]["slice_columns"] == ["category", "failure_mode"]  # from data.*


def test_label_studio_json_min_and_csv(run_cli, tmp_path, sample, reference):
    records = ex.to_label_studio_min(sample)
    p = write(tmp_path / "min.json", json.dumps(records))
    d, out = _audit(run_cli, p, tmp_path)
    _assert_same_leniency(d, reference)
    assert d["input"]["format"] == "label-studio-min" and "'verdict'" in out
    c = tmp_path / "export.csv"
    pd.DataFrame(records).to_csv(c, index=False)
    d, out = _audit(run_cli, c, tmp_path)
    _assert_same_leniency(d, reference)
    assert d["input"]["format"] == "label-studio-csv"


def test_prodigy_jsonl(run_cli, tmp_path, sample, reference):
    p = write(tmp_path / "prodigy.jsonl", ex.to_prodigy(sample, ignored=30))
    d, _out = _audit(run_cli, p, tmp_path)
    _assert_same_leniency(d, reference)
    assert d["input"]["format"] == "prodigy"
    assert d["input"]["rows_rejected"] == {"ignored": 30}
    assert d["label"]["positive"] == "accept"


def test_inspect_log_two_scorers(run_cli, tmp_path, sample):
    first = sample.drop_duplicates("item_id").head(400)
    p = write(tmp_path / "2026-11-30_qa.json", ex.to_inspect(first, errors=2))
    d, _out = _audit(run_cli, p, tmp_path)
    inp = d["input"]
    assert inp["format"] == "inspect"
    assert inp["rows_used"] == 800 and inp["items"] == 400 and inp["labelers"] == 2
    assert inp["rows_rejected"] == {"sample_error": 2}
    assert {r["labeler_id"] for r in d["labelers"]} == {"judge_a", "judge_b"}
    assert d["label"]["categories"] == ["fail", "pass"]
    from evalaudit.io import read_table

    raw = read_table(p).frame
    assert set(raw["model"]) == {"openai/gpt-4o"}
    # C/I follow the sample's labels for judge_a
    judge_a = raw[raw["labeler_id"] == "judge_a"]
    assert int((judge_a["label"] == "pass").sum()) == int((first["label"] == "pass").sum())
    assert set(raw["label"]) == {"pass", "fail"}


def test_argilla_and_langsmith_and_langfuse(run_cli, tmp_path, sample, reference):
    p = write(tmp_path / "records.jsonl", ex.to_argilla(sample, drafts=1))
    d, _ = _audit(run_cli, p, tmp_path)
    assert d["input"]["format"] == "argilla"
    assert set(d["input"]["rows_rejected"]) == {"response_draft"}
    assert "agent:gpt-judge" in {r["labeler_id"] for r in d["labelers"]}
    assert d["input"]["rows_used"] == 7800 + 1200  # every fifth record's suggestion
    for name, text in (("ls.jsonl", ex.to_langsmith(sample)), ("lf.jsonl", ex.to_langfuse(sample))):
        q = write(tmp_path / name, text)
        d, _ = _audit(run_cli, q, tmp_path)
        assert d["input"]["rows_used"] == 7800 and d["input"]["labelers"] == 24
        assert d["input"]["slice_columns"] == []  # provenance is the labeler's vendor
        got = {r["labeler_id"]: r["leniency"] for r in d["labelers"]}
        # no item attributes in feedback exports: compare with the CSV audited without slices
        assert got.keys() == reference.keys()


def test_several_controls_need_control_option(run_cli, tmp_path, sample):
    small = sample.head(300)
    tasks = json.loads(ex.to_label_studio(small))
    for t in tasks:
        for a in t["annotations"]:
            a["result"].append(
                {
                    "from_name": "quality",
                    "to_name": "text",
                    "type": "rating",
                    "value": {"rating": 4},
                }
            )
    p = write(tmp_path / "two.json", json.dumps(tasks))
    r = run_cli("validate", p)
    assert r.code == 2 and "--control" in r.err and "verdict" in r.err and "quality" in r.err
    r = run_cli("validate", p, "--control", "quality")
    assert r.code == 0, r.err
    assert "ordinal" in r.out
    r = run_cli("validate", p, "--control", "nope")
    assert r.code == 2 and "use one of: verdict, quality" in r.err


def test_format_option_wins_and_plain_json_lists_read(run_cli, tmp_path, sample):
    rows = sample.head(200).to_dict(orient="records")
    p = write(tmp_path / "rows.json", json.dumps(rows))
    r = run_cli("validate", p)
    assert r.code == 0 and "JSON array of records" in r.out
    q = write(tmp_path / "min.json", json.dumps(ex.to_label_studio_min(sample.head(200))))
    r = run_cli("validate", q, "--format", "label-studio")
    assert r.code == 2 and str(q) in r.err and "Traceback" not in r.err


def test_inspect_multi_grader_values_are_graders(run_cli, tmp_path, sample):
    log = json.loads(ex.to_inspect(sample.drop_duplicates("item_id").head(50)))
    for k, smp in enumerate(log["samples"]):
        smp["scores"]["panel"] = {"value": {"gpt-4o": "C", "claude": "I" if k % 3 else "C"}}
        smp["scores"]["shape"] = {"value": [1, 2]}  # a list is not one judgement: counted
    p = write(tmp_path / "panel.json", json.dumps(log))
    d, _ = _audit(run_cli, p, tmp_path)
    assert {r["labeler_id"] for r in d["labelers"]} == {
        "judge_a",
        "judge_b",
        "panel/gpt-4o",
        "panel/claude",
    }
    assert d["input"]["rows_used"] == 200 and d["input"]["rows_rejected"] == {
        "structured_value": 50
    }


def test_langsmith_and_langfuse_csv_exports(run_cli, tmp_path, sample):
    small = sample.head(400)
    ls = [json.loads(x) for x in ex.to_langsmith(small).splitlines()]
    flat = [
        {
            **{k: v for k, v in r.items() if k != "feedback_source"},
            "feedback_source.type": r["feedback_source"]["type"],
            "feedback_source.user_id": r["feedback_source"]["user_id"],
        }
        for r in ls
    ]
    p = tmp_path / "feedback.csv"
    pd.DataFrame(flat).to_csv(p, index=False)
    r = run_cli("validate", p)
    assert r.code == 0, r.err
    assert "LangSmith feedback (recognised by its columns)" in r.out and "Rows read 400" in r.out
    lf = [json.loads(x) for x in ex.to_langfuse(small).splitlines()]
    q = tmp_path / "scores.csv"
    pd.DataFrame(lf).to_csv(q, index=False)
    r = run_cli("validate", q)
    assert r.code == 0, r.err
    assert "Langfuse scores" in r.out and "values fail, pass" in r.out


def test_a_label_table_is_never_taken_for_an_export(run_cli, tmp_path, sample):
    df = sample.head(300).assign(annotator="x", traceId="t", name="n")
    df["annotation_id"] = range(len(df))
    p = tmp_path / "labels.csv"
    df.to_csv(p, index=False)
    r = run_cli("validate", p)
    assert r.code == 0 and "recognised" not in r.out and "Rows read 300" in r.out


def test_export_fields_named_like_internal_columns_are_kept_renamed(run_cli, tmp_path, sample):
    records = ex.to_label_studio_min(sample.head(300))
    for r in records:
        r["score"], r["item"] = "0.5", "x"  # task data named like evalaudit's own columns
    p = write(tmp_path / "min.json", json.dumps(records))
    r = run_cli("validate", p)
    assert r.code == 0, r.err
    from evalaudit.io import read_table

    assert {"data.score", "data.item"} <= set(read_table(p).frame.columns)
