"""End to end: ``streamlit run app.py`` driven in headless Chromium (Playwright).

Starts the dashboard on a free local port with an empty ``$EVALAUDIT_HOME``,
opens it, goes to the Slices view, selects the planted cell (lab017 x
failure_mode=hallucination) in the cells table, sees its items, goes to
Review, dismisses the finding with a name and a reason, and checks that the
decision is in the store the gate reads. Screenshots of the Overview and the
Slices view go to the test's tmp dir (and to ``$EVALAUDIT_SCREENSHOTS`` as
``dash_overview.png`` / ``dash_slices.png`` when that is set).

Needs the ``playwright`` Python package (its driver ships with it; no browser
is downloaded) and Debian's Chromium at ``/usr/bin/chromium``
(``scripts/test-deps.sh`` installs it); skipped cleanly otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
PLANTED = "tilted_slice:lab017:failure_mode=hallucination"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 60  # streamlit import + first page
AUDIT_S = 90  # first run audits the sample (~3 s here; slow CI machines more)
STEP_MS = 30_000  # any single UI step

try:
    from playwright.sync_api import expect as sync_api_expect
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra is not installed
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed"),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (Debian's chromium package; see scripts/test-deps.sh)",
    ),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(
        f"streamlit did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server we started (its own process group), then kill if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``streamlit run app.py`` on a free port; yields (url, EVALAUDIT_HOME)."""
    home = tmp_path / "home"
    port = _free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "EVALAUDIT_HOME": str(home), "TQDM_DISABLE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, log, SERVER_START_S)
        yield url, home
    finally:
        _stop(proc)


def _screenshot(page: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"dash_{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    extra = os.environ.get("EVALAUDIT_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / path.name)


def _select_first_row(page: object, container_class: str) -> None:
    """Tick the row-marker checkbox of the first row of a selectable ``st.dataframe``.

    The grid is a canvas: click where the first body row's marker is (left
    edge, below the header row; default row height 35 px).
    """
    grid = page.locator(f".{container_class} [data-testid='stDataFrame']")  # type: ignore[attr-defined]
    grid.wait_for(timeout=STEP_MS)
    grid.scroll_into_view_if_needed(timeout=STEP_MS)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # type: ignore[attr-defined]


def test_dismiss_the_planted_cell_in_the_browser(server: tuple[str, Path], tmp_path: Path) -> None:
    from evalaudit.reviews import decisions_for_gate

    url, home = server
    assert sync_playwright is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=STEP_MS
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2000})
            page.set_default_timeout(STEP_MS)
            page.goto(url, timeout=STEP_MS)

            # 1. Overview of the sample, nothing configured
            page.get_by_text("Verdict: BLOCK").wait_for(timeout=AUDIT_S * 1000)
            page.get_by_text("Headline with and without suspect labels").wait_for()
            _screenshot(page, tmp_path, "overview")

            # 2. Slices view: heat map and the cells table, flagged first
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("Slices", exact=True).click()
            page.get_by_role("heading", name="Slices: labels.csv").wait_for()
            page.get_by_text("Leniency by labeler and failure_mode").wait_for()
            page.get_by_text("No cell selected.").wait_for()

            # 3. select the planted cell (first row) and see its items
            _select_first_row(page, "st-key-cells-failure_mode-all")
            page.get_by_role(
                "heading", name="Items behind lab017 × failure_mode=hallucination"
            ).wait_for()
            page.get_by_text("lab017's 186 labels in this cell").wait_for()
            # the id is also in the grid's (hidden) accessibility table: wait for a shown one
            page.get_by_text(PLANTED, exact=False).filter(visible=True).first.wait_for()
            page.wait_for_timeout(500)  # let the grid paint
            _screenshot(page, tmp_path, "slices")

            # 4. Review: dismiss that finding with a name and a reason
            page.get_by_role("button", name="Review this finding").click()
            page.get_by_role("heading", name="Review: labels.csv").wait_for()
            # the finding is preselected in the picker
            picker = page.get_by_role("combobox", name="Finding")
            sync_api_expect(picker).to_have_value(f"BLOCK  {PLANTED}", timeout=STEP_MS)
            page.get_by_label("Your name").fill("e2e-reviewer")
            page.get_by_label("Reason").fill("checked 20 items: the hallucination rubric changed")
            page.get_by_role("button", name="Record decision").click()
            page.get_by_text(f"Recorded: dismiss {PLANTED} by e2e-reviewer").wait_for()
            # the past-decisions table replaced the "none yet" note
            sync_api_expect(page.get_by_text("No decision recorded yet.")).to_have_count(0)
        finally:
            browser.close()

    stored = decisions_for_gate(None, home)
    assert [(d.finding_id, d.action, d.by) for d in stored] == [
        (PLANTED, "dismiss", "e2e-reviewer")
    ]
    assert stored[0].reason == "checked 20 items: the hallucination rubric changed"
    assert (tmp_path / "dash_overview.png").stat().st_size > 10_000
    assert (tmp_path / "dash_slices.png").stat().st_size > 10_000


def test_judges_view_in_the_browser(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    assert sync_playwright is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=STEP_MS
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.set_default_timeout(STEP_MS)
            page.goto(url, timeout=STEP_MS)
            page.get_by_text("Verdict: BLOCK").wait_for(timeout=AUDIT_S * 1000)
            sidebar = page.get_by_test_id("stSidebar")
            # the sample file picker: judges.csv
            sidebar.get_by_role("combobox", name="Sample file").click()
            page.get_by_role("option", name="judges.csv").click()
            sidebar.get_by_text("Judges", exact=True).click()
            page.get_by_role("heading", name="Judges: judges.csv").wait_for(timeout=AUDIT_S * 1000)
            page.get_by_role("heading", name="Judge vs human confusion").wait_for()
            page.get_by_role("heading", name="Bias per slice").wait_for()
            page.get_by_role("heading", name="PPI headline per model").wait_for()
            page.wait_for_timeout(800)  # let the grids and the chart paint
            _screenshot(page, tmp_path, "judges")
        finally:
            browser.close()
    assert (tmp_path / "dash_judges.png").stat().st_size > 10_000
