"""Calibration benchmark: do the audit's 95% intervals cover, and does it flag only the poisoner?

Usage::

    python benchmarks/calibration.py [--seeds 200] [--quick] [--workers 2] [--designs ...]

Method
------
Four designs, each run over seeds ``0..S-1`` (``--seeds S``, default 200; 10
with ``--quick``) three ways: *poisoned*, its *unpoisoned twin* (the same seed
with ``flip_rate=0``) and *clean* (no plant at all, so no forced share):

1. ``single``: :func:`evalaudit.simulate.simulate`, 6000 items, 24 labelers,
   ``specialists=0.3``, one label per item (the single-label design of
   ``detection.py``); the plant: ``lab017`` labels a forced 14% of the items
   and turns a "fail" it would give on ``failure_mode = hallucination`` into
   "pass" with the flip rate whose expected in-slice effect is 20 points
   (``detection.flip_for``, 0.398).
2. ``overlap15``: the same with 15% of the items labeled by 3 labelers.
3. ``overlap100``: the same with every item labeled by 3 labelers (6000 items,
   18000 labels; the audit costs ~0.1 s here, so the item count is kept and the
   planted cell has ~235 labels as in the other designs).
4. ``judges``: :func:`evalaudit.simulate.simulate_judges`, 5000 items, two LLM
   judges (``judge_a``, ``judge_b``) on every item and four humans on a random
   20% of the items, *one* human per such item (2.2 labels per item, ~250 per
   human); every error rate uniform on 0.03..0.07. ``judge_b`` turns 55% of
   the fails it would give on ``failure_mode = hallucination`` into "pass"
   (it passes 55% + 45% e of the hallucination outputs that should fail);
   ``judge_a`` and the humans are honest.

The twins are checked on every pair: the same rows and every non-label column,
labels differing only on the planted labeler x slice and only fail -> pass (a
violation aborts the run). Each set is audited by :func:`evalaudit.audit.detect`
on a :class:`~evalaudit.table.LabelTable` (``binary``, ``positive="pass"``,
slices ``category`` and ``failure_mode``) with the default policy, as in
``detection.py`` (no ingest).

Exact targets
-------------
Every label row ``r`` (labeler ``j``, item ``i``) gets its expected bias
against an average peer on the same item, from the simulation's truth::

    d_r = P_j(i) - P_peer(i),   P_j(i) = pi_i (1 - e_j) + (1 - pi_i) e_j
                                P_peer(i) = pi_i (1 - e_bar_j) + (1 - pi_i) e_bar_j

with ``pi_i`` the item's true pass probability (``item_truth.pi``), ``e_j``
the labeler's error rate (``truth["labelers"]``) and ``e_bar_j`` the
*unweighted mean error rate of the other labelers* (all of them, the planted
one's honest error rate included: the definition simulate uses for
``expected_effect``). For an honest row ``d_r = (e_j - e_bar_j)(1 - 2 pi_i)``;
on the planted labeler's in-scope rows ``P_j`` also carries the flips
(``P + (1 - P) f``). A labeler's exact effect is the mean of ``d_r`` over its
labels, a cell's over the labeler's labels in the cell, a cell's exact tilt is
that minus the mean over the labeler's labels outside the cell. The planted
labeler's and cell's targets reproduce ``truth["poisoned"][0]``'s
``expected_labeler_effect`` and ``expected_effect`` (checked to 1e-5, else the
run aborts). The *twin headline* is the mean over items of the mean label score
of the twin (the poisoned set's headline, computed the same way, must equal
``det.headline["score"]``).

Measures
--------
Coverage: the share of 95% intervals containing their target. Per-audit
measures (one per seed: the planted labeler and cell, the corrected headline)
carry a Wilson 95% interval over seeds. Pooled measures (every honest labeler
or tested honest cell of every seed) are not independent within a seed (they
share baselines), so their Wilson interval uses the effective sample size
``n / deff``, with ``deff`` (printed when > 1) the ratio of the between-seed
(cluster) variance of the pooled share to the binomial variance, floored at 1.
Honest cells are the tested cells (``tested``: enough support to enter the
scan's multiple test) of the other labelers. The corrected headline's interval
is ``score_corrected_ci`` when the audit gives it, else
``score + delta_ci``; when no correction is applied (``delta_ci`` is None, or
no suspect label) it is reported as its own row, and the unconditional
coverage counts those seeds as covered only if the twin headline equals the
reported one (a zero-width interval).

Flags: *any flag* = any labeler or cell flagged (or drift, when the detection
exposes a ``drift`` attribute with a ``flagged`` column); *honest flags* = any
labeler other than the planted one, or any cell of another labeler, flagged,
counted on poisoned sets and on their twins. Recall: the planted cell flagged.
Headline: mean |reported - twin| and |corrected - twin| in points, and the
share of seeds where the corrected headline is closer to the twin than the
reported one by at least half the reported error (``|corrected - twin| <=
|reported - twin| / 2``).

Everything is deterministic given the seeds; only the runtime lines vary.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Audit the checkout this file lives in, not whichever evalaudit the interpreter
# has installed (an editable install of another worktree would win otherwise).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from detection import flip_for, headline_of, markdown, wilson  # noqa: E402

import evalaudit  # noqa: E402
from evalaudit.audit import detect  # noqa: E402
from evalaudit.rules import Policy, load_policy  # noqa: E402
from evalaudit.simulate import FAILURE_MODE, Plant, Simulation, simulate, simulate_judges  # noqa: E402
from evalaudit.table import ITEM, SCORE, LabelTable  # noqa: E402

SLICE_COLUMNS = ("category", FAILURE_MODE)
SLICE = "hallucination"
N_LABELERS = 24
SPECIALISTS = 0.3
SHARE = 0.14
TARGET_EFFECT = 0.2
JUDGE_FLIP = 0.55
HONEST_JUDGE = "judge_a"


@dataclass(frozen=True)
class Design:
    key: str
    label: str
    n_items: int
    planted: str
    flip: float
    overlap: float = 0.0  # simulate designs
    judges: bool = False

    def simulate(self, seed: int, plant: bool, flip: float | None = None) -> Simulation:
        f = self.flip if flip is None else flip
        if self.judges:
            plants = (Plant(self.planted, f, FAILURE_MODE, SLICE),) if plant else ()
            return simulate_judges(self.n_items, plants=plants, seed=seed)
        plants = (Plant(self.planted, f, FAILURE_MODE, SLICE, share=SHARE),) if plant else ()
        return simulate(
            self.n_items,
            N_LABELERS,
            overlap_share=self.overlap,
            overlap_k=3,
            specialists=SPECIALISTS,
            plants=plants,
            seed=seed,
        )


DESIGNS: tuple[Design, ...] = (
    Design("single", "single-label", 6000, "lab017", flip_for(SLICE, TARGET_EFFECT)),
    Design("overlap15", "15% x3 overlap", 6000, "lab017", flip_for(SLICE, TARGET_EFFECT), 0.15),
    Design("overlap100", "100% x3 overlap", 6000, "lab017", flip_for(SLICE, TARGET_EFFECT), 1.0),
    Design("judges", "2 judges + humans 20%", 5000, "judge_b", JUDGE_FLIP, judges=True),
)

_POLICY: Policy | None = None


def policy() -> Policy:
    global _POLICY
    if _POLICY is None:
        _POLICY = load_policy(None)
    return _POLICY


# --------------------------------------------------------------------------- exact targets


def row_bias(sim: Simulation) -> np.ndarray:
    """Expected bias ``d_r`` of every label row against an average peer (module docstring)."""
    labels, truth = sim.labels, sim.truth
    ids = [rec["labeler_id"] for rec in truth["labelers"]]
    err = np.array([rec["error_rate"] for rec in truth["labelers"]], dtype=float)
    e_bar = (err.sum() - err) / max(len(err) - 1, 1)
    j = pd.Index(ids).get_indexer(labels["labeler_id"].astype(str))
    it = sim.item_truth
    pi = it["pi"].to_numpy()[pd.Index(it["item_id"]).get_indexer(labels["item_id"])]
    if (j < 0).any() or not np.isfinite(pi).all():
        raise AssertionError("labels without a labeler or item in the truth")
    own = pi * (1 - err[j]) + (1 - pi) * err[j]
    peer = pi * (1 - e_bar[j]) + (1 - pi) * e_bar[j]
    for rec in truth["poisoned"]:
        scope = (labels["labeler_id"] == rec["labeler_id"]).to_numpy().copy()
        if rec["slice_column"] is not None:
            scope &= (labels[rec["slice_column"]] == rec["slice_value"]).to_numpy()
        if rec["after"] is not None:
            raise NotImplementedError("drift plants")
        f = rec["flip_rate"]
        own = np.where(scope, own + (1 - own) * f if f >= 0 else own * (1 + f), own)
    return own - peer


def check_targets(sim: Simulation, d: np.ndarray) -> None:
    """The planted labeler's and cell's exact targets reproduce simulate's expected effects."""
    for rec in sim.truth["poisoned"]:
        lab = (sim.labels["labeler_id"] == rec["labeler_id"]).to_numpy()
        scope = lab & (sim.labels[rec["slice_column"]] == rec["slice_value"]).to_numpy()
        for mask, key in ((lab, "expected_labeler_effect"), (scope, "expected_effect")):
            if abs(d[mask].mean() - rec[key]) > 1e-5:
                raise AssertionError(f"exact target disagrees with truth[{key!r}]")


def cell_targets(labels: pd.DataFrame, d: np.ndarray, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell row: the labeler's label count in the cell, exact effect and exact tilt."""
    out = pd.DataFrame(index=cells.index, columns=["n_true", "exact", "exact_tilt"], dtype=float)
    if not len(cells):
        return out
    lab = labels["labeler_id"].astype(str)
    tot = pd.DataFrame({"lab": lab, "d": d}).groupby("lab")["d"].agg(["sum", "count"])
    for spec, rows in cells.groupby("slice_column", sort=False).groups.items():
        cols = str(spec).split("+")
        key = lab
        for c in cols:
            key = key + "\x00" + labels[c].astype(str)
        g = pd.DataFrame({"key": key, "d": d}).groupby("key")["d"].agg(["sum", "count"])
        sub = cells.loc[rows]
        want = (
            sub["labeler_id"].astype(str)
            + "\x00"
            + sub["slice_value"].astype(str).str.replace("+", "\x00", regex=False)
        )
        s = g["sum"].reindex(want).to_numpy()
        n = g["count"].reindex(want).to_numpy()
        ts = tot["sum"].reindex(sub["labeler_id"].astype(str)).to_numpy()
        tn = tot["count"].reindex(sub["labeler_id"].astype(str)).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out.loc[rows, "n_true"] = n
            out.loc[rows, "exact"] = s / n
            out.loc[rows, "exact_tilt"] = s / n - (ts - s) / (tn - n)
    return out


# --------------------------------------------------------------------------- one audit


#: ``--untyped-judges``: audit the judges design without labeler types (the peers' baseline
#: then includes the judges, as before issue 15).
UNTYPED_JUDGES = False


def audit(labels: pd.DataFrame) -> tuple[LabelTable, Any]:
    # the judges design declares its judges (labeler_type = model), as a user would: humans
    # are then the joint model's reference (the same sets with no types: --untyped-judges)
    ids = labels["labeler_id"].astype(str).unique()
    types = None
    if not UNTYPED_JUDGES and any(i.startswith("judge_") for i in ids):
        types = {i: ("model" if i.startswith("judge_") else "human") for i in ids}
    table = LabelTable.build(
        labels, "binary", positive="pass", slice_columns=SLICE_COLUMNS, labeler_types=types
    )
    return table, detect(table, policy())


def drift_flags(det: Any) -> set[str]:
    """Labelers with a flagged drift finding, when the detection exposes drift at all."""
    drift = getattr(det, "drift", None)
    frames = []
    if isinstance(drift, pd.DataFrame):
        frames = [drift]
    elif isinstance(drift, dict):
        frames = [v for v in drift.values() if isinstance(v, pd.DataFrame)]
    out: set[str] = set()
    for f in frames:
        if {"labeler_id", "flagged"} <= set(f.columns) and len(f):
            out |= set(f.loc[f["flagged"].astype(bool), "labeler_id"].astype(str))
    return out


def covers(lo: Any, hi: Any, target: Any) -> np.ndarray:
    lo, hi, target = (np.asarray(x, dtype=float) for x in (lo, hi, target))
    return (lo <= target + 1e-12) & (target - 1e-12 <= hi)


def tally(mask: np.ndarray) -> tuple[int, int]:
    return int(np.asarray(mask).sum()), int(np.asarray(mask).size)


def corrected_interval(det: Any) -> tuple[float, float, float, tuple[float, float] | None]:
    """(reported headline, corrected headline, delta, the corrected headline's 95% CI).

    The CI is ``score_corrected_ci`` when the audit gives it, else ``score + delta_ci``;
    None when no correction is applied (``delta_ci`` None, or no suspect label), and then
    the corrected headline is the reported one.
    """
    head = det.headline or {}
    corr = head.get("corrected") or {}
    score = float(corr.get("score", head.get("score", float("nan"))))
    value = float(corr.get("score_corrected", score))
    delta_ci = corr.get("delta_ci")
    applied = delta_ci is not None and corr.get("suspect_labels", 1) != 0
    if not applied:
        return score, score, float(corr.get("delta", 0.0) or 0.0), None
    ci = corr.get("score_corrected_ci")
    if ci is None:
        ci = (score + delta_ci[0], score + delta_ci[1])
    return score, value, float(corr.get("delta", value - score)), (float(ci[0]), float(ci[1]))


def evaluate(sim: Simulation, planted: str | None, twin_headline: float | None) -> dict[str, Any]:
    """Audit one set and score every interval and flag against the exact targets."""
    table, det = audit(sim.labels)
    labels = sim.labels
    d = row_bias(sim)
    if planted is not None:
        check_targets(sim, d)
    headline = headline_of(
        table.frame[ITEM].to_numpy(), table.frame[SCORE].to_numpy(), table.n_items
    )
    if det.headline is not None and abs(headline - float(det.headline["score"])) > 1e-12:
        raise AssertionError("headline_of disagrees with the audit's headline")
    res: dict[str, Any] = {"headline": headline}

    # labelers
    len_df = det.leniency
    lab_ids = len_df["labeler_id"].astype(str).to_numpy()
    by_lab = pd.Series(d).groupby(labels["labeler_id"].astype(str).to_numpy()).mean()
    exact_lab = by_lab.reindex(lab_ids).to_numpy()
    has_ci = np.isfinite(len_df["ci_low"].to_numpy(float)) & np.isfinite(
        len_df["ci_high"].to_numpy(float)
    )
    honest = (lab_ids != planted) & has_ci
    lo, hi, eff = (len_df[c].to_numpy(float) for c in ("ci_low", "ci_high", "effect"))
    res["lab0"] = tally(covers(lo, hi, 0.0)[honest])
    res["lab_exact"] = tally(covers(lo, hi, exact_lab)[honest])
    res["lab_err"] = (eff - exact_lab)[honest].tolist()
    res["lab_abs_exact"] = np.abs(exact_lab[honest]).tolist()
    res["lab_halfwidth"] = ((hi - lo) / 2)[honest].tolist()
    res["lab_no_ci"] = int(((lab_ids != planted) & ~has_ci).sum())
    hj = np.flatnonzero(lab_ids == HONEST_JUDGE)
    if len(hj) and has_ci[hj[0]]:
        res["judge_cov"] = bool(covers(lo[hj[0]], hi[hj[0]], exact_lab[hj[0]]))
        res["judge_err"] = float(eff[hj[0]] - exact_lab[hj[0]])
    flagged = np.asarray(det.flagged, dtype=bool)
    flagged_labs = set(lab_ids[flagged])

    # cells
    cells = det.cells
    cell_flags = np.asarray(det.cell_flags, dtype=bool)
    cell_lab = cells["labeler_id"].astype(str).to_numpy() if len(cells) else np.array([], str)
    tgt = cell_targets(labels, d, cells)
    tested = (
        cells["tested"].to_numpy(bool) if "tested" in cells.columns else np.ones(len(cells), bool)
    )
    c_lo, c_hi, c_eff = (
        cells[c].to_numpy(float) if len(cells) else np.array([])
        for c in ("ci_low", "ci_high", "leniency")
    )
    c_ok = np.isfinite(c_lo) & np.isfinite(c_hi) & tested
    honest_c = (cell_lab != planted) & c_ok
    exact_c = tgt["exact"].to_numpy(float)
    res["n_mismatch"] = (
        int((tgt["n_true"].to_numpy(float) != cells["n"].to_numpy(float)).sum())
        if len(cells) and "n" in cells.columns
        else 0
    )
    res["cell0"] = tally(covers(c_lo, c_hi, 0.0)[honest_c])
    res["cell_exact"] = tally(covers(c_lo, c_hi, exact_c)[honest_c])
    res["cell_err"] = (c_eff - exact_c)[honest_c].tolist()
    res["cell_abs_exact"] = np.abs(exact_c[honest_c]).tolist()
    has_tilt = {"tilt_ci_low", "tilt_ci_high"} <= set(cells.columns)
    if has_tilt:
        t_lo, t_hi = cells["tilt_ci_low"].to_numpy(float), cells["tilt_ci_high"].to_numpy(float)
        t_ok = honest_c & np.isfinite(t_lo) & np.isfinite(t_hi)
        exact_t = tgt["exact_tilt"].to_numpy(float)
        res["tilt0"] = tally(covers(t_lo, t_hi, 0.0)[t_ok])
        res["tilt_exact"] = tally(covers(t_lo, t_hi, exact_t)[t_ok])
    flagged_cells = list(
        zip(
            cell_lab[cell_flags],
            cells.loc[cell_flags, "slice_column"].astype(str) if len(cells) else [],
            cells.loc[cell_flags, "slice_value"].astype(str) if len(cells) else [],
            strict=True,
        )
    )
    drifted = drift_flags(det)
    res["any_flag"] = bool(flagged_labs or flagged_cells or drifted)
    others = (flagged_labs | drifted) - {planted}
    res["honest_flag"] = bool(others) or any(c[0] != planted for c in flagged_cells)
    res["honest_judge_flag"] = HONEST_JUDGE in (flagged_labs | drifted) or any(
        c[0] == HONEST_JUDGE for c in flagged_cells
    )
    res["human_flag"] = any(x.startswith("hum") for x in flagged_labs | drifted) or any(
        c[0].startswith("hum") for c in flagged_cells
    )
    res["score"], res["corrected"], res["delta"], res["ci"] = corrected_interval(det)
    if planted is None:
        return res

    # the planted labeler and its cells
    rec = sim.truth["poisoned"][0]
    row = np.flatnonzero(lab_ids == planted)
    k = row[0] if len(row) else None
    res["planted_found"] = k is not None and bool(has_ci[k])
    res["planted_lab"] = k is not None and bool(
        covers(lo[k], hi[k], rec["expected_labeler_effect"])
    )
    res["planted_lab_err"] = (
        float(eff[k] - rec["expected_labeler_effect"]) if k is not None else np.nan
    )
    res["planted_lab_flag"] = planted in flagged_labs
    is_cell = (
        (cell_lab == planted)
        & (cells["slice_column"].astype(str) == FAILURE_MODE).to_numpy()
        & (cells["slice_value"].astype(str) == SLICE).to_numpy()
    )
    idx = np.flatnonzero(is_cell)
    c = idx[0] if len(idx) else None
    res["cell_found"] = c is not None
    res["planted_cell"] = c is not None and bool(covers(c_lo[c], c_hi[c], rec["expected_effect"]))
    res["planted_cell_err"] = float(c_eff[c] - rec["expected_effect"]) if c is not None else np.nan
    res["recall"] = (planted, FAILURE_MODE, SLICE) in flagged_cells
    if has_tilt and c is not None:
        res["planted_tilt"] = bool(covers(t_lo[c], t_hi[c], tgt["exact_tilt"].to_numpy(float)[c]))
    own = (cell_lab == planted) & c_ok & ~is_cell
    # cells that overlap the planted slice (a category, a model) are estimated on their labels
    # outside a flagged cell once it has its own parameter, so only the disjoint ones
    # (another failure mode, alone or in a pair) have the all-labels exact target
    disjoint = np.array(
        [
            FAILURE_MODE in str(col).split("+")
            and dict(zip(str(col).split("+"), str(val).split("+"), strict=False)).get(FAILURE_MODE)
            != SLICE
            for col, val in zip(cells["slice_column"], cells["slice_value"], strict=True)
        ],
        dtype=bool,
    )
    res["own_cells"] = tally(covers(c_lo, c_hi, exact_c)[own & disjoint])
    # headline against the twin
    ci = res["ci"]
    res["twin"] = twin_headline
    res["rep_err"] = abs(res["score"] - twin_headline)
    res["corr_err"] = abs(res["corrected"] - twin_headline)
    if ci is None:
        res["head_cov"] = abs(res["score"] - twin_headline) <= 1e-12
    else:
        res["head_cov"] = bool(covers(ci[0], ci[1], twin_headline))
        res["head_halfwidth"] = (ci[1] - ci[0]) / 2
    return res


def check_twin(design: Design, poisoned: pd.DataFrame, twin: pd.DataFrame) -> None:
    rest = [c for c in poisoned.columns if c != "label"]
    if len(poisoned) != len(twin) or not poisoned[rest].equals(twin[rest]):
        raise AssertionError(f"{design.key}: the flip_rate=0 twin differs in rows or columns")
    diff = (poisoned["label"] != twin["label"]).to_numpy()
    scope = (
        (poisoned["labeler_id"] == design.planted) & (poisoned[FAILURE_MODE] == SLICE)
    ).to_numpy()
    ok = (twin["label"].to_numpy()[diff] == "fail") & (poisoned["label"].to_numpy()[diff] == "pass")
    if (diff & ~scope).any() or not ok.all():
        raise AssertionError(
            f"{design.key}: labels differ outside the planted cell or not fail->pass"
        )


def run_task(task: tuple[int, str, int]) -> dict[str, Any]:
    """One seed of one design: ``poisoned`` (with its twin) or ``clean``."""
    di, mode, seed = task
    design = DESIGNS[di]
    t0 = time.perf_counter()
    if mode == "clean":
        out = {"clean": evaluate(design.simulate(seed, plant=False), None, None)}
    else:
        sim = design.simulate(seed, plant=True)
        twin = design.simulate(seed, plant=True, flip=0.0)
        check_twin(design, sim.labels, twin.labels)
        codes, uniq = pd.factorize(twin.labels["item_id"])
        twin_score = (twin.labels["label"] == "pass").to_numpy(dtype=float)
        twin_headline = headline_of(codes, twin_score, len(uniq))
        _, t_det = audit(twin.labels)
        t_lab = set(t_det.leniency["labeler_id"].astype(str)[np.asarray(t_det.flagged, bool)])
        t_lab |= drift_flags(t_det)
        t_cells = t_det.cells["labeler_id"].astype(str)[np.asarray(t_det.cell_flags, bool)]
        out = {
            "poisoned": evaluate(sim, design.planted, twin_headline),
            "twin_honest_flag": bool(t_lab - {design.planted})
            or bool((t_cells != design.planted).any()),
            "twin_honest_judge_flag": HONEST_JUDGE in t_lab
            or bool((t_cells == HONEST_JUDGE).any()),
            "n_flipped": int((sim.labels["label"] != twin.labels["label"]).sum()),
        }
    out.update(design=di, mode=mode, seed=seed, seconds=time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- report


def pct1(x: float) -> str:
    return f"{100 * x:.1f}"


def rate(k: int, n: int) -> str:
    """``k/n = x% [lo, hi]`` with a Wilson 95% interval."""
    if n == 0:
        return "n/a"
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {pct1(k / n)}% [{pct1(lo)}, {pct1(hi)}]"


def pooled(parts: Sequence[tuple[int, int]]) -> str:
    """Pooled ``k/n`` over seeds, Wilson interval at the effective n (between-seed deff)."""
    ks = np.array([k for k, n in parts if n], dtype=float)
    ns = np.array([n for k, n in parts if n], dtype=float)
    if not len(ns):
        return "n/a"
    big_k, big_n = ks.sum(), ns.sum()
    p = big_k / big_n
    m = len(ns)
    deff = 1.0
    if 0 < p < 1 and m > 1:
        var_cluster = m / (m - 1) * float(((ks - p * ns) ** 2).sum()) / big_n**2
        deff = max(1.0, var_cluster / (p * (1 - p) / big_n))
    lo, hi = wilson(p * big_n / deff, big_n / deff)  # type: ignore[arg-type]
    out = f"{int(big_k)}/{int(big_n)} = {pct1(p)}% [{pct1(lo)}, {pct1(hi)}]"
    return out + (f" (deff {deff:.1f})" if deff > 1.05 else "")


def mean_pts(xs: Sequence[float], signed: bool = True, digits: int = 2) -> str:
    """Mean in points (finite values only)."""
    a = np.asarray([x for x in xs if x is not None], dtype=float)
    a = a[np.isfinite(a)]
    if not len(a):
        return "n/a"
    return f"{100 * a.mean():{'+' if signed else ''}.{digits}f}"


def flat(g: dict[str, Any], key: str, src: str = "P") -> list[float]:
    """The per-seed lists ``r[key]`` of the audits ``g[src]``, concatenated."""
    return [x for r in g[src] for x in r[key]]


Row = tuple[str, Callable[[dict[str, Any]], str]]


def table(rows: Sequence[Row], groups: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    body = [[label] + [fn(g) for g in groups] for label, fn in rows]
    return markdown(["measure", *names], body, ["---"] + ["---:"] * len(names))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=None, help="seeds per design (default 200)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 seeds")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument(
        "--untyped-judges",
        action="store_true",
        help="judges design: do not declare the judges (humans are then not the reference)",
    )
    ap.add_argument(
        "--designs",
        nargs="+",
        choices=[d.key for d in DESIGNS],
        default=[d.key for d in DESIGNS],
        help="designs to run (default all)",
    )
    return ap


def git_describe() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    global UNTYPED_JUDGES
    UNTYPED_JUDGES = bool(args.untyped_judges)  # read by the forked workers too
    n_seeds = args.seeds if args.seeds is not None else (10 if args.quick else 200)
    if n_seeds < 1 or args.workers < 1:
        print("--seeds and --workers must be >= 1", file=sys.stderr)
        return 2
    chosen = [i for i, d in enumerate(DESIGNS) if d.key in args.designs]
    tasks = [(i, mode, s) for i in chosen for mode in ("poisoned", "clean") for s in range(n_seeds)]
    pol = policy()
    print("# Calibration benchmark" + (" (--quick)" if args.quick else ""))
    print()
    print(
        f"evalaudit {Path(evalaudit.__file__).parent} at {git_describe()}; policy {pol.path} "
        f"(fdr {pol.fdr}, cell weights {pol.cell_weights}, min_effect {pol.min_effect}, "
        f"min_support {pol.min_support}); seeds 0..{n_seeds - 1} per design, each audited "
        f"poisoned, as its flip_rate=0 twin, and clean; {len(tasks)} tasks, "
        f"{args.workers} worker(s)."
    )
    for i in chosen:
        d = DESIGNS[i]
        print(
            f"- {d.key}: {d.label}, {d.n_items} items; {d.planted} flip {d.flip:.3f} on "
            f"{FAILURE_MODE}={SLICE}" + ("" if d.judges else f", share {SHARE:g}")
        )
    print()

    t0 = time.perf_counter()
    if args.workers == 1:
        results = [run_task(t) for t in tasks]
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = list(pool.imap(run_task, tasks, chunksize=2))
    elapsed = time.perf_counter() - t0

    groups = []
    for i in chosen:
        rs = [r for r in results if r["design"] == i]
        groups.append(
            {
                "P": [r["poisoned"] for r in rs if r["mode"] == "poisoned"],
                "T": [r for r in rs if r["mode"] == "poisoned"],
                "C": [r["clean"] for r in rs if r["mode"] == "clean"],
                "seconds": sum(r["seconds"] for r in rs),
                "judges": DESIGNS[i].judges,
            }
        )
    names = [DESIGNS[i].key for i in chosen]

    def k_of(key: str, src: str = "P") -> Callable[[dict[str, Any]], str]:
        return lambda g: rate(sum(bool(r[key]) for r in g[src]), len(g[src]))

    def pool_of(key: str, src: str = "P") -> Callable[[dict[str, Any]], str]:
        return lambda g: pooled([r[key] for r in g[src] if key in r])

    def judge_only(fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
        return lambda g: fn(g) if g["judges"] else "-"

    def applied(g: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in g["P"] if r["ci"] is not None]

    n_flip = sum(1 for g in groups for _ in g["T"])
    print(
        f"Twins: {n_flip} of {n_flip} pairs have the same rows and non-label columns, labels "
        "differing only on the planted labeler x hallucination, fail->pass (checked); the "
        "planted labeler's and cell's exact targets equal simulate's expected effects (checked)."
    )
    print()
    print("## Coverage of the 95% intervals, poisoned sets")
    print()
    rows: list[Row] = [
        ("planted labeler effect vs expected_labeler_effect", k_of("planted_lab")),
        ("planted cell effect vs expected_effect", k_of("planted_cell")),
        (
            "planted cell tilt vs its exact tilt",
            lambda g: rate(
                sum(bool(r.get("planted_tilt")) for r in g["P"]),
                sum("planted_tilt" in r for r in g["P"]),
            ),
        ),
        ("planted labeler's other failure-mode cells vs exact", pool_of("own_cells")),
        ("honest labelers vs 0", pool_of("lab0")),
        ("honest labelers vs exact honest bias", pool_of("lab_exact")),
        (f"{HONEST_JUDGE} (honest judge) vs exact honest bias", judge_only(k_of("judge_cov"))),
        ("honest tested cells vs 0", pool_of("cell0")),
        ("honest tested cells vs exact honest bias", pool_of("cell_exact")),
        ("honest cells' tilt vs 0", pool_of("tilt0")),
        ("honest cells' tilt vs exact tilt", pool_of("tilt_exact")),
        (
            "corrected headline vs twin, seeds with a correction",
            lambda g: rate(sum(r["head_cov"] for r in applied(g)), len(applied(g))),
        ),
        ("corrected headline vs twin, all seeds", k_of("head_cov")),
        (
            "no correction applied (seeds)",
            lambda g: rate(sum(r["ci"] is None for r in g["P"]), len(g["P"])),
        ),
    ]
    print(table(rows, groups, names))
    print()
    print("## Coverage of the 95% intervals, clean sets (every labeler honest)")
    print()
    rows = [
        ("labelers vs 0", pool_of("lab0", "C")),
        ("labelers vs exact honest bias", pool_of("lab_exact", "C")),
        ("tested cells vs 0", pool_of("cell0", "C")),
        ("tested cells vs exact honest bias", pool_of("cell_exact", "C")),
        ("cells' tilt vs 0", pool_of("tilt0", "C")),
        ("cells' tilt vs exact tilt", pool_of("tilt_exact", "C")),
    ]
    print(table(rows, groups, names))
    print()
    print("## Flags")
    print()

    rows = [
        (f"clean sets: any flag (target <= fdr = {pol.fdr:g})", k_of("any_flag", "C")),
        ("poisoned: honest flags (another labeler or its cell)", k_of("honest_flag")),
        ("twin: honest flags (another labeler or its cell)", k_of("twin_honest_flag", "T")),
        ("poisoned: planted cell flagged (recall)", k_of("recall")),
        ("poisoned: planted labeler flagged", k_of("planted_lab_flag")),
        (f"poisoned: {HONEST_JUDGE} or its cell flagged", judge_only(k_of("honest_judge_flag"))),
        (
            f"twin: {HONEST_JUDGE} or its cell flagged",
            judge_only(k_of("twin_honest_judge_flag", "T")),
        ),
        ("poisoned: a human or their cell flagged", judge_only(k_of("human_flag"))),
    ]
    print(table(rows, groups, names))
    print()
    print("## Headline against the unpoisoned twin (pass-rate points)")
    print()
    rows = [
        ("twin headline, mean (%)", lambda g: f"{100 * np.mean([r['twin'] for r in g['P']]):.2f}"),
        ("reported - twin, mean", lambda g: mean_pts([r["score"] - r["twin"] for r in g["P"]])),
        (
            "correction (corrected - reported), mean",
            lambda g: mean_pts([r["corrected"] - r["score"] for r in g["P"]]),
        ),
        (
            "\\|reported - twin\\|, mean",
            lambda g: mean_pts([r["rep_err"] for r in g["P"]], signed=False),
        ),
        (
            "\\|corrected - twin\\|, mean",
            lambda g: mean_pts([r["corr_err"] for r in g["P"]], signed=False),
        ),
        (
            "corrected closer by >= half the reported error",
            lambda g: rate(sum(r["corr_err"] <= 0.5 * r["rep_err"] for r in g["P"]), len(g["P"])),
        ),
        (
            "corrected CI half-width, mean (seeds with a correction)",
            lambda g: mean_pts([r["head_halfwidth"] for r in applied(g)], signed=False),
        ),
    ]
    print(table(rows, groups, names))
    print()
    print("## Diagnostics (poisoned sets; points)")
    print()
    rows = [
        (
            "planted labeler: estimate - expected, mean",
            lambda g: mean_pts([r["planted_lab_err"] for r in g["P"]]),
        ),
        (
            "planted cell: estimate - expected, mean",
            lambda g: mean_pts([r["planted_cell_err"] for r in g["P"]]),
        ),
        (
            "planted cell: estimate - expected, mean when flagged",
            lambda g: mean_pts([r["planted_cell_err"] for r in g["P"] if r["recall"]]),
        ),
        (
            "honest labelers: estimate - exact, mean",
            lambda g: mean_pts(flat(g, "lab_err", "P")),
        ),
        (
            "honest cells: estimate - exact, mean",
            lambda g: mean_pts(flat(g, "cell_err", "P")),
        ),
        (
            "honest labelers: \\|exact honest bias\\|, mean",
            lambda g: mean_pts(flat(g, "lab_abs_exact", "P"), signed=False),
        ),
        (
            "honest cells: \\|exact honest bias\\|, mean",
            lambda g: mean_pts(flat(g, "cell_abs_exact", "P"), signed=False),
        ),
        (
            "honest labelers: CI half-width, mean",
            lambda g: mean_pts(flat(g, "lab_halfwidth", "P"), signed=False),
        ),
        (
            f"{HONEST_JUDGE}: estimate - exact, mean",
            judge_only(lambda g: mean_pts([r["judge_err"] for r in g["P"] if "judge_err" in r])),
        ),
        (
            "clean sets: honest labelers' estimate - exact, mean",
            lambda g: mean_pts(flat(g, "lab_err", "C")),
        ),
        (
            "cells whose n differs from the labeler's label count (all audits)",
            lambda g: str(sum(r["n_mismatch"] for r in g["P"] + g["C"])),
        ),
        (
            "labelers without a finite CI (all audits)",
            lambda g: str(sum(r["lab_no_ci"] for r in g["P"] + g["C"])),
        ),
    ]
    print(table(rows, groups, names))
    print()
    print(
        "Pooled rows (honest labelers and cells, pooled over seeds) carry a Wilson interval at "
        "n / deff (between-seed design effect, shown when > 1.05); per-seed rows a plain Wilson "
        "interval over seeds."
    )
    print()
    per = ", ".join(f"{names[k]} {g['seconds']:.0f} s" for k, g in enumerate(groups))
    print(
        f"runtime: {elapsed:.0f} s wall ({len(tasks)} tasks = {3 * len(tasks) // 2} audits, "
        f"{args.workers} worker(s)); task seconds by design: {per}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
