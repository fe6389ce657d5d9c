"""The LLM-judge section of every surface: the judge audit and the PPI headline, rendered.

Reads the result's JSON form only (``judges`` and ``headline.ppi``); computes nothing. The
text summary, the Markdown, the HTML report and the gate summary call these.
"""

from __future__ import annotations

from html import escape
from typing import Any

from evalaudit.render.format import fmt_ci, fmt_effect, fmt_num, fmt_q, fmt_score, is_missing

__all__ = [
    "judge_html",
    "judge_markdown_lines",
    "judge_text_lines",
    "ppi_gate_line",
    "ppi_per_model",
    "ppi_weighting",
]


def _pct(x: Any) -> str:
    return "-" if is_missing(x) else f"{float(x) * 100:.0f}%"


def _ci_score(pair: Any, kind: str) -> str:
    if not pair or is_missing(pair[0]) or is_missing(pair[1]):
        return "-"
    return f"[{fmt_score(pair[0], kind)}, {fmt_score(pair[1], kind)}]"


def _score_ci(x: Any, pair: Any, kind: str) -> str:
    """A score and its CI in prose: ``59.1% [56.7%, 61.4%]``; ``n/a`` alone when there is no
    estimate (not ``n/a -``)."""
    if is_missing(x):
        return "n/a"
    ci = _ci_score(pair, kind)
    return fmt_score(x, kind) + ("" if ci == "-" else f" {ci}")


def ppi_per_model(ppi: dict[str, Any]) -> list[dict[str, Any]]:
    """The reported estimate's per-model rows of ``headline.ppi``."""
    return [m for m in ppi.get("per_model") or [] if m.get("judge") == ppi.get("reported")]


def ppi_weighting(ppi: dict[str, Any]) -> str:
    """How the PPI headline weights the human subset, in a few words (``weighting``,
    ``strata``, ``n_strata``; a JSON from before they existed: its ``assumption``)."""
    strata = ppi.get("strata") or []
    if ppi.get("weighting") == "stratified" and strata:
        n = ppi.get("n_strata")
        return (
            f"stratified by {' x '.join(map(str, strata))}"
            + (f" ({n} strata)" if n else "")
            + ", inverse-probability weights (humans random within strata)"
        )
    if ppi.get("weighting") == "none":
        return "none (humans assumed a uniform random subset, MCAR)"
    return str(ppi.get("assumption") or "-")


def _assumption(ppi: dict[str, Any]) -> str:
    """The assumption as the JSON says it, with the number of strata when stratified."""
    text = str(ppi.get("assumption") or "-")
    if ppi.get("weighting") == "stratified" and ppi.get("n_strata"):
        text += f"; {ppi['n_strata']} strata"
    return text


def ppi_gate_line(d: dict[str, Any]) -> str | None:
    """One line for the gate summary: the PPI headline beside the judge-only one."""
    ppi = (d.get("headline") or {}).get("ppi")
    if not ppi:
        return None
    kind = d["label"]["kind"]
    return (
        f"PPI headline (LLM judges de-biased by {ppi['n_labeled']:,} human-labeled items): "
        f"{_score_ci(ppi['score'], ppi['ci'], kind)}; judge-only "
        f"{fmt_score(ppi['judge_only_score'], kind)}, humans-only "
        f"{_score_ci(ppi['humans_only_score'], ppi['humans_only_ci'], kind)}. "
        f"Weights: {ppi_weighting(ppi)}." + (f" Note: {ppi['note']}." if ppi.get("note") else "")
    )


def _flagged_slices(j: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in j.get("per_slice") or [] if s.get("flagged")]


def judge_text_lines(d: dict[str, Any]) -> list[str]:
    """The judges block of ``evalaudit audit``'s summary (empty without judges)."""
    judges = d.get("judges") or []
    ppi = (d.get("headline") or {}).get("ppi")
    if not judges and not ppi:
        return []
    kind = d["label"]["kind"]
    out = [
        "",
        "LLM judges (humans are the reference; bias = judge - human consensus on shared items):",
    ]
    out.append(
        f"  {'judge':<16} {'family':<10} {'shared':>7} {'bias':>10}  {'95% CI':<22} {'q':>7}  "
        f"{'kappa':>6} {'pass|H fail':>11} {'fail|H pass':>11}  flag"
    )
    for j in judges:
        out.append(
            f"  {str(j['judge'])[:16]:<16} {str(j.get('family') or '-')[:10]:<10} "
            f"{j['n_shared']:>7,} {fmt_effect(j['bias'], kind):>10}  "
            f"{fmt_ci(j['ci'], kind):<22} {fmt_q(j.get('q_value')):>7}  "
            f"{fmt_num(j.get('kappa'), 2):>6} {_pct(j.get('pass_when_humans_fail')):>11} "
            f"{_pct(j.get('fail_when_humans_pass')):>11}  {'FLAG' if j.get('flagged') else ''}"
        )
        for s in _flagged_slices(j):
            out.append(
                f"    {s['slice_column']}={s['slice_value']}: bias {fmt_effect(s['bias'], kind)} "
                f"{fmt_ci(s['ci'], kind)}, n={s['n_shared']}, tilt {fmt_effect(s['tilt'], kind)} "
                f"vs elsewhere, q={fmt_q(s.get('q_value'))}  FLAG"
            )
        sp = j.get("self_preference")
        if sp:
            binary = sp.get("measure") == "false_pass"
            eff = sp.get("false_pass_effect") if binary else sp.get("effect")
            ci = sp.get("false_pass_ci") if binary else sp.get("ci")
            what = "false-pass rate on own family" if binary else "bias on own family"
            out.append(
                f"    self-preference ({', '.join(sp.get('own_models') or []) or 'no own model'}):"
                f" {what} {fmt_effect(eff, kind)} {fmt_ci(ci, kind)} vs other models, "
                f"q={fmt_q(sp.get('q_value'))}" + ("  FLAG" if sp.get("flagged") else "")
            )
    if ppi:
        out.append(
            f"  PPI headline ({ppi['judge']}, {ppi['method']}): "
            f"{_score_ci(ppi['score'], ppi['ci'], kind)}, lambda {fmt_num(ppi['lambda'], 2)}, "
            f"{ppi['n_labeled']:,} human-labeled + {ppi['n_unlabeled']:,} judge-only items; "
            f"judge-only {_score_ci(ppi['judge_only_score'], ppi['judge_only_ci'], kind)}, "
            f"humans-only {_score_ci(ppi['humans_only_score'], ppi['humans_only_ci'], kind)}."
        )
        out.append(f"    assumption: {_assumption(ppi)}.")
        if ppi.get("note"):
            out.append(f"    note: {ppi['note']}.")
        for m in ppi_per_model(ppi):
            out.append(
                f"    {m['model']}: PPI {_score_ci(m['score'], m['ci'], kind)}"
                f", judge-only {fmt_score(m['judge_only_score'], kind)}, humans-only "
                f"{fmt_score(m['humans_only_score'], kind)} (n={m['n_labeled']:,} human-labeled)"
            )
    return out


def _md(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def judge_markdown_lines(d: dict[str, Any]) -> list[str]:
    """The ``## LLM judges`` section of the Markdown summary (empty without judges)."""
    judges = d.get("judges") or []
    ppi = (d.get("headline") or {}).get("ppi")
    if not judges and not ppi:
        return []
    kind = d["label"]["kind"]
    out = ["", "## LLM judges", ""]
    out.append(
        "Humans are the reference: bias is the judge's score minus the human consensus on the "
        "items both graded."
    )
    out.append("")
    out.append(
        "| judge | family | shared items | bias | 95% CI | q | kappa | passes humans' fails "
        "| fails humans' passes | flagged |"
    )
    out.append("|---|---|---:|---:|---|---:|---:|---:|---:|---|")
    for j in judges:
        out.append(
            f"| {_md(j['judge'])} | {_md(j.get('family') or '-')} | {j['n_shared']:,} | "
            f"{fmt_effect(j['bias'], kind)} | {fmt_ci(j['ci'], kind)} | {fmt_q(j.get('q_value'))} "
            f"| {fmt_num(j.get('kappa'), 2)} | {_pct(j.get('pass_when_humans_fail'))} | "
            f"{_pct(j.get('fail_when_humans_pass'))} | {'yes' if j.get('flagged') else ''} |"
        )
    rows = [(j, s) for j in judges for s in _flagged_slices(j)]
    if rows:
        out += [
            "",
            "| judge | slice | n | bias | 95% CI | tilt | q |",
            "|---|---|---:|---:|---|---:|---:|",
        ]
        for j, s in rows:
            out.append(
                f"| {_md(j['judge'])} | {_md(s['slice_column'])}={_md(s['slice_value'])} | "
                f"{s['n_shared']:,} | {fmt_effect(s['bias'], kind)} | {fmt_ci(s['ci'], kind)} | "
                f"{fmt_effect(s['tilt'], kind)} | {fmt_q(s.get('q_value'))} |"
            )
    sps = [(j, j["self_preference"]) for j in judges if j.get("self_preference")]
    if sps:
        out += ["", "| judge | own models | self-preference | 95% CI | q | flagged |"]
        out.append("|---|---|---:|---|---:|---|")
        for j, sp in sps:
            binary = sp.get("measure") == "false_pass"
            eff = sp.get("false_pass_effect") if binary else sp.get("effect")
            ci = sp.get("false_pass_ci") if binary else sp.get("ci")
            out.append(
                f"| {_md(j['judge'])} | {_md(', '.join(sp.get('own_models') or []))} | "
                f"{fmt_effect(eff, kind)} | {fmt_ci(ci, kind)} | {fmt_q(sp.get('q_value'))} | "
                f"{'yes' if sp.get('flagged') else ''} |"
            )
    if ppi:
        out += ["", f"**PPI headline** ({_md(ppi['method'])}; {_md(_assumption(ppi))}):", ""]
        if ppi.get("note"):
            out += [f"Note: {_md(ppi['note'])}.", ""]
        out.append("| scope | PPI | 95% CI | judge-only | humans-only | 95% CI | human-labeled |")
        out.append("|---|---:|---|---:|---:|---|---:|")
        for name, r in [("overall", ppi)] + [(m["model"], m) for m in ppi_per_model(ppi)]:
            out.append(
                f"| {_md(name)} | {fmt_score(r['score'], kind)} | {_ci_score(r['ci'], kind)} | "
                f"{fmt_score(r['judge_only_score'], kind)} | "
                f"{fmt_score(r['humans_only_score'], kind)} | "
                f"{_ci_score(r['humans_only_ci'], kind)} | {r['n_labeled']:,} |"
            )
    return out


def judge_html(d: dict[str, Any]) -> str:
    """The report's LLM-judge section as HTML (escaped; empty without judges)."""
    judges = d.get("judges") or []
    ppi = (d.get("headline") or {}).get("ppi")
    if not judges and not ppi:
        return ""
    kind = d["label"]["kind"]
    e = escape
    parts = [
        '<section id="judges">',
        "<h2>LLM judges</h2>",
        '<p class="note">Humans are the reference: bias is the judge\'s score minus the human '
        "consensus on the items both graded (item-clustered 95% CI); per-slice tilts and "
        "self-preference share the audit's one error budget.</p>",
        '<table><tr><th>judge</th><th>family</th><th class="n">shared items</th>'
        '<th class="n">bias</th><th>95% CI</th><th class="n">q</th><th class="n">kappa</th>'
        '<th class="n">passes humans\' fails</th><th class="n">fails humans\' passes</th>'
        "<th>flagged</th></tr>",
    ]
    for j in judges:
        parts.append(
            f'<tr><td class="id">{e(str(j["judge"]))}</td><td>{e(str(j.get("family") or "-"))}'
            f'</td><td class="n">{j["n_shared"]:,}</td><td class="n">'
            f'{e(fmt_effect(j["bias"], kind))}</td><td class="ci">{e(fmt_ci(j["ci"], kind))}'
            f'</td><td class="n">{e(fmt_q(j.get("q_value")))}</td><td class="n">'
            f'{e(fmt_num(j.get("kappa"), 2))}</td><td class="n">'
            f'{_pct(j.get("pass_when_humans_fail"))}</td><td class="n">'
            f"{_pct(j.get('fail_when_humans_pass'))}</td><td>"
            + ('<span class="flag">yes</span>' if j.get("flagged") else "")
            + "</td></tr>"
        )
    parts.append("</table>")
    rows = [(j, s) for j in judges for s in _flagged_slices(j)]
    if rows:
        parts.append(
            '<table><tr><th>judge</th><th>slice</th><th class="n">n</th><th class="n">bias</th>'
            '<th>95% CI</th><th class="n">tilt</th><th class="n">q</th></tr>'
        )
        for j, s in rows:
            parts.append(
                f'<tr><td class="id">{e(str(j["judge"]))}</td><td>'
                f"{e(str(s['slice_column']))}={e(str(s['slice_value']))}</td>"
                f'<td class="n">{s["n_shared"]:,}</td><td class="n">'
                f'{e(fmt_effect(s["bias"], kind))}</td><td class="ci">'
                f'{e(fmt_ci(s["ci"], kind))}</td><td class="n">{e(fmt_effect(s["tilt"], kind))}'
                f'</td><td class="n">{e(fmt_q(s.get("q_value")))}</td></tr>'
            )
        parts.append("</table>")
    if ppi:
        parts.append(
            f'<p class="note">PPI headline: {e(str(ppi["method"]))}; assumption: '
            f"{e(_assumption(ppi))}."
            + (f" Note: {e(str(ppi['note']))}." if ppi.get("note") else "")
            + "</p>"
        )
        parts.append(
            '<table><tr><th>scope</th><th class="n">PPI</th><th>95% CI</th>'
            '<th class="n">judge-only</th><th class="n">humans-only</th><th>95% CI</th>'
            '<th class="n">human-labeled</th></tr>'
        )
        for name, r in [("overall", ppi)] + [(m["model"], m) for m in ppi_per_model(ppi)]:
            parts.append(
                f'<tr><td class="id">{e(str(name))}</td><td class="n">'
                f'{e(fmt_score(r["score"], kind))}</td><td class="ci">'
                f'{e(_ci_score(r["ci"], kind))}</td><td class="n">'
                f'{e(fmt_score(r["judge_only_score"], kind))}</td><td class="n">'
                f'{e(fmt_score(r["humans_only_score"], kind))}</td><td class="ci">'
                f'{e(_ci_score(r["humans_only_ci"], kind))}</td><td class="n">'
                f"{r['n_labeled']:,}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)
