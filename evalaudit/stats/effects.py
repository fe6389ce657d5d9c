"""The joint labeler-effects model: leniency, tilt and their covariance, estimated together.

Model (the many-facet idea of FACETS / Linacre's many-facet Rasch measurement,
on the score scale instead of the logit scale):

    y_r = a_u(r) + b_l(r) + g_k(r) + e_r

- ``y_r``: the score of label ``r`` (binary: 1 = pass; ordinal: rank scaled to
  [0, 1]; interval: raw units), see :class:`~evalaudit.table.LabelTable`;
- ``a_u``: the *unit* effect. A unit is an item when the item has two or more
  labels (the item's difficulty and its true label are absorbed entirely), and
  a *stratum* of single-labeled items otherwise (strata: every slice column x
  ``model``, as in :func:`evalaudit.stats.leniency.strata_codes`);
- ``b_l``: the labeler's effect (leniency when positive);
- ``g_k``: a labeler x slice *interaction* for the cells ``k`` that have their
  own parameter (a partition of some labelers' labels; every other label has
  ``g = 0``): the cell's effect minus the labeler's effect on its other labels;
- ``e_r``: noise, independent across items, any variance (heteroskedastic: a
  binary label's variance depends on its pass rate), correlated within an item.

**Estimand.** A labeler's *leniency* is its average effect over its own labels,
``b_l + sum_k (n_k / n_l) g_k``, minus the label-weighted mean of the same
quantity over the *reference* labelers other than itself in the same connected
component (see below): how much more often it passes an output than the average
peer would on the same kind of items. A cell's *tilt* is ``g_k``; its leniency
is ``b_l + g_k`` against the same reference.

**Estimation.** Least squares with the unit effects absorbed (the within
transformation: Frisch-Waugh-Lovell), which leaves a small system in the
labeler and cell parameters: ``M theta = z`` with
``M = X'X - sum_u c_u c_u' / n_u`` (``c_u``: the parameters' label counts in
unit ``u``) and ``z = sum_r x_r (y_r - ybar_u)``, built from integer codes by
bincounts and one sparse product, solved densely (``P`` = labelers + cells).
``M`` is singular along the common shift of the labelers of each connected
component (labelers are connected when they share a unit); the contrasts we
report do not depend on how that shift is fixed, so one linear constraint per
component is added (a KKT system). Labelers alone in their component (e.g.
every label of theirs is in a stratum no other labeler grades) have no
estimable leniency and get NaN (evidence ``none``).

Because every labeler has its own ``b``, a lenient labeler's leniency is
absorbed by its own parameter and never enters a peer's baseline: the leave-one-
out mean of co-labels and the stratum mean of other labelers' single labels
(evidence A and B of :mod:`evalaudit.stats.leniency`) both leak a poisoner's
bias into honest peers (about -1 to -3 points in ``benchmarks/contamination.py``
on v0.1). A labeler *lenient on one slice only* is absorbed by ``b_l`` only on
average; the rest of its tilt would still leak into the strata of that slice.
So the audit fits, screens and refits (:func:`evalaudit.audit.detect`): cells
flagged in one fit get their own ``g_k`` in the next, flagged labelers leave the
reference, until the flags repeat.

**Standard errors.** Cluster-robust (sandwich) covariance with items as
clusters, ``V = G B G`` with ``G`` the constrained inverse of ``M`` and ``B``
the sum over items of the outer product of their score contributions:
``sum_{r in u} x_r e_r`` for a multi-labeled item (the within-item residuals
sum to zero, so the demeaning term drops out), ``(x_r - xbar_s) e_r`` for a
single-labeled item of stratum ``s``. With the unit effects absorbed, this
accounts for the estimated baselines (the unit means and every other
labeler's estimated effect, through ``G``) and for items shared between
labelers (Liang & Zeger 1986, doi:10.1093/biomet/73.1.13; cluster-robust
inference with absorbed fixed effects: Cameron & Miller 2015,
doi:10.3368/jhr.50.2.317). A CR1 factor ``G/(G-1)`` is applied.

**Cells without a parameter** (the slice scan of every labeler x slice value
and pair of values) are tested by the one-step (score) estimator of adding
their ``g_k`` to the current fit: with ``U_k = sum_{r in k} e_r`` (residuals of
the fit) and the cell's column residualized on the units and on its own
labeler's column, ``g_k = U_k / J_k``, ``J_k = J0_k (1 - beta_k)``,
``beta_k = J0_k / M_ll`` (the share of the labeler's information that lies in
the cell), and the robust variance ``[(1-beta)^2 V_in + beta^2 V_out] / J_k^2``
from the same cluster contributions. This is exact for the labeler's own
column; the residualization on *other* labelers' columns is left out (their
share of a cell's information is ``O(n_k / n_j)``: about 1% in a 24-labeler
design, see ``benchmarks/calibration.py``). A flagged cell is refit with its
own parameter, so every reported flagged estimate is the exact one.

**Rows used.** Every label with a finite score. Single-labeled items in a
stratum graded by one labeler only carry no information on that labeler
(``M`` has no entry for them).

**Assumption.** Within a unit, which labeler grades an item is unrelated to the
item's true score: for multi-labeled items that holds by construction (the
item effect absorbs the item), for single-labeled items it is *assignment at
random within strata, given the slice columns and model* (tested per labeler
by the item-mix imbalance check of :mod:`evalaudit.stats.leniency`, reported as
``assignment_imbalance``).

Reference: Linacre, J. M. (1989), *Many-facet Rasch measurement*, MESA Press;
Eckes, T. (2015), *Introduction to Many-Facet Rasch Measurement*, ch. 5 (rater
severity and rater x facet interactions); the additive score-scale version is
the two-way fixed-effects model of Abowd, Kramarz & Margolis (1999),
doi:10.1111/1468-0262.00020, estimated by the same within transformation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from evalaudit.stats.multitest import wald_p

__all__ = ["EffectsFit", "Units", "cell_tilts", "cov_given_shifts", "fit_effects", "units_of"]

#: A labeler's information ``M_ll`` below this (in labels) is treated as none.
MIN_INFORMATION = 1e-9
#: Pseudo-labels pulling a stratum's residual variance toward the overall one.
STRATUM_PRIOR = 2.0


@dataclass(frozen=True)
class Units:
    """The unit of every usable label row and what the fit needs of it.

    ``rows``: positions (in the table) of the labels with a finite score;
    ``unit``: unit code per used row (multi-labeled items first, then strata);
    ``n_multi_units``: units ``0..n_multi_units-1`` are items; ``size``: labels
    per unit; ``multi``: per used row, whether its unit is an item.
    """

    rows: np.ndarray
    unit: np.ndarray
    n_units: int
    n_multi_units: int
    size: np.ndarray
    multi: np.ndarray
    #: every table row is used (``rows`` is ``0..n-1``): per-row arrays need no gather
    full: bool = False
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def units_of(item: np.ndarray, stratum: np.ndarray, ok: np.ndarray, n_items: int) -> Units:
    """Units of the rows with ``ok``: items with 2+ usable labels, else the item's stratum."""
    rows = np.flatnonzero(ok)
    full = len(rows) == len(item)
    it = item if full else item[rows]  # every row used: no gather
    m = np.bincount(it, minlength=n_items)
    multi = m[it] >= 2
    multi_items = np.flatnonzero(m >= 2)
    del m
    n_multi = len(multi_items)
    st = stratum if full else stratum[rows]
    n_strata = int(st.max()) + 1 if len(st) else 0
    n_units = n_multi + n_strata
    # positions and unit codes as int32 while they fit: 8 bytes a label less, held by every fit
    small = max(len(item), n_units) < np.iinfo(np.int32).max
    code_type = np.int32 if small else np.int64
    rows = rows.astype(code_type, copy=False)
    item_code = np.full(n_items, -1, dtype=code_type)
    item_code[multi_items] = np.arange(n_multi, dtype=code_type)
    unit = item_code[it]
    del item_code
    np.add(st, n_multi, out=unit, where=~multi, casting="unsafe")
    size = np.bincount(unit, minlength=n_units).astype(np.float64)
    return Units(rows, unit, n_units, n_multi, size, multi, full)


@dataclass(frozen=True)
class EffectsFit:
    """One fit of the joint model.

    ``theta``: labeler effects ``b`` (first ``n_labelers``) then cell
    interactions ``g``; ``cov``: their cluster-robust covariance (NaN rows for
    unidentified labelers); ``resid``: per used row, the residual ``e_r``;
    ``param_labeler``: the labeler of each parameter; ``n_param``: labels per
    parameter; ``info``: the diagonal of ``M``; ``component``: connected
    component per labeler (-1: unidentified); ``contrast``: labelers x params,
    each labeler's leniency as a linear combination of ``theta``; ``leniency``,
    ``se``: ``contrast @ theta`` and its SE; ``main``, ``main_se``: the
    labeler's effect on its labels outside its own cells, against the same
    peers (equal to ``leniency`` for a labeler without cells); ``cell_row``:
    per used row, its cell parameter (-1: none).
    """

    theta: np.ndarray
    cov: np.ndarray
    resid: np.ndarray
    n_labelers: int
    param_labeler: np.ndarray
    n_param: np.ndarray
    info: np.ndarray
    component: np.ndarray
    reference: np.ndarray
    contrast: np.ndarray
    avg: np.ndarray
    leniency: np.ndarray
    se: np.ndarray
    main: np.ndarray
    main_se: np.ndarray
    cell_row: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def peers(self, labeler: int) -> np.ndarray:
        """The reference peers of ``labeler`` as a combination of ``theta`` (their mean effect)."""
        return self.avg[labeler] - self.contrast[labeler]

    def vs_peers(self, labeler: int, a: np.ndarray) -> tuple[float, float]:
        """``a @ theta`` (an effect of ``labeler``'s labels) minus its peers', and the SE."""
        if not self.contrast[labeler].any():
            return float("nan"), float("nan")
        c = a - self.peers(labeler)
        th = np.where(np.isfinite(self.theta), self.theta, 0.0)
        return float(c @ th), self.combo_se(c)

    def combo_se(self, a: np.ndarray) -> float:
        """SE of the linear combination ``a @ theta``."""
        ok = a != 0
        if not ok.any():
            return 0.0
        sub = self.cov[np.ix_(ok, ok)]
        return float(np.sqrt(max(a[ok] @ sub @ a[ok], 0.0)))


#: Items with more labels than this go through a sparse product instead of the per-size loop.
KMAX = 16


@dataclass(frozen=True)
class _Layout:
    """What every fit of one design shares: row codes and the units' structure (cached).

    ``full``: every table row is used (row arrays need no gather); ``lab``: labeler
    code per used row; ``classes``: per item size ``k`` (2..KMAX), the used-row positions of those items'
    labels as an ``(items, k)`` matrix, so sums over pairs of labels of one item are
    ``k`` vectorized passes instead of a sparse product; ``big`` / ``big_unit`` / ``big_w``: the
    labels of larger items, a local item code and their weight ``1 / sqrt(n_u)``. ``si``: positions of single labels,
    ``s``: their stratum (``0..n_s-1``), ``size_s``: labels per stratum, ``n_lab_s``:
    the strata x labelers count matrix; ``ls_code`` / ``ls_key`` / ``n_ls``: each single
    label's (labeler, stratum) pair, the pairs and their counts; ``j_row``: each label's
    information (1 minus its share of its unit's labels of its labeler's). Positions and
    codes are int32 while the rows fit.
    """

    full: bool
    lab: np.ndarray
    classes: tuple[np.ndarray, ...]
    big: np.ndarray
    big_unit: np.ndarray
    big_w: np.ndarray
    n_big: int
    si: np.ndarray
    s: np.ndarray
    n_s: int
    size_s: np.ndarray
    n_lab_s: sparse.csr_matrix
    ls_code: np.ndarray
    ls_key: np.ndarray
    n_ls: np.ndarray
    j_row: np.ndarray


def _layout(units: Units, labeler: np.ndarray, n_labelers: int) -> _Layout:
    key = (id(labeler), n_labelers)
    hit = units.cache.get("layout")
    if hit is not None and hit[0] == key:
        out: _Layout = hit[1]
        return out
    rows = units.rows
    full = units.full and len(labeler) == len(rows)
    lab = labeler if full else labeler[rows]  # the caller's codes (int32): no copy
    L = n_labelers
    multi = units.multi
    # positions into the used rows: int32 while they fit (every per-row array of the layout
    # is held through all the fits of the design)
    pos_type = units.unit.dtype
    mu = np.flatnonzero(multi).astype(pos_type, copy=False)
    order = mu[np.argsort(units.unit[mu], kind="stable")]
    del mu
    sizes = units.size[: units.n_multi_units].astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    classes = []
    big_units = np.flatnonzero(sizes > KMAX)
    for k in np.unique(sizes[(sizes >= 2) & (sizes <= KMAX)]):
        us = np.flatnonzero(sizes == k)
        classes.append(order[starts[us][:, None] + np.arange(int(k))])
    if len(big_units):
        take = np.concatenate([np.arange(starts[b], starts[b] + sizes[b]) for b in big_units])
        big = order[take]
        big_unit = np.repeat(np.arange(len(big_units)), sizes[big_units])
    else:
        big, big_unit = np.zeros(0, np.int64), np.zeros(0, np.int64)
    big_w = np.sqrt(1.0 / units.size[units.unit[big]]) if len(big) else np.zeros(0)
    si = np.flatnonzero(~multi).astype(pos_type, copy=False)
    s = units.unit[si] - units.n_multi_units
    n_s = units.n_units - units.n_multi_units
    size_s = units.size[units.n_multi_units :]
    ls_code, ls_key = _factorize(lab[si].astype(np.int64) * max(n_s, 1) + s, L * max(n_s, 1))
    n_ls = np.bincount(ls_code, minlength=len(ls_key)).astype(np.float64)
    n_lab_s = sparse.csr_matrix(
        (n_ls, (ls_key % max(n_s, 1), ls_key // max(n_s, 1))), shape=(n_s, L)
    )
    inv_size = 1.0 / np.maximum(units.size, 1.0)
    # a label's information: 1 - its share of its unit (items: 1/n_u; strata: the labeler's)
    j_row = 1.0 - inv_size[units.unit]
    if len(si):
        j_row[si] = 1.0 - (n_ls / size_s[ls_key % n_s])[ls_code]
    out = _Layout(
        full,
        lab,
        tuple(classes),
        big,
        big_unit,
        big_w,
        len(big_units),
        si,
        s,
        n_s,
        size_s,
        n_lab_s,
        ls_code,
        ls_key,
        n_ls,
        j_row,
    )
    units.cache["layout"] = (key, out)
    return out


def _pair_sums(
    lay: _Layout,
    ia: np.ndarray,
    wa: np.ndarray | None,
    ib: np.ndarray,
    wb: np.ndarray | None,
    na: int,
    nb: int,
) -> np.ndarray:
    """``sum_items sum_{r, r' in item} wa_r wb_r' [ia_r, ib_r']`` as a dense ``na x nb`` array.

    ``ia`` / ``ib``: a column index per used row (-1: the row has none); ``wa`` and ``wb``
    both None: the weights ``1 / sqrt(n_u)`` of the within transformation (``1 / k`` for a
    pair in an item of ``k`` labels, so no per-row weight array is held). Only
    multi-labeled items; the pairs include ``r = r'``.
    """
    if na * nb >= np.iinfo(np.int32).max:  # the flat keys need 64 bits
        ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    unit_weights = wa is None or wb is None
    out = np.zeros(na * nb)
    for pos in lay.classes:
        a_idx, b_idx = ia[pos], ib[pos]
        k = pos.shape[1]
        if unit_weights:
            has_b = b_idx >= 0
            every_b = bool(has_b.all())
            for a in range(k):
                has_a = a_idx[:, a] >= 0
                if every_b and has_a.all():
                    key = (a_idx[:, a, None] * nb + b_idx).ravel()
                else:
                    sel = has_a[:, None] & has_b
                    if not sel.any():
                        continue
                    key = np.broadcast_to(a_idx[:, a, None], sel.shape)[sel] * nb + b_idx[sel]
                out += np.bincount(key, minlength=na * nb) / k
            continue
        assert wa is not None and wb is not None
        a_w, b_w = wa[pos], np.where(b_idx >= 0, wb[pos], 0.0)
        b_idx = np.maximum(b_idx, 0)
        for a in range(k):
            sel = a_idx[:, a] >= 0
            if not sel.any():
                continue
            if sel.all():
                key = a_idx[:, a, None] * nb + b_idx
                w = a_w[:, a, None] * b_w
            else:
                key = a_idx[sel, a, None] * nb + b_idx[sel]
                w = a_w[sel, a, None] * b_w[sel]
            out += np.bincount(key.ravel(), weights=w.ravel(), minlength=na * nb)
    res = out.reshape(na, nb)
    if lay.n_big:
        big, bu = lay.big, lay.big_unit
        wa_big = lay.big_w if wa is None else wa[big]
        wb_big = lay.big_w if wb is None else wb[big]
        ma, mb = ia[big] >= 0, ib[big] >= 0
        sa = sparse.csr_matrix((wa_big[ma], (bu[ma], ia[big][ma])), shape=(lay.n_big, na))
        sb = sparse.csr_matrix((wb_big[mb], (bu[mb], ib[big][mb])), shape=(lay.n_big, nb))
        res += (sa.T @ sb).toarray()
    return res


def _strata_counts(lay: _Layout, ck: np.ndarray, n_cells: int) -> sparse.csr_matrix:
    """The strata x params count matrix of single labels (labelers, then cells)."""
    if not n_cells:
        return lay.n_lab_s
    k = ck[lay.si]
    has = k >= 0
    n_cs = sparse.csr_matrix(
        (np.ones(int(has.sum())), (lay.s[has], k[has])), shape=(lay.n_s, n_cells)
    )
    return sparse.hstack([lay.n_lab_s, n_cs], format="csr")


def fit_effects(
    units: Units,
    score: np.ndarray,
    labeler: np.ndarray,
    n_labelers: int,
    cell: np.ndarray | None = None,
    cell_labeler: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> EffectsFit:
    """Fit the joint model on the used rows of ``units``.

    ``score`` and ``labeler`` are per table row; ``cell`` (per table row, -1 =
    none) gives the rows of the cells with their own parameter, ``cell_labeler``
    each such cell's labeler. ``reference`` (bool per labeler, default all)
    are the labelers whose label-weighted mean effect is the zero point of
    leniency. See the module docstring for the model and the covariance.
    """
    rows = units.rows
    lay = _layout(units, labeler, n_labelers)
    yk = ("y", id(score))
    hit = units.cache.get("y")
    if hit is None or hit[0] != yk:
        hit = (yk, (score if lay.full else score[rows]).astype(np.float64, copy=False))
        units.cache["y"] = hit
    y = hit[1]
    n_cells = 0 if cell_labeler is None else len(cell_labeler)
    if cell is None:
        # one shared "no cell" row array per units (the first fit and every fit without cells)
        ck = units.cache.get("no_cell")
        if ck is None or len(ck) != len(rows):
            ck = np.full(len(rows), -1, dtype=np.int8)
            ck.flags.writeable = False
            units.cache["no_cell"] = ck
    else:
        ck = cell if lay.full else cell[rows]
    has_cell = ck >= 0
    L, P = n_labelers, n_labelers + n_cells
    if reference is None:
        reference = np.ones(L, dtype=bool)
    param_labeler = np.concatenate(
        [np.arange(L), np.asarray(cell_labeler, dtype=np.int64) if n_cells else []]
    ).astype(np.int64)

    # M = X'X - sum_u c_u c_u' / n_u (c_u: the unit's label counts per parameter); the
    # labeler block and z's labeler part do not depend on the cells: kept per units
    lab = lay.lab
    key = ("labelers", id(score), id(labeler), L)
    base = units.cache.get("labelers")
    if base is None or base[0] != key:
        n_lab = np.bincount(lab, minlength=L).astype(np.float64)
        inv_s = sparse.diags(1.0 / np.maximum(lay.size_s, 1.0))
        m_ll = np.diag(n_lab) - _pair_sums(lay, lab, None, lab, None, L, L)
        m_ll -= (lay.n_lab_s.T @ inv_s @ lay.n_lab_s).toarray()
        ybar = np.bincount(units.unit, weights=y, minlength=units.n_units) / np.maximum(
            units.size, 1.0
        )
        yc = y - ybar[units.unit]
        z_l = np.bincount(lab, weights=yc, minlength=L)
        del yc
        # the unit means, not the centred scores: the cells' part of z needs their rows only,
        # and a per-label array held through every fit is 8 bytes a label
        base = (key, n_lab, m_ll, ybar, z_l)
        units.cache["labelers"] = base
    _, n_lab, m_ll, ybar, z_l = base
    n_cell = np.bincount(ck[has_cell], minlength=n_cells).astype(np.float64)
    n_param = np.concatenate([n_lab, n_cell])
    m_mat = np.zeros((P, P))
    m_mat[:L, :L] = m_ll
    z = z_l
    if n_cells:
        cl = param_labeler[L:]
        inv_s = sparse.diags(1.0 / np.maximum(lay.size_s, 1.0))
        n_ps = _strata_counts(lay, ck, n_cells)
        n_cs = n_ps[:, L:]
        m_kk = np.diag(n_cell) - _pair_sums(lay, ck, None, ck, None, n_cells, n_cells)
        m_kk -= (n_cs.T @ inv_s @ n_cs).toarray()
        m_kl = -_pair_sums(lay, ck, None, lab, None, n_cells, L)
        m_kl -= (n_cs.T @ inv_s @ lay.n_lab_s).toarray()
        m_kl[np.arange(n_cells), cl] += n_cell
        m_mat[L:, L:] = m_kk
        m_mat[L:, :L] = m_kl
        m_mat[:L, L:] = m_kl.T
        z = np.concatenate(
            [
                z_l,
                np.bincount(
                    ck[has_cell], weights=_centred(y, ybar, units.unit, has_cell), minlength=n_cells
                ),
            ]
        )

    # identifiable labelers and their connected components
    info = np.diag(m_mat).copy()
    ident = info[:L] > MIN_INFORMATION
    adj = sparse.csr_matrix(np.abs(m_mat[:L, :L]) > MIN_INFORMATION)
    _, comp = connected_components(adj, directed=False)
    comp = np.where(ident, comp, -1)
    # a cell parameter needs information of its own beyond its labeler's
    good = np.concatenate([ident, ident[param_labeler[L:]] & (info[L:] > MIN_INFORMATION)])

    idx = np.flatnonzero(good)
    extra: dict[str, Any] = {}
    theta = np.full(P, np.nan)
    cov = np.full((P, P), np.nan)
    resid = np.full(len(rows), np.nan)
    contrast = np.zeros((L, P))
    avg = np.zeros((L, P))
    lenc = np.full(L, np.nan)
    se = np.full(L, np.nan)
    if len(idx):
        comps = np.unique(comp[comp >= 0])
        # one constraint per component: its labelers' label-weighted mean b is 0
        a_con = np.zeros((len(idx), len(comps)))
        pos = {c: i for i, c in enumerate(comps)}
        for j, p in enumerate(idx):
            if p < L:
                a_con[j, pos[comp[p]]] = n_lab[p]
        kkt = np.block([[m_mat[np.ix_(idx, idx)], a_con], [a_con.T, np.zeros((len(comps),) * 2)]])
        # a singular system (a parameter with no information of its own) must not blow up
        # into huge estimates: fall back to the pseudo-inverse
        try:
            inv = np.linalg.inv(kkt)
            rhs = np.concatenate([z[idx], np.zeros(len(comps))])
            scale = max(float(np.abs(rhs).max()), 1.0)
            if not np.isfinite(inv).all() or np.abs(kkt @ (inv @ rhs) - rhs).max() > 1e-8 * scale:
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(kkt, rcond=1e-10, hermitian=True)
        g = inv[: len(idx), : len(idx)]
        th = g @ z[idx]
        theta[idx] = th
        # residuals: y - fitted, demeaned within unit
        th_full = np.where(np.isfinite(theta), theta, 0.0)
        # in place (one per-row array instead of three): y - fitted, then less its unit mean
        resid = th_full[lab]
        if n_cells:
            resid[has_cell] += th_full[L + ck[has_cell].astype(np.int64)]
        np.subtract(y, resid, out=resid)
        rbar = np.bincount(units.unit, weights=resid, minlength=units.n_units) / np.maximum(
            units.size, 1.0
        )
        resid -= rbar[units.unit]
        # the strata's pooled residual variance, for the meat and the scan's variances
        if len(lay.si):
            extra["stratum_var"] = _stratum_variance(lay.s, resid[lay.si], lay.n_s)
        bmat = _meat(units, lay, ck, n_cells, L, P, resid, extra.get("stratum_var"))
        bmat = bmat[np.ix_(idx, idx)]
        n_clusters = units.n_multi_units + int((~units.multi).sum())
        cr1 = n_clusters / max(n_clusters - 1.0, 1.0)
        cov_idx = cr1 * (g @ bmat @ g)
        cov[np.ix_(idx, idx)] = cov_idx
        # the bread, for a covariance with some clusters' contributions replaced
        # (cov_given_shifts); P x P, cleared with the fit's other intermediates
        extra["bread"] = (idx, g, cr1)

        # leniency contrasts: average effect over own labels vs the reference peers
        avg = np.zeros((L, P))
        avg[np.arange(L), np.arange(L)] = 1.0
        if n_cells:
            share = np.where(n_lab[param_labeler[L:]] > 0, n_cell / n_lab[param_labeler[L:]], 0.0)
            avg[param_labeler[L:], L + np.arange(n_cells)] = share
        avg[:, ~good] = 0.0
        ref = reference & ident
        for c in comps:
            members = np.flatnonzero(comp == c)
            rmem = members[ref[members]]
            if len(rmem) == 0:
                rmem = members
            wts = n_lab[rmem] / n_lab[rmem].sum()
            ref_row = wts @ avg[rmem]
            for lbl in members:
                wl = wts[rmem == lbl][0] if lbl in rmem else 0.0
                if wl >= 1.0 - 1e-12:
                    continue  # the only reference labeler of its component: no peers
                contrast[lbl] = (avg[lbl] - ref_row) / (1.0 - wl)
        cg = contrast[:, idx]
        lenc = np.where(comp >= 0, cg @ th, np.nan)
        var = ((cg @ cov_idx) * cg).sum(axis=1)
        se = np.where(comp >= 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
        no_peer = ~contrast.any(axis=1)
        lenc[no_peer] = np.nan
        se[no_peer] = np.nan
        # the main effect (labels outside the labeler's own cells) against the same peers
        main_c = -(avg - contrast)
        main_c[np.arange(L), np.arange(L)] += 1.0
        mg = main_c[:, idx]
        main = np.where(comp >= 0, mg @ th, np.nan)
        main_se = np.where(
            comp >= 0, np.sqrt(np.maximum(((mg @ cov_idx) * mg).sum(axis=1), 0.0)), np.nan
        )
        main[no_peer] = np.nan
        main_se[no_peer] = np.nan
    else:
        main, main_se = lenc.copy(), se.copy()
    return EffectsFit(
        theta=theta,
        cov=cov,
        resid=resid,
        n_labelers=L,
        param_labeler=param_labeler,
        n_param=n_param,
        info=info,
        component=comp,
        reference=reference.copy(),
        contrast=contrast,
        avg=avg if len(idx) else np.zeros((L, P)),
        leniency=lenc,
        se=se,
        main=main,
        main_se=main_se,
        cell_row=ck,
        extra=extra,
    )


def _centred(y: np.ndarray, ybar: np.ndarray, unit: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``y - ybar[unit]`` on ``rows`` only (a mask): the same numbers as the full array's."""
    return y[rows] - ybar[unit[rows]]


def _meat(
    units: Units,
    lay: _Layout,
    ck: np.ndarray,
    n_cells: int,
    L: int,
    P: int,
    resid: np.ndarray,
    v: np.ndarray | None,
) -> np.ndarray:
    """The sandwich's meat: sum over items of the outer product of their score contributions.

    ``v``: the strata's pooled residual variance (:func:`_stratum_variance`).
    """
    lab = lay.lab
    # multi-labeled items: one cluster per item, contribution s_u = sum_r x_r e_r, and
    # x_r has a 1 at its labeler and at its cell: s_u s_u' by pairs of the item's labels
    meat = _pair_sums(lay, lab, resid, lab, resid, P, P)
    if n_cells:
        cp = np.where(ck >= 0, L + ck.astype(np.int64), -1)
        cl = _pair_sums(lay, cp, resid, lab, resid, P, P)
        meat += cl + cl.T + _pair_sums(lay, cp, resid, cp, resid, P, P)
    # single-labeled items: one cluster per row, contribution (x_r - xbar_s) e_r; with the
    # stratum's pooled variance v_s for e_r^2 the sum is own - N' diag(v_s / n_s) N
    if len(lay.si) and v is not None:
        n_ps = _strata_counts(lay, ck, n_cells)
        own_diag = np.asarray(n_ps.T @ v).ravel()
        own = np.diag(own_diag)
        if n_cells:
            # a cell's label also counts for its labeler: the (labeler, cell) entries
            rows_k = np.arange(n_cells)
            labs_k = np.zeros(n_cells, dtype=np.int64)
            k = ck[lay.si]
            has = k >= 0
            labs_k[k[has]] = lab[lay.si][has]
            own[labs_k, L + rows_k] += own_diag[L:]
            own[L + rows_k, labs_k] += own_diag[L:]
        d = sparse.diags(v / np.maximum(lay.size_s, 1.0))
        meat += own - (n_ps.T @ d @ n_ps).toarray()
    return meat


#: Rows per pass where a per-label temporary would otherwise cost 8-16 bytes a label.
_CHUNK = 1 << 20


def cov_given_shifts(
    fit: EffectsFit, units: Units, labeler: np.ndarray, suspect: np.ndarray
) -> np.ndarray:
    """The covariance of ``theta`` given the realised shifts of the suspect labels.

    The corrected headline (:func:`evalaudit.detection.corrected_headline`)
    estimates the headline *these* items would have had with honest suspect
    labels: a finite-sample quantity. Each suspect label is ``y_r = y0_r +
    t_r`` (its honest score plus its shift); the correction ``n_g e_g``
    estimates the realised ``sum t_r`` of group ``g``, and its error is the
    prediction error of the honest scores ``y0_r``, not the sampling error of
    the *expected* shift. The sandwich of :func:`fit_effects` estimates the
    latter: on a multi-labeled item a suspect label's residual carries the
    spread of the shifts (``t_r - tbar``, e.g. which of a lenient labeler's
    fails it turned into passes), which the counterfactual holds fixed. This
    covariance replaces the observed contributions of the items that hold a
    suspect label (``suspect``: bool per used row; e.g. a parameterized cell's
    labels, a flagged labeler's shifted labels) by their
    expectation under honest noise: ``v_m sum_r (x_r - xbar_u)(x_r - xbar_u)'``
    for an item of ``m`` labels, with ``v_m`` the raw noise variance of a label,
    ``m / (m - 1)`` times the mean squared residual on the items of ``m``
    labels *without* a suspect label (all sizes pooled where a size has none).
    Every other item (and every single-labeled item, whose contribution
    already uses its stratum's pooled variance) is unchanged.

    Assumption: on the suspects' items every label's honest noise has the
    variance of labels on the other items of the same size (labelers and items
    exchangeable in their noise; a binary label's variance varies with its
    item's pass rate, so this holds on average). The distinction is the sample
    vs population estimand of causal inference (Imbens 2004,
    doi:10.1162/003465304323023651; Abadie, Athey, Imbens & Wooldridge 2020,
    doi:10.3982/ECTA12675): the population interval is conservative for the
    sample quantity (measured: its z-spread is ~0.65 against the twin with
    every item labeled three times, ``tests/test_corrected_headline.py``).
    Returns ``fit.cov`` itself when no suspect label is on a
    multi-labeled item, when every multi-labeled item holds one (no honest noise
    to compare with), or when the fit's bread was released.
    """
    bread = fit.extra.get("bread")
    multi = units.multi
    if bread is None or not len(fit.resid):
        return fit.cov
    hit = suspect & multi
    if not hit.any():
        return fit.cov
    lab = labeler if (units.full and len(labeler) == len(units.rows)) else labeler[units.rows]
    has_u = np.zeros(units.n_units, dtype=bool)
    has_u[units.unit[hit]] = True
    del hit
    # the honest residual variance by item size: items without a suspect label (in chunks of
    # rows: no per-label temporaries at 10^8 labels)
    size = np.minimum(units.size, KMAX + 1).astype(np.int32)
    n_size = np.zeros(KMAX + 2)
    honest = np.zeros(KMAX + 2)
    for start in range(0, len(multi), _CHUNK):
        part = slice(start, start + _CHUNK)
        u = units.unit[part]
        free = multi[part] & ~has_u[u]
        fs = size[u[free]]
        n_size += np.bincount(fs, minlength=KMAX + 2)
        honest += np.bincount(
            fs, weights=np.nan_to_num(fit.resid[part][free]) ** 2, minlength=KMAX + 2
        )
    if n_size.sum() < 2:
        # every multi-labeled item holds a suspect label (a judge on every item shifted
        # everywhere): no honest noise to compare with, the unconditional covariance stands
        return fit.cov
    pooled = honest.sum() / n_size.sum()
    honest = np.where(n_size > 0, honest / np.maximum(n_size, 1.0), pooled)
    rows = np.flatnonzero(multi & has_u[units.unit])
    del has_u
    e_old = np.nan_to_num(fit.resid[rows])
    unit_ids, local = np.unique(units.unit[rows], return_inverse=True)
    n_loc = len(unit_ids)
    m_u = units.size[unit_ids]
    # an honest label's raw noise variance on an item of m labels: the within-item residual's
    # mean square is (m - 1) / m of it
    raw_u = honest[np.minimum(m_u, KMAX + 1).astype(np.int64)] * m_u / np.maximum(m_u - 1.0, 1.0)
    L = fit.n_labelers
    P = len(fit.theta)
    ck = fit.cell_row[rows].astype(np.int64)
    has_c = ck >= 0
    c_idx = np.concatenate([lab[rows].astype(np.int64), L + ck[has_c]])

    def spread(w: np.ndarray, by: np.ndarray, n: int) -> sparse.csr_matrix:
        data = np.concatenate([w, w[has_c]])
        return sparse.csr_matrix((data, (np.concatenate([by, by[has_c]]), c_idx)), shape=(n, P))

    ones = np.ones(len(rows))
    # the clusters' observed contributions: s_u = sum_r x_r e_r (residuals sum to 0 in an item)
    s_old = spread(e_old, local, n_loc).tocsc()
    old = np.asarray((s_old.T @ s_old).toarray())
    # their expectation with honest noise of variance raw_u on every label of the item:
    # raw_u sum_r (x_r - xbar_u)(x_r - xbar_u)' = raw_u (X_u'X_u - c_u c_u' / m_u)
    x = spread(np.sqrt(raw_u[local]), np.arange(len(rows)), len(rows)).tocsc()
    c_u = spread(ones, local, n_loc)
    c_w = sparse.diags(np.sqrt(raw_u / m_u)) @ c_u
    new = np.asarray((x.T @ x).toarray()) - np.asarray((c_w.T @ c_w).toarray())
    idx, g_inv, cr1 = bread
    diff = (new - old)[np.ix_(idx, idx)]
    out = fit.cov.copy()
    out[np.ix_(idx, idx)] += cr1 * (g_inv @ diff @ g_inv)
    return out


def cell_tilts(
    fit: EffectsFit,
    units: Units,
    labeler: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    group_labeler: np.ndarray,
) -> dict[str, np.ndarray]:
    """One-step tilt (interaction) and leniency of arbitrary groups of one labeler's labels.

    ``group`` is a per-table-row group code (-1: none), each group inside one
    labeler (``group_labeler``). For a group ``k`` of labeler ``l`` on the
    current fit: ``tilt = U_k / J_k`` with ``U_k`` the sum of the fit's
    residuals on the group, ``J0_k = n_k - sum_u n_ku^2 / n_u`` the group's
    information, ``beta = J0_k / M_ll``, ``J_k = J0_k (1 - beta)``; robust
    variance ``[(1 - beta)^2 V_in + beta^2 V_out] / J_k^2`` with ``V_in`` /
    ``V_out`` the cluster contributions of the labeler's labels inside /
    outside the group. The group's leniency is the labeler's leniency plus
    ``(1 - beta) tilt`` (its variance the sum: the one-step tilt is orthogonal
    to the labeler's column), its effect outside the group the leniency minus
    ``beta tilt``. Returns arrays per group: ``n``, ``tilt``, ``tilt_se``,
    ``leniency``, ``se``, ``outside``, ``outside_se``, ``n_outside``, ``beta``,
    ``n_overlap`` (labels on multi-labeled items), ``n_stratified``. Labels in
    a cell with its own parameter are left out of every other group (they are
    explained by that cell), and so are the labels on items that hold one (their
    item effect leans on that cell's single estimate): ``n`` counts the rest.
    """
    rows = units.rows
    lay = _layout(units, labeler, fit.n_labelers)
    grp = group if lay.full else group[rows]
    e = fit.resid
    multi = units.multi
    if "row_stats" not in fit.extra:
        fit.extra["row_stats"] = _row_stats(fit, units, lay)
        # items holding a label of a parameterized cell: that cell's effect is one number for
        # all its items, so where it fits some items better than others their item effects
        # are off, and so is every co-label's residual there (a flagged judge's shadow on the
        # other judge); groups are tested on the other items
        has = np.zeros(units.n_units, dtype=bool)
        has[units.unit[multi & (fit.cell_row >= 0)]] = True
        fit.extra["shadowed"] = multi & has[units.unit]
    # labels of a parameterized cell are explained by it: a group is estimated on the rest
    ing = (grp >= 0) & (fit.cell_row < 0) & ~fit.extra["shadowed"]
    q, j_row, m_ll, v_lab, n_free = fit.extra["row_stats"]

    # rows outside every group go to a last, dropped bin (cheaper than compressing 5 arrays)
    g = np.where(ing, grp, n_groups)
    m = n_groups + 1
    n_k = np.bincount(g, minlength=m)[:n_groups].astype(np.float64)
    u_k = np.bincount(g, weights=e, minlength=m)[:n_groups]
    j0 = np.bincount(g, weights=j_row, minlength=m)[:n_groups]
    v_in = np.bincount(g, weights=q, minlength=m)[:n_groups]
    n_ov = np.bincount(g[multi], minlength=m)[:n_groups].astype(np.float64)
    return _tilt_arrays(fit, n_free, n_k, u_k, j0, v_in, n_ov, m_ll, v_lab, group_labeler)


def _row_stats(
    fit: EffectsFit, units: Units, lay: _Layout
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per used row: its variance contribution ``q`` and information ``j``; per labeler: sums."""
    e = fit.resid
    L = fit.n_labelers
    lab = lay.lab
    # per labeler: the variance contribution Q of each label (its share of the cluster sums)
    # multi: e^2; single: (1-p)^2 e^2 for the labeler's own rows plus p^2 e^2 of the others
    # in the stratum, which is spread over the labeler's rows of that stratum by count; with
    # the stratum's pooled variance v_s for e^2: Q_ls = [(1-p)^2 n_ls + p^2 (n_s - n_ls)] v_s
    # e^2 on every row, then the single rows (lay.si: exactly the rows not in multi) get
    # their stratum share: one per-label array, not three
    q = np.square(e)
    if len(lay.si):
        v = fit.extra.get("stratum_var")
        if v is None:  # a fit without estimates has no residuals to pool
            v = _stratum_variance(lay.s, e[lay.si], lay.n_s)
        st = lay.ls_key % lay.n_s
        n_s = lay.size_s[st]
        p = lay.n_ls / n_s
        q_ls = ((1 - p) ** 2 * lay.n_ls + p**2 * (n_s - lay.n_ls)) * v[st]
        q[lay.si] = (q_ls / lay.n_ls)[lay.ls_code]
    j_row = lay.j_row
    # the labeler's own column covers its labels outside its parameterized cells; the
    # products reuse one buffer (x * True is x, x * False is 0.0: the sums are unchanged)
    free = fit.cell_row < 0
    tmp = np.multiply(j_row, free)
    m_ll = np.bincount(lab, weights=tmp, minlength=L)
    np.multiply(q, free, out=tmp)
    v_lab = np.bincount(lab, weights=tmp, minlength=L)
    del tmp
    n_free = (np.bincount(lab, minlength=L) - np.bincount(lab[~free], minlength=L)).astype(
        np.float64
    )
    return q, j_row, m_ll, v_lab, n_free


def _tilt_arrays(
    fit: EffectsFit,
    n_lab: np.ndarray,
    n_k: np.ndarray,
    u_k: np.ndarray,
    j0: np.ndarray,
    v_in: np.ndarray,
    n_ov: np.ndarray,
    m_ll: np.ndarray,
    v_lab: np.ndarray,
    group_labeler: np.ndarray,
) -> dict[str, np.ndarray]:
    gl = np.asarray(group_labeler, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = j0 / m_ll[gl]
        jk = j0 * (1.0 - beta)
        tilt = u_k / jk
        v_out = np.maximum(v_lab[gl] - v_in, 0.0)
        tilt_se = np.sqrt((1 - beta) ** 2 * v_in + beta**2 * v_out) / jk
        bad = ~(jk > MIN_INFORMATION) | ~np.isfinite(fit.main[gl])
    tilt = np.where(bad, np.nan, tilt)
    tilt_se = np.where(bad, np.nan, tilt_se)
    base, base_se = fit.main[gl], fit.main_se[gl]
    return {
        "n": n_k,
        "tilt": tilt,
        "tilt_se": tilt_se,
        "tilt_p": wald_p(tilt, tilt_se),
        "leniency": base + (1 - beta) * tilt,
        "se": np.sqrt(base_se**2 + (1 - beta) ** 2 * tilt_se**2),
        "outside": base - beta * tilt,
        "outside_se": np.sqrt(base_se**2 + beta**2 * tilt_se**2),
        "n_outside": n_lab[gl] - n_k,
        "beta": beta,
        "n_overlap": n_ov,
        "n_stratified": n_k - n_ov,
    }


def _stratum_variance(s: np.ndarray, resid: np.ndarray, n_s: int) -> np.ndarray:
    """Each stratum's residual variance (its labels pooled), shrunk toward the overall one.

    Single-labeled items are one label each, so a label's own squared residual
    is a one-observation variance estimate; for a labeler with a handful of
    labels per stratum that makes the sandwich too small exactly when the
    labeler happens to agree with the baseline (binary residuals of a
    confident stratum). The stratum's pooled residual variance is the
    variance of a label there under the null of no labeler effect (what the
    Cochran-Mantel-Haenszel test uses), and does not depend on which labeler
    gave the label. Shrunk by :data:`STRATUM_PRIOR` pseudo-labels toward the
    variance of all single labels, so a stratum where every label agrees does
    not get variance 0.
    """
    n = np.bincount(s, minlength=n_s).astype(np.float64)
    ss = np.bincount(s, weights=resid * resid, minlength=n_s)
    total = float(ss.sum() / max(len(resid) - 1, 1))
    # resid sums to 0 within each stratum: ss / (n - 1) is the unbiased variance
    return (ss + STRATUM_PRIOR * total) / (np.maximum(n - 1.0, 0.0) + STRATUM_PRIOR)


def _factorize(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 of the observed keys (in key order, int32) and the keys; keys in [0, n_keys)."""
    if n_keys <= 50_000_000:
        seen = np.bincount(key, minlength=n_keys) > 0
        uniq = np.flatnonzero(seen)
        pos = (np.cumsum(seen) - 1).astype(np.int32)
        return pos[key], uniq
    uniq, codes = np.unique(key, return_inverse=True)
    return codes.astype(np.int32), uniq
