"""The shared pages in a real browser: the index, login and logout, the token refresh, and the API docs served
without the internet (every request the browser makes is recorded)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN
from tests.web.conftest import WebServer


def local_only(requests: list[str], base_url: str) -> list[str]:
    """The requests that went anywhere but this server (data: and blob: URLs stay in the browser)."""
    return [url for url in requests if not url.startswith((base_url + "/", "data:", "blob:"))]


def test_swagger_ui_and_redoc_load_with_no_request_leaving_the_machine(web: WebServer, browsing: Any) -> None:
    session = browsing()
    page = session.page
    # A request the page's Content-Security-Policy stops in the browser never reaches the network ("csp").
    blocked: list[str] = []
    page.on("requestfailed", lambda request: request.failure == "csp" and blocked.append(request.url))
    # Anything that does reach the network layer for another host is recorded (and stopped).
    outside: list[str] = []
    session.context.route(
        lambda url: not url.startswith(web.url + "/"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto(f"{web.url}/docs")
    # Swagger UI rendered the API from /openapi.json: its title and the farm's operations are on screen.
    page.wait_for_selector(".swagger-ui .info .title")
    assert "AIPipeline sync server" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-summary-path[data-path='/api/farm/jobs']")
    page.goto(f"{web.url}/redoc")
    page.wait_for_selector("h1:has-text('AIPipeline sync server')")
    assert any(url.endswith("/static-docs/swagger-ui-bundle.js") for url in session.requests)
    assert any(url.endswith("/static-docs/redoc.standalone.js") for url in session.requests)
    assert outside == []
    assert [url for url in local_only(session.requests, web.url) if url not in blocked] == []


def test_the_index_links_every_page_instead_of_a_404(web: WebServer, browsing: Any) -> None:
    page = browsing().page
    response = page.goto(f"{web.url}/")
    assert response is not None and response.status == 200
    links = page.eval_on_selector_all(".cards a", "links => links.map(a => a.getAttribute('href'))")
    assert links[:3] == ["/farm", "/review", "/docs"]
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_wrong_password_is_refused_in_the_users_language_and_nothing_is_kept(
    web: WebServer, browsing: Any
) -> None:
    page = browsing(locale="ko-KR").page
    page.goto(f"{web.url}/login?next=/farm")
    assert page.locator("h1").inner_text() == "로그인"
    page.fill("#username", ADMIN)
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:not([hidden])")
    assert page.locator("#login-error").inner_text() == "사용자 이름 또는 비밀번호가 틀렸습니다."
    assert page.evaluate("localStorage.getItem('aipipe.session')") is None


def test_a_page_without_login_goes_to_login_and_back_after_it(web: WebServer, browsing: Any) -> None:
    session = browsing()
    session.page.goto(f"{web.url}/farm?lang=en")
    session.page.wait_for_url(f"{web.url}/login?next=%2Ffarm%3Flang%3Den")
    session.page.fill("#username", ADMIN)
    session.page.fill("#password", web.admin_password)
    session.page.click("#login-submit")
    session.page.wait_for_url(f"{web.url}/farm?lang=en")
    session.page.wait_for_selector("#farm[data-ready=true]")


def test_a_refused_access_token_is_refreshed_once_and_the_page_goes_on(web: WebServer, browsing: Any) -> None:
    session = browsing()
    session.login(web.url, ADMIN, web.admin_password)
    page = session.page
    page.wait_for_selector("#farm[data-ready=true]")
    before = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    # The server no longer takes this access token (as after its expiry); the page is reloaded.
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('aipipe.session'));"
        " s.access_token = 'expired'; localStorage.setItem('aipipe.session', JSON.stringify(s)); }"
    )
    page.reload()
    page.wait_for_selector("#farm[data-ready=true]")
    after = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] not in ("expired", before["access_token"])
    # Refresh tokens are single use: the one the page spent no longer works.
    spent = httpx.post(f"{web.url}/api/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert spent.status_code == 401
    me = httpx.get(f"{web.url}/api/users/me", headers={"Authorization": f"Bearer {after['access_token']}"})
    assert me.json()["username"] == ADMIN


def test_logging_out_forgets_the_tokens_and_revokes_the_refresh_token(web: WebServer, browsing: Any) -> None:
    session = browsing()
    session.login(web.url, ADMIN, web.admin_password)
    page = session.page
    page.wait_for_selector("#farm[data-ready=true]")
    kept = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    page.click("#logout")
    page.wait_for_url(f"{web.url}/login?next=%2Ffarm")
    assert page.evaluate("localStorage.getItem('aipipe.session')") is None
    refused = httpx.post(f"{web.url}/api/auth/refresh", json={"refresh_token": kept["refresh_token"]})
    assert refused.status_code == 401


@pytest.mark.parametrize("failure", ["network", "server-restarting"])
def test_a_token_refresh_that_fails_on_the_way_keeps_the_login_and_the_page_retries(
    web: WebServer, browsing: Any, failure: str
) -> None:
    """The access token is due for its refresh while the refresh cannot reach the server (no network) or the
    server answers 503 (restarting): the page stays, keeps the login, says it could not load its data and
    tries again; once the refresh goes through the page starts and the spent refresh token is replaced.
    Before, any failed refresh sent the user to the login page, and a 503 forgot the login."""
    session = browsing()
    session.login(web.url, ADMIN, web.admin_password)
    page = session.page
    page.wait_for_selector("#farm[data-ready=true]")
    before = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    refreshes: list[str] = []
    held = {"on": True}

    def refresh(route: Any) -> None:
        if not held["on"]:
            refreshes.append("passed")
            route.continue_()
        elif failure == "network":
            refreshes.append("failed")
            route.abort("internetdisconnected")
        else:
            refreshes.append("failed")
            route.fulfill(status=503, json={"title": "Service Unavailable", "status": 503})

    page.route("**/api/auth/refresh", refresh)
    # The access token is about to expire: the next request refreshes it first. The page is reloaded.
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('aipipe.session'));"
        " s.access_expires_at = Date.now(); localStorage.setItem('aipipe.session', JSON.stringify(s)); }"
    )
    page.reload()
    notice = page.locator("#stale")
    notice.wait_for(state="visible")
    assert notice.locator(".stale-text").inner_text() == "Could not load this page's data; retrying…"
    for _ in range(100):  # the page tries again (back-off from 1 s)
        if refreshes.count("failed") >= 3:
            break
        page.wait_for_timeout(100)
    assert refreshes.count("failed") >= 3, refreshes
    assert page.url.startswith(f"{web.url}/farm"), page.url
    kept = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    assert kept["refresh_token"] == before["refresh_token"]  # the login is kept
    held["on"] = False
    page.wait_for_selector("#farm[data-ready=true]", timeout=30_000)
    notice.wait_for(state="hidden")
    page.wait_for_selector("#live-state[data-state=on]", timeout=30_000)
    assert page.url.startswith(f"{web.url}/farm"), page.url
    after = json.loads(page.evaluate("localStorage.getItem('aipipe.session')"))
    assert after["refresh_token"] != before["refresh_token"]
    me = httpx.get(f"{web.url}/api/users/me", headers={"Authorization": f"Bearer {after['access_token']}"})
    assert me.json()["username"] == ADMIN


def test_a_page_whose_stream_says_hello_at_once_reads_its_data_once(web: WebServer, browsing: Any) -> None:
    """The farm page opens its event stream and reads its snapshot once the stream has said hello: one read of
    the agents, not two (before, the snapshot was read at once and again at the hello, which came meanwhile).
    A page whose stream never answers still shows its data (tests/web/test_farm_dashboard.py)."""
    session = browsing()
    seen: list[str] = []  # in the order the browser reported them
    agents = f"{web.url}/api/farm/agents"
    session.page.on("request", lambda request: request.url == agents and seen.append("read"))

    def stream(socket: Any) -> None:
        socket.on("framereceived", lambda frame: '"hello"' in str(frame) and seen.append("hello"))

    session.page.on("websocket", stream)
    session.login(web.url, ADMIN, web.admin_password)
    page = session.page
    page.wait_for_selector("#farm[data-ready=true]")
    page.wait_for_selector("#live-state[data-state=on]")
    page.wait_for_timeout(1500)  # a reread after the hello would be on its way by now
    assert seen == ["hello", "read"], seen  # read once, after the hello (read, hello, read before)
