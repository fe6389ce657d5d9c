"""The corrected headline's interval against the unpoisoned twin, and its covariance.

The target of ``headline.corrected`` is the headline the same items would have had with honest
suspect labels (the twin: the same seed with the flip rate 0). Its interval comes from the joint
model's covariance *given the realised shifts* (:func:`evalaudit.stats.effects.cov_given_shifts`);
these tests check it against the twin over seeds and against an independent dense computation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalaudit.audit import detect
from evalaudit.rules import load_policy
from evalaudit.simulate import Plant, simulate
from evalaudit.stats.effects import cov_given_shifts, fit_effects, units_of
from evalaudit.stats.leniency import strata_codes
from evalaudit.table import ITEM, LABELER, SCORE, LabelTable

POLICY = load_policy()
SLICES = ("category", "failure_mode")
Z = 1.959963984540054


def _sim(seed: int, flip: float, n_items: int = 6000, overlap: float = 1.0):
    plant = Plant("lab017", flip, "failure_mode", "hallucination", share=0.14)
    return simulate(
        n_items=n_items,
        n_labelers=24,
        overlap_share=overlap,
        overlap_k=3,
        specialists=0.3,
        plants=[plant],
        seed=seed,
    )


def _twin_headline(labels: pd.DataFrame) -> float:
    y = (labels["label"] == "pass").astype(float)
    return float(y.groupby(labels["item_id"]).mean().mean())


def test_corrected_interval_covers_the_twin_without_counting_which_labels_were_flipped():
    """Every item labeled 3 times, a 20-point cell far above the threshold (no selection
    adjustment): (centre - twin) / SE has spread ~1 over 20 seeds. The fit's own covariance
    (the expected shift's) counts which fails the labeler happened to turn into passes, which
    the twin holds fixed: its z-spread is ~0.65 here (99% coverage). Fails for that, for a
    halved SE (spread ~2) and for a correction that misses the shift."""
    z, z_expected = [], []
    for seed in range(20):
        sim, twin = _sim(seed, 0.398), _sim(seed, 0.0)
        t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
        c = detect(t, POLICY).headline["corrected"]
        assert c["applied"], seed
        lo, hi = c["score_corrected_ci"]
        se = (hi - lo) / (2 * Z)
        target = _twin_headline(twin.labels)
        z.append(((lo + hi) / 2 - target) / se)
        (g,) = c["groups"]  # one cell, far above its threshold: one group
        z_expected.append(z[-1] * g["se_given_shifts"] / g["se"])
    z, z_expected = np.array(z), np.array(z_expected)
    assert 0.75 <= z.std(ddof=1) <= 1.4, z
    assert abs(z.mean()) <= 0.6, z
    assert int((np.abs(z) <= Z).sum()) >= 17
    assert z_expected.std(ddof=1) <= 0.8  # the old, conservative interval: what this fixed


def test_cov_given_shifts_equals_a_dense_sandwich_with_honest_noise_on_the_suspects_items():
    """Independent computation: least squares on item, labeler and cell dummies (pinv), the
    item-clustered sandwich with CR1, where every item holding a suspect label contributes
    its expectation under honest noise, v sum_r (x_r - xbar)(x_r - xbar)', v = 3/2 x the mean
    squared residual on the items without one. The identified contrasts (the cell's
    interaction, b_l - b_0) agree with :func:`cov_given_shifts` to 1e-9, and the cell's
    variance is smaller than the unconditional one (its residuals carry the flips)."""
    sim = simulate(
        n_items=300,
        n_labelers=6,
        overlap_share=1.0,
        overlap_k=3,
        plants=[Plant("lab003", 0.6, "failure_mode", "hallucination")],
        seed=5,
    )
    t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
    f = t.frame
    y = f[SCORE].to_numpy()
    lab = f[LABELER].to_numpy()
    item = f[ITEM].to_numpy()
    L = t.n_labelers
    planted = list(t.labeler_ids).index("lab003")
    in_cell = (lab == planted) & (sim.labels["failure_mode"].to_numpy() == "hallucination")
    cell = np.where(in_cell, 0, -1)
    units = units_of(item, strata_codes(t), np.isfinite(y), t.n_items)
    fit = fit_effects(units, y, lab, L, cell=cell, cell_labeler=np.array([planted]))
    ours = cov_given_shifts(fit, units, lab, in_cell)

    x = np.zeros((len(y), t.n_items + L + 1))
    x[np.arange(len(y)), item] = 1.0
    x[np.arange(len(y)), t.n_items + lab] = 1.0
    x[in_cell, -1] = 1.0
    g = np.linalg.pinv(x.T @ x)
    e = y - x @ (g @ (x.T @ y))
    suspect_item = np.zeros(t.n_items, dtype=bool)
    suspect_item[item[in_cell]] = True
    v = 1.5 * np.mean(e[~suspect_item[item]] ** 2)
    cr1 = t.n_items / (t.n_items - 1.0)

    meat = np.zeros((x.shape[1],) * 2)
    meat_fit = np.zeros_like(meat)
    for u in range(t.n_items):
        rows = np.flatnonzero(item == u)
        s_u = x[rows].T @ e[rows]
        meat_fit += np.outer(s_u, s_u)
        if suspect_item[u]:
            xc = x[rows] - x[rows].mean(axis=0)
            meat += v * xc.T @ xc
        else:
            meat += np.outer(s_u, s_u)
    ref, ref_fit = cr1 * g @ meat @ g, cr1 * g @ meat_fit @ g
    k = t.n_items + L  # the cell's column
    assert fit.cov[L, L] == pytest.approx(ref_fit[k, k], rel=1e-9)
    assert ours[L, L] == pytest.approx(ref[k, k], rel=1e-9)
    assert ours[L, L] < 0.9 * fit.cov[L, L]
    for j in range(1, L):
        a, b = t.n_items + j, t.n_items
        want = ref[a, a] + ref[b, b] - 2 * ref[a, b]
        got = ours[j, j] + ours[0, 0] - 2 * ours[0, j]
        assert got == pytest.approx(want, rel=1e-9), j


def test_cov_given_shifts_without_honest_items_keeps_the_fit_covariance():
    """When every multi-labeled item holds a suspect label (a judge on every item, shifted
    everywhere) there is no honest noise to compare with: the unconditional covariance stands
    (it was a zero variance, so a zero-width interval)."""
    sim = simulate(n_items=200, n_labelers=6, overlap_share=1.0, overlap_k=3, seed=1)
    t = LabelTable.build(sim.labels, "binary", positive="pass", slice_columns=SLICES)
    f = t.frame
    y = f[SCORE].to_numpy()
    lab = f[LABELER].to_numpy()
    units = units_of(f[ITEM].to_numpy(), strata_codes(t), np.isfinite(y), t.n_items)
    fit = fit_effects(units, y, lab, t.n_labelers)
    every = np.ones(len(y), dtype=bool)
    assert cov_given_shifts(fit, units, lab, every) is fit.cov
    one = lab == 0
    assert np.all(np.isfinite(np.diag(cov_given_shifts(fit, units, lab, one))))
