"""The headline by prediction-powered inference: LLM-judge scores de-biased by a human subset.

**Estimand.** The *complete-human headline* ``theta = E[Y]``: the expected
human score of an item drawn like the eval's items (the headline the eval
would report if every item the judge grades were also graded by a human). For
an item with several human labels ``Y`` is the mean of its human labels (the
item is the unit; humans are assumed exchangeable, so the mean has the same
expectation as one human's label and less noise). The realised mean over the
eval's own items is a finite-population version of ``theta``; the interval
below is for ``theta`` and covers the finite version at least as often.

**Rows used.** For a judge ``j``: every item ``j`` labels. *Labeled* items
(``n``) have ``j``'s score ``f_i`` and at least one human label ``Y_i``;
*unlabeled* items (``N``) have ``f_i`` and no human label. Other judges'
labels never enter ``Y``. Items no judge labels do not enter (the population
is the judge-graded items).

**Estimator** (PPI++, Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453;
PPI: Angelopoulos, Bates, Fannjiang, Jordan & Zrnic 2023, Science 382:669,
doi:10.1126/science.adi6000)::

    theta_hat = lam * mean_N(f) + mean_n(Y - lam f)
    se^2      = lam^2 var_N(f) / N + var_n(Y - lam f) / n        (population variances)
    lam       = cov_n(Y, f) / ((1 + n / N) var_{n+N}(f)), clipped to [0, 1]

``lam = 0`` is the humans-only mean, ``lam = 1`` the original PPI. The tuned
``lam`` minimises the estimated variance; it is estimated from the same data
(an O(1/n) effect on the estimate, none on validity asymptotically). These are
exactly ``ppi_py.ppi_mean_pointestimate`` and ``ppi_py.ppi_mean_ci`` (ppi-python
0.2.3: ``lam=None``, ``lam_optim_mode="overall"`` -- identical to ``"element"``
for a scalar mean -- ``clip=True``; ``cov_n`` divides by ``n``, ``var_{n+N}``
is ``np.cov`` over labeled and unlabeled predictions, ddof 1), pinned to 1e-9 in
``tests/test_ppi.py``. The 95% interval is normal: ``theta_hat +- z se``.

**Assumption without weights: MCAR.** The human subset is a uniform random
subset of the judge-graded items (whether an item got a human label does not
depend on its outputs, its slice or the judge's score). PPI needs no
assumption on the judge: a lenient or biased judge costs width, not validity.

**Stratified subsets.** When humans were drawn at different rates by slice
(``strata``: one column or several, e.g. every slice column), the subset is
assumed random *within* each stratum (MAR given the stratum). Each labeled item
gets the inverse-probability weight ``1 / pi_h`` with ``pi_h = n_h / (n_h + N_h)``
estimated as the labeled share of its stratum; the weighted (Hajek) estimator is
then the stratified one, ``theta_hat = sum_h W_h theta_hat_h`` with
``W_h = (n_h + N_h) / (n + N)``, ``se^2 = sum_h W_h^2 se_h^2`` and one ``lam``
minimising that variance (``sum_h W_h^2 c_h / n_h`` over
``sum_h W_h^2 (1/n_h + 1/N_h) v_h``; Fisch et al. 2024, "Stratified
prediction-powered inference", arXiv:2406.04291, with a shared ``lam``). One
stratum is the unweighted estimator above. A stratum with fewer than 2
human-labeled items has no variance estimate: the estimate is NaN and ``note``
names it (merge strata).
The audit stratifies by the policy's ``ppi_strata`` (``--ppi-strata COL``;
:func:`evalaudit.audit.ppi_strata_of` checks the names); ``headline.ppi`` says
which weighting it used (``weighting``, ``strata``, ``weights``, ``n_strata``).

**Several judges.** One estimate per judge, and two combinations:

- ``judges_mean`` (the default combination): PPI++ with the mean of the judges'
  scores on the item as the single predictor. PPI is valid for *any* predictor
  fixed before the human labels are seen, so this inherits every guarantee (and
  the ppi_py parity) of the one-judge estimator; averaging judges with
  independent errors raises ``corr(Y, f)``, which is what buys width.
- ``judges_weighted``: the multi-predictor PPI++ (a control-variate / regression
  estimator, Cochran 1977 ch. 7; the vector-lambda form of PPI++ section 6):
  ``theta_hat = mean_n(Y) + lam' (mean_N(F) - mean_n(F))`` with ``lam`` the
  variance-minimising vector ``[(1/n + 1/N) S_FF]^{-1} c_FY / n``, not clipped;
  it down-weights a noisy judge but estimates ``k`` coefficients from ``n``
  items, so it is reported beside the mean, on the items every judge labeled.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from evalaudit.contract import MODEL
from evalaudit.stats.impact import item_groups
from evalaudit.table import ITEM, LABELER, SCORE, LabelTable

__all__ = [
    "ItemInputs",
    "headline_ppi",
    "item_inputs",
    "ppi_headline",
    "ppi_mean",
    "ppi_mean_stratified",
]

#: The predictor name of the combinations of several judges.
JUDGES_MEAN = "(mean of judges)"
JUDGES_WEIGHTED = "(weighted judges)"


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def ppi_mean(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabeled: np.ndarray,
    *,
    lam: float | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """PPI++ estimate of ``E[Y]`` and its normal ``1 - alpha`` interval (see the module docstring).

    ``y``, ``yhat``: human scores and the judge's scores on the ``n`` labeled
    items; ``yhat_unlabeled``: the judge's scores on the ``N`` unlabeled items.
    ``lam=None`` tunes lambda (clipped to [0, 1]); a number fixes it. Returns
    ``score``, ``ci`` ([low, high]), ``se``, ``lambda``, ``n_labeled``,
    ``n_unlabeled``. Equal to ``ppi_py.ppi_mean_pointestimate`` /
    ``ppi_py.ppi_mean_ci`` on the same arrays.

    >>> r = ppi_mean(np.array([1.0, 0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0]),
    ...              np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0]), lam=1.0)
    >>> round(r["score"], 4)
    0.9167
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    yhat = np.asarray(yhat, dtype=np.float64).ravel()
    f_u = np.asarray(yhat_unlabeled, dtype=np.float64).ravel()
    zero = np.zeros(len(y), dtype=np.int64)
    return ppi_mean_stratified(
        y,
        yhat[:, None],
        zero,
        f_u[:, None],
        np.zeros(len(f_u), dtype=np.int64),
        lam=lam,
        alpha=alpha,
    )


def ppi_mean_stratified(
    y: np.ndarray,
    yhat: np.ndarray,
    stratum: np.ndarray,
    yhat_unlabeled: np.ndarray,
    stratum_unlabeled: np.ndarray,
    *,
    lam: float | Sequence[float] | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Stratified PPI++ with ``k`` predictors (columns of ``yhat``); see the module docstring.

    ``stratum`` / ``stratum_unlabeled``: integer stratum codes of the labeled /
    unlabeled items; stratum weights are each stratum's share of all items
    (the inverse-probability weights of a subset drawn at random within
    strata). ``k = 1`` with ``lam=None`` clips the tuned lambda to [0, 1] as
    ppi_py does; ``k > 1`` tunes an unclipped vector. ``lambda`` in the result
    is a float for ``k = 1``, else a list. ``note`` is None or why the estimate
    is NaN.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    f = np.asarray(yhat, dtype=np.float64)
    if f.ndim != 2:  # (n, k) as given; a flat array is one predictor
        f = f.reshape(len(y), -1) if len(y) else f.reshape(0, 1)
    k = f.shape[1]
    f_u = np.asarray(yhat_unlabeled, dtype=np.float64).reshape(-1, k)
    s_l = np.asarray(stratum, dtype=np.int64).ravel()
    s_u = np.asarray(stratum_unlabeled, dtype=np.int64).ravel()
    n, n_u = len(y), len(f_u)
    out: dict[str, Any] = {
        "score": float("nan"),
        "ci": [float("nan"), float("nan")],
        "se": float("nan"),
        "lambda": float("nan") if k == 1 else [float("nan")] * k,
        "n_labeled": int(n),
        "n_unlabeled": int(n_u),
        "n_strata": 0,
        "note": None,
    }
    if n == 0:
        # e.g. the judges' combination when no item has every judge's score and a human's
        out["note"] = "no human-labeled item has this predictor's score(s): no estimate"
        return out
    both = np.concatenate([s_l, s_u])
    # small non-negative codes: a count, no sort
    codes = np.flatnonzero(np.bincount(both)) if len(both) and both.min() >= 0 else np.unique(both)
    out["n_strata"] = len(codes)
    parts = []
    for h in codes:
        if len(codes) == 1:  # one stratum: every item (no masks)
            yl, fl, fu = y, f, f_u
        else:
            yl, fl, fu = y[s_l == h], f[s_l == h], f_u[s_u == h]
        if len(yl) < 2:
            out["note"] = (
                f"a stratum has {len(yl)} human-labeled item(s) of {len(yl) + len(fu)}: "
                "no variance estimate (merge strata)"
            )
            return out
        parts.append((yl, fl, fu))
    total = float(n + n_u)
    w = np.array([(len(a) + len(c)) / total for a, _, c in parts])

    if lam is None:
        num = np.zeros(k)
        den = np.zeros((k, k))
        for wh, (yl, fl, fu) in zip(w, parts, strict=True):
            nh, nuh = len(yl), len(fu)
            if nuh == 0:
                continue  # fully labeled: the stratum mean is the human mean (lam plays no part)
            yc = yl - yl.mean()
            fc = fl - fl.mean(axis=0)
            cov = fc.T @ yc / nh  # population covariance, as ppi_py's cov_grads / 2
            pooled = np.atleast_2d(np.cov(np.concatenate([fl, fu]).T))  # ddof 1, as ppi_py
            num += wh * wh * cov / nh
            den += wh * wh * (1.0 / nh + 1.0 / nuh) * pooled
        if k == 1:
            lam_v = np.array([num[0] / den[0, 0]]) if den[0, 0] > 0 else np.zeros(1)
            lam_v = np.clip(lam_v, 0.0, 1.0)
        else:
            lam_v = np.linalg.lstsq(den, num, rcond=None)[0]
    else:
        lam_v = np.atleast_1d(np.asarray(lam, dtype=np.float64)).reshape(k)

    est, var = 0.0, 0.0
    for wh, (yl, fl, fu) in zip(w, parts, strict=True):
        nh, nuh = len(yl), len(fu)
        if nuh == 0:
            est += wh * yl.mean()
            var += wh * wh * yl.var() / nh
            continue
        pred_u = fu @ lam_v
        rect = yl - fl @ lam_v
        est += wh * (pred_u.mean() + rect.mean())
        var += wh * wh * (pred_u.var() / nuh + rect.var() / nh)  # np.std(ddof=0), as ppi_py
    se = float(np.sqrt(var))
    z = _z(alpha)
    out.update(
        score=float(est),
        ci=[float(est - z * se), float(est + z * se)],
        se=se,
        **{"lambda": float(lam_v[0]) if k == 1 else [float(v) for v in lam_v]},
    )
    return out


# --------------------------------------------------------------- per-item inputs
@dataclass(frozen=True)
class ItemInputs:
    """Per item (indexed by item code): the human and judge scores PPI reads.

    ``y``: mean score of the item's human labels (NaN: none); ``n_human``:
    its number of human labels; ``judge_scores``: items x judges, each judge's
    score on the item (NaN: the judge did not label it); ``judges``: the judges'
    labeler codes, in column order; ``judge_names``: their ids.
    """

    y: np.ndarray
    n_human: np.ndarray
    judge_scores: np.ndarray
    judges: np.ndarray
    judge_names: list[str]


def _judge_codes(table: LabelTable, is_judge: np.ndarray) -> np.ndarray:
    is_judge = np.asarray(is_judge, dtype=bool)
    if is_judge.shape != (table.n_labelers,):
        raise ValueError(
            f"is_judge must hold one boolean per labeler ({table.n_labelers}), got {is_judge.shape}"
        )
    return np.flatnonzero(is_judge)


def item_inputs(table: LabelTable, is_judge: np.ndarray) -> ItemInputs:
    """The :class:`ItemInputs` of ``table``; ``is_judge``: one boolean per labeler code.

    Humans are every labeler that is not a judge. Labels with a non-finite
    score are ignored (nominal labels without a passing class).
    """
    judges = _judge_codes(table, is_judge)
    f = table.frame
    item = f[ITEM].to_numpy()
    lab = f[LABELER].to_numpy()
    score = f[SCORE].to_numpy()
    ok = np.isfinite(score)
    human = ok & ~np.asarray(is_judge, dtype=bool)[lab]
    n_h = np.bincount(item[human], minlength=table.n_items)
    s_h = np.bincount(item[human], weights=score[human], minlength=table.n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(n_h > 0, s_h / np.maximum(n_h, 1), np.nan)
    col = np.full(table.n_labelers, -1, dtype=np.int64)
    col[judges] = np.arange(len(judges))
    js = ok & (col[lab] >= 0)
    scores = np.full((table.n_items, len(judges)), np.nan)
    scores[item[js], col[lab[js]]] = score[js]  # one label per (item, labeler): the contract
    names = [str(table.labeler_ids[j]) for j in judges]
    return ItemInputs(y, n_h, scores, judges, names)


# ------------------------------------------------------------------ the headline
def _strata_of_items(table: LabelTable, strata: Sequence[str] | None) -> tuple[np.ndarray, str]:
    if not strata:
        return np.zeros(
            table.n_items, dtype=np.int64
        ), "none: humans a uniform random subset (MCAR)"
    cols = [np.asarray(item_groups(table, c).value_of_item, dtype=np.int64) for c in strata]
    _, code = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    label = (
        "stratified by "
        + " x ".join(strata)
        + (" (inverse-probability weights: labeled share per stratum; random within strata)")
    )
    return code.ravel().astype(np.int64), label


def _mean_ci(x: np.ndarray, z: float) -> tuple[float, list[float]]:
    if len(x) == 0:
        return float("nan"), [float("nan"), float("nan")]
    m = float(x.mean())
    if len(x) < 2:
        return m, [float("nan"), float("nan")]
    se = float(x.std(ddof=1) / np.sqrt(len(x)))
    return m, [m - z * se, m + z * se]


def _predictors(inp: ItemInputs, combine: bool) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, method, items x k predictor matrix, items where it is defined)."""
    k = inp.judge_scores.shape[1]
    preds = [(inp.judge_names[j], "ppi++", inp.judge_scores[:, [j]]) for j in range(k)]
    if combine and k > 1:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an item no judge labels: NaN
            mean = np.nanmean(inp.judge_scores, axis=1)
        preds.append((JUDGES_MEAN, "ppi++ (predictor: mean of the judges' scores)", mean[:, None]))
        preds.append(
            (JUDGES_WEIGHTED, "ppi++ multi-predictor (variance-optimal weights)", inp.judge_scores)
        )
    return [(a, b, m, np.isfinite(m).all(axis=1)) for a, b, m in preds]


def _estimates(
    inp: ItemInputs,
    preds: list[tuple[str, str, np.ndarray, np.ndarray]],
    in_group: np.ndarray,
    stratum: np.ndarray,
    weights_label: str,
    alpha: float,
) -> list[dict[str, Any]]:
    """One record per judge (and the combinations) on the items in ``in_group``."""
    z = _z(alpha)
    gi = np.flatnonzero(in_group)  # the group's items first: each slice value costs its own size
    y, n_human, s_g = inp.y[gi], inp.n_human[gi], stratum[gi]
    has_y = np.isfinite(y)
    out = []
    for name, method, fmat_all, finite in preds:
        fmat = fmat_all[gi]
        on = finite[gi]
        lab_i, unl_i = np.flatnonzero(on & has_y), np.flatnonzero(on & ~has_y)
        args = (y[lab_i], fmat[lab_i], s_g[lab_i], fmat[unl_i], s_g[unl_i])
        r = ppi_mean_stratified(*args, alpha=alpha)
        h = ppi_mean_stratified(*args, lam=[0.0] * fmat.shape[1], alpha=alpha)
        j_score, j_ci = _mean_ci(fmat[on].mean(axis=1), z)
        out.append(
            {
                "judge": name,
                "method": method,
                "score": r["score"],
                "ci": r["ci"],
                "se": r["se"],
                "lambda": r["lambda"],
                "n_labeled": r["n_labeled"],
                "n_unlabeled": r["n_unlabeled"],
                "n_human_labels": int(n_human[lab_i].sum()),
                "judge_only_score": j_score,
                "judge_only_ci": j_ci,
                "humans_only_score": h["score"],
                "humans_only_ci": h["ci"],
                "weights": weights_label,
                "n_strata": r["n_strata"],
                "note": r["note"],
            }
        )
    return out


def ppi_headline(
    table: LabelTable,
    is_judge: np.ndarray,
    *,
    strata: Sequence[str] | None = None,
    alpha: float = 0.05,
    combine: bool = True,
) -> dict[str, Any] | None:
    """The PPI headline overall, per model and per slice value (``headline.ppi``).

    ``is_judge``: one boolean per labeler code (humans are the rest).
    ``strata``: item columns the human subset was drawn by (None: MCAR, no
    weights); pass ``table.slice_columns`` for "every slice column". Groups are
    those of :func:`evalaudit.stats.impact.item_groups` (an item's first label's
    value). Returns None when labels have no score, or there is no judge or no
    human label. Otherwise ``{"overall": [...], "per_model": [...], "per_slice":
    [...], "method", "assumption"}``; each list holds one record per judge (and,
    with ``combine`` and several judges, :data:`JUDGES_MEAN` and
    :data:`JUDGES_WEIGHTED`), ``per_model`` records carry ``model``,
    ``per_slice`` records ``slice_column`` and ``slice_value``. A record:
    ``judge``, ``method``, ``score``, ``ci``, ``se``, ``lambda``, ``n_labeled``,
    ``n_unlabeled``, ``n_human_labels``, ``judge_only_score``/``_ci`` (mean of the
    judge's scores over all its items; for the combinations, of the judges' mean),
    ``humans_only_score``/``_ci`` (the same estimator with lambda = 0: the human
    mean, stratified when weighted), ``weights``, ``n_strata``, ``note``.
    """
    score = table.frame[SCORE].to_numpy()
    if not np.isfinite(score).all():
        return None
    inp = item_inputs(table, is_judge)
    if inp.judge_scores.shape[1] == 0 or not np.isfinite(inp.y).any():
        return None
    stratum, label = _strata_of_items(table, strata)
    preds = _predictors(inp, combine)
    everything = np.ones(table.n_items, dtype=bool)
    out: dict[str, Any] = {
        "overall": _estimates(inp, preds, everything, stratum, label, alpha),
        "per_model": [],
        "per_slice": [],
        "method": "PPI++ (Angelopoulos, Duchi & Zrnic 2023), power-tuned lambda in [0, 1]; "
        "normal CI; items are the unit (several human labels: their mean)",
        "assumption": label,
    }
    if table.has(MODEL):
        g = item_groups(table, MODEL)
        for v, name in enumerate(g.values):
            for r in _estimates(inp, preds, g.value_of_item == v, stratum, label, alpha):
                out["per_model"].append({"model": str(name), **r})
    for col in table.slice_columns:
        g = item_groups(table, col)
        for v, name in enumerate(g.values):
            for r in _estimates(inp, preds, g.value_of_item == v, stratum, label, alpha):
                out["per_slice"].append({"slice_column": col, "slice_value": str(name), **r})
    return out


#: Fields of an estimate copied to the top of ``headline.ppi`` (the reported one).
_REPORTED = (
    "judge",
    "method",
    "score",
    "ci",
    "se",
    "lambda",
    "n_labeled",
    "n_unlabeled",
    "n_human_labels",
    "judge_only_score",
    "judge_only_ci",
    "humans_only_score",
    "humans_only_ci",
    "weights",
    "n_strata",
    "note",
)


def headline_ppi(
    table: LabelTable, *, strata: Sequence[str] | None = None, alpha: float = 0.05
) -> dict[str, Any] | None:
    """``headline.ppi`` of the audit: the reported PPI estimate on top, every estimate below.

    The reported estimate is the one judge's PPI++ when there is one judge, and
    :data:`JUDGES_MEAN` (PPI++ with the judges' mean score as the predictor) with
    several: it keeps the one-judge estimator's guarantees (any fixed predictor
    is valid) and needs no per-judge coefficients. ``estimates`` holds every
    overall record of :func:`ppi_headline` (each judge, both combinations);
    ``per_model`` and ``per_slice`` hold every record too, each naming its
    ``judge``; ``reported`` names the reported one (surfaces show its rows).
    The weighting: ``weighting`` (``"none"``: humans a uniform random subset, MCAR;
    ``"stratified"``: inverse-probability weights by stratum), ``strata`` (the
    columns, ``[]`` without weights), ``weights`` (the same in words, as in every
    record; also ``assumption``) and ``n_strata`` (of the reported estimate's items).
    None when :func:`ppi_headline` is (no judge, no human label, no scores).
    """
    out = ppi_headline(table, table.is_judge, strata=strata, alpha=alpha)
    if out is None:
        return None
    names = [r["judge"] for r in out["overall"]]
    reported = JUDGES_MEAN if JUDGES_MEAN in names else names[0]
    top = next(r for r in out["overall"] if r["judge"] == reported)
    return {
        **{k: top.get(k) for k in _REPORTED},
        "weighting": "stratified" if strata else "none",
        "strata": list(strata or []),
        "reported": reported,
        "assumption": out["assumption"],
        "estimator": out["method"],
        "estimates": out["overall"],
        "per_model": out["per_model"],
        "per_slice": out["per_slice"],
        "reference": "human labels (judges' scores are the predictions)",
    }
