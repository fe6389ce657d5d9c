"""Prodigy annotations exported with ``prodigy db-out DATASET > annotations.jsonl``.

Documented schema: https://prodi.gy/docs/api-interfaces (the annotation task and its
``answer``), https://prodi.gy/docs/recipes#db-out (the export, one task per line) and
https://prodi.gy/docs/api-database (``_input_hash``, ``_task_hash``, ``_annotator_id``,
``_session_id``, ``_timestamp``).

One label row per line:

- ``item_id``: ``_input_hash`` (the same input shown to several annotators); when one input
  was asked under several ``label`` values (a binary task per label) the item is
  ``_input_hash/label``, said in a note;
- ``labeler_id``: ``_annotator_id``, else ``_session_id``;
- ``label``: for a choice task (it has ``options``) the one accepted option id in
  ``accept``; for a binary task the ``answer`` itself (``accept`` / ``reject``, a binary
  scale with ``accept`` passing);
- ``timestamp``: ``_timestamp`` (epoch seconds);
- ``meta.*`` scalars and other top-level scalars become item attributes; Prodigy's own
  ``label`` (the category asked about) is kept as ``prodigy_label`` when the file asks
  about more than one.

Set aside and counted: ``answer: ignore`` (``ignored``: the annotator skipped it), choice
tasks with no accepted option (``no_choice``), several (``multiple_choices``) or answered
``reject`` (``rejected_choice_task``), and lines with no annotator id (``no_annotator``).
"""

from __future__ import annotations

from typing import Any

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, TIMESTAMP
from evalaudit.readers import (
    CLASHING,
    ReaderOutput,
    count,
    flat_scalars,
    key_of,
    load_jsonl,
    to_frame,
)

__all__ = ["read"]

#: Prodigy's bookkeeping keys, not item attributes
INTERNAL = {
    "_input_hash",
    "_task_hash",
    "_annotator_id",
    "_session_id",
    "_timestamp",
    "_view_id",
    "_is_binary",
    "answer",
    "accept",
    "options",
    "label",
    "meta",
    "spans",
    "tokens",
    "text",
    "html",
    "image",
    "audio",
    "video",
    "config",
    "priority",
    "score",
}


def read(text: str, name: str, **_: Any) -> ReaderOutput:
    lines = load_jsonl(text, name)
    rejected: dict[str, int] = {}
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    per_input: dict[Any, set[Any]] = {}
    for _, obj in lines:
        if "label" in obj and "options" not in obj:
            per_input.setdefault(key_of(obj.get("_input_hash")), set()).add(
                key_of(obj.get("label"))
            )
    split_by_label = any(len(v) > 1 for v in per_input.values())
    # one label asked about throughout says nothing about the item: no column for it
    asked = {v for vs in per_input.values() for v in vs}
    keep_label = len(asked) > 1
    reserved = set(CLASHING)
    for lineno, obj in lines:
        answer = obj.get("answer")
        if answer == "ignore":
            count(rejected, "ignored")
            continue
        labeler = obj.get("_annotator_id") or obj.get("_session_id")
        if labeler is None:
            count(rejected, "no_annotator")
            continue
        if "options" in obj:
            if answer == "reject":
                count(rejected, "rejected_choice_task")
                continue
            accepted = obj.get("accept") or []
            if not isinstance(accepted, list) or len(accepted) != 1:
                count(rejected, "multiple_choices" if accepted else "no_choice")
                continue
            label = accepted[0]
        else:
            label = answer
        item = obj.get("_input_hash")
        if split_by_label and obj.get("label") is not None and "options" not in obj:
            item = f"{item}/{obj['label']}"
        attrs = flat_scalars(obj.get("meta"), reserved)
        attrs.update(flat_scalars({k: v for k, v in obj.items() if k not in INTERNAL}, reserved))
        if keep_label and obj.get("label") is not None and "options" not in obj:
            attrs["prodigy_label"] = obj["label"]
        records.append(
            {
                **attrs,
                ITEM_ID: item,
                LABELER_ID: labeler,
                LABEL: label,
                TIMESTAMP: obj.get("_timestamp"),
            }
        )
        rows.append(lineno)
    notes = ["Prodigy answers: choice tasks give the accepted option, binary tasks accept/reject"]
    if split_by_label:
        notes.append("an input asked under several labels: items are _input_hash/label")
    return ReaderOutput(to_frame(records, rows), rejected, tuple(notes), "line")
