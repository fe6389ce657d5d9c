"""Tilted slices by evidence A/B (the v0.1 slice scan, kept as a reference and for tests).

The audit's cells come from the joint model (:mod:`evalaudit.stats.joint`);
this module computes the same cells with the v0.1 evidence, whose baselines
include every peer's labels (a poisoner's too).

A *cell* is one labeler's labels on one slice value (``failure_mode =
hallucination``) or on a combination of two slice columns (``category =
coding & failure_mode = hallucination``). Its leniency uses the same two
kinds of evidence as :mod:`evalaudit.stats.leniency` — residuals against
co-labelers of the same items (A), and a Mantel-Haenszel comparison with
other labelers' single labels in the same stratum (B). The strata are every
slice column x ``model``, so they nest inside each slice value: a cell is
compared with peers on the same kind of items, and a slice's own pass rate
cancels.

Because strata nest inside slice values, the cells of one slice column
partition a labeler's labels, and the sufficient statistics of the labeler's
labels *outside* a cell are the labeler's totals minus the cell's. The cell's
*tilt* is its effect minus that outside effect (independent rows, so the
variances add): a labeler lenient everywhere has large effects but no tilt;
one lenient on one failure mode has both.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from evalaudit.stats.leniency import (
    SUM_COLUMNS,
    Z95,
    effects_from_sums,
    estimate_groups,
    strata_codes,
)
from evalaudit.stats.multitest import power_weights, wald_p, weighted_bh_qvalues
from evalaudit.table import LABELER, SCORE, LabelTable

__all__ = ["CELL_COLUMNS", "cell_leniency"]

#: Joins the columns and values of a multi-column cell ("category+failure_mode").
JOIN = "+"

CELL_COLUMNS = (
    "labeler",
    "labeler_id",
    "slice_column",
    "slice_value",
    "n",
    "leniency",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "weight",
    "evidence",
    "n_overlap",
    "n_stratified",
    "leniency_outside",
    "n_outside",
    "tilt",
    "tilt_ci_low",
    "tilt_ci_high",
    "tilt_p",
    "tested",
)


def _cells_of(
    table: LabelTable, columns: tuple[str, ...], stratum: np.ndarray, min_support: int
) -> pd.DataFrame:
    f = table.frame
    score = f[SCORE].to_numpy()
    code = np.zeros(len(f), dtype=np.int64)
    for col in columns:
        c = f[col].cat.codes.to_numpy().astype(np.int64)
        code = code * (len(f[col].cat.categories)) + c
    combo, uniq = pd.factorize(code)
    n_combo = len(uniq)
    labeler = f[LABELER].to_numpy().astype(np.int64)
    group = labeler * n_combo + combo
    n_groups = table.n_labelers * n_combo
    est = estimate_groups(table, score, group, n_groups, np.arange(n_groups) // n_combo, stratum)
    n_labels = np.bincount(group, minlength=n_groups)

    # the labeler outside the cell: totals minus the cell (cells partition the labeler)
    cell_lab = np.arange(n_groups) // n_combo
    outside = {}
    for k in SUM_COLUMNS:
        v = est[k].to_numpy()
        total = np.bincount(cell_lab, weights=v, minlength=table.n_labelers)
        outside[k] = total[cell_lab] - v
    out_est = effects_from_sums(outside, est.attrs["a_pooled"])

    keep = n_labels > 0
    idx = np.flatnonzero(keep)
    # the value labels of each combination, column by column
    first_row = np.full(n_combo, len(f), dtype=np.int64)
    np.minimum.at(first_row, combo, np.arange(len(f), dtype=np.int64))
    values = [f[c].iloc[first_row].to_numpy() for c in columns]  # n_combo values, not 10^7
    combo_names = np.array(
        [JOIN.join(str(v[c]) for v in values) for c in range(n_combo)] or [""], dtype=object
    )
    combo_of = idx % n_combo
    res = pd.DataFrame(
        {
            "labeler": cell_lab[idx],
            "labeler_id": table.labeler_ids.to_numpy()[cell_lab[idx]],
            "slice_column": JOIN.join(columns),
            "slice_value": combo_names[combo_of].tolist() if len(combo_of) else [],
            "n": n_labels[idx],
            "leniency": est["effect"].to_numpy()[idx],
            "se": est["se"].to_numpy()[idx],
            "ci_low": est["ci_low"].to_numpy()[idx],
            "ci_high": est["ci_high"].to_numpy()[idx],
            "p_value": est["p_value"].to_numpy()[idx],
            "evidence": est["evidence"].to_numpy()[idx],
            "n_overlap": est["n_overlap"].to_numpy()[idx],
            "n_stratified": est["n_stratified"].to_numpy()[idx],
            "leniency_outside": out_est["effect"].to_numpy()[idx],
            "n_outside": out_est["n_used"].to_numpy()[idx],
            "_se_outside": out_est["se"].to_numpy()[idx],
        }
    )
    res["tilt"] = res["leniency"] - res["leniency_outside"]
    tilt_se = np.sqrt(res["se"] ** 2 + res["_se_outside"] ** 2)
    res["tilt_ci_low"] = res["tilt"] - Z95 * tilt_se
    res["tilt_ci_high"] = res["tilt"] + Z95 * tilt_se
    res["tilt_p"] = wald_p(res["tilt"].to_numpy(), np.asarray(tilt_se))
    res["tested"] = (res["n"] >= min_support) & np.isfinite(res["p_value"])
    return res.drop(columns="_se_outside")


def cell_leniency(
    table: LabelTable,
    min_support: int,
    pairs: bool = True,
    *,
    weight_effect: float | None = None,
    level: float = 0.01,
) -> pd.DataFrame:
    """Leniency and tilt of every labeler x slice cell, with (weighted) BH q-values.

    Parameters
    ----------
    table:
        The validated labels (cells need a score: binary, ordinal, interval,
        or nominal with a passing class).
    min_support:
        A cell is *tested* (gets a q-value) when it has at least this many
        labels; smaller cells are reported with their estimates but no q.
    pairs:
        Also scan every pair of slice columns (``category+failure_mode``);
        only the combinations with ``min_support`` labels are tested.
    weight_effect:
        ``None``: plain Benjamini-Hochberg, every tested cell weighs the same.
        A positive effect (on the score scale; the audit passes twice the
        policy's minimum effect): weighted BH with
        :func:`~evalaudit.stats.multitest.power_weights`, each cell weighted by
        its power to show that effect.
    level:
        The FDR level the audit will flag at (the policy's ``fdr``); it only
        sets the critical value inside the power weights.

    Returns
    -------
    DataFrame with the columns of :data:`CELL_COLUMNS`, one row per cell with
    at least one label: ``leniency`` (vs peers on the same kind of items; CI,
    two-sided p), ``q_value`` (BH over *all* tested cells, of every slice
    column and pair: the family is the whole scan, so its size —
    ``tested.sum()`` — is what the FDR is controlled over), ``weight`` (the
    cell's p-value weight; 1 for every tested cell without weighting, NaN for
    untested cells), ``leniency_outside`` (the labeler on the rest of its
    labels), ``tilt`` (difference, with CI and p). Sorted by slice column,
    value, labeler.

    Notes
    -----
    A tested cell is a test of "this labeler on this kind of item agrees with
    peers"; BH assumes independence or positive dependence across cells.
    Cells of one labeler share peers and cells of one slice share the
    labeler's outside estimate, a mild positive dependence.

    Why weights: with ~200 tested cells and one real tilt, plain BH at 0.01
    asks a single cell for p < 0.01/200 whatever its size, although a cell of
    30 labels can hardly show a 10-point effect and one of 150 can. Weights
    from the cells' null standard errors (size and stratum variances, not
    their deviations) move the error budget to the cells that can use it:
    at fdr 0.01 in ``benchmarks/detection.py`` this raised the recall of
    20-point cells of 100-149 single labels from 60% to 71% (seeds 0-49; see
    ``benchmarks/README.md``).
    """
    if not np.isfinite(table.frame[SCORE].to_numpy()).all() or not table.slice_columns:
        return pd.DataFrame(columns=list(CELL_COLUMNS))
    stratum = strata_codes(table)
    specs: list[tuple[str, ...]] = [(c,) for c in table.slice_columns]
    if pairs:
        specs += list(combinations(table.slice_columns, 2))
    frames = [_cells_of(table, spec, stratum, min_support) for spec in specs]
    cells = pd.concat(frames, ignore_index=True)
    q = np.full(len(cells), np.nan)
    weight = np.full(len(cells), np.nan)
    tested = cells["tested"].to_numpy()
    se = cells.loc[tested, "se"].to_numpy(dtype=np.float64)
    if weight_effect is None or not weight_effect > 0:
        weight[tested] = 1.0
    else:
        weight[tested] = power_weights(se, weight_effect, level)
    q[tested] = weighted_bh_qvalues(cells.loc[tested, "p_value"].to_numpy(), weight[tested])
    cells["q_value"] = q
    cells["weight"] = weight
    cells = cells.sort_values(["slice_column", "slice_value", "labeler_id"], kind="stable")
    return cells[list(CELL_COLUMNS)].reset_index(drop=True)
