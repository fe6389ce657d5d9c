"""The Python API: ``evalaudit.audit/gate/read_labels`` on paths, DataFrames and Arrow
streams give the CLI's figures; crowd-kit's column names are read; notebook reprs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import evalaudit
from evalaudit.contract import InputError
from tests.conftest import SAMPLE

CSV = SAMPLE / "labels.csv"


@pytest.fixture(scope="module")
def cli_json(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from evalaudit.cli import main

    out = tmp_path_factory.mktemp("api") / "audit.json"
    assert main(["audit", str(CSV), "-q", "--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def df_result():
    return evalaudit.audit(pd.read_csv(CSV))


def _leniency(d: dict) -> dict[str, float]:
    return {r["labeler_id"]: r["leniency"] for r in d["labelers"]}


def test_dataframe_audit_equals_cli(cli_json, df_result):
    cli, api = _leniency(cli_json), _leniency(df_result.to_dict())
    assert set(cli) == set(api) and len(cli) == 24
    assert max(abs(cli[k] - api[k]) for k in cli) <= 1e-9
    assert df_result.verdict == cli_json["verdict"] == "block"
    assert [f.id for f in df_result.findings] == [f["id"] for f in cli_json["findings"]]
    assert df_result.input["rows_used"] == cli_json["input"]["rows_used"] == 7800
    assert df_result.input["path"] == "<DataFrame>"


def test_path_and_arrow_stream_inputs_audit_alike(df_result):
    import pyarrow as pa

    table = pa.Table.from_pandas(pd.read_csv(CSV), preserve_index=False)

    class Stream:  # only the PyCapsule interface, as polars and others offer it
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    ref = _leniency(df_result.to_dict())
    for data in (str(CSV), Path(CSV), table, Stream()):
        res = evalaudit.audit(data)
        got = _leniency(res.to_dict())
        assert max(abs(ref[k] - got[k]) for k in ref) <= 1e-9, type(data)
        assert res.verdict == df_result.verdict


def test_tables_are_dataframes_and_reprs_are_short(df_result):
    assert isinstance(df_result.labelers, pd.DataFrame) and len(df_result.labelers) == 24
    assert isinstance(df_result.cells, pd.DataFrame) and not df_result.cells.empty
    assert isinstance(df_result.drift, pd.DataFrame)
    ft = df_result.findings_table
    assert list(ft["id"][:2]) == [f.id for f in df_result.findings[:2]]
    text = repr(df_result)
    assert len(text) < 300 and "verdict='block'" in text
    assert "flagged: lab017 x failure_mode=hallucination" in text
    html = df_result._repr_html_()
    assert "BLOCK" in html and "tilted_slice:lab017:failure_mode=hallucination" in html
    assert len(html) < 20_000
    assert json.loads(df_result.to_json())["verdict"] == "block"


def test_gate_returns_the_verdict(df_result):
    g = evalaudit.gate(pd.read_csv(CSV))
    assert g.verdict == "block" and g.exit_code == 1
    assert sorted(f["id"] for f in g.blocking) == [
        "tilted_slice:lab017:failure_mode=hallucination",
    ]
    assert "exit_code=1" in repr(g)
    assert g.to_dict()["inputs"][0]["path"] == "<DataFrame>"


def test_crowdkit_column_names_are_read():
    df = pd.read_csv(CSV).rename(columns={"item_id": "task", "labeler_id": "worker"})
    ing = evalaudit.read_labels(df)
    assert ing.accounting.rows_used == 7800
    assert any("task -> item_id" in n and "worker -> labeler_id" in n for n in ing.notes)


def test_options_are_the_cli_options():
    df = pd.read_csv(CSV).rename(columns={"item_id": "question_id"})
    ing = evalaudit.read_labels(df, columns={"item_id": "question_id"}, slices=["category"])
    assert ing.table.slice_columns == ("category",)
    with pytest.raises(InputError) as exc:
        evalaudit.read_labels(df)  # no item_id and no mapping
    assert "<DataFrame>" in str(exc.value) and "item_id" in str(exc.value)
    with pytest.raises(TypeError):
        evalaudit.read_labels([1, 2, 3])


def test_submodules_stay_importable():
    from evalaudit.audit import run_audit
    from evalaudit.gate import run_gate

    assert callable(evalaudit.audit) and evalaudit.audit.__module__ == "evalaudit.api"
    assert run_audit.__module__ == "evalaudit.audit" and run_gate.__module__ == "evalaudit.gate"
    assert set(evalaudit.__all__) >= {"audit", "gate", "read_labels"}


def test_package_import_stays_light():
    """``import evalaudit.validate`` (or io) does not import the statistics; the API functions
    load on first use, and importing the submodules first does not replace them."""
    import subprocess
    import sys

    code = (
        "import sys, evalaudit.validate, evalaudit; "
        "assert 'evalaudit.audit' not in sys.modules and 'evalaudit.stats.leniency' not in sys.modules; "
        "import evalaudit.audit, evalaudit.gate; "
        "assert callable(evalaudit.audit) and evalaudit.gate.__name__ == 'gate'; "
        "assert evalaudit.audit.__module__ == 'evalaudit.api'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SAMPLE.parent)


def test_readme_python_api_doctest(monkeypatch: pytest.MonkeyPatch):
    import doctest

    monkeypatch.chdir(SAMPLE.parent)
    res = doctest.testfile(
        str(SAMPLE.parent / "README.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert res.attempted >= 5 and res.failed == 0
