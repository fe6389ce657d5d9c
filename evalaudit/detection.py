"""Detection v2: fit, screen, refit the joint model under one error budget; correct the headline.

The pipeline step between the statistics and the findings (DESIGN section 4):

1. **Fit** the joint labeler-effects model (:mod:`evalaudit.stats.effects`)
   with the current suspects' own parameters (none at first), and read off
   every labeler's leniency and every labeler x slice cell's tilt
   (:mod:`evalaudit.stats.joint`).
2. **One error budget**: the labelers' leniency tests, the cells' tilt tests
   and the drift tests (time order, and batch order unless it is the time
   order) get adjusted p-values (``q_value``) from *one* weighted procedure
   (:func:`~evalaudit.stats.multitest.budget_qvalues`). By default
   (``error_control: familywise``) it is Holm's step-down on a graph whose
   groups are the labelers (:func:`~evalaudit.stats.multitest.holm_graph`): a
   rejected test's level goes to its labeler's other tests (a cell's to the
   labeler's leniency test first), so the chance that *anybody honest* is
   flagged is at most ``fdr`` whether or not a poisoner is among them (strong
   familywise control, any dependence). ``error_control: fdr`` is one weighted
   Benjamini-Hochberg instead: on a clean set it flags anything at most
   ``fdr`` of the time too, but every true finding loosens the other tests'
   thresholds (honest flags 5.5% of poisoned single-label audits against 2.2%
   of their twins, 600 seeds of ``benchmarks/calibration.py``; 2.3% familywise).
3. **Screen** with the policy's rule (q < fdr, |effect| >= the minimum effect,
   enough labels) and **refit**: flagged cells get their own interaction
   parameter (a partition of the labels; each labeler gains at most one per
   fit, its strongest, see :func:`~evalaudit.stats.joint.partition`) and
   flagged labelers leave the reference that leniency is measured against.
   Cell parameters are never dropped, so the selection is monotone; the
   reference is the labelers the last fit did not flag (a co-labeler that
   looked severe only in the poisoner's shadow returns to it). When the table
   has LLM judges and humans (``LabelTable.labeler_types``), the reference is
   the humans the last fit did not flag: judges are estimated with their own
   parameters but never enter the zero point, so a judge on every item cannot
   make honest humans look severe (DESIGN section 4, "LLM judges"). The loop stops
   when a fit adds no parameter and flags the same labelers as the fit before
   (at most :data:`MAX_FITS` fits; two or three in the benchmark designs). The
   flags reported are those of the last fit.
4. **Correct** the headline: every suspect label is shifted once, by the
   effect estimated on the labels it corrects (its cell's leniency, or its
   labeler's effect outside flagged cells), each flagged estimate first
   adjusted for the winner's curse (:mod:`evalaudit.stats.selection`), with the
   CI from the joint covariance of the estimates used *given the suspect labels'
   realised shifts* (:func:`~evalaudit.stats.effects.cov_given_shifts`): the
   target is the headline these items would have had with honest suspect labels,
   so the spread of which labels the poisoner flipped is not sampling error.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalaudit.contract import BATCH, TIMESTAMP
from evalaudit.findings import cell_weight_effect, flag_cells, flag_labelers, min_effect_for
from evalaudit.parallel import parallel_steps
from evalaudit.rules import Policy
from evalaudit.stats.drift import flag_drift, labeler_drift, order_equal
from evalaudit.stats.effects import EffectsFit, cov_given_shifts
from evalaudit.stats.impact import headline_corrected
from evalaudit.stats.joint import JointDesign, cell_table, labeler_table, partition
from evalaudit.stats.leniency import Z95
from evalaudit.stats.multitest import budget_qvalues, power_weights
from evalaudit.stats.selection import conditional_estimate
from evalaudit.table import SCORE, LabelTable

__all__ = [
    "MAX_FITS",
    "Budget",
    "Correction",
    "JointDetection",
    "JudgeTests",
    "detect_joint",
    "judge_tests",
]

#: Shares of the error budget: labelers, cells, drift (renormalised over the families present).
FAMILY_SHARES = (0.3, 0.65, 0.05)

#: Share of the error budget spent on the LLM-judge tests when there are some. They get their
#: own Benjamini-Hochberg at ``JUDGE_SHARE * fdr`` and the joint model's families one at
#: ``(1 - JUDGE_SHARE) * fdr`` (Bonferroni over the two, so on a clean set the audit still
#: flags anything at most ``fdr`` of the time). Not pooled into one BH: the judge tests re-test
#: the judges the joint model tests (a judge's bias against humans is its leniency against the
#: human reference), so a lenient judge would count two or three discoveries there and loosen
#: every other test's threshold (measured on the calibration benchmark's judges design, 40
#: seeds: honest humans or cells flagged in 3 of 40 pooled; benchmarks/README.md).
JUDGE_SHARE = 0.25

#: Fits of the joint model at most (fit, then refit with the suspects' own parameters).
MAX_FITS = 6


@dataclass(frozen=True)
class Budget:
    """How the error budget was spent: tests per family, rejections, the realised BH level."""

    fdr: float
    tests: dict[str, int]
    rejected: int
    total: int
    batch_drift: str  # "tested" | "skipped: batch order is time order" | "no batches"
    #: rejections among the LLM-judge tests (their own procedure at JUDGE_SHARE x fdr)
    judge_rejected: int = 0
    #: the policy's ``error_control``: ``familywise`` (weighted Holm) or ``fdr`` (weighted BH)
    error_control: str = "fdr"

    def critical_z(self, weight: float) -> float:
        """The |z| a joint-model test of this weight had to clear (two-sided, the realised
        threshold of the labelers, cells and drift: BH's ``r w level / m`` after ``r``
        rejections; Holm's ``w level / (m - r + 1)`` at the last rejected step, weights
        counted as 1 each for the tests rejected before it)."""
        n_judge = self.tests.get("judges", 0)
        level = self.fdr * (1.0 - JUDGE_SHARE) if n_judge else self.fdr
        r = max(self.rejected - self.judge_rejected, 1)
        m = max(self.total - n_judge, 1)
        if self.error_control == "familywise":
            p = min(weight * level / max(m - r + 1, 1), 1.0)
        else:
            p = min(weight * r * level / m, 1.0)
        return float(stats.norm.isf(p / 2))

    def to_dict(self) -> dict[str, Any]:
        name = {"familywise": "Holm", "fdr": "Benjamini-Hochberg"}[self.error_control]
        method = f"one weighted {name} over labelers, cells and drift"
        if self.tests.get("judges"):
            method = (
                f"the budget split in two (Bonferroni): one weighted {name} over "
                f"labelers, cells and drift at {1 - JUDGE_SHARE:g} x fdr, one over the LLM-judge "
                f"tests at {JUDGE_SHARE:g} x fdr (q-values scaled to compare with fdr)"
            )
        out: dict[str, Any] = {
            "method": method,
            "error_control": self.error_control,
            "fdr": self.fdr,
            "tests": dict(self.tests),
            "tests_total": self.total,
            "rejected": self.rejected,
            "batch_drift": self.batch_drift,
        }
        if self.tests.get("judges"):
            out["judge_share"] = JUDGE_SHARE
            out["judge_rejected"] = self.judge_rejected
        return out


@dataclass(frozen=True)
class Correction:
    """One group of suspect labels and the estimate that corrects them."""

    name: str
    rows: np.ndarray  # bool per table row
    contrast: np.ndarray  # over the fit's parameters
    estimate: float
    se: float
    adjusted: float  # after the winner's-curse adjustment
    scale: float  # SE inflation of the adjusted estimate
    #: the same given the suspect labels' realised shifts (the corrected headline's frame:
    #: SE from :attr:`JointDetection.shift_cov`, the selection adjusted on that scale)
    shift_se: float = float("nan")
    shift_adjusted: float = float("nan")
    shift_scale: float = 1.0
    #: the midpoint of the selection-adjusted interval (its CI is centred there, not on the
    #: conditional MLE: :func:`_adjusted_interval`)
    shift_centre: float = float("nan")


def _shift_frame(
    det: JointDetection, a: np.ndarray, est: float, se: float, z: float, c: float, unit: float
) -> tuple[float, float, float, float]:
    """(SE, adjusted estimate, inflation, interval centre) of a correction given the shifts.

    ``z`` / ``c``: the selected statistic and its threshold, ``unit`` the SE that made
    ``z`` (the tilt's, or the estimate's). Given the shifts the estimate's noise is smaller
    by ``rho = se_shift / se``; the threshold in effect units is the same, so in the new units
    ``z / rho`` is selected by ``c / rho`` (farther from it: a smaller winner's curse).
    """
    fit = det.fit
    assert fit is not None
    cov = det.shift_cov if det.shift_cov is not None else fit.cov
    ok = a != 0
    se_s = float(np.sqrt(max(a[ok] @ cov[np.ix_(ok, ok)] @ a[ok], 0.0))) if ok.any() else 0.0
    if not (se > 0 and se_s > 0 and np.isfinite(se_s)):
        return se, est, 1.0, est
    rho = se_s / se
    mu, mid, scale = _adjusted_interval(z / rho, c / rho)
    shift = unit * rho
    return se_s, est - (z / rho - mu) * shift, scale, est - (z / rho - mid) * shift


@dataclass
class JudgeTests:
    """The judge-vs-human audit of one table and which of its tests spend the error budget.

    ``audit``, ``slices``, ``self_preference``: :func:`evalaudit.stats.judges.judge_audit`,
    :func:`~evalaudit.stats.judges.judge_slice_bias` and
    :func:`~evalaudit.stats.judges.judge_self_preference`, each given ``tested``
    (enough shared items: ``min_support`` inside and outside the compared groups),
    ``test_p`` (the p-value put under the budget) and, after the budget is spent,
    ``q_value``. The tests: each judge's bias (H0: bias = 0), each judge x slice
    value's *tilt* (H0: its bias there equals its bias elsewhere; as the slice scan
    tests a cell's tilt, a judge lenient everywhere is one bias finding, not one per
    slice) and each judge's self-preference (binary labels: the false-pass contrast,
    the effect a judge preferring its family's failing outputs has; other kinds: the
    bias contrast).
    """

    audit: pd.DataFrame
    slices: pd.DataFrame
    self_preference: pd.DataFrame

    @property
    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return self.audit, self.slices, self.self_preference


def judge_tests(table: LabelTable, policy: Policy) -> JudgeTests | None:
    """The judge-vs-human statistics of ``table`` (None unless it has judges and humans)."""
    if not table.has_judges or not np.isfinite(table.frame[SCORE].to_numpy()).all():
        return None
    from evalaudit.contract import LabelKind
    from evalaudit.stats.judges import judge_audit, judge_self_preference, judge_slice_bias

    is_judge = table.is_judge
    ms = policy.min_support
    aud = judge_audit(table, is_judge, family=table.judge_family)
    aud["tested"] = (aud["n_shared"].to_numpy() >= ms) & np.isfinite(
        aud["p_value"].to_numpy(dtype=float)
    )
    aud["test_p"] = aud["p_value"]
    # refit: a judge's real tilt on one slice does not make its other slices look tilted
    sl = judge_slice_bias(table, is_judge, refit=True)
    sl["tested"] = (
        (sl["n_shared"].to_numpy() >= ms)
        & (sl["n_outside"].to_numpy() >= ms)
        & np.isfinite(sl["tilt_p"].to_numpy(dtype=float))
    )
    sl["test_p"] = sl["tilt_p"]
    if table.judge_family:
        sp = judge_self_preference(table, is_judge, table.judge_family)
    else:
        from evalaudit.stats.judges import SELF_PREFERENCE_COLUMNS

        sp = pd.DataFrame(columns=list(SELF_PREFERENCE_COLUMNS))
    binary = table.kind is LabelKind.BINARY
    if len(sp):
        p = sp["false_pass_p"] if binary else sp["p_value"]
        n_own = sp["n_fail_own"] if binary else sp["n_own"]
        n_other = sp["n_fail_other"] if binary else sp["n_other"]
        sp["test_p"] = p.astype(float)
        # the false-pass contrast compares the items humans fail: those are what it counts
        sp["tested"] = (
            (n_own.to_numpy() >= ms)
            & (n_other.to_numpy() >= ms)
            & np.isfinite(sp["test_p"].to_numpy(dtype=float))
        )
        sp["measure"] = "false_pass" if binary else "bias"
    else:
        sp["test_p"] = pd.Series(dtype=float)
        sp["tested"] = pd.Series(dtype=bool)
        sp["measure"] = pd.Series(dtype=str)
    return JudgeTests(aud, sl.reset_index(drop=True), sp.reset_index(drop=True))


@dataclass
class JointDetection:
    leniency: pd.DataFrame
    flagged: np.ndarray
    cells: pd.DataFrame
    cell_flags: np.ndarray
    drift: pd.DataFrame
    budget: Budget
    fits: int
    converged: bool
    fit: EffectsFit | None
    design: JointDesign | None
    params: list[tuple[int, int]] = field(default_factory=list)
    cell_rows: np.ndarray | None = None
    judges: JudgeTests | None = None
    #: the covariance of the fit's theta given the suspects' realised shifts (for the
    #: corrected headline; :func:`evalaudit.stats.effects.cov_given_shifts`)
    shift_cov: np.ndarray | None = None


def _drift(table: LabelTable, policy: Policy) -> tuple[pd.DataFrame, str]:
    frames = []
    note = "no batches"
    if not np.isfinite(table.frame[SCORE].to_numpy()).all():
        return pd.DataFrame(), note
    orders = []
    if table.has(TIMESTAMP):
        orders.append(("time", TIMESTAMP))
    if table.has(BATCH):
        if table.has(TIMESTAMP) and order_equal(table):
            note = "skipped: batch order is time order"
        else:
            orders.append(("batch", BATCH))
            note = "tested"
    for order, _ in orders:
        d = labeler_drift(table, order=order, min_support=policy.min_support)
        frames.append(d[np.isfinite(d["p_value"].to_numpy(dtype=float))])
    if not frames:
        return pd.DataFrame(), note
    return pd.concat(frames, ignore_index=True), note


def _spend(
    len_df: pd.DataFrame,
    cells: pd.DataFrame,
    drift: pd.DataFrame,
    policy: Policy,
    weight_effect: float | None,
    batch_note: str,
    judges: JudgeTests | None = None,
) -> Budget:
    """Set ``q_value`` (and cells' ``weight``) of every tested hypothesis from one budget.

    With ``judges``, their tests are a fourth family (uniform weights within it) and
    each of its frames gets ``q_value``.
    """
    lab_test = (len_df["n_used"].to_numpy() >= policy.min_support) & np.isfinite(
        len_df["p_value"].to_numpy(dtype=float)
    )
    cell_test = cells["tested"].to_numpy(dtype=bool) if len(cells) else np.zeros(0, bool)
    drift_p = drift["p_value"].to_numpy(dtype=float) if len(drift) else np.zeros(0)

    se_lab = len_df["se"].to_numpy(dtype=float)[lab_test]
    se_cell = cells["tilt_se"].to_numpy(dtype=float)[cell_test] if len(cells) else np.zeros(0)

    def power(se: np.ndarray) -> np.ndarray:
        if weight_effect is None or not weight_effect > 0 or not len(se):
            return np.ones(len(se))
        return power_weights(se, weight_effect, policy.fdr)

    fams_p = [
        len_df["p_value"].to_numpy(dtype=float)[lab_test],
        cells["tilt_p"].to_numpy(dtype=float)[cell_test] if len(cells) else np.zeros(0),
        drift_p,
    ]
    fams_w = [power(se_lab), power(se_cell), np.ones(len(drift_p))]
    judge_masks = []
    judge_p = np.zeros(0)
    if judges is not None:
        parts = []
        for df in judges.frames:
            m = df["tested"].to_numpy(dtype=bool) if len(df) else np.zeros(0, bool)
            judge_masks.append(m)
            parts.append(df["test_p"].to_numpy(dtype=float)[m] if len(df) else np.zeros(0))
        judge_p = np.concatenate(parts)
    share_j = JUDGE_SHARE if len(judge_p) else 0.0
    # each family's share of the budget, whatever its number of tests (a few dozen labelers
    # beside hundreds of cells would otherwise get a few percent of it)
    sizes = np.array([len(x) for x in fams_p], dtype=float)
    shares = np.where(sizes > 0, np.array(FAMILY_SHARES), 0.0)
    if shares.sum() > 0:
        shares = shares / shares.sum()
        total = sizes.sum()
        fams_w = [
            w / w.mean() * share * total / n if n else w
            for w, share, n in zip(fams_w, shares, sizes, strict=True)
        ]
    method = policy.error_control
    # the labeler each test is about: under familywise control a rejected test's level goes
    # to that labeler's other tests first (a poisoner's slice to its leniency and other
    # slices), never to an honest peer's while the poisoner has tests left
    code_of = dict(zip(len_df["labeler_id"], len_df["labeler"], strict=True))
    fams_g = [
        len_df["labeler"].to_numpy()[lab_test],
        cells["labeler"].to_numpy()[cell_test] if len(cells) else np.zeros(0, np.int64),
        drift["labeler_id"].map(code_of).to_numpy() if len(drift) else np.zeros(0, np.int64),
    ]
    fams_par = [np.ones(len(fams_g[0]), bool), *(np.zeros(len(x), bool) for x in fams_g[1:])]
    levels: list[np.ndarray] = []
    qs = budget_qvalues(
        fams_p,
        fams_w,
        normalize="pooled",
        method=method,
        groups=fams_g,
        parents=fams_par,
        levels=levels,
    )
    # q / (1 - share) < fdr  <=>  BH at level (1 - share) fdr: the joint model's part of the budget
    qs = [np.minimum(q / (1.0 - share_j), 1.0) for q in qs]
    if len(judge_p):
        # the judge budget is shared equally by the questions asked (bias, tilt per slice,
        # self-preference), whatever their number of tests: the one self-preference test of
        # a judge whose family the user declared would otherwise get 1/30 of it beside the
        # judge's slices (the same reasoning as FAMILY_SHARES)
        sizes_j = np.array([int(m.sum()) for m in judge_masks], dtype=float)
        kinds = sizes_j > 0
        w_j = np.concatenate(
            [
                np.full(int(n), (1.0 / kinds.sum()) * len(judge_p) / n) if n else np.zeros(0)
                for n in sizes_j
            ]
        )
        g_j = np.concatenate(
            [
                df["labeler"].to_numpy()[m] if len(df) else np.zeros(0, np.int64)
                for df, m in zip(judges.frames, judge_masks, strict=True)
            ]
        )
        # a judge's bias test is the parent of its slice and self-preference tests
        par_j = np.concatenate([np.full(int(m.sum()), i == 0) for i, m in enumerate(judge_masks)])
        qj = budget_qvalues(
            [judge_p], [w_j], normalize="pooled", method=method, groups=[g_j], parents=[par_j]
        )[0]
        qs.append(np.minimum(qj / share_j, 1.0))
    else:
        qs.append(np.zeros(0))
    q_lab = np.full(len(len_df), np.nan)
    q_lab[lab_test] = qs[0]
    len_df["q_value"] = q_lab
    if len(cells):
        q_cell = np.full(len(cells), np.nan)
        w_cell = np.full(len(cells), np.nan)
        q_cell[cell_test] = qs[1]
        w_cell[cell_test] = fams_w[1]
        cells["q_value"] = q_cell
        cells["weight"] = w_cell
        if levels:
            # the level a rejected cell had to clear (familywise): its selection threshold
            lv = np.full(len(cells), np.nan)
            lv[cell_test] = levels[1] * policy.fdr * (1.0 - share_j)
            cells["critical_p"] = lv
    if len(drift):
        drift["q_value"] = qs[2]
    if judges is not None:
        start = 0
        for df, m in zip(judges.frames, judge_masks, strict=True):
            q = np.full(len(df), np.nan)
            q[m] = qs[3][start : start + int(m.sum())]
            start += int(m.sum())
            df["q_value"] = q
    rejected = int(sum(int((q < policy.fdr).sum()) for q in qs))
    tests = {"labelers": int(lab_test.sum()), "cells": int(cell_test.sum())}
    tests["drift"] = len(drift_p)
    if judges is not None:
        tests["judges"] = len(judge_p)
    return Budget(
        policy.fdr,
        tests,
        rejected,
        int(sum(tests.values())),
        batch_note,
        judge_rejected=int((qs[3] < policy.fdr).sum()),
        error_control=method,
    )


def detect_joint(
    table: LabelTable,
    policy: Policy,
    diagnostics: pd.DataFrame,
    judges: JudgeTests | None = None,
) -> JointDetection:
    """Fit, screen and refit under one budget (module docstring, steps 1-3).

    ``judges`` (:func:`judge_tests`): the judge-vs-human tests, spent from the same
    budget as the labelers, cells and drift (their q-values are set in place).
    """
    scores = table.frame[SCORE].to_numpy()
    score_sd = float(np.nanstd(scores)) if np.isfinite(scores).any() else 0.0
    weight_effect = cell_weight_effect(policy, table.kind, score_sd)
    thr = min_effect_for(policy, table.kind, score_sd)
    # drift needs no fit: it runs beside the first fit and is joined for the first budget
    pool = ThreadPoolExecutor(max_workers=1) if parallel_steps() else None
    pending = pool.submit(_drift, table, policy) if pool is not None else None
    try:
        return _detect(table, policy, diagnostics, judges, pending, score_sd, weight_effect, thr)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _detect(
    table: LabelTable,
    policy: Policy,
    diagnostics: pd.DataFrame,
    judges: JudgeTests | None,
    pending: Future[tuple[pd.DataFrame, str]] | None,
    score_sd: float,
    weight_effect: float | None,
    thr: float,
) -> JointDetection:
    def drift_now() -> tuple[pd.DataFrame, str]:
        return pending.result() if pending is not None else _drift(table, policy)

    scores = table.frame[SCORE].to_numpy()
    if not np.isfinite(scores).all():
        drift, batch_note = drift_now()
        # nominal labels without a passing class: evidence A/B per class, no cells, no model
        len_df = diagnostics.copy()
        budget = _spend(len_df, pd.DataFrame(), drift, policy, weight_effect, batch_note, judges)
        flagged = flag_labelers(len_df, policy, table.kind, score_sd)
        if len(drift):
            drift["flagged"] = flag_drift(drift, policy.fdr, thr)
        return JointDetection(
            len_df,
            flagged,
            pd.DataFrame(),
            np.zeros(0, bool),
            drift,
            budget,
            0,
            True,
            None,
            None,
            judges=judges,
        )
    design = JointDesign.build(table)
    L = table.n_labelers
    # with LLM judges beside humans, humans are the reference: a judge grading every item
    # would otherwise be most of each human's peers, and its leniency their baseline
    humans = ~table.is_judge if table.has_judges else np.ones(L, dtype=bool)
    reference = humans.copy()
    cell_rows: np.ndarray | None = None
    cell_labs: np.ndarray | None = None
    params: list[tuple[int, int]] = []
    converged = False
    fits = 0
    while True:
        fit = design.fit(cell_rows, cell_labs, reference)
        fits += 1
        len_df = labeler_table(fit, diagnostics)
        cells = cell_table(design, fit, cell_rows, params, policy.min_support)
        cells = cells.reset_index(drop=True)
        if fits == 1:
            drift, batch_note = drift_now()
        budget = _spend(len_df, cells, drift, policy, weight_effect, batch_note, judges)
        flagged = flag_labelers(len_df, policy, table.kind, score_sd)
        cell_flags = flag_cells(cells, policy, table.kind, score_sd)
        new_ref = humans & ~flagged
        # a slice value keeps one unflagged labeler without a parameter there (identification:
        # any labeler pins the shift; a judge may, it just is not the zero point of leniency)
        confirmed, priority = _judge_cell_evidence(cells, table, judges)
        new_rows, new_labs, new_params = partition(
            design,
            cells,
            cell_flags & confirmed,
            policy.min_support,
            params,
            ~flagged,
            priority=priority,
        )
        if new_params == params and np.array_equal(new_ref, reference):
            converged = True
            break
        if fits >= MAX_FITS:
            break
        cell_rows, cell_labs, params, reference = new_rows, new_labs, new_params, new_ref
        # this fit's per-label arrays (residuals, the scan's row variances) must not stay
        # alive through the next fit, whose own are allocated beside them
        fit.extra.clear()
        del fit, cells
    if len(drift):
        drift["flagged"] = flag_drift(drift, policy.fdr, thr)
    # the scan's per-label arrays go first; the bread (P x P) stays for the shift covariance
    bread = fit.extra.get("bread")
    fit.extra.clear()
    if bread is not None:
        fit.extra["bread"] = bread
    shift_cov = _shift_cov(fit, design, flagged, policy.fdr, thr)
    # the corrections need the estimates, not the fits' per-row intermediates: free those
    # before the audit's later steps (agreement, consensus) allocate theirs
    design.release()
    fit.extra.clear()
    # the residuals and cell codes per label (12 bytes a label) were the scan's: the
    # corrections read the estimates, their covariance and the design's cell rows
    fit = replace(fit, resid=np.zeros(0), cell_row=np.zeros(0, dtype=np.int32))
    return JointDetection(
        len_df,
        flagged,
        cells,
        cell_flags,
        drift,
        budget,
        fits,
        converged,
        fit,
        design,
        params,
        cell_rows,
        judges,
        shift_cov,
    )


def _shift_cov(
    fit: EffectsFit, design: JointDesign, flagged: np.ndarray, fdr: float, thr: float
) -> np.ndarray:
    """The fit's covariance given the suspects' realised shifts (:func:`cov_given_shifts`).

    Suspect groups: each parameterized cell's labels, and the labels outside its cells of
    each flagged labeler whose effect there still passes the rule (the labels
    :func:`corrections` shifts; a labeler flagged only through its cell is not shifted
    elsewhere, and its other labels are honest).
    """
    units = design.units
    ck = fit.cell_row
    shifted = flagged & _passes_rule(fit.main, fit.main_se, fdr, thr)
    if not (ck >= 0).any() and not shifted.any():
        return fit.cov
    lab = design.labeler if units.full else design.labeler[units.rows]
    return cov_given_shifts(fit, units, design.labeler, (ck >= 0) | shifted[lab])


def _passes_rule(est: Any, se: Any, fdr: float, thr: float) -> Any:
    """A flagged labeler's effect outside its cells still passes the rule (two-sided
    ``p < fdr`` and ``|effect| >= thr``): its labels there are shifted by that effect
    (:func:`corrections`). Scalars or arrays; a zero or missing SE never passes."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(se > 0, 2 * stats.norm.sf(np.abs(est / se)), 1.0)
    return (p < fdr) & (np.abs(est) >= thr)


def _judge_cell_evidence(
    cells: pd.DataFrame, table: LabelTable, judges: JudgeTests | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which flagged cells may get their own parameter, and in which order (``partition``).

    *Which*: a judge's cell only when the humans agree. Two judges grading every item share
    each item's effect, so one judge's tilt on a slice shows as the other's opposite tilt
    there (a shadow), and with humans on a fifth of the items the two can come out about
    equally strong: a parameter given to the shadow is never taken back and the real tilt
    leaks. The judge-vs-human tilt of the same judge on the same slice value
    (:func:`evalaudit.stats.judges.judge_slice_bias`) tells them apart: a judge's cell is a
    candidate only when that tilt (on one of its columns, for a pair cell) has the same sign
    and ``p < CONFIRM_P``.

    *Order*: a judge's cell ranks by the same humans' evidence (``|z|`` of that tilt, of the
    same sign; the strongest of a pair cell's columns), not by the joint model's tilt, for
    the same reason: the first of the real tilt and its shadow to get the slice's parameter
    keeps it (the shadow, in some seeds of the calibration benchmark's judges design). Other
    cells keep their joint-model ``|tilt / se|``.

    Without judges every cell may and the order is None (the joint model's).
    """
    ok = np.ones(len(cells), dtype=bool)
    if judges is None or judges.slices.empty or not len(cells):
        return ok, None
    z = np.nan_to_num(
        np.abs(cells["tilt"].to_numpy(dtype=float) / cells["tilt_se"].to_numpy(dtype=float))
    )
    # per (judge, column, value): the tilt's sign when p < CONFIRM_P (else 0), its signed z
    human: dict[tuple[str, str, str], tuple[float, float]] = {}
    for r in judges.slices.itertuples(index=False):
        finite = bool(np.isfinite(r.tilt_p))
        sign = float(np.sign(r.tilt))
        human[(str(r.judge), str(r.slice_column), str(r.slice_value))] = (
            sign if finite and r.tilt_p < CONFIRM_P else 0.0,
            sign * float(stats.norm.isf(r.tilt_p / 2)) if finite else 0.0,
        )
    is_judge = table.is_judge
    lab = cells["labeler"].to_numpy(dtype=int)
    for i, r in enumerate(cells.itertuples(index=False)):
        if not is_judge[lab[i]]:
            continue
        s = float(np.sign(r.tilt))
        parts = list(
            zip(str(r.slice_column).split("+"), str(r.slice_value).split("+"), strict=False)
        )
        seen = [human.get((str(r.labeler_id), c, v), (0.0, 0.0)) for c, v in parts]
        ok[i] = any(sg == s != 0 for sg, _ in seen)
        z[i] = max((s * hz for _, hz in seen), default=0.0)
    return ok, z


#: Two-sided level at which the humans must confirm a judge's cell before it gets a parameter.
CONFIRM_P = 0.05


def corrections(
    det: JointDetection,
    policy: Policy,
    keep_labelers: np.ndarray,
    keep_cells: np.ndarray,
    score_sd: float,
    which: str = "all",
) -> list[Correction]:
    """The suspect labels and their corrections (module docstring, step 4).

    ``keep_labelers`` / ``keep_cells``: the flags that count (dismissed ones
    removed). ``which``: ``all`` (each label once: its flagged cell's leniency,
    else its flagged labeler's effect outside flagged cells when that effect
    still passes the policy's rule), ``flagged_cells`` or ``flagged_labelers``
    (every label of a flagged labeler, by its overall leniency).
    """
    fit, design = det.fit, det.design
    if fit is None or design is None:
        return []
    table = design.table
    L = table.n_labelers
    lab = design.labeler
    th = np.where(np.isfinite(fit.theta), fit.theta, 0.0)
    thr = min_effect_for(policy, table.kind, score_sd)
    out: list[Correction] = []
    cell_of = det.cell_rows if det.cell_rows is not None else np.full(len(lab), -1)
    cells = det.cells
    if which in ("all", "flagged_cells") and det.params:
        keyed = {
            (int(s), int(g)): i
            for i, (s, g) in enumerate(zip(cells["_spec"], cells["_group"], strict=True))
        }
        for k, key in enumerate(det.params):
            i = keyed.get(key)
            if i is None or not keep_cells[i]:
                continue
            r = cells.iloc[i]
            lbl = int(r["labeler"])
            a = -fit.peers(lbl)
            a[lbl] += 1.0
            a[L + k] += 1.0
            est = float(a @ th)
            se = fit.combo_se(a)
            # selected on its tilt: adjust the tilt, keep the rest of the estimate
            z = float(r["tilt"] / r["tilt_se"])
            crit = float(r.get("critical_p", np.nan))
            c = max(
                float(stats.norm.isf(crit / 2))
                if np.isfinite(crit) and crit > 0
                else det.budget.critical_z(float(r["weight"]) if np.isfinite(r["weight"]) else 1.0),
                thr / float(r["tilt_se"]),
            )
            mu, scale = _adjusted(z, c)
            adj = est - (z - mu) * float(r["tilt_se"])
            name = f"{r['labeler_id']}:{r['slice_column']}={r['slice_value']}"
            sh = _shift_frame(det, a, est, se, z, c, float(r["tilt_se"]))
            out.append(Correction(name, cell_of == k, a, est, se, adj, scale, *sh))
    if which in ("all", "flagged_labelers"):
        in_kept_cell = np.zeros(len(lab), dtype=bool)
        for c in out:
            in_kept_cell |= c.rows
        for lbl in np.flatnonzero(keep_labelers):
            if which == "flagged_labelers":
                a = fit.contrast[lbl].copy()  # the overall leniency
                rows = lab == lbl
                est = float(a @ th)
                se = fit.combo_se(a)
            else:
                e_l = np.zeros(len(th))
                e_l[lbl] = 1.0
                est, se = fit.vs_peers(int(lbl), e_l)
                a = e_l - fit.peers(int(lbl))
                rows = (lab == lbl) & ~in_kept_cell
                if not _passes_rule(est, se, policy.fdr, thr):
                    continue
            c = max(float(stats.norm.isf(policy.fdr / 2)), thr / se if se > 0 else np.inf)
            mu, scale = _adjusted(est / se, c)
            adj = mu * se
            sh = _shift_frame(det, a, est, se, est / se, c, se)
            out.append(Correction(str(table.labeler_ids[lbl]), rows, a, est, se, adj, scale, *sh))
    return out


def _adjusted(z: float, c: float) -> tuple[float, float]:
    """The conditional MLE of a z selected by ``|z| > c`` and the SE inflation of its interval.

    The inflation is the selection-adjusted 95% interval's width over the unadjusted one's
    (never below 1).
    """
    mu, _, scale = _adjusted_interval(z, c)
    return mu, scale


def _adjusted_interval(z: float, c: float) -> tuple[float, float, float]:
    """(conditional MLE, the selection-adjusted 95% interval's midpoint, its inflation).

    Just above the threshold the interval is far from symmetric about the MLE (which is
    pulled to about 0 there, e.g. z = 3.0, c = 2.9): an interval of the same width centred
    on the MLE would miss the large effects that barely cleared the threshold.
    """
    mu, lo, hi = conditional_estimate(z, c)
    return mu, (lo + hi) / 2, max((hi - lo) / (2 * Z95), 1.0)


def corrected_headline(
    det: JointDetection, corr: list[Correction], table: LabelTable
) -> dict[str, Any] | None:
    """The corrected headline of a list of corrections (joint covariance, adjusted estimates).

    The covariance is ``det.shift_cov`` (given the suspects' realised shifts) when the
    detection has it, else the fit's; each group's record carries both SEs (``se``: of its
    expected effect, ``se_given_shifts``: the one the interval uses), with the selection
    adjustment's inflation.
    """
    n = len(table.frame)
    group = np.full(n, -1, dtype=np.int64)
    for g, c in enumerate(corr):
        group[c.rows & (group < 0)] = g
    eff = np.array([c.shift_adjusted for c in corr], dtype=float)
    se = np.array([c.shift_se * c.shift_scale for c in corr], dtype=float)
    cov = None
    if corr and det.fit is not None:
        a = np.array([c.contrast for c in corr])
        full = det.shift_cov if det.shift_cov is not None else det.fit.cov
        ok = np.isfinite(np.diag(full))
        v = full[np.ix_(ok, ok)]
        cov = a[:, ok] @ v @ a[:, ok].T
        scale = np.array([c.shift_scale for c in corr])
        cov = cov * np.outer(scale, scale)
    centre = np.array([c.shift_centre for c in corr], dtype=float)
    out = headline_corrected(table, group, eff, se, cov=cov, centre=centre)
    if out is not None and corr:
        out["method"] = (
            "each suspect label shifted once by the effect estimated on the labels it corrects "
            "(joint model), flagged estimates adjusted for selection (conditional MLE); CI from "
            "the joint covariance given the suspect labels' realised shifts (the headline these "
            "items would have had with honest suspect labels)"
        )
        shift_se = np.sqrt(np.maximum(np.diag(cov), 0.0)) if cov is not None else se
        out["groups"] = [
            {
                "name": c.name,
                "labels": int(c.rows.sum()),
                "estimate": float(c.estimate),
                "adjusted": float(c.shift_adjusted),
                "se": float(c.se * c.scale),
                "se_given_shifts": float(shift_se[g]),
            }
            for g, c in enumerate(corr)
        ]
    return out
