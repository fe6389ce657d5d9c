"""EA101 labeler.lenient: a labeler passes more than peers on the same kind of items.

What it catches:
    A labeler whose labels are systematically more favourable than other
    labelers' on comparable items: the labeler's effect in the joint
    labeler-effects model (item effects where items have 2+ labels, stratum
    effects of every slice column x model for single-labeled items, estimated
    together so a lenient labeler never enters its peers' baseline) is
    positive, significant under the audit's one error budget at ``fdr``,
    ``|effect| >= min_effect``, and it rests on at least ``min_support`` labels.

Why it matters:
    In a single-label eval set each lenient label passes an output that peers
    would fail: the headline (and every slice the labeler grades) is inflated
    by the labeler's share times its leniency. The finding's ``impact`` says by
    how much; it blocks only when that is material.

How to fix or dismiss:
    Spot-check the listed items; relabel the labeler's items (or a sample of
    them) with another labeler, or retrain and relabel. If the labeler's items
    are genuinely easier in a way the strata miss (see assignment_imbalance),
    dismiss with ``evalaudit review dismiss lenient_labeler:ID --reason ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, format_effect, format_q
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "labeler_findings"]


def labeler_findings(
    leniency: pd.DataFrame, flagged: np.ndarray, policy: Policy, kind: LabelKind
) -> list[Finding]:
    out = []
    for row, flag in zip(leniency.itertuples(index=False), flagged, strict=True):
        if not flag:
            continue
        lenient = row.effect > 0
        k = "lenient_labeler" if lenient else "severe_labeler"
        if kind is LabelKind.BINARY:
            verb = "passed" if lenient else "failed"
            what = f"{abs(row.effect) * 100:.1f} pts more outputs than"
            msg = (
                f"{row.labeler_id} {verb} {what} peers on the same kind of items "
                f"(n={row.n_used}, {format_q(row.q_value)}; evidence: {row.evidence})."
            )
        elif kind is LabelKind.NOMINAL:
            msg = (
                f"{row.labeler_id} gave {row.label_class!r} "
                f"{format_effect(row.effect, kind)} {'more' if lenient else 'less'} often than "
                f"peers on the same kind of items (n={row.n_used}, {format_q(row.q_value)})."
            )
        else:
            msg = (
                f"{row.labeler_id} scored {format_effect(row.effect, kind)} "
                f"{'above' if lenient else 'below'} peers on the same kind of items "
                f"(n={row.n_used}, {format_q(row.q_value)}; evidence: {row.evidence})."
            )
        out.append(
            Finding(
                id=_RULE_OF[k].finding_id({"labeler_id": row.labeler_id}),
                kind=k,
                severity=policy.severity[k],
                subject={"labeler_id": row.labeler_id},
                message=msg,
                effect=float(row.effect),
                ci=(float(row.ci_low), float(row.ci_high)),
                p_value=float(row.p_value),
                q_value=float(row.q_value),
                n=int(row.n_used),
                evidence={
                    "evidence": row.evidence,
                    "n_overlap": int(row.n_overlap),
                    "n_stratified": int(row.n_stratified),
                    "effect_overlap": _num(row.effect_overlap),
                    "effect_stratified": _num(row.effect_stratified),
                    "label_class": row.label_class,
                },
            )
        )
    return out


def _lenient(inp: RuleInput) -> list[Finding]:
    found = labeler_findings(inp.leniency, inp.flagged, inp.policy, inp.kind)
    return [f for f in found if f.kind == "lenient_labeler"]


def _labeler_id(kind: str) -> Any:
    def finding_id(subject: dict[str, Any]) -> str:
        return f"{kind}:{subject['labeler_id']}"

    return finding_id


RULE = register(
    Rule(
        code="EA101",
        name="labeler.lenient",
        kind="lenient_labeler",
        severity="block",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "materiality.headline"),
        build=_lenient,
        finding_id=_labeler_id("lenient_labeler"),
        materiality=True,
    )
)
#: finding kind -> rule, for the two kinds labeler_findings raises (EA102 registers the other)
_RULE_OF: dict[str, Rule] = {"lenient_labeler": RULE}
