"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright): filter, open a
violation, see the waterfall with its failing span, acknowledge, download the CSV, open a deep link.

`make screenshots` runs this test with CONCORD_SCREENSHOTS=docs/screenshots to refresh the README's
pictures; otherwise screenshots go to a temporary folder.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from concord.serve import streamlit_command
from tests.dashboard_store import HOSTILE_VALUE, add_violation, build_checked_demo, hostile_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it with apt-get"
    directory = tmp_path_factory.mktemp("browser")
    config_path = build_checked_demo(directory)
    config_path.write_text(config_path.read_text().replace("refresh: 30s", "refresh: 2s"))  # live pages, quickly
    port = free_port()
    env = {**os.environ, "CONCORD_CONFIG": str(config_path)}
    process = subprocess.Popen(streamlit_command(port, "127.0.0.1"), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else "streamlit exited"
        assert time.monotonic() < deadline, "the dashboard did not come up within a minute"
        time.sleep(0.3)
    yield base, directory
    process.terminate()
    process.wait(20)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
        tab = context.new_page()
        tab.on("dialog", lambda dialog: pytest.fail(f"a script ran in the page: {dialog.message}"))
        yield tab
        context.close()
        browser.close()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CONCORD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_on_call_flow_in_a_real_browser(served: tuple[str, Path], page: Page, tmp_path: Path) -> None:
    base, directory = served
    folder = shots(tmp_path)
    page.goto(base + "/violations")
    expect(page.get_by_role("heading", name="Violations")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("violation(s) match")).to_be_visible(timeout=30_000)
    before = page.get_by_text("violation(s) match").inner_text()

    rule_filter = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Rule")
    rule_filter.locator("input").click()
    page.keyboard.type("paid_implies_stock_deducted")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.get_by_text("violation(s) match")).not_to_have_text(before, timeout=20_000)
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    page.wait_for_timeout(1000)  # let the grid's canvas paint before the picture
    page.screenshot(path=str(folder / "violations.png"))
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
    link = page.get_by_role("link", name="Open violation")
    expect(link).to_be_visible(timeout=20_000)
    violation_id = link.inner_text().split()[2]

    # A new violation arrives on top while the row is selected; the live refresh keeps the selection on
    # the same violation id, not on the same row position.
    count = page.get_by_text("violation(s) match").inner_text()
    add_violation(directory, rule="paid_implies_stock_deducted", key="999999")
    expect(page.get_by_text("violation(s) match")).not_to_have_text(count, timeout=20_000)
    expect(link).to_have_text(f"Open violation {violation_id} →", timeout=10_000)
    link.click()

    expect(page.get_by_role("heading", name="Violation", exact=True)).to_be_visible(timeout=30_000)
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=30_000)
    expect(chart.get_by_text("failing span")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("inventory.deduct failed in inventory-service")).to_be_visible()
    page.screenshot(path=str(folder / "violation.png"))
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=str(folder / "waterfall.png"))

    page.get_by_label("Note").fill("deduct message lost; replaying it")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged 1 of 1")).to_be_visible(timeout=20_000)

    page.goto(base + "/violations")
    expect(page.get_by_text("violation(s) match")).to_be_visible(timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    shown = int(page.get_by_text("violation(s) match").inner_text().split()[0].replace(",", ""))
    assert len(rows) == shown and all(r["link"].startswith("http://localhost:8501/?violation=") for r in rows)
    acknowledged = next(r for r in rows if r["id"] == violation_id)  # acknowledged rows stay in the default filter
    assert acknowledged["status"] == "acknowledged" and acknowledged["rule"] == "paid_implies_stock_deducted"

    hostile = hostile_id(directory)
    page.goto(f"{base}/?violation={hostile}")
    expect(page.get_by_role("heading", name="Violation", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_text(HOSTILE_VALUE).first).to_be_visible(timeout=20_000)  # shown as text, not run
    page.wait_for_timeout(800)
    page.screenshot(path=str(folder / "deep-link.png"))
