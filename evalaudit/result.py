"""AuditResult: the typed, immutable result every surface renders.

It serializes to the stable JSON contract of DESIGN section 6 and back.
Renderers (text, Markdown, the gate, the dashboard) only read it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalaudit import __version__
from evalaudit.findings import Finding
from evalaudit.headline import Headline

__all__ = ["SCHEMA_VERSION", "AuditResult", "clean_json"]

SCHEMA_VERSION = 1

#: Columns of the labelers table as written to JSON (DESIGN names first, extras after).
LABELER_FIELDS = (
    "labeler_id",
    "n_labels",
    "share",
    "leniency",
    "ci",
    "p_value",
    "q_value",
    "evidence",
    "kappa",
    "flagged",
    "se",
    "n_used",
    "n_overlap",
    "effect_overlap",
    "n_stratified",
    "effect_stratified",
    "n_unmatched",
    "raw_difference",
    "imbalance_tv",
    "imbalance_p",
    "label_class",
    "shrunk",
    "vendor",
    "n_kappa",
    "alpha_without",
    "alpha_delta",
    "ds_quality",
    "ds_converged",
    "n_gold",
    "gold_accuracy",
    "gold_ci_low",
    "gold_ci_high",
    "labeler_type",
    "judge_family",
)

#: Fields of each record of the JSON's ``judges`` table (one per LLM judge), in order;
#: ``ci`` is ``[ci_low, ci_high]``, ``per_slice`` and ``self_preference`` are nested.
JUDGE_FIELDS = (
    "judge",
    "family",
    "n_items",
    "n_shared",
    "n_human_labels",
    "judge_score",
    "human_score",
    "bias",
    "ci",
    "se",
    "p_value",
    "q_value",
    "flagged",
    "kappa",
    "n_kappa",
    "pass_when_humans_fail",
    "n_humans_fail",
    "fail_when_humans_pass",
    "n_humans_pass",
)


def clean_json(x: Any) -> Any:
    """Make a value JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean_json(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if x is pd.NA or x is pd.NaT:
        return None
    return x


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit found (see DESIGN section 6 for the JSON form).

    ``labelers`` is a DataFrame with the columns of :data:`LABELER_FIELDS`
    (``ci`` split into ``ci_low``/``ci_high``); ``cells`` and ``drift`` are
    empty until those detectors run.
    """

    input: dict[str, Any]
    label: dict[str, Any]
    agreement: dict[str, Any]
    labelers: pd.DataFrame
    findings: tuple[Finding, ...]
    verdict: str
    policy: dict[str, Any]
    headline: dict[str, Any] | None = None
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    concentration: pd.DataFrame = field(default_factory=pd.DataFrame)
    scan: dict[str, Any] = field(default_factory=dict)
    #: Drift timelines of the labelers the report draws (``drift_labelers``), computed by
    #: the audit: ``stats.timeline.TIMELINE_COLUMNS``.
    timelines: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()
    #: The judge-vs-human audit (empty without LLM judges): one row per judge
    #: (:data:`evalaudit.stats.judges.JUDGE_COLUMNS` + ``q_value``, ``flagged``), one per
    #: judge x slice value (``SLICE_BIAS_COLUMNS`` + ``q_value``, ``flagged``: its tilt), one
    #: per judge with a family (``SELF_PREFERENCE_COLUMNS`` + ``q_value``, ``flagged``).
    judges: pd.DataFrame = field(default_factory=pd.DataFrame)
    judge_slices: pd.DataFrame = field(default_factory=pd.DataFrame)
    judge_self_preference: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Review decisions applied by the audit (``ReviewOutcome.to_dict()``), or None when
    #: the audit was given none; ``review_outcome`` holds the objects (not serialized).
    reviews: dict[str, Any] | None = None
    review_outcome: Any = field(default=None, compare=False, repr=False)
    evalaudit_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        # the tables' records are JSON-safe already: only the rest is walked by clean_json
        out = clean_json(
            {
                "schema_version": self.schema_version,
                "evalaudit_version": self.evalaudit_version,
                "input": self.input,
                "label": self.label,
                "agreement": self.agreement,
                "labelers": None,
                "cells": None,
                "drift": None,
                "concentration": None,
                "scan": self.scan,
                "timelines": None,
                "headline": self.headline,
                "judges": None,
                "findings": [f.to_dict() for f in self.findings],
                "verdict": self.verdict,
                "policy": self.policy,
                "notes": list(self.notes),
                "reviews": self.reviews,
            }
        )
        out["labelers"] = _labeler_records(self.labelers)
        out["cells"] = _cell_records(self.cells)
        out["drift"] = _records(self.drift)
        out["concentration"] = _records(self.concentration)
        out["timelines"] = _records(self.timelines)
        out["judges"] = _judge_records(self.judges, self.judge_slices, self.judge_self_preference)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditResult:
        labelers = pd.DataFrame(d.get("labelers", []))
        if "ci" in labelers.columns:
            ci = labelers.pop("ci")
            labelers["ci_low"] = [c[0] if c else None for c in ci]
            labelers["ci_high"] = [c[1] if c else None for c in ci]
        return cls(
            input=d["input"],
            label=d.get("label", {}),
            agreement=d["agreement"],
            labelers=labelers,
            findings=tuple(Finding.from_dict(f) for f in d["findings"]),
            verdict=d["verdict"],
            policy=d.get("policy", {}),
            headline=d.get("headline"),
            cells=_cells_from_records(d.get("cells", [])),
            drift=pd.DataFrame(d.get("drift", [])),
            concentration=pd.DataFrame(d.get("concentration", [])),
            scan=d.get("scan", {}),
            timelines=pd.DataFrame(d.get("timelines", [])),
            notes=tuple(d.get("notes", [])),
            **_judges_from_records(d.get("judges") or []),
            reviews=d.get("reviews"),
            evalaudit_version=d["evalaudit_version"],
            schema_version=d["schema_version"],
        )

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ notebooks
    @property
    def findings_table(self) -> pd.DataFrame:
        """The findings as a DataFrame, one row per finding (the JSON's fields as columns)."""
        rows = [f.to_dict() for f in self.findings]
        cols = ["id", "kind", "severity", "rule", "message", "effect", "q_value", "n"]
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=cols)
        return df[[c for c in cols if c in df.columns] + [c for c in df.columns if c not in cols]]

    def _counts(self) -> dict[str, int]:
        out = {"block": 0, "warn": 0, "info": 0}
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out

    def __repr__(self) -> str:
        inp = self.input
        c = self._counts()
        score = (self.headline or {}).get("score")
        head = f", headline {score * 100:.1f}%" if isinstance(score, float) else ""
        flagged = self.flagged_labelers()
        cells = self.cells
        if cells is not None and len(cells) and "flagged" in cells:
            hit = cells[cells["flagged"].astype(bool)]
            flagged = flagged + [
                f"{r.labeler_id} x {r.slice_column}={r.slice_value}" for r in hit.itertuples()
            ]
        return (
            f"AuditResult(verdict={self.verdict!r}, rows used {inp.get('rows_used', 0):,} of "
            f"{inp.get('rows_read', 0):,}, {inp.get('items', 0):,} items, "
            f"{inp.get('labelers', 0):,} labelers, {inp.get('label_kind')}{head}; findings "
            f"{c['block']} block, {c['warn']} warn, {c['info']} info"
            + (f"; flagged: {', '.join(flagged[:5])}" if flagged else "")
            + ")"
        )

    def _repr_html_(self) -> str:
        """A short summary for notebooks: verdict, headline, rows, the blocking and warning
        findings, the labelers furthest from their peers."""
        from html import escape

        inp, c = self.input, self._counts()
        score = (self.headline or {}).get("score")
        parts = [
            f"<div><b>evalaudit</b>: verdict <b>{escape(self.verdict.upper())}</b>",
            f" &middot; {inp.get('rows_used', 0):,} of {inp.get('rows_read', 0):,} rows used, "
            f"{inp.get('items', 0):,} items, {inp.get('labelers', 0):,} labelers",
            f" &middot; headline {score * 100:.1f}%" if isinstance(score, float) else "",
            f" &middot; findings {c['block']} block, {c['warn']} warn, {c['info']} info</div>",
        ]
        shown = [f for f in self.findings if f.severity in ("block", "warn")]
        if shown:
            parts.append("<table><tr><th>severity</th><th>finding</th><th>message</th></tr>")
            for f in shown[:20]:
                parts.append(
                    f"<tr><td>{escape(f.severity)}</td><td><code>{escape(f.id)}</code></td>"
                    f"<td>{escape(f.message)}</td></tr>"
                )
            parts.append("</table>")
        if not self.labelers.empty and "leniency" in self.labelers.columns:
            top = self.labelers.reindex(
                self.labelers["leniency"].abs().sort_values(ascending=False).index
            ).head(5)
            cols = [
                c for c in ("labeler_id", "n_labels", "leniency", "q_value", "flagged") if c in top
            ]
            parts.append(top[cols].to_html(index=False, float_format=lambda x: f"{x:.3g}"))
        return "".join(parts)

    # ------------------------------------------------------------------ helpers
    @property
    def typed_headline(self) -> Headline | None:
        """The headline as frozen dataclasses (:class:`evalaudit.headline.Headline`)."""
        return Headline.from_dict(self.headline)

    def flagged_labelers(self) -> list[str]:
        if self.labelers.empty:
            return []
        return self.labelers.loc[self.labelers["flagged"].astype(bool), "labeler_id"].tolist()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df``'s rows as JSON-safe dicts: ``clean_json`` of ``to_dict(orient="records")``.

    Built column by column (a float column's non-finite values found by numpy, only
    object columns walked value by value): an audit of 10^7 labels has ~22,000 cells of
    ~40 fields, and the row-by-row walk took ~1 s of each ``to_dict``.
    """
    if df is None or df.empty:
        return []
    keys = [str(c) for c in df.columns]
    columns = [_column_values(df.iloc[:, j]) for j in range(df.shape[1])]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


def _column_values(s: pd.Series) -> list[Any]:
    """One column's values as ``clean_json`` gives them from ``to_dict(orient="records")``."""
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else "O"
    if kind in ("i", "u", "b"):
        return s.to_numpy().tolist()
    if kind == "f":
        arr = s.to_numpy()
        out = arr.tolist()
        for i in np.flatnonzero(~np.isfinite(arr)).tolist():
            out[i] = None
        return out
    return [clean_json(v) for v in s.tolist()]


def _labeler_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in _records(df):
        rec = {k: r.get(k) for k in LABELER_FIELDS if k in r or k == "ci"}
        rec["ci"] = [r.get("ci_low"), r.get("ci_high")]
        out.append(rec)
    return out


def _cell_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Cells as in DESIGN section 6 (``ci`` and ``tilt_ci`` as pairs), plus their evidence."""
    out = []
    for r in _records(df):
        r["ci"] = [r.pop("ci_low", None), r.pop("ci_high", None)]
        r["tilt_ci"] = [r.pop("tilt_ci_low", None), r.pop("tilt_ci_high", None)]
        r.pop("labeler", None)
        out.append(r)
    return out


def _cells_from_records(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for pair, (lo, hi) in (
        ("ci", ("ci_low", "ci_high")),
        ("tilt_ci", ("tilt_ci_low", "tilt_ci_high")),
    ):
        if pair in df.columns:
            vals = df.pop(pair)
            df[lo] = [v[0] if v else None for v in vals]
            df[hi] = [v[1] if v else None for v in vals]
    return df


def _judge_records(
    judges: pd.DataFrame, slices: pd.DataFrame, self_pref: pd.DataFrame
) -> list[dict[str, Any]]:
    """The JSON ``judges`` table: per judge its audit, its slices and its self-preference."""
    if judges is None or judges.empty:
        return []
    by_slice: dict[str, list[dict[str, Any]]] = {}
    for r in _records(slices):
        r["ci"] = [r.pop("ci_low", None), r.pop("ci_high", None)]
        r["tilt_ci"] = [r.pop("tilt_ci_low", None), r.pop("tilt_ci_high", None)]
        for k in ("labeler", "test_p"):
            r.pop(k, None)
        by_slice.setdefault(str(r.pop("judge")), []).append(r)
    by_self: dict[str, dict[str, Any]] = {}
    for r in _records(self_pref):
        for pair in ("ci", "false_pass_ci"):
            r[pair] = [r.pop(f"{pair}_low", None), r.pop(f"{pair}_high", None)]
        for k in ("labeler", "test_p", "family"):
            r.pop(k, None)
        own = r.get("own_models")
        r["own_models"] = str(own).split(",") if own else []
        by_self[str(r.pop("judge"))] = r
    out = []
    for r in _records(judges):
        rec = {k: r.get(k) for k in JUDGE_FIELDS if k != "ci"}
        rec["ci"] = [r.get("ci_low"), r.get("ci_high")]
        rec = {k: rec[k] for k in JUDGE_FIELDS}
        rec["tested"] = r.get("tested")
        rec["per_slice"] = by_slice.get(str(r["judge"]), [])
        rec["self_preference"] = by_self.get(str(r["judge"]))
        out.append(clean_json(rec))
    return out


def _judges_from_records(rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The three judge tables back from the JSON ``judges`` table."""
    if not rows:
        return {}
    judges, slices, selfp = [], [], []
    for r in rows:
        r = dict(r)
        ci = r.pop("ci", None) or [None, None]
        per_slice = r.pop("per_slice", []) or []
        sp = r.pop("self_preference", None)
        judges.append({**r, "ci_low": ci[0], "ci_high": ci[1]})
        for s in per_slice:
            s = dict(s)
            lo, hi = s.pop("ci", None) or [None, None], s.pop("tilt_ci", None) or [None, None]
            slices.append(
                {"judge": r["judge"], **s, "ci_low": lo[0], "ci_high": lo[1]}
                | {"tilt_ci_low": hi[0], "tilt_ci_high": hi[1]}
            )
        if sp:
            sp = dict(sp)
            extra = {}
            for pair in ("ci", "false_pass_ci"):
                v = sp.pop(pair, None) or [None, None]
                extra[f"{pair}_low"], extra[f"{pair}_high"] = v[0], v[1]
            sp["own_models"] = ",".join(sp.get("own_models") or [])
            selfp.append({"judge": r["judge"], "family": r.get("family"), **sp, **extra})
    return {
        "judges": pd.DataFrame(judges),
        "judge_slices": pd.DataFrame(slices),
        "judge_self_preference": pd.DataFrame(selfp),
    }
