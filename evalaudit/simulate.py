"""Synthetic labeled eval sets with planted poisoning.

A seeded, fully vectorized generator of long label tables (one row per
(item, labeler) label, columns as in :mod:`evalaudit.contract`) whose ground
truth is known: which labeler was made lenient (or severe), where, from when,
and the effect a correct estimator should recover. It feeds ``evalaudit
sample``, the planted-effect tests and the benchmarks.

The model
---------
*Items* carry three slices: ``category``, ``failure_mode`` and ``model`` (the
graded system), drawn independently with unequal frequencies. The true pass
probability of item ``i`` is

    pi_i = expit(b_category + b_failure_mode + b_model + u_i),  u_i ~ N(0, 0.5^2)

so slice pass rates differ a lot (about 0.35 to 0.9), and the true label is
Bernoulli(pi_i).

*Labelers* ``lab001``... belong to vendors (a seeded round-robin) and have a
small symmetric error rate ``e_j`` (default uniform on 0.03..0.07): an honest
labeler reports the true label flipped with probability ``e_j``. The bias of
an honest labeler against a peer on item ``i`` is ``(e_j - e_bar)(1 - 2 pi_i)``:
under 4 points on any item and about one point or less on average with the
defaults, so clean data holds no labeler biased by more than ~3 points.

*Assignment*: a share ``overlap_share`` of the items is labeled by
``overlap_k`` distinct labelers, the rest by one. Labeler workloads are
unequal (seeded Dirichlet); a share ``specialists`` of the labelers takes
most (about 80%) of its work from one category. A labeler given a forced
``share`` by a plant labels that share of the items in every category. The labeler of an item
depends on its category only, so within a stratum (category x failure_mode x
model) items are assigned at random: the assumption of the stratified
leniency estimator (DESIGN section 4, evidence B) holds by construction.

*Time*: minute-resolution timestamps over ``months`` months from
2026-03-02 (weekdays more than weekends, 08:00-20:00 UTC), ISO 8601 with a
``Z`` suffix; ``batch`` is the two-week block of the timestamp (``b01``...).

*Plants* (:class:`Plant`) make one labeler lenient: inside the plant's scope
(slice and time) a label the labeler would give as "fail" (after its own
honest noise) becomes "pass" with probability ``flip_rate``; a negative
``flip_rate`` makes it severe ("pass" becomes "fail" with probability
``|flip_rate|``).

Examples
--------
>>> sim = simulate(n_items=300, n_labelers=6, seed=1)
>>> list(sim.labels.columns)  # doctest: +NORMALIZE_WHITESPACE
['item_id', 'labeler_id', 'label', 'timestamp', 'vendor', 'batch', 'model',
 'category', 'failure_mode']
>>> sim.labels.iloc[0, :4].tolist()
['it000001', 'lab004', 'pass', '2026-03-23T10:25:00Z']
>>> sim.truth["poisoned"]
[]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evalaudit.contract import (
    BATCH,
    GOLD,
    ITEM_ID,
    LABEL,
    LABELER_ID,
    MODEL,
    TIMESTAMP,
    VENDOR,
)

__all__ = [
    "CATEGORY",
    "DEFAULT_CATEGORIES",
    "DEFAULT_FAILURE_MODES",
    "DEFAULT_MODELS",
    "FAILURE_MODE",
    "SAMPLE_PLANT",
    "START",
    "Plant",
    "Simulation",
    "sample_dataset",
    "simulate",
    "simulate_judges",
    "write_sample",
]

#: Item slice columns of the simulated set (not contract columns: any item
#: attribute is a slice candidate).
CATEGORY = "category"
FAILURE_MODE = "failure_mode"

#: Slice specs: ``(value, frequency, logit contribution)``. Frequencies are
#: normalized; the logits add up to the item's pass logit.
SliceSpec = tuple[tuple[str, float, float], ...]

DEFAULT_CATEGORIES: SliceSpec = (
    ("coding", 0.24, 0.20),
    ("math", 0.14, -1.00),
    ("reasoning", 0.20, -0.45),
    ("safety", 0.12, 1.10),
    ("summarization", 0.18, 0.70),
    ("chitchat", 0.12, 2.20),
)
DEFAULT_FAILURE_MODES: SliceSpec = (
    ("hallucination", 0.28, -0.35),
    ("instruction_following", 0.24, 0.35),
    ("refusal", 0.12, 0.80),
    ("formatting", 0.16, 1.10),
    ("reasoning_error", 0.20, -0.45),
)
DEFAULT_MODELS: SliceSpec = (
    ("model-a", 0.34, 0.45),
    ("model-b", 0.33, 0.00),
    ("model-c", 0.33, -0.40),
)

#: First day of the simulated labeling period (UTC).
START = "2026-03-02"

#: Standard deviation of the item-level logit noise (item difficulty within a stratum).
ITEM_SD = 0.5
#: Share of a specialist's work drawn from its own category (before normalization).
SPECIALIST_FOCUS = 0.8
#: Dirichlet concentration of labeler workloads (smaller = more unequal).
WORKLOAD_CONCENTRATION = 3.0
#: Relative weight of a Saturday or Sunday against a weekday.
WEEKEND_WEIGHT = 0.25
#: Working hours (UTC) in which labels are given, [start, end).
WORK_HOURS = (8, 20)
#: Days per batch.
BATCH_DAYS = 14

_SLICE_COLUMNS = (MODEL, CATEGORY, FAILURE_MODE, VENDOR, BATCH)
_PASS, _FAIL = "pass", "fail"


@dataclass(frozen=True)
class Plant:
    """One planted lenient (or severe) labeler.

    Attributes
    ----------
    labeler_id:
        The poisoned labeler, e.g. ``"lab017"``.
    flip_rate:
        Probability that a label this labeler would give as "fail" (after its
        own honest noise) becomes "pass". Negative: a "pass" becomes "fail"
        with probability ``|flip_rate|`` (severity). In [-1, 1].
    slice_column, slice_value:
        Scope of the plant: labels of items with ``slice_column ==
        slice_value`` (``category``, ``failure_mode``, ``model``, ``vendor`` or
        ``batch``). ``None`` (both) = everywhere.
    share:
        Force this labeler's share of all items (e.g. 0.11): it labels each
        single-label item with this probability and is one of the labelers of
        each multi-label item with this probability, whatever the category.
        ``None`` keeps its seeded workload.
    after:
        ISO 8601 time; only labels given strictly after it are in scope
        (drift). ``None`` = the whole period.

    Several plants on one labeler compose in order (their scopes may overlap).
    """

    labeler_id: str
    flip_rate: float
    slice_column: str | None = None
    slice_value: str | None = None
    share: float | None = None
    after: str | None = None

    def __post_init__(self) -> None:
        if not -1.0 <= self.flip_rate <= 1.0:
            raise ValueError(f"Plant({self.labeler_id}): flip_rate must be in [-1, 1]")
        if (self.slice_column is None) != (self.slice_value is None):
            raise ValueError(
                f"Plant({self.labeler_id}): give both slice_column and slice_value, or neither"
            )
        if self.slice_column is not None and self.slice_column not in _SLICE_COLUMNS:
            raise ValueError(
                f"Plant({self.labeler_id}): slice_column {self.slice_column!r} is not one of "
                f"{', '.join(_SLICE_COLUMNS)}"
            )
        if self.share is not None and not 0.0 < self.share < 1.0:
            raise ValueError(f"Plant({self.labeler_id}): share must be in (0, 1)")
        if self.after is not None:
            _parse_time(self.after)


#: The plant of the bundled sample (:func:`sample_dataset`).
SAMPLE_PLANT = Plant(
    labeler_id="lab017",
    flip_rate=0.6,
    slice_column=FAILURE_MODE,
    slice_value="hallucination",
    share=0.11,
)


@dataclass(frozen=True)
class Simulation:
    """A simulated label table and what is true about it.

    Attributes
    ----------
    labels:
        The long label table: ``item_id, labeler_id, label, timestamp, vendor,
        batch, model, category, failure_mode`` (and ``gold`` when
        ``gold_share > 0``), string columns (categoricals with
        ``categorical=True``), ``label`` in {"pass", "fail"}.
        Rows are ordered by item, the labels of an item by time.
    truth:
        JSON-serializable ground truth: ``seed``, ``n_items``, ``n_labels``,
        ``n_labelers``, ``poisoned`` (one record per plant: ``labeler_id``,
        ``slice_column``, ``slice_value``, ``flip_rate``, ``after``,
        ``share_of_items``, ``n_labels_in_scope``, ``expected_effect``,
        ``expected_labeler_effect``), ``drift`` (the plants with ``after``),
        ``labelers`` (id, vendor, error rate, specialty, labels) and
        ``config``.
    item_truth:
        One row per item: ``item_id, true_label, pi, category, failure_mode,
        model``.
    """

    labels: pd.DataFrame
    truth: dict[str, Any]
    item_truth: pd.DataFrame


# --------------------------------------------------------------------------- helpers


def _parse_time(value: str) -> np.datetime64:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot parse time {value!r} (use ISO 8601)") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.to_datetime64(), "s")


def _check_spec(name: str, spec: SliceSpec) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not spec:
        raise ValueError(f"{name}: at least one value is needed")
    names = [str(s[0]) for s in spec]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: values must be distinct")
    freq = np.array([float(s[1]) for s in spec])
    if (freq < 0).any() or freq.sum() <= 0:
        raise ValueError(f"{name}: frequencies must be >= 0 with a positive sum")
    logit = np.array([float(s[2]) for s in spec])
    return names, freq / freq.sum(), logit


def _fixed_width_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array (vectorized).

    Builds the bytes of all ids in one ``uint8`` matrix, four digits per
    table lookup, and hands it to Arrow without a Python string per id.
    """
    n = len(numbers)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = len(head) + width
    mat = np.empty((n, size), dtype=np.uint8)
    mat[:, : len(head)] = head
    table = np.array([list(f"{i:04d}".encode()) for i in range(10_000)], dtype=np.uint8)
    rest = numbers.astype(np.int64)
    end = size
    while end > len(head):
        rest, chunk = np.divmod(rest, 10_000)
        lo = max(len(head), end - 4)
        mat[:, lo:end] = table[chunk][:, 4 - (end - lo) :]
        end = lo
    offsets = np.arange(n + 1, dtype=np.int64) * size
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))


def _column(
    codes: np.ndarray,
    values: Sequence[str],
    categorical: bool,
    missing: np.ndarray | None = None,
) -> pa.Array:
    """``values[codes]`` as Arrow strings, or as a dictionary (pandas categorical) array."""
    dictionary = pa.array(list(values), pa.string())
    indices = pa.array(codes.astype(np.int32, copy=False), mask=missing)
    if categorical:
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    return dictionary.take(indices)


def _draw(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """``size`` draws of ``range(len(p))`` with probabilities ``p`` (faster than ``choice``).

    The algorithm of ``rng.choice(len(p), size, p=p)`` (one uniform per draw,
    inverted through the cumulative distribution), with a comparison count
    instead of a binary search when ``p`` is short.
    """
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    u = rng.random(size)
    if len(p) > 32:
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(p) - 1).astype(np.int32)
    out = np.zeros(size, dtype=np.int32)
    for edge in cdf[:-1]:  # count the edges at or below u: branch-free and cache friendly
        out += u >= edge
    return out


def _distinct_labelers(
    rng: np.random.Generator,
    item_cat: np.ndarray,
    p_free: np.ndarray,
    forced: dict[int, float],
    k: int,
) -> np.ndarray:
    """``k`` distinct labelers for each item, as an ``(n, k)`` matrix in random order.

    A labeler with a forced share ``s`` is one of them with probability
    ``s`` (while slots remain); the other slots are filled by successive
    sampling without replacement from ``p_free[:, category]`` (draw, and
    redraw the rows that picked a labeler they already have).
    """
    n = len(item_cat)
    slots = np.full((n, k), -1, dtype=np.int32)
    filled = np.zeros(n, dtype=np.int64)
    for j, share in forced.items():
        rows = np.flatnonzero((rng.random(n) < share) & (filled < k))
        slots[rows, filled[rows]] = j
        filled[rows] += 1
    for slot in range(k):
        todo = np.flatnonzero(slots[:, slot] < 0)
        while len(todo):
            todo_cat = item_cat[todo]
            draw = np.empty(len(todo), dtype=np.int32)
            for c in np.unique(todo_cat):
                sel = todo_cat == c
                draw[sel] = _draw(rng, p_free[:, c], int(sel.sum()))
            slots[todo, slot] = draw
            todo = todo[(slots[todo, :slot] == draw[:, None]).any(axis=1)]
    order = np.argsort(rng.random((n, k)), axis=1)
    return np.take_along_axis(slots, order, axis=1)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _ids(prefix: str, n: int, width: int) -> list[str]:
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


# --------------------------------------------------------------------------- simulate


def simulate(
    n_items: int = 6000,
    n_labelers: int = 24,
    *,
    vendors: Sequence[str] = ("acme", "bolt", "crowdly"),
    overlap_share: float = 0.15,
    overlap_k: int = 3,
    specialists: float = 0.25,
    plants: Sequence[Plant] = (),
    months: int = 6,
    gold_share: float = 0.0,
    error_range: tuple[float, float] = (0.03, 0.07),
    categories: SliceSpec = DEFAULT_CATEGORIES,
    failure_modes: SliceSpec = DEFAULT_FAILURE_MODES,
    models: SliceSpec = DEFAULT_MODELS,
    categorical: bool = False,
    seed: int = 0,
) -> Simulation:
    """Simulate a labeled eval set with planted lenient (or severe) labelers.

    Parameters
    ----------
    n_items:
        Number of items.
    n_labelers:
        Number of labelers, ids ``lab001``... (zero-padded to width 3 or more).
    vendors:
        Vendor names; labelers are dealt to vendors round-robin in a seeded order.
    overlap_share:
        Share of the items labeled by ``overlap_k`` distinct labelers (exact
        count, rounded); the rest get one label. 0 = pure single-label
        design, 1 = every item labeled ``overlap_k`` times.
    overlap_k:
        Labels per multi-label item.
    specialists:
        Share of the labelers (excluding those with a forced ``share``) that
        take most of their work from one category.
    plants:
        The poisoning to plant (:class:`Plant`); applied in order.
    months:
        Length of the labeling period in calendar months from :data:`START`.
    gold_share:
        Share of the items whose true label is given in a ``gold`` column
        (missing elsewhere); no ``gold`` column when 0.
    error_range:
        Range of the labelers' symmetric error rates (uniform).
    categories, failure_modes, models:
        Slice specs ``((value, frequency, logit), ...)``.
    categorical:
        Return the low-cardinality columns (all but ``item_id`` and
        ``timestamp``) as pandas categoricals instead of strings: about 3x
        less memory and faster at 10^7 rows.
    seed:
        Seed of every random draw. Items, true labels and honest noise use
        their own streams, so the same seed gives the same items with or
        without plants (a plant with ``share`` changes the assignment).

    Returns
    -------
    Simulation
        The label table, the ground truth (with the expected effect of each
        plant) and the item truth.

    Notes
    -----
    ``expected_effect`` of a plant on labeler ``L`` is the estimand of a
    correct leniency estimator: the mean, over ``L``'s in-scope labels, of
    ``P_L(i) - P_peer(i)``, with ``P_honest_j(i) = pi_i (1 - e_j) + (1 - pi_i)
    e_j``, ``P_L`` = ``P_honest_L`` after ``L``'s in-scope plants
    (``P + (1 - P) f`` for ``f >= 0``, ``P (1 - |f|)`` otherwise) and
    ``P_peer`` = ``P_honest`` at ``e_bar``, the mean error rate of the other
    labelers. ``expected_labeler_effect`` is the same mean over all of ``L``'s
    labels. Both are computed exactly from the simulated ``pi_i`` and
    ``e_j``, not by Monte Carlo.
    """
    # ---- validate
    if n_items < 1:
        raise ValueError("n_items must be >= 1")
    if n_labelers < 1:
        raise ValueError("n_labelers must be >= 1")
    if not vendors:
        raise ValueError("vendors: at least one vendor is needed")
    if not 0.0 <= overlap_share <= 1.0:
        raise ValueError("overlap_share must be in [0, 1]")
    if overlap_k < 1:
        raise ValueError("overlap_k must be >= 1")
    if not 0.0 <= specialists <= 1.0:
        raise ValueError("specialists must be a share in [0, 1]")
    if months < 1:
        raise ValueError("months must be >= 1")
    if not 0.0 <= gold_share <= 1.0:
        raise ValueError("gold_share must be in [0, 1]")
    e_lo, e_hi = error_range
    if not 0.0 <= e_lo <= e_hi < 0.5:
        raise ValueError("error_range must satisfy 0 <= low <= high < 0.5")
    cat_names, cat_p, cat_b = _check_spec("categories", categories)
    fm_names, fm_p, fm_b = _check_spec("failure_modes", failure_modes)
    mod_names, mod_p, mod_b = _check_spec("models", models)

    lab_width = max(3, len(str(n_labelers)))
    labeler_ids = _ids("lab", n_labelers, lab_width)
    lab_index = {lab: j for j, lab in enumerate(labeler_ids)}
    forced: dict[int, float] = {}
    for p in plants:
        if p.labeler_id not in lab_index:
            raise ValueError(
                f"Plant: unknown labeler {p.labeler_id!r} (ids run {labeler_ids[0]}.."
                f"{labeler_ids[-1]})"
            )
        if p.share is not None:
            j = lab_index[p.labeler_id]
            if j in forced and forced[j] != p.share:
                raise ValueError(f"Plant({p.labeler_id}): conflicting shares")
            forced[j] = p.share
    if sum(forced.values()) >= 1.0:
        raise ValueError("Plant: the forced shares must sum to less than 1")
    free = np.array([j for j in range(n_labelers) if j not in forced], dtype=np.int64)
    n_overlap = round(overlap_share * n_items) if overlap_k > 1 else 0
    if n_overlap and len(free) < overlap_k:
        raise ValueError(
            f"overlap_k={overlap_k} needs at least {overlap_k} labelers without a forced share"
        )
    if not len(free) and n_items - n_overlap > 0:
        raise ValueError("every labeler has a forced share: nobody takes the other items")

    start = np.datetime64(START, "D")
    minute0 = start.astype("datetime64[m]")
    end = np.datetime64((pd.Timestamp(START) + pd.DateOffset(months=months)).date(), "D")
    n_days = int((end - start).astype(np.int64))
    n_batches = (n_days - 1) // BATCH_DAYS + 1
    value_names: dict[str, list[str]] = {
        MODEL: mod_names,
        CATEGORY: cat_names,
        FAILURE_MODE: fm_names,
        VENDOR: [str(v) for v in vendors],
        BATCH: _ids("b", n_batches, max(2, len(str(n_batches)))),
    }
    for p in plants:
        if p.slice_column is not None and p.slice_value not in value_names[p.slice_column]:
            raise ValueError(
                f"Plant({p.labeler_id}): {p.slice_column} has no value {p.slice_value!r} "
                f"(values: {', '.join(value_names[p.slice_column])})"
            )

    ss = np.random.SeedSequence(seed)
    *streams, ss_plants = ss.spawn(7)
    r_items, r_labelers, r_assign, r_time, r_noise, r_gold = map(np.random.default_rng, streams)
    plant_rngs = [np.random.default_rng(s) for s in ss_plants.spawn(len(plants))]

    # ---- items
    cat = _draw(r_items, cat_p, n_items).astype(np.int16)
    fm = _draw(r_items, fm_p, n_items).astype(np.int16)
    mod = _draw(r_items, mod_p, n_items).astype(np.int16)
    logit = cat_b[cat] + fm_b[fm] + mod_b[mod] + r_items.normal(0.0, ITEM_SD, n_items)
    pi = 1.0 / (1.0 + np.exp(-logit))
    truth_pass = r_items.random(n_items) < pi

    # ---- labelers
    vendor_of = np.empty(n_labelers, dtype=np.int64)
    vendor_of[r_labelers.permutation(n_labelers)] = np.arange(n_labelers) % len(vendors)
    err = r_labelers.uniform(e_lo, e_hi, n_labelers)
    workload = r_labelers.dirichlet(np.full(n_labelers, WORKLOAD_CONCENTRATION))
    n_spec = round(specialists * len(free))
    spec_ids = np.sort(r_labelers.choice(free, size=n_spec, replace=False)) if n_spec else free[:0]
    specialty = np.full(n_labelers, -1, dtype=np.int64)
    specialty[spec_ids] = r_labelers.choice(len(cat_names), size=n_spec, p=cat_p)

    # P(labeler | category) for the free labelers: workload x category mix,
    # specialists concentrated on their category; forced labelers take their share.
    mix = np.tile(cat_p, (n_labelers, 1))
    for j in spec_ids:
        mix[j] *= 1.0 - SPECIALIST_FOCUS
        mix[j, specialty[j]] += SPECIALIST_FOCUS
    joint = workload[:, None] * mix
    free_mask = np.zeros(n_labelers, dtype=bool)
    free_mask[free] = True
    joint[~free_mask] = 0.0
    p_free = joint / joint.sum(axis=0, keepdims=True)  # columns: categories
    forced_total = sum(forced.values())
    p_lab = p_free * (1.0 - forced_total)
    for j, s in forced.items():
        p_lab[j] = s

    # ---- assignment: which items get k labels, and who labels each item
    is_overlap = np.zeros(n_items, dtype=bool)
    if n_overlap:
        is_overlap[r_assign.choice(n_items, size=n_overlap, replace=False)] = True
    counts = np.where(is_overlap, overlap_k, 1).astype(np.int64)
    starts = np.cumsum(counts) - counts
    n_rows = int(counts.sum())
    row_item = np.repeat(np.arange(n_items, dtype=np.int32), counts)
    row_lab = np.empty(n_rows, dtype=np.int32)

    single = np.flatnonzero(~is_overlap)
    for c in range(len(cat_names)):
        items_c = single[cat[single] == c]
        if len(items_c):
            row_lab[starts[items_c]] = _draw(r_assign, p_lab[:, c], len(items_c))
    overlap = np.flatnonzero(is_overlap)
    pos = starts[overlap][:, None] + np.arange(overlap_k)  # rows of each overlap item
    if len(overlap):
        row_lab[pos] = _distinct_labelers(r_assign, cat[overlap], p_free, forced, overlap_k)

    # ---- time: day (weekends lighter) and minute within working hours
    day_weight = np.where(
        ((np.arange(n_days) + (start.astype(np.int64) + 3) % 7) % 7) >= 5, WEEKEND_WEIGHT, 1.0
    )
    row_day = _draw(r_time, day_weight, n_rows)
    h0, h1 = WORK_HOURS
    row_minute = row_day * 1440 + r_time.integers(h0 * 60, h1 * 60, n_rows, dtype=np.int32)
    if len(overlap):  # the labels of an item in time order
        row_minute[pos] = np.sort(row_minute[pos], axis=1)
        row_day = row_minute // 1440
    row_batch = row_day // BATCH_DAYS

    # ---- labels: honest noise, then the plants
    row_true = truth_pass[row_item]
    reported = row_true ^ (r_noise.random(n_rows) < err[row_lab])
    row_codes = {
        MODEL: lambda: mod[row_item],
        CATEGORY: lambda: cat[row_item],
        FAILURE_MODE: lambda: fm[row_item],
        VENDOR: lambda: vendor_of[row_lab],
        BATCH: lambda: row_batch,
    }
    scopes: list[np.ndarray] = []  # row indices of each plant's scope
    for p, rng in zip(plants, plant_rngs, strict=True):
        mask = row_lab == lab_index[p.labeler_id]
        if p.slice_column is not None:
            code = value_names[p.slice_column].index(str(p.slice_value))
            mask &= row_codes[p.slice_column]() == code
        if p.after is not None:
            after_s = (_parse_time(p.after) - minute0).astype(np.int64)  # seconds from start
            mask &= row_minute.astype(np.int64) * 60 > after_s
        idx = np.flatnonzero(mask)
        scopes.append(idx)
        hit = rng.random(len(idx)) < abs(p.flip_rate)
        target = ~reported[idx] if p.flip_rate >= 0 else reported[idx]
        reported[idx[hit & target]] = p.flip_rate >= 0

    # ---- expected effects (exact, from pi and e)
    poisoned = []
    for p, idx in zip(plants, scopes, strict=True):
        j = lab_index[p.labeler_id]
        rows_l = np.flatnonzero(row_lab == j)
        pi_l = pi[row_item[rows_l]]
        e_bar = float(np.delete(err, j).mean()) if n_labelers > 1 else float(err[j])
        prob = pi_l * (1 - err[j]) + (1 - pi_l) * err[j]
        for q, q_idx in zip(plants, scopes, strict=True):
            if q.labeler_id != p.labeler_id:
                continue
            inside = np.isin(rows_l, q_idx, assume_unique=True)
            f = q.flip_rate
            prob = np.where(inside, prob + (1 - prob) * f if f >= 0 else prob * (1 + f), prob)
        diff = prob - (pi_l * (1 - e_bar) + (1 - pi_l) * e_bar)
        in_scope = np.isin(rows_l, idx, assume_unique=True)
        poisoned.append(
            {
                "labeler_id": p.labeler_id,
                "slice_column": p.slice_column,
                "slice_value": p.slice_value,
                "flip_rate": p.flip_rate,
                "share": p.share,
                "after": p.after,
                "share_of_items": _round(len(rows_l) / n_items),  # one label per (item, labeler)
                "n_labels": len(rows_l),
                "n_labels_in_scope": len(idx),
                "expected_effect": _round(diff[in_scope].mean()) if len(idx) else None,
                "expected_labeler_effect": _round(diff.mean()) if len(rows_l) else None,
            }
        )

    # ---- frames
    pass_fail = (_PASS, _FAIL)  # code 0 = pass
    item_width = max(6, len(str(n_items)))
    item_ids = _fixed_width_ids("it", np.arange(1, n_items + 1), item_width)
    minutes = np.arange(n_days * 1440, dtype=np.int64).astype("timedelta64[m]") + minute0
    stamps = np.datetime_as_string(minutes, unit="s", timezone="UTC")
    columns: dict[str, pa.Array] = {
        ITEM_ID: item_ids.take(pa.array(row_item)),
        LABELER_ID: _column(row_lab, labeler_ids, categorical),
        LABEL: _column(~reported, pass_fail, categorical),
        TIMESTAMP: _column(row_minute, stamps, False),
        VENDOR: _column(vendor_of[row_lab], value_names[VENDOR], categorical),
        BATCH: _column(row_batch, value_names[BATCH], categorical),
        MODEL: _column(mod[row_item], mod_names, categorical),
        CATEGORY: _column(cat[row_item], cat_names, categorical),
        FAILURE_MODE: _column(fm[row_item], fm_names, categorical),
    }
    if gold_share > 0:
        gold_item = np.zeros(n_items, dtype=bool)
        gold_item[r_gold.choice(n_items, size=round(gold_share * n_items), replace=False)] = True
        columns[GOLD] = _column(~row_true, pass_fail, categorical, missing=~gold_item[row_item])
    labels = pa.table(columns).to_pandas()
    item_truth = pa.table(
        {
            ITEM_ID: item_ids,
            "true_label": _column(~truth_pass, pass_fail, categorical),
            "pi": pa.array(pi),
            CATEGORY: _column(cat, cat_names, categorical),
            FAILURE_MODE: _column(fm, fm_names, categorical),
            MODEL: _column(mod, mod_names, categorical),
        }
    ).to_pandas()

    n_per_lab = np.bincount(row_lab, minlength=n_labelers)
    truth: dict[str, Any] = {
        "seed": int(seed),
        "n_items": int(n_items),
        "n_labels": n_rows,
        "n_labelers": int(n_labelers),
        "poisoned": poisoned,
        "drift": [rec for rec in poisoned if rec["after"] is not None],
        "labelers": [
            {
                "labeler_id": labeler_ids[j],
                "vendor": value_names[VENDOR][vendor_of[j]],
                "error_rate": _round(err[j]),
                "specialty": cat_names[specialty[j]] if specialty[j] >= 0 else None,
                "n_labels": int(n_per_lab[j]),
            }
            for j in range(n_labelers)
        ],
        "config": {
            "vendors": value_names[VENDOR],
            "overlap_share": overlap_share,
            "overlap_k": overlap_k,
            "specialists": specialists,
            "months": months,
            "start": START,
            "gold_share": gold_share,
            "error_range": [e_lo, e_hi],
        },
    }
    return Simulation(labels=labels, truth=truth, item_truth=item_truth)


# --------------------------------------------------------------------------- sample

#: Size of the bundled sample.
SAMPLE_ITEMS = 6000
SAMPLE_LABELERS = 24


def sample_dataset(seed: int = 7) -> Simulation:
    """The bundled sample: 6000 items, 24 labelers, one lenient labeler.

    3 vendors, 15% of the items labeled by 3 labelers, specialists on, and
    one plant (:data:`SAMPLE_PLANT`): ``lab017`` labels 11% of the items and
    turns 60% of the "fail" labels it would give on ``failure_mode =
    hallucination`` into "pass". No drift is planted.

    Parameters
    ----------
    seed:
        Seed of the simulation (7 is the committed sample).

    Returns
    -------
    Simulation

    Examples
    --------
    >>> plant = sample_dataset().truth["poisoned"][0]
    >>> plant["labeler_id"], plant["slice_value"], plant["expected_effect"]
    ('lab017', 'hallucination', 0.293409)
    """
    return simulate(SAMPLE_ITEMS, SAMPLE_LABELERS, plants=(SAMPLE_PLANT,), seed=seed)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _readme(sim: Simulation, seed: int, sizes: dict[str, int]) -> str:
    t = sim.truth
    labels = sim.labels
    n_multi = int((labels.groupby(ITEM_ID).size() > 1).sum())
    lines = [
        "# evalaudit sample data",
        "",
        "A synthetic labeled eval set made by `evalaudit.simulate` with one planted lenient",
        "labeler, so that an audit has something true to find. Do not edit by hand; regenerate with",
        "",
        "```",
        f"evalaudit sample sample_data --seed {seed}",
        "```",
        "",
        "(the same seed writes byte-identical files).",
        "",
        "## Files",
        "",
        "| file | what | size (bytes) |",
        "|---|---|---|",
        f"| `labels.csv` | the label table, one row per (item, labeler) label | {sizes['csv']} |",
        f"| `labels.parquet` | the same rows (zstd) | {sizes['parquet']} |",
        "| `truth.json` | what was planted, with the expected effects | |",
        "",
        f"{t['n_labels']} labels of {t['n_items']} items by {t['n_labelers']} labelers from "
        f"{len(t['config']['vendors'])} vendors; {n_multi} items "
        f"({n_multi / t['n_items']:.0%}) carry {t['config']['overlap_k']} labels, the others one.",
        f"Labels were given over {t['config']['months']} months from {t['config']['start']}.",
        "",
        "## Columns",
        "",
        "| column | meaning |",
        "|---|---|",
        "| `item_id` | the eval item (`it000001`...) |",
        "| `labeler_id` | who gave the label (`lab001`...) |",
        '| `label` | the judgement: `pass` or `fail` (the output of the graded model is "good") |',
        "| `timestamp` | when the label was given, ISO 8601 UTC |",
        "| `vendor` | the labeler's vendor |",
        "| `batch` | two-week labeling batch of the timestamp (`b01`...) |",
        "| `model` | the graded system whose output the item holds |",
        "| `category` | item slice: the task category |",
        "| `failure_mode` | item slice: the failure mode the item probes |",
        "",
        "True pass rates differ a lot between categories, failure modes and models; the honest",
        "labelers err symmetrically at 3-7%. Some labelers are specialists who grade mostly one",
        "category, and workloads are unequal.",
        "",
        "## What was planted",
        "",
    ]
    for rec in t["poisoned"]:
        where = (
            "on every item"
            if rec["slice_column"] is None
            else f"on items with `{rec['slice_column']} = {rec['slice_value']}`"
        )
        when = "" if rec["after"] is None else f", only after {rec['after']}"
        kind = "lenient" if rec["flip_rate"] >= 0 else "severe"
        turn = (
            "a `fail` it would give into `pass`"
            if rec["flip_rate"] >= 0
            else ("a `pass` it would give into `fail`")
        )
        lines += [
            f"- **{rec['labeler_id']}** is {kind} {where}{when}: it turns {turn} with probability "
            f"{abs(rec['flip_rate']):.2f}. It labels {rec['share_of_items']:.1%} of the items "
            f"({rec['n_labels']} labels, {rec['n_labels_in_scope']} of them in that slice).",
            f"  Expected effect in the slice: {100 * rec['expected_effect']:+.1f} pass-rate points "
            "against an honest peer on the same items; over all of its labels: "
            f"{100 * rec['expected_labeler_effect']:+.1f} points.",
        ]
    lines += [
        "",
        "Nothing else was planted: every other labeler is honest (no drift, no other slice).",
        "`truth.json` holds the same facts as data (`poisoned`, `drift`, per-labeler error rates).",
        "",
    ]
    return "\n".join(lines)


def write_sample(outdir: str | Path, seed: int = 7) -> dict[str, Path]:
    """Write the bundled sample to ``outdir``.

    Writes ``labels.csv``, ``labels.parquet`` (same rows, zstd, no pandas
    metadata), ``truth.json`` (indent 2, sorted keys) and ``README.md``. The
    same seed writes byte-identical files.

    Parameters
    ----------
    outdir:
        Directory to write to (created if missing).
    seed:
        Seed of :func:`sample_dataset`.

    Returns
    -------
    dict of str to Path
        Keys ``csv``, ``parquet``, ``truth``, ``readme``.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    sim = sample_dataset(seed)
    paths = {
        "csv": out / "labels.csv",
        "parquet": out / "labels.parquet",
        "truth": out / "truth.json",
        "readme": out / "README.md",
    }
    sim.labels.to_csv(paths["csv"], index=False, lineterminator="\n")
    table = pa.Table.from_pandas(sim.labels, preserve_index=False).replace_schema_metadata(None)
    table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    pq.write_table(table, paths["parquet"], compression="zstd", write_statistics=False)
    paths["truth"].write_text(json.dumps(sim.truth, indent=2, sort_keys=True) + "\n")
    sizes = {key: paths[key].stat().st_size for key in ("csv", "parquet")}
    judged = judges_sample(seed)
    paths["judges"] = out / "judges.csv"
    paths["judges_truth"] = out / "judges_truth.json"
    judged.labels.to_csv(paths["judges"], index=False, lineterminator="\n")
    paths["judges_truth"].write_text(json.dumps(judged.truth, indent=2, sort_keys=True) + "\n")
    sizes["judges"] = paths["judges"].stat().st_size
    paths["readme"].write_text(_readme(sim, seed, sizes) + _judges_readme(judged))
    return paths


#: The judges of the LLM-judge sample and their model families.
SAMPLE_JUDGE_FAMILY = {"judge-a": "model-a", "judge-b": "model-b"}


def judges_sample(seed: int = 7) -> Simulation:
    """The LLM-judge sample (``sample_data/judges.csv``): two judges on every item, humans on 20%.

    :func:`simulate_judges` with 4000 items, judges ``judge-a`` (family
    ``model-a``) and ``judge-b`` (family ``model-b``), four humans on a random
    20% of the items; ``judge-b`` turns 55% of the fails it would give on
    ``failure_mode = hallucination`` into passes, ``judge-a`` 30% of the fails it
    would give on outputs of ``model-a`` (its own family). The label table gets
    ``labeler_type`` (``model`` / ``human``) and ``judge_family`` columns, so
    ``evalaudit audit sample_data/judges.csv`` needs no option.
    """
    sim = simulate_judges(
        4000,
        judges=tuple(SAMPLE_JUDGE_FAMILY),
        human_share=0.2,
        plants=(
            Plant("judge-b", 0.55, "failure_mode", "hallucination"),
            Plant("judge-a", 0.30, MODEL, "model-a"),
        ),
        seed=seed,
    )
    labels = sim.labels
    is_judge = labels[LABELER_ID].isin(list(SAMPLE_JUDGE_FAMILY))
    labels.insert(3, "labeler_type", np.where(is_judge, "model", "human"))
    labels.insert(4, "judge_family", labels[LABELER_ID].map(SAMPLE_JUDGE_FAMILY))
    sim.truth["judge_family"] = dict(SAMPLE_JUDGE_FAMILY)
    return sim


def _judges_readme(sim: Simulation) -> str:
    t = sim.truth
    lines = [
        "",
        "## LLM-judge sample (`judges.csv`)",
        "",
        f"`judges.csv` ({t['n_labels']} labels of {t['n_items']} items): an eval set graded by two "
        "LLM judges on every item and by four humans on a random 20% of the items (one human "
        "each), made by `evalaudit.simulate.judges_sample` (the same seed). Extra columns:",
        "",
        "| column | meaning |",
        "|---|---|",
        "| `labeler_type` | `model` for the LLM judges `judge-a`, `judge-b`; `human` for "
        "`hum1`..`hum4` |",
        "| `judge_family` | the judge's model family (`model-a`, `model-b`); empty for humans |",
        "",
        "Planted (`judges_truth.json` holds the same as data):",
        "",
    ]
    for rec in t["poisoned"]:
        lines.append(
            f"- **{rec['labeler_id']}** turns a `fail` it would give into `pass` with probability "
            f"{rec['flip_rate']:.2f} on items with `{rec['slice_column']} = {rec['slice_value']}`: "
            f"expected {100 * rec['expected_effect']:+.1f} pts there, "
            f"{100 * rec['expected_labeler_effect']:+.1f} pts over all of its labels."
        )
    lines += [
        "",
        "`judge-a`'s plant is self-preference (its family is `model-a`); the humans are honest.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- LLM judges

#: Vendor name given to the LLM judges of :func:`simulate_judges`.
JUDGE_VENDOR = "llm"


def simulate_judges(
    n_items: int = 5000,
    *,
    judges: Sequence[str] = ("judge_a", "judge_b"),
    n_humans: int = 4,
    human_share: float = 0.2,
    humans_per_item: int = 1,
    vendors: Sequence[str] = ("acme", "bolt"),
    plants: Sequence[Plant] = (),
    months: int = 6,
    error_range: tuple[float, float] = (0.03, 0.07),
    categories: SliceSpec = DEFAULT_CATEGORIES,
    failure_modes: SliceSpec = DEFAULT_FAILURE_MODES,
    models: SliceSpec = DEFAULT_MODELS,
    seed: int = 0,
) -> Simulation:
    """An eval set graded by LLM judges on every item and by humans on a random subset.

    Items, slices and true labels follow the model of :func:`simulate` (same
    slice specs, ``pi_i = expit(b_category + b_failure_mode + b_model + u_i)``).
    Every judge grades every item; a random ``human_share`` of the items
    (exact count, rounded) is also graded by ``humans_per_item`` distinct
    humans ``hum1``..., drawn uniformly. Every labeler (judge or human) has a
    symmetric error rate drawn uniformly from ``error_range``; judges belong
    to vendor :data:`JUDGE_VENDOR`, humans to ``vendors`` round-robin.
    Timestamps are uniform minutes over weekdays' working hours, ``batch`` is
    their two-week block.

    ``plants`` work as in :func:`simulate` (a label the labeler would give as
    "fail" becomes "pass" with probability ``flip_rate``, so a lenient judge
    passes ``flip + (1 - flip) e`` of the in-scope outputs that should fail),
    scoped by ``category``, ``failure_mode`` or ``model``; ``share`` and
    ``after`` are not supported. Items, error rates, human assignment, time,
    honest noise and each plant draw from their own streams of one
    ``SeedSequence``, so the same seed with ``flip_rate=0`` is the unpoisoned
    twin: the same rows, differing only by the planted flips.
    ``truth["poisoned"]`` carries ``expected_effect`` and
    ``expected_labeler_effect`` exactly as :func:`simulate` defines them (peer
    at ``e_bar``, the mean error rate of the other labelers, judges and
    humans).

    >>> sim = simulate_judges(200, seed=1)
    >>> sim.labels["labeler_id"].value_counts().loc[["judge_a", "judge_b"]].tolist()
    [200, 200]
    >>> len(sim.labels)
    440
    """
    if n_items < 1:
        raise ValueError("n_items must be >= 1")
    if not judges or len(set(judges)) != len(judges):
        raise ValueError("judges: at least one judge, with distinct names")
    if n_humans < 0 or not 0.0 <= human_share <= 1.0:
        raise ValueError("n_humans must be >= 0 and human_share in [0, 1]")
    n_human_items = round(human_share * n_items) if n_humans else 0
    if n_human_items and not 1 <= humans_per_item <= n_humans:
        raise ValueError("humans_per_item must be in [1, n_humans]")
    if not vendors:
        raise ValueError("vendors: at least one vendor is needed")
    e_lo, e_hi = error_range
    if not 0.0 <= e_lo <= e_hi < 0.5:
        raise ValueError("error_range must satisfy 0 <= low <= high < 0.5")
    cat_names, cat_p, cat_b = _check_spec("categories", categories)
    fm_names, fm_p, fm_b = _check_spec("failure_modes", failure_modes)
    mod_names, mod_p, mod_b = _check_spec("models", models)
    labeler_ids = [str(j) for j in judges] + _ids("hum", n_humans, 1)
    if len(set(labeler_ids)) != len(labeler_ids):
        raise ValueError("judge names must differ from the human ids hum1...")
    lab_index = {lab: j for j, lab in enumerate(labeler_ids)}
    value_names = {MODEL: mod_names, CATEGORY: cat_names, FAILURE_MODE: fm_names}
    for p in plants:
        if p.labeler_id not in lab_index:
            raise ValueError(f"Plant: unknown labeler {p.labeler_id!r}")
        if p.share is not None or p.after is not None:
            raise ValueError(f"Plant({p.labeler_id}): share and after are not supported here")
        if p.slice_column is not None and p.slice_column not in value_names:
            raise ValueError(
                f"Plant({p.labeler_id}): slice_column must be one of model, category, failure_mode"
            )
        if p.slice_column is not None and p.slice_value not in value_names[p.slice_column]:
            raise ValueError(
                f"Plant({p.labeler_id}): {p.slice_column} has no value {p.slice_value!r}"
            )
    n_judges, n_lab = len(judges), len(labeler_ids)

    ss = np.random.SeedSequence(seed)
    *streams, ss_plants = ss.spawn(6)
    r_items, r_labelers, r_assign, r_time, r_noise = map(np.random.default_rng, streams)
    plant_rngs = [np.random.default_rng(s) for s in ss_plants.spawn(len(plants))]

    # ---- items (the model of simulate)
    cat = _draw(r_items, cat_p, n_items).astype(np.int16)
    fm = _draw(r_items, fm_p, n_items).astype(np.int16)
    mod = _draw(r_items, mod_p, n_items).astype(np.int16)
    logit = cat_b[cat] + fm_b[fm] + mod_b[mod] + r_items.normal(0.0, ITEM_SD, n_items)
    pi = 1.0 / (1.0 + np.exp(-logit))
    truth_pass = r_items.random(n_items) < pi

    # ---- labelers
    err = r_labelers.uniform(e_lo, e_hi, n_lab)
    vendor_names = [JUDGE_VENDOR, *(str(v) for v in vendors)]
    vendor_of = np.zeros(n_lab, dtype=np.int64)
    vendor_of[n_judges:] = 1 + np.arange(n_humans) % len(vendors)

    # ---- assignment: every judge on every item, humans on a random subset
    human_items = np.sort(r_assign.choice(n_items, size=n_human_items, replace=False))
    human_lab = np.argsort(r_assign.random((n_human_items, n_humans)), axis=1)[:, :humans_per_item]
    row_item = np.concatenate(
        [np.repeat(np.arange(n_items), n_judges), np.repeat(human_items, humans_per_item)]
    ).astype(np.int32)
    row_lab = np.concatenate(
        [np.tile(np.arange(n_judges), n_items), n_judges + human_lab.ravel()]
    ).astype(np.int32)
    n_rows = len(row_item)

    # ---- time: weekdays, working hours, uniform
    start = np.datetime64(START, "D")
    minute0 = start.astype("datetime64[m]")
    end = np.datetime64((pd.Timestamp(START) + pd.DateOffset(months=months)).date(), "D")
    n_days = int((end - start).astype(np.int64))
    weekday = ((np.arange(n_days) + (start.astype(np.int64) + 3) % 7) % 7) < 5
    days = np.flatnonzero(weekday)
    h0, h1 = WORK_HOURS
    row_minute = days[r_time.integers(0, len(days), n_rows)] * 1440 + r_time.integers(
        h0 * 60, h1 * 60, n_rows
    )
    order = np.lexsort((row_minute, row_item))  # by item, the labels of an item by time
    row_item, row_lab, row_minute = row_item[order], row_lab[order], row_minute[order]
    row_batch = row_minute // 1440 // BATCH_DAYS
    batch_names = _ids("b", int(row_batch.max()) + 1, 2)

    # ---- labels: honest noise, then the plants
    row_true = truth_pass[row_item]
    reported = row_true ^ (r_noise.random(n_rows) < err[row_lab])
    codes = {MODEL: mod, CATEGORY: cat, FAILURE_MODE: fm}
    scopes = []
    for p, rng in zip(plants, plant_rngs, strict=True):
        mask = row_lab == lab_index[p.labeler_id]
        if p.slice_column is not None:
            code = value_names[p.slice_column].index(str(p.slice_value))
            mask &= codes[p.slice_column][row_item] == code
        idx = np.flatnonzero(mask)
        scopes.append(idx)
        hit = rng.random(len(idx)) < abs(p.flip_rate)
        target = ~reported[idx] if p.flip_rate >= 0 else reported[idx]
        reported[idx[hit & target]] = p.flip_rate >= 0

    # ---- expected effects (exact, as in simulate)
    poisoned = []
    for p, idx in zip(plants, scopes, strict=True):
        j = lab_index[p.labeler_id]
        rows_l = np.flatnonzero(row_lab == j)
        pi_l = pi[row_item[rows_l]]
        e_bar = float(np.delete(err, j).mean()) if n_lab > 1 else float(err[j])
        prob = pi_l * (1 - err[j]) + (1 - pi_l) * err[j]
        for q, q_idx in zip(plants, scopes, strict=True):
            if q.labeler_id != p.labeler_id:
                continue
            inside = np.isin(rows_l, q_idx, assume_unique=True)
            f = q.flip_rate
            prob = np.where(inside, prob + (1 - prob) * f if f >= 0 else prob * (1 + f), prob)
        diff = prob - (pi_l * (1 - e_bar) + (1 - pi_l) * e_bar)
        in_scope = np.isin(rows_l, idx, assume_unique=True)
        poisoned.append(
            {
                "labeler_id": p.labeler_id,
                "slice_column": p.slice_column,
                "slice_value": p.slice_value,
                "flip_rate": p.flip_rate,
                "share": None,
                "after": None,
                "share_of_items": _round(len(rows_l) / n_items),
                "n_labels": len(rows_l),
                "n_labels_in_scope": len(idx),
                "expected_effect": _round(diff[in_scope].mean()) if len(idx) else None,
                "expected_labeler_effect": _round(diff.mean()) if len(rows_l) else None,
            }
        )

    # ---- frames
    pass_fail = (_PASS, _FAIL)
    item_ids = _fixed_width_ids("it", np.arange(1, n_items + 1), max(6, len(str(n_items))))
    minutes = np.arange(n_days * 1440, dtype=np.int64).astype("timedelta64[m]") + minute0
    stamps = np.datetime_as_string(minutes, unit="s", timezone="UTC")
    labels = pa.table(
        {
            ITEM_ID: item_ids.take(pa.array(row_item)),
            LABELER_ID: _column(row_lab, labeler_ids, False),
            LABEL: _column(~reported, pass_fail, False),
            TIMESTAMP: _column(row_minute, stamps, False),
            VENDOR: _column(vendor_of[row_lab], vendor_names, False),
            BATCH: _column(row_batch, batch_names, False),
            MODEL: _column(mod[row_item], mod_names, False),
            CATEGORY: _column(cat[row_item], cat_names, False),
            FAILURE_MODE: _column(fm[row_item], fm_names, False),
        }
    ).to_pandas()
    item_truth = pa.table(
        {
            ITEM_ID: item_ids,
            "true_label": _column(~truth_pass, pass_fail, False),
            "pi": pa.array(pi),
            CATEGORY: _column(cat, cat_names, False),
            FAILURE_MODE: _column(fm, fm_names, False),
            MODEL: _column(mod, mod_names, False),
        }
    ).to_pandas()
    n_per_lab = np.bincount(row_lab, minlength=n_lab)
    truth: dict[str, Any] = {
        "seed": int(seed),
        "n_items": int(n_items),
        "n_labels": int(n_rows),
        "n_labelers": n_lab,
        "poisoned": poisoned,
        "drift": [],
        "labelers": [
            {
                "labeler_id": labeler_ids[j],
                "role": "judge" if j < n_judges else "human",
                "vendor": vendor_names[vendor_of[j]],
                "error_rate": _round(err[j]),
                "specialty": None,
                "n_labels": int(n_per_lab[j]),
            }
            for j in range(n_lab)
        ],
        "config": {
            "judges": list(labeler_ids[:n_judges]),
            "n_humans": n_humans,
            "human_share": human_share,
            "humans_per_item": humans_per_item,
            "vendors": vendor_names,
            "months": months,
            "start": START,
            "error_range": [e_lo, e_hi],
        },
    }
    return Simulation(labels=labels, truth=truth, item_truth=item_truth)
