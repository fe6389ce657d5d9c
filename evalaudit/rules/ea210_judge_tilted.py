"""EA210 judge.tilted: an LLM judge departs from the humans on one slice beyond its bias elsewhere.

What it catches:
    A judge's bias against the human consensus on one slice value (each slice
    column, and ``model``: a judge favouring one graded system) minus its bias
    on its other shared items (the *tilt*, as the slice scan tests a cell's
    tilt, so a judge lenient everywhere is one EA110 finding, not one per
    slice) is significant under the audit's one error budget (the judge tests
    get their own share of it, ``error_control`` as for labelers, cells and
    drift), ``|tilt|`` is at least the slice's ``min_effect`` (per-slice
    overrides apply), and the slice value and the rest each hold at least
    ``min_support`` items shared with humans. ``effect`` is the judge's bias on
    the slice; ``evidence.tilt`` the difference tested.

Why it matters:
    A judge's blind spot is usually one failure mode (a hallucination it
    cannot see, a refusal it rewards): the slice's pass rate moves while the
    judge's overall bias stays small. ``impact`` gives the slice before and
    after correcting the judge's labels there.

How to fix or dismiss:
    Read the listed items; add the failure mode to the judge's rubric (or
    route the slice to humans) and regrade. If the humans' subset of the slice
    is not comparable to the judge's items, dismiss:
    ``evalaudit review dismiss judge_tilt:JUDGE:column=value --reason ...``.
"""

from __future__ import annotations

from typing import Any

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, cell_subject, flag_cells, format_effect, format_q
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register

__all__ = ["RULE"]


def _build(inp: RuleInput) -> list[Finding]:
    j = inp.judges
    if j is None or j.slices.empty:
        return []
    # tested, q < fdr, |tilt| >= the slice's minimum effect: the slice scan's flag rule
    flags = flag_cells(j.slices, inp.policy, inp.kind, inp.score_sd)
    out = []
    for r, flag in zip(j.slices.itertuples(index=False), flags, strict=True):
        if not flag:
            continue
        where = f"{r.slice_value} (graded model)" if r.slice_column == "model" else r.slice_value
        lenient = r.bias > 0
        if inp.kind is LabelKind.BINARY:
            what = (
                f"{r.judge} (LLM judge) {'passed' if lenient else 'failed'} "
                f"{abs(r.bias) * 100:.0f} pts more {where} outputs than the humans"
            )
        else:
            what = (
                f"{r.judge} (LLM judge) scored {where} items "
                f"{format_effect(r.bias, inp.kind)} {'above' if lenient else 'below'} the humans"
            )
        msg = (
            f"{what} on the same items (n={r.n_shared}, {format_q(r.q_value)}; "
            f"{format_effect(r.tilt, inp.kind)} vs its bias elsewhere)."
        )
        subject = {
            "labeler_id": str(r.judge),
            "slice_column": str(r.slice_column),
            "slice_value": str(r.slice_value),
        }
        out.append(
            Finding(
                id=RULE.finding_id(subject),
                kind="judge_tilt",
                severity=inp.policy.for_slice(r.slice_column, r.slice_value)[1]["judge_tilt"],
                subject=subject,
                message=msg,
                effect=float(r.bias),
                ci=(float(r.ci_low), float(r.ci_high)),
                p_value=float(r.tilt_p),
                q_value=float(r.q_value),
                n=int(r.n_shared),
                evidence={
                    "labeler_type": "model",
                    "tilt": _num(r.tilt),
                    "tilt_ci": [_num(r.tilt_ci_low), _num(r.tilt_ci_high)],
                    "tilt_p": _num(r.tilt_p),
                    "bias_p": _num(r.p_value),
                    "bias_outside": _num(r.bias_outside),
                    "n_outside": int(r.n_outside),
                    "reference": "human consensus on the shared items",
                },
            )
        )
    return out


def _tilt_id(subject: dict[str, Any]) -> str:
    return (
        f"judge_tilt:{subject['labeler_id']}:"
        f"{cell_subject(subject['slice_column'], subject['slice_value'])}"
    )


RULE = register(
    Rule(
        code="EA210",
        name="judge.tilted",
        kind="judge_tilt",
        severity="block",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "materiality.headline", "materiality.slice"),
        build=_build,
        finding_id=_tilt_id,
        materiality=True,
    )
)
