"""Detection benchmark: does the audit find planted poisoning, and only that?

Usage::

    python benchmarks/detection.py [--seeds 50] [--extra-seeds 150] [--quick] [--acceptance-only] [--workers 2]

Method
------
Each *grid point* fixes a design and a plant; every seed of a grid point is one
simulated eval set (:func:`evalaudit.simulate.simulate`, 6000 items, 24 labelers,
3 vendors, ``specialists=0.3``: 30% of the free labelers grade mostly one
category; pass rates differ a lot by category, failure mode and model). The
poisoned labeler is ``lab017``: it labels a forced ``share`` of the items (in
every category) and, on items with ``failure_mode = <slice>``, turns a "fail" it
would give into "pass" with probability ``flip_rate``. Seeds ``0..S-1`` are
used at every grid point (common random numbers across grid points); the
*acceptance points* (clean sets and the 20-point single-label plants) also run
seeds ``S..S+E-1`` (``--extra-seeds E``, default 150), so their figures rest on
200 seeds, and the acceptance line is printed for seeds ``0..S-1`` and for all.

*Flip rates* are calibrated so that the expected in-slice effect hits the
target (10, 20, 30 pass-rate points): ``flip = target / P(fail reported | slice)``
with ``P(fail reported) = (1 - 2 e) (1 - pi_bar) + e``, ``e = 0.05`` (the
midpoint of the honest error range) and ``pi_bar`` the slice's mean true pass
probability under simulate's default slice specs (exact Gauss-Hermite
integration over the item noise; no Monte Carlo). The realised
``truth["poisoned"][0]["expected_effect"]`` (exact, per seed) is reported.

*The audit* runs the library's own detection path on a
:class:`~evalaudit.table.LabelTable` built directly from the simulated frame
(``binary``, ``positive="pass"``, slices ``category`` and ``failure_mode``:
what ingest auto-detects on this frame), skipping ingest/great-expectations and
the agreement statistics, which do not feed any flag. The steps are those of
:func:`evalaudit.audit.audit_ingested`: ``labeler_leniency`` ->
``flag_labelers``; ``cell_leniency(min_support)`` -> keep one-column and tested
pair cells -> ``flag_cells``; ``suspect_groups`` -> ``headline_impact`` of the
"all" suspects (exclusion counterfactual) and ``SuspectGroups.corrected``
(``headline_corrected``, the corrected headline), all with the default policy
(``rules/default.yaml``: fdr 0.02 with power-weighted cells, min_effect 0.05,
min_support 30).

*Measures* per grid point, over the seeds:

- **recall**: the planted one-column cell (``lab017 x failure_mode=<slice>``)
  is flagged.
- **labeler flagged**: ``lab017`` itself is flagged as a lenient labeler (not a
  false flag: it is lenient overall, by ``effect x slice share``).
- **other-flag rate**: any *other* labeler, or any cell of another labeler, is
  flagged (false flags).
- **own off-slice**: a cell of ``lab017`` that does not contain the planted
  slice is flagged (``failure_mode=`` another value, or a pair cell with
  another failure mode); category cells contain planted items, so they are
  not counted.
- **headline error**: the same seed is simulated again with ``flip_rate=0``
  (same share). simulate draws assignment, time and honest noise from
  independent streams of one ``SeedSequence`` and each plant from its own
  stream, and the forced share (not the flip rate) drives assignment, so the
  two frames are identical except for the flipped labels. This is *checked*
  on every pair (same rows, same ``(item_id, labeler_id)`` pairs and every
  other column; labels differ only on ``lab017 x slice`` and only fail->pass);
  a violation aborts the run. The *unpoisoned headline* is the headline of
  that frame (mean over items of the mean label score). Reported: mean and
  90th percentile of ``|corrected - unpoisoned|``, and means of
  ``|uncorrected - unpoisoned|`` (how far the poisoning moved the headline)
  and ``|exclusion - unpoisoned|`` (``score_without_suspects``: items whose
  only label is suspect drop out, so in single-label designs the exclusion
  counterfactual cannot undo the poisoning and is over a different item set).
- **n in cell**: the realised ``n_labels_in_scope`` (labels in the planted cell).

*Clean sets*: no plant, same designs; the share of audits flagging any cell or
any labeler (the family-wise false-flag rate of a clean gate), and
``|corrected - headline|`` (any correction there is spurious).

*Recall by support*: per seed, the planted cell's realised n is bucketed
(<100, 100-149, 150-199, >=200) for the 20-point plants; single-label design
(acceptance figure: >= 90% recall from 100 labels up) and, for reference,
the 15%-overlap design. Two extra single-label hallucination grid points
(shares 0.075 and 0.14, 20 points) fill the 100-149 and >=200 buckets, which
the grid's shares (0.05 -> ~84 labels, 0.11 -> ~185) barely reach. Recall CIs
are Wilson 95% intervals over seeds.

Everything is deterministic given the seeds (multiprocessing only changes
where a task runs; results are collected in task order). Only the runtime line
varies.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.audit import detect
from evalaudit.rules import Policy, load_policy
from evalaudit.simulate import (
    DEFAULT_CATEGORIES,
    DEFAULT_FAILURE_MODES,
    DEFAULT_MODELS,
    FAILURE_MODE,
    ITEM_SD,
    Plant,
    simulate,
)
from evalaudit.table import ITEM, SCORE, LabelTable

# --------------------------------------------------------------------------- design

N_ITEMS = 6000
N_LABELERS = 24
SPECIALISTS = 0.3
OVERLAP_K = 3
PLANTED = "lab017"
SLICE_COLUMNS = ("category", FAILURE_MODE)
HONEST_ERROR = 0.05  # midpoint of simulate's default error_range (0.03, 0.07)

FULL_GRID: dict[str, tuple[Any, ...]] = {
    "shares": (0.05, 0.11),
    "slices": ("hallucination", "refusal"),
    "effects": (0.1, 0.2, 0.3),
    "overlaps": (0.0, 0.15),
    "sweep_shares": (0.075, 0.14),  # extra single-label 20-point points for the support table
    "clean_overlaps": (0.0, 0.15),
}
QUICK_GRID: dict[str, tuple[Any, ...]] = {
    "shares": (0.05, 0.11),
    "slices": ("hallucination",),
    "effects": (0.2,),
    "overlaps": (0.0, 0.15),
    "sweep_shares": (0.075,),
    "clean_overlaps": (0.0, 0.15),
}
SUPPORT_EFFECT = 0.2
SUPPORT_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<100", 0, 100),
    ("100-149", 100, 150),
    ("150-199", 150, 200),
    (">=200", 200, math.inf),
)
ACCEPT_MIN_N = 100
ACCEPT_RECALL = 0.90


def p_fail_reported(slice_value: str, error: float = HONEST_ERROR) -> float:
    """P(an honest labeler reports "fail") on items of ``failure_mode = slice_value``.

    Under simulate's default slice specs: ``pi = expit(b_cat + b_fm + b_model + u)``,
    ``u ~ N(0, ITEM_SD^2)``, category and model independent of the failure mode,
    integrated exactly with 60-point Gauss-Hermite quadrature.
    """
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    fm = {name: logit for name, _, logit in DEFAULT_FAILURE_MODES}[slice_value]
    c_tot = sum(p for _, p, _ in DEFAULT_CATEGORIES)
    m_tot = sum(p for _, p, _ in DEFAULT_MODELS)
    pi_bar = 0.0
    for _, cp, cb in DEFAULT_CATEGORIES:
        for _, mp_, mb in DEFAULT_MODELS:
            pi = 1.0 / (1.0 + np.exp(-(cb + fm + mb + ITEM_SD * x)))
            pi_bar += cp / c_tot * mp_ / m_tot * float((w * pi).sum())
    return (1.0 - 2.0 * error) * (1.0 - pi_bar) + error


def flip_for(slice_value: str, effect: float) -> float:
    """The flip rate whose expected in-slice effect is ``effect`` (capped at 1)."""
    return round(min(1.0, effect / p_fail_reported(slice_value)), 3)


def slice_frequency(slice_value: str) -> float:
    total = sum(p for _, p, _ in DEFAULT_FAILURE_MODES)
    return {name: p for name, p, _ in DEFAULT_FAILURE_MODES}[slice_value] / total


@dataclass(frozen=True)
class Point:
    """One grid point: a design, and a plant (``slice is None``: a clean set)."""

    overlap: float
    share: float | None = None
    slice: str | None = None
    effect: float | None = None  # target
    flip: float | None = None
    sweep: bool = False

    @property
    def clean(self) -> bool:
        return self.slice is None

    @property
    def acceptance(self) -> bool:
        """A point the acceptance figures pool: clean sets, and 20-point single-label plants."""
        return self.clean or (self.effect == SUPPORT_EFFECT and self.overlap == 0.0)


def build_grid(grid: dict[str, tuple[Any, ...]]) -> list[Point]:
    points = [
        Point(overlap=ov, share=sh, slice=sl, effect=ef, flip=flip_for(sl, ef))
        for sl in grid["slices"]
        for sh in grid["shares"]
        for ov in grid["overlaps"]
        for ef in grid["effects"]
    ]
    points += [
        Point(
            overlap=0.0,
            share=sh,
            slice="hallucination",
            effect=SUPPORT_EFFECT,
            flip=flip_for("hallucination", SUPPORT_EFFECT),
            sweep=True,
        )
        for sh in grid["sweep_shares"]
    ]
    points += [Point(overlap=ov) for ov in grid["clean_overlaps"]]
    return points


# --------------------------------------------------------------------------- one audit

_POLICY: Policy | None = None


def policy() -> Policy:
    global _POLICY
    if _POLICY is None:
        _POLICY = load_policy(None)
    return _POLICY


def simulate_point(point: Point, seed: int, flip: float | None = None) -> Any:
    plants = (
        ()
        if point.clean
        else (
            Plant(
                PLANTED,
                flip_rate=point.flip if flip is None else flip,
                slice_column=FAILURE_MODE,
                slice_value=point.slice,
                share=point.share,
            ),
        )
    )
    return simulate(
        N_ITEMS,
        N_LABELERS,
        overlap_share=point.overlap,
        overlap_k=OVERLAP_K,
        specialists=SPECIALISTS,
        plants=plants,
        seed=seed,
    )


def headline_of(item: np.ndarray, score: np.ndarray, n_items: int) -> float:
    """Mean over items of the item's mean label score (the audit's headline)."""
    cnt = np.bincount(item, minlength=n_items).astype(float)
    tot = np.bincount(item, weights=score, minlength=n_items)
    return float((tot / cnt).mean())


def run_audit(labels: pd.DataFrame) -> dict[str, Any]:
    """:func:`evalaudit.audit.detect` (the audit's detection core) on a simulated frame."""
    pol = policy()
    table = LabelTable.build(labels, "binary", positive="pass", slice_columns=SLICE_COLUMNS)
    det = detect(table, pol)
    len_df, flagged, cells, cell_flags = det.leniency, det.flagged, det.cells, det.cell_flags
    impact = det.headline
    assert impact is not None and impact["corrected"] is not None
    corrected = impact["corrected"]
    planted = cells[(cells["labeler_id"] == PLANTED) & (cells["slice_column"] == FAILURE_MODE)]
    return {
        "table": table,
        "n_tested": int(cells["tested"].sum()) if len(cells) else 0,
        "planted_cells": planted.set_index("slice_value")[
            ["n", "leniency", "se", "p_value", "q_value", "tested"]
        ],
        "flagged_labelers": set(len_df.loc[flagged, "labeler_id"].astype(str)),
        "flagged_cells": cells.loc[cell_flags, ["labeler_id", "slice_column", "slice_value"]]
        .astype(str)
        .itertuples(index=False, name=None),
        "headline": float(impact["score"]),
        "exclusion": float(impact["score_without_suspects"]),
        "corrected": float(corrected["score_corrected"]),
    }


def cell_has_slice(column: str, value: str, slice_value: str) -> bool | None:
    """Whether a (possibly two-column) cell is restricted to ``failure_mode = slice_value``.

    None when the cell has no failure_mode component (a category cell).
    """
    for c, v in zip(column.split("+"), value.split("+"), strict=False):
        if c == FAILURE_MODE:
            return v == slice_value
    return None


def check_pair(poisoned: pd.DataFrame, clean: pd.DataFrame, slice_value: str) -> int:
    """Assert the flip-0 twin has the same rows and differs only by planted flips.

    Returns the number of flipped labels.
    """
    rest = [c for c in poisoned.columns if c != "label"]
    if len(poisoned) != len(clean) or not poisoned[rest].equals(clean[rest]):
        raise AssertionError("flip_rate=0 twin differs in rows, (item, labeler) pairs or columns")
    diff = (poisoned["label"] != clean["label"]).to_numpy()
    scope = (
        (poisoned["labeler_id"] == PLANTED) & (poisoned[FAILURE_MODE] == slice_value)
    ).to_numpy()
    ok = (clean["label"].to_numpy()[diff] == "fail") & (
        poisoned["label"].to_numpy()[diff] == "pass"
    )
    if (diff & ~scope).any() or not ok.all():
        raise AssertionError("labels differ outside the planted cell, or not fail->pass")
    return int(diff.sum())


def run_task(task: tuple[int, Point, int]) -> dict[str, Any]:
    """One seed of one grid point."""
    index, point, seed = task
    sim = simulate_point(point, seed)
    out = run_audit(sim.labels)
    table: LabelTable = out.pop("table")
    item = table.frame[ITEM].to_numpy()
    check = headline_of(item, table.frame[SCORE].to_numpy(), table.n_items)
    if abs(check - out["headline"]) > 1e-12:
        raise AssertionError("headline_of disagrees with headline_impact")
    cells = list(out.pop("flagged_cells"))
    planted_cells: pd.DataFrame = out.pop("planted_cells")
    labelers = out.pop("flagged_labelers")
    res: dict[str, Any] = {"index": index, "seed": seed, **out}
    if point.clean:
        res["any_flag"] = bool(cells) or bool(labelers)
        res["cell_flag"] = bool(cells)
        res["labeler_flag"] = bool(labelers)
        res["truth_headline"] = out["headline"]
        return res
    assert point.slice is not None
    twin = simulate_point(point, seed, flip=0.0)
    res["n_flipped"] = check_pair(sim.labels, twin.labels, point.slice)
    truth = sim.truth["poisoned"][0]
    res["n_cell"] = int(truth["n_labels_in_scope"])
    res["expected_effect"] = truth["expected_effect"]
    res["truth_headline"] = headline_of(
        item, (twin.labels["label"] == "pass").to_numpy(dtype=float), table.n_items
    )
    if point.slice in planted_cells.index:
        row = planted_cells.loc[point.slice]
        res["estimate"] = float(row["leniency"])
        res["q_value"] = float(row["q_value"]) if bool(row["tested"]) else float("nan")
    else:
        res["estimate"] = res["q_value"] = float("nan")
    res["recall"] = (PLANTED, FAILURE_MODE, point.slice) in cells
    res["labeler_flag"] = PLANTED in labelers
    res["other_flag"] = bool(labelers - {PLANTED}) or any(c[0] != PLANTED for c in cells)
    res["own_off_slice"] = any(
        c[0] == PLANTED and cell_has_slice(c[1], c[2], point.slice) is False for c in cells
    )
    return res


# --------------------------------------------------------------------------- report


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, mid - half), min(1.0, mid + half)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def pts(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}"


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def poisoned_table(points: list[Point], results: dict[int, list[dict[str, Any]]]) -> str:
    rows = []
    for i, p in enumerate(points):
        if p.clean:
            continue
        rs = results[i]
        corr = np.array([abs(r["corrected"] - r["truth_headline"]) for r in rs])
        unc = np.array([abs(r["headline"] - r["truth_headline"]) for r in rs])
        exc = np.array([abs(r["exclusion"] - r["truth_headline"]) for r in rs])
        eff = np.mean([r["expected_effect"] for r in rs])
        rows.append(
            [
                f"{p.share:g}" + (" *" if p.sweep else ""),
                str(len(rs)),
                f"{p.slice} ({slice_frequency(p.slice):.0%})",
                f"{p.overlap:g}",
                f"{p.flip:.3f}",
                pts(eff, 1),
                pts(float(np.nanmean([r["estimate"] for r in rs])), 1),
                f"{np.mean([r['n_cell'] for r in rs]):.0f}",
                pct(np.mean([r["recall"] for r in rs])),
                pct(np.mean([r["labeler_flag"] for r in rs])),
                pct(np.mean([r["other_flag"] for r in rs])),
                pct(np.mean([r["own_off_slice"] for r in rs])),
                f"{pts(corr.mean())} / {pts(float(np.percentile(corr, 90)))}",
                pts(unc.mean()),
                pts(exc.mean()),
            ]
        )
    header = [
        "share",
        "seeds",
        "slice",
        "overlap",
        "flip",
        "expected effect (pts)",
        "estimate (pts)",
        "n in cell",
        "recall",
        "labeler flagged",
        "other-flag rate",
        "own off-slice",
        "\\|corrected - unpoisoned\\| mean / p90 (pts)",
        "\\|uncorrected - unpoisoned\\| mean (pts)",
        "\\|exclusion - unpoisoned\\| mean (pts)",
    ]
    return markdown(header, rows, ["---:", "---:", "---", "---:"] + ["---:"] * 11)


def clean_table(points: list[Point], results: dict[int, list[dict[str, Any]]]) -> str:
    rows = []
    for i, p in enumerate(points):
        if not p.clean:
            continue
        rs = results[i]
        n = len(rs)
        k = sum(r["any_flag"] for r in rs)
        lo, hi = wilson(k, n)
        corr = np.array([abs(r["corrected"] - r["headline"]) for r in rs])
        rows.append(
            [
                f"{p.overlap:g}",
                str(n),
                f"{pct(k / n)} ({k}/{n}; {pct(lo)}-{pct(hi)})",
                f"{sum(r['cell_flag'] for r in rs)}/{n}",
                f"{sum(r['labeler_flag'] for r in rs)}/{n}",
                f"{pts(corr.mean())} / {pts(float(corr.max()))}",
            ]
        )
    header = [
        "overlap",
        "audits",
        "any flag (k/n; Wilson 95%)",
        "any cell flagged",
        "any labeler flagged",
        "\\|corrected - headline\\| mean / max (pts)",
    ]
    return markdown(header, rows, ["---:"] * 6)


def support_table(
    points: list[Point],
    results: dict[int, list[dict[str, Any]]],
    overlap: float,
    max_seed: int | None = None,
) -> tuple[str, tuple[int, int]]:
    """Recall by the planted cell's n for the 20-point plants of one design.

    Only seeds below ``max_seed`` when given. Returns the table and (hits,
    seeds) with n >= ACCEPT_MIN_N.
    """
    pooled = [
        r
        for i, p in enumerate(points)
        if not p.clean and p.effect == SUPPORT_EFFECT and p.overlap == overlap
        for r in results[i]
        if max_seed is None or r["seed"] < max_seed
    ]
    rows = []
    for name, lo_n, hi_n in SUPPORT_BUCKETS:
        rs = [r for r in pooled if lo_n <= r["n_cell"] < hi_n]
        if not rs:
            rows.append([name, "0", "", "", "", "", "", ""])
            continue
        k = sum(r["recall"] for r in rs)
        lo, hi = wilson(k, len(rs))
        rows.append(
            [
                name,
                str(len(rs)),
                f"{np.mean([r['n_cell'] for r in rs]):.0f}",
                pts(float(np.mean([r["expected_effect"] for r in rs])), 1),
                pts(float(np.nanmean([r["estimate"] for r in rs])), 1),
                f"{float(np.nanmedian([r['q_value'] for r in rs])):.2g}",
                f"{pct(k / len(rs))} ({k}/{len(rs)})",
                f"{pct(lo)}-{pct(hi)}",
            ]
        )
    big = [r for r in pooled if r["n_cell"] >= ACCEPT_MIN_N]
    header = [
        "n in cell",
        "seeds",
        "mean n",
        "expected effect (pts)",
        "estimate (pts)",
        "median q",
        "recall",
        "Wilson 95%",
    ]
    return (
        markdown(header, rows, ["---"] + ["---:"] * 7),
        (sum(r["recall"] for r in big), len(big)),
    )


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=None, help="seeds per grid point (default 50)")
    ap.add_argument(
        "--extra-seeds",
        type=int,
        default=None,
        help="more seeds for the acceptance points: clean sets and 20-point single-label "
        "plants (default 150; 0 with --quick)",
    )
    ap.add_argument(
        "--rules",
        default=None,
        help="policy file to audit with (default rules/default.yaml), e.g. to compare fdr levels",
    )
    ap.add_argument("--quick", action="store_true", help="10 seeds and a reduced grid")
    ap.add_argument(
        "--acceptance-only",
        action="store_true",
        help="only the acceptance points (clean sets and 20-point single-label plants)",
    )
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    n_seeds = args.seeds if args.seeds is not None else (10 if args.quick else 50)
    extra = args.extra_seeds if args.extra_seeds is not None else (0 if args.quick else 150)
    if n_seeds < 1 or args.workers < 1 or extra < 0:
        print("--seeds and --workers must be >= 1, --extra-seeds >= 0", file=sys.stderr)
        return 2
    grid = QUICK_GRID if args.quick else FULL_GRID
    points = build_grid(grid)
    if args.acceptance_only:
        points = [p for p in points if p.acceptance]
    global _POLICY
    _POLICY = load_policy(args.rules)  # forked workers inherit it
    tasks = [
        (i, p, s)
        for i, p in enumerate(points)
        for s in range(n_seeds + (extra if p.acceptance else 0))
    ]
    pol = policy()

    print("# Detection benchmark" + (" (--quick: reduced grid)" if args.quick else ""))
    print()
    print(
        f"simulate: {N_ITEMS} items, {N_LABELERS} labelers, overlap_k={OVERLAP_K}, "
        f"specialists={SPECIALISTS}, other parameters default; planted labeler {PLANTED} "
        f"(forced share), lenient on failure_mode=<slice>; seeds 0..{n_seeds - 1} at every "
        f"grid point"
        + (
            f", 0..{n_seeds + extra - 1} at the acceptance points (clean sets and 20-point "
            "single-label plants)."
            if extra
            else "."
        )
    )
    print(
        f"policy: {pol.path} (fdr {pol.fdr}, cell weights {pol.cell_weights}, "
        f"min_effect {pol.min_effect}, "
        f"min_support {pol.min_support}); slices {', '.join(SLICE_COLUMNS)}; "
        "audit = labeler_leniency + cell_leniency + flag_labelers/flag_cells + "
        "suspect_groups + headline_impact/headline_corrected (as audit_ingested)."
    )
    print(
        "grid: shares "
        + ", ".join(f"{s:g}" for s in grid["shares"])
        + "; slices "
        + ", ".join(f"{s} ({slice_frequency(s):.0%} of items)" for s in grid["slices"])
        + "; target effects "
        + ", ".join(f"{e:g}" for e in grid["effects"])
        + "; overlap "
        + ", ".join(f"{o:g}" for o in grid["overlaps"])
        + "; support sweep (*, single-label, hallucination, 20 pts) shares "
        + ", ".join(f"{s:g}" for s in grid["sweep_shares"])
        + "; clean sets overlap "
        + ", ".join(f"{o:g}" for o in grid["clean_overlaps"])
        + f". {len(points)} grid points, {len(tasks)} audits, {args.workers} worker(s)."
    )
    print(
        "flip = target / P(fail reported | slice): "
        + "; ".join(
            f"{s}: P(fail)={p_fail_reported(s):.3f} -> "
            + ", ".join(f"{flip_for(s, e):.3f}" for e in grid["effects"])
            for s in grid["slices"]
        )
    )
    print()

    t0 = time.perf_counter()
    results: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(points))}
    if args.workers == 1:
        stream: Iterable[dict[str, Any]] = map(run_task, tasks)
        for r in stream:
            results[r["index"]].append(r)
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            for r in pool.imap(run_task, tasks, chunksize=4):
                results[r["index"]].append(r)
    elapsed = time.perf_counter() - t0

    n_pairs = sum(len(results[i]) for i, p in enumerate(points) if not p.clean)
    print(
        f"Paired flip_rate=0 twins: {n_pairs} of {n_pairs} have the same rows, "
        "(item_id, labeler_id) pairs and non-label columns; labels differ only on the "
        "planted cell, fail->pass (checked, else the run aborts)."
    )
    print()
    for ov in sorted({p.overlap for p in points}):
        fam = [r["n_tested"] for i, p in enumerate(points) if p.overlap == ov for r in results[i]]
        print(
            f"Tested cells (the BH family) per audit, overlap {ov:g}: mean {np.mean(fam):.0f} "
            f"(range {min(fam)}-{max(fam)})."
        )
    print()
    print("## Poisoned sets")
    print()
    print(poisoned_table(points, results))
    print()
    print(
        "estimate: the audit's leniency of the planted cell (mean over seeds). "
        "recall: the planted cell (lab017 x failure_mode=<slice>) flagged. labeler flagged: "
        "lab017 flagged as a labeler (true positive). other-flag rate: any other labeler or "
        "another labeler's cell flagged. own off-slice: a lab017 cell on another failure "
        "mode flagged. Headline errors against the flip_rate=0 twin, in pass-rate points. "
        "* = support-sweep point."
    )
    print()
    print("## Clean sets (no plant)")
    print()
    print(clean_table(points, results))
    print()
    for overlap, label in ((0.0, "single-label design (acceptance)"), (0.15, "15% overlap")):
        if not any(
            not p.clean and p.effect == SUPPORT_EFFECT and p.overlap == overlap for p in points
        ):
            continue
        runs = [(None, "")]
        if overlap == 0.0 and extra:
            runs = [
                (n_seeds, f", seeds 0..{n_seeds - 1}"),
                (None, f", seeds 0..{n_seeds + extra - 1}"),
            ]
        for max_seed, seeds_label in runs:
            table, (k, n) = support_table(points, results, overlap, max_seed)
            print(f"## Recall by support: 20-point plants, {label}{seeds_label}")
            print()
            print(table)
            print()
            if overlap == 0.0:
                verdict = (
                    "n/a (no seeds)" if n == 0 else ("PASS" if k / n >= ACCEPT_RECALL else "FAIL")
                )
                lo, hi = wilson(k, n)
                print(
                    f"Acceptance (20-point cells on >= {ACCEPT_MIN_N} labels found in >= "
                    f"{ACCEPT_RECALL:.0%} of seeds, single-label{seeds_label}): {k}/{n}"
                    + (f" = {k / n:.1%} (Wilson 95% {pct(lo)}-{pct(hi)})" if n else "")
                    + f" -> {verdict}"
                )
                print()
    print(f"runtime: {elapsed:.0f} s ({len(tasks)} audits, {args.workers} worker(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
