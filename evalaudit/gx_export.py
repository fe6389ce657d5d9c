"""The data contract as a great-expectations 1.x Expectation Suite a team can run itself
(``evalaudit validate FILE --export-gx suite.json``).

The suite checks the raw file as the team reads it (every column as text, under the
team's own column names when ``--column`` mapped them), with the label scale evalaudit
detected or was told:

=====================  ===============================================================
contract check         expectation
=====================  ===============================================================
required columns       ``expect_column_to_exist`` (item_id, labeler_id, label)
ids and label present  ``expect_column_values_to_not_be_null``
label in the scale     ``expect_column_values_to_be_in_set`` (binary, nominal, ordinal);
                       interval labels: ``expect_column_values_to_match_regex`` (a number)
gold in the scale      ``expect_column_values_to_be_in_set`` on ``gold``, when present
labeler types          ``expect_column_values_to_be_in_set`` on ``labeler_type``
                       (``human``, ``model``), when the label file has the column
timestamps parse       ``expect_column_values_to_match_regex``: ISO 8601 or epoch seconds
one label per pair     ``expect_compound_columns_to_be_unique`` (item_id, labeler_id)
=====================  ===============================================================

Each expectation's ``meta`` carries evalaudit's check name, message and fix. The suite
is the strict contract, the one ``evalaudit validate`` applies with ``--labels-exact`` and
without ``--skip-invalid`` / ``--duplicates keep-last``: where evalaudit repairs an input
and says so (label spellings unified, identical duplicate rows collapsed, rows set aside),
the suite fails instead. Labeler types are the two canonical values: evalaudit also
reads the spellings of :data:`~evalaudit.contract.LABELER_TYPE_SYNONYMS` (``LLM``,
``annotator``, ...), which the strict suite refuses (a blank type, untyped, passes both).
The timestamp pattern accepts the ISO 8601 forms evalaudit
parses (date, ``T`` or space, optional seconds, fraction and offset) and epoch numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalaudit.contract import (
    GOLD,
    ITEM_ID,
    LABEL,
    LABELER_ID,
    LABELER_TYPE,
    LABELER_TYPES,
    TIMESTAMP,
    LabelKind,
)
from evalaudit.validate import Ingested, IngestOptions

__all__ = ["NUMBER_PATTERN", "TIMESTAMP_PATTERN", "contract_suite", "write_suite"]

NUMBER_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
TIMESTAMP_PATTERN = (
    r"^\s*(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?"
    r"|[-+]?\d+(\.\d*)?)\s*$"
)


def contract_suite(ing: Ingested, options: IngestOptions | None = None) -> dict[str, Any]:
    """The suite (GX 1.x JSON form, ``ExpectationSuite.to_json_dict()``) for ``ing``'s contract."""
    from evalaudit.validate.suite import _gx_context, import_gx, unsaved_suite

    gx, gxe = import_gx()

    opts = options or IngestOptions()
    theirs = {canonical: mine for canonical, mine in opts.column_map.items()}

    def col(name: str) -> str:
        return theirs.get(name, name)

    spec = ing.label_spec
    _gx_context()
    meta = {
        "evalaudit": {
            "source": ing.path,
            "label_kind": str(spec.kind),
            "categories": list(spec.categories),
            "positive": spec.positive,
            "columns": {c: col(c) for c in (ITEM_ID, LABELER_ID, LABEL)},
            "read_as": "every column as text; empty cells are missing",
        }
    }
    expectations: list[Any] = []

    def add(exp: Any, check: str, message: str, hint: str) -> None:
        exp.meta = {"check": check, "message": message, "hint": hint}
        expectations.append(exp)

    for c in (ITEM_ID, LABELER_ID, LABEL):
        add(
            gxe.ExpectColumnToExist(column=col(c)),
            "column_exists",
            f"required column '{c}' is missing",
            f"add the column '{col(c)}'",
        )
        add(
            gxe.ExpectColumnValuesToNotBeNull(column=col(c)),
            "not_null",
            f"'{c}' is empty",
            f"fill '{col(c)}' on those rows or remove them",
        )
    allowed = ", ".join(spec.categories[:12])
    if spec.kind is LabelKind.INTERVAL:
        add(
            gxe.ExpectColumnValuesToMatchRegex(column=col(LABEL), regex=NUMBER_PATTERN),
            "label_value",
            "label is not a number",
            "interval labels must be numbers",
        )
    else:
        add(
            gxe.ExpectColumnValuesToBeInSet(column=col(LABEL), value_set=list(spec.categories)),
            "label_value",
            f"unknown label value (the scale is {spec.kind}: {allowed})",
            f"use one of the label values ({allowed})",
        )
        if ing.table.has(GOLD):
            add(
                gxe.ExpectColumnValuesToBeInSet(column=col(GOLD), value_set=list(spec.categories)),
                "gold_value",
                "unknown gold value",
                f"gold answers must be label values ({allowed})",
            )
    if ing.labeler_type_in_data:
        types = ", ".join(LABELER_TYPES)
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column=col(LABELER_TYPE), value_set=list(LABELER_TYPES)
            ),
            "labeler_type",
            f"unknown labeler type (a labeler is {' or '.join(LABELER_TYPES)})",
            f"use one of {types} (evalaudit also reads synonyms such as llm or annotator; "
            "the suite takes the canonical values)",
        )
    if ing.table.has(TIMESTAMP):
        add(
            gxe.ExpectColumnValuesToMatchRegex(column=col(TIMESTAMP), regex=TIMESTAMP_PATTERN),
            "timestamp_parse",
            "timestamp cannot be parsed",
            "use ISO 8601 (2026-03-02T09:15:00Z) or epoch seconds",
        )
    add(
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[col(ITEM_ID), col(LABELER_ID)]),
        "duplicate",
        "the same labeler labeled the same item more than once",
        "keep one label per (item, labeler)",
    )
    return unsaved_suite(gx, "evalaudit_contract", expectations, meta).to_json_dict()


def write_suite(ing: Ingested, path: str | Path, options: IngestOptions | None = None) -> int:
    """Write the suite to ``path`` (atomically); returns the number of expectations."""
    from evalaudit.io import atomic_write

    d = contract_suite(ing, options)
    with atomic_write(path) as fh:
        fh.write(json.dumps(d, indent=2, sort_keys=True) + "\n")
    return len(d["expectations"])
