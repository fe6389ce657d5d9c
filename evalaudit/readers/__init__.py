"""Readers for what labeling and eval tools export, mapped to the label contract at ingest.

Each reader turns one tool's documented export into the long label table of
DESIGN section 2 (one row per item x labeler x label, canonical column names),
and counts every record it read but could not map in ``rejected`` (by reason),
so the row accounting still adds up: ``rows_read = rows used + every reason``.
Nothing downstream knows which tool the rows came from.

=================  ============================================  ==========================
format             what it reads                                 detected by content
=================  ============================================  ==========================
label-studio       Label Studio JSON export (tasks)              a JSON list of tasks with
                                                                 ``annotations``
label-studio-min   Label Studio JSON-MIN export (flat rows)      ``annotator`` +
                                                                 ``annotation_id`` keys
label-studio-csv   Label Studio CSV export                       the same two columns
prodigy            Prodigy ``db-out`` JSONL                      ``_input_hash`` + ``answer``
argilla            Argilla v2 exported records (flattened)       ``*.responses.users`` keys
inspect            Inspect AI eval log (JSON, format v2)         ``eval`` + ``samples``
langsmith          LangSmith feedback (CSV / JSONL)              ``feedback_source`` or
                                                                 ``run_id`` + ``key``
langfuse           Langfuse scores (CSV / JSONL)                 ``traceId`` + ``name`` +
                                                                 ``value``
=================  ============================================  ==========================

Detection only picks a reader when the markers are unambiguous; ``--format NAME``
always wins. ``--control NAME`` picks the control / scorer / question / feedback key
when an export holds several.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, ROW, TIMESTAMP, InputError, Problem
from evalaudit.table import INTERNAL_COLUMNS

__all__ = [
    "READERS",
    "TITLES",
    "ReaderOutput",
    "detect_csv_header",
    "detect_json",
    "read_export",
]


@dataclass(frozen=True)
class ReaderOutput:
    """A tool export mapped to the contract: string columns indexed by :data:`ROW`."""

    frame: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    row_label: str = "record"


Reader = Callable[..., ReaderOutput]

#: Attribute names that would clash with the columns a reader fills itself; such an
#: attribute is kept as ``data.<name>``. (``model``, ``vendor``, ``gold`` ... keep their
#: contract meaning when an export carries them as item data.) The names evalaudit uses
#: internally (``item``, ``labeler``, ``value``, ``score``) are renamed too.
CLASHING = frozenset({ITEM_ID, LABELER_ID, LABEL, TIMESTAMP, ROW}) | INTERNAL_COLUMNS

TITLES = {
    "label-studio": "Label Studio JSON export",
    "label-studio-min": "Label Studio JSON-MIN export",
    "label-studio-csv": "Label Studio CSV export",
    "prodigy": "Prodigy JSONL (db-out)",
    "argilla": "Argilla v2 records",
    "inspect": "Inspect AI eval log",
    "langsmith": "LangSmith feedback",
    "langfuse": "Langfuse scores",
    "json-records": "JSON array of records",
}


# ------------------------------------------------------------------ shared helpers
def problem(check: str, message: str, hint: str, rows: tuple[int, ...] = ()) -> Problem:
    return Problem(check=check, column=None, count=len(rows), rows=rows, message=message, hint=hint)


def fail(name: str, check: str, message: str, hint: str, rows: tuple[int, ...] = ()) -> InputError:
    return InputError(name, [problem(check, message, hint, rows)], row_label="record")


def load_json(text: str, name: str) -> Any:
    """The whole file as one JSON value (an InputError naming the line if it does not parse)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            name,
            "parse",
            f"the file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            "export the file again; it looks truncated or edited by hand",
        ) from None


def load_jsonl(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; a line that is not an object is an error."""
    out = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                name,
                [
                    problem(
                        "parse",
                        f"line is not valid JSON ({exc.msg})",
                        "export the file again; one JSON object per line",
                        (lineno,),
                    )
                ],
                row_label="line",
            ) from None
        if not isinstance(obj, dict):
            raise InputError(
                name,
                [
                    problem(
                        "parse",
                        f"line is a JSON {type(obj).__name__}, not an object",
                        "one JSON object per line",
                        (lineno,),
                    )
                ],
                row_label="line",
            )
        out.append((lineno, obj))
    return out


def scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def flat_scalars(d: Any, reserved: set[str], prefix: str = "") -> dict[str, Any]:
    """The scalar fields of ``d`` (nested dicts are skipped), renamed when they clash."""
    if not isinstance(d, dict):
        return {}
    out = {}
    for k, v in d.items():
        if not scalar(v):
            continue
        key = f"{prefix}{k}"
        out[f"{prefix or 'data.'}{k}" if key in reserved else key] = v
    return out


def to_frame(records: list[dict[str, Any]], rows: list[int]) -> pd.DataFrame:
    """Records -> the string frame every reader returns (values rendered as in a CSV)."""
    from evalaudit.io import _to_string

    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    # a field no record filled (an export without timestamps) is no column at all
    frame = frame.dropna(axis=1, how="all") if len(frame) else frame
    for col in frame.columns:
        frame[col] = _to_string(frame[col])
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.Index(np.asarray(rows, dtype=np.int64), name=ROW)
    return frame


def count(rejected: dict[str, int], reason: str, n: int = 1) -> None:
    rejected[reason] = rejected.get(reason, 0) + n


def pick_control(name: str, available: list[str], control: str | None, what: str) -> str:
    """The one control (question, scorer, key) to read: ``--control`` or the only one there is."""
    if control is not None:
        if control not in available:
            raise fail(
                name,
                "control",
                f"--control {control}: the export has no {what} '{control}'",
                f"use one of: {', '.join(available) or '(none)'}",
            )
        return control
    if len(available) == 1:
        return available[0]
    if not available:
        raise fail(
            name,
            "control",
            f"the export holds no {what} evalaudit can read as a label",
            f"check the export; a label is a single choice, a rating or a number per {what}",
        )
    raise fail(
        name,
        "control",
        f"the export has {len(available)} {what}s ({', '.join(available[:8])}); an audit reads one",
        f"pick one with --control NAME (e.g. --control {available[0]})",
    )


# ------------------------------------------------------------------ detection
def detect_json(text: str) -> str | None:
    """The export format of a JSON / JSON Lines text, when its markers are unambiguous."""
    head = text.lstrip()[:1]
    if head == "[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, dict) for v in value[:50])
        ):
            return None
        first = value[0]
        if "annotations" in first and ("data" in first or "id" in first):
            return "label-studio"
        if "annotator" in first and "annotation_id" in first:
            return "label-studio-min"
        return detect_keys(set(first)) or "json-records"
    if head != "{":
        return None
    first_line = text.lstrip().split("\n", 1)[0]
    try:
        obj = json.loads(first_line)
    except json.JSONDecodeError:
        try:
            obj = json.loads(text)  # a pretty-printed single object (an Inspect log)
        except json.JSONDecodeError:
            return None
    if not isinstance(obj, dict):
        return None
    if "eval" in obj and "samples" in obj:
        return "inspect"
    return detect_keys(set(obj))


def detect_keys(keys: set[str]) -> str | None:
    """The export format a record's (or a CSV header's) keys belong to, if unambiguous.

    A table that already has the contract's columns (``item_id``, ``labeler_id``,
    ``label``) is a label table, whatever else it holds.
    """
    if {ITEM_ID, LABELER_ID, LABEL} <= keys:
        return None
    if "_input_hash" in keys and "answer" in keys:
        return "prodigy"
    if "annotator" in keys and "annotation_id" in keys:
        return "label-studio-min"
    if any(k.endswith(".responses.users") for k in keys):
        return "argilla"
    if (
        "feedback_source" in keys
        or "feedback_source.type" in keys
        or ("run_id" in keys and "key" in keys and ("score" in keys or "value" in keys))
    ):
        return "langsmith"
    if "traceId" in keys and "name" in keys and "value" in keys:
        return "langfuse"
    return None


def detect_csv_header(header: str, delimiter: str) -> str | None:
    import csv
    import io

    try:
        row = next(csv.reader(io.StringIO(header), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return None
    fmt = detect_keys({c.strip().lstrip("\ufeff") for c in row})
    if fmt == "label-studio-min":
        return "label-studio-csv"
    return fmt if fmt in ("langsmith", "langfuse", "argilla") else None


# ------------------------------------------------------------------ generic JSON array
def read_json_records(text: str, name: str, **_: Any) -> ReaderOutput:
    """A JSON array of flat objects: one label row per object (the keys are the columns)."""
    value = load_json(text, name)
    if not isinstance(value, list):
        raise fail(
            name,
            "parse",
            "the file is one JSON value, not a list of records",
            "one object per label",
        )
    bad = [i for i, v in enumerate(value, start=1) if not isinstance(v, dict)]
    if bad:
        raise fail(
            name,
            "parse",
            "the JSON list holds values that are not objects",
            "one object per label",
            tuple(bad[:5]),
        )
    records = [{k: v for k, v in r.items()} for r in value]
    return ReaderOutput(to_frame(records, list(range(1, len(records) + 1))))


def as_list(v: Any) -> list[Any]:
    """``v`` when it is a list, else no entries (an export with a malformed field)."""
    return v if isinstance(v, list) else []


def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def key_of(v: Any) -> str:
    """A hashable key for any JSON value (ids may come as numbers, strings or worse)."""
    return json.dumps(v, sort_keys=True, default=str)


def read_export(fmt: str, text: str, name: str, **kw: Any) -> ReaderOutput:
    """Run the reader of ``fmt``; an export whose fields have the wrong JSON types is an
    input error naming the file and the schema (never an internal error)."""
    try:
        return READERS[fmt](text, name, **kw)
    except InputError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise fail(
            name,
            "schema",
            f"the file does not follow the {TITLES.get(fmt, fmt)} schema "
            f"({type(exc).__name__}: {exc})",
            "export the file again from the tool without editing it, or pass --format with the "
            "format it really has",
        ) from None


def _registry() -> dict[str, Reader]:
    from evalaudit.readers import argilla, inspect_log, label_studio, langsmith, prodigy

    return {
        "label-studio": label_studio.read_json,
        "label-studio-min": label_studio.read_min,
        "label-studio-csv": label_studio.read_csv,
        "prodigy": prodigy.read,
        "argilla": argilla.read,
        "inspect": inspect_log.read,
        "langsmith": langsmith.read_langsmith,
        "langfuse": langsmith.read_langfuse,
        "json-records": read_json_records,
    }


class _Lazy(dict):  # type: ignore[type-arg]
    """The reader registry, filled on first use (the reader modules import this one)."""

    def _fill(self) -> None:
        if not dict.__len__(self):
            self.update(_registry())

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __getitem__(self, key: str) -> Reader:
        self._fill()
        return dict.__getitem__(self, key)


#: format name -> reader(text, name, control=..., delimiter=...) -> ReaderOutput
READERS: dict[str, Reader] = _Lazy()
