"""The renderers of ``evalaudit diff``: a version comparison for people and for Markdown.

They format a :class:`~evalaudit.diff.VersionDiff`; numbers go through
:mod:`evalaudit.render.format` (scores and deltas in the label kind's units).
"""

from __future__ import annotations

import math
from typing import Any

from evalaudit.diff import VersionDiff
from evalaudit.render.format import fmt_effect, fmt_q, fmt_score
from evalaudit.render.markdown import md_cell

__all__ = ["MAX_SHOWN", "render_diff_markdown", "render_diff_text"]

#: Most ids, labelers and slice values listed in the text summary (all are in --json).
MAX_SHOWN = 10


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _score(x: Any, kind: str) -> str:
    """A headline or mean score in the label kind's units."""
    return fmt_score(x, kind)


def _delta(x: Any, kind: str) -> str:
    """A change of score in the label kind's units."""
    return fmt_effect(x, kind)


def _name(info: dict[str, Any], side: str) -> str:
    if info["path"] is None:
        return "(label table in memory)"
    return f"{info['path']} (sha256 {info['sha256'][:12]})"


def _mean_label(kind: str) -> str:
    return "pass rate" if kind == "binary" else "mean score"


def _slice_line(r: dict[str, Any], kind: str) -> str:
    where = f"{r['slice_column']}={r['slice_value']}"
    if _nan(r["old_mean"]) and r["old_counts"]:  # nominal without a passing class
        shift = "labels " + ", ".join(
            f"{c} {r['old_counts'][c]}->{r['new_counts'][c]}" for c in r["old_counts"]
        )
    else:
        shift = (
            f"{_mean_label(kind)} {_score(r['old_mean'], kind)} -> "
            f"{_score(r['new_mean'], kind)} ({_delta(r['delta'], kind)})"
        )
    return f"{where}: {shift} (n {r['n_old']:,} -> {r['n_new']:,}), q {fmt_q(r['q_value'])}"


def render_diff_text(result: VersionDiff) -> str:
    """The human summary printed by ``evalaudit diff`` (headline first)."""
    d = result.to_dict()
    kind = d["label_kind"]
    o, n = d["old"], d["new"]
    lines = [
        f"evalaudit {d['evalaudit_version']}: diff",
        f"  OLD {_name(o, 'OLD')}",
        f"  NEW {_name(n, 'NEW')}",
        f"Label scale: {kind}"
        + (f" ({', '.join(d['categories'])})" if d["categories"] else "")
        + " in both versions.",
        "",
    ]
    h = d["headline"]
    if h is None:
        lines.append("Headline: n/a (labels have no score; declare --positive for nominal labels).")
    else:
        lines.append(
            f"Headline (mean item score): {_score(h['old'], kind)} -> {_score(h['new'], kind)} "
            f"({_delta(h['change'], kind)})"
        )
        lines.append(
            f"  from changed items (added/removed):  {_delta(h['from_changed_items'], kind)}"
        )
        lines.append(
            f"  from changed labels on kept items:   {_delta(h['from_changed_labels'], kind)} "
            f"({h['items_rescored']:,} of {h['items_kept']:,} kept items re-scored)"
        )
        for m in h["per_model"]:
            lines.append(
                f"  {m['model']}: {_score(m['old'], kind)} -> {_score(m['new'], kind)} "
                f"({_delta(m['change'], kind)}; items {_delta(m['from_changed_items'], kind)}, "
                f"labels {_delta(m['from_changed_labels'], kind)})"
            )
    lines.append("")
    it = d["items"]
    lines.append(
        f"Items: {o['items']:,} -> {n['items']:,}: kept {it['kept']:,}, added {it['added']:,}, "
        f"removed {it['removed']:,}."
    )
    for key in ("added", "removed"):
        ids = it[f"{key}_ids"]
        if ids:
            shown = ids[:MAX_SHOWN]
            more = f" ... and {it[key] - len(shown):,} more" if it[key] > len(shown) else ""
            lines.append(f"  {key}: {', '.join(shown)}{more}")
    lb = d["labels"]
    lines.append(
        f"Labels: {o['labels']:,} -> {n['labels']:,}: unchanged {lb['unchanged']:,}, "
        f"changed {lb['changed']:,}, added {lb['added']:,} "
        f"({lb['added_on_new_items']:,} on new items), removed {lb['removed']:,} "
        f"({lb['removed_on_removed_items']:,} with removed items)."
    )
    rows = lb["by_labeler"]
    if rows:
        lines.append("")
        lines.append("Labelers by changed labels:")
        lines.append(
            f"  {'labeler':<16} {'changed':>8} {'of old':>8} {'share':>7} {'added':>7} "
            f"{'removed':>8}"
        )
        for r in rows[:MAX_SHOWN]:
            share = f"{r['changed'] / r['n_old'] * 100:.1f}%" if r["n_old"] else "n/a"
            lines.append(
                f"  {str(r['labeler_id'])[:16]:<16} {r['changed']:>8,} {r['n_old']:>8,} "
                f"{share:>7} {r['added']:>7,} {r['removed']:>8,}"
            )
        if len(rows) > MAX_SHOWN:
            lines.append(f"  ... {len(rows) - MAX_SHOWN} more labelers (all in --json)")
    if lb["examples"]:
        ex = ", ".join(
            f"{e['item_id']}/{e['labeler_id']} {e['old']}->{e['new']}" for e in lb["examples"][:3]
        )
        more = lb["changed"] - min(lb["changed"], 3)
        lines.append(f"  e.g. {ex}" + (f" (+{more:,} more)" if more else ""))
    lines.append("")
    tested = [r for r in d["slices"] if r["test"]]
    sig = result.significant_slices.to_dict(orient="records")
    fdr = d["slice_test"]["fdr"]
    if not d["slices"]:
        lines.append("Slices: no slice column in both versions.")
    else:
        lines.append(
            f"Slices with a changed label distribution (BH q < {fdr:g}): {len(sig)} of "
            f"{len(tested)} tested slice values" + (":" if sig else ".")
        )
        for r in sig[:MAX_SHOWN]:
            lines.append("  " + _slice_line(r, kind))
        if len(sig) > MAX_SHOWN:
            lines.append(f"  ... {len(sig) - MAX_SHOWN} more (all in --json)")
    for key, side in (("columns_only_old", "OLD"), ("columns_only_new", "NEW")):
        if d["slice_test"][key]:
            lines.append(f"  slice columns only in {side}: {', '.join(d['slice_test'][key])}")
    return "\n".join(lines) + "\n"


def render_diff_markdown(result: VersionDiff) -> str:
    """A Markdown summary (pull-request comments, CI job summaries)."""
    d = result.to_dict()
    kind = d["label_kind"]
    o, n = d["old"], d["new"]
    out = ["# evalaudit diff", ""]
    out.append(
        f"- OLD: {md_cell(o['path'] or 'OLD')} ({o['items']:,} items, {o['labels']:,} labels)"
    )
    out.append(
        f"- NEW: {md_cell(n['path'] or 'NEW')} ({n['items']:,} items, {n['labels']:,} labels)"
    )
    out.append("")
    h = d["headline"]
    if h is not None:
        out += [
            "## Headline",
            "",
            "| scope | old | new | change | from items | from labels |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in [{"model": "all items", **h}, *h["per_model"]]:
            out.append(
                f"| {md_cell(r['model'])} | {_score(r['old'], kind)} | {_score(r['new'], kind)} | "
                f"{_delta(r['change'], kind)} | {_delta(r['from_changed_items'], kind)} | "
                f"{_delta(r['from_changed_labels'], kind)} |"
            )
        out.append("")
    it, lb = d["items"], d["labels"]
    out += [
        "## Items and labels",
        "",
        f"- Items: kept {it['kept']:,}, added {it['added']:,}, removed {it['removed']:,}",
        f"- Labels: unchanged {lb['unchanged']:,}, changed {lb['changed']:,}, added "
        f"{lb['added']:,}, removed {lb['removed']:,}",
        "",
    ]
    if lb["by_labeler"]:
        out += ["| labeler | changed | of old | added | removed |", "|---|---:|---:|---:|---:|"]
        for r in lb["by_labeler"][:30]:
            out.append(
                f"| {md_cell(r['labeler_id'])} | {r['changed']:,} | {r['n_old']:,} | "
                f"{r['added']:,} | {r['removed']:,} |"
            )
        out.append("")
    sig = result.significant_slices.to_dict(orient="records")
    out += [f"## Slices with a changed label distribution (q < {d['slice_test']['fdr']:g})", ""]
    if sig:
        out += ["| slice | old | new | change | labels | q |", "|---|---:|---:|---:|---:|---:|"]
        for r in sig[:30]:
            out.append(
                f"| {md_cell(r['slice_column'])}={md_cell(r['slice_value'])} | "
                f"{_score(r['old_mean'], kind)} | {_score(r['new_mean'], kind)} | "
                f"{_delta(r['delta'], kind)} | {r['n_old']:,} -> {r['n_new']:,} | "
                f"{md_cell(fmt_q(r['q_value']))} |"
            )
    else:
        out.append("None.")
    return "\n".join(out) + "\n"
