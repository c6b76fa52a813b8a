"""Sign-in against a real OIDC provider run locally (oidc-provider-mock), in Chromium: a deep link
survives the login, a viewer's acknowledge is refused and recorded, an operator's goes through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from concord.serve import streamlit_command
from concord.store import open_store
from concord.store.schema import violation_events, violations
from tests.dashboard_store import build_checked_demo
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port

USERS = [{"sub": "ops", "email": "ops@example.com"}, {"sub": "dev", "email": "dev@example.com"}]


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert process.poll() is None, f"{process.args[0]} exited"
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def signed_in_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("access")
    config_path = build_checked_demo(directory, orders=1000)
    config_path.write_text(config_path.read_text().replace(
        "dashboard:\n  refresh: 30s\n",
        "dashboard:\n  refresh: 30s\n  auth: {operators: [ops@example.com], viewers: ['*']}\n"))
    oidc_port, app_port = free_port(), free_port()
    provider = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(oidc_port),
                                 *[arg for user in USERS for arg in ("--user-claims", json.dumps(user))]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secrets = directory / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-enough-length"\n'
        'client_id = "concord"\nclient_secret = "concord-secret"\n'
        f'server_metadata_url = "http://127.0.0.1:{oidc_port}/.well-known/openid-configuration"\n')
    app = subprocess.Popen(streamlit_command(app_port, "127.0.0.1"), cwd=directory,
                           env={**os.environ, "CONCORD_CONFIG": str(config_path)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{oidc_port}/.well-known/openid-configuration", provider)
        wait_for(f"http://127.0.0.1:{app_port}/_stcore/health", app)
        yield f"http://localhost:{app_port}", directory
    finally:
        app.terminate()
        provider.terminate()
        app.wait(20)
        provider.wait(20)


@pytest.fixture
def browser_pages() -> Iterator:
    """A new browser profile per person, as two people on two machines."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = []

        def new_page() -> Page:
            contexts.append(browser.new_context(viewport={"width": 1400, "height": 1000}))
            return contexts[-1].new_page()

        yield new_page
        for context in contexts:
            context.close()
        browser.close()


def sign_in(page: Page, base: str, link: str, subject: str) -> None:
    page.goto(base + link)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=subject, exact=True).click()  # the provider's predefined user


def test_deep_link_survives_login_and_roles_are_enforced(signed_in_dashboard: tuple[str, Path],
                                                         browser_pages) -> None:
    base, directory = signed_in_dashboard
    store = open_store(f"sqlite:///{directory / 'concord.db'}")
    with store.read() as connection:
        violation_id = connection.execute(select(violations.c.id).where(
            violations.c.rule == "paid_implies_stock_deducted", violations.c.status == "open")).scalars().first()

    page = browser_pages()
    sign_in(page, base, f"/?violation={violation_id}", "dev")
    expect(page.get_by_role("heading", name="Violation", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"?violation={violation_id}").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Signed in as dev@example.com (viewer)")).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("may not acknowledge")).to_be_visible(timeout=20_000)

    page = browser_pages()
    sign_in(page, base, f"/?violation={violation_id}", "ops")
    expect(page.get_by_text("Signed in as ops@example.com (operator)")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged 1 of 1")).to_be_visible(timeout=20_000)

    with store.read() as connection:
        events = connection.execute(select(violation_events.c.action, violation_events.c.actor).where(
            violation_events.c.violation_id == violation_id).order_by(violation_events.c.id)).all()
        status = connection.execute(select(violations.c.status).where(violations.c.id == violation_id)).scalar()
    store.dispose()
    assert events[-2:] == [("refused", "dev@example.com"), ("acknowledged", "ops@example.com")]
    assert status == "acknowledged"
