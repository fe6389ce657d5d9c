"""``evalaudit report``: the scheduled report (HTML + Markdown + JSON) with a run history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from evalaudit.audit import MAX_DRIFT_CHARTS, drift_labelers
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

__all__ = ["MAX_DRIFT_CHARTS", "drift_labelers", "report"]


@click.command(
    cls=ExamplesCommand,
    epilog="""Examples:
  evalaudit report sample_data/labels.csv --out report/
  evalaudit report labels.parquet --out public/eval-report --title "Eval set v3, weekly" \\
      --history /var/lib/evalaudit/history.db
  evalaudit report labels.csv --out out/ --nofail      # never fail the scheduler on a block
  evalaudit report big.parquet --out out/ --engine duckdb   # out of core

Writes OUT/report.html (one self-contained file: inline SVG charts, no script, no
network), OUT/report.md and OUT/audit.json, and appends this run to the history
($EVALAUDIT_HOME/history.db, default .evalaudit/history.db at the git work-tree root) so the report can show
the trend and what is new since the previous run. Scheduling: docs/scheduling.md.

Exit codes: 0 pass or warn, 1 the verdict is block (so a scheduler can alert; --nofail
makes it 0), 2 usage or input error (nothing is written).""",
)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for report.html, report.md and audit.json (created if missing).",
)
@input_options
@engine_option
@rules_option
@ppi_strata_option
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False),
    help="History store (default: $EVALAUDIT_HOME/history.db, else .evalaudit/ at the git work-tree root, else ./.evalaudit/).",
)
@click.option("--no-history", is_flag=True, help="Neither read nor append to the history.")
@click.option("--title", help="Report title (default: from the data file name).")
@click.option(
    "--series",
    help="Name of this report's run series in the history (default: the --title, else the "
    "data path): runs of one series make one trend.",
)
@gold_option
@click.option(
    "--nofail",
    is_flag=True,
    help="Exit 0 even when the verdict is block; input errors still exit 2.",
)
@review_source_options
@click.option("--profile", is_flag=True, help="Print per-step timings on stderr.")
@quiet_option
@progress_option
def report(
    data: str,
    out_dir: str,
    rules_path: str | None,
    history_path: str | None,
    no_history: bool,
    title: str | None,
    series: str | None,
    gold_path: str | None,
    nofail: bool,
    reviews: str | None,
    home: str | None,
    profile: bool,
    quiet: bool,
    progress: bool,
    ppi_strata: tuple[str, ...] = (),
    engine: str | None = None,
    **kw: Any,
) -> int:
    """Write a self-contained HTML report (plus Markdown and JSON) of the audit of DATA."""

    from evalaudit.audit import Profiler, load_inputs
    from evalaudit.history import (
        HistoryError,
        HistoryStore,
        compare_runs,
        default_history_path,
        default_series,
        summarize,
    )
    from evalaudit.render.html import (
        MAX_TREND_RUNS,
        ReportData,
        render_html,
        render_report_markdown,
    )
    from evalaudit.render.output import write_outputs

    if no_history and history_path:
        raise click.UsageError("--history and --no-history exclude each other")
    prof = Profiler(progress=progress_wanted(quiet, progress))
    policy, gold, ing = load_inputs(
        data, ingest_options_from(kw), rules_path, gold_path, prof, engine=engine
    )
    from evalaudit.rules import with_ppi_strata

    policy = with_ppi_strata(policy, ppi_strata)
    from evalaudit.gate import audit_with_reviews, reviewed_result
    from evalaudit.reviews import decisions_for_gate, utc_today

    decisions = decisions_for_gate(reviews, home)
    result, outcome = audit_with_reviews(ing, policy, decisions, utc_today(), gold, prof)
    result = reviewed_result(result, outcome)
    timeline = result.timelines  # computed by the audit

    now = datetime.now(UTC)
    run_series = series.strip() if series and series.strip() else default_series(data, title)
    summary = summarize(result, run_series, title=title, recorded_at=now)
    store = None
    past: list[Any] = []
    hist_file = None
    if not no_history:
        hist_file = Path(history_path) if history_path else default_history_path()
        try:
            store = HistoryStore(hist_file)
            past = store.runs(run_series, limit=MAX_TREND_RUNS - 1)
        except HistoryError as exc:
            if store is not None:
                store.close()
            raise click.ClickException(str(exc)) from None
    try:
        changes = compare_runs(past[-1] if past else None, summary) if store is not None else None
        report_data = ReportData(
            result=result,
            title=title,
            generated_at=summary.recorded_at[:19] + "Z",
            timeline=timeline,
            history=(*past, summary) if store is not None else (),
            changes=changes,
            history_path=str(hist_file) if hist_file else None,
        )
        with prof.step("render"):
            html = render_html(report_data)
            md = render_report_markdown(report_data)
            js = result.to_json()
        out = Path(out_dir)
        with prof.step("write outputs"):
            write_outputs(
                (out / name, lambda t=text: t)
                for name, text in (("audit.json", js), ("report.md", md), ("report.html", html))
            )
        if store is not None:
            try:
                store.append(summary)
            except HistoryError as exc:
                raise click.ClickException(
                    f"{exc} (the report was written to {out}; this run is missing from the history)"
                ) from None
    finally:
        if store is not None:
            store.close()

    line = f"{out / 'report.html'}: verdict {result.verdict.upper()}"
    if changes is not None and not changes.first_run:
        line += (
            f"; since the previous run: {len(changes.new_findings)} new, "
            f"{len(changes.resolved_findings)} resolved finding(s)"
        )
    elif changes is not None:
        line += "; first run in the history"
    click.echo(line + ".")
    click.echo(f"{out / 'report.md'}\n{out / 'audit.json'}")
    if profile:
        click.echo("step timings (s):", err=True)
        for k, v in prof.timings.items():
            click.echo(f"  {k:<20} {v:8.3f}", err=True)
        click.echo(f"  {'total':<20} {sum(prof.timings.values()):8.3f}", err=True)
    return 0 if nofail or result.verdict != "block" else 1
