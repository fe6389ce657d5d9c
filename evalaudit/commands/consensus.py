"""``evalaudit consensus``: the aggregated label per item, and labeler accuracy on gold.

Writes one CSV row per item (``item_id,label,confidence,n_labels``, items in the order
they first appear in the input) and prints a short summary. The statistics live in
:mod:`evalaudit.stats.consensus`; this module only reads, checks, writes and prints.

CSV formula injection: a text cell (``item_id``, ``label``) that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written with a leading ``'`` so that a
spreadsheet shows it as text instead of running it as a formula (OWASP "CSV
Injection"). Plain numbers such as ``-1`` or ``+2.5`` cannot be formulas and are
written unchanged, so negative ids and labels round-trip.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from evalaudit.commands.common import ingest_options_from, input_options
from evalaudit.contract import (
    ITEM_ID,
    format_problem,
)

if TYPE_CHECKING:  # pandas/numpy are imported when the command runs, not at CLI start-up
    pass

__all__ = ["OUTPUT_COLUMNS", "consensus", "neutralize_formula"]

#: The columns of the written CSV, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (ITEM_ID, "label", "confidence", "n_labels")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralize_formula(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet would run as a formula.

    >>> neutralize_formula("=cmd()"), neutralize_formula("@SUM(A1)"), neutralize_formula("-1")
    ("'=cmd()", "'@SUM(A1)", '-1')
    """
    if text and text[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Command(click.Command):
    """A command whose epilog keeps its line breaks (click rewraps it by default)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write("\n" + self.epilog + "\n")


@click.command(
    cls=_Command,
    epilog="""Examples:
  evalaudit consensus labels.csv --out consensus.csv
  evalaudit consensus labels.csv --method dawid-skene --out consensus.csv --gold gold.csv
  evalaudit consensus ratings.tsv --label-kind ordinal --order 1,2,3,4,5 --out means.csv
  evalaudit consensus labels.csv --duplicates keep-last --label-kind nominal --out c.csv

Methods:
  majority     binary/nominal: plurality vote; ties go to the category that is more
               frequent in the whole file, then to the smaller code (the count of tied
               items is printed). ordinal/interval: the item MEAN of the scores; for
               ordinal the label is the nearest category (halfway rounds up), for
               interval the label is the mean itself and confidence is left empty.
  dawid-skene  Dawid & Skene (1979) EM over per-labeler confusion matrices
               (categorical labels; ordinal categories are treated as nominal).
               confidence = the largest posterior probability.

Output: item_id,label,confidence,n_labels, one row per item in input order. Text cells
starting with = + - @ are written with a leading ' (CSV formula injection).
Gold: --gold FILE with columns item_id,gold_label, or a 'gold' column in FILE.

Exit codes: 0 success, 2 usage or input error.""",
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--method",
    type=click.Choice(["majority", "dawid-skene"]),
    default="majority",
    show_default=True,
    help="Aggregation (majority = the mean for ordinal/interval labels).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the consensus CSV here.",
)
@click.option(
    "--gold",
    "gold_path",
    type=click.Path(dir_okay=False),
    help="Gold answers (item_id,gold_label): accuracy of the consensus and of each labeler.",
)
@click.option(
    "--max-iter",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Dawid-Skene: most EM iterations.",
)
@click.option(
    "--tol",
    default=1e-6,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Dawid-Skene: stop when no posterior changes by more than this.",
)
@click.option(
    "--min-gold",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rank labelers with at least this many labels on gold items.",
)
@input_options
def consensus(
    file: str,
    method: str,
    out_path: str,
    gold_path: str | None,
    max_iter: int,
    tol: float,
    min_gold: int,
    **kw: Any,
) -> None:
    """Write the consensus label of every item in FILE, and check it against gold.

    Prints a summary (items, ties and how they were broken, or Dawid-Skene iterations
    and convergence; with gold: consensus accuracy and the best and worst labelers).
    """
    import pandas as pd

    from evalaudit.aggregate import MethodMismatch, consensus_labels, read_gold_file
    from evalaudit.render.output import write_outputs
    from evalaudit.validate import ingest

    options = ingest_options_from(kw)
    gold = read_gold_file(gold_path) if gold_path else None  # fail fast, before the big read
    ing = ingest(file, options)
    try:
        run = consensus_labels(ing, method, gold, gold_path, tol, max_iter, min_gold)
    except MethodMismatch as exc:
        raise click.UsageError(str(exc)) from None
    labels, lines = run.labels, list(run.lines)
    out = pd.DataFrame(
        {
            ITEM_ID: labels[ITEM_ID].astype(str).map(neutralize_formula),
            "label": labels["label"].astype(str).map(neutralize_formula),
            "confidence": labels["confidence"].to_numpy(),
            "n_labels": labels["n_labels"].to_numpy(),
        },
        columns=list(OUTPUT_COLUMNS),
    )
    write_outputs(
        [(out_path, lambda: out.to_csv(index=False, lineterminator="\n", float_format="%.6g"))]
    )
    lines.append(f"Wrote {len(out):,} rows to {out_path} ({','.join(OUTPUT_COLUMNS)}).")

    lines += run.gold_lines
    for p in ing.warnings:
        click.echo("warning:", err=True)
        click.echo("\n".join(format_problem(p, ing.row_label)), err=True)
    click.echo("\n".join(lines))
