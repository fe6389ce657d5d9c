"""YAML pass/fail fixtures per rule (sqlfluff's std_rule_cases shape).

Each ``tests/fixtures/rules/EAxxx.yml`` holds cases: a small label table (a
``csv:`` literal, or ``simulate:`` keyword arguments of
:func:`evalaudit.simulate.simulate`, deterministic by seed, with ``plants``
as :class:`~evalaudit.simulate.Plant` mappings; or ``simulate_judges:`` keyword arguments of
:func:`evalaudit.simulate.simulate_judges`, with ``judges:`` globs and an optional
``judge_family:`` mapping added as a column), an optional ``policy:``
mapping, and what the audit must and must not find: ``must`` / ``must_not``
(finding ids), ``must_kind`` / ``must_not_kind`` (true: at least one / no
finding of the rule's kind). Rule authors add cases without writing Python.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalaudit.audit import audit_ingested
from evalaudit.rules import RULE_BY_CODE, RULES, load_policy
from evalaudit.simulate import Plant, simulate, simulate_judges
from evalaudit.validate import IngestOptions, ingest

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
CASES = [
    pytest.param(p.stem, c, id=f"{p.stem}: {c['name']}")
    for p in sorted(FIXTURES.glob("EA*.yml"))
    for c in yaml.safe_load(p.read_text(encoding="utf-8"))["cases"]
]


def test_every_rule_has_a_fixture_with_a_failing_and_a_passing_case():
    codes = {p.stem for p in FIXTURES.glob("EA*.yml")}
    assert {r.code for r in RULES if not r.code.startswith("EA99")} <= codes
    for p in FIXTURES.glob("EA*.yml"):
        cases = yaml.safe_load(p.read_text(encoding="utf-8"))["cases"]
        assert any(c.get("must") or c.get("must_kind") for c in cases), p.name
        assert any(c.get("must_not_kind") or c.get("must_not") for c in cases), p.name


def _table(case: dict, tmp: Path) -> Path:
    path = tmp / "labels.csv"
    if "csv" in case:
        path.write_text(case["csv"], encoding="utf-8")
        return path
    judged = "simulate_judges" in case
    kw = dict(case["simulate_judges" if judged else "simulate"])
    kw["plants"] = [Plant(**p) for p in kw.get("plants", [])]
    if "error_range" in kw:
        kw["error_range"] = tuple(kw["error_range"])
    if judged:
        kw["judges"] = tuple(kw.get("judges", ("judge_a", "judge_b")))
        labels = simulate_judges(**kw).labels
        if case.get("judge_family"):
            labels["judge_family"] = labels["labeler_id"].map(case["judge_family"])
    else:
        labels = simulate(**kw).labels
    labels.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("code", "case"), CASES)
def test_rule_case(code: str, case: dict, tmp_path: Path) -> None:
    rule = RULE_BY_CODE[code]
    policy = None
    if case.get("policy"):
        policy = tmp_path / "policy.yaml"
        policy.write_text(yaml.safe_dump(case["policy"]), encoding="utf-8")
    opts = IngestOptions(judges=tuple(case.get("judges", ())))
    result = audit_ingested(ingest(str(_table(case, tmp_path)), opts), load_policy(policy))
    ids = {f.id for f in result.findings}
    mine = {f.id for f in result.findings if f.kind == rule.kind}
    for fid in case.get("must", []):
        assert fid in ids, f"{fid} not found; {rule.kind} findings: {sorted(mine)}"
    for fid in case.get("must_not", []):
        assert fid not in ids, fid
    if case.get("must_kind"):
        assert mine, f"no {rule.kind} finding"
    if case.get("must_not_kind"):
        assert not mine, sorted(mine)
