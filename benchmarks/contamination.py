"""Do a lenient labeler's labels make honest peers look strict? (false flags on poisoned sets)

Usage::

    python benchmarks/contamination.py [--seeds 200] [--share 0.14] [--workers 2]

Method: the detection benchmark's single-label design (:mod:`detection`: 6000
items, 24 labelers, ``lab017`` lenient by 20 points on ``failure_mode =
hallucination`` with a forced ``share`` of the items). Each seed is audited
three ways with the default policy (:func:`evalaudit.audit.detect`):

- **poisoned**: the set as simulated;
- **planted labels removed**: the same set without lab017's hallucination
  labels (the labels a second pass would leave out of the peers' baselines);
- **twin**: the same seed simulated with ``flip_rate=0`` (no poisoning).

It prints how many audits flag any *other* labeler or another labeler's cell,
and how many of those flags are severe (negative leniency). If the lenient
labels in the baseline cause the extra flags, removing them brings the count
down to the twins'.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from typing import Any

import pandas as pd
from detection import (
    FAILURE_MODE,
    PLANTED,
    SLICE_COLUMNS,
    SUPPORT_EFFECT,
    Point,
    flip_for,
    policy,
    simulate_point,
)

from evalaudit.audit import detect
from evalaudit.table import LabelTable

SLICE = "hallucination"


def other_flags(labels: pd.DataFrame) -> tuple[int, int]:
    """(flags on other labelers and their cells, of which severe) in one audit."""
    t = LabelTable.build(labels, "binary", positive="pass", slice_columns=SLICE_COLUMNS)
    det = detect(t, policy())
    lab = det.leniency
    lab_mask = det.flagged & (lab["labeler_id"].astype(str) != PLANTED).to_numpy()
    cells = det.cells
    cell_mask = det.cell_flags & (cells["labeler_id"].astype(str) != PLANTED).to_numpy()
    n = int(lab_mask.sum() + cell_mask.sum())
    severe = int(
        (lab.loc[lab_mask, "effect"] < 0).sum() + (cells.loc[cell_mask, "leniency"] < 0).sum()
    )
    return n, severe


def run_seed(task: tuple[float, int]) -> dict[str, Any]:
    share, seed = task
    point = Point(
        overlap=0.0,
        share=share,
        slice=SLICE,
        effect=SUPPORT_EFFECT,
        flip=flip_for(SLICE, SUPPORT_EFFECT),
    )
    poisoned = simulate_point(point, seed).labels
    scope = (poisoned["labeler_id"] == PLANTED) & (poisoned[FAILURE_MODE] == SLICE)
    removed = poisoned[~scope].reset_index(drop=True)
    twin = simulate_point(point, seed, flip=0.0).labels
    return {
        name: other_flags(frame)
        for name, frame in (("poisoned", poisoned), ("removed", removed), ("twin", twin))
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--share", type=float, default=0.14)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.workers < 1 or not 0 < args.share < 1:
        print("--seeds and --workers must be >= 1 and --share in (0, 1)", file=sys.stderr)
        return 2
    pol = policy()
    tasks = [(args.share, s) for s in range(args.seeds)]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(run_seed, tasks, chunksize=4)
    elapsed = time.perf_counter() - t0
    print(
        f"# Contamination: {PLANTED} 20 pts lenient on {FAILURE_MODE}={SLICE}, share "
        f"{args.share:g}, single-label; seeds 0..{args.seeds - 1}; policy {pol.path} "
        f"(fdr {pol.fdr}, cell weights {pol.cell_weights})"
    )
    print()
    print("| audit | audits flagging another labeler or its cell | such flags | of them severe |")
    print("|---|---:|---:|---:|")
    labels = {
        "poisoned": "poisoned",
        "removed": f"poisoned, {PLANTED}'s {SLICE} labels removed",
        "twin": "flip_rate=0 twin",
    }
    for key, label in labels.items():
        flags = [r[key] for r in results]
        print(
            f"| {label} | {sum(n > 0 for n, _ in flags)}/{len(flags)} | "
            f"{sum(n for n, _ in flags)} | {sum(s for _, s in flags)} |"
        )
    print()
    print(f"runtime: {elapsed:.0f} s ({3 * len(tasks)} audits, {args.workers} worker(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
