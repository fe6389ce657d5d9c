"""EA102 labeler.severe: a labeler passes less than peers on the same kind of items.

What it catches:
    The mirror of EA101: a labeler whose effect in the leniency model is
    negative, significant (q below ``fdr``), at least ``min_effect`` in size
    and on at least ``min_support`` labels.

Why it matters:
    Severe labels fail outputs peers would pass: the headline and the slices
    the labeler grades are deflated, and a model graded mostly by them looks
    worse than it is.

How to fix or dismiss:
    Spot-check the listed items and relabel as for EA101. A deliberately
    stricter rubric (e.g. a senior reviewer) is a reason to dismiss:
    ``evalaudit review dismiss severe_labeler:ID --reason ...``.
"""

from __future__ import annotations

from evalaudit.findings import Finding
from evalaudit.rules import ea101_labeler_lenient as ea101
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register

__all__ = ["RULE"]


def _severe(inp: RuleInput) -> list[Finding]:
    found = ea101.labeler_findings(inp.leniency, inp.flagged, inp.policy, inp.kind)
    return [f for f in found if f.kind == "severe_labeler"]


RULE = register(
    Rule(
        code="EA102",
        name="labeler.severe",
        kind="severe_labeler",
        severity="warn",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "materiality.headline"),
        build=_severe,
        finding_id=ea101._labeler_id("severe_labeler"),
        materiality=True,
    )
)
ea101._RULE_OF["severe_labeler"] = RULE
