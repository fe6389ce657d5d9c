"""Differences between two versions of an eval set: items, labels, slices, headline.

Two validated label tables (DESIGN section 4, "Between versions") are compared
on their original ids, never on their codes (codes are assigned per table):

- **items** added, removed and kept (an item is kept when it has at least one
  label in both versions);
- **labels** keyed by ``(item_id, labeler_id)``: added, removed, and changed
  (same key, different label), per labeler and with examples;
- **slices**: for every slice column present in both versions and each of its
  values, the label distribution old vs new, tested for homogeneity;
- **headline**: the mean item score of each version and how the change splits
  into the part due to the item set and the part due to labels.

The headline decomposition
--------------------------
Item score = mean score of the item's labels; headline ``H`` = mean item score
over the items of a version (as in :mod:`evalaudit.stats.impact`). With
``K`` the kept items, ``H_old(K)`` the old headline restricted to ``K`` and
``H_new(K)`` the new one::

    H_new - H_old = [H_old(K) - H_old] + [H_new(K) - H_old(K)] + [H_new - H_new(K)]
                    \\_____ removed items ____/ \\____ labels ____/ \\__ added items __/

``from_changed_labels = H_new(K) - H_old(K)``: the mean over kept items of
(new item score - old item score), i.e. the effect of labels changed, added
or removed *on kept items*. ``from_changed_items`` is the sum of the two outer
brackets: how much dropping the removed items and adding the new ones moved
the headline, each measured at that version's labels. The two parts add up to
the total by construction (a telescoping sum) and the labels part is exactly 0
when no label of a kept item changed. The split is path dependent (measuring
the item part at the other version's labels gives other numbers), which is
why the path is fixed and documented here. It is computed overall and, when a
``model`` column exists, per model (each version's items of that model).

The slice test
--------------
For each slice value, the labels of the items in that value (each version
uses its own item attributes) form a 2 x k table of label counts (old, new)
tested with Pearson's chi-square test of homogeneity
(``scipy.stats.chi2_contingency``, Yates-corrected when it has one degree of
freedom); interval labels use Welch's t-test on the scores. Categories with no
label in either version are dropped; a value with labels in only one version,
or with a single category in both, is not tested (``p_value`` NaN). The
p-values of all tested slice values (all columns together) are adjusted with
Benjamini-Hochberg (:func:`evalaudit.stats.multitest.bh_qvalues`).
Assumption: labels are independent draws; the labels of one item are
correlated, so with many multi-label items the test is somewhat
anti-conservative. Reference: Agresti (2013), *Categorical Data Analysis*,
3rd ed., section 3.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evalaudit import __version__
from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, MODEL, InputError, LabelKind, Problem
from evalaudit.result import clean_json
from evalaudit.stats.multitest import bh_qvalues
from evalaudit.table import ITEM, LABELER, SCORE, VALUE, LabelTable
from evalaudit.validate import Ingested

__all__ = [
    "BY_LABELER_COLUMNS",
    "SLICE_COLUMNS",
    "HeadlineChange",
    "ItemChange",
    "LabelChange",
    "VersionDiff",
    "VersionInfo",
    "check_compatible",
    "diff_versions",
]

#: How many ids / examples are listed (the counts are always complete).
MAX_LISTED = 20
#: Scores closer than this are the same score (float noise from means).
_TOL = 1e-12

BY_LABELER_COLUMNS = ("labeler_id", "changed", "added", "removed", "n_old", "n_new")
SLICE_COLUMNS = (
    "slice_column",
    "slice_value",
    "n_old",
    "n_new",
    "old_counts",
    "new_counts",
    "old_mean",
    "new_mean",
    "delta",
    "test",
    "statistic",
    "dof",
    "p_value",
    "q_value",
    "significant",
)


# =========================================================================== results
@dataclass(frozen=True)
class VersionInfo:
    """One side of the comparison: where it came from and its size."""

    path: str | None
    sha256: str | None
    items: int
    labelers: int
    labels: int
    slice_columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "items": self.items,
            "labelers": self.labelers,
            "labels": self.labels,
            "slice_columns": list(self.slice_columns),
        }


@dataclass(frozen=True)
class ItemChange:
    """Items added, removed and kept; ids listed in file order, at most :data:`MAX_LISTED`."""

    kept: int
    added: int
    removed: int
    added_ids: tuple[str, ...]
    removed_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "added": self.added,
            "removed": self.removed,
            "added_ids": list(self.added_ids),
            "removed_ids": list(self.removed_ids),
        }


@dataclass(frozen=True)
class LabelChange:
    """Labels keyed by (item_id, labeler_id).

    ``added``/``removed`` count every label only in the new/old version;
    ``added_on_new_items``/``removed_on_removed_items`` are the part of them
    that came or went with a whole item. ``by_labeler`` has the columns of
    :data:`BY_LABELER_COLUMNS` (labelers with any change, most changed first);
    ``changed_labels`` has every changed label (columns ``item_id``,
    ``labeler_id``, ``old``, ``new``; old file order), of which the JSON lists
    the first :data:`MAX_LISTED` as ``examples``.
    """

    unchanged: int
    changed: int
    added: int
    removed: int
    added_on_new_items: int
    removed_on_removed_items: int
    by_labeler: pd.DataFrame = field(compare=False)
    changed_labels: pd.DataFrame = field(compare=False)

    @property
    def examples(self) -> list[dict[str, Any]]:
        """The first :data:`MAX_LISTED` changed labels."""
        return self.changed_labels.head(MAX_LISTED).to_dict(orient="records")

    def to_dict(self) -> dict[str, Any]:
        return {
            "unchanged": self.unchanged,
            "changed": self.changed,
            "added": self.added,
            "removed": self.removed,
            "added_on_new_items": self.added_on_new_items,
            "removed_on_removed_items": self.removed_on_removed_items,
            "by_labeler": self.by_labeler.to_dict(orient="records"),
            "examples": self.examples,
        }


@dataclass(frozen=True)
class HeadlineChange:
    """Headline of each version and the split of the change (see the module docstring)."""

    old: float
    new: float
    change: float
    from_changed_items: float
    from_changed_labels: float
    old_kept: float
    new_kept: float
    items_kept: int
    items_rescored: int
    per_model: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "change": self.change,
            "from_changed_items": self.from_changed_items,
            "from_changed_labels": self.from_changed_labels,
            "old_kept_items": self.old_kept,
            "new_kept_items": self.new_kept,
            "items_kept": self.items_kept,
            "items_rescored": self.items_rescored,
            "method": "H_old -> H_old(kept) -> H_new(kept) -> H_new; items part = "
            "(H_old(kept) - H_old) + (H_new - H_new(kept)), labels part = "
            "H_new(kept) - H_old(kept)",
            "per_model": [dict(m) for m in self.per_model],
        }


@dataclass(frozen=True)
class VersionDiff:
    """Everything :func:`diff_versions` found. ``slices`` has the columns of :data:`SLICE_COLUMNS`."""

    old: VersionInfo
    new: VersionInfo
    label_kind: LabelKind
    categories: tuple[str, ...]
    items: ItemChange
    labels: LabelChange
    slices: pd.DataFrame = field(compare=False)
    headline: HeadlineChange | None
    fdr: float = 0.05
    slice_columns_only_old: tuple[str, ...] = ()
    slice_columns_only_new: tuple[str, ...] = ()

    @property
    def significant_slices(self) -> pd.DataFrame:
        """Slice values whose label distribution changed (q < fdr), smallest q first."""
        s = self.slices
        return s[s["significant"]].sort_values(["q_value", "slice_column", "slice_value"])

    def to_dict(self) -> dict[str, Any]:
        return clean_json(
            {
                "schema_version": 1,
                "evalaudit_version": __version__,
                "old": self.old.to_dict(),
                "new": self.new.to_dict(),
                "label_kind": str(self.label_kind),
                "categories": list(self.categories),
                "headline": self.headline.to_dict() if self.headline else None,
                "items": self.items.to_dict(),
                "labels": self.labels.to_dict(),
                "slices": self.slices.to_dict(orient="records"),
                "slice_test": {
                    "fdr": self.fdr,
                    "method": "chi-square test of homogeneity (Welch t-test for interval "
                    "labels) per slice value; BH q across all tested slice values",
                    "columns_only_old": list(self.slice_columns_only_old),
                    "columns_only_new": list(self.slice_columns_only_new),
                },
            }
        )


# ====================================================================== compatibility
def _describe(table: LabelTable, ing: Ingested | None) -> str:
    if ing is not None:
        return ing.label_spec.describe()
    vals = f" values {', '.join(table.categories[:12])}" if table.categories else ""
    pos = f", positive {table.positive!r}" if table.positive is not None else ""
    return f"{table.kind}{vals}{pos}"


def check_compatible(
    old: Ingested | LabelTable, new: Ingested | LabelTable, names: tuple[str, str] = ("OLD", "NEW")
) -> None:
    """Raise :class:`InputError` naming both files unless the label scales match.

    Compatible means the same kind, the same categories in the same order and
    the same passing value: only then do two labels mean the same thing and
    two scores sit on the same scale.
    """
    (ot, oi), (nt, ni) = _split(old), _split(new)
    if (ot.kind, ot.categories, ot.positive) == (nt.kind, nt.categories, nt.positive):
        return
    old_name = oi.path if oi else names[0]
    new_name = ni.path if ni else names[1]
    raise InputError(
        new_name,
        [
            Problem(
                check="label_scale",
                column=LABEL,
                count=0,
                rows=(),
                message=f"the label scale of {new_name} ({_describe(nt, ni)}) differs from "
                f"that of {old_name} ({_describe(ot, oi)}); the versions cannot be compared",
                hint="declare one scale for both files (--label-kind, --labels, --order, "
                "--positive), or compare versions that use the same labels",
            )
        ],
    )


def _split(x: Ingested | LabelTable) -> tuple[LabelTable, Ingested | None]:
    if isinstance(x, Ingested):
        return x.table, x
    return x, None


def _info(table: LabelTable, ing: Ingested | None) -> VersionInfo:
    return VersionInfo(
        path=ing.path if ing else None,
        sha256=ing.sha256 if ing else None,
        items=table.n_items,
        labelers=table.n_labelers,
        labels=table.n_labels,
        slice_columns=table.slice_columns,
    )


# ============================================================================ the diff
def diff_versions(
    old: Ingested | LabelTable, new: Ingested | LabelTable, *, fdr: float = 0.05
) -> VersionDiff:
    """Compare two versions of an eval set (see the module docstring for every estimand).

    Parameters
    ----------
    old, new:
        The two versions, as ingested (then the paths and hashes are reported)
        or as label tables. Their label scales must match
        (:func:`check_compatible`), else :class:`InputError`.
    fdr:
        A slice value's distribution change is ``significant`` when its BH
        q-value is below this.

    Returns
    -------
    VersionDiff
        Items, labels (with ``by_labeler`` and examples), the per-slice
        distribution tests and the headline change with its split.
    """
    check_compatible(old, new)
    (ot, oi), (nt, ni) = _split(old), _split(new)
    of, nf = ot.frame, nt.frame

    # union id spaces: old codes stay as they are, ids only in the new version are appended
    item_new_to_u, _ = _union(ot.item_ids, nt.item_ids)
    lab_new_to_u, lab_ids_u = _union(ot.labeler_ids, nt.labeler_ids)
    n_labelers_u = len(lab_ids_u)
    o_item = of[ITEM].to_numpy(np.int64)
    o_lab = of[LABELER].to_numpy(np.int64)
    n_item = item_new_to_u[nf[ITEM].to_numpy(np.int64)]
    n_lab = lab_new_to_u[nf[LABELER].to_numpy(np.int64)]
    o_key = o_item * n_labelers_u + o_lab
    n_key = n_item * n_labelers_u + n_lab
    o_sorted = _sorted_unique(o_key, oi.path if oi else "OLD")
    _sorted_unique(n_key, ni.path if ni else "NEW")

    # ---------------------------------------------------------------- items
    n_old_items = ot.n_items
    kept_new = np.flatnonzero(item_new_to_u < n_old_items)  # new codes of kept items
    kept_old = item_new_to_u[kept_new]  # their old codes, aligned
    added_items = np.flatnonzero(item_new_to_u >= n_old_items)
    old_is_kept = np.zeros(n_old_items, dtype=bool)
    old_is_kept[kept_old] = True
    removed_items = np.flatnonzero(~old_is_kept)
    items = ItemChange(
        kept=len(kept_new),
        added=len(added_items),
        removed=len(removed_items),
        added_ids=tuple(str(v) for v in nt.item_ids[added_items[:MAX_LISTED]]),
        removed_ids=tuple(str(v) for v in ot.item_ids[removed_items[:MAX_LISTED]]),
    )

    # --------------------------------------------------------------- labels
    # match new keys against the sorted old keys (one sort, no hashing of 10^7 keys)
    if len(o_key) and len(n_key):
        pos = np.minimum(np.searchsorted(o_key[o_sorted], n_key), len(o_key) - 1)
        ni_match = np.flatnonzero(o_key[o_sorted[pos]] == n_key)
        oi_match = o_sorted[pos[ni_match]]
    else:
        ni_match = oi_match = np.empty(0, dtype=np.int64)
    if ot.kind is LabelKind.INTERVAL:
        o_val, n_val = of[SCORE].to_numpy(), nf[SCORE].to_numpy()
    else:
        o_val, n_val = of[VALUE].to_numpy(), nf[VALUE].to_numpy()
    differs = o_val[oi_match] != n_val[ni_match]
    ch_old, ch_new = oi_match[differs], ni_match[differs]
    o_only = np.ones(len(of), dtype=bool)
    o_only[oi_match] = False
    n_only = np.ones(len(nf), dtype=bool)
    n_only[ni_match] = False

    by_lab = pd.DataFrame(
        {
            "labeler_id": lab_ids_u.astype(str),
            "changed": np.bincount(o_lab[ch_old], minlength=n_labelers_u),
            "added": np.bincount(n_lab[n_only], minlength=n_labelers_u),
            "removed": np.bincount(o_lab[o_only], minlength=n_labelers_u),
            "n_old": np.bincount(o_lab, minlength=n_labelers_u),
            "n_new": np.bincount(n_lab, minlength=n_labelers_u),
        }
    )
    by_lab = by_lab[(by_lab[["changed", "added", "removed"]] > 0).any(axis=1)]
    by_lab = by_lab.assign(_other=by_lab["added"] + by_lab["removed"])
    by_lab = (
        by_lab.sort_values(
            ["changed", "_other", "labeler_id"], ascending=[False, False, True], kind="stable"
        )
        .drop(columns="_other")
        .reset_index(drop=True)
    )
    for c in BY_LABELER_COLUMNS[1:]:
        by_lab[c] = by_lab[c].astype(np.int64)

    order = np.lexsort((o_lab[ch_old], o_item[ch_old]))  # old file order, then labeler
    ch_old, ch_new = ch_old[order], ch_new[order]
    changed_labels = pd.DataFrame(
        {
            ITEM_ID: ot.item_ids[o_item[ch_old]].astype(str),
            LABELER_ID: lab_ids_u[o_lab[ch_old]].astype(str),
            "old": _label_text(ot, o_val[ch_old]),
            "new": _label_text(nt, n_val[ch_new]),
        }
    )
    labels = LabelChange(
        unchanged=int((~differs).sum()),
        changed=int(differs.sum()),
        added=int(n_only.sum()),
        removed=int(o_only.sum()),
        added_on_new_items=int((n_item[n_only] >= n_old_items).sum()),
        removed_on_removed_items=int((~old_is_kept[o_item[o_only]]).sum()),
        by_labeler=by_lab,
        changed_labels=changed_labels,
    )

    # --------------------------------------------------------------- slices
    common = [c for c in ot.slice_columns if c in nt.slice_columns]
    slices = _slice_changes(ot, nt, common, fdr)

    # ------------------------------------------------------------- headline
    headline = _headline_change(ot, nt, kept_old, kept_new)

    return VersionDiff(
        old=_info(ot, oi),
        new=_info(nt, ni),
        label_kind=ot.kind,
        categories=ot.categories,
        items=items,
        labels=labels,
        slices=slices,
        headline=headline,
        fdr=fdr,
        slice_columns_only_old=tuple(c for c in ot.slice_columns if c not in nt.slice_columns),
        slice_columns_only_new=tuple(c for c in nt.slice_columns if c not in ot.slice_columns),
    )


def _sorted_unique(key: np.ndarray, name: str) -> np.ndarray:
    """The sorting permutation of ``key``; ValueError when a key repeats."""
    order = np.argsort(key, kind="stable")
    if (np.diff(key[order]) == 0).any():
        raise ValueError(f"{name}: duplicate (item, labeler) labels; validate the table first")
    return order


def _union(old_ids: pd.Index, new_ids: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Map new codes into a union id space that starts with the old ids (old codes unchanged)."""
    pos = old_ids.get_indexer(new_ids).astype(np.int64)
    fresh = pos < 0
    pos[fresh] = len(old_ids) + np.arange(int(fresh.sum()), dtype=np.int64)
    return pos, old_ids.append(new_ids[fresh])


def _label_text(table: LabelTable, v: np.ndarray) -> np.ndarray:
    """Labels as the user wrote them: the category name, or the number for interval labels."""
    if table.kind is LabelKind.INTERVAL:
        return v.astype(np.float64)
    return np.asarray(table.categories, dtype=object)[v.astype(np.int64)]


# -------------------------------------------------------------------- slices
def _slice_changes(ot: LabelTable, nt: LabelTable, columns: list[str], fdr: float) -> pd.DataFrame:
    """One row per (slice column, value): label distribution old vs new and its test."""
    interval = ot.kind is LabelKind.INTERVAL
    cats = list(ot.categories)
    rows: list[dict[str, Any]] = []
    for col in columns:
        o_stats, n_stats = _slice_stats(ot, col), _slice_stats(nt, col)
        values = sorted(set(o_stats) | set(n_stats))
        for v in values:
            o = o_stats.get(v)
            n = n_stats.get(v)
            row: dict[str, Any] = {
                "slice_column": col,
                "slice_value": v,
                "n_old": o["n"] if o else 0,
                "n_new": n["n"] if n else 0,
                "old_counts": None,
                "new_counts": None,
                "old_mean": o["mean"] if o else math.nan,
                "new_mean": n["mean"] if n else math.nan,
                "test": None,
                "statistic": math.nan,
                "dof": math.nan,
                "p_value": math.nan,
            }
            row["delta"] = row["new_mean"] - row["old_mean"]
            if not interval:
                oc = o["counts"] if o else np.zeros(len(cats), dtype=np.int64)
                nc = n["counts"] if n else np.zeros(len(cats), dtype=np.int64)
                row["old_counts"] = {c: int(k) for c, k in zip(cats, oc, strict=True)}
                row["new_counts"] = {c: int(k) for c, k in zip(cats, nc, strict=True)}
                _chi2(row, oc, nc)
            elif o and n:
                _welch(row, o, n)
            rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in SLICE_COLUMNS if c not in ("q_value",)])
    out["q_value"] = bh_qvalues(out["p_value"].to_numpy(dtype=np.float64))
    out["significant"] = (out["q_value"] < fdr).fillna(False).astype(bool)
    return out[list(SLICE_COLUMNS)]


def _slice_stats(table: LabelTable, col: str) -> dict[str, dict[str, Any]]:
    f = table.frame
    out: dict[str, dict[str, Any]] = {}
    score = f.groupby(col, observed=True)[SCORE].agg(["count", "mean", "var"])
    size = f.groupby(col, observed=True).size()
    if table.kind is not LabelKind.INTERVAL:
        counts = (
            f.groupby([col, VALUE], observed=True)
            .size()
            .unstack(fill_value=0)
            .reindex(columns=range(len(table.categories)), fill_value=0)
        )
    for v, n in size.items():
        d: dict[str, Any] = {
            "n": int(n),
            "mean": float(score.at[v, "mean"]) if score.at[v, "count"] else math.nan,
            "var": float(score.at[v, "var"]) if score.at[v, "count"] > 1 else math.nan,
        }
        if table.kind is not LabelKind.INTERVAL:
            d["counts"] = counts.loc[v].to_numpy(dtype=np.int64)
        out[str(v)] = d
    return out


def _chi2(row: dict[str, Any], oc: np.ndarray, nc: np.ndarray) -> None:
    table = np.vstack([oc, nc])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return
    res = stats.chi2_contingency(table)
    row.update(test="chi2", statistic=float(res.statistic), dof=int(res.dof))
    row["p_value"] = float(res.pvalue)


def _welch(row: dict[str, Any], o: dict[str, Any], n: dict[str, Any]) -> None:
    if o["n"] < 2 or n["n"] < 2 or (o["var"] == 0 and n["var"] == 0):
        return
    res = stats.ttest_ind_from_stats(
        o["mean"],
        math.sqrt(o["var"]),
        o["n"],
        n["mean"],
        math.sqrt(n["var"]),
        n["n"],
        equal_var=False,
    )
    row.update(test="welch_t", statistic=float(res.statistic))
    row["p_value"] = float(res.pvalue)


# ------------------------------------------------------------------ headline
def _item_scores(table: LabelTable) -> np.ndarray | None:
    f = table.frame
    score = f[SCORE].to_numpy()
    if not np.isfinite(score).all():
        return None
    item = f[ITEM].to_numpy()
    cnt = np.bincount(item, minlength=table.n_items)
    tot = np.bincount(item, weights=score, minlength=table.n_items)
    return tot / cnt


def _decompose(
    old: np.ndarray, new: np.ndarray, old_kept: np.ndarray, new_kept: np.ndarray
) -> dict[str, Any]:
    """old/new: item scores of the items in scope; *_kept: aligned positions of kept items."""
    h_old = float(old.mean()) if len(old) else math.nan
    h_new = float(new.mean()) if len(new) else math.nan
    if len(old_kept):
        h_old_k = float(old[old_kept].mean())
        h_new_k = float(new[new_kept].mean())
        rescored = int((np.abs(new[new_kept] - old[old_kept]) > _TOL).sum())
    else:
        h_old_k = h_new_k = math.nan
        rescored = 0
    labels_part = h_new_k - h_old_k if len(old_kept) else 0.0
    items_part = (h_old_k - h_old) + (h_new - h_new_k) if len(old_kept) else h_new - h_old
    return {
        "old": h_old,
        "new": h_new,
        "change": h_new - h_old,
        "from_changed_items": items_part,
        "from_changed_labels": labels_part,
        "old_kept": h_old_k,
        "new_kept": h_new_k,
        "items_kept": len(old_kept),
        "items_rescored": rescored,
    }


def _headline_change(
    ot: LabelTable, nt: LabelTable, kept_old: np.ndarray, kept_new: np.ndarray
) -> HeadlineChange | None:
    old, new = _item_scores(ot), _item_scores(nt)
    if old is None or new is None:
        return None  # nominal labels without a passing class have no score
    overall = _decompose(old, new, kept_old, kept_new)
    per_model: list[dict[str, Any]] = []
    if ot.has(MODEL) or nt.has(MODEL):
        o_names, o_codes = _model_of(ot)
        n_names, n_codes = _model_of(nt)
        for m in sorted(set(o_names) | set(n_names)):
            om = o_codes == (o_names.index(m) if m in o_names else -2)
            nm = n_codes == (n_names.index(m) if m in n_names else -2)
            both = om[kept_old] & nm[kept_new]
            # positions inside each model's subset: rank of the code among that subset
            o_pos = np.cumsum(om) - 1
            n_pos = np.cumsum(nm) - 1
            d = _decompose(old[om], new[nm], o_pos[kept_old[both]], n_pos[kept_new[both]])
            rename = {"old_kept": "old_kept_items", "new_kept": "new_kept_items"}
            per_model.append({"model": m, **{rename.get(k, k): v for k, v in d.items()}})
    return HeadlineChange(**overall, per_model=tuple(per_model))


def _model_of(table: LabelTable) -> tuple[list[str], np.ndarray]:
    """Model names and the model code of each item (``(missing)`` without a model column)."""
    if not table.has(MODEL):
        return ["(missing)"], np.zeros(table.n_items, dtype=np.int64)
    attr = table.item_attribute(MODEL)
    return [str(c) for c in attr.cat.categories], attr.cat.codes.to_numpy(np.int64)
