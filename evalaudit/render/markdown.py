"""Markdown rendering of an AuditResult (CI job summaries, pull-request comments)."""

from __future__ import annotations

from evalaudit.render.format import fmt_effect, fmt_impact, fmt_num, fmt_q, fmt_score
from evalaudit.render.judges import judge_markdown_lines
from evalaudit.render.text import scan_method
from evalaudit.result import AuditResult

__all__ = ["md_cell", "md_code", "render_markdown"]

MAX_ROWS = 30


def md_cell(x: object) -> str:
    """Escape a value for a Markdown table cell."""
    s = str(x)
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def md_code(x: object) -> str:
    """A value inside a code span: backslash escapes do not apply there, backticks must go."""
    return str(x).replace("`", "'").replace("\n", " ")


def render_markdown(result: AuditResult) -> str:
    d = result.to_dict()
    inp, lab, agr = d["input"], d["label"], d["agreement"]
    kind = lab["kind"]

    def _pct(x: object) -> str:
        return fmt_score(x, kind)

    out = [f"# evalaudit: {d['verdict'].upper()}", ""]
    out.append(
        f"Audit of `{md_code(inp['path'])}` (sha256 `{inp['sha256'][:12]}`), evalaudit "
        f"{d['evalaudit_version']}."
    )
    out.append("")
    rej = ", ".join(f"{k}: {v:,}" for k, v in inp["rows_rejected"].items()) or "none"
    out.append(f"- Rows read {inp['rows_read']:,}, used {inp['rows_used']:,}; not used: {rej}")
    out.append(
        f"- Items {inp['items']:,}, labelers {inp['labelers']:,}; "
        f"labels: {md_cell(lab['description'])}"
    )
    out.append(
        f"- Krippendorff's alpha ({agr['level']}): **{fmt_num(agr['alpha'])}** on "
        f"{agr['n_units']:,} items with 2+ labels"
    )
    h = d.get("headline")
    if not h:
        out.append(
            "- Headline: not estimable (the labels carry no score: nominal labels need "
            "--positive, an ordinal scale two or more levels)"
        )
    if h and not h.get("suspect_labels", 1):
        out.append(
            f"- Headline: **{_pct(h['score'])}** (95% CI {_pct(h['ci'][0])} to "
            f"{_pct(h['ci'][1])}); no suspect labels, no correction applied"
        )
    elif h:
        out.append(
            f"- Headline: **{_pct(h['score'])}** (95% CI {_pct(h['ci'][0])} to "
            f"{_pct(h['ci'][1])}); without suspect labels "
            f"**{_pct(h['score_without_suspects'])}**, delta "
            f"{fmt_effect(h['delta'], kind)} (95% CI {fmt_effect(h['delta_ci'][0], kind)}"
            f" to {fmt_effect(h['delta_ci'][1], kind)})"
        )
    corr = (h or {}).get("corrected")
    if corr and corr.get("suspect_labels"):
        out.append(
            f"- Corrected for the suspects' estimated leniency: **{_pct(corr['score_corrected'])}**"
            f" (delta {fmt_effect(corr['delta'], kind)}, 95% CI "
            f"{fmt_effect(corr['delta_ci'][0], kind)} to {fmt_effect(corr['delta_ci'][1], kind)})"
        )
    scan = d.get("scan") or {}
    if scan:
        out.append(
            f"- Slice scan: {scan['cells_tested']:,} labeler x slice cells tested, "
            f"{scan['cells_flagged']} flagged ({scan_method(scan, kind)})"
        )
    out.append("")
    out.append("## Findings")
    out.append("")
    if not d["findings"]:
        out.append("None.")
    else:
        out.append("| severity | id | message | impact |")
        out.append("|---|---|---|---|")
        for f in d["findings"][:MAX_ROWS]:
            out.append(
                f"| {f['severity']} | `{md_code(f['id'])}` | {md_cell(f['message'])} | "
                f"{md_cell(fmt_impact(f.get('impact'), kind))} |"
            )
        if len(d["findings"]) > MAX_ROWS:
            out.append(f"\n... {len(d['findings']) - MAX_ROWS} more in the JSON output.")
    flagged_cells = [c for c in d.get("cells", []) if c.get("flagged")]
    if flagged_cells:
        out.append("")
        out.append("## Flagged cells")
        out.append("")
        out.append("| labeler | slice | n | leniency | 95% CI | q | tilt |")
        out.append("|---|---|---:|---:|---|---:|---:|")
        for c in sorted(flagged_cells, key=lambda c: c["p_value"])[:MAX_ROWS]:
            out.append(
                f"| {md_cell(c['labeler_id'])} | {md_cell(c['slice_column'])}="
                f"{md_cell(c['slice_value'])} | {c['n']:,} | {fmt_effect(c['leniency'], kind)} | "
                f"{fmt_effect(c['ci'][0], kind)} to {fmt_effect(c['ci'][1], kind)} | "
                f"{fmt_q(c['q_value'])} | {fmt_effect(c['tilt'], kind)} |"
            )
    drifting = [r for r in d.get("drift", []) if r.get("flagged")]
    if drifting:
        out.append("")
        out.append("## Drift")
        out.append("")
        out.append("| labeler | order | change at | before | after | q |")
        out.append("|---|---|---|---:|---:|---:|")
        for r in drifting[:MAX_ROWS]:
            out.append(
                f"| {md_cell(r['labeler_id'])} | {r['order']} | {md_cell(r['change_at'])} | "
                f"{fmt_effect(r['before'], kind)} | {fmt_effect(r['after'], kind)} | "
                f"{fmt_q(r['q_value'])} |"
            )
    out.extend(judge_markdown_lines(d))
    out.append("")
    out.append("## Labelers by leniency")
    out.append("")
    out.append("| labeler | labels | leniency | 95% CI | q | evidence | kappa | flagged |")
    out.append("|---|---:|---:|---|---:|---|---:|---|")
    for r in d["labelers"][:MAX_ROWS]:
        out.append(
            f"| {md_cell(r['labeler_id'])}"
            + (" (LLM judge)" if r.get("labeler_type") == "model" else "")
            + f" | {r['n_labels']:,} | {fmt_effect(r['leniency'], kind)}"
            f" | {fmt_effect(r['ci'][0], kind)} to {fmt_effect(r['ci'][1], kind)} "
            f"| {fmt_q(r['q_value'])} | {r['evidence']} | {fmt_num(r['kappa'], 2)} "
            f"| {'**yes**' if r['flagged'] else ''} |"
        )
    if len(d["labelers"]) > MAX_ROWS:
        out.append(f"\n... {len(d['labelers']) - MAX_ROWS} more in the JSON output.")
    out.append("")
    return "\n".join(out)
