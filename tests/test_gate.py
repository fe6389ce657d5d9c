"""The promotion gate: exit codes, reviews, policy errors, determinism, JUnit, attestation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from evalaudit.rules import RULES
from tests.conftest import BH_RULES, HEADER, SAMPLE, good_rows, write

DATA = SAMPLE / "labels.csv"
TRUTH = json.loads((SAMPLE / "truth.json").read_text())["poisoned"][0]
CELL_ID = f"tilted_slice:{TRUTH['labeler_id']}:{TRUTH['slice_column']}={TRUTH['slice_value']}"
LABELER_ID = f"lenient_labeler:{TRUTH['labeler_id']}"


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("EVALAUDIT_HOME", str(h))
    return h


@pytest.fixture(scope="module")
def blocked(tmp_path_factory):
    """One gate run of the sample with no reviews (shared: the audit takes a few seconds)."""
    from evalaudit.cli import main

    d = tmp_path_factory.mktemp("gate")
    args = [
        "gate",
        str(DATA),
        "-q",
        "--home",
        str(d / "empty"),
        "--json",
        str(d / "g.json"),
        "--markdown",
        str(d / "g.md"),
        "--junit",
        str(d / "g.xml"),
        "--attest",
        str(d / "a.json"),
    ]
    code = main(args)
    return code, d


def test_sample_blocks_and_names_the_planted_cell(blocked, run_cli):
    code, d = blocked
    assert code == 1
    g = json.loads((d / "g.json").read_text())
    assert g["verdict"] == "block" and g["exit_code"] == 1
    # familywise control (the default): the cell; lab017's leniency (which the cell explains)
    # has q = 0.023 > fdr
    assert {f["id"] for f in g["blocking"]} == {CELL_ID}
    lab = next(r for r in g["audit"]["labelers"] if r["labeler_id"] == TRUTH["labeler_id"])
    assert 0.02 < lab["q_value"] < 0.03
    assert g["audit"]["scan"]["budget"]["error_control"] == "familywise"
    # spent by Benjamini-Hochberg, the sample blocks on lab017's leniency too
    bh = run_cli("gate", DATA, "-q", "--home", d / "empty", "--rules", BH_RULES, "--json", d / "b")
    assert bh.code == 1
    assert {f["id"] for f in json.loads((d / "b").read_text())["blocking"]} == {
        LABELER_ID,
        CELL_ID,
    }
    md = (d / "g.md").read_text()
    assert "BLOCKED" in md and CELL_ID in md and len(md.encode()) < 1 << 20


def test_dismissing_the_blocking_findings_passes_and_lists_who_and_why(run_cli, home, tmp_path):
    for fid in (LABELER_ID, CELL_ID):
        r = run_cli("review", "dismiss", fid, "--by", "Dana", "--reason", f"checked {fid}")
        assert r.code == 0, r.err
    out = tmp_path / "g.json"
    r = run_cli("gate", DATA, "-q", "--rules", BH_RULES, "--json", out)
    assert r.code == 0, r.out + r.err
    g = json.loads(out.read_text())
    assert g["verdict"] in ("pass", "warn")
    dismissed = {d["finding_id"]: d for d in g["reviews"]["dismissed"]}
    assert set(dismissed) == {LABELER_ID, CELL_ID}
    assert all(d["by"] == "Dana" and d["reason"].startswith("checked") for d in dismissed.values())
    assert "Dismissed (2)" in r.out
    # dismissed labels are no longer suspect: the corrected headline equals the headline
    c = g["audit"]["headline"]["corrected"]
    assert c["suspect_labels"] == 0 and c["delta"] == 0

    # the same through an exported reviews file, on a fresh $EVALAUDIT_HOME
    reviews = tmp_path / "reviews.yaml"
    assert run_cli("review", "export", reviews).code == 0
    fresh = tmp_path / "fresh"
    out2 = tmp_path / "g2.json"
    r = run_cli(
        "gate",
        DATA,
        "-q",
        "--home",
        fresh,
        "--reviews",
        reviews,
        "--rules",
        BH_RULES,
        "--json",
        out2,
    )
    assert r.code == 0, r.out
    assert {d["finding_id"] for d in json.loads(out2.read_text())["reviews"]["dismissed"]} == {
        LABELER_ID,
        CELL_ID,
    }
    assert not fresh.exists()  # the gate never creates a store


def test_expired_and_stale_decisions(run_cli, home, tmp_path):
    reviews = write(
        tmp_path / "r.yaml",
        f"""version: 1
decisions:
- finding_id: {CELL_ID}
  action: dismiss
  by: Dana
  reason: temporary
  until: '2026-01-31'
  recorded_at: '2026-01-01T00:00:00Z'
- finding_id: {LABELER_ID}
  action: confirm
  by: Dana
  reason: real
  until: null
  recorded_at: '2026-01-01T00:00:00Z'
- finding_id: tilted_slice:lab999:category=math
  action: dismiss
  by: Lee
  reason: fixed long ago
  until: null
  recorded_at: '2026-01-01T00:00:00Z'
""",
    )
    out = tmp_path / "g.json"
    bh = ("--rules", BH_RULES)  # two findings: one dismissed (expiring), one confirmed
    r = run_cli(
        "gate", DATA, "-q", *bh, "--reviews", reviews, "--as-of", "2026-02-15", "--json", out
    )
    assert r.code == 1
    rv = json.loads(out.read_text())["reviews"]
    assert [d["finding_id"] for d in rv["expired"]] == [CELL_ID]
    assert [d["finding_id"] for d in rv["confirmed"]] == [LABELER_ID]
    assert [d["finding_id"] for d in rv["stale"]] == ["tilted_slice:lab999:category=math"]
    assert "Stale decisions" in r.out and "Expired decisions" in r.out
    # before the expiry date the dismissal applies
    r = run_cli("gate", DATA, "-q", *bh, "--reviews", reviews, "--as-of", "2026-01-15")
    assert r.code == 1 and CELL_ID not in r.out.split("Dismissed")[0]


def test_gate_json_is_byte_identical_across_runs(blocked, run_cli, tmp_path):
    _, d = blocked
    out = tmp_path / "again.json"
    att = tmp_path / "a.json"
    run_cli("gate", DATA, "-q", "--home", tmp_path / "empty", "--json", out, "--attest", att)
    assert out.read_bytes() == (d / "g.json").read_bytes()
    assert att.read_bytes() == (d / "a.json").read_bytes()


def test_junit_has_one_case_per_rule(blocked):
    _, d = blocked
    root = ET.parse(d / "g.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [f"{r.code} {r.name}" for r in RULES]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"EA201 slice.tilted"}


def test_verify_detects_a_one_byte_change(blocked, run_cli, tmp_path):
    _, d = blocked
    att = d / "a.json"
    st = json.loads(att.read_text())
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert (
        st["subject"][0]["digest"]["sha256"]
        == json.loads((d / "g.json").read_text())["inputs"][0]["sha256"]
    )
    assert st["predicate"]["verdict"] == "block" and CELL_ID in st["predicate"]["blocking"]
    assert run_cli("verify", att, DATA).code == 0
    data = bytearray(DATA.read_bytes())
    data[1234] = data[1234] ^ 0x01
    changed = write(tmp_path / "labels.csv", bytes(data))
    r = run_cli("verify", att, changed)
    assert r.code == 1 and "NOT the data file" in r.out
    assert run_cli("verify", DATA, DATA).code == 2  # not an attestation


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("fdr: 0.9\n", "key 'fdr': 'fdr' = 0.9 is out of range (line 1)"),
        (
            "min_support: ten\n",
            "key 'min_support': 'min_support' must be an integer, not 'ten' (line 1)",
        ),
        ("fdr: 0.01\ncolour: red\n", "key 'colour': unknown key 'colour' (line 2)"),
        (
            "severity:\n  tilted_slice: loud\n",
            "key 'severity.tilted_slice': severity must be info, warn or block, not 'loud' (line 2)",
        ),
        (
            "severity:\n  tilted: block\n",
            "key 'severity.tilted': unknown finding kind 'tilted' (line 2)",
        ),
        (
            "overrides:\n  - slice: category=safety\n    min_effect: -1\n",
            "key 'overrides[0].min_effect': 'overrides[0].min_effect' = -1 is out of range (line 3)",
        ),
        (
            "overrides:\n  - slice: safety\n",
            "key 'overrides[0].slice': each override needs 'slice: column=value' (line 2)",
        ),
        (
            "fdr: 0.01\ncell_weights: optimal\n",
            "key 'cell_weights': 'cell_weights' must be one of power, uniform, not 'optimal' "
            "(line 2)",
        ),
        ("fdr: [0.01\n", "not valid YAML"),
        ("- fdr\n", "the rules file must be a mapping"),
    ],
)
def test_policy_errors_name_file_line_and_key(run_cli, tmp_path, rules, message):
    path = write(tmp_path / "policy.yaml", rules)
    out = tmp_path / "g.json"
    r = run_cli("gate", DATA, "-q", "--rules", path, "--json", out)
    assert r.code == 2
    assert str(path) in r.err and message in r.err
    assert not out.exists()


def test_override_makes_safety_stricter(run_cli, tmp_path):
    """An override lowers the minimum effect only for cells in category=safety (one-column
    cells and pairs that contain it): every newly flagged cell is a safety cell."""
    from evalaudit.findings import flag_cells
    from evalaudit.rules import load_policy
    from evalaudit.stats.slices import cell_leniency
    from evalaudit.validate import ingest

    t = ingest(str(DATA)).table
    cells = cell_leniency(t, 30)
    base = load_policy(write(tmp_path / "a.yaml", "fdr: 0.5\nmin_effect: 0.3\n"))
    strict = load_policy(
        write(
            tmp_path / "b.yaml",
            "fdr: 0.5\nmin_effect: 0.3\noverrides:\n"
            "  - slice: category=safety\n    min_effect: 0.0\n",
        )
    )
    from evalaudit.rules import Override

    rule = Override("category", "safety")
    safety = cells.apply(lambda c: rule.matches(c["slice_column"], c["slice_value"]), axis=1)
    a, b = flag_cells(cells, base, t.kind, 0.5), flag_cells(cells, strict, t.kind, 0.5)
    assert (b & ~a).any() and not (b & ~a & ~safety.to_numpy()).any()


def test_exit_code_matrix(run_cli, tmp_path):
    clean = tmp_path / "clean.csv"
    from evalaudit.simulate import simulate

    simulate(n_items=1500, n_labelers=10, seed=11).labels.to_csv(clean, index=False)
    assert run_cli("gate", clean, "-q", "--home", tmp_path / "h").code == 0  # pass
    assert run_cli("gate", DATA, "-q", "--home", tmp_path / "h").code == 1  # blocked
    assert run_cli("gate", DATA, "-q", "--nofail", "--home", tmp_path / "h").code == 0
    assert run_cli("gate", tmp_path / "missing.csv", "-q").code == 2  # input error
    assert run_cli("gate", DATA, "--no-such-option").code == 2  # usage error
    bad = write(tmp_path / "bad.csv", "item_id,labeler_id\n1,a\n")
    r = run_cli("gate", bad, "-q")
    assert r.code == 2 and "required column 'label'" in r.err


def test_gate_with_baseline_includes_the_version_diff(run_cli, tmp_path):
    import pandas as pd

    old = pd.read_csv(DATA, dtype=str)
    new = old.copy()
    flip = new.index[(new["labeler_id"] == "lab003")][:12]
    new.loc[flip, "label"] = new.loc[flip, "label"].map({"pass": "fail", "fail": "pass"})
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    out = tmp_path / "g.json"
    r = run_cli("gate", new_path, "--baseline", DATA, "-q", "--home", tmp_path / "h", "--json", out)
    assert r.code in (0, 1)
    g = json.loads(out.read_text())
    assert g["baseline"]["labels"]["changed"] == 12
    assert [x["role"] for x in g["inputs"]] == ["data", "baseline"]
    # the text and Markdown summaries say what the diff found (they were silent about it)
    md = tmp_path / "g.md"
    r = run_cli("gate", new_path, "--baseline", DATA, "--home", tmp_path / "h", "--markdown", md)
    h = g["baseline"]["headline"]
    line = next(ln for ln in r.out.splitlines() if ln.startswith("Since the baseline "))
    from evalaudit.render.format import fmt_effect, fmt_score

    assert f"{fmt_score(h['old'], 'binary')} -> {fmt_score(h['new'], 'binary')}" in line
    assert f"({fmt_effect(h['change'], 'binary')})" in line
    assert "items kept 6,000, added 0, removed 0" in line
    assert "Since the baseline" in md.read_text()


def test_gate_help_has_examples(run_cli):
    r = run_cli("gate", "--help")
    assert r.code == 0 and "Examples:" in r.out and "--attest" in r.out


def test_the_gate_runs_the_audit_once_even_with_a_dismissal(run_cli, home, tmp_path, monkeypatch):
    """Review decisions are applied by the audit itself: the detectors run once per gate."""
    import sys

    import evalaudit.audit  # noqa: F401  (the package's audit() shadows the module's name)

    audit_mod = sys.modules["evalaudit.audit"]
    calls = []
    real = audit_mod.detect

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(audit_mod, "detect", counting)
    reviews = write(
        tmp_path / "r.yaml",
        f"""version: 1
decisions:
- finding_id: {CELL_ID}
  action: dismiss
  by: Dana
  reason: rubric changed
  until: null
  recorded_at: '2026-01-01T00:00:00Z'
""",
    )
    out = tmp_path / "g.json"
    r = run_cli("gate", DATA, "-q", "--rules", BH_RULES, "--reviews", reviews, "--json", out)
    assert len(calls) == 1
    g = json.loads(out.read_text())
    assert [d["finding_id"] for d in g["reviews"]["dismissed"]] == [CELL_ID]
    assert g["audit"]["reviews"] == g["reviews"]  # the result holds the decisions applied
    assert r.code == 1 and {f["id"] for f in g["blocking"]} == {LABELER_ID}
    # one pass gives the headline the old second audit (detectors rerun with the dismissal) gave
    from evalaudit.rules import load_policy
    from evalaudit.validate import ingest

    monkeypatch.setattr(audit_mod, "detect", real)
    twice = audit_mod.audit_ingested(
        ingest(str(DATA)), load_policy(BH_RULES), dismissed=frozenset({CELL_ID})
    )
    assert g["audit"]["headline"] == json.loads(twice.to_json())["headline"]


def test_gate_says_no_correction_applied_when_nothing_is_suspect(run_cli, tmp_path):
    rows = [
        f"i{k},{lab},{'pass' if (k * 7 + j) % 5 else 'fail'}"
        for k in range(200)
        for j, lab in enumerate(("alice", "bob"))
    ]
    p = write(tmp_path / "two.csv", "item_id,labeler_id,label\n" + "\n".join(rows) + "\n")
    md = tmp_path / "summary.md"
    r = run_cli("gate", p, "--markdown", md)
    assert r.code == 0, r.err
    assert "no correction applied" in r.out and "corrected for suspect labels" not in r.out
    assert "no correction applied" in md.read_text()


#: The attestation's ``options`` of a gate given none (what the defaults record).
DEFAULT_OPTIONS = {
    "format": None,
    "delimiter": None,
    "control": None,
    "columns": {},
    "label_kind": None,
    "positive": None,
    "order": None,
    "labels": None,
    "slices": None,
    "duplicates": "error",
    "version": None,
    "skip_invalid": False,
    "labels_exact": False,
    "judges": [],
    "today": None,
}


def _differences(a, b, path=()):
    """The paths (tuples of keys / indexes) where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k, KeyError), b.get(k, KeyError), (*path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, (*path, i))
        ]
    return [] if a == b else [path]


def test_attestation_records_the_ppi_strata_the_run_set(run_cli, tmp_path):
    judged = SAMPLE / "judges.csv"
    base = ("gate", judged, "-q", "--home", tmp_path / "empty", "--nofail")
    assert run_cli(*base, "--attest", tmp_path / "mcar.json").code == 0
    assert (
        run_cli(*base, "--ppi-strata", "failure_mode", "--attest", tmp_path / "st.json").code == 0
    )
    mcar = json.loads((tmp_path / "mcar.json").read_text())
    strat = json.loads((tmp_path / "st.json").read_text())
    # same file, same policy file: only what --ppi-strata set tells the two apart
    assert _differences(mcar, strat) == [("predicate", "policy", "set_for_run", "ppi_strata")]
    assert mcar["predicate"]["policy"]["set_for_run"] == {"ppi_strata": []}
    assert strat["predicate"]["policy"]["set_for_run"] == {"ppi_strata": ["failure_mode"]}
    assert strat["predicate"]["policy"]["path"].endswith("default.yaml")
    assert mcar["predicate"]["options"] == strat["predicate"]["options"] == DEFAULT_OPTIONS


def test_attestation_records_the_options_that_change_the_figures(run_cli, tmp_path):
    data = write(tmp_path / "l.csv", HEADER.replace("label,", "verdict,") + good_rows(200))
    att, out = tmp_path / "a.json", tmp_path / "g.json"
    args = ["gate", data, "-q", "--home", tmp_path / "empty", "--nofail", "--attest", att]
    args += ["--json", out]
    opts = ["--column", "label=verdict", "--judges", "w1", "--positive", "pass"]
    opts += ["--duplicates", "keep-last", "--skip-invalid", "--as-of", "2026-01-15"]
    assert run_cli(*args, *opts, "--engine", "memory").code == 0  # --engine is not recorded
    got = json.loads(att.read_text())["predicate"]["options"]
    assert got == DEFAULT_OPTIONS | {
        "columns": {"label": "verdict"},
        "judges": ["w1"],
        "positive": "pass",
        "duplicates": "keep-last",
        "skip_invalid": True,
        "today": "2026-01-15",
    }
    # the gate's --json records the same options, and the policy keys set for the run
    gate_json = json.loads(out.read_text())
    assert gate_json["options"] == got
    assert gate_json["policy"]["set_for_run"] == {"ppi_strata": []}
