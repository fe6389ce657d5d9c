"""The reason codes of :attr:`evalaudit.contract.Problem.check`: one enum for every check.

A :class:`Check` is a ``str`` (``StrEnum``), so it prints, compares and serialises as its
code (``Check.DUPLICATE == "duplicate"``); the codes are part of the output (the
``[check]`` of each problem, ``problems[].check`` in ``validate --json``, the GX suite's
``meta.check``) and are never renamed.
"""

from __future__ import annotations

import enum

__all__ = ["Check"]


class Check(enum.StrEnum):
    """Why an input (or a row of it) cannot be used as it is."""

    # the file (evalaudit.io, evalaudit.readers)
    EXISTS = "exists"
    EMPTY = "empty"
    FORMAT = "format"
    COMPRESSION = "compression"
    ENCODING = "encoding"
    PARSE = "parse"
    HEADER = "header"
    SCHEMA = "schema"  # a labeling-tool export whose fields have the wrong types
    CONTROL = "control"  # which control / scorer / question of an export to read
    ENGINE = "engine"  # the --engine asked for cannot read this input (evalaudit.engine)
    # columns and mapping (validate.columns, validate.sidetables)
    COLUMN_MAP = "column_map"
    COLUMN_NAME = "column_name"
    COLUMN_EXISTS = "column_exists"
    COLUMN_CLASH = "column_clash"
    UNIQUE_KEY = "unique_key"
    SIDE_TABLE_MATCH = "side_table_match"
    VERSION = "version"
    # labels (validate.labels, validate.suite)
    LABEL_KIND = "label_kind"
    LABEL_SCALE = "label_scale"
    LABEL_SPELLING = "label_spelling"
    LABEL_VALUE = "label_value"
    GOLD_VALUE = "gold_value"
    POSITIVE = "positive"
    # rows (validate.suite, validate.timestamps)
    NOT_NULL = "not_null"
    TIMESTAMP_PARSE = "timestamp_parse"
    DUPLICATE = "duplicate"
    # slices and consistency (validate.slices; the *_constant and timestamp_missing are warnings)
    SLICE = "slice"
    SLICE_CONSTANT = "slice_constant"
    VENDOR_CONSTANT = "vendor_constant"
    MODEL_CONSTANT = "model_constant"
    LABELER_TYPE = "labeler_type"  # unknown or conflicting labeler types, --judges globs
    TIMESTAMP_MISSING = "timestamp_missing"
    # the other inputs of a run (policy, review decisions, attestations)
    RULES = "rules"
    PPI_STRATA = "ppi_strata"  # --ppi-strata / ppi_strata naming a column that is no slice
    REVIEWS = "reviews"
    ATTESTATION = "attestation"
