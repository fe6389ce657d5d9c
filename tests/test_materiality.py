"""Materiality: a significant finding blocks only when it moves a score someone reads."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from evalaudit.audit import audit_ingested
from evalaudit.contract import InputError
from evalaudit.rules import load_policy
from evalaudit.validate import ingest
from tests.conftest import BH_RULES, REPO, SAMPLE, write

DATA = SAMPLE / "labels.csv"
TRUTH = json.loads((SAMPLE / "truth.json").read_text())["poisoned"][0]
PLANTED = TRUTH["labeler_id"]
CELL_ID = f"tilted_slice:{PLANTED}:{TRUTH['slice_column']}={TRUTH['slice_value']}"


@pytest.fixture(scope="module")
def sample():
    # spent by Benjamini-Hochberg the sample has a labeler and a cell finding (the default,
    # familywise control, finds the cell alone): materiality is checked on both kinds
    ing = ingest(str(DATA))
    return ing, audit_ingested(ing, load_policy(BH_RULES))


def test_sample_blocks_on_the_planted_labeler_and_cell_with_their_impact(sample):
    _, r = sample
    by_id = {f.id: f for f in r.findings}
    assert r.verdict == "block"
    for fid in (f"lenient_labeler:{PLANTED}", CELL_ID):
        f = by_id[fid]
        assert f.severity == "block" and f.impact["assessed"] and f.impact["material"], fid
    assert "slice" in by_id[CELL_ID].impact["material_because"]
    # every warn/block finding says what it does to the scores (or why it cannot)
    for f in r.findings:
        if f.severity in ("warn", "block"):
            assert f.impact is not None and "assessed" in f.impact, f.id


def test_cell_impact_matches_the_planted_shift(sample):
    """The slice delta is what the planted effect predicts from the rows themselves."""
    _, r = sample
    f = next(f for f in r.findings if f.id == CELL_ID)
    df = pd.read_csv(DATA)
    m = df.groupby("item_id")["labeler_id"].transform("size")
    col, val = TRUTH["slice_column"], TRUTH["slice_value"]
    in_slice = df[col] == val
    cell = in_slice & (df["labeler_id"] == PLANTED)
    n_items = df.loc[in_slice, "item_id"].nunique()
    # the planted labeler passes each in-scope label expected_effect more often than peers
    expected = -TRUTH["expected_effect"] * (1.0 / m[cell]).sum() / n_items
    lo, hi = f.impact["slice"]["delta_ci"]
    assert lo <= expected <= hi, (lo, expected, hi)
    assert f.impact["slice"]["items"] == n_items


def test_immaterial_findings_warn_instead_of_blocking(tmp_path, sample):
    ing, base = sample
    pol = write(
        tmp_path / "loose.yaml", "error_control: fdr\nmateriality:\n  headline: 5\n  slice: 50\n"
    )
    r = audit_ingested(ing, load_policy(pol))
    # the same findings are still significant: flagged, but they no longer block
    assert {f.id for f in r.findings} == {f.id for f in base.findings}
    for fid in (f"lenient_labeler:{PLANTED}", CELL_ID):
        f = next(x for x in r.findings if x.id == fid)
        assert f.severity == "warn" and not f.impact["material"]
        assert "not material" in f.message
    assert r.verdict == "warn"


def test_per_slice_override_makes_a_slice_stricter(tmp_path, sample):
    ing, _ = sample
    pol = write(
        tmp_path / "p.yaml",
        "error_control: fdr\nmateriality: {headline: 5, slice: 50}\n"
        f"overrides:\n  - slice: {TRUTH['slice_column']}={TRUTH['slice_value']}\n"
        "    materiality: {slice: 1}\n",
    )
    r = audit_ingested(ing, load_policy(pol))
    sev = {f.id: f.severity for f in r.findings}
    assert sev[CELL_ID] == "block" and sev[f"lenient_labeler:{PLANTED}"] == "warn"


@pytest.mark.parametrize(
    "text, key",
    [
        ("materiality: {headline: -1}\n", "materiality.headline"),
        ("materiality: {loud: 1}\n", "materiality.loud"),
        ("materiality: 3\n", "materiality"),
        (
            "overrides:\n  - slice: a=b\n    materiality: {slice: x}\n",
            "overrides[0].materiality.slice",
        ),
    ],
)
def test_materiality_keys_are_validated(tmp_path, text, key):
    with pytest.raises(InputError) as exc:
        load_policy(write(tmp_path / "bad.yaml", text))
    assert key in str(exc.value)


def test_policies_set_materiality():
    strict, default = load_policy(REPO / "rules" / "strict.yaml"), load_policy(None)
    assert default.materiality_headline == 0.5 and default.materiality_slice == 2.0
    assert strict.materiality_headline < default.materiality_headline
    assert strict.materiality_slice < default.materiality_slice


def test_interval_materiality_is_in_label_units(tmp_path):
    """On a 0..10 score a 0.03 shift of the headline is not material (0.5 label units)."""
    df = pd.read_csv(DATA)
    rng = np.random.default_rng(1)
    df["label"] = np.clip(
        np.where(df["label"] == "pass", 7.0, 3.0) + rng.normal(0, 1, len(df)), 0, 10
    )
    p = tmp_path / "iv.csv"
    df.to_csv(p, index=False)
    from evalaudit.contract import LabelKind
    from evalaudit.validate import IngestOptions

    opts = IngestOptions(label_kind=LabelKind.INTERVAL)
    r = audit_ingested(ingest(str(p), opts), load_policy(None))
    shift = [f for f in r.findings if f.kind == "headline_shift"]
    for f in shift:
        assert abs(f.impact["headline"]["delta"]) < 0.5 and f.severity == "warn"


def test_typed_headline_views_the_headline(sample):
    _, r = sample
    h = r.typed_headline
    assert h.overall.score == r.headline["score"] and h.overall.items == 6000
    # the planted labeler is lenient: correcting it lowers every model's score
    assert h.overall.corrected.delta < 0
    assert all(m.corrected is not None and m.corrected.delta < 0 for m in h.per_model)
    assert sum(m.items for m in h.per_model) == h.overall.items
    slices = {(s.scope, s.value) for s in h.per_slice}
    assert (TRUTH["slice_column"], TRUTH["slice_value"]) in slices
    assert h.estimator == "mean item score" and h.suspect_labels > 0


def test_drift_impact_corrects_the_labels_after_the_change(tmp_path):
    """A labeler who turns lenient mid-way: impact shifts only its labels from the change on."""
    from evalaudit.simulate import Plant, simulate

    after = "2026-05-15T00:00:00Z"
    sim = simulate(
        n_items=3000, n_labelers=10, seed=3, plants=[Plant("lab004", 0.8, share=0.3, after=after)]
    )
    p = tmp_path / "d.csv"
    sim.labels.to_csv(p, index=False)
    r = audit_ingested(ingest(str(p)), load_policy(None))
    f = next(f for f in r.findings if f.id == "labeler_drift:lab004")
    assert f.impact["assessed"] and f.impact["headline"]["delta"] < 0
    df = sim.labels
    ts = pd.to_datetime(df["timestamp"], utc=True)
    change = pd.Timestamp(f.evidence["change_at"])
    mine = df["labeler_id"] == "lab004"
    assert f.impact["n_labels"] == int((mine & (ts >= change)).sum())
    # the change is detected near the planted time (within three weeks)
    assert abs(change - pd.Timestamp(after)) < pd.Timedelta(days=21)


def test_every_renderer_shows_the_impact(tmp_path, run_cli):
    md, out = tmp_path / "g.md", tmp_path / "r"
    assert run_cli("gate", DATA, "-q", "--markdown", md, "--home", tmp_path / "h").code == 1
    assert run_cli("report", DATA, "--out", out, "--no-history", "-q").code == 1
    html = (out / "report.html").read_text()
    findings = html[html.index('id="findings"') : html.index('id="leniency"')]
    for text in (md.read_text(), (out / "report.md").read_text(), findings):
        # lab017 x hallucination moves its slice by about 3 pts (the planted shift,
        # test_cell_impact_matches_the_planted_shift): above the 2-pt threshold, material
        m = re.search(r"slice (-\d+\.\d) pts; material", text)
        assert m and float(m.group(1)) <= -2.0, text[:200]


def test_headline_shift_impact_of_a_model_without_suspect_labels_is_exactly_zero():
    """A correction on one graded system leaves the others' numbers where they are.

    Their per-model record says "no correction applied" (delta 0, no interval); the
    headline_shift finding's impact must read that as a change of exactly 0 (it raised
    TypeError and stopped the audit).
    """
    import sys

    audit_mod = sys.modules["evalaudit.audit"]
    moved = {"score": 0.613, "score_corrected": 0.586, "delta": -0.027}
    moved["delta_ci"] = [-0.035, -0.019]
    still = {"score": 0.647, "score_corrected": 0.647, "delta": 0.0, "delta_ci": None}
    headline = {
        "corrected": {
            "score": 0.594,
            "score_corrected": 0.585,
            "delta": -0.009,
            "delta_ci": [-0.011, -0.007],
            "suspect_labels": 258,
            "per_model": [
                {"model": "model-a", "applied": False, **still},
                {"model": "model-b", "applied": True, **moved},
            ],
        }
    }
    impact = audit_mod._headline_shift_impact(headline)
    per_model = {m["model"]: m for m in impact["per_model"]}
    assert per_model["model-a"]["delta_ci"] == [0.0, 0.0]
    assert per_model["model-b"]["delta_ci"] == [-0.035, -0.019]
    assert impact["ranking_after"] == ["model-a", "model-b"]
