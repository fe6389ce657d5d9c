"""Options and helpers shared by every command that reads a label file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from evalaudit.contract import LabelKind
from evalaudit.io import FORMATS

__all__ = [
    "ExamplesCommand",
    "ExamplesGroup",
    "engine_option",
    "gold_option",
    "ingest_options_from",
    "input_options",
    "ppi_strata_option",
    "progress_option",
    "progress_wanted",
    "quiet_option",
    "review_source_options",
    "rules_option",
]


class ExamplesCommand(click.Command):
    """A command whose epilog (its examples) keeps its line breaks in ``--help``."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write("\n" + self.epilog + "\n")


class ExamplesGroup(click.Group):
    """The top-level group: same epilog rule, and its subcommands default to ExamplesCommand."""

    command_class = ExamplesCommand

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog:
            formatter.write("\n" + self.epilog + "\n")


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    parts = tuple(v.strip() for v in value.split(",") if v.strip())
    if not parts:
        raise click.BadParameter("give a comma-separated list of values")
    return parts


def _column_map(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(
                f"'{v}': use canonical=theirs, e.g. item_id=question_id", param_hint="--column"
            )
        k, theirs = v.split("=", 1)
        out[k.strip()] = theirs.strip()
    return out


def input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that reads a label file."""
    opts = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(list(FORMATS)),
            help="Input format (default: from the extension and the content; labeling-tool "
            "exports are recognised by content).",
        ),
        click.option(
            "--delimiter",
            metavar="CHAR",
            help="CSV delimiter, e.g. ';' or tab (default: sniffed from the first lines).",
        ),
        click.option(
            "--control",
            metavar="NAME",
            help="The control / scorer / question / feedback key to read when a labeling-tool "
            "export holds several.",
        ),
        click.option(
            "--skip-invalid",
            is_flag=True,
            help="Set rows with a blank item_id, labeler_id or label aside (counted by reason) "
            "instead of stopping.",
        ),
        click.option(
            "--labels-exact",
            is_flag=True,
            help="Refuse label spellings that differ only in case or surrounding whitespace "
            "(default: unify them and say so).",
        ),
        click.option(
            "--items",
            type=click.Path(dir_okay=False),
            help="Side table of item attributes, joined on item_id.",
        ),
        click.option(
            "--labelers",
            type=click.Path(dir_okay=False),
            help="Side table of labeler attributes (vendor, ...), joined on labeler_id.",
        ),
        click.option(
            "--judges",
            "judges",
            multiple=True,
            metavar="GLOB",
            help="Labelers that are models (LLM judges), by labeler_id glob, e.g. --judges "
            "'gpt-*' (repeatable; or a labeler_type column: human/model).",
        ),
        click.option(
            "--column",
            "columns",
            multiple=True,
            metavar="CANONICAL=THEIRS",
            help="Map your column names, e.g. --column item_id=question_id (repeatable).",
        ),
        click.option(
            "--label-kind",
            type=click.Choice([k.value for k in LabelKind]),
            help="Level of measurement (default: auto-detected and printed).",
        ),
        click.option("--positive", help="The passing label value (binary labels)."),
        click.option("--order", help="Ordinal scale, lowest first: --order 1,2,3,4,5"),
        click.option("--labels", "label_set", help="The allowed label values: --labels a,b,c"),
        click.option(
            "--slice",
            "slices",
            multiple=True,
            metavar="COL",
            help="Use these item columns as slices (repeatable; default: auto).",
        ),
        click.option(
            "--duplicates",
            type=click.Choice(["error", "keep-last"]),
            default="error",
            show_default=True,
            help="Conflicting (item, labeler) duplicates: stop, or keep the latest.",
        ),
        click.option(
            "--version", "version_", help="Audit this eval-set version when the file holds several."
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def ingest_options_from(kw: dict[str, Any]) -> Any:
    """Pop the input options of :func:`input_options` from ``kw`` into an IngestOptions."""
    from evalaudit.validate import IngestOptions

    return IngestOptions(
        fmt=kw.pop("fmt"),
        items=kw.pop("items"),
        labelers=kw.pop("labelers"),
        column_map=_column_map(kw.pop("columns")),
        label_kind=LabelKind(kw.pop("label_kind"))
        if kw.get("label_kind")
        else kw.pop("label_kind"),
        positive=kw.pop("positive"),
        order=_split(kw.pop("order")),
        labels=_split(kw.pop("label_set")),
        slices=tuple(kw.pop("slices")) or None,
        duplicates=kw.pop("duplicates"),
        version=kw.pop("version_"),
        delimiter=_delimiter_option(kw.pop("delimiter", None)),
        control=kw.pop("control", None),
        skip_invalid=bool(kw.pop("skip_invalid", False)),
        labels_exact=bool(kw.pop("labels_exact", False)),
        judges=tuple(kw.pop("judges", ()) or ()),
    )


def _delimiter_option(value: str | None) -> str | None:
    if value is None:
        return None
    from evalaudit.io import parse_delimiter

    try:
        return parse_delimiter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--delimiter") from None


# ---------------------------------------------------------------- options shared by commands
rules_option = click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False),
    help="Policy file (default: rules/default.yaml).",
)
gold_option = click.option(
    "--gold",
    "gold_path",
    type=click.Path(dir_okay=False),
    help="Gold answers (item_id,gold_label) for per-labeler gold accuracy.",
)
engine_option = click.option(
    "--engine",
    type=click.Choice(["auto", "memory", "duckdb", "spark"]),
    default=None,
    help="Where the file is read and validated: memory (pandas), duckdb (embedded, out of "
    "core) or spark (pyspark; the file may be a table name). Default auto: duckdb when the "
    "in-memory read would not fit the memory available (EVALAUDIT_MEMORY states it) and DuckDB's "
    "would need less; EVALAUDIT_ENGINE sets the default. The statistics and figures are the same.",
)
ppi_strata_option = click.option(
    "--ppi-strata",
    "ppi_strata",
    multiple=True,
    metavar="COL",
    help="The human subset of LLM-judged items was drawn by this slice column: the PPI "
    "headline is stratified by it (inverse-probability weights; repeatable, the strata are "
    "the combinations; overrides the policy key ppi_strata; default: humans a uniform random "
    "subset).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress messages on stderr.")
progress_option = click.option(
    "--progress",
    "progress",
    is_flag=True,
    help="A progress line per step on stderr (rows done / total, rate) even when stderr is "
    "not a terminal; the default shows them on a terminal only, and -q never.",
)


def progress_wanted(quiet: bool, progress: bool) -> bool:
    """Progress lines: when asked (``--progress``), else on a terminal unless ``-q``."""
    if progress:
        return True
    from evalaudit.progress import stderr_is_terminal

    return not quiet and stderr_is_terminal()


def review_source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--reviews FILE`` (an exported decisions file) and ``--home DIR`` (the local store)."""
    f = click.option(
        "--home",
        type=click.Path(file_okay=False),
        help="Directory of the local review store (default: $EVALAUDIT_HOME, else .evalaudit/ at the git work-tree root, else ./.evalaudit).",
    )(f)
    return click.option(
        "--reviews",
        type=click.Path(dir_okay=False),
        help="Review decisions exported with `evalaudit review export` (default: the local "
        "store in $EVALAUDIT_HOME, if any).",
    )(f)
