"""Argilla v2 records, exported flat (``dataset.records.to_list(flatten=True)`` written as
JSON / JSON Lines, or ``to_datasets()`` saved as JSON Lines / CSV).

Documented schema: https://docs.argilla.io/latest/how_to_guides/record/ and
https://docs.argilla.io/latest/how_to_guides/import_export/ (a flattened record holds, per
question ``Q``, the parallel lists ``Q.responses`` (values), ``Q.responses.users`` (user
ids) and ``Q.responses.status``; a suggestion as ``Q.suggestion``, ``Q.suggestion.score``,
``Q.suggestion.agent``).

One label row per submitted response of the audited question:

- ``item_id``: the record ``id`` (else ``_server_id``);
- ``labeler_id``: the response's user id;
- ``label``: the response value (a label question's one label; a rating; a multi-label
  question's single label);
- a suggestion becomes one more label row whose labeler is its ``agent`` (a model
  labeler, ``agent:<name>``), so a judge that pre-labels is audited like a person;
- the record's scalar fields and metadata become item attributes.

Set aside and counted: responses whose status is not ``submitted`` (``response_draft``,
``response_discarded``), values that are lists of several labels (``multiple_choices``) and
lists that do not line up (``misaligned_responses``). ``--control NAME`` picks the question
when the records have several.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID
from evalaudit.readers import (
    CLASHING,
    ReaderOutput,
    count,
    flat_scalars,
    load_json,
    load_jsonl,
    pick_control,
    to_frame,
)

__all__ = ["read"]


def _records(text: str, name: str) -> list[tuple[int, dict[str, Any]]]:
    if text.lstrip().startswith("["):
        value = load_json(text, name)
        return [
            (i, r)
            for i, r in enumerate(value if isinstance(value, list) else [], 1)
            if isinstance(r, dict)
        ]
    if text.lstrip().startswith("{"):
        return load_jsonl(text, name)
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    out = []
    for i, r in enumerate(rows, start=2):
        rec: dict[str, Any] = {}
        for k, v in r.items():
            if k is None:
                continue
            if isinstance(v, str) and v[:1] in "[{":
                with contextlib.suppress(json.JSONDecodeError):
                    v = json.loads(v)
            rec[k] = None if v == "" else v
        out.append((i, rec))
    return out


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def read(text: str, name: str, control: str | None = None, **_: Any) -> ReaderOutput:
    rows = _records(text, name)
    questions = list(
        dict.fromkeys(
            k[: -len(".responses.users")]
            for _, r in rows
            for k in r
            if k.endswith(".responses.users")
        )
    )
    q = pick_control(name, questions, control, "question")
    prefixes = tuple(f"{x}." for x in questions)
    records: list[dict[str, Any]] = []
    line_rows: list[int] = []
    rejected: dict[str, int] = {}
    for i, r in rows:
        item = r.get("id") if r.get("id") is not None else r.get("_server_id")
        attrs = flat_scalars(
            {
                k: v
                for k, v in r.items()
                if not k.startswith(prefixes)
                and k not in questions
                and k not in ("id", "_server_id", "status")
            },
            set(CLASHING),
        )
        values = _as_list(r.get(f"{q}.responses"))
        users = _as_list(r.get(f"{q}.responses.users"))
        status = _as_list(r.get(f"{q}.responses.status")) or ["submitted"] * len(values)
        if not (len(values) == len(users) == len(status)):
            count(rejected, "misaligned_responses", max(len(values), len(users)))
            continue
        for value, user, st in zip(values, users, status, strict=True):
            if st != "submitted":
                count(rejected, f"response_{st}")
                continue
            if isinstance(value, list):
                if len(value) != 1:
                    count(rejected, "multiple_choices")
                    continue
                value = value[0]
            records.append({**attrs, ITEM_ID: item, LABELER_ID: user, LABEL: value})
            line_rows.append(i)
        suggestion = r.get(f"{q}.suggestion")
        if suggestion is not None:
            if isinstance(suggestion, list):
                if len(suggestion) != 1:
                    count(rejected, "multiple_choices")
                    continue
                suggestion = suggestion[0]
            agent = r.get(f"{q}.suggestion.agent") or "suggestion"
            records.append(
                {**attrs, ITEM_ID: item, LABELER_ID: f"agent:{agent}", LABEL: suggestion}
            )
            line_rows.append(i)
    # several labels per record: number them in record order so each row has its own number
    numbered = list(range(1, len(records) + 1))
    notes = [f"Argilla question '{q}': submitted responses, suggestions as agent:<name> labelers"]
    return ReaderOutput(to_frame(records, numbered), rejected, tuple(notes), "label")
