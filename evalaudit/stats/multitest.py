"""Multiple-testing control shared by every family of tests."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "WEIGHT_FLOOR",
    "bh_qvalues",
    "budget_qvalues",
    "holm_graph",
    "power_weights",
    "two_sided_p",
    "wald_p",
    "weighted_bh_qvalues",
    "weighted_holm_pvalues",
]

#: Share of every weight that is uniform: no test drops below this fraction of
#: its unweighted level, whatever the other tests' power.
WEIGHT_FLOOR = 0.1


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN p-values stay NaN and are not counted.

    Controls the false discovery rate under independence or positive
    regression dependence (PRDS) of the tests (Benjamini & Hochberg 1995,
    doi:10.1111/j.2517-6161.1995.tb02031.x). Computed by
    ``scipy.stats.false_discovery_control(method="bh")``.

    >>> bh_qvalues(np.array([0.01, 0.04, np.nan, 0.03])).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


def weighted_bh_qvalues(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Benjamini-Hochberg q-values: BH applied to ``p / w``, capped at 1.

    Rejecting the tests with ``q < alpha`` is the weighted step-up procedure of
    Genovese, Roeder & Wasserman (2006, doi:10.1093/biomet/93.3.509): sort
    ``p_i / w_i`` and reject the ``k`` smallest, ``k`` the largest index with
    ``p_(k) / w_(k) <= k alpha / m``. With weights fixed before the p-values are
    seen (independent of them under the null) and averaging 1 over the ``m``
    tests, the FDR is at most ``alpha`` under independence (ibid., Theorem 1)
    and under PRDS (Ramdas, Barber, Wainwright & Jordan 2019,
    doi:10.1214/18-AOS1765). Equal weights give :func:`bh_qvalues`. NaN
    p-values stay NaN and are not counted; ``w`` must be positive where ``p``
    is finite.

    >>> weighted_bh_qvalues(np.array([0.01, 0.04, 0.03]), np.array([2.0, 0.5, 0.5])).round(3)
    array([0.015, 0.08 , 0.08 ])
    """
    p = np.asarray(p, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ok = np.isfinite(p)
    if ok.any() and not (np.isfinite(w[ok]).all() and (w[ok] > 0).all()):
        raise ValueError("weights must be finite and positive for every tested p-value")
    with np.errstate(divide="ignore", invalid="ignore"):
        return bh_qvalues(np.where(ok, np.minimum(p / w, 1.0), np.nan))


def weighted_holm_pvalues(
    p: np.ndarray,
    w: np.ndarray,
    group: np.ndarray | None = None,
    parent: np.ndarray | None = None,
) -> np.ndarray:
    """Adjusted p-values of weighted Holm, optionally keeping a rejected test's level in its group.

    Test ``i`` starts at the level ``alpha w_i / sum(w)`` (weighted Bonferroni).
    Step down: reject any test whose p-value is at most its current level and
    pass that level on, until none is. Where its level goes:

    - without ``group``, to every test not yet rejected in proportion to its
      weight: weighted Holm (Holm 1979, Scand. J. Statist. 6:65-70, section 4);
    - with ``group`` (e.g. the labeler each test accuses), to the tests of the
      same group not yet rejected, and only when the group has none left to the
      other groups, in proportion to their initial total weights (within each,
      as its own level is shared). Inside a group with a ``parent`` test (True
      for at most one test per group, e.g. the labeler's leniency test beside
      its slices' tilt tests) a rejected child's level goes to the parent while
      it stands, the parent's to the remaining children by weight; without one,
      to the remaining tests by weight.

    All are sequentially rejective graphs of Bretz, Maurer, Brannath & Posch
    (2009, Stat. Med. 28:586-604, doi:10.1002/sim.3495), the grouped ones with
    infinitesimal ("epsilon") edges between groups: closed tests of weighted
    Bonferroni intersection tests, so the *familywise* error rate (the chance
    of any false rejection) is at most ``alpha`` in the strong sense, whatever
    hypotheses are false and under any dependence, given weights fixed before
    the p-values are seen. A false hypothesis in one group (a poisoner's
    slice) frees level for its own group's other tests (the poisoner's
    leniency) and not for the others': an honest labeler is flagged no more
    often because a poisoner is among its peers.

    The adjusted p-value of a test is the smallest ``alpha`` at which it is
    rejected: the running maximum, in the order of rejection, of ``p_i`` over
    its level fraction at that step, capped at 1 (computed until it reaches 1).
    Equal weights and no groups give Holm's adjusted p-values (``statsmodels``
    ``multipletests(method="holm")``). NaN p-values stay NaN and are not
    counted; ``w`` must be positive where ``p`` is finite.

    >>> weighted_holm_pvalues(np.array([0.01, 0.04, 0.03]), np.array([2.0, 0.5, 0.5])).round(3)
    array([0.015, 0.06 , 0.06 ])

    A clear rejection in group 0 helps Holm's second test (0.04) but not the
    other group's (0.06, its Bonferroni value):

    >>> p, g = np.array([0.001, 0.5, 0.02]), np.array([0, 0, 1])
    >>> weighted_holm_pvalues(p, np.ones(3)).round(3), weighted_holm_pvalues(p, np.ones(3), g)
    (array([0.003, 0.5  , 0.04 ]), array([0.003, 0.5  , 0.06 ]))
    """
    return holm_graph(p, w, group, parent)[0]


def holm_graph(
    p: np.ndarray,
    w: np.ndarray,
    group: np.ndarray | None = None,
    parent: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`weighted_holm_pvalues` and, per test, the share of ``alpha`` it held when rejected.

    The share (NaN for a test whose adjusted p-value is 1 or NaN) is the level a
    rejected test had to clear, as a fraction of ``alpha``: what a selection
    (winner's-curse) adjustment of its estimate conditions on.
    """
    p = np.asarray(p, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ok = np.isfinite(p)
    out = np.full_like(p, np.nan)
    level_out = np.full_like(p, np.nan)
    if not ok.any():
        return out, level_out
    if not (np.isfinite(w[ok]).all() and (w[ok] > 0).all()):
        raise ValueError("weights must be finite and positive for every tested p-value")
    pp = np.clip(p[ok], 0.0, 1.0)
    ww = w[ok]
    n = len(pp)
    if group is None:
        g = np.arange(n)
    else:
        g = np.unique(np.asarray(group)[ok], return_inverse=True)[1].ravel()
    is_parent = np.zeros(n, bool) if parent is None else np.asarray(parent, bool)[ok]
    n_groups = int(g.max()) + 1
    if np.bincount(g[is_parent], minlength=n_groups).max(initial=0) > 1:
        raise ValueError("at most one parent test per group")
    ratio = pp / ww
    # each group's children in the order they are rejected among themselves (by p / w)
    child = ~is_parent
    order = np.flatnonzero(child)[np.lexsort((ratio[child], g[child]))]
    n_child = np.bincount(g[child], minlength=n_groups)
    ends = np.cumsum(n_child)
    ptr = ends - n_child
    par = np.full(n_groups, -1)
    par[g[is_parent]] = np.flatnonzero(is_parent)
    w_group = np.bincount(g, weights=ww, minlength=n_groups)
    w_child = np.bincount(g[child], weights=ww[child], minlength=n_groups)
    budget = w_group / ww.sum()  # each group's share of alpha
    # the parent's fraction of its group's level; the children share the rest by weight
    f_par = np.where(par >= 0, ww[np.maximum(par, 0)] / w_group, 0.0)
    alive = np.ones(n_groups, dtype=bool)
    adj = np.ones(n)
    lev = np.full(n, np.nan)
    running = 0.0
    big = np.inf
    for _ in range(n):
        live = np.flatnonzero(alive)
        has_child = ptr[live] < ends[live]
        first = order[np.minimum(ptr[live], max(len(order) - 1, 0))] if len(order) else live * 0
        with np.errstate(divide="ignore", invalid="ignore"):
            share_c = budget[live] * (1.0 - f_par[live]) / w_child[live]
            key_c = np.where(has_child, ratio[first] / share_c, big)
            pl = par[live]
            key_p = np.where(pl >= 0, pp[np.maximum(pl, 0)] / (budget[live] * f_par[live]), big)
        kc, kp = int(np.argmin(key_c)), int(np.argmin(key_p))
        take_parent = key_p[kp] < key_c[kc]
        k = kp if take_parent else kc
        key = float(key_p[kp] if take_parent else key_c[kc])
        running = max(running, key)
        if running >= 1.0:
            break  # every later test's adjusted p-value is 1 (already set)
        x = int(live[k])
        held = budget[x] * f_par[x] if take_parent else float(share_c[k]) * ww[int(first[k])]
        if take_parent:
            j = int(par[x])
            par[x] = -1
            f_par[x] = 0.0  # its level to the remaining children, by weight
        else:
            j = int(first[k])
            ptr[x] += 1
            if par[x] >= 0:  # the child's level to its parent
                f_par[x] += (1.0 - f_par[x]) * ww[j] / w_child[x]
            w_child[x] -= ww[j]
            if ptr[x] == ends[x] and par[x] >= 0:
                f_par[x] = 1.0
        adj[j] = running
        lev[j] = held
        if ptr[x] == ends[x] and par[x] < 0:
            alive[x] = False
            freed, budget[x] = budget[x], 0.0
            if not alive.any():
                break
            budget[alive] += freed * w_group[alive] / w_group[alive].sum()
    out[ok] = adj
    level_out[ok] = lev
    return out, level_out


def power_weights(
    se: np.ndarray, effect: float, level: float, floor: float = WEIGHT_FLOOR
) -> np.ndarray:
    """P-value weights proportional to each test's power for a reference effect; mean 1.

    For a z-test with standard error ``se_i``, the power to detect a true
    effect of ``effect`` at the Bonferroni level ``level / m`` (two-sided; the
    level a single real signal faces among ``m`` mostly null tests under BH)
    is ``pi_i = P(|Z + effect / se_i| > z_{1 - level / (2m)})``. The weights
    are ``pi_i / mean(pi)`` mixed with the uniform weight,
    ``(1 - floor) pi_i / mean(pi) + floor``, so they average 1 and no test
    keeps less than ``floor`` of its unweighted level. Tests that could show
    the reference effect get more of the error budget, tests too small to show
    it give theirs up: the power-proportional weighting discussed by Roeder &
    Wasserman (2009, doi:10.1214/09-STS289), which is less sensitive to a
    wrong reference effect than their optimal weights.

    Weights depend only on the standard errors (sample size and null
    variance), not on the estimates, so they are fixed before the p-values
    in the sense :func:`weighted_bh_qvalues` needs. A non-finite or
    non-positive ``se`` gets the floor weight; when no test has usable power
    (all ``pi`` ~ 0, e.g. ``effect = 0``) the weights are uniform.

    >>> power_weights(np.array([0.02, 0.03, 0.045, 0.07, 0.09]), effect=0.1, level=0.01).round(2)
    array([2.49, 1.56, 0.57, 0.22, 0.16])
    """
    se = np.asarray(se, dtype=np.float64)
    m = len(se)
    if m == 0:
        return np.ones(0)
    good = np.isfinite(se) & (se > 0)
    z_c = stats.norm.isf(level / (2.0 * m))
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(good, abs(effect) / se, 0.0)
    power = np.where(good, stats.norm.sf(z_c - shift) + stats.norm.cdf(-z_c - shift), 0.0)
    mean = power.mean()
    if not np.isfinite(mean) or mean <= 1e-12:
        return np.ones(m)
    return (1.0 - floor) * power / mean + floor


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of a z statistic (NaN stays NaN)."""
    z = np.asarray(z, dtype=np.float64)
    return 2.0 * stats.norm.sf(np.abs(z))


def wald_p(estimate: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Two-sided p-value of ``estimate / se``; NaN where that is undefined (0/0, NaN), silently.

    An estimate without information (a cell every label of which agrees, SE 0) is no
    test: its p-value is NaN, not a RuntimeWarning on the user's terminal.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.asarray(estimate, dtype=np.float64) / np.asarray(se, dtype=np.float64)
    return two_sided_p(z)


def budget_qvalues(
    p: list[np.ndarray],
    w: list[np.ndarray],
    normalize: str = "family",
    method: str = "fdr",
    groups: list[np.ndarray] | None = None,
    parents: list[np.ndarray] | None = None,
    levels: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """One weighted multiple-testing procedure over several families of tests; per family.

    ``method="fdr"``: weighted Benjamini-Hochberg q-values
    (:func:`weighted_bh_qvalues`); ``"familywise"``: weighted Holm adjusted
    p-values (:func:`weighted_holm_pvalues`), a rejected test's level kept in
    its group when ``groups`` (one array per family, e.g. the labeler each
    test is about) are given, and passed to the group's parent test first
    where ``parents`` (bool arrays) mark one (:func:`holm_graph`). ``levels``,
    an empty list, receives per family the share of the level each rejected
    test held (familywise only). Either way a test is rejected when its value
    is below the level.

    ``normalize="family"``: each family's weights are rescaled to average 1
    within the family, so every family's share of the error budget is its
    share of the tests. ``"pooled"``: the weights are on one scale across
    families (e.g. power for one reference effect) and rescaled to average 1
    over all tests together. Either way they average 1 over all tests, as
    weighted BH needs. Under the global null (no effect in any family)
    the FDR is the probability of any rejection, so flagging ``q < alpha``
    anywhere happens with probability at most ``alpha`` (under independence or
    PRDS across all tests, :func:`weighted_bh_qvalues`).

    >>> [q.round(3).tolist() for q in budget_qvalues(
    ...     [np.array([0.001, 0.5]), np.array([0.01])], [np.ones(2), np.ones(1)])]
    [[0.003, 0.5], [0.015]]
    """
    ws = []
    for wi, pi in zip(w, p, strict=True):
        wi = np.asarray(wi, dtype=np.float64)
        ok = np.isfinite(np.asarray(pi, dtype=np.float64))
        if normalize == "family" and ok.any() and np.isfinite(wi[ok]).all() and wi[ok].mean() > 0:
            wi = wi / wi[ok].mean()
        ws.append(wi)
    sizes = [len(pi) for pi in p]
    if not sum(sizes):
        return [np.zeros(0) for _ in p]
    p_all, w_all = np.concatenate(p), np.concatenate(ws)
    ok = np.isfinite(p_all)
    if normalize == "pooled" and ok.any() and w_all[ok].mean() > 0:
        w_all = w_all / w_all[ok].mean()
    lev = np.full(len(p_all), np.nan)
    if method == "familywise":
        g_all = np.concatenate(groups) if groups is not None else None
        par_all = np.concatenate(parents) if parents is not None else None
        q, lev = holm_graph(p_all, w_all, g_all, par_all)
    elif method == "fdr":
        q = weighted_bh_qvalues(p_all, w_all)
    else:
        raise ValueError(f"unknown method {method!r} (fdr, familywise)")
    out, start = [], 0
    for n in sizes:
        out.append(q[start : start + n])
        if levels is not None:
            levels.append(lev[start : start + n])
        start += n
    return out
