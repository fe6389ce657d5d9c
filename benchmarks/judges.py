"""LLM-judge benchmark: does the PPI headline cover the complete-human headline, and is it narrower?

Usage::

    python benchmarks/judges.py [--seeds 200] [--quick] [--workers 2] [--items 5000] [--designs ...]
    python benchmarks/judges.py --audit [--seeds 200]   # issue 15's acceptance via evalaudit.audit

``--audit`` runs the three acceptance designs (``lenient`` with humans on 10%, ``slice``
and ``self`` with humans on 20%) through the whole product: the labels get
``labeler_type`` and ``judge_family`` columns and go through :func:`evalaudit.audit`
(ingest, the joint model with humans as the reference, the judge tests in the error
budget, the judge rules, ``headline.ppi``), and the table counts what a user would read:
the PPI interval, the judge table's CIs, the findings, and whether a human is flagged.

Designs
-------
Each design is :func:`evalaudit.simulate.simulate_judges` with ``--items``
items (default 5000), four humans, one human on a uniform random ``h`` of the
items (``h`` = 5%, 10%, 20%; exact count), every labeler's honest error rate
uniform on 0.03..0.07, run over seeds ``0..S-1`` (``--seeds S``, default 200;
10 with ``--quick``):

1. ``lenient``: one judge (``judge_a``) on every item that passes 25% of the
   outputs that truly fail: its flip rate is ``(0.25 - e) / (1 - e)`` for its
   seeded error rate ``e``, so ``e + (1 - e) f = 0.25`` exactly.
2. ``slice``: two judges on every item; ``judge_b`` turns 55% of the fails it
   would give on ``failure_mode = hallucination`` into passes (the
   calibration benchmark's judge design), ``judge_a`` is honest.
3. ``self``: two judges on every item; ``judge_a`` (family ``model-a``) passes
   20% of the failing outputs of ``model-a`` it would fail (flip 0.2 on
   ``model = model-a``), ``judge_b`` (family ``model-b``) is honest.

Targets
-------
The *complete-human headline* is the headline the eval would report if every
item were graded by one of its humans. PPI's interval is for the population
mean ``theta = E[Y]`` (items drawn like the eval's items, ``Y`` the score of a
human drawn uniformly from the pool)::

    theta = P (1 - e_h) + (1 - P) e_h

with ``P = E[pi]`` the expected true pass probability under the simulation's
item model (exact: the slice mixture times Gauss-Hermite quadrature, 80 nodes,
over the item logit's N(0, ITEM_SD^2) noise) and ``e_h`` the mean error rate of
the seed's humans. This is the estimand the interval claims (and the one the
audit's own headline CI claims: items are a sample); coverage of it is the
calibration check. Beside it, the *set's* complete-human headline: the mean
over the set's items of ``t_i (1 - e_h) + (1 - t_i) e_h`` (``t_i`` the true
label), a finite-population quantity the interval covers at least as often
(it varies less than ``theta_hat`` around ``theta``).

Measures
--------
Per design and human share, for each estimate (each judge's PPI++, and with two
judges the judges' mean and the multi-predictor combination): coverage of
``theta`` and of the set's headline (Wilson 95% over seeds), the median ratio of
the PPI interval's width to the humans-only interval's (the same estimator
with lambda = 0), the share of seeds where PPI is narrower, the judge-only
estimate's bias (mean over seeds of judge-only minus ``theta``, points) and the
median lambda. The judge audit (:mod:`evalaudit.stats.judges`): coverage of the
exact bias against humans on the shared items (per row, from the truth:
``P_j(i) - P_h(i)`` with ``P = t (1 - e) + (1 - t) e`` and the plant's flips,
``h`` the item's human), the planted effect flagged (its p-value under
Bonferroni across every judge x slice cell of the seed, 0.05), honest judges'
bias CI covering 0, the planted self-preference's CI covering its exact value.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run the checkout this file lives in, not whichever evalaudit the interpreter has installed.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from detection import markdown, wilson  # noqa: E402

import evalaudit  # noqa: E402
from evalaudit.simulate import (  # noqa: E402
    DEFAULT_CATEGORIES,
    DEFAULT_FAILURE_MODES,
    DEFAULT_MODELS,
    FAILURE_MODE,
    ITEM_SD,
    MODEL,
    Plant,
    Simulation,
    simulate_judges,
)
from evalaudit.stats.judges import judge_audit, judge_self_preference, judge_slice_bias  # noqa: E402
from evalaudit.stats.ppi import JUDGES_MEAN, JUDGES_WEIGHTED, ppi_headline  # noqa: E402
from evalaudit.table import LabelTable  # noqa: E402

SLICES = ("category", FAILURE_MODE)
SHARES = (0.05, 0.10, 0.20)
FAMILY = {"judge_a": "model-a", "judge_b": "model-b"}


@dataclass(frozen=True)
class Design:
    key: str
    label: str
    judges: tuple[str, ...]
    planted: str  # the planted judge


DESIGNS = (
    Design("lenient", "one judge passing 25% of true fails", ("judge_a",), "judge_a"),
    Design(
        "slice", "judge_b lenient on hallucination (flip 0.55)", ("judge_a", "judge_b"), "judge_b"
    ),
    Design("self", "judge_a prefers model-a (flip 0.2)", ("judge_a", "judge_b"), "judge_a"),
)


def expected_pass_probability() -> float:
    """``E[pi]`` under simulate's item model: the slice mixture x Gauss-Hermite over the noise."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    total = 0.0
    for _, pc, bc in DEFAULT_CATEGORIES:
        for _, pf, bf in DEFAULT_FAILURE_MODES:
            for _, pm, bm in DEFAULT_MODELS:
                pi = 1.0 / (1.0 + np.exp(-(bc + bf + bm + ITEM_SD * x)))
                total += pc * pf * pm * float(w @ pi)
    norm = (
        sum(s[1] for s in DEFAULT_CATEGORIES)
        * sum(s[1] for s in DEFAULT_FAILURE_MODES)
        * sum(s[1] for s in DEFAULT_MODELS)
    )
    return total / norm


P_BAR = expected_pass_probability()


def plants_of(design: Design, seed: int) -> list[Plant]:
    if design.key == "lenient":
        e = simulate_judges(1, judges=design.judges, seed=seed).truth["labelers"][0]["error_rate"]
        return [Plant("judge_a", (0.25 - e) / (1 - e))]
    if design.key == "slice":
        return [Plant("judge_b", 0.55, FAILURE_MODE, "hallucination")]
    return [Plant("judge_a", 0.2, MODEL, "model-a")]


def row_expectation(sim: Simulation) -> np.ndarray:
    """Per label row: its expected score given the item's true label (honest noise and flips)."""
    lab = sim.labels
    err = {r["labeler_id"]: r["error_rate"] for r in sim.truth["labelers"]}
    true = lab["item_id"].map(sim.item_truth.set_index("item_id")["true_label"]).eq("pass")
    e = lab["labeler_id"].map(err).to_numpy(dtype=float)
    p = np.where(true.to_numpy(), 1 - e, e)
    for plant in sim.truth["poisoned"]:
        scope = (lab["labeler_id"] == plant["labeler_id"]).to_numpy(copy=True)
        if plant["slice_column"] is not None:
            scope &= (lab[plant["slice_column"]] == plant["slice_value"]).to_numpy()
        p = np.where(scope, p + (1 - p) * plant["flip_rate"], p)
    return p


def exact_bias(
    sim: Simulation, p: np.ndarray, judge: str, column: str | None = None, value: str | None = None
) -> float:
    """Exact E[judge - human] over the judge's items that carry a human label (in the slice)."""
    lab = sim.labels.assign(p=p)
    human = lab[lab["labeler_id"].str.startswith("hum")].set_index("item_id")["p"]
    j = lab[lab["labeler_id"] == judge]
    if column is not None:
        j = j[j[column] == value]
    j = j.set_index("item_id")["p"]
    shared = j.index.intersection(human.index)
    return float((j.loc[shared] - human.loc[shared]).mean())


def run_task(task: tuple[int, float, int, int]) -> dict[str, Any]:
    d_i, share, seed, n_items = task
    design = DESIGNS[d_i]
    sim = simulate_judges(
        n_items, judges=design.judges, human_share=share, plants=plants_of(design, seed), seed=seed
    )
    t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
    is_judge = np.array([str(x) in design.judges for x in t.labeler_ids])
    e_h = float(np.mean([r["error_rate"] for r in sim.truth["labelers"] if r["role"] == "human"]))
    theta = P_BAR * (1 - e_h) + (1 - P_BAR) * e_h
    truth = sim.item_truth["true_label"].eq("pass").to_numpy()
    finite = float(np.where(truth, 1 - e_h, e_h).mean())
    out: dict[str, Any] = {"design": d_i, "share": share, "seed": seed, "est": {}}
    for r in ppi_headline(t, is_judge)["overall"]:
        lo, hi = r["ci"]
        hlo, hhi = r["humans_only_ci"]
        out["est"][r["judge"]] = {
            "cov": lo <= theta <= hi,
            "cov_finite": lo <= finite <= hi,
            "ratio": (hi - lo) / (hhi - hlo),
            "judge_bias": r["judge_only_score"] - theta,
            "humans_cov": hlo <= theta <= hhi,
            "lambda": r["lambda"] if isinstance(r["lambda"], float) else float("nan"),
        }
    # the judge audit
    p = row_expectation(sim)
    audit = judge_audit(t, is_judge).set_index("judge")
    sb = judge_slice_bias(t, is_judge)
    bonf = 0.05 / max(len(sb), 1)
    planted = design.planted
    pr = audit.loc[planted]
    target = exact_bias(sim, p, planted)
    out["bias_cov"] = bool(pr["ci_low"] <= target <= pr["ci_high"])
    out["honest_covers_0"] = [
        bool(audit.loc[j, "ci_low"] <= 0 <= audit.loc[j, "ci_high"])
        for j in design.judges
        if j != planted
    ]
    out["honest_cov"] = [
        bool(audit.loc[j, "ci_low"] <= exact_bias(sim, p, j) <= audit.loc[j, "ci_high"])
        for j in design.judges
        if j != planted
    ]
    honest_cells = sb[sb["judge"] != planted]
    out["honest_cell_flag"] = (
        bool((honest_cells["p_value"] < bonf).any()) if len(honest_cells) else None
    )
    if design.key == "lenient":
        out["flagged"] = bool(pr["p_value"] < 0.05)
    elif design.key == "slice":
        cell = sb[(sb.judge == planted) & (sb.slice_value == "hallucination")].iloc[0]
        out["flagged"] = bool(cell["p_value"] < bonf)
        tgt = exact_bias(sim, p, planted, FAILURE_MODE, "hallucination")
        out["cell_cov"] = bool(cell["ci_low"] <= tgt <= cell["ci_high"])
    else:
        sp = judge_self_preference(t, is_judge, FAMILY).set_index("judge")
        a = sp.loc[planted]
        tgt = exact_bias(sim, p, planted, MODEL, "model-a") - float(
            np.average(
                [exact_bias(sim, p, planted, MODEL, m) for m in ("model-b", "model-c")],
                weights=[
                    ((sim.labels.labeler_id.str.startswith("hum")) & (sim.labels[MODEL] == m)).sum()
                    for m in ("model-b", "model-c")
                ],
            )
        )
        out["flagged"] = bool(a["p_value"] < 0.05)
        out["cell_cov"] = bool(a["ci_low"] <= tgt <= a["ci_high"])
        b = sp.loc["judge_b"]
        out["honest_self_covers_0"] = bool(b["ci_low"] <= 0 <= b["ci_high"])
    return out


#: ``--audit``: issue 15's acceptance measured through ``evalaudit.audit`` (ingest of
#: ``labeler_type`` / ``judge_family`` columns, the one error budget, the judge rules).
AUDIT_DESIGNS = (("lenient", 0.10), ("slice", 0.20), ("self", 0.20))


def run_audit_task(task: tuple[int, float, int, int]) -> dict[str, Any]:
    """One seed of one acceptance design, audited end to end as a user would."""
    d_i, share, seed, n_items = task
    design = DESIGNS[d_i]
    sim = simulate_judges(
        n_items, judges=design.judges, human_share=share, plants=plants_of(design, seed), seed=seed
    )
    labels = sim.labels.assign(
        labeler_type=np.where(sim.labels["labeler_id"].isin(design.judges), "model", "human"),
        judge_family=sim.labels["labeler_id"].map(FAMILY),
    )
    r = evalaudit.audit(labels, slices=list(SLICES))
    e_h = float(np.mean([x["error_rate"] for x in sim.truth["labelers"] if x["role"] == "human"]))
    theta = P_BAR * (1 - e_h) + (1 - P_BAR) * e_h
    ppi = r.headline["ppi"]
    lo, hi = ppi["ci"]
    hlo, hhi = ppi["humans_only_ci"]
    lab = r.labelers
    out: dict[str, Any] = {
        "design": d_i,
        "share": share,
        "seed": seed,
        "ppi_cov": bool(lo <= theta <= hi),
        "ppi_narrower": bool(hi - lo < hhi - hlo),
        "judge_only_bias": float(ppi["judge_only_score"] - theta),
        "human_flagged": bool(lab.loc[lab["labeler_type"] == "human", "flagged"].any()),
    }
    ids = {f.id: f for f in r.findings}
    j = r.judges.set_index("judge")
    planted = design.planted
    out["planted_bias_above_0"] = bool(j.loc[planted, "ci_low"] > 0)
    out["honest_covers_0"] = [
        bool(j.loc[h, "ci_low"] <= 0 <= j.loc[h, "ci_high"]) for h in design.judges if h != planted
    ]
    out["honest_judge_finding"] = any(
        f.kind.startswith("judge_") and f.subject.get("labeler_id") != planted for f in r.findings
    )
    if design.key == "slice":
        out["slice_flagged"] = f"judge_tilt:{planted}:{FAILURE_MODE}=hallucination" in ids
    if design.key == "self":
        f = ids.get(f"judge_self_preference:{planted}")
        out["self_flagged"] = f is not None
        # exact false-pass contrast given the realised human labels: the judge's expected pass
        # probability on the items its human failed, own family minus other models
        p = row_expectation(sim)
        rows = sim.labels.assign(p=p)
        hum = rows[rows["labeler_id"].str.startswith("hum")].set_index("item_id")
        jr = rows[rows["labeler_id"] == planted].set_index("item_id")
        failed = hum.index[hum["label"] == "fail"]
        jf = jr.loc[jr.index.intersection(failed)]
        own = jf[MODEL] == "model-a"
        target = float(jf.loc[own, "p"].mean() - jf.loc[~own, "p"].mean())
        sp = r.judge_self_preference.set_index("judge").loc[planted]
        out["self_cov"] = bool(sp["false_pass_ci_low"] <= target <= sp["false_pass_ci_high"])
        out["self_target"] = target
    return out


def acceptance_table(results: list[dict[str, Any]]) -> str:
    """Issue 15's acceptance figures, measured through ``evalaudit.audit``."""
    rows = []
    for key, share in AUDIT_DESIGNS:
        g = [r for r in results if DESIGNS[r["design"]].key == key and r["share"] == share]
        if not g:
            continue
        add = rows.append
        where = f"{key}, humans {share:.0%}"
        if key == "lenient":
            add((where, "PPI 95% CI covers theta (target 93-97%)", rate([r["ppi_cov"] for r in g])))
            add(
                (
                    where,
                    "PPI narrower than humans-only (target >= 95%)",
                    rate([r["ppi_narrower"] for r in g]),
                )
            )
            bias = 100 * float(np.mean([r["judge_only_bias"] for r in g]))
            add((where, "judge-only estimate's bias vs theta (mean, pts)", f"{bias:+.2f}"))
            add(
                (
                    where,
                    "planted judge's bias CI above 0",
                    rate([r["planted_bias_above_0"] for r in g]),
                )
            )
        if key == "slice":
            add(
                (
                    where,
                    "lenient judge (judge_b) bias CI above 0",
                    rate([r["planted_bias_above_0"] for r in g]),
                )
            )
            add(
                (
                    where,
                    "its hallucination slice flagged (judge_tilt)",
                    rate([r["slice_flagged"] for r in g]),
                )
            )
            add(
                (
                    where,
                    "honest judge (judge_a) bias CI covers 0 (target 93-97%)",
                    rate([c for r in g for c in r["honest_covers_0"]]),
                )
            )
            add(
                (
                    where,
                    "honest judge: any judge finding",
                    rate([r["honest_judge_finding"] for r in g]),
                )
            )
        if key == "self":
            add(
                (
                    where,
                    "self-preference flagged (judge_self_preference)",
                    rate([r["self_flagged"] for r in g]),
                )
            )
            add(
                (
                    where,
                    "its false-pass CI covers the exact planted contrast",
                    rate([r["self_cov"] for r in g]),
                )
            )
            tgt = 100 * float(np.mean([r["self_target"] for r in g]))
            add((where, "exact planted false-pass contrast (mean, pts)", f"{tgt:+.2f}"))
            add(
                (
                    where,
                    "honest judge: any judge finding",
                    rate([r["honest_judge_finding"] for r in g]),
                )
            )
        add((where, "a human flagged (joint model)", rate([r["human_flagged"] for r in g])))
    return markdown(
        ("design", "measure (through evalaudit.audit)", "seeds"), rows, ["---", "---", "---:"]
    )


def rate(flags: Sequence[bool]) -> str:
    k, n = int(sum(flags)), len(flags)
    if n == 0:
        return ""
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] ({k}/{n})"


def ppi_table(results: list[dict[str, Any]], chosen: list[int]) -> str:
    rows = []
    for d_i in chosen:
        d = DESIGNS[d_i]
        names = list(d.judges) + ([JUDGES_MEAN, JUDGES_WEIGHTED] if len(d.judges) > 1 else [])
        for share in SHARES:
            rs = [r for r in results if r["design"] == d_i and r["share"] == share]
            for name in names:
                es = [r["est"][name] for r in rs]
                tag = " (planted)" if name == d.planted else ""
                rows.append(
                    [
                        d.key,
                        f"{share:.0%}",
                        name + tag,
                        str(len(es)),
                        rate([e["cov"] for e in es]),
                        rate([e["cov_finite"] for e in es]),
                        f"{np.median([e['ratio'] for e in es]):.2f}",
                        rate([e["ratio"] < 1 for e in es]),
                        f"{100 * np.mean([e['judge_bias'] for e in es]):+.2f}",
                        rate([e["humans_cov"] for e in es]),
                        f"{np.nanmedian([e['lambda'] for e in es]):.2f}"
                        if name != JUDGES_WEIGHTED
                        else "(vector)",
                    ]
                )
    header = [
        "design",
        "humans",
        "estimate",
        "seeds",
        "PPI covers theta",
        "PPI covers the set's headline",
        "width / humans-only (median)",
        "PPI narrower",
        "judge-only bias (pts)",
        "humans-only covers theta",
        "lambda (median)",
    ]
    return markdown(header, rows, ["---"] * 3 + ["---:"] * 8)


def audit_table(results: list[dict[str, Any]], chosen: list[int]) -> str:
    rows = []
    for d_i in chosen:
        d = DESIGNS[d_i]
        for share in SHARES:
            rs = [r for r in results if r["design"] == d_i and r["share"] == share]
            what = {
                "lenient": "bias p < 0.05",
                "slice": "hallucination cell p < 0.05 / cells",
                "self": "self-preference p < 0.05",
            }[d.key]
            rows.append(
                [
                    d.key,
                    f"{share:.0%}",
                    rate([r["bias_cov"] for r in rs]),
                    f"{what}: " + rate([r["flagged"] for r in rs]),
                    rate([r["cell_cov"] for r in rs]) if "cell_cov" in rs[0] else "",
                    rate([x for r in rs for x in r["honest_cov"]]),
                    rate([x for r in rs for x in r["honest_covers_0"]]),
                    rate([r["honest_cell_flag"] for r in rs if r["honest_cell_flag"] is not None]),
                    rate([r["honest_self_covers_0"] for r in rs])
                    if "honest_self_covers_0" in rs[0]
                    else "",
                ]
            )
    header = [
        "design",
        "humans",
        "planted judge's bias CI covers its exact bias",
        "planted effect flagged",
        "planted cell / self-preference CI covers its exact value",
        "honest judge's CI covers its exact bias",
        "honest judge's CI covers 0",
        "honest judge: any cell p < 0.05 / cells",
        "honest judge's self-preference CI covers 0",
    ]
    return markdown(header, rows, ["---"] * 2 + ["---:"] * 7)


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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=None, help="seeds per design (default 200)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10 seeds")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--items", type=int, default=5000, help="items per set (default 5000)")
    ap.add_argument(
        "--designs",
        nargs="+",
        choices=[d.key for d in DESIGNS],
        default=[d.key for d in DESIGNS],
    )
    ap.add_argument(
        "--audit",
        action="store_true",
        help="issue 15's acceptance through evalaudit.audit (lenient 10%%, slice 20%%, self 20%%)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    n_seeds = args.seeds if args.seeds is not None else (10 if args.quick else 200)
    if n_seeds < 1 or args.workers < 1 or args.items < 100:
        print("--seeds and --workers must be >= 1, --items >= 100", file=sys.stderr)
        return 2
    chosen = [i for i, d in enumerate(DESIGNS) if d.key in args.designs]
    if args.audit:
        return main_audit(args, chosen, n_seeds)
    tasks = [(i, h, s, args.items) for i in chosen for h in SHARES for s in range(n_seeds)]
    print("# LLM-judge benchmark" + (" (--quick)" if args.quick else ""))
    print()
    print(
        f"evalaudit {Path(evalaudit.__file__).parent} at {git_describe()}; {args.items} items, "
        f"4 humans, one human on {', '.join(f'{h:.0%}' for h in SHARES)} of the items; seeds "
        f"0..{n_seeds - 1} per design and share; {len(tasks)} sets, {args.workers} worker(s). "
        f"E[pi] = {P_BAR:.6f} (quadrature)."
    )
    for i in chosen:
        print(f"- {DESIGNS[i].key}: {DESIGNS[i].label}")
    print()
    t0 = time.perf_counter()
    if args.workers == 1:
        results = [run_task(t) for t in tasks]
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = list(pool.imap(run_task, tasks, chunksize=4))
    elapsed = time.perf_counter() - t0
    print("## PPI headline (95% CIs; Wilson intervals over seeds)")
    print()
    print(ppi_table(results, chosen))
    print()
    print("## Judge audit")
    print()
    print(audit_table(results, chosen))
    print()
    print(f"{len(tasks)} sets in {elapsed:.0f} s.")
    return 0


def main_audit(args: argparse.Namespace, chosen: list[int], n_seeds: int) -> int:
    keys = {DESIGNS[i].key for i in chosen}
    tasks = [
        (next(i for i, d in enumerate(DESIGNS) if d.key == key), share, s, args.items)
        for key, share in AUDIT_DESIGNS
        if key in keys
        for s in range(n_seeds)
    ]
    print("# LLM-judge acceptance through evalaudit.audit")
    print()
    print(
        f"evalaudit {Path(evalaudit.__file__).parent} at {git_describe()}; {args.items} items, "
        f"labeler_type and judge_family columns, default policy; seeds 0..{n_seeds - 1}; "
        f"{len(tasks)} audits, {args.workers} worker(s)."
    )
    print()
    t0 = time.perf_counter()
    if args.workers == 1:
        results = [run_audit_task(t) for t in tasks]
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = list(pool.imap(run_audit_task, tasks, chunksize=2))
    print(acceptance_table(results))
    print()
    print(f"{len(tasks)} audits in {time.perf_counter() - t0:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
