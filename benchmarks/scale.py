"""Scale benchmark: ``evalaudit audit`` on a large simulated label table, against a floor.

Usage::

    python benchmarks/scale.py --rows 1e6 [--seed 0] [--workdir DIR] [--regenerate]
                               [--skip-floor] [--keep]

What it does
------------
1. **Data.** A seeded, realistic long label table of about ``--rows`` rows from
   :func:`evalaudit.simulate.simulate`: ``min(500, max(24, rows // 200))`` labelers
   (500 from 10^5 rows up) in 3 vendors, 15% of the items labeled 3 times and the
   rest once (1.3 labels per item, so ``n_items = round(rows / 1.3)``), slices
   ``category``, ``failure_mode`` and ``model``, timestamps over 6 months, and one
   planted lenient labeler (``lab007``: a "fail" becomes "pass" with probability
   0.6 on ``failure_mode = hallucination``; it labels 2% of the items). The table
   is written to ``<workdir>/scale_<rows>.parquet`` (zstd, every column a plain
   string as a user's export would be, no pandas metadata; the generation
   parameters and the ground truth of the plant ride along in the Parquet
   key-value metadata under ``evalaudit_scale``). An existing file is reused
   when its metadata matches rows, seed and generator parameters, unless
   ``--regenerate``.

2. **Measurements.** Each measured command runs in a *fresh* Python subprocess,
   so interpreter start-up, imports and all memory are counted. Wall time is
   taken around the child by the parent (``time.perf_counter``); peak RSS is the
   child's own ``ru_maxrss`` from ``os.wait4(pid, 0)`` (KiB on Linux), which is
   exact per child (unlike deltas of ``RUSAGE_CHILDREN``).

   * **floor**: read the Parquet with pyarrow, the low-cardinality string
     columns (``labeler_id, label, vendor, batch, model, category,
     failure_mode``) as dictionaries (pandas categoricals) via
     ``read_dictionary=``; ``item_id`` and ``timestamp`` stay plain strings
     (reading the high-cardinality ``item_id`` as a categorical is slow, DESIGN
     section 8). Then one groupby: pass rate by ``labeler_id x failure_mode``.
     This is the least any audit must do: read the file and aggregate once.
   * **audit**: ``python -m evalaudit audit FILE --profile -q --json
     <tmp>/audit.json``; its stderr holds the per-step timings.

3. **Report.** Rows, items, labelers and file size; wall time and peak RSS of
   the floor and the audit and their ratio; the audit's per-step timings; and
   whether the planted labeler was flagged (its leniency, q-value and rank in
   the audit's labeler table, which is ordered by shrunken leniency, against
   the planted effect). Last, a Markdown table row to paste into
   ``benchmarks/README.md``.

It asserts nothing about time: targets live in ``benchmarks/README.md``. It
exits non-zero when the audit (or the floor) command fails, after printing
the command's stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / "_data"

#: Low-cardinality string columns read as dictionaries (pandas categoricals) by the floor.
DICT_COLUMNS = ("labeler_id", "label", "vendor", "batch", "model", "category", "failure_mode")

#: Parameters of the simulated table (besides rows and seed); part of the cache key.
OVERLAP_SHARE = 0.15
OVERLAP_K = 3
LABELS_PER_ITEM = 1 + OVERLAP_SHARE * (OVERLAP_K - 1)  # 1.3
MAX_LABELERS = 500
VENDORS = ("acme", "bolt", "crowdly")
MONTHS = 6
PLANT_NUMBER = 7  # lab007
PLANT_FLIP_RATE = 0.6
PLANT_SLICE = ("failure_mode", "hallucination")
PLANT_SHARE = 0.02
META_KEY = b"evalaudit_scale"
GENERATOR_VERSION = 1

#: Both floors end alike: the table to pandas, then one groupby; the timings as JSON.
_FLOOR_GROUPBY = """df = table.to_pandas()
del table
t2 = time.perf_counter()
passed = df["label"] == "pass"
rate = passed.groupby([df["labeler_id"], df["failure_mode"]], observed=True).mean()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "groupby": t3 - t2,
                  "rows": len(df), "cells": len(rate),
                  "dtypes": {c: str(t) for c, t in df.dtypes.items()}}))
"""
#: Run by the floor child: argv[1] = Parquet path. Prints its own phase timings as JSON.
FLOOR_SCRIPT = (
    f"""
import json, sys, time
t0 = time.perf_counter()
import pyarrow.parquet as pq
import pandas as pd
t1 = time.perf_counter()
table = pq.read_table(sys.argv[1], read_dictionary={list(DICT_COLUMNS)!r})
"""
    + _FLOOR_GROUPBY
)


# --------------------------------------------------------------------------- data


def n_labelers_for(rows: int) -> int:
    """Labelers for a table of ``rows`` rows: 500 from 10^5 rows up, at least 24."""
    return min(MAX_LABELERS, max(24, rows // 200))


def labeler_id(number: int, n_labelers: int) -> str:
    """The id :func:`evalaudit.simulate.simulate` gives labeler ``number`` (1-based)."""
    width = max(3, len(str(n_labelers)))
    return f"lab{number:0{width}d}"


def scale_params(rows: int, seed: int) -> dict[str, Any]:
    """Everything that determines the generated file (its cache key)."""
    n_labelers = n_labelers_for(rows)
    return {
        "generator_version": GENERATOR_VERSION,
        "rows_requested": rows,
        "seed": seed,
        "n_items": round(rows / LABELS_PER_ITEM),
        "n_labelers": n_labelers,
        "vendors": list(VENDORS),
        "overlap_share": OVERLAP_SHARE,
        "overlap_k": OVERLAP_K,
        "months": MONTHS,
        "plant": {
            "labeler_id": labeler_id(PLANT_NUMBER, n_labelers),
            "flip_rate": PLANT_FLIP_RATE,
            "slice_column": PLANT_SLICE[0],
            "slice_value": PLANT_SLICE[1],
            "share": PLANT_SHARE,
        },
    }


def read_meta(path: Path) -> dict[str, Any] | None:
    """The ``evalaudit_scale`` metadata of a generated file, or None."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # unreadable or truncated: regenerate
        return None
    raw = meta.get(META_KEY)
    return json.loads(raw) if raw else None


def ensure_data(path: Path, rows: int, seed: int, regenerate: bool) -> tuple[dict[str, Any], bool]:
    """Write the simulated table to ``path`` unless a matching file exists.

    Returns the file's metadata (parameters + truth) and whether it was generated now.
    """
    params = scale_params(rows, seed)
    if not regenerate and path.exists():
        meta = read_meta(path)
        if meta is not None and meta.get("params") == params:
            return meta, False

    import pyarrow as pa
    import pyarrow.parquet as pq

    from evalaudit.simulate import Plant, simulate

    p = params["plant"]
    sim = simulate(
        params["n_items"],
        params["n_labelers"],
        vendors=VENDORS,
        overlap_share=OVERLAP_SHARE,
        overlap_k=OVERLAP_K,
        plants=[
            Plant(
                p["labeler_id"],
                flip_rate=p["flip_rate"],
                slice_column=p["slice_column"],
                slice_value=p["slice_value"],
                share=p["share"],
            )
        ],
        months=MONTHS,
        categorical=True,
        seed=seed,
    )
    truth = {k: v for k, v in sim.truth.items() if k not in ("labelers", "config")}
    meta = {"params": params, "truth": truth}
    table = pa.Table.from_pandas(sim.labels, preserve_index=False)
    del sim
    # plain strings, as a user's export would be (Parquet still dictionary-encodes pages)
    table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return meta, True


# --------------------------------------------------------------------------- layouts

#: The same rows written the ways users' files come (``--layout``): Parquet with string or typed
#: timestamps, ids in generator order, sorted by item or shuffled, 1 to 100 row groups,
#: dictionary-typed (the Arrow schema stored) or plain-encoded pages; CSV (plain, gzip); JSON
#: Lines. ``parquet`` is the generator's own file. Each entry: what it is, and how to write it.
LAYOUTS: dict[str, str] = {
    "parquet": "strings, zstd, generator order, 10 row groups (the generated file)",
    "parquet-typed-ms": "timestamp[ms], sorted by item, 10 row groups",
    "parquet-typed-us-tz": "timestamp[us, UTC], shuffled, 100 row groups",
    "parquet-1rg": "strings, shuffled, 1 row group",
    "parquet-sorted-labeler": "strings, sorted by labeler and time, 100 row groups",
    "parquet-dict": "Arrow dictionary columns (schema stored), shuffled, 10 row groups",
    "parquet-plain": "strings, no dictionary pages (plain encoding), snappy, 10 row groups",
    "csv": "CSV, quoted where needed",
    "csv-gz": "CSV, gzip",
    "jsonl": "JSON Lines",
}
_LAYOUT_FILES = {
    "csv": "csv",
    "csv-gz": "csv.gz",
    "jsonl": "jsonl",
}
#: Bump when a layout's writer changes (part of each layout file's cache key).
LAYOUT_VERSION = 1


def layout_path(workdir: Path, rows: int, layout: str) -> Path:
    """``scale_<rows>.parquet`` for the generated file, ``scale_<rows>.<layout>.<ext>`` else."""
    if layout == "parquet":
        return Path(workdir) / f"scale_{rows}.parquet"
    if layout in _LAYOUT_FILES:
        return Path(workdir) / f"scale_{rows}.{_LAYOUT_FILES[layout]}"
    return Path(workdir) / f"scale_{rows}.{layout}.parquet"


def ensure_layout(source: Path, meta: dict[str, Any], layout: str, path: Path) -> bool:
    """Write ``layout`` of the rows in ``source`` to ``path`` unless it exists with the same
    key (the source's parameters, the layout and :data:`LAYOUT_VERSION`, in a side file).
    Returns whether it was written now."""
    if layout == "parquet":
        return False
    key = {"params": meta["params"], "layout": layout, "layout_version": LAYOUT_VERSION}
    stamp = path.with_name(path.name + ".key.json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == key:
        return False
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    n = table.num_rows
    rng = np.random.default_rng(16)

    def shuffled(t: pa.Table) -> pa.Table:
        return t.take(pa.array(rng.permutation(n)))

    def typed(t: pa.Table, unit: str, tz: str | None) -> pa.Table:
        ts = pc.strptime(t["timestamp"], format="%Y-%m-%dT%H:%M:%SZ", unit=unit)
        ts = ts.cast(pa.timestamp(unit, tz=tz)) if tz else ts
        return t.set_column(t.schema.get_field_index("timestamp"), "timestamp", ts)

    tmp = path.with_name(path.name + ".tmp")
    groups = {"parquet-typed-us-tz": 100, "parquet-sorted-labeler": 100, "parquet-1rg": 1}
    rg = -(-n // groups.get(layout, 10))
    if layout == "parquet-typed-ms":
        t = typed(table, "ms", None).sort_by("item_id")
        pq.write_table(t, tmp, compression="zstd", row_group_size=rg)
    elif layout == "parquet-typed-us-tz":
        pq.write_table(
            shuffled(typed(table, "us", "UTC")), tmp, compression="zstd", row_group_size=rg
        )
    elif layout == "parquet-1rg":
        pq.write_table(shuffled(table), tmp, compression="zstd", row_group_size=rg)
    elif layout == "parquet-sorted-labeler":
        t = table.sort_by([("labeler_id", "ascending"), ("timestamp", "ascending")])
        pq.write_table(t, tmp, compression="zstd", row_group_size=rg)
    elif layout == "parquet-dict":
        t = shuffled(table)
        t = pa.table({c: t[c].dictionary_encode() for c in t.column_names})
        pq.write_table(t, tmp, compression="zstd", row_group_size=rg)  # stores the Arrow schema
    elif layout == "parquet-plain":
        pq.write_table(
            shuffled(table), tmp, compression="snappy", use_dictionary=False, row_group_size=rg
        )
    elif layout in ("csv", "csv-gz"):
        import pyarrow.csv as pcsv

        opts = pcsv.WriteOptions(quoting_style="needed")
        if layout == "csv":
            pcsv.write_csv(table, tmp, opts)
        else:
            with pa.CompressedOutputStream(str(tmp), "gzip") as out:
                pcsv.write_csv(table, out, opts)
    elif layout == "jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for batch in table.to_batches(max_chunksize=500_000):
                text = batch.to_pandas().to_json(orient="records", lines=True)
                fh.write(text if text.endswith("\n") else text + "\n")
    else:
        raise ValueError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    os.replace(tmp, path)
    stamp.write_text(json.dumps(key))
    return True


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    name: str
    argv: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)


def measure(name: str, argv: list[str], tmpdir: Path) -> Run:
    """Run ``argv`` in a fresh process; wall time and exact peak RSS from ``os.wait4``."""
    out_path, err_path = tmpdir / f"{name}.stdout", tmpdir / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, tell Popen
    return Run(
        name=name,
        argv=argv,
        returncode=proc.returncode,
        wall_s=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


_TIMING = re.compile(r"^\s+(\S.*?)\s+(-?\d+(?:\.\d+)?)\s*(?:\(.*\))?\s*$")


def parse_timings(stderr: str) -> dict[str, float]:
    """Per-step timings from ``evalaudit audit --profile`` stderr (after ``step timings (s):``)."""
    timings: dict[str, float] = {}
    lines = stderr.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "step timings (s):")
    except StopIteration:
        return timings
    for line in lines[start + 1 :]:
        m = _TIMING.match(line)
        if not m:
            break
        timings[m.group(1)] = float(m.group(2))
    return timings


# --------------------------------------------------------------------------- report


def planted_outcome(audit_json: dict[str, Any], planted: str) -> dict[str, Any]:
    """How the audit saw the planted labeler: flagged, leniency, q, rank, flagged count."""
    labelers = audit_json.get("labelers", [])
    flagged = [r["labeler_id"] for r in labelers if r.get("flagged")]
    out: dict[str, Any] = {
        "n_labelers": len(labelers),
        "n_flagged": len(flagged),
        "flagged_ids": flagged,
        "found": False,
    }
    for rank, rec in enumerate(labelers, start=1):
        if rec.get("labeler_id") == planted:
            out.update(
                found=True,
                rank=rank,
                flagged=bool(rec.get("flagged")),
                leniency=rec.get("leniency"),
                ci=rec.get("ci"),
                q_value=rec.get("q_value"),
                n_labels=rec.get("n_labels"),
            )
            break
    return out


def _num(x: Any, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _pts(x: float | None) -> str:
    """A proportion as signed percentage points."""
    return "n/a" if x is None else f"{100 * x:+.1f}"


def print_report(
    path: Path,
    meta: dict[str, Any],
    generated: tuple[bool, float],
    floor: Run | None,
    audit: Run,
    timings: dict[str, float],
    outcome: dict[str, Any],
) -> None:
    params, truth = meta["params"], meta["truth"]
    plant = truth["poisoned"][0]
    made, gen_s = generated
    print(f"evalaudit scale benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"file      {path}  ({path.stat().st_size / 2**20:.1f} MiB, zstd, plain strings)")
    print(
        "          "
        + (f"generated in {gen_s:.1f} s" if made else "reused (same rows, seed and parameters)")
    )
    print(f"rows      {truth['n_labels']:,}")
    print(f"items     {truth['n_items']:,}")
    print(f"labelers  {truth['n_labelers']:,} in {len(params['vendors'])} vendors")
    print(
        f"planted   {plant['labeler_id']}: flip_rate {plant['flip_rate']} on "
        f"{plant['slice_column']} = {plant['slice_value']}, {plant['n_labels']:,} labels "
        f"({plant['n_labels_in_scope']:,} in the slice); expected leniency "
        f"{100 * plant['expected_labeler_effect']:+.1f} pts overall, "
        f"{100 * plant['expected_effect']:+.1f} pts in the slice"
    )
    print()
    print(f"{'':<8} {'wall s':>8} {'peak RSS MB':>12}")
    if floor is not None:
        print(f"{'floor':<8} {floor.wall_s:8.2f} {floor.peak_rss_mb:12.0f}")
    print(f"{'audit':<8} {audit.wall_s:8.2f} {audit.peak_rss_mb:12.0f}")
    if floor is not None:
        print(
            f"{'ratio':<8} {audit.wall_s / floor.wall_s:8.1f}x "
            f"{audit.peak_rss_mb / floor.peak_rss_mb:11.1f}x   (audit / floor)"
        )
        f = floor.extra
        print(
            f"floor phases (in the child): import {f['import']:.2f} s, read {f['read']:.2f} s, "
            f"groupby {f['groupby']:.2f} s ({f['cells']} labeler x failure_mode cells)"
        )
        kinds = ", ".join(f"{c} {t}" for c, t in f["dtypes"].items() if t != "category")
        print(f"floor read: {len(DICT_COLUMNS)} columns as categoricals; {kinds}")
    print()
    print("audit step timings (s, from --profile):")
    total = timings.get("total")
    for name, sec in timings.items():
        share = f"{100 * sec / total:5.1f}%" if total and name != "total" else ""
        print(f"  {name:<20} {sec:8.3f}  {share}")
    if total is not None:
        print(f"  {'outside steps':<20} {audit.wall_s - total:8.3f}  (start-up, imports, exit)")
        if sum(v for k, v in timings.items() if k != "total") > total + 0.5:
            print(
                "  (steps overlap: drift and concentration run on a second thread;"
                " total is wall time)"
            )
    print()
    if not outcome["found"]:
        print(f"planted labeler {plant['labeler_id']}: NOT in the audit's labeler table")
    else:
        ci = outcome.get("ci") or [None, None]
        print(
            f"planted labeler {plant['labeler_id']}: "
            f"{'FLAGGED' if outcome['flagged'] else 'not flagged'}; "
            f"leniency {_pts(outcome['leniency'])} pts (CI {_pts(ci[0])}..{_pts(ci[1])}), "
            f"q = {_num(outcome['q_value'], '.2g')}, "
            f"rank {outcome['rank']} of {outcome['n_labelers']}"
        )
    others = [x for x in outcome["flagged_ids"] if x != plant["labeler_id"]]
    print(
        f"flagged labelers: {outcome['n_flagged']}"
        + (
            f" (others: {', '.join(others[:10])}{' ...' if len(others) > 10 else ''})"
            if others
            else ""
        )
    )
    print()
    found = "yes" if outcome.get("flagged") else "no"
    floor_s = f"{floor.wall_s:.1f}" if floor is not None else "-"
    ratio = f"{audit.wall_s / floor.wall_s:.1f}x" if floor is not None else "-"
    print("| rows | audit wall s | audit peak MB | floor wall s | ratio | flagged planted |")
    print("|---:|---:|---:|---:|---:|:---|")
    print(
        f"| {truth['n_labels']:,} | {audit.wall_s:.1f} | {audit.peak_rss_mb:.0f} | {floor_s} "
        f"| {ratio} | {found} (rank {outcome.get('rank', '-')}, "
        f"{outcome['n_flagged']} flagged) |"
    )


# --------------------------------------------------------------------------- layout matrix

#: The floor of a text layout: Arrow's reader (pyarrow.csv / pyarrow.json, multithreaded), the
#: low-cardinality columns as dictionaries, then the same one groupby. argv[1] = path.
TEXT_FLOOR_SCRIPT = (
    f"""
import json, sys, time
t0 = time.perf_counter()
import pyarrow as pa
import pandas as pd
t1 = time.perf_counter()
path = sys.argv[1]
dict_columns = {list(DICT_COLUMNS)!r}
if ".jsonl" in path:
    import pyarrow.json as pj
    table = pj.read_json(path)
    table = pa.table({{c: table[c].dictionary_encode() if c in dict_columns else table[c]
                      for c in table.column_names}})
else:
    import pyarrow.csv as pcsv
    dt = pa.dictionary(pa.int32(), pa.string())
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types={{c: dt for c in dict_columns}}))
"""
    + _FLOOR_GROUPBY
)


def planted_cell(audit_json: dict[str, Any], plant: dict[str, Any]) -> bool:
    """Whether the planted labeler x slice cell is among the audit's flagged cells."""
    for c in audit_json.get("cells", []):
        if (
            c.get("labeler_id") == plant["labeler_id"]
            and c.get("slice_column") == plant["slice_column"]
            and c.get("slice_value") == plant["slice_value"]
        ):
            return bool(c.get("flagged"))
    return False


def _load() -> str:
    try:
        return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load n/a"


def run_layouts(args: argparse.Namespace, source: Path, meta: dict[str, Any]) -> int:
    """The layout matrix: per layout, the audit's wall time and peak RSS beside its floor."""
    names = list(LAYOUTS) if args.layout == "all" else [x.strip() for x in args.layout.split(",")]
    unknown = [n for n in names if n not in LAYOUTS]
    if unknown:
        print(f"unknown layout(s) {unknown}: use {', '.join(LAYOUTS)}", file=sys.stderr)
        return 2
    plant = meta["params"]["plant"]
    rows_out = []
    tmpdir = Path(tempfile.mkdtemp(prefix="evalaudit-layouts-"))
    print(f"evalaudit layout matrix (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(
        f"rows {meta['truth']['n_labels']:,}; plant {plant['labeler_id']} x "
        f"{plant['slice_column']}={plant['slice_value']}"
    )
    try:
        for name in names:
            path = layout_path(Path(args.workdir), args.rows, name)
            t0 = time.perf_counter()
            made = ensure_layout(source, meta, name, path)
            if made:
                print(f"  wrote {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
            before = _load()
            script = FLOOR_SCRIPT if path.suffix == ".parquet" else TEXT_FLOOR_SCRIPT
            floor = None
            if not args.skip_floor:
                floor = measure(f"floor-{name}", [sys.executable, "-c", script, str(path)], tmpdir)
                if floor.returncode != 0:
                    print(f"floor of {name} failed:\n{floor.stderr}", file=sys.stderr)
                    return 1
            out = tmpdir / f"{name}.json"
            audit = measure(
                f"audit-{name}",
                [
                    sys.executable,
                    "-m",
                    "evalaudit",
                    "audit",
                    str(path),
                    "--profile",
                    "-q",
                    "--json",
                    str(out),
                ],
                tmpdir,
            )
            if audit.returncode != 0 or not out.exists():
                print(
                    f"audit of {name} failed (exit {audit.returncode}, "
                    f"{audit.wall_s:.1f} s, {audit.peak_rss_mb:.0f} MB):\n{audit.stderr[-3000:]}"
                )
                rows_out.append((name, path, floor, audit, {}, None, before))
                continue
            timings = parse_timings(audit.stderr)
            flagged = planted_cell(json.loads(out.read_text()), plant)
            rows_out.append((name, path, floor, audit, timings, flagged, before))
            joint = timings.get("joint model", 0.0)
            print(
                f"  {name:<24} audit {audit.wall_s:6.1f} s {audit.peak_rss_mb:6.0f} MB"
                f" (without the joint model {audit.wall_s - joint:5.1f} s; read and validate "
                f"{timings.get('read and validate', float('nan')):.1f} s)"
                + (f"  floor {floor.wall_s:5.1f} s {floor.peak_rss_mb:5.0f} MB" if floor else "")
                + f"  planted cell {'flagged' if flagged else 'NOT flagged'}  [{before}]",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)
    print()
    print(
        "| layout | file MiB | audit wall s | audit peak MB | without joint model s "
        "| read + validate s | floor wall s | floor peak MB | audit / floor | planted cell |"
    )
    print("|:---|---:|---:|---:|---:|---:|---:|---:|---:|:---|")
    for name, path, floor, audit, timings, flagged, _ in rows_out:
        joint = timings.get("joint model")
        rv = timings.get("read and validate")
        cells = [
            name,
            f"{path.stat().st_size / 2**20:.0f}",
            f"{audit.wall_s:.1f}",
            f"{audit.peak_rss_mb:.0f}",
            f"{audit.wall_s - joint:.1f}" if joint is not None else "-",
            f"{rv:.1f}" if rv is not None else "-",
            f"{floor.wall_s:.1f}" if floor is not None else "-",
            f"{floor.peak_rss_mb:.0f}" if floor is not None else "-",
            f"{audit.wall_s / floor.wall_s:.1f}x" if floor is not None else "-",
            "flagged" if flagged else "not flagged" if flagged is False else "audit failed",
        ]
        print("| " + " | ".join(cells) + " |")
    return 0


# --------------------------------------------------------------------------- main


def parse_rows(text: str) -> int:
    """``1000000``, ``1_000_000`` or ``1e6``."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"rows must be a whole number: {text!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="Time and measure `evalaudit audit` on a large simulated label table.",
        epilog="Example: python benchmarks/scale.py --rows 1e6",
    )
    ap.add_argument("--rows", type=parse_rows, required=True, help="label rows (1e6 style ok)")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"where the Parquet file lives (default {DEFAULT_WORKDIR})",
    )
    ap.add_argument("--regenerate", action="store_true", help="write the file even if it exists")
    ap.add_argument("--skip-floor", action="store_true", help="do not measure the floor")
    ap.add_argument(
        "--layout",
        help="run the layout matrix: 'all' or a comma-separated list of "
        + ", ".join(LAYOUTS)
        + " (each written from the generated rows, cached beside it)",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (audit.json, stdout/stderr of the children)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rows < 100:
        print("--rows must be at least 100", file=sys.stderr)
        return 2
    path = Path(args.workdir) / f"scale_{args.rows}.parquet"
    t0 = time.perf_counter()
    meta, made = ensure_data(path, args.rows, args.seed, args.regenerate)
    gen_s = time.perf_counter() - t0
    if args.layout:
        return run_layouts(args, path, meta)

    tmpdir = Path(tempfile.mkdtemp(prefix="evalaudit-scale-"))
    try:
        floor: Run | None = None
        if not args.skip_floor:
            floor = measure("floor", [sys.executable, "-c", FLOOR_SCRIPT, str(path)], tmpdir)
            if floor.returncode != 0:
                print(f"floor failed (exit {floor.returncode}):\n{floor.stderr}", file=sys.stderr)
                return 1
            floor.extra.update(json.loads(floor.stdout.strip().splitlines()[-1]))

        audit_json = tmpdir / "audit.json"
        audit = measure(
            "audit",
            [
                sys.executable,
                "-m",
                "evalaudit",
                "audit",
                str(path),
                "--profile",
                "-q",
                "--json",
                str(audit_json),
            ],
            tmpdir,
        )
        timings = parse_timings(audit.stderr)
        if audit.returncode != 0 or not audit_json.exists():
            print(
                f"audit failed (exit {audit.returncode}, wall {audit.wall_s:.1f} s, "
                f"peak RSS {audit.peak_rss_mb:.0f} MB): {' '.join(audit.argv)}",
                file=sys.stderr,
            )
            print(audit.stderr, file=sys.stderr)
            return audit.returncode or 1
        outcome = planted_outcome(
            json.loads(audit_json.read_text()), meta["params"]["plant"]["labeler_id"]
        )
        print_report(path, meta, (made, gen_s), floor, audit, timings, outcome)
        if args.keep:
            print(f"\nkept {tmpdir}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
