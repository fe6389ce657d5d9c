"""EA401 agreement.low: overall Krippendorff's alpha is below the policy floor.

What it catches:
    Items with two or more labels whose labels agree less than
    ``agreement_floor`` (Krippendorff's alpha at the label's level of
    measurement, computed over every item with 2+ labels).

Why it matters:
    When labelers disagree this much, a single label per item is a noisy
    measurement: differences between models smaller than the label noise are
    not trustworthy, whatever the bias of any one labeler. 0.667 is
    Krippendorff's lowest level for tentative conclusions, 0.8 for reliable
    ones.

How to fix or dismiss:
    Look at the per-slice alphas for the slice where agreement breaks down;
    sharpen the rubric there, calibrate labelers on examples, add labels per
    item. A task that is subjective by design may justify a lower floor in
    the policy.
"""

from __future__ import annotations

import numpy as np

from evalaudit.findings import Finding
from evalaudit.rules.base import PolicyKey, Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "agreement_findings"]


def agreement_findings(
    alpha: float | None, level: str, n_units: int, policy: Policy
) -> list[Finding]:
    if alpha is None or not np.isfinite(alpha) or alpha >= policy.agreement_floor:
        return []
    return [
        Finding(
            id=RULE.finding_id({"scope": "overall"}),
            kind="low_agreement",
            severity=policy.severity["low_agreement"],
            subject={"scope": "overall"},
            message=(
                f"Krippendorff's alpha ({level}) is {alpha:.3f} on {n_units} items with two or "
                f"more labels, below the policy floor of {policy.agreement_floor}."
            ),
            effect=float(alpha),
            n=int(n_units),
        )
    ]


RULE = register(
    Rule(
        code="EA401",
        name="agreement.low",
        kind="low_agreement",
        severity="warn",
        doc=__doc__ or "",
        build=lambda inp: agreement_findings(
            inp.agreement.alpha, inp.agreement.level, inp.agreement.n_units, inp.policy
        ),
        finding_id=lambda subject: "low_agreement:overall",
        keys=(
            PolicyKey(
                "agreement_floor",
                float,
                -1.0,
                1.0,
                0.667,
                "overall alpha below this is `low_agreement` (0.667 is Krippendorff's lowest "
                "level for tentative conclusions)",
            ),
        ),
    )
)
