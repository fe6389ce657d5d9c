"""Multiple-testing control shared by every family of tests."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["bh_qvalues", "two_sided_p"]


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


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of a z statistic (NaN stays NaN)."""
    z = np.asarray(z, dtype=np.float64)
    return 2.0 * stats.norm.sf(np.abs(z))
