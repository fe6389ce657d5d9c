"""Run the pipeline: ingest -> validate -> statistics -> findings -> AuditResult."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import VENDOR
from evalaudit.findings import (
    Finding,
    agreement_findings,
    data_quality_findings,
    flag_labelers,
    imbalance_findings,
    labeler_findings,
    min_effect_for,
    verdict_of,
)
from evalaudit.result import AuditResult
from evalaudit.rules import Policy, load_policy
from evalaudit.stats.agreement import alpha_by_group, alpha_for_table, labeler_agreement
from evalaudit.stats.impact import headline_impact
from evalaudit.stats.leniency import labeler_leniency, shrink_effects
from evalaudit.table import LABELER, SCORE
from evalaudit.validate import Ingested, IngestOptions, ingest

__all__ = ["Profiler", "audit_ingested", "run_audit"]


class Profiler:
    """Wall time of each pipeline step; optionally announces steps on stderr."""

    def __init__(self, progress: bool = False) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.progress:
            print(f"evalaudit: {name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t


def run_audit(
    path: str | Path,
    options: IngestOptions | None = None,
    policy: Policy | None = None,
    profiler: Profiler | None = None,
) -> AuditResult:
    """Audit one label file end to end. Raises InputError on bad input."""
    prof = profiler or Profiler()
    with prof.step("load policy"):
        pol = policy or load_policy(None)
    with prof.step("read and validate"):
        ing = ingest(str(path), options)
    return audit_ingested(ing, pol, prof)


def audit_ingested(
    ing: Ingested,
    policy: Policy,
    profiler: Profiler | None = None,
    on_step: Callable[[str], None] | None = None,
) -> AuditResult:
    prof = profiler or Profiler()
    table = ing.table
    with prof.step("agreement"):
        overall = alpha_for_table(table)
        per_slice = [alpha_by_group(table, c) for c in table.slice_columns]
        per_vendor = alpha_by_group(table, VENDOR) if table.has(VENDOR) else pd.DataFrame()
        lab_agree = labeler_agreement(table)
    with prof.step("leniency"):
        len_df = labeler_leniency(table)
    with prof.step("findings"):
        scores = table.frame[SCORE].to_numpy()
        score_sd = float(np.nanstd(scores)) if np.isfinite(scores).any() else 0.0
        flagged = flag_labelers(len_df, policy, table.kind, score_sd)
        findings: list[Finding] = []
        findings += labeler_findings(len_df, flagged, policy, table.kind)
        findings += agreement_findings(overall.alpha, overall.level, overall.n_units, policy)
        findings += imbalance_findings(len_df, policy)
        findings += data_quality_findings(ing.warnings, policy)
    with prof.step("headline"):
        flagged_codes = np.flatnonzero(flagged)
        suspect = np.isin(table.frame[LABELER].to_numpy(), flagged_codes)
        headline = headline_impact(table, suspect)
        if headline is not None:
            headline["suspects"] = "labels of flagged labelers"
            headline["suspect_labels"] = int(suspect.sum())
    len_df["shrunk"] = shrink_effects(
        len_df["effect"].to_numpy(),
        len_df["se"].to_numpy(),
        min_tau=min_effect_for(policy, table.kind, score_sd),
    )
    labelers = _labelers_table(len_df, lab_agree, flagged, table)
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
