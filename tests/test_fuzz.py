"""Malformed inputs in every format evalaudit reads: each audits, or exits 2 naming the file.

Never a traceback, never a partial output file (see :mod:`evalaudit.fuzzing`). Hypothesis
draws the cases; the runs are derandomized so CI is reproducible, and
``benchmarks/fuzz.py --n 10000`` explores further.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalaudit.fuzzing import EXPORT_KINDS, FAILURES, KINDS, Case, base_labels, run_case

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def valid_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "valid.csv"
    base_labels().to_csv(path, index=False)
    return path


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS))
def test_mutated_inputs(seed: int, kind: str, valid_labels: Path, tmp_path: Path) -> None:
    from evalaudit.fuzzing import make_case

    case = make_case(random.Random(seed), kind)
    outcome = run_case(case, tmp_path / f"c{seed}", valid_labels)
    assert outcome not in FAILURES, (kind, case.mutation, outcome)


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=3000), kind=st.sampled_from(KINDS))
def test_arbitrary_bytes(data: bytes, kind: str, valid_labels: Path, tmp_path: Path) -> None:
    outcome = run_case(Case(kind, "bytes", data), tmp_path / "b", valid_labels)
    assert outcome not in FAILURES, (kind, data[:80], outcome)


@settings(FUZZ, max_examples=60)
@given(body=st.text(alphabet=st.sampled_from(list('ab01,"\n\r\t =;\\x\u00e9\ufeff')), max_size=400))
def test_arbitrary_csv_text(body: str, valid_labels: Path, tmp_path: Path) -> None:
    data = ("item_id,labeler_id,label\n" + body).encode("utf-8")
    outcome = run_case(Case("csv", "text", data), tmp_path / "t", valid_labels)
    assert outcome not in FAILURES, (body[:80], outcome)


@settings(FUZZ, max_examples=80)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(EXPORT_KINDS))
def test_mutated_tool_exports(seed: int, kind: str, valid_labels: Path, tmp_path: Path) -> None:
    """Label Studio, Prodigy, Argilla, Inspect, LangSmith and Langfuse exports, mutated."""
    from evalaudit.fuzzing import make_case

    case = make_case(random.Random(seed), kind)
    outcome = run_case(case, tmp_path / f"e{seed}", valid_labels)
    assert outcome not in FAILURES, (kind, case.mutation, outcome)
