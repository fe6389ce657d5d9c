"""LangSmith feedback and Langfuse scores, exported as JSON Lines, a JSON list or CSV.

LangSmith: https://docs.smith.langchain.com/reference/data_formats/feedback_data_format
(``id``, ``run_id``, ``trace_id``, ``key``, ``score``, ``value``, ``comment``,
``created_at``, ``feedback_source`` with ``type`` and ``user_id``; ``feedback_source.type``
/ ``feedback_source.user_id`` in a flattened CSV). One label row per feedback of the
audited ``key``: ``item_id`` from ``example_id``, else ``trace_id``, else ``run_id``;
``labeler_id`` the ``feedback_source.user_id``, else the evaluator
(``<source type>:<key>``); ``label`` the ``score``, else the ``value``; ``timestamp``
``created_at``; ``feedback_source.type`` as ``vendor`` (the labeler's provenance: ``app``, ``api``,
``model``; reported per vendor, never an item slice).

Langfuse: https://langfuse.com/docs/evaluation/evaluation-methods/data-model (a score:
``id``, ``timestamp``, ``name``, ``value``, ``stringValue``, ``dataType`` NUMERIC /
CATEGORICAL / BOOLEAN, ``source`` API / EVAL / ANNOTATION, ``traceId``, ``observationId``,
``authorUserId``, ``comment``). One label row per score of the audited ``name``:
``item_id`` the ``traceId``; ``labeler_id`` the ``authorUserId``, else the evaluator
(``<source>:<name>``); ``label`` the ``stringValue`` for categorical and boolean scores,
else ``value``; ``timestamp`` ``timestamp``; ``source`` as ``vendor`` (provenance).

Set aside and counted: records without an item id (``no_item``) or a value
(``no_value``). ``--control KEY`` picks the feedback key / score name when there are several.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, TIMESTAMP, VENDOR
from evalaudit.readers import ReaderOutput, count, load_json, load_jsonl, pick_control, to_frame

__all__ = ["read_langfuse", "read_langsmith"]


def _rows(text: str, name: str, delimiter: str | None) -> list[tuple[int, dict[str, Any]]]:
    head = text.lstrip()[:1]
    if head == "[":
        value = load_json(text, name)
        return [
            (i, r)
            for i, r in enumerate(value if isinstance(value, list) else [], 1)
            if isinstance(r, dict)
        ]
    if head == "{":
        return load_jsonl(text, name)
    import csv
    import io

    from evalaudit.io import parse_delimiter, sniff_delimiter

    sep = parse_delimiter(delimiter) if delimiter else sniff_delimiter(text)[0]
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=sep))
    except csv.Error:
        rows = []
    out = []
    for i, r in enumerate(rows, start=2):
        rec: dict[str, Any] = {}
        for k, v in r.items():
            if k is None:
                continue
            if k.startswith("feedback_source.") or k == "feedback_source":
                if k == "feedback_source" and isinstance(v, str) and v.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError):
                        rec["feedback_source"] = json.loads(v)
                    continue
                rec.setdefault("feedback_source", {})
                if isinstance(rec["feedback_source"], dict):
                    rec["feedback_source"][k.split(".", 1)[1]] = v or None
                continue
            rec[k] = None if v == "" else v
        out.append((i, rec))
    return out


def _read(
    text: str,
    name: str,
    control: str | None,
    delimiter: str | None,
    tool: str,
) -> ReaderOutput:
    rows = _rows(text, name, delimiter)
    key_field = "key" if tool == "langsmith" else "name"
    keys = list(dict.fromkeys(str(r[key_field]) for _, r in rows if r.get(key_field) is not None))
    key = pick_control(name, keys, control, "feedback key" if tool == "langsmith" else "score name")
    records: list[dict[str, Any]] = []
    line_rows: list[int] = []
    rejected: dict[str, int] = {}
    for i, r in rows:
        if str(r.get(key_field)) != key:
            count(rejected, "other_key")
            continue
        if tool == "langsmith":
            src = r.get("feedback_source") if isinstance(r.get("feedback_source"), dict) else {}
            item = r.get("example_id") or r.get("trace_id") or r.get("run_id")
            source = src.get("type")
            labeler = src.get("user_id") or f"{source or 'feedback'}:{key}"
            value = r.get("score") if r.get("score") is not None else r.get("value")
            ts = r.get("created_at")
        else:
            item = r.get("traceId")
            source = r.get("source")
            labeler = r.get("authorUserId") or f"{source or 'score'}:{key}"
            categorical = str(r.get("dataType") or "").upper() in ("CATEGORICAL", "BOOLEAN")
            value = (
                r.get("stringValue")
                if categorical and r.get("stringValue") is not None
                else r.get("value")
            )
            ts = r.get("timestamp")
        if item is None:
            count(rejected, "no_item")
            continue
        if value is None or isinstance(value, dict | list):
            count(rejected, "no_value")
            continue
        records.append(
            {ITEM_ID: item, LABELER_ID: labeler, LABEL: value, TIMESTAMP: ts, VENDOR: source}
        )
        line_rows.append(i)
    title = "LangSmith feedback key" if tool == "langsmith" else "Langfuse score"
    notes = [f"{title} '{key}'" + (" (--control)" if control else "")]
    return ReaderOutput(to_frame(records, line_rows), rejected, tuple(notes), "record")


def read_langsmith(
    text: str, name: str, control: str | None = None, delimiter: str | None = None, **_: Any
) -> ReaderOutput:
    return _read(text, name, control, delimiter, "langsmith")


def read_langfuse(
    text: str, name: str, control: str | None = None, delimiter: str | None = None, **_: Any
) -> ReaderOutput:
    return _read(text, name, control, delimiter, "langfuse")
