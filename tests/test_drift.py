"""Drift: planted change points, clean-set false flags, null calibration, and a brute-force check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalaudit.rules import load_policy
from evalaudit.simulate import Plant, simulate
from evalaudit.stats.drift import (
    DRIFT_COLUMNS,
    cusum_test,
    flag_drift,
    labeler_drift,
    leniency_residuals,
    order_equal,
)
from evalaudit.stats.leniency import labeler_leniency
from evalaudit.table import LabelTable
from tests.conftest import SAMPLE

SLICES = ("category", "failure_mode")
#: The project's default policy (rules/default.yaml): BH at 1%, 5 points.
FDR, MIN_EFFECT = load_policy().fdr, load_policy().min_effect
#: ~60% through the simulated period (2026-03-02 .. 2026-09-02).
AFTER = "2026-06-20T00:00:00Z"


def table_of(frame: pd.DataFrame) -> LabelTable:
    return LabelTable.build(frame, "binary", positive="pass", slice_columns=SLICES)


def drift_sim(seed: int, flip_rate: float = 0.7, after: str | None = AFTER):
    plant = Plant("lab005", flip_rate=flip_rate, share=0.12, after=after)
    return simulate(n_items=6000, n_labelers=20, plants=[plant], seed=seed)


# --------------------------------------------------------------------------- planted drift


def test_planted_drift_is_found_with_its_time_and_size():
    """lab005 turns 70% of its fails into passes after AFTER: flagged, dated and sized in >= 9/10."""
    after = pd.Timestamp(AFTER)
    flagged, dated, batch_dated, others_flagged = 0, 0, 0, 0
    errors = []
    for seed in range(10):
        sim = drift_sim(seed)
        assert sim.truth["drift"][0]["after"] == AFTER
        table = table_of(sim.labels)
        d = labeler_drift(table, order="time").set_index("labeler_id")
        row = d.loc["lab005"]
        flags = pd.Series(flag_drift(d, FDR, MIN_EFFECT), index=d.index)
        flagged += bool(flags["lab005"]) and row["q_value"] < 0.01 and abs(row["effect"]) >= 0.05
        others_flagged += int(flags.drop("lab005").sum())
        span = pd.Timestamp(row["span_end"]) - pd.Timestamp(row["span_start"])
        err = abs(pd.Timestamp(row["change_at"]) - after) / span
        errors.append(err)
        dated += err <= 0.10
        # leniency before the change is that of an honest labeler, after it clearly positive
        assert abs(row["before"]) < 0.05, (seed, row["before"])
        assert row["after"] > 0.15, (seed, row["after"])
        # batch order dates the change to AFTER's two-week batch (b08: days 98-111) or a neighbour
        b = labeler_drift(table, order="batch").set_index("labeler_id").loc["lab005"]
        batch_dated += b["change_at"] in {"b07", "b08", "b09"}
    assert flagged >= 9, f"lab005 flagged in {flagged}/10 seeds"
    assert dated >= 9, f"change time within 10% of the span in {dated}/10: {np.round(errors, 3)}"
    assert batch_dated >= 9
    assert others_flagged <= 1, f"{others_flagged} honest labelers flagged over 10 seeds"


def test_planted_severe_drift_has_a_negative_effect():
    d = labeler_drift(table_of(drift_sim(3, flip_rate=-0.7).labels)).set_index("labeler_id")
    row = d.loc["lab005"]
    assert row["q_value"] < 0.01 and row["effect"] < -0.05
    assert flag_drift(d, FDR, MIN_EFFECT).sum() == 1


def test_constant_leniency_is_not_drift():
    """A labeler lenient from the first label to the last has leniency but no change."""
    for seed in range(5):
        table = table_of(drift_sim(seed, flip_rate=0.7, after=None).labels)
        d = labeler_drift(table).set_index("labeler_id")
        row = d.loc["lab005"]
        assert row["before"] > 0.15 and row["after"] > 0.15  # lenient throughout
        assert row["p_value"] > 0.01, (seed, row["p_value"])
        assert not flag_drift(d, FDR, MIN_EFFECT).any()
        # and leniency itself does see it
        lenient = labeler_leniency(table).set_index("labeler_id").loc["lab005"]
        assert lenient["effect"] > 0.15 and lenient["q_value"] < 0.01


def test_clean_sets_rarely_flag_anyone():
    """No plants, specialists on: at most 1 of 20 audits has any drift flag (default policy)."""
    audits_with_flags = 0
    for i in range(20):
        sim = simulate(n_items=5000, n_labelers=24, seed=100 + i)
        d = labeler_drift(table_of(sim.labels))
        assert d["p_value"].notna().sum() >= 20  # the audit did test (almost) everyone
        audits_with_flags += bool(flag_drift(d, FDR, MIN_EFFECT).any())
    assert audits_with_flags <= 1, f"{audits_with_flags}/20 clean audits flagged drift"


# --------------------------------------------------------------------------- calibration


def _null_p_values(n: int, rate: float, seed: int, reps: int = 10_000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = (rng.random((reps, n)) < rate).astype(np.float64)
    out = cusum_test(x.ravel(), np.full(reps, n))
    return out["p_value"], out["statistic"]


@pytest.mark.parametrize("n", [40, 100, 400])
def test_null_p_values_are_calibrated(n):
    """i.i.d. Bernoulli residuals: about 5% of 10^4 null p-values below 0.05, at small n too.

    The bounds [0.03, 0.07] are tighter than "roughly uniform" on purpose: the
    uncorrected Kolmogorov p-value ``kstwobign.sf(T)`` is conservative at
    small n (about 3% below 0.05 at n = 40, checked below), so this
    guards the continuity correction.
    """
    naive = []
    for rate, seed in ((0.5, 1), (0.3, 2)):
        p, t = _null_p_values(n, rate, seed=seed + n)
        assert np.isfinite(p).all()
        frac = float((p < 0.05).mean())
        assert 0.03 <= frac <= 0.07, (n, rate, frac)
        assert float((p < 0.01).mean()) <= 0.02, (n, rate)
        assert 0.15 <= float((p < 0.2).mean()) <= 0.25, (n, rate)  # uniform in the middle too
        naive.append(float((stats.kstwobign.sf(t) < 0.05).mean()))
    if n == 40:
        assert np.mean(naive) < 0.035, naive  # why the correction
    # rare non-zero residuals: lattice-valued, may be conservative, never anti-conservative
    p, _ = _null_p_values(n, 0.05, seed=n)
    assert float((p < 0.05).mean()) <= 0.07


def test_null_calibration_end_to_end():
    """The same through labeler_drift: 2000 honest labelers with 100 single labels each."""
    rng = np.random.default_rng(11)
    n_lab, n = 2000, 100
    lab = np.repeat(np.arange(n_lab), n)
    minutes = rng.integers(0, 180 * 1440, n_lab * n)
    frame = pd.DataFrame(
        {
            "item_id": np.arange(n_lab * n).astype(str),
            "labeler_id": pd.Series(lab).map("w{:04d}".format),
            "label": np.where(rng.random(n_lab * n) < 0.4, "pass", "fail"),
            "timestamp": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(minutes, "min"),
        }
    )
    d = labeler_drift(LabelTable.build(frame, "binary", positive="pass"), min_support=30)
    assert (d["n"] == n).all()
    frac = float((d["p_value"] < 0.05).mean())
    assert 0.03 <= frac <= 0.07, frac
    assert flag_drift(d, FDR, MIN_EFFECT).sum() == 0


# --------------------------------------------------------------------------- mechanics


@pytest.mark.parametrize("block", [None, 60, 1])
def test_cusum_matches_a_brute_force_loop(block, monkeypatch):
    """Also in blocks of whole series (60 values: some series share one, the 120-value
    series is its own; 1: every series alone) as 10^7-value inputs are run."""
    import evalaudit.stats.drift as drift

    if block is not None:
        monkeypatch.setattr(drift, "CUSUM_BLOCK", block)
    rng = np.random.default_rng(5)
    sizes = np.array([0, 1, 2, 7, 50, 3, 0, 120])
    values = rng.normal(size=sizes.sum()) + np.repeat(rng.normal(size=len(sizes)), sizes)
    values[-60:] += 1.5  # a change in the last series
    out = cusum_test(values, sizes)
    assert out["n"].tolist() == sizes.tolist()
    # the same series given as positions into shuffled values
    perm = np.random.default_rng(6).permutation(len(values))
    shuffled = np.empty_like(values)
    shuffled[perm] = values
    again = cusum_test(shuffled, sizes, order=perm)
    for key, v in out.items():
        np.testing.assert_array_equal(again[key], v)
    start = 0
    for j, m in enumerate(sizes):
        x = values[start : start + m]
        start += m
        if m < 2:
            assert np.isnan(out["statistic"][j]) and np.isnan(out["change_index"][j])
            continue
        s = np.array([np.sum(x[:k] - x.mean()) for k in range(1, m)])
        k = int(np.argmax(np.abs(s))) + 1
        t = np.abs(s).max() / (x.std(ddof=1) * np.sqrt(m))
        assert out["statistic"][j] == pytest.approx(t, rel=1e-9)
        assert out["p_value"][j] == pytest.approx(stats.kstwobign.sf(t + 0.5826 / np.sqrt(m)), 1e-3)
        assert out["change_index"][j] == k
        assert out["before"][j] == pytest.approx(x[:k].mean())
        assert out["after"][j] == pytest.approx(x[k:].mean())
    assert abs(out["change_index"][-1] - 60) <= 5 and out["p_value"][-1] < 1e-6


def test_constant_series_has_no_change():
    out = cusum_test(np.zeros(40), np.array([40]))
    assert out["statistic"][0] == 0.0 and out["p_value"][0] == 1.0
    assert np.isnan(out["change_index"][0])


def test_residuals_mean_is_leniency_and_peers_are_others():
    """Overlap residual = own - mean(others); single residual = own - other labelers' stratum mean."""
    frame = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "c", "d", "e"],
            "labeler_id": ["x", "y", "z", "x", "x", "y", "z"],
            "label": ["pass", "fail", "fail", "pass", "fail", "pass", "fail"],
            "category": ["k", "k", "k", "k", "k", "k", "m"],
        }
    )
    table = LabelTable.build(frame, "binary", positive="pass", slice_columns=("category",))
    r = leniency_residuals(table)
    # a: x 1 - 0, y 0 - 0.5, z 0 - 0.5; b, c: x vs y's single in k (1); d: y vs x's singles
    # in k (0.5); e: z is alone in stratum m -> NaN
    expected = [1.0, -0.5, -0.5, 0.0, -1.0, 0.5, np.nan]
    np.testing.assert_allclose(r, expected)


def test_untestable_labelers_and_missing_time():
    sim = drift_sim(0)
    frame = sim.labels.copy()
    frame.loc[frame.index[::10], "timestamp"] = None  # NaT: left out of the time order
    table = table_of(frame)
    d = labeler_drift(table, min_support=400)
    assert list(d.columns) == list(DRIFT_COLUMNS)
    assert len(d) == table.n_labelers
    small = d["n"] < 400
    assert small.any() and (~small).any()
    assert d.loc[small, ["statistic", "p_value", "q_value", "effect"]].isna().all().all()
    assert d.loc[small, "change_at"].isna().all()
    assert d.loc[~small, "p_value"].notna().all()
    r = leniency_residuals(table)
    has_time = table.frame["timestamp"].notna().to_numpy()
    n_usable = np.bincount(
        table.frame["labeler"].to_numpy()[np.isfinite(r) & has_time], minlength=table.n_labelers
    )
    np.testing.assert_array_equal(d["n"].to_numpy(), n_usable)
    # no timestamp column at all: one row per labeler, nothing tested
    bare = table_of(sim.labels.drop(columns=["timestamp"]))
    d0 = labeler_drift(bare)
    assert len(d0) == bare.n_labelers and d0["p_value"].isna().all()
    assert labeler_drift(bare, order="batch")["p_value"].notna().any()
    with pytest.raises(ValueError, match="order"):
        labeler_drift(bare, order="week")  # type: ignore[arg-type]


def test_batches_sort_naturally():
    """b2 comes before b10: a labeler who passes everything from b10 on is dated b10."""
    rows = []
    for i in range(1, 13):
        b = f"b{i}"
        for j in range(40):
            rows.append((f"{b}-{j}", "w1", "pass" if i >= 10 else "fail", b))
            rows.append((f"{b}-{j}p", "w2", "pass" if j % 3 else "fail", b))
    frame = pd.DataFrame(rows, columns=["item_id", "labeler_id", "label", "batch"])
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)  # rows out of order
    d = labeler_drift(LabelTable.build(frame, "binary", positive="pass"), order="batch")
    row = d.set_index("labeler_id").loc["w1"]
    # lexicographic order (b1, b10, b11, b12, b2, ...) would put the pass run at 40..159
    assert row["change_at"] == "b10" and row["change_index"] == 9 * 40
    assert row["before"] == pytest.approx(row["after"] - 1.0)
    assert row["q_value"] < 1e-6
    assert d.set_index("labeler_id").loc["w2", "p_value"] > 0.01


def _batched(stamps: dict[str, list[str]], shuffle: bool = True) -> LabelTable:
    rows = [(f"{b}-{j}", "w1", "pass", b, t) for b, ts in stamps.items() for j, t in enumerate(ts)]
    frame = pd.DataFrame(rows, columns=["item_id", "labeler_id", "label", "batch", "timestamp"])
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return LabelTable.build(frame, "binary", positive="pass")


def test_batch_order_is_time_order_only_when_no_later_batch_label_is_earlier():
    """The drift test in batch order is skipped only when it is the time-order test again."""
    day = "2026-03-0{}T00:00:00Z".format
    # natural order b2 < b10; a tie between batches at their boundary is allowed
    assert order_equal(_batched({"b2": [day(1), day(2)], "b10": [day(2), day(3)]}))
    # one b10 label is earlier than b2's last: not the same order
    assert not order_equal(_batched({"b2": [day(1), day(3)], "b10": [day(2), day(4)]}))
    # lexicographic order would call b10 < b2 and see the times reversed
    assert not order_equal(_batched({"b10": [day(1), day(2)], "b2": [day(3), day(4)]}))
    # ties in time listed in any row order do not hide a later batch's earlier label: b3's
    # label at day 1 precedes b2's at day 2 (sorting by time and comparing neighbours at a
    # time step only saw b3 -> b3 between the tied groups and missed it)
    tied = {"b1": [day(1)], "b3": [day(1), day(2)], "b2": [day(2)]}
    assert not order_equal(_batched(tied, shuffle=False))
    # one batch, or a missing batch or time
    assert order_equal(_batched({"b1": [day(3), day(1)]}))
    assert not order_equal(_batched({"b1": [day(1)], "b2": [day(2), None]}))


# --------------------------------------------------------------------------- sample data


def test_sample_data_has_no_drift():
    df = pd.read_csv(SAMPLE / "labels.csv", dtype=str)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    table = LabelTable.build(df, "binary", positive="pass", slice_columns=SLICES)
    for order in ("batch", "time"):
        d = labeler_drift(table, order=order)
        assert len(d) == table.n_labelers == d["labeler_id"].nunique()
        assert (d["order"] == order).all()
        assert d["p_value"].notna().sum() >= table.n_labelers - 2
        assert not flag_drift(d, FDR, MIN_EFFECT).any(), order
    assert set(d["change_at"].dropna()) <= set(df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
