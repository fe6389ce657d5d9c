"""The joint labeler-effects model against an independent fit and against planted effects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalaudit.audit import detect
from evalaudit.rules import load_policy
from evalaudit.simulate import Plant, simulate
from evalaudit.stats.effects import fit_effects, units_of
from evalaudit.stats.leniency import strata_codes
from evalaudit.table import ITEM, LABELER, SCORE, LabelTable

sm = pytest.importorskip("statsmodels.api")
POLICY = load_policy()


def _table(frame: pd.DataFrame) -> LabelTable:
    return LabelTable.build(
        frame, "binary", positive="pass", slice_columns=("category", "failure_mode")
    )


def _fit(t: LabelTable):
    f = t.frame
    score = f[SCORE].to_numpy()
    units = units_of(f[ITEM].to_numpy(), strata_codes(t), np.isfinite(score), t.n_items)
    return fit_effects(units, score, f[LABELER].to_numpy(), t.n_labelers), units


def test_effects_and_cluster_ses_equal_statsmodels_ols_with_item_clusters():
    """Every item labeled 3 times: the model is OLS on item and labeler dummies; the contrast
    b_l - b_0 and its item-clustered SE equal statsmodels' (no small-sample factor there, our
    CR1 factor G/(G-1) applied to it)."""
    sim = simulate(n_items=240, n_labelers=6, overlap_share=1.0, overlap_k=3, seed=4)
    t = _table(sim.labels)
    fit, units = _fit(t)
    f = t.frame
    y = f[SCORE].to_numpy()
    items = pd.get_dummies(f[ITEM].to_numpy(), dtype=float)
    labs = pd.get_dummies(f[LABELER].to_numpy(), dtype=float).iloc[:, 1:]  # labeler 0 = base
    x = pd.concat([items.reset_index(drop=True), labs.reset_index(drop=True)], axis=1).to_numpy()
    res = sm.OLS(y, x).fit(
        cov_type="cluster", cov_kwds={"groups": f[ITEM].to_numpy(), "use_correction": False}
    )
    k = items.shape[1]
    ref_b = res.params[k:]
    ref_se = res.bse[k:] * np.sqrt(units.n_multi_units / (units.n_multi_units - 1.0))
    th = fit.theta[: t.n_labelers]
    ours_b = th[1:] - th[0]
    assert ours_b == pytest.approx(ref_b, abs=1e-10)
    # SE of b_l - b_0 from our covariance
    cov = fit.cov[: t.n_labelers, : t.n_labelers]
    ours_se = np.sqrt(cov.diagonal()[1:] + cov[0, 0] - 2 * cov[0, 1:])
    assert ours_se == pytest.approx(ref_se, rel=1e-8)


def test_honest_labelers_95_intervals_cover_zero_about_95_percent_with_a_poisoner_present():
    """A fast seeded coverage check that fails for a 90% interval or a halved SE: 24 seeds x 23
    honest labelers (552 intervals, correlated within a seed), single-label design with a
    lenient labeler present; a 95% interval covers in [0.91, 0.985], a 90% one ~0.90, a halved SE
    ~0.68."""
    cover = []
    for seed in range(24):
        plant = Plant("lab003", 0.5, slice_column="failure_mode", slice_value="hallucination")
        sim = simulate(
            n_items=3000,
            n_labelers=24,
            overlap_share=0.15,
            plants=[plant],
            error_range=(0.05, 0.05),
            seed=seed,
        )
        t = _table(sim.labels)
        lab = detect(t, POLICY).leniency  # fit, screen (the poisoner's cell), refit
        honest = lab["labeler_id"].to_numpy() != "lab003"
        lo, hi = lab["ci_low"].to_numpy(), lab["ci_high"].to_numpy()
        ok = np.isfinite(lo) & honest
        # the honest bias of a labeler with the common error rate is 0 on every item
        cover += list(((lo <= 0) & (hi >= 0))[ok])
    rate = float(np.mean(cover))
    assert 0.91 <= rate <= 0.985, rate


DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.mark.parametrize("name", ["bluebirds", "rte", "product"])
def test_leniency_ranks_workers_by_their_true_bias_against_gold(name):
    """Real crowd labels with gold: Spearman of each worker's leniency with its true bias on
    its gold items, P(label=1) - P(gold=1) (workers with >= 10 gold items), is at least that
    of the raw pass-rate difference (own mean minus everybody else's) minus 0.03. Measured
    (joint / raw): bluebirds 0.999 / 1.000, rte 0.735 / 0.709, product 0.753 / 0.724."""
    from scipy.stats import spearmanr

    folder = DATASETS / name
    if not folder.exists():
        pytest.skip(f"{folder} not available")
    labels = pd.read_csv(folder / "labels.csv", dtype=str)
    labels = labels.drop_duplicates(["item_id", "labeler_id"], keep="last")
    gold = pd.read_csv(folder / "gold.csv", dtype=str).set_index("item_id")["gold_label"]
    t = LabelTable.build(labels, "binary", positive="1", slice_columns=())
    lab = detect(t, POLICY).leniency.set_index("labeler_id")
    y = (labels["label"] == "1").astype(float)
    g = labels["item_id"].map(gold)
    on_gold = g.notna()
    per_gold = (
        pd.DataFrame({"w": labels["labeler_id"], "y": y, "g": (g == "1").astype(float)})[on_gold]
        .groupby("w")
        .agg(n=("y", "size"), py=("y", "mean"), pg=("g", "mean"))
    )
    bias = (per_gold["py"] - per_gold["pg"])[per_gold["n"] >= 10]
    per = pd.DataFrame({"w": labels["labeler_id"], "y": y}).groupby("w")["y"].agg(["sum", "count"])
    raw = per["sum"] / per["count"] - (y.sum() - per["sum"]) / (len(y) - per["count"])
    ids = [i for i in bias.index if np.isfinite(lab.loc[i, "effect"])]
    assert len(ids) >= 30
    rho_joint = spearmanr(lab.loc[ids, "effect"], bias.loc[ids]).statistic
    rho_raw = spearmanr(raw.loc[ids], bias.loc[ids]).statistic
    assert rho_joint >= rho_raw - 0.03, (rho_joint, rho_raw)


def test_corrected_headline_interval_is_the_corrections_95_interval():
    """A flagged cell far above the selection threshold (no winner's-curse adjustment): the
    corrected headline's delta CI is +-1.96 x the cell's SE given the realised shifts x its
    labels' weight in the headline (sum of 1/labels-per-item) / items, centred on delta. That
    SE is below the cell's own (its multi-labeled labels' flips are held fixed). Fails for a
    90% interval or a halved SE."""
    plant = Plant(
        "lab004", 0.8, slice_column="failure_mode", slice_value="hallucination", share=0.2
    )
    sim = simulate(n_items=6000, n_labelers=24, overlap_share=0.15, plants=[plant], seed=2)
    t = _table(sim.labels)
    det = detect(t, POLICY)
    corr = det.headline["corrected"]
    groups = {g["name"]: g for g in corr["groups"]}
    name = "lab004:failure_mode=hallucination"
    assert set(groups) == {name}
    g = groups[name]
    assert g["adjusted"] == pytest.approx(g["estimate"], abs=1e-12)  # z far above threshold
    cells = det.cells.set_index(["labeler_id", "slice_column", "slice_value"])
    cell = cells.loc[("lab004", "failure_mode", "hallucination")]
    assert g["se"] == pytest.approx(cell["se"], rel=1e-9)
    f = sim.labels
    per_item = f.groupby("item_id")["labeler_id"].transform("size")
    in_cell = (f["labeler_id"] == "lab004") & (f["failure_mode"] == "hallucination")
    weight = float((1.0 / per_item[in_cell]).sum())
    half = (corr["delta_ci"][1] - corr["delta_ci"][0]) / 2
    se = g["se_given_shifts"]
    assert half == pytest.approx(1.959963984540054 * se * weight / t.n_items, rel=1e-9)
    assert corr["delta"] == pytest.approx(-g["adjusted"] * weight / t.n_items, rel=1e-9)
    assert sum(corr["delta_ci"]) / 2 == pytest.approx(corr["delta"], rel=1e-9)
    assert 0.5 * g["se"] < se < g["se"]
