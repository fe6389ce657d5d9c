"""The Python API: ``evalaudit.audit``, ``evalaudit.gate`` and ``evalaudit.read_labels``.

They take what the CLI takes, as keyword arguments, and give the same figures: the
CLI's ``audit`` and ``gate`` commands run the same ingest and the same pipeline
(:func:`evalaudit.audit.audit_ingested`, :func:`evalaudit.gate.run_gate`). ``data`` is

- a path (CSV, TSV, Parquet, JSON Lines, compressed or not, or a labeling-tool export;
  see :mod:`evalaudit.readers`), or
- a pandas DataFrame, or anything with the Arrow PyCapsule stream interface
  (``__arrow_c_stream__``: a pyarrow Table, a polars DataFrame), one row per label.

Columns are those of the contract (``item_id``, ``labeler_id``, ``label``, optional
``timestamp``, ``vendor``, ``batch``, ``model``, ...); crowd-kit's ``task`` and
``worker`` are recognised, and ``columns={"item_id": "question_id"}`` maps others.
Bad input raises :class:`evalaudit.contract.InputError` with every problem found
(``str(exc)`` is the CLI's report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalaudit.contract import LabelKind

if TYPE_CHECKING:
    from evalaudit.gate import GateResult
    from evalaudit.result import AuditResult
    from evalaudit.rules import Policy
    from evalaudit.validate import Ingested, IngestOptions

__all__ = ["audit", "gate", "read_labels"]


def _options(
    *,
    format: str | None,
    columns: Mapping[str, str] | None,
    items: str | Path | None,
    labelers: str | Path | None,
    label_kind: str | LabelKind | None,
    positive: str | None,
    order: Sequence[str] | None,
    labels: Sequence[str] | None,
    slices: Sequence[str] | None,
    duplicates: str,
    version: str | None,
    delimiter: str | None,
    control: str | None,
    skip_invalid: bool,
    labels_exact: bool,
    judges: Sequence[str] | str | None = None,
) -> IngestOptions:
    from evalaudit.io import parse_delimiter
    from evalaudit.validate import IngestOptions

    if duplicates not in ("error", "keep-last"):
        raise ValueError(f"duplicates={duplicates!r}: use 'error' or 'keep-last'")
    if isinstance(slices, str) or isinstance(order, str) or isinstance(labels, str):
        raise TypeError("slices, order and labels take a list of values, e.g. order=['1', '2']")
    if isinstance(judges, str):
        judges = [judges]
    return IngestOptions(
        fmt=format,
        items=str(items) if items is not None else None,
        labelers=str(labelers) if labelers is not None else None,
        column_map=dict(columns or {}),
        label_kind=LabelKind(label_kind) if label_kind is not None else None,
        positive=str(positive) if positive is not None else None,
        order=tuple(str(v) for v in order) if order else None,
        labels=tuple(str(v) for v in labels) if labels else None,
        slices=tuple(slices) if slices is not None else None,
        duplicates=duplicates,  # type: ignore[arg-type]
        version=version,
        delimiter=parse_delimiter(delimiter) if delimiter is not None else None,
        control=control,
        skip_invalid=skip_invalid,
        labels_exact=labels_exact,
        judges=tuple(str(g) for g in judges or ()),
    )


def _ingest(data: Any, options: IngestOptions, engine: str | None = None) -> Ingested:
    from evalaudit.engine import ingest_with
    from evalaudit.io import frame_to_raw

    if isinstance(data, str | Path):
        return ingest_with(str(data), options, engine)
    if options.fmt is not None:
        raise ValueError("format= applies to files; a DataFrame or Arrow table is read as it is")
    return ingest_with(frame_to_raw(data), options, engine)


def _policy(rules: str | Path | Policy | None) -> Policy:
    from evalaudit.rules import Policy, load_policy

    return rules if isinstance(rules, Policy) else load_policy(rules)


def _with_strata(policy: Policy, strata: Sequence[str] | str | None) -> Policy:
    from evalaudit.rules import with_ppi_strata

    return with_ppi_strata(policy, [strata] if isinstance(strata, str) else strata, "ppi_strata=")


def read_labels(
    data: Any,
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    items: str | Path | None = None,
    labelers: str | Path | None = None,
    label_kind: str | LabelKind | None = None,
    positive: str | None = None,
    order: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    slices: Sequence[str] | None = None,
    duplicates: str = "error",
    version: str | None = None,
    delimiter: str | None = None,
    control: str | None = None,
    skip_invalid: bool = False,
    labels_exact: bool = False,
    judges: Sequence[str] | str | None = None,
    engine: str | None = None,
) -> Ingested:
    """Read and validate ``data`` as ``evalaudit validate`` does, without any statistic.

    Returns the :class:`~evalaudit.validate.Ingested` input: ``.table`` (the
    LabelTable), ``.label_spec``, ``.accounting`` (rows read / used / set aside by
    reason), ``.warnings`` and ``.notes`` (what was done to read it). The options are
    the CLI's: ``columns`` is ``--column`` as a dict (canonical -> yours), ``slices``
    ``--slice``, ``order`` / ``labels`` lists of values, ``duplicates`` ``"error"`` or
    ``"keep-last"``, ``judges`` ``--judges`` (labeler-id globs naming the LLM judges; a
    ``labeler_type`` column, human / model, in the data or ``labelers`` does the same).
    ``engine`` (``"memory"``, ``"duckdb"``, ``"spark"``; default auto,
    by file size) is where a file is scanned and checked (:mod:`evalaudit.engine`).
    """
    opts = _options(
        format=format,
        columns=columns,
        items=items,
        labelers=labelers,
        label_kind=label_kind,
        positive=positive,
        order=order,
        labels=labels,
        slices=slices,
        duplicates=duplicates,
        version=version,
        delimiter=delimiter,
        control=control,
        skip_invalid=skip_invalid,
        labels_exact=labels_exact,
        judges=judges,
    )
    return _ingest(data, opts, engine)


def audit(
    data: Any,
    *,
    rules: str | Path | Policy | None = None,
    gold: str | Path | None = None,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    items: str | Path | None = None,
    labelers: str | Path | None = None,
    label_kind: str | LabelKind | None = None,
    positive: str | None = None,
    order: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    slices: Sequence[str] | None = None,
    duplicates: str = "error",
    version: str | None = None,
    delimiter: str | None = None,
    control: str | None = None,
    skip_invalid: bool = False,
    labels_exact: bool = False,
    judges: Sequence[str] | str | None = None,
    engine: str | None = None,
    ppi_strata: Sequence[str] | str | None = None,
) -> AuditResult:
    """Audit ``data`` as ``evalaudit audit`` does; returns the :class:`AuditResult`.

    ``rules`` is a policy file (default ``rules/default.yaml``) or a loaded Policy;
    ``gold`` a gold-answers file (``item_id,gold_label``). The result holds the tables
    as DataFrames (``.labelers``, ``.cells``, ``.drift``, ``.findings_table``; the
    findings themselves in ``.findings``), the ``.headline``, the ``.verdict`` and
    ``.to_json()`` (the CLI's ``--json``); in a notebook it shows as a summary.
    ``engine`` is ``evalaudit audit --engine``: ``"memory"``, ``"duckdb"`` (out of core) or
    ``"spark"`` (a path or a table of the active Spark session); default by file size.
    ``ppi_strata`` is ``--ppi-strata``: the slice columns the human subset of LLM-judged
    items was drawn by (``headline.ppi`` is then stratified; overrides the policy's
    ``ppi_strata``; an unknown column raises InputError).
    """
    from evalaudit.audit import audit_ingested

    policy = _with_strata(_policy(rules), ppi_strata)
    gold_series = None
    if gold is not None:
        from evalaudit.stats.consensus import read_gold

        gold_series = read_gold(gold)
    ing = read_labels(
        data,
        format=format,
        columns=columns,
        items=items,
        labelers=labelers,
        label_kind=label_kind,
        positive=positive,
        order=order,
        labels=labels,
        slices=slices,
        duplicates=duplicates,
        version=version,
        delimiter=delimiter,
        control=control,
        skip_invalid=skip_invalid,
        labels_exact=labels_exact,
        judges=judges,
        engine=engine,
    )
    return audit_ingested(ing, policy, gold=gold_series)


def gate(
    data: Any,
    *,
    rules: str | Path | Policy | None = None,
    reviews: str | Path | None = None,
    home: str | Path | None = None,
    baseline: str | Path | None = None,
    gold: str | Path | None = None,
    today: date | None = None,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    items: str | Path | None = None,
    labelers: str | Path | None = None,
    label_kind: str | LabelKind | None = None,
    positive: str | None = None,
    order: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    slices: Sequence[str] | None = None,
    duplicates: str = "error",
    version: str | None = None,
    delimiter: str | None = None,
    control: str | None = None,
    skip_invalid: bool = False,
    labels_exact: bool = False,
    judges: Sequence[str] | str | None = None,
    ppi_strata: Sequence[str] | str | None = None,
    engine: str | None = None,
) -> GateResult:
    """Gate ``data`` as ``evalaudit gate`` does; returns the verdict object.

    :class:`~evalaudit.gate.GateResult`: ``.verdict`` (pass / warn / block),
    ``.exit_code`` (0 or 1, what the CLI exits with), ``.blocking`` and
    ``.warnings`` (finding dicts), ``.audit`` (the AuditResult) and ``.to_json()``.
    ``reviews`` is an exported decisions file, ``home`` the local review store,
    ``baseline`` the previous version (a path), ``today`` the day review expiry is
    judged on (default: today, UTC), ``ppi_strata`` and ``engine`` as in :func:`audit`.
    """
    from evalaudit.gate import run_gate
    from evalaudit.io import frame_to_raw

    opts = _options(
        format=format,
        columns=columns,
        items=items,
        labelers=labelers,
        label_kind=label_kind,
        positive=positive,
        order=order,
        labels=labels,
        slices=slices,
        duplicates=duplicates,
        version=version,
        delimiter=delimiter,
        control=control,
        skip_invalid=skip_invalid,
        labels_exact=labels_exact,
        judges=judges,
    )
    source = str(data) if isinstance(data, str | Path) else frame_to_raw(data)
    return run_gate(
        source,  # type: ignore[arg-type]
        _with_strata(_policy(rules), ppi_strata),
        opts,
        baseline=str(baseline) if baseline is not None else None,
        reviews=str(reviews) if reviews is not None else None,
        home=str(home) if home is not None else None,
        gold_path=str(gold) if gold is not None else None,
        today=today,
        engine=engine,
    )
