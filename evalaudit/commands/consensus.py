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
    GOLD,
    ITEM_ID,
    MAX_ROWS_SHOWN,
    InputError,
    LabelKind,
    Problem,
    format_problem,
)

if TYPE_CHECKING:  # pandas/numpy are imported when the command runs, not at CLI start-up
    import numpy as np
    import pandas as pd

    from evalaudit.table import LabelTable

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

    from evalaudit.io import atomic_write
    from evalaudit.stats.consensus import (
        TIE_RULE,
        dawid_skene,
        majority_vote,
        mean_consensus,
        read_gold,
        tie_order,
    )
    from evalaudit.validate import ingest

    options = ingest_options_from(kw)
    gold = read_gold(gold_path) if gold_path else None  # fail fast, before the big read
    ing = ingest(file, options)
    table = ing.table
    kind = table.kind
    categorical = kind is not LabelKind.INTERVAL
    if method == "dawid-skene" and not categorical:
        raise click.UsageError(
            "--method dawid-skene needs categorical labels; these are interval labels "
            "(use --method majority, which reports the item mean)"
        )
    if gold is not None and not categorical:
        raise click.UsageError(
            "--gold needs categorical labels; these are interval labels "
            "(declare the scale with --label-kind ordinal --order ...)"
        )
    use_gold = categorical and (gold is not None or table.has(GOLD))
    codes = _checked_gold_codes(table, gold, ing.path, ing.row_label) if use_gold else None

    lines = [
        f"{ing.path}: {table.n_items:,} items, {table.n_labelers:,} labelers, "
        f"{table.n_labels:,} labels. Labels: {ing.label_spec.describe()}"
    ]
    if method == "majority" and kind in (LabelKind.ORDINAL, LabelKind.INTERVAL):
        labels = mean_consensus(table)
        if kind is LabelKind.ORDINAL:
            lines.append(
                "Method: item mean (for ordinal labels 'majority' means the mean of the "
                "category ranks); label = the nearest category, confidence = the share of "
                "the item's labels equal to it."
            )
            lines.append(
                f"{int(labels['tied'].sum()):,} item(s) have a mean exactly halfway between "
                "two categories; they were rounded up to the higher one."
            )
        else:
            lines.append(
                "Method: item mean (for interval labels 'majority' means the mean); "
                "label = the mean, confidence is left empty (there is no vote share)."
            )
    elif method == "majority":
        labels = majority_vote(table)
        n_tied = int(labels["tied"].sum())
        lines.append("Method: majority vote (plurality of the item's labels).")
        lines.append(
            f"{n_tied:,} of {table.n_items:,} items tied ({n_tied / table.n_items:.1%}); "
            f"ties broken {TIE_RULE} (here: {' > '.join(tie_order(table))})."
        )
    else:
        res = dawid_skene(table, tol=tol, max_iter=max_iter)
        labels = res.labels
        note = " (ordinal categories treated as nominal)" if kind is LabelKind.ORDINAL else ""
        if res.converged:
            lines.append(
                f"Method: Dawid-Skene EM{note}; converged after {res.n_iter} iterations "
                f"(max posterior change < {tol:g})."
            )
        else:
            lines.append(
                f"Method: Dawid-Skene EM{note}; did NOT converge in {res.n_iter} iterations "
                f"(last max posterior change {res.final_change:.2g} >= {tol:g}); "
                "raise --max-iter, or read the labels as approximate."
            )
        mv = majority_vote(table)
        differ = int((mv["value"].to_numpy() != labels["value"].to_numpy()).sum())
        n_tied = int(labels["tied"].sum())
        lines.append(
            f"{differ:,} item(s) get a different label than the majority vote."
            + (f" {n_tied:,} tied on the largest posterior (broken {TIE_RULE})." if n_tied else "")
        )

    out = pd.DataFrame(
        {
            ITEM_ID: labels[ITEM_ID].astype(str).map(neutralize_formula),
            "label": labels["label"].astype(str).map(neutralize_formula),
            "confidence": labels["confidence"].to_numpy(),
            "n_labels": labels["n_labels"].to_numpy(),
        },
        columns=list(OUTPUT_COLUMNS),
    )
    with atomic_write(out_path) as fh:
        out.to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
    lines.append(f"Wrote {len(out):,} rows to {out_path} ({','.join(OUTPUT_COLUMNS)}).")

    if codes is not None:
        lines += _gold_summary(table, labels, codes, gold, gold_path, min_gold)
    for p in ing.warnings:
        click.echo("warning:", err=True)
        click.echo("\n".join(format_problem(p, ing.row_label)), err=True)
    click.echo("\n".join(lines))


def _checked_gold_codes(
    table: LabelTable, gold: pd.Series | None, data_path: str, data_row_label: str
) -> np.ndarray:
    """Gold codes per item, or an InputError naming the file, column and rows of bad values."""
    from evalaudit.stats.consensus import GOLD_LABEL, gold_codes
    from evalaudit.table import ROW_COL

    try:
        return gold_codes(table, gold)
    except ValueError as exc:
        cats = list(table.categories)
        if gold is not None:
            in_table = gold.index.isin(table.item_ids)
            bad = in_table & ~gold.isin(cats).to_numpy()
            rows_of = gold.attrs.get("rows", {})
            rows = tuple(int(rows_of[i]) for i in gold.index[bad][:MAX_ROWS_SHOWN] if i in rows_of)
            path, column = str(gold.attrs.get("path", "gold")), GOLD_LABEL
            row_label, count = str(gold.attrs.get("row_label", "row")), int(bad.sum())
        else:
            f = table.frame
            bad = f[GOLD].notna() & ~f[GOLD].isin(cats)
            rows = tuple(int(r) for r in f.loc[bad, ROW_COL].head(MAX_ROWS_SHOWN))
            path, column, row_label, count = data_path, GOLD, data_row_label, int(bad.sum())
        raise InputError(
            path,
            [
                Problem(
                    "gold_value",
                    column,
                    count,
                    rows,
                    str(exc),
                    "write gold with the same spelling as the labels, "
                    f"one of: {', '.join(cats[:12])}",
                )
            ],
            row_label=row_label,
        ) from None


def _gold_summary(
    table: LabelTable,
    labels: pd.DataFrame,
    codes: np.ndarray,
    gold: pd.Series | None,
    gold_path: str | None,
    min_gold: int,
) -> list[str]:
    from evalaudit.stats.consensus import gold_accuracy

    has = codes >= 0
    n = int(has.sum())
    source = gold_path if gold_path else f"the '{GOLD}' column"
    lines = []
    unmatched = 0 if gold is None else int((~gold.index.isin(table.item_ids)).sum())
    extra = f"; {unmatched:,} gold item(s) have no labels and are ignored" if unmatched else ""
    lines.append(f"Gold ({source}): {n:,} of {table.n_items:,} items have gold{extra}.")
    if n == 0:
        return lines
    hits = int((labels["value"].to_numpy()[has] == codes[has]).sum())
    lines.append(f"Consensus accuracy on gold items: {hits / n:.4f} ({hits:,}/{n:,}).")
    per = gold_accuracy(table, gold)
    ranked = per[per["n_gold"] >= min_gold]
    lines.append(
        f"Per-labeler gold accuracy ({len(ranked):,} labeler(s) with >= {min_gold} labels on "
        "gold items; Wilson 95% CI):"
    )
    if ranked.empty:
        lines.append("  (none; lower --min-gold to rank labelers with fewer gold labels)")
        return lines

    def row(r: Any) -> str:
        return (
            f"    {r.labeler_id!s:<24} {r.gold_accuracy:.3f} "
            f"[{r.ci_low:.3f}, {r.ci_high:.3f}]  n={r.n_gold}"
        )

    best = ranked.sort_values(
        ["gold_accuracy", "n_gold", "labeler_id"], ascending=[False, False, True], kind="stable"
    )
    if len(ranked) <= 10:
        lines += [row(r) for r in best.itertuples()]
        return lines
    worst = ranked.sort_values(
        ["gold_accuracy", "n_gold", "labeler_id"], ascending=[True, False, True], kind="stable"
    )
    lines.append("  top 5:")
    lines += [row(r) for r in best.head(5).itertuples()]
    lines.append("  bottom 5:")
    lines += [row(r) for r in worst.head(5).itertuples()]
    return lines
