"""The label spec: spellings unified (or refused with ``--labels-exact``), then the scale
detected or declared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalaudit.contract import (
    GOLD,
    LABEL,
    MAX_ROWS_SHOWN,
    MAX_SLICE_VALUES,
    InputError,
    LabelKind,
    LabelSpec,
    Problem,
    detect_label_spec,
)
from evalaudit.io import RawFile
from evalaudit.table import factorize
from evalaudit.validate.codes import _codes
from evalaudit.validate.options import IngestOptions


def _number_key(v: str) -> str | None:
    """The canonical text of a label that is a finite number (``'3.0'``, ``' 3'`` -> ``'3'``;
    ``'0.50'`` -> ``'0.5'``), None for any other text."""
    try:
        f = float(v)
    except ValueError:
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def _spelling_key(v: str) -> str:
    """What a spelling is compared by: its number when it is one, else case-folded text."""
    num = _number_key(v)
    return "\0" + num if num is not None else v.strip().casefold()


def spelling_map(freq: dict[str, int], opts: IngestOptions) -> dict[str, str]:
    """Spelling -> the spelling it is unified to, for label values (with their row counts
    ``freq``) that differ only in case, surrounding whitespace or the writing of one number
    (``3`` / ``3.0``: a 1-5 scale was otherwise read as ten levels, ``1<1.0<2<2.0...``).

    Each group's target is a declared ``--labels`` / ``--order`` / ``--positive`` value when
    one matches, else the lower-case stripped spelling (for a number: its shortest form,
    ``3``) when it is in the data, else the most frequent stripped spelling. The rule of
    both ingests (in memory and SQL).
    """
    declared = [
        *(opts.labels or ()),
        *(opts.order or ()),
        *([opts.positive] if opts.positive else []),
    ]
    groups: dict[str, list[str]] = {}
    for v in freq:
        groups.setdefault(_spelling_key(v), []).append(v)
    mapping: dict[str, str] = {}
    for key, spellings in groups.items():
        if not key:
            continue  # a whitespace-only label is blank, not a spelling (see --skip-invalid)
        if len(spellings) == 1 and not declared and spellings[0] == spellings[0].strip():
            continue  # its own target (10^6 distinct interval scores: most groups)
        target = next((d for d in declared if _spelling_key(d) == key), None)
        if target is None:
            plain = key[1:] if key.startswith("\0") else key
            lower = [v for v in spellings if v == plain]
            stripped = sorted((v for v in spellings if v == v.strip()), key=lambda v: -freq[v])
            target = lower[0] if lower else stripped[0] if stripped else spellings[0].strip()
        for v in spellings:
            if v != target:
                mapping[v] = target
    return mapping


def _by_target(mapping: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v, t in mapping.items():
        out.setdefault(t, []).append(v)
    return out


def spelling_problem(
    mapping: dict[str, str], freq: dict[str, int], rows: tuple[int, ...]
) -> Problem:
    """The ``--labels-exact`` refusal of the spellings ``mapping`` would unify (first ``rows``)."""
    return Problem(
        "label_spelling",
        LABEL,
        sum(freq[v] for v in mapping),
        rows,
        "label values differ only in case, surrounding whitespace or number format ("
        + "; ".join(f"{', '.join(map(repr, vs))} vs {t!r}" for t, vs in _by_target(mapping).items())
        + ")",
        "fix the spellings in the file, or drop --labels-exact to unify them",
        examples=tuple(mapping)[:5],
    )


def spelling_note(mapping: dict[str, str], freq: dict[str, int]) -> str:
    """The note saying which spellings were unified, on how many rows."""
    return (
        "labels normalised: "
        + "; ".join(
            f"{', '.join(map(repr, vs))} -> {t!r}" for t, vs in sorted(_by_target(mapping).items())
        )
        + f" on {sum(freq[v] for v in mapping):,} row(s) (--labels-exact to refuse)"
    )


def _normalise_labels(
    frame: pd.DataFrame, raw: RawFile, opts: IngestOptions, notes: list[str]
) -> pd.DataFrame:
    """Unify label spellings that differ only in case or surrounding whitespace.

    ``'PASS'``, ``'Pass '`` and ``' pass'`` are one label: each group of spellings is
    rewritten to one (a declared ``--labels`` / ``--order`` / ``--positive`` value when one
    matches, else the lower-case stripped spelling when it is in the data, else the most
    frequent stripped spelling), and the note says which spellings on how many rows.
    The ``gold`` column gets the same mapping. ``--labels-exact`` refuses instead.
    """
    columns = [c for c in (LABEL, GOLD) if c in frame.columns]
    codes, uniques = _codes(frame[LABEL])
    if not len(uniques):
        return frame
    n_rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
    freq = {str(u): int(n) for u, n in zip(uniques, n_rows, strict=True)}
    if GOLD in frame.columns:
        for v in frame[GOLD].dropna().unique():
            freq.setdefault(str(v), 0)
    mapping = spelling_map(freq, opts)
    if not mapping:
        return frame
    if opts.labels_exact:
        rows = np.flatnonzero(
            np.isin(codes, [i for i, u in enumerate(uniques) if str(u) in mapping])
        )
        raise InputError(
            raw.path,
            [
                spelling_problem(
                    mapping, freq, tuple(int(r) for r in frame.index[rows[:MAX_ROWS_SHOWN]])
                )
            ],
            row_label=raw.row_label,
        )
    notes.append(spelling_note(mapping, freq))
    out = frame.copy(deep=False)
    for col in columns:
        c, u = _codes(frame[col]) if col == LABEL else factorize(frame[col])
        renamed = np.asarray([mapping.get(str(x), str(x)) for x in u], dtype=object)
        values = np.where(c >= 0, renamed[np.maximum(c, 0)] if len(u) else None, None)
        out[col] = pd.array(values, dtype="string")
    return out


# ------------------------------------------------------------------ labels
def _label_spec(frame: pd.DataFrame, raw: RawFile, opts: IngestOptions) -> LabelSpec:
    counts = frame[LABEL].dropna().value_counts()
    if counts.empty:
        raise InputError(
            raw.path,
            [
                Problem(
                    "not_null",
                    LABEL,
                    len(frame),
                    tuple(int(r) for r in frame.index[:MAX_ROWS_SHOWN]),
                    "every label is empty",
                    "fill the label column",
                )
            ],
            row_label=raw.row_label,
        )
    return spec_from_counts({str(k): int(v) for k, v in counts.items()}, opts, raw.path, len(frame))


def spec_from_counts(
    counts: dict[str, int], opts: IngestOptions, path: str, n_rows: int
) -> LabelSpec:
    """The label scale of ``counts`` (label value -> rows) under the options, or InputError.

    Shared by the in-memory and the SQL ingest; ``n_rows`` is the rows the labels
    come from (named when the label column is no scale at all).
    """
    try:
        spec = detect_label_spec(
            counts,
            kind=opts.label_kind,
            positive=opts.positive,
            order=list(opts.order) if opts.order else None,
            labels=list(opts.labels) if opts.labels else None,
        )
    except ValueError as exc:
        raise InputError(
            path,
            [
                Problem(
                    "label_kind",
                    LABEL,
                    0,
                    (),
                    str(exc),
                    "pass --order with the values, lowest first",
                )
            ],
        ) from None
    if spec.kind is LabelKind.NOMINAL and len(spec.categories) > MAX_SLICE_VALUES:
        raise InputError(
            path,
            [
                Problem(
                    "label_kind",
                    LABEL,
                    n_rows,
                    (),
                    f"the label column has {len(spec.categories)} distinct text values; "
                    "that does not look like a label scale",
                    "check --column label=..., or declare the scale with --labels / --order / "
                    "--label-kind",
                )
            ],
        )
    if opts.positive is not None and spec.categories and opts.positive not in spec.categories:
        raise InputError(
            path,
            [
                Problem(
                    "positive",
                    LABEL,
                    0,
                    (),
                    f"--positive {opts.positive!r} is not a label value",
                    "use one of: " + ", ".join(spec.categories[:20]),
                )
            ],
        )
    return spec
