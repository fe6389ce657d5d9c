"""``evalaudit report``: the self-contained HTML report, escaping, history and trend."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evalaudit.cli import cli, main
from evalaudit.commands.report import report
from evalaudit.history import (
    HistoryError,
    HistoryStore,
    RunSummary,
    compare_runs,
    default_series,
)
from evalaudit.render.html import SvgError, clean_svg
from evalaudit.simulate import Plant, simulate
from tests.conftest import BH_RULES, REPO, SAMPLE

cli.add_command(report)  # the lead registers it in cli.py; adding it twice is harmless

DATA = SAMPLE / "labels.csv"
TRUTH = json.loads((SAMPLE / "truth.json").read_text())["poisoned"][0]
PLANTED = TRUTH["labeler_id"]
CELL_ID = f"tilted_slice:{PLANTED}:{TRUTH['slice_column']}={TRUTH['slice_value']}"
SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _figures(html: str) -> dict[str, str]:
    """``data-chart`` name -> the figure's markup."""
    out = {}
    for m in re.finditer(r'<figure class="chart" data-chart="([^"]+)"', html):
        end = html.index("</figure>", m.start())
        out[m.group(1)] = html[m.start() : end]
    return out


def _section(html: str, start_id: str, end_id: str) -> str:
    i = html.index(f'id="{start_id}"')
    return html[i : html.index(f'id="{end_id}"', i)]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    """One report of the bundled sample, with a fresh history (the audit takes seconds)."""
    d = tmp_path_factory.mktemp("report")
    code = main(["report", str(DATA), "--out", str(d / "out"), "--history", str(d / "h.db"), "-q"])
    return code, d


# ------------------------------------------------------------------ the sample report
def test_sample_report_writes_three_files_and_blocks(sample_report):
    code, d = sample_report
    out = d / "out"
    assert code == 1  # the sample's planted labeler blocks: a scheduler can alert
    assert sorted(p.name for p in out.iterdir()) == ["audit.json", "report.html", "report.md"]
    audit = json.loads((out / "audit.json").read_text())
    assert audit["verdict"] == "block" and audit["schema_version"] == 1
    md = (out / "report.md").read_text()
    assert md.startswith("# ") and "## Since the previous run" in md and CELL_ID in md
    assert "## Trend" in md


def test_sample_html_shows_verdict_planted_labeler_and_cell(sample_report):
    _, d = sample_report
    html = (d / "out" / "report.html").read_text()
    banner = _section(html, "verdict", "changes")
    assert '<div class="word">BLOCK</div>' in banner
    # one blocking finding: the cell (lab017's leniency is not flagged under the default
    # familywise control; the cell explains it)
    assert "1 blocking finding" in banner and CELL_ID in banner
    assert f"lenient_labeler:{PLANTED}" not in banner
    findings = _section(html, "findings", "leniency")
    assert CELL_ID in findings
    flagged_cells = findings[findings.index("Flagged cells") :]
    assert f"{TRUTH['slice_column']}={TRUTH['slice_value']}" in flagged_cells
    assert PLANTED in flagged_cells
    # charts: inline static SVG, at least the headline, leniency, heat maps and agreement
    figs = _figures(html)
    assert html.count("<svg") >= 3
    # no "trend" on a first run: one run is a dot (tests/test_surface_defects.py)
    for name in ("headline", "leniency", "heatmap-1", "agreement", "concentration"):
        assert "<svg" in figs[name], name
    assert 'class="chart-error"' not in html
    # the heat map of the planted slice column draws the planted labeler and its value
    heat = next(f for f in figs.values() if 'data-slice-column="failure_mode"' in f)
    assert PLANTED in heat and TRUTH["slice_value"] in heat


def test_sample_html_is_self_contained(sample_report):
    _, d = sample_report
    html = (d / "out" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, re.I)
    assert refs and all(r.startswith("#") for r in refs), "only in-page anchors"
    urls = re.findall(r"url\(\s*['\"]?([^)'\"]*)", html)
    assert all(u.startswith("#chart-") for u in urls), urls  # in-SVG gradients, prefixed
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids are unique in the page"
    assert "@import" not in html
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_report_input_error_writes_nothing(tmp_path, run_cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,labeler_id\nq1,a\n")
    r = run_cli("report", bad, "--out", tmp_path / "out", "--history", tmp_path / "h.db", "-q")
    assert r.code == 2 and "label" in r.err
    assert not (tmp_path / "out").exists() and not (tmp_path / "h.db").exists()
    r = run_cli("report", tmp_path / "missing.csv", "--out", tmp_path / "out", "--no-history")
    assert r.code == 2 and not (tmp_path / "out").exists()


def test_nothing_flagged_shows_no_correction_not_zero_deltas(tmp_path, run_cli):
    """No suspect label: the headline cards say so; they showed 'paired delta +0.0 pts (95% CI
    +0.0 pts to +0.0 pts)' and 'delta -0.0 pts (95% CI n/a)' on the old code, figures with
    nothing behind them."""
    from tests.conftest import HEADER, good_rows

    p = tmp_path / "clean.csv"
    p.write_text(HEADER + good_rows(80), encoding="utf-8")
    r = run_cli("report", p, "--out", tmp_path / "out", "--no-history", "-q")
    assert r.code in (0, 1), r.err
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert audit["headline"]["suspect_labels"] == 0
    html = (tmp_path / "out" / "report.html").read_text()
    cards = html[html.index('<div class="numbers">') : html.index("Agreement (Krippendorff")]
    assert "no suspect labels: nothing set aside" in cards
    assert "no suspect labels: no correction applied" in cards
    assert "delta" not in cards and "95% CI n/a" not in cards


# ------------------------------------------------------------------ escaping
def test_hostile_strings_are_escaped_everywhere(tmp_path, run_cli):
    """A labeler id, a slice value, the file name and the title full of markup stay text."""
    sim = simulate(
        n_items=1500,
        n_labelers=8,
        plants=[Plant("lab002", 0.8, "failure_mode", "hallucination", share=0.25)],
        seed=5,
    )
    labels = sim.labels.copy()
    labels["labeler_id"] = labels["labeler_id"].replace({"lab002": SCRIPT})
    labels["category"] = labels["category"].replace({"math": 'm&"a<b>'})
    path = tmp_path / "x<b>&y.csv"
    labels.to_csv(path, index=False)  # the csv module quotes what needs quoting
    assert SCRIPT in path.read_text()
    out = tmp_path / "out"
    r = run_cli("report", path, "--out", out, "--no-history", "--title", "<i>T</i>", "-q")
    assert r.code == 1, r.err
    audit = json.loads((out / "audit.json").read_text())
    assert f"tilted_slice:{SCRIPT}:failure_mode=hallucination" in [
        f["id"] for f in audit["findings"]
    ]
    html = (out / "report.html").read_text()
    assert SCRIPT not in html
    assert "<script" not in html.lower()
    assert html.count(SCRIPT_ESCAPED) >= 5  # tables, messages, chart labels
    assert 'm&"a<b>' not in html
    assert "m&amp;&#34;a&lt;b&gt;" in html or "m&amp;&quot;a&lt;b&gt;" in html
    assert "<i>T</i>" not in html and "&lt;i&gt;T&lt;/i&gt;" in html
    assert "x<b>&y.csv" not in html and "x&lt;b&gt;&amp;y.csv" in html
    # the id is in the charts (as escaped SVG text), not only in the tables
    figs = _figures(html)
    assert SCRIPT_ESCAPED in figs["leniency"] and SCRIPT_ESCAPED in figs["drift"]
    assert "http://" not in html and "https://" not in html


def test_clean_svg_rejects_active_content_and_strips_namespaces():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="3"><text>&lt;script&gt;</text></svg>'
    )
    assert clean_svg(svg) == '<svg width="3"><text>&lt;script&gt;</text></svg>'
    for bad in (
        "<svg><script>alert(1)</script></svg>",
        '<svg><g onload="alert(1)"/></svg>',
        '<svg><image href="https://example.org/x.png"/></svg>',
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="#x"/></svg>',
        "<svg><foreignObject><div/></foreignObject></svg>",
        "<svg><text>unclosed</svg>",
        "no svg here",
    ):
        with pytest.raises(SvgError):
            clean_svg(bad)


# ------------------------------------------------------------------ history and trend
def test_three_runs_trend_and_new_since_last_run(tmp_path, run_cli):
    """Runs 1-2 on one data set, run 3 on the same path after a second labeler turned lenient."""
    base = [Plant("lab003", 0.8, "failure_mode", "hallucination", share=0.2)]
    data = tmp_path / "labels.csv"
    hist = tmp_path / "state" / "history.db"
    htmls = []
    for run, plants in enumerate([base, base, [*base, Plant("lab006", 0.7, share=0.2)]]):
        simulate(n_items=2000, n_labelers=10, plants=plants, seed=11).labels.to_csv(
            data, index=False
        )
        out = tmp_path / f"out{run}"
        r = run_cli("report", data, "--out", out, "--history", hist, "-q")
        assert r.code == 1, r.err
        htmls.append((out / "report.html").read_text())
    new_id = "lenient_labeler:lab006"

    with HistoryStore(hist) as store:
        runs = store.runs()
        assert len(runs) == 3 and len(store) == 3
        assert {s.series for s in runs} == {default_series(data)}
        assert runs[0].input_sha256 == runs[1].input_sha256 != runs[2].input_sha256
        assert new_id not in runs[1].finding_ids and new_id in runs[2].finding_ids
        assert sum(runs[2].findings_by_kind.values()) == len(runs[2].finding_ids)
        assert all(s.verdict == "block" and s.headline is not None for s in runs)
    mode = sqlite3.connect(hist).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"

    # the third report draws three runs in its trend chart
    trend = _figures(htmls[2])["trend"]
    assert 'data-n-points="3"' in trend
    drawn_runs = set(re.findall(r'aria-label="run: (\d+); value', trend))  # a point per run
    assert drawn_runs == {"1", "2", "3"}
    assert "trend" not in _figures(htmls[0])  # one run is no trend
    assert 'data-n-points="2"' in _figures(htmls[1])["trend"]

    # first run: nothing to compare; second: nothing new; third: the planted labeler is new
    assert "first run in the history" in _section(htmls[0], "changes", "findings")
    new2 = _section(htmls[1], "new-findings", "resolved-findings")
    assert "New since the last run (0)" in new2
    new3 = _section(htmls[2], "new-findings", "resolved-findings")
    assert new_id in new3 and "lab006 passed" in new3
    assert "tilted_slice:lab003:failure_mode=hallucination" not in new3


def test_history_store_round_trip_and_series(tmp_path):
    path = tmp_path / "h.db"

    def run(series: str, ids: tuple[str, ...], headline: float) -> RunSummary:
        return RunSummary(
            series=series,
            recorded_at="2026-03-01T10:00:00.000000Z",
            input_path="x.csv",
            input_sha256="abc",
            rows_read=10,
            rows_used=9,
            items=5,
            labelers=2,
            label_kind="binary",
            alpha=0.8,
            headline=headline,
            headline_ci_low=None,
            headline_ci_high=None,
            headline_without_suspects=None,
            delta=None,
            headline_corrected=None,
            delta_corrected=None,
            verdict="warn",
            findings_by_kind={"lenient_labeler": len(ids)},
            finding_ids=ids,
        )

    with HistoryStore(path) as store:
        a = store.append(run("a", ("lenient_labeler:x",), 0.5))
        store.append(run("b", (), 0.7))
        store.append(run("a", ("lenient_labeler:x", "lenient_labeler:y"), 0.6))
        assert a.id == 1
        assert store.series() == ["a", "b"]
        assert [s.headline for s in store.runs("a")] == [0.5, 0.6]
        assert [s.headline for s in store.runs("a", limit=1)] == [0.6]
        last = store.last("a")
        assert last is not None and last.finding_ids == ("lenient_labeler:x", "lenient_labeler:y")
        assert store.last("nope") is None
        ch = compare_runs(store.runs("a")[0], last)
        assert ch.new_findings == ("lenient_labeler:y",) and ch.resolved_findings == ()
        assert ch.same_input and not ch.verdict_changed
        assert ch.headline_change == pytest.approx(0.1)
    # a newer schema is refused with a clear message, not misread
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore(path)
    (tmp_path / "junk.db").write_text("not a database" * 100)
    with pytest.raises(HistoryError):
        HistoryStore(tmp_path / "junk.db")


def test_history_error_exits_2_and_nofail(tmp_path, run_cli, sample_report):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database" * 100)
    r = run_cli("report", DATA, "--out", tmp_path / "out", "--history", junk, "-q")
    assert r.code == 2 and "history" in r.err and not (tmp_path / "out").exists()
    r = run_cli("report", DATA, "--out", tmp_path / "o2", "--no-history", "--nofail", "-q")
    assert r.code == 0 and (tmp_path / "o2" / "report.html").exists()
    html = (tmp_path / "o2" / "report.html").read_text()
    assert "No run history was kept" in html and 'data-chart="trend"' not in html


def test_default_history_lives_in_evalaudit_home(tmp_path, run_cli, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("EVALAUDIT_HOME", str(home))
    small = tmp_path / "s.csv"
    simulate(n_items=600, n_labelers=5, seed=2).labels.to_csv(small, index=False)
    r = run_cli("report", small, "--out", tmp_path / "out", "--title", "Weekly", "-q")
    assert r.code in (0, 1), r.err
    with HistoryStore(home / "history.db") as store:
        assert [s.series for s in store.runs()] == ["Weekly"]


# ------------------------------------------------------------------ drift timeline
def test_drift_timeline_shows_the_planted_change(tmp_path, run_cli):
    from evalaudit.stats.drift import labeler_drift
    from evalaudit.stats.timeline import TIMELINE_COLUMNS, drift_timeline
    from evalaudit.validate import ingest

    sim = simulate(
        n_items=2000,
        n_labelers=8,
        plants=[Plant("lab002", 0.8, share=0.3, after="2026-06-01T00:00:00Z")],
        seed=3,
    )
    path = tmp_path / "drift.csv"
    sim.labels.to_csv(path, index=False)
    tl = drift_timeline(ingest(str(path)).table, ["lab002", "nobody"], bins=10)
    assert list(tl.columns) == list(TIMELINE_COLUMNS)
    assert set(tl["labeler_id"]) == {"lab002"} and len(tl) == 10
    table = ingest(str(path)).table
    tested = labeler_drift(table).set_index("labeler_id")
    assert tl["n"].sum() == tested.loc["lab002", "n"]  # the residuals the drift test used
    start = pd.to_datetime(tl["start"])
    before = tl.loc[start < pd.Timestamp("2026-05-25", tz="UTC"), "mean"].mean()
    after = tl.loc[start > pd.Timestamp("2026-06-05", tz="UTC"), "mean"].mean()
    assert after - before > 0.15  # the plant's +0.32 on the labels it flips, diluted

    out = tmp_path / "out"
    r = run_cli("report", path, "--out", out, "--no-history", "-q")
    assert r.code == 1, r.err
    html = (out / "report.html").read_text()
    drift = _section(html, "drift", "agreement")
    assert "lab002" in drift and "2026-06-0" in drift  # the flagged change, in the table
    fig = _figures(html)["drift"]
    assert 'data-n-labelers="1"' in fig and "change at 2026-06-0" in fig


# ------------------------------------------------------------------ end to end timing
@pytest.mark.slow
def test_report_end_to_end_time(tmp_path):
    """``evalaudit report sample_data/labels.csv`` in a fresh process (target < 10 s; not asserted)."""
    code = (
        "import sys; from evalaudit.cli import cli, main; "
        "from evalaudit.commands.report import report; cli.add_command(report); "
        "sys.exit(main(sys.argv[1:]))"
    )
    args = [
        "report",
        str(DATA),
        "--out",
        str(tmp_path / "out"),
        "--history",
        str(tmp_path / "h.db"),
    ]
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, *args, "-q"], cwd=REPO, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t
    print(f"\nevalaudit report {DATA.relative_to(REPO)}: {elapsed:.2f} s end to end")
    assert p.returncode == 1, p.stderr
    assert Path(tmp_path / "out" / "report.html").stat().st_size > 10_000


def test_report_honours_review_decisions(run_cli, tmp_path):
    """A dismissed finding neither blocks the scheduled report nor alerts (exit 0)."""
    from evalaudit.cli import cli
    from evalaudit.commands.report import report

    cli.add_command(report)
    home = tmp_path / "home"
    for fid in ("lenient_labeler:lab017", "tilted_slice:lab017:failure_mode=hallucination"):
        r = run_cli("review", "dismiss", fid, "--by", "Dana", "--reason", "known", "--home", home)
        assert r.code == 0, r.err
    # two findings to dismiss: the sample spent by Benjamini-Hochberg flags lab017's leniency too
    bh = ("--rules", BH_RULES)
    out = tmp_path / "out"
    r = run_cli(
        "report", SAMPLE / "labels.csv", "--out", out, "--home", home, "--no-history", "-q", *bh
    )
    assert r.code == 0, r.out + r.err
    audit = json.loads((out / "audit.json").read_text())
    assert audit["verdict"] != "block"
    dismissed = [f for f in audit["findings"] if "review" in f["evidence"]]
    assert {f["id"] for f in dismissed} == {
        "lenient_labeler:lab017",
        "tilted_slice:lab017:failure_mode=hallucination",
    }
    assert all(
        f["severity"] == "info" and f["message"].startswith("Dismissed by Dana") for f in dismissed
    )
    assert "Dismissed by Dana" in (out / "report.html").read_text()
