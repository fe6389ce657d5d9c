"""LabelTable: the validated long table every statistic reads.

One row per (item, labeler) label. Ids are integer codes (``pd.factorize``
once at build time; DESIGN section 8 measured string ids and categoricals as
the dominant cost at scale), labels carry both a category code and a numeric
score on the label's scale:

- binary: score 1 = the positive (passing) value, 0 otherwise;
- ordinal: the rank of the value scaled to [0, 1];
- interval: the raw number;
- nominal: 1 if the label is ``positive`` (when one is given), else NaN
  (per-class statistics use ``value`` one-vs-rest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalaudit.contract import (
    BATCH,
    GOLD,
    ITEM_ID,
    LABEL,
    LABELER_ID,
    MODEL,
    ROW,
    TIMESTAMP,
    VENDOR,
    VERSION,
    LabelKind,
)

__all__ = ["ITEM", "LABELER", "SCORE", "VALUE", "LabelTable", "types_by_code"]

#: Column names inside ``LabelTable.frame``.
ITEM = "item"  # int32 code into LabelTable.item_ids
LABELER = "labeler"  # int32 code into LabelTable.labeler_ids
VALUE = "value"  # int16 code into LabelTable.categories; -1 for interval labels
SCORE = "score"  # float64 score on the label's scale (see module docstring)
ROW_COL = "row"  # 1-based row number in the source file (int32 while it fits)

INTERNAL_COLUMNS = frozenset({ITEM, LABELER, VALUE, SCORE, ROW_COL})


@dataclass(frozen=True)
class LabelTable:
    """The validated label table (DESIGN section 3).

    Attributes
    ----------
    frame:
        Columns ``item``, ``labeler`` (int32 codes), ``value`` (int16 code),
        ``score`` (float64), ``row`` (int32, int64 past 2^31 rows), and when present ``timestamp``
        (datetime64, UTC), ``vendor``, ``batch``, ``model``, ``version``
        (categorical), ``gold`` (string) and every slice column (categorical,
        missing values as the category ``"(missing)"``).
    item_ids, labeler_ids:
        Original ids; ``item_ids[code]`` is the id of item ``code``.
    kind:
        Level of measurement.
    categories:
        Label values in code order (ordered for binary: ``(negative,
        positive)``, and for ordinal); empty for interval.
    positive:
        The passing value for binary (and optionally nominal) labels.
    slice_columns:
        Item attribute columns used as slices.
    labeler_types:
        One of :data:`~evalaudit.contract.LABELER_TYPES` per labeler code
        (``labeler_types[code]``); empty when the input names no judge (every
        labeler is then a human, as before labeler types existed).
    judge_family:
        Judge id -> model family (from ``judge_family``), for self-preference.
    """

    frame: pd.DataFrame
    item_ids: pd.Index
    labeler_ids: pd.Index
    kind: LabelKind
    categories: tuple[str, ...] = ()
    positive: str | None = None
    slice_columns: tuple[str, ...] = ()
    label_column_source: str = LABEL
    extra: dict[str, object] = field(default_factory=dict)
    labeler_types: tuple[str, ...] = ()
    judge_family: Mapping[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def n_labels(self) -> int:
        return len(self.frame)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_labelers(self) -> int:
        return len(self.labeler_ids)

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    @property
    def is_judge(self) -> np.ndarray:
        """One boolean per labeler code: is it a model (an LLM judge)?"""
        if not self.labeler_types:
            return np.zeros(self.n_labelers, dtype=bool)
        return np.array([t == "model" for t in self.labeler_types], dtype=bool)

    @property
    def has_judges(self) -> bool:
        """Whether the table has both judges and humans (the judge audit's precondition)."""
        j = self.is_judge
        return bool(j.any() and not j.all())

    def labeler_type_of(self, code: int) -> str:
        """``human`` or ``model`` for labeler ``code``."""
        return self.labeler_types[code] if self.labeler_types else "human"

    # ------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        df: pd.DataFrame,
        kind: LabelKind | str,
        categories: Sequence[str] | None = None,
        positive: str | None = None,
        slice_columns: Sequence[str] = (),
        codes: Mapping[str, tuple[np.ndarray, pd.Index]] | None = None,
        labeler_types: Mapping[str, str] | None = None,
        judge_family: Mapping[str, str] | None = None,
    ) -> LabelTable:
        """Build from a frame with canonical columns (``item_id``, ``labeler_id``, ``label``, ...).

        The frame must already satisfy the contract (``evalaudit.validate``
        checks it); this constructor only encodes. Labels are compared as
        strings for binary/nominal/ordinal and parsed as floats for interval.
        ``categories`` fixes the code order (required order for ordinal
        scales; for binary it is ``(negative, positive)``); when omitted, the
        observed values are sorted (numerically when they all parse as
        numbers). ``codes`` optionally holds ``pd.factorize(df[col])`` of some
        columns (row-aligned with ``df``, missing as -1), computed by the
        caller already: they are reused instead of hashing the strings again.
        ``labeler_types`` maps labeler ids to ``human`` / ``model`` (a labeler not
        in it is human); ``judge_family`` judge ids to their model family.

        >>> t = LabelTable.build(
        ...     pd.DataFrame({"item_id": ["a", "a", "b"], "labeler_id": ["x", "y", "x"],
        ...                   "label": ["pass", "fail", "pass"]}),
        ...     "binary", positive="pass")
        >>> t.categories, t.frame["score"].tolist()
        (('fail', 'pass'), [1.0, 0.0, 1.0])
        """
        kind = LabelKind(kind)
        known = {
            col: c for col, c in (codes or {}).items() if col in df.columns and len(c[0]) == len(df)
        }
        if ITEM_ID in known and not (known[ITEM_ID][0] < 0).any():
            item_codes, item_ids = known[ITEM_ID]
        else:
            item_codes, item_ids = factorize(_as_text(df[ITEM_ID]))
        labeler_codes, labeler_ids = _factorize_sorted(df[LABELER_ID])
        out = pd.DataFrame(
            {
                ITEM: item_codes.astype(np.int32),
                LABELER: labeler_codes.astype(np.int32),
            }
        )
        labels = df[LABEL]
        if kind is LabelKind.INTERVAL:
            out[VALUE] = np.int16(-1)
            out[SCORE] = pd.to_numeric(labels, errors="raise").astype(np.float64).to_numpy()
            cats: tuple[str, ...] = ()
        else:
            text = _as_text(labels)
            if categories is None:
                observed = pd.unique(text.dropna())
                cats = tuple(_sort_values([str(v) for v in observed]))
                if kind is LabelKind.BINARY and positive is not None:
                    # the passing value may be unobserved (every label says fail)
                    cats = tuple([c for c in cats if c != positive] + [positive])
            else:
                cats = tuple(str(c) for c in categories)
            codes = _codes_in(text, cats)
            if (codes < 0).any():
                raise ValueError("labels outside the declared categories; validate first")
            out[VALUE] = codes.astype(np.int16)
            if kind is LabelKind.BINARY:
                if not cats:
                    raise ValueError("binary labels need at least one category")
                if positive is None:
                    positive = cats[-1]
                out[SCORE] = (codes == cats.index(positive)).astype(np.float64)
            elif kind is LabelKind.ORDINAL and len(cats) < 2:
                # a one-level scale has no extent: no share of it is estimable (it was 0%)
                out[SCORE] = np.nan
            elif kind is LabelKind.ORDINAL:
                k = len(cats) - 1
                out[SCORE] = codes.astype(np.float64) / k
            else:  # nominal
                if positive is not None and positive in cats:
                    out[SCORE] = (codes == cats.index(positive)).astype(np.float64)
                else:
                    out[SCORE] = np.nan
        rows = (
            df[ROW].to_numpy(dtype=np.int64)
            if ROW in df.columns
            else np.arange(1, len(df) + 1, dtype=np.int64)
        )
        # int32 while the numbers fit: 40 MB less at 10^7 rows
        small = not len(rows) or int(rows.max()) < np.iinfo(np.int32).max
        out[ROW_COL] = rows.astype(np.int32) if small else rows
        if TIMESTAMP in df.columns:
            ts = df[TIMESTAMP]
            if not isinstance(ts.dtype, pd.DatetimeTZDtype):
                ts = pd.to_datetime(ts, utc=True, format="ISO8601")
            # a Series, not .to_numpy(): that would box 10^6 tz-aware Timestamps as objects
            out[TIMESTAMP] = ts.reset_index(drop=True)
        for col in (VENDOR, BATCH, MODEL, VERSION):
            if col in df.columns:
                out[col] = _as_category(df[col], known.get(col))
        if GOLD in df.columns:
            out[GOLD] = df[GOLD].astype("string").to_numpy()
        for col in slice_columns:
            out[col] = _as_category(df[col], known.get(col))
        lab_index = pd.Index(labeler_ids, dtype="string", name=LABELER_ID)
        types = types_by_code(labeler_types, lab_index)
        return cls(
            frame=out,
            item_ids=pd.Index(item_ids, dtype="string", name=ITEM_ID),
            labeler_ids=lab_index,
            kind=kind,
            categories=cats,
            positive=positive,
            slice_columns=tuple(slice_columns),
            labeler_types=types,
            judge_family=dict(judge_family or {}),
        )

    # --------------------------------------------------------------- helpers
    def subset(self, mask: np.ndarray, columns: Sequence[str] | None = None) -> LabelTable:
        """The labels in ``mask``; items are re-coded, labeler codes and ids are kept.

        Keeping every labeler (even one with no label left) means per-labeler
        results of the subset line up with the full table's. ``columns``: keep only
        the internal columns (item, labeler, value, score, row) and these, for a
        statistic that reads no more (a narrow copy of a large table).
        """
        frame = self.frame
        if columns is not None:
            keep = [c for c in frame.columns if c in INTERNAL_COLUMNS or c in columns]
            frame = frame[keep]
        frame = frame[mask].reset_index(drop=True)
        codes, uniq = pd.factorize(frame[ITEM].to_numpy())
        frame[ITEM] = codes.astype(np.int32)
        return LabelTable(
            frame=frame,
            item_ids=pd.Index(self.item_ids.take(uniq), dtype="string", name=ITEM_ID),
            labeler_ids=self.labeler_ids,
            kind=self.kind,
            categories=self.categories,
            positive=self.positive,
            slice_columns=self.slice_columns,
            label_column_source=self.label_column_source,
            extra=dict(self.extra),
            labeler_types=self.labeler_types,
            judge_family=dict(self.judge_family),
        )

    def labels_per_item(self) -> np.ndarray:
        """Number of labels of each item, indexed by item code."""
        return np.bincount(self.frame[ITEM].to_numpy(), minlength=self.n_items)

    def first_rows(self) -> np.ndarray:
        """Mask of each item's first label row (in frame order).

        Item codes from ``pd.factorize`` number items in order of first appearance, so a
        row is its item's first exactly when its code exceeds every earlier code (one
        pass); other codings take the general route.
        """
        item = self.frame[ITEM].to_numpy()
        if len(item) == 0:
            return np.zeros(0, dtype=bool)
        prev = np.maximum.accumulate(item)
        first = np.empty(len(item), dtype=bool)
        first[0] = True
        first[1:] = item[1:] > prev[:-1]
        if int(first.sum()) == self.n_items and int(prev[-1]) == self.n_items - 1:
            return first
        first_row = np.full(self.n_items, len(item), dtype=np.int64)
        np.minimum.at(first_row, item, np.arange(len(item), dtype=np.int64))
        first = np.zeros(len(item), dtype=bool)
        first[first_row[first_row < len(item)]] = True
        return first

    def item_attribute(self, column: str) -> pd.Series:
        """An item-level attribute (first value per item), indexed by item code."""
        f = self.frame
        first = f.drop_duplicates(ITEM)
        return first.set_index(ITEM)[column].sort_index()


MISSING_SLICE = "(missing)"


def _as_category(s: pd.Series, factorized: tuple[np.ndarray, pd.Index] | None = None) -> pd.Series:
    """Categorical with the sorted values as categories, missing as :data:`MISSING_SLICE`.

    Factorizes once (or reuses ``factorized``, ``pd.factorize(s)``) and re-maps
    the codes: ``pd.Categorical(s, categories=...)`` would hash every string again.
    """
    if factorized is None:
        codes, uniques = pd.factorize(s.astype("string").fillna(MISSING_SLICE))
    else:
        codes, uniques = factorized
    values = [str(v) for v in uniques.tolist()]
    if len(codes) and (codes < 0).any():
        values.append(MISSING_SLICE)
        codes = np.where(codes < 0, len(values) - 1, codes)
    cats = sorted(set(values))  # a literal "(missing)" and missing values are one category
    pos = {v: i for i, v in enumerate(cats)}
    rank = np.array([pos[v] for v in values] or [0], dtype=np.int64)
    cat = pd.Categorical.from_codes(rank[codes] if len(codes) else codes, categories=cats)
    return pd.Series(cat, index=None).reset_index(drop=True)


def factorize(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(s)``: codes in order of first appearance (missing -> -1) and the uniques.

    Arrow-backed strings are hashed by Arrow's ``dictionary_encode`` (10^7 item ids of
    the scale benchmark: 2.6 s against 3.2 s for ``pd.factorize`` on the same Series),
    whose codes and order are those of ``pd.factorize``; anything else goes to
    ``pd.factorize``.
    """
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        from evalaudit.io import arrow_factorize

        out = arrow_factorize(s.array.__arrow_array__())
        if out is not None:
            return out
    codes, uniques = pd.factorize(s)
    return codes, pd.Index(uniques)


def _as_text(s: pd.Series) -> pd.Series:
    """``s`` as strings; a categorical of strings is kept (the same values, hashed per category)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    return s.astype("string")


def _factorize_sorted(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(s.astype("string"), sort=True)``, hashing each distinct string once.

    Codes follow the sorted order of the distinct values (as Python sorts strings).
    """
    codes, uniques = factorize(_as_text(s))
    names = np.asarray(uniques, dtype=object)
    if not len(names):
        return codes, pd.Index(names, dtype="string")
    order = np.argsort(names.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return out, pd.Index(names[order], dtype="string")


def _codes_in(text: pd.Series, cats: Sequence[str]) -> np.ndarray:
    """``pd.Categorical(text, categories=cats).codes`` hashing each distinct value once."""
    codes, uniques = pd.factorize(text)
    pos = {c: i for i, c in enumerate(cats)}
    lookup = np.array([pos.get(str(u), -1) for u in uniques.tolist()] + [-1], dtype=np.int64)
    return lookup[codes].astype(np.int8 if len(cats) < 127 else np.int32)


def _sort_values(values: list[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def types_by_code(
    labeler_types: Mapping[str, str] | None, labeler_ids: pd.Index
) -> tuple[str, ...]:
    """:attr:`LabelTable.labeler_types` from labeler id -> type (absent: human).

    Empty when no labeler is a model: an input without judges keeps the tables it had
    before labeler types existed.
    """
    if not labeler_types or not any(t == "model" for t in labeler_types.values()):
        return ()
    return tuple(labeler_types.get(str(i), "human") for i in labeler_ids)
