"""Tilted cells, concentration and the counterfactual headline, against planted effects."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from evalaudit.audit import detect
from evalaudit.findings import concentration_findings
from evalaudit.rules import Policy, load_policy
from evalaudit.simulate import Plant, simulate
from evalaudit.stats.concentration import concentration
from evalaudit.stats.impact import headline_corrected, headline_impact
from evalaudit.stats.leniency import estimate_groups, strata_codes
from evalaudit.stats.multitest import bh_qvalues
from evalaudit.stats.slices import cell_leniency
from evalaudit.table import LABELER, SCORE, LabelTable

SLICES = ("category", "failure_mode")
POLICY = load_policy()


def table_of(frame: pd.DataFrame) -> LabelTable:
    return LabelTable.build(frame, "binary", positive="pass", slice_columns=SLICES)


def planted(seed: int, flip: float = 0.6, share: float = 0.1, overlap: float = 0.0, **kw):
    plant = Plant(
        "lab004", flip, slice_column="failure_mode", slice_value="hallucination", share=share
    )
    return simulate(
        n_items=6000, n_labelers=24, overlap_share=overlap, plants=[plant], seed=seed, **kw
    )


def the_cell(cells: pd.DataFrame) -> pd.Series:
    m = (
        (cells.labeler_id == "lab004")
        & (cells.slice_column == "failure_mode")
        & (cells.slice_value == "hallucination")
    )
    return cells[m].iloc[0]


@pytest.mark.parametrize("overlap", [0.0, 0.15])
def test_planted_cell_is_flagged_and_its_ci_covers_the_truth(overlap):
    found = covered = 0
    for seed in range(10):
        sim = planted(seed, overlap=overlap)
        det = detect(table_of(sim.labels), POLICY)
        cells, flags = det.cells, det.cell_flags
        cell = the_cell(cells)
        truth = sim.truth["poisoned"][0]["expected_effect"]
        assert truth > 0.25 and cell["n"] >= 100
        found += bool(flags[cell.name])
        covered += cell["ci_low"] <= truth <= cell["ci_high"]
        assert cell["tilt"] > 0.15  # lenient here, not elsewhere
    assert found >= 9 and covered >= 8


@pytest.mark.parametrize("overlap", [0.0, 0.15])
def test_clean_sets_flag_cells_in_at_most_5_percent_of_audits(overlap):
    """Acceptance: pass rates differ by slice, 30% of labelers specialise; <= 2 of 50 audits."""
    audits = 0
    for seed in range(200, 250):
        sim = simulate(
            n_items=6000, n_labelers=24, specialists=0.3, overlap_share=overlap, seed=seed
        )
        audits += bool(detect(table_of(sim.labels), POLICY).cell_flags.any())
    # measured on the joint model: 2/50 (single-label) and 3/50 (15% overlap) at fdr 0.02 with
    # one budget over labelers, cells and drift; the 200-seed figure is in
    # benchmarks/calibration.py
    assert audits <= 3


def _found_20_point_cells(shares: tuple[float, ...], seeds: range) -> list[bool]:
    """Single-label sets with lab004 20 points lenient on hallucination; was its cell flagged?"""
    found = []
    for share in shares:
        for seed in seeds:
            # 0.4 of honest "fail"s flipped: 0.4 x P(fail reported | hallucination) = 0.4 x
            # 0.502 ~ 20 points (benchmarks/detection.py derives the 0.502)
            sim = planted(seed, flip=0.4, share=share, overlap=0.0, specialists=0.3)
            truth = sim.truth["poisoned"][0]
            assert truth["n_labels_in_scope"] >= 100 and 0.18 < truth["expected_effect"] < 0.22
            det = detect(table_of(sim.labels), POLICY)
            found.append(bool(det.cell_flags[the_cell(det.cells).name]))
    return found


def test_planted_20_point_cells_on_150_plus_single_labels_are_found_in_90_percent():
    found = _found_20_point_cells((0.11, 0.14), range(300, 315))
    assert sum(found) >= 27  # of 30


def test_power_weights_lower_the_q_of_a_planted_cell_of_125_labels():
    """~200 tested cells, most of 30-60 labels: a 125-label cell can show a 10-point effect
    that they cannot, so it weighs more than the average cell and its q drops (the recall
    gain is measured in benchmarks/detection.py)."""
    uniform = replace(POLICY, cell_weights="uniform")
    for seed in range(300, 310):
        sim = planted(seed, flip=0.4, share=0.075, overlap=0.0, specialists=0.3)
        t = table_of(sim.labels)
        weighted, plain_cells = the_cell(detect(t, POLICY).cells), detect(t, uniform).cells
        plain = the_cell(plain_cells)
        tested = plain_cells["tested"].to_numpy()
        # uniform: every tested cell gets the cells' share of the budget, the same weight
        assert plain_cells.loc[tested, "weight"].nunique() == 1
        assert 100 <= weighted["n"] < 150
        assert weighted["weight"] > plain["weight"]  # more than the average cell
        assert weighted["q_value"] < plain["q_value"]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_uniformly_lenient_labeler_is_one_lenient_labeler_not_tilted_slices(seed):
    """40% of its fails turned to pass everywhere: effects differ by slice (a 35% pass-rate
    slice moves 26 points, a 90% one 4), the tilt (against what its other labels predict for
    items with that much room to move) does not; one lenient_labeler, no tilted cell."""
    sim = simulate(
        n_items=6000, n_labelers=24, plants=[Plant("lab002", 0.4, share=0.15)], seed=seed
    )
    det = detect(table_of(sim.labels), POLICY)
    cells = det.cells
    mine = cells[
        (cells.labeler_id == "lab002") & cells.tested & (cells.slice_column == "failure_mode")
    ]
    assert len(mine) == 5
    assert (mine["leniency"] > 0.05).all()
    assert mine["leniency"].max() - mine["leniency"].min() > 0.05  # effects differ by slice
    assert (mine["tilt_p"] > 0.01).mean() >= 0.8
    flagged_ids = det.leniency.loc[det.flagged, "labeler_id"].tolist()
    assert flagged_ids == ["lab002"]
    assert int(det.cell_flags[(cells.labeler_id == "lab002").to_numpy()].sum()) <= 1


def test_outside_estimate_equals_a_direct_estimate_on_the_complement():
    sim = planted(1, overlap=0.15)
    t = table_of(sim.labels)
    cells = cell_leniency(t, POLICY.min_support).set_index(
        ["labeler_id", "slice_column", "slice_value"]
    )
    f = t.frame
    lab = int(np.flatnonzero(t.labeler_ids == "lab004")[0])
    rows = (f[LABELER].to_numpy() == lab) & (f["failure_mode"] != "hallucination").to_numpy()
    group = np.where(rows, 0, -1)
    direct = estimate_groups(t, f[SCORE].to_numpy(), group, 1, np.array([lab]), strata_codes(t))
    got = cells.loc[("lab004", "failure_mode", "hallucination")]
    assert got["leniency_outside"] == pytest.approx(direct["effect"].iloc[0], rel=1e-9)
    assert got["n_outside"] == direct["n_used"].iloc[0]


def test_concentration_finds_a_slice_resting_on_one_labeler():
    rows = [
        (f"i{i}", "solo" if i < 80 else f"w{i % 5}", "pass", "rare" if i < 100 else "common")
        for i in range(1000)
    ]
    t = LabelTable.build(
        pd.DataFrame(rows, columns=["item_id", "labeler_id", "label", "topic"]),
        "binary",
        positive="pass",
        slice_columns=("topic",),
    )
    conc = concentration(t).set_index(["scope", "slice_value", "who"])
    assert conc.loc[("topic", "rare", "labeler"), "top"] == "solo"
    assert conc.loc[("topic", "rare", "labeler"), "top_share"] == pytest.approx(0.8)
    found = concentration_findings(concentration(t), Policy())
    assert [f.id for f in found] == ["concentration:labeler:solo:topic=rare"]


def _headlines(seed: int) -> tuple[float, float, float, float]:
    sim = planted(seed, flip=0.6, share=0.11)
    clean = planted(seed, flip=0.0, share=0.11)
    pairs = lambda s: s.labels[["item_id", "labeler_id"]].to_numpy().tolist()  # noqa: E731
    assert pairs(sim) == pairs(clean), "the unpoisoned twin must have the same assignments"
    t = table_of(sim.labels)
    truth = headline_impact(table_of(clean.labels), np.zeros(len(clean.labels), bool))["score"]
    h = detect(t, POLICY).headline
    corrected, excluded = h["corrected"], h
    return (
        truth,
        corrected["score"],
        corrected["score_corrected"],
        excluded["score_without_suspects"],
    )


def test_corrected_headline_is_closer_to_the_unpoisoned_one():
    err_raw, err_corr = [], []
    for seed in range(5):
        truth, raw, corrected, _ = _headlines(seed)
        err_raw.append(abs(raw - truth))
        err_corr.append(abs(corrected - truth))
    assert np.mean(err_raw) > 0.005  # the poisoning moved the headline
    assert np.mean(err_corr) < np.mean(err_raw) / 2


def test_nothing_flagged_means_no_change():
    sim = simulate(n_items=2000, n_labelers=12, seed=9)
    t = table_of(sim.labels)
    none = np.zeros(len(sim.labels), dtype=bool)
    h = headline_impact(t, none)
    assert h["score_without_suspects"] == h["score"] and h["delta"] == 0.0
    c = headline_corrected(t, np.full(len(sim.labels), -1), np.zeros(0), np.zeros(0))
    assert c["score_corrected"] == c["score"] and c["delta"] == 0.0
    # no interval pretends to describe a correction that was not made
    assert c["applied"] is False and c["delta_ci"] is None and c["note"] == "no correction applied"


def test_cell_weights_average_one_and_the_uniform_policy_is_plain_bh(tmp_path):
    sim = simulate(n_items=3000, n_labelers=16, specialists=0.3, seed=5)
    t = table_of(sim.labels)
    det = detect(t, POLICY)
    cells = det.cells
    tested = cells["tested"].to_numpy()
    w = cells.loc[tested, "weight"].to_numpy()
    tests = det.budget["tests"]
    assert tests["cells"] == int(tested.sum()) and tests["labelers"] == 16 and tests["drift"] > 0
    # the cells' share of one budget (FAMILY_SHARES, renormalised over the families present):
    # their weights average share x (all tests) / (cell tests), and power moves it between cells
    from evalaudit.detection import FAMILY_SHARES

    share = FAMILY_SHARES[1] / sum(FAMILY_SHARES)
    assert w.mean() == pytest.approx(share * sum(tests.values()) / tests["cells"])
    assert w.std() > 0.1
    assert cells.loc[~tested, "weight"].isna().all()
    # larger cells weigh more (their se is smaller)
    assert np.corrcoef(cells.loc[tested, "n"], w)[0, 1] > 0.5

    path = tmp_path / "uniform.yaml"
    path.write_text("cell_weights: uniform\nerror_control: fdr\n")
    uniform = load_policy(path)
    assert uniform.cell_weights == "uniform" and POLICY.cell_weights == "power"
    det_u = detect(t, uniform)
    plain = det_u.cells
    tested = plain["tested"].to_numpy()
    w_u = plain.loc[tested, "weight"].to_numpy()
    assert np.ptp(w_u) == 0.0  # uniform within the family
    # one weighted BH over every test of the audit: labelers, cells and drift together; with
    # equal weights per family the labelers' and drift's weights follow from the shares
    lab = det_u.leniency
    lab_t = (lab["n_used"] >= POLICY.min_support).to_numpy() & lab["p_value"].notna().to_numpy()
    tests = det_u.budget["tests"]
    total = sum(tests.values())
    from evalaudit.detection import FAMILY_SHARES
    from evalaudit.stats.multitest import weighted_bh_qvalues

    sh = np.array(FAMILY_SHARES) / sum(FAMILY_SHARES)
    p_all = np.concatenate(
        [
            lab.loc[lab_t, "p_value"].to_numpy(),
            plain.loc[tested, "p_value"].to_numpy(),
            det_u.drift["p_value"].to_numpy(),
        ]
    )
    w_all = np.concatenate(
        [np.full(n, s_ * total / n) for n, s_ in zip(tests.values(), sh, strict=True)]
    )
    q_all = weighted_bh_qvalues(p_all, w_all)
    assert plain.loc[tested, "q_value"].to_numpy() == pytest.approx(
        q_all[lab_t.sum() : lab_t.sum() + tested.sum()]
    )
    assert bh_qvalues(np.array([0.5])) == pytest.approx([0.5])

    # the default spends the same weights by Holm on the labeler graph: each test grouped
    # with its labeler, the leniency test the parent of the labeler's cells and drift
    path.write_text("cell_weights: uniform\n")
    fw = load_policy(path)
    assert fw.error_control == "familywise"
    det_f = detect(t, fw)
    from evalaudit.stats.multitest import holm_graph

    code = dict(zip(lab["labeler_id"], lab["labeler"], strict=True))
    groups = np.concatenate(
        [
            lab.loc[lab_t, "labeler"].to_numpy(),
            det_f.cells.loc[tested, "labeler"].to_numpy(),
            det_f.drift["labeler_id"].map(code).to_numpy(),
        ]
    )
    parent = np.arange(len(groups)) < lab_t.sum()
    p_f = np.concatenate(
        [
            det_f.leniency.loc[lab_t, "p_value"].to_numpy(),
            det_f.cells.loc[tested, "p_value"].to_numpy(),
            det_f.drift["p_value"].to_numpy(),
        ]
    )
    q_f = holm_graph(p_f, w_all, groups, parent)[0]
    assert det_f.cells.loc[tested, "q_value"].to_numpy() == pytest.approx(
        q_f[lab_t.sum() : lab_t.sum() + tested.sum()]
    )
    assert det_f.leniency.loc[lab_t, "q_value"].to_numpy() == pytest.approx(q_f[: lab_t.sum()])
    assert det_f.budget["error_control"] == "familywise"


def test_headline_interval_stays_on_the_scale_and_has_width_when_every_item_passes():
    """60 items every label 'pass': the normal interval was [100%, 100%] (SD 0); it is the
    exact Clopper-Pearson interval of 60 successes in 60, [0.025^(1/60), 1] = [0.9404, 1]
    (R: binom.test(60, 60)$conf.int). Three items scored 1, 0.5, 0: the normal interval
    [-0.066, 1.066] leaves the scale; it is cut to [0, 1]."""
    from evalaudit.table import LabelTable

    rows = [(f"q{i}", lab, "pass") for i in range(60) for lab in ("a", "b")]
    frame = pd.DataFrame(rows, columns=["item_id", "labeler_id", "label"])
    t = LabelTable.build(frame, "binary", positive="pass", slice_columns=())
    h = headline_impact(t, np.zeros(len(frame), bool))
    assert h["score"] == 1.0
    assert h["ci"] == pytest.approx([0.9403705, 1.0], abs=1e-7)
    small = pd.DataFrame(
        [
            ("q1", "a", "pass"),
            ("q1", "b", "fail"),
            ("q2", "a", "pass"),
            ("q2", "b", "pass"),
            ("q3", "a", "fail"),
            ("q3", "b", "fail"),
        ],
        columns=["item_id", "labeler_id", "label"],
    )
    t = LabelTable.build(small, "binary", positive="pass", slice_columns=())
    h = headline_impact(t, np.zeros(len(small), bool))
    assert h["score"] == 0.5 and h["ci"] == [0.0, 1.0]


def test_a_labeler_who_never_disagrees_has_no_interval_not_one_of_no_width():
    """Two labelers, every label 'pass': leniency 0 with SE 0 printed [+0.0, +0.0] pts; there
    is no interval (NaN; 'n/a' on every surface), as for a labeler with no peer."""
    import evalaudit

    rows = [(f"q{i}", lab, "pass") for i in range(60) for lab in ("a", "b")]
    r = evalaudit.audit(pd.DataFrame(rows, columns=["item_id", "labeler_id", "label"]))
    lab = r.labelers
    assert (lab["se"] == 0).all()
    assert lab["ci_low"].isna().all() and lab["ci_high"].isna().all()
