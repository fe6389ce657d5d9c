"""Labeling-tool exports made from a label table, in each tool's documented schema.

Used by the tests (a Label Studio export of the sample must audit like the sample's
CSV) and by the fuzzer (:mod:`evalaudit.fuzzing` mutates these). Each writer follows
the schema cited in its reader's docstring and fills what the tool fills: ids,
timestamps, the bookkeeping fields a reader must ignore. ``df`` holds the contract's
columns as strings (``item_id``, ``labeler_id``, ``label`` and optionally
``timestamp``, ``model`` and item attributes).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pandas as pd

__all__ = [
    "to_argilla",
    "to_inspect",
    "to_label_studio",
    "to_label_studio_min",
    "to_langfuse",
    "to_langsmith",
    "to_prodigy",
]

_LABEL_COLUMNS = (
    "item_id",
    "labeler_id",
    "label",
    "timestamp",
    "vendor",
    "batch",
    "gold",
    "version",
)


def _item_attrs(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in _LABEL_COLUMNS]


def _user_number(labeler: str) -> int:
    digits = "".join(ch for ch in labeler if ch.isdigit())
    return int(digits) if digits else abs(hash(labeler)) % 10_000


def to_label_studio(
    df: pd.DataFrame,
    control: str = "verdict",
    cancelled: int = 0,
    seed: int = 0,
    int_ids: bool = True,
) -> str:
    """A Label Studio JSON export: one task per item (``data`` holds ``item_id`` and the item
    attributes), one annotation per label (``result[]`` with one ``choices`` entry).

    Labelers with an odd number are ``completed_by: <int>`` (when ``int_ids``), the others a
    user object with an email ``<labeler>@example.com``; ``cancelled`` tasks get one extra
    annotation with ``was_cancelled: true`` and an empty result; every tenth task has a
    prediction.
    """
    rng = random.Random(seed)
    attrs = _item_attrs(df)
    tasks: list[dict[str, Any]] = []
    ann_id = 0
    for n, (item, g) in enumerate(df.groupby("item_id", sort=False), start=1):
        first = g.iloc[0]
        task: dict[str, Any] = {
            "id": n,
            "data": {"item_id": item, "text": f"output for {item}", **{a: first[a] for a in attrs}},
            "annotations": [],
            "predictions": [],
            "created_at": "2026-01-01T00:00:00.000000Z",
            "project": 7,
        }
        for _, r in g.iterrows():
            ann_id += 1
            lab = r["labeler_id"]
            num = _user_number(lab)
            completed_by: Any = (
                num if (int_ids and num % 2) else {"id": num, "email": f"{lab}@example.com"}
            )
            task["annotations"].append(
                {
                    "id": ann_id,
                    "completed_by": completed_by,
                    "result": [
                        {
                            "id": f"r{ann_id}",
                            "from_name": control,
                            "to_name": "text",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": [r["label"]]},
                        }
                    ],
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": r.get("timestamp"),
                    "updated_at": r.get("timestamp"),
                    "lead_time": round(rng.uniform(2, 60), 3),
                    "task": n,
                }
            )
        if n % 10 == 0:
            task["predictions"].append(
                {
                    "model_version": "v1",
                    "result": [
                        {
                            "from_name": control,
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": ["pass"]},
                        }
                    ],
                }
            )
        tasks.append(task)
    for task in rng.sample(tasks, min(cancelled, len(tasks))):
        ann_id += 1
        task["annotations"].append(
            {
                "id": ann_id,
                "completed_by": 999,
                "result": [],
                "was_cancelled": True,
                "task": task["id"],
            }
        )
    return json.dumps(tasks, indent=1)


def to_label_studio_min(df: pd.DataFrame, control: str = "verdict") -> list[dict[str, Any]]:
    """JSON-MIN records (also the CSV export's rows): the task's data fields flattened, the
    control's value, ``annotator`` (an email), ``annotation_id``, ``created_at`` ..."""
    attrs = _item_attrs(df)
    task_of = {item: n for n, item in enumerate(dict.fromkeys(df["item_id"]), start=1)}
    out = []
    for k, (_, r) in enumerate(df.iterrows(), start=1):
        out.append(
            {
                "id": task_of[r["item_id"]],
                "item_id": r["item_id"],
                "text": f"output for {r['item_id']}",
                **{a: r[a] for a in attrs},
                control: r["label"],
                "annotator": f"{r['labeler_id']}@example.com",
                "annotation_id": k,
                "created_at": r.get("timestamp"),
                "updated_at": r.get("timestamp"),
                "lead_time": 12.5,
            }
        )
    return out


def _epoch(ts: Any) -> int | None:
    if ts is None or (isinstance(ts, float) and pd.isna(ts)):
        return None
    return int(pd.Timestamp(ts).timestamp())


def to_prodigy(df: pd.DataFrame, ignored: int = 0, dataset: str = "evalset", seed: int = 0) -> str:
    """``prodigy db-out`` JSONL of binary tasks: ``answer`` accept (pass) / reject, the item
    attributes in ``meta``, ``_annotator_id`` ``<dataset>-<labeler>``; ``ignored`` more lines
    answered ``ignore``."""
    rng = random.Random(seed)
    attrs = _item_attrs(df)
    lines = []
    rows = list(df.to_dict(orient="records"))
    for r in rows:
        lines.append(
            _prodigy_line(r, attrs, dataset, "accept" if r["label"] == "pass" else "reject")
        )
    for r in rng.sample(rows, min(ignored, len(rows))):
        lines.append(_prodigy_line(r, attrs, dataset, "ignore"))
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def _prodigy_line(r: dict[str, Any], attrs: list[str], dataset: str, answer: str) -> dict[str, Any]:
    item = str(r["item_id"])
    h = sum(ord(c) * 31**i for i, c in enumerate(item)) % (2**31)
    return {
        "text": f"output for {item}",
        "label": "GOOD_OUTPUT",
        "meta": {a: r[a] for a in attrs},
        "_input_hash": h,
        "_task_hash": h ^ 0x5BD1E995,
        "_view_id": "classification",
        "answer": answer,
        "_timestamp": _epoch(r.get("timestamp")),
        "_annotator_id": f"{dataset}-{r['labeler_id']}",
        "_session_id": f"{dataset}-{r['labeler_id']}",
    }


def to_inspect(
    df: pd.DataFrame,
    scorers: tuple[str, str] = ("judge_a", "judge_b"),
    model: str = "openai/gpt-4o",
    flip: float = 0.1,
    errors: int = 0,
    seed: int = 0,
) -> str:
    """An Inspect eval log (format version 2) of one model: one sample per item, scored by two
    model-graded scorers (``value`` C/I; the second disagrees with the first on a share
    ``flip`` of samples), item attributes as sample ``metadata``; ``errors`` samples errored."""
    rng = random.Random(seed)
    attrs = [a for a in _item_attrs(df) if a != "model"]
    first = df.drop_duplicates("item_id")
    samples = []
    for k, (_, r) in enumerate(first.iterrows(), start=1):
        a = "C" if r["label"] == "pass" else "I"
        b = a if rng.random() >= flip else ("I" if a == "C" else "C")
        samples.append(
            {
                "id": r["item_id"],
                "epoch": 1,
                "input": f"question {k}",
                "target": "reference",
                "messages": [],
                "output": {"model": model, "choices": []},
                "scores": {
                    scorers[0]: {
                        "value": a,
                        "answer": "x",
                        "explanation": "graded",
                        "metadata": {},
                    },
                    scorers[1]: {"value": b, "answer": "x", "explanation": "graded"},
                },
                "metadata": {x: r[x] for x in attrs},
            }
        )
    for k in range(errors):
        samples.append(
            {
                "id": f"err{k}",
                "epoch": 1,
                "input": "q",
                "target": "t",
                "error": {"message": "timeout"},
            }
        )
    log = {
        "version": 2,
        "status": "success",
        "eval": {
            "run_id": "r1",
            "created": "2026-11-30T10:00:00+00:00",
            "task": "qa",
            "task_id": "t1",
            "model": model,
            "dataset": {"name": "evalset", "samples": len(samples)},
        },
        "plan": {"name": "plan", "steps": []},
        "results": {"total_samples": len(samples), "completed_samples": len(samples), "scores": []},
        "stats": {
            "started_at": "2026-11-30T10:00:00+00:00",
            "completed_at": "2026-11-30T10:05:00+00:00",
        },
        "samples": samples,
    }
    return json.dumps(log, indent=1)


def to_argilla(df: pd.DataFrame, question: str = "verdict", drafts: int = 0, seed: int = 0) -> str:
    """Flattened Argilla v2 records (JSON Lines): per record the parallel lists
    ``<question>.responses`` / ``.responses.users`` / ``.responses.status``; ``drafts`` more
    responses with status ``draft``; every fifth record has a suggestion by agent ``gpt-judge``."""
    rng = random.Random(seed)
    attrs = _item_attrs(df)
    out = []
    for n, (item, g) in enumerate(df.groupby("item_id", sort=False), start=1):
        values, users, status = list(g["label"]), list(g["labeler_id"]), ["submitted"] * len(g)
        if drafts and rng.random() < 0.05:
            values.append("pass")
            users.append("drafter")
            status.append("draft")
        rec: dict[str, Any] = {
            "id": item,
            "_server_id": f"00000000-0000-0000-0000-{n:012d}",
            "status": "completed",
            "text": f"output for {item}",
            **{a: g.iloc[0][a] for a in attrs},
            f"{question}.responses": values,
            f"{question}.responses.users": users,
            f"{question}.responses.status": status,
        }
        if n % 5 == 0:
            rec[f"{question}.suggestion"] = "pass"
            rec[f"{question}.suggestion.score"] = 0.8
            rec[f"{question}.suggestion.agent"] = "gpt-judge"
        out.append(rec)
    return "\n".join(json.dumps(r) for r in out) + "\n"


def to_langsmith(df: pd.DataFrame, key: str = "correctness") -> str:
    """LangSmith feedback (JSON Lines): one feedback per label, ``score`` 1 / 0,
    ``feedback_source`` ``{"type": "app", "user_id": <labeler>}``."""
    out = []
    for k, r in enumerate(df.to_dict(orient="records"), start=1):
        out.append(
            {
                "id": f"fb{k}",
                "run_id": f"run-{r['item_id']}",
                "trace_id": f"trace-{r['item_id']}",
                "key": key,
                "score": 1 if r["label"] == "pass" else 0,
                "value": None,
                "comment": None,
                "created_at": r.get("timestamp"),
                "feedback_source": {"type": "app", "user_id": r["labeler_id"], "metadata": {}},
            }
        )
    return "\n".join(json.dumps(x) for x in out) + "\n"


def to_langfuse(df: pd.DataFrame, name: str = "correctness") -> str:
    """Langfuse scores (JSON Lines): one score per label, ``dataType`` CATEGORICAL with
    ``stringValue`` pass / fail, ``source`` ANNOTATION, ``authorUserId`` the labeler."""
    out = []
    for k, r in enumerate(df.to_dict(orient="records"), start=1):
        out.append(
            {
                "id": f"s{k}",
                "timestamp": r.get("timestamp"),
                "name": name,
                "value": 1 if r["label"] == "pass" else 0,
                "stringValue": r["label"],
                "dataType": "CATEGORICAL",
                "source": "ANNOTATION",
                "traceId": f"trace-{r['item_id']}",
                "observationId": None,
                "authorUserId": r["labeler_id"],
                "comment": None,
            }
        )
    return "\n".join(json.dumps(x) for x in out) + "\n"
