"""The dashboard (``app.py``) driven in-process with ``streamlit.testing.v1.AppTest``.

Every view is opened on the bundled sample (planted: lab017 lenient on
failure_mode=hallucination); bad input shows the validation table; a
dismissal submitted through the review form lands in the store the gate reads
and the gate honours it. The audit is cached by Streamlit across the tests of
one process, so only the first test pays for it (~3 s). The non-UI helpers of
``evalaudit.dashboard`` are tested directly at the end.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalaudit import dashboard as dash
from evalaudit.contract import InputError, LabelKind, Problem
from evalaudit.reviews import Decision, ReviewStore, decisions_for_gate
from evalaudit.validate import IngestOptions, ingest
from tests.conftest import HEADER, SAMPLE, good_rows, write

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
PLANTED = "tilted_slice:lab017:failure_mode=hallucination"
TIMEOUT = 120  # seconds per script run; the first run audits the sample (~3 s)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty review store directory as $EVALAUDIT_HOME (the app reads it on every run)."""
    h = tmp_path / "home"
    monkeypatch.setenv("EVALAUDIT_HOME", str(h))
    return h


@pytest.fixture
def app(home: Path) -> AppTest:
    """The dashboard after its first run: the Overview of the sample, nothing configured."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def open_view(at: AppTest, view: str) -> AppTest:
    at.sidebar.radio(key="view").set_value(view).run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith(f"{view}: ")
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, alert and heading of the page, joined (for `in` checks)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for kind in (at.error, at.warning, at.info, at.success, at.subheader, at.title):
        parts += [e.value for e in kind]
    return "\n".join(str(p) for p in parts)


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has ``column``."""
    for df in at.dataframe:
        v = df.value
        if column in v.columns:
            return v
    raise AssertionError(f"no table with column {column!r}")


def sample_item_with_three_labels() -> tuple[str, set[str]]:
    df = pd.read_csv(SAMPLE / "labels.csv", usecols=["item_id", "labeler_id"])
    counts = df.groupby("item_id")["labeler_id"].agg(list)
    item = next(i for i, labs in counts.items() if len(labs) == 3)
    return str(item), set(counts[item])


# ------------------------------------------------------------------ views
def test_overview_opens_on_the_sample_with_verdict_headline_and_findings(app: AppTest) -> None:
    assert app.sidebar.radio(key="view").value == "Overview"
    assert app.sidebar.radio(key="data_source").value == "Sample data"
    page = texts(app)
    assert "Verdict: BLOCK" in app.error[0].value
    assert "labels.csv" in app.title[0].value
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Headline (reported)"] == "60.2%"
    assert metrics["Without suspect labels"] == "59.5%"
    assert metrics["Corrected for leniency"] == "59.4%"
    assert metrics["Krippendorff's alpha"] == "0.757"
    assert metrics["Rows used"] == "7,800"
    assert "95% CI 58.9% to 61.4%" in page  # the reported headline's CI
    assert "of 7,800 read; not used: none" in page
    findings = frame_with(app, "finding")
    # one blocking finding under the default familywise control: the planted cell
    assert findings["finding"].iloc[0] == PLANTED and findings["severity"].iloc[0] == "block"
    assert (findings["severity"].iloc[1:] != "block").all()
    assert len(app.get("vega_lite_chart")) == 1  # the headline chart


def test_labelers_view_ranks_lab017_first_with_ci_and_its_detail(app: AppTest) -> None:
    open_view(app, "Labelers")
    table = frame_with(app, "leniency")
    top = table.iloc[0]
    # lab017 ranks first; its leniency (explained by its flagged cell) is not flagged itself
    assert top["labeler_id"] == "lab017" and not bool(top["flagged"])
    assert top["ci_low"] < top["leniency"] < top["ci_high"]  # in points, with its CI
    assert len(table) == 24
    assert app.selectbox(key="labeler").value == "lab017"  # the flagged labeler is preselected
    assert "Labeler lab017" in texts(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Labels"] == "680"
    assert metrics["Gold accuracy"] == "n/a"
    assert "no gold (honeypot) labels in this file" in texts(app)
    cells = frame_with(app, "slice_value")
    assert (cells["labeler_id"] == "lab017").all()
    assert cells.iloc[0]["slice_value"] == "hallucination" and bool(cells.iloc[0]["flagged"])
    # leniency chart + the labeler's drift timeline
    assert len(app.get("vega_lite_chart")) == 2

    app.selectbox(key="labeler").set_value("lab003").run()
    assert "Labeler lab003" in texts(app)
    assert (frame_with(app, "slice_value")["labeler_id"] == "lab003").all()


def test_slices_view_marks_the_planted_cell_and_shows_its_items(app: AppTest) -> None:
    open_view(app, "Slices")
    assert app.selectbox(key="slice_col").value == "failure_mode"  # column of the flagged cell
    assert len(app.get("vega_lite_chart")) == 1  # the heat map
    cells = frame_with(app, "finding")
    first = cells.iloc[0]
    assert (first["labeler_id"], first["slice_value"]) == ("lab017", "hallucination")
    assert bool(first["flagged"]) and first["finding"] == PLANTED
    assert cells["flagged"].sum() == 1
    assert "No cell selected." in texts(app)

    # pick the cell (what a click on its row does)
    app.session_state["cells-failure_mode-all"] = {"selection": {"rows": [0], "columns": []}}
    app.run()
    assert not app.exception
    page = texts(app)
    assert "Items behind lab017 × failure_mode=hallucination" in page
    assert PLANTED in page
    items = frame_with(app, "other labels of the item")
    assert len(items) == first["n"] == 186  # one page (PAGE_SIZE = 200)
    assert (items["labeler_id"] == "lab017").all()
    assert (items["failure_mode"] == "hallucination").all()
    assert set(items["label"]) <= {"pass", "fail"}


def test_overview_button_opens_the_planted_cell_in_one_click(app: AppTest) -> None:
    app.button(key=f"goto_{PLANTED}").click().run()
    assert not app.exception
    assert app.sidebar.radio(key="view").value == "Slices"
    assert "Items behind lab017 × failure_mode=hallucination" in texts(app)
    assert len(frame_with(app, "other labels of the item")) == 186


def test_cell_items_open_an_item_in_the_items_view(app: AppTest) -> None:
    app.button(key=f"goto_{PLANTED}").click().run()
    item = app.selectbox(key="cell_item").value
    app.button(key="open_item").click().run()
    assert app.sidebar.radio(key="view").value == "Items"
    labels = frame_with(app, "labeler_id")
    assert (labels["item_id"] == item).all() and "lab017" in set(labels["labeler_id"])


def test_drift_view_lists_tests_and_compares_with_a_baseline(app: AppTest) -> None:
    open_view(app, "Drift")
    drift = frame_with(app, "change_at")
    # 24 labelers in time order; the sample's batches are two-week blocks of the timestamp, so
    # batch order is time order and that test is not run twice
    assert len(drift) == 24 and set(drift["order"]) == {"time"}
    assert not drift["flagged"].any()  # nothing was planted
    assert app.multiselect(key="drift_ids").value == ["lab017"]
    assert len(app.get("vega_lite_chart")) == 1
    assert "Pick a baseline version" in texts(app)

    app.sidebar.toggle(key="use_baseline").set_value(True).run()
    app.sidebar.selectbox(key="base_sample").set_value("labels.parquet").run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Items kept"] == "6,000"
    assert metrics["Items added / removed"] == "0 / 0"
    assert metrics["Labels changed"] == "0"


def test_impact_view_has_headline_per_model_and_slice_with_and_without_suspects(
    app: AppTest,
) -> None:
    open_view(app, "Impact")
    page = texts(app)
    assert "Reported **60.2%**" in page and "**59.5%**" in page
    models = frame_with(app, "model")
    assert models["model"].tolist() == ["model-a", "model-b", "model-c"]
    slices = frame_with(app, "slice_value")
    row = slices[slices["slice_value"] == "hallucination"].iloc[0]
    assert row["reported %"] > row["without suspects %"]
    assert row["corrected %"] < row["reported %"]
    assert set(frame_with(app, "suspects")["suspects"]) == {
        "flagged labelers and flagged cells",
        "flagged labelers only",
        "flagged cells only",
    }


def test_items_view_shows_every_label_of_an_item(app: AppTest) -> None:
    item, labelers = sample_item_with_three_labels()
    open_view(app, "Items")
    app.text_input(key="item_id").input(item).run()
    labels = frame_with(app, "labeler_id")
    assert labels["item_id"].tolist() == [item] * 3
    assert set(labels["labeler_id"]) == labelers
    assert labels["timestamp"].is_monotonic_increasing
    assert {"label", "timestamp", "row"} <= set(labels.columns)

    app.text_input(key="item_id").input("no-such-item").run()
    assert "No item `no-such-item`" in texts(app)


def test_items_view_pages_through_all_labels(app: AppTest) -> None:
    open_view(app, "Items")
    browse = app.dataframe[-1].value
    assert len(browse) == dash.PAGE_SIZE
    assert len(app.pagination) == 1
    app.pagination[0].set_value(39).run()  # 7,800 labels / 200 per page
    assert len(app.dataframe[-1].value) == 7800 - 38 * dash.PAGE_SIZE


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("content", "check"),
    [
        (HEADER + good_rows(200) + "q999,w1,maybe,2026-03-01T10:00:00Z\n", "label_value"),
        ("question,who,verdict\nq1,w1,pass\n", "column_exists"),
    ],
    ids=["unknown-label", "wrong-columns"],
)
def test_bad_csv_shows_the_validation_table_not_a_traceback(
    app: AppTest, tmp_path: Path, content: str, check: str
) -> None:
    bad = write(tmp_path / "bad.csv", content)
    app.sidebar.radio(key="data_source").set_value("Path").run()
    app.sidebar.text_input(key="data_path").input(str(bad)).run()
    assert not app.exception
    assert "cannot be audited" in app.error[0].value and str(bad) in app.error[0].value
    problems = frame_with(app, "fix")
    assert check in set(problems["check"])
    assert {"check", "column", "count", "problem", "fix"} <= set(problems.columns)
    assert not app.metric  # nothing was computed


def test_bad_upload_shows_the_validation_table(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # uploads are staged under it
    content = HEADER + good_rows(200) + "q999,w1,maybe,2026-03-01T10:00:00Z\n"
    app.sidebar.radio(key="data_source").set_value("Upload").run()
    assert "Choose a label file" in app.info[0].value
    app.sidebar.file_uploader(key="data_upload").upload("mine.csv", content.encode(), "text/csv")
    app.run()
    assert not app.exception
    assert "`mine.csv`" in app.error[0].value
    problems = frame_with(app, "fix")
    row = problems[problems["check"] == "label_value"].iloc[0]
    assert row["column"] == "label" and "'maybe'" in row["values"]
    assert len(list((tmp_path / "evalaudit-dashboard").glob("*/mine.csv"))) == 1


# ------------------------------------------------------------------ review, end to end
def test_review_dismissal_lands_in_the_store_and_the_gate_honours_it(
    app: AppTest, home: Path
) -> None:
    from evalaudit.gate import run_gate
    from evalaudit.rules import load_policy

    open_view(app, "Review")
    assert "No decision recorded yet." in texts(app)
    app.selectbox(key="review_finding").set_value(PLANTED).run()
    app.radio(key="review_action").set_value("dismiss")
    app.text_input(key="review_by").input("alice")
    app.text_area(key="review_reason").input("spot-checked: the guideline changed for this slice")
    app.button(key="review_submit").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert f"Recorded: dismiss `{PLANTED}` by alice" in app.success[0].value

    # the decision is in the store the gate reads ...
    stored = decisions_for_gate(None, home)
    assert [(d.finding_id, d.action, d.by) for d in stored] == [(PLANTED, "dismiss", "alice")]
    assert stored[0].reason == "spot-checked: the guideline changed for this slice"
    past = frame_with(app, "recorded_at")
    assert past.iloc[0]["finding_id"] == PLANTED and past.iloc[0]["status"] == "in force"

    # ... the dashboard's verdict reflects it ...
    open_view(app, "Overview")
    banner = [e.value for e in (*app.error, *app.warning, *app.success, *app.info)]
    assert any("1 dismissed" in v for v in banner), banner
    assert not app.error  # the only blocking finding is dismissed
    findings = frame_with(app, "finding")
    assert findings.set_index("finding").loc[PLANTED, "review"] == "dismissed by alice"

    # ... and the gate no longer blocks on that finding
    gate = run_gate(str(SAMPLE / "labels.csv"), load_policy(None), home=str(home))
    assert PLANTED in gate.outcome.dismissed
    assert PLANTED not in [f["id"] for f in gate.blocking]
    assert gate.blocking == () and gate.verdict != "block"


def test_review_form_rejects_an_empty_reason(app: AppTest, home: Path) -> None:
    open_view(app, "Review")
    app.text_input(key="review_by").input("bob")
    app.button(key="review_submit").click().run()
    assert not app.exception
    assert "the reason is empty" in app.error[0].value
    assert decisions_for_gate(None, home) == []


# ------------------------------------------------------------------ helpers (no UI)
@pytest.fixture(scope="module")
def sample_table():
    return ingest(str(SAMPLE / "labels.csv")).table


def test_cell_positions_are_the_cells_labels(sample_table) -> None:
    pos = dash.cell_positions(sample_table, "lab017", "failure_mode", "hallucination")
    assert len(pos) == 186  # as in sample_data/README.md
    rows = dash.label_rows(sample_table, pos)
    assert (rows["labeler_id"] == "lab017").all()
    assert (rows["failure_mode"] == "hallucination").all()
    assert rows["row"].is_monotonic_increasing
    pair = dash.cell_positions(
        sample_table, "lab017", "category+failure_mode", "coding+hallucination"
    )
    assert 0 < len(pair) < len(pos)
    assert len(dash.cell_positions(sample_table, "nobody", "failure_mode", "hallucination")) == 0
    assert len(dash.cell_positions(sample_table, "lab017", "no_column", "x")) == 0


def test_label_rows_match_the_file(sample_table) -> None:
    raw = pd.read_csv(SAMPLE / "labels.csv")
    rows = dash.label_rows(sample_table, np.array([0, 5, 7799]))
    for _, r in rows.iterrows():
        src = raw.iloc[int(r["row"]) - 2]  # CSV line numbers: the header is line 1
        assert (src["item_id"], src["labeler_id"], src["label"]) == (
            r["item_id"],
            r["labeler_id"],
            r["label"],
        )


def test_item_positions_and_peer_labels(sample_table) -> None:
    item, labelers = sample_item_with_three_labels()
    pos = dash.item_positions(sample_table, item)
    assert set(dash.label_rows(sample_table, pos)["labeler_id"]) == labelers
    peers = dash.peer_labels(sample_table, pos[:1])
    assert peers.iloc[0].count(":") == 2  # the two other labels
    assert len(dash.item_positions(sample_table, "nope")) == 0


def test_paging() -> None:
    df = pd.DataFrame({"x": range(450)})
    assert dash.page_count(0) == 1 and dash.page_count(450, 200) == 3
    assert dash.page_slice(df, 1, 200)["x"].iloc[0] == 0
    assert len(dash.page_slice(df, 3, 200)) == 50
    assert dash.page_slice(df, 99, 200)["x"].iloc[0] == 400  # clamped to the last page


def test_options_key_round_trips() -> None:
    opts = IngestOptions(
        label_kind=LabelKind.ORDINAL,
        order=("1", "2", "3"),
        column_map={"item_id": "q"},
        slices=("topic",),
        duplicates="keep-last",
    )
    key = dash.options_key(opts)
    assert dash.options_from_key(key) == opts
    assert dash.options_key(IngestOptions()) != key


def test_parse_column_map() -> None:
    assert dash.parse_column_map("item_id=q, label = verdict") == {
        "item_id": "q",
        "label": "verdict",
    }
    assert dash.parse_column_map("") == {}
    with pytest.raises(ValueError, match="canonical=theirs"):
        dash.parse_column_map("item_id")


def test_stage_upload_is_content_addressed(tmp_path: Path) -> None:
    a = dash.stage_upload("../x y.csv", b"a,b\n", root=tmp_path)
    assert a.name == "x_y.csv" and a.read_bytes() == b"a,b\n"
    assert dash.stage_upload("../x y.csv", b"a,b\n", root=tmp_path) == a
    assert dash.stage_upload("x y.csv", b"other\n", root=tmp_path) != a
    assert a.parent.name == dash.sha256_bytes(b"a,b\n")[:32]


def test_problems_frame_lists_every_problem() -> None:
    err = InputError(
        "f.csv",
        [
            Problem("label_value", "label", 12, (3, 4, 5, 6, 7, 8), "unknown label", "fix it"),
            Problem("column_exists", "item_id", 0, (), "missing", "add it"),
        ],
        row_label="line",
    )
    df = dash.problems_frame(err)
    assert df["check"].tolist() == ["label_value", "column_exists"]
    assert df.loc[0, "lines"] == "3, 4, 5, 6, 7 and 7 more"


def test_decisions_view_marks_the_decision_in_force(tmp_path: Path) -> None:
    with ReviewStore.in_home(tmp_path) as store:
        store.record(Decision.create(PLANTED, "confirm", "a", "first"))
        store.record(Decision.create(PLANTED, "dismiss", "b", "second"))
        store.record(Decision.create("lenient_labeler:lab017", "dismiss", "c", "x", "2020-01-01"))
        past = store.all()
    from datetime import date

    df = dash.decisions_view(past, date(2026, 1, 1))
    assert df["status"].tolist() == ["expired", "in force", "superseded"]  # newest first


# ------------------------------------------------------------------ LLM judges
def test_judges_view_on_the_judge_sample(app: AppTest) -> None:
    app.sidebar.selectbox(key="data_sample").set_value("judges.csv").run()
    assert not app.exception, app.exception
    open_view(app, "Judges")
    page = texts(app)
    assert "Judges against the humans" in page and "PPI headline per model" in page
    judges = frame_with(app, "bias")
    assert judges["judge"].tolist() == ["judge-a", "judge-b"]
    b = judges.set_index("judge").loc["judge-b"]
    assert bool(b["flagged"]) and b["ci_low"] > 0  # in points, above 0
    conf = frame_with(app, "humans say")
    assert set(conf["humans say"]) == {"pass", "fail"}
    rows = conf.set_index(["judge", "humans say"])
    assert abs(rows["judge passes %"] + rows["judge fails %"] - 100).max() < 1e-9
    ppi = frame_with(app, "ppi")
    assert ppi["scope"].tolist() == ["overall", "model-a", "model-b", "model-c"]
    assert (ppi["ci_low"] < ppi["ppi"]).all() and (ppi["ppi"] < ppi["ci_high"]).all()
    assert len(app.get("vega_lite_chart")) == 1  # bias per slice
    slices = frame_with(app, "tilt")
    assert set(slices["slice_column"]) == {app.selectbox(key="judge_slice_col").value}


def test_judges_view_without_judges_says_how_to_declare_them(app: AppTest) -> None:
    open_view(app, "Judges")
    assert "labeler_type" in texts(app) and "judges.csv" in texts(app)


def test_ppi_strata_input_stratifies_the_ppi_headline_as_the_cli_does(app: AppTest) -> None:
    import evalaudit

    app.sidebar.selectbox(key="data_sample").set_value("judges.csv").run()
    open_view(app, "Judges")
    assert "Weights: none (humans assumed a uniform random subset, MCAR)" in texts(app)
    assert texts(app).count("MCAR") == 1  # the assumption said once
    mcar = frame_with(app, "ppi").iloc[0]["ppi"]
    app.sidebar.text_input(key="opt_ppi_strata").input("failure_mode").run()
    assert not app.exception, app.exception
    # the library's stratified headline, as --ppi-strata failure_mode gives it
    ppi = evalaudit.audit(SAMPLE / "judges.csv", ppi_strata="failure_mode").headline["ppi"]
    assert ppi["weighting"] == "stratified" and ppi["strata"] == ["failure_mode"]
    assert f"Weights: stratified by failure_mode ({ppi['n_strata']} strata)" in texts(app)
    overall = frame_with(app, "ppi").iloc[0]
    assert overall["scope"] == "overall"
    assert overall["ppi"] == pytest.approx(ppi["score"] * 100) and overall["ppi"] != mcar


def test_ppi_strata_input_naming_no_slice_shows_the_library_error(app: AppTest) -> None:
    app.sidebar.selectbox(key="data_sample").set_value("judges.csv").run()
    app.sidebar.text_input(key="opt_ppi_strata").input("failure_mode, nope").run()
    assert not app.exception, app.exception
    assert "cannot be audited" in app.error[0].value and "`judges.csv`" in app.error[0].value
    problems = frame_with(app, "fix")
    assert problems["check"].tolist() == ["ppi_strata"]
    assert "PPI strata (Input options) names 'nope'" in problems["problem"].iloc[0]
    assert "failure_mode" in problems["fix"].iloc[0]  # the slice columns it could be
    assert not app.metric  # nothing was computed
