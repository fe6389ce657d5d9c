"""Labeler types: which labelers are humans and which are models (LLM judges).

Three sources, combined: a ``labeler_type`` column in the label table, the same
column in the ``--labelers`` side table, and ``--judges GLOB`` (repeatable,
``fnmatch`` on the labeler id, case-sensitive). Values are read through
:data:`~evalaudit.contract.LABELER_TYPE_SYNONYMS` (``llm``, ``judge``, ``ai`` ->
model; ``annotator``, ``person`` -> human). A blank type is unknown and the
labeler is a human unless a glob names it (the reference is the labelers we
know nothing against, as before labeler types existed; the summary says how
many were left untyped). Anything else stops the run: an unknown value (file,
column, rows, the fix), a labeler typed both ways, a glob that matches nobody
(a typo would silently audit a judge as a human), or a glob naming a labeler the
file calls human.

``judge_family`` (either table) names a judge's model family; it is constant
per labeler, and only judges' families are kept.

The columns leave the frame once read: they describe labelers, not items, so
they are never slices, and the LabelTable carries them per labeler code.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

from evalaudit.contract import (
    JUDGE_FAMILY,
    LABELER_ID,
    LABELER_TYPE,
    LABELER_TYPE_SYNONYMS,
    MAX_ROWS_SHOWN,
    Problem,
)

__all__ = ["LabelerTypes", "normalise_types", "read_labeler_types", "side_type_problems"]

_KNOWN = ", ".join(sorted(LABELER_TYPE_SYNONYMS))
_HINT = (
    "use 'human' or 'model' (also read: "
    + _KNOWN
    + "); or drop the column and name the judges with --judges GLOB"
)


def normalise_types(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``s`` mapped to ``human`` / ``model`` (blank -> missing) and the mask of unknown values.

    >>> t, bad = normalise_types(pd.Series(["LLM", " annotator", None, "robot"]))
    >>> t.tolist(), bad.tolist()
    (['model', 'human', <NA>, <NA>], [False, False, False, True])
    """
    text = s.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
    mapped = text.str.lower().map(LABELER_TYPE_SYNONYMS).astype("string")
    bad = ~blank & mapped.isna().to_numpy(dtype=bool)
    return mapped, bad


def _unknown_problem(s: pd.Series, bad: np.ndarray, where: str) -> Problem:
    rows = tuple(int(r) for r in s.index[bad][:MAX_ROWS_SHOWN])
    return Problem(
        "labeler_type",
        LABELER_TYPE,
        int(bad.sum()),
        rows,
        f"unknown labeler type{where} (a labeler is 'human' or 'model')",
        _HINT,
        examples=tuple(dict.fromkeys(str(v) for v in s[bad]))[:5],
    )


def side_type_problems(side_frame: pd.DataFrame, path: str) -> list[Problem]:
    """Unknown ``labeler_type`` values of the ``--labelers`` side table (its own row numbers)."""
    if LABELER_TYPE not in side_frame.columns:
        return []
    _, bad = normalise_types(side_frame[LABELER_TYPE])
    if not bad.any():
        return []
    return [_unknown_problem(side_frame[LABELER_TYPE], bad, " in the labelers table")]


class LabelerTypes:
    """What :func:`read_labeler_types` found: type and family per labeler id, and a note."""

    def __init__(self, types: dict[str, str], family: dict[str, str], note: str | None) -> None:
        self.types = types
        self.family = family
        self.note = note

    @property
    def judges(self) -> list[str]:
        return sorted(k for k, v in self.types.items() if v == "model")


def _per_labeler(frame: pd.DataFrame, col: str) -> tuple[pd.Series, pd.Series]:
    """(labeler id -> its one value, labeler ids with several values) of ``col`` (blanks ignored)."""
    sub = frame[[LABELER_ID, col]].dropna()
    if not len(sub):
        return pd.Series(dtype="string"), pd.Series(dtype="string")
    sub = sub.drop_duplicates()
    counts = sub[LABELER_ID].value_counts()
    several = counts.index[counts > 1]
    one = sub.drop_duplicates(LABELER_ID).set_index(LABELER_ID)[col]
    return one, pd.Series(several, dtype="string")


def read_labeler_types(
    frame: pd.DataFrame, globs: Sequence[str], problems: list[Problem], source: str
) -> tuple[pd.DataFrame, LabelerTypes | None]:
    """Read the types and families, append errors to ``problems``; drop the columns.

    ``frame``: the label table after the side-table joins (indexed by row
    number); ``globs``: ``--judges``; ``source``: where the column came from
    (the label file or the labelers table), for messages. Returns the frame
    without ``labeler_type`` / ``judge_family`` and the types (None when
    nothing names a judge type: no column, no glob).
    """
    has_col = LABELER_TYPE in frame.columns
    if not has_col and not globs:
        if JUDGE_FAMILY in frame.columns:
            frame = frame.drop(columns=[JUDGE_FAMILY])
        return frame, None
    ids = frame[LABELER_ID].dropna().astype("string").unique().tolist()
    types: dict[str, str] = {}
    n_before = len(problems)
    if has_col:
        mapped, bad = normalise_types(frame[LABELER_TYPE])
        if bad.any():
            problems.append(_unknown_problem(frame[LABELER_TYPE], bad, ""))
        typed = pd.DataFrame({LABELER_ID: frame[LABELER_ID].astype("string"), "t": mapped})
        one, several = _per_labeler(typed, "t")
        if len(several):
            mask = frame[LABELER_ID].astype("string").isin(several).to_numpy(dtype=bool)
            mask = mask & mapped.notna().to_numpy(dtype=bool)
            problems.append(
                Problem(
                    "labeler_type",
                    LABELER_TYPE,
                    int(mask.sum()),
                    tuple(int(r) for r in frame.index[mask][:MAX_ROWS_SHOWN]),
                    f"{len(several)} labeler(s) are typed both human and model",
                    "give each labeler one type (a judge and a person need different "
                    "labeler_ids): " + ", ".join(map(str, several[:3])),
                    examples=tuple(str(v) for v in several[:5]),
                )
            )
        types = {str(k): str(v) for k, v in one.items()}
    for g in globs:
        hit = [i for i in ids if fnmatchcase(str(i), g)]
        if not hit:
            problems.append(
                Problem(
                    "labeler_type",
                    LABELER_ID,
                    0,
                    (),
                    f"--judges {g!r} matches no labeler_id",
                    "labeler ids look like: "
                    + ", ".join(map(str, sorted(ids)[:8]))
                    + " (globs use * and ?, e.g. --judges 'gpt-*')",
                )
            )
            continue
        clash = [i for i in hit if types.get(str(i)) == "human"]
        if clash:
            problems.append(
                Problem(
                    "labeler_type",
                    LABELER_TYPE,
                    len(clash),
                    (),
                    f"--judges {g!r} names labeler(s) {source} types as human",
                    "fix their labeler_type, or narrow the glob",
                    examples=tuple(map(str, clash[:5])),
                )
            )
        for i in hit:
            types.setdefault(str(i), "model")
    family: dict[str, str] = {}
    if JUDGE_FAMILY in frame.columns:
        fam = frame[[LABELER_ID, JUDGE_FAMILY]].copy()
        fam[JUDGE_FAMILY] = fam[JUDGE_FAMILY].astype("string").str.strip().replace("", pd.NA)
        one, several = _per_labeler(fam, JUDGE_FAMILY)
        if len(several):
            mask = frame[LABELER_ID].astype("string").isin(several).to_numpy(dtype=bool)
            problems.append(
                Problem(
                    "labeler_type",
                    JUDGE_FAMILY,
                    int(mask.sum()),
                    tuple(int(r) for r in frame.index[mask][:MAX_ROWS_SHOWN]),
                    f"{len(several)} judge(s) have more than one judge_family",
                    "give each judge one family: " + ", ".join(map(str, several[:3])),
                )
            )
        family = {str(k): str(v) for k, v in one.items() if types.get(str(k)) == "model"}
    frame = frame.drop(columns=[c for c in (LABELER_TYPE, JUDGE_FAMILY) if c in frame.columns])
    if len(problems) > n_before:
        return frame, None
    untyped = [i for i in ids if str(i) not in types]
    for i in ids:
        types.setdefault(str(i), "human")
    n_judges = sum(v == "model" for v in types.values())
    how = []
    if has_col:
        how.append(f"labeler_type ({source})")
    if globs:
        how.append("--judges " + " ".join(globs))
    note = (
        f"labeler types from {' and '.join(how)}: {n_judges} model(s) (LLM judges), "
        f"{len(types) - n_judges} human(s)"
    )
    if untyped and has_col:
        note += f"; {len(untyped)} labeler(s) with no type read as human"
    return frame, LabelerTypes(types, family, note)
