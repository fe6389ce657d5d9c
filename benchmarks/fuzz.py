"""Fuzz the CLI with malformed inputs in every format it reads; print counts by outcome.

Usage::

    python benchmarks/fuzz.py --n 10000 [--seed 0] [--kind csv|tsv|parquet|jsonl|rules|reviews|label-studio|...]

Each case (see :mod:`evalaudit.fuzzing`) is written to a temporary directory
and run through ``evalaudit audit`` (label files, ``--rules``) or
``evalaudit gate --reviews`` in-process. Exit status 1 when any case ends in
a failure outcome (traceback, partial output, unnamed error, bad exit); the
first failing cases are printed with the seed that reproduces them.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kind", default=None)
    args = ap.parse_args(argv)
    from evalaudit.fuzzing import FAILURES, base_labels, make_case, run_case

    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    failures: list[tuple[int, str, str, str]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        valid = Path(tmp) / "valid.csv"
        base_labels().to_csv(valid, index=False)
        for i in range(args.n):
            rng = random.Random(args.seed * 1_000_003 + i)
            case = make_case(rng, args.kind)
            outcome = run_case(case, Path(tmp) / "case", valid)
            counts[(case.kind, outcome)] += 1
            if outcome in FAILURES and len(failures) < 20:
                failures.append((i, case.kind, case.mutation, outcome))
            if (i + 1) % 500 == 0:
                print(f"  {i + 1:,} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    kinds = sorted({k for k, _ in counts})
    outcomes = ["audited", "input_error", *FAILURES]
    print(f"evalaudit fuzz: {args.n:,} cases, seed {args.seed}, {elapsed:.0f} s")
    print("| kind | " + " | ".join(outcomes) + " |")
    print("|---|" + "---:|" * len(outcomes))
    for k in kinds:
        print(f"| {k} | " + " | ".join(str(counts[(k, o)]) for o in outcomes) + " |")
    total = {o: sum(counts[(k, o)] for k in kinds) for o in outcomes}
    print("| all | " + " | ".join(str(total[o]) for o in outcomes) + " |")
    for i, kind, mutation, outcome in failures:
        print(
            f"FAIL case {i} ({kind}: {mutation}) -> {outcome}; reproduce with "
            f"random.Random({args.seed} * 1_000_003 + {i})"
        )
    return 1 if any(total[o] for o in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
