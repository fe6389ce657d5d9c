"""``evalaudit rules [CODE]``: the rules of the registry, or one rule's card."""

from __future__ import annotations

import click

from evalaudit.commands.common import ExamplesCommand

__all__ = ["rules"]


@click.command(
    "rules",
    cls=ExamplesCommand,
    epilog="""Examples:
  evalaudit rules            # every rule: code, name, default severity, keys, summary
  evalaudit rules EA201      # one rule: what it catches, why it matters, how to fix
  evalaudit rules --markdown # the tables of rules/README.md

Exit codes: 0 listed, 2 unknown rule code.""",
)
@click.argument("code", required=False)
@click.option("--markdown", is_flag=True, help="Print the rules and keys tables in Markdown.")
def rules(code: str | None, markdown: bool) -> int:
    """List every rule, or describe rule CODE (e.g. EA201, or its name slice.tilted)."""
    from evalaudit.rules import RULES
    from evalaudit.rules.docs import keys_table, rule_detail, rule_lines, rules_table

    if code:
        want = code.strip()
        rule = next((r for r in RULES if want.upper() == r.code or want == r.name), None)
        if rule is None:
            raise click.UsageError(
                f"no rule {want!r}; known: " + ", ".join(f"{r.code} {r.name}" for r in RULES)
            )
        click.echo(rule_detail(rule), nl=False)
        return 0
    if markdown:
        click.echo(rules_table() + "\n\n" + keys_table())
        return 0
    for line in rule_lines():
        click.echo(line)
    return 0
