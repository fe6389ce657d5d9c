"""Documentation generated from the rule registry: ``rules/README.md``'s tables and
``evalaudit rules``.

The README holds two generated blocks between ``<!-- BEGIN generated: NAME -->``
and ``<!-- END generated: NAME -->`` markers (``rules`` and ``keys``);
:func:`update_readme` rewrites them, and a test checks that the file in the
repository equals what the registry generates, so the README cannot drift
from the code (it once gave the wrong ``fdr`` default).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from evalaudit.rules.base import HEADLINE_KEYS, RULES, SHARED_KEYS, PolicyKey, Rule

__all__ = [
    "keys_table",
    "rule_detail",
    "rule_lines",
    "rules_table",
    "update_readme",
]


def _default_text(k: PolicyKey) -> str:
    if k.type is tuple:
        return "[" + ", ".join(map(str, k.default)) + "]"
    if k.choices:
        return f"`{k.default}`"
    return f"{k.default:g}" if isinstance(k.default, float) else str(k.default)


def _rule_of_key() -> dict[str, str]:
    out = {k.name: "all" for k in SHARED_KEYS}
    out.update({k.name: "headline" for k in HEADLINE_KEYS})
    for r in RULES:
        for k in r.keys:
            out[k.name] = r.code
    return out


def rules_table() -> str:
    """The README's rules table: code, name, kind, default severity, keys, summary."""
    lines = [
        "| code | name | finding kind | default severity | keys | fires when |",
        "|---|---|---|---|---|---|",
    ]
    for r in RULES:
        keys = ", ".join([*(f"`{k.name}`" for k in r.keys), *(f"`{u}`" for u in r.uses)]) or "-"
        lines.append(f"| {r.code} | {r.name} | `{r.kind}` | {r.severity} | {keys} | {r.summary} |")
    return "\n".join(lines)


def keys_table() -> str:
    """The README's keys table: every policy key with its type, range, default and rule."""
    owner = _rule_of_key()
    lines = [
        "| key | type | range | default | rule | per slice | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in [*SHARED_KEYS, *HEADLINE_KEYS, *(k for r in RULES for k in r.keys)]:
        lines.append(
            f"| `{k.name}` | {k.type_text()} | {k.range_text()} | {_default_text(k)} | "
            f"{owner[k.name]} | {'yes' if k.per_slice else ''} | {k.doc} |"
        )
    return "\n".join(lines)


def rule_lines() -> list[str]:
    """``evalaudit rules``: one line per rule (code, name, default severity, keys, summary)."""
    out = []
    for r in RULES:
        keys = ", ".join([*(k.name for k in r.keys), *r.uses]) or "-"
        out.append(f"{r.code}  {r.name:<22} {r.severity:<5}  keys: {keys}  {r.summary}")
    return out


def rule_detail(rule: Rule) -> str:
    """``evalaudit rules CODE``: the rule's card (its docstring and its keys)."""
    lines = [
        f"{rule.code} {rule.name}: {rule.summary}",
        f"finding kind: {rule.kind}; default severity: {rule.severity}"
        + ("; blocks only when material (materiality.*)" if rule.materiality else ""),
        "",
    ]
    for head, text in rule.sections().items():
        lines += [f"{head}:", textwrap.fill(text, 96, initial_indent="  ", subsequent_indent="  ")]
        lines.append("")
    if rule.keys:
        lines.append("Its policy keys:")
        for k in rule.keys:
            lines.append(
                f"  {k.name} ({k.type_text()}, {k.range_text()}, default {_default_text(k)})"
                f": {k.doc}"
            )
    if rule.uses:
        lines.append("Shared keys it reads: " + ", ".join(rule.uses))
    lines.append(f"  severity.{rule.kind}: info, warn or block (default {rule.severity})")
    return "\n".join(lines) + "\n"


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- BEGIN generated: {name} [^\n]*-->\n)(.*?)(<!-- END generated: {name} -->)",
        re.S,
    )


def update_readme(path: str | Path, write: bool = True) -> str:
    """Rewrite the generated blocks of ``path`` from the registry; returns the new text."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    for name, body in (("rules", rules_table()), ("keys", keys_table())):
        pat = _block(name)
        if not pat.search(text):
            raise ValueError(f"{p}: no generated block '{name}'")
        text = pat.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(3), text)
    if write:
        p.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":  # python -m evalaudit.rules.docs rules/README.md
    import sys

    update_readme(sys.argv[1] if len(sys.argv) > 1 else "rules/README.md")
