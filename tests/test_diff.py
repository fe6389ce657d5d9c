"""``evalaudit diff``: items, labels, slices and the headline split between two versions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evalaudit.cli import cli
from evalaudit.commands.diff import diff
from evalaudit.contract import InputError
from evalaudit.diff import BY_LABELER_COLUMNS, SLICE_COLUMNS, diff_versions
from evalaudit.simulate import simulate
from evalaudit.table import LabelTable

cli.add_command(diff)

SLICES = ["category", "failure_mode"]
FLIP = {"pass": "fail", "fail": "pass"}


@pytest.fixture(scope="module")
def old() -> pd.DataFrame:
    return simulate(n_items=2000, n_labelers=12, seed=1).labels


def build(df: pd.DataFrame) -> LabelTable:
    return LabelTable.build(df, "binary", positive="pass", slice_columns=SLICES)


def headline(df: pd.DataFrame) -> float:
    """Mean over items of the item's pass rate, computed directly."""
    return float(df.assign(s=df["label"].eq("pass")).groupby("item_id")["s"].mean().mean())


def with_relabeled(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    new = df.copy()
    new.loc[rows, "label"] = new.loc[rows, "label"].map(FLIP)
    return new


# ------------------------------------------------------------------ acceptance
def test_one_labeler_relabels_37_labels(old):
    rng = np.random.default_rng(3)
    rows = np.sort(rng.choice(np.flatnonzero(old["labeler_id"].eq("lab003")), 37, replace=False))
    new = with_relabeled(old, rows)
    vd = diff_versions(build(old), build(new))

    lab = vd.labels
    assert (lab.changed, lab.added, lab.removed, lab.unchanged) == (37, 0, 0, len(old) - 37)
    planted = set(zip(old.loc[rows, "item_id"], old.loc[rows, "labeler_id"], strict=True))
    found = set(zip(lab.changed_labels["item_id"], lab.changed_labels["labeler_id"], strict=True))
    assert found == planted
    assert (lab.changed_labels["old"] != lab.changed_labels["new"]).all()
    expected_new = dict(zip(old.loc[rows, "item_id"], new.loc[rows, "label"], strict=True))
    assert all(expected_new[r.item_id] == r.new for r in lab.changed_labels.itertuples())
    assert list(lab.by_labeler.columns) == list(BY_LABELER_COLUMNS)
    assert lab.by_labeler["labeler_id"].tolist() == ["lab003"]
    assert lab.by_labeler.iloc[0][["changed", "added", "removed"]].tolist() == [37, 0, 0]
    assert {e["labeler_id"] for e in lab.examples} == {"lab003"} and len(lab.examples) == 20

    it = vd.items
    assert (it.added, it.removed, it.kept) == (0, 0, 2000)

    h = vd.headline
    assert h is not None
    assert h.old == pytest.approx(headline(old), abs=1e-12)
    assert h.new == pytest.approx(headline(new), abs=1e-12)
    assert h.change == pytest.approx(headline(new) - headline(old), abs=1e-12)
    assert h.from_changed_items == 0.0
    assert h.from_changed_labels == pytest.approx(h.change, abs=1e-15)
    assert h.items_rescored == len(planted)  # one changed label per item here
    # per model: the same direct computation within each model's items
    for m in h.per_model:
        o, n = old[old["model"] == m["model"]], new[new["model"] == m["model"]]
        assert m["change"] == pytest.approx(headline(n) - headline(o), abs=1e-12)
        assert m["from_changed_items"] == 0.0
    # nothing in the slices moved enough to be called a change
    assert not vd.slices["significant"].any()


def test_identical_versions_have_no_change(old):
    vd = diff_versions(build(old), build(old.sample(frac=1.0, random_state=0)))  # row order free
    assert (vd.labels.changed, vd.labels.added, vd.labels.removed) == (0, 0, 0)
    assert vd.labels.by_labeler.empty
    assert vd.headline.change == pytest.approx(0.0, abs=1e-15)
    assert (vd.slices["p_value"].dropna() == 1.0).all()


# -------------------------------------------------------------- items added/removed
def test_items_added_and_removed(old):
    rng = np.random.default_rng(5)
    ids = old["item_id"].unique()
    dropped = set(rng.choice(ids, 50, replace=False))
    template = rng.choice(sorted(set(ids) - dropped), 30, replace=False)
    fresh = old[old["item_id"].isin(template)].copy()
    fresh["item_id"] = "new-" + fresh["item_id"]
    # the new items get a different pass rate so the item part is not ~0 by chance
    fresh["label"] = "pass"
    new = pd.concat([old[~old["item_id"].isin(dropped)], fresh], ignore_index=True)
    vd = diff_versions(build(old), build(new))

    assert (vd.items.added, vd.items.removed, vd.items.kept) == (30, 50, 1950)
    assert set(vd.items.removed_ids) <= dropped and len(vd.items.removed_ids) == 20
    assert set(vd.items.added_ids) <= set(fresh["item_id"]) and len(vd.items.added_ids) == 20
    n_removed_labels = int(old["item_id"].isin(dropped).sum())
    assert vd.labels.removed == vd.labels.removed_on_removed_items == n_removed_labels
    assert vd.labels.added == vd.labels.added_on_new_items == len(fresh)
    assert vd.labels.changed == 0

    h = vd.headline
    assert h.change == pytest.approx(headline(new) - headline(old), abs=1e-12)
    assert h.from_changed_items + h.from_changed_labels == pytest.approx(h.change, abs=1e-12)
    assert h.from_changed_labels == 0.0  # no label of a kept item changed
    assert h.items_rescored == 0
    assert h.from_changed_items > 0.0  # all-pass items came in
    for m in h.per_model:
        assert m["from_changed_items"] + m["from_changed_labels"] == pytest.approx(
            m["change"], abs=1e-12
        )


def test_headline_split_with_both_kinds_of_change(old):
    """The labels part is the mean over kept items of the item-score change (pandas check)."""
    ids = old["item_id"].unique()
    new = old[~old["item_id"].isin(ids[:100])].copy()
    relabel = np.flatnonzero(new["labeler_id"].isin(["lab001", "lab005"]))[::3]
    new.iloc[relabel, new.columns.get_loc("label")] = "pass"
    extra = old[old["item_id"].isin(ids[100:140])].assign(item_id=lambda d: "x" + d["item_id"])
    new = pd.concat([new, extra], ignore_index=True)
    vd = diff_versions(build(old), build(new))
    h = vd.headline

    def item_scores(df):
        return df.assign(s=df["label"].eq("pass")).groupby("item_id")["s"].mean()

    so, sn = item_scores(old), item_scores(new)
    kept = so.index.intersection(sn.index)
    assert h.from_changed_labels == pytest.approx((sn[kept] - so[kept]).mean(), abs=1e-12)
    assert h.from_changed_items == pytest.approx(
        (so[kept].mean() - so.mean()) + (sn.mean() - sn[kept].mean()), abs=1e-12
    )
    assert h.from_changed_items + h.from_changed_labels == pytest.approx(h.change, abs=1e-12)
    assert h.change == pytest.approx(sn.mean() - so.mean(), abs=1e-12)


# ------------------------------------------------------------ slice distributions
def test_planted_distribution_change_in_one_slice(old):
    rng = np.random.default_rng(11)
    # background noise everywhere: 3% of labels flipped either way
    noise = np.flatnonzero(rng.random(len(old)) < 0.03)
    new = with_relabeled(old, noise)
    # the plant: 60% of the fails in category 'math' become passes
    math_fail = np.flatnonzero(new["category"].eq("math") & new["label"].eq("fail"))
    plant = math_fail[rng.random(len(math_fail)) < 0.6]
    new.loc[plant, "label"] = "pass"
    vd = diff_versions(build(old), build(new))

    s = vd.slices
    assert list(s.columns) == list(SLICE_COLUMNS)
    cat = s[s["slice_column"] == "category"].set_index("slice_value")
    assert cat.loc["math", "q_value"] < 1e-6
    assert cat.loc["math", "delta"] > 0.15
    assert cat.loc["math", "significant"]
    others = cat.drop(index="math")
    assert (others["q_value"] > 0.05).all(), others[["delta", "p_value", "q_value"]]
    assert not others["significant"].any()
    assert cat.loc["math", "test"] == "chi2" and cat.loc["math", "dof"] == 1
    counts = cat.loc["math", "old_counts"]
    assert sum(counts.values()) == cat.loc["math", "n_old"] == int(old["category"].eq("math").sum())
    assert vd.significant_slices.iloc[0]["slice_value"] == "math"


def test_interval_labels_use_welch(old):
    base = old.assign(label=np.where(old["label"].eq("pass"), 7.0, 3.0)).assign(
        label=lambda d: d["label"] + np.random.default_rng(2).normal(0, 1, len(d))
    )
    new = base.copy()
    new.loc[new["category"].eq("coding"), "label"] += 1.5
    build_i = lambda df: LabelTable.build(df, "interval", slice_columns=SLICES)  # noqa: E731
    vd = diff_versions(build_i(base), build_i(new))
    cat = vd.slices[vd.slices["slice_column"] == "category"].set_index("slice_value")
    assert (cat["test"] == "welch_t").all()
    assert cat.loc["coding", "delta"] == pytest.approx(1.5)
    assert cat.loc["coding", "significant"] and cat["significant"].sum() == 1
    assert vd.labels.changed == int(old["category"].eq("coding").sum())
    assert vd.headline.from_changed_labels == pytest.approx(vd.headline.change)


# ------------------------------------------------------------ incompatible scales
def test_incompatible_scales_are_an_input_error(old):
    ordinal = LabelTable.build(
        old.assign(label=np.where(old["label"].eq("pass"), "5", "1")),
        "ordinal",
        categories=["1", "2", "3", "4", "5"],
    )
    with pytest.raises(InputError, match="label scale"):
        diff_versions(build(old), ordinal)


def test_cli_incompatible_scales_exit_2_naming_both_files(tmp_path, run_cli):
    a, b = tmp_path / "v1_binary.csv", tmp_path / "v2_ordinal.csv"
    a.write_text("item_id,labeler_id,label\nq1,w1,pass\nq2,w1,fail\nq3,w2,pass\n")
    b.write_text("item_id,labeler_id,label\nq1,w1,4\nq2,w1,2\nq3,w2,5\nq4,w2,1\n")
    out = tmp_path / "diff.json"
    r = run_cli("diff", a, b, "--json", out)
    assert r.code == 2
    assert "v1_binary.csv" in r.err and "v2_ordinal.csv" in r.err
    assert "binary" in r.err and "ordinal" in r.err
    assert not out.exists()  # outputs only after success


# ------------------------------------------------------------------ CLI end to end
def test_cli_end_to_end(tmp_path, run_cli, old):
    rows = np.flatnonzero(old["labeler_id"].eq("lab003"))[:37]
    new = with_relabeled(old, rows)
    new = new[~new["item_id"].isin(["it000002", "it000003"])]
    a, b = tmp_path / "old.csv", tmp_path / "new.csv"
    old.to_csv(a, index=False)
    new.to_csv(b, index=False)
    out, md = tmp_path / "out" / "diff.json", tmp_path / "diff.md"
    r = run_cli("diff", a, b, "--json", out, "--markdown", md)
    assert r.code == 0, r.err
    # the headline and its split come first
    first = [ln for ln in r.out.splitlines() if ln.strip()]
    assert first[4].startswith("Headline (mean item score):")
    assert "from changed items" in first[5] and "from changed labels" in first[6]
    assert "lab003" in r.out

    d = json.loads(out.read_text())
    assert d["schema_version"] == 1
    assert d["old"]["path"] == str(a) and len(d["new"]["sha256"]) == 64
    assert d["label_kind"] == "binary" and d["categories"] == ["fail", "pass"]
    assert d["items"]["removed"] == 2 and d["items"]["added"] == 0
    assert set(d["items"]["removed_ids"]) == {"it000002", "it000003"}
    for key in ("kept", "added", "removed", "added_ids", "removed_ids"):
        assert key in d["items"]
    labs = d["labels"]
    for key in ("changed", "added", "removed", "unchanged", "by_labeler", "examples"):
        assert key in labs
    assert labs["by_labeler"][0]["labeler_id"] == "lab003"
    assert set(labs["by_labeler"][0]) == set(BY_LABELER_COLUMNS)
    assert set(labs["examples"][0]) == {"item_id", "labeler_id", "old", "new"}
    h = d["headline"]
    for key in ("old", "new", "change", "from_changed_items", "from_changed_labels", "per_model"):
        assert key in h
    assert h["from_changed_items"] + h["from_changed_labels"] == pytest.approx(h["change"])
    assert {m["model"] for m in h["per_model"]} == set(old["model"])
    assert d["slices"] and set(d["slices"][0]) == set(SLICE_COLUMNS)
    assert {r["slice_column"] for r in d["slices"]} >= {"category", "failure_mode"}
    assert md.read_text().startswith("# evalaudit diff")


def test_cli_help_has_examples(run_cli):
    r = run_cli("diff", "--help")
    assert r.code == 0
    assert "\n  evalaudit diff v1/labels.csv v2/labels.csv\n" in r.out
