"""Detectors through the whole audit (CLI in-process): drift and slices planted in a CSV."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalaudit.simulate import Plant, simulate


def test_drifting_labeler_is_found_with_its_change_time(run_cli, tmp_path):
    after = "2026-06-20T00:00:00Z"
    sim = simulate(
        n_items=6000, n_labelers=20, seed=4, plants=[Plant("lab005", 0.7, share=0.12, after=after)]
    )
    path = tmp_path / "labels.csv"
    sim.labels.to_csv(path, index=False)
    out = tmp_path / "a.json"
    r = run_cli("audit", path, "--json", out, "-q")
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    drift = [f for f in d["findings"] if f["kind"] == "labeler_drift"]
    assert [f["id"] for f in drift] == ["labeler_drift:lab005"]
    row = next(x for x in d["drift"] if x["labeler_id"] == "lab005" and x["order"] == "time")
    span = pd.Timestamp(row["span_end"]) - pd.Timestamp(row["span_start"])
    assert abs(pd.Timestamp(row["change_at"]) - pd.Timestamp(after)) <= 0.10 * span
    assert row["after"] - row["before"] > 0.15
    assert "turned" in drift[0]["message"] and "lab005" in r.out


def test_sample_headline_without_suspects_is_lower_with_ci_excluding_zero(run_cli, tmp_path):
    from tests.conftest import SAMPLE

    out = tmp_path / "a.json"
    assert run_cli("audit", SAMPLE / "labels.csv", "--json", out, "-q").code == 0
    h = json.loads(out.read_text())["headline"]
    assert h["score_without_suspects"] < h["score_kept_items"]
    assert h["delta_ci"][1] < 0  # exclusion, paired over the items that keep a label
    c = h["corrected"]
    assert c["score_corrected"] < c["score"] and c["delta_ci"][1] < 0
    truth = json.loads((SAMPLE / "truth.json").read_text())["poisoned"][0]
    assert truth["slice_value"] == "hallucination"
    assert set(h["variants"]) == {"flagged_labelers", "flagged_cells"}


@pytest.mark.parametrize("seed", [0, 1])
def test_labeler_lenient_on_one_graded_system_is_a_model_cell_naming_the_system(seed):
    """Issue 12 #2: a labeler who passes 60% of one system's failing outputs (12% share).

    The labeler x model cell is flagged, its finding names the system and the model's
    corrected pass rate; the other systems, which it graded like its peers, are said to
    need no correction (an audit with no suspect label on a model used to crash in the
    materiality step: its per-model delta has no interval).
    """
    import evalaudit

    sim = simulate(
        6000,
        24,
        specialists=0.3,
        plants=(Plant("lab017", 0.6, "model", "model-b", share=0.12),),
        seed=seed,
    )
    res = evalaudit.audit(sim.labels)
    cells = res.cells
    flagged = cells[cells["flagged"].astype(bool)]
    keys = zip(flagged["labeler_id"], flagged["slice_column"], flagged["slice_value"], strict=True)
    assert set(keys) == {("lab017", "model", "model-b")}
    tilted = [f for f in res.findings if f.kind == "tilted_slice"]
    assert len(tilted) == 1 and "model-b" in tilted[0].message
    per_model = {m["model"]: m for m in res.headline["corrected"]["per_model"]}
    assert per_model["model-b"]["applied"] and per_model["model-b"]["delta"] < -0.01
    assert not per_model["model-a"]["applied"] and per_model["model-a"]["delta_ci"] is None
