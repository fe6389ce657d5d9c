"""Label Studio exports: JSON (tasks with annotations), JSON-MIN and CSV.

Documented schemas: https://labelstud.io/guide/task_format (the JSON of an annotated
task) and https://labelstud.io/guide/export (JSON, JSON-MIN and CSV exports).

JSON export (a list of tasks) -> one label row per annotation:

- ``item_id``: the task's ``data.item_id`` when the imported data had one, else the task ``id``;
- ``labeler_id``: ``completed_by`` (a user id, or a user object: its ``email``, else its ``id``);
- ``label``: the annotation's ``result[]`` entry of the control (``from_name``) being audited,
  by ``type``: ``choices`` (exactly one choice), ``rating``, ``number``, ``textarea`` (one
  text); other result types (regions, taxonomies) are not labels of the item;
- ``timestamp``: the annotation's ``created_at``;
- every scalar ``data.*`` field becomes an item attribute (slice candidate; ``model``,
  ``vendor``, ... keep their contract meaning; a field named like ``label`` or
  ``labeler_id`` is kept as ``data.label``).

Set aside and counted in ``rows_rejected``: ``was_cancelled`` annotations (``cancelled``: a
skipped task is not a judgement), annotations with no result for the control
(``no_result``), several choices in one result (``multiple_choices``), and tasks with no
annotation at all (``unannotated_task``). Predictions (model pre-annotations) are not
read. When the tasks use several controls, ``--control NAME`` picks one.

JSON-MIN / CSV (one flat record per annotation): ``id`` (task) -> ``item_id`` (or the
record's ``item_id`` when the data had one), ``annotator`` -> ``labeler_id``,
``created_at`` -> ``timestamp``, the control's column -> ``label`` (a single choice, a
number or ``{"choices": [...]}`` with one choice). The exports merge the task's data and
the controls into one record; without ``--control`` the control is the one column whose
value differs between annotations of the same task (data fields never do) -- when that is
not exactly one column the reader asks for ``--control``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, TIMESTAMP
from evalaudit.readers import (
    CLASHING,
    ReaderOutput,
    as_dict,
    as_list,
    count,
    fail,
    flat_scalars,
    key_of,
    load_json,
    pick_control,
    scalar,
    to_frame,
)

__all__ = ["read_csv", "read_json", "read_min"]

#: result types whose value is one label of the whole item, and the key holding it
LABEL_TYPES = {"choices": "choices", "rating": "rating", "number": "number", "textarea": "text"}
#: keys of a JSON-MIN / CSV record that are annotation metadata, not data or controls
MIN_META = {
    "id",
    "annotator",
    "annotation_id",
    "created_at",
    "updated_at",
    "lead_time",
    "agreement",
    "drafts",
    "predictions",
    "total_annotations",
    "cancelled_annotations",
    "total_predictions",
    "annotators",
}
_RENAMED = set(CLASHING)


def _labeler(completed_by: Any) -> Any:
    if isinstance(completed_by, dict):
        return completed_by.get("email") or completed_by.get("id")
    return completed_by if scalar(completed_by) else None


def _value(result: dict[str, Any]) -> tuple[Any, str | None]:
    """(label, None) or (None, reason) for one result entry of a label control."""
    key = LABEL_TYPES[result.get("type", "")]
    value = as_dict(result.get("value")).get(key)
    if isinstance(value, list):
        if len(value) != 1:
            return None, "multiple_choices" if value else "no_result"
        value = value[0]
    if value is None or isinstance(value, dict | list):
        return None, "no_result"
    return value, None


def read_json(text: str, name: str, control: str | None = None, **_: Any) -> ReaderOutput:
    tasks = load_json(text, name)
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise fail(
            name,
            "parse",
            "not a Label Studio JSON export (it must be a list of tasks)",
            "export with 'JSON' in Label Studio, or pass --format label-studio-min / jsonl",
        )
    controls: dict[str, None] = {}
    for t in tasks:
        for a in as_list(t.get("annotations")):
            for r in as_list(a.get("result")) if isinstance(a, dict) else []:
                if isinstance(r, dict) and r.get("type") in LABEL_TYPES and r.get("from_name"):
                    controls[str(r["from_name"])] = None
    chosen = pick_control(name, list(controls), control, "control")
    records: list[dict[str, Any]] = []
    rejected: dict[str, int] = {}
    n_predictions = 0
    own_ids = 0
    for t in tasks:
        data = as_dict(t.get("data"))
        n_predictions += len(as_list(t.get("predictions")))
        anns = [a for a in as_list(t.get("annotations")) if isinstance(a, dict)]
        if not anns:
            count(rejected, "unannotated_task")
            continue
        attrs = flat_scalars({k: v for k, v in data.items() if k != ITEM_ID}, _RENAMED)
        if data.get(ITEM_ID) is not None:
            item, own_ids = data[ITEM_ID], own_ids + 1
        else:
            item = t.get("id")
        for a in anns:
            if a.get("was_cancelled"):
                count(rejected, "cancelled")
                continue
            results = [
                r
                for r in as_list(a.get("result"))
                if isinstance(r, dict)
                and str(r.get("from_name")) == chosen
                and r.get("type") in LABEL_TYPES
            ]
            if not results:
                count(rejected, "no_result")
                continue
            label, reason = _value(results[0])
            if reason:
                count(rejected, reason)
                continue
            records.append(
                {
                    **attrs,
                    ITEM_ID: item,
                    LABELER_ID: _labeler(a.get("completed_by")),
                    LABEL: label,
                    TIMESTAMP: a.get("created_at"),
                }
            )
    notes = [
        f"Label Studio control '{chosen}'"
        + (" (--control)" if control else " (the only label control)")
    ]
    if own_ids:
        notes.append("item ids from the tasks' data.item_id")
    if n_predictions:
        notes.append(f"{n_predictions:,} prediction(s) (model pre-annotations) not read")
    return ReaderOutput(
        to_frame(records, list(range(1, len(records) + 1))), rejected, tuple(notes), "annotation"
    )


def read_min(text: str, name: str, control: str | None = None, **_: Any) -> ReaderOutput:
    rows = load_json(text, name)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise fail(
            name,
            "parse",
            "not a Label Studio JSON-MIN export (it must be a list of flat records)",
            "export with 'JSON-MIN' in Label Studio, or pass --format label-studio",
        )
    return _flat(rows, name, control, "JSON-MIN")


def read_csv(
    text: str, name: str, control: str | None = None, delimiter: str | None = None, **_: Any
) -> ReaderOutput:
    import csv
    import io

    from evalaudit.io import parse_delimiter, sniff_delimiter

    sep = parse_delimiter(delimiter) if delimiter else sniff_delimiter(text)[0]
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sep)
        rows = [dict(r) for r in reader]
    except csv.Error as exc:
        raise fail(name, "parse", f"not a valid CSV file: {exc}", "export the CSV again") from None
    rows = [{k: (None if v == "" else v) for k, v in r.items() if k is not None} for r in rows]
    return _flat(rows, name, control, "CSV")


def _flat(rows: list[dict[str, Any]], name: str, control: str | None, kind: str) -> ReaderOutput:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    candidates = [k for k in keys if k not in MIN_META and k != ITEM_ID]
    if control is None:
        # data fields are constant within a task; a control differs between its annotations
        by_task: dict[Any, dict[str, set[str]]] = {}
        for r in rows:
            seen = by_task.setdefault(key_of(r.get("id")), {})
            for k in candidates:
                seen.setdefault(k, set()).add(key_of(r.get(k)))
        varying = [k for k in candidates if any(len(s.get(k, ())) > 1 for s in by_task.values())]
        if len(varying) != 1:
            raise fail(
                name,
                "control",
                f"cannot tell which column of this Label Studio {kind} export is the label "
                + (
                    f"({len(varying)} columns differ between annotations of a task: {', '.join(varying[:6])})"
                    if varying
                    else "(no column differs between annotations of a task)"
                ),
                "name the control with --control NAME; columns: " + ", ".join(candidates[:12]),
            )
        chosen = varying[0]
        how = "the only column that differs between annotations of a task"
    else:
        chosen = pick_control(name, candidates, control, "column")
        how = "--control"
    records, line_rows = [], []
    rejected: dict[str, int] = {}
    own_ids = 0
    for i, r in enumerate(rows, start=1):
        value = r.get(chosen)
        if isinstance(value, str) and value.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        if isinstance(value, dict):
            inner = next(
                (value[k] for k in ("choices", "rating", "number", "text") if k in value), None
            )
            if isinstance(inner, list):
                if len(inner) != 1:
                    count(rejected, "multiple_choices" if inner else "no_result")
                    continue
                inner = inner[0]
            value = inner
        if value is None or value == "" or isinstance(value, dict | list):
            count(rejected, "no_result")
            continue
        attrs = flat_scalars(
            {k: v for k, v in r.items() if k not in MIN_META and k not in (chosen, ITEM_ID)},
            _RENAMED,
        )
        if r.get(ITEM_ID) is not None:
            item, own_ids = r[ITEM_ID], own_ids + 1
        else:
            item = r.get("id")
        records.append(
            {
                **attrs,
                ITEM_ID: item,
                LABELER_ID: _labeler(r.get("annotator")),
                LABEL: value,
                TIMESTAMP: r.get("created_at"),
            }
        )
        line_rows.append(i + 1 if kind == "CSV" else i)
    notes = [f"Label Studio control '{chosen}' ({how})"]
    if own_ids:
        notes.append("item ids from the records' item_id")
    return ReaderOutput(
        to_frame(records, line_rows), rejected, tuple(notes), "line" if kind == "CSV" else "record"
    )
