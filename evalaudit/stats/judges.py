"""The judge-vs-human audit: each LLM judge against the humans, on the items they share.

**Reference.** Humans are the reference: on an item, the *human consensus* is
the mean score of its human labels (binary: the share of humans who pass it;
its label is pass above 1/2, fail below, a tie has none). Judges never enter
it, so a judge's leniency never enters the humans' baseline (or another
judge's), unlike the peer baselines of :mod:`evalaudit.stats.effects`, where an
LLM judge on every item would be most of every honest human's peers.

**Rows used.** For judge ``j``: the *shared* items, those ``j`` labels that
carry at least one human label; one difference per item,
``d_i = f_i - ybar_i`` (``f_i``: the judge's score, ``ybar_i``: the human
consensus score). The item is the unit and the cluster: ``d_i`` is the sum of
the item's label contributions, so ``sd(d) / sqrt(n)`` is the cluster-robust
(by item) standard error of the mean bias (Liang & Zeger 1986).

**Estimands.** ``bias``: ``E[f - ybar]`` over items graded by both, in score
units (binary: percentage points of pass rate / 100), positive when the judge
passes more than the humans would on the same items. Per slice value: the same
on the shared items of that value, and its *tilt*, the bias there minus the
bias on the judge's other shared items (disjoint item sets, so independent
given the items; additive on the score scale, no room-to-move scaling as in
:mod:`evalaudit.stats.joint`). Self-preference: the bias on outputs of models
of the judge's own family minus the bias on the other models' outputs.

**Assumption.** Human-labeled items are a random subset of the judge's items
within the compared groups (so the shared items represent them); humans are
exchangeable (their mean is the reference). Intervals are normal 95% (Wald);
p-values two-sided normal, unadjusted: the audit puts them under its error
budget (:func:`evalaudit.stats.multitest.budget_qvalues`).

Agreement: Cohen's (1960) kappa between the judge's label and the human
consensus label on shared items without a consensus tie (binary labels only;
NaN otherwise), and the two confusion rates, ``pass_when_humans_fail`` =
P(judge passes | humans fail) and ``fail_when_humans_pass`` = P(judge fails |
humans pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from evalaudit.contract import MODEL, LabelKind
from evalaudit.stats.impact import item_groups
from evalaudit.stats.ppi import item_inputs
from evalaudit.table import LabelTable

__all__ = [
    "JUDGE_COLUMNS",
    "SELF_PREFERENCE_COLUMNS",
    "SLICE_BIAS_COLUMNS",
    "family_of_model",
    "judge_audit",
    "judge_self_preference",
    "judge_slice_bias",
]

Z95 = NormalDist().inv_cdf(0.975)

#: Columns of :func:`judge_audit` (one row per judge).
JUDGE_COLUMNS = (
    "labeler",  # labeler code
    "judge",  # labeler id
    "family",  # the judge's model family (None: unknown)
    "n_items",  # items the judge labels
    "n_shared",  # of those, items with >= 1 human label
    "n_human_labels",  # human labels on the shared items
    "judge_score",  # the judge's mean score on the shared items
    "human_score",  # the human consensus's mean score on the same items
    "bias",  # judge_score - human_score
    "se",  # item-clustered SE of bias
    "ci_low",
    "ci_high",
    "p_value",  # two-sided, H0: bias = 0
    "kappa",  # Cohen's kappa, judge vs human consensus label (binary)
    "n_kappa",  # shared items with a consensus label (no tie)
    "pass_when_humans_fail",  # P(judge pass | consensus fail)
    "n_humans_fail",
    "fail_when_humans_pass",  # P(judge fail | consensus pass)
    "n_humans_pass",
)

#: Most forward-selection passes of :func:`judge_slice_bias` with ``refit``.
MAX_REFITS = 5

#: Columns of :func:`judge_slice_bias` (one row per judge x slice column x value).
SLICE_BIAS_COLUMNS = (
    "labeler",
    "judge",
    "slice_column",
    "slice_value",
    "n_shared",
    "bias",
    "se",
    "ci_low",
    "ci_high",
    "p_value",  # H0: bias in the slice = 0
    "bias_outside",  # bias on the judge's other shared items
    "n_outside",
    "tilt",  # bias - bias_outside
    "tilt_se",
    "tilt_ci_low",
    "tilt_ci_high",
    "tilt_p",  # H0: tilt = 0
)

#: Columns of :func:`judge_self_preference` (one row per judge with a known family).
SELF_PREFERENCE_COLUMNS = (
    "labeler",
    "judge",
    "family",
    "own_models",  # the graded models of the judge's family, comma-separated
    "n_own",  # shared items whose output is of the judge's family
    "n_other",
    "bias_own",
    "se_own",
    "bias_other",
    "se_other",
    "effect",  # bias_own - bias_other
    "se",
    "ci_low",
    "ci_high",
    "p_value",  # H0: effect = 0
    "false_pass_own",  # binary: P(judge pass | humans fail) on its family's outputs
    "n_fail_own",  # shared own-family items the human consensus fails
    "false_pass_other",
    "n_fail_other",
    "false_pass_effect",  # false_pass_own - false_pass_other
    "false_pass_se",
    "false_pass_ci_low",
    "false_pass_ci_high",
    "false_pass_p",  # H0: false_pass_effect = 0
)


def _p(z: np.ndarray | float) -> np.ndarray:
    from evalaudit.stats.multitest import two_sided_p

    return two_sided_p(np.asarray(z, dtype=np.float64))


def _mean_se(d: np.ndarray) -> tuple[float, float]:
    n = len(d)
    if n == 0:
        return float("nan"), float("nan")
    m = float(d.mean())
    return m, float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def _with_ci(m: float, se: float) -> tuple[float, float, float]:
    p = float(_p(m / se)) if np.isfinite(se) and se > 0 else float("nan")
    return m - Z95 * se, m + Z95 * se, p


def judge_audit(
    table: LabelTable,
    is_judge: np.ndarray,
    *,
    family: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per judge: shared items, bias against the human consensus with its CI, kappa, confusion.

    ``table``: a :class:`~evalaudit.table.LabelTable`; ``is_judge``: one
    boolean per labeler code; ``family``: judge id -> model family (shown only).
    Columns :data:`JUDGE_COLUMNS`; a judge with no shared item has NaN
    statistics. See the module docstring for estimands and assumptions.
    """
    inp = item_inputs(table, is_judge)
    binary = table.kind is LabelKind.BINARY
    has_y = np.isfinite(inp.y)
    cons = np.where(inp.y > 0.5, 1.0, np.where(inp.y < 0.5, 0.0, np.nan))
    rows = []
    for c, (code, name) in enumerate(zip(inp.judges, inp.judge_names, strict=True)):
        f = inp.judge_scores[:, c]
        mine = np.isfinite(f)
        sh = mine & has_y
        d = f[sh] - inp.y[sh]
        bias, se = _mean_se(d)
        lo, hi, p = _with_ci(bias, se)
        row = {
            "labeler": int(code),
            "judge": name,
            "family": None if family is None else family.get(name),
            "n_items": int(mine.sum()),
            "n_shared": int(sh.sum()),
            "n_human_labels": int(inp.n_human[sh].sum()),
            "judge_score": float(f[sh].mean()) if sh.any() else float("nan"),
            "human_score": float(inp.y[sh].mean()) if sh.any() else float("nan"),
            "bias": bias,
            "se": se,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p,
            "kappa": float("nan"),
            "n_kappa": 0,
            "pass_when_humans_fail": float("nan"),
            "n_humans_fail": 0,
            "fail_when_humans_pass": float("nan"),
            "n_humans_pass": 0,
        }
        if binary:
            ok = sh & np.isfinite(cons)
            j, h = f[ok] >= 0.5, cons[ok] == 1.0
            row.update(_agreement(j, h))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(JUDGE_COLUMNS))


def _agreement(j: np.ndarray, h: np.ndarray) -> dict[str, float | int]:
    """Cohen's kappa of two binary ratings and the two confusion rates (judge given humans)."""
    n = len(j)
    n_fail, n_pass = int((~h).sum()), int(h.sum())
    out: dict[str, float | int] = {"n_kappa": n, "n_humans_fail": n_fail, "n_humans_pass": n_pass}
    if n == 0:
        return out
    po = float((j == h).mean())
    pj, ph = float(j.mean()), float(h.mean())
    pe = pj * ph + (1 - pj) * (1 - ph)
    out["kappa"] = (po - pe) / (1 - pe) if pe < 1 else float("nan")
    out["pass_when_humans_fail"] = float(j[~h].mean()) if n_fail else float("nan")
    out["fail_when_humans_pass"] = float((~j[h]).mean()) if n_pass else float("nan")
    return out


def judge_slice_bias(
    table: LabelTable,
    is_judge: np.ndarray,
    *,
    columns: Sequence[str] | None = None,
    min_shared: int = 2,
    refit: bool = False,
    strong_p: float = 0.05,
) -> pd.DataFrame:
    """Per judge x slice value: bias against humans on the slice's shared items, and its tilt.

    ``refit``: a judge with one real tilt (lenient on hallucination) makes every other
    slice look tilted the other way, since its bias *elsewhere* holds the real one (the
    shadows the slice scan removes by refitting with flagged cells' own parameters). With
    ``refit``, *strong* slice values are selected forward, one per judge and pass (at most
    :data:`MAX_REFITS`): the judge's most significant tilt with p below ``strong_p`` / its
    number of slice tests (Bonferroni) joins them, and every tilt is recomputed leaving out,
    on both sides, the items of the judge's *other* strong slice values, until no new one
    qualifies (``bias`` stays the slice's raw bias; ``bias_outside``, ``n_outside`` and the
    tilt columns are the refitted ones).

    ``columns``: item columns to scan (default: the table's slice columns, and
    ``model`` when present); values with fewer than ``min_shared`` shared items
    are left out (the audit applies its own ``min_support``). Columns
    :data:`SLICE_BIAS_COLUMNS`; ``p_value`` tests the slice's bias,
    ``tilt_p`` its difference from the judge's bias elsewhere. Unadjusted.
    """
    inp = item_inputs(table, is_judge)
    if columns is None:
        columns = list(table.slice_columns)
        if table.has(MODEL):
            columns.append(MODEL)
    has_y = np.isfinite(inp.y)
    groups = {col: item_groups(table, col) for col in columns}
    strong: dict[int, list[tuple[str, int]]] = {c: [] for c in range(len(inp.judges))}
    rows = _slice_rows(inp, groups, has_y, min_shared, None)
    # forward selection, one slice per judge and pass (as the slice scan adds one cell per
    # labeler and fit): a real tilt's shadows are strong too until the real one is left out
    for _ in range(MAX_REFITS if refit else 0):
        grown = False
        for c in range(len(inp.judges)):
            mine = [r for r in rows if r["_judge"] == c]
            cut = strong_p / max(len(mine), 1)
            cand = [
                r
                for r in mine
                if np.isfinite(r["tilt_p"])
                and r["tilt_p"] < cut
                and (r["slice_column"], r["_v"]) not in strong[c]
            ]
            if cand:
                best = min(cand, key=lambda r: r["tilt_p"])
                strong[c].append((best["slice_column"], best["_v"]))
                grown = True
        if not grown:
            break
        rows = _slice_rows(inp, groups, has_y, min_shared, strong)
    for r in rows:
        r.pop("_judge")
        r.pop("_v")
    return pd.DataFrame(rows, columns=list(SLICE_BIAS_COLUMNS))


def _slice_rows(
    inp: Any,
    groups: Mapping[str, Any],
    has_y: np.ndarray,
    min_shared: int,
    strong: Mapping[int, list[tuple[str, int]]] | None,
) -> list[dict[str, Any]]:
    """The rows of :func:`judge_slice_bias`; ``strong``: per judge column, slices to leave out."""
    rows = []
    for col, g in groups.items():
        for c, (code, name) in enumerate(zip(inp.judges, inp.judge_names, strict=True)):
            f = inp.judge_scores[:, c]
            sh = np.isfinite(f) & has_y
            for v, value in enumerate(g.values):
                inside = sh & (g.value_of_item == v)
                outside = sh & (g.value_of_item != v)
                if inside.sum() < min_shared:
                    continue
                b, se = _mean_se(f[inside] - inp.y[inside])
                n_in = int(inside.sum())
                if strong:
                    others = np.zeros(len(sh), dtype=bool)
                    for sc, sv in strong.get(c, []):
                        if (sc, sv) != (col, v):
                            others |= groups[sc].value_of_item == sv
                    inside = inside & ~others
                    outside = outside & ~others
                    bi, sei = _mean_se(f[inside] - inp.y[inside])
                else:
                    bi, sei = b, se
                bo, seo = _mean_se(f[outside] - inp.y[outside])
                lo, hi, p = _with_ci(b, se)
                tilt, tse = bi - bo, float(np.hypot(sei, seo))
                tlo, thi, tp = _with_ci(tilt, tse)
                rows.append(
                    {
                        "labeler": int(code),
                        "judge": name,
                        "slice_column": col,
                        "slice_value": str(value),
                        "n_shared": n_in,
                        "bias": b,
                        "se": se,
                        "ci_low": lo,
                        "ci_high": hi,
                        "p_value": p,
                        "bias_outside": bo,
                        "n_outside": int(outside.sum()),
                        "tilt": tilt,
                        "tilt_se": tse,
                        "tilt_ci_low": tlo,
                        "tilt_ci_high": thi,
                        "tilt_p": tp,
                        "_judge": c,
                        "_v": v,
                    }
                )
    return rows


def family_of_model(model: str, family: str) -> bool:
    """Whether graded model ``model`` belongs to ``family``: equal, or ``family`` is its prefix
    followed by a separator (``-_/:. ``), case-insensitively.

    >>> family_of_model("gpt-4o", "gpt"), family_of_model("gpteam", "gpt"), family_of_model("A", "a")
    (True, False, True)
    """
    m, f = model.strip().lower(), family.strip().lower()
    return bool(f) and (m == f or (m.startswith(f) and m[len(f)] in "-_/:. "))


def judge_self_preference(
    table: LabelTable,
    is_judge: np.ndarray,
    family: Mapping[str, str],
    *,
    model_family: Mapping[str, str] | Callable[[str, str], bool] | None = None,
) -> pd.DataFrame:
    """Per judge with a known family: its bias on its own family's outputs minus on the others'.

    Needs the ``model`` column (the graded system of each item); ``family``:
    judge id -> model family. Which models are the family's: ``model_family``
    as a dict model -> family, or a predicate ``(model, family) -> bool``
    (default :func:`family_of_model`). Estimand: ``E[f - ybar | own] -
    E[f - ybar | other]`` over shared items; the two item sets are disjoint, so
    ``se = sqrt(se_own^2 + se_other^2)``. A judge whose family grades no model
    (or every model) gets NaN. Columns :data:`SELF_PREFERENCE_COLUMNS`; empty
    without ``model``. The contrast removes a judge's overall leniency: a judge
    lenient everywhere has no self-preference on interval scores; on binary
    labels it does when the families' pass rates differ (a judge passing a share
    ``f`` of the fails it sees moves a model with more fails more: ``f (1 - p)``).
    So binary labels also get the *false-pass* contrast, ``P(judge pass | humans
    fail)`` on own minus other outputs (the consensus-fail items, ties left out;
    Wald SE of a difference of two proportions): a uniform ``f`` gives the same
    false-pass rate whatever the pass rate, and a judge that passes 20% more of
    its own family's failing outputs shows ``~0.2 (1 - e)`` there. Human errors
    blur it (a consensus fail that truly passes is passed by most judges, and
    there are more of those where the pass rate is high), so it is a check on
    ``effect``, not a replacement. NaN on other label kinds.
    """
    if not table.has(MODEL):
        return pd.DataFrame(columns=list(SELF_PREFERENCE_COLUMNS))
    inp = item_inputs(table, is_judge)
    g = item_groups(table, MODEL)
    models = [str(v) for v in g.values]
    if model_family is None:
        belongs: Callable[[str, str], bool] = family_of_model
    elif callable(model_family):
        belongs = model_family
    else:
        fam_map = dict(model_family)

        def belongs(m: str, fam: str) -> bool:
            return fam_map.get(m) == fam

    has_y = np.isfinite(inp.y)
    binary = table.kind is LabelKind.BINARY
    cons = np.where(inp.y > 0.5, 1.0, np.where(inp.y < 0.5, 0.0, np.nan))
    rows = []
    for c, (code, name) in enumerate(zip(inp.judges, inp.judge_names, strict=True)):
        fam = family.get(name)
        if fam is None:
            continue
        own_v = [v for v, m in enumerate(models) if belongs(m, fam)]
        f = inp.judge_scores[:, c]
        sh = np.isfinite(f) & has_y
        own = sh & np.isin(g.value_of_item, own_v)
        other = sh & ~np.isin(g.value_of_item, own_v) & (g.value_of_item >= 0)
        bo, seo = _mean_se(f[own] - inp.y[own])
        bt, set_ = _mean_se(f[other] - inp.y[other])
        eff, se = bo - bt, float(np.hypot(seo, set_))
        lo, hi, p = _with_ci(eff, se)
        rows.append(
            {
                "labeler": int(code),
                "judge": name,
                "family": fam,
                "own_models": ",".join(models[v] for v in own_v),
                "n_own": int(own.sum()),
                "n_other": int(other.sum()),
                "bias_own": bo,
                "se_own": seo,
                "bias_other": bt,
                "se_other": set_,
                "effect": eff,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                **_false_pass(f, cons, own, other, binary),
            }
        )
    return pd.DataFrame(rows, columns=list(SELF_PREFERENCE_COLUMNS))


def _false_pass(
    f: np.ndarray, cons: np.ndarray, own: np.ndarray, other: np.ndarray, binary: bool
) -> dict[str, float | int]:
    """The false-pass contrast of :func:`judge_self_preference` (NaN unless binary)."""
    nan = float("nan")
    out: dict[str, float | int] = dict.fromkeys(SELF_PREFERENCE_COLUMNS[-9:], nan)
    out["n_fail_own"] = out["n_fail_other"] = 0
    if not binary:
        return out
    fo, ft = f[own & (cons == 0.0)] >= 0.5, f[other & (cons == 0.0)] >= 0.5
    out["n_fail_own"], out["n_fail_other"] = len(fo), len(ft)
    if not len(fo) or not len(ft):
        return out
    po, pt = float(fo.mean()), float(ft.mean())
    se = float(np.sqrt(po * (1 - po) / len(fo) + pt * (1 - pt) / len(ft)))
    lo, hi, p = _with_ci(po - pt, se)
    out.update(
        false_pass_own=po,
        false_pass_other=pt,
        false_pass_effect=po - pt,
        false_pass_se=se,
        false_pass_ci_low=lo,
        false_pass_ci_high=hi,
        false_pass_p=p,
    )
    return out
