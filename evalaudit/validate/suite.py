"""The row-level checks of the contract, declared once, and their two executors.

:func:`contract_checks` is the declaration; :func:`build_suite` turns it into a
great-expectations suite and :func:`_validate_fast` evaluates it vectorized with GX's
semantics (see the package docstring); :func:`contract_engine` picks one.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import (
    GOLD,
    ITEM_ID,
    LABEL,
    LABELER_ID,
    MAX_ROWS_SHOWN,
    REQUIRED_COLUMNS,
    RESERVED_COLUMNS,
    ROW,
    TIMESTAMP,
    LabelKind,
    LabelSpec,
    Problem,
)
from evalaudit.io import RawFile
from evalaudit.validate.codes import _duplicated_keys, _item_repeats
from evalaudit.validate.options import IngestOptions
from evalaudit.validate.reasons import Check

# ------------------------------------------------------------------ the GX suite
#: Derived columns the suite checks; they hold a value only where the raw value is present.
LABEL_NUMBER = "label__as_number"
TIMESTAMP_PARSED = "timestamp__parsed"

#: Inputs up to this many rows are validated by great-expectations itself; larger ones by
#: the vectorized executor of the same declared checks (see the module docstring).
GX_MAX_ROWS = 200_000
#: ``EVALAUDIT_CONTRACT=gx`` forces the GX executor, ``fast`` the vectorized one.
CONTRACT_ENV = "EVALAUDIT_CONTRACT"


@dataclass(frozen=True)
class ContractCheck:
    """One declared row-level check of the contract (one GX expectation).

    ``kind`` is ``exists``, ``not_null``, ``in_set`` or ``unique``; ``columns``
    the column (or, for ``unique``, the compound key) it reads.
    """

    kind: str
    columns: tuple[str, ...]
    check: Check
    hint: str
    message: str
    value_set: tuple[str, ...] = ()


def contract_checks(spec: LabelSpec, columns: Sequence[str]) -> list[ContractCheck]:
    """The row-level checks of the contract, in suite order (the single declaration)."""
    out: list[ContractCheck] = []
    for col in REQUIRED_COLUMNS:
        out.append(
            ContractCheck(
                "exists",
                (col,),
                Check.COLUMN_EXISTS,
                f"add the column or map yours with --column {col}=YOUR_COLUMN",
                f"required column '{col}' is missing",
            )
        )
        out.append(
            ContractCheck(
                "not_null",
                (col,),
                Check.NOT_NULL,
                f"fill '{col}' on those rows or remove them from the file, or pass "
                "--skip-invalid to set them aside (counted)",
                f"'{col}' is empty",
            )
        )
    if spec.kind is LabelKind.INTERVAL:
        out.append(
            ContractCheck(
                "not_null",
                (LABEL_NUMBER,),
                Check.LABEL_VALUE,
                "interval labels must be numbers; fix those values or declare --label-kind",
                "label is not a number",
            )
        )
    else:
        allowed = ", ".join(spec.categories[:12])
        out.append(
            ContractCheck(
                "in_set",
                (LABEL,),
                Check.LABEL_VALUE,
                f"use one of the label values ({allowed}), or declare the full set with --labels "
                "/ --order",
                f"unknown label value (the scale is {spec.kind}: {allowed})",
                tuple(spec.categories),
            )
        )
        if GOLD in columns:
            out.append(
                ContractCheck(
                    "in_set",
                    (GOLD,),
                    Check.GOLD_VALUE,
                    f"gold answers must be label values ({allowed})",
                    "unknown gold value",
                    tuple(spec.categories),
                )
            )
    if TIMESTAMP in columns:
        out.append(
            ContractCheck(
                "not_null",
                (TIMESTAMP_PARSED,),
                Check.TIMESTAMP_PARSE,
                "use ISO 8601 (2026-03-02T09:15:00Z) or epoch seconds",
                "timestamp cannot be parsed",
            )
        )
    out.append(
        ContractCheck(
            "unique",
            (ITEM_ID, LABELER_ID),
            Check.DUPLICATE,
            "keep one label per (item, labeler), or pass --duplicates keep-last",
            "the same labeler labeled the same item more than once with different labels",
        )
    )
    return out


def import_gx() -> tuple[Any, Any]:
    """``great_expectations`` and its ``expectations``, imported so pyspark cannot end the run.

    With pyspark installed (the ``spark`` extra), great-expectations' compatibility
    layer imports ``pyspark.sql.connect``, whose import calls ``sys.exit(0)`` when the
    ``__main__`` module has neither ``__spec__`` nor ``__file__`` (pyspark takes that
    for a doctest run): ``python -c "..."``, embedded interpreters. The audit then
    ended silently with exit 0, a passed gate. For that one import, ``__main__``
    gets a ``__file__``.
    """
    main = sys.modules.get("__main__")
    patch = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and not hasattr(main, "__file__")
        and not hasattr(sys, "ps1")
    )
    if patch:
        main.__file__ = "<evalaudit>"  # type: ignore[union-attr]
    try:
        with warnings.catch_warnings():
            # pyspark warns on import that it does not support pandas 3 yet: not our run's news
            warnings.simplefilter("ignore", FutureWarning)
            import great_expectations as gx
            import great_expectations.expectations as gxe
    finally:
        if patch:
            del main.__file__  # type: ignore[union-attr]
    return gx, gxe


def build_suite(spec: LabelSpec, columns: Sequence[str]) -> Any:
    """The great-expectations suite for the row-level checks of the contract.

    One expectation per :func:`contract_checks` entry, each tagged (``meta``)
    with the hint shown to the user. ``columns`` are those present after
    mapping and joins.
    """
    gx, gxe = import_gx()

    _gx_context()  # GX suites need an active context
    expectations = []
    for c in contract_checks(spec, columns):
        if c.kind == "exists":
            exp = gxe.ExpectColumnToExist(column=c.columns[0])
        elif c.kind == "not_null":
            exp = gxe.ExpectColumnValuesToNotBeNull(column=c.columns[0])
        elif c.kind == "in_set":
            exp = gxe.ExpectColumnValuesToBeInSet(column=c.columns[0], value_set=list(c.value_set))
        else:
            exp = gxe.ExpectCompoundColumnsToBeUnique(column_list=list(c.columns))
        exp.meta = {"check": c.check, "hint": c.hint, "message": c.message}
        expectations.append(exp)
    return unsaved_suite(gx, "evalaudit_contract", expectations)


def unsaved_suite(gx: Any, name: str, expectations: list[Any], meta: Any = None) -> Any:
    """An ExpectationSuite holding ``expectations`` that no GX store ever sees.

    ``ExpectationSuite.add_expectation`` writes through to the *current* context's store
    whenever that store holds a suite of the same name (GX 1.x resolves a suite's store by
    name, not by object): a process whose context had saved an ``evalaudit_contract``
    suite (e.g. the one ``evalaudit validate --export-gx`` wrote, added by the user) had the
    contract's expectations appended to it per validation, each append re-serialising the
    grown suite, so validation slowed by ~0.1 s per earlier run. The constructor only binds.
    """
    return gx.ExpectationSuite(name=name, expectations=expectations, meta=meta)


@dataclass(frozen=True)
class _Failure:
    """A failed check as either executor reports it (column: the checked column)."""

    check: str
    column: str | None
    count: int
    rows: tuple[int, ...]
    hint: str
    message: str


def contract_engine(n_rows: int) -> str:
    """``gx`` or ``fast``: which executor validates an input of ``n_rows`` rows."""
    forced = os.environ.get(CONTRACT_ENV, "").strip().lower()
    if forced in ("gx", "fast"):
        return forced
    return "gx" if n_rows <= GX_MAX_ROWS else "fast"


def _run_suite(
    frame: pd.DataFrame,
    raw: RawFile,
    spec: LabelSpec,
    opts: IngestOptions,
    parsed_ts: pd.Series | None,
    engine: str | None = None,
) -> list[Problem]:
    engine = engine or contract_engine(len(frame))
    columns = [c for c in frame.columns if c in RESERVED_COLUMNS]
    derived: dict[str, pd.Series] = {}
    if spec.kind is LabelKind.INTERVAL:
        label = frame[LABEL]
        num = pd.to_numeric(label, errors="coerce")
        num = num.where(np.isfinite(num.astype("float64")), np.nan)
        derived[LABEL_NUMBER] = num.where(label.isna() | num.notna(), np.nan).fillna(
            pd.Series(0.0, index=frame.index).where(label.isna())
        )
    if parsed_ts is not None:
        ok = parsed_ts.notna() | frame[TIMESTAMP].isna()
        derived[TIMESTAMP_PARSED] = pd.Series(np.where(ok, 1.0, np.nan), index=frame.index)
    all_columns = columns + list(derived)
    if engine == "gx":
        checked = frame[columns].copy()
        for name, values in derived.items():
            checked[name] = values
        failures = _validate_gx(checked, spec, all_columns)
    else:
        failures = _validate_fast(frame, derived, spec, all_columns)
    problems: list[Problem] = []
    for f in failures:
        column = f.column
        if column in (LABEL_NUMBER, TIMESTAMP_PARSED):
            column = LABEL if column == LABEL_NUMBER else TIMESTAMP
        examples: tuple[str, ...] = ()
        if f.rows and column in frame.columns:
            vals = frame.loc[list(f.rows), column]
            examples = tuple(dict.fromkeys("" if pd.isna(v) else str(v) for v in vals))[:5]
        if f.check == "duplicate":
            column = f"{ITEM_ID}+{LABELER_ID}"
            examples = _duplicate_examples(frame, f.rows)
        message = f.message
        if f.check == "not_null":
            message = f"'{column}' is empty"
        problems.append(
            Problem(
                check=f.check,
                column=column,
                count=f.count,
                rows=f.rows,
                message=message,
                hint=f.hint,
                examples=examples,
            )
        )
    return problems


def _validate_gx(checked: pd.DataFrame, spec: LabelSpec, columns: list[str]) -> list[_Failure]:
    results = _validate_with_gx(checked, build_suite(spec, columns))
    out: list[_Failure] = []
    for res in results:
        if res.success:
            continue
        meta = res.expectation_config.meta or {}
        info = res.result or {}
        rows = tuple(
            dict.fromkeys(
                int(r[ROW] if isinstance(r, dict) else r)
                for r in (info.get("partial_unexpected_index_list") or [])
            )
        )[:MAX_ROWS_SHOWN]
        check = meta.get("check", res.expectation_config.type)
        out.append(
            _Failure(
                check=check,
                column=res.expectation_config.kwargs.get("column"),
                count=int(info.get("unexpected_count") or 0),
                rows=rows,
                hint=meta.get("hint", ""),
                message=meta.get("message", check),
            )
        )
    return out


def _validate_fast(
    frame: pd.DataFrame, derived: dict[str, pd.Series], spec: LabelSpec, columns: list[str]
) -> list[_Failure]:
    """The declared checks, vectorized over every row (the GX semantics, see the docstring)."""
    out: list[_Failure] = []
    index = frame.index.to_numpy()

    def col(name: str) -> pd.Series:
        return derived[name] if name in derived else frame[name]

    for c in contract_checks(spec, columns):
        if c.kind == "exists":
            if c.columns[0] not in columns:
                out.append(_Failure(c.check, c.columns[0], 0, (), c.hint, c.message))
            continue
        if any(name not in columns for name in c.columns):
            continue  # GX reports the missing column under column_exists only
        if c.kind == "not_null":
            bad = col(c.columns[0]).isna().to_numpy(dtype=bool)
        elif c.kind == "in_set":
            s = col(c.columns[0])
            present = s.notna().to_numpy(dtype=bool)
            bad = present & ~s.isin(list(c.value_set)).to_numpy(dtype=bool)
        else:
            keys = [col(name) for name in c.columns]
            # GX skips rows where every key is missing
            any_present = np.zeros(len(frame), dtype=bool)
            for k in keys:
                any_present |= k.notna().to_numpy(dtype=bool)
            candidates = any_present & _item_repeats(frame) if ITEM_ID in c.columns else any_present
            bad = _duplicated_keys(frame, c.columns, candidates, keep=False)
        count = int(bad.sum())
        if count:
            rows = tuple(int(r) for r in index[np.flatnonzero(bad)[:MAX_ROWS_SHOWN]])
            column = c.columns[0] if c.kind != "unique" else None
            out.append(_Failure(c.check, column, count, rows, c.hint, c.message))
    return out


def _duplicate_examples(frame: pd.DataFrame, rows: tuple[int, ...]) -> tuple[str, ...]:
    """``item X, labeler Y: pass/fail on rows 2,3`` for the first duplicated keys.

    A blank id is a value here (GX groups it so): shown as ``(blank)`` and matched with
    the other blanks, never compared with ``==`` (which is never true for a missing value).
    """

    def same_as(col: str, value: Any) -> pd.Series:
        s = frame[col]
        return s.isna() if pd.isna(value) else (s == value).fillna(False)

    def shown(v: Any) -> str:
        return "(blank)" if pd.isna(v) else str(v)

    out = []
    for r in rows[:3]:
        item, labeler = frame.at[r, ITEM_ID], frame.at[r, LABELER_ID]
        same = frame[same_as(ITEM_ID, item) & same_as(LABELER_ID, labeler)]
        labels = "/".join(shown(v) for v in same[LABEL].tolist())
        out.append(
            f"item {shown(item)}, labeler {shown(labeler)}: {labels} on rows "
            + ",".join(str(i) for i in same.index)
        )
    return tuple(dict.fromkeys(out))


_GX_CONTEXT: Any = None


def _gx_context() -> Any:
    """One quiet ephemeral GX context per process (no progress bars, no logs, no files)."""
    global _GX_CONTEXT
    if _GX_CONTEXT is None:
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gx, _ = import_gx()
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _GX_CONTEXT = ctx
    return _GX_CONTEXT


def _validate_with_gx(frame: pd.DataFrame, suite: Any) -> list[Any]:
    """Run ``suite`` on ``frame`` in the ephemeral context, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = _gx_context()
        name = f"labels_{id(frame)}"
        source = ctx.data_sources.add_or_update_pandas(name)
        asset = source.add_dataframe_asset(name="labels")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        result = batch.validate(
            suite,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_ROWS_SHOWN},
        )
        ctx.data_sources.delete(name)
    return list(result.results)
