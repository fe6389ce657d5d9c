"""The audit end to end: the bundled sample, the JSON contract, determinism, real crowd data."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import krippendorff
import numpy as np
import pandas as pd
import pytest

from evalaudit.result import AuditResult
from tests.conftest import REPO, SAMPLE, shared_dataset

TRUTH = json.loads((SAMPLE / "truth.json").read_text())
PLANTED = TRUTH["poisoned"][0]["labeler_id"]


@pytest.fixture(scope="module")
def sample_audit(tmp_path_factory):
    from evalaudit.cli import main

    out = tmp_path_factory.mktemp("audit") / "audit.json"
    md = out.with_suffix(".md")
    assert (
        main(["audit", str(SAMPLE / "labels.csv"), "--json", str(out), "--markdown", str(md), "-q"])
        == 0
    )
    return json.loads(out.read_text()), out, md


def test_planted_labeler_is_most_lenient_and_only_flag(sample_audit):
    d, _, _ = sample_audit
    labs = d["labelers"]
    assert labs[0]["labeler_id"] == PLANTED, "the planted labeler must rank first"
    # lab017's overall leniency (+7.7 pts expected, all of it through its hallucination labels)
    # has the smallest q of all labelers but is not flagged at fdr 0.02 under familywise
    # control: the sample blocks on the cell that explains it (rules/README.md, error_control)
    assert [r["labeler_id"] for r in labs if r["flagged"]] == []
    assert min(labs, key=lambda r: r["q_value"])["labeler_id"] == PLANTED
    planted = labs[0]
    truth = TRUTH["poisoned"][0]["expected_labeler_effect"]
    assert planted["ci"][0] <= truth <= planted["ci"][1]
    # the strongest evidence: the largest |z| of all labelers (a small honest labeler can have a
    # larger point estimate by chance, with a wide interval)
    z = {r["labeler_id"]: r["leniency"] / (r["ci"][1] - r["ci"][0]) for r in labs if r["ci"][0]}
    assert max(z, key=z.get) == PLANTED
    blocking = [f for f in d["findings"] if f["severity"] == "block"]
    cell = TRUTH["poisoned"][0]
    assert sorted(f["id"] for f in blocking) == [
        f"tilted_slice:{PLANTED}:{cell['slice_column']}={cell['slice_value']}",
    ]
    assert d["verdict"] == "block"


def test_json_follows_the_design_contract(sample_audit):
    d, _, _ = sample_audit
    assert d["schema_version"] == 1 and isinstance(d["evalaudit_version"], str)
    for key in (
        "path",
        "sha256",
        "rows_read",
        "rows_used",
        "rows_rejected",
        "items",
        "labelers",
        "label_kind",
        "slice_columns",
    ):
        assert key in d["input"], key
    assert d["input"]["rows_read"] == d["input"]["rows_used"] + sum(
        d["input"]["rows_rejected"].values()
    )
    assert d["input"]["rows_read"] == len(pd.read_csv(SAMPLE / "labels.csv"))
    assert d["input"]["slice_columns"] == ["category", "failure_mode"]
    for key in ("alpha", "level", "per_slice"):
        assert key in d["agreement"]
    for row in d["labelers"]:
        for key in (
            "labeler_id",
            "n_labels",
            "share",
            "leniency",
            "ci",
            "p_value",
            "q_value",
            "evidence",
            "kappa",
            "flagged",
        ):
            assert key in row
        assert len(row["ci"]) == 2
    assert d["drift"] == [] or isinstance(d["drift"], list)
    for c in d["cells"]:
        for key in (
            "labeler_id",
            "slice_column",
            "slice_value",
            "n",
            "leniency",
            "tilt",
            "ci",
            "p_value",
            "q_value",
            "flagged",
        ):
            assert key in c, key
    assert d["scan"]["cells_tested"] == sum(c["tested"] for c in d["cells"])
    for key in (
        "score",
        "ci",
        "score_without_suspects",
        "ci_without_suspects",
        "delta",
        "delta_ci",
        "items_dropped",
        "per_model",
        "per_slice",
    ):
        assert key in d["headline"]
    for f in d["findings"]:
        for key in (
            "id",
            "kind",
            "severity",
            "subject",
            "effect",
            "ci",
            "p_value",
            "q_value",
            "n",
            "message",
            "evidence",
        ):
            assert key in f
    assert d["verdict"] in ("pass", "warn", "block")


def test_json_is_byte_identical_across_runs_and_round_trips(sample_audit, tmp_path):
    from evalaudit.cli import main

    _, first, md = sample_audit
    again = tmp_path / "again.json"
    assert main(["audit", str(SAMPLE / "labels.csv"), "--json", str(again), "-q"]) == 0
    assert again.read_bytes() == first.read_bytes()
    result = AuditResult.from_json(first.read_text())
    assert result.to_json() == first.read_text()
    assert md.read_text().startswith("# evalaudit: BLOCK")


def test_parquet_and_csv_give_the_same_audit(sample_audit, tmp_path):
    from evalaudit.cli import main

    out = tmp_path / "p.json"
    assert main(["audit", str(SAMPLE / "labels.parquet"), "--json", str(out), "-q"]) == 0
    assert _same_audit_but_input(sample_audit[0], out)


def _same_audit_but_input(expected: dict, out) -> bool:
    """Whether the audit JSON at ``out`` equals ``expected`` except the input file's name,
    digest and format."""
    # copies: the fixture's dict is shared by other tests of this module
    a, b = copy.deepcopy(expected), json.loads(out.read_text())
    for d in (a, b):
        d["input"].pop("path"), d["input"].pop("sha256"), d["input"].pop("format")
    return a == b


def test_slices_of_the_sample_have_different_pass_rates(sample_audit):
    per_slice = sample_audit[0]["headline"]["per_slice"]
    cats = [r["score"] for r in per_slice if r["slice_column"] == "category"]
    assert max(cats) - min(cats) > 0.3


def test_rte_every_labeler_gets_a_leniency_row_and_alpha_matches_dense(run_cli, tmp_path):
    path = shared_dataset("rte")
    out = tmp_path / "rte.json"
    r = run_cli("audit", path, "--json", out, "-q")
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    labels = pd.read_csv(path, dtype=str)
    assert len(d["labelers"]) == labels["labeler_id"].nunique() == 164
    assert all(row["leniency"] is not None for row in d["labelers"])
    dense = labels.pivot(index="labeler_id", columns="item_id", values="label").astype(float)
    ref = krippendorff.alpha(reliability_data=dense.to_numpy(), level_of_measurement="nominal")
    assert d["agreement"]["alpha"] == pytest.approx(ref, abs=1e-9)


def test_rules_file_errors_name_file_line_and_key(run_cli, tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text("min_support: 30\nfdr: 2\nsevertiy: {}\n")
    r = run_cli("audit", SAMPLE / "labels.csv", "--rules", rules, "-q")
    assert r.code == 2
    assert str(rules) in r.err
    assert "key 'fdr'" in r.err and "out of range" in r.err and "(line 2)" in r.err
    assert "unknown key 'severtiy'" in r.err and "(line 3)" in r.err


def test_help_shows_examples(run_cli):
    r = run_cli("audit", "--help")
    assert r.code == 0 and "Examples:" in r.out and "evalaudit audit" in r.out


# -------------------------------------------------------------- true end-to-end (subprocess)
@pytest.mark.slow
def test_subprocess_audit_of_sample_and_bad_input(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "evalaudit", "audit", str(SAMPLE / "labels.csv"), "--progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    blocking = [ln for ln in run.stdout.splitlines() if ln.lstrip().startswith("BLOCK ")]
    assert len(blocking) == 1 and f"tilted_slice:{PLANTED}:" in blocking[0]
    # progress on stderr when asked (stderr is a pipe here): a line per step with its rows
    assert "evalaudit: read and validate ..." in run.stderr
    assert "evalaudit: joint model  7,800 / 7,800 rows in" in run.stderr
    bad = tmp_path / "bad.parquet"
    bad.write_text("item_id,labeler_id,label\n")
    run = subprocess.run(
        [sys.executable, "-m", "evalaudit", "audit", str(bad), "--json", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert run.returncode == 2
    assert "not a Parquet file" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "o.json").exists()


def test_sample_command_is_deterministic(run_cli, tmp_path):
    r = run_cli("sample", tmp_path / "s", "--seed", "7")
    assert r.code == 0
    for name in ("labels.csv", "labels.parquet", "truth.json", "README.md"):
        assert (tmp_path / "s" / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    assert sum((SAMPLE / n).stat().st_size for n in ("labels.csv", "labels.parquet")) < 5e6


def test_labels_per_item_design_of_the_sample():
    labels = pd.read_csv(SAMPLE / "labels.csv")
    per_item = labels.groupby("item_id").size()
    assert labels["item_id"].nunique() >= 5000 and labels["labeler_id"].nunique() >= 20
    assert 0.12 <= (per_item == 3).mean() <= 0.18
    assert np.isin(per_item.unique(), [1, 3]).all()
    assert labels["vendor"].nunique() in (2, 3) and labels["model"].nunique() == 3


def test_rte_with_gold_file_gives_gold_accuracy_and_ds_quality(run_cli, tmp_path):
    labels_path = shared_dataset("rte")
    gold_path = shared_dataset("rte", "gold.csv")
    out = tmp_path / "rte.json"
    r = run_cli("audit", labels_path, "--gold", gold_path, "--json", out, "-q")
    assert r.code == 0, r.err
    d = json.loads(out.read_text())
    labels = pd.read_csv(labels_path, dtype=str).merge(pd.read_csv(gold_path, dtype=str))
    direct = (labels["label"] == labels["gold_label"]).groupby(labels["labeler_id"]).mean()
    got = {r["labeler_id"]: r["gold_accuracy"] for r in d["labelers"]}
    assert got == pytest.approx(direct.to_dict(), abs=1e-12)
    assert all(0 <= r["ds_quality"] <= 1 for r in d["labelers"])
    failures = {f["subject"]["labeler_id"] for f in d["findings"] if f["kind"] == "gold_failure"}
    # every gold_failure is confidently below the floor on >= 10 gold items
    by_id = {r["labeler_id"]: r for r in d["labelers"]}
    assert failures and all(
        by_id[i]["gold_ci_high"] < 0.7 and by_id[i]["n_gold"] >= 10 for i in failures
    )
    assert "A18941IO2ZZWW6" in failures  # 800 labels, about coin-flip accuracy


def test_shuffled_rows_give_the_same_findings_and_figures(sample_audit, run_cli, tmp_path):
    """Row order carries no information: findings are identical and every figure agrees to
    1e-9 (floating-point sums may differ in the last bits; ties in time order are broken by
    row, so drift statistics are compared with a looser 1e-6)."""
    shuffled = pd.read_csv(SAMPLE / "labels.csv", dtype=str).sample(frac=1.0, random_state=3)
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    out = tmp_path / "s.json"
    assert run_cli("audit", path, "--json", out, "-q").code == 0
    a, b = sample_audit[0], json.loads(out.read_text())
    assert [f["id"] for f in a["findings"]] == [f["id"] for f in b["findings"]]

    def close(x, y, path="", tol=1e-9):
        if path.startswith(("input.path", "input.sha256")):
            return
        tol = 1e-6 if path.startswith("drift") else tol
        if isinstance(x, dict):
            assert x.keys() == y.keys(), path
            for k in x:
                close(x[k], y[k], f"{path}.{k}" if path else k, tol)
        elif isinstance(x, list):
            assert len(x) == len(y), path
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                close(u, v, f"{path}[{i}]", tol)
        elif isinstance(x, float) and isinstance(y, float):
            assert y == pytest.approx(x, rel=tol, abs=tol), path
        else:
            assert x == y, path

    close(a, b)


def test_two_threads_and_one_give_byte_identical_json(tmp_path, monkeypatch):
    """Drift and concentration run on a second thread by default; the result must not
    depend on it (nor on scheduling): EVALAUDIT_THREADS=1 gives the same bytes."""
    from evalaudit.cli import main

    out = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("EVALAUDIT_THREADS", threads)
        out[threads] = tmp_path / f"t{threads}.json"
        assert main(["audit", str(SAMPLE / "labels.csv"), "--json", str(out[threads]), "-q"]) == 0
    assert out["1"].read_bytes() == out["2"].read_bytes()


def test_allocator_tuning_leaves_user_malloc_settings_alone(monkeypatch):
    import os
    import platform

    from evalaudit.cli import tune_allocator

    for key in [k for k in os.environ if k.startswith("MALLOC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert tune_allocator() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert tune_allocator() is True
