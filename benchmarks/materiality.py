"""Materiality at scale: does the gate block only on what moves a score? (issue 13 acceptance)

Usage::

    python benchmarks/materiality.py --rows 1e6 [--seed 0] [--workdir DIR]

Data: :func:`evalaudit.simulate.simulate` with ``--rows / 1.3`` items (15% of them
labeled 3 times), 500 labelers whose error rates are uniform on 0.03-0.12 (accuracies
0.88-0.97: real labelers differ a little, and with 10^6 rows each small difference
is significant), the simulator's category pass rates (they differ by category), and
one planted labeler (``lab007``) who passes a fail with probability 0.6 on
``failure_mode = hallucination`` and labels 2% of the items.

It runs the audit with the default policy in this process and prints the number of
findings by severity, how many warn/block findings carry ``impact``, whether the
planted cell is flagged and blocks, and each blocking finding with its impact. It
asserts nothing; the figures go in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=float, default=1e6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=HERE / "_data")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    from evalaudit.audit import audit_ingested
    from evalaudit.render.format import fmt_effect
    from evalaudit.rules import load_policy
    from evalaudit.simulate import Plant, simulate
    from evalaudit.validate import ingest

    rows = int(args.rows)
    path = args.workdir / f"materiality_{rows}_{args.seed}.parquet"
    args.workdir.mkdir(parents=True, exist_ok=True)
    planted = "lab007"
    if not path.exists():
        t = time.perf_counter()
        sim = simulate(
            n_items=round(rows / 1.3),
            n_labelers=500,
            overlap_share=0.15,
            overlap_k=3,
            error_range=(0.03, 0.12),
            plants=[Plant(planted, 0.6, "failure_mode", "hallucination", share=0.02)],
            categorical=True,
            seed=args.seed,
        )
        sim.labels.to_parquet(path, index=False)
        print(f"generated {len(sim.labels):,} rows in {time.perf_counter() - t:.1f} s: {path}")
    t = time.perf_counter()
    r = audit_ingested(ingest(str(path)), load_policy(None))
    kind = r.label["kind"]
    print(
        f"audit: {time.perf_counter() - t:.1f} s; {r.input['rows_used']:,} rows, "
        f"{r.input['labelers']} labelers; verdict {r.verdict}"
    )
    sev = {s: [f for f in r.findings if f.severity == s] for s in ("block", "warn", "info")}
    print("findings: " + ", ".join(f"{len(v)} {s}" for s, v in sev.items()))
    ww = sev["block"] + sev["warn"]
    print(f"warn/block findings with impact: {sum(f.impact is not None for f in ww)} of {len(ww)}")
    assessed = [f for f in ww if (f.impact or {}).get("assessed")]
    demoted = [f for f in assessed if f.impact.get("severity_before_materiality") == "block"]
    print(f"significant but immaterial (block -> warn): {len(demoted)}")
    cell = f"tilted_slice:{planted}:failure_mode=hallucination"
    f = next((f for f in r.findings if f.id == cell), None)
    print(f"planted cell {cell}: " + (f"{f.severity}" if f else "NOT flagged"))
    for f in sev["block"] + sev["warn"]:
        imp = f.impact or {}
        h = (imp.get("headline") or {}).get("delta")
        s = (imp.get("slice") or {}).get("delta")
        print(
            f"  {f.severity.upper()} {f.id}: headline {fmt_effect(h, kind)}, slice {fmt_effect(s, kind)}, "
            f"ranking changed {imp.get('ranking_changed')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
