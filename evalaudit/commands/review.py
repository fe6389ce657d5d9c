"""``evalaudit review``: record, list and export review decisions on findings.

The store and the file format live in :mod:`evalaudit.reviews`; this module
parses the options (bad input exits 2 with a message naming the option),
prints tables and confirmations.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from evalaudit.commands.common import ExamplesCommand, ExamplesGroup
from evalaudit.reviews import (
    REVIEWS_DB,
    Decision,
    ReviewStore,
    StoreError,
    check_by,
    check_finding_id,
    check_reason,
    check_until,
    default_home,
    export_yaml,
    utc_today,
)

__all__ = ["review"]

_HOME_HELP = "Directory of the review store reviews.db (default: $EVALAUDIT_HOME, else .evalaudit/ at the git work-tree root, else ./.evalaudit)."


@click.group(
    "review",
    cls=ExamplesGroup,
    epilog="""Examples:
  evalaudit review dismiss lenient_labeler:lab017 --by alice --reason "gold set was updated"
  evalaudit review confirm tilted_slice:lab017:failure_mode=hallucination --by bob --reason "spot-checked 20 labels"
  evalaudit review dismiss labeler_drift:lab004 --by alice --reason "new guideline" --until 2027-12-31
  evalaudit review list
  evalaudit review list --all
  evalaudit review export reviews.yaml
  evalaudit gate labels.csv --reviews reviews.yaml

Decisions are stored in $EVALAUDIT_HOME/reviews.db (default .evalaudit/ at the git work-tree root, else ./.evalaudit/).
For each finding the latest decision applies; one with --until applies through
that day (UTC), then expires. Exit codes: 0 success, 2 usage or input error.""",
)
def review() -> None:
    """Record, list and export review decisions on findings.

    A dismissed finding does not block the gate (it is listed with who and
    why); a confirmed one has its labels excluded in the counterfactual.
    """


# ------------------------------------------------------------------ options
def _validated(check: Any) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return callback


def _until(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        until = check_until(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if until is not None and date.fromisoformat(until) < utc_today():
        raise click.BadParameter(
            f"{until} is in the past (today is {utc_today()} UTC): the decision would never apply",
            ctx=ctx,
            param=param,
        )
    return until


def _home_option(f: Any) -> Any:
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=_HOME_HELP,
    )(f)


def _store_path(home: Path | None) -> Path:
    return (home if home is not None else default_home()) / REVIEWS_DB


def _open(home: Path | None) -> ReviewStore:
    try:
        return ReviewStore(_store_path(home))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _decide(action: str) -> click.Command:
    verb = "Dismiss" if action == "dismiss" else "Confirm"
    meaning = (
        "it does not block the gate; it is listed as dismissed with who and why"
        if action == "dismiss"
        else "its labels are excluded in the gate's counterfactual"
    )
    example_id = (
        "lenient_labeler:lab017"
        if action == "dismiss"
        else "tilted_slice:lab017:failure_mode=hallucination"
    )

    @click.command(
        action,
        cls=ExamplesCommand,
        help=f"{verb} the finding FINDING_ID: {meaning}.",
        epilog=f"""Examples:
  evalaudit review {action} {example_id} --by alice --reason "checked 30 labels by hand"
  evalaudit review {action} {example_id} --by alice --reason "until the re-labeling lands" --until 2027-12-31
  evalaudit review {action} {example_id} --by ci-bot --reason "..." --home /srv/evalaudit

FINDING_ID is the stable id printed by `evalaudit audit` and `evalaudit gate`.
Exit codes: 0 recorded, 2 usage or input error.""",
    )
    @click.argument("finding_id", callback=_validated(check_finding_id))
    @click.option("--by", required=True, callback=_validated(check_by), help="Who decides.")
    @click.option(
        "--reason", required=True, callback=_validated(check_reason), help="Why (one sentence)."
    )
    @click.option(
        "--until",
        metavar="YYYY-MM-DD",
        callback=_until,
        help="The decision applies through this day (UTC), then expires. Default: no expiry.",
    )
    @_home_option
    def command(
        finding_id: str, by: str, reason: str, until: str | None, home: Path | None
    ) -> None:
        decision = Decision.create(finding_id, action, by, reason, until)
        with _open(home) as store:
            try:
                stored = store.record(decision)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from None
        expiry = f", until {stored.until}" if stored.until else ""
        click.echo(
            f"{action}ed {stored.finding_id} (by {stored.by}{expiry}) in {_store_path(home)}"
        )

    return command


review.add_command(_decide("dismiss"))
review.add_command(_decide("confirm"))


# ------------------------------------------------------------------ list
def _status(d: Decision, latest: Decision | None, today: date) -> str:
    if latest is not None and latest != d:
        return "superseded"
    return "expired" if d.expired(today) else "active"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


@review.command(
    "list",
    epilog="""Examples:
  evalaudit review list
  evalaudit review list --all
  evalaudit review list --home /srv/evalaudit

Without --all: the latest decision of each finding; an expired one is marked
'expired' (it no longer applies). With --all: every decision, older ones
marked 'superseded'. Exit codes: 0 success, 2 usage or input error.""",
)
@click.option("--all", "show_all", is_flag=True, help="Every decision ever recorded (history).")
@_home_option
def list_(show_all: bool, home: Path | None) -> None:
    """List the review decisions of the store."""
    path = _store_path(home)
    if not path.is_file():
        click.echo(f"no review decisions (no store at {path})")
        return
    today = utc_today()
    with _open(home) as store:
        try:
            latest = store.latest()
            history = store.all() if show_all else list(latest.values())
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    if not history:
        click.echo(f"no review decisions in {path}")
        return
    shown = sorted(history, key=lambda d: (d.finding_id, d.recorded_at))
    rows = []
    for d in shown:
        rows.append(
            [
                d.finding_id,
                d.action,
                _status(d, latest.get(d.finding_id), today),
                d.by,
                d.until or "-",
                d.recorded_at[:19] + "Z",
                " ".join(d.reason.split()),
            ]
        )
    header = ["FINDING ID", "ACTION", "STATUS", "BY", "UNTIL", "RECORDED AT (UTC)", "REASON"]
    click.echo(_table(rows, header))
    active = sum(1 for d in latest.values() if not d.expired(today))
    click.echo(
        f"\n{len(latest)} finding(s) reviewed: {active} active, {len(latest) - active} expired"
        + (f"; {len(history)} decision(s) in total" if show_all else "")
        + f" ({path})"
    )


# ------------------------------------------------------------------ export
@review.command(
    "export",
    epilog="""Examples:
  evalaudit review export reviews.yaml
  evalaudit review export evalsets/v3/reviews.yaml --home /srv/evalaudit
  evalaudit gate labels.csv --reviews reviews.yaml

Writes every decision (the history); the gate applies the latest per finding.
Commit the file beside the eval set: CI has no local store.
Exit codes: 0 written, 2 usage or input error.""",
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_home_option
def export(file: Path, home: Path | None) -> None:
    """Write the review decisions to the YAML FILE read by `gate --reviews`."""
    path = _store_path(home)
    if not path.is_file():
        raise click.ClickException(
            f"no review store at {path}: record decisions with `evalaudit review dismiss` or "
            "`confirm`, or point --home / $EVALAUDIT_HOME at the right directory"
        )
    with _open(home) as store:
        try:
            decisions = store.all()
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    n = export_yaml(decisions, file)
    findings = len({d.finding_id for d in decisions})
    click.echo(f"wrote {n} decision(s) on {findings} finding(s) to {file}")
