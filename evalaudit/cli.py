"""The ``evalaudit`` command line.

Exit codes (everywhere): 0 success / pass, 1 blocked (gate, verify),
2 usage or input error, or out of memory (a resource error naming the step and the way out). A crash is never 0: it exits 2 with the message
(set ``EVALAUDIT_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from evalaudit import __version__
from evalaudit.commands.common import (
    ExamplesGroup,
    engine_option,
    gold_option,
    ingest_options_from,
    input_options,
    ppi_strata_option,
    progress_option,
    progress_wanted,
    quiet_option,
    rules_option,
)
from evalaudit.contract import InputError, Problem, ResourceError, format_problem
from evalaudit.verdicts import EXIT_BLOCKED, EXIT_INPUT, EXIT_OK

__all__ = ["EXIT_BLOCKED", "EXIT_INPUT", "EXIT_OK", "cli", "main"]


@click.group(
    cls=ExamplesGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""Examples:
  evalaudit sample sample_data --seed 7
  evalaudit audit sample_data/labels.csv
  evalaudit audit labels.parquet --json audit.json --markdown audit.md
  evalaudit validate labels.csv --column item_id=question_id --column label=verdict

Exit codes: 0 success, 1 blocked (gate), 2 usage or input error.""",
)
@click.version_option(__version__, prog_name="evalaudit")
def cli() -> None:
    """Audit the supply chain of an evaluation dataset: who labeled what, how they agree,
    who is lenient, and how the headline score depends on them."""


@cli.command(
    epilog="""Examples:
  evalaudit audit sample_data/labels.csv
  evalaudit audit labels.csv --json out/audit.json --markdown out/audit.md
  evalaudit audit labels.csv --items items.csv --labelers labelers.csv --slice category
  evalaudit audit judged.csv --judges 'gpt-*' --ppi-strata failure_mode   # humans drawn by slice
  evalaudit audit ratings.tsv --label-kind ordinal --order 1,2,3,4,5
  evalaudit audit labels.csv --profile   # per-step timings on stderr
  evalaudit audit big.parquet --engine duckdb   # out of core (auto: when the text would not fit)
  evalaudit audit db.labels --engine spark      # a table of the Spark catalog"""
)
@click.argument("file", type=click.Path(dir_okay=False))
@input_options
@engine_option
@rules_option
@ppi_strata_option
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Write the audit as JSON (DESIGN section 6).",
)
@click.option(
    "--markdown", "md_out", type=click.Path(dir_okay=False), help="Write a Markdown summary."
)
@gold_option
@click.option("--profile", is_flag=True, help="Print per-step timings on stderr.")
@quiet_option
@progress_option
def audit(
    file: str,
    gold_path: str | None,
    rules_path: str | None,
    json_out: str | None,
    md_out: str | None,
    profile: bool,
    quiet: bool,
    progress: bool,
    engine: str | None = None,
    ppi_strata: tuple[str, ...] = (),
    **kw: Any,
) -> None:
    """Audit FILE: agreement, leniency per labeler, findings, headline impact.

    Prints a summary and exits 0 when the audit ran (whatever it found; use
    `evalaudit gate` to block), 2 on usage or input error. Output files are
    written only when the audit succeeds.
    """
    from evalaudit.audit import Profiler, audit_ingested, load_inputs
    from evalaudit.render.markdown import render_markdown
    from evalaudit.render.output import write_outputs
    from evalaudit.render.text import render_text
    from evalaudit.rules import with_ppi_strata

    prof = Profiler(progress=progress_wanted(quiet, progress))
    policy, gold, ing = load_inputs(
        file, ingest_options_from(kw), rules_path, gold_path, prof, engine=engine
    )
    policy = with_ppi_strata(policy, ppi_strata)
    result = audit_ingested(ing, policy, prof, gold=gold)
    with prof.step("write outputs"):
        write_outputs([(json_out, result.to_json), (md_out, lambda: render_markdown(result))])
    click.echo(render_text(result), nl=False)
    if profile:
        from evalaudit.parallel import parallel_steps

        click.echo("step timings (s):", err=True)
        for k, v in prof.timings.items():
            peak = prof.peak_rss_mb.get(k)
            shown = f"  (peak RSS so far {peak:,.0f} MB)" if peak else ""
            click.echo(f"  {k:<20} {v:8.3f}{shown}", err=True)
        click.echo(f"  {'total':<20} {prof.elapsed():8.3f}  (wall time of the steps)", err=True)
        if parallel_steps():
            click.echo(
                "  (drift and concentration run on a second thread beside agreement and"
                " consensus, so the steps add up to more than the total; EVALAUDIT_THREADS=1"
                " runs one after the other)",
                err=True,
            )


@cli.command(
    epilog="""Examples:
  evalaudit validate labels.csv
  evalaudit validate labels.jsonl --column labeler_id=worker --json problems.json
  evalaudit validate labels.csv --export-gx suite.json   # the contract for your GX checkpoints"""
)
@click.argument("file", type=click.Path(dir_okay=False))
@input_options
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Write the validation report as JSON.",
)
@click.option(
    "--export-gx",
    "gx_out",
    type=click.Path(dir_okay=False),
    help="Write the contract as a great-expectations 1.x Expectation Suite (JSON) to run in "
    "your own checkpoints.",
)
def validate(file: str, json_out: str | None, gx_out: str | None, **kw: Any) -> None:
    """Check FILE against the data contract only (no statistics).

    Exits 0 when the file can be audited (warnings are printed), 2 otherwise.
    """
    from evalaudit.render.output import write_outputs
    from evalaudit.validate import ingest

    options = ingest_options_from(kw)
    try:
        ing = ingest(file, options)
    except InputError as exc:
        problems = _problems_json(exc.path, exc.problems, "error")
        write_outputs([(json_out, lambda: json.dumps(problems, indent=2))])
        raise
    acc = ing.accounting
    click.echo(
        f"{ing.path}: OK. Rows read {acc.rows_read:,}, usable {acc.rows_used:,}"
        + (
            f", not used {sum(acc.rows_rejected.values()):,} ("
            + ", ".join(f"{k} {v:,}" for k, v in acc.rows_rejected.items())
            + ")"
            if acc.rows_rejected
            else ""
        )
        + "."
    )
    for note in ing.notes:
        click.echo(f"Input: {note}.")
    click.echo(
        f"Items {acc.items:,}, labelers {acc.labelers:,}. Labels: {ing.label_spec.describe()}"
    )
    click.echo(f"Slices: {', '.join(ing.table.slice_columns) or 'none'} ({ing.slice_note}).")
    for p in ing.warnings:
        click.echo("warning:")
        click.echo("\n".join(format_problem(p, ing.row_label)))
    report = {**_problems_json(ing.path, list(ing.warnings), "ok"), "accounting": acc.to_dict()}
    write_outputs([(json_out, lambda: json.dumps(report, indent=2))])
    if gx_out:
        from evalaudit.gx_export import write_suite

        n = write_suite(ing, gx_out, options)
        click.echo(f"wrote the contract as a great-expectations suite ({n} expectations): {gx_out}")


def _problems_json(path: str, problems: Sequence[Problem], status: str) -> dict[str, Any]:
    return {"path": path, "status": status, "problems": [p.to_dict() for p in problems]}


@cli.command(
    epilog="""Example:
  evalaudit sample sample_data --seed 7"""
)
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--seed", default=7, show_default=True, help="Random seed.")
def sample(outdir: str, seed: int) -> None:
    """Generate the sample eval set (labels.csv, labels.parquet, truth.json, README.md)."""
    from evalaudit.simulate import write_sample

    paths = write_sample(outdir, seed=seed)
    for p in paths.values():
        click.echo(str(p))


def _register_subcommands() -> None:
    from evalaudit.commands.consensus import consensus
    from evalaudit.commands.diff import diff
    from evalaudit.commands.gate import gate, verify
    from evalaudit.commands.report import report
    from evalaudit.commands.review import review
    from evalaudit.commands.rules import rules

    for command in (consensus, diff, gate, report, review, rules, verify):
        cli.add_command(command)


_register_subcommands()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to an exit code."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="evalaudit",
            standalone_mode=False,
        )
        return int(rv) if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_INPUT
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INPUT
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_INPUT
    except ResourceError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_INPUT
    except MemoryError as exc:  # outside any profiled step (rendering, writing): still a resource
        from evalaudit.audit import out_of_memory

        click.echo(f"error: {out_of_memory(exc, None, None, None)}", err=True)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a crash must never look like success
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        if os.environ.get("EVALAUDIT_DEBUG"):
            traceback.print_exc()
        else:
            click.echo("(set EVALAUDIT_DEBUG=1 for the traceback; please report it)", err=True)
        return EXIT_INPUT


def tune_allocator() -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the system,
    except for the largest arrays.

    An audit of 10^7 labels allocates and frees hundreds of temporary arrays of
    10-80 MB. glibc serves each from a fresh ``mmap`` and unmaps it on free, so every
    one is page-faulted and zeroed by the kernel again: measured on the scale
    benchmark (``benchmarks/scale.py --rows 1e7``), 25 s of 70 s were system time.
    With a high trim threshold, freed arrays below 32 MB are reused from the heap;
    arrays from 32 MB up (one int32 or float64 per label at 10^7 labels) still get their
    own ``mmap`` and go back to the system when freed, which keeps the heap from
    fragmenting into the peak. 10^7 labels, whole audit, two runs each on a quiet machine:
    2.26-2.34 GB peak RSS in 25-28 s (6.7-8.8 s system time), against 2.66-2.74 GB in
    22.5-22.7 s (4.5-5.0 s) with every array on the heap: the memory decides which files
    fit, so the peak wins over ~3 s. One arena lets the second thread's freed memory serve
    the main thread and back. Applied only by the process entry points
    (``evalaudit``, ``python -m evalaudit``), only on glibc, and not when the user set
    any ``MALLOC_*`` variable. Returns whether it was applied.
    """
    _arrow_on_malloc()
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # from glibc's <malloc.h>
    # one arena: memory the drift thread frees is reusable by the main thread (and back)
    return (
        bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD))
        and bool(mallopt(m_trim_threshold, 2**31 - 1))
        and bool(mallopt(m_arena_max, 1))
    )


#: Allocations from this size get their own ``mmap`` (see :func:`tune_allocator`).
MMAP_THRESHOLD = 32 * 1024**2


def _arrow_on_malloc() -> bool:
    """Let Arrow allocate through the C library's ``malloc`` (its "system" pool).

    Arrow's default pool (mimalloc) keeps what a reader thread freed in that
    thread's heap: the two-thread Parquet read of 10^7 labels held 2.0 GB
    resident for 0.9 GB of live arrays, against 1.17 GB with the system pool,
    which was also faster (3.5 s against 5.0 s; ``read_parquet_coded`` on the
    scale benchmark's file). Through ``malloc``, the memory Arrow frees after
    the read serves the statistics' numpy arrays. Not when the user chose a pool
    (``ARROW_DEFAULT_MEMORY_POOL``). Returns whether it was applied.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return False
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except (ImportError, NotImplementedError):  # pragma: no cover - a build without it
        return False
    return True


def _entry() -> None:  # pragma: no cover
    tune_allocator()
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    tune_allocator()
    sys.exit(main())
