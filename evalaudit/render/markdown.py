"""Markdown rendering of an AuditResult (CI job summaries, pull-request comments)."""

from __future__ import annotations

from evalaudit.render.text import _pct, _q, fmt_effect, fmt_num
from evalaudit.result import AuditResult

__all__ = ["render_markdown"]

MAX_ROWS = 30


def _cell(x: object) -> str:
    """Escape a value for a Markdown table cell."""
    s = str(x)
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def render_markdown(result: AuditResult) -> str:
    d = result.to_dict()
    inp, lab, agr = d["input"], d["label"], d["agreement"]
    kind = lab["kind"]
    out = [f"# evalaudit: {d['verdict'].upper()}", ""]
    out.append(
        f"Audit of `{_cell(inp['path'])}` (sha256 `{inp['sha256'][:12]}`), evalaudit "
        f"{d['evalaudit_version']}."
    )
    out.append("")
    rej = ", ".join(f"{k}: {v:,}" for k, v in inp["rows_rejected"].items()) or "none"
    out.append(f"- Rows read {inp['rows_read']:,}, used {inp['rows_used']:,}; not used: {rej}")
    out.append(
        f"- Items {inp['items']:,}, labelers {inp['labelers']:,}; "
        f"labels: {_cell(lab['description'])}"
    )
    out.append(
        f"- Krippendorff's alpha ({agr['level']}): **{fmt_num(agr['alpha'])}** on "
        f"{agr['n_units']:,} items with 2+ labels"
    )
    h = d.get("headline")
    if h:
        out.append(
            f"- Headline: **{_pct(h['score'])}** (95% CI {_pct(h['ci'][0])} to "
            f"{_pct(h['ci'][1])}); without suspect labels "
            f"**{_pct(h['score_without_suspects'])}**, delta "
            f"{fmt_effect(h['delta'], kind)} (95% CI {fmt_effect(h['delta_ci'][0], kind)}"
            f" to {fmt_effect(h['delta_ci'][1], kind)})"
        )
    out.append("")
    out.append("## Findings")
    out.append("")
    if not d["findings"]:
        out.append("None.")
    else:
        out.append("| severity | id | message |")
        out.append("|---|---|---|")
        for f in d["findings"][:MAX_ROWS]:
            out.append(f"| {f['severity']} | `{f['id']}` | {_cell(f['message'])} |")
        if len(d["findings"]) > MAX_ROWS:
            out.append(f"\n... {len(d['findings']) - MAX_ROWS} more in the JSON output.")
    out.append("")
    out.append("## Labelers by leniency")
    out.append("")
    out.append("| labeler | labels | leniency | 95% CI | q | evidence | kappa | flagged |")
    out.append("|---|---:|---:|---|---:|---|---:|---|")
    for r in d["labelers"][:MAX_ROWS]:
        out.append(
            f"| {_cell(r['labeler_id'])} | {r['n_labels']:,} | {fmt_effect(r['leniency'], kind)}"
            f" | {fmt_effect(r['ci'][0], kind)} to {fmt_effect(r['ci'][1], kind)} "
            f"| {_q(r['q_value'])} | {r['evidence']} | {fmt_num(r['kappa'], 2)} "
            f"| {'**yes**' if r['flagged'] else ''} |"
        )
    if len(d["labelers"]) > MAX_ROWS:
        out.append(f"\n... {len(d['labelers']) - MAX_ROWS} more in the JSON output.")
    out.append("")
    return "\n".join(out)
