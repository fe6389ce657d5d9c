"""Findings: statistics turned into statements a reviewer can act on.

A finding has a stable id derived from its kind and subject (never from a
run's order), so a review decision made today still applies tomorrow
(DESIGN section 5). Severity comes from the policy; flags from its
thresholds. This module decides; it computes no statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind, Problem
from evalaudit.render.format import fmt_effect, fmt_q, fmt_score
from evalaudit.rules import RULE_BY_KIND, Policy

__all__ = [
    "Finding",
    "agreement_findings",
    "cell_weight_effect",
    "data_quality_findings",
    "flag_labelers",
    "format_effect",
    "format_q",
    "imbalance_findings",
    "labeler_findings",
    "verdict_of",
]


@dataclass(frozen=True)
class Finding:
    """One finding (DESIGN section 5)."""

    id: str
    kind: str
    severity: str
    subject: dict[str, Any]
    message: str
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    q_value: float | None = None
    n: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    #: What correcting the finding's labels does to the headline, its slice and each model
    #: (:func:`evalaudit.stats.materiality.finding_impact`) and whether that is material.
    impact: dict[str, Any] | None = None
    #: Label rows behind the finding to spot-check (item_id, label, labeler_id, slices),
    #: at most :data:`SPOT_CHECK_ROWS`; ``n_items`` in ``impact`` counts them all.
    items: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": RULE_BY_KIND[self.kind].code,
            "rule_name": RULE_BY_KIND[self.kind].name,
            "severity": self.severity,
            "subject": self.subject,
            "effect": _num(self.effect),
            "ci": [_num(self.ci[0]), _num(self.ci[1])] if self.ci else None,
            "p_value": _num(self.p_value),
            "q_value": _num(self.q_value),
            "n": self.n,
            "message": self.message,
            "evidence": self.evidence,
            "impact": self.impact,
            "items": list(self.items),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        ci = d.get("ci")
        return cls(
            id=d["id"],
            kind=d["kind"],
            severity=d["severity"],
            subject=d.get("subject", {}),
            message=d["message"],
            effect=d.get("effect"),
            ci=(ci[0], ci[1]) if ci else None,
            p_value=d.get("p_value"),
            q_value=d.get("q_value"),
            n=d.get("n"),
            evidence=d.get("evidence", {}),
            impact=d.get("impact"),
            items=tuple(d.get("items") or ()),
        )


_SEVERITY_RANK = {"info": 0, "warn": 1, "block": 2}

#: Most label rows listed per finding for a spot check.
SPOT_CHECK_ROWS = 20


def severity_rank(severity: str) -> int:
    """Sort key of a severity: block first (0), then warn (1), then info (2)."""
    return 2 - _SEVERITY_RANK[severity]


def verdict_of(findings: list[Finding]) -> str:
    """``block`` if any finding blocks, else ``warn`` if any warns, else ``pass``."""
    worst = max((_SEVERITY_RANK[f.severity] for f in findings), default=0)
    return {0: "pass", 1: "warn", 2: "block"}[worst]


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


# ------------------------------------------------------------------ formatting
def format_effect(effect: float, kind: LabelKind) -> str:
    """An effect in the reader's units (see :mod:`evalaudit.render.format`)."""
    return fmt_effect(effect, kind)


def format_q(q: float | None) -> str:
    """``q=0.006`` or ``q<0.001`` (see :mod:`evalaudit.render.format`)."""
    return fmt_q(q, prefix="q")


# ------------------------------------------------------------------ labelers
def min_effect_for(policy: Policy, kind: LabelKind, score_sd: float) -> float:
    """The smallest |effect| flagged, on the score scale of ``kind``."""
    if kind is LabelKind.INTERVAL:
        return policy.min_effect_interval_sd * score_sd
    return policy.min_effect


#: The cell scan's p-value weights favour cells that could show this multiple of
#: the minimum effect (twice the smallest flagged effect: 10 points by default).
WEIGHT_EFFECT_MULTIPLE = 2.0


def cell_weight_effect(policy: Policy, kind: LabelKind, score_sd: float) -> float | None:
    """The reference effect of the slice scan's power weights; None for plain BH.

    ``cell_weights: power`` (the default) weights each cell by its power to
    show ``WEIGHT_EFFECT_MULTIPLE`` x the global minimum effect (per-slice
    overrides do not change the weights, so a stricter safety threshold does
    not take error budget away from safety cells); ``uniform`` is plain BH.
    """
    if policy.cell_weights != "power":
        return None
    return WEIGHT_EFFECT_MULTIPLE * min_effect_for(policy, kind, score_sd)


def flag_labelers(
    leniency: pd.DataFrame, policy: Policy, kind: LabelKind, score_sd: float
) -> np.ndarray:
    """Flag = q < fdr and |effect| >= the policy's minimum effect and n_used >= min_support."""
    q = leniency["q_value"].to_numpy(dtype=float)
    eff = leniency["effect"].to_numpy(dtype=float)
    n = leniency["n_used"].to_numpy()
    thr = min_effect_for(policy, kind, score_sd)
    with np.errstate(invalid="ignore"):
        return (q < policy.fdr) & (np.abs(eff) >= thr) & (n >= policy.min_support)


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
                id=f"{k}:{row.labeler_id}",
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


def imbalance_findings(leniency: pd.DataFrame, policy: Policy) -> list[Finding]:
    """Info findings for labelers whose item mix differs strongly from their peers'.

    Not a fault: it says that this labeler's stratified estimate relies on
    the strata capturing what makes items easy or hard.
    """
    out = []
    p = leniency["imbalance_p"].to_numpy(dtype=float)
    from evalaudit.stats.multitest import bh_qvalues

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
                id=f"assignment_imbalance:{row.labeler_id}",
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


def agreement_findings(
    alpha: float | None, level: str, n_units: int, policy: Policy
) -> list[Finding]:
    if alpha is None or not np.isfinite(alpha) or alpha >= policy.agreement_floor:
        return []
    return [
        Finding(
            id="low_agreement:overall",
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


def data_quality_findings(problems: tuple[Problem, ...], policy: Policy) -> list[Finding]:
    out = []
    for p in problems:
        out.append(
            Finding(
                id=f"data_quality:{p.check}:{p.column or 'file'}",
                kind="data_quality",
                severity=policy.severity["data_quality"],
                subject={"check": p.check, "column": p.column},
                message=f"{p.message} (fix: {p.hint})",
                n=p.count,
                evidence={"rows": list(p.rows), "examples": list(p.examples)},
            )
        )
    return out


# ------------------------------------------------------------------ cells
def flag_cells(cells: pd.DataFrame, policy: Policy, kind: LabelKind, score_sd: float) -> np.ndarray:
    """Flag = tested, q < fdr and |leniency| >= the minimum effect for that slice.

    The minimum effect of a cell is the policy's, or that of an override
    matching the cell's slice (e.g. stricter on ``category=safety``).
    """
    if cells.empty:
        return np.zeros(0, dtype=bool)
    thr = np.array(
        [
            _threshold(policy.for_slice(c, v)[0], kind, score_sd)
            for c, v in zip(cells["slice_column"], cells["slice_value"], strict=True)
        ]
    )
    q = cells["q_value"].to_numpy(dtype=float)
    eff = cells["leniency"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return cells["tested"].to_numpy(dtype=bool) & (q < policy.fdr) & (np.abs(eff) >= thr)


def _threshold(settings: dict[str, float], kind: LabelKind, score_sd: float) -> float:
    if kind is LabelKind.INTERVAL:
        return settings["min_effect_interval_sd"] * score_sd
    return settings["min_effect"]


def cell_subject(column: str, value: str) -> str:
    """``failure_mode=hallucination`` or ``category=coding&failure_mode=hallucination``."""
    cols, vals = column.split("+"), value.split("+")
    if len(cols) != len(vals):  # a value that itself holds '+'
        return f"{column}={value}"
    return "&".join(f"{c}={v}" for c, v in zip(cols, vals, strict=True))


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
        subject = cell_subject(r.slice_column, r.slice_value)
        where = r.slice_value.replace("+", " & ")
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
                id=f"tilted_slice:{r.labeler_id}:{subject}",
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


def concentration_findings(conc: pd.DataFrame, policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    if conc.empty:
        return out
    for r in conc.itertuples(index=False):
        settings, severity = (
            policy.for_slice(r.scope, r.slice_value)
            if r.scope != "overall"
            else policy.for_slice("", "")
        )
        limit = settings["max_labeler_share" if r.who == "labeler" else "max_vendor_share"]
        # the share of the slice's items this source labeled *alone*: two labelers who
        # each labeled every item share the slice, and neither carries it
        share = float(getattr(r, "sole_share", r.top_share))
        top = str(getattr(r, "top_sole", r.top)) or r.top
        if r.n_items < policy.min_support or share <= limit:
            continue
        where = "all items" if r.scope == "overall" else f"{r.scope}={r.slice_value}"
        others = "labeler" if r.who == "labeler" else "vendor"
        out.append(
            Finding(
                id=f"concentration:{r.who}:{top}:{'overall' if r.scope == 'overall' else where}",
                kind="concentration",
                severity=severity["concentration"],
                subject={"who": r.who, "id": top, "scope": r.scope, "slice_value": r.slice_value},
                message=(
                    f"{r.who} {top} alone labeled {share * 100:.0f}% of {where} "
                    f"({r.n_items} items, no other {others} saw them; policy limit "
                    f"{limit * 100:.0f}%); that slice rests on one source."
                ),
                effect=share,
                n=int(r.n_items),
                evidence={
                    "effective_n": _num(r.effective_n),
                    "n_entities": int(r.n_entities),
                    "top_share": _num(r.top_share),
                    "sole_items": int(getattr(r, "sole_items", 0)),
                    "limit": float(limit),
                },
            )
        )
    return out


def headline_finding(
    corrected: dict[str, Any] | None, policy: Policy, kind: LabelKind
) -> list[Finding]:
    if not corrected or not corrected.get("suspect_labels"):
        return []
    d = corrected["delta"]
    if d is None or not np.isfinite(d) or abs(d) <= policy.max_headline_shift:
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
            id="headline_shift:overall",
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


# ------------------------------------------------------------------ drift
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
        suffix = "" if r.order == "time" else ":batch"
        out.append(
            Finding(
                id=f"labeler_drift:{r.labeler_id}{suffix}",
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


# ------------------------------------------------------------------ gold
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
                id=f"gold_failure:{r.labeler_id}",
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


# ------------------------------------------------------------------ materiality
#: Finding kinds whose impact is measured by correcting their labels by their effect.
MATERIALITY_KINDS = ("lenient_labeler", "severe_labeler", "tilted_slice", "headline_shift")


def judge_materiality(
    finding: Finding, impact: dict[str, Any] | None, policy: Policy, kind: LabelKind
) -> Finding:
    """A significant finding blocks only if it is material; otherwise it warns.

    Material: correcting the finding's labels moves the overall headline by at
    least ``materiality.headline``, or (cells) its own slice by at least
    ``materiality.slice`` (per-slice overrides apply), or changes the order of
    the models. Thresholds are in the label kind's display unit (pts of pass
    rate, pts of an ordinal scale's range, interval label units;
    :func:`evalaudit.render.format.from_display`). ``impact`` is stored on the
    finding with the thresholds and the reason, whatever the severity.
    """
    from dataclasses import replace

    from evalaudit.render.format import from_display

    if impact is None:
        return replace(
            finding,
            impact={"assessed": False, "reason": "labels without a score (no headline)"},
        )
    sub = finding.subject
    if "slice_column" in sub:
        settings, _ = policy.for_slice(sub["slice_column"], sub["slice_value"])
    else:
        settings, _ = policy.for_slice("", "")
    th_h = from_display(settings["materiality_headline"], kind)
    th_s = from_display(settings["materiality_slice"], kind)
    d_h = abs(impact["headline"]["delta"])
    sl = impact.get("slice")
    d_s = abs(sl["delta"]) if sl else None
    reasons = []
    if d_h >= th_h:
        reasons.append("headline")
    if d_s is not None and d_s >= th_s:
        reasons.append("slice")
    if impact.get("ranking_changed"):
        reasons.append("ranking")
    material = bool(reasons)
    impact = {
        "assessed": True,
        **impact,
        "material": material,
        "material_because": reasons,
        "thresholds": {
            "headline": th_h,
            "slice": th_s,
            "unit": "score scale (see the policy's materiality for display units)",
        },
    }
    severity, message = finding.severity, finding.message
    if severity == "block" and not material:
        severity = "warn"
        what = f"moves the headline by {fmt_effect(impact['headline']['delta'], kind)}"
        if sl:
            what += f" and its slice by {fmt_effect(sl['delta'], kind)}"
        limits = fmt_effect(th_h, kind).lstrip("+")
        if sl:
            limits += f" / {fmt_effect(th_s, kind).lstrip('+')}"
        message = (
            message.rstrip(".")
            + f"; significant but not material: correcting it {what} (materiality {limits}),"
            " and the model order holds, so it warns instead of blocking."
        )
        impact["severity_before_materiality"] = "block"
    return replace(finding, severity=severity, message=message, impact=impact)


def not_assessed(finding: Finding) -> Finding:
    """A warn/block finding whose kind has no effect to correct: impact says so."""
    from dataclasses import replace

    return replace(
        finding,
        impact={
            "assessed": False,
            "reason": f"{finding.kind} has no estimated effect on scores to correct",
        },
    )
