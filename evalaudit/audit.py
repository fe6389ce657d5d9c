"""Run the pipeline: ingest -> validate -> statistics -> findings -> AuditResult."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evalaudit.contract import (
    GOLD,
    MODEL,
    TIMESTAMP,
    VENDOR,
    InputError,
    LabelKind,
    Problem,
    ResourceError,
)
from evalaudit.detection import (
    Correction,
    JointDetection,
    corrected_headline,
    corrections,
    detect_joint,
    judge_tests,
)
from evalaudit.engine import ingest_with
from evalaudit.findings import (
    SPOT_CHECK_ROWS,
    Finding,
    cell_weight_effect,
    judge_materiality,
    materiality_kinds,
    min_effect_for,
    not_assessed,
    severity_rank,
    verdict_of,
)
from evalaudit.parallel import parallel_steps
from evalaudit.result import AuditResult
from evalaudit.rules import RULE_BY_KIND, RULES, Policy, RuleInput, load_policy
from evalaudit.stats.agreement import alpha_by_group, alpha_for_table, labeler_agreement
from evalaudit.stats.concentration import concentration
from evalaudit.stats.consensus import dawid_skene, gold_accuracy
from evalaudit.stats.impact import headline_impact, item_scores, items_in
from evalaudit.stats.leniency import labeler_leniency, release_leniency_caches, shrink_effects
from evalaudit.stats.materiality import correction_impact, finding_impact, se_from_ci
from evalaudit.stats.ppi import headline_ppi
from evalaudit.stats.sole_source import sole_source
from evalaudit.table import ITEM, LABELER, SCORE, VALUE, LabelTable
from evalaudit.validate import Ingested, IngestOptions

if TYPE_CHECKING:
    from evalaudit.reviews import Decision

__all__ = ["Profiler", "audit_ingested", "ppi_strata_of", "run_audit"]


class Profiler:
    """Wall time (and the peak resident memory so far) of each pipeline step; optionally a
    progress line per step on stderr (:mod:`evalaudit.progress`).

    A step that runs out of memory raises :class:`~evalaudit.contract.ResourceError` naming
    the step, what it tried to allocate, the input's size and the way out: never an
    internal error.
    """

    def __init__(self, progress: bool = False) -> None:
        self.timings: dict[str, float] = {}
        #: peak resident set (MB) of the process when each step ended (the high-water mark)
        self.peak_rss_mb: dict[str, float] = {}
        self.progress = progress
        self.started = time.perf_counter()
        #: rows of the input once read (the total of each later step's progress line)
        self.rows: int | None = None
        #: the input file and its size on disk, for the out-of-memory message
        self.input_path: str | None = None

    def elapsed(self) -> float:
        """Wall time since the profiler was made (steps on two threads overlap in it)."""
        return time.perf_counter() - self.started

    @contextmanager
    def step(self, name: str, rows: int | None = None) -> Iterator[None]:
        from evalaudit.progress import StepLine

        line = StepLine(name, rows if rows is not None else self.rows) if self.progress else None
        t = time.perf_counter()
        try:
            with line if line is not None else nullcontext():
                yield
        except MemoryError as exc:  # numpy's, and pyarrow's ArrowMemoryError (a subclass)
            raise out_of_memory(exc, name, self.input_path, self.rows) from exc
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t
            self.peak_rss_mb[name] = peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MB (0 where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux, B on macOS


def out_of_memory(
    exc: BaseException, step: str | None, path: str | None, rows: int | None
) -> ResourceError:
    """The :class:`ResourceError` for a MemoryError raised in ``step``."""
    from evalaudit.contract import ResourceError

    size = None
    if path:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = None
    from evalaudit.engine import STATS_BYTES_PER_LABEL

    return ResourceError(
        step=step,
        needed=str(exc).strip() or None,
        path=path,
        file_bytes=size,
        rows=rows,
        peak_mb=peak_rss_mb(),
        stats_bytes=STATS_BYTES_PER_LABEL * rows if rows else None,
    )


def load_inputs(
    path: str | Path,
    options: IngestOptions | None = None,
    rules_path: str | Path | None = None,
    gold_path: str | Path | None = None,
    profiler: Profiler | None = None,
    engine: str | None = None,
) -> tuple[Policy, pd.Series | None, Ingested]:
    """The policy, the gold answers (if any) and the validated table, each checked before any
    statistic; every problem raises InputError naming its file.

    ``engine`` reads and validates the file (``memory``, ``duckdb``, ``spark``; default
    ``auto``: by size, see :func:`evalaudit.engine.choose_engine`)."""
    prof = profiler or Profiler()
    prof.input_path = str(path)
    with prof.step("load policy"):
        policy = load_policy(rules_path)
    gold = None
    if gold_path:
        from evalaudit.gold import read_gold

        gold = read_gold(gold_path)
    with prof.step("read and validate"):
        ing = ingest_with(str(path), options, engine)
    prof.rows = ing.table.n_labels
    return policy, gold, ing


def run_audit(
    path: str | Path,
    options: IngestOptions | None = None,
    policy: Policy | None = None,
    profiler: Profiler | None = None,
    engine: str | None = None,
) -> AuditResult:
    """Audit one label file end to end (``engine``: see :func:`load_inputs`).

    Raises InputError on bad input."""
    prof = profiler or Profiler()
    if policy is None:
        policy, _, ing = load_inputs(path, options, profiler=prof, engine=engine)
    else:
        prof.input_path = str(path)
        with prof.step("read and validate"):
            ing = ingest_with(str(path), options, engine)
        prof.rows = ing.table.n_labels
    return audit_ingested(ing, policy, prof)


def audit_ingested(
    ing: Ingested,
    policy: Policy,
    profiler: Profiler | None = None,
    gold: pd.Series | None = None,
    dismissed: frozenset[str] = frozenset(),
    decisions: Sequence[Decision] | None = None,
    today: date | None = None,
) -> AuditResult:
    """Every statistic, finding and counterfactual of one validated table.

    ``gold`` (item_id -> gold label, e.g. from ``read_gold``) adds per-labeler
    gold accuracy; a ``gold`` column in the table does the same.
    ``dismissed`` holds finding ids a reviewer dismissed: their labels are not
    suspect in the counterfactual headline (the findings themselves are still
    reported; the gate marks them dismissed).
    ``decisions`` (review decisions, e.g. from ``decisions_for_gate``) are
    applied here, once, as of ``today`` (default: today, UTC): the dismissed
    findings' labels leave the counterfactual headline (only the headline is
    recomputed, not the detectors), and the outcome is held in
    ``AuditResult.reviews``. Every warn/block finding carries its ``impact``
    and blocks only if material (:func:`~evalaudit.findings.judge_materiality`).
    """
    prof = profiler or Profiler()
    table = ing.table
    if prof.rows is None:
        prof.rows = table.n_labels
    ppi_strata_of(ing, policy)  # a column the table lacks stops the run before any statistic
    if table.kind is LabelKind.INTERVAL and gold is not None:
        # gold accuracy needs categories: the gold file was ignored without a word
        raise InputError(
            str(gold.attrs.get("path", "gold")),
            [
                Problem(
                    "gold_value",
                    "gold_label",
                    0,
                    (),
                    f"--gold needs categorical labels; the labels are {ing.label_spec.describe()}",
                    "drop --gold, or declare the scale of the labels with --order (ordinal) "
                    "or --label-kind",
                )
            ],
        )
    if table.kind is not LabelKind.INTERVAL and (gold is not None or table.has(GOLD)):
        from evalaudit.aggregate import _checked_gold_codes

        # a gold value that is no label category stops the run naming the gold file, column
        # and rows (as `consensus --gold` does), before any statistic
        _checked_gold_codes(table, gold, ing.path, ing.row_label)
    gold_note = None
    if gold is not None and table.kind is not LabelKind.INTERVAL:
        # the summary said nothing of the gold file: a file matching no item gave no gold
        # figure and no word
        matched = int(gold.index.astype(str).isin(table.item_ids.astype(str)).sum())
        gold_note = (
            f"gold ({gold.attrs.get('path', 'gold')}): {matched:,} of {len(gold):,} gold "
            "item(s) are in the labels"
            + (
                f"; {len(gold) - matched:,} have no labels and are ignored"
                if matched < len(gold)
                else ""
            )
        )
    det = detect(table, policy, dismissed, prof)
    headline = det.headline

    drift = det.drift

    def second() -> pd.DataFrame:
        with prof.step("concentration"):
            return _concentration_table(table)

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
        conc = job.result() if job is not None else second()
    with prof.step("findings"):
        findings = _findings(ing, det, policy, drift, gold_df, conc, overall, headline)
    outcome = None
    if decisions is not None:
        from evalaudit.reviews import apply_decisions, utc_today

        day = today or utc_today()
        outcome = apply_decisions([f.id for f in findings], decisions, day)
        if outcome.dismissed and not dismissed:
            # the dismissed findings' labels are not suspect: only the counterfactual
            # headline (and headline_shift) change, so the detectors are not run again
            with prof.step("headline"):
                headline = _headline(table, det, policy, frozenset(outcome.dismissed))
            findings = [f for f in findings if f.kind != "headline_shift"]
            findings += _findings(
                ing, det, policy, drift, gold_df, conc, overall, headline, only="headline_shift"
            )
            outcome = apply_decisions([f.id for f in findings], decisions, day)
    with prof.step("impact"):
        findings = _judge(findings, table, policy, headline)
    findings.sort(key=lambda f: (severity_rank(f.severity), f.kind, f.id))
    result = _result(
        ing,
        policy,
        det,
        findings,
        headline,
        overall,
        per_slice,
        per_vendor,
        lab_agree,
        quality,
        gold_df,
        drift,
        conc,
        outcome,
    )
    with prof.step("drift timelines"):
        ids, order = drift_labelers(result)
        timelines = drift_timelines(ing, ids, order)
    if gold_note is not None:
        result = replace(result, notes=(*result.notes, gold_note))
    return replace(result, timelines=timelines)


def ppi_strata_of(ing: Ingested, policy: Policy) -> tuple[str, ...]:
    """The policy's ``ppi_strata``, each checked to be a stratum column of ``ing``'s table.

    A stratum column is a slice column, or ``model`` (an item attribute too). An unknown
    name raises InputError naming where it was given (``--ppi-strata``, the API's
    ``ppi_strata=``, or the policy file's ``ppi_strata`` key), the column and the slice
    columns available, every bad name at once.
    """
    strata = tuple(policy.ppi_strata)
    table = ing.table
    allowed = [*table.slice_columns, *([MODEL] if table.has(MODEL) else [])]
    allowed = list(dict.fromkeys(allowed))
    bad = [c for c in strata if c not in allowed]
    if not bad:
        return strata
    option = policy.given_by.get("ppi_strata")
    where = option or f"ppi_strata in {policy.path or 'the policy'}"
    available = ", ".join(table.slice_columns) or "(none)"
    if table.has(MODEL) and MODEL not in table.slice_columns:
        available += "; and model"
    problems = [
        Problem(
            "ppi_strata",
            col,
            0,
            (),
            f"{where} names '{col}', which is not a slice column of {ing.path} (the PPI "
            "headline is stratified by slice columns the human subset was drawn by)",
            f"use one of the slice columns: {available} (make an item column a slice with "
            f"--slice COL), or drop '{col}' from {where}",
        )
        for col in bad
    ]
    raise InputError(ing.path if option or not policy.path else policy.path, problems)


def _findings(
    ing: Ingested,
    det: Detection,
    policy: Policy,
    drift: pd.DataFrame,
    gold_df: pd.DataFrame | None,
    conc: pd.DataFrame,
    overall: Any,
    headline: dict[str, Any] | None,
    only: str | None = None,
) -> list[Finding]:
    """Every finding of the detectors' outputs, before materiality and reviews: each
    registered rule turns the statistics into its findings (evalaudit/rules/)."""
    table = ing.table
    inp = RuleInput(
        table=table,
        kind=table.kind,
        policy=policy,
        warnings=tuple(ing.warnings),
        leniency=det.leniency,
        flagged=det.flagged,
        cells=det.cells,
        cell_flags=det.cell_flags,
        cell_slice_effects=_cell_slice_effects(table, det.cells, det.cell_flags),
        score_sd=det.score_sd,
        drift=drift,
        concentration=conc,
        gold=gold_df,
        agreement=overall,
        headline=headline,
        judges=det.joint.judges if det.joint is not None else None,
    )
    findings: list[Finding] = []
    for rule in RULES:
        if only is None or rule.kind == only:
            findings += rule.build(inp)
    from evalaudit.rules.ea110_judge_bias import judges_covered

    covered = judges_covered(inp)
    if covered:
        # a judge the judge rules test against the humans is reported by them (EA110, EA210):
        # the peer findings would say the same twice, against a baseline that is the humans
        findings = [
            f
            for f in findings
            if not (f.kind in _PEER_KINDS and str(f.subject.get("labeler_id")) in covered)
        ]
    return findings


#: Labeler and cell findings replaced by the judge rules for judges they cover.
_PEER_KINDS = ("lenient_labeler", "severe_labeler", "tilted_slice")


def _result(
    ing: Ingested,
    policy: Policy,
    det: Detection,
    findings: list[Finding],
    headline: dict[str, Any] | None,
    overall: Any,
    per_slice: list[pd.DataFrame],
    per_vendor: pd.DataFrame,
    lab_agree: pd.DataFrame,
    quality: pd.DataFrame | None,
    gold_df: pd.DataFrame | None,
    drift: pd.DataFrame,
    conc: pd.DataFrame,
    outcome: Any,
) -> AuditResult:
    table = ing.table
    len_df, flagged, cells, cell_flags = det.leniency, det.flagged, det.cells, det.cell_flags
    score_sd = det.score_sd
    len_df["shrunk"] = shrink_effects(
        len_df["effect"].to_numpy(),
        len_df["se"].to_numpy(),
        min_tau=min_effect_for(policy, table.kind, score_sd),
    )
    labelers = _labelers_table(len_df, lab_agree, flagged, table)
    labelers = _add_by_labeler(labelers, quality, gold_df)
    judge_frames = _judge_frames(det, policy, table)
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
            "test": "tilt (interaction) of the joint labeler-effects model",
            "budget": det.budget,
        },
        reviews=outcome.to_dict() if outcome is not None else None,
        review_outcome=outcome,
        notes=ing.notes,
        **judge_frames,
    )


def _judge_frames(det: Detection, policy: Policy, table: LabelTable) -> dict[str, pd.DataFrame]:
    """The judge tables of the result, each with the flag its rule uses."""
    jt = det.joint.judges if det.joint is not None else None
    if jt is None:
        return {}
    from evalaudit.findings import flag_cells
    from evalaudit.rules.ea110_judge_bias import judge_bias_flags
    from evalaudit.rules.ea111_judge_self_preference import self_preference_flags

    aud, sl, sp = (df.copy() for df in jt.frames)
    aud["flagged"] = judge_bias_flags(aud, policy, table.kind, det.score_sd)
    sl["flagged"] = flag_cells(sl, policy, table.kind, det.score_sd)
    sp["flagged"] = self_preference_flags(sp, policy, table.kind, det.score_sd)
    return {"judges": aud, "judge_slices": sl, "judge_self_preference": sp}


#: Most labelers whose drift timeline the audit computes (and the report draws).
MAX_DRIFT_CHARTS = 8


def drift_labelers(result: Any, max_n: int = MAX_DRIFT_CHARTS) -> tuple[list[str], str | None]:
    """Which labelers get a drift timeline, and in which order ("time" or "batch").

    Labelers whose drift is flagged first, then flagged labelers, then labelers
    with a flagged cell (at most ``max_n``). The order is the one the drift
    test used: time when it ran in time order, else batch; ``None`` when
    drift was not tested.
    """
    drift = result.drift
    if drift is None or drift.empty or "order" not in drift.columns:
        return [], None
    order = "time" if (drift["order"] == "time").any() else "batch"
    d = drift[drift["order"] == order]
    ids: list[str] = [str(i) for i in d.loc[d["flagged"].astype(bool), "labeler_id"]]
    ids += [str(i) for i in result.flagged_labelers()]
    cells = result.cells
    if cells is not None and not cells.empty and "flagged" in cells.columns:
        ids += [str(i) for i in cells.loc[cells["flagged"].astype(bool), "labeler_id"]]
    return list(dict.fromkeys(ids))[:max_n], order


def drift_timelines(
    ing: Ingested, labeler_ids: Sequence[str], order: str | None = "time"
) -> pd.DataFrame:
    """Leniency over time (or batches) of ``labeler_ids``: the data of a drift chart.

    The entry point surfaces call for labelers beyond the ones the audit drew
    (:func:`evalaudit.stats.timeline.drift_timeline`, same bins as the report).
    """
    from evalaudit.stats.timeline import drift_timeline

    if not labeler_ids or order is None:
        return pd.DataFrame()
    return drift_timeline(ing.table, list(labeler_ids), order=order)  # type: ignore[arg-type]


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
    if table.labeler_types:
        df["labeler_type"] = [table.labeler_type_of(int(c)) for c in df["labeler"]]
        fam = table.judge_family
        df["judge_family"] = [fam.get(str(i)) for i in df["labeler_id"]]
    # rank by the shrunken estimate: a large effect from few labels is weak evidence
    df = df.sort_values(
        ["shrunk", "leniency", "labeler_id"], ascending=[False, False, True], na_position="last"
    )
    return df.reset_index(drop=True)


@dataclass(frozen=True)
class Detection:
    """What the detectors found and what it does to the headline (one pass over a table).

    ``suspects`` maps ``all``, ``flagged_labelers`` and ``flagged_cells`` to the
    corrections of :func:`evalaudit.detection.corrections`; ``drift`` holds the
    drift tests (q-values from the same budget); ``budget`` how it was spent.
    """

    leniency: pd.DataFrame
    flagged: np.ndarray
    cells: pd.DataFrame
    cell_flags: np.ndarray
    n_cells_estimated: int
    score_sd: float
    suspects: dict[str, list[Correction]]
    headline: dict[str, Any] | None
    drift: pd.DataFrame
    budget: dict[str, Any]
    #: The joint fit itself, so review decisions can recompute the headline without a refit.
    joint: Any = None


def detect(
    table: LabelTable,
    policy: Policy,
    dismissed: frozenset[str] = frozenset(),
    profiler: Profiler | None = None,
) -> Detection:
    """Labeler leniency, the slice scan, drift, their flags, the suspects and the headline impact.

    The core of :func:`audit_ingested` (and of the benchmarks): the joint
    labeler-effects model fitted, screened and refitted under one error budget
    (:func:`evalaudit.detection.detect_joint`); findings in ``dismissed`` are
    not suspect in the counterfactuals.
    """
    prof = profiler or Profiler()
    with prof.step("leniency"):
        diagnostics = labeler_leniency(table)
        release_leniency_caches(table, score_parts=False)
    scores = table.frame[SCORE].to_numpy()
    score_sd = float(np.nanstd(scores)) if np.isfinite(scores).any() else 0.0
    with prof.step("judges"):
        jt = judge_tests(table, policy)
    with prof.step("joint model"):
        jd = detect_joint(table, policy, diagnostics, jt)
    len_df, flagged, cells, cell_flags = jd.leniency, jd.flagged, jd.cells, jd.cell_flags
    n_estimated = len(cells)
    if len(cells):
        cells = cells.copy()
        cells["flagged"] = cell_flags
    with prof.step("headline"):
        suspects, headline = _suspects_and_headline(table, jd, policy, dismissed, score_sd)
    # the overlap residuals served the leniency pass and the drift series only: the later
    # steps run beside each other and allocate their own
    release_leniency_caches(table)

    # keep every one-column cell (a heat map needs them) and the tested pairs
    if len(cells):
        keep = cells["tested"] | ~cells["slice_column"].str.contains("+", regex=False)
        cells = cells[keep].drop(columns=["_spec", "_group"]).reset_index(drop=True)
        cell_flags = cell_flags[keep.to_numpy()]
    budget = {**jd.budget.to_dict(), "fits": jd.fits, "converged": jd.converged}
    return Detection(
        len_df,
        flagged,
        cells,
        cell_flags,
        n_estimated,
        score_sd,
        suspects,
        headline,
        jd.drift.drop(columns=["labeler"], errors="ignore") if len(jd.drift) else jd.drift,
        budget,
        jd,
    )


def _rows_of(corr: list[Correction], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for c in corr:
        mask |= c.rows
    return mask


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


def _headline(
    table: LabelTable, det: Detection, policy: Policy, dismissed: frozenset[str]
) -> dict[str, Any] | None:
    """The counterfactual headline with the ``dismissed`` findings' labels not suspect.

    Computed on the joint fit the audit kept (``det.joint``): review decisions never
    rerun the detectors.
    """
    return _suspects_and_headline(table, det.joint, policy, dismissed, det.score_sd)[1]


def _suspects_and_headline(
    table: LabelTable,
    jd: JointDetection,
    policy: Policy,
    dismissed: frozenset[str],
    score_sd: float,
) -> tuple[dict[str, list[Correction]], dict[str, Any] | None]:
    """The suspect labels three ways and the headline's counterfactuals, dismissals honoured."""
    cells = jd.cells.copy() if len(jd.cells) else jd.cells
    if len(cells):
        cells["flagged"] = jd.cell_flags
    keep_lab, keep_cell = _not_dismissed(jd.leniency, jd.flagged, cells, jd.cell_flags, dismissed)
    suspects = {
        name: corrections(jd, policy, keep_lab, keep_cell, score_sd, which=name)
        for name in ("all", "flagged_labelers", "flagged_cells")
    }
    n = len(table.frame)
    base_mask = _rows_of(suspects["all"], n)
    headline = headline_impact(table, base_mask)
    if headline is not None:
        headline["suspects"] = "labels of flagged labelers and flagged cells"
        headline["suspect_labels"] = int(base_mask.sum())
        headline["corrected"] = corrected_headline(jd, suspects["all"], table)
        variants = {}
        for name, sg in suspects.items():
            if name == "all":
                continue
            mask = _rows_of(sg, n)
            variants[name] = {
                "suspect_labels": int(mask.sum()),
                "exclusion": _strip(headline_impact(table, mask)),
                "corrected": _strip(corrected_headline(jd, sg, table)),
            }
        headline["variants"] = variants
        if table.has_judges:
            # the headline the humans would give, from the judges' scores de-biased by them
            headline["ppi"] = headline_ppi(table, strata=policy.ppi_strata or None)
    return suspects, headline


def _finding_rows(table: LabelTable, f: Finding) -> np.ndarray | None:
    """The label rows behind a labeler or cell finding (None for other kinds)."""
    sub = f.subject
    if f.kind not in (
        "lenient_labeler",
        "severe_labeler",
        "tilted_slice",
        "labeler_drift",
        "judge_bias",
        "judge_tilt",
        "judge_self_preference",
    ):
        return None
    ids = table.labeler_ids
    pos = np.flatnonzero(np.asarray(ids) == sub.get("labeler_id"))
    if not len(pos):
        return None
    fr = table.frame
    mask = fr[LABELER].to_numpy() == pos[0]
    if f.kind == "labeler_drift":
        # the labels of the new regime: from the change time on (batch order: batches are
        # ranked inside the drift test, so that impact is not assessed)
        change = f.evidence.get("change_at")
        if f.evidence.get("order") != "time" or not change or not table.has(TIMESTAMP):
            return None
        ts = fr[TIMESTAMP]
        at = pd.Timestamp(change)
        if ts.dt.tz is None and at.tzinfo is not None:
            at = at.tz_convert(None)
        elif ts.dt.tz is not None and at.tzinfo is None:
            at = at.tz_localize("UTC")
        mask &= (ts >= at).to_numpy()  # missing timestamps compare False
    if f.kind == "judge_self_preference":
        own = [str(m) for m in f.evidence.get("own_models") or []]
        mask &= fr[MODEL].isin(own).to_numpy() if table.has(MODEL) else False
    if f.kind in ("tilted_slice", "judge_tilt"):
        cols, vals = sub["slice_column"].split("+"), sub["slice_value"].split("+")
        if len(cols) != len(vals):
            return None
        for col, val in zip(cols, vals, strict=True):
            mask &= (fr[col] == val).to_numpy()
    return mask


def _item_sums(table: LabelTable) -> tuple[np.ndarray, np.ndarray]:
    """Labels per item and the sum of their scores (once per audit: bincounts over every row)."""
    item = table.frame[ITEM].to_numpy()
    scores = np.nan_to_num(table.frame[SCORE].to_numpy())
    return (
        np.bincount(item, minlength=table.n_items),
        np.bincount(item, weights=scores, minlength=table.n_items),
    )


def _spot_check(
    table: LabelTable,
    rows: np.ndarray,
    effect: float,
    sums: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, Any], ...]:
    """Up to SPOT_CHECK_ROWS of a finding's labels: the ones its effect would change first.

    First the labels that disagree with the other labels of the same item in the
    finding's direction (a lenient finding's pass where peers failed), most
    disagreeing first; then, for a lenient finding, its highest-scored labels (the
    passes a peer might not give), for a severe one its lowest; ties by item id, so
    the list is stable.
    """
    idx = np.flatnonzero(rows)
    if not len(idx):
        return ()
    fr = table.frame
    all_scores = fr[SCORE].to_numpy()
    score = all_scores[idx]
    item = fr[ITEM].to_numpy()
    # decode only these rows' ids (the full id index of 10^6 items costs ~30 ms per finding)
    item_ids = np.asarray(table.item_ids[item[idx]], dtype=object).astype(str)
    sign = -1.0 if (effect or 0) > 0 else 1.0
    # the mean of the item's other labels (NaN for a single label)
    cnt_all, tot_all = sums if sums is not None else _item_sums(table)
    cnt, tot = cnt_all[item[idx]], tot_all[item[idx]]
    with np.errstate(invalid="ignore", divide="ignore"):
        others = np.where(cnt > 1, (tot - score) / (cnt - 1), np.nan)
    against = np.nan_to_num(sign * (score - others), nan=0.0)  # < 0: disagrees as the effect
    order = np.lexsort((item_ids, np.nan_to_num(sign * score, nan=0.0), against))
    order = order[:SPOT_CHECK_ROWS]
    pick = idx[order]
    cats = list(table.categories)
    values = fr[VALUE].to_numpy()[pick] if VALUE in fr else None
    out = []
    for j, r in enumerate(pick):
        if values is not None and values[j] >= 0 and cats:
            label: Any = str(cats[int(values[j])])
        else:
            label = float(fr[SCORE].iat[int(r)])
        rec: dict[str, Any] = {
            "item_id": str(item_ids[order[j]]),
            "labeler_id": str(table.labeler_ids[int(fr[LABELER].iat[int(r)])]),
            "label": label,
        }
        for col in (MODEL, *table.slice_columns):
            if table.has(col):
                rec[col] = str(fr[col].iat[int(r)])
        out.append(rec)
    return tuple(out)


def _judge(
    findings: list[Finding],
    table: LabelTable,
    policy: Policy,
    headline: dict[str, Any] | None,
) -> list[Finding]:
    """Impact, materiality and spot-check items of every finding (see judge_materiality)."""
    out = []
    assessed = materiality_kinds()
    sums = None
    for f in findings:
        rows = _finding_rows(table, f)
        if rows is not None:
            sums = sums or _item_sums(table)
            f = replace(f, items=_spot_check(table, rows, f.effect or 0.0, sums))
        if f.kind in assessed and f.kind != "headline_shift" and rows is not None:
            sub = f.subject
            cols = sub["slice_column"].split("+") if "slice_column" in sub else None
            vals = sub["slice_value"].split("+") if "slice_value" in sub else None
            effect, se = float(f.effect or 0.0), se_from_ci(f.ci)
            if f.kind == "judge_self_preference":
                # the false-pass contrast is a rate among fails; labels are corrected in
                # score units: the bias contrast on the judge's family's outputs
                effect = float(f.evidence.get("score_effect") or 0.0)
                se = se_from_ci(tuple(f.evidence.get("score_effect_ci") or (None, None)))
            imp = finding_impact(table, rows, effect, se, cols, vals)
            if imp is not None:
                imp["n_labels"] = int(rows.sum())
            f = judge_materiality(f, imp, policy, table.kind)
        elif f.kind == "headline_shift":
            f = judge_materiality(f, _headline_shift_impact(headline), policy, table.kind)
        elif f.severity in ("warn", "block"):
            f = not_assessed(f)
        out.append(f)
    return out


def _headline_shift_impact(headline: dict[str, Any] | None) -> dict[str, Any] | None:
    """The impact of headline_shift: the correction of every suspect label at once."""
    c = (headline or {}).get("corrected")
    if not c:
        return None
    return correction_impact(c, int(c.get("suspect_labels") or 0))


def _concentration_table(table: LabelTable) -> pd.DataFrame:
    """Each scope's top source by items labeled at all, and by items labeled alone."""
    conc = concentration(table)
    if conc.empty:
        return conc
    sole = sole_source(table)
    return conc.merge(sole, on=["scope", "slice_value", "who", "n_items"], how="left")


def _strip(d: dict[str, Any] | None) -> dict[str, Any] | None:
    """A headline dict without its per-slice breakdown (kept once, at the top level)."""
    if d is None:
        return None
    return {k: v for k, v in d.items() if k != "per_slice"}


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
    # Dawid-Skene reads the codes only: no copy of the time, slice and vendor columns
    sub = table.subset(multi, columns=())
    del multi
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
        # a judge's labels are reported by judge_bias: its dismissal un-suspects them too
        ids = {RULE_BY_KIND[k].finding_id({"labeler_id": lid}) for k in (kind, "judge_bias")}
        if lab[i] and ids & dismissed:
            lab[i] = False
    cf = cell_flags.copy()
    for i, r in enumerate(cells.itertuples(index=False)):
        if not cf[i]:
            continue
        ids = set()
        for kind in ("tilted_slice", "judge_tilt"):
            cell_id = RULE_BY_KIND[kind].finding_id
            ids |= {
                cell_id(
                    {"labeler_id": r.labeler_id, "slice_column": r.slice_column, "slice_value": v}
                )
                for v in [r.slice_value]
            }
            ids |= {
                cell_id({"labeler_id": r.labeler_id, "slice_column": c, "slice_value": v})
                for c, v in zip(r.slice_column.split("+"), r.slice_value.split("+"), strict=False)
            }
        if ids & dismissed:
            cf[i] = False
    return lab, cf
