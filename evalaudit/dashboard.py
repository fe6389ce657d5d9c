"""Non-UI helpers of the dashboard (``app.py``): cache keys, paging, label rows of a cell or item.

The dashboard only reads an :class:`~evalaudit.result.AuditResult` and the
validated :class:`~evalaudit.table.LabelTable`; it computes no statistic.
These helpers select, join, sort and format what the audit already holds
(label rows of a labeler x slice cell, every label of an item, findings with
their review state, one page of a table), so they can be tested without a
browser. Effects are shown in reader units (:func:`evalaudit.render.charts.effect_units`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import (
    MAX_ROWS_SHOWN,
    InputError,
    LabelKind,
)
from evalaudit.findings import Finding, cell_subject

# the label look-ups of the Items and Slices views (the dashboard renders; evalaudit.items
# reads the LabelTable)
from evalaudit.items import cell_positions, item_positions, label_rows, peer_labels
from evalaudit.render.charts import effect_units
from evalaudit.render.format import fmt_impact
from evalaudit.result import AuditResult
from evalaudit.validate import IngestOptions

__all__ = [
    "DONE",
    "IMPACT_DELTA_COLUMNS",
    "IMPACT_SCORE_COLUMNS",
    "LABEL_FILE_TYPES",
    "PAGE_SIZE",
    "cell_finding_id",
    "cell_of_finding",
    "cell_positions",
    "cell_subject_text",
    "cells_view",
    "decisions_view",
    "drift_view",
    "findings_view",
    "impact_table",
    "item_positions",
    "judge_confusion",
    "judge_slices_view",
    "judges_view",
    "label_files",
    "label_rows",
    "labelers_view",
    "options_from_key",
    "options_key",
    "page_count",
    "page_slice",
    "parse_column_map",
    "peer_labels",
    "ppi_view",
    "problems_frame",
    "sha256_bytes",
    "sha256_file",
    "slice_columns",
    "stage_upload",
    "variants_table",
]

#: File extensions the dashboard offers for label files (as in ``io.detect_format``).
LABEL_FILE_TYPES = ("csv", "tsv", "parquet", "jsonl")
#: Rows per page of every long table: a browser never gets more than this at once.
PAGE_SIZE = 200


# ------------------------------------------------------------------ files and cache keys
def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def label_files(directory: str | Path) -> list[Path]:
    """Label files in ``directory`` (by extension), sorted by name; CSV first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    files = [p for p in d.iterdir() if p.is_file() and p.suffix.lstrip(".") in LABEL_FILE_TYPES]
    return sorted(files, key=lambda p: (LABEL_FILE_TYPES.index(p.suffix.lstrip(".")), p.name))


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def stage_upload(name: str, data: bytes, root: str | Path | None = None) -> Path:
    """Write an uploaded file to ``ROOT/<sha256>/<name>`` once (ingest reads paths).

    The file keeps its name (the extension selects the format); the directory
    is the content hash, so the same upload is written once and two uploads
    with one name never collide. ``root`` defaults to the system temp dir.
    """
    sha = sha256_bytes(data)
    base = Path(root) if root is not None else Path(tempfile.gettempdir()) / "evalaudit-dashboard"
    safe = _SAFE.sub("_", Path(name).name).strip("._") or "upload.csv"
    path = base / sha[:32] / safe
    if not path.is_file() or path.stat().st_size != len(data):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def options_key(options: IngestOptions) -> str:
    """A canonical JSON string of ingest options (part of every cache key)."""
    d = asdict(options)
    d["label_kind"] = str(options.label_kind) if options.label_kind is not None else None
    for k in ("order", "labels", "slices"):
        d[k] = list(d[k]) if d[k] is not None else None
    return json.dumps(d, sort_keys=True)


def options_from_key(key: str) -> IngestOptions:
    """The inverse of :func:`options_key`."""
    d = json.loads(key)
    d["label_kind"] = LabelKind(d["label_kind"]) if d.get("label_kind") else None
    for k in ("order", "labels", "slices"):
        d[k] = tuple(d[k]) if d.get(k) is not None else None
    d["judges"] = tuple(d.get("judges") or ())
    return IngestOptions(**d)


def parse_column_map(text: str) -> dict[str, str]:
    """``"item_id=question_id, label=verdict"`` -> ``{"item_id": "question_id", ...}``.

    Raises ``ValueError`` naming the part that is not ``canonical=theirs``.
    """
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"'{part}': use canonical=theirs, e.g. item_id=question_id")
        k, v = (s.strip() for s in part.split("=", 1))
        if not k or not v:
            raise ValueError(f"'{part}': use canonical=theirs, e.g. item_id=question_id")
        out[k] = v
    return out


# ------------------------------------------------------------------ validation problems
def problems_frame(err: InputError) -> pd.DataFrame:
    """The problems of an :class:`InputError` as a table (the CLI's report, one row each)."""
    rows = []
    for p in err.problems:
        shown = ", ".join(str(r) for r in p.rows[:MAX_ROWS_SHOWN])
        more = p.count - min(len(p.rows), MAX_ROWS_SHOWN)
        if shown and more > 0:
            shown += f" and {more:,} more"
        rows.append(
            {
                "severity": str(p.severity),
                "check": p.check,
                "column": p.column or "(file)",
                "count": int(p.count),
                f"{err.row_label}s": shown,
                "problem": p.message,
                "values": ", ".join(repr(e) for e in p.examples[:5]),
                "fix": p.hint,
            }
        )
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values("severity", key=lambda s: s.ne("error"), kind="stable")
    return df.reset_index(drop=True)


# ------------------------------------------------------------------ paging
def page_count(n_rows: int, size: int = PAGE_SIZE) -> int:
    """Number of pages (at least 1) of ``n_rows`` rows."""
    return max(1, -(-int(n_rows) // int(size)))


def page_slice(df: pd.DataFrame, page: int, size: int = PAGE_SIZE) -> pd.DataFrame:
    """Rows of page ``page`` (1-based, clamped to the valid range)."""
    p = min(max(int(page), 1), page_count(len(df), size))
    return df.iloc[(p - 1) * size : p * size]


# ------------------------------------------------------------------ result views
def _kind(result: AuditResult) -> str:
    return str(result.label.get("kind") or result.input.get("label_kind") or "binary")


def slice_columns(result: AuditResult) -> list[str]:
    """Slice columns with cells: one-column slices first (input order), then pairs."""
    cells = result.cells
    if cells is None or cells.empty:
        return []
    present = list(dict.fromkeys(cells["slice_column"].astype(str)))
    singles = [c for c in result.input.get("slice_columns", []) if c in present]
    singles += [c for c in present if "+" not in c and c not in singles]
    return singles + [c for c in present if "+" in c]


def cells_view(
    result: AuditResult, slice_column: str | None = None, show: str = "all"
) -> pd.DataFrame:
    """Cells of one slice column (or all) for display: flagged first, then by q-value.

    ``show``: ``"all"``, ``"tested"`` (enough labels to test) or ``"flagged"``.
    Effects in reader units; ``finding`` holds the finding id of a flagged cell.
    """
    cells = result.cells
    cols = [
        "labeler_id",
        "slice_column",
        "slice_value",
        "n",
        "leniency",
        "ci_low",
        "ci_high",
        "tilt",
        "q_value",
        "weight",
        "evidence",
        "tested",
        "flagged",
    ]
    if cells is None or cells.empty:
        return pd.DataFrame(columns=[*cols, "finding"])
    df = cells
    if slice_column is not None:
        df = df[df["slice_column"].astype(str) == slice_column]
    if show == "flagged":
        df = df[df["flagged"].astype(bool)]
    elif show == "tested" and "tested" in df.columns:
        df = df[df["tested"].astype(bool)]
    df = df[[c for c in cols if c in df.columns]].copy()
    factor, _ = effect_units(_kind(result))
    for c in ("leniency", "ci_low", "ci_high", "tilt"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce") * factor
    df["flagged"] = df["flagged"].astype(bool)
    ids = {f.id for f in result.findings}
    df["finding"] = [
        fid if flag and fid in ids else ""
        for fid, flag in zip(
            (
                cell_finding_id(str(a), str(b), str(c))
                for a, b, c in zip(
                    df["labeler_id"], df["slice_column"], df["slice_value"], strict=True
                )
            ),
            df["flagged"],
            strict=True,
        )
    ]
    q = pd.to_numeric(df["q_value"], errors="coerce").fillna(2.0)
    mag = pd.to_numeric(df["leniency"], errors="coerce").abs().fillna(0.0)
    df = df.assign(_f=~df["flagged"], _q=q, _m=-mag)
    df = df.sort_values(["_f", "_q", "_m", "labeler_id", "slice_value"], kind="stable")
    return df.drop(columns=["_f", "_q", "_m"]).reset_index(drop=True)


def cell_finding_id(labeler_id: str, slice_column: str, slice_value: str) -> str:
    """The stable finding id of a cell (``tilted_slice:lab017:failure_mode=hallucination``)."""
    return f"tilted_slice:{labeler_id}:{cell_subject(slice_column, slice_value)}"


def cell_of_finding(finding: Finding | Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(labeler_id, slice_column, slice_value) of a ``tilted_slice`` finding, else ``None``."""
    kind = finding.kind if isinstance(finding, Finding) else finding.get("kind")
    subject = finding.subject if isinstance(finding, Finding) else finding.get("subject", {})
    if kind != "tilted_slice" or not subject:
        return None
    try:
        return (
            str(subject["labeler_id"]),
            str(subject["slice_column"]),
            str(subject["slice_value"]),
        )
    except KeyError:
        return None


def findings_view(result: AuditResult, reviews: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Findings in the audit's order (block, warn, info) with their latest review decision.

    ``reviews`` maps finding id -> the latest :class:`~evalaudit.reviews.Decision`.
    """
    reviews = reviews or {}
    factor, unit = effect_units(_kind(result))
    rows = []
    for f in result.findings:
        d = f.to_dict()
        dec = reviews.get(f.id)
        rows.append(
            {
                "severity": f.severity,
                "rule": d["rule"],
                "finding": f.id,
                "message": f.message,
                "effect": (
                    f"{f.effect * factor:+.1f} {unit}"
                    if f.effect is not None and np.isfinite(f.effect) and f.kind in EFFECT_KINDS
                    else ""
                ),
                "q": f.q_value,
                "n": f.n,
                "impact": _impact_text(f, _kind(result)),
                "review": (
                    f"{DONE[dec.action]} by {dec.by}" + (f" until {dec.until}" if dec.until else "")
                    if dec is not None
                    else ""
                ),
            }
        )
    cols = ["severity", "rule", "finding", "message", "effect", "q", "n", "impact", "review"]
    return pd.DataFrame(rows, columns=cols)


def _impact_text(f: Finding, kind: str) -> str:
    """What correcting the finding does (:func:`evalaudit.render.format.fmt_impact`)."""
    return fmt_impact(f.impact, kind)


#: Finding kinds whose ``effect`` is a leniency on the score scale (shown in reader units).
EFFECT_KINDS = frozenset(
    {"lenient_labeler", "severe_labeler", "tilted_slice", "labeler_drift", "headline_shift"}
)
#: Past tense of a review action.
DONE = {"dismiss": "dismissed", "confirm": "confirmed"}


def labelers_view(result: AuditResult) -> pd.DataFrame:
    """The labelers table in the audit's rank order, effects in reader units."""
    lab = result.labelers
    if lab is None or lab.empty:
        return pd.DataFrame()
    factor, _ = effect_units(_kind(result))
    cols = [
        "labeler_id",
        "labeler_type",
        "vendor",
        "n_labels",
        "share",
        "leniency",
        "ci_low",
        "ci_high",
        "q_value",
        "evidence",
        "kappa",
        "alpha_delta",
        "ds_quality",
        "n_gold",
        "gold_accuracy",
        "flagged",
    ]
    df = lab[[c for c in cols if c in lab.columns]].copy()
    for c in ("leniency", "ci_low", "ci_high"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce") * factor
    if "share" in df.columns:
        df["share"] = pd.to_numeric(df["share"], errors="coerce") * 100
    if "gold_accuracy" in df.columns:
        df["gold_accuracy"] = pd.to_numeric(df["gold_accuracy"], errors="coerce") * 100
    df["flagged"] = df["flagged"].astype(bool)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)


def drift_view(result: AuditResult) -> pd.DataFrame:
    """The drift table, flagged first then by q-value; before/after in reader units."""
    drift = result.drift
    if drift is None or drift.empty:
        return pd.DataFrame()
    factor, _ = effect_units(_kind(result))
    cols = [
        "labeler_id",
        "order",
        "n",
        "change_at",
        "before",
        "after",
        "effect",
        "q_value",
        "flagged",
    ]
    df = drift[[c for c in cols if c in drift.columns]].copy()
    for c in ("before", "after", "effect"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce") * factor
    df["flagged"] = df["flagged"].astype(bool)
    q = pd.to_numeric(df["q_value"], errors="coerce").fillna(2.0)
    df = df.assign(_f=~df["flagged"], _q=q).sort_values(["_f", "_q", "labeler_id"], kind="stable")
    return df.drop(columns=["_f", "_q"]).reset_index(drop=True)


def cell_subject_text(slice_column: str, slice_value: str) -> str:
    """``failure_mode=hallucination`` (pair cells: ``category=coding & failure_mode=...``)."""
    return cell_subject(slice_column, slice_value).replace("&", " & ")


#: Score columns (in %) and delta columns (in points) of :func:`impact_table`.
IMPACT_SCORE_COLUMNS = (
    "reported %",
    "CI low",
    "CI high",
    "without suspects %",
    "w/o CI low",
    "w/o CI high",
    "corrected %",
)
IMPACT_DELTA_COLUMNS = ("correction pts", "corr. CI low", "corr. CI high")


def _pair(x: Any) -> tuple[float, float]:
    if isinstance(x, list | tuple) and len(x) == 2:
        return (
            float(x[0]) if x[0] is not None else np.nan,
            float(x[1]) if x[1] is not None else np.nan,
        )
    return (np.nan, np.nan)


def _num(x: Any) -> float:
    try:
        return float(x) if x is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def impact_table(
    exclusion: Iterable[Mapping[str, Any]],
    corrected: Iterable[Mapping[str, Any]],
    keys: list[str],
) -> pd.DataFrame:
    """The headline's per-model or per-slice rows, with and without suspects, side by side.

    ``exclusion`` are the headline's ``per_model``/``per_slice`` records,
    ``corrected`` those of ``headline["corrected"]``; joined on ``keys``.
    Scores in %, the correction in points (binary and nominal pass rates).
    """
    corr = {tuple(str(r.get(k)) for k in keys): r for r in corrected}
    rows = []
    for r in exclusion:
        k = tuple(str(r.get(c)) for c in keys)
        c = corr.get(k, {})
        ci, ciw, dci = (
            _pair(r.get("ci")),
            _pair(r.get("ci_without_suspects")),
            _pair(c.get("delta_ci")),
        )
        rows.append(
            {
                **{name: v for name, v in zip(keys, k, strict=True)},
                "items": r.get("items"),
                "reported %": _num(r.get("score")) * 100,
                "CI low": ci[0] * 100,
                "CI high": ci[1] * 100,
                "without suspects %": _num(r.get("score_without_suspects")) * 100,
                "w/o CI low": ciw[0] * 100,
                "w/o CI high": ciw[1] * 100,
                "items dropped": r.get("items_dropped"),
                "corrected %": _num(c.get("score_corrected")) * 100,
                "correction pts": _num(c.get("delta")) * 100,
                "corr. CI low": dci[0] * 100,
                "corr. CI high": dci[1] * 100,
                "suspect labels": c.get("suspect_labels"),
            }
        )
    return pd.DataFrame(rows)


_VARIANT_NAMES = {
    "all": "flagged labelers and flagged cells",
    "flagged_labelers": "flagged labelers only",
    "flagged_cells": "flagged cells only",
}


def variants_table(headline: Mapping[str, Any]) -> pd.DataFrame:
    """One row per definition of "suspect": the headline without them and corrected for them."""
    items: list[tuple[str, Mapping[str, Any], Mapping[str, Any], Any]] = [
        ("all", headline, headline.get("corrected") or {}, headline.get("suspect_labels"))
    ]
    for name, v in (headline.get("variants") or {}).items():
        items.append(
            (name, v.get("exclusion") or {}, v.get("corrected") or {}, v.get("suspect_labels"))
        )
    rows = []
    for name, ex, co, n in items:
        dci = _pair(co.get("delta_ci"))
        rows.append(
            {
                "suspects": _VARIANT_NAMES.get(name, name),
                "suspect labels": n,
                "reported %": _num(ex.get("score")) * 100,
                "without suspects %": _num(ex.get("score_without_suspects")) * 100,
                "items dropped": ex.get("items_dropped"),
                "corrected %": _num(co.get("score_corrected")) * 100,
                "correction pts": _num(co.get("delta")) * 100,
                "corr. CI low": dci[0] * 100,
                "corr. CI high": dci[1] * 100,
            }
        )
    return pd.DataFrame(rows)


def decisions_view(decisions: Iterable[Any], today: Any) -> pd.DataFrame:
    """Every recorded review decision, newest first, with whether it is in force.

    ``status``: ``in force`` (the latest for its finding and not expired),
    ``expired`` (the latest, but ``until`` is past) or ``superseded``.
    """
    from evalaudit.reviews import latest_per_finding

    decisions = list(decisions)
    latest = latest_per_finding(decisions)
    rows = []
    for d in decisions:
        cur = latest.get(d.finding_id)
        if cur is not d:
            status = "superseded"
        elif d.expired(today):
            status = "expired"
        else:
            status = "in force"
        rows.append({**d.to_dict(), "status": status})
    cols = ["recorded_at", "finding_id", "action", "by", "reason", "until", "status"]
    df = pd.DataFrame(rows, columns=cols)
    return df.iloc[::-1].reset_index(drop=True)


# ------------------------------------------------------------------ LLM judges
def judges_view(result: AuditResult) -> pd.DataFrame:
    """One row per LLM judge: its audit against the humans, effects in reader units."""
    j = result.judges
    if j is None or j.empty:
        return pd.DataFrame()
    factor, _ = effect_units(_kind(result))
    cols = [
        "judge",
        "family",
        "n_items",
        "n_shared",
        "bias",
        "ci_low",
        "ci_high",
        "q_value",
        "kappa",
        "pass_when_humans_fail",
        "fail_when_humans_pass",
        "flagged",
    ]
    df = j[[c for c in cols if c in j.columns]].copy()
    for c in ("bias", "ci_low", "ci_high"):
        df[c] = pd.to_numeric(df[c], errors="coerce") * factor
    for c in ("pass_when_humans_fail", "fail_when_humans_pass"):
        df[c] = pd.to_numeric(df[c], errors="coerce") * 100
    df["flagged"] = df["flagged"].fillna(False).astype(bool)
    return df.reset_index(drop=True)


def judge_confusion(result: AuditResult) -> pd.DataFrame:
    """Per judge, the judge-vs-human-consensus confusion as shares (%) of each human verdict.

    Rows: judge x human consensus (pass / fail); columns: judge passes, judge fails,
    and the number of shared items with that consensus. From the audit's rates only.
    """
    j = result.judges
    if j is None or j.empty or "pass_when_humans_fail" not in j.columns:
        return pd.DataFrame()
    rows = []
    for r in j.itertuples(index=False):
        fp, fn = float(r.pass_when_humans_fail), float(r.fail_when_humans_pass)
        rows.append(
            {
                "judge": r.judge,
                "humans say": "pass",
                "judge passes %": (1 - fn) * 100,
                "judge fails %": fn * 100,
                "items": int(r.n_humans_pass),
            }
        )
        rows.append(
            {
                "judge": r.judge,
                "humans say": "fail",
                "judge passes %": fp * 100,
                "judge fails %": (1 - fp) * 100,
                "items": int(r.n_humans_fail),
            }
        )
    return pd.DataFrame(rows)


def judge_slices_view(result: AuditResult, column: str | None = None) -> pd.DataFrame:
    """Judge x slice value: bias against humans and its tilt (reader units), flags."""
    s = result.judge_slices
    if s is None or s.empty:
        return pd.DataFrame()
    if column is not None:
        s = s[s["slice_column"] == column]
    factor, _ = effect_units(_kind(result))
    cols = [
        "judge",
        "slice_column",
        "slice_value",
        "n_shared",
        "bias",
        "ci_low",
        "ci_high",
        "tilt",
        "q_value",
        "flagged",
    ]
    df = s[[c for c in cols if c in s.columns]].copy()
    for c in ("bias", "ci_low", "ci_high", "tilt"):
        df[c] = pd.to_numeric(df[c], errors="coerce") * factor
    df["flagged"] = df["flagged"].fillna(False).astype(bool)
    return df.reset_index(drop=True)


def ppi_view(result: AuditResult) -> pd.DataFrame:
    """The reported PPI estimate overall and per model beside judge-only and humans-only (%)."""
    ppi = (result.headline or {}).get("ppi")
    if not ppi:
        return pd.DataFrame()
    factor, _ = effect_units(_kind(result))
    rows = [("overall", ppi)] + [
        (m["model"], m) for m in ppi.get("per_model") or [] if m.get("judge") == ppi["reported"]
    ]
    out = []
    for name, r in rows:
        ci, hci = _pair(r.get("ci")), _pair(r.get("humans_only_ci"))
        out.append(
            {
                "scope": name,
                "ppi": _num(r.get("score")) * factor,
                "ci_low": ci[0] * factor,
                "ci_high": ci[1] * factor,
                "judge_only": _num(r.get("judge_only_score")) * factor,
                "humans_only": _num(r.get("humans_only_score")) * factor,
                "humans_only_ci_low": hci[0] * factor,
                "humans_only_ci_high": hci[1] * factor,
                "n_labeled": int(r.get("n_labeled") or 0),
                "n_unlabeled": int(r.get("n_unlabeled") or 0),
                "lambda": _num(r.get("lambda")),
            }
        )
    return pd.DataFrame(out)
