"""The human summary printed by ``evalaudit audit``."""

from __future__ import annotations

from typing import Any

from evalaudit.render.format import fmt_effect, fmt_num, fmt_q, fmt_score, is_missing
from evalaudit.render.judges import judge_text_lines
from evalaudit.result import AuditResult
from evalaudit.verdicts import SEVERITIES

__all__ = ["fmt_effect", "fmt_num", "fmt_q", "render_text", "scan_method"]

MAX_LABELER_ROWS = 15


#: Info findings listed in the text summary; the rest are counted by kind.
MAX_INFO_SHOWN = 10


def scan_method(scan: dict[str, Any], kind: str) -> str:
    """How the slice scan's q-values were computed, in one clause."""
    effect = scan.get("weight_effect")
    budget = scan.get("budget") or {}
    tests = budget.get("tests") or {}
    name = "Holm" if budget.get("error_control") == "familywise" else "Benjamini-Hochberg"
    where = (
        f"one weighted {name} over {budget.get('tests_total', 0):,} tests "
        f"({tests.get('labelers', 0)} labelers, {tests.get('cells', 0)} cells' tilts, "
        f"{tests.get('drift', 0)} drift"
        + (f", {tests['judges']} LLM-judge tests" if tests.get("judges") else "")
        + ")"
        if budget
        else "Benjamini-Hochberg across all tested"
    )
    if scan.get("weighting") == "power" and effect:
        unit = fmt_effect(effect, kind).lstrip("+")
        return f"{where}, each test weighted by its power to show a {unit} effect"
    return where


def _q_name(d: dict[str, Any]) -> str:
    """What the labelers' q-values are, for a column note."""
    budget = (d.get("scan") or {}).get("budget") or {}
    if budget.get("error_control") == "familywise":
        return "one error budget, Holm"
    return "one error budget, BH" if budget else "BH"


def render_text(result: AuditResult) -> str:
    d = result.to_dict()
    inp, lab, agr = d["input"], d["label"], d["agreement"]
    kind = lab["kind"]

    def _sc(x: Any) -> str:
        return fmt_score(x, kind)

    lines = [
        f"evalaudit {d['evalaudit_version']}: audit of {inp['path']} (sha256 {inp['sha256'][:12]})"
    ]
    rej = inp["rows_rejected"]
    rej_txt = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in rej.items()) or "none"
    lines.append(
        f"Rows: read {inp['rows_read']:,}, used {inp['rows_used']:,}, "
        f"not used {sum(rej.values()):,} ({rej_txt})."
    )
    lines.extend(f"Input: {n}." for n in d.get("notes") or [])
    lines.append(f"Items {inp['items']:,}, labelers {inp['labelers']:,}.")
    lines.append(f"Labels: {lab['description']}  [override: --label-kind, --positive, --order]")
    slices = ", ".join(inp["slice_columns"]) or "none"
    lines.append(f"Slices: {slices} ({lab['slices']}).")
    lines.append("")
    lines.append(
        f"Agreement: Krippendorff's alpha ({agr['level']}) = {fmt_num(agr['alpha'])} "
        f"on {agr['n_units']:,} items with 2+ labels ({agr['n_values']:,} labels)."
    )
    if agr.get("per_vendor"):
        lines.append(
            "  by vendor: "
            + ", ".join(f"{r['slice_value']} {fmt_num(r['alpha'])}" for r in agr["per_vendor"])
        )
    for col in inp["slice_columns"]:
        rows = [r for r in agr.get("per_slice", []) if r["slice_column"] == col]
        if rows:
            lines.append(
                f"  by {col}: "
                + ", ".join(f"{r['slice_value']} {fmt_num(r['alpha'], 2)}" for r in rows)
            )
    h = d.get("headline")
    if not h:
        lines.append("")
        lines.append(
            "Headline: not estimable (the labels carry no score: nominal labels need "
            "--positive, an ordinal scale two or more levels)."
        )
    if h:
        lines.append("")
        lines.append(
            f"Headline (mean item score): {fmt_score(h['score'], kind)} "
            f"[95% CI {_sc(h['ci'][0])}, {_sc(h['ci'][1])}] over {h['items']:,} items."
        )
        if h.get("suspect_labels"):
            kept = h["items"] - h["items_dropped"]
            lines.append(
                f"  without the {h['suspect_labels']:,} suspect labels ({h['suspects']}): "
                f"{_sc(h['score_kept_items'])} -> {_sc(h['score_without_suspects'])} on the "
                f"{kept:,} items that keep a label; paired delta {fmt_effect(h['delta'], kind)} "
                f"[95% CI {fmt_effect(h['delta_ci'][0], kind)}, "
                f"{fmt_effect(h['delta_ci'][1], kind)}]."
            )
            if h["items_dropped"]:
                lines.append(
                    f"  {h['items_dropped']:,} items had only suspect labels and are left out "
                    "of both sides."
                )
            corr = h.get("corrected")
            if corr:
                lines.append(
                    f"  corrected for their estimated leniency: {_sc(corr['score'])} -> "
                    f"{_sc(corr['score_corrected'])}, delta {fmt_effect(corr['delta'], kind)} "
                    f"[95% CI {fmt_effect(corr['delta_ci'][0], kind)}, "
                    f"{fmt_effect(corr['delta_ci'][1], kind)}] over all {corr['items']:,} items"
                    + ("; the order of the models changes" if corr.get("ranking_changed") else "")
                    + "."
                )
            per_model = (corr or {}).get("per_model") or []
            for m in per_model:
                if m.get("applied") is False:
                    # no suspect label on this model's items: the number does not move
                    lines.append(f"  {m['model']}: {_sc(m['score'])}, no correction applied")
                    continue
                lines.append(
                    f"  {m['model']}: {_sc(m['score'])} -> {_sc(m['score_corrected'])} "
                    f"corrected (delta {fmt_effect(m['delta'], kind)})"
                )
    lines.append("")
    lines.append(
        "Labelers by leniency (effect vs peers on the same kind of items, 95% CI, q of the "
        f"{_q_name(d)};\n"
        "  ranked by the empirical-Bayes shrunken effect, which discounts small samples):"
    )
    labs = d["labelers"]
    shown = [r for i, r in enumerate(labs) if i < MAX_LABELER_ROWS or r["flagged"]]
    head = (
        f"  {'#':>3}  {'labeler':<16} {'labels':>7} {'share':>6}  {'leniency':>10}  "
        f"{'95% CI':<22} {'q':>7}  {'evidence':<19} {'kappa':>6}  flag"
    )
    lines.append(head)
    for i, r in enumerate(shown, start=1):
        ci = f"[{fmt_effect(r['ci'][0], kind)}, {fmt_effect(r['ci'][1], kind)}]"
        lines.append(
            f"  {i:>3}  {str(r['labeler_id'])[:16]:<16} {r['n_labels']:>7,} "
            f"{r['share'] * 100:>5.1f}%  {fmt_effect(r['leniency'], kind):>10}  {ci:<22} "
            f"{fmt_q(r['q_value']):>7}  {r['evidence']:<19} {fmt_num(r['kappa'], 2):>6}  "
            f"{'FLAG' if r['flagged'] else ''}"
            + ("  (LLM judge)" if r.get("labeler_type") == "model" else "")
        )
    if len(labs) > len(shown):
        lines.append(f"  ... {len(labs) - len(shown)} more labelers (all in --json)")
    untested = [r for r in labs if is_missing(r.get("q_value"))]
    if untested:
        ms = (d.get("policy") or {}).get("min_support")
        used = [r.get("n_used") or 0 for r in untested]
        none = sum(u == 0 for u in used)
        few = sum(0 < u < ms for u in used) if ms is not None else 0
        rest = len(untested) - none - few
        why = []
        if none:
            why.append(f"{none} with no label comparable to a peer's")
        if few:
            why.append(f"{few} with fewer than {ms} comparable labels (min_support)")
        if rest:
            why.append(f"{rest} with no estimable effect (no disagreement with the peers)")
        lines.append(f"  q n/a: not tested: {'; '.join(why)}.")
    scan = d.get("scan") or {}
    if scan:
        lines.append("")
        lines.append(
            f"Slice scan: {scan['cells_tested']:,} labeler x slice cells tested (of "
            f"{scan['cells_estimated']:,} with labels; one slice column and pairs), "
            f"{scan_method(scan, kind)}; {scan['cells_flagged']} flagged."
        )
        flagged_cells = sorted(
            (c for c in d.get("cells", []) if c.get("flagged")), key=lambda c: c["p_value"]
        )
        for c in flagged_cells[:10]:
            lines.append(
                f"  {c['labeler_id']} x {c['slice_column']}={c['slice_value']}: "
                f"{fmt_effect(c['leniency'], kind)} [{fmt_effect(c['ci'][0], kind)}, "
                f"{fmt_effect(c['ci'][1], kind)}], n={c['n']}, q={fmt_q(c['q_value'])}; "
                f"tilt {fmt_effect(c['tilt'], kind)} vs its labels elsewhere"
            )
    lines.extend(judge_text_lines(d))
    lines.append("")
    fs = d["findings"]
    counts = {s: sum(f["severity"] == s for f in fs) for s in reversed(SEVERITIES)}
    lines.append(
        f"Findings: {counts['block']} block, {counts['warn']} warn, {counts['info']} info."
    )
    infos = 0
    hidden: dict[str, int] = {}
    for f in fs:
        if f["severity"] == "info":
            infos += 1
            if infos > MAX_INFO_SHOWN:
                hidden[f["kind"]] = hidden.get(f["kind"], 0) + 1
                continue
        lines.append(f"  {f['severity'].upper():<5} {f['id']}: {f['message']}")
    if hidden:
        # 500 labelers can give ~150 assignment_imbalance notes: the verdict must stay in view
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(hidden.items(), key=lambda kv: -kv[1]))
        lines.append(f"  ... {sum(hidden.values()):,} more info findings ({kinds}; all in --json)")
    lines.append("")
    lines.append(f"Verdict: {d['verdict']} (policy {d['policy'].get('path') or 'built-in'}).")
    return "\n".join(lines) + "\n"
