"""Shared fixtures: in-process CLI runner, small label files, paths to shared datasets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from evalaudit.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
SAMPLE = REPO / "sample_data"
#: The default policy with ``error_control: fdr``: the sample blocks on lab017's leniency and
#: lab017 x hallucination (under the default familywise control, on the cell alone).
BH_RULES = REPO / "tests" / "fixtures" / "policies" / "bh.yaml"

# the GX suite must not print progress bars into test output either
os.environ.setdefault("TQDM_DISABLE", "1")

# CI runs the property tests on a fixed sequence of examples, so a red run can be reproduced
# from its log; locally they keep drawing new examples (and so keep searching).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run ``evalaudit ARGS`` in-process (no 3 s subprocess start-up) and capture its output."""

    def _run(*args: str) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return Run(code, cap.out, cap.err)

    return _run


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The audit JSON of ``sample_data/labels.csv`` (read-only: every layout and messy
    spelling of the sample must give these figures)."""
    import json

    out = tmp_path_factory.mktemp("ref") / "ref.json"
    assert main(["audit", str(SAMPLE / "labels.csv"), "-q", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def shared_dataset(name: str, file: str = "labels.csv") -> Path:
    """A file under ../shared/datasets, or skip the test cleanly when it is absent."""
    p = SHARED_DATASETS / name / file
    if not p.exists():
        pytest.skip(f"shared dataset not present: {p}")
    return p


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def good_rows(n: int = 40, start: int = 0) -> str:
    """n well-formed binary label rows (two labelers per item) with timestamps."""
    lines = []
    for i in range(start, start + n):
        item = f"q{i // 2}"
        lab = f"w{i % 2 + (i // 10) % 3}"
        label = "pass" if (i * 7) % 3 else "fail"
        lines.append(f"{item},{lab},{label},2026-03-{i % 28 + 1:02d}T10:00:00Z")
    return "\n".join(lines) + "\n"


HEADER = "item_id,labeler_id,label,timestamp\n"
