"""Weighted Benjamini-Hochberg, weighted (grouped) Holm and the power weights of the slice scan."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalaudit.stats.multitest import (
    WEIGHT_FLOOR,
    bh_qvalues,
    holm_graph,
    power_weights,
    weighted_bh_qvalues,
    weighted_holm_pvalues,
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


# ------------------------------------------------------------ familywise (graph Holm)
def _bretz_rejections(p, a0, g0, alpha):
    """Rejected set of a sequentially rejective graph, written from Bretz, Maurer, Brannath &
    Posch (2009, Stat. Med. 28:586-604), Algorithm 1: an explicit transition matrix."""
    a, graph = alpha * np.asarray(a0, float), np.array(g0, float)
    left, rejected = list(range(len(p))), set()
    while True:
        cand = [j for j in left if p[j] <= a[j]]
        if not cand:
            return rejected
        j = cand[0]
        rejected.add(j)
        left.remove(j)
        a_new, g_new = a.copy(), graph.copy()
        for l_ in left:
            a_new[l_] = a[l_] + a[j] * graph[j, l_]
            for k in left:
                den = 1 - graph[l_, j] * graph[j, l_]
                g_new[l_, k] = 0.0 if k == l_ else (graph[l_, k] + graph[l_, j] * graph[j, k]) / den
        a_new[j] = 0.0
        a, graph = a_new, g_new


def _grouped_graph(w, g, parent, eps=1e-7):
    """The transition matrix holm_graph describes: a child's level to its group's parent, a
    parent's (or a parentless child's) to the group's other children by weight; eps-edges to
    the other groups by weight."""
    m = len(w)
    out = np.zeros((m, m))
    for j in range(m):
        same = [k for k in range(m) if g[k] == g[j] and k != j]
        inner = np.zeros(m)
        par = [k for k in same if parent[k]]
        if par and not parent[j]:
            inner[par[0]] = 1.0
        else:
            for k in same:
                inner[k] = w[k]
        outer = np.array([w[k] if g[k] != g[j] else 0.0 for k in range(m)])
        inner = inner / inner.sum() if inner.sum() else inner
        outer = outer / outer.sum() if outer.sum() else outer
        out[j] = (1 - eps) * inner + eps * outer if inner.sum() and outer.sum() else inner + outer
    return out


def test_equal_weights_without_groups_are_holm():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.uniform(size=12) ** 3
        assert weighted_holm_pvalues(p, np.ones(12)) == pytest.approx(
            multipletests(p, method="holm")[1], abs=1e-12
        )


def test_grouped_holm_rejects_what_the_explicit_graph_rejects():
    """Random groups, parents, weights and p-values: the same rejections as Algorithm 1 run
    on the explicit eps-graph at five levels (fails if a level goes to the wrong test)."""
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        m = int(rng.integers(2, 9))
        g = rng.integers(0, int(rng.integers(1, 4)), size=m)
        parent = np.zeros(m, bool)
        for x in np.unique(g):
            if rng.uniform() < 0.6:
                parent[rng.choice(np.flatnonzero(g == x))] = True
        w = rng.uniform(0.2, 3.0, size=m)
        p = rng.uniform(size=m) ** 4 * 0.2
        adj, lev = holm_graph(p, w, g, parent)
        graph = _grouped_graph(w, g, parent)
        for alpha in (0.01, 0.02, 0.05, 0.1, 0.2):
            if np.isclose(adj, alpha, rtol=1e-6).any():
                continue
            assert set(np.flatnonzero(adj <= alpha)) == _bretz_rejections(
                p, w / w.sum(), graph, alpha
            )
            checked += 1
        # a rejected test held at least its p-value's share of alpha at its step
        rej = adj < 1
        assert (p[rej] <= lev[rej] * adj[rej] * (1 + 1e-9)).all()
    assert checked > 900


def test_a_poisoner_does_not_loosen_an_honest_labelers_threshold():
    """One labeler with a clearly false slice test: BH flags an honest labeler about twice as
    often as on a clean set; the grouped Holm no more often than alpha (seeded Monte Carlo,
    20 labelers x (1 leniency + 9 slice tests), uniform null p-values)."""
    rng = np.random.default_rng(11)
    n_lab, per, alpha, reps = 20, 10, 0.05, 4000
    g = np.repeat(np.arange(n_lab), per)
    parent = np.tile(np.arange(per) == 0, n_lab)
    w = np.ones(n_lab * per)
    honest = g != 0
    fw = bh = 0
    for _ in range(reps):
        p = rng.uniform(size=n_lab * per)
        p[1] = 1e-12  # the poisoner's slice
        fw += bool((weighted_holm_pvalues(p, w, g, parent)[honest] < alpha).any())
        bh += bool((weighted_bh_qvalues(p, w)[honest] < alpha).any())
    # binomial SE at 5% over 4000 reps: 0.34 points
    assert fw / reps < alpha + 0.01
    assert bh / reps > 1.6 * alpha
