"""EA111 judge.self_preference: an LLM judge favours outputs of its own model family.

What it catches:
    A judge with a known family (``judge_family`` in the labelers table)
    grading outputs of models of that family (``model`` names the graded
    system; a model is the family's when its name equals the family or starts
    with it and a separator: ``gpt`` owns ``gpt-4o``) more favourably, relative
    to the humans, than the other models' outputs. On binary labels the
    contrast tested is the *false-pass* rate, P(judge passes | humans fail) on
    its family's outputs minus on the others' (a judge passing 20% more of its
    family's failing outputs shows about +20 pts whatever the models' pass
    rates); on other kinds the bias on own outputs minus the bias on others.
    Flagged when significant under the audit's one error budget (the judge
    family of tests), ``|effect| >= min_effect`` and both groups hold at least
    ``min_support`` compared items. ``evidence.score_effect`` is the bias
    contrast in score units (what ``impact`` corrects).

Why it matters:
    A self-preferring judge moves its own family's models up the ranking: the
    headline comparison between systems, not only their level, is then the
    judge's. ``impact.ranking_changed`` says whether correcting it changes the
    order of the models.

How to fix or dismiss:
    Grade each family's outputs with a judge of another family (or with two
    judges and report their mean), and read the listed items. If the family
    mapping is wrong (a model wrongly matched to the judge's family), fix
    ``judge_family``; otherwise dismiss:
    ``evalaudit review dismiss judge_self_preference:JUDGE --reason ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, format_effect, format_q, min_effect_for
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "self_preference_flags"]


def self_preference_flags(
    sp: pd.DataFrame, policy: Policy, kind: LabelKind, score_sd: float
) -> np.ndarray:
    """Flag = tested, q < fdr and |contrast| >= the minimum effect (false-pass on binary)."""
    if sp.empty:
        return np.zeros(0, dtype=bool)
    eff = sp["false_pass_effect" if kind is LabelKind.BINARY else "effect"].to_numpy(dtype=float)
    thr = min_effect_for(policy, kind, score_sd)
    q = sp["q_value"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return sp["tested"].to_numpy(dtype=bool) & (q < policy.fdr) & (np.abs(eff) >= thr)


def _build(inp: RuleInput) -> list[Finding]:
    j = inp.judges
    if j is None or j.self_preference.empty:
        return []
    sp = j.self_preference
    binary = inp.kind is LabelKind.BINARY
    flags = self_preference_flags(sp, inp.policy, inp.kind, inp.score_sd)
    out = []
    for r, flag in zip(sp.itertuples(index=False), flags, strict=True):
        if not flag:
            continue
        more = "more" if (r.false_pass_effect if binary else r.effect) > 0 else "fewer"
        if binary:
            what = (
                f"{r.judge} (LLM judge, family {r.family}) passed "
                f"{abs(r.false_pass_effect) * 100:.0f} pts {more} of the outputs humans fail "
                f"when they come from its own family ({r.own_models}): "
                f"{r.false_pass_own * 100:.0f}% vs {r.false_pass_other * 100:.0f}% on other models"
            )
            n = int(r.n_fail_own + r.n_fail_other)
            ci = (float(r.false_pass_ci_low), float(r.false_pass_ci_high))
            effect, p = float(r.false_pass_effect), float(r.false_pass_p)
        else:
            what = (
                f"{r.judge} (LLM judge, family {r.family}) scored its own family's outputs "
                f"({r.own_models}) {format_effect(r.effect, inp.kind)} {more} favourably, "
                "relative to the humans, than the other models'"
            )
            n = int(r.n_own + r.n_other)
            ci = (float(r.ci_low), float(r.ci_high))
            effect, p = float(r.effect), float(r.p_value)
        msg = f"{what} (n={n}, {format_q(r.q_value)})."
        subject = {"labeler_id": str(r.judge), "family": str(r.family)}
        out.append(
            Finding(
                id=RULE.finding_id(subject),
                kind="judge_self_preference",
                severity=inp.policy.severity["judge_self_preference"],
                subject=subject,
                message=msg,
                effect=effect,
                ci=ci,
                p_value=p,
                q_value=float(r.q_value),
                n=n,
                evidence={
                    "labeler_type": "model",
                    "own_models": str(r.own_models).split(",") if r.own_models else [],
                    "measure": r.measure,
                    "score_effect": _num(r.effect),
                    "score_effect_ci": [_num(r.ci_low), _num(r.ci_high)],
                    "bias_own": _num(r.bias_own),
                    "bias_other": _num(r.bias_other),
                    "n_own": int(r.n_own),
                    "n_other": int(r.n_other),
                    "false_pass_own": _num(r.false_pass_own),
                    "false_pass_other": _num(r.false_pass_other),
                    "n_fail_own": int(r.n_fail_own),
                    "n_fail_other": int(r.n_fail_other),
                },
            )
        )
    return out


def _self_id(subject: dict[str, Any]) -> str:
    return f"judge_self_preference:{subject['labeler_id']}"


RULE = register(
    Rule(
        code="EA111",
        name="judge.self_preference",
        kind="judge_self_preference",
        severity="block",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "materiality.headline"),
        build=_build,
        finding_id=_self_id,
        materiality=True,
    )
)
