"""Inspect AI eval logs (JSON, log format version 2), as written by ``inspect eval``
(``--log-format json``) or converted with ``inspect log convert --to json``.

Documented schema: https://inspect.aisi.org.uk/eval-logs.html (``EvalLog``: ``version``,
``status``, ``eval`` with ``eval.model`` / ``eval.task``, ``samples[]`` with ``id``,
``epoch``, ``scores`` keyed by scorer name, each an ``EvalScore``/``Score`` with
``value``, ``answer``, ``explanation``, ``metadata``) and
https://inspect.aisi.org.uk/scorers.html (``CORRECT="C"``, ``INCORRECT="I"``,
``PARTIAL="P"``, ``NOANSWER="N"``).

One label row per sample x scorer: each scorer (a model-graded scorer is an LLM judge)
is a labeler.

- ``item_id``: the sample ``id`` (``id#epoch`` when the log has several epochs);
- ``labeler_id``: the scorer's name (the key of ``samples[].scores``);
- ``label``: ``value`` with ``C`` -> ``pass``, ``I`` -> ``fail``; ``P`` -> ``partial`` and
  ``N`` -> ``noanswer`` are kept (declare them with ``--labels`` to audit them); numbers
  and booleans as they are;
- ``model``: the log's ``eval.model`` (the graded model);
- the sample's scalar ``metadata`` fields become item attributes (slice candidates).

Graders: each scorer is a labeler; a scorer whose ``value`` is a dict of scalars keyed by
grader (a multi-grader scorer that keeps each grader's score, e.g. ``{"gpt-4o": "C",
"claude": "I"}``) gives one labeler per grader, ``<scorer>/<grader>``. Inspect's own
``multi_scorer`` reduces its graders to one value before the log is written, so it is one
labeler.

Set aside and counted: samples that errored (``sample_error``), samples without scores
(``no_score``), scores whose value is a list or a nested dict (``structured_value``) or
null (``no_value``). ``--control NAME`` keeps one scorer.
"""

from __future__ import annotations

from typing import Any

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, MODEL
from evalaudit.readers import (
    CLASHING,
    ReaderOutput,
    count,
    fail,
    flat_scalars,
    load_json,
    pick_control,
    scalar,
    to_frame,
)

__all__ = ["VALUES", "read"]

#: Inspect's score letters as label values
VALUES = {"C": "pass", "I": "fail", "P": "partial", "N": "noanswer"}


def read(text: str, name: str, control: str | None = None, **_: Any) -> ReaderOutput:
    log = load_json(text, name)
    if not isinstance(log, dict) or not isinstance(log.get("samples"), list):
        raise fail(
            name,
            "parse",
            "not an Inspect AI eval log with samples (no 'samples' list)",
            "write the log with --log-format json (or `inspect log convert --to json`), and keep the samples (no --no-log-samples)",
        )
    ev = log.get("eval") if isinstance(log.get("eval"), dict) else {}
    model = ev.get("model")
    samples = [s for s in log["samples"] if isinstance(s, dict)]
    scorers = list(
        dict.fromkeys(k for s in samples if isinstance(s.get("scores"), dict) for k in s["scores"])
    )
    keep = [pick_control(name, scorers, control, "scorer")] if control else scorers
    epochs = {s.get("epoch", 1) for s in samples}
    records: list[dict[str, Any]] = []
    rejected: dict[str, int] = {}
    for s in samples:
        if s.get("error"):
            count(rejected, "sample_error")
            continue
        scores = s.get("scores") if isinstance(s.get("scores"), dict) else {}
        mine = {k: v for k, v in scores.items() if k in keep}
        if not mine:
            count(rejected, "no_score")
            continue
        item = s.get("id") if len(epochs) <= 1 else f"{s.get('id')}#{s.get('epoch', 1)}"
        attrs = flat_scalars(s.get("metadata"), set(CLASHING) | {MODEL})
        for scorer, score in mine.items():
            value = score.get("value") if isinstance(score, dict) else score
            if isinstance(value, dict) and value and all(scalar(v) for v in value.values()):
                # a multi-grader scorer that keeps each grader's score: {grader: value}
                graded = [(f"{scorer}/{k}", v) for k, v in value.items()]
            elif isinstance(value, dict | list):
                count(rejected, "structured_value")
                continue
            else:
                graded = [(scorer, value)]
            for grader, v in graded:
                if v is None:
                    count(rejected, "no_value")
                    continue
                if isinstance(v, str):
                    v = VALUES.get(v, v)
                records.append({**attrs, ITEM_ID: item, LABELER_ID: grader, LABEL: v, MODEL: model})
    notes = [
        f"Inspect log of {ev.get('task', 'a task')} on {model or 'an unnamed model'}: one row per sample x scorer"
        + (f" ({len(keep)} scorers: {', '.join(keep[:6])})" if keep else "")
    ]
    return ReaderOutput(
        to_frame(records, list(range(1, len(records) + 1))), rejected, tuple(notes), "score"
    )
