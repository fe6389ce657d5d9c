"""``evalaudit diff OLD NEW``: what changed between two versions of an eval set.

The statistics live in :mod:`evalaudit.diff`; this module reads the two files,
prints the human summary and writes the JSON / Markdown outputs (only after
the comparison succeeded, atomically).
"""

from __future__ import annotations

import json
from typing import Any

import click

from evalaudit.commands.common import ExamplesCommand, ingest_options_from, input_options
from evalaudit.render.diff import MAX_SHOWN, render_diff_markdown, render_diff_text

__all__ = ["MAX_SHOWN", "diff", "render_diff_markdown", "render_diff_text"]


@click.command(
    "diff",
    cls=ExamplesCommand,
    epilog="""Examples:
  evalaudit diff v1/labels.csv v2/labels.csv
  evalaudit diff old.parquet new.parquet --json diff.json --markdown diff.md
  evalaudit diff old.csv new.csv --items items.csv --slice category
  evalaudit diff old.tsv new.tsv --label-kind ordinal --order 1,2,3,4,5

Both files are read with the same input options and must use the same label
scale. Exit codes: 0 compared, 2 usage or input error.""",
)
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@input_options
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Write the comparison as JSON."
)
@click.option(
    "--markdown", "md_out", type=click.Path(dir_okay=False), help="Write a Markdown summary."
)
@click.option(
    "--fdr",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="BH false discovery rate for the per-slice distribution tests.",
)
def diff(
    old: str, new: str, json_out: str | None, md_out: str | None, fdr: float, **kw: Any
) -> None:
    """Compare two versions OLD and NEW of an eval set.

    Reports the headline change and how much of it comes from the items added
    or removed versus labels changed on the items both versions share; items
    and labels (keyed by item_id and labeler_id) added, removed and changed;
    the labelers with the most changed labels; and the slice values whose
    label distribution changed (chi-square test, BH q-values).
    """
    from evalaudit.diff import diff_versions
    from evalaudit.render.output import write_outputs
    from evalaudit.validate import ingest

    options = ingest_options_from(kw)
    old_ing = ingest(old, options)
    new_ing = ingest(new, options)
    result = diff_versions(old_ing, new_ing, fdr=fdr)
    write_outputs(
        [
            (
                json_out,
                lambda: (
                    json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
                    + "\n"
                ),
            ),
            (md_out, lambda: render_diff_markdown(result)),
        ]
    )
    click.echo(render_diff_text(result), nl=False)
