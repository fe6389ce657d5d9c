"""Tests for evalaudit.stats.consensus and the ``consensus`` command.

Provenance of every pinned number (all from ../shared/REFERENCE_VALUES.md, "Truth inference
on ../shared/datasets", measured there with crowd-kit 1.4.2 on exactly these files, all
columns read as strings, adult2 with the last of each duplicated (item, labeler) pair):

- ``MV_EXPECTED``: "majority vote, expected accuracy with ties broken at random".
- ``TIED``: "Tied majority votes: rte 65 items, dog 50, face 28, adult2 423".
- ``DS_CROWDKIT``: "crowd-kit DawidSkene (n_iter=100, tol=1e-5)", which stopped after 2
  iterations on bluebirds and adult2 (its ELBO went down).
- ``DS_CROWDKIT_100``: "crowd-kit DawidSkene, all 100 iterations".
- Spearman targets: the peer figures bluebirds 0.972, rte 0.837 (bars 0.9 / 0.7 here).

Everything else is computed inside the test by an independent route (plain pandas merges
and groupbys, ``statsmodels`` Wilson intervals) or is a hand-made example.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from statsmodels.stats.proportion import proportion_confint

from evalaudit.contract import InputError
from evalaudit.gold import read_gold
from evalaudit.stats.consensus import (
    DawidSkeneResult,
    dawid_skene,
    expected_accuracy_random_ties,
    gold_accuracy,
    gold_codes,
    majority_vote,
    mean_consensus,
    tie_order,
    wilson_interval,
)
from evalaudit.table import LabelTable
from tests.conftest import shared_dataset, write

DATASETS = ("bluebirds", "rte", "dog", "face", "product", "adult2")
MV_EXPECTED = {
    "bluebirds": 0.7593,
    "rte": 0.8969,
    "dog": 0.8222,
    "face": 0.6367,
    "product": 0.8966,
    "adult2": 0.7583,
}
# bluebirds (39 labels per item) and product (3 per item) are binary with an odd number of
# labels per item, so they cannot tie; the reference lists the other four.
TIED = {"bluebirds": 0, "rte": 65, "dog": 50, "face": 28, "product": 0, "adult2": 423}
DS_CROWDKIT = {
    "bluebirds": 0.8889,
    "rte": 0.9275,
    "dog": 0.8426,
    "face": 0.6404,
    "product": 0.9397,
    "adult2": 0.7658,
}
DS_CROWDKIT_100 = {
    "bluebirds": 0.8981,
    "rte": 0.9275,
    "dog": 0.8426,
    "face": 0.6404,
    "product": 0.9397,
    "adult2": 0.7477,
}
#: adult2: our converged DS scores below crowd-kit's early-stopped 0.7658 (see the test).
ADULT2_CONVERGED = 0.7387


# ----------------------------------------------------------------------- loading
def _read(name: str) -> tuple[pd.DataFrame, pd.Series]:
    labels = pd.read_csv(shared_dataset(name, "labels.csv"), dtype=str)
    # `--duplicates keep-last`: only adult2 has duplicated (item, labeler) pairs
    labels = labels.drop_duplicates(["item_id", "labeler_id"], keep="last")
    gold = pd.read_csv(shared_dataset(name, "gold.csv"), dtype=str)
    return labels, gold.set_index("item_id")["gold_label"]


@functools.cache
def _load(name: str) -> tuple[pd.DataFrame, pd.Series, LabelTable]:
    labels, gold = _read(name)
    return labels, gold, LabelTable.build(labels, "nominal")


@functools.cache
def _ds(name: str) -> DawidSkeneResult:
    return dawid_skene(_load(name)[2])


def _accuracy(table: LabelTable, gold: pd.Series, value: np.ndarray) -> float:
    codes = gold_codes(table, gold)
    has = codes >= 0
    return float(np.mean(value[has] == codes[has]))


def _ds_accuracy(name: str, **kw: object) -> float:
    _, gold, table = _load(name)
    res = _ds(name) if not kw else dawid_skene(table, **kw)  # type: ignore[arg-type]
    return _accuracy(table, gold, res.labels["value"].to_numpy())


# ----------------------------------------------------------------------- majority vote
@pytest.mark.parametrize("name", DATASETS)
def test_majority_vote_expected_accuracy_and_ties_match_reference(name):
    """Pins the vote counting: expected accuracy with random ties and the count of ties."""
    _, gold, table = _load(name)
    assert expected_accuracy_random_ties(table, gold) == pytest.approx(MV_EXPECTED[name], abs=1e-4)
    mv = majority_vote(table)
    assert int(mv["tied"].sum()) == TIED[name]
    assert len(mv) == table.n_items
    assert mv["item"].tolist() == list(range(table.n_items))
    assert (mv["n_labels"].to_numpy() == table.labels_per_item()).all()


def test_majority_vote_against_a_pandas_count_on_dog():
    """Winner, share and tie flag equal a value_counts done in pandas; ties follow the rule."""
    labels, _, table = _load("dog")
    counts = labels.groupby(["item_id", "label"]).size().unstack(fill_value=0)
    freq = labels["label"].value_counts()
    mv = majority_vote(table).set_index("item_id")
    for item, row in counts.iterrows():
        top = row[row == row.max()].index.tolist()
        # the rule: larger overall frequency, then the smaller code (codes sort like "0" < "3")
        expected = sorted(top, key=lambda c: (-freq[c], table.categories.index(c)))[0]
        got = mv.loc[item]
        assert got["label"] == expected
        assert bool(got["tied"]) == (len(top) > 1)
        assert got["confidence"] == pytest.approx(row.max() / row.sum())


def test_tie_rule_by_hand():
    df = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "c", "c", "d", "d"],
            "labeler_id": ["x", "y"] * 4,
            "label": ["b", "c", "b", "b", "a", "c", "c", "a"],
        }
    )
    t = LabelTable.build(df, "nominal")
    # frequencies: b 3, c 3, a 2 -> b and c tie on frequency, b has the smaller code
    assert tie_order(t) == ("b", "c", "a")
    mv = majority_vote(t)
    assert mv["label"].tolist() == ["b", "b", "c", "c"]
    assert mv["tied"].tolist() == [True, False, True, True]
    assert mv["confidence"].tolist() == [0.5, 1.0, 0.5, 0.5]
    # random ties: a (gold c, 2 tied) 1/2, b 1, c (gold a) 1/2, d (gold b, not tied in) 0
    gold = pd.Series({"a": "c", "b": "b", "c": "a", "d": "b"})
    assert expected_accuracy_random_ties(t, gold) == pytest.approx((0.5 + 1 + 0.5 + 0) / 4)


def test_interval_labels_are_refused_by_the_vote():
    t = LabelTable.build(
        pd.DataFrame({"item_id": ["a"], "labeler_id": ["x"], "label": ["1.5"]}), "interval"
    )
    with pytest.raises(ValueError, match="mean_consensus"):
        majority_vote(t)
    with pytest.raises(ValueError, match="categorical"):
        dawid_skene(t)


# ----------------------------------------------------------------------- mean
def test_mean_consensus_ordinal_and_interval_by_hand():
    df = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "c", "c", "c"],
            "labeler_id": ["x", "y", "x", "y", "x", "y", "z"],
            "label": ["1", "2", "1", "5", "4", "5", "5"],
        }
    )
    ordinal = mean_consensus(LabelTable.build(df, "ordinal", categories=list("12345")))
    # mean ranks (0-based): a 0.5 -> halfway, rounds up to "2"; b 2.0 -> "3"; c 3.67 -> "5"
    assert ordinal["label"].tolist() == ["2", "3", "5"]
    assert ordinal["tied"].tolist() == [True, False, False]
    assert ordinal["confidence"].tolist() == pytest.approx([0.5, 0.0, 2 / 3])
    assert ordinal["mean"].tolist() == pytest.approx([0.125, 0.5, 11 / 12])
    interval = mean_consensus(LabelTable.build(df, "interval"))
    assert interval["label"].tolist() == ["1.5", "3", "4.66666666667"]
    assert interval["confidence"].isna().all()
    assert interval["n_labels"].tolist() == [2, 2, 3]
    with pytest.raises(ValueError, match="ordered"):
        mean_consensus(LabelTable.build(df, "nominal"))


# ----------------------------------------------------------------------- Dawid-Skene
@pytest.mark.parametrize("name", ["bluebirds", "rte", "dog", "face", "product"])
def test_dawid_skene_matches_or_beats_crowd_kit(name):
    res = _ds(name)
    acc = _ds_accuracy(name)
    assert acc >= DS_CROWDKIT[name] - 1e-9, f"{name}: {acc:.4f} < {DS_CROWDKIT[name]}"
    assert res.posteriors.shape == (_load(name)[2].n_items, len(_load(name)[2].categories))
    np.testing.assert_allclose(res.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(res.confusion.sum(axis=2), 1.0)
    # EM ascends its (smoothed, MAP) objective
    assert (np.diff(res.log_posterior) >= -1e-9 * np.abs(res.log_posterior[1:])).all()


def test_dawid_skene_on_adult2_falls_short_of_the_early_stopped_reference():
    """adult2: converged DS scores 0.7387, below crowd-kit's 0.7658.

    crowd-kit's 0.7658 is an early stop after 2 iterations (its ELBO went down); run to
    the end, crowd-kit itself gets 0.7477 (the "all 100 iterations" row). We do not tune
    to the test set: the converged figure is pinned here as a regression value, and the
    two crowd-kit figures are reproduced by the trajectory tests below.
    """
    assert _ds_accuracy("adult2") == pytest.approx(ADULT2_CONVERGED, abs=1e-4)
    # and below majority vote (0.7583): on this sparse 4-class set DS does not help
    assert _ds_accuracy("adult2") < MV_EXPECTED["adult2"]


@pytest.mark.parametrize("name", DATASETS)
def test_dawid_skene_trajectory_reproduces_crowd_kit(name):
    """Near-zero smoothing, 100 iterations, no early stop = crowd-kit's all-100 row.

    This pins the E and M steps (not only the end point) against an independent
    implementation; with 2 iterations it reproduces crowd-kit's early-stopped figures on
    the two datasets where crowd-kit stopped there.
    """
    acc = _ds_accuracy(name, smoothing=1e-8, tol=0.0, max_iter=100)
    assert acc == pytest.approx(DS_CROWDKIT_100[name], abs=1e-4)
    if name in ("bluebirds", "adult2"):
        early = _ds_accuracy(name, max_iter=2)
        assert early == pytest.approx(DS_CROWDKIT[name], abs=1e-4)


def _spearman(name: str) -> float:
    _, gold, table = _load(name)
    acc = gold_accuracy(table, gold)
    acc = acc[acc["n_gold"] >= 10]
    q = _ds(name).quality.loc[acc["labeler"].to_numpy()]
    return float(spearmanr(q.to_numpy(), acc["gold_accuracy"].to_numpy()).statistic)


@pytest.mark.parametrize(("name", "floor"), [("bluebirds", 0.9), ("rte", 0.7)])
def test_quality_ranks_labelers_like_their_gold_accuracy(name, floor):
    rho = _spearman(name)
    assert rho >= floor, f"{name}: Spearman {rho:.3f}"


def test_dawid_skene_tiny_example_spammer_gets_low_quality():
    truth = ["1", "0", "1", "1", "0", "0", "1", "0", "1", "0", "0", "1"]
    rows = []
    for i, t in enumerate(truth):
        flip = "0" if t == "1" else "1"
        rows.append((f"q{i}", "good1", t))
        rows.append((f"q{i}", "good2", t if i != 3 else flip))
        rows.append((f"q{i}", "good3", t if i != 7 else flip))
        rows.append((f"q{i}", "spammer", "0"))  # always the same class
    t = LabelTable.build(pd.DataFrame(rows, columns=["item_id", "labeler_id", "label"]), "nominal")
    res = dawid_skene(t)
    assert res.converged and res.n_iter < 500
    assert res.labels["label"].tolist() == truth
    quality = pd.Series(res.quality.to_numpy(), index=t.labeler_ids)
    assert quality.idxmin() == "spammer"
    assert quality["spammer"] == pytest.approx(0.5, abs=0.05)  # right only on the 0s (half)
    assert (quality.drop("spammer") > 0.85).all()
    assert pd.Series(res.mean_diagonal.to_numpy(), index=t.labeler_ids).idxmin() == "spammer"
    # deterministic
    again = dawid_skene(t)
    np.testing.assert_array_equal(again.posteriors, res.posteriors)
    lab = res.labeler_table(t)
    assert lab.columns.tolist() == [
        "labeler",
        "labeler_id",
        "n_labels",
        "quality",
        "mean_diagonal",
    ]


def test_dawid_skene_argument_checks():
    t = _tiny_table()
    with pytest.raises(ValueError, match="smoothing"):
        dawid_skene(t, smoothing=0)
    with pytest.raises(ValueError, match="max_iter"):
        dawid_skene(t, max_iter=0)
    with pytest.raises(ValueError, match="init"):
        dawid_skene(t, init="random")  # type: ignore[arg-type]
    post = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert dawid_skene(t, init=post).labels["label"].tolist() == ["0", "1"]


def _tiny_table() -> LabelTable:
    return LabelTable.build(
        pd.DataFrame(
            {
                "item_id": ["a", "a", "b", "b"],
                "labeler_id": ["x", "y", "x", "y"],
                "label": ["0", "0", "1", "1"],
            }
        ),
        "nominal",
    )


# ----------------------------------------------------------------------- gold
@pytest.mark.parametrize("name", ["rte", "dog"])
def test_gold_accuracy_equals_a_pandas_merge(name):
    labels, gold, table = _load(name)
    merged = labels.merge(gold.rename("gold").reset_index(), on="item_id", how="inner")
    merged["correct"] = merged["label"] == merged["gold"]
    direct = merged.groupby("labeler_id")["correct"].agg(["mean", "size", "sum"])
    ours = gold_accuracy(table, gold).set_index("labeler_id")
    ours = ours[ours["n_gold"] > 0]
    assert sorted(ours.index) == sorted(direct.index)
    direct = direct.loc[ours.index]
    np.testing.assert_allclose(ours["gold_accuracy"], direct["mean"])
    np.testing.assert_array_equal(ours["n_gold"], direct["size"])
    lo, hi = proportion_confint(direct["sum"], direct["size"], alpha=0.05, method="wilson")
    np.testing.assert_allclose(ours["ci_low"], lo, atol=1e-12)
    np.testing.assert_allclose(ours["ci_high"], hi, atol=1e-12)


def test_gold_from_the_table_column_and_bad_gold():
    df = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "c"],
            "labeler_id": ["x", "y", "x", "y", "x"],
            "label": ["1", "0", "0", "0", "1"],
            "gold": [None, "1", "0", "0", None],  # first non-null per item
        }
    )
    t = LabelTable.build(df, "nominal")
    assert gold_codes(t).tolist() == [1, 0, -1]
    acc = gold_accuracy(t).set_index("labeler_id")
    assert acc.loc["x", "gold_accuracy"] == 1.0 and acc.loc["y", "gold_accuracy"] == 0.5
    with pytest.raises(ValueError, match="'maybe'"):
        gold_accuracy(t, pd.Series({"a": "maybe"}))
    lo, hi = wilson_interval([0], [0])
    assert math.isnan(lo[0]) and math.isnan(hi[0])


def test_read_gold_errors_name_file_column_and_rows(tmp_path):
    ok = write(tmp_path / "gold.csv", "item_id,gold_label\nq1,pass\nq2,fail\nq1,pass\n")
    g = read_gold(ok)
    assert g.to_dict() == {"q1": "pass", "q2": "fail"}
    assert g.attrs["rows"] == {"q1": 2, "q2": 3}
    missing = write(tmp_path / "g2.csv", "item_id,answer\nq1,pass\n")
    with pytest.raises(InputError) as exc:
        read_gold(missing)
    assert str(missing) in str(exc.value) and "gold_label" in str(exc.value)
    conflict = write(tmp_path / "g3.csv", "item_id,gold_label\nq1,pass\nq2,fail\nq1,fail\n")
    with pytest.raises(InputError) as exc:
        read_gold(conflict)
    msg = str(exc.value)
    assert "different gold" in msg and "2" in msg and "4" in msg and "item_id" in msg


# ----------------------------------------------------------------------- CLI
@pytest.fixture
def cli_with_consensus(run_cli):
    from evalaudit.cli import cli
    from evalaudit.commands.consensus import consensus

    cli.add_command(consensus)  # idempotent; the lead registers it in cli.py
    return run_cli


def test_cli_consensus_on_rte_with_gold(cli_with_consensus, tmp_path):
    labels = shared_dataset("rte", "labels.csv")
    gold = shared_dataset("rte", "gold.csv")
    out = tmp_path / "out.csv"
    r = cli_with_consensus("consensus", labels, "--out", out, "--gold", gold)
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "item_id,label,confidence,n_labels"
    written = pd.read_csv(out, dtype={"item_id": str, "label": str})
    assert len(written) == 800 and written["item_id"].is_unique
    assert (written["n_labels"] == 10).all()
    first_seen = pd.read_csv(labels, dtype=str)["item_id"].drop_duplicates().tolist()
    assert written["item_id"].tolist() == first_seen
    assert "65 of 800 items tied" in r.out
    m = re.search(r"accuracy on gold items: (0\.\d{4})", r.out)
    assert m, r.out
    # the same accuracy as the library's vote against gold
    _, g, table = _load("rte")
    assert float(m.group(1)) == pytest.approx(
        _accuracy(table, g, majority_vote(table)["value"].to_numpy()), abs=1e-4
    )
    assert "top 5" in r.out and "bottom 5" in r.out


def test_cli_bad_gold_file_exits_2_naming_it(cli_with_consensus, tmp_path):
    labels = write(tmp_path / "labels.csv", "item_id,labeler_id,label\nq1,a,pass\nq1,b,fail\n")
    bad = write(tmp_path / "gold.csv", "item_id,answer\nq1,pass\n")
    out = tmp_path / "out.csv"
    r = cli_with_consensus("consensus", labels, "--out", out, "--gold", bad)
    assert r.code == 2
    assert str(bad) in r.err and "gold_label" in r.err
    assert "Traceback" not in r.err + r.out
    assert not out.exists()


@pytest.mark.parametrize("command", ["audit", "gate", "report"])
def test_gold_value_outside_the_labels_is_an_input_error_in_audit_and_gate(
    run_cli, tmp_path, command
):
    """A gold value that is not a label category ('PASS ' beside pass/fail): `consensus` named
    the gold file, column and rows; audit, gate and report stopped with 'internal error:
    ValueError' (exit 2, no file or row named) on the old code."""
    from tests.conftest import HEADER, good_rows

    labels = write(tmp_path / "labels.csv", HEADER + good_rows(40))
    gold = write(tmp_path / "gold.csv", "item_id,gold_label\nq0,pass\nq1,PASS \n")
    extra = ["--out", tmp_path / "out", "--no-history"] if command == "report" else []
    r = run_cli(command, labels, "--gold", gold, *extra)
    assert r.code == 2
    assert "internal error" not in r.err
    assert f"{gold}: 1 problem(s)" in r.err and "[gold_value] column 'gold_label'" in r.err
    assert "(line 3)" in r.err and "fix: write gold with the same spelling" in r.err


def test_audit_says_how_many_gold_items_matched(run_cli, tmp_path):
    """A gold file whose ids match no item (or some): the audit printed no gold figure and no
    word on the old code (n_gold 0 in the JSON only)."""
    from tests.conftest import HEADER, good_rows

    labels = write(tmp_path / "labels.csv", HEADER + good_rows(40))
    gold = write(tmp_path / "gold.csv", "item_id,gold_label\nq0,pass\nQ0,pass\nnope,fail\n")
    out = tmp_path / "a.json"
    r = run_cli("audit", labels, "--gold", gold, "-q", "--json", out)
    assert r.code == 0, r.err
    said = f"gold ({gold}): 1 of 3 gold item(s) are in the labels; 2 have no labels and are ignored"
    assert said in r.out
    assert said in json.loads(out.read_text())["notes"]


def test_gold_with_interval_labels_is_an_error_not_ignored(run_cli, tmp_path):
    """--gold on interval scores: `consensus` refuses it; the audit ignored the gold file
    without a word (exit 0, no gold anywhere) on the old code."""
    rows = "".join(f"q{i // 2},w{i % 2},{(i % 7) / 8}\n" for i in range(40))
    labels = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    gold = write(tmp_path / "gold.csv", "item_id,gold_label\nq0,0.5\n")
    for command in ("audit", "gate"):
        r = run_cli(command, labels, "--gold", gold)
        assert r.code == 2, (command, r.out)
        assert f"{gold}: 1 problem(s)" in r.err
        assert "--gold needs categorical labels; the labels are interval" in r.err


def test_dawid_skene_without_overlap_leaves_confidence_empty(cli_with_consensus, tmp_path):
    """No item with two labels: the error rates are not identified. On the old code EM
    relabelled a whole labeler (w0's every 'fail' became 'pass') and printed the smoothing's
    confidences as if estimated; each item now keeps its one label, confidence empty."""
    rows = "".join(f"q{i},w{i % 3},{'pass' if i % 4 else 'fail'}\n" for i in range(60))
    labels = write(tmp_path / "labels.csv", "item_id,labeler_id,label\n" + rows)
    out = tmp_path / "out.csv"
    r = cli_with_consensus("consensus", labels, "--out", out, "--method", "dawid-skene")
    assert r.code == 0, r.err
    assert "Dawid-Skene not run: no item has two or more labels" in r.out
    assert "not estimable" in r.out
    got = pd.read_csv(out)
    assert got["confidence"].isna().all() and len(got) == 60
    want = {f"q{i}": "pass" if i % 4 else "fail" for i in range(60)}
    assert dict(zip(got["item_id"], got["label"], strict=True)) == want


def test_cli_neutralises_formula_injection(cli_with_consensus, tmp_path):
    labels = write(
        tmp_path / "labels.csv",
        "item_id,labeler_id,label\n"
        "=cmd(),a,pass\n=cmd(),b,pass\n"
        "@SUM(A1),a,fail\n@SUM(A1),b,fail\n"
        "-1,a,pass\n-1,b,fail\n"
        "q4,a,pass\nq4,b,pass\n",
    )
    out = tmp_path / "out.csv"
    r = cli_with_consensus("consensus", labels, "--out", out, "--method", "dawid-skene")
    assert r.code == 0, r.err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "item_id,label,confidence,n_labels"
    ids = [line.split(",")[0] for line in lines[1:]]
    assert ids == ["'=cmd()", "'@SUM(A1)", "-1", "q4"]  # a plain number is not a formula
    assert "converged after" in r.out


def test_cli_help_has_examples(cli_with_consensus):
    r = cli_with_consensus("consensus", "--help")
    assert r.code == 0
    assert "Examples:\n  evalaudit consensus labels.csv --out consensus.csv" in r.out
    assert "MEAN" in r.out


def test_speed_of_dawid_skene_on_adult2():
    """~90k labels, 100 iterations: well under a second here (no dense matrix sneaking in)."""
    table = _load("adult2")[2]
    start = time.perf_counter()
    dawid_skene(table, max_iter=100, tol=0.0)
    assert time.perf_counter() - start < 10
