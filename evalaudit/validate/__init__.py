"""Ingest and validate: from a user's file to a :class:`~evalaudit.table.LabelTable`.

Runs before any statistic. Every problem is collected (not just the first)
and reported with check, column, count, the first row numbers as in the file
and a fix hint. Errors raise :class:`~evalaudit.contract.InputError`; warnings
travel on with the table and become ``data_quality`` findings. Row
accounting (rows read, used, and rejected by reason) is always returned:
nothing is dropped silently.

The row-level checks of the contract
-----------------------------------
They are declared once, in :func:`contract_checks` (column present, not null,
value in the label scale, gold in the scale, timestamp parses, (item, labeler)
unique), and have two executors that must agree:

- great-expectations: :func:`build_suite` turns the declaration into the
  declared contract, a GX suite (one expectation per check, hint and message in
  ``meta``). GX is imported lazily (the import costs ~2.5 s) and validates at
  ~2.3 s per 10^6 rows (DESIGN section 8).
- vectorized: :func:`_validate_fast` evaluates the same declaration with
  pandas/numpy over *every* row (never a sample), with GX's semantics:
  ``in_set`` ignores missing values, ``unique`` counts every row of a
  duplicated key and skips rows whose key columns are all missing, the first
  row numbers are those of the offending rows in file order, capped at
  ``MAX_ROWS_SHOWN``.

:func:`contract_engine` picks GX for inputs of up to :data:`GX_MAX_ROWS` rows
and the vectorized executor above that; ``EVALAUDIT_CONTRACT=gx`` (or
``fast``) forces one. Both feed the same conversion to :class:`Problem`, so the
user sees the same report either way; ``tests/test_contract_parity.py`` checks
that they give the same problems (check, column, count, first rows, examples)
on bad inputs of every kind.

At scale the cost is hashing strings (DESIGN section 8), so each column is
factorized once per ingest (:func:`_codes`) and the duplicate, slice and
consistency checks work on the integer codes; the item and attribute codes go
on to :meth:`LabelTable.build`. Timestamps are parsed once per distinct value.

Modules (one concept each)
--------------------------
- :mod:`~evalaudit.validate.options`: :class:`IngestOptions`, :class:`Ingested`, :class:`Accounting`
- :mod:`~evalaudit.validate.pipeline`: :func:`ingest`, the pipeline
- :mod:`~evalaudit.validate.columns`: mapping, aliases, required columns, ``--skip-invalid``,
  ``--version``
- :mod:`~evalaudit.validate.sidetables`: ``--items`` / ``--labelers``
- :mod:`~evalaudit.validate.labels`: spellings and the label spec
- :mod:`~evalaudit.validate.suite`: the declared checks, the GX suite and its fast twin
- :mod:`~evalaudit.validate.timestamps`: parsing, ``--duplicates keep-last``
- :mod:`~evalaudit.validate.slices`: slice detection and consistency warnings
- :mod:`~evalaudit.validate.codes`: the shared column codes
- :mod:`~evalaudit.validate.reasons`: :class:`Check`, the codes of ``Problem.check``

Readers (formats, labeling-tool exports) are :mod:`evalaudit.io` and :mod:`evalaudit.readers`.
"""

from evalaudit.validate.options import Accounting, DuplicatePolicy, Ingested, IngestOptions
from evalaudit.validate.pipeline import ingest
from evalaudit.validate.reasons import Check
from evalaudit.validate.suite import (
    CONTRACT_ENV,
    GX_MAX_ROWS,
    LABEL_NUMBER,
    TIMESTAMP_PARSED,
    ContractCheck,
    build_suite,
    contract_checks,
    contract_engine,
)

__all__ = [
    "CONTRACT_ENV",
    "GX_MAX_ROWS",
    "LABEL_NUMBER",
    "TIMESTAMP_PARSED",
    "Accounting",
    "Check",
    "ContractCheck",
    "DuplicatePolicy",
    "IngestOptions",
    "Ingested",
    "build_suite",
    "contract_checks",
    "contract_engine",
    "ingest",
]
