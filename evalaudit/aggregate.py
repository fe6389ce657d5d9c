"""Consensus labels of a validated table: the entry point ``evalaudit consensus`` calls.

The aggregation (majority vote, item means, Dawid-Skene) and the gold checks live
in :mod:`evalaudit.stats.consensus`; this module runs the chosen method on an
:class:`~evalaudit.validate.Ingested` table and says what it did in words, so the
command only reads, writes and prints (DESIGN section 3: surfaces call entry points,
never statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalaudit.contract import GOLD, MAX_ROWS_SHOWN, InputError, LabelKind, Problem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from evalaudit.table import LabelTable
    from evalaudit.validate import Ingested

__all__ = ["ConsensusRun", "MethodMismatch", "consensus_labels", "read_gold_file"]


class MethodMismatch(ValueError):
    """The aggregation method (or gold) does not fit the label kind; the message says why."""


def read_gold_file(path: str) -> pd.Series:
    """Gold answers (``item_id,gold_label``) from a file; InputError naming it on bad input."""
    from evalaudit.gold import read_gold

    return read_gold(path)


@dataclass(frozen=True)
class ConsensusRun:
    """The consensus label of every item and the summary lines that describe it."""

    labels: pd.DataFrame
    lines: tuple[str, ...]
    gold_lines: tuple[str, ...] = ()


def consensus_labels(
    ing: Ingested,
    method: str,
    gold: pd.Series | None = None,
    gold_path: str | None = None,
    tol: float = 1e-6,
    max_iter: int = 500,
    min_gold: int = 10,
) -> ConsensusRun:
    """Aggregate the labels of ``ing`` by ``method`` ("majority" or "dawid-skene").

    Raises :class:`MethodMismatch` when the method does not fit the label kind, and
    :class:`~evalaudit.contract.InputError` on gold values outside the labels.
    """
    from evalaudit.stats.consensus import (
        TIE_RULE,
        dawid_skene,
        majority_vote,
        mean_consensus,
        tie_order,
    )

    table = ing.table
    kind = table.kind
    categorical = kind is not LabelKind.INTERVAL
    if method == "dawid-skene" and not categorical:
        raise MethodMismatch(
            "--method dawid-skene needs categorical labels; these are interval labels "
            "(use --method majority, which reports the item mean)"
        )
    if gold is not None and not categorical:
        raise MethodMismatch(
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
    elif not (table.labels_per_item() >= 2).any():
        # no overlap: the labelers' error rates are not identified; EM then relabels whole
        # labelers (a labeler's every 'fail' read as 'pass') and its confidences are the
        # smoothing's, not evidence. Each item keeps its one label.
        labels = majority_vote(table).assign(confidence=float("nan"))
        lines.append(
            "Method: Dawid-Skene not run: no item has two or more labels, so the labelers' "
            "error rates cannot be estimated; each item keeps its one label and the "
            "confidence is not estimable (left empty)."
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

    gold_lines: list[str] = []
    if codes is not None:
        gold_lines = _gold_summary(table, labels, codes, gold, gold_path, min_gold)
    return ConsensusRun(labels, tuple(lines), tuple(gold_lines))


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
