"""EA801 data.quality: the input has problems that did not stop the audit.

What it catches:
    Validation warnings (identical duplicate rows dropped, items with no
    usable label, unparseable optional fields...): each check of the data
    contract that found rows it could not use but that did not stop the run.

Why it matters:
    Every row not used is a row the headline does not see; a warning that
    grows between versions is usually a pipeline bug upstream.

How to fix or dismiss:
    Follow the fix in the message (each names the column, the count and the
    first line numbers) and re-export the labels. Accepted, known gaps can be
    dismissed: ``evalaudit review dismiss data_quality:CHECK:COLUMN --reason ...``.
"""

from __future__ import annotations

from evalaudit.contract import Problem
from evalaudit.findings import Finding
from evalaudit.rules.base import Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "data_quality_findings"]


def data_quality_findings(problems: tuple[Problem, ...], policy: Policy) -> list[Finding]:
    out = []
    for p in problems:
        out.append(
            Finding(
                id=RULE.finding_id({"check": p.check, "column": p.column}),
                kind="data_quality",
                severity=policy.severity["data_quality"],
                subject={"check": p.check, "column": p.column},
                message=f"{p.message} (fix: {p.hint})",
                n=p.count,
                evidence={"rows": list(p.rows), "examples": list(p.examples)},
            )
        )
    return out


RULE = register(
    Rule(
        code="EA801",
        name="data.quality",
        kind="data_quality",
        severity="warn",
        doc=__doc__ or "",
        build=lambda inp: data_quality_findings(inp.warnings, inp.policy),
        finding_id=lambda subject: f"data_quality:{subject['check']}:{subject['column'] or 'file'}",
    )
)
