"""``evalaudit gate`` and ``evalaudit verify``."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from evalaudit.commands.common import (
    ExamplesCommand,
    engine_option,
    gold_option,
    ingest_options_from,
    input_options,
    ppi_strata_option,
    progress_option,
    progress_wanted,
    quiet_option,
    review_source_options,
    rules_option,
)

__all__ = ["gate", "verify"]


@click.command(
    cls=ExamplesCommand,
    epilog="""Examples:
  evalaudit gate sample_data/labels.csv
  evalaudit gate labels.csv --rules rules/strict.yaml --reviews reviews.yaml \\
      --json gate.json --markdown "$GITHUB_STEP_SUMMARY" --junit gate.xml --attest gate.intoto.json
  evalaudit gate new/labels.csv --baseline old/labels.csv
  evalaudit gate big.parquet --engine duckdb   # out of core
  evalaudit gate judged.csv --ppi-strata failure_mode   # humans drawn by failure mode
  evalaudit gate labels.csv --annotations github   # ::error lines for a GitHub Actions step

Exit codes: 0 pass (warnings allowed), 1 blocked by a finding, 2 usage or input error.""",
)
@click.argument("data", type=click.Path(dir_okay=False))
@input_options
@engine_option
@rules_option
@ppi_strata_option
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="The previous version of the eval set: adds the version diff.",
)
@review_source_options
@gold_option
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the verdict JSON.")
@click.option(
    "--markdown",
    "md_out",
    type=click.Path(dir_okay=False),
    help="Write a Markdown summary (e.g. to $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--junit",
    "junit_out",
    type=click.Path(dir_okay=False),
    help="Write JUnit XML, one test case per rule.",
)
@click.option(
    "--attest",
    "attest_out",
    type=click.Path(dir_okay=False),
    help="Write an in-toto Statement v1 of what was gated: the input files' sha256 as subjects; "
    "the policy file's digest, the keys options set over it (policy.set_for_run: ppi_strata), "
    "the input options and --as-of (options), the verdict and the decisions applied.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge review expiry as of this date (default: today, UTC).",
)
@click.option(
    "--annotations",
    type=click.Choice(["github"]),
    help="Also print CI annotations: 'github' writes workflow commands (::error for blocking "
    "findings, ::warning for warnings, 10 each; file= and line= for input problems).",
)
@click.option(
    "--nofail",
    is_flag=True,
    help="Exit 0 even when blocked (roll-out mode); input errors still exit 2.",
)
@quiet_option
@progress_option
def gate(
    data: str,
    rules_path: str | None,
    baseline: str | None,
    reviews: str | None,
    home: str | None,
    gold_path: str | None,
    json_out: str | None,
    md_out: str | None,
    junit_out: str | None,
    attest_out: str | None,
    as_of: Any,
    annotations: str | None,
    nofail: bool,
    quiet: bool,
    progress: bool,
    ppi_strata: tuple[str, ...] = (),
    engine: str | None = None,
    **kw: Any,
) -> int:
    """Decide whether eval-set DATA can be promoted under the policy and review decisions."""
    from evalaudit.audit import Profiler
    from evalaudit.gate import (
        attestation,
        render_gate_markdown,
        render_gate_text,
        render_junit,
        run_gate,
    )
    from evalaudit.render.output import write_outputs
    from evalaudit.rules import load_policy, with_ppi_strata

    options = ingest_options_from(kw)
    policy = with_ppi_strata(load_policy(rules_path), ppi_strata)
    today: date | None = as_of.date() if as_of else None
    from evalaudit.contract import InputError

    if not quiet and reviews is None:
        from evalaudit.reviews import describe_home

        click.echo(f"evalaudit: review decisions from {describe_home(home)}", err=True)
    try:
        g = run_gate(
            data,
            policy,
            options,
            baseline=baseline,
            reviews=reviews,
            home=home,
            gold_path=gold_path,
            today=today,
            profiler=Profiler(progress=progress_wanted(quiet, progress)),
            engine=engine,
        )
    except InputError as exc:
        if annotations == "github":
            from evalaudit.render.annotations import github_problem_annotations

            click.echo(github_problem_annotations(exc.path, exc.problems, exc.row_label), nl=False)
        raise
    outputs = [
        (json_out, g.to_json),
        (md_out, lambda: render_gate_markdown(g)),
        (junit_out, lambda: render_junit(g)),
        (attest_out, lambda: attestation(g)),
    ]
    write_outputs(outputs)
    click.echo(render_gate_text(g), nl=False)
    if annotations == "github":
        from evalaudit.render.annotations import github_annotations

        click.echo(github_annotations(g), nl=False)
    return 0 if nofail else g.exit_code


@click.command(
    cls=ExamplesCommand,
    epilog="""Example:
  evalaudit verify gate.intoto.json labels.csv

Exit codes: 0 the file is the one that was gated, 1 it is not, 2 bad attestation or path.""",
)
@click.argument("attestation_file", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
def verify(attestation_file: str, data: str) -> int:
    """Check that DATA is the data file an attestation from `gate --attest` was made for."""
    from evalaudit.gate import verify_attestation

    v = verify_attestation(attestation_file, data)
    click.echo(("OK: " if v.ok else "MISMATCH: ") + v.message)
    return 0 if v.ok else 1
