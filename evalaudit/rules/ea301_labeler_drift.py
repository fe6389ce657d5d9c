"""EA301 labeler.drift: a labeler's leniency changes over time or over batches.

What it catches:
    A labeler whose leniency residuals, in time order (with timestamps) or
    batch order (with batches), shift at one point: a CUSUM change-point test
    with a calibrated p-value, under the audit's one error budget at ``fdr``,
    a change of at least ``min_effect``, and at least ``min_support`` labels.

Why it matters:
    A labeler who was fine at onboarding and drifted later passes every
    one-off audit of their early work; the labels after the change carry the
    bias into the current version.

How to fix or dismiss:
    Compare the labeler's labels before and after the change time in the
    report's drift chart (``impact`` corrects the labels from the change time on by
    the change; drift in batch order is not assessed); relabel the items after it, and check what changed
    then (rubric, tooling, workload). Dismiss a known, accepted change with
    ``evalaudit review dismiss labeler_drift:ID --reason ...``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, format_effect, format_q
from evalaudit.rules.base import BUDGET_KEYS, Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "drift_findings"]


def drift_findings(drift: pd.DataFrame, policy: Policy, kind: LabelKind) -> list[Finding]:
    """One ``labeler_drift`` finding per flagged labeler (time order first, then batch order)."""
    out: list[Finding] = []
    if drift.empty:
        return out
    seen: set[str] = set()
    for r in (
        drift[drift["flagged"]]
        .sort_values(["order", "p_value"], ascending=[False, True])
        .itertuples(index=False)
    ):
        if r.labeler_id in seen:
            continue
        seen.add(r.labeler_id)
        turned = "more lenient" if r.effect > 0 else "stricter"
        when = f"from {r.change_at}" if r.order == "time" else f"from batch {r.change_at}"
        out.append(
            Finding(
                id=RULE.finding_id({"labeler_id": r.labeler_id, "order": r.order}),
                kind="labeler_drift",
                severity=policy.severity["labeler_drift"],
                subject={"labeler_id": r.labeler_id, "order": r.order},
                message=(
                    f"{r.labeler_id} turned {format_effect(abs(r.effect), kind).lstrip('+')} "
                    f"{turned} {when} (vs peers: {format_effect(r.before, kind)} before, "
                    f"{format_effect(r.after, kind)} after; n={r.n}, {format_q(r.q_value)})."
                ),
                effect=float(r.effect),
                p_value=float(r.p_value),
                q_value=float(r.q_value),
                n=int(r.n),
                evidence={
                    "order": r.order,
                    "change_at": r.change_at,
                    "before": _num(r.before),
                    "after": _num(r.after),
                    "statistic": _num(r.statistic),
                    "span": [r.span_start, r.span_end],
                },
            )
        )
    return out


def _drift_id(subject: dict[str, Any]) -> str:
    suffix = "" if subject.get("order", "time") == "time" else ":batch"
    return f"labeler_drift:{subject['labeler_id']}{suffix}"


RULE = register(
    Rule(
        code="EA301",
        name="labeler.drift",
        kind="labeler_drift",
        severity="warn",
        doc=__doc__ or "",
        uses=BUDGET_KEYS,
        build=lambda inp: drift_findings(inp.drift, inp.policy, inp.kind),
        finding_id=_drift_id,
        materiality=True,
    )
)
