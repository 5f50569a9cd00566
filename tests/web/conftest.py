"""Browser tests: a real server on loopback and Debian's Chromium driven by Playwright for Python.

Playwright's own browser download is not reachable here, so the distribution's `chromium` is launched by path;
CI installs it (.ci/run). Where it is missing the tests skip and say so.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import login
from tests.support.server import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
# The server's farm timings, short so that agents show up and report within the test's patience.
FARM_ENV = {
    "AIPIPE_FARM_HEARTBEAT_S": "1",
    "AIPIPE_FARM_SWEEP_S": "1",
    "AIPIPE_FARM_LEASE_S": "6",
    "AIPIPE_METRICS_FARM_REFRESH_S": "0.3",
}


@dataclass
class WebServer:
    """A running server, an admin API client, and users made for the browser."""

    server: ServerProcess
    admin: httpx.Client
    admin_password: str
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def user(self, role: str) -> tuple[str, str]:
        """A new user of `role` (through the API): (username, password)."""
        name = f"{role}_{uuid.uuid4().hex[:6]}"
        password = secrets.token_urlsafe(12)
        made = self.admin.post("/api/users", json={"username": name, "password": password, "role": role})
        assert made.status_code == 201, made.text
        self.passwords[name] = password
        return name, password

    def client_for(self, username: str) -> httpx.Client:
        return login(self.url, username, self.passwords[username])


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's package) under Playwright; skips with the reason when it is missing."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install it as root (apt-get install -y chromium fonts-noto-cjk)"
        if os.environ.get("AIPIPE_REQUIRE_BROWSER"):  # CI installs it (.ci/run): missing there is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """One server (SQLite) for the browser tests, with short farm timings."""
    server, password = start_server_with_admin(tmp_path_factory.mktemp("web-server"), None, FARM_ENV)
    admin = login(server.url, ADMIN, password)
    try:
        yield WebServer(server, admin, password, {ADMIN: password})
    finally:
        admin.close()
        server.stop()


@dataclass
class Browsing:
    """One browser context (its own storage: one person), with every request it made."""

    context: Any
    page: Any
    requests: list[str]

    def login(self, base_url: str, username: str, password: str, then: str = "/farm") -> None:
        """Log in through the login page, as a person would, and land on `then`."""
        self.page.goto(f"{base_url}/login?next={then}")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("#login-submit")
        self.page.wait_for_url(f"{base_url}{then}")


@pytest.fixture
def browsing(chromium: Any) -> Iterator[Any]:
    """`browsing(locale="en-US")` opens a fresh context and page; all are closed after the test."""
    opened: list[Any] = []

    def open_context(locale: str = "en-US", **options: Any) -> Browsing:
        context = chromium.new_context(locale=locale, viewport={"width": 1400, "height": 1000}, **options)
        opened.append(context)
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        return Browsing(context, page, requests)

    yield open_context
    for context in opened:
        context.close()


# The reads every page needs to start that no event stream keeps up to date (URL patterns to fail, for
# page.route): the projects, and the check of the login.
START_READS = [
    pytest.param(r"/api/projects\?", id="projects"),
    pytest.param(r"/api/users/me$", id="login-check"),
]


@dataclass
class FailingReads:
    """A Playwright route handler for reads the test makes fail: the server answers 500 to the first `fails`
    (None: to every one until `release()`), then the reads reach the server; `answered` logs each answer (500
    or 200). It runs only while the test is in a Playwright call: wait with page.wait_for_timeout, not
    time.sleep."""

    fails: int | None = None
    answered: list[int] = field(default_factory=list)
    released: bool = False

    def release(self) -> None:
        self.released = True

    def wait_for_failures(self, page: Any, count: int, timeout_ms: int = 30_000) -> None:
        """Until `count` reads were answered 500 (letting the page's retries run)."""
        for _ in range(timeout_ms // 100):
            if self.answered.count(500) >= count:
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"{count} failed reads expected, answered: {self.answered}")

    def __call__(self, route: Any) -> None:
        failing = not self.released if self.fails is None else len(self.answered) < self.fails
        if failing:
            self.answered.append(500)
            route.fulfill(status=500, json={"title": "Internal Server Error", "status": 500})
        else:
            self.answered.append(200)
            route.continue_()
