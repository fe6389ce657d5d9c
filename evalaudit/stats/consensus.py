"""Consensus labels and labeler accuracy: majority vote, item mean, Dawid-Skene, gold.

Every function is a pure function of a :class:`~evalaudit.table.LabelTable` and works on
its long arrays with grouped aggregations (``np.bincount``); the largest arrays built are
items x K and labelers x K x K (K = number of categories), never a dense labeler x item
matrix (DESIGN section 3).

Conventions shared by every function:

- Rows used: every label of the table (one row per (item, labeler) label). An item's
  labels all count once; the table has no missing labels (missing = absent row).
- Output tables have one row per item code, in code order, which is the order in which
  items first appear in the input file.
- Ties are broken deterministically (:data:`TIE_RULE`): among the tied categories, the one
  with the larger overall frequency in the table wins, then the smaller category code.
  The ``tied`` column says which items needed the rule.
- Gold (honeypot answers) comes from the table's ``gold`` column (the first non-null
  value per item) or from an explicit ``pd.Series`` (``item_id -> gold label``, e.g. from
  :func:`evalaudit.gold.read_gold`). A gold value that is not one of the table's categories raises
  ``ValueError``.

References
----------
Dawid, A. P., & Skene, A. M. (1979). Maximum likelihood estimation of observer
error-rates using the EM algorithm. Journal of the Royal Statistical Society, Series C
(Applied Statistics), 28(1), 20-28. https://doi.org/10.2307/2346806

Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
inference. Journal of the American Statistical Association, 22(158), 209-212.
https://doi.org/10.1080/01621459.1927.10502953

Zheng, Y., Li, G., Li, Y., Shan, C., & Cheng, R. (2017). Truth inference in
crowdsourcing: is the problem solved? PVLDB 10(5), 541-552.
https://doi.org/10.14778/3055540.3055547
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from evalaudit.contract import GOLD, ITEM_ID, LabelKind
from evalaudit.table import ITEM, LABELER, SCORE, VALUE, LabelTable

__all__ = [
    "DEFAULT_SMOOTHING",
    "GOLD_LABEL",
    "TIE_RULE",
    "WILSON_Z",
    "DawidSkeneResult",
    "dawid_skene",
    "expected_accuracy_random_ties",
    "gold_accuracy",
    "gold_codes",
    "majority_vote",
    "mean_consensus",
    "tie_order",
    "wilson_interval",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The deterministic tie rule of :func:`majority_vote` (and of exact posterior ties in
#: :func:`dawid_skene`), in words, for summaries.
TIE_RULE = "to the category with the larger overall frequency in the table, then the smaller code"

#: Pseudo-count added to every cell of each labeler's confusion counts and to the class
#: counts in :func:`dawid_skene` (a Dirichlet(1 + s) prior, i.e. MAP instead of ML EM).
DEFAULT_SMOOTHING = 0.01

#: Two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)``.
WILSON_Z = 1.959963984540054

#: Column of the gold file read by :func:`evalaudit.gold.read_gold`.
GOLD_LABEL = "gold_label"

#: Columns of the per-item consensus tables, in order.
CONSENSUS_COLUMNS: tuple[str, ...] = (
    ITEM,
    ITEM_ID,
    "label",
    VALUE,
    "confidence",
    "n_labels",
    "tied",
)


# ------------------------------------------------------------------ shared kernels
def _require_categorical(table: LabelTable, what: str) -> int:
    if table.kind is LabelKind.INTERVAL or not table.categories:
        raise ValueError(
            f"{what} needs categorical labels (binary, nominal or ordinal); "
            f"these are {table.kind} labels: use mean_consensus"
        )
    return len(table.categories)


def _vote_counts(table: LabelTable, k: int) -> IntArray:
    """Items x K matrix: how many labels of item i have category c."""
    f = table.frame
    key = f[ITEM].to_numpy(np.int64) * k + f[VALUE].to_numpy(np.int64)
    return np.bincount(key, minlength=table.n_items * k).reshape(table.n_items, k)


def _tie_priority(table: LabelTable, k: int) -> IntArray:
    """Rank of each category under :data:`TIE_RULE` (0 = wins every tie)."""
    freq = np.bincount(table.frame[VALUE].to_numpy(np.int64), minlength=k)
    order = np.lexsort((np.arange(k), -freq))  # larger frequency first, then smaller code
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    return rank


def tie_order(table: LabelTable) -> tuple[str, ...]:
    """The categories in the order :data:`TIE_RULE` prefers them (first wins every tie).

    >>> t = LabelTable.build(pd.DataFrame({"item_id": ["a", "a", "b"],
    ...     "labeler_id": ["x", "y", "x"], "label": ["1", "0", "1"]}), "nominal")
    >>> tie_order(t)
    ('1', '0')
    """
    k = _require_categorical(table, "a tie order")
    rank = _tie_priority(table, k)
    return tuple(table.categories[c] for c in np.argsort(rank, kind="stable"))


def _argmax_with_ties(
    scores: FloatArray | IntArray, priority: IntArray
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Row-wise argmax; exact ties go to the category with the smallest ``priority``."""
    is_max = scores == scores.max(axis=1, keepdims=True)
    ranked = np.where(is_max, priority[None, :], np.iinfo(np.int64).max)
    winner = ranked.argmin(axis=1).astype(np.int64)
    return winner, is_max.sum(axis=1) > 1


def _consensus_frame(
    table: LabelTable,
    value: IntArray,
    confidence: FloatArray,
    tied: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    cats = np.asarray(table.categories, dtype=object)
    return pd.DataFrame(
        {
            ITEM: np.arange(table.n_items, dtype=np.int32),
            # the ids' own string array: no Python string object per item
            ITEM_ID: pd.array(table.item_ids, dtype="string"),
            "label": pd.array(cats[value], dtype="string"),
            VALUE: value.astype(np.int16),
            "confidence": confidence.astype(np.float64),
            "n_labels": table.labels_per_item().astype(np.int64),
            "tied": tied.astype(bool),
        }
    ).astype({ITEM_ID: "string"})


# ------------------------------------------------------------------ majority vote
def majority_vote(table: LabelTable) -> pd.DataFrame:
    """Plurality (majority) vote per item.

    Estimand: the most frequent label of each item. Rows used: every label; each label
    is one vote (the table has one label per (item, labeler)). Assumes labelers are
    exchangeable (equally reliable); see :func:`dawid_skene` when they are not.

    Tie rule (deterministic, :data:`TIE_RULE`): when several categories share the top
    count, the category with the larger overall frequency in the whole table wins, then
    the smaller category code. ``tied`` marks those items. For the accuracy a random
    tie-break would have on average, see :func:`expected_accuracy_random_ties`.

    Parameters
    ----------
    table:
        A binary, nominal or ordinal table (ordinal categories are voted as nominal; the
        CLI uses :func:`mean_consensus` for ordinal and interval labels).

    Returns
    -------
    pd.DataFrame
        One row per item code, in order: ``item``, ``item_id``, ``label`` (category
        string), ``value`` (category code), ``confidence`` (vote share of the winner),
        ``n_labels`` and ``tied`` (bool).

    Raises
    ------
    ValueError
        For interval labels.

    Examples
    --------
    >>> t = LabelTable.build(pd.DataFrame({
    ...     "item_id": ["a", "a", "a", "b", "b"], "labeler_id": ["x", "y", "z", "x", "y"],
    ...     "label": ["cat", "dog", "dog", "cat", "dog"]}), "nominal")
    >>> majority_vote(t)[["item_id", "label", "confidence", "tied"]]
      item_id label  confidence   tied
    0       a   dog    0.666667  False
    1       b   dog    0.500000   True
    """
    k = _require_categorical(table, "majority vote")
    counts = _vote_counts(table, k)
    value, tied = _argmax_with_ties(counts, _tie_priority(table, k))
    n = counts.sum(axis=1)
    confidence = counts[np.arange(table.n_items), value] / np.maximum(n, 1)
    return _consensus_frame(table, value, confidence, tied)


def expected_accuracy_random_ties(table: LabelTable, gold: pd.Series | None = None) -> float:
    """Accuracy of majority vote against gold with ties broken uniformly at random (expected).

    Estimand: mean over items that have gold of ``1/k`` if the gold category is among
    the ``k`` categories sharing the top vote count, else 0 (an untied item scores 1 or
    0). This is the vote-counting figure the peer benchmark reports as "majority vote,
    expected accuracy with ties broken at random" (REFERENCE_VALUES.md). Rows used:
    every label; items without gold are left out. NaN when no item has gold.

    Examples
    --------
    >>> t = LabelTable.build(pd.DataFrame({
    ...     "item_id": ["a", "a", "b", "b"], "labeler_id": ["x", "y", "x", "y"],
    ...     "label": ["1", "1", "0", "1"], "gold": ["1", "1", "0", "0"]}), "nominal")
    >>> expected_accuracy_random_ties(t)
    0.75
    """
    k = _require_categorical(table, "majority vote")
    codes = gold_codes(table, gold)
    has = codes >= 0
    if not has.any():
        return math.nan
    counts = _vote_counts(table, k)[has]
    g = codes[has]
    is_max = counts == counts.max(axis=1, keepdims=True)
    hit = is_max[np.arange(len(g)), g]
    return float(np.mean(np.where(hit, 1.0 / is_max.sum(axis=1), 0.0)))


# ------------------------------------------------------------------ item mean
def mean_consensus(table: LabelTable) -> pd.DataFrame:
    """Item mean of the label scores (the consensus of ordinal and interval labels).

    Estimand: the mean ``score`` of each item's labels, on the table's scale (ordinal:
    the category rank scaled to [0, 1]; interval: raw units; binary: the pass share).
    Rows used: every label. Assumes the scale is (at least approximately) interval, the
    usual working assumption when averaging ratings.

    - Ordinal (and binary): ``label``/``value`` is the category nearest to the mean;
      a mean exactly halfway between two categories rounds up to the higher one and is
      marked ``tied``. ``confidence`` is the share of the item's labels equal to it.
    - Interval: ``label`` is the mean as text (12 significant digits), ``value`` is -1,
      ``confidence`` is NaN (there is no vote share) and ``tied`` is False.

    Returns
    -------
    pd.DataFrame
        The columns of :func:`majority_vote` plus ``mean`` (the item mean score).

    Raises
    ------
    ValueError
        For nominal labels (a mean of unordered categories is meaningless).

    Examples
    --------
    >>> t = LabelTable.build(pd.DataFrame({
    ...     "item_id": ["a", "a", "b", "b"], "labeler_id": ["x", "y", "x", "y"],
    ...     "label": ["1", "2", "4", "5"]}), "interval")
    >>> mean_consensus(t)[["item_id", "label", "mean"]]
      item_id label  mean
    0       a   1.5   1.5
    1       b   4.5   4.5
    """
    if table.kind is LabelKind.NOMINAL:
        raise ValueError("mean consensus needs ordered labels; use majority_vote for nominal")
    f = table.frame
    items = f[ITEM].to_numpy(np.int64)
    n = table.labels_per_item()
    mean = np.bincount(items, weights=f[SCORE].to_numpy(np.float64), minlength=table.n_items)
    mean = mean / np.maximum(n, 1)
    if table.kind is LabelKind.INTERVAL:
        out = pd.DataFrame(
            {
                ITEM: np.arange(table.n_items, dtype=np.int32),
                ITEM_ID: table.item_ids.to_numpy(dtype=object),
                "label": pd.array([f"{m:.12g}" for m in mean], dtype="string"),
                VALUE: np.full(table.n_items, -1, dtype=np.int16),
                "confidence": np.full(table.n_items, np.nan),
                "n_labels": n.astype(np.int64),
                "tied": np.zeros(table.n_items, dtype=bool),
            }
        ).astype({ITEM_ID: "string"})
    else:
        k = len(table.categories)
        if table.kind is LabelKind.BINARY:
            # binary scores are 1 = the positive value: the mean is the pass share
            pos = table.categories.index(table.positive) if table.positive else k - 1
            neg = next((c for c in range(k) if c != pos), pos)
            value = np.where(mean >= 0.5, pos, neg).astype(np.int64)
            tied = mean == 0.5
        else:
            rank = mean * max(k - 1, 1)  # mean category rank 0..K-1
            value = np.clip(np.floor(rank + 0.5), 0, k - 1).astype(np.int64)
            tied = np.isclose(rank - np.floor(rank), 0.5, rtol=0.0, atol=1e-9)
        counts = _vote_counts(table, k)
        confidence = counts[np.arange(table.n_items), value] / np.maximum(n, 1)
        out = _consensus_frame(table, value, confidence, tied)
    out["mean"] = mean
    return out


# ------------------------------------------------------------------ Dawid-Skene
@dataclass(frozen=True)
class DawidSkeneResult:
    """The fitted Dawid-Skene model (see :func:`dawid_skene`).

    Attributes
    ----------
    posteriors:
        Items x K array, ``P(true class = k | labels)`` per item code.
    labels:
        Per-item consensus like :func:`majority_vote`; ``label``/``value`` is the class
        of largest posterior (exact ties by :data:`TIE_RULE`), ``confidence`` the
        largest posterior.
    confusion:
        Labelers x K x K array; ``confusion[w, t, o] = P(labeler w answers o | true t)``.
    priors:
        K class priors ``P(true class = k)``.
    quality:
        Per labeler (indexed by labeler code): the prior-weighted diagonal
        ``sum_k priors[k] * confusion[w, k, k]``, i.e. the model's probability that the
        labeler's answer on a random item is correct.
    mean_diagonal:
        Per labeler: the unweighted mean of the diagonal (balanced accuracy; not
        dominated by the majority class).
    n_labels:
        Per labeler: how many labels the estimates rest on.
    n_iter:
        EM iterations run.
    converged:
        True when the max absolute change of the posteriors fell below ``tol``.
    final_change:
        The max absolute change of the posteriors in the last iteration.
    log_likelihood:
        Per iteration, the marginal log-likelihood of the observed labels under that
        iteration's parameters.
    log_posterior:
        Per iteration, the objective EM ascends: ``log_likelihood`` plus the log of the
        Dirichlet smoothing prior (non-decreasing up to rounding).
    tol, smoothing:
        The settings used.
    """

    posteriors: FloatArray
    labels: pd.DataFrame
    confusion: FloatArray
    priors: FloatArray
    quality: pd.Series
    mean_diagonal: pd.Series
    n_labels: pd.Series
    n_iter: int
    converged: bool
    final_change: float
    log_likelihood: FloatArray
    log_posterior: FloatArray
    tol: float
    smoothing: float

    def labeler_table(self, table: LabelTable) -> pd.DataFrame:
        """Per labeler: ``labeler``, ``labeler_id``, ``n_labels``, ``quality``, ``mean_diagonal``."""
        return pd.DataFrame(
            {
                LABELER: np.arange(table.n_labelers, dtype=np.int32),
                "labeler_id": table.labeler_ids.to_numpy(dtype=object),
                "n_labels": self.n_labels.to_numpy(),
                "quality": self.quality.to_numpy(),
                "mean_diagonal": self.mean_diagonal.to_numpy(),
            }
        ).astype({"labeler_id": "string"})


def dawid_skene(
    table: LabelTable,
    tol: float = 1e-6,
    max_iter: int = 500,
    init: Literal["majority"] | npt.ArrayLike = "majority",
    smoothing: float = DEFAULT_SMOOTHING,
) -> DawidSkeneResult:
    """Dawid-Skene (1979) truth inference: EM over per-labeler confusion matrices.

    Model and estimand: each item has one latent true class ``t`` with prior
    ``priors[t]``; labeler ``w`` answers ``o`` with probability ``confusion[w, t, o]``,
    independently across labels given the true class. The estimands are the posterior
    class probabilities of each item, each labeler's confusion matrix and the class
    priors. Rows used: every label (categories are treated as nominal, also for ordinal
    and binary tables).

    Assumptions: labels are conditionally independent given the true class; a labeler's
    error rates are the same on every item (no item difficulty, no drift); the crowd is
    right more often than systematically wrong (EM is started from the vote, so a
    majority that shares one bias is learnt as the truth).

    Algorithm: starts from the vote shares of each item (``init="majority"``, as
    crowd-kit does) or from a given items x K posterior array, then alternates the
    M-step (priors and confusion matrices from expected counts, each cell plus
    ``smoothing`` pseudo-counts: a MAP estimate under a Dirichlet(1 + smoothing) prior
    that keeps every probability positive, so no log(0)) and the E-step (posteriors by
    Bayes' rule in log space). Vectorized with ``np.bincount`` over the long table; one
    iteration costs O(n_labels x K). Deterministic (no random start).

    Convergence: stops when the maximum absolute change of any posterior between two
    iterations is below ``tol``, or after ``max_iter`` iterations (``converged`` False).

    Tie rule: an item whose largest posterior is shared exactly by several classes gets
    the class chosen by :data:`TIE_RULE` and ``tied`` True.

    Parameters
    ----------
    table:
        A binary, nominal or ordinal table.
    tol:
        Convergence tolerance on the max absolute posterior change (>= 0).
    max_iter:
        Most EM iterations (>= 1).
    init:
        ``"majority"`` or an items x K array of starting posteriors (rows are
        normalized).
    smoothing:
        Pseudo-count added to every confusion and class-count cell (> 0).

    Returns
    -------
    DawidSkeneResult

    Examples
    --------
    >>> t = LabelTable.build(pd.DataFrame({
    ...     "item_id": ["a", "a", "a", "b", "b", "b"],
    ...     "labeler_id": ["x", "y", "z"] * 2,
    ...     "label": ["1", "1", "0", "0", "0", "0"]}), "nominal")
    >>> r = dawid_skene(t)
    >>> r.labels["label"].tolist(), r.converged
    (['1', '0'], True)
    """
    k = _require_categorical(table, "Dawid-Skene")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
    if not smoothing > 0:
        raise ValueError(
            f"smoothing must be > 0 (it keeps log-probabilities finite), got {smoothing!r}"
        )
    f = table.frame
    items = f[ITEM].to_numpy(np.int64)
    labelers = f[LABELER].to_numpy(np.int64)
    values = f[VALUE].to_numpy(np.int64)
    n_items, n_lab = table.n_items, table.n_labelers
    if isinstance(init, str):
        if init != "majority":
            raise ValueError(f"init must be 'majority' or an items x K array, got {init!r}")
        counts = _vote_counts(table, k).astype(np.float64)
        post = counts / counts.sum(axis=1, keepdims=True)
    else:
        post = np.array(init, dtype=np.float64)
        if post.shape != (n_items, k) or not np.isfinite(post).all() or (post < 0).any():
            raise ValueError(f"init must be a non-negative {n_items} x {k} array")
        post = post / np.maximum(post.sum(axis=1, keepdims=True), np.finfo(float).tiny)

    key = labelers * k + values  # (labeler, observed class) cell of each label
    # flat index of log P(o | t=0, w) in log_conf; class t adds t * k. Posteriors are kept
    # as one contiguous array per class: the per-label gathers then read one column.
    cell = labelers * (k * k) + values
    cols = [np.ascontiguousarray(post[:, t]) for t in range(k)]
    lls: list[float] = []
    lps: list[float] = []
    converged = False
    change = math.inf
    confusion = np.empty((n_lab, k, k))
    priors = np.empty(k)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        # M-step: expected counts plus pseudo-counts, normalized
        priors = np.array([c.sum() for c in cols]) + smoothing
        priors /= priors.sum()
        for t in range(k):
            confusion[:, t, :] = np.bincount(
                key, weights=cols[t][items], minlength=n_lab * k
            ).reshape(n_lab, k)
        confusion += smoothing
        confusion /= confusion.sum(axis=2, keepdims=True)
        log_conf = np.log(confusion)
        log_prior = np.log(priors)
        flat = log_conf.ravel()
        # E-step: log P(t) + sum over the item's labels of log P(o | t, w)
        joint = [
            np.bincount(items, weights=flat.take(cell + t * k), minlength=n_items) + log_prior[t]
            for t in range(k)
        ]
        top = np.maximum.reduce(joint) if k > 1 else joint[0]
        total = np.exp(joint[0] - top)
        for j in joint[1:]:
            total += np.exp(j - top)
        log_norm = top + np.log(total)
        new = [np.exp(j - log_norm) for j in joint]
        ll = float(log_norm.sum())
        lls.append(ll)
        lps.append(ll + smoothing * (float(log_conf.sum()) + float(log_prior.sum())))
        change = max(float(np.abs(a - b).max()) for a, b in zip(new, cols, strict=True))
        cols = new
        if change < tol:
            converged = True
            break
    post = np.column_stack(cols) if cols else np.empty((n_items, 0))

    value, tied = _argmax_with_ties(post, _tie_priority(table, k))
    labels = _consensus_frame(table, value, post[np.arange(n_items), value], tied)
    diag = np.diagonal(confusion, axis1=1, axis2=2)
    idx = pd.RangeIndex(n_lab, name=LABELER)
    return DawidSkeneResult(
        posteriors=post,
        labels=labels,
        confusion=confusion,
        priors=priors,
        quality=pd.Series(diag @ priors, index=idx, name="quality"),
        mean_diagonal=pd.Series(diag.mean(axis=1), index=idx, name="mean_diagonal"),
        n_labels=pd.Series(np.bincount(labelers, minlength=n_lab), index=idx, name="n_labels"),
        n_iter=n_iter,
        converged=converged,
        final_change=change,
        log_likelihood=np.asarray(lls),
        log_posterior=np.asarray(lps),
        tol=float(tol),
        smoothing=float(smoothing),
    )


# ------------------------------------------------------------------ gold
def gold_codes(table: LabelTable, gold: pd.Series | None = None) -> IntArray:
    """Gold category code per item code (-1 where the item has no gold).

    ``gold`` is a Series ``item_id -> gold label`` (e.g. :func:`evalaudit.gold.read_gold`); without it
    the table's ``gold`` column is used (the first non-null value per item). Gold for
    items that are not in the table is ignored.

    Raises
    ------
    ValueError
        When there is no gold at all, when the labels are interval, or when a gold
        value is not one of the table's categories (the message lists them).
    """
    _require_categorical(table, "gold accuracy")
    if gold is None:
        if not table.has(GOLD):
            raise ValueError("no gold: the table has no 'gold' column and no gold was given")
        f = table.frame
        known = f[GOLD].notna().to_numpy()
        first = (
            pd.DataFrame({"i": f[ITEM].to_numpy()[known], "g": f[GOLD].to_numpy()[known]})
            .drop_duplicates("i")
            .set_index("i")["g"]
        )
        per_item = first.reindex(np.arange(table.n_items))
    else:
        g = gold.dropna()
        g.index = g.index.astype(str)
        g = g[~g.index.duplicated(keep="first")]
        per_item = g.reindex(table.item_ids.astype(str))
    text = per_item.astype("string")
    cats = pd.Index(list(table.categories), dtype="string")
    codes = cats.get_indexer(text).astype(np.int64)
    bad = text.notna().to_numpy() & (codes < 0)
    if bad.any():
        vals = list(dict.fromkeys(text[bad].astype(str).tolist()))
        raise ValueError(
            f"{int(bad.sum())} gold value(s) are not label categories: "
            + ", ".join(repr(v) for v in vals[:5])
            + (", ..." if len(vals) > 5 else "")
            + f" (the categories are: {', '.join(table.categories)})"
        )
    return codes


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, z: float = WILSON_Z
) -> tuple[FloatArray, FloatArray]:
    """Wilson (1927) score interval for a binomial proportion (NaN where ``n == 0``).

    >>> lo, hi = wilson_interval([8], [10])
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4902, 0.9433)
    """
    x = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / m
        z2 = z * z
        denom = 1.0 + z2 / m
        center = (p + z2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m)) / denom
        lo = np.where(m > 0, np.clip(center - half, 0.0, 1.0), np.nan)
        hi = np.where(m > 0, np.clip(center + half, 0.0, 1.0), np.nan)
    return lo, hi


def gold_accuracy(table: LabelTable, gold: pd.Series | None = None) -> pd.DataFrame:
    """Per-labeler accuracy on gold (honeypot) items, with a Wilson 95% interval.

    Estimand: for each labeler, the share of their labels on items that have gold that
    equal the gold label. Rows used: the labels on items with gold (see
    :func:`gold_codes` for where gold comes from). Assumes the labeler's gold items are
    representative of their work (honeypots not recognisable as such); the interval
    treats their gold labels as independent Bernoulli trials (Wilson 1927, z = 1.96).

    Returns
    -------
    pd.DataFrame
        One row per labeler code (all labelers, in code order): ``labeler``,
        ``labeler_id``, ``n_gold`` (their labels on gold items), ``n_correct``,
        ``gold_accuracy``, ``ci_low``, ``ci_high``; the last three are NaN when
        ``n_gold`` is 0.

    Examples
    --------
    >>> t = LabelTable.build(pd.DataFrame({
    ...     "item_id": ["a", "a", "b", "b"], "labeler_id": ["x", "y", "x", "y"],
    ...     "label": ["1", "0", "0", "0"]}), "nominal")
    >>> gold_accuracy(t, pd.Series({"a": "1", "b": "0"}))[["labeler_id", "n_gold", "gold_accuracy"]]
      labeler_id  n_gold  gold_accuracy
    0          x       2            1.0
    1          y       2            0.5
    """
    codes = gold_codes(table, gold)
    f = table.frame
    g = codes[f[ITEM].to_numpy(np.int64)]
    has = g >= 0
    lab = f[LABELER].to_numpy(np.int64)[has]
    correct = (f[VALUE].to_numpy(np.int64)[has] == g[has]).astype(np.float64)
    n_gold = np.bincount(lab, minlength=table.n_labelers)
    n_correct = np.bincount(lab, weights=correct, minlength=table.n_labelers).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_gold > 0, n_correct / np.maximum(n_gold, 1), np.nan)
    lo, hi = wilson_interval(n_correct, n_gold)
    return pd.DataFrame(
        {
            LABELER: np.arange(table.n_labelers, dtype=np.int32),
            "labeler_id": table.labeler_ids.to_numpy(dtype=object),
            "n_gold": n_gold.astype(np.int64),
            "n_correct": n_correct,
            "gold_accuracy": acc,
            "ci_low": lo,
            "ci_high": hi,
        }
    ).astype({"labeler_id": "string"})
