"""The judge-vs-human audit: planted leniency, a tilted slice, self-preference; kappa by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from evalaudit.simulate import FAILURE_MODE, MODEL, Plant, Simulation, simulate_judges
from evalaudit.stats.judges import (
    JUDGE_COLUMNS,
    SELF_PREFERENCE_COLUMNS,
    SLICE_BIAS_COLUMNS,
    judge_audit,
    judge_self_preference,
    judge_slice_bias,
)
from evalaudit.table import LabelTable

SLICES = ("category", "failure_mode")


def table_of(sim: Simulation) -> tuple[LabelTable, np.ndarray]:
    t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
    judges = set(sim.truth["config"]["judges"])
    return t, np.array([str(x) in judges for x in t.labeler_ids])


def expected_score(sim: Simulation) -> np.ndarray:
    """Per label row: its expected score given the item's true label (noise and flips only)."""
    lab = sim.labels
    err = {r["labeler_id"]: r["error_rate"] for r in sim.truth["labelers"]}
    t = lab["item_id"].map(sim.item_truth.set_index("item_id")["true_label"]).eq("pass")
    e = lab["labeler_id"].map(err).to_numpy(dtype=float)
    p = np.where(t.to_numpy(), 1 - e, e)
    for plant in sim.truth["poisoned"]:
        scope = (lab["labeler_id"] == plant["labeler_id"]).to_numpy(copy=True)
        if plant["slice_column"] is not None:
            scope = scope & (lab[plant["slice_column"]] == plant["slice_value"]).to_numpy()
        p = np.where(scope, p + (1 - p) * plant["flip_rate"], p)
    return p


def planted_bias(sim: Simulation, judge: str, mask: pd.Series | None = None) -> float:
    """Exact E[judge - human] over the items the judge shares with (one) human, in ``mask``."""
    lab = sim.labels.assign(p=expected_score(sim))
    human = lab[lab["labeler_id"].str.startswith("hum")].set_index("item_id")["p"]
    j = lab[lab["labeler_id"] == judge].set_index("item_id")
    if mask is not None:
        j = j[mask.reindex(j.index).to_numpy()]
    shared = j.index.intersection(human.index)
    return float((j.loc[shared, "p"] - human.loc[shared]).mean())


@pytest.fixture(scope="module")
def lenient() -> Simulation:
    return simulate_judges(6000, judges=("judge_a",), plants=[Plant("judge_a", 0.25)], seed=11)


def test_lenient_judge_bias_ci_covers_the_planted_bias(lenient: Simulation) -> None:
    t, is_judge = table_of(lenient)
    out = judge_audit(t, is_judge, family={"judge_a": "model-a"})
    assert list(out.columns) == list(JUDGE_COLUMNS) and len(out) == 1  # judges only, no human
    r = out.iloc[0]
    target = planted_bias(lenient, "judge_a")
    assert target > 0.08
    assert r["ci_low"] <= target <= r["ci_high"] and r["p_value"] < 1e-6
    assert r["n_shared"] == r["n_kappa"] == round(0.2 * 6000) and r["family"] == "model-a"
    assert r["bias"] == pytest.approx(r["judge_score"] - r["human_score"])
    # the confusion rates and kappa, by hand against the humans' labels
    lab = lenient.labels
    wide = lab.assign(p=lab["label"].eq("pass")).pivot(
        index="item_id", columns="labeler_id", values="p"
    )
    hum = wide.filter(like="hum").max(axis=1, skipna=True)  # one human per item here
    sh = wide.filter(like="hum").notna().any(axis=1)
    j, h = wide.loc[sh, "judge_a"].astype(bool), hum[sh].astype(bool)
    assert r["kappa"] == pytest.approx(cohen_kappa_score(j, h), abs=1e-12)
    assert r["pass_when_humans_fail"] == pytest.approx(j[~h].mean())
    assert r["fail_when_humans_pass"] == pytest.approx((~j[h]).mean())
    assert r["pass_when_humans_fail"] > 0.25  # 25% flipped on top of the judge's own errors


def test_consensus_of_several_humans_ties_left_out_of_kappa() -> None:
    sim = simulate_judges(1500, judges=("judge_a",), humans_per_item=2, human_share=0.4, seed=2)
    t, is_judge = table_of(sim)
    r = judge_audit(t, is_judge).iloc[0]
    lab = sim.labels.assign(p=sim.labels["label"].eq("pass").astype(float))
    hmean = lab[lab["labeler_id"].str.startswith("hum")].groupby("item_id")["p"].mean()
    judge = lab[lab["labeler_id"] == "judge_a"].set_index("item_id")["p"]
    assert r["n_shared"] == len(hmean) and r["n_human_labels"] == 2 * len(hmean)
    assert r["bias"] == pytest.approx((judge[hmean.index] - hmean).mean())
    d = judge[hmean.index] - hmean
    assert r["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)))  # the item is the unit
    assert r["n_kappa"] == int((hmean != 0.5).sum()) < len(hmean)


@pytest.fixture(scope="module")
def two_judges() -> tuple[Simulation, Simulation]:
    plants = [
        Plant("judge_b", 0.55, FAILURE_MODE, "hallucination"),
        Plant("judge_a", 0.2, MODEL, "model-a"),
    ]
    twin = [
        Plant("judge_b", 0.0, FAILURE_MODE, "hallucination"),
        Plant("judge_a", 0.2, MODEL, "model-a"),
    ]
    kw = {"human_share": 0.4, "seed": 5}
    return simulate_judges(6000, plants=plants, **kw), simulate_judges(6000, plants=twin, **kw)


def test_judge_lenient_on_one_failure_mode_is_significant_there(two_judges) -> None:
    sim, _ = two_judges
    t, is_judge = table_of(sim)
    sb = judge_slice_bias(t, is_judge)
    assert list(sb.columns) == list(SLICE_BIAS_COLUMNS)
    assert set(sb["judge"]) == {"judge_a", "judge_b"}
    cell = sb[(sb.judge == "judge_b") & (sb.slice_value == "hallucination")].iloc[0]
    hall = sim.item_truth.set_index("item_id")[FAILURE_MODE].eq("hallucination")
    target = planted_bias(sim, "judge_b", hall)
    assert cell["p_value"] < 1e-8 and cell["tilt_p"] < 1e-8
    assert cell["ci_low"] <= target <= cell["ci_high"]
    # judge_b is not biased on its other failure modes (their tilt mirrors hallucination's:
    # its bias "elsewhere" includes it); judge_a's hallucination cell is not biased
    others = sb[(sb.judge == "judge_b") & (sb.slice_column == FAILURE_MODE)]
    assert (others[others.slice_value != "hallucination"]["p_value"] > 0.001).all()
    a = sb[(sb.judge == "judge_a") & (sb.slice_value == "hallucination")].iloc[0]
    assert a["p_value"] > 0.01


def test_humans_are_the_reference_a_lenient_judge_never_moves_another(two_judges) -> None:
    sim, twin = two_judges
    a = judge_audit(*table_of(sim)).set_index("judge")
    b = judge_audit(*table_of(twin)).set_index("judge")
    pd.testing.assert_series_equal(a.loc["judge_a"], b.loc["judge_a"])
    assert a.loc["judge_b", "bias"] > b.loc["judge_b", "bias"] + 0.05


def test_self_preference_flagged_with_a_ci_covering_the_planted_value(two_judges) -> None:
    sim, _ = two_judges
    t, is_judge = table_of(sim)
    sp = judge_self_preference(t, is_judge, {"judge_a": "model-a", "judge_b": "model-b"})
    assert list(sp.columns) == list(SELF_PREFERENCE_COLUMNS)
    sp = sp.set_index("judge")
    own = sim.item_truth.set_index("item_id")[MODEL].eq("model-a")
    planted = planted_bias(sim, "judge_a", own) - planted_bias(sim, "judge_a", ~own)
    a = sp.loc["judge_a"]
    assert a["own_models"] == "model-a" and a["n_own"] + a["n_other"] == round(0.4 * 6000)
    assert a["ci_low"] <= planted <= a["ci_high"] and a["p_value"] < 1e-4
    assert a["effect"] == pytest.approx(a["bias_own"] - a["bias_other"])
    # the false-pass contrast: 20% of its own family's fails flipped, ~0.2 (1 - e) more passed
    assert a["false_pass_ci_low"] <= 0.2 * (1 - 0.05) <= a["false_pass_ci_high"]
    assert a["false_pass_p"] < 1e-4 and a["n_fail_own"] > 100
    # judge_b is lenient on hallucination everywhere, not on its own family: no self-preference
    b = sp.loc["judge_b"]
    assert b["ci_low"] <= 0 <= b["ci_high"]
    assert b["false_pass_ci_low"] <= 0 <= b["false_pass_ci_high"]
    # a dict model -> family and a predicate give the same answer as the default
    d = judge_self_preference(t, is_judge, {"judge_a": "fam"}, model_family={"model-a": "fam"})
    assert d.iloc[0]["effect"] == pytest.approx(a["effect"])


def test_self_preference_needs_the_model_column() -> None:
    sim = simulate_judges(300, seed=1)
    lab = sim.labels.drop(columns=[MODEL])
    t = LabelTable.build(lab, "binary", positive="pass", slice_columns=SLICES)
    is_judge = np.array([str(x).startswith("judge") for x in t.labeler_ids])
    assert judge_self_preference(t, is_judge, {"judge_a": "model-a"}).empty
    with pytest.raises(ValueError, match="one boolean per labeler"):
        judge_audit(t, is_judge[:2])
