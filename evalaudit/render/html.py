"""The scheduled report: one self-contained HTML file (and its Markdown twin).

:func:`render_html` turns a :class:`ReportData` (the audit, the drift
timelines computed next to it, and the run history) into one HTML file that
opens from a mail attachment or a CI artifact with no network: styles inline,
charts as inline static SVG rendered offline (:func:`evalaudit.render.charts.to_svg`),
no JavaScript, no reference to any host. Every string from the data (labeler
ids, slice values, file names, messages, the title) goes through Jinja2
autoescaping; chart SVG comes from ``vl_convert``, which escapes its text, and
is checked (:func:`clean_svg`) before it is inserted as markup.

Like every renderer, it computes nothing: it selects, orders and formats what
the audit, :mod:`evalaudit.stats.timeline` and :mod:`evalaudit.history`
computed.
"""

from __future__ import annotations

import json
import math
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from evalaudit.history import RunChanges, RunSummary
from evalaudit.render.format import fmt_effect, fmt_impact, fmt_num, fmt_q
from evalaudit.render.format import fmt_score as _fmt_score
from evalaudit.render.judges import judge_html
from evalaudit.render.markdown import md_cell, md_code, render_markdown
from evalaudit.render.text import scan_method
from evalaudit.result import AuditResult
from evalaudit.verdicts import SEVERITIES

__all__ = [
    "MAX_TABLE_ROWS",
    "ReportData",
    "SvgError",
    "clean_svg",
    "render_html",
    "render_report_markdown",
]

#: Most rows of a table in the report (the rest are in audit.json).
MAX_TABLE_ROWS = 100
#: Finding kinds listed under "Data quality" instead of "Findings" (each finding is listed once).
DATA_SECTION_KINDS = ("data_quality", "assignment_imbalance")
#: Most rows of the spot-check table (each blocking finding lists at most 20 of its labels).
MAX_SPOT_ROWS = 100
#: Most runs drawn in the trend chart and listed in the Markdown trend table.
MAX_TREND_RUNS = 50


class SvgError(ValueError):
    """A chart's SVG is not safe to inline (not well formed, or active content)."""


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, computed before rendering.

    Attributes
    ----------
    result:
        The audit.
    title:
        Report title (default: derived from the input file name).
    generated_at:
        When the report was made (ISO 8601 UTC).
    timeline:
        :func:`~evalaudit.stats.timeline.drift_timeline` of the labelers whose
        drift the report draws (empty: no drift charts).
    history:
        Past runs of this series plus this run (last), oldest first.
    changes:
        This run against the previous run of the series (``None``: no history kept).
    history_path:
        Where the history lives (shown in the report), if any.
    """

    result: AuditResult
    title: str | None = None
    generated_at: str | None = None
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: tuple[RunSummary, ...] = ()
    changes: RunChanges | None = None
    history_path: str | None = None

    @property
    def display_title(self) -> str:
        if self.title and self.title.strip():
            return self.title.strip()
        return f"evalaudit report: {self.result.input.get('path', '')}"


# ------------------------------------------------------------------ SVG
_FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "image", "use", "a"}
_ROOT_NS = re.compile(r"""\s+xmlns(?::[A-Za-z][\w.-]*)?\s*=\s*("[^"]*"|'[^']*')""")


def clean_svg(svg: str, prefix: str = "") -> str:
    """Check a chart's SVG and make it inline-ready: no namespace URIs, no active content.

    The SVG must parse as XML (so its text is escaped) and hold no element that
    runs code or loads a resource (script, foreignObject, image, use, a,
    iframe...), no ``on*`` event attribute and no ``href`` at all. HTML5
    inline SVG needs no ``xmlns`` declaration, so the namespace URIs (the
    only ``http://`` strings vl-convert writes) are removed from the root tag.
    With ``prefix``, element ids (gradients, clip paths) and the ``url(#id)``
    references to them are prefixed, so several charts in one page never
    share an id. Raises :class:`SvgError` otherwise.

    >>> clean_svg('<svg xmlns="http://www.w3.org/2000/svg" width="2"><text>a &lt; b</text></svg>')
    '<svg width="2"><text>a &lt; b</text></svg>'
    >>> clean_svg('<svg><script>alert(1)</script></svg>')
    Traceback (most recent call last):
    ...
    evalaudit.render.html.SvgError: chart SVG holds a <script> element
    """
    start = svg.find("<svg")
    if start < 0:
        raise SvgError("chart SVG has no <svg> root")
    svg = svg[start:]
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise SvgError(f"chart SVG is not well-formed XML ({exc})") from None
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if tag in _FORBIDDEN_TAGS:
            raise SvgError(f"chart SVG holds a <{tag}> element")
        for name in el.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or local == "href":
                raise SvgError(f"chart SVG holds a {local!r} attribute on <{tag}>")
    end = svg.index(">") + 1
    svg = _ROOT_NS.sub("", svg[:end]) + svg[end:]
    if prefix:
        svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return svg


# ------------------------------------------------------------------ formatting
def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _pct(x: Any) -> str:
    return "n/a" if _missing(x) else f"{x * 100:.1f}%"


def _ci(pair: Any, kind: str, fmt: Callable[[Any, str], str] | None = None) -> str:
    f = fmt or fmt_effect
    if not pair or _missing(pair[0]) or _missing(pair[1]):
        return "n/a"
    return f"{f(pair[0], kind)} to {f(pair[1], kind)}"


def _score_ci(pair: Any, kind: str) -> str:
    if not pair or _missing(pair[0]) or _missing(pair[1]):
        return "n/a"
    return f"{_score(pair[0], kind)} to {_score(pair[1], kind)}"


def _int(x: Any) -> str:
    return "n/a" if _missing(x) else f"{int(x):,}"


def _score(x: Any, kind: str) -> str:
    return _fmt_score(x, kind)


def _signed_pts(x: Any, kind: str) -> str:
    return "n/a" if _missing(x) else fmt_effect(x, kind)


def _when(ts: Any) -> str:
    """An ISO UTC timestamp as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not ts:
        return "n/a"
    t = str(ts)
    return t[:19].replace("T", " ") + " UTC" if len(t) >= 19 else t


def _value(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in x.items()) or "(none)"
    if isinstance(x, list | tuple):
        return "; ".join(_value(v) for v in x) or "(none)"
    return str(x)


# ------------------------------------------------------------------ context
def _chart(name: str, build: Callable[[], Any], caption: str = "", **attrs: Any) -> dict[str, Any]:
    """Build and render one chart to inline SVG; a failure becomes a visible note."""
    from evalaudit.render.charts import to_svg

    try:
        chart = build()
        if chart is None:
            return {}
        svg = Markup(clean_svg(to_svg(chart), prefix=f"chart-{name}"))
        error = None
    except Exception as exc:  # a report with one chart missing beats no report
        print(f"evalaudit: warning: the {name} chart could not be drawn: {exc}", file=sys.stderr)
        svg, error = None, f"{type(exc).__name__}: {exc}"
    return {"name": name, "svg": svg, "error": error, "caption": caption, "attrs": attrs}


def _context(data: ReportData) -> dict[str, Any]:
    from evalaudit.render import charts

    r = data.result
    d = r.to_dict()
    kind = d["label"].get("kind") or d["input"].get("label_kind") or "binary"
    findings = d["findings"]
    by_id = {f["id"]: f for f in findings}
    severities = {s: [f for f in findings if f["severity"] == s] for s in reversed(SEVERITIES)}
    h = d.get("headline") or None
    flagged_labelers = [x for x in d["labelers"] if x.get("flagged")]
    flagged_cells = sorted(
        (c for c in d.get("cells", []) if c.get("flagged")),
        key=lambda c: (c.get("p_value") is None, c.get("p_value") or 0.0),
    )
    drift_flagged = [x for x in d.get("drift", []) if x.get("flagged")]
    main_findings = [f for f in findings if f["kind"] not in DATA_SECTION_KINDS]
    slice_cols = list(d["input"].get("slice_columns") or [])
    spot_check = [
        {
            "finding": f["id"],
            "item_id": it.get("item_id"),
            "label": it.get("label"),
            "labeler_id": it.get("labeler_id"),
            "model": it.get("model", ""),
            "slice": ", ".join(f"{c}={it[c]}" for c in slice_cols if c in it),
        }
        for f in findings
        if f["severity"] == "block"
        for it in f.get("items") or []
    ]

    ch = data.changes
    changes = None
    if ch is not None:
        changes = {
            "first_run": ch.first_run,
            "previous": ch.previous,
            "new": [
                by_id.get(i, {"id": i, "severity": "", "message": ""}) for i in ch.new_findings
            ],
            "resolved": list(ch.resolved_findings),
            "persisting": len(ch.persisting),
            "verdict_changed": ch.verdict_changed,
            "same_input": ch.same_input,
            "headline_change": ch.headline_change,
            "headline_corrected_change": ch.headline_corrected_change,
            "alpha_change": ch.alpha_change,
        }

    history = list(data.history)[-MAX_TREND_RUNS:]
    fig: dict[str, dict[str, Any]] = {}
    fig["headline"] = _chart("headline", lambda: charts.headline_chart(r))
    fig["trend"] = (
        _chart("trend", lambda: charts.trend_chart(history), n_points=len(history))
        if len(history) >= 2  # one run is a dot, not a trend
        else {}
    )
    fig["leniency"] = _chart("leniency", lambda: charts.leniency_chart(r))
    heatmaps = [
        _chart(f"heatmap-{i}", lambda c=col: charts.heatmap_chart(r, c), slice_column=col)
        for i, col in enumerate(d["input"].get("slice_columns") or [])
    ]
    fig["drift"] = _chart(
        "drift",
        lambda: charts.drift_chart(data.timeline, r.drift, kind),
        n_labelers=int(data.timeline["labeler_id"].nunique()) if not data.timeline.empty else 0,
    )
    fig["agreement"] = _chart("agreement", lambda: charts.agreement_chart(r))
    fig["concentration"] = _chart("concentration", lambda: charts.concentration_chart(r))

    pol = dict(d.get("policy") or {})
    policy_rows = [
        (k, _value(v))
        for k, v in pol.items()
        if k not in ("severity", "overrides", "path", "sha256")
    ]
    # the concentration rule decides (overrides, min_support, sole-source share): list its findings
    concentrated = [f for f in findings if f["kind"] == "concentration"]
    drawn = (
        list(dict.fromkeys(data.timeline["labeler_id"].astype(str)))
        if not data.timeline.empty
        else []
    )
    return {
        "title": data.display_title,
        "generated_at": data.generated_at,
        "d": d,
        "kind": kind,
        "inp": d["input"],
        "label": d["label"],
        "agr": d["agreement"],
        "h": h,
        "corr": (h or {}).get("corrected"),
        "corr_by_model": {
            m.get("model"): m for m in ((h or {}).get("corrected") or {}).get("per_model") or []
        },
        "verdict": d["verdict"],
        # each finding is listed once: data-quality and assumption findings under Data
        "findings": main_findings[:MAX_TABLE_ROWS],
        "n_findings": len(main_findings),
        "n_data_findings": len(findings) - len(main_findings),
        "spot_check": spot_check[:MAX_SPOT_ROWS],
        "n_spot_check": len(spot_check),
        "severities": severities,
        "flagged_labelers": flagged_labelers,
        "flagged_cells": flagged_cells[:MAX_TABLE_ROWS],
        "n_flagged_cells": len(flagged_cells),
        "labelers": d["labelers"][:MAX_TABLE_ROWS],
        "n_labelers": len(d["labelers"]),
        "drift_flagged": drift_flagged,
        "drift_drawn": drawn,
        "data_quality": [f for f in findings if f["kind"] in DATA_SECTION_KINDS],
        "concentrated": concentrated,
        "changes": changes,
        "history": history,
        "n_history": len(data.history),
        "history_path": data.history_path,
        "fig": fig,
        "heatmaps": heatmaps,
        "policy": pol,
        "policy_rows": policy_rows,
        "run_summary": json.dumps(
            {k: v for k, v in data.history[-1].to_dict().items() if k != "id"}
            if data.history
            else {},
            indent=2,
            ensure_ascii=False,
        ),
        "max_rows": MAX_TABLE_ROWS,
        "judges_html": Markup(judge_html(d)),  # escaped inside: every value goes through escape
    }


def _env() -> Environment:
    env = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(
        eff=lambda x, kind: _signed_pts(x, kind),
        ci=lambda pair, kind: _ci(pair, kind),
        pct=_pct,
        score_ci=_score_ci,
        score=_score,
        q=fmt_q,
        impact=fmt_impact,
        scan_method=scan_method,
        num=fmt_num,
        int=_int,
        value=_value,
        when=_when,
    )
    return env


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (no script, no external resource)."""
    template = _env().from_string(TEMPLATE)
    return template.render(**_context(data))


# ------------------------------------------------------------------ Markdown
def render_report_markdown(data: ReportData) -> str:
    """The report in Markdown: what changed since the previous run, the audit, the trend."""
    r = data.result
    kind = r.label.get("kind") or r.input.get("label_kind") or "binary"
    out = [f"# {md_cell(data.display_title)}", "", f"**Verdict: {r.verdict.upper()}**", ""]
    if data.generated_at:
        out += [f"Generated {_when(data.generated_at)} by evalaudit {r.evalaudit_version}.", ""]
    ch = data.changes
    if ch is not None:
        out += ["## Since the previous run", ""]
        if ch.first_run:
            out.append("First run in this history: nothing to compare yet.")
        else:
            prev = ch.previous
            assert prev is not None
            out.append(
                f"- Previous run: {_when(prev.recorded_at)} (verdict {prev.verdict}"
                + (", same input" if ch.same_input else ", different input")
                + ")"
            )
            if ch.verdict_changed:
                out.append(f"- Verdict changed: {prev.verdict} -> {ch.current.verdict}")
            out.append(
                f"- Headline {_signed_pts(ch.headline_change, kind)}, corrected headline "
                f"{_signed_pts(ch.headline_corrected_change, kind)}, alpha "
                + ("n/a" if ch.alpha_change is None else f"{ch.alpha_change:+.3f}")
            )
            by_id = {f.id: f for f in r.findings}
            out.append(f"- New findings: {len(ch.new_findings)}")
            for i in ch.new_findings[:MAX_TABLE_ROWS]:
                f = by_id.get(i)
                msg = f" ({f.severity}) {md_cell(f.message)}" if f else ""
                out.append(f"  - `{md_code(i)}`{msg}")
            out.append(f"- Resolved findings: {len(ch.resolved_findings)}")
            for i in ch.resolved_findings[:MAX_TABLE_ROWS]:
                out.append(f"  - `{md_code(i)}`")
        out.append("")
    body = render_markdown(r)
    # the audit's own title line ("# evalaudit: BLOCK") becomes a section of this report
    body = body.split("\n", 1)[1].lstrip("\n") if body.startswith("# ") else body
    out += ["## Audit", "", body.rstrip("\n")]
    runs = list(data.history)[-MAX_TREND_RUNS:]
    if runs:
        out += [
            "",
            "## Trend",
            "",
            "| run | time (UTC) | verdict | headline | corrected | alpha | findings |",
            "|---:|---|---|---:|---:|---:|---:|",
        ]
        for i, s in enumerate(runs, start=len(data.history) - len(runs) + 1):
            out.append(
                f"| {i} | {s.recorded_at[:16].replace('T', ' ')} | {s.verdict} | "
                f"{_score(s.headline, kind)} | {_score(s.headline_corrected, kind)} | "
                f"{fmt_num(s.alpha)} | {len(s.finding_ids)} |"
            )
    return "\n".join(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------ template
STYLE = """
:root { --block: #b03a2e; --warn: #b9770e; --pass: #1e8449; --ink: #1c2833; --mute: #5d6d7e;
        --line: #d5d8dc; --soft: #f4f6f7; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 24px; margin: 4px 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { color: var(--mute); font-size: 13px; overflow-wrap: anywhere; }
.banner { display: flex; gap: 24px; align-items: center; border-radius: 8px; padding: 16px 20px;
          margin: 16px 0 10px; color: #fff; }
.banner.block { background: var(--block); } .banner.warn { background: var(--warn); }
.banner.pass { background: var(--pass); }
.banner .word { font-size: 34px; font-weight: 800; letter-spacing: 1px; }
.banner .why { font-size: 15px; overflow-wrap: anywhere; }
.numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 10px;
           margin: 12px 0; }
.num { background: var(--soft); border-radius: 6px; padding: 10px 14px; }
.num .k { font-size: 12px; color: var(--mute); text-transform: uppercase; letter-spacing: .5px; }
.num .v { font-size: 24px; font-weight: 700; }
.num .s { font-size: 12.5px; color: var(--mute); }
nav { font-size: 13.5px; margin: 8px 0 0; }
nav a { color: #1f618d; margin-right: 12px; text-decoration: none; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.ci { white-space: nowrap; }
td.slice { overflow-wrap: anywhere; }  /* long pair cells wrap, not overflow */
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { min-width: 18em; }
td.id, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
              overflow-wrap: anywhere; }
.sev { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 700;
       color: #fff; }
.sev.block { background: var(--block); } .sev.warn { background: var(--warn); }
.sev.info { background: #7f8c8d; }
.flag { color: var(--block); font-weight: 700; }
figure { margin: 12px 0 18px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--mute); font-size: 13px; }
.chart-error { color: var(--block); background: #fdedec; padding: 8px 12px; border-radius: 6px; }
.note { color: var(--mute); font-size: 13.5px; }
.changes li { margin: 3px 0; }
details { margin: 8px 0; } summary { cursor: pointer; color: #1f618d; }
pre { background: var(--soft); padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 12px; }
@media print { .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""

TEMPLATE = (
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="evalaudit {{ d.evalaudit_version }}">
<title>{{ verdict | upper }}: {{ title }}</title>
<style>"""
    + STYLE
    + """</style>
</head>
<body>
<main>
{% macro figure(f) %}
{% if f %}
<figure class="chart" data-chart="{{ f.name }}"{% for k, v in f.attrs.items() %} data-{{ k | replace('_', '-') }}="{{ v }}"{% endfor %}>
{% if f.svg %}{{ f.svg }}{% else %}<div class="chart-error">This chart could not be drawn: {{ f.error }}</div>{% endif %}
{% if f.caption %}<figcaption>{{ f.caption }}</figcaption>{% endif %}
</figure>
{% endif %}
{% endmacro %}
{% macro sev(s) %}<span class="sev {{ s }}">{{ s }}</span>{% endmacro %}
<header>
<h1>{{ title }}</h1>
<div class="meta">Input <code>{{ inp.path }}</code> (sha256 <code>{{ inp.sha256[:12] }}</code>)
 &middot; generated {{ generated_at | when }} &middot; evalaudit {{ d.evalaudit_version }}
 &middot; policy <code>{{ policy.path or "built-in" }}</code></div>
</header>

<section id="verdict">
<div class="banner {{ verdict }}">
<div class="word">{{ verdict | upper }}</div>
<div class="why">
{% if severities.block %}
{{ severities.block | length }} blocking finding{{ "s" if severities.block | length != 1 }}:
{% for f in severities.block[:5] %}<code>{{ f.id }}</code>{{ ", " if not loop.last }}{% endfor %}{% if severities.block | length > 5 %} and {{ severities.block | length - 5 }} more{% endif %}.
{% elif severities.warn %}
No blocking finding; {{ severities.warn | length }} warning{{ "s" if severities.warn | length != 1 }}.
{% else %}
No blocking finding and no warning.
{% endif %}
{% if changes and not changes.first_run %}
<br>Since the previous run: {{ changes.new | length }} new, {{ changes.resolved | length }} resolved finding{{ "s" if changes.resolved | length != 1 }}{% if changes.verdict_changed %}; verdict was {{ changes.previous.verdict | upper }}{% endif %}.
{% endif %}
</div>
</div>
<div class="numbers">
{% if h %}
<div class="num"><div class="k">Headline (reported)</div><div class="v">{{ h.score | score(kind) }}</div>
<div class="s">95% CI {{ h.ci | score_ci(kind) }} &middot; {{ h["items"] | int }} items</div></div>
<div class="num"><div class="k">Without suspect labels</div><div class="v">{{ h.score_without_suspects | score(kind) }}</div>
{% if h.suspect_labels %}
<div class="s">paired delta {{ h.delta | eff(kind) }} (95% CI {{ h.delta_ci | ci(kind) }}) on the {{ (h["items"] - h.items_dropped) | int }} items that keep a label{% if h.items_dropped %}; {{ h.items_dropped | int }} items had only suspect labels{% endif %}</div></div>
{% else %}
<div class="s">no suspect labels: nothing set aside</div></div>
{% endif %}
{% if corr %}
<div class="num"><div class="k">Corrected for leniency</div><div class="v">{{ corr.score_corrected | score(kind) }}</div>
{% if corr.suspect_labels %}
<div class="s">delta {{ corr.delta | eff(kind) }} (95% CI {{ corr.delta_ci | ci(kind) }}) over all {{ corr["items"] | int }} items; {{ corr.suspect_labels | int }} suspect labels{% if corr.ranking_changed %}; <b>the order of the models changes</b>{% endif %}</div></div>
{% else %}
<div class="s">no suspect labels: no correction applied</div></div>
{% endif %}
{% endif %}
{% else %}
<div class="num"><div class="k">Headline</div><div class="v">n/a</div>
<div class="s">not estimable: the labels carry no score (nominal labels need --positive, an ordinal scale two or more levels)</div></div>
{% endif %}
<div class="num"><div class="k">Agreement (Krippendorff's alpha)</div><div class="v">{{ agr.alpha | num }}</div>
<div class="s">{{ agr.level }}, on {{ agr.n_units | int }} items with 2+ labels</div></div>
</div>
{{ figure(fig.headline) }}
{% if h and h.per_model %}
<table>
<tr><th>model</th><th class="n">items</th><th class="n">reported</th><th>95% CI</th><th class="n">without suspects</th>{% if corr %}<th class="n">corrected</th><th class="n">delta</th><th>95% CI</th>{% endif %}</tr>
{% for m in h.per_model %}
<tr><td>{{ m.model }}</td><td class="n">{{ m["items"] | int }}</td><td class="n">{{ m.score | score(kind) }}</td><td class="ci">{{ m.ci | score_ci(kind) }}</td>
<td class="n">{{ m.score_without_suspects | score(kind) }}</td>
{% if corr %}{% set c = corr_by_model.get(m.model) %}<td class="n">{{ c.score_corrected | score(kind) if c else "n/a" }}</td><td class="n">{{ c.delta | eff(kind) if c else "n/a" }}</td><td class="ci">{{ c.delta_ci | ci(kind) if c else "n/a" }}</td>{% endif %}</tr>
{% endfor %}
</table>
{% endif %}
<nav><a href="#changes">Since last run</a><a href="#findings">Findings</a><a href="#leniency">Leniency</a><a href="#slices">Slices</a><a href="#drift">Drift</a><a href="#agreement">Agreement</a><a href="#concentration">Concentration</a><a href="#data">Data</a><a href="#policy">Policy</a></nav>
</section>

<section id="changes">
<h2>What changed since the previous run</h2>
{% if changes is none %}
<p class="note">No run history was kept for this report.</p>
{% elif changes.first_run %}
<p class="note">This is the first run in the history{% if history_path %} (<code>{{ history_path }}</code>){% endif %}: nothing to compare yet. The next run will list new and resolved findings here.</p>
{% else %}
<ul class="changes">
<li>Previous run: {{ changes.previous.recorded_at | when }}, verdict <b>{{ changes.previous.verdict | upper }}</b>, input <code>{{ changes.previous.input_sha256[:12] }}</code> ({{ "the same input" if changes.same_input else "a different input" }}).</li>
{% if changes.verdict_changed %}<li class="flag">Verdict changed: {{ changes.previous.verdict | upper }} &rarr; {{ verdict | upper }}.</li>{% endif %}
<li>Headline {{ changes.headline_change | eff(kind) }}, corrected headline {{ changes.headline_corrected_change | eff(kind) }}, alpha {{ "n/a" if changes.alpha_change is none else "%+.3f" | format(changes.alpha_change) }}.</li>
<li>{{ changes.persisting }} finding{{ "s" if changes.persisting != 1 }} still open.</li>
</ul>
<h3 id="new-findings">New since the last run ({{ changes.new | length }})</h3>
{% if changes.new %}
<table class="new-findings">
<tr><th>severity</th><th>finding</th><th>message</th></tr>
{% for f in changes.new %}<tr><td>{{ sev(f.severity) if f.severity }}</td><td class="id">{{ f.id }}</td><td>{{ f.message }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">None.</p>{% endif %}
<h3 id="resolved-findings">Resolved since the last run ({{ changes.resolved | length }})</h3>
{% if changes.resolved %}
<ul class="resolved-findings">{% for i in changes.resolved %}<li><code>{{ i }}</code></li>{% endfor %}</ul>
{% else %}<p class="note">None.</p>{% endif %}
{% endif %}
{% if fig.trend %}
<h3>Trend over {{ history | length }} run{{ "s" if history | length != 1 }}{% if n_history > history | length %} (the last {{ history | length }} of {{ n_history }}){% endif %}</h3>
{{ figure(fig.trend) }}
{% endif %}
</section>

<section id="findings">
<h2>Findings ({{ n_findings }})</h2>
{% if findings %}
<table>
<tr><th>severity</th><th>finding</th><th>message</th><th>impact (correcting its labels)</th></tr>
{% for f in findings %}<tr><td>{{ sev(f.severity) }}</td><td class="id">{{ f.id }}</td><td>{{ f.message }}</td><td>{{ f.impact | impact(kind) }}</td></tr>
{% endfor %}
</table>
{% if n_findings > findings | length %}<p class="note">{{ n_findings - findings | length }} more in audit.json.</p>{% endif %}
{% else %}<p class="note">No findings{% if n_data_findings %} beyond data quality{% endif %}.</p>{% endif %}
{% if n_data_findings %}<p class="note">{{ n_data_findings }} data-quality and assumption finding{{ "s" if n_data_findings != 1 }}: see <a href="#data">Data quality</a>.</p>{% endif %}
{% if spot_check %}
<h3 id="spot-check">Spot-check: labels behind the blocking findings</h3>
<p class="note">The labels each blocking finding's effect would change first (a lenient finding's passes, a severe one's fails), at most 20 per finding{% if n_spot_check > spot_check | length %}, the first {{ spot_check | length }} of {{ n_spot_check }} here (all in audit.json, <code>findings[].items</code>){% endif %}. Open an item in the dashboard's Items view by adding <code>?item=ITEM_ID</code> to its address.</p>
<table class="spot-check">
<tr><th>finding</th><th>item</th><th>label</th><th>labeler</th><th>model</th><th>slice</th></tr>
{% for x in spot_check %}<tr><td class="id">{{ x.finding }}</td><td><code>{{ x.item_id }}</code></td><td>{{ x.label }}</td><td>{{ x.labeler_id }}</td><td>{{ x.model }}</td><td class="slice">{{ x.slice }}</td></tr>
{% endfor %}
</table>
{% endif %}
<h3>Flagged labelers ({{ flagged_labelers | length }})</h3>
{% if flagged_labelers %}
<table>
<tr><th>labeler</th><th class="n">labels</th><th class="n">share</th><th class="n">leniency</th><th>95% CI</th><th class="n">q</th><th>evidence</th><th class="n">kappa</th><th>vendor</th></tr>
{% for x in flagged_labelers %}<tr><td class="id">{{ x.labeler_id }}</td><td class="n">{{ x.n_labels | int }}</td><td class="n">{{ x.share | pct }}</td><td class="n">{{ x.leniency | eff(kind) }}</td><td class="ci">{{ x.ci | ci(kind) }}</td><td class="n">{{ x.q_value | q }}</td><td>{{ x.evidence }}</td><td class="n">{{ x.kappa | num(2) }}</td><td>{{ x.get("vendor") or "" }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">None.</p>{% endif %}
<h3>Flagged cells ({{ n_flagged_cells }})</h3>
{% if flagged_cells %}
<table>
<tr><th>labeler</th><th>slice</th><th class="n">labels</th><th class="n">leniency</th><th>95% CI</th><th class="n">q</th><th class="n">tilt vs elsewhere</th></tr>
{% for c in flagged_cells %}<tr><td class="id">{{ c.labeler_id }}</td><td class="slice">{{ c.slice_column }}={{ c.slice_value }}</td><td class="n">{{ c.n | int }}</td><td class="n">{{ c.leniency | eff(kind) }}</td><td class="ci">{{ c.ci | ci(kind) }}</td><td class="n">{{ c.q_value | q }}</td><td class="n">{{ c.tilt | eff(kind) }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">None.</p>{% endif %}
</section>

{{ judges_html }}
<section id="leniency">
<h2>Leniency per labeler</h2>
<p class="note">Signed bias against peers on the same kind of items (overlap and stratified evidence), with 95% CIs; q-values are the audit's one error budget ({{ 'weighted Holm: the chance of flagging anybody honest is at most fdr' if (d.scan and d.scan.budget and d.scan.budget.error_control == 'familywise') else 'weighted Benjamini-Hochberg' }}).</p>
{{ figure(fig.leniency) }}
<details><summary>All labelers ({{ n_labelers }})</summary>
<table>
<tr><th>labeler</th><th class="n">labels</th><th class="n">leniency</th><th>95% CI</th><th class="n">q</th><th>evidence</th><th class="n">kappa</th><th>flagged</th></tr>
{% for x in labelers %}<tr><td class="id">{{ x.labeler_id }}{% if x.get("labeler_type") == "model" %} (LLM judge){% endif %}</td><td class="n">{{ x.n_labels | int }}</td><td class="n">{{ x.leniency | eff(kind) }}</td><td class="ci">{{ x.ci | ci(kind) }}</td><td class="n">{{ x.q_value | q }}</td><td>{{ x.evidence }}</td><td class="n">{{ x.kappa | num(2) }}</td><td>{% if x.flagged %}<span class="flag">yes</span>{% endif %}</td></tr>
{% endfor %}
</table>
{% if n_labelers > labelers | length %}<p class="note">{{ n_labelers - labelers | length }} more in audit.json.</p>{% endif %}
</details>
</section>

<section id="slices">
<h2>Labeler x slice</h2>
{% if d.scan %}<p class="note">{{ d.scan.cells_tested | int }} labeler x slice cells tested (of {{ d.scan.cells_estimated | int }} with labels; one slice column and pairs), {{ d.scan | scan_method(kind) }}; {{ d.scan.cells_flagged | int }} flagged.</p>{% endif %}
{% for f in heatmaps %}{{ figure(f) }}{% else %}<p class="note">No slice columns.</p>{% endfor %}
</section>

<section id="drift">
<h2>Drift</h2>
{% if drift_flagged %}
<table>
<tr><th>labeler</th><th>order</th><th>change at</th><th class="n">before</th><th class="n">after</th><th class="n">q</th></tr>
{% for x in drift_flagged %}<tr><td class="id">{{ x.labeler_id }}</td><td>{{ x.order }}</td><td>{{ x.change_at }}</td><td class="n">{{ x.before | eff(kind) }}</td><td class="n">{{ x.after | eff(kind) }}</td><td class="n">{{ x.q_value | q }}</td></tr>
{% endfor %}
</table>
{% elif d.drift %}<p class="note">No labeler's leniency changed significantly over time ({{ d.drift | length }} series tested, CUSUM with Benjamini-Hochberg).</p>
{% else %}<p class="note">Drift was not tested (no timestamp or batch column).</p>{% endif %}
{% if drift_drawn %}
<p class="note">Leniency over time of the flagged labelers ({{ drift_drawn | join(", ") }}), in bins of equal count with 95% CIs; where drift is flagged, the dashed line marks the change point and the red lines the level before and after.</p>
{{ figure(fig.drift) }}
{% endif %}
</section>

<section id="agreement">
<h2>Agreement</h2>
<p class="note">Krippendorff's alpha ({{ agr.level }}) = <b>{{ agr.alpha | num }}</b> on {{ agr.n_units | int }} items with 2+ labels ({{ agr.n_values | int }} labels).</p>
{{ figure(fig.agreement) }}
</section>

<section id="concentration">
<h2>Concentration</h2>
{{ figure(fig.concentration) }}
{% if concentrated %}
<table>
<tr><th>scope</th><th>who</th><th>source</th><th class="n">items labeled alone</th><th class="n">effective number</th><th>severity</th></tr>
{% for c in concentrated %}<tr><td>{{ c.subject.scope }}: {{ c.subject.slice_value }}</td><td>{{ c.subject.who }}</td><td class="id">{{ c.subject.id }}</td><td class="n">{{ c.effect | pct }}</td><td class="n">{{ c.evidence.effective_n | num(1) }}</td><td>{{ sev(c.severity) }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">No scope rests on one labeler or vendor beyond the policy's limits.</p>{% endif %}
</section>

<section id="data">
<h2>Data quality and row accounting</h2>
<table>
<tr><th>file</th><td><code>{{ inp.path }}</code> ({{ inp.format }}, sha256 <code>{{ inp.sha256 }}</code>)</td></tr>
{% for role, p in (inp.side_files or {}).items() %}<tr><th>{{ role }}</th><td><code>{{ p | value }}</code></td></tr>{% endfor %}
<tr><th>rows</th><td>read {{ inp.rows_read | int }}, used {{ inp.rows_used | int }}, not used {{ inp.rows_rejected.values() | sum | int }}{% if inp.rows_rejected %} ({% for k, v in inp.rows_rejected.items() %}{{ k }}: {{ v | int }}{{ ", " if not loop.last }}{% endfor %}){% endif %}</td></tr>
<tr><th>items, labelers</th><td>{{ inp["items"] | int }} items, {{ inp.labelers | int }} labelers</td></tr>
<tr><th>labels</th><td>{{ label.description }}</td></tr>
<tr><th>slices</th><td>{{ (inp.slice_columns | join(", ")) or "none" }} ({{ label.slices }})</td></tr>
</table>
{% if data_quality %}
<h3>Data-quality warnings and assumption checks</h3>
<table>
<tr><th>severity</th><th>finding</th><th>message</th></tr>
{% for f in data_quality %}<tr><td>{{ sev(f.severity) }}</td><td class="id">{{ f.id }}</td><td>{{ f.message }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">No data-quality warnings.</p>{% endif %}
{% for n in d.notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>

<section id="policy">
<h2>Policy</h2>
<p class="note">Policy <code>{{ policy.path or "built-in" }}</code>{% if policy.sha256 %} (sha256 <code>{{ policy.sha256[:12] }}</code>){% endif %}.</p>
<table>
{% for k, v in policy_rows %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}
{% if policy.severity %}<tr><th>severity</th><td>{% for k, v in policy.severity.items() %}{{ k }}: {{ v }}{{ ", " if not loop.last }}{% endfor %}</td></tr>{% endif %}
{% for o in policy.overrides or [] %}<tr><th>override</th><td>{{ o | value }}</td></tr>
{% endfor %}
</table>
</section>

<footer>
<h2>This run</h2>
<p class="note">Written with <code>report.md</code> and <code>audit.json</code> (the full audit, DESIGN section 6).{% if history_path %} History: <code>{{ history_path }}</code>.{% endif %}</p>
<details><summary>Run summary as stored in the history (JSON)</summary>
<pre class="run-summary">{{ run_summary }}</pre>
</details>
</footer>
</main>
</body>
</html>
"""
)
