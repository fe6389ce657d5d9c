"""EA501 supply.concentration: one labeler or vendor alone carries a slice.

What it catches:
    A scope (all items, or one slice value) in which one labeler (vendor)
    *alone* labeled more than ``max_labeler_share`` (``max_vendor_share``) of
    the items, i.e. items no other labeler (vendor) saw; the scope needs at
    least ``min_support`` items, and per-slice overrides apply. Two labelers
    who each label every item share the slice: no finding.

Why it matters:
    A slice resting on one source has no independent check: that person's
    (vendor's) mistakes are the slice's mistakes, before any bias can be
    measured, because there are no peers on those items to compare with.

How to fix or dismiss:
    Route part of the slice to other labelers (or vendors), or add a second
    label on a sample of its items. A deliberately specialised labeler (the
    only domain expert) is a reason to raise the share for that slice in an
    override, or to dismiss with
    ``evalaudit review dismiss concentration:labeler:ID:SCOPE --reason ...``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalaudit.findings import Finding, _num
from evalaudit.rules.base import PolicyKey, Rule, register
from evalaudit.rules.policy import Policy

__all__ = ["RULE", "concentration_findings"]


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
                id=RULE.finding_id(
                    {"who": r.who, "id": top, "scope": r.scope, "slice_value": r.slice_value}
                ),
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


def _conc_id(subject: dict[str, Any]) -> str:
    scope = subject["scope"]
    where = "overall" if scope == "overall" else f"{scope}={subject['slice_value']}"
    return f"concentration:{subject['who']}:{subject['id']}:{where}"


RULE = register(
    Rule(
        code="EA501",
        name="supply.concentration",
        kind="concentration",
        severity="warn",
        doc=__doc__ or "",
        uses=("min_support",),
        build=lambda inp: concentration_findings(inp.concentration, inp.policy),
        finding_id=_conc_id,
        keys=(
            PolicyKey(
                "max_labeler_share",
                float,
                0.0,
                1.0,
                0.5,
                "one labeler alone labeling more than this share of a slice's items (items no "
                "other labeler saw) is `concentration`",
                per_slice=True,
            ),
            PolicyKey(
                "max_vendor_share",
                float,
                0.0,
                1.0,
                0.9,
                "the same for one vendor",
                per_slice=True,
            ),
        ),
    )
)
