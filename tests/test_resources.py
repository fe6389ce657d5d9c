"""Running out of memory is a resource error (which step, how much, the input's size, the way
out; exit 2, never "internal error"), and long work shows a progress line per step on stderr:
on a terminal, or when asked with --progress; never under -q."""

from __future__ import annotations

import importlib
import io

import pyarrow as pa
import pytest

from evalaudit import columnar, progress
from tests.conftest import SAMPLE

CSV = SAMPLE / "labels.csv"
# the module, not the function `evalaudit.audit` the package exports under the same name
audit_mod = importlib.import_module("evalaudit.audit")
NUMPY_MESSAGE = (
    "Unable to allocate 763. MiB for an array with shape (100000000,) and data type float64"
)


def test_out_of_memory_in_a_step_names_the_step_the_size_and_the_way_out(run_cli, monkeypatch):
    def boom(*a, **k):
        raise MemoryError(NUMPY_MESSAGE)

    monkeypatch.setattr(audit_mod, "detect_joint", boom)
    r = run_cli("audit", CSV, "-q")
    assert r.code == 2
    assert "internal error" not in r.err
    assert "out of memory while running 'joint model'" in r.err
    assert "763. MiB" in r.err  # how much it tried to allocate
    assert "7,800 label rows" in r.err and "MiB on disk" in r.err and str(CSV) in r.err
    # a statistics step: DuckDB would not help (the statistics hold the labels whatever
    # engine read them), so the fix is memory or a part of the file, with the need stated
    assert "whichever --engine read the file" in r.err
    assert "fix: run on a machine with more memory than that" in r.err
    assert "GB for these labels" in r.err
    assert "fix: read it out of core with --engine duckdb" not in r.err


def test_arrow_out_of_memory_while_reading_is_a_resource_error(run_cli, monkeypatch):
    def boom(*a, **k):
        raise pa.ArrowMemoryError("malloc of size 134217728 failed")

    monkeypatch.setattr(columnar, "read_csv_coded", boom)
    r = run_cli("audit", CSV, "-q")
    assert r.code == 2 and "internal error" not in r.err
    assert "out of memory while running 'read and validate'" in r.err
    assert "malloc of size 134217728 failed" in r.err
    assert "fix: read it out of core with --engine duckdb" in r.err  # the read: DuckDB helps


def test_out_of_memory_outside_a_step_is_still_a_resource_error(run_cli, monkeypatch):
    import evalaudit.render.text as text

    def boom(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(text, "render_text", boom)
    r = run_cli("audit", CSV, "-q")
    assert r.code == 2 and "internal error" not in r.err
    assert "out of memory while auditing" in r.err and "--engine duckdb" in r.err


def test_gate_out_of_memory_exits_2(run_cli, monkeypatch, tmp_path):
    def boom(*a, **k):
        raise MemoryError(NUMPY_MESSAGE)

    monkeypatch.setenv("EVALAUDIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(audit_mod, "detect_joint", boom)
    r = run_cli("gate", CSV, "-q")
    assert r.code == 2 and "internal error" not in r.err
    assert "out of memory while running 'joint model'" in r.err


# ------------------------------------------------------------------ progress
def test_progress_when_asked_a_line_per_step_with_rows_and_rate(run_cli):
    r = run_cli("audit", CSV, "--progress")
    assert r.code == 0
    assert "evalaudit: read and validate ..." in r.err
    done = [ln for ln in r.err.splitlines() if " rows in " in ln]
    names = {ln.split("evalaudit: ", 1)[1].split("  ", 1)[0] for ln in done}
    assert {"read and validate", "joint model", "headline", "agreement", "consensus"} <= names
    joint = next(ln for ln in done if "joint model" in ln)
    assert "7,800 / 7,800 rows in" in joint and "rows/s" in joint
    assert "\r" not in r.err  # stderr is not a terminal: plain lines, no rewriting


def test_no_progress_when_stderr_is_not_a_terminal_or_under_q(run_cli):
    r = run_cli("audit", CSV)
    assert r.code == 0 and "evalaudit: read and validate" not in r.err
    r = run_cli("audit", CSV, "-q")
    assert r.code == 0 and "rows in" not in r.err


def test_progress_on_a_terminal_rewrites_its_line(run_cli, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    r = run_cli("audit", CSV)
    assert r.code == 0
    assert "\revalaudit: joint model  7,800 / 7,800 rows in" in r.err
    r = run_cli("audit", CSV, "-q")
    assert "evalaudit: joint model" not in r.err


def test_a_reader_reports_rows_as_it_streams(monkeypatch, tmp_path):
    """The CSV reader tells the running step how many rows it has read, batch by batch."""
    from evalaudit.io import read_table

    monkeypatch.setattr(columnar, "CSV_BLOCK", 1 << 14)  # many small batches
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    out = io.StringIO()
    with progress.StepLine("read", None, stream=out, live=False):
        read_table(CSV)
    lines = out.getvalue().splitlines()
    counts = [int(ln.split("  ")[1].split(" ")[0].replace(",", "")) for ln in lines[1:]]
    assert len(counts) >= 5 and counts == sorted(counts) and counts[0] < 7800
    assert counts[-1] == 7800 and lines[-1].startswith("evalaudit: read  7,800 rows in")


def test_report_rows_outside_a_step_is_a_no_op():
    progress.report_rows(5, 10)  # nothing running: nothing printed, nothing raised


@pytest.mark.parametrize(
    "rows,seconds,shown", [(5e6, 2.0, "2.5M rows/s"), (3000, 2, "1.5k rows/s"), (10, 4, "2 rows/s")]
)
def test_rate_units(rows, seconds, shown):
    assert progress._rate(rows, seconds) == shown
