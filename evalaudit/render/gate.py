"""The gate's renderers: the verdict for people (text), for CI summaries (Markdown), for
test reports (JUnit XML). They format a :class:`~evalaudit.gate.GateResult`; they compute
nothing (numbers through :mod:`evalaudit.render.format`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from evalaudit import __version__
from evalaudit.render.format import fmt_ci, fmt_effect, fmt_impact, fmt_score
from evalaudit.render.judges import ppi_gate_line
from evalaudit.render.markdown import md_cell, md_code

if TYPE_CHECKING:
    from evalaudit.gate import GateResult

__all__ = ["MARKDOWN_ROWS", "render_gate_markdown", "render_gate_text", "render_junit"]

#: Rows per table in the Markdown summary (keeps it far below GitHub's 1 MiB job-summary cap).
MARKDOWN_ROWS = 50


def _kind(g: GateResult) -> str:
    return str(g.audit.label.get("kind") or g.audit.input.get("label_kind") or "binary")


def baseline_line(g: GateResult) -> str | None:
    """One line on the version diff against ``--baseline`` (None without one): the headline's
    move and the items kept, added and removed (the rest is in ``--json``'s ``baseline``)."""
    b = g.baseline
    if not b:
        return None
    kind = str(b.get("label_kind") or _kind(g))
    old = (b.get("old") or {}).get("path") or "the baseline"
    it = b.get("items") or {}
    h = b.get("headline")
    head = (
        f"headline {fmt_score(h['old'], kind)} -> {fmt_score(h['new'], kind)} "
        f"({fmt_effect(h['change'], kind)})"
        if h
        else "headline n/a"
    )
    return (
        f"Since the baseline {old}: {head}; items kept {it.get('kept', 0):,}, "
        f"added {it.get('added', 0):,}, removed {it.get('removed', 0):,} (details in --json)."
    )


def render_gate_text(g: GateResult) -> str:
    """Verdict and blocking findings first, then what reviews did."""
    lines = [
        f"evalaudit gate: {g.verdict.upper()} (exit {g.exit_code}); policy "
        f"{g.policy.path or 'built-in'}"
    ]
    if g.blocking:
        lines.append(f"Blocking findings ({len(g.blocking)}):")
        for f in g.blocking:
            lines.append(f"  {f['rule']} {f['id']}: {f['message']}")
    o = g.outcome
    if o.dismissed:
        lines.append(f"Dismissed ({len(o.dismissed)}):")
        for fid, d in o.dismissed.items():
            until = f", until {d.until}" if d.until else ""
            lines.append(f"  {fid}: by {d.by}{until}: {d.reason}")
    if o.confirmed:
        lines.append(f"Confirmed ({len(o.confirmed)}): " + ", ".join(o.confirmed))
    if o.expired:
        lines.append(
            "Expired decisions (no longer applied): " + ", ".join(d.finding_id for d in o.expired)
        )
    if o.stale:
        lines.append(
            "Stale decisions (match no finding any more): "
            + ", ".join(d.finding_id for d in o.stale)
        )
    if g.warnings:
        lines.append(f"Warnings ({len(g.warnings)}):")
        for f in g.warnings[:20]:
            lines.append(f"  {f['rule']} {f['id']}: {f['message']}")
        if len(g.warnings) > 20:
            lines.append(f"  ... {len(g.warnings) - 20} more in --json")
    h = g.audit.headline
    if h and h.get("corrected"):
        c, kind = h["corrected"], _kind(g)
        if c.get("applied") is False:
            lines.append(f"Headline {fmt_score(c['score'], kind)}; no correction applied.")
        else:
            lines.append(
                f"Headline {fmt_score(c['score'], kind)}; corrected for suspect labels "
                f"{fmt_score(c['score_corrected'], kind)} (delta {fmt_effect(c['delta'], kind)})."
            )
    ppi = ppi_gate_line(g.audit.to_dict()) if (h or {}).get("ppi") else None
    if ppi:
        lines.append(ppi)
    base = baseline_line(g)
    if base:
        lines.append(base)
    return "\n".join(lines) + "\n"


def render_gate_markdown(g: GateResult) -> str:
    """A CI job summary / pull-request comment; tables capped at :data:`MARKDOWN_ROWS` rows."""
    icon = {"pass": "PASS", "warn": "PASS with warnings", "block": "BLOCKED"}[g.verdict]
    out = [f"## evalaudit gate: {icon}", ""]
    data = next(f for f in g.files if f.role == "data")
    out.append(
        f"Data `{md_code(data.path)}` (sha256 `{data.sha256[:12]}`), policy "
        f"`{md_code(g.policy.path or 'built-in')}`, evalaudit {__version__}."
    )
    out.append("")
    h = g.audit.headline
    if h and h.get("corrected"):
        c, kind = h["corrected"], _kind(g)
        out.append(
            f"Headline **{fmt_score(c['score'], kind)}**; no correction applied."
            if c.get("applied") is False
            else f"Headline **{fmt_score(c['score'], kind)}**; corrected for suspect labels "
            f"**{fmt_score(c['score_corrected'], kind)}** (delta {fmt_effect(c['delta'], kind)}, "
            f"95% CI {fmt_ci(c['delta_ci'], kind, sep=' to ', brackets=False)})."
        )
        out.append("")
    if h and h.get("ppi"):
        out += [ppi_gate_line(g.audit.to_dict()) or "", ""]
    base = baseline_line(g)
    if base:
        out += [md_cell(base), ""]

    def table(title: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        out.extend(
            [
                f"### {title} ({len(rows)})",
                "",
                "| rule | finding | message | impact |",
                "|---|---|---|---|",
            ]
        )
        for f in rows[:MARKDOWN_ROWS]:
            out.append(
                f"| {f['rule']} | `{md_code(f['id'])}` | {md_cell(f['message'])} | "
                f"{md_cell(fmt_impact(f.get('impact'), _kind(g)))} |"
            )
        if len(rows) > MARKDOWN_ROWS:
            out.append(f"\n{len(rows) - MARKDOWN_ROWS} more in the JSON output.")
        out.append("")

    table("Blocking", list(g.blocking))
    o = g.outcome
    if o.dismissed:
        out.extend(
            [
                f"### Dismissed ({len(o.dismissed)})",
                "",
                "| finding | by | until | reason |",
                "|---|---|---|---|",
            ]
        )
        for fid, d in list(o.dismissed.items())[:MARKDOWN_ROWS]:
            out.append(
                f"| `{md_code(fid)}` | {md_cell(d.by)} | {d.until or ''} | {md_cell(d.reason)} |"
            )
        out.append("")
    if o.stale:
        out.append(
            "Stale decisions (match no finding): "
            + ", ".join(f"`{md_code(d.finding_id)}`" for d in o.stale[:MARKDOWN_ROWS])
        )
        out.append("")
    table("Warnings", list(g.warnings))
    out.append("| rule | name | status |")
    out.append("|---|---|---|")
    for r in g.rules:
        out.append(f"| {r['code']} | {r['name']} | {r['status']} |")
    out.append("")
    return "\n".join(out)


def render_junit(g: GateResult) -> str:
    """JUnit XML: one test case per rule; a rule with live blocking findings fails."""
    suite = ET.Element(
        "testsuite",
        name="evalaudit gate",
        tests=str(len(g.rules)),
        failures=str(sum(r["status"] == "fail" for r in g.rules)),
        errors="0",
        skipped="0",
    )
    by_id = {f["id"]: f for f in (*g.blocking, *g.warnings)}
    for r in g.rules:
        case = ET.SubElement(
            suite, "testcase", classname=f"evalaudit.{r['code']}", name=f"{r['code']} {r['name']}"
        )
        msgs = [f"{fid}: {by_id[fid]['message']}" for fid in r["findings"] if fid in by_id]
        if r["status"] == "fail":
            fail = ET.SubElement(
                case, "failure", message=f"{len(msgs)} blocking finding(s)", type=r["kind"]
            )
            fail.text = "\n".join(msgs)
        out_lines = []
        if r["status"] == "warn":
            out_lines += msgs
        out_lines += [f"dismissed: {fid}" for fid in r["dismissed"]]
        if out_lines:
            ET.SubElement(case, "system-out").text = "\n".join(out_lines)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
