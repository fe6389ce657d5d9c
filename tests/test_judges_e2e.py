"""LLM judges end to end (issue 15): ingest of labeler types, humans as the joint model's
reference, the judge rules, headline.ppi and the judges table in the JSON, every surface.

Statistics are checked against what was planted (``simulate_judges`` truth), never against
numbers the code produced.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import evalaudit
from evalaudit.contract import InputError
from evalaudit.simulate import Plant, simulate_judges
from tests.conftest import SAMPLE

JUDGES_CSV = SAMPLE / "judges.csv"
JTRUTH = json.loads((SAMPLE / "judges_truth.json").read_text())


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from evalaudit.cli import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    """The bundled judge sample audited through the CLI: JSON, text summary, Markdown."""
    import io
    from contextlib import redirect_stdout

    from evalaudit.cli import main

    d = tmp_path_factory.mktemp("judges")
    js, md = d / "a.json", d / "a.md"
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["audit", str(JUDGES_CSV), "--json", str(js), "--markdown", str(md), "-q"])
    assert rc == 0  # audit reports; the gate is what exits 1 on a block
    return json.loads(js.read_text()), buf.getvalue(), md.read_text()


# ------------------------------------------------------------------ ingest
def _small(tmp_path, types: dict[str, str] | None = None):
    sim = simulate_judges(300, judges=("judge_a",), n_humans=2, human_share=0.3, seed=2)
    df = sim.labels
    if types is not None:
        df = df.assign(labeler_type=df["labeler_id"].map(types))
    path = tmp_path / "labels.csv"
    df.to_csv(path, index=False)
    return df, path


def test_labeler_type_synonyms_and_accounting(tmp_path):
    types = {"judge_a": " LLM", "hum1": "annotator", "hum2": "Person"}
    df, path = _small(tmp_path, types)
    ing = evalaudit.read_labels(path)
    t = ing.table
    assert dict(zip(t.labeler_ids, t.labeler_types, strict=True)) == {
        "hum1": "human",
        "hum2": "human",
        "judge_a": "model",
    }
    # a labeler attribute: never a slice, no row set aside
    assert "labeler_type" not in t.slice_columns and "labeler_type" not in t.frame.columns
    acc = ing.accounting
    assert acc.rows_read == acc.rows_used == len(df) and acc.rows_rejected == {}
    assert any("1 model(s)" in n for n in ing.notes)


def test_unknown_labeler_type_names_file_column_row_and_fix(tmp_path, capsys):
    df, path = _small(tmp_path, {"judge_a": "model", "hum1": "human", "hum2": "human"})
    df.loc[7, "labeler_type"] = "robot"
    df.to_csv(path, index=False)
    rc, _, err = _main(["validate", str(path)], capsys)
    assert rc == 2
    assert str(path) in err
    assert "column 'labeler_type'" in err and "unknown labeler type" in err
    assert "line 9" in err  # data row 8 (0-based 7) is line 9 of the file: header is line 1
    assert "'robot'" in err and "fix: use 'human' or 'model'" in err


def test_side_table_labeler_type_error_names_the_side_file_and_its_row(tmp_path, capsys):
    _, path = _small(tmp_path)
    side = tmp_path / "labelers.csv"
    side.write_text("labeler_id,labeler_type,judge_family\njudge_a,llm,model-a\nhum1,martian,\n")
    rc, _, err = _main(["validate", str(path), "--labelers", str(side)], capsys)
    assert rc == 2
    assert f"{side}: 1 problem(s)" in err and "line 3" in err and "'martian'" in err
    side.write_text("labeler_id,labeler_type,judge_family\njudge_a,llm,model-a\nhum1,human,\n")
    ing = evalaudit.read_labels(path, labelers=side)
    assert ing.table.judge_family == {"judge_a": "model-a"}
    assert list(ing.table.is_judge) == [False, False, True]
    assert "judge_family" not in ing.table.slice_columns


def test_labeler_typed_both_ways_is_an_error(tmp_path):
    df, path = _small(tmp_path, {"judge_a": "model", "hum1": "human", "hum2": "human"})
    df.loc[df.index[df["labeler_id"] == "hum1"][0], "labeler_type"] = "judge"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match="typed both human and model"):
        evalaudit.read_labels(path)


def test_judges_glob(tmp_path, capsys):
    _, path = _small(tmp_path)
    ing = evalaudit.read_labels(path, judges=["judge_*"])
    assert ing.table.labeler_types == ("human", "human", "model")
    rc, _out, err = _main(["validate", str(path), "--judges", "gpt-*"], capsys)
    assert rc == 2 and "--judges 'gpt-*' matches no labeler_id" in err
    # a glob naming a labeler the file calls human is a contradiction, not an override
    _df, path = _small(tmp_path, {"judge_a": "model", "hum1": "human", "hum2": "human"})
    with pytest.raises(InputError, match="types as human"):
        evalaudit.read_labels(path, judges=["hum*"])
    # several globs add up
    _, path = _small(tmp_path)
    ing = evalaudit.read_labels(path, judges=["judge_a", "hum2"])
    assert ing.table.labeler_types == ("human", "model", "model")


def test_judges_only_say_the_judge_audit_is_not_run(tmp_path, capsys):
    """Every labeler a judge: no judge audit and no PPI headline (they need humans); the
    summary said only '3 model(s), 0 human(s)' on the old code, not that they were skipped."""
    from tests.conftest import HEADER, good_rows

    path = tmp_path / "judges_only.csv"
    path.write_text(HEADER + good_rows(80), encoding="utf-8")
    rc, out, err = _main(["audit", str(path), "--judges", "*", "-q"], capsys)
    assert rc == 0, err
    assert "0 human(s); no human labels, so the judge audit and the PPI headline" in out
    r = evalaudit.audit(path, judges=["*"])
    assert any("judge audit and the PPI headline" in n for n in r.notes)
    assert r.headline.get("ppi") is None


def test_no_types_means_all_humans(tmp_path):
    _, path = _small(tmp_path)
    t = evalaudit.read_labels(path).table
    assert t.labeler_types == () and not t.has_judges and not t.is_judge.any()


def test_two_judges_that_never_share_an_item(tmp_path, capsys):
    """Judges on disjoint items: each judge's PPI estimate, and the combination needing every
    judge's score says why it has none (was an internal error: a reshape of nothing)."""
    from tests.conftest import HEADER, good_rows

    path = tmp_path / "disjoint.csv"
    path.write_text(HEADER + good_rows(200), encoding="utf-8")
    rc, _out, err = _main(["audit", str(path), "--judges", "w1", "--judges", "w3", "-q"], capsys)
    assert rc == 0, err
    r = evalaudit.audit(path, judges=["w1", "w3"])
    rows = {x["judge"]: x for x in r.headline["ppi"]["estimates"]}
    assert np.isfinite(rows["w1"]["score"]) and np.isfinite(rows["w3"]["score"])
    weighted = next(x for x in rows.values() if x["method"].startswith("ppi++ multi"))
    assert not np.isfinite(weighted["score"]) and weighted["n_labeled"] == 0
    assert "no human-labeled item" in weighted["note"]


def test_judges_and_humans_on_disjoint_items_print_no_estimate_without_a_dangling_ci(
    tmp_path, capsys
):
    """Judges on some items, humans on the others: the PPI headline and the humans-only
    estimate have no value; the summaries say ``n/a``, not ``n/a -`` (the missing CI printed
    as ``-`` after it, on the old code)."""
    rows = ["item_id,labeler_id,label"]
    for i in range(120):
        who = ("judge1", "judge2") if i < 60 else ("h1", "h2")
        rows += [f"q{i},{w},{'pass' if (i + k) % 3 else 'fail'}" for k, w in enumerate(who)]
    path = tmp_path / "disjoint.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rc, out, err = _main(["audit", str(path), "--judges", "judge*", "-q"], capsys)
    assert rc == 0, err
    rc, gate, err = _main(["gate", str(path), "--judges", "judge*"], capsys)
    assert rc == 0, err
    for text in (out, gate):
        line = next(x for x in text.splitlines() if "PPI headline" in x)
        assert "n/a -" not in line, line
        assert "humans-only n/a" in line, line


# ------------------------------------------------------------------ humans as the reference
def _human_mean_leniency(r) -> float:
    lab = r.labelers[r.labelers["labeler_id"].str.startswith("hum")]
    lab = lab[np.isfinite(lab["leniency"].to_numpy(dtype=float))]
    return float(np.average(lab["leniency"], weights=lab["n_labels"]))


def test_humans_are_the_reference_when_judges_are_declared():
    # one judge on every item passing 25% of the outputs that truly fail (flip 0.21 on top
    # of its own errors), humans on a uniform 10% (issue 15's first design)
    sim = simulate_judges(
        5000,
        judges=("judge_a",),
        human_share=0.10,
        plants=[Plant("judge_a", flip_rate=0.21)],
        seed=2,
    )
    expected = sim.truth["poisoned"][0]["expected_labeler_effect"]
    # before (untyped, the budget spent by Benjamini-Hochberg as in v0.1): the judge is most of
    # every human's peers, its leniency their baseline. (Under the default familywise control
    # this seed's untyped fit happens to flag judge_a x model-c first, and the judge with it.)
    from tests.conftest import BH_RULES

    before = evalaudit.audit(sim.labels, rules=BH_RULES)
    after = evalaudit.audit(sim.labels, judges=["judge_*"])
    assert _human_mean_leniency(before) < -0.04
    # after: the humans are the zero point; the judge is measured against them
    assert abs(_human_mean_leniency(after)) < 0.02
    assert not any(i.startswith("hum") for i in after.flagged_labelers())
    assert "judge_a" in after.flagged_labelers()
    j = after.labelers.set_index("labeler_id").loc["judge_a"]
    assert j["ci_low"] <= expected <= j["ci_high"]
    assert after.labelers.set_index("labeler_id")["labeler_type"].to_dict() == {
        "judge_a": "model",
        "hum1": "human",
        "hum2": "human",
        "hum3": "human",
        "hum4": "human",
    }


# ------------------------------------------------------------------ rules on planted effects
def test_planted_judge_tilt_and_self_preference_are_found(judged):
    d, _, _ = judged
    ids = {f["id"]: f for f in d["findings"]}
    tilt = ids["judge_tilt:judge-b:failure_mode=hallucination"]
    assert tilt["severity"] == "block" and tilt["rule"] == "EA210"
    planted_b = next(p for p in JTRUTH["poisoned"] if p["labeler_id"] == "judge-b")
    assert tilt["ci"][0] <= planted_b["expected_effect"] <= tilt["ci"][1]
    sp = ids["judge_self_preference:judge-a"]
    assert sp["rule"] == "EA111"
    # judge-a turns 30% of the fails it would give on model-a into passes: among outputs
    # that truly fail, its false-pass rate rises by 0.3 (1 - e) against other models
    e = next(x["error_rate"] for x in JTRUTH["labelers"] if x["labeler_id"] == "judge-a")
    planted = 0.3 * (1 - e)
    assert sp["ci"][0] <= planted <= sp["ci"][1] and sp["ci"][0] > 0
    # the judge rules replace the peer findings for the judges they cover
    assert not any(f["kind"] in ("lenient_labeler", "tilted_slice") for f in d["findings"])
    # no human is flagged anywhere
    assert not [r for r in d["labelers"] if r["labeler_type"] == "human" and r["flagged"]]


def test_clean_judge_design_raises_no_judge_finding():
    sim = simulate_judges(3000, human_share=0.2, seed=11)
    r = evalaudit.audit(sim.labels, judges=["judge_*"])
    assert not [f for f in r.findings if f.kind.startswith("judge_")]
    assert not r.flagged_labelers()
    # both judges' bias CIs cover 0 (they are honest; errors are symmetric, pass rate ~0.6
    # gives a bias of (1 - 2p) (e_j - e_h), well under a point here)
    for lo, hi in zip(r.judges["ci_low"], r.judges["ci_high"], strict=True):
        assert lo < 0.01 and hi > -0.01


def test_rules_are_registered_and_listed(capsys):
    from evalaudit.rules import RULE_BY_KIND

    for kind, code in (
        ("judge_bias", "EA110"),
        ("judge_self_preference", "EA111"),
        ("judge_tilt", "EA210"),
    ):
        r = RULE_BY_KIND[kind]
        assert r.code == code and r.materiality
    rc, out, _ = _main(["rules"], capsys)
    assert rc == 0 and "EA110" in out and "judge.self_preference" in out and "EA210" in out


def test_judge_tests_spend_the_one_budget(judged):
    d, _, _ = judged
    b = d["scan"]["budget"]
    assert b["tests"]["judges"] > 0
    assert b["tests_total"] == sum(b["tests"].values())
    assert "LLM-judge" in b["method"]
    # every tested judge record has a q-value at least its p-value (BH never lowers one)
    for j in d["judges"]:
        if j["tested"]:
            assert j["q_value"] >= j["p_value"] - 1e-12


# ------------------------------------------------------------------ JSON contract
PPI_KEYS = {
    "score",
    "ci",
    "n_labeled",
    "n_unlabeled",
    "lambda",
    "judge",
    "method",
    "judge_only_score",
    "judge_only_ci",
    "humans_only_score",
    "humans_only_ci",
    "per_model",
    "per_slice",
    "estimates",
    "assumption",
}
JUDGE_KEYS = {
    "judge",
    "family",
    "n_shared",
    "kappa",
    "pass_when_humans_fail",
    "fail_when_humans_pass",
    "bias",
    "ci",
    "q_value",
    "flagged",
    "per_slice",
    "self_preference",
}


def test_json_has_ppi_and_judges(judged):
    d, _, _ = judged
    ppi = d["headline"]["ppi"]
    assert set(ppi) >= PPI_KEYS
    assert ppi["n_labeled"] + ppi["n_unlabeled"] == d["input"]["items"]
    assert {m["model"] for m in ppi["per_model"]} == {"model-a", "model-b", "model-c"}
    assert all({"slice_column", "slice_value", "judge"} <= set(s) for s in ppi["per_slice"])
    # the existing headline fields stay (the contract only grows)
    assert {"score", "ci", "corrected", "per_model", "per_slice"} <= set(d["headline"])
    assert [j["judge"] for j in d["judges"]] == ["judge-a", "judge-b"]
    for j in d["judges"]:
        assert set(j) >= JUDGE_KEYS
        assert j["n_shared"] == 800  # every human item is graded by both judges
        assert {"slice_column", "slice_value", "bias", "tilt", "q_value"} <= set(j["per_slice"][0])
    assert d["judges"][0]["self_preference"]["own_models"] == ["model-a"]
    assert {r["labeler_type"] for r in d["labelers"]} == {"human", "model"}


def test_json_round_trips_and_old_inputs_have_no_judges(judged):
    from evalaudit.result import AuditResult

    d, _, _ = judged
    text = json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    again = AuditResult.from_json(text)
    assert json.loads(again.to_json())["judges"] == d["judges"]
    assert again.judges.set_index("judge")["bias"].to_dict() == {
        j["judge"]: j["bias"] for j in d["judges"]
    }
    plain = evalaudit.audit(SAMPLE / "labels.csv")
    pd_ = plain.to_dict()
    assert pd_["judges"] == [] and "ppi" not in pd_["headline"]
    assert "labeler_type" not in pd_["labelers"][0]


# ------------------------------------------------------------------ surfaces
def test_text_and_markdown_show_the_judges(judged):
    _, text, md = judged
    assert "LLM judges (humans are the reference" in text
    assert "PPI headline" in text and "judge-only" in text and "humans-only" in text
    assert "(LLM judge)" in text
    assert "## LLM judges" in md and "**PPI headline**" in md


def test_html_report_and_gate_show_the_judges(tmp_path, capsys):
    rc, _, _ = _main(["report", str(JUDGES_CSV), "--out", str(tmp_path / "r"), "-q"], capsys)
    html = next((tmp_path / "r").glob("*.html")).read_text()
    assert '<section id="judges">' in html and "PPI" in html and "judge-b" in html
    assert "judge-b (LLM judge)</td>" in html  # the labelers table marks the judges
    rc, out, _ = _main(["gate", str(JUDGES_CSV), "-q"], capsys)
    assert rc == 1
    assert "PPI headline (LLM judges de-biased by 800 human-labeled items)" in out
    assert "judge_tilt:judge-b:failure_mode=hallucination" in out


def test_dismissing_judge_bias_unsuspects_the_judge(tmp_path):
    from datetime import date

    from evalaudit.reviews import Decision

    r = evalaudit.audit(JUDGES_CSV)
    assert "judge_bias:judge-b" in {f.id for f in r.findings}
    before = r.headline["suspect_labels"]
    decs = [
        Decision(
            finding_id=fid,
            action="dismiss",
            by="t",
            reason="rubric changed",
            until=None,
            recorded_at="2026-12-01T00:00:00Z",
        )
        for fid in ("judge_bias:judge-b", "judge_tilt:judge-b:failure_mode=hallucination")
    ]
    from evalaudit.audit import audit_ingested
    from evalaudit.rules import load_policy

    ing = evalaudit.read_labels(JUDGES_CSV)
    r2 = audit_ingested(ing, load_policy(None), decisions=decs, today=date(2026, 12, 1))
    # judge-b's labels leave the suspects (its joint-model flag and cell go with them)
    assert r2.headline["suspect_labels"] < before
    dismissed = {x["finding_id"] for x in r2.reviews["dismissed"]}
    assert {"judge_bias:judge-b", "judge_tilt:judge-b:failure_mode=hallucination"} <= dismissed


@pytest.mark.skipif(sys.platform == "win32", reason="paths")
def test_sample_command_writes_the_judge_sample(tmp_path, capsys):
    rc, _out, _ = _main(["sample", str(tmp_path)], capsys)
    assert rc == 0
    assert (tmp_path / "judges.csv").read_bytes() == JUDGES_CSV.read_bytes()
    assert (tmp_path / "README.md").read_text() == (SAMPLE / "README.md").read_text()


def test_judge_tilt_refit_removes_the_shadows_of_a_real_tilt():
    from evalaudit.stats.judges import judge_slice_bias

    t = evalaudit.read_labels(JUDGES_CSV).table
    fm = "failure_mode"
    raw = judge_slice_bias(t, t.is_judge, columns=[fm])
    ref = judge_slice_bias(t, t.is_judge, columns=[fm], refit=True)

    def honest(df: pd.DataFrame) -> pd.DataFrame:
        # judge-b is planted on hallucination only: elsewhere its true tilt is ~0
        return df[(df["judge"] == "judge-b") & (df["slice_value"] != "hallucination")]

    # without the refit, its bias elsewhere holds the hallucination leniency: shadows
    assert (honest(raw)["tilt_ci_high"] < 0).any()
    assert ((honest(ref)["tilt_ci_low"] <= 0) & (honest(ref)["tilt_ci_high"] >= 0)).all()
    planted = next(p for p in JTRUTH["poisoned"] if p["labeler_id"] == "judge-b")
    h = ref[(ref["judge"] == "judge-b") & (ref["slice_value"] == "hallucination")].iloc[0]
    assert h["tilt_ci_low"] <= planted["expected_effect"] <= h["tilt_ci_high"]
    # the slice's own bias and size are the raw ones either way
    assert np.allclose(ref["bias"], raw["bias"]) and (ref["n_shared"] == raw["n_shared"]).all()


@pytest.mark.parametrize("seed", [94, 104, 127])
def test_the_real_judge_tilt_gets_the_slice_parameter_not_its_shadow(seed):
    """Two judges on every item, judge_b passing 55% of the hallucination fails, humans on a
    fifth: the joint model sees judge_b's tilt and judge_a's shadow about equally strongly, and
    in these seeds of benchmarks/calibration.py's judges design the shadow took the slice's
    parameter first and judge_a was flagged (an honest judge). Ranked by the humans' evidence,
    the real tilt gets it: judge_b's cell is flagged, judge_a and its cells are not."""
    from evalaudit.audit import detect
    from evalaudit.rules import load_policy
    from evalaudit.table import LabelTable

    sim = simulate_judges(
        5000, plants=(Plant("judge_b", 0.55, "failure_mode", "hallucination"),), seed=seed
    )
    ids = sim.labels["labeler_id"].astype(str).unique()
    types = {i: ("model" if i.startswith("judge_") else "human") for i in ids}
    t = LabelTable.build(
        sim.labels,
        "binary",
        positive="pass",
        slice_columns=("category", "failure_mode"),
        labeler_types=types,
    )
    det = detect(t, load_policy())
    cells = det.cells[np.asarray(det.cell_flags, dtype=bool)]
    lab = set(det.leniency["labeler_id"].astype(str)[np.asarray(det.flagged, dtype=bool)])
    real = (cells["labeler_id"] == "judge_b") & (cells["slice_value"] == "hallucination")
    assert real.any(), cells[["labeler_id", "slice_column", "slice_value"]]
    assert "judge_a" not in lab and not (cells["labeler_id"] == "judge_a").any()
