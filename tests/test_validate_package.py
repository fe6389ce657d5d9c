"""The validate package: its public names, one reason-code enum for every ``Problem.check``
the code can raise, and row accounting guarded by a real error (not an assert)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import evalaudit.validate as v
from evalaudit.validate import Check
from tests.conftest import REPO, SAMPLE

_CALLS = (
    r"Problem\(\s*\"([a-z_]+)\"",
    r"check=\"([a-z_]+)\"",
    r"_file_problem\(\s*\"([a-z_]+)\"",
    r"\bproblem\(\s*\"([a-z_]+)\"",
    r"\bfail\(\s*\w+,\s*\"([a-z_]+)\"",
    r"\bfail\(\s*name,\s*\"([a-z_]+)\"",
    r"ContractCheck\(\s*\"[a-z_]+\",\s*\([^)]*\),\s*\"([a-z_]+)\"",
)


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "evalaudit").rglob("*.py"):
        text = path.read_text()
        for pattern in _CALLS:
            found.update(re.findall(pattern, text))
        found.update(
            f"{c}_constant" for c in re.findall(r'f"\{col\}_constant"', text) and ["vendor"]
        )
    return found


def test_every_check_code_is_in_the_enum():
    codes = _codes_in_source()
    assert {"duplicate", "not_null", "label_spelling", "schema", "compression"} <= codes
    missing = codes - {c.value for c in Check}
    assert not missing, f"add these to evalaudit.validate.reasons.Check: {sorted(missing)}"


def test_declared_checks_use_the_enum():
    from evalaudit.contract import detect_label_spec

    spec = detect_label_spec({"pass": 3, "fail": 2})
    checks = v.contract_checks(spec, ["item_id", "labeler_id", "label", "timestamp"])
    assert all(isinstance(c.check, Check) for c in checks)
    assert [str(c.check) for c in checks][-1] == "duplicate"


def test_public_names_are_importable():
    for name in v.__all__:
        assert hasattr(v, name), name
    assert v.ingest(str(SAMPLE / "labels.csv")).accounting.rows_used == 7800


def test_row_accounting_is_a_real_error(monkeypatch: pytest.MonkeyPatch):
    """A mismatch raises even under ``python -O`` (no assert guards it)."""
    import evalaudit.validate.pipeline as ingest_module
    from evalaudit.validate.options import Accounting

    src = Path(ingest_module.__file__).read_text()
    assert "assert acc" not in src

    class Off(Accounting):
        def __init__(self, **kw):
            kw["rows_used"] = kw["rows_used"] - 1
            super().__init__(**kw)

    monkeypatch.setattr(ingest_module, "Accounting", Off)
    with pytest.raises(RuntimeError, match="row accounting does not add up"):
        v.ingest(str(SAMPLE / "labels.csv"))


def test_labeler_types_leave_an_untyped_frame_as_it_is():
    """No labeler_type / judge_family column and no --judges: the frame comes back itself.
    A new frame (``drop(columns=[])``) shares the reader's blocks, and the writes after it
    copied them: 10^7 labels peaked ~0.9 GB higher in the ingest."""
    import pandas as pd

    from evalaudit.validate.labeler_types import read_labeler_types

    frame = pd.DataFrame({"item_id": ["a", "b"], "labeler_id": ["x", "y"], "label": ["1", "0"]})
    problems: list = []
    out, types = read_labeler_types(frame, (), problems, "labels.csv")
    assert out is frame and types is None and not problems
    typed = frame.assign(labeler_type=["human", "model"])
    out, types = read_labeler_types(typed, (), problems, "labels.csv")
    assert "labeler_type" not in out.columns and types is not None and not problems
