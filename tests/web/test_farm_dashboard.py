"""The farm dashboard in a real browser: two real agent processes (each driving a ComfyUI stand-in) on a real
server; what the page shows and what it does are checked in the page and through the API."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN
from tests.web.conftest import START_READS, FailingReads, WebServer

JOB_PARAMS = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
PATIENCE_MS = 20_000


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    """Poll the API until `check()` is truthy (the page side waits with Playwright's own conditions)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def agent_process(
    url: str, key: str, name: str, comfy_url: str, work_dir: Path
) -> Iterator[subprocess.Popen]:
    """A real `aipipe-agent` process; stopped with SIGTERM afterwards (its log in work_dir/agent.log)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": key,
        "AIPIPE_AGENT_WORK_DIR": str(work_dir),
        "AIPIPE_AGENT_HEARTBEAT_S": "0.5",
        "AIPIPE_AGENT_PROGRESS_INTERVAL_S": "0.2",
    }
    with (work_dir / "agent.log").open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "render_agent",
                "--server",
                url,
                "--comfyui",
                comfy_url,
                "--name",
                name,
                "--job-types",
                "i2v",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@dataclass
class Farm:
    web: WebServer
    agents: dict[str, str]  # name → id

    def job(self, job_id: str) -> dict[str, Any]:
        return self.web.admin.get(f"/api/farm/jobs/{job_id}").json()

    def agent(self, name: str) -> dict[str, Any]:
        return next(a for a in self.web.admin.get("/api/farm/agents").json() if a["name"] == name)


@pytest.fixture(scope="module")
def farm(web: WebServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """Two agents (`web-a`, `web-b`), each with its own slow ComfyUI stand-in that sends previews."""
    root = tmp_path_factory.mktemp("farm")
    names = ["web-a", "web-b"]
    with contextlib.ExitStack() as stack:
        for name in names:
            comfy = stack.enter_context(
                running_standin(root / f"comfy-{name}", node_delay=2.0, progress_steps=4, send_previews=True)
            )
            # The job's first frame, where a studio's ComfyUI would have it.
            Image.new("RGB", (64, 64), (200, 80, 40)).save(comfy.comfy.input_dir / "first_frame.png")
            key = web.admin.post("/api/api-keys", json={"name": f"key-{name}", "role": "agent"}).json()["key"]
            stack.enter_context(agent_process(web.url, key, name, comfy.url, root / f"work-{name}"))

        def registered() -> dict[str, str] | None:
            found = {a["name"]: a["id"] for a in web.admin.get("/api/farm/agents").json()}
            # Only this module's two: other tests on the same server register agents of their own.
            return {n: found[n] for n in names} if all(n in found for n in names) else None

        yield Farm(web, wait_for(registered, "both agents to register"))


def submit_job(web: WebServer, **overrides: Any) -> dict[str, Any]:
    body = {"type": "i2v", "workflow": "cpu_test_still_video", "params": JOB_PARAMS, **overrides}
    made = web.admin.post("/api/farm/jobs", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def shows_priority(page: Any, job: dict[str, Any], priority: int) -> None:
    """Wait until the queue row of `job` shows `priority`."""
    page.wait_for_function(
        "([id, value]) => document.querySelector(`#queue-rows tr[data-job-id='${id}'] input.prio`)?.value"
        " === value",
        arg=[job["id"], str(priority)],
        timeout=PATIENCE_MS,
    )


def change_priority_then_connect(web: WebServer, job: dict[str, Any], held: Any) -> None:
    """Change the job's priority through the API, then let the page's held event stream reach the server."""
    changed = web.admin.post(f"/api/farm/jobs/{job['id']}/priority", json={"priority": 93})
    assert changed.status_code == 200, changed.text
    held.connect_to_server()


def open_with_held_stream(browsing: Any, web: WebServer) -> tuple[Any, list[Any]]:
    """Log in to the farm page with its event stream held (never answered): the page, and the held sockets."""
    held: list[Any] = []
    session = browsing()
    page = session.page
    page.route_web_socket(re.compile(r"/api/events"), lambda ws: held.append(ws))
    session.login(web.url, ADMIN, web.passwords[ADMIN])
    return page, held


def open_farm(browsing: Any, web: WebServer, username: str = ADMIN, locale: str = "en-US") -> Any:
    session = browsing(locale=locale)
    session.login(web.url, username, web.passwords[username])
    session.page.wait_for_selector("#farm[data-ready=true]")
    return session


def test_login_shows_both_agents_with_state_gpu_reason_and_comfyui(farm: Farm, browsing: Any) -> None:
    page = open_farm(browsing, farm.web).page

    for name, agent_id in farm.agents.items():
        card = page.locator(f'.agent[data-agent-id="{agent_id}"]')
        card.wait_for()
        assert card.locator(".agent-name").inner_text() == name
        # This host has no GPU: the card says so with the agent's own reason, never made-up figures.
        api_agent = farm.agent(name)
        assert api_agent["gpus"] == [] and api_agent["gpu_error"]
        assert card.locator(".nogpu").inner_text() == f"No GPU: {api_agent['gpu_error']}"
        assert card.locator(".comfy").inner_text() == "ComfyUI reachable"
        assert card.get_attribute("data-state") in ("idle", "busy")
    assert page.locator("#live-state").get_attribute("data-state") == "on"


def test_a_running_job_shows_progress_moving_and_its_preview_then_is_cancelled(
    farm: Farm, browsing: Any
) -> None:
    page = open_farm(browsing, farm.web).page
    job = submit_job(farm.web, priority=60)

    # The queue row appears through the event stream, then the agent that took the job shows it.
    row = page.locator(f'#queue-rows tr[data-job-id="{job["id"]}"]')
    row.wait_for(timeout=PATIENCE_MS)
    current = page.locator(f'.agent .job[data-job-id="{job["id"]}"]')
    current.wait_for(timeout=PATIENCE_MS)
    running = farm.job(job["id"])
    assert running["status"] == "running"
    card = page.locator(f'.agent[data-agent-id="{running["agent_id"]}"]')
    assert card.locator(f'.job[data-job-id="{job["id"]}"]').count() == 1

    # Progress moves on screen (two different values seen), and the sampler's preview appears.
    def shown_progress() -> str:
        return card.locator(".job .stage").inner_text().split("%")[0]

    first = shown_progress()
    page.wait_for_function(
        """([id, first]) => {
            const stage = document.querySelector(`.agent .job[data-job-id="${id}"] .stage`);
            return stage && stage.textContent.split('%')[0] !== first;
        }""",
        arg=[job["id"], first],
        timeout=PATIENCE_MS,
    )
    assert shown_progress() != first
    preview = card.locator("img.preview")
    preview.wait_for(timeout=PATIENCE_MS)
    assert page.evaluate("(img) => img.naturalWidth", preview.element_handle()) == 8
    assert farm.job(job["id"])["preview_mime"] == "image/png"
    assert float(shown_progress()) / 100 <= farm.job(job["id"])["progress"] + 1e-6

    # Cancel from the queue: a confirmation first, then the result is shown.
    row.locator("button[data-action=cancel]").click()
    page.locator("#confirm-dialog").wait_for()
    assert "Cancel job" in page.locator("#confirm-dialog p").inner_text()
    page.click("#confirm-yes")
    page.locator("#toast").wait_for()
    assert re.search(rf"Job {job['id'][:8]}: ", page.locator("#toast").inner_text())
    assert farm.job(job["id"])["cancel_requested"] is True
    # The agent stops it; page and API agree that it is cancelled.
    wait_for(lambda: farm.job(job["id"])["status"] == "cancelled", "the agent to release the job")
    page.wait_for_selector(
        f'#queue-rows tr[data-job-id="{job["id"]}"][data-status=cancelled]', timeout=PATIENCE_MS
    )
    page.wait_for_selector(f'.agent .job[data-job-id="{job["id"]}"]', state="detached", timeout=PATIENCE_MS)


def test_draining_an_agent_is_confirmed_and_shown_in_the_page_and_the_api(farm: Farm, browsing: Any) -> None:
    page = open_farm(browsing, farm.web).page
    agent_id = farm.agents["web-b"]
    card = page.locator(f'.agent[data-agent-id="{agent_id}"]')
    card.locator("button[data-action=drain]").click()
    page.locator("#confirm-dialog").wait_for()
    page.click("#confirm-yes")
    page.locator("#toast").wait_for()
    assert page.locator("#toast").inner_text() == "Agent web-b is draining."
    assert farm.agent("web-b")["draining"] is True
    # The agent hears it at its next heartbeat and says it is draining; the page follows live.
    page.wait_for_selector(f'.agent[data-agent-id="{agent_id}"][data-state=draining]', timeout=PATIENCE_MS)
    assert farm.agent("web-b")["state"] == "draining"

    card.locator("button[data-action=undrain]").click()
    page.click("#confirm-yes")
    page.wait_for_selector(
        f'.agent[data-agent-id="{agent_id}"] button[data-action=drain]', timeout=PATIENCE_MS
    )
    assert farm.agent("web-b")["draining"] is False


def test_an_artist_sees_the_farm_but_cannot_drain_or_retry_and_the_api_refuses_too(
    farm: Farm, browsing: Any
) -> None:
    artist, _ = farm.web.user("artist")
    job = submit_job(farm.web, priority=5, tags=["nowhere"])  # no agent has the tag: it stays queued
    page = open_farm(browsing, farm.web, artist).page
    drain = page.locator(f'.agent[data-agent-id="{farm.agents["web-a"]}"] button[data-action=drain]')
    assert drain.is_disabled()
    assert drain.get_attribute("title") == "Only a wrangler or admin may do this."
    row = page.locator(f'#queue-rows tr[data-job-id="{job["id"]}"]')
    row.wait_for()
    assert row.locator("button[data-action=cancel]").is_disabled()  # not the artist's job
    assert row.locator("button[data-action=priority]").is_disabled()
    # The same call the button would make, from the artist's page with the artist's token: refused.
    refused = page.evaluate(
        """async (id) => {
            const script = document.querySelector('script[type=module]').src;
            const { api } = await import(script.replace(/[^/]+$/, 'api.js'));
            try { await api(`/api/farm/agents/${id}/drain`, { method: 'POST' }); return 'done'; }
            catch (error) { return error.status; }
        }""",
        farm.agents["web-a"],
    )
    assert refused == 403
    assert farm.agent("web-a")["draining"] is False
    farm.web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_a_change_made_while_the_page_was_disconnected_arrives_when_it_resumes(
    farm: Farm, browsing: Any
) -> None:
    job = submit_job(farm.web, priority=7, tags=["nowhere"])
    session = open_farm(browsing, farm.web)
    page = session.page
    row = page.locator(f'#queue-rows tr[data-job-id="{job["id"]}"]')
    row.wait_for()
    page.wait_for_selector("#live-state[data-state=on]")  # the page shows its data before its stream is on
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    last_id = page.evaluate("window.aipipeFarm.live.lastId")
    # Cut the connection (as a network drop would), change the job meanwhile, and let the page reconnect.
    page.evaluate("window.aipipeFarm.live.socket.close()")
    changed = farm.web.admin.post(f"/api/farm/jobs/{job['id']}/priority", json={"priority": 93})
    assert changed.status_code == 200
    shows_priority(page, job, 93)
    assert page.locator("#live-state").get_attribute("data-state") == "on"
    assert any(f"since={last_id}" in url for url in sockets), sockets
    farm.web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_a_change_made_while_the_page_subscribes_is_in_its_queue(web: WebServer, browsing: Any) -> None:
    """A change committed after the page asked for its stream and before the server's hello is in what it
    shows: the page reads its snapshot again after a hello that came later than its first read. It once read
    the snapshot only once, beside a stream still connecting: a change made before the hello was neither in
    the snapshot nor sent (the stream sends what follows its hello), and the queue kept the old priority."""
    job = submit_job(web, priority=7, tags=["nowhere"])  # no agent has the tag: it stays queued
    held: list[Any] = []
    snapshot_asked: list[str] = []
    session = browsing()
    page = session.page
    # Held: the page's stream is not connected to the server until the test says so.
    page.route_web_socket(re.compile(r"/api/events"), lambda ws: held.append(ws))
    page.on("request", lambda r: "/api/farm/status" in r.url and snapshot_asked.append(r.url))
    session.login(web.url, ADMIN, web.passwords[ADMIN])
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the page opened no event stream"
    # The page reads its snapshot at once: let it show that snapshot before the change (a page that waits for
    # the hello, as one did, asks for nothing yet; the change must come well within that 5 s wait).
    page.wait_for_timeout(500)
    if snapshot_asked:
        page.locator(f'#queue-rows tr[data-job-id="{job["id"]}"]').wait_for(timeout=PATIENCE_MS)
    change_priority_then_connect(web, job, held[0])
    shows_priority(page, job, 93)
    web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_a_page_whose_stream_is_held_shows_its_queue_at_once_and_a_change_made_before_its_hello(
    web: WebServer, browsing: Any
) -> None:
    """A proxy may hold the event stream's upgrade without an answer: the page shows its queue at once all the
    same (it waited 5 s for the hello before), and when the stream says hello at last the page reads its
    snapshot again, so a change made after that first snapshot and before the hello is shown (it was lost for
    good before last round's fix: neither in the snapshot nor sent)."""
    job = submit_job(web, priority=7, tags=["nowhere"])
    page, held = open_with_held_stream(browsing, web)
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert held, "the page opened no event stream"
    # Shown promptly, with the stream still held: well within the old wait for the hello (5 s).
    prio = f"#queue-rows tr[data-job-id='{job['id']}'] input.prio"
    page.locator(prio).wait_for(timeout=2_000)
    assert page.locator(prio).input_value() == "7"
    page.wait_for_selector("#farm[data-ready=true]", timeout=2_000)
    assert page.locator("#live-state").get_attribute("data-state") != "on"
    change_priority_then_connect(web, job, held[0])
    shows_priority(page, job, 93)
    web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_a_job_queued_while_the_queue_is_read_stays_in_it(web: WebServer, browsing: Any) -> None:
    """A job an event brings while a read of the queue is on its way stays when that read, taken before the
    job existed, lands: the page once replaced its queue with what the read had, and the new job vanished
    from it until its next event."""
    old = submit_job(web, priority=7, tags=["nowhere"])
    session = open_farm(browsing, web)
    page = session.page
    page.locator(f'#queue-rows tr[data-job-id="{old["id"]}"]').wait_for(timeout=PATIENCE_MS)
    page.wait_for_selector("#live-state[data-state=on]", timeout=PATIENCE_MS)
    held: list[tuple[Any, Any]] = []
    reads = re.compile(r"/api/farm/jobs\?")

    def hold_the_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))  # answered now, delivered when the test says

    page.route(reads, hold_the_first)
    page.select_option("#f-sort", "created_at")  # the queue is read again
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert held, "the page did not read its queue again"
    new = submit_job(web, priority=8, tags=["nowhere"])
    row = page.locator(f'#queue-rows tr[data-job-id="{new["id"]}"]')
    row.wait_for(timeout=PATIENCE_MS)  # its event brought it
    route, answer = held[0]
    route.fulfill(response=answer)
    page.evaluate("window.aipipeFarm.live.reading")  # the read has landed
    assert row.count() == 1, "the job queued while the queue was read vanished when the read landed"
    assert page.locator(f'#queue-rows tr[data-job-id="{old["id"]}"]').count() == 1
    for job in (old, new):
        web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_the_korean_dashboard_reads_in_korean(farm: Farm, browsing: Any, tmp_path: Path) -> None:
    session = open_farm(browsing, farm.web, locale="ko-KR")
    page = session.page
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h2").first.inner_text() == "에이전트"
    assert page.locator(".agent .comfy").first.inner_text() == "ComfyUI 연결됨"
    assert page.locator("#logout").inner_text() == "로그아웃"
    shot = tmp_path / "farm-ko.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # The switch to English is one click, and it sticks (cookie).
    page.click("a[data-lang=en]")
    page.wait_for_selector("#farm[data-ready=true]")
    assert page.locator("h2").first.inner_text() == "Agents"


def test_a_job_that_fails_is_counted_live_in_the_charts_and_figures(farm: Farm, browsing: Any) -> None:
    page = open_farm(browsing, farm.web).page
    assert page.locator("#chart-hour svg g").count() == 12 and page.locator("#chart-day svg g").count() == 24
    before = farm.web.admin.get("/api/farm/throughput").json()["hour"]["buckets"][-1]
    failed_before = int(page.locator("#fig-failed-hour").inner_text())

    def newest_bar() -> str:
        return page.locator("#chart-hour svg g title").last.text_content() or ""

    finished = before["succeeded"] + before["failed"]
    rate = round(100 * before["failed"] / finished) if finished else 0
    assert newest_bar().endswith(f"{before['succeeded']} done, {before['failed']} failed ({rate}% errors)")
    # Its first frame is not in ComfyUI: the job fails for good at once (an input failure).
    job = submit_job(farm.web, params={**JOB_PARAMS, "image": "missing.png"})
    wait_for(lambda: farm.job(job["id"])["status"] == "failed", "the job to fail")
    page.wait_for_function(
        "(n) => document.getElementById('fig-failed-hour').textContent === String(n)",
        arg=failed_before + 1,
        timeout=PATIENCE_MS,
    )
    assert f"{before['failed'] + 1} failed" in newest_bar()
    after = farm.web.admin.get("/api/farm/throughput").json()["hour"]["buckets"][-1]
    assert after["failed"] == before["failed"] + 1
    assert httpx.get(f"{farm.web.url}/api/farm/throughput").status_code == 401


def test_a_wranglers_dashboard_follows_agent_changes_made_elsewhere(farm: Farm, browsing: Any) -> None:
    wrangler, _ = farm.web.user("wrangler")
    page = open_farm(browsing, farm.web, wrangler).page
    agent_id = farm.agents["web-a"]
    card = f'.agent[data-agent-id="{agent_id}"]'
    assert page.locator(f"{card} button[data-action=drain]").is_enabled()
    # Agents belong to no project: their events reach a wrangler's stream all the same (not only admins').
    assert farm.web.admin.post(f"/api/farm/agents/{agent_id}/drain").status_code == 200
    page.wait_for_selector(f"{card} button[data-action=undrain]", timeout=PATIENCE_MS)
    assert farm.web.admin.post(f"/api/farm/agents/{agent_id}/undrain").status_code == 200
    page.wait_for_selector(f"{card} button[data-action=drain]", timeout=PATIENCE_MS)


def test_a_reread_that_fails_says_the_data_is_out_of_date_and_is_retried_until_it_shows_the_change(
    web: WebServer, browsing: Any
) -> None:
    """The reread after a late hello fails twice (the server answers 500): the page says its data may be out
    of date, since when, and reads again (1 s, then 2 s later) until a read succeeds; then the notice goes and
    the change made before the hello is shown. It once only logged the failure: the queue kept the old
    priority, with nothing on screen to say so, until the next reconnect."""
    job = submit_job(web, priority=7, tags=["nowhere"])
    page, held = open_with_held_stream(browsing, web)
    page.wait_for_selector("#farm[data-ready=true]", timeout=PATIENCE_MS)
    prio = f"#queue-rows tr[data-job-id='{job['id']}'] input.prio"
    page.locator(prio).wait_for(timeout=PATIENCE_MS)
    assert held, "the page opened no event stream"
    assert page.locator("#stale").is_hidden()
    # Each read of the snapshot reads jobs twice (the queue and the running jobs): two reads fail.
    fail_twice = FailingReads(fails=4)
    page.route(re.compile(r"/api/farm/jobs\?"), fail_twice)
    change_priority_then_connect(web, job, held[-1])
    notice = page.locator("#stale")
    notice.wait_for(state="visible", timeout=PATIENCE_MS)
    assert notice.get_attribute("role") == "status"
    text = notice.locator(".stale-text").inner_text()
    assert re.fullmatch(r"Could not refresh — showing data from \d\d:\d\d( [AP]M)?; retrying…", text), text
    assert page.locator(prio).input_value() == "7"  # what the page has is shown, and said to be old
    shows_priority(page, job, 93)
    notice.wait_for(state="hidden", timeout=PATIENCE_MS)
    assert fail_twice.answered[:5] == [500, 500, 500, 500, 200]
    web.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


@pytest.mark.parametrize("failing", START_READS)
def test_a_start_read_that_fails_is_retried_until_the_page_is_ready_and_the_badge_says_the_data_is_old(
    web: WebServer, browsing: Any, failing: str
) -> None:
    """A read the page needs to start fails (the server answers 500) while the rest of the page reads well:
    the projects (the project filter), or the check of the login (/api/users/me). The notice says the page's
    data could not be loaded, the live badge says the stream is live but the data not refreshed (not a plain
    "Live" beside the notice), and the read is made again until it succeeds; then the filter is filled, the
    user is shown, the page is ready (its 5 s timer runs) and the notice goes, without a reload. Either
    failure once ended the page's start: never ready, nothing retried."""
    code = f"PR{uuid.uuid4().hex[:6].upper()}"
    made = web.admin.post("/api/projects", json={"code": code, "name": "Retried"})
    assert made.status_code == 201, made.text
    reads = FailingReads()
    session = browsing()
    page = session.page
    page.route(re.compile(failing), reads)
    session.login(web.url, ADMIN, web.passwords[ADMIN])
    notice = page.locator("#stale")
    notice.wait_for(state="visible", timeout=PATIENCE_MS)
    assert notice.locator(".stale-text").inner_text() == "Could not load this page's data; retrying…"
    # The stream is on and the rest of the page was read: the badge says live, its data not refreshed.
    badge = page.locator("#live-state")
    page.wait_for_selector("#live-state[data-state=on][data-stale=true]", timeout=PATIENCE_MS)
    assert badge.inner_text() == "Live · data not refreshed"
    reads.wait_for_failures(page, 2)
    assert page.locator("#farm").get_attribute("data-ready") != "true"
    if "users" in failing:
        assert page.locator("#who").is_hidden()
    reads.release()
    page.wait_for_selector("#farm[data-ready=true]", timeout=PATIENCE_MS)
    assert page.locator(f"#f-project option[value='{made.json()['id']}']").count() == 1
    assert page.locator("#who").inner_text().startswith(ADMIN)
    notice.wait_for(state="hidden", timeout=PATIENCE_MS)
    page.wait_for_selector("#live-state[data-state=on][data-stale=false]", timeout=PATIENCE_MS)
    assert badge.inner_text() == "Live"
    assert set(reads.answered[:2]) == {500} and reads.answered[-1] == 200
