"""Findings: statistics turned into statements a reviewer can act on.

A finding has a stable id derived from its kind and subject (never from a
run's order), so a review decision made today still applies tomorrow
(DESIGN section 5). Severity comes from the policy; flags from its
thresholds. This module decides; it computes no statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evalaudit.contract import LabelKind
from evalaudit.render.format import fmt_effect, fmt_q
from evalaudit.verdicts import severity_rank, verdict_of_severities

if TYPE_CHECKING:
    from evalaudit.rules.policy import Policy

__all__ = [
    "Finding",
    "cell_weight_effect",
    "flag_labelers",
    "format_effect",
    "format_q",
    "severity_rank",
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
        from evalaudit.rules import RULE_BY_KIND

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


#: Most label rows listed per finding for a spot check.
SPOT_CHECK_ROWS = 20


def verdict_of(findings: list[Finding]) -> str:
    """``block`` if any finding blocks, else ``warn`` if any warns, else ``pass``."""
    return verdict_of_severities(f.severity for f in findings)


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


# ------------------------------------------------------------------ cells
def flag_cells(cells: pd.DataFrame, policy: Policy, kind: LabelKind, score_sd: float) -> np.ndarray:
    """Flag = tested, q < fdr and |tilt| >= the minimum effect for that slice.

    The test is the cell's *tilt* (its effect against what the labeler's
    other labels predict, :mod:`evalaudit.stats.joint`), not its effect: a
    labeler lenient everywhere is one lenient labeler, not one finding per
    slice. The minimum effect of a cell is the policy's, or that of an
    override matching the cell's slice (e.g. stricter on ``category=safety``).
    A table without a ``tilt_se`` column (v0.1 cells) is flagged on ``leniency``.
    """
    if cells.empty:
        return np.zeros(0, dtype=bool)
    # one threshold per distinct slice (a big table repeats each for every labeler)
    keys = pd.MultiIndex.from_arrays(
        [cells["slice_column"].astype(str), cells["slice_value"].astype(str)]
    )
    codes, uniq = pd.factorize(keys)
    per_slice = np.array(
        [_threshold(policy.for_slice(c, v)[0], kind, score_sd) for c, v in uniq], dtype=float
    )
    thr = per_slice[codes]
    q = cells["q_value"].to_numpy(dtype=float)
    eff = cells["tilt" if "tilt_se" in cells.columns else "leniency"].to_numpy(dtype=float)
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


# ------------------------------------------------------------------ drift
# ------------------------------------------------------------------ gold
# ------------------------------------------------------------------ materiality
def materiality_kinds() -> tuple[str, ...]:
    """Finding kinds whose impact is measured by correcting their labels by their effect
    (the rules registered with ``materiality=True``)."""
    from evalaudit.rules import RULES

    return tuple(r.kind for r in RULES if r.materiality)


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


# ------------------------------------------------------------------ moved
#: Finding builders that moved into their rule's module (issue 13); importing them from
#: here keeps working.
_MOVED = {
    "labeler_findings": "ea101_labeler_lenient",
    "cell_findings": "ea201_slice_tilted",
    "drift_findings": "ea301_labeler_drift",
    "agreement_findings": "ea401_agreement_low",
    "concentration_findings": "ea501_supply_concentration",
    "imbalance_findings": "ea601_assignment_imbalance",
    "gold_findings": "ea701_gold_failure",
    "MIN_GOLD": "ea701_gold_failure",
    "data_quality_findings": "ea801_data_quality",
    "headline_finding": "ea901_headline_shift",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"evalaudit.rules.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
