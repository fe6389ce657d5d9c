"""Multiple-testing control shared by every family of tests."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "WEIGHT_FLOOR",
    "bh_qvalues",
    "budget_qvalues",
    "power_weights",
    "two_sided_p",
    "wald_p",
    "weighted_bh_qvalues",
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
    p: list[np.ndarray], w: list[np.ndarray], normalize: str = "family"
) -> list[np.ndarray]:
    """One weighted Benjamini-Hochberg over several families of tests; q-values per family.

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
    q = weighted_bh_qvalues(p_all, w_all)
    out, start = [], 0
    for n in sizes:
        out.append(q[start : start + n])
        start += n
    return out
