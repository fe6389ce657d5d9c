"""The labeler and cell tables of one fit of the joint model (:mod:`evalaudit.stats.effects`).

:class:`JointDesign` holds what every fit of one table shares (the units, the
strata, the cells of every slice column, pair of slice columns and ``model``);
:func:`labeler_table` and :func:`cell_table` turn a fit into the audit's
labeler and cell tables (the columns of
:data:`~evalaudit.stats.leniency.LENIENCY_COLUMNS` and :data:`CELL_COLUMNS`).
:func:`partition` turns flagged cells into the cell parameters of the next
fit: every label in at most one cell, the strongest cell first.

The test of a cell is its **tilt**, the interaction: its effect against what
the labeler's effect on its other labels predicts for it. On interval and
ordinal scores that prediction is the outside effect itself (additive). For
binary labels it is the outside effect scaled by the room the cell's items
leave to move, ``h_k / h_out`` with ``h = 1 - pi`` for a lenient labeler
(``pi`` for a severe one) and ``pi`` the peers' pass rate on the items: a
labeler who turns 40% of the fails they see into passes moves a slice whose
pass rate is 35% by 26 points and one at 90% by 4, and has no tilt. A labeler
lenient on one failure mode only has an outside effect near 0 and a tilt equal
to the cell's effect.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from evalaudit.contract import MODEL, LabelKind
from evalaudit.stats.effects import EffectsFit, Units, _factorize, cell_tilts, fit_effects, units_of
from evalaudit.stats.leniency import LENIENCY_COLUMNS, Z95, strata_codes
from evalaudit.stats.multitest import wald_p
from evalaudit.stats.slices import JOIN
from evalaudit.table import ITEM, LABELER, SCORE, LabelTable

__all__ = ["CELL_COLUMNS", "JointDesign", "cell_table", "labeler_table", "partition"]

#: The |z| of a labeler's effect outside a cell from which the cell is tested against it.
OUTSIDE_Z = 3.0

CELL_COLUMNS = (
    "labeler",
    "labeler_id",
    "slice_column",
    "slice_value",
    "n",
    "leniency",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "weight",
    "evidence",
    "n_overlap",
    "n_stratified",
    "leniency_outside",
    "n_outside",
    "tilt",
    "tilt_se",
    "tilt_ci_low",
    "tilt_ci_high",
    "tilt_p",
    "leniency_p",
    "n_estimated",
    "parameter",
    "tested",
)


@dataclass
class CellSpec:
    """The cells of one slice column (or pair): a group code per label row."""

    columns: tuple[str, ...]
    group: np.ndarray  # per row: labeler * n_combo + combo
    n_combo: int
    names: np.ndarray  # combo -> "value" or "v1+v2"


@dataclass
class JointDesign:
    """What every fit of one table shares."""

    table: LabelTable
    score: np.ndarray
    labeler: np.ndarray
    units: Units
    specs: list[CellSpec]
    #: per used row, the peers' pass rate on the label's unit (binary labels; None otherwise):
    #: a lenient label's room to move is 1 - baseline, a severe one's the baseline
    baseline: np.ndarray | None = None
    released: bool = False

    @classmethod
    def build(cls, table: LabelTable, pairs: bool = True) -> JointDesign:
        f = table.frame
        # the table's own arrays (float64 scores, int32 codes): no per-row copies
        score = f[SCORE].to_numpy().astype(np.float64, copy=False)
        labeler = f[LABELER].to_numpy()
        stratum = strata_codes(table)
        units = units_of(f[ITEM].to_numpy(), stratum, np.isfinite(score), table.n_items)
        cols: list[tuple[str, ...]] = [(c,) for c in table.slice_columns]
        if pairs:
            cols += list(combinations(table.slice_columns, 2))
        if table.has(MODEL) and MODEL not in table.slice_columns:
            cols.append((MODEL,))
        specs = [_spec(table, c, labeler) for c in cols]
        return cls(table, score, labeler, units, specs)

    def release(self) -> None:
        """Drop the per-row intermediates of the fits (a few GB at 10^8 rows).

        What the corrections need afterwards (the labeler codes, the fit's
        estimates and covariance, the cell rows) stays; the cell groups of the
        scan, the units (their rows, codes and caches) and the baselines go. A
        released design cannot be fit again.
        """
        self.units.cache.clear()
        empty = np.zeros(0, dtype=np.int32)
        self.units = replace(self.units, rows=empty, unit=empty, multi=np.zeros(0, dtype=bool))
        self.released = True
        self.baseline = None
        for spec in self.specs:
            spec.group = np.zeros(0, dtype=np.int32)

    def fit(self, cell: np.ndarray | None, cell_labeler: np.ndarray | None, reference: np.ndarray):
        if self.released:
            raise RuntimeError("the design was released (JointDesign.release): build it again")
        self.baseline = None  # the previous fit's: not held beside this fit's arrays
        fit = fit_effects(
            self.units,
            self.score,
            self.labeler,
            self.table.n_labelers,
            cell,
            cell_labeler,
            reference,
        )
        if self.table.kind is LabelKind.BINARY:
            # the peers' pass rate on each label's unit: the unit's mean score less the fitted
            # labeler effects, plus the reference peers' mean effect (0 by the constraint)
            u = self.units
            full = u.full
            base = _fitted(fit, self.labeler if full else self.labeler[u.rows], cell, u.rows)
            # y - resid - fitted, in place; a NaN residual (an unidentified labeler) counts as 0
            np.subtract(self.score if full else self.score[u.rows], base, out=base)
            np.subtract(base, fit.resid, out=base, where=np.isfinite(fit.resid))
            self.baseline = np.clip(base, 0.0, 1.0, out=base)
        return fit


def _fitted(
    fit: EffectsFit, lab: np.ndarray, cell: np.ndarray | None, rows: np.ndarray
) -> np.ndarray:
    th = np.where(np.isfinite(fit.theta), fit.theta, 0.0)
    out = th[lab]  # fancy indexing: already a new array
    if cell is not None:
        ck = cell if len(rows) == len(cell) else cell[rows]
        has = ck >= 0
        out[has] += th[fit.n_labelers + ck[has]]
    return out


def _spec(table: LabelTable, columns: tuple[str, ...], labeler: np.ndarray) -> CellSpec:
    f = table.frame
    code = np.zeros(len(f), dtype=np.int64)
    n_codes = 1
    for col in columns:
        c = f[col].cat.codes.to_numpy().astype(np.int64)
        code = code * len(f[col].cat.categories) + c
        n_codes *= len(f[col].cat.categories)
    # the combinations present, by counting (the codes are a small dense range)
    if len(code) and code.min() >= 0:
        combo, uniq = _factorize(code, n_codes)
    else:  # a missing category code (-1): hash instead
        combo, uniq = pd.factorize(code)
    n_combo = len(uniq)
    first_row = np.full(n_combo, len(f), dtype=np.int64)
    # fancy assignment keeps the last write: in reverse, that is each combination's first row
    first_row[combo[::-1]] = np.arange(len(f) - 1, -1, -1, dtype=np.int64)
    values = [f[c].iloc[first_row].to_numpy() for c in columns]
    names = np.array(
        [JOIN.join(str(v[c]) for v in values) for c in range(n_combo)] or [""], dtype=object
    )
    # the smallest integer that holds every group and the scan's "no group" bin: each spec's
    # group is held per label through every fit (int16 where 500 labelers x 30 pairs fit)
    n_groups = table.n_labelers * n_combo
    code_type = next(t for t in (np.int16, np.int32, np.int64) if n_groups < np.iinfo(t).max)
    group = labeler.astype(code_type) * code_type(n_combo) + combo.astype(code_type, copy=False)
    return CellSpec(columns, group, n_combo, names)


def labeler_table(fit: EffectsFit, diagnostics: pd.DataFrame) -> pd.DataFrame:
    """The labelers table: the joint leniency, SE, CI and p beside evidence A/B as diagnostics.

    ``diagnostics`` is :func:`~evalaudit.stats.leniency.labeler_leniency` of the
    same table (its ``effect``, ``se``, CI and p are replaced; ``q_value`` is set
    by the audit's single error budget).
    """
    out = diagnostics.copy()
    eff, se = fit.leniency, fit.se
    out["effect"] = eff
    out["se"] = se
    # no disagreement with any peer (SE 0): no interval, rather than one of no width
    informative = se > 0
    out["ci_low"] = np.where(informative, eff - Z95 * se, np.nan)
    out["ci_high"] = np.where(informative, eff + Z95 * se, np.nan)
    out["p_value"] = wald_p(eff, se)
    out["q_value"] = np.nan
    n_lab = fit.n_param[: fit.n_labelers]
    ident = np.isfinite(eff)
    out["n_used"] = np.where(ident, n_lab, 0).astype(np.int64)
    ev = out["evidence"].to_numpy(dtype=object).copy()
    ev[~ident] = "none"
    ev[ident & (ev == "none")] = "joint"
    out["evidence"] = ev
    return out[list(LENIENCY_COLUMNS)]


def cell_table(
    design: JointDesign,
    fit: EffectsFit,
    cell: np.ndarray | None,
    params: list[tuple[int, int]],
    min_support: int,
) -> pd.DataFrame:
    """Every labeler x slice cell of the fit: leniency, tilt (the test), CIs and p-values.

    ``params`` lists the (spec index, group) of the cells that have their own
    parameter in ``fit`` (in parameter order); their estimates are the exact
    ones of the fit, the others the one-step estimates of :func:`cell_tilts`.
    ``p_value`` is the tilt's (the flagging test; ``leniency_p`` is the
    effect's own); ``q_value`` is left for the audit's error budget.
    """
    table = design.table
    ids = table.labeler_ids.to_numpy()
    frames = []
    param_of = {key: i for i, key in enumerate(params)}
    L = fit.n_labelers
    rows = design.units.rows
    full = design.units.full
    lab = design.labeler if full else design.labeler[rows]
    base = design.baseline
    n_lab = np.bincount(lab, minlength=L).astype(np.float64)
    sev_lab = n_lab if base is None else np.bincount(lab, weights=base, minlength=L)
    room_lab = {"len": n_lab - sev_lab if base is not None else n_lab, "sev": sev_lab}
    for si, spec in enumerate(design.specs):
        n_groups = table.n_labelers * spec.n_combo
        glab = np.arange(n_groups) // spec.n_combo
        ct = cell_tilts(fit, design.units, design.labeler, spec.group, n_groups, glab)
        # the room to move of the cell's items and of the labeler's other labels
        g = spec.group if full else spec.group[rows]
        lenient_out = fit.main[glab] >= 0
        room = {}
        n_in = np.bincount(g, minlength=n_groups).astype(np.float64)
        sev_in = n_in if base is None else np.bincount(g, weights=base, minlength=n_groups)
        for name, h_in in (("len", n_in - sev_in if base is not None else n_in), ("sev", sev_in)):
            h_lab = room_lab[name]
            with np.errstate(invalid="ignore", divide="ignore"):
                room[name] = (h_in / ct["n"], (h_lab[glab] - h_in) / ct["n_outside"])
        with np.errstate(invalid="ignore", divide="ignore"):
            h_k = np.where(lenient_out, room["len"][0], room["sev"][0])
            h_o = np.where(lenient_out, room["len"][1], room["sev"][1])
            rho = np.where((h_o > 0) & np.isfinite(h_k), h_k / h_o, 1.0)
        rho = np.clip(rho, 0.0, 10.0)
        # what the labeler's other labels predict for the cell: nothing beyond its peers unless
        # its effect elsewhere is detectable (|z| >= OUTSIDE_Z): subtracting an honest labeler's
        # noisy outside estimate would only add its variance to every test
        with np.errstate(invalid="ignore", divide="ignore"):
            z_out = np.abs(ct["outside"] / ct["outside_se"])
        rho = np.where(np.nan_to_num(z_out) >= OUTSIDE_Z, rho, 0.0)
        eff, se = ct["leniency"], ct["se"]
        out_eff = ct["outside"]
        base_se = fit.main_se[glab]
        beta = ct["beta"]
        tilt = eff - rho * out_eff
        tilt_se = np.sqrt(
            (1 - rho) ** 2 * base_se**2 + ((1 - beta) + rho * beta) ** 2 * ct["tilt_se"] ** 2
        )
        out_se = ct["outside_se"]
        parameter = np.zeros(n_groups, dtype=bool)
        for (s2, grp), k in param_of.items():
            if s2 != si:
                continue
            lbl = int(glab[grp])
            e_l = np.zeros(len(fit.theta))
            e_l[lbl] = 1.0
            e_k = e_l.copy()
            e_k[L + k] = 1.0
            eff[grp], se[grp] = fit.vs_peers(lbl, e_k)
            out_eff[grp], out_se[grp] = fit.vs_peers(lbl, e_l)
            r = rho[grp]
            # tilt = cell - rho * outside = (1 - rho)(b_l - peers) + g_k
            a = (1 - r) * (e_l - fit.peers(lbl))
            a[L + k] += 1.0
            th = np.where(np.isfinite(fit.theta), fit.theta, 0.0)
            tilt[grp] = float(a @ th)
            tilt_se[grp] = fit.combo_se(a)
            parameter[grp] = True
        n_full = np.bincount(g, minlength=n_groups)
        n_est = ct["n"].copy()
        for (s2, grp), k in param_of.items():
            if s2 == si:
                n_est[grp] = fit.n_param[L + k]
                ct["n_outside"][grp] = fit.n_param[int(glab[grp])]
        keep = np.flatnonzero(n_full > 0)
        res = pd.DataFrame(
            {
                "labeler": glab[keep],
                "labeler_id": ids[glab[keep]],
                "slice_column": JOIN.join(spec.columns),
                "slice_value": spec.names[keep % spec.n_combo].tolist() if len(keep) else [],
                "n": n_full[keep].astype(np.int64),
                "n_estimated": n_est[keep].astype(np.int64),
                "leniency": eff[keep],
                "se": se[keep],
                "ci_low": eff[keep] - Z95 * se[keep],
                "ci_high": eff[keep] + Z95 * se[keep],
                "leniency_p": wald_p(eff[keep], se[keep]),
                "evidence": "joint",
                "n_overlap": ct["n_overlap"][keep].astype(np.int64),
                "n_stratified": ct["n_stratified"][keep].astype(np.int64),
                "leniency_outside": out_eff[keep],
                "n_outside": ct["n_outside"][keep].astype(np.int64),
                "tilt": tilt[keep],
                "tilt_se": tilt_se[keep],
                "tilt_ci_low": tilt[keep] - Z95 * tilt_se[keep],
                "tilt_ci_high": tilt[keep] + Z95 * tilt_se[keep],
                "tilt_p": wald_p(tilt[keep], tilt_se[keep]),
                "parameter": parameter[keep],
                "_spec": si,
                "_group": keep,
            }
        )
        res["p_value"] = res["tilt_p"]
        res["q_value"] = np.nan
        res["weight"] = np.nan
        res["tested"] = (
            (res["n_estimated"] >= min_support)
            & (res["n_outside"] >= min_support)
            & np.isfinite(res["tilt_p"])
        )
        frames.append(res)
    if not frames:
        return pd.DataFrame(columns=[*CELL_COLUMNS, "_spec", "_group"])
    cells = pd.concat(frames, ignore_index=True)
    return cells.sort_values(["slice_column", "slice_value", "labeler_id"], kind="stable")


def partition(
    design: JointDesign,
    cells: pd.DataFrame,
    flagged: np.ndarray,
    min_support: int,
    previous: list[tuple[int, int]] | None = None,
    reference: np.ndarray | None = None,
    priority: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Cell parameters for the next fit: forward selection, one new cell per labeler and fit.

    ``priority`` (per row of ``cells``; default ``|tilt / tilt_se|``) orders the candidates,
    ties by ``|tilt / tilt_se|``: the detection passes the humans' evidence for judges' cells.

    The cells of ``previous`` (the current fit's parameters) keep their
    parameter, in their order, flagged or not (a parameter of a cell without
    tilt costs a little precision and biases nothing, and never dropping one
    makes the selection monotone, so it stops); then each labeler gains at
    most one new parameter, its flagged cell with the largest ``|tilt / se|``
    (or none when that cell cannot have one), and each slice value at most one
    (its strongest cell): a lenient labeler's
    unmodelled tilt on a slice makes its co-labelers look tilted the other way
    there, and those shadows go once the real one has its parameter. A slice
    value always keeps one ``reference`` labeler without a parameter there
    (:func:`_last_on_slice`).
    One at a time because a labeler's tilted cell makes its *other* cells look
    tilted the other way while it has no parameter (their outside effect holds
    it): after the refit those shadows are gone. Each label belongs to one
    cell: a new cell keeps only the labels no earlier cell took, and gets no
    parameter when fewer than ``min_support`` are left, or when the labeler
    would keep fewer than ``min_support`` labels outside its cells (its own
    effect must stay estimable). Returns the per-row cell code (-1: none),
    each cell's labeler and its (spec, group) key.
    """
    n = len(design.score)
    cell = np.full(n, -1, dtype=np.int32)
    labs: list[int] = []
    keys: list[tuple[int, int]] = []
    f = cells[flagged]
    key_of = list(zip(f["_spec"].astype(int), f["_group"].astype(int), strict=True))
    lab_of = dict(zip(key_of, f["labeler"].astype(int), strict=True))
    for key in previous or []:
        lab_of.setdefault(key, int(key[1] // design.specs[key[0]].n_combo))
    z = np.nan_to_num(np.abs(f["tilt"].to_numpy(dtype=float) / f["tilt_se"].to_numpy(dtype=float)))
    # candidates by priority, ties (a pair cell ranks as its strongest column) by |tilt / se|
    first = z if priority is None else np.asarray(priority, dtype=float)[np.asarray(flagged, bool)]
    order = np.lexsort((-z, -np.nan_to_num(first)))
    n_lab = np.bincount(design.labeler, minlength=design.table.n_labelers)
    taken = np.zeros(design.table.n_labelers, dtype=np.int64)

    def add(key: tuple[int, int]) -> bool:
        spec = design.specs[key[0]]
        rows = np.flatnonzero((spec.group == key[1]) & (cell < 0))
        lbl = lab_of[key]
        if len(rows) < min_support or n_lab[lbl] - taken[lbl] - len(rows) < min_support:
            return False
        cell[rows] = len(keys)
        taken[lbl] += len(rows)
        labs.append(lbl)
        keys.append(key)
        return True

    for key in previous or []:
        add(key)
    grown: set[int] = set()
    slices_grown: set[tuple[int, int]] = set()
    for i in order:
        key = key_of[i]
        spec = design.specs[key[0]]
        where = (key[0], key[1] % spec.n_combo)
        if key in keys or lab_of[key] in grown:
            continue
        # only a labeler's strongest flagged cell is a candidate this fit: its weaker ones may
        # be the shadow of a co-labeler's tilt on the same items, gone after the refit
        grown.add(lab_of[key])
        if where in slices_grown or _last_on_slice(design, key, keys, reference, min_support):
            continue
        if add(key):
            slices_grown.add(where)
    return cell, np.asarray(labs, dtype=np.int64), keys


def _last_on_slice(
    design: JointDesign,
    key: tuple[int, int],
    keys: list[tuple[int, int]],
    reference: np.ndarray | None,
    min_support: int,
) -> bool:
    """Whether a parameter for ``key`` would leave its slice value without a reference labeler.

    If every labeler grading a slice value had its own parameter there, the
    parameters would only be identified up to a common shift (the items'
    effects absorb it): some reference labeler must keep grading it with its
    main effect alone.
    """
    spec = design.specs[key[0]]
    combo = key[1] % spec.n_combo
    n = np.bincount(spec.group, minlength=design.table.n_labelers * spec.n_combo)
    n_on = n[combo :: spec.n_combo]
    has = n_on >= min_support
    ref = np.ones_like(has) if reference is None else reference.astype(bool)
    taken = {k[1] // spec.n_combo for k in keys if k[0] == key[0] and k[1] % spec.n_combo == combo}
    taken.add(key[1] // spec.n_combo)
    free = [lbl for lbl in np.flatnonzero(has & ref) if lbl not in taken]
    return not free
