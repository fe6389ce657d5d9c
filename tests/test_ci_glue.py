"""CI glue: GitHub annotations from the gate, the pre-commit hooks, the composite action, and
where the review store lives by default."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from evalaudit.render.annotations import MAX_PER_LEVEL, github_annotations
from tests.conftest import HEADER, REPO, SAMPLE, good_rows, write


def test_gate_annotations_name_the_blocking_findings(run_cli):
    r = run_cli("gate", SAMPLE / "labels.csv", "--annotations", "github", "-q")
    assert r.code == 1
    errors = [ln for ln in r.out.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "::error title=EA201 tilted_slice%3Alab017%3Afailure_mode=hallucination::lab017 passed"
    )
    # '%' escaped as GitHub's toolkit does (the figures themselves belong to the statistics)
    assert re.search(r"pass rate from \d+\.\d%25 to \d+\.\d%25\.$", errors[0]), errors[0]
    assert "% " not in errors[0] and not errors[0].endswith("%.")
    assert not [ln for ln in r.out.splitlines() if ln.startswith("::warning")]
    assert "::notice title=evalaudit gate::BLOCK (exit 1)" in r.out


def test_no_annotations_without_the_option(run_cli):
    r = run_cli("gate", SAMPLE / "labels.csv", "-q")
    assert r.code == 1 and "::error" not in r.out


@dataclass
class _Ref:
    role: str
    path: str


@dataclass
class _Gate:
    blocking: tuple
    warnings: tuple
    files: tuple = (_Ref("data", "labels.csv"),)
    verdict: str = "block"
    exit_code: int = 1


def test_annotations_are_capped_at_ten_per_level():
    finding = {
        "rule": "EA201",
        "id": "tilted_slice:x:c=v",
        "message": "line one\nline two",
        "kind": "tilted_slice",
    }
    dq = {
        "rule": "EA801",
        "id": "data_quality:timestamp",
        "message": "m",
        "kind": "data_quality",
        "evidence": {"rows": [38, 40]},
    }
    text = github_annotations(_Gate(blocking=(finding,) * 15, warnings=(dq,) * 3))
    lines = text.splitlines()
    assert sum(ln.startswith("::error ") for ln in lines) == MAX_PER_LEVEL == 10
    assert "::notice title=evalaudit::5 more blocking findings not shown" in text
    assert "line one%0Aline two" in text and "\nline two" not in text
    assert "::warning file=labels.csv,line=38,title=EA801 data_quality%3Atimestamp::m" in lines


def test_input_error_annotations_carry_file_and_line(run_cli, tmp_path):
    lines = good_rows(60).splitlines()
    lines[36] = lines[36].replace(",pass,", ",maybe,").replace(",fail,", ",maybe,")
    p = write(tmp_path / "labels.csv", HEADER + "\n".join(lines) + "\n")
    r = run_cli("gate", p, "--annotations", "github", "-q")
    assert r.code == 2
    assert (
        f"::error file={p},line=38,title=evalaudit label_value::column 'label': unknown label value"
        in r.out
    )


def test_review_store_defaults_to_the_git_root(run_cli, tmp_path, monkeypatch: pytest.MonkeyPatch):
    from evalaudit.reviews import default_home, home_source

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    sub = repo / "evalset" / "v2"
    sub.mkdir(parents=True)
    monkeypatch.delenv("EVALAUDIT_HOME", raising=False)
    monkeypatch.chdir(sub)
    assert home_source() == (repo.resolve() / ".evalaudit", "the git work-tree root")
    r = run_cli(
        "review",
        "dismiss",
        "tilted_slice:lab017:failure_mode=hallucination",
        "--by",
        "Dana",
        "--reason",
        "checked",
    )
    assert r.code == 0, r.err
    assert (repo / ".evalaudit" / "reviews.db").is_file()
    monkeypatch.chdir(repo)  # another directory of the same work tree sees the decision
    g = run_cli("gate", SAMPLE / "labels.csv")
    assert "review decisions from" in g.err and "(the git work-tree root)" in g.err
    assert "Dismissed (1)" in g.out
    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "home"))
    assert default_home() == tmp_path / "home"
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.delenv("EVALAUDIT_HOME")
    monkeypatch.chdir(outside)
    assert home_source() == (Path(".evalaudit"), "the current directory")


def test_pre_commit_hooks_and_action_are_well_formed():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"]: h for h in hooks}
    assert set(ids) == {"evalaudit-validate", "evalaudit-gate"}
    for h in hooks:
        assert h["entry"].split()[0] == "evalaudit" and h["language"] == "python"
        assert h["pass_filenames"] is False
    assert ids["evalaudit-gate"]["entry"].split()[1] == "gate"
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"data", "rules", "reviews"} <= set(action["inputs"])
    script = next(s["run"] for s in action["runs"]["steps"] if s.get("id") == "gate")
    assert "--annotations github" in script and "$GITHUB_STEP_SUMMARY" in script
    assert "exit $code" in script and "GITHUB_OUTPUT" in script
