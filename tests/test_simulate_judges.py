"""Tests of the LLM-judge generator: who grades what, the twin, the planted flips, the targets."""

from __future__ import annotations

import numpy as np
import pytest

from evalaudit.simulate import FAILURE_MODE, Plant, simulate_judges

N = 4000
PLANT = Plant("judge_b", 0.55, FAILURE_MODE, "hallucination")


@pytest.fixture(scope="module")
def pair():
    return (
        simulate_judges(N, plants=[PLANT], seed=3),
        simulate_judges(N, plants=[Plant("judge_b", 0.0, FAILURE_MODE, "hallucination")], seed=3),
    )


def test_judges_grade_every_item_and_one_human_a_fifth(pair) -> None:
    sim, _ = pair
    lab = sim.labels
    per_item = lab.groupby("item_id")["labeler_id"].agg(list)
    assert len(per_item) == N
    assert all({"judge_a", "judge_b"} <= set(v) for v in per_item)
    humans = lab[lab["labeler_id"].str.startswith("hum")]
    assert len(humans) == round(0.2 * N)
    assert humans["item_id"].is_unique  # one human per sampled item
    assert set(humans["labeler_id"]) == {"hum1", "hum2", "hum3", "hum4"}
    assert (lab.groupby("item_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing)).all()
    assert sim.truth["n_labels"] == len(lab) == 2 * N + round(0.2 * N)
    two = simulate_judges(300, humans_per_item=2, seed=1).labels
    h2 = two[two["labeler_id"].str.startswith("hum")]
    assert (h2.groupby("item_id")["labeler_id"].nunique() == 2).all()


def test_twin_differs_only_by_the_planted_flips(pair) -> None:
    sim, twin = pair
    rest = [c for c in sim.labels.columns if c != "label"]
    assert sim.labels[rest].equals(twin.labels[rest])
    diff = (sim.labels["label"] != twin.labels["label"]).to_numpy()
    scope = (
        (sim.labels["labeler_id"] == "judge_b") & (sim.labels[FAILURE_MODE] == "hallucination")
    ).to_numpy()
    assert diff.any() and not (diff & ~scope).any()
    assert (twin.labels["label"][diff] == "fail").all()
    # the flip rate among the fails judge_b would give in scope: 0.55 within 4 SE
    would_fail = scope & (twin.labels["label"] == "fail").to_numpy()
    rate = diff[would_fail].mean()
    se = np.sqrt(0.55 * 0.45 / would_fail.sum())
    assert abs(rate - 0.55) < 4 * se


def test_expected_effects_are_exact(pair) -> None:
    sim, _ = pair
    rec = sim.truth["poisoned"][0]
    err = {r["labeler_id"]: r["error_rate"] for r in sim.truth["labelers"]}
    e_b = err.pop("judge_b")
    e_bar = np.mean(list(err.values()))
    pi = sim.item_truth.set_index("item_id")["pi"]
    hall = sim.item_truth[FAILURE_MODE] == "hallucination"
    p_b = pi * (1 - e_b) + (1 - pi) * e_b
    p_b = np.where(hall, p_b + (1 - p_b) * 0.55, p_b)
    diff = p_b - (pi * (1 - e_bar) + (1 - pi) * e_bar)
    assert rec["n_labels"] == N and rec["n_labels_in_scope"] == int(hall.sum())
    assert rec["expected_effect"] == pytest.approx(diff[hall.to_numpy()].mean(), abs=2e-6)
    assert rec["expected_labeler_effect"] == pytest.approx(diff.mean(), abs=2e-6)
    # and the realised effect against judge_a on the same items is close to it
    lab = sim.labels
    wide = lab[lab["labeler_id"].isin(["judge_a", "judge_b"])].pivot(
        index="item_id", columns="labeler_id", values="label"
    )
    h_items = sim.item_truth.loc[hall, "item_id"]
    w = wide.loc[h_items] == "pass"
    realised = (w["judge_b"].astype(float) - w["judge_a"].astype(float)).mean()
    assert abs(realised - rec["expected_effect"]) < 0.05


def test_same_seed_same_data_and_arguments_checked() -> None:
    a = simulate_judges(200, seed=5)
    b = simulate_judges(200, seed=5)
    assert a.labels.equals(b.labels) and a.truth == b.truth
    assert not a.labels.equals(simulate_judges(200, seed=6).labels)
    with pytest.raises(ValueError, match="share and after"):
        simulate_judges(100, plants=[Plant("judge_b", 0.5, share=0.1)])
    with pytest.raises(ValueError, match="unknown labeler"):
        simulate_judges(100, plants=[Plant("lab001", 0.5)])
    with pytest.raises(ValueError, match="humans_per_item"):
        simulate_judges(100, humans_per_item=5)
