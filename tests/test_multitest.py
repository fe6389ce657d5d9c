"""Weighted Benjamini-Hochberg and the power weights of the slice scan."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalaudit.stats.multitest import (
    WEIGHT_FLOOR,
    bh_qvalues,
    power_weights,
    weighted_bh_qvalues,
)


def test_weighted_bh_matches_a_hand_computation():
    # p / w = 0.005, 0.08, 0.06; sorted 0.005, 0.06, 0.08 with m = 3:
    # 0.005 * 3/1 = 0.015; 0.06 * 3/2 = 0.09 -> min(0.09, 0.08) = 0.08; 0.08 * 3/3 = 0.08
    q = weighted_bh_qvalues(np.array([0.01, 0.04, 0.03]), np.array([2.0, 0.5, 0.5]))
    assert q == pytest.approx([0.015, 0.08, 0.08], abs=1e-12)
    # p / w above 1 is capped at 1 and NaN p-values are neither counted nor filled
    q = weighted_bh_qvalues(np.array([0.9, np.nan, 0.01]), np.array([0.5, 1.0, 1.5]))
    assert np.isnan(q[1])
    assert q[0] == 1.0 and q[2] == pytest.approx(0.01 / 1.5 * 2)


def test_equal_weights_are_plain_bh():
    # R: p.adjust(c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205), "BH")
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    expected = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.08457143, 0.205]
    assert weighted_bh_qvalues(p, np.ones(8)) == pytest.approx(expected, abs=1e-8)
    assert weighted_bh_qvalues(p, np.ones(8)) == pytest.approx(bh_qvalues(p), abs=0)


def test_weights_must_be_positive_where_tested():
    with pytest.raises(ValueError, match="positive"):
        weighted_bh_qvalues(np.array([0.1, 0.2]), np.array([1.0, 0.0]))
    # an untested (NaN) p-value may carry any weight
    q = weighted_bh_qvalues(np.array([0.1, np.nan]), np.array([1.0, np.nan]))
    assert q[0] == pytest.approx(0.1)


def test_power_weights_average_one_favour_small_se_and_keep_the_floor():
    rng = np.random.default_rng(3)
    se = rng.uniform(0.015, 0.12, 200)
    w = power_weights(se, effect=0.1, level=0.01)
    assert w.mean() == pytest.approx(1.0, abs=1e-12)
    assert w.min() >= WEIGHT_FLOOR - 1e-12
    order = np.argsort(se)
    assert np.all(np.diff(w[order]) <= 1e-12)  # smaller se (more power) never weighs less
    # the power of a z-test at the Bonferroni level, by hand for one test
    z_c = stats.norm.isf(0.01 / 400)
    pi = stats.norm.sf(z_c - 0.1 / se) + stats.norm.cdf(-z_c - 0.1 / se)
    assert w == pytest.approx((1 - WEIGHT_FLOOR) * pi / pi.mean() + WEIGHT_FLOOR, rel=1e-12)


def test_power_weights_degrade_to_uniform():
    se = np.array([0.02, 0.05, 0.1])
    assert power_weights(se, effect=0.0, level=0.01) == pytest.approx(np.ones(3))
    assert power_weights(np.array([1e6, 1e7]), effect=0.1, level=0.01) == pytest.approx([1, 1])
    w = power_weights(np.array([0.02, np.nan, 0.0]), effect=0.1, level=0.01)
    assert w[1] == w[2] == pytest.approx(WEIGHT_FLOOR) and w.mean() == pytest.approx(1.0)
    assert power_weights(np.zeros(0), effect=0.1, level=0.01).shape == (0,)


def _simulate_fdr(alpha: float, n_nonnull: int, reps: int, seed: int) -> tuple[float, float, float]:
    """Monte Carlo FDR, its standard error, and P(any false rejection) of weighted BH.

    200 z-tests with standard errors spread like a slice scan's; ``n_nonnull``
    of them (chosen at random, so weights are not told which) have a true
    effect of 0.15; weights are fixed from the standard errors before the
    p-values are drawn, as in the audit.
    """
    rng = np.random.default_rng(seed)
    m = 200
    fdp = np.empty(reps)
    any_false = np.empty(reps, dtype=bool)
    for r in range(reps):
        se = rng.uniform(0.015, 0.12, m)
        w = power_weights(se, effect=0.1, level=alpha)
        effect = np.zeros(m)
        nonnull = rng.choice(m, n_nonnull, replace=False)
        effect[nonnull] = 0.15
        z = rng.standard_normal(m) + effect / se
        rejected = weighted_bh_qvalues(2 * stats.norm.sf(np.abs(z)), w) < alpha
        false = rejected & (effect == 0)
        fdp[r] = false.sum() / max(rejected.sum(), 1)
        any_false[r] = false.any()
    return float(fdp.mean()), float(fdp.std(ddof=1) / np.sqrt(reps)), float(any_false.mean())


@pytest.mark.parametrize("n_nonnull", [0, 10])
def test_weighted_bh_controls_the_fdr(n_nonnull):
    """FDR <= alpha m0/m in simulation (Genovese et al. 2006, Theorem 1), within 3 MC SEs."""
    alpha, reps = 0.05, 4000
    fdr, mc_se, fwer = _simulate_fdr(alpha, n_nonnull, reps, seed=11 + n_nonnull)
    assert fdr <= alpha * (200 - n_nonnull) / 200 + 3 * mc_se
    if n_nonnull == 0:  # under the complete null FDR = P(any rejection)
        assert fwer == pytest.approx(fdr)
        assert fwer > alpha / 2  # not vacuous: weighted BH uses its budget


def test_wald_p_is_nan_without_a_warning_where_the_ratio_is_undefined():
    import warnings

    from evalaudit.stats.multitest import wald_p

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would reach the user's terminal
        p = wald_p(np.array([1.96, 0.0, 1.0, np.nan]), np.array([1.0, 0.0, 0.0, 1.0]))
    assert abs(p[0] - 0.05) < 1e-3
    assert np.isnan(p[1]) and np.isnan(p[3])
    assert p[2] == 0.0  # a finite estimate with SE 0: z is infinite
