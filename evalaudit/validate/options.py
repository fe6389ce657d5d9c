"""What ingest is told (:class:`IngestOptions`, the CLI's input options) and what it returns
(:class:`Ingested`: the validated table, the label spec, the row :class:`Accounting`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from evalaudit.contract import (
    LabelKind,
    LabelSpec,
    Problem,
)
from evalaudit.table import LabelTable

DuplicatePolicy = Literal["error", "keep-last"]


@dataclass(frozen=True)
class IngestOptions:
    """How to read the user's files. Mirrors the CLI options of ``audit`` and ``validate``."""

    fmt: str | None = None
    items: str | None = None
    labelers: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    label_kind: LabelKind | None = None
    positive: str | None = None
    order: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    slices: tuple[str, ...] | None = None  # None: auto-detect
    duplicates: DuplicatePolicy = "error"
    version: str | None = None
    #: a CSV's delimiter (default: sniffed from the first lines)
    delimiter: str | None = None
    #: the labeling-tool control / scorer / question / feedback key to read
    control: str | None = None
    #: set rows with a blank item_id, labeler_id or label aside (counted) instead of stopping
    skip_invalid: bool = False
    #: refuse label spellings that differ only in case or surrounding whitespace
    labels_exact: bool = False
    #: ``--judges GLOB``: labeler ids (fnmatch) that are models (LLM judges)
    judges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accounting:
    """Rows read, used, and each reason a row was not used (they add up)."""

    rows_read: int
    rows_used: int
    rows_rejected: dict[str, int]
    items: int
    labelers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_rejected": dict(sorted(self.rows_rejected.items())),
            "items": self.items,
            "labelers": self.labelers,
        }


@dataclass(frozen=True)
class Ingested:
    """A validated input: the table plus what the user should know about how it was read."""

    path: str
    sha256: str
    format: str
    table: LabelTable
    label_spec: LabelSpec
    accounting: Accounting
    warnings: tuple[Problem, ...]
    slice_note: str
    row_label: str
    side_files: dict[str, str] = field(default_factory=dict)  # role -> sha256
    #: what was done to read the input (decompressed, delimiter, export mapped, labels
    #: normalised, rows set aside): printed, and carried into ``AuditResult.notes``
    notes: tuple[str, ...] = ()
    #: the label file itself has a ``labeler_type`` column (not only the ``--labelers`` table)
    labeler_type_in_data: bool = False
