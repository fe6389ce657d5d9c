"""Run the pipeline: ingest -> validate -> statistics -> findings -> AuditResult."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import BATCH, GOLD, TIMESTAMP, VENDOR, LabelKind
from evalaudit.findings import (
    Finding,
    agreement_findings,
    cell_findings,
    cell_subject,
    cell_weight_effect,
    concentration_findings,
    data_quality_findings,
    drift_findings,
    flag_cells,
    flag_labelers,
    gold_findings,
    headline_finding,
    imbalance_findings,
    labeler_findings,
    min_effect_for,
    verdict_of,
)
from evalaudit.result import AuditResult
from evalaudit.rules import Policy, load_policy
from evalaudit.stats.agreement import alpha_by_group, alpha_for_table, labeler_agreement
from evalaudit.stats.concentration import concentration
from evalaudit.stats.consensus import dawid_skene, gold_accuracy
from evalaudit.stats.drift import flag_drift, labeler_drift
from evalaudit.stats.impact import headline_corrected, headline_impact, item_scores, items_in
from evalaudit.stats.leniency import (
    estimate_groups,
    labeler_leniency,
    shrink_effects,
    strata_codes,
)
from evalaudit.stats.slices import cell_leniency
from evalaudit.table import ITEM, LABELER, SCORE, LabelTable
from evalaudit.validate import Ingested, IngestOptions, ingest

__all__ = ["Profiler", "audit_ingested", "run_audit"]


class Profiler:
    """Wall time of each pipeline step; optionally announces steps on stderr."""

    def __init__(self, progress: bool = False) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Wall time since the profiler was made (steps on two threads overlap in it)."""
        return time.perf_counter() - self.started

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.progress:
            # one write per line: steps on the second thread announce themselves too
            sys.stderr.write(f"evalaudit: {name} ...\n")
            sys.stderr.flush()
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t


#: ``EVALAUDIT_THREADS=1`` runs every step on one thread (the default uses two when the
#: machine has two or more cores).
THREADS_ENV = "EVALAUDIT_THREADS"


def parallel_steps() -> bool:
    """Whether independent steps may run on a second thread."""
    forced = os.environ.get(THREADS_ENV, "").strip()
    if forced:
        return forced != "1"
    return (os.cpu_count() or 1) >= 2


def load_inputs(
    path: str | Path,
    options: IngestOptions | None = None,
    rules_path: str | Path | None = None,
    gold_path: str | Path | None = None,
    profiler: Profiler | None = None,
) -> tuple[Policy, pd.Series | None, Ingested]:
    """The policy, the gold answers (if any) and the validated table, each checked before any
    statistic; every problem raises InputError naming its file."""
    prof = profiler or Profiler()
    with prof.step("load policy"):
        policy = load_policy(rules_path)
    gold = None
    if gold_path:
        from evalaudit.stats.consensus import read_gold

        gold = read_gold(gold_path)
    with prof.step("read and validate"):
        ing = ingest(str(path), options)
    return policy, gold, ing


def run_audit(
    path: str | Path,
    options: IngestOptions | None = None,
    policy: Policy | None = None,
    profiler: Profiler | None = None,
) -> AuditResult:
    """Audit one label file end to end. Raises InputError on bad input."""
    prof = profiler or Profiler()
    if policy is None:
        policy, _, ing = load_inputs(path, options, profiler=prof)
    else:
        with prof.step("read and validate"):
            ing = ingest(str(path), options)
    return audit_ingested(ing, policy, prof)


def audit_ingested(
    ing: Ingested,
    policy: Policy,
    profiler: Profiler | None = None,
    gold: pd.Series | None = None,
    dismissed: frozenset[str] = frozenset(),
) -> AuditResult:
    """Every statistic, finding and counterfactual of one validated table.

    ``gold`` (item_id -> gold label, e.g. from ``read_gold``) adds per-labeler
    gold accuracy; a ``gold`` column in the table does the same.
    ``dismissed`` holds finding ids a reviewer dismissed: their labels are not
    suspect in the counterfactual headline (the findings themselves are still
    reported; the gate marks them dismissed).
    """
    prof = profiler or Profiler()
    table = ing.table
    det = detect(table, policy, dismissed, prof)
    len_df, flagged, cells, cell_flags = det.leniency, det.flagged, det.cells, det.cell_flags
    score_sd, headline = det.score_sd, det.headline

    def second() -> tuple[pd.DataFrame, pd.DataFrame]:
        with prof.step("drift"):
            drift = _drift_table(table, policy, score_sd)
        with prof.step("concentration"):
            return drift, concentration(table)

    # drift and concentration (sorts, bincounts and ufuncs, which release the GIL) run
    # beside agreement and consensus on a second core: each side only reads the table and
    # the caches that detect() filled, and writes keys of its own. Their timings overlap.
    with ThreadPoolExecutor(max_workers=1) if parallel_steps() else nullcontext() as pool:
        job = pool.submit(second) if pool is not None else None
        with prof.step("agreement"):
            overall = alpha_for_table(table)
            per_slice = [alpha_by_group(table, c) for c in table.slice_columns]
            per_vendor = alpha_by_group(table, VENDOR) if table.has(VENDOR) else pd.DataFrame()
            lab_agree = labeler_agreement(table)
        with prof.step("consensus"):
            quality = _consensus_quality(table)
            gold_df = _gold_table(table, gold)
        drift, conc = job.result() if job is not None else second()
    with prof.step("findings"):
        findings: list[Finding] = []
        findings += labeler_findings(len_df, flagged, policy, table.kind)
        findings += cell_findings(
            cells, cell_flags, policy, table.kind, _cell_slice_effects(table, cells, cell_flags)
        )
        findings += drift_findings(drift, policy, table.kind)
        findings += gold_findings(gold_df, policy)
        findings += concentration_findings(conc, policy)
        findings += headline_finding(headline and headline.get("corrected"), policy, table.kind)
        findings += agreement_findings(overall.alpha, overall.level, overall.n_units, policy)
        findings += imbalance_findings(len_df, policy)
        findings += data_quality_findings(ing.warnings, policy)
    len_df["shrunk"] = shrink_effects(
        len_df["effect"].to_numpy(),
        len_df["se"].to_numpy(),
        min_tau=min_effect_for(policy, table.kind, score_sd),
    )
    labelers = _labelers_table(len_df, lab_agree, flagged, table)
    labelers = _add_by_labeler(labelers, quality, gold_df)
    findings.sort(key=lambda f: ({"block": 0, "warn": 1, "info": 2}[f.severity], f.kind, f.id))
    return AuditResult(
        input={
            "path": ing.path,
            "sha256": ing.sha256,
            "format": ing.format,
            **ing.accounting.to_dict(),
            "label_kind": str(table.kind),
            "slice_columns": list(table.slice_columns),
            "side_files": ing.side_files,
        },
        label={
            "kind": str(ing.label_spec.kind),
            "categories": list(ing.label_spec.categories),
            "positive": ing.label_spec.positive,
            "detected": ing.label_spec.detected,
            "description": ing.label_spec.describe(),
            "slices": ing.slice_note,
        },
        agreement={
            **overall.to_dict(),
            "per_slice": [r for df in per_slice for r in df.to_dict(orient="records")],
            "per_vendor": per_vendor.to_dict(orient="records") if not per_vendor.empty else [],
        },
        labelers=labelers,
        findings=tuple(findings),
        verdict=verdict_of(findings),
        policy=policy.to_dict(),
        headline=headline,
        cells=cells,
        drift=drift,
        concentration=conc,
        scan={
            "cells_estimated": det.n_cells_estimated,
            "cells_tested": int(cells["tested"].sum()) if not cells.empty else 0,
            "cells_flagged": int(cell_flags.sum()),
            "weighting": policy.cell_weights,
            "weight_effect": cell_weight_effect(policy, table.kind, det.score_sd),
        },
        notes=ing.notes,
    )


def _labelers_table(
    len_df: pd.DataFrame, agree: pd.DataFrame, flagged: np.ndarray, table: Any
) -> pd.DataFrame:
    df = len_df.rename(columns={"effect": "leniency"}).copy()
    df["flagged"] = flagged
    a = agree.set_index("labeler")
    for col in ("kappa", "n_kappa", "alpha_without", "alpha_delta"):
        df[col] = a[col].reindex(df["labeler"]).to_numpy()
    if table.has(VENDOR):
        first = table.frame.drop_duplicates(LABELER).set_index(LABELER)[VENDOR]
        df["vendor"] = first.reindex(df["labeler"]).astype(str).to_numpy()
    # rank by the shrunken estimate: a large effect from few labels is weak evidence
    df = df.sort_values(
        ["shrunk", "leniency", "labeler_id"], ascending=[False, False, True], na_position="last"
    )
    return df.reset_index(drop=True)


@dataclass(frozen=True)
class Detection:
    """What the detectors found and what it does to the headline (one pass over a table)."""

    leniency: pd.DataFrame
    flagged: np.ndarray
    cells: pd.DataFrame
    cell_flags: np.ndarray
    n_cells_estimated: int
    score_sd: float
    suspects: dict[str, SuspectGroups]
    headline: dict[str, Any] | None


def detect(
    table: LabelTable,
    policy: Policy,
    dismissed: frozenset[str] = frozenset(),
    profiler: Profiler | None = None,
) -> Detection:
    """Labeler leniency, the slice scan, their flags, the suspects and the headline impact.

    The core of :func:`audit_ingested` (and of ``benchmarks/detection.py``): a
    labeler or cell is flagged by the policy; findings in ``dismissed`` are not
    suspect in the counterfactual.
    """
    prof = profiler or Profiler()
    with prof.step("leniency"):
        len_df = labeler_leniency(table)
    scores = table.frame[SCORE].to_numpy()
    score_sd = float(np.nanstd(scores)) if np.isfinite(scores).any() else 0.0
    flagged = flag_labelers(len_df, policy, table.kind, score_sd)
    with prof.step("cells"):
        weight_effect = cell_weight_effect(policy, table.kind, score_sd)
        cells = cell_leniency(
            table, policy.min_support, weight_effect=weight_effect, level=policy.fdr
        )
        n_estimated = len(cells)
        # keep every one-column cell (a heat map needs them) and the tested pairs
        if len(cells):
            cells = cells[cells["tested"] | ~cells["slice_column"].str.contains("+", regex=False)]
            cells = cells.reset_index(drop=True)
        cell_flags = flag_cells(cells, policy, table.kind, score_sd)
        cells["flagged"] = cell_flags
    with prof.step("headline"):
        keep_lab, keep_cell = _not_dismissed(len_df, flagged, cells, cell_flags, dismissed)
        suspects = suspect_groups(table, len_df, keep_lab, cells, keep_cell, policy, score_sd)
        headline = headline_impact(table, suspects["all"].group >= 0)
        if headline is not None:
            headline["suspects"] = "labels of flagged labelers and flagged cells"
            headline["suspect_labels"] = int((suspects["all"].group >= 0).sum())
            headline["corrected"] = suspects["all"].corrected(table)
            headline["variants"] = {
                name: {
                    "suspect_labels": int((sg.group >= 0).sum()),
                    "exclusion": _strip(headline_impact(table, sg.group >= 0)),
                    "corrected": _strip(sg.corrected(table)),
                }
                for name, sg in suspects.items()
                if name != "all"
            }
    return Detection(len_df, flagged, cells, cell_flags, n_estimated, score_sd, suspects, headline)


@dataclass(frozen=True)
class SuspectGroups:
    """Suspect labels grouped by the estimate that explains them (a cell, or a labeler)."""

    group: np.ndarray  # per label row; -1 = not suspect
    effect: np.ndarray  # per group
    se: np.ndarray

    def corrected(self, table: LabelTable) -> dict[str, Any] | None:
        return headline_corrected(table, self.group, self.effect, self.se)


def suspect_groups(
    table: LabelTable,
    len_df: pd.DataFrame,
    flagged: np.ndarray,
    cells: pd.DataFrame,
    cell_flags: np.ndarray,
    policy: Policy,
    score_sd: float,
) -> dict[str, SuspectGroups]:
    """The suspect labels three ways: of flagged labelers, of flagged cells, and both.

    A label in several flagged cells (``hallucination`` and
    ``coding+hallucination``) belongs to the one with the smallest SE. In the
    union ("all"), labels in a flagged cell use the cell's estimate; the other
    labels of a flagged labeler are suspect only if the labeler is still
    flagged (same rule) when re-estimated on just those labels, and then use
    that estimate. Otherwise a labeler lenient on one failure mode would have
    all its labels shifted by an overall effect that is mostly that one cell.
    """
    f = table.frame
    lab = f[LABELER].to_numpy()
    n = len(f)
    # flagged labelers, whole
    codes = np.flatnonzero(flagged)
    pos = np.full(table.n_labelers, -1, dtype=np.int64)
    pos[codes] = np.arange(len(codes))
    by_labeler = SuspectGroups(
        pos[lab], len_df["effect"].to_numpy()[codes], len_df["se"].to_numpy()[codes]
    )
    # flagged cells
    fc = cells[cell_flags].sort_values("se", ascending=False) if len(cells) else cells
    g_cell = np.full(n, -1, dtype=np.int64)
    effects, ses = [], []
    for gi, r in enumerate(fc.itertuples(index=False)):
        mask = lab == r.labeler
        for col, val in zip(r.slice_column.split("+"), r.slice_value.split("+"), strict=False):
            mask &= (f[col] == val).to_numpy()
        g_cell[mask] = gi  # smaller SE assigned last wins
        effects.append(r.leniency)
        ses.append(r.se)
    by_cell = SuspectGroups(g_cell, np.asarray(effects, float), np.asarray(ses, float))
    # both: flagged labelers re-estimated outside their flagged cells
    rest = np.where((pos[lab] >= 0) & (g_cell < 0), lab.astype(np.int64), -1)
    g_all = g_cell.copy()
    eff_all, se_all = list(effects), list(ses)
    if (rest >= 0).any():
        est = estimate_groups(
            table,
            f[SCORE].to_numpy(),
            rest,
            table.n_labelers,
            np.arange(table.n_labelers),
            strata_codes(table),
        )
        thr = min_effect_for(policy, table.kind, score_sd)
        for code in codes:
            e, se, p = est.loc[code, ["effect", "se", "p_value"]]
            if np.isfinite(p) and p < policy.fdr and abs(e) >= thr:
                g_all[rest == code] = len(eff_all)
                eff_all.append(float(e))
                se_all.append(float(se))
    both = SuspectGroups(g_all, np.asarray(eff_all, float), np.asarray(se_all, float))
    return {"flagged_labelers": by_labeler, "flagged_cells": by_cell, "all": both}


def _cell_slice_effects(
    table: LabelTable, cells: pd.DataFrame, cell_flags: np.ndarray
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """For each flagged cell: its slice's headline before and after correcting the cell alone."""
    out: dict[tuple[str, str, str], tuple[float, float]] = {}
    scores = item_scores(table) if len(cells) and cell_flags.any() else None
    if scores is None:
        return out
    orig, cnt = scores
    f = table.frame
    item = f[ITEM].to_numpy()
    lab = f[LABELER].to_numpy()
    for r in cells[cell_flags].itertuples(index=False):
        # the slice's headline is the mean item score over its items; the cell's labels
        # weigh 1/m_u each in their item's mean
        in_slice = items_in(table, r.slice_column.split("+"), r.slice_value.split("+"))
        n_items = int(np.count_nonzero(in_slice))
        if not n_items:
            continue
        base = float(orig[in_slice].sum() / n_items)
        rows = np.flatnonzero(lab == r.labeler)
        rows = rows[in_slice[item[rows]]]
        after = base - r.leniency * float((1.0 / cnt[item[rows]]).sum()) / n_items
        out[(r.labeler_id, r.slice_column, r.slice_value)] = (base, after)
    return out


def _strip(d: dict[str, Any] | None) -> dict[str, Any] | None:
    """A headline dict without its per-slice breakdown (kept once, at the top level)."""
    if d is None:
        return None
    return {k: v for k, v in d.items() if k != "per_slice"}


def _drift_table(table: LabelTable, policy: Policy, score_sd: float) -> pd.DataFrame:
    """Drift in time order (with timestamps) and batch order (with batches): tested rows only."""
    frames = []
    thr = min_effect_for(policy, table.kind, score_sd)
    for order, column in (("time", TIMESTAMP), ("batch", BATCH)):
        if not table.has(column) or not np.isfinite(table.frame[SCORE].to_numpy()).all():
            continue
        d = labeler_drift(table, order=order, min_support=policy.min_support)
        d["flagged"] = flag_drift(d, policy.fdr, thr)
        frames.append(d[np.isfinite(d["p_value"].to_numpy(dtype=float))])
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).drop(columns=["labeler"])


def _consensus_quality(table: LabelTable) -> pd.DataFrame | None:
    """Dawid-Skene labeler quality (P(correct), prior-weighted) for categorical labels.

    Fitted on the items with two or more labels: a single label's posterior is
    mostly its own labeler's confusion matrix, so single-labeled items would
    pull each labeler's quality toward self-agreement (and cost most of the
    time). Labelers with no such label get NaN. Run to convergence (tol 1e-6)
    with at most 200 EM iterations; ``ds_converged`` says whether it did.
    """
    if table.kind is LabelKind.INTERVAL or len(table.categories) < 2:
        return None
    multi = table.labels_per_item()[table.frame[ITEM].to_numpy()] >= 2
    if not multi.any():
        return None
    sub = table.subset(multi)
    res = dawid_skene(sub, tol=1e-6, max_iter=200)
    out = res.labeler_table(sub)[[LABELER, "quality"]].rename(columns={"quality": "ds_quality"})
    has = np.bincount(sub.frame[LABELER].to_numpy(), minlength=table.n_labelers) > 0
    out.loc[~has, "ds_quality"] = np.nan
    out["ds_converged"] = bool(res.converged)
    return out


def _gold_table(table: LabelTable, gold: pd.Series | None) -> pd.DataFrame | None:
    if table.kind is LabelKind.INTERVAL or (gold is None and not table.has(GOLD)):
        return None
    g = gold_accuracy(table, gold)
    return g[[LABELER, "labeler_id", "n_gold", "gold_accuracy", "ci_low", "ci_high"]].rename(
        columns={"ci_low": "gold_ci_low", "ci_high": "gold_ci_high"}
    )


def _add_by_labeler(labelers: pd.DataFrame, *extra: pd.DataFrame | None) -> pd.DataFrame:
    for e in extra:
        if e is None:
            continue
        e = e.set_index(LABELER)
        for col in e.columns.drop("labeler_id", errors="ignore"):
            labelers[col] = e[col].reindex(labelers["labeler"]).to_numpy()
    return labelers


def _not_dismissed(
    len_df: pd.DataFrame,
    flagged: np.ndarray,
    cells: pd.DataFrame,
    cell_flags: np.ndarray,
    dismissed: frozenset[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Flags with the dismissed findings removed (their labels are not suspect).

    A pair cell folded into a one-column cell's finding goes with that finding.
    """
    if not dismissed:
        return flagged, cell_flags
    lab = flagged.copy()
    for i, (lid, eff) in enumerate(zip(len_df["labeler_id"], len_df["effect"], strict=True)):
        kind = "lenient_labeler" if eff > 0 else "severe_labeler"
        if lab[i] and f"{kind}:{lid}" in dismissed:
            lab[i] = False
    cf = cell_flags.copy()
    for i, r in enumerate(cells.itertuples(index=False)):
        if not cf[i]:
            continue
        ids = {f"tilted_slice:{r.labeler_id}:{cell_subject(r.slice_column, r.slice_value)}"}
        ids |= {
            f"tilted_slice:{r.labeler_id}:{c}={v}"
            for c, v in zip(r.slice_column.split("+"), r.slice_value.split("+"), strict=False)
        }
        if ids & dismissed:
            cf[i] = False
    return lab, cf
