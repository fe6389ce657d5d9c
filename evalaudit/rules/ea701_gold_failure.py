"""EA701 gold.failure: a labeler's accuracy on gold items is confidently below the floor.

What it catches:
    A labeler with at least ``MIN_GOLD`` (10) labels on gold (honeypot) items
    whose Wilson 95% upper bound of accuracy is below ``gold_accuracy_floor``.

Why it matters:
    Gold items are the one place the right answer is known: a labeler who
    misses them is wrong elsewhere too, in ways peers may share (so leniency
    against peers can miss it).

How to fix or dismiss:
    Check the gold answers first (a wrong gold key fails everyone); then
    retrain or remove the labeler and relabel their items. Dismiss when the
    gold set is known to be stale:
    ``evalaudit review dismiss gold_failure:ID --reason ...``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.findings import Finding
from evalaudit.rules.base import PolicyKey, Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["MIN_GOLD", "RULE", "gold_findings"]

#: Gold items a labeler needs before a gold_failure can be raised.
MIN_GOLD = 10


def gold_findings(gold: pd.DataFrame | None, policy: Policy) -> list[Finding]:
    """``gold_failure`` when a labeler's accuracy on gold items is confidently below the floor.

    Confidently: the upper end of the Wilson 95% interval is below
    ``gold_accuracy_floor``, with at least :data:`MIN_GOLD` gold labels.
    """
    out: list[Finding] = []
    if gold is None:
        return out
    for r in gold.itertuples(index=False):
        if r.n_gold < MIN_GOLD or not np.isfinite(r.gold_ci_high):
            continue
        if r.gold_ci_high >= policy.gold_accuracy_floor:
            continue
        out.append(
            Finding(
                id=RULE.finding_id({"labeler_id": r.labeler_id}),
                kind="gold_failure",
                severity=policy.severity["gold_failure"],
                subject={"labeler_id": r.labeler_id},
                message=(
                    f"{r.labeler_id} answered {r.gold_accuracy * 100:.0f}% of {r.n_gold} gold "
                    f"items correctly (95% CI {r.gold_ci_low * 100:.0f}%-"
                    f"{r.gold_ci_high * 100:.0f}%), below the policy floor of "
                    f"{policy.gold_accuracy_floor * 100:.0f}%."
                ),
                effect=float(r.gold_accuracy),
                ci=(float(r.gold_ci_low), float(r.gold_ci_high)),
                n=int(r.n_gold),
            )
        )
    return out


RULE = register(
    Rule(
        code="EA701",
        name="gold.failure",
        kind="gold_failure",
        severity="warn",
        doc=__doc__ or "",
        build=lambda inp: gold_findings(inp.gold, inp.policy),
        finding_id=lambda subject: f"gold_failure:{subject['labeler_id']}",
        keys=(
            PolicyKey(
                "gold_accuracy_floor",
                float,
                0.0,
                1.0,
                0.7,
                "accuracy on gold items below this (Wilson upper bound, >= 10 gold labels) is "
                "`gold_failure`",
            ),
        ),
    )
)
