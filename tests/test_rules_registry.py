"""Rules as code: the registry, the schema, rules/README.md and `evalaudit rules` agree, and a
new rule registered from outside reaches the JSON, the gate, the report and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalaudit.contract import InputError
from evalaudit.findings import Finding
from evalaudit.rules import (
    RULES,
    SHARED_KEYS,
    Policy,
    PolicyKey,
    Rule,
    RuleInput,
    all_keys,
    load_policy,
    register,
    unregister,
)
from evalaudit.rules.docs import update_readme
from tests.conftest import REPO, SAMPLE, write

DATA = SAMPLE / "labels.csv"
README = REPO / "rules" / "README.md"


def test_readme_tables_are_the_registry():
    # the committed README equals what the registry generates (python -m evalaudit.rules.docs)
    assert update_readme(README, write=False) == README.read_text(encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    for r in RULES:
        assert f"| {r.code} | {r.name} | `{r.kind}` | {r.severity} |" in text
    for k in all_keys():
        assert f"| `{k.name}` |" in text


def test_cli_lists_every_rule_and_describes_one(run_cli):
    r = run_cli("rules")
    assert r.code == 0
    lines = r.out.splitlines()
    assert [line.split()[0] for line in lines] == [x.code for x in RULES]
    for line, rule in zip(lines, RULES, strict=True):
        assert rule.name in line and rule.severity in line and rule.summary in line
        for k in rule.keys:
            assert k.name in line
    one = run_cli("rules", "EA201")
    assert one.code == 0 and "slice.tilted" in one.out and "How to fix or dismiss" in one.out
    assert run_cli("rules", "EA000").code == 2


def test_schema_is_the_registry_keys(tmp_path):
    # every key at its default loads and gives the dataclass default
    data: dict = {}
    for k in all_keys():
        if "." in k.name:
            group, member = k.name.split(".", 1)
            data.setdefault(group, {})[member] = k.default
        else:
            data[k.name] = k.default
    pol = load_policy(write(tmp_path / "all.yaml", yaml.safe_dump(data)))
    for k in all_keys():
        assert pol.get(k.name) == k.default == Policy().get(k.name), k.name
    # a key no rule declares is refused
    with pytest.raises(InputError, match="unknown key 'loudness'"):
        load_policy(write(tmp_path / "bad.yaml", "loudness: 3\n"))
    # severities: one per rule, the defaults of default.yaml are the rules' defaults
    default = yaml.safe_load((REPO / "rules" / "default.yaml").read_text())
    assert default["severity"] == {r.kind: r.severity for r in RULES}
    assert set(Policy().severity) == {r.kind for r in RULES}
    assert {k.name for k in SHARED_KEYS} <= {k.name for k in all_keys()}


def test_a_rule_without_its_docstring_sections_is_refused():
    with pytest.raises(ValueError, match="docstring lacks"):
        Rule("EA998", "toy.bare", "bare", "warn", doc="Only a summary.", build=lambda inp: [])
    with pytest.raises(ValueError, match="code"):
        Rule("X1", "toy.bare", "bare", "warn", doc=TOY_DOC, build=lambda inp: [])


# ------------------------------------------------------------------ a toy rule
TOY_DOC = """EA990 toy.busy: a labeler labeled more than `max_labels` items.

What it catches:
    A labeler with more labels than the policy allows.

Why it matters:
    A test fixture: it proves a rule module alone reaches every surface.

How to fix or dismiss:
    Unregister it.
"""


def _busy(inp: RuleInput) -> list[Finding]:
    limit = inp.policy.get("max_labels")
    out = []
    for row in inp.leniency.itertuples(index=False):
        if row.n_labels > limit:
            subject = {"labeler_id": row.labeler_id}
            out.append(
                Finding(
                    id=TOY.finding_id(subject),
                    kind=TOY.kind,
                    severity=inp.policy.severity[TOY.kind],
                    subject=subject,
                    message=f"{row.labeler_id} labeled {row.n_labels} items (limit {limit}).",
                    effect=float(row.n_labels),
                    n=int(row.n_labels),
                )
            )
    return out


TOY = Rule(
    code="EA990",
    name="toy.busy",
    kind="busy_labeler",
    severity="warn",
    doc=TOY_DOC,
    build=_busy,
    finding_id=lambda s: f"busy_labeler:{s['labeler_id']}",
    keys=(PolicyKey("max_labels", int, 1, 1e9, 600, "most labels one labeler may give"),),
)
TOY_ID = "busy_labeler:lab017"  # the sample's planted labeler gave 680 labels


@pytest.fixture
def toy_rule():
    register(TOY)
    try:
        yield TOY
    finally:
        unregister(TOY.code)


def test_a_toy_rule_reaches_json_gate_report_and_dashboard(
    toy_rule, run_cli, tmp_path, monkeypatch
):
    pol = write(tmp_path / "p.yaml", "max_labels: 650\nseverity:\n  busy_labeler: warn\n")
    # JSON of the audit
    r = run_cli("audit", DATA, "--rules", pol, "--json", tmp_path / "a.json", "-q")
    assert r.code == 0, r.err
    audit = json.loads((tmp_path / "a.json").read_text())
    f = next(f for f in audit["findings"] if f["id"] == TOY_ID)
    assert f["rule"] == "EA990" and f["rule_name"] == "toy.busy" and f["severity"] == "warn"
    assert audit["policy"]["max_labels"] == 650
    # the gate: JSON, per-rule status, JUnit case
    g = run_cli(
        "gate",
        DATA,
        "--rules",
        pol,
        "-q",
        "--json",
        tmp_path / "g.json",
        "--junit",
        tmp_path / "g.xml",
        "--home",
        tmp_path / "h",
    )
    assert g.code == 1  # lab017's own findings still block
    gate = json.loads((tmp_path / "g.json").read_text())
    assert TOY_ID in {w["id"] for w in gate["warnings"]}
    rule = next(x for x in gate["rules"] if x["code"] == "EA990")
    assert rule["status"] == "warn" and rule["findings"] == [TOY_ID]
    assert "EA990 toy.busy" in (tmp_path / "g.xml").read_text()
    # the report
    rep = run_cli("report", DATA, "--rules", pol, "--out", tmp_path / "r", "--no-history", "-q")
    assert rep.code == 1, rep.err
    assert TOY_ID in (tmp_path / "r" / "report.html").read_text()
    # the CLI's rule list
    assert "EA990  toy.busy" in run_cli("rules").out
    # the dashboard (a fresh audit: the toy rule was not registered when the cache was filled)
    AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
    import streamlit as st

    st.cache_data.clear()
    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "dash"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    shown = [df.value for df in at.dataframe if "finding" in df.value.columns]
    assert shown and TOY_ID in set(shown[0]["finding"])
    st.cache_data.clear()


def test_a_rule_cannot_take_a_used_code_or_key():
    dup = Rule("EA101", "toy.other", "other_kind", "warn", doc=TOY_DOC, build=lambda i: [])
    with pytest.raises(ValueError, match="clashes"):
        register(dup)
    clash = Rule(
        "EA991",
        "toy.clash",
        "clash_kind",
        "warn",
        doc=TOY_DOC,
        build=lambda i: [],
        keys=(PolicyKey("fdr", float, 0, 1, 0.1, "taken"),),
    )
    with pytest.raises(ValueError, match="already declared"):
        register(clash)
    assert "EA991" not in {r.code for r in RULES}


def test_moved_builders_import_from_findings():
    from evalaudit import findings
    from evalaudit.rules.ea201_slice_tilted import cell_findings

    assert findings.cell_findings is cell_findings
    assert Path(findings.__file__).name == "findings.py"
