"""The input data contract: canonical column names, label kinds, problems.

This is the one place column names are spelled (DESIGN section 2). User
columns are renamed to these at ingest (``--column item_id=question_id``) and
no other module accepts an alias.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "BATCH",
    "GOLD",
    "ITEM_ID",
    "JUDGE_FAMILY",
    "LABEL",
    "LABELER_ATTRIBUTES",
    "LABELER_ID",
    "LABELER_TYPE",
    "LABELER_TYPES",
    "LABELER_TYPE_SYNONYMS",
    "MODEL",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RESERVED_COLUMNS",
    "ROW",
    "TIMESTAMP",
    "VENDOR",
    "VERSION",
    "InputError",
    "LabelKind",
    "Problem",
    "Severity",
]

ITEM_ID = "item_id"
LABELER_ID = "labeler_id"
LABEL = "label"
TIMESTAMP = "timestamp"
VENDOR = "vendor"
BATCH = "batch"
MODEL = "model"
VERSION = "version"
GOLD = "gold"
#: ``human`` or ``model`` (an LLM judge); a labeler attribute, in the label table or the
#: ``--labelers`` side table (synonyms: :data:`LABELER_TYPE_SYNONYMS`).
LABELER_TYPE = "labeler_type"
#: The model family of a judge (e.g. ``gpt``), matched against ``model`` for self-preference.
JUDGE_FAMILY = "judge_family"
#: The two labeler types, the reference first.
LABELER_TYPES: tuple[str, ...] = ("human", "model")
#: Spellings read as a labeler type (compared case-insensitively, surrounding blanks ignored).
LABELER_TYPE_SYNONYMS: dict[str, str] = {
    "human": "human",
    "humans": "human",
    "annotator": "human",
    "person": "human",
    "people": "human",
    "rater": "human",
    "crowd": "human",
    "expert": "human",
    "model": "model",
    "llm": "model",
    "judge": "model",
    "llm_judge": "model",
    "llm-judge": "model",
    "llm judge": "model",
    "ai": "model",
    "machine": "model",
    "auto": "model",
    "automatic": "model",
}

#: The 1-based row number in the source file, attached at ingest. For CSV/TSV it
#: is the physical line number (the header is line 1), for JSON Lines the line
#: number, for Parquet the 1-based row index.
ROW = "_row"

REQUIRED_COLUMNS: tuple[str, ...] = (ITEM_ID, LABELER_ID, LABEL)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    TIMESTAMP,
    VENDOR,
    BATCH,
    MODEL,
    VERSION,
    GOLD,
    LABELER_TYPE,
    JUDGE_FAMILY,
)
#: Columns that describe the labeler rather than the item: never item slices.
LABELER_ATTRIBUTES: tuple[str, ...] = (VENDOR, BATCH)
RESERVED_COLUMNS: frozenset[str] = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS + (ROW,))

#: Most distinct values a column may have to be auto-detected as a slice.
MAX_SLICE_VALUES = 50


class LabelKind(enum.StrEnum):
    """Level of measurement of the label (Krippendorff 2011, section C)."""

    BINARY = "binary"
    NOMINAL = "nominal"
    ORDINAL = "ordinal"
    INTERVAL = "interval"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One contract violation: what, where, how many, and how to fix it.

    ``rows`` holds the first offending row numbers as in the file (see
    :data:`ROW`); ``count`` is the total number of offending rows.
    """

    check: str
    column: str | None
    count: int
    rows: tuple[int, ...]
    message: str
    hint: str
    severity: Severity = Severity.ERROR
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "column": self.column,
            "count": self.count,
            "rows": list(self.rows),
            "message": self.message,
            "hint": self.hint,
            "severity": str(self.severity),
            "examples": list(self.examples),
        }


#: How many row numbers a problem lists, and how many problems are printed.
MAX_ROWS_SHOWN = 5
MAX_PROBLEMS_SHOWN = 20


@dataclass
class InputError(Exception):
    """The input cannot be audited. Carries every problem found, not just the first.

    ``str()`` is a compact table: the file, then one block per problem with
    check, column, count, the first row numbers and a fix hint. It is capped
    (:data:`MAX_PROBLEMS_SHOWN`), never a dump of the data.
    """

    path: str
    problems: list[Problem] = field(default_factory=list)
    row_label: str = "row"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == Severity.ERROR]
        lines = [f"{self.path}: {len(errors)} problem(s)"]
        for p in errors[:MAX_PROBLEMS_SHOWN]:
            lines.extend(format_problem(p, self.row_label))
        if len(errors) > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {len(errors) - MAX_PROBLEMS_SHOWN} more problem(s)")
        return "\n".join(lines)


@dataclass
class ResourceError(Exception):
    """The machine ran out of memory for this input: not the user's data, not a bug.

    Says which step was running, what it tried to allocate (numpy's and Arrow's messages
    say how much), the input's size and the way out. The CLI exits 2 with it.
    """

    step: str | None = None
    needed: str | None = None
    path: str | None = None
    file_bytes: int | None = None
    rows: int | None = None
    peak_mb: float | None = None
    #: what the statistics are predicted to need for ``rows`` labels (bytes), whatever the engine
    stats_bytes: int | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        what = f"while running '{self.step}'" if self.step else "while auditing"
        size = []
        if self.rows is not None:
            size.append(f"{self.rows:,} label rows")
        if self.file_bytes is not None:
            size.append(f"{self.file_bytes / 2**20:,.1f} MiB on disk")
        lines = [
            f"out of memory {what}"
            + (f" on {self.path}" if self.path else "")
            + (f" ({', '.join(size)})" if size else ""),
        ]
        if self.needed:
            lines.append(f"  the allocation that failed: {self.needed}")
        if self.peak_mb:
            lines.append(f"  resident memory reached {self.peak_mb:,.0f} MB before it")
        need = (
            f" (about {self.stats_bytes / 2**30:,.1f} GB for these labels)"
            if self.stats_bytes
            else ""
        )
        split = "audit one part at a time (--version, or split the file by batch)"
        if self.step in (None, "read and validate", "read baseline"):
            lines.append(
                "  fix: read it out of core with --engine duckdb (the file's text stays on "
                f"disk; the statistics after the read still hold the labels{need}), or run on "
                f"a machine with more memory, or {split}"
            )
        else:
            # the statistics hold every label whatever the engine: DuckDB would not help here
            lines.append(
                f"  the statistics hold every label in memory{need}, whichever --engine read "
                f"the file; fix: run on a machine with more memory than that, or {split}"
            )
        return "\n".join(lines)


def format_problem(p: Problem, row_label: str = "row") -> list[str]:
    """Lines describing one problem: check, where, what, how many, which rows, the fix."""
    noun = "key" if p.check in ("rules", "reviews") else "column"
    where = f"{noun} '{p.column}'" if p.column else "file"
    detail = []
    if p.count > 1:
        detail.append(f"{p.count:,} rows")
    if p.rows:
        shown = ", ".join(str(r) for r in p.rows[:MAX_ROWS_SHOWN])
        label = row_label if len(p.rows) == 1 else f"{row_label}s"
        more = p.count - min(len(p.rows), MAX_ROWS_SHOWN)
        detail.append(f"{label} {shown}" + (f" and {more:,} more" if more > 0 else ""))
    suffix = f" ({'; '.join(detail)})" if detail else ""
    out = [f"  [{p.check}] {where}: {p.message}{suffix}"]
    if p.examples:
        out.append("      values: " + ", ".join(repr(e) for e in p.examples[:5]))
    out.append(f"      fix: {p.hint}")
    return out


# --------------------------------------------------------------------------
# Label kinds: detection
# --------------------------------------------------------------------------
#: Recognised binary vocabularies as (negative, positive), compared case-insensitively.
BINARY_VOCABULARIES: tuple[tuple[str, str], ...] = (
    ("fail", "pass"),
    ("no", "yes"),
    ("false", "true"),
    ("0", "1"),
    ("incorrect", "correct"),
    ("bad", "good"),
    ("reject", "accept"),
    ("unacceptable", "acceptable"),
    ("n", "y"),
    ("f", "t"),
)
#: Largest number of distinct integer values auto-detected as an ordinal scale.
MAX_ORDINAL_LEVELS = 11
#: Share of rows a detected kind must explain; the rest are reported as unknown labels.
DETECTION_COVERAGE = 0.99


@dataclass(frozen=True)
class LabelSpec:
    """The label scale the audit uses: kind, the allowed values in code order, the passing value.

    ``detected`` says whether it was inferred (and is then printed) or declared
    by the user. ``reason`` is the one-line explanation shown to the user.
    """

    kind: LabelKind
    categories: tuple[str, ...]
    positive: str | None
    detected: bool
    reason: str

    def describe(self) -> str:
        how = "auto-detected" if self.detected else "declared"
        vals = ""
        if self.categories:
            shown = list(self.categories[:12])
            vals = (
                " values " + "<".join(shown)
                if self.kind is LabelKind.ORDINAL
                else (" values " + ", ".join(shown))
            )
            if len(self.categories) > 12:
                vals += ", ..."
        pos = f", positive={self.positive!r}" if self.positive is not None else ""
        tail = f";{vals}{pos}" if vals or pos else ""
        return f"{self.kind} ({how}: {self.reason}){tail}"


def _numeric(values: list[str]) -> list[float] | None:
    out: list[float] = []
    for v in values:
        try:
            f = float(v)
        except ValueError:
            return None
        if f != f or f in (float("inf"), float("-inf")):
            return None
        out.append(f)
    return out


def detect_label_spec(
    counts: dict[str, int],
    kind: LabelKind | None = None,
    positive: str | None = None,
    order: list[str] | None = None,
    labels: list[str] | None = None,
) -> LabelSpec:
    """Decide the label scale from the observed values (``counts``: value -> rows).

    Declared options win: ``order`` fixes an ordinal scale, ``labels`` the
    allowed set, ``kind`` the level, ``positive`` the passing value. Otherwise:
    values inside one binary vocabulary -> binary; all numbers -> binary for
    {0, 1}, ordinal for at most :data:`MAX_ORDINAL_LEVELS` integers, else
    interval; otherwise nominal. A kind that explains at least
    :data:`DETECTION_COVERAGE` of the rows is kept and the rest become
    ``unknown label`` errors (a stray ``maybe`` among pass/fail is a typo,
    not a third class).
    """
    total = sum(counts.values())
    values = sorted(counts, key=lambda v: (-counts[v], v))
    if order:
        return LabelSpec(
            LabelKind.ORDINAL if kind in (None, LabelKind.ORDINAL) else kind,
            tuple(order),
            positive,
            False,
            "--order given",
        )
    if labels:
        k = kind or (LabelKind.BINARY if len(labels) == 2 else LabelKind.NOMINAL)
        cats = tuple(labels)
        if k is LabelKind.BINARY:
            cats, positive = _binary_order(cats, positive)
        return LabelSpec(k, cats, positive, False, "--labels given")
    if kind is LabelKind.INTERVAL:
        return LabelSpec(kind, (), None, False, "--label-kind interval")

    def covered(allowed: set[str]) -> int:
        return sum(counts[v] for v in values if v in allowed)

    def explains(n: int) -> bool:
        # a handful of stray rows in a small file is still a typo, not a new class
        return n >= DETECTION_COVERAGE * total or (total - n <= 5 and n >= 0.9 * total)

    # binary vocabularies
    lowered = {v: v.strip().lower() for v in values}
    best: tuple[int, tuple[str, str]] | None = None
    for neg, pos in BINARY_VOCABULARIES:
        n = sum(counts[v] for v in values if lowered[v] in (neg, pos))
        if n and (best is None or n > best[0]):
            best = (n, (neg, pos))
    nums = _numeric(values)
    if kind in (None, LabelKind.BINARY) and best and explains(best[0]):
        neg, pos = best[1]
        # keep the user's spelling: the most frequent observed spelling of each side
        neg_v = next((v for v in values if lowered[v] == neg), neg)
        pos_v = next((v for v in values if lowered[v] == pos), pos)
        if positive is not None:
            if positive not in (neg_v, pos_v):
                pos_v, neg_v = positive, (neg_v if positive != neg_v else pos_v)
            elif positive == neg_v:
                neg_v, pos_v = pos_v, neg_v
        if nums is not None and len(values) > 2 and kind is None:
            pass  # many numbers: fall through to the numeric scales below
        else:
            return LabelSpec(
                LabelKind.BINARY,
                (neg_v, pos_v),
                pos_v,
                kind is None,
                f"values look like {neg}/{pos}" if kind is None else "--label-kind",
            )
    if kind is LabelKind.BINARY:
        cats = tuple(values[:2])
        cats, positive = _binary_order(cats, positive)
        return LabelSpec(kind, cats, positive, False, "--label-kind binary")
    # numeric scales: judge on the values that parse, strays become errors
    parsed: dict[str, float] = {}
    for v in values:
        try:
            f = float(v)
        except ValueError:
            continue
        if f == f and abs(f) != float("inf"):
            parsed[v] = f
    numeric_rows = covered(set(parsed))
    if kind in (None, LabelKind.ORDINAL) and parsed and explains(numeric_rows):
        integral = all(f.is_integer() for f in parsed.values())
        if integral and (len(parsed) <= MAX_ORDINAL_LEVELS or kind is LabelKind.ORDINAL):
            cats = tuple(sorted(parsed, key=lambda v: parsed[v]))
            lo, hi = int(min(parsed.values())), int(max(parsed.values()))
            if hi - lo + 1 <= MAX_ORDINAL_LEVELS and all(c == str(int(parsed[c])) for c in cats):
                # a 1-5 scale where nobody gave a 4 is still a 1-5 scale
                cats = tuple(str(i) for i in range(lo, hi + 1))
            return LabelSpec(
                LabelKind.ORDINAL,
                cats,
                positive,
                kind is None,
                (
                    f"{len(cats)} integer values"
                    if len(cats) > 1
                    else "1 integer value: one level, no scale to score on; declare the scale "
                    "with --order, lowest first"
                )
                if kind is None
                else "--label-kind",
            )
        if kind is None:
            return LabelSpec(
                LabelKind.INTERVAL,
                (),
                None,
                True,
                "numeric values" + ("" if integral else " with decimals"),
            )
    if kind is LabelKind.ORDINAL:
        if parsed and explains(numeric_rows):
            # numbers, but with decimals: the old message said they were not numbers
            shown = ", ".join(sorted(parsed, key=lambda v: parsed[v])[:3])
            raise ValueError(
                f"ordinal labels with decimals ({shown}, ...) need --order (lowest first); "
                "numeric scores are --label-kind interval"
            )
        raise ValueError("ordinal labels that are not numbers need --order (lowest first)")
    cats = tuple(sorted(values))
    return LabelSpec(
        LabelKind.NOMINAL,
        cats,
        positive if positive in cats else None,
        kind is None,
        f"{len(cats)} distinct text values" if kind is None else "--label-kind nominal",
    )


def _binary_order(cats: tuple[str, ...], positive: str | None) -> tuple[tuple[str, ...], str]:
    if positive is None:
        lowered = [c.lower() for c in cats]
        for _neg, pos in BINARY_VOCABULARIES:
            if pos in lowered:
                positive = cats[lowered.index(pos)]
                break
        else:
            positive = sorted(cats)[-1]
    rest = tuple(c for c in cats if c != positive)
    return (*rest, positive), positive
