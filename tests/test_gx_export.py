"""``evalaudit validate --export-gx``: the exported suite, loaded by great-expectations itself
and run on the raw file, passes and fails exactly where ``evalaudit validate`` does."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE


def _run_gx(suite_path: Path, csv: Path) -> tuple[bool, set[str]]:
    """Validate ``csv`` (read as text) with the suite in a fresh ephemeral GX context."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx

        d = json.loads(suite_path.read_text())
        ctx = gx.get_context(mode="ephemeral")
        suite = ctx.suites.add(
            gx.ExpectationSuite(name=d["name"], expectations=d["expectations"], meta=d["meta"])
        )
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
        source = ctx.data_sources.add_pandas(f"team_{csv.stem}")
        batch = (
            source.add_dataframe_asset("labels")
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        res = batch.validate(suite)
    failed = {r.expectation_config.meta["check"] for r in res.results if not r.success}
    return bool(res.success), failed


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evalaudit.cli import main

    out = tmp_path_factory.mktemp("gx") / "suite.json"
    assert main(["validate", str(SAMPLE / "labels.csv"), "--export-gx", str(out)]) == 0
    return out


def test_suite_is_the_contract(suite_path):
    d = json.loads(suite_path.read_text())
    types = [e["type"] for e in d["expectations"]]
    assert types.count("expect_column_to_exist") == 3
    assert "expect_compound_columns_to_be_unique" in types
    in_set = next(e for e in d["expectations"] if e["type"] == "expect_column_values_to_be_in_set")
    assert in_set["kwargs"] == {"column": "label", "value_set": ["fail", "pass"]}
    assert d["meta"]["evalaudit"]["label_kind"] == "binary"


def _copy(tmp_path: Path, name: str, edit) -> Path:
    df = pd.read_csv(SAMPLE / "labels.csv", dtype=str, keep_default_na=False)
    edit(df)
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def test_same_pass_and_fail_as_evalaudit(run_cli, tmp_path, suite_path):
    def unknown_label(df):
        df.loc[[10, 500, 4000], "label"] = "maybe"

    def bad_timestamp(df):
        df.loc[7, "timestamp"] = "yesterday"

    def blank_labeler(df):
        df.loc[3, "labeler_id"] = ""

    cases = {
        "sample.csv": (SAMPLE / "labels.csv", None),
        "unknown_label.csv": (_copy(tmp_path, "unknown_label.csv", unknown_label), "label_value"),
        "bad_timestamp.csv": (
            _copy(tmp_path, "bad_timestamp.csv", bad_timestamp),
            "timestamp_parse",
        ),
        "blank_labeler.csv": (_copy(tmp_path, "blank_labeler.csv", blank_labeler), "not_null"),
    }
    for name, (path, check) in cases.items():
        r = run_cli("validate", path)
        ok, failed = _run_gx(suite_path, path)
        assert ok == (r.code == 0), (name, r.err, failed)
        if check is None:
            assert ok and not failed, name
        else:
            assert r.code == 2 and f"[{check}]" in r.err
            assert failed == {check}, (name, failed)


def test_labeler_type_values_are_in_the_suite_when_the_file_has_the_column(run_cli, tmp_path):
    judges = SAMPLE / "judges.csv"
    out = tmp_path / "judges_suite.json"
    r = run_cli("validate", judges, "--export-gx", out)
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    (typed,) = [e for e in d["expectations"] if e["meta"]["check"] == "labeler_type"]
    assert typed["type"] == "expect_column_values_to_be_in_set"
    assert typed["kwargs"] == {"column": "labeler_type", "value_set": ["human", "model"]}

    def robot(df):
        df.loc[[4, 9], "labeler_type"] = "robot"

    df = pd.read_csv(judges, dtype=str, keep_default_na=False)
    robot(df)
    bad = tmp_path / "robot.csv"
    df.to_csv(bad, index=False)
    for path, check in ((judges, None), (bad, "labeler_type")):
        r = run_cli("validate", path)
        ok, failed = _run_gx(out, path)
        assert ok == (r.code == 0), (path, r.err, failed)
        if check is None:
            assert ok and not failed
        else:
            assert r.code == 2 and f"[{check}]" in r.err and failed == {check}
    # mapped: the check is on the team's own column name
    df = pd.read_csv(judges, dtype=str, keep_default_na=False).rename(
        columns={"labeler_type": "rater_kind"}
    )
    mapped = tmp_path / "mapped.csv"
    df.to_csv(mapped, index=False)
    out2 = tmp_path / "mapped_suite.json"
    assert (
        run_cli("validate", mapped, "--column", "labeler_type=rater_kind", "--export-gx", out2).code
        == 0
    )
    d2 = json.loads(out2.read_text())
    (typed2,) = [e for e in d2["expectations"] if e["meta"]["check"] == "labeler_type"]
    assert typed2["kwargs"]["column"] == "rater_kind"
    assert _run_gx(out2, mapped) == (True, set())


def test_no_labeler_type_check_without_the_column_in_the_label_file(run_cli, tmp_path, suite_path):
    # the sample without labeler types, and types given only in the --labelers side table
    assert all(
        e["meta"]["check"] != "labeler_type"
        for e in json.loads(suite_path.read_text())["expectations"]
    )
    df = pd.read_csv(SAMPLE / "judges.csv", dtype=str, keep_default_na=False)
    side = df[["labeler_id", "labeler_type"]].drop_duplicates()
    labels, labelers = tmp_path / "labels.csv", tmp_path / "labelers.csv"
    df.drop(columns=["labeler_type", "judge_family"]).to_csv(labels, index=False)
    side.to_csv(labelers, index=False)
    out = tmp_path / "suite.json"
    r = run_cli("validate", labels, "--labelers", labelers, "--export-gx", out)
    assert r.code == 0, r.err
    assert "2 model(s)" in r.out  # the side table typed the judges
    d = json.loads(out.read_text())
    assert all(e["meta"]["check"] != "labeler_type" for e in d["expectations"])
    assert _run_gx(out, labels) == (True, set())


def test_validation_and_export_never_write_to_the_users_gx_store(run_cli, tmp_path, suite_path):
    """A process whose current GX context saved a suite named ``evalaudit_contract`` (the
    exported one, added by the user) keeps it as saved: GX 1.x's ``add_expectation`` writes
    through to a stored suite of the same name, which appended our expectations to theirs on
    every validation (and made each one slower than the last)."""
    import great_expectations as gx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = json.loads(suite_path.read_text())
        ctx = gx.get_context(mode="ephemeral")
        ctx.suites.add(gx.ExpectationSuite(name=d["name"], expectations=d["expectations"][:1]))
    small = tmp_path / "small.csv"
    pd.read_csv(SAMPLE / "labels.csv", dtype=str, keep_default_na=False).head(300).to_csv(
        small, index=False
    )
    for _ in range(2):
        assert run_cli("validate", small).code == 0
        assert run_cli("validate", small, "--export-gx", tmp_path / "again.json").code == 0
    assert len(ctx.suites.get(d["name"]).expectations) == 1
