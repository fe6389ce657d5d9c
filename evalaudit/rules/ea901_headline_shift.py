"""EA901 headline.shift: correcting every suspect label moves the headline more than allowed.

What it catches:
    The suspect labels of all flagged labelers and cells together, each
    shifted once by the effect estimated on the labels it corrects (a
    partition: a label in a flagged cell uses the cell's estimate), move the
    headline by more than ``max_headline_shift`` (score scale: 0.01 = 1 pt).

Why it matters:
    Each finding may be small; together they can move the number the eval
    reports. This is the one finding about the headline itself.

How to fix or dismiss:
    Fix the findings that contribute (their ``impact`` says how much each
    moves the headline); dismissed findings' labels are not suspect, so the
    shift is recomputed without them. A finding blocks only when material
    (``materiality``), this one included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, format_effect
from evalaudit.render.format import fmt_score
from evalaudit.rules.base import PolicyKey, Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "headline_finding"]


def headline_finding(
    corrected: dict[str, Any] | None, policy: Policy, kind: LabelKind
) -> list[Finding]:
    if not corrected or not corrected.get("suspect_labels"):
        return []
    d = corrected["delta"]
    if d is None or not np.isfinite(d) or abs(d) <= policy.max_headline_shift:
        return []
    if not corrected.get("delta_ci"):
        return []
    lo, hi = corrected["delta_ci"]
    # the limit is on the score scale; say it in the same unit as the delta
    limit = format_effect(policy.max_headline_shift, kind).lstrip("+")
    msg = (
        f"Correcting the {corrected['suspect_labels']} suspect labels moves the headline from "
        f"{fmt_score(corrected['score'], kind)} to {fmt_score(corrected['score_corrected'], kind)} "
        f"({format_effect(d, kind)}, 95% CI {format_effect(lo, kind)} to "
        f"{format_effect(hi, kind)}; policy limit {limit})"
    )
    if corrected.get("ranking_changed"):
        msg += "; the order of the models changes"
    return [
        Finding(
            id=RULE.finding_id({"scope": "overall"}),
            kind="headline_shift",
            severity=policy.severity["headline_shift"],
            subject={"scope": "overall"},
            message=msg + ".",
            effect=float(d),
            ci=(float(lo), float(hi)),
            n=int(corrected["items"]),
            evidence={"method": corrected.get("method")},
        )
    ]


RULE = register(
    Rule(
        code="EA901",
        name="headline.shift",
        kind="headline_shift",
        severity="block",
        doc=__doc__ or "",
        uses=("materiality.headline",),
        build=lambda inp: headline_finding(
            inp.headline and inp.headline.get("corrected"), inp.policy, inp.kind
        ),
        finding_id=lambda subject: "headline_shift:overall",
        materiality=True,
        keys=(
            PolicyKey(
                "max_headline_shift",
                float,
                0.0,
                1e9,
                0.01,
                "\\|headline change\\| once suspect labels are corrected (0.01 = 1 point)",
            ),
        ),
    )
)
