"""Altair chart builders shared by the HTML report and the dashboard.

Every builder takes data an audit already computed (an :class:`AuditResult`,
a drift timeline from :func:`evalaudit.stats.timeline.drift_timeline`, or
history rows from :mod:`evalaudit.history`) and returns an ``altair`` chart;
it computes no statistic. So a chart looks the same in the report (rendered
to static SVG offline by :func:`to_svg`) and in the dashboard (drawn live).

Charts draw aggregates, never one mark per label: one mark per labeler, per
labeler x slice cell, per time bin or per run. Effects are in reader units
(:func:`effect_units`): percentage points of pass rate for binary and nominal
labels, percent of the scale for ordinal labels, label units for interval
labels. Data strings (labeler ids, slice values) only ever appear as data
values, never as field names or expressions, so no id can change a spec.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import altair as alt
import pandas as pd

from evalaudit.render.format import effect_scale, score_scale
from evalaudit.result import AuditResult

__all__ = [
    "COLORS",
    "agreement_chart",
    "chart_labelers",
    "concentration_chart",
    "drift_chart",
    "effect_units",
    "headline_chart",
    "heatmap_chart",
    "leniency_chart",
    "to_svg",
    "trend_chart",
]

#: Colours used across charts (flagged = needs attention).
COLORS = {
    "flagged": "#c0392b",
    "ok": "#7f8c8d",
    "reported": "#34495e",
    "corrected": "#2471a3",
    "without": "#a569bd",
    "alpha": "#148f77",
    "threshold": "#c0392b",
    "zero": "#95a5a6",
}

#: Width of a single-panel chart (px).
WIDTH = 620
#: Most labelers drawn in the leniency chart and the heat map (flagged ones always).
MAX_LABELERS = 40
#: Height of one labeler row (px).
ROW_PX = 16


# ------------------------------------------------------------------ helpers
def effect_units(kind: str) -> tuple[float, str]:
    """Factor and unit to show an effect on the score scale in reader units
    (:func:`evalaudit.render.format.effect_scale`)."""
    return effect_scale(kind)


def _score_units(kind: str) -> tuple[float, str]:
    """Factor and unit of a score (:func:`evalaudit.render.format.score_scale`)."""
    return score_scale(kind)


def _kind(result: AuditResult) -> str:
    return str(result.label.get("kind") or result.input.get("label_kind") or "binary")


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _scaled(df: pd.DataFrame, cols: Iterable[str], factor: float) -> pd.DataFrame:
    out = df.copy()
    for c in cols:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce") * factor
    return out


def _padded(values: Iterable[Any], pad: float, floor: float | None = None) -> list[float] | None:
    """A y domain around ``values`` with at least ``pad`` on each side (a flat series stays visible)."""
    v = [float(x) for x in values if _finite(x)]
    if not v:
        return None
    lo, hi = min(v), max(v)
    p = max(pad, 0.1 * (hi - lo))
    lo, hi = lo - p, hi + p
    return [max(lo, floor) if floor is not None else lo, hi]


def _config(chart: alt.TopLevelMixin) -> Any:
    return (
        chart.configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=11, labelLimit=180, grid=True)
        .configure_title(fontSize=13, anchor="start", subtitleFontSize=11, subtitleColor="#555")
        .configure_legend(labelFontSize=11, titleFontSize=11, orient="bottom")
    )


def _rule_x(value: float, color: str, dash: Sequence[int] = ()) -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({"v": [value]}))
        .mark_rule(color=color, strokeDash=list(dash))
        .encode(x="v:Q")
    )


def _min_effect(result: AuditResult) -> float | None:
    """The policy's minimum effect on the score scale (binary/nominal/ordinal only)."""
    if _kind(result) == "interval":
        return None
    v = (result.policy or {}).get("min_effect")
    return float(v) if _finite(v) else None


def chart_labelers(result: AuditResult, max_labelers: int = MAX_LABELERS) -> list[str]:
    """The labelers a chart shows, in rank order: every flagged one, then the top by |shrunk|.

    Labelers with a flagged cell count as flagged. Ranked as the audit ranks
    them (the labelers table order: empirical-Bayes shrunken leniency).
    """
    lab = result.labelers
    if lab is None or lab.empty:
        return []
    ids = lab["labeler_id"].astype(str).tolist()
    flagged = set(lab.loc[lab["flagged"].astype(bool), "labeler_id"].astype(str))
    cells = result.cells
    if cells is not None and not cells.empty and "flagged" in cells.columns:
        flagged |= set(cells.loc[cells["flagged"].astype(bool), "labeler_id"].astype(str))
    key = lab["shrunk"] if "shrunk" in lab.columns else lab["leniency"]
    mag = pd.to_numeric(key, errors="coerce").abs().fillna(0.0).to_numpy()
    rest = [i for _, i in sorted(zip(-mag, ids, strict=True)) if i not in flagged]
    keep = set([i for i in ids if i in flagged] + rest[: max(0, max_labelers - len(flagged))])
    return [i for i in ids if i in keep]


def _subtitle_shown(shown: int, total: int, what: str = "labelers") -> list[str]:
    if shown >= total:
        return []
    return [f"showing {shown} of {total} {what}: every flagged one and the largest effects"]


# ------------------------------------------------------------------ headline
def headline_chart(result: AuditResult) -> alt.TopLevelMixin | None:
    """Headline score overall and per model: as reported, without suspects, corrected.

    Points with 95% CIs (the corrected score carries the CI of its delta,
    shifted onto it). ``None`` when the audit has no headline.
    """
    h = result.headline
    if not h:
        return None
    kind = _kind(result)
    factor, unit = _score_units(kind)
    corr = h.get("corrected") or {}
    corr_models = {r.get("model"): r for r in corr.get("per_model") or []}
    groups: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("all items", h, corr)]
    groups += [
        (str(r.get("model")), r, corr_models.get(r.get("model")) or {})
        for r in h.get("per_model") or []
    ]
    rows = []
    for name, hr, cr in groups:
        ci = hr.get("ci") or [None, None]
        rows.append(
            {
                "group": name,
                "variant": "reported",
                "score": hr.get("score"),
                "lo": ci[0],
                "hi": ci[1],
            }
        )
        ciw = hr.get("ci_without_suspects") or [None, None]
        rows.append(
            {
                "group": name,
                "variant": "without suspect labels",
                "score": hr.get("score_without_suspects"),
                "lo": ciw[0],
                "hi": ciw[1],
            }
        )
        if cr.get("score_corrected") is not None:
            dci = cr.get("delta_ci") or [None, None]
            base = cr.get("score")
            rows.append(
                {
                    "group": name,
                    "variant": "corrected for leniency",
                    "score": cr.get("score_corrected"),
                    "lo": base + dci[0] if _finite(base) and _finite(dci[0]) else None,
                    "hi": base + dci[1] if _finite(base) and _finite(dci[1]) else None,
                }
            )
    df = _scaled(pd.DataFrame(rows), ["score", "lo", "hi"], factor)
    df = df[df["score"].map(_finite)]
    if df.empty:
        return None
    order = [g for g, _, _ in groups]
    variants = ["reported", "without suspect labels", "corrected for leniency"]
    color = alt.Color(
        "variant:N",
        title=None,
        scale=alt.Scale(
            domain=variants, range=[COLORS["reported"], COLORS["without"], COLORS["corrected"]]
        ),
    )
    y = alt.Y("group:N", title=None, sort=order)
    yoff = alt.YOffset("variant:N", sort=variants)
    x_title = f"headline score ({unit}, 95% CI)"
    base = alt.Chart(df)
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lo:Q", title=x_title, scale=alt.Scale(zero=False)),
        x2="hi:Q",
        y=y,
        yOffset=yoff,
        color=color,
    )
    pts = base.mark_point(filled=True, size=60).encode(
        x="score:Q",
        y=y,
        yOffset=yoff,
        color=color,
        tooltip=[
            alt.Tooltip("group:N"),
            alt.Tooltip("variant:N"),
            alt.Tooltip("score:Q", format=".1f"),
            alt.Tooltip("lo:Q", format=".1f"),
            alt.Tooltip("hi:Q", format=".1f"),
        ],
    )
    chart = alt.layer(bars, pts).properties(
        width=WIDTH,
        height=alt.Step(12),
        title=alt.Title(
            "Headline with and without suspect labels",
            subtitle=[
                "suspect labels: labels of flagged labelers and flagged cells; "
                "the corrected score's CI is that of the correction"
            ],
        ),
    )
    return _config(chart)


# ------------------------------------------------------------------ leniency
def leniency_chart(
    result: AuditResult, max_labelers: int = MAX_LABELERS
) -> alt.TopLevelMixin | None:
    """Leniency per labeler with its 95% CI; flagged labelers in red.

    One point and one CI rule per labeler (at most ``max_labelers``: every
    flagged one, then the largest shrunken effects), ranked as in the audit;
    dashed lines at +-``min_effect`` of the policy. ``None`` without labelers.
    """
    lab = result.labelers
    if lab is None or lab.empty:
        return None
    kind = _kind(result)
    factor, unit = effect_units(kind)
    shown = chart_labelers(result, max_labelers)
    cols = [
        c
        for c in ("labeler_id", "n_labels", "leniency", "ci_low", "ci_high", "q_value", "flagged")
        if c in lab.columns
    ]
    df = lab[cols].copy()
    df["labeler_id"] = df["labeler_id"].astype(str)
    df = df[df["labeler_id"].isin(shown)]
    df = _scaled(df, ["leniency", "ci_low", "ci_high"], factor)
    df["status"] = df["flagged"].astype(bool).map({True: "flagged", False: "not flagged"})
    df = df.drop(columns=["flagged"])
    y = alt.Y("labeler_id:N", title=None, sort=shown)
    color = alt.Color(
        "status:N",
        title=None,
        scale=alt.Scale(domain=["flagged", "not flagged"], range=[COLORS["flagged"], COLORS["ok"]]),
    )
    base = alt.Chart(df)
    layers: list[alt.Chart] = [_rule_x(0.0, COLORS["zero"])]
    me = _min_effect(result)
    if me is not None:
        layers += [_rule_x(s * me * factor, COLORS["threshold"], (4, 3)) for s in (-1, 1)]
    layers.append(
        base.mark_rule(strokeWidth=1.5).encode(
            x=alt.X("ci_low:Q", title=f"leniency vs peers ({unit}, 95% CI)"),
            x2="ci_high:Q",
            y=y,
            color=color,
        )
    )
    layers.append(
        base.mark_point(filled=True, size=45).encode(
            x="leniency:Q",
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("labeler_id:N", title="labeler"),
                alt.Tooltip("n_labels:Q", title="labels"),
                alt.Tooltip("leniency:Q", format="+.1f"),
                alt.Tooltip("ci_low:Q", format="+.1f"),
                alt.Tooltip("ci_high:Q", format="+.1f"),
                alt.Tooltip("q_value:Q", format=".3g"),
            ],
        )
    )
    sub = _subtitle_shown(len(shown), len(lab))
    if me is not None:
        sub.append(f"dashed: the policy's minimum effect (+-{me * factor:g} {unit})")
    chart = alt.layer(*layers).properties(
        width=WIDTH,
        height=alt.Step(ROW_PX),
        title=alt.Title("Leniency per labeler", subtitle=sub),
    )
    return _config(chart)


# ------------------------------------------------------------------ heat map
def heatmap_chart(
    result: AuditResult, slice_column: str, max_labelers: int = MAX_LABELERS
) -> alt.TopLevelMixin | None:
    """Labeler x slice-value heat map of cell leniency; flagged cells outlined in black.

    Colour: the cell's leniency (red = passes more than peers, blue = fewer),
    clipped at a symmetric range. Cells with fewer than ``min_support`` labels
    (not tested) are faded. ``None`` when no cell of ``slice_column`` exists.
    """
    cells = result.cells
    if cells is None or cells.empty or "slice_column" not in cells.columns:
        return None
    df = cells[cells["slice_column"].astype(str) == slice_column]
    if df.empty:
        return None
    kind = _kind(result)
    factor, unit = effect_units(kind)
    shown = chart_labelers(result, max_labelers)
    shown_set = set(shown)
    df = df[df["labeler_id"].astype(str).isin(shown_set)]
    cols = [
        c
        for c in ("labeler_id", "slice_value", "n", "leniency", "q_value", "tested", "flagged")
        if c in df.columns
    ]
    df = _scaled(df[cols].copy(), ["leniency"], factor)
    df["labeler_id"] = df["labeler_id"].astype(str)
    df["slice_value"] = df["slice_value"].astype(str)
    tested = (
        df["tested"].astype(bool) if "tested" in df.columns else pd.Series(True, index=df.index)
    )
    df["support"] = tested.map({True: "tested", False: "too few labels"})
    df["flagged"] = df["flagged"].astype(bool) if "flagged" in df.columns else False
    vals = df.loc[tested, "leniency"].abs().dropna()
    me = _min_effect(result)
    floor = 2 * me * factor if me is not None else 0.0
    top_flagged = df.loc[df["flagged"], "leniency"].abs().max() if df["flagged"].any() else 0.0
    # wide enough that a flagged cell stands out from the noise of the others
    lim = max(float(vals.quantile(0.95)) if len(vals) else 0.0, float(top_flagged), floor, 1e-9)
    lim = float(f"{lim:.2g}")
    x = alt.X(
        "slice_value:N",
        title=slice_column,
        sort="ascending",
        axis=alt.Axis(labelAngle=-30, grid=False),
    )
    y = alt.Y(
        "labeler_id:N",
        title=None,
        sort=[i for i in shown if i in set(df["labeler_id"])],
        axis=alt.Axis(grid=False),
    )
    base = alt.Chart(df)
    heat = base.mark_rect().encode(
        x=x,
        y=y,
        color=alt.Color(
            "leniency:Q",
            title=f"leniency ({unit})",
            scale=alt.Scale(scheme="redblue", reverse=True, domain=[-lim, lim], clamp=True),
        ),
        opacity=alt.Opacity(
            "support:N",
            scale=alt.Scale(domain=["tested", "too few labels"], range=[1.0, 0.3]),
            legend=None,
        ),
        tooltip=[
            alt.Tooltip("labeler_id:N", title="labeler"),
            alt.Tooltip("slice_value:N", title=slice_column),
            alt.Tooltip("n:Q", title="labels"),
            alt.Tooltip("leniency:Q", format="+.1f"),
            alt.Tooltip("q_value:Q", format=".3g"),
            alt.Tooltip("support:N"),
        ],
    )
    marks = (
        alt.Chart(df[df["flagged"]])
        .mark_rect(fill=None, stroke="black", strokeWidth=2.5)
        .encode(x=x, y=y)
    )
    n_values = df["slice_value"].nunique()
    sub = ["black outline: flagged cell; faded: too few labels to test"]
    sub += _subtitle_shown(len(set(df["labeler_id"])), len(result.labelers))
    chart = alt.layer(heat, marks).properties(
        width=alt.Step(max(34, min(80, WIDTH // max(n_values, 1)))),
        height=alt.Step(ROW_PX),
        title=alt.Title(f"Leniency by labeler and {slice_column}", subtitle=sub),
    )
    return _config(chart)


# ------------------------------------------------------------------ drift
def drift_chart(
    timeline: pd.DataFrame,
    drift_rows: pd.DataFrame | Sequence[dict[str, Any]],
    kind: str = "binary",
) -> alt.TopLevelMixin | None:
    """One panel per labeler: binned leniency over time (95% CI) and the change point.

    ``timeline`` comes from :func:`~evalaudit.stats.timeline.drift_timeline`;
    ``drift_rows`` is the audit's drift table (``result.drift`` or its JSON
    records). Where the labeler's drift is flagged, a dashed vertical rule
    marks ``change_at`` and two level lines show the mean before and after.
    ``None`` when the timeline is empty.
    """
    if timeline is None or timeline.empty:
        return None
    factor, unit = effect_units(kind)
    drift = pd.DataFrame(drift_rows) if not isinstance(drift_rows, pd.DataFrame) else drift_rows
    order = str(timeline["order"].iloc[0])
    panels = []
    for lid, tl in timeline.groupby("labeler_id", sort=False):
        tl = _scaled(tl, ["mean", "ci_low", "ci_high"], factor)
        row: dict[str, Any] | None = None
        if not drift.empty and "labeler_id" in drift.columns:
            m = drift[(drift["labeler_id"].astype(str) == str(lid)) & (drift["order"] == order)]
            row = m.iloc[0].to_dict() if len(m) else None
        if order == "batch":
            x = alt.X("batch:N", title="batch", sort=list(tl["batch"]))
            xv = "batch"
        else:
            x = alt.X("mid:T", title="time (bin middle)")
            xv = "mid"
        base = alt.Chart(tl[[c for c in tl.columns if c != "labeler_id"]])
        y = alt.Y("mean:Q", title=f"leniency ({unit})")
        layers: list[alt.Chart] = [
            alt.Chart(pd.DataFrame({"v": [0.0]})).mark_rule(color=COLORS["zero"]).encode(y="v:Q"),
            base.mark_rule(color=COLORS["ok"]).encode(
                x=x, y=alt.Y("ci_low:Q", title=f"leniency ({unit})"), y2="ci_high:Q"
            ),
            base.mark_line(color=COLORS["reported"], point=True).encode(
                x=x,
                y=y,
                tooltip=[
                    alt.Tooltip(f"{xv}:{'N' if order == 'batch' else 'T'}"),
                    alt.Tooltip("n:Q", title="labels"),
                    alt.Tooltip("mean:Q", format="+.1f"),
                    alt.Tooltip("ci_low:Q", format="+.1f"),
                    alt.Tooltip("ci_high:Q", format="+.1f"),
                ],
            ),
        ]
        flagged = bool(row and row.get("flagged"))
        if row is None or not _finite(row.get("q_value")):
            status = "not tested for drift (too few labels)"
        elif flagged:
            status = (
                f"change at {row.get('change_at')}: {row['before'] * factor:+.1f} -> "
                f"{row['after'] * factor:+.1f} {unit} (q={row['q_value']:.2g})"
            )
        else:
            status = f"no significant change (q={row['q_value']:.2g})"
        if flagged and row is not None and row.get("change_at") is not None:
            ctype = "N" if order == "batch" else "T"
            cdf = pd.DataFrame({xv: [row["change_at"]]})
            layers.append(
                alt.Chart(cdf)
                .mark_rule(color=COLORS["flagged"], strokeDash=[5, 3], strokeWidth=2)
                .encode(x=alt.X(f"{xv}:{ctype}"))
            )
            if order == "time" and row.get("span_start") and row.get("span_end"):
                lv = pd.DataFrame(
                    {
                        "t0": [row["span_start"], row["change_at"]],
                        "t1": [row["change_at"], row["span_end"]],
                        "level": [row["before"] * factor, row["after"] * factor],
                    }
                )
                layers.append(
                    alt.Chart(lv)
                    .mark_rule(color=COLORS["flagged"], strokeWidth=2)
                    .encode(x="t0:T", x2="t1:T", y="level:Q")
                )
        panels.append(
            alt.layer(*layers).properties(
                width=WIDTH, height=130, title=alt.Title(str(lid), subtitle=[status])
            )
        )
    if not panels:
        return None
    return _config(alt.vconcat(*panels, spacing=18))


# ------------------------------------------------------------------ history
def _history_frame(history_rows: Sequence[Any]) -> pd.DataFrame:
    recs = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in history_rows]
    df = pd.DataFrame(recs)
    df["run"] = range(1, len(df) + 1)
    return df


def trend_chart(history_rows: Sequence[Any]) -> alt.TopLevelMixin | None:
    """Headline (reported, with 95% CI, and corrected) and alpha over past runs.

    ``history_rows`` are :class:`~evalaudit.history.RunSummary` objects (or
    their dicts), oldest first; one point per run and series. ``None`` when
    there is no run.
    """
    if not history_rows:
        return None
    df = _history_frame(history_rows)
    kind = str(df["label_kind"].iloc[-1] or "binary")
    factor, unit = _score_units(kind)
    df = _scaled(
        df, ["headline", "headline_ci_low", "headline_ci_high", "headline_corrected"], factor
    )
    df["when"] = df["recorded_at"].astype(str).str.slice(0, 16).str.replace("T", " ")
    long = pd.concat(
        [
            pd.DataFrame({"run": df["run"], "when": df["when"], "series": name, "value": df[col]})
            for name, col in (
                ("reported", "headline"),
                ("corrected for leniency", "headline_corrected"),
            )
        ],
        ignore_index=True,
    )
    long = long[long["value"].map(_finite)]
    runs = list(range(1, len(df) + 1))
    step = max(1, len(runs) // 10)
    x = alt.X(
        "run:Q",
        title="run",
        axis=alt.Axis(values=runs[::step], format="d"),
        scale=alt.Scale(domain=[0.5, len(df) + 0.5], nice=False),
    )
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(
            domain=["reported", "corrected for leniency"],
            range=[COLORS["reported"], COLORS["corrected"]],
        ),
    )
    tip = [
        alt.Tooltip("run:Q"),
        alt.Tooltip("when:N", title="time (UTC)"),
        alt.Tooltip("series:N"),
        alt.Tooltip("value:Q", format=".1f"),
    ]
    ci = df[["run", "headline_ci_low", "headline_ci_high"]].dropna()
    dom = _padded(
        [*long["value"], *ci["headline_ci_low"], *ci["headline_ci_high"]], pad=0.5 * factor / 100
    )
    yscale = alt.Scale(domain=dom, zero=False) if dom else alt.Scale(zero=False)
    head_layers = [
        alt.Chart(ci)
        .mark_rule(color=COLORS["reported"], opacity=0.5)
        .encode(
            x=x,
            y=alt.Y("headline_ci_low:Q", title=f"headline ({unit})", scale=yscale),
            y2="headline_ci_high:Q",
        ),
        alt.Chart(long)
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("value:Q", scale=yscale), color=color, tooltip=tip),
    ]
    head = alt.layer(*head_layers).properties(
        width=330,
        height=170,
        title=alt.Title("Headline over runs", subtitle=["95% CI of the reported score"]),
    )
    a = df[["run", "when", "alpha"]].copy()
    a = a[a["alpha"].map(_finite)]
    alpha = (
        alt.Chart(a)
        .mark_line(point=True, color=COLORS["alpha"])
        .encode(
            x=x,
            y=alt.Y(
                "alpha:Q",
                title="Krippendorff's alpha",
                scale=alt.Scale(domain=_padded(a["alpha"], pad=0.02) or [0, 1], zero=False),
                axis=alt.Axis(format=".2f"),
            ),
            tooltip=[
                alt.Tooltip("run:Q"),
                alt.Tooltip("when:N", title="time (UTC)"),
                alt.Tooltip("alpha:Q", format=".3f"),
            ],
        )
        .properties(width=200, height=170, title=alt.Title("Agreement over runs", subtitle=[" "]))
    )
    return _config(alt.hconcat(head, alpha, spacing=30))


# ------------------------------------------------------------------ agreement
def agreement_chart(result: AuditResult) -> alt.TopLevelMixin | None:
    """Krippendorff's alpha per slice value and per vendor, with the overall alpha and the floor.

    One point per (slice column, value); solid line: overall alpha; dashed
    red: the policy's ``agreement_floor``. ``None`` without per-group alphas.
    """
    agr = result.agreement or {}
    rows = [dict(r) for r in (agr.get("per_slice") or [])] + [
        dict(r) for r in (agr.get("per_vendor") or [])
    ]
    rows = [r for r in rows if _finite(r.get("alpha"))]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    df["slice_column"] = df["slice_column"].astype(str)
    df["slice_value"] = df["slice_value"].astype(str)
    df["group"] = df["slice_column"] + ": " + df["slice_value"]
    df = df.sort_values(["slice_column", "slice_value"], kind="stable")
    cols = [
        c
        for c in ("group", "slice_column", "slice_value", "alpha", "n_units", "n_items")
        if c in df.columns
    ]
    df = df[cols]
    x = alt.X(
        "alpha:Q", title="Krippendorff's alpha (items with 2+ labels)", scale=alt.Scale(zero=False)
    )
    y = alt.Y("group:N", title=None, sort=df["group"].tolist())
    layers: list[alt.Chart] = []
    if _finite(agr.get("alpha")):
        layers.append(_rule_x(float(agr["alpha"]), COLORS["reported"]))
    floor = (result.policy or {}).get("agreement_floor")
    if _finite(floor):
        layers.append(_rule_x(float(floor), COLORS["threshold"], (4, 3)))
    layers.append(
        alt.Chart(df)
        .mark_bar(height=10)
        .encode(
            x=x,
            y=y,
            color=alt.Color("slice_column:N", title=None, scale=alt.Scale(scheme="tableau10")),
            tooltip=[
                alt.Tooltip("group:N"),
                alt.Tooltip("alpha:Q", format=".3f"),
                alt.Tooltip("n_units:Q", title="items with 2+ labels"),
            ],
        )
    )
    sub = []
    if _finite(agr.get("alpha")):
        sub.append(f"solid: overall alpha {float(agr['alpha']):.3f}")
    if _finite(floor):
        sub.append(f"dashed: the policy's floor {float(floor):g}")
    chart = alt.layer(*layers).properties(
        width=WIDTH,
        height=alt.Step(ROW_PX),
        title=alt.Title("Agreement per slice and vendor", subtitle=["; ".join(sub)] if sub else []),
    )
    return _config(chart)


# ------------------------------------------------------------------ concentration
_WHO_COLORS = {"labeler": "#5d6d7e", "vendor": "#d4ac0d"}


def concentration_chart(result: AuditResult) -> alt.TopLevelMixin | None:
    """Share of each scope's items graded by its top labeler (and top vendor).

    One bar per (scope, who); dashed red: the policy's ``max_labeler_share``.
    ``None`` without a concentration table.
    """
    conc = result.concentration
    if conc is None or conc.empty:
        return None
    df = conc.copy()
    df["scope_label"] = df["scope"].astype(str) + ": " + df["slice_value"].astype(str)
    df["top"] = df["top"].astype(str)
    df["share"] = pd.to_numeric(df["top_share"], errors="coerce") * 100
    cols = ["scope_label", "who", "top", "share", "n_items", "effective_n"]
    df = df[[c for c in cols if c in df.columns]]
    order = list(dict.fromkeys(df["scope_label"]))
    layers: list[alt.Chart] = []
    pol = result.policy or {}
    caps = {"labeler": pol.get("max_labeler_share"), "vendor": pol.get("max_vendor_share")}
    sub = []
    for who, cap in caps.items():
        if _finite(cap) and (df["who"] == who).any():
            layers.append(_rule_x(float(cap) * 100, _WHO_COLORS[who], (4, 3)))
            sub.append(f"{who} {float(cap) * 100:g}%")
    layers.append(
        alt.Chart(df)
        .mark_bar(height=7)
        .encode(
            x=alt.X(
                "share:Q",
                title="share of the scope's items graded by the top one (%)",
                scale=alt.Scale(domain=[0, 100]),
            ),
            y=alt.Y("scope_label:N", title=None, sort=order),
            yOffset=alt.YOffset("who:N"),
            color=alt.Color(
                "who:N",
                title=None,
                scale=alt.Scale(domain=list(_WHO_COLORS), range=list(_WHO_COLORS.values())),
            ),
            tooltip=[
                alt.Tooltip("scope_label:N", title="scope"),
                alt.Tooltip("who:N"),
                alt.Tooltip("top:N"),
                alt.Tooltip("share:Q", format=".1f"),
                alt.Tooltip("effective_n:Q", format=".1f", title="effective number"),
            ],
        )
    )
    chart = alt.layer(*layers).properties(
        width=WIDTH,
        height=alt.Step(9),
        title=alt.Title(
            "Concentration",
            subtitle=["dashed: the policy's maximum share (" + ", ".join(sub) + ")"] if sub else [],
        ),
    )
    return _config(chart)


# ------------------------------------------------------------------ rendering
def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to a static SVG string offline (``vl_convert``: no browser, no network)."""
    import vl_convert as vlc

    return str(vlc.vegalite_to_svg(chart.to_dict()))
