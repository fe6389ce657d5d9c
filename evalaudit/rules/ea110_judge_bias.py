"""EA110 judge.bias: an LLM judge passes more (or fewer) outputs than the humans on the same items.

What it catches:
    A labeler typed ``model`` (an LLM judge: ``labeler_type`` or ``--judges``)
    whose scores differ from the human consensus on the items both graded: the
    judge's signed bias ``mean(judge - human consensus)`` over the shared items
    (the item is the unit; item-clustered SE; humans are the reference, so the
    judge's leniency never enters their baseline) is significant under the
    audit's one error budget (the judge tests get their own share of it,
    ``error_control`` as for labelers, cells and drift, at ``fdr``),
    ``|bias| >= min_effect`` and the judge shares at least ``min_support`` items
    with humans. The evidence carries Cohen's kappa against the human consensus
    and the two confusion rates (passes humans fail, fails humans pass). A judge
    covered by this rule is not also reported by EA101/EA102/EA201: the judge
    rules measure it against the humans directly.

Why it matters:
    A judge usually grades every item, so its bias is the headline's bias: a
    judge passing 25% of the outputs that truly fail inflates the pass rate by
    a quarter of the fail rate. ``impact`` says what correcting the judge's
    labels by its bias does to the headline and each model; ``headline.ppi`` is
    the headline de-biased by the human subset (prediction-powered inference).

How to fix or dismiss:
    Read the listed items, tighten the judge's rubric or prompt and regrade, or
    report ``headline.ppi`` instead of the judge-only number. If the humans'
    subset is not representative (the rule assumes a random subset), dismiss:
    ``evalaudit review dismiss judge_bias:JUDGE --reason ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, format_effect, format_q, min_effect_for
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "judge_bias_flags", "judges_covered"]


def judge_bias_flags(
    audit: pd.DataFrame, policy: Policy, kind: LabelKind, score_sd: float
) -> np.ndarray:
    """Flag = tested (>= min_support shared items), q < fdr and |bias| >= the minimum effect."""
    if audit.empty:
        return np.zeros(0, dtype=bool)
    thr = min_effect_for(policy, kind, score_sd)
    q = audit["q_value"].to_numpy(dtype=float)
    b = audit["bias"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return audit["tested"].to_numpy(dtype=bool) & (q < policy.fdr) & (np.abs(b) >= thr)


def judges_covered(inp: RuleInput) -> set[str]:
    """Judges the judge rules test (>= min_support items shared with humans)."""
    j = inp.judges
    if j is None or j.audit.empty:
        return set()
    return set(j.audit.loc[j.audit["tested"].astype(bool), "judge"].astype(str))


def _rates(r: Any) -> str:
    parts = []
    if np.isfinite(r.pass_when_humans_fail):
        parts.append(f"passes {r.pass_when_humans_fail * 100:.0f}% of what humans fail")
    if np.isfinite(r.fail_when_humans_pass):
        parts.append(f"fails {r.fail_when_humans_pass * 100:.0f}% of what they pass")
    if np.isfinite(r.kappa):
        parts.append(f"kappa {r.kappa:.2f}")
    return "; ".join(parts)


def _build(inp: RuleInput) -> list[Finding]:
    j = inp.judges
    if j is None or j.audit.empty:
        return []
    flags = judge_bias_flags(j.audit, inp.policy, inp.kind, inp.score_sd)
    out = []
    for r, flag in zip(j.audit.itertuples(index=False), flags, strict=True):
        if not flag:
            continue
        lenient = r.bias > 0
        if inp.kind is LabelKind.BINARY:
            what = (
                f"{r.judge} (LLM judge) {'passed' if lenient else 'failed'} "
                f"{abs(r.bias) * 100:.1f} pts more outputs than the humans on the same items"
            )
        else:
            what = (
                f"{r.judge} (LLM judge) scored {format_effect(r.bias, inp.kind)} "
                f"{'above' if lenient else 'below'} the humans on the same items"
            )
        rates = _rates(r)
        msg = f"{what} (n={r.n_shared} shared items, {format_q(r.q_value)}" + (
            f"; {rates})." if rates else ")."
        )
        subject = {"labeler_id": str(r.judge)}
        out.append(
            Finding(
                id=RULE.finding_id(subject),
                kind="judge_bias",
                severity=inp.policy.severity["judge_bias"],
                subject=subject,
                message=msg,
                effect=float(r.bias),
                ci=(float(r.ci_low), float(r.ci_high)),
                p_value=float(r.p_value),
                q_value=float(r.q_value),
                n=int(r.n_shared),
                evidence={
                    "labeler_type": "model",
                    "family": r.family,
                    "n_items": int(r.n_items),
                    "n_shared": int(r.n_shared),
                    "n_human_labels": int(r.n_human_labels),
                    "judge_score": _num(r.judge_score),
                    "human_score": _num(r.human_score),
                    "kappa": _num(r.kappa),
                    "pass_when_humans_fail": _num(r.pass_when_humans_fail),
                    "fail_when_humans_pass": _num(r.fail_when_humans_pass),
                    "reference": "human consensus on the shared items",
                },
            )
        )
    return out


def _judge_id(subject: dict[str, Any]) -> str:
    return f"judge_bias:{subject['labeler_id']}"


RULE = register(
    Rule(
        code="EA110",
        name="judge.bias",
        kind="judge_bias",
        severity="block",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "materiality.headline"),
        build=_build,
        finding_id=_judge_id,
        materiality=True,
    )
)
