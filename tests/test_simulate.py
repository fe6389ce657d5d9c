"""Tests of the synthetic eval-set generator: shapes, determinism, planted effects."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest

from evalaudit.contract import ITEM_ID, LABEL, LABELER_ID, TIMESTAMP
from evalaudit.simulate import (
    CATEGORY,
    FAILURE_MODE,
    SAMPLE_PLANT,
    Plant,
    Simulation,
    sample_dataset,
    simulate,
    write_sample,
)

STRATA = ["category", "failure_mode", "model"]
COLUMNS = [
    "item_id",
    "labeler_id",
    "label",
    "timestamp",
    "vendor",
    "batch",
    "model",
    "category",
    "failure_mode",
]


@pytest.fixture(scope="module")
def sample() -> Simulation:
    return sample_dataset()


@pytest.fixture(scope="module")
def big_planted() -> Simulation:
    """60k single-label items with the sample's plant."""
    return simulate(60_000, overlap_share=0.0, plants=[SAMPLE_PLANT], seed=11)


@pytest.fixture(scope="module")
def big_clean() -> Simulation:
    return simulate(400_000, overlap_share=0.0, seed=5)


def stratified_diff(labels: pd.DataFrame, labeler: str) -> tuple[float, float, int]:
    """Pass rate of ``labeler`` minus the others' on the same strata, weighted by its labels.

    Returns the difference, its standard error and the labeler's label count.
    """
    y = (labels[LABEL] == "pass").astype(float)
    own = labels[LABELER_ID] == labeler
    keys = [labels[c] for c in STRATA]
    g_own = y[own].groupby([k[own] for k in keys]).agg(["mean", "count"])
    g_oth = y[~own].groupby([k[~own] for k in keys]).agg(["mean", "count"])
    g = g_own.add_suffix("_own").join(g_oth.add_suffix("_oth"), how="inner")
    w = g["count_own"] / g["count_own"].sum()
    diff = float((w * (g["mean_own"] - g["mean_oth"])).sum())
    var = (
        w**2
        * (
            g["mean_own"] * (1 - g["mean_own"]) / g["count_own"]
            + g["mean_oth"] * (1 - g["mean_oth"]) / g["count_oth"]
        )
    ).sum()
    return diff, float(np.sqrt(var)), int(g["count_own"].sum())


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_data() -> None:
    a = simulate(3000, plants=[SAMPLE_PLANT], gold_share=0.1, seed=3)
    b = simulate(3000, plants=[SAMPLE_PLANT], gold_share=0.1, seed=3)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    pd.testing.assert_frame_equal(a.item_truth, b.item_truth)
    assert a.truth == b.truth


def test_different_seed_different_data() -> None:
    a = simulate(3000, seed=3)
    b = simulate(3000, seed=4)
    assert not a.labels.equals(b.labels)
    assert a.truth["labelers"] != b.truth["labelers"]


def test_plants_do_not_change_the_items() -> None:
    clean = simulate(3000, seed=9)
    lenient = simulate(3000, plants=[Plant("lab003", 0.5)], seed=9)
    pd.testing.assert_frame_equal(clean.item_truth, lenient.item_truth)
    same = clean.labels.drop(columns=LABEL).equals(lenient.labels.drop(columns=LABEL))
    assert same  # no forced share: only labels of lab003 may change
    changed = clean.labels[LABEL] != lenient.labels[LABEL]
    assert changed.any()
    assert (lenient.labels.loc[changed, LABELER_ID] == "lab003").all()
    assert (lenient.labels.loc[changed, LABEL] == "pass").all()


# --------------------------------------------------------------------------- shapes


def test_sample_shapes(sample: Simulation) -> None:
    labels = sample.labels
    assert list(labels.columns) == COLUMNS
    assert labels[ITEM_ID].nunique() == sample.truth["n_items"] >= 5000
    assert labels[LABELER_ID].nunique() == sample.truth["n_labelers"] >= 20
    assert labels["vendor"].nunique() == 3
    assert len(labels) == sample.truth["n_labels"]
    assert set(labels[LABEL]) == {"pass", "fail"}
    assert not labels.duplicated([ITEM_ID, LABELER_ID]).any()
    per_item = labels.groupby(ITEM_ID).size()
    assert set(per_item) == {1, 3}
    assert (per_item == 3).mean() == pytest.approx(0.15, abs=0.01)
    assert labels[ITEM_ID].iloc[0] == "it000001"
    assert labels[LABELER_ID].str.fullmatch(r"lab\d{3}").all()
    assert labels["batch"].str.fullmatch(r"b\d{2}").all()
    assert labels[TIMESTAMP].str.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:00Z").all()
    ts = pd.to_datetime(labels[TIMESTAMP])
    assert ts.min() >= pd.Timestamp("2026-03-02", tz="UTC")
    assert ts.max() < pd.Timestamp("2026-09-02", tz="UTC")
    assert ts.dt.tz_localize(None).dt.to_period("M").nunique() >= 6
    # the labels of a multi-label item are in time order
    assert labels.groupby(ITEM_ID, sort=False)[TIMESTAMP].is_monotonic_increasing.all()
    assert sample.item_truth[ITEM_ID].tolist() == sorted(labels[ITEM_ID].unique())


def test_batches_follow_time(sample: Simulation) -> None:
    ts = pd.to_datetime(sample.labels[TIMESTAMP])
    block = (ts - pd.Timestamp("2026-03-02", tz="UTC")).dt.days // 14 + 1
    expected = "b" + block.astype(str).str.zfill(2)
    assert (sample.labels["batch"] == expected).all()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_overlap_extremes(share: float) -> None:
    sim = simulate(2000, overlap_share=share, plants=[SAMPLE_PLANT], seed=2)
    per_item = sim.labels.groupby(ITEM_ID).size()
    assert set(per_item) == ({1} if share == 0.0 else {3})
    assert not sim.labels.duplicated([ITEM_ID, LABELER_ID]).any()
    assert sim.truth["poisoned"][0]["share_of_items"] == pytest.approx(0.11, abs=0.03)


def test_gold_column() -> None:
    sim = simulate(4000, gold_share=0.1, seed=4)
    labels = sim.labels
    assert list(labels.columns) == [*COLUMNS, "gold"]
    has_gold = labels["gold"].notna()
    assert labels.loc[has_gold, ITEM_ID].nunique() == 400
    truth = sim.item_truth.set_index(ITEM_ID)["true_label"]
    assert (labels.loc[has_gold, "gold"] == truth[labels.loc[has_gold, ITEM_ID]].values).all()
    assert "gold" not in simulate(100, seed=4).labels.columns


def test_categorical_output_has_the_same_values() -> None:
    plain = simulate(1000, gold_share=0.2, seed=8)
    cat = simulate(1000, gold_share=0.2, seed=8, categorical=True)
    assert isinstance(cat.labels[LABEL].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(plain.labels, cat.labels.astype(plain.labels.dtypes.to_dict()))


def test_slice_pass_rates_differ(sample: Simulation) -> None:
    passed = sample.labels[LABEL] == "pass"
    for column, spread in [(CATEGORY, 0.3), (FAILURE_MODE, 0.2), ("model", 0.1)]:
        rates = passed.groupby(sample.labels[column]).mean()
        assert rates.max() - rates.min() > spread, column
        assert rates.min() > 0.3 and rates.max() < 0.92


def test_workloads_and_specialists() -> None:
    sim = simulate(40_000, overlap_share=0.0, seed=6)
    counts = sim.labels[LABELER_ID].value_counts()
    assert counts.max() > 2 * counts.min()  # unequal workloads
    specialists = [lab for lab in sim.truth["labelers"] if lab["specialty"]]
    assert len(specialists) == 6  # 25% of 24
    for lab in specialists:
        own = sim.labels[sim.labels[LABELER_ID] == lab["labeler_id"]]
        assert (own[CATEGORY] == lab["specialty"]).mean() > 0.65


# --------------------------------------------------------------------------- planted effects


def test_sample_plant(sample: Simulation) -> None:
    truth = sample.truth
    assert truth["drift"] == []
    (plant,) = truth["poisoned"]
    assert plant["labeler_id"] == "lab017"
    assert (plant["slice_column"], plant["slice_value"]) == ("failure_mode", "hallucination")
    assert 0.09 <= plant["share_of_items"] <= 0.13
    lab = sample.labels[LABELER_ID] == "lab017"
    assert sample.labels.loc[lab, ITEM_ID].nunique() / truth["n_items"] == pytest.approx(
        plant["share_of_items"], abs=1e-6
    )
    in_scope = lab & (sample.labels[FAILURE_MODE] == "hallucination")
    assert plant["n_labels_in_scope"] == in_scope.sum()
    assert plant["expected_effect"] >= 0.20
    assert 0.06 <= plant["expected_labeler_effect"] <= 0.08
    json.dumps(truth, allow_nan=False)  # JSON-serializable as is


def test_planted_effect_is_recovered(big_planted: Simulation) -> None:
    labels = big_planted.labels
    (plant,) = big_planted.truth["poisoned"]
    in_scope = labels[labels[FAILURE_MODE] == "hallucination"]
    diff, se, n = stratified_diff(in_scope, "lab017")
    assert n == plant["n_labels_in_scope"]
    assert abs(diff - plant["expected_effect"]) < 4 * se + 0.005
    overall, se_all, _ = stratified_diff(labels, "lab017")
    assert abs(overall - plant["expected_labeler_effect"]) < 4 * se_all + 0.005
    outside, se_out, _ = stratified_diff(labels[labels[FAILURE_MODE] != "hallucination"], "lab017")
    assert abs(outside) < 4 * se_out + 0.005


def test_labels_flip_at_the_planted_rate(big_planted: Simulation) -> None:
    labels = big_planted.labels.merge(big_planted.item_truth[[ITEM_ID, "true_label"]], on=ITEM_ID)
    errors = {lab["labeler_id"]: lab["error_rate"] for lab in big_planted.truth["labelers"]}
    honest = labels[labels[LABELER_ID] != "lab017"]
    wrong = (
        (honest[LABEL] != honest["true_label"]).groupby(honest[LABELER_ID]).agg(["mean", "count"])
    )
    e = wrong.index.map(errors).to_numpy()
    se = np.sqrt(e * (1 - e) / wrong["count"])
    assert (np.abs(wrong["mean"] - e) < 4 * se).all()
    assert min(errors.values()) >= 0.03 and max(errors.values()) <= 0.07

    e, f = errors["lab017"], SAMPLE_PLANT.flip_rate
    own = labels[(labels[LABELER_ID] == "lab017") & (labels[FAILURE_MODE] == "hallucination")]
    passed = (own[LABEL] == "pass").groupby(own["true_label"]).agg(["mean", "count"])
    for true, p in [("fail", e + (1 - e) * f), ("pass", (1 - e) + e * f)]:
        se = np.sqrt(p * (1 - p) / passed.loc[true, "count"])
        assert abs(passed.loc[true, "mean"] - p) < 4 * se + 1e-9, true


def test_clean_labelers_are_unbiased(big_clean: Simulation) -> None:
    assert big_clean.truth["poisoned"] == []
    labels = big_clean.labels
    y = (labels[LABEL] == "pass").astype(float)
    # every labeler at once: its stratum counts, and the others' = stratum total - its own
    own = y.groupby([labels[LABELER_ID], *(labels[c] for c in STRATA)]).agg(["sum", "count"])
    total = y.groupby([labels[c] for c in STRATA]).agg(["sum", "count"])
    other = total.reindex(own.index.droplevel(LABELER_ID)).set_axis(own.index) - own
    gap = own["sum"] / own["count"] - other["sum"] / other["count"]
    diff = (gap * own["count"]).groupby(level=LABELER_ID).sum() / own["count"].groupby(
        level=LABELER_ID
    ).sum()
    assert len(diff) == 24
    assert diff.abs().max() < 0.04, diff.abs().idxmax()
    lab = diff.index[0]
    assert diff[lab] == pytest.approx(stratified_diff(labels, lab)[0])


def test_severe_and_drift_plants() -> None:
    after = "2026-06-01T00:00:00Z"
    plants = [Plant("lab004", -0.5, "model", "model-b"), Plant("lab009", 0.7, after=after)]
    sim = simulate(30_000, overlap_share=0.0, plants=plants, seed=12)
    severe, drift = sim.truth["poisoned"]
    assert severe["expected_effect"] < -0.2
    assert sim.truth["drift"] == [drift]
    labels = sim.labels
    late = (labels[LABELER_ID] == "lab009") & (pd.to_datetime(labels[TIMESTAMP]) > after)
    assert drift["n_labels_in_scope"] == late.sum()
    assert 0 < drift["expected_labeler_effect"] < drift["expected_effect"]
    model_b = labels[labels["model"] == "model-b"]
    diff, se, _ = stratified_diff(model_b, "lab004")
    assert abs(diff - severe["expected_effect"]) < 4 * se + 0.005
    early = labels[pd.to_datetime(labels[TIMESTAMP]) <= after]
    diff, se, _ = stratified_diff(early, "lab009")
    assert abs(diff) < 4 * se + 0.005


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plants": [Plant("lab099", 0.3)]}, "unknown labeler"),
        ({"plants": [Plant("lab001", 0.3, CATEGORY, "poetry")]}, "no value 'poetry'"),
        ({"plants": [Plant("lab001", 0.3, share=0.6), Plant("lab002", 0.1, share=0.5)]}, "sum"),
        ({"overlap_share": 1.5}, "overlap_share"),
        ({"n_labelers": 2}, "overlap_k=3"),
    ],
)
def test_invalid_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate(100, **kwargs)


def test_invalid_plant() -> None:
    with pytest.raises(ValueError, match="flip_rate"):
        Plant("lab001", 1.5)
    with pytest.raises(ValueError, match="both"):
        Plant("lab001", 0.5, slice_column=CATEGORY)
    with pytest.raises(ValueError, match="slice_column"):
        Plant("lab001", 0.5, "labeler_id", "lab002")
    with pytest.raises(ValueError, match="parse"):
        Plant("lab001", 0.5, after="next tuesday")


# --------------------------------------------------------------------------- sample files


def test_write_sample_is_small_and_deterministic(tmp_path) -> None:
    first = write_sample(tmp_path / "a")
    second = write_sample(tmp_path / "b")
    assert set(first) == {"csv", "parquet", "truth", "readme", "judges", "judges_truth"}
    for key in first:
        digest = [hashlib.sha256(p[key].read_bytes()).hexdigest() for p in (first, second)]
        assert digest[0] == digest[1], key
    assert first["csv"].stat().st_size + first["parquet"].stat().st_size < 5_000_000
    csv = pd.read_csv(first["csv"], dtype=str)
    parquet = pd.read_parquet(first["parquet"])
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    assert len(csv) == sample_dataset().truth["n_labels"]
    truth = json.loads(first["truth"].read_text())
    assert truth["poisoned"][0]["labeler_id"] == "lab017"
    readme = first["readme"].read_text()
    for needle in ["lab017", "hallucination", "0.60", "evalaudit sample sample_data --seed 7"]:
        assert needle in readme
