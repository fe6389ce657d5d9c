"""EA201 slice.tilted: a labeler deviates from peers on one slice (a labeler x slice cell).

What it catches:
    A labeler lenient (or severe) on one slice value, or one pair of values
    (``category=coding & failure_mode=hallucination``), beyond its own
    leniency elsewhere: the cell's *tilt* (its effect against what the
    labeler's other labels predict, in the joint labeler-effects model) is
    significant under the audit's one error budget (by default weighted Holm
    over labelers, cells and drift at ``fdr``, see ``error_control``), ``|tilt|`` is at least the
    slice's ``min_effect`` (per-slice overrides apply) and the cell has at
    least ``min_support`` labels. A labeler lenient everywhere is one EA101
    finding, not one finding per slice. A flagged pair cell folds into a
    flagged one-column cell of the same labeler that contains it.

Why it matters:
    A labeler can be fair overall and lenient on exactly the failure mode a
    slice metric is read for (hallucination, safety); the slice's pass rate
    then moves while the labeler's overall leniency stays small. ``impact``
    gives the slice's pass rate before and after correcting the cell.

How to fix or dismiss:
    Spot-check the listed items of the cell; relabel the cell's items, or
    clarify the rubric for that slice and relabel. If the rubric for the
    slice changed on purpose, dismiss:
    ``evalaudit review dismiss tilted_slice:ID:column=value --reason ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.findings import Finding, _num, cell_subject, format_effect, format_q
from evalaudit.render.format import fmt_score
from evalaudit.rules.base import BUDGET_KEYS, Rule, RuleInput, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "cell_findings"]


def cell_findings(
    cells: pd.DataFrame,
    flagged: np.ndarray,
    policy: Policy,
    kind: LabelKind,
    slice_effects: dict[tuple[str, str, str], tuple[float, float]],
) -> list[Finding]:
    """One ``tilted_slice`` finding per flagged cell.

    A flagged cell of two columns is folded into a flagged one-column cell of
    the same labeler that contains it (it says the same thing on fewer labels).
    ``slice_effects`` maps (labeler_id, column, value) to the slice's headline
    before and after correcting that cell's labels.
    """
    out: list[Finding] = []
    f = cells[flagged]
    singles = {
        (r.labeler_id, c, v)
        for r in f.itertuples()
        if "+" not in r.slice_column
        for c, v in [(r.slice_column, r.slice_value)]
    }
    for r in f.itertuples(index=False):
        if "+" in r.slice_column:
            parts = zip(r.slice_column.split("+"), r.slice_value.split("+"), strict=False)
            if any((r.labeler_id, c, v) in singles for c, v in parts):
                continue
        where = r.slice_value.replace("+", " & ")
        if r.slice_column == "model":
            where = f"{r.slice_value} (graded model)"  # a graded system: say which one
        lenient = r.leniency > 0
        if kind is LabelKind.BINARY:
            what = (
                f"{r.labeler_id} {'passed' if lenient else 'failed'} "
                f"{abs(r.leniency) * 100:.0f} pts more {where} outputs than peers"
            )
        else:
            what = (
                f"{r.labeler_id} scored {where} items {format_effect(r.leniency, kind)} "
                f"{'above' if lenient else 'below'} peers"
            )
        msg = (
            f"{what} on the same kind of items (n={r.n}, {format_q(r.q_value)}; "
            f"{format_effect(r.tilt, kind)} vs its own labels elsewhere)"
        )
        before_after = slice_effects.get((r.labeler_id, r.slice_column, r.slice_value))
        if before_after and kind is LabelKind.BINARY:
            b, a = before_after
            msg += (
                f"; correcting these labels moves the {where} pass rate from "
                f"{fmt_score(b, kind)} to {fmt_score(a, kind)}"
            )
        out.append(
            Finding(
                id=RULE.finding_id(
                    {
                        "labeler_id": r.labeler_id,
                        "slice_column": r.slice_column,
                        "slice_value": r.slice_value,
                    }
                ),
                kind="tilted_slice",
                severity=policy.for_slice(r.slice_column, r.slice_value)[1]["tilted_slice"],
                subject={
                    "labeler_id": r.labeler_id,
                    "slice_column": r.slice_column,
                    "slice_value": r.slice_value,
                },
                message=msg + ".",
                effect=float(r.leniency),
                ci=(float(r.ci_low), float(r.ci_high)),
                p_value=float(r.p_value),
                q_value=float(r.q_value),
                n=int(r.n),
                evidence={
                    "tilt": _num(r.tilt),
                    "tilt_ci": [_num(r.tilt_ci_low), _num(r.tilt_ci_high)],
                    "tilt_p": _num(r.tilt_p),
                    "leniency_outside": _num(r.leniency_outside),
                    "evidence": r.evidence,
                    "n_overlap": int(r.n_overlap),
                    "n_stratified": int(r.n_stratified),
                },
            )
        )
    return out


def _cell_id(subject: dict[str, Any]) -> str:
    return (
        f"tilted_slice:{subject['labeler_id']}:"
        f"{cell_subject(subject['slice_column'], subject['slice_value'])}"
    )


def _build(inp: RuleInput) -> list[Finding]:
    return cell_findings(inp.cells, inp.cell_flags, inp.policy, inp.kind, inp.cell_slice_effects)


RULE = register(
    Rule(
        code="EA201",
        name="slice.tilted",
        kind="tilted_slice",
        severity="block",
        doc=__doc__ or "",
        uses=(*BUDGET_KEYS, "cell_weights", "materiality.headline", "materiality.slice"),
        build=_build,
        finding_id=_cell_id,
        materiality=True,
    )
)
