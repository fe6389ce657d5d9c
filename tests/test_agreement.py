"""Tests for evalaudit.stats.agreement.

Provenance of every pinned number:

- Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", worked example C
  (see ../shared/REFERENCE_VALUES.md): nominal 0.743, ordinal 0.815, interval 0.849
  (the paper, 3 decimals) and 0.7434 / 0.8154 / 0.8491 (``krippendorff`` 0.9.0).
- Everything else is compared against independent implementations computed inside the
  test: ``krippendorff.alpha`` on a dense labeler x unit matrix (NaN = missing) and
  ``sklearn.metrics.cohen_kappa_score`` on a leave-one-out consensus written in plain
  Python below. No expected value here was produced by evalaudit.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from evalaudit.stats.agreement import (
    AlphaResult,
    alpha_by_group,
    alpha_for_table,
    krippendorff_alpha,
    labeler_agreement,
    pairwise_kappa,
)
from evalaudit.table import LabelTable

NAN = math.nan
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Krippendorff (2011), worked example C: 4 observers (rows) x 12 units, NaN = missing.
EXAMPLE_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
PAPER = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}
KRIPPENDORFF_090 = {"nominal": 0.7434, "ordinal": 0.8154, "interval": 0.8491}

RTE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "rte" / "labels.csv"


# ------------------------------------------------------------------------ helpers
def reference_alpha(dense: np.ndarray, level: str, k: int | None = None) -> float:
    """``krippendorff.alpha`` on a dense labeler x unit matrix; NaN where it is undefined.

    The package raises when there is at most one value in the domain or no pairable
    unit, and returns nan (0/0) when the pairable values are all equal.
    """
    kwargs = {}
    if level == "ordinal":
        assert k is not None
        kwargs["value_domain"] = list(range(k))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = krippendorff.alpha(
                reliability_data=np.asarray(dense, dtype=float),
                level_of_measurement=level,
                **kwargs,
            )
    except ValueError as exc:
        assert "There has to be" in str(exc), exc
        return NAN
    return float(value)


def assert_alpha(ours: float, ref: float) -> None:
    if math.isnan(ref):
        assert math.isnan(ours), f"expected NaN, got {ours}"
    else:
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-9)


def long_arrays(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labeler, item, value) of the non-missing cells of a dense matrix."""
    labeler, item = np.nonzero(~np.isnan(dense))
    return labeler, item, dense[labeler, item]


def frame_from_dense(dense: np.ndarray, as_int: bool = True) -> pd.DataFrame:
    labeler, item, value = long_arrays(dense)
    text = [str(int(v)) if as_int else repr(float(v)) for v in value]
    return pd.DataFrame(
        {
            "item_id": [f"item{i:03d}" for i in item],
            "labeler_id": [f"lab{j:02d}" for j in labeler],
            "label": text,
        }
    )


def dense_from_table(table: LabelTable) -> np.ndarray:
    """Labeler x item matrix of value codes (score for interval), NaN when missing."""
    f = table.frame
    dense = np.full((table.n_labelers, table.n_items), NAN)
    col = "score" if table.kind == "interval" else "value"
    dense[f["labeler"].to_numpy(), f["item"].to_numpy()] = f[col].to_numpy(dtype=float)
    return dense


@st.composite
def dense_matrices(draw: st.DrawFn, floats: bool = False) -> tuple[np.ndarray, int]:
    """Random labeler x unit matrices with missing cells, single-label and empty units."""
    n_units = draw(st.integers(1, 40))
    n_labelers = draw(st.integers(2, 6))
    k = draw(st.integers(2, 5))
    if floats:
        value = st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(
            lambda x: round(x, 3)
        )
    else:
        value = st.integers(0, k - 1).map(float)
    size = n_units * n_labelers
    cells = draw(st.lists(st.one_of(st.none(), value), min_size=size, max_size=size))
    dense = np.array([NAN if c is None else c for c in cells]).reshape(n_labelers, n_units)
    for u in draw(st.lists(st.integers(0, n_units - 1), max_size=3)):
        dense[:, u] = NAN  # a unit nobody labeled
    return dense, k


KINDS = ["binary", "nominal", "ordinal", "interval"]


@st.composite
def tables(draw: st.DrawFn, kind: str) -> LabelTable:
    dense, k = draw(dense_matrices(floats=kind == "interval" and draw(st.booleans())))
    if kind == "binary":
        dense = np.where(np.isnan(dense), NAN, dense % 2)
    if not np.isfinite(dense).any():
        dense[0, 0] = 1.0
    df = frame_from_dense(dense, as_int=kind != "interval")
    if kind == "binary":
        # both categories declared: LabelTable.build cannot build a binary table whose
        # positive value never occurs when categories are inferred
        return LabelTable.build(df, "binary", categories=["0", "1"], positive="1")
    if kind == "interval":
        return LabelTable.build(df, "interval")
    return LabelTable.build(df, kind, categories=[str(c) for c in range(k)])


# ------------------------------------------------------ 1. Krippendorff example C
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_example_c_arrays(level: str) -> None:
    _, item, value = long_arrays(EXAMPLE_C)
    values = value if level == "interval" else value.astype(int) - 1
    r = krippendorff_alpha(item, values, level, n_categories=None if level == "interval" else 5)
    assert round(r.alpha, 3) == PAPER[level]
    assert r.alpha == pytest.approx(KRIPPENDORFF_090[level], abs=1e-4)
    # unit 12 has a single value: 11 pairable units, 40 pairable values
    assert (r.n_units, r.n_values) == (11, 40)
    assert r.level == level


@pytest.mark.parametrize("kind", ["nominal", "ordinal", "interval"])
def test_example_c_label_table(kind: str) -> None:
    df = frame_from_dense(EXAMPLE_C)
    cats = None if kind == "interval" else ["1", "2", "3", "4", "5"]
    table = LabelTable.build(df, kind, categories=cats)
    r = alpha_for_table(table)
    assert round(r.alpha, 3) == PAPER[kind]
    assert r.alpha == pytest.approx(KRIPPENDORFF_090[kind], abs=1e-4)


def test_example_c_ordinal_needs_scale_order() -> None:
    # the same labels with a scrambled code order are a different ordinal scale
    df = frame_from_dense(EXAMPLE_C)
    table = LabelTable.build(df, "ordinal", categories=["3", "1", "5", "2", "4"])
    assert round(alpha_for_table(table).alpha, 3) != PAPER["ordinal"]


# -------------------------------------------------- 2. parity with `krippendorff`
@SETTINGS
@given(dense_matrices())
def test_nominal_matches_krippendorff(case: tuple[np.ndarray, int]) -> None:
    dense, k = case
    _, item, value = long_arrays(dense)
    ours = krippendorff_alpha(item, value.astype(int), "nominal", n_categories=k)
    assert_alpha(ours.alpha, reference_alpha(dense, "nominal"))


@SETTINGS
@given(dense_matrices())
def test_ordinal_matches_krippendorff(case: tuple[np.ndarray, int]) -> None:
    dense, k = case
    _, item, value = long_arrays(dense)
    ours = krippendorff_alpha(item, value.astype(int), "ordinal", n_categories=k)
    assert_alpha(ours.alpha, reference_alpha(dense, "ordinal", k))


@SETTINGS
@given(dense_matrices())
def test_interval_matches_krippendorff_integers(case: tuple[np.ndarray, int]) -> None:
    dense, _ = case
    _, item, value = long_arrays(dense)
    assert_alpha(
        krippendorff_alpha(item, value, "interval").alpha, reference_alpha(dense, "interval")
    )


@SETTINGS
@given(dense_matrices(floats=True))
def test_interval_matches_krippendorff_floats(case: tuple[np.ndarray, int]) -> None:
    dense, _ = case
    _, item, value = long_arrays(dense)
    assert_alpha(
        krippendorff_alpha(item, value, "interval").alpha, reference_alpha(dense, "interval")
    )


@SETTINGS
@given(dense_matrices())
def test_pairable_counts(case: tuple[np.ndarray, int]) -> None:
    dense, k = case
    _, item, value = long_arrays(dense)
    per_unit = (~np.isnan(dense)).sum(axis=0)
    r = krippendorff_alpha(item, value.astype(int), "nominal", n_categories=k)
    assert r.n_units == int((per_unit >= 2).sum())
    assert r.n_values == int(per_unit[per_unit >= 2].sum())


# -------------------------------------------------------------- 3. invariances
@settings(max_examples=60, deadline=None)
@given(dense_matrices(), st.randoms(use_true_random=False))
def test_alpha_invariant_to_relabeling(case: tuple[np.ndarray, int], rnd) -> None:
    dense, k = case
    n_lab, n_units = dense.shape
    lab_perm = rnd.sample(range(n_lab), n_lab)
    unit_perm = rnd.sample(range(n_units), n_units)
    shuffled = dense[lab_perm][:, unit_perm]
    _, item, value = long_arrays(dense)
    _, item2, value2 = long_arrays(shuffled)
    # also recode units to sparse, non-contiguous codes and shuffle the row order
    item2 = np.asarray(unit_perm)[item2] * 7 + 3
    order = rnd.sample(range(item2.size), item2.size)
    item2, value2 = item2[order], value2[order]
    for level in ("nominal", "ordinal", "interval"):
        vals = value if level == "interval" else value.astype(int)
        vals2 = value2 if level == "interval" else value2.astype(int)
        a = krippendorff_alpha(item, vals, level, None if level == "interval" else k).alpha
        b = krippendorff_alpha(item2, vals2, level, None if level == "interval" else k).alpha
        assert_alpha(b, a)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_perfect_agreement_is_one(level: str) -> None:
    # every unit's labels agree; units differ (D_e > 0); one single-labeled unit
    items = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 4])
    values = np.array([0, 0, 0, 2, 2, 1, 1, 1, 1, 0, 0, 1])
    r = krippendorff_alpha(items, values, level, n_categories=3)
    assert r.alpha == pytest.approx(1.0, abs=1e-12)
    assert r.observed_disagreement == pytest.approx(0.0, abs=1e-12)
    assert r.expected_disagreement > 0


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_zero_expected_disagreement_is_nan(level: str) -> None:
    items = np.array([0, 0, 1, 1, 1, 2])
    values = np.array([1, 1, 1, 1, 1, 0])  # the 0 is on a single-labeled unit
    r = krippendorff_alpha(items, values, level, n_categories=2)
    assert math.isnan(r.alpha)
    assert r.expected_disagreement == 0.0
    assert r.to_dict()["alpha"] is None


def test_no_pairable_unit_is_nan() -> None:
    r = krippendorff_alpha(np.array([0, 1, 2]), np.array([0, 1, 0]), "nominal")
    assert math.isnan(r.alpha) and (r.n_units, r.n_values) == (0, 0)
    r = krippendorff_alpha(np.array([], dtype=int), np.array([], dtype=int), "interval")
    assert math.isnan(r.alpha)


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha([0, 0], [0, 1], "ratio")
    with pytest.raises(ValueError, match="same length"):
        krippendorff_alpha([0, 0, 1], [0, 1], "nominal")
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha([-1, -1], [0, 1], "nominal")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        krippendorff_alpha([0, 0], [0, 2], "nominal", n_categories=2)
    with pytest.raises(ValueError, match="integer category codes"):
        krippendorff_alpha([0, 0], [0.5, 1.0], "ordinal")


def test_alpha_result_to_dict() -> None:
    r = AlphaResult(0.5, "nominal", 2, 5, 0.25, 0.5)
    assert r.to_dict() == {
        "alpha": 0.5,
        "level": "nominal",
        "n_units": 2,
        "n_values": 5,
        "observed_disagreement": 0.25,
        "expected_disagreement": 0.5,
    }


# ------------------------------------------------------------- 4. the nltk trap
def test_missing_is_never_a_category() -> None:
    """nltk #2865: counting a missing rating as a category inflates agreement counts.

    Example C with missing cells as None: the correct nominal alpha is the paper's
    0.743. Treating None as a sixth category gives another number; ours must not.
    """
    wide = pd.DataFrame(
        [[None if np.isnan(v) else str(int(v)) for v in row] for row in EXAMPLE_C],
        index=["A", "B", "C", "D"],
    )
    long = wide.stack(future_stack=True).rename("label").reset_index()
    long.columns = ["labeler_id", "item_id", "label"]
    long["item_id"] = long["item_id"].astype(str)

    trap_codes = long["label"].fillna("None").astype("category").cat.codes.to_numpy()
    trap_items = pd.factorize(long["item_id"])[0]
    trap = krippendorff_alpha(trap_items, trap_codes, "nominal").alpha
    assert abs(trap - PAPER["nominal"]) > 0.01  # the trap is real on this data

    with pytest.raises(ValueError, match="missing"):
        krippendorff_alpha(trap_items, long["label"].astype(float).to_numpy(), "nominal")
    with pytest.raises(ValueError, match="missing"):
        krippendorff_alpha(trap_items, long["label"].to_numpy(dtype=object), "interval")

    table = LabelTable.build(long.dropna(subset=["label"]), "nominal")
    ours = alpha_for_table(table).alpha
    assert round(ours, 3) == PAPER["nominal"]
    assert_alpha(ours, reference_alpha(EXAMPLE_C, "nominal"))


# ----------------------------------------------------------- 5. alpha by group
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(KINDS).flatmap(tables),
    st.integers(1, 4),
    st.integers(1, 3),
    st.randoms(use_true_random=False),
)
def test_alpha_by_group_matches_dense(
    table: LabelTable, n_slices: int, n_vendors: int, rnd
) -> None:
    f = table.frame.copy()
    item_slice = {i: f"s{rnd.randrange(n_slices)}" for i in range(table.n_items)}
    lab_vendor = {j: f"v{rnd.randrange(n_vendors)}" for j in range(table.n_labelers)}
    df = pd.DataFrame(
        {
            "item_id": np.asarray(table.item_ids)[f["item"]],
            "labeler_id": np.asarray(table.labeler_ids)[f["labeler"]],
            "label": [
                repr(float(s)) if table.kind == "interval" else table.categories[v]
                for v, s in zip(f["value"], f["score"], strict=True)
            ],
            "category": [item_slice[i] for i in f["item"]],
            "vendor": [lab_vendor[j] for j in f["labeler"]],
        }
    )
    t = LabelTable.build(
        df,
        table.kind,
        categories=table.categories or None,
        positive=table.positive,
        slice_columns=["category"],
    )
    level = {"binary": "nominal"}.get(t.kind, str(t.kind))
    k = len(t.categories)
    for column in ("category", "vendor"):
        out = alpha_by_group(t, column)
        expected_groups = sorted(df[column].unique())
        assert out["slice_value"].tolist() == expected_groups
        assert (out["slice_column"] == column).all()
        for row in out.itertuples():
            sub = df[df[column] == row.slice_value]
            sub_table = t.frame[(t.frame[column] == row.slice_value).to_numpy()]
            dense = np.full((t.n_labelers, t.n_items), NAN)
            col = "score" if level == "interval" else "value"
            dense[sub_table["labeler"], sub_table["item"]] = sub_table[col].to_numpy(float)
            assert_alpha(row.alpha, reference_alpha(dense, level, k))
            per_item = sub.groupby("item_id").size()
            assert row.n_labels == len(sub)
            assert row.n_items == len(per_item)
            assert row.n_units == int((per_item >= 2).sum())
            assert row.n_values == int(per_item[per_item >= 2].sum())


def test_alpha_by_group_unknown_column() -> None:
    table = LabelTable.build(frame_from_dense(EXAMPLE_C), "nominal")
    with pytest.raises(ValueError, match="not in the label table"):
        alpha_by_group(table, "nope")


# ------------------------------------------------------- 6. labeler agreement
def loo_kappa_reference(
    dense: np.ndarray, labeler: int, k: int, weighted: bool
) -> tuple[float, int, int]:
    """Kappa of one labeler vs the modal label of the others, ties excluded (plain Python)."""
    own: list[int] = []
    cons: list[int] = []
    ties = 0
    n_labelers, n_items = dense.shape
    for i in range(n_items):
        if np.isnan(dense[labeler, i]):
            continue
        others = [
            int(dense[j, i])
            for j in range(n_labelers)
            if j != labeler and not np.isnan(dense[j, i])
        ]
        if not others:
            continue
        counts = Counter(others)
        top = max(counts.values())
        modes = [c for c, n in counts.items() if n == top]
        if len(modes) > 1:
            ties += 1
            continue
        own.append(int(dense[labeler, i]))
        cons.append(modes[0])
    if not own:
        return NAN, 0, ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = cohen_kappa_score(
            own, cons, labels=list(range(k)), weights="linear" if weighted else None
        )
    return float(kappa), len(own), ties


def check_labeler_agreement(table: LabelTable) -> None:
    out = labeler_agreement(table)
    dense = dense_from_table(table)
    level = {"binary": "nominal"}.get(table.kind, str(table.kind))
    k = len(table.categories)
    assert out["labeler"].tolist() == list(range(table.n_labelers))
    assert out["labeler_id"].tolist() == list(table.labeler_ids)
    overall = reference_alpha(dense, level, k)
    assert_alpha(alpha_for_table(table).alpha, overall)
    per_item = (~np.isnan(dense)).sum(axis=0)
    for row in out.itertuples():
        present = ~np.isnan(dense[row.labeler])
        assert row.n_labels == int(present.sum())
        assert row.n_overlap == int((present & (per_item >= 2)).sum())
        without = reference_alpha(np.delete(dense, row.labeler, axis=0), level, k)
        assert_alpha(row.alpha_without, without)
        if not (math.isnan(without) or math.isnan(overall)):
            assert row.alpha_delta == pytest.approx(without - overall, rel=1e-9, abs=1e-9)
        if level == "interval":
            assert math.isnan(row.kappa) and row.n_kappa == 0 and row.n_ties == 0
            continue
        kappa, n_kappa, ties = loo_kappa_reference(dense, row.labeler, k, level == "ordinal")
        assert (row.n_kappa, row.n_ties) == (n_kappa, ties)
        assert_alpha(row.kappa, kappa)


@pytest.mark.parametrize("kind", KINDS)
def test_labeler_agreement_matches_brute_force(kind: str) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tables(kind))
    def run(table: LabelTable) -> None:
        check_labeler_agreement(table)

    run()


def test_labeler_agreement_example_c_and_no_overlap() -> None:
    dense = np.vstack([EXAMPLE_C, [NAN] * 11 + [2.0]])  # E labels only the single unit
    df = frame_from_dense(dense)
    for kind in ("nominal", "ordinal", "interval"):
        cats = None if kind == "interval" else ["1", "2", "3", "4", "5"]
        table = LabelTable.build(df, kind, categories=cats)
        out = labeler_agreement(table)
        assert len(out) == 5
        last = out.iloc[-1]
        # unit 12 now has two labels, so E does overlap there
        assert last["n_overlap"] == 1
        check_labeler_agreement(table)
    lonely = pd.concat(
        [df, pd.DataFrame({"item_id": ["solo"], "labeler_id": ["zz"], "label": ["3"]})]
    )
    table = LabelTable.build(lonely, "ordinal", categories=["1", "2", "3", "4", "5"])
    out = labeler_agreement(table).set_index("labeler_id")
    assert out.loc["zz", "n_overlap"] == 0
    assert out.loc["zz", "alpha_delta"] == 0.0
    assert math.isnan(out.loc["zz", "kappa"]) and out.loc["zz", "n_kappa"] == 0


@pytest.mark.parametrize("common", ["0.1", "0.3", "1e6"])
@pytest.mark.parametrize("odd", [("0.7", "0.3"), ("5", "1e-3"), ("0.2", "0.2")])
def test_interval_alpha_without_when_remaining_values_are_equal(
    common: str, odd: tuple[str, str]
) -> None:
    # without labeler c every remaining value is `common` (0.1 and 0.3 are not exact in
    # binary): alpha_without(c) is undefined (NaN), never a rounding artefact
    rows = []
    for i in range(7):
        for lab, value in (("a", common), ("b", common), ("c", odd[i % 2]), ("d", common)):
            rows.append((f"i{i}", lab, value))
    table = LabelTable.build(
        pd.DataFrame(rows, columns=["item_id", "labeler_id", "label"]), "interval"
    )
    out = labeler_agreement(table).set_index("labeler_id")
    assert math.isnan(out.loc["c", "alpha_without"])
    check_labeler_agreement(table)


def test_coincidence_marginals() -> None:
    """Krippendorff (2011): the coincidence matrix sums to the pairable value counts."""
    from evalaudit.stats.agreement import _coincidence, _pairable, _value_counts

    _, item, value = long_arrays(EXAMPLE_C)
    codes = value.astype(int) - 1
    pr = _pairable(item)
    o = _coincidence(_value_counts(pr.unit, codes[pr.rows], pr.m.size, 5), pr.m)
    pairable = np.isin(item, [u for u in range(12) if (item == u).sum() >= 2])
    expected = np.bincount(codes[pairable], minlength=5)
    assert o.sum(axis=1) == pytest.approx(expected)
    assert o == pytest.approx(o.T)
    assert o.sum() == pytest.approx(40)


# --------------------------------------------------------------- pairwise kappa
@pytest.mark.parametrize("kind", ["binary", "nominal", "ordinal"])
def test_pairwise_kappa_matches_sklearn(kind: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tables(kind), st.integers(1, 4))
    def run(table: LabelTable, min_support: int) -> None:
        dense = dense_from_table(table)
        k = len(table.categories)
        ids = list(table.labeler_ids)
        expected = {}
        for a in range(table.n_labelers):
            for b in range(a + 1, table.n_labelers):
                both = ~np.isnan(dense[a]) & ~np.isnan(dense[b])
                if both.sum() < min_support:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    kappa = cohen_kappa_score(
                        dense[a, both].astype(int),
                        dense[b, both].astype(int),
                        labels=list(range(k)),
                        weights="linear" if kind == "ordinal" else None,
                    )
                expected[(ids[a], ids[b])] = (int(both.sum()), float(kappa))
        out = pairwise_kappa(table, min_support)
        assert list(out.columns) == ["labeler_a", "labeler_b", "n_shared", "kappa"]
        got = {(r.labeler_a, r.labeler_b): (r.n_shared, r.kappa) for r in out.itertuples()}
        assert set(got) == set(expected)
        for key, (n, kappa) in expected.items():
            assert got[key][0] == n
            assert_alpha(got[key][1], kappa)

    run()


def test_pairwise_kappa_interval_is_empty() -> None:
    table = LabelTable.build(frame_from_dense(EXAMPLE_C), "interval")
    out = pairwise_kappa(table, 1)
    assert out.empty and list(out.columns) == ["labeler_a", "labeler_b", "n_shared", "kappa"]


def test_pairwise_kappa_skips_items_with_more_than_20_labels() -> None:
    n = 21
    df = pd.DataFrame(
        {
            "item_id": ["big"] * n + ["x", "x"],
            "labeler_id": [f"l{j:02d}" for j in range(n)] + ["l00", "l01"],
            "label": ["1", "0"] * 10 + ["1"] + ["1", "0"],
        }
    )
    out = pairwise_kappa(LabelTable.build(df, "binary", positive="1"), 1)
    assert out[["labeler_a", "labeler_b", "n_shared"]].values.tolist() == [["l00", "l01", 1]]


# ------------------------------------------------------------------- 7. RTE data
def test_rte_matches_dense_krippendorff() -> None:
    if not RTE.exists():
        pytest.skip(f"{RTE} not available")
    df = pd.read_csv(RTE, dtype=str)
    table = LabelTable.build(df, kind="binary", positive="1")
    dense = dense_from_table(table)
    assert_alpha(alpha_for_table(table).alpha, reference_alpha(dense, "nominal"))
    out = labeler_agreement(table)
    assert len(out) == 164
    # spot-check a few labelers against the brute-force removal
    for j in out.sort_values("n_labels", ascending=False)["labeler"].head(3):
        without = reference_alpha(np.delete(dense, j, axis=0), "nominal")
        assert_alpha(out.loc[j, "alpha_without"], without)


@pytest.mark.parametrize("kind", ["nominal", "ordinal", "interval"])
def test_empty_table(kind: str) -> None:
    df = pd.DataFrame({"item_id": [], "labeler_id": [], "label": [], "tag": []}, dtype=str)
    table = LabelTable.build(df, kind, slice_columns=["tag"])
    assert math.isnan(alpha_for_table(table).alpha)
    assert labeler_agreement(table).shape == (0, 9)
    assert pairwise_kappa(table, 1).empty
    assert alpha_by_group(table, "tag").empty


def test_interval_alpha_without_a_labeler_keeps_its_digits_beside_far_values():
    """Found by the property test (random profile): lab00 holds 35.0 beside values near 0, so
    the closed-form downdate of the sums of squares without lab01 kept few digits (alpha
    -3.6e-9). Without lab01 one unit is left, {0.008, 0}, whose alpha is exactly 0
    (krippendorff's package on the same data)."""
    f = pd.DataFrame(
        {
            "item_id": ["i9", "i9", "i12", "i12"],
            "labeler_id": ["lab00", "lab01", "lab00", "lab02"],
            "label": ["35.0", "0.0", "0.008", "0.0"],
        }
    )
    t = LabelTable.build(f, "interval", slice_columns=())
    got = labeler_agreement(t).set_index("labeler_id")["alpha_without"]
    ref = krippendorff.alpha(reliability_data=[[0.008], [0.0]], level_of_measurement="interval")
    assert ref == 0.0
    assert got["lab01"] == pytest.approx(ref, abs=1e-12)
    assert got["lab02"] == pytest.approx(0.0, abs=1e-12)
