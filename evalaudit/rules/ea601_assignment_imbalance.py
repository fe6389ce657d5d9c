"""EA601 assignment.imbalance: a labeler's item mix differs strongly from peers'.

What it catches:
    A labeler whose single-labeled items are spread over the strata (slice
    values x model) very differently from other labelers' (total variation
    distance at least ``imbalance_tv``, chi-square test with Benjamini-Hochberg
    at ``fdr``, at least ``min_support`` stratified labels).

Why it matters:
    Not a fault: the stratified leniency estimate assumes assignment at
    random *within* strata. A labeler who mostly grades an easy slice is
    compared within that slice, which is right only if the strata capture
    what makes items easy. The message says how much the comparison within
    strata changed the raw difference.

How to fix or dismiss:
    Nothing to fix in the labels. Randomise assignment within strata, or add
    the attribute that drives assignment as a slice column. An info finding
    does not affect the verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.findings import Finding, _num, format_q
from evalaudit.rules.base import PolicyKey, Rule, register
from evalaudit.rules.policy import Policy
from evalaudit.stats.multitest import bh_qvalues

__all__ = ["RULE", "imbalance_findings"]


def imbalance_findings(leniency: pd.DataFrame, policy: Policy) -> list[Finding]:
    """Info findings for labelers whose item mix differs strongly from their peers'.

    Not a fault: it says that this labeler's stratified estimate relies on
    the strata capturing what makes items easy or hard.
    """
    out = []
    p = leniency["imbalance_p"].to_numpy(dtype=float)
    q = bh_qvalues(p)
    for row, qv in zip(leniency.itertuples(index=False), q, strict=True):
        tv = row.imbalance_tv
        if not (
            np.isfinite(qv)
            and qv < policy.fdr
            and np.isfinite(tv)
            and tv >= policy.imbalance_tv
            and row.n_stratified >= policy.min_support
        ):
            continue
        explained = (
            row.raw_difference - row.effect_stratified
            if np.isfinite(row.effect_stratified)
            else float("nan")
        )
        msg = (
            f"{row.labeler_id} grades a different mix of items than peers "
            f"(total variation {tv:.2f}, {format_q(qv)}); their leniency is compared within "
            f"strata, which changes it by {-explained * 100:+.1f} pts from the raw difference."
        )
        out.append(
            Finding(
                id=RULE.finding_id({"labeler_id": row.labeler_id}),
                kind="assignment_imbalance",
                severity=policy.severity["assignment_imbalance"],
                subject={"labeler_id": row.labeler_id},
                message=msg,
                effect=float(tv),
                p_value=float(row.imbalance_p),
                q_value=float(qv),
                n=int(row.n_stratified),
                evidence={
                    "raw_difference": _num(row.raw_difference),
                    "effect_stratified": _num(row.effect_stratified),
                    "chi2": _num(row.imbalance_chi2),
                    "df": _num(row.imbalance_df),
                },
            )
        )
    return out


RULE = register(
    Rule(
        code="EA601",
        name="assignment.imbalance",
        kind="assignment_imbalance",
        severity="info",
        doc=__doc__ or "",
        uses=("min_support", "fdr"),
        build=lambda inp: imbalance_findings(inp.leniency, inp.policy),
        finding_id=lambda subject: f"assignment_imbalance:{subject['labeler_id']}",
        keys=(
            PolicyKey(
                "imbalance_tv",
                float,
                0.0,
                1.0,
                0.5,
                "item-mix distance (total variation) from peers worth an `assignment_imbalance` "
                "note",
            ),
        ),
    )
)
