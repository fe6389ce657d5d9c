"""Stratified PPI end to end (issue 15): ``ppi_strata`` in the policy, ``--ppi-strata`` on
``audit`` / ``gate`` / ``report``, ``ppi_strata=`` in the API, the weighting in the JSON and on
every surface, and a clear input error for a column that is no slice.

The planted design: humans grade 40% of one failure mode and 5% of the other, and the LLM judge
is honest on the first and lenient on the second. Assuming the human subset is a uniform random
subset (MCAR) then corrects the judge mostly with items where it is honest: the unweighted PPI
headline is biased. Weighting each stratum by its share of the items is not. Statistics are
checked against the planted complete-human headline, never against numbers the code produced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalaudit
from evalaudit.contract import InputError
from evalaudit.stats.ppi import headline_ppi
from evalaudit.table import LabelTable
from tests.conftest import write

#: failure mode -> (share of items, true pass rate, share humans grade, judge's flip of fails)
DESIGN = {
    "formatting": (0.5, 0.75, 0.40, 0.0),  # humans on 40%; the judge is honest here
    "hallucination": (0.5, 0.45, 0.05, 0.5),  # humans on 5%; the judge passes half the fails
}
ERROR = 0.05  # every labeler's symmetric error rate
HUMANS = ("hum1", "hum2", "hum3", "hum4")


def complete_human_headline() -> float:
    """theta = E[one human's score] over items drawn like the eval's (the PPI estimand)."""
    return sum(w * (p * (1 - ERROR) + (1 - p) * ERROR) for w, p, _, _ in DESIGN.values())


def judged_set(seed: int, n_items: int = 2000) -> pd.DataFrame:
    """One label table of the planted design: the judge on every item, humans by slice."""
    rng = np.random.default_rng(seed)
    modes = list(DESIGN)
    share = np.array([DESIGN[m][0] for m in modes])
    mode = rng.choice(len(modes), size=n_items, p=share / share.sum())
    pass_rate, human_rate, flip = (np.array([DESIGN[m][k] for m in modes])[mode] for k in (1, 2, 3))
    truth = rng.random(n_items) < pass_rate

    def graded(t: np.ndarray, lenient: np.ndarray | float = 0.0) -> np.ndarray:
        said = t ^ (rng.random(len(t)) < ERROR)
        return said | (~said & (rng.random(len(t)) < lenient))

    items = np.array([f"it{i:05d}" for i in range(n_items)])
    fm = np.array(modes)[mode]
    category = rng.choice(["coding", "math", "chitchat"], size=n_items)
    judge = graded(truth, flip)
    has_human = rng.random(n_items) < human_rate
    hi = np.flatnonzero(has_human)
    human = graded(truth[hi])
    frames = [
        pd.DataFrame(
            {
                "item_id": items,
                "labeler_id": "judge-x",
                "label": np.where(judge, "pass", "fail"),
                "category": category,
                "failure_mode": fm,
            }
        ),
        pd.DataFrame(
            {
                "item_id": items[hi],
                "labeler_id": rng.choice(HUMANS, size=len(hi)),
                "label": np.where(human, "pass", "fail"),
                "category": category[hi],
                "failure_mode": fm[hi],
            }
        ),
    ]
    return pd.concat(frames, ignore_index=True)


def _read(df: pd.DataFrame) -> LabelTable:
    """The table the audit builds from ``df`` with ``--judges 'judge-*'`` (as ingest does)."""
    types = {str(i): "model" if str(i).startswith("judge-") else "human" for i in df.labeler_id}
    return LabelTable.build(
        df, "binary", positive="pass", slice_columns=("category", "failure_mode"),
        labeler_types=types,
    )  # fmt: skip


def test_humans_drawn_by_slice_the_unweighted_ppi_is_biased_the_stratified_covers() -> None:
    """40 seeds: the stratified 95% interval covers theta in >= 33 (P(fewer) < 1% at 93%
    coverage), its mean error is < 2 pts (about 3 SE of 40 estimates); the MCAR estimate is
    more than 5 pts high on average (planted: about 11) and fails the same coverage bar."""
    theta = complete_human_headline()
    plain_err, strat_err, plain_hit, strat_hit = [], [], 0, 0
    for seed in range(40):
        table = _read(judged_set(seed))
        plain = headline_ppi(table)
        strat = headline_ppi(table, strata=["failure_mode"])
        assert plain["weighting"] == "none" and plain["strata"] == []
        assert strat["weighting"] == "stratified" and strat["strata"] == ["failure_mode"]
        assert strat["n_strata"] == 2 and strat["note"] is None
        plain_err.append(plain["score"] - theta)
        strat_err.append(strat["score"] - theta)
        plain_hit += plain["ci"][0] <= theta <= plain["ci"][1]
        strat_hit += strat["ci"][0] <= theta <= strat["ci"][1]
    assert strat_hit >= 33, strat_hit
    assert abs(np.mean(strat_err)) < 0.02, np.mean(strat_err)
    assert np.mean(plain_err) > 0.05, np.mean(plain_err)
    assert plain_hit < 33 and plain_hit <= 4, plain_hit  # MCAR wrongly assumed: off


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("strata")
    path = d / "judged.csv"
    judged_set(7).to_csv(path, index=False)
    return path


def test_api_and_policy_key_give_the_stratified_headline(planted: Path, tmp_path: Path) -> None:
    table = _read(pd.read_csv(planted))
    want = headline_ppi(table, strata=["failure_mode"])
    r = evalaudit.audit(planted, judges=["judge-*"], ppi_strata=["failure_mode"])
    ppi = r.to_dict()["headline"]["ppi"]
    assert ppi["score"] == pytest.approx(want["score"], abs=1e-12)
    assert ppi["ci"] == pytest.approx(want["ci"], abs=1e-12)
    assert ppi["weighting"] == "stratified" and ppi["strata"] == ["failure_mode"]
    assert ppi["weights"] == ppi["assumption"] and "stratified by failure_mode" in ppi["weights"]
    assert ppi["n_strata"] == 2
    assert all(e["weights"] == ppi["weights"] for e in ppi["estimates"])
    assert r.to_dict()["policy"]["ppi_strata"] == ["failure_mode"]
    # the policy key does the same; the API argument wins over it
    pol = write(tmp_path / "p.yaml", "ppi_strata: [failure_mode]\n")
    by_file = evalaudit.audit(planted, judges=["judge-*"], rules=pol).headline["ppi"]
    assert by_file["score"] == ppi["score"] and by_file["strata"] == ["failure_mode"]
    # no strata: the MCAR estimate, said so
    plain = evalaudit.audit(planted, judges=["judge-*"]).headline["ppi"]
    assert plain["weighting"] == "none" and plain["strata"] == [] and "MCAR" in plain["weights"]
    assert plain["score"] == pytest.approx(headline_ppi(table)["score"], abs=1e-12)
    assert plain["score"] - ppi["score"] > 0.03  # the planted design: MCAR is high
    g = evalaudit.gate(planted, judges=["judge-*"], ppi_strata="failure_mode")
    assert g.audit.headline["ppi"]["score"] == ppi["score"]


def test_unknown_stratum_column_is_an_input_error_naming_option_column_and_slices(
    planted: Path, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as exc:
        evalaudit.audit(planted, judges=["judge-*"], ppi_strata=["failure_mod"])
    text = str(exc.value)
    assert "[ppi_strata]" in text and "ppi_strata= names 'failure_mod'" in text
    assert "slice columns: category, failure_mode" in text
    # from the policy file: the error names the file and its key
    pol = write(tmp_path / "p.yaml", "ppi_strata: [vendor]\n")
    with pytest.raises(InputError) as exc:
        evalaudit.audit(planted, judges=["judge-*"], rules=pol)
    assert exc.value.path == str(pol) and f"ppi_strata in {pol} names 'vendor'" in str(exc.value)
    # the key's type is checked when the policy loads
    bad = write(tmp_path / "bad.yaml", "ppi_strata: failure_mode\n")
    with pytest.raises(InputError, match="'ppi_strata' must be a list of column names"):
        evalaudit.audit(planted, rules=bad)


def test_cli_ppi_strata_on_audit_gate_and_report(run_cli, planted: Path, tmp_path: Path) -> None:
    js, md = tmp_path / "a.json", tmp_path / "a.md"
    r = run_cli(
        "audit", planted, "--judges", "judge-*", "--ppi-strata", "failure_mode", "-q",
        "--json", js, "--markdown", md,
    )  # fmt: skip
    assert r.code == 0, r.err
    ppi = json.loads(js.read_text())["headline"]["ppi"]
    assert ppi["weighting"] == "stratified" and ppi["strata"] == ["failure_mode"]
    assert "assumption: stratified by failure_mode" in r.out and "; 2 strata." in r.out
    assert "stratified by failure_mode" in md.read_text()
    # repeatable: the strata are the combinations
    r2 = run_cli(
        "audit", planted, "--judges", "judge-*", "--ppi-strata", "failure_mode",
        "--ppi-strata", "category", "-q", "--json", js,
    )  # fmt: skip
    assert r2.code == 0, r2.err
    ppi2 = json.loads(js.read_text())["headline"]["ppi"]
    assert ppi2["strata"] == ["failure_mode", "category"] and ppi2["n_strata"] == 6
    g = run_cli("gate", planted, "--judges", "judge-*", "--ppi-strata", "failure_mode", "-q")
    assert g.code in (0, 1), g.err
    assert "Weights: stratified by failure_mode (2 strata)" in g.out
    plain = run_cli("gate", planted, "--judges", "judge-*", "-q")
    assert "Weights: none (humans assumed a uniform random subset, MCAR)" in plain.out
    out = tmp_path / "rep"
    rep = run_cli(
        "report", planted, "--out", out, "--judges", "judge-*", "--ppi-strata", "failure_mode",
        "--no-history", "-q",
    )  # fmt: skip
    assert rep.code in (0, 1), rep.err
    assert "stratified by failure_mode" in (out / "report.html").read_text()
    assert "stratified by failure_mode" in (out / "report.md").read_text()
    assert json.loads((out / "audit.json").read_text())["headline"]["ppi"]["n_strata"] == 2


def test_cli_unknown_stratum_exits_2_naming_option_column_and_slices(run_cli, planted) -> None:
    for cmd in ("audit", "gate"):
        r = run_cli(cmd, planted, "--judges", "judge-*", "--ppi-strata", "nope", "-q")
        assert r.code == 2, (cmd, r.out)
        assert "[ppi_strata] column 'nope': --ppi-strata names 'nope'" in r.err
        assert "use one of the slice columns: category, failure_mode" in r.err
        assert "Traceback" not in r.err
