"""Impact of one finding: what correcting its suspect labels does to the scores people read.

A finding is *significant* when its test says so; whether it matters depends
on what its labels do to a number someone reads. :func:`finding_impact`
takes the label rows behind one finding (a labeler's labels, or a labeler's
labels on one slice) and the effect estimated on them, shifts each of those
labels by the effect (the score an average peer would be expected to give,
as in :func:`evalaudit.stats.impact.headline_corrected`) and reports, before
and after:

- the overall headline (mean item score over all items),
- the finding's own slice (cells): the mean item score over the slice's items,
- each model's score, and whether the order of the models changes.

Estimand and CI: ``delta = -e * sum_{labels l} (1 / m_{u(l)}) / N`` over the
``N`` items of the scope (``m_u`` labels of item ``u``: a label weighs
``1/m_u`` in its item's mean), with the delta-method 95% CI from the SE of
``e`` (the item sample held fixed; the uncertainty is that of the effect).
Corrected scores are not clipped to the label scale. The effect is the
finding's own estimate, so it carries the winner's curse of a flagged
estimate: impact is an upper-leaning figure, which errs towards blocking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalaudit.stats.impact import headline_corrected, item_scores, items_in
from evalaudit.stats.leniency import Z95
from evalaudit.table import ITEM, LabelTable

__all__ = ["finding_impact", "se_from_ci"]


def se_from_ci(ci: tuple[float, float] | None) -> float:
    """The SE behind a normal 95% CI (NaN without one)."""
    if not ci or ci[0] is None or ci[1] is None:
        return float("nan")
    return float(ci[1] - ci[0]) / (2 * Z95)


def _change(before: float, delta: float, se: float) -> dict[str, Any]:
    return {
        "before": before,
        "after": before + delta,
        "delta": delta,
        "delta_ci": [delta - Z95 * se, delta + Z95 * se],
    }


def finding_impact(
    table: LabelTable,
    rows: np.ndarray,
    effect: float,
    se: float,
    slice_columns: list[str] | None = None,
    slice_values: list[str] | None = None,
) -> dict[str, Any] | None:
    """Before, after and delta (95% CI) of the headline, the own slice and each model.

    Parameters
    ----------
    table:
        The audited table.
    rows:
        Boolean per label row: the finding's suspect labels.
    effect, se:
        The effect estimated on those labels (score scale) and its SE.
    slice_columns, slice_values:
        The finding's slice (a cell: one column, or a pair ``["category",
        "failure_mode"]``); ``None`` for a labeler.

    Returns
    -------
    ``None`` without scores (nominal labels without a passing class), else a
    dict: ``headline`` and ``slice`` (``before``, ``after``, ``delta``,
    ``delta_ci``; ``slice`` is ``None`` for a labeler), ``per_model`` (the
    same with ``model``), ``ranking_changed``, ``ranking_before`` and
    ``ranking_after`` (model names, best first), ``suspect_labels``.
    """
    rows = np.asarray(rows, dtype=bool)
    group = np.where(rows, 0, -1)
    corr = headline_corrected(
        table, group, np.array([float(effect)]), np.array([se if np.isfinite(se) else 0.0])
    )
    if corr is None:
        return None
    known = bool(np.isfinite(se))
    se_ok = float(se) if known else float("nan")
    out = correction_impact(corr, int(rows.sum()), known)
    if slice_columns:
        out["slice"] = _slice_change(table, rows, effect, se_ok, slice_columns, slice_values or [])
    return out


def correction_impact(
    corr: dict[str, Any], suspect_labels: int, known: bool = True
) -> dict[str, Any]:
    """Before, after and delta (95% CI) of the headline and each model for one correction.

    ``corr``: a :func:`~evalaudit.stats.impact.headline_corrected` record; ``known``:
    whether its interval rests on a known SE (else the CIs are NaN). ``slice`` is left
    None for the caller. A model without suspect labels (its record says "no correction
    applied") does not move at all: its change is exactly 0, not unknown.
    """

    def change(d: dict[str, Any]) -> dict[str, Any]:
        if d.get("delta_ci") is None:
            ci = [0.0, 0.0]
        else:
            ci = [float(d["delta_ci"][0]), float(d["delta_ci"][1])] if known else [np.nan] * 2
        return {
            "before": float(d["score"]),
            "after": float(d["score_corrected"]),
            "delta": float(d["delta"]),
            "delta_ci": ci,
        }

    models = corr.get("per_model") or []
    return {
        "headline": change(corr),
        "slice": None,
        "per_model": [{"model": m["model"], **change(m)} for m in models],
        "ranking_changed": bool(corr.get("ranking_changed")),
        "suspect_labels": int(suspect_labels),
        "ranking_before": [m["model"] for m in sorted(models, key=lambda m: -m["score"])],
        "ranking_after": [m["model"] for m in sorted(models, key=lambda m: -m["score_corrected"])],
    }


def _slice_change(
    table: LabelTable,
    rows: np.ndarray,
    effect: float,
    se: float,
    columns: list[str],
    values: list[str],
) -> dict[str, Any] | None:
    """The corrected mean item score of the items in ``columns == values``."""
    scores = item_scores(table)
    if scores is None or len(columns) != len(values):
        return None
    orig, cnt = scores
    in_slice = items_in(table, columns, values)
    n = int(np.count_nonzero(in_slice))
    if not n:
        return None
    item = table.frame[ITEM].to_numpy()
    r = np.flatnonzero(rows)
    r = r[in_slice[item[r]]]
    c = float((1.0 / cnt[item[r]]).sum())  # the labels' weight in the slice's item means
    out = _change(float(orig[in_slice].sum() / n), -effect * c / n, se * c / n)
    out["slice_column"] = "+".join(columns)
    out["slice_value"] = "+".join(values)
    out["items"] = n
    return out
