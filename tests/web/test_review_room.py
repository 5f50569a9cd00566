"""The review room in a real browser: real H.264 movies whose every frame shows its number as a bar code, so
the test reads back from the screen which frame each player shows after stepping and where the wipe divides
them; verdicts and notes checked in the API and live in a second browser; roles; signed media URLs."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from sync_server.auth.tokens import Tokens
from sync_server.settings import JWT_SECRET_FILE
from tests.support.framecode import coded_movie, read_code
from tests.support.inprocess import wait_until
from tests.support.media import png_bytes
from tests.web.conftest import START_READS, FailingReads, WebServer

RATE = "24000/1001"
FRAMES = 600  # 25 s at 23.976: long enough that stepping at a wrong rate shows the wrong frame
# The playblast's frames show 1001, 1002, … and it says so (`first_frame`): the room shows the same numbers.
# The previz's show 0, 1, … and it says nothing: the room numbers it from the cut, 1001.
PLAYBLAST_FIRST = 1001
# pytest-timeout counts fixture setup: the first test here also starts the server and Chromium and encodes and
# publishes the two coded movies, which took 120 s on 2 cores at load 15-20 (the test itself, 15-40 s).
pytestmark = pytest.mark.timeout(300)


@dataclass
class Reel:
    """A project at 23.976 with three shots; the second has a previz and a newer playblast (coded movies)."""

    project: dict[str, Any]
    shots: list[dict[str, Any]]
    previz: dict[str, Any]
    playblast: dict[str, Any]


def _publish(
    client: httpx.Client, shot_id: str, stage: str, name: str, data: bytes, **fields: str
) -> dict[str, Any]:
    parts = [("files", (name, data, "application/octet-stream"))]
    response = client.post(f"/api/shots/{shot_id}/versions", data={"stage": stage, **fields}, files=parts)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def reel(web: WebServer, tmp_path_factory: pytest.TempPathFactory) -> Reel:
    folder = tmp_path_factory.mktemp("review-media")
    admin = web.admin
    project = admin.post("/api/projects", json={"code": "REV", "name": "Review reel", "fps": RATE}).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shots = []
    for _ in range(3):
        made = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]})
        assert made.status_code == 201, made.text
        shots.append(made.json())
    # Edit order is not creation order: the last shot is moved to the front.
    moved = admin.post(
        f"/api/projects/{project['id']}/shots/reorder",
        json={"shots": [{"id": s["id"], "revision": s["revision"]} for s in (shots[2], shots[0], shots[1])]},
    )
    assert moved.status_code == 200, moved.text
    _publish(admin, shots[0]["id"], "previz", "still.png", png_bytes(160, 90, "orange"))
    previz_movie = coded_movie(folder / "previz.mp4", 0, FRAMES, RATE)
    playblast_movie = coded_movie(folder / "playblast.mp4", PLAYBLAST_FIRST, FRAMES, RATE)
    previz = _publish(admin, shots[1]["id"], "previz", "previz.mp4", previz_movie.read_bytes())
    playblast = _publish(
        admin,
        shots[1]["id"],
        "playblast",
        "playblast.mp4",
        playblast_movie.read_bytes(),
        first_frame=str(PLAYBLAST_FIRST),
    )
    return Reel(project, shots, previz, playblast)


# Each player records the media time of each frame the browser hands to the compositor, with the video's
# `requestVideoFrameCallback`: it fires for a paused player once a seek's frame is on its way to the screen.
WATCH_PRESENTED = """() => { for (const v of document.querySelectorAll('#viewer video')) {
    const seen = (_now, meta) => {
        v.dataset.presentedTime = String(meta.mediaTime);
        v.requestVideoFrameCallback(seen);
    };
    v.requestVideoFrameCallback(seen); } }"""
PLAYERS = """() => [...document.querySelectorAll('#viewer video')].map(v => ({id: v.id, time: v.currentTime,
    seeking: v.seeking, ready: v.readyState, presented: v.dataset.presentedTime ?? null}))"""


def _code_on_screen(page: Any, selector: str) -> int:
    """The frame number the bar code in `selector`'s box shows, read from a screenshot."""
    pixels = np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB"))
    return read_code(pixels)


def _settled(page: Any, frame: int | dict[str, int] | None = None) -> None:
    """Both players have finished seeking and hold a decoded frame; with `frame`, the browser has also
    presented that frame of the movie in both (so a screenshot taken now shows it, however busy the
    machine: no guessing how long painting takes); or, given {player id: frame}, that player's frame in
    each player named."""
    done = "() => [...document.querySelectorAll('#viewer video')].every(v => !v.seeking && v.readyState >= 2)"
    try:
        page.wait_for_function(done)
    except Exception as exc:
        raise AssertionError(f"players still seeking: {page.evaluate(PLAYERS)}") from exc
    if frame is None:
        return
    presented = """([frames, num, den]) => [...document.querySelectorAll('#viewer video')]
        .filter(v => v.id in frames).every(v => !v.seeking && v.dataset.presentedTime !== undefined
        && Math.floor(Number(v.dataset.presentedTime) * num / den + 1e-3) === frames[v.id])"""
    # (+1e-3 frame: the media time is given in whole microseconds, so a frame's start may read a hair early.)
    num, den = (int(part) for part in RATE.split("/"))
    frames = frame if isinstance(frame, dict) else {"video-a": frame, "video-b": frame}
    try:
        page.wait_for_function(presented, arg=[frames, num, den], timeout=15_000)
    except Exception:
        # The browser did not report the frame's presentation: its requestVideoFrameCallback now and then
        # stays silent under load (seen for a paused player after its source was renewed: time 0.229 s,
        # ready, presented 0). A player that holds the frame (its time in it, not seeking, a decoded frame) is
        # taken as settled; the caller's `_shows` then reads the screen itself, with retries.
        holding = """([frames, num, den]) => [...document.querySelectorAll('#viewer video')]
            .filter(v => v.id in frames).every(v => !v.seeking && v.readyState >= 2
            && Math.floor(v.currentTime * num / den + 1e-3) === frames[v.id])"""
        try:
            page.wait_for_function(holding, arg=[frames, num, den])
        except Exception as exc:
            raise AssertionError(f"frame {frame} not presented: {page.evaluate(PLAYERS)}") from exc


def _shows(page: Any, selector: str, number: int) -> None:
    """The screenshot of `selector` shows code `number`. Called once the frame was presented (`_settled`
    with the frame), so the first read is expected to match; retries cover the compositor's last step."""
    read: list[int] = []

    def showing() -> bool:
        read.append(_code_on_screen(page, selector))
        return read[-1] == number

    try:
        wait_until(showing, 10, f"{selector} showing {number}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; read {read[-5:]}, players {page.evaluate(PLAYERS)}") from None


def _open_shot(session: Any, web: WebServer, reel: Reel, role: str, lang: str = "en", shot: int = 1) -> str:
    username, password = web.user(role)
    page = session.page
    # Every wait here is for an event (a seek done, a frame presented, a note arrived), so a longer limit
    # costs nothing when things work; Playwright's 30 s default was seen running out on 2 cores at load 18.
    page.set_default_timeout(60_000)
    session.login(web.url, username, password, then="/review")
    page.goto(f"{web.url}/review?project={reel.project['id']}&lang={lang}")
    page.wait_for_selector("#review[data-ready=true]")
    page.click(f"#shots .shot[data-shot-id='{reel.shots[shot]['id']}'] .shot-pick")
    page.wait_for_selector("#video-a")
    _settled(page)
    page.evaluate(WATCH_PRESENTED)
    return username


def _director_in_room(browsing: Any, web: WebServer) -> tuple[Any, str]:
    """A new director logged in on the review room (no project open yet): the page, and the user name."""
    session = browsing()
    page = session.page
    page.set_default_timeout(60_000)
    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    return page, username


def test_play_step_wipe_and_approve_at_frame_12_seen_live_in_a_second_browser(
    web: WebServer, reel: Reel, browsing: Any, tmp_path: Path
) -> None:
    director = browsing()
    page = director.page
    watcher = browsing()
    _open_shot(watcher, web, reel, "artist")
    watcher.page.evaluate("window.__notReloaded = true")
    _open_shot(director, web, reel, "director")

    # Shots in edit order, each with its status; the shot with a still has its thumbnail.
    codes = page.locator("#shots .shot .code").all_inner_texts()
    listed = web.admin.get(f"/api/projects/{reel.project['id']}/shots", params={"sort": "order"}).json()
    assert codes == [s["code"] for s in listed["items"]]
    assert codes[0] == reel.shots[2]["code"]
    page.wait_for_function(
        f"document.querySelector(\"img.thumb[data-shot-id='{reel.shots[0]['id']}']\").src.startsWith('blob:')"
    )
    assert page.locator("#shot-rate").inner_text() == "23.976 fps (24000/1001)"

    # A is the newest version (the playblast), B the previz; both play from signed URLs, in sync.
    assert page.locator("#slot-a").get_attribute("data-version-id") == reel.playblast["id"]
    assert page.locator("#slot-b").get_attribute("data-version-id") == reel.previz["id"]
    page.click("#play")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#viewer video')].every(v => !v.paused && v.currentTime > 0.4)"
    )
    page.wait_for_function("Number(document.getElementById('frame-number').textContent) > 0")
    page.click("#play")  # pause
    page.wait_for_function("() => [...document.querySelectorAll('#viewer video')].every(v => v.paused)")

    # Frame stepping with the keyboard, at 24000/1001: each player shows exactly the frame the readout says,
    # numbered as the shot's frames are (A's, from its first frame, 1001), never from 0.
    page.keyboard.press("Home")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST)
    assert page.locator("#frame-total").inner_text() == f" ({PLAYBLAST_FIRST}–{PLAYBLAST_FIRST + FRAMES - 1})"
    for _ in range(13):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST + 12)
    assert page.locator("#timecode").inner_text() == "00:00:00:12"
    _settled(page, 12)
    _shows(page, "#media-a", PLAYBLAST_FIRST + 12)
    _shows(page, "#media-b", 12)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST + 33)
    assert page.locator("#timecode").inner_text() == "00:00:01:09"
    _settled(page, 33)
    _shows(page, "#media-a", PLAYBLAST_FIRST + 33)
    _shows(page, "#media-b", 33)
    # The last frame, 25 s in: a rate of 24 instead of 24000/1001 would be 0.6 frames off by now.
    page.keyboard.press("End")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST + FRAMES - 1)
    assert page.locator("#timecode").inner_text() == "00:00:24:23"
    _settled(page, FRAMES - 1)
    _shows(page, "#media-a", PLAYBLAST_FIRST + FRAMES - 1)
    _shows(page, "#media-b", FRAMES - 1)
    page.keyboard.press("Home")
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    _settled(page, 12)

    # A/B wipe: B left of the divider, A right of it. The codes differ in their bars, so the picture read
    # across the wipe is B's bars on the left and A's on the right.
    page.check("#mode-wipe")
    box = page.locator("#viewer").bounding_box()
    assert box is not None
    a_code, b_code = PLAYBLAST_FIRST + 12, 12
    for fraction in (0.25, 0.75):
        page.locator("#wipe-divider").hover()
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2, steps=4)
        page.mouse.up()
        assert abs(int(page.locator("#wipe-divider").get_attribute("aria-valuenow")) - fraction * 100) <= 2
        bars_from_b = round(12 * fraction)
        left_mask = ((1 << bars_from_b) - 1) << (12 - bars_from_b)
        expected = (b_code & left_mask) | (a_code & ~left_mask & 0xFFF)
        _shows(page, "#media-a", expected)

    page.screenshot(path=str(tmp_path / "review-wipe.png"))

    # Approve the playblast with a note at frame 1013, its 13th: stored as 12 (counted from the movie's first
    # frame, as the API keeps a note's frame and the add-on's markers read it).
    page.fill("#note-text", "Hands fixed. 손 수정 완료")
    assert page.locator("#note-at-frame").is_checked()
    assert page.locator("#note-frame").inner_text() == str(PLAYBLAST_FIRST + 12)
    page.click("#verdict-approve")
    page.wait_for_selector("#notes .note[data-verdict=approve]")
    reviews = web.admin.get(f"/api/versions/{reel.playblast['id']}/reviews").json()["items"]
    assert [(r["verdict"], r["frame"], r["text"]) for r in reviews] == [
        ("approve", 12, "Hands fixed. 손 수정 완료")
    ]
    assert web.admin.get(f"/api/versions/{reel.playblast['id']}").json()["verdict"] == "approve"

    # The second browser sees the note and the verdict without reloading.
    watcher.page.wait_for_selector("#notes .note[data-verdict=approve] .at-frame")
    assert watcher.page.locator("#notes .note .at-frame").inner_text() == f"frame {PLAYBLAST_FIRST + 12}"
    watcher.page.wait_for_selector(
        f".version[data-version-id='{reel.playblast['id']}'] .verdict[data-verdict=approve]"
    )
    assert watcher.page.evaluate("window.__notReloaded") is True

    # A note's frame takes the player there: the picture it was written on.
    page.check("#mode-side")
    page.evaluate("document.activeElement.blur()")  # the keys step the players, not the radio buttons
    page.keyboard.press("Home")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST)
    page.click("#notes .note .at-frame")
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST + 12)
    _settled(page, 12)
    _shows(page, "#media-a", PLAYBLAST_FIRST + 12)


def _no_frame(page: Any, slot: str, number: int) -> None:
    """`slot` shows no picture and says it has no frame `number`."""
    assert page.locator(f"#slot-{slot}").get_attribute("data-outside") == "true"
    assert page.locator(f"#no-frame-{slot}").inner_text() == f"No frame {number} in this version"
    assert page.locator(f"#video-{slot}").evaluate("v => getComputedStyle(v).visibility") == "hidden"
    assert _code_on_screen(page, f"#media-{slot}") == 0  # black, not another frame's bars


def test_a_and_b_show_the_same_shot_frame_and_b_says_where_it_has_none(
    web: WebServer, reel: Reel, browsing: Any, tmp_path: Path
) -> None:
    """A render whose movie starts at 993 (8 frames of head handle, 993-1016) beside a playblast of 1001-1096:
    stepping, seeking, playing and a note's link keep frame 1001 of A next to frame 1001 of B (the render's
    9th picture, not its first); where B has no picture for A's number it shows none and says so."""
    shot = reel.shots[2]["id"]
    render_movie = coded_movie(tmp_path / "render.mp4", 993, 24, RATE)
    render = _publish(
        web.admin, shot, "render", "render.mp4", render_movie.read_bytes(), first_frame="993", handle_in="8"
    )
    playblast_movie = coded_movie(tmp_path / "playblast.mp4", 1001, 96, RATE)
    _publish(web.admin, shot, "playblast", "playblast.mp4", playblast_movie.read_bytes(), first_frame="1001")
    noted = web.admin.post(f"/api/versions/{render['id']}/reviews", json={"text": "Flicker", "frame": 10})
    assert noted.status_code == 201, noted.text
    session = browsing()
    _open_shot(session, web, reel, "director", shot=2)
    page = session.page
    assert page.locator("#slot-b").get_attribute("data-version-id") == render["id"]
    # Each player says the numbers its movie holds: B's are not A's.
    page.wait_for_function("document.querySelector('#range-b').textContent === '993–1016'")
    assert page.locator("#range-a").inner_text() == "1001–1096"

    # A, the playblast, at 1001: B, the render, at its own 1001 (its 9th frame), not at its first (993).
    page.keyboard.press("Home")
    assert page.locator("#frame-number").inner_text() == "1001"
    _settled(page, {"video-a": 0, "video-b": 8})
    _shows(page, "#media-a", 1001)
    _shows(page, "#media-b", 1001)
    assert page.locator("#slot-b").get_attribute("data-outside") == "false"
    assert not page.locator("#no-frame-b").is_visible()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    _settled(page, {"video-a": 15, "video-b": 23})
    _shows(page, "#media-a", 1016)
    _shows(page, "#media-b", 1016)
    # Past the render's last frame (1016): B shows no picture and says so.
    page.keyboard.press("ArrowRight")
    assert page.locator("#frame-number").inner_text() == "1017"
    _settled(page, {"video-a": 16})
    _shows(page, "#media-a", 1017)
    _no_frame(page, "b", 1017)
    page.keyboard.press("ArrowLeft")
    _settled(page, {"video-a": 15, "video-b": 23})
    _shows(page, "#media-b", 1016)
    assert page.locator("#slot-b").get_attribute("data-outside") == "false"

    # Playing: B runs 8 frames ahead in its movie (the same shot frame), stops where its frames end and is
    # marked while A plays on.
    page.keyboard.press("Home")
    _settled(page, {"video-a": 0, "video-b": 8})
    page.click("#play")
    in_step = """() => { const [a, b] = ['video-a', 'video-b'].map(id => document.getElementById(id));
        const frame = 1001 / 24000, ahead = b.currentTime - a.currentTime;
        return !a.paused && !b.paused && a.currentTime > 0.1 && Math.abs(ahead - 8 * frame) < frame / 2; }"""
    page.wait_for_function(in_step, timeout=20_000)
    page.wait_for_function(
        "() => !document.getElementById('video-a').paused && document.getElementById('video-b').paused"
        " && document.getElementById('slot-b').dataset.outside === 'true'",
        timeout=20_000,
    )
    page.wait_for_selector("#play[data-playing=false]")
    assert page.locator("#frame-number").inner_text() == "1096"
    assert page.locator("#slot-b").get_attribute("data-outside") == "true"

    # The render in A, the playblast in B: at 993 the playblast has no picture; at 1001 its first.
    page.click(f".version[data-version-id='{render['id']}'] .pick-a")
    note = page.locator("#notes .note:has-text('Flicker') .at-frame")
    note.wait_for()
    page.evaluate(WATCH_PRESENTED)  # the players are new ones
    page.wait_for_function("document.querySelector('#range-a').textContent === '993–1016'")
    assert page.locator("#range-b").inner_text() == "1001–1096"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Home")
    assert page.locator("#frame-number").inner_text() == "993"
    _settled(page, {"video-a": 0})
    _shows(page, "#media-a", 993)
    _no_frame(page, "b", 993)
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    assert page.locator("#frame-number").inner_text() == "1001"
    _settled(page, {"video-a": 8, "video-b": 0})
    _shows(page, "#media-a", 1001)
    _shows(page, "#media-b", 1001)
    # A note's link: the render's frame 1003 (stored as 10) beside the playblast's 1003 (its 3rd).
    assert note.inner_text() == "frame 1003"
    note.click()
    assert page.locator("#frame-number").inner_text() == "1003"
    _settled(page, {"video-a": 10, "video-b": 2})
    _shows(page, "#media-a", 1003)
    _shows(page, "#media-b", 1003)


def test_an_artist_may_note_but_not_judge_and_a_wrangler_may_do_neither(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    artist = browsing()
    _open_shot(artist, web, reel, "artist")
    page = artist.page
    assert [page.locator(f"#verdict-{v}").is_disabled() for v in ("approve", "needs_changes", "reject")] == [
        True,
        True,
        True,
    ]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.fill("#note-text", "Cloth pops at the cut")
    page.click("#send-note")
    page.wait_for_selector("#notes .note:has-text('Cloth pops at the cut')")
    notes = web.admin.get(f"/api/versions/{reel.playblast['id']}/reviews").json()["items"]
    assert ("Cloth pops at the cut", None, 2) in [(n["text"], n["verdict"], n["frame"]) for n in notes]

    # The server refuses what the page disables, asked from the browser with the user's own token.
    post_verdict = """async (version) => {
        const token = JSON.parse(localStorage.getItem('aipipe.session')).access_token;
        const r = await fetch(`/api/versions/${version}/reviews`, {method: 'POST',
            headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
            body: JSON.stringify({verdict: 'approve', text: 'sneaky'})});
        return r.status; }"""
    assert page.evaluate(post_verdict, reel.previz["id"]) == 403

    wrangler = browsing()
    _open_shot(wrangler, web, reel, "wrangler")
    page = wrangler.page
    assert page.locator("#send-note").is_disabled() and page.locator("#verdict-approve").is_disabled()
    assert "shot:approve" in (page.locator("#verdict-approve").get_attribute("title") or "")
    assert page.evaluate(post_verdict, reel.previz["id"]) == 403
    assert web.admin.get(f"/api/versions/{reel.previz['id']}").json()["verdict"] is None


def test_a_player_whose_url_expired_gets_a_new_one_and_stays_on_its_frame(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    session = browsing()
    _open_shot(session, web, reel, "director")
    page = session.page
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    _settled(page, 5)
    # The URL the player holds stops working (as an expired one does): it asks for a new one.
    page.evaluate(
        "() => { const v = document.getElementById('video-a');"
        " v.src = v.src.replace(/token=[^&]+/, 'token=x'); }"
    )
    page.wait_for_function(
        "() => { const v = document.getElementById('video-a');"
        " return !v.src.endsWith('token=x') && v.readyState >= 2 && !v.seeking; }"
    )
    assert page.locator("#frame-number").inner_text() == str(PLAYBLAST_FIRST + 5)
    _settled(page, 5)
    _shows(page, "#media-a", PLAYBLAST_FIRST + 5)


def test_a_shot_event_older_than_the_shot_shown_changes_nothing_in_the_list(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """Events do not always arrive in revision order (an import's child process may follow the server's own
    later edit): the shot list keeps the newer status. The page's event stream goes through the server as
    usual; the test adds two events of its own to it (an older and a newer revision of the same shot)."""
    session = browsing()
    page = session.page
    page.set_default_timeout(60_000)
    routes: list[Any] = []

    def through_the_server(ws: Any) -> None:
        ws.connect_to_server()  # the page's messages and the server's pass through unchanged
        routes.append(ws)

    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    page.route_web_socket(re.compile(r"/api/events"), through_the_server)
    page.goto(f"{web.url}/review?project={reel.project['id']}&lang=en")
    page.wait_for_selector("#review[data-ready=true]")
    wait_until(lambda: bool(routes), 30, "the page's event stream")

    shot = web.admin.get(f"/api/shots/{reel.shots[2]['id']}").json()
    badge = f"#shots .shot[data-shot-id='{shot['id']}'] .status"
    status = "omitted" if shot["status"] != "omitted" else "ready"
    edited = web.admin.patch(
        f"/api/shots/{shot['id']}", json={"status": status, "revision": shot["revision"]}
    )
    assert edited.status_code == 200, edited.text
    newest = edited.json()
    page.wait_for_selector(f"{badge}[data-status='{status}']")  # the real event arrived

    def inject(event_id: int, state: dict[str, Any]) -> None:
        routes[-1].send(
            json.dumps(
                {"type": "event", "id": event_id, "action": "shot.updated", "entity": "shot",
                 "entity_id": state["id"], "project_id": reel.project["id"], "revision": state["revision"],
                 "data": state}
            )
        )  # fmt: skip

    inject(2_000_000_001, shot)  # the shot as it was before the edit, arriving late
    later = {**newest, "status": "final", "revision": newest["revision"] + 1}
    inject(2_000_000_002, later)  # a newer revision still applies (the injection reaches the page)
    page.wait_for_selector(f"{badge}[data-status='final']")
    inject(2_000_000_003, newest)  # and the one before it no longer does
    other = web.admin.get(f"/api/shots/{reel.shots[0]['id']}").json()
    marker = "approved" if other["status"] != "approved" else "review"
    inject(2_000_000_004, {**other, "status": marker, "revision": other["revision"] + 1})
    # Events are handled in order: once the marker (another shot) shows, the older one was handled too.
    page.wait_for_selector(f"#shots .shot[data-shot-id='{other['id']}'] .status[data-status='{marker}']")
    assert page.locator(badge).get_attribute("data-status") == "final"


def test_a_change_made_while_the_page_subscribes_is_in_its_shot_list(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """The page subscribes to the project's events before it loads the shot list, so a change committed after
    the page asked for its event stream and before the server said hello is in the list. It used to load the
    list first: such a change was neither in the list nor sent (the stream sends what follows its hello)."""
    session = browsing()
    page = session.page
    page.set_default_timeout(60_000)
    shot_id = reel.shots[0]["id"]
    made: list[str] = []

    def edit_then_connect(ws: Any) -> None:
        if not made:  # the page's first stream: the change lands before the server hears of the page
            shot = web.admin.get(f"/api/shots/{shot_id}").json()
            status = "omitted" if shot["status"] != "omitted" else "ready"
            edited = web.admin.patch(
                f"/api/shots/{shot_id}", json={"status": status, "revision": shot["revision"]}
            )
            assert edited.status_code == 200, edited.text
            made.append(status)
        ws.connect_to_server()

    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    page.route_web_socket(re.compile(r"/api/events"), edit_then_connect)
    page.goto(f"{web.url}/review?project={reel.project['id']}&lang=en")
    page.wait_for_selector("#review[data-ready=true]")
    assert made, "the page opened no event stream"
    badge = f"#shots .shot[data-shot-id='{shot_id}'] .status"
    page.wait_for_selector(f"{badge}[data-status='{made[0]}']", timeout=20_000)


def test_a_page_whose_stream_is_held_shows_its_shot_list_at_once_and_a_change_made_before_its_hello(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """A proxy may hold the event stream's upgrade without an answer: the page shows the project's shots at
    once all the same (it waited 5 s for the hello before), and reads them again when the stream says hello
    at last, so a change made while the stream was held is shown."""
    session = browsing()
    page = session.page
    page.set_default_timeout(60_000)
    held: list[Any] = []
    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    page.route_web_socket(re.compile(r"/api/events"), lambda ws: held.append(ws))
    # A shot of its own (the reel's shots' statuses are other tests' to change): made a draft, then omitted.
    made = web.admin.post(
        f"/api/projects/{reel.project['id']}/shots", json={"scene_id": reel.shots[0]["scene_id"]}
    )
    assert made.status_code == 201, made.text
    shot_id = made.json()["id"]
    page.goto(f"{web.url}/review?project={reel.project['id']}&lang=en")
    badge = f"#shots .shot[data-shot-id='{shot_id}'] .status"
    # Shown promptly, with the stream still held: well within the old wait for the hello (5 s).
    page.wait_for_selector(badge, timeout=2_000)
    page.wait_for_selector("#review[data-ready=true]", timeout=2_000)
    assert held, "the page opened no event stream"
    assert page.locator("#live-state").get_attribute("data-state") != "on"
    shot = web.admin.get(f"/api/shots/{shot_id}").json()
    edited = web.admin.patch(
        f"/api/shots/{shot_id}", json={"status": "omitted", "revision": shot["revision"]}
    )
    assert edited.status_code == 200, edited.text
    assert page.locator(badge).get_attribute("data-status") == shot["status"]
    # The page's stream is the last one held (the page the login landed on may have opened one before).
    held[-1].connect_to_server()
    page.wait_for_selector(f"{badge}[data-status='omitted']", timeout=20_000)


def test_media_urls_are_for_one_file_expire_and_stop_with_the_account(web: WebServer, reel: Reel) -> None:
    username, _ = web.user("artist")
    client = web.client_for(username)
    movie, still = reel.playblast["files"][0], reel.previz["files"][0]
    made = client.post(f"/api/versions/{reel.playblast['id']}/files/{movie['id']}/media-url")
    assert made.status_code == 200, made.text
    url = made.json()["url"]
    assert url.startswith(f"/media/{reel.playblast['id']}/{movie['id']}?token=")
    # No Authorization header: the URL alone plays, with Range.
    ranged = httpx.get(web.url + url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.headers["content-range"] == f"bytes 0-99/{movie['size']}"
    assert ranged.headers["content-type"] == "video/mp4"
    token = url.split("token=", 1)[1]
    # Another file with the same token: refused.
    other = httpx.get(f"{web.url}/media/{reel.previz['id']}/{still['id']}?token={token}")
    assert other.status_code == 403 and other.json()["errors"][0]["field"] == "token"
    # An access token is not a media token, and a media token is not an access token.
    access = client.headers["Authorization"].split(" ", 1)[1]
    assert (
        httpx.get(f"{web.url}/media/{reel.playblast['id']}/{movie['id']}?token={access}").status_code == 401
    )
    as_bearer = httpx.get(f"{web.url}/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    # An expired URL (signed with the server's own key) is refused.
    secret = (web.server.data_dir / JWT_SECRET_FILE).read_text(encoding="utf-8").strip()
    me = client.get("/api/users/me").json()
    expired = (
        Tokens(secret, 60, 60)
        .issue_media(me["id"], -5, {"vid": reel.playblast["id"], "fid": movie["id"]})
        .token
    )
    late = httpx.get(f"{web.url}/media/{reel.playblast['id']}/{movie['id']}?token={expired}")
    assert late.status_code == 401 and "expired" in late.json()["detail"]
    # A disabled account's URLs stop at once.
    revision = web.admin.get(f"/api/users/{me['id']}").json()["revision"]
    disabled = web.admin.patch(f"/api/users/{me['id']}", json={"active": False, "revision": revision})
    assert disabled.status_code == 200, disabled.text
    assert httpx.get(web.url + url, headers={"Range": "bytes=0-99"}).status_code == 401


def test_the_review_room_in_korean(web: WebServer, reel: Reel, browsing: Any, tmp_path: Path) -> None:
    session = browsing(locale="ko-KR")
    _open_shot(session, web, reel, "director", lang="ko")
    page = session.page
    assert page.locator("#verdict-approve").inner_text() == "승인"
    assert page.locator("#mode-wipe").locator("xpath=..").inner_text().strip() == "A/B 와이프"
    assert (
        page.locator(f".version[data-version-id='{reel.previz['id']}']")
        .locator("xpath=..")
        .locator("h3")
        .inner_text()
        == "프리비즈"
    )
    assert page.locator("#frame-number").locator("xpath=..").inner_text().startswith("프레임")
    # A version that does not say how its frames are numbered (the previz) counts from the cut, 1001: a note
    # stored at its 4th frame (3) reads "1004 프레임" and takes the player to that picture.
    noted = web.admin.post(
        f"/api/versions/{reel.previz['id']}/reviews", json={"text": "눈 깜빡임", "frame": 3}
    )
    assert noted.status_code == 201, noted.text
    page.click(f".version[data-version-id='{reel.previz['id']}'] .pick-a")
    at_frame = page.locator("#notes .note:has-text('눈 깜빡임') .at-frame")
    at_frame.wait_for()  # the notes are loaded once the new players are
    assert at_frame.inner_text() == "1004 프레임"
    page.evaluate(WATCH_PRESENTED)  # the players are new ones
    at_frame.click()
    assert page.locator("#frame-number").inner_text() == "1004"
    _settled(page, 3)
    _shows(page, "#media-a", 3)
    shot = tmp_path / "review-ko.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_first_read_that_fails_says_so_in_korean_and_is_retried_until_the_list_shows(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """The shot list's first read fails twice (the server answers 500): the room says, in the page's language,
    that it could not load its data and is trying again, and reads again until a read succeeds; then the list
    shows, with a change made meanwhile, and the notice goes. The room once stopped at the first failure: an
    error for a moment, an empty list for good."""
    session = browsing(locale="ko-KR")
    page = session.page
    page.set_default_timeout(60_000)
    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    made = web.admin.post(
        f"/api/projects/{reel.project['id']}/shots", json={"scene_id": reel.shots[0]["scene_id"]}
    )
    assert made.status_code == 201, made.text
    shot_id = made.json()["id"]
    held: list[Any] = []
    page.route_web_socket(re.compile(r"/api/events"), lambda ws: held.append(ws))  # retries only, no hello
    fail_twice = FailingReads(fails=2)
    page.route(re.compile(rf"/api/projects/{reel.project['id']}/shots\?"), fail_twice)
    page.goto(f"{web.url}/review?project={reel.project['id']}&lang=ko")
    notice = page.locator("#stale")
    notice.wait_for(state="visible", timeout=20_000)
    assert notice.get_attribute("aria-live") == "polite"
    assert (
        notice.locator(".stale-text").inner_text()
        == "이 페이지의 데이터를 불러오지 못했습니다. 다시 시도하고 있습니다…"
    )
    assert notice.locator("button").inner_text() == "지금 다시 시도"
    assert page.locator("#review").get_attribute("data-ready") != "true"
    shot = web.admin.get(f"/api/shots/{shot_id}").json()
    edited = web.admin.patch(
        f"/api/shots/{shot_id}", json={"status": "omitted", "revision": shot["revision"]}
    )
    assert edited.status_code == 200, edited.text
    page.wait_for_selector(
        f"#shots .shot[data-shot-id='{shot_id}'] .status[data-status='omitted']", timeout=20_000
    )
    notice.wait_for(state="hidden", timeout=20_000)
    page.wait_for_selector("#review[data-ready=true]", timeout=20_000)
    assert fail_twice.answered[:3] == [500, 500, 200]


@pytest.mark.parametrize("failing", START_READS)
def test_a_start_read_that_fails_is_retried_until_the_menu_fills_and_the_room_opens(
    web: WebServer, reel: Reel, browsing: Any, failing: str
) -> None:
    """A read the room needs to start fails twice (the server answers 500): the projects, or the check of the
    login (/api/users/me). The room says it could not load its data and reads again until a read succeeds;
    then the project menu is filled, the project in the address opens with its shots, the user is shown, the
    room is ready and the notice goes, without a reload. Either failure once ended the room's start: an empty
    menu for good (after a toast), nothing retried."""
    page, username = _director_in_room(browsing, web)
    reads = FailingReads()
    page.route(re.compile(failing), reads)
    page.goto(f"{web.url}/review?project={reel.project['id']}")
    notice = page.locator("#stale")
    notice.wait_for(state="visible", timeout=20_000)
    assert notice.locator(".stale-text").inner_text() == "Could not load this page's data; retrying…"
    reads.wait_for_failures(page, 2)
    assert page.locator(f"#project option[value='{reel.project['id']}']").count() == 0
    assert page.locator("#review").get_attribute("data-ready") != "true"
    reads.release()
    page.wait_for_selector("#review[data-ready=true]", timeout=20_000)
    assert page.locator("#project").input_value() == reel.project["id"]
    page.wait_for_selector(f"#shots .shot[data-shot-id='{reel.shots[1]['id']}']", timeout=20_000)
    notice.wait_for(state="hidden", timeout=20_000)
    assert page.locator("#who").inner_text().startswith(username)
    assert set(reads.answered[:2]) == {500} and reads.answered[-1] == 200


def test_a_versions_read_that_fails_on_a_shot_click_fills_the_slots_once_a_retry_reads_them(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """A click on a shot whose versions read fails (the server answers 500): the notice says the data could
    not be refreshed, the live badge says the stream is live but its data not refreshed, and the room reads
    again; once a read succeeds, slots A and B show the shot's versions (the playblast and the previz) as they
    would had the first read succeeded, the badge says "Live" and the notice goes. The retry once read the
    versions but left both slots empty until the user picked one."""
    page, _ = _director_in_room(browsing, web)
    page.goto(f"{web.url}/review?project={reel.project['id']}")
    page.wait_for_selector("#review[data-ready=true]")
    page.wait_for_selector("#live-state[data-state=on][data-stale=false]", timeout=20_000)
    shot_id = reel.shots[1]["id"]
    versions = FailingReads()
    # Only the shot's own versions read (limit 200), not the list's thumbnails (limit 20).
    page.route(re.compile(rf"/api/shots/{shot_id}/versions\?limit=200"), versions)
    page.click(f"#shots .shot[data-shot-id='{shot_id}'] .shot-pick")
    notice = page.locator("#stale")
    notice.wait_for(state="visible", timeout=20_000)
    assert re.fullmatch(
        r"Could not refresh — showing data from \d\d:\d\d( [AP]M)?; retrying…",
        notice.locator(".stale-text").inner_text(),
    )
    page.wait_for_selector("#live-state[data-state=on][data-stale=true]", timeout=20_000)
    assert page.locator("#live-state").inner_text() == "Live · data not refreshed"
    assert not page.locator("#slot-a").get_attribute("data-version-id")  # no slot filled yet
    versions.release()
    page.wait_for_selector(f"#slot-a[data-version-id='{reel.playblast['id']}']", timeout=20_000)
    assert page.locator("#slot-b").get_attribute("data-version-id") == reel.previz["id"]
    page.wait_for_selector("#video-a")
    notice.wait_for(state="hidden", timeout=20_000)
    assert page.locator("#live-state").inner_text() == "Live"
    assert versions.answered[0] == 500 and versions.answered[-1] == 200


def test_a_login_check_the_server_refuses_goes_to_the_login_page(web: WebServer, browsing: Any) -> None:
    """The check of the login (/api/users/me) is refused (401, after the token refresh): the room goes to the
    login page, neither retrying nor staying open (it once showed an error and stayed)."""
    session = browsing()
    page = session.page
    username, password = web.user("director")
    session.login(web.url, username, password, then="/review")
    page.route(
        re.compile(r"/api/users/me$"),
        lambda route: route.fulfill(status=401, json={"title": "Unauthorized", "status": 401}),
    )
    page.goto(f"{web.url}/review")
    page.wait_for_url(re.compile(r"/login\?next="), timeout=20_000)


def test_choosing_another_shot_whose_versions_read_fails_shows_nothing_of_the_shot_before(
    web: WebServer, reel: Reel, browsing: Any
) -> None:
    """A shot is open (its versions listed, in slots A and B, its notes); the reviewer picks another shot
    whose versions read fails (the server answers 500). At once, under the new shot's code, the room says it
    is loading that shot's versions: no version, slot, player or notes of the shot before (a note sent then
    went to the previous shot's version). Once a retry reads them, the new shot's own version is in slot A.
    The previous shot's versions and slots once stayed on screen under the new code until the retry
    succeeded."""
    page, _ = _director_in_room(browsing, web)
    page.goto(f"{web.url}/review?project={reel.project['id']}&shot={reel.shots[1]['id']}")
    page.wait_for_selector("#review[data-ready=true]")
    page.wait_for_selector(f"#slot-a[data-version-id='{reel.playblast['id']}']", timeout=20_000)
    page.wait_for_selector("#video-a")
    assert page.locator("#versions .version").count() == 2
    other = reel.shots[0]
    still = web.admin.get(f"/api/shots/{other['id']}/versions").json()["items"][0]
    versions = FailingReads()
    page.route(re.compile(rf"/api/shots/{other['id']}/versions\?limit=200"), versions)
    page.click(f"#shots .shot[data-shot-id='{other['id']}'] .shot-pick")
    page.locator("#stale").wait_for(state="visible", timeout=20_000)
    assert page.locator("#shot-code").inner_text() == other["code"]
    assert page.locator("#versions .version").count() == 0
    for slot in ("a", "b"):
        assert not page.locator(f"#slot-{slot}").get_attribute("data-version-id")
        assert page.locator(f"#label-{slot}").inner_text() == "nothing chosen"
    assert page.locator("#viewer video, #viewer img").count() == 0
    assert page.locator("#notes-for").inner_text() == ""
    loading = page.locator("#versions-loading")
    assert loading.is_visible() and loading.inner_text() == "Loading this shot's versions…"
    assert page.locator("#versions-empty").is_hidden()
    versions.wait_for_failures(page, 1)
    versions.release()
    page.wait_for_selector(f"#slot-a[data-version-id='{still['id']}']", timeout=20_000)
    assert loading.is_hidden()
    assert page.locator("#versions .version").count() == 1
    page.locator("#stale").wait_for(state="hidden", timeout=20_000)
