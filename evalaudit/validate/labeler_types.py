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

Every decision is made on a small table, one row per distinct (``labeler_id``,
``labeler_type``, ``judge_family``) as written, with its row count and first rows
(:func:`labeler_groups` builds it from a frame; the SQL ingest,
:mod:`evalaudit.engine.ingest`, from one group-by query), by
:func:`labeler_types_from_groups`: both engines then give the same types, notes and
errors, and a file larger than memory is typed without holding its rows.
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

__all__ = [
    "COUNT",
    "FIRST_ROWS",
    "LabelerTypes",
    "labeler_groups",
    "labeler_types_from_groups",
    "normalise_types",
    "read_labeler_types",
    "side_type_problems",
]

#: Columns of the small table (:func:`labeler_groups`) besides the labeler columns:
#: the group's row count and its first :data:`~evalaudit.contract.MAX_ROWS_SHOWN` row
#: numbers (a tuple, ascending).
COUNT = "n"
FIRST_ROWS = "rows"

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


def _first_rows(groups: pd.DataFrame, mask: np.ndarray) -> tuple[int, ...]:
    """The first rows of the groups in ``mask``, as the frame's would be.

    Each group keeps its first MAX_ROWS_SHOWN rows, so the union's first ones are
    among them; the frame is in row order (the file's).
    """
    picked = sorted(int(r) for rows in groups[FIRST_ROWS][mask] for r in rows)
    return tuple(picked[:MAX_ROWS_SHOWN])


def _count(groups: pd.DataFrame, mask: np.ndarray) -> int:
    return int(groups[COUNT].to_numpy()[mask].sum())


def _unknown_problem(groups: pd.DataFrame, bad: np.ndarray, where: str) -> Problem:
    s = groups[LABELER_TYPE]
    return Problem(
        "labeler_type",
        LABELER_TYPE,
        _count(groups, bad),
        _first_rows(groups, bad),
        f"unknown labeler type{where} (a labeler is 'human' or 'model')",
        _HINT,
        examples=tuple(dict.fromkeys(str(v) for v in s[bad]))[:5],
    )


def side_type_problems(side_frame: pd.DataFrame, path: str) -> list[Problem]:
    """Unknown ``labeler_type`` values of the ``--labelers`` side table (its own row numbers)."""
    if LABELER_TYPE not in side_frame.columns:
        return []
    groups = _groups(side_frame, [LABELER_TYPE])
    _, bad = normalise_types(groups[LABELER_TYPE])
    if not bad.any():
        return []
    return [_unknown_problem(groups, bad, " in the labelers table")]


def labeler_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """The small table :func:`labeler_types_from_groups` reads, from a frame in memory.

    One row per distinct (``labeler_id``, ``labeler_type``, ``judge_family``) as written
    (the columns the frame has; missing values kept as a value of their own), in order of
    first appearance, with :data:`COUNT` and :data:`FIRST_ROWS` (row numbers: the frame's
    index).
    """
    keys = [c for c in (LABELER_ID, LABELER_TYPE, JUDGE_FAMILY) if c in frame.columns]
    return _groups(frame, keys)


def _groups(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    sub = frame[keys]
    if not len(sub):
        return pd.DataFrame({**{k: sub[k] for k in keys}, COUNT: [], FIRST_ROWS: []})
    code = sub.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    n = np.bincount(code)
    # the first rows of each group, in frame order: a stable sort keeps it within a group
    order = np.argsort(code, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    index = frame.index.to_numpy()
    out = sub.iloc[order[starts]].reset_index(drop=True)
    out[COUNT] = n.astype(np.int64)
    out[FIRST_ROWS] = [
        tuple(int(r) for r in index[order[a : a + min(k, MAX_ROWS_SHOWN)]])
        for a, k in zip(starts, n, strict=True)
    ]
    return out


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
    types = None
    if LABELER_TYPE in frame.columns or globs:
        types = labeler_types_from_groups(labeler_groups(frame), globs, problems, source)
    present = [c for c in (LABELER_TYPE, JUDGE_FAMILY) if c in frame.columns]
    if present:  # drop(columns=[]) is still a new frame: 10^7 labels held ~1 GB more after it
        frame = frame.drop(columns=present)
    return frame, types


def labeler_types_from_groups(
    groups: pd.DataFrame, globs: Sequence[str], problems: list[Problem], source: str
) -> LabelerTypes | None:
    """The types and families that ``groups`` (:func:`labeler_groups`) and ``globs`` give.

    Errors are appended to ``problems`` (then None is returned), with the counts and
    first rows of the label rows they are about. None too when nothing names a judge
    type (no ``labeler_type`` column, no glob). ``source`` names where the column came
    from, for messages.
    """
    has_col = LABELER_TYPE in groups.columns
    if not has_col and not globs:
        return None
    lab = groups[LABELER_ID].astype("string")
    ids = lab.dropna().unique().tolist()
    types: dict[str, str] = {}
    n_before = len(problems)
    if has_col:
        mapped, bad = normalise_types(groups[LABELER_TYPE])
        if bad.any():
            problems.append(_unknown_problem(groups, bad, ""))
        typed = pd.DataFrame({LABELER_ID: lab, "t": mapped})
        one, several = _per_labeler(typed, "t")
        if len(several):
            mask = lab.isin(several).to_numpy(dtype=bool)
            mask = mask & mapped.notna().to_numpy(dtype=bool)
            problems.append(
                Problem(
                    "labeler_type",
                    LABELER_TYPE,
                    _count(groups, mask),
                    _first_rows(groups, mask),
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
    if JUDGE_FAMILY in groups.columns:
        fam = pd.DataFrame(
            {
                LABELER_ID: lab,
                JUDGE_FAMILY: groups[JUDGE_FAMILY].astype("string").str.strip().replace("", pd.NA),
            }
        )
        one, several = _per_labeler(fam, JUDGE_FAMILY)
        if len(several):
            mask = lab.isin(several).to_numpy(dtype=bool)
            problems.append(
                Problem(
                    "labeler_type",
                    JUDGE_FAMILY,
                    _count(groups, mask),
                    _first_rows(groups, mask),
                    f"{len(several)} judge(s) have more than one judge_family",
                    "give each judge one family: " + ", ".join(map(str, several[:3])),
                )
            )
        family = {str(k): str(v) for k, v in one.items() if types.get(str(k)) == "model"}
    if len(problems) > n_before:
        return None
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
    if types and n_judges == len(types):
        note += (
            "; no human labels, so the judge audit and the PPI headline (humans are their "
            "reference) are not run: leniency is against the other judges"
        )
    return LabelerTypes(types, family, note)
