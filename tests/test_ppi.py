"""PPI headline: parity with ppi_py, coverage, the per-item inputs, stratified weights, judges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalaudit.simulate import FAILURE_MODE, Plant, Simulation, simulate_judges
from evalaudit.stats.ppi import (
    JUDGES_MEAN,
    JUDGES_WEIGHTED,
    item_inputs,
    ppi_headline,
    ppi_mean,
    ppi_mean_stratified,
)
from evalaudit.table import LabelTable

ppi_py = pytest.importorskip("ppi_py")

SLICES = ("category", "failure_mode")


def arrays(seed: int, n: int, big_n: int, binary: bool) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    if binary:
        y = (rng.random(n + big_n) < 0.6).astype(float)
        f = np.where(rng.random(n + big_n) < 0.8, y, 1 - y)
    else:
        y = rng.normal(0, 1, n + big_n)
        f = 0.7 * y + rng.normal(0.3, 0.8, n + big_n)
    return y[:n], f[:n], f[n:]


@pytest.mark.parametrize("lam", [None, 0.0, 0.4, 1.0])
@pytest.mark.parametrize(
    ("seed", "n", "big_n", "binary"), [(0, 200, 2000, True), (1, 60, 90, False)]
)
def test_parity_with_ppi_py(lam, seed, n, big_n, binary) -> None:
    y, f, f_u = arrays(seed, n, big_n, binary)
    r = ppi_mean(y, f, f_u, lam=lam)
    point = float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, f, f_u, lam=lam)))
    lo, hi = (float(np.squeeze(v)) for v in ppi_py.ppi_mean_ci(y, f, f_u, alpha=0.05, lam=lam))
    assert r["score"] == pytest.approx(point, abs=1e-9)
    assert r["ci"][0] == pytest.approx(lo, abs=1e-9) and r["ci"][1] == pytest.approx(hi, abs=1e-9)
    if lam is None:
        assert 0.0 <= r["lambda"] <= 1.0 and r["lambda"] not in (0.0, 1.0)
        # the "element" mode is the same for a scalar mean
        lo2, _ = ppi_py.ppi_mean_ci(y, f, f_u, alpha=0.05, lam_optim_mode="element")
        assert r["ci"][0] == pytest.approx(float(np.squeeze(lo2)), abs=1e-9)
    assert (r["n_labeled"], r["n_unlabeled"]) == (n, big_n)


def test_lambda_clipped_like_ppi_py() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=100)
    f, f_u = -y + rng.normal(0, 0.1, 100), rng.normal(size=1000)  # anti-correlated: lam < 0
    r = ppi_mean(y, f, f_u)
    assert r["lambda"] == 0.0
    assert r["score"] == pytest.approx(float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, f, f_u))))


def test_coverage_of_the_95_interval_not_90() -> None:
    """2000 seeded replications: 95% within 4 SE (0.93..0.97); a 90% interval would fail."""
    rng = np.random.default_rng(2026)
    theta, hits = 0.6 * 0.9 + 0.4 * 0.1, 0  # E[Y]: truth 60% pass, human error 10%
    n, big_n, reps = 150, 1500, 2000
    for _ in range(reps):
        t = rng.random(n + big_n) < 0.6
        y = (t ^ (rng.random(n + big_n) < 0.1)).astype(float)  # the human label
        f = (t | (rng.random(n + big_n) < 0.25)).astype(float)  # a judge passing 25% of fails
        r = ppi_mean(y[:n], f[:n], f[n:])
        hits += r["ci"][0] <= theta <= r["ci"][1]
    assert 0.93 <= hits / reps <= 0.97


def test_stratified_is_the_inverse_probability_weighted_mean_and_one_stratum_is_plain() -> None:
    y, f, f_u = arrays(4, 300, 3000, True)
    one = ppi_mean_stratified(y, f, np.zeros(300, int), f_u, np.zeros(3000, int))
    assert one["score"] == pytest.approx(ppi_mean(y, f, f_u)["score"], abs=1e-12)
    s, s_u = np.arange(300) % 3, np.arange(3000) % 2  # strata sampled at different rates
    r0 = ppi_mean_stratified(y, f, s, f_u, s_u, lam=0.0)
    pi = np.array([(s == h).sum() / ((s == h).sum() + (s_u == h).sum()) for h in range(3)])
    w = 1.0 / pi[s]
    assert r0["score"] == pytest.approx((w * y).sum() / w.sum(), abs=1e-12)  # Hajek IPW
    var = sum(
        (((s == h).sum() + (s_u == h).sum()) / 3300) ** 2 * y[s == h].var() / (s == h).sum()
        for h in range(3)
    )
    assert r0["se"] == pytest.approx(np.sqrt(var), abs=1e-12)
    few = ppi_mean_stratified(y[:3], f[:3], np.array([0, 0, 1]), f_u, np.zeros(3000, int))
    assert np.isnan(few["score"]) and "merge strata" in few["note"]


def table_of(sim: Simulation) -> tuple[LabelTable, np.ndarray]:
    t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
    judges = set(sim.truth["config"]["judges"])
    return t, np.array([str(x) in judges for x in t.labeler_ids])


def test_item_inputs_mean_of_several_human_labels() -> None:
    sim = simulate_judges(400, humans_per_item=2, human_share=0.5, seed=4)
    t, is_judge = table_of(sim)
    inp = item_inputs(t, is_judge)
    lab = sim.labels.assign(p=sim.labels["label"].eq("pass").astype(float))
    hum = lab[lab["labeler_id"].str.startswith("hum")].groupby("item_id")["p"].mean()
    y = pd.Series(inp.y, index=np.asarray(t.item_ids, dtype=str)).dropna().sort_index()
    assert y.index.equals(hum.sort_index().index)
    assert np.allclose(y.to_numpy(), hum.sort_index().to_numpy(), rtol=0, atol=1e-15)
    assert set(inp.n_human) == {0, 2} and inp.judge_names == ["judge_a", "judge_b"]
    assert np.isfinite(inp.judge_scores).all()
    h = ppi_headline(t, is_judge)
    r = h["overall"][0]
    assert (r["n_labeled"], r["n_unlabeled"], r["n_human_labels"]) == (200, 200, 400)
    # the item is the unit: the humans-only interval is that of the 200 item means
    m = hum.to_numpy()
    half = 1.959964 * m.std() / np.sqrt(len(m))
    assert r["humans_only_ci"][1] - r["humans_only_ci"][0] == pytest.approx(2 * half, rel=1e-6)


@pytest.fixture(scope="module")
def lenient() -> Simulation:
    return simulate_judges(
        6000, judges=("judge_a",), human_share=0.1, plants=[Plant("judge_a", 0.25)], seed=8
    )


def human_target(sim: Simulation, items: pd.Series | None = None) -> float:
    """The complete-human headline of the set: mean over items of E[one human's label | truth]."""
    e = np.mean([r["error_rate"] for r in sim.truth["labelers"] if r["role"] == "human"])
    it = sim.item_truth if items is None else sim.item_truth[items.to_numpy()]
    t = it["true_label"].eq("pass").to_numpy()
    return float(np.where(t, 1 - e, e).mean())


def test_headline_lenient_judge_corrected_by_humans(lenient: Simulation) -> None:
    t, is_judge = table_of(lenient)
    h = ppi_headline(t, is_judge)
    assert "MCAR" in h["assumption"]
    (r,) = h["overall"]
    target = human_target(lenient)
    assert r["judge"] == "judge_a" and r["method"] == "ppi++" and 0 < r["lambda"] < 1
    assert r["ci"][0] <= target <= r["ci"][1]
    assert r["judge_only_score"] - target > 0.05  # the judge alone is far off
    assert not r["judge_only_ci"][0] <= target <= r["judge_only_ci"][1]
    width = r["ci"][1] - r["ci"][0]
    assert width < r["humans_only_ci"][1] - r["humans_only_ci"][0]
    assert (r["n_labeled"], r["n_unlabeled"]) == (600, 5400)
    assert {x["model"] for x in h["per_model"]} == {"model-a", "model-b", "model-c"}
    cats = {(x["slice_column"], x["slice_value"]) for x in h["per_slice"]}
    assert ("failure_mode", "hallucination") in cats and len(cats) == 6 + 5
    hall = lenient.item_truth[FAILURE_MODE].eq("hallucination")
    (hr,) = [x for x in h["per_slice"] if x["slice_value"] == "hallucination"]
    assert hr["ci"][0] <= human_target(lenient, hall) <= hr["ci"][1]


def test_several_judges_each_and_combined() -> None:
    sim = simulate_judges(
        4000,
        plants=[Plant("judge_b", 0.55, FAILURE_MODE, "hallucination")],
        human_share=0.2,
        seed=9,
    )
    t, is_judge = table_of(sim)
    rows = {r["judge"]: r for r in ppi_headline(t, is_judge)["overall"]}
    assert set(rows) == {"judge_a", "judge_b", JUDGES_MEAN, JUDGES_WEIGHTED}
    target = human_target(sim)
    for r in rows.values():
        assert r["ci"][0] <= target <= r["ci"][1]
    assert isinstance(rows[JUDGES_WEIGHTED]["lambda"], list)
    # the honest judge carries more weight than the lenient one in the weighted combination
    lam_a, lam_b = rows[JUDGES_WEIGHTED]["lambda"]
    assert lam_a > lam_b
    assert ppi_headline(t, np.zeros(t.n_labelers, dtype=bool)) is None
    assert len(ppi_headline(t, is_judge, combine=False)["overall"]) == 2


def test_humans_drawn_by_slice_need_the_stratified_weights() -> None:
    """Humans on 60% of hallucination items and 6% of the others; the judge is lenient there."""
    sim = simulate_judges(
        8000,
        judges=("judge_a",),
        human_share=0.6,
        plants=[Plant("judge_a", 0.5, FAILURE_MODE, "hallucination")],
        seed=21,
    )
    lab = sim.labels
    hall_item = sim.item_truth.set_index("item_id")[FAILURE_MODE].eq("hallucination")
    rng = np.random.default_rng(0)
    keep_item = pd.Series(
        rng.random(len(hall_item)) < np.where(hall_item, 1.0, 0.1), hall_item.index
    )
    is_human = lab["labeler_id"].str.startswith("hum")
    sim2 = Simulation(
        labels=lab[~is_human | keep_item.reindex(lab["item_id"]).to_numpy()].reset_index(drop=True),
        truth=sim.truth,
        item_truth=sim.item_truth,
    )
    t, is_judge = table_of(sim2)
    target = human_target(sim2)
    plain = ppi_headline(t, is_judge)["overall"][0]
    weighted = ppi_headline(t, is_judge, strata=["failure_mode"])
    w = weighted["overall"][0]
    assert "stratified by failure_mode" in weighted["assumption"] and w["n_strata"] == 5
    assert w["ci"][0] <= target <= w["ci"][1]
    assert not plain["ci"][0] <= target <= plain["ci"][1]  # MCAR wrongly assumed: off
    assert w["humans_only_ci"][0] <= target <= w["humans_only_ci"][1]
