"""Editorial over real HTTP: OTIO, EDL and FCP XML read back with the same cuts; EDL import; proxy movie."""

from __future__ import annotations

import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
import opentimelineio as otio
import pycmx
import pytest

from sync_server.editorial.exchange import read, record_offset
from sync_server.editorial.timeline import cuts_of
from tests.support.api import Api, assert_problem
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.media import h264_mp4, png_bytes

RATES = {"23.976": (24000, 1001), "24": (24, 1), "25": (25, 1), "29.97": (30000, 1001)}
DURATIONS = (48, 17, 31)  # 17 frames: not a whole second at any rate


def _publish(
    client: httpx.Client, shot_id: str, stage: str, name: str, data: bytes, **fields: str
) -> dict[str, Any]:
    files = [("files", (name, data, "application/octet-stream"))]
    response = client.post(f"/api/shots/{shot_id}/versions", data={"stage": stage, **fields}, files=files)
    assert response.status_code == 201, response.text
    return response.json()


def _edit_project(api: Api, tmp_path: Path, fps: str, korean: bool = False) -> dict[str, Any]:
    """Three shots: one with a render movie, one with an approved first frame, one with nothing."""
    project = api.project(fps=fps, handle_in=4, width=640, height=360)
    if korean:
        naming = api.admin.put(
            f"/api/projects/{project['id']}/naming",
            json={"overrides": {"shot_code": "샷_{shot:04d}"}, "revision": project["revision"]},
        )
        assert naming.status_code == 200, naming.text
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"], duration_frames=d) for d in DURATIONS]
    movie = h264_mp4(tmp_path / "render.mp4", seconds=3, rate=fps if "." not in fps else "24000/1001")
    # the render holds a 4-frame head handle (it says so); the edit starts after it
    _publish(api.admin, shots[0]["id"], "render", "render.mp4", movie.read_bytes(), handle_in="4")
    first = _publish(api.admin, shots[1]["id"], "previz", "first.png", png_bytes(64, 36, "blue"))
    review = api.admin.post(f"/api/versions/{first['id']}/reviews", json={"verdict": "approve"})
    assert review.status_code == 201, review.text
    return {"project": project, "scene": scene, "shots": shots}


def _export(api: Api, project_id: str, fmt: str, **params: str) -> httpx.Response:
    response = api.admin.get(f"/api/projects/{project_id}/editorial", params={"format": fmt, **params})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("fps", list(RATES))
def test_edl_xml_and_otio_read_back_with_the_same_cuts(api: Api, tmp_path: Path, fps: str) -> None:
    made = _edit_project(api, tmp_path, fps, korean=fps == "23.976")
    num, den = RATES[fps]
    codes = [s["code"] for s in made["shots"]]
    expected = [(code, duration) for code, duration in zip(codes, DURATIONS, strict=True)]
    starts = [0, DURATIONS[0], DURATIONS[0] + DURATIONS[1]]
    for fmt in ("otio", "cmx_3600", "fcp_xml"):
        text = _export(api, made["project"]["id"], fmt).text
        timeline = read(text, fmt, num, den)
        cuts = cuts_of(timeline, num, den)
        assert [(c.name, c.duration) for c in cuts] == expected, fmt
        assert [c.record_in for c in cuts] == starts, fmt
        # the movie is used from its head handle on; the still and the slate from their first frame
        assert [c.source_in for c in cuts] == [4, 0, 0], fmt
        assert (
            record_offset(timeline, num, den)
            == otio.opentime.from_timecode(
                "01:00:00;00" if fps == "29.97" else "01:00:00:00", num / den
            ).value
        ), fmt
    if fps == "23.976":
        assert codes[0].startswith("샷_")


def test_edl_has_record_start_short_reels_full_names_and_versioned_media(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id, codes = made["project"]["id"], [s["code"] for s in made["shots"]]
    edl = _export(api, project_id, "cmx_3600")
    assert edl.headers["content-disposition"].endswith(".edl")
    events = [line.split() for line in edl.text.splitlines() if re.match(r"^\d{3}\s", line)]
    assert [e[1] for e in events] == [code.replace("_", "") for code in codes]  # SHT0010: 7 characters
    assert all(len(e[1]) <= 8 for e in events)
    assert events[0][6] == "01:00:00:00" and events[-1][7] == "01:00:04:00"  # 96 frames at 24
    assert f"* FROM CLIP NAME:  {codes[0]}" in edl.text
    assert re.search(rf"\* FROM CLIP: file://.*/{codes[0]}/render/v001/render\.mp4", edl.text)
    later = _export(api, project_id, "cmx_3600", record_start="00:59:50:00").text
    assert "00:59:50:00" in [line.split()[6] for line in later.splitlines() if re.match(r"^001\s", line)]
    bad = api.admin.get(
        f"/api/projects/{project_id}/editorial", params={"format": "cmx_3600", "record_start": "1h"}
    )
    assert_problem(bad, 422, "record_start")
    assert_problem(api.admin.get(f"/api/projects/{project_id}/editorial", params={"format": "aaf"}), 422)


def test_a_project_with_no_shots_exports_an_empty_edit_in_every_format(api: Api) -> None:
    project = api.project(fps="25")
    edl = _export(api, project["id"], "cmx_3600").text
    title, fcm = edl.splitlines()[:2]
    assert title.startswith(f"TITLE: {project['code']}") and fcm == "FCM: NON-DROP FRAME"
    assert pycmx.parse_cmx3600(io.StringIO(edl)).title.startswith(project["code"])
    assert not [line for line in edl.splitlines() if line[:3].isdigit()]  # no event
    assert list(read(edl, "cmx_3600", 25, 1).find_clips()) == []
    assert list(read(_export(api, project["id"], "otio").text, "otio", 25, 1).find_clips()) == []
    assert "<sequence" in _export(api, project["id"], "fcp_xml").text


def test_29_97_is_drop_frame_in_both_edl_and_xml(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "29.97")
    project_id = made["project"]["id"]
    edl = _export(api, project_id, "cmx_3600").text
    first = next(line for line in edl.splitlines() if line.startswith("001"))
    assert first.split()[6] == "01:00:00;00"
    xml = _export(api, project_id, "fcp_xml").text
    assert "<displayformat>NDF</displayformat>" not in xml
    assert "<string>01:00:00;00</string>" in xml and "<displayformat>DF</displayformat>" in xml


def test_korean_codes_survive_every_format(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "25", korean=True)
    codes = [s["code"] for s in made["shots"]]
    assert all(code.startswith("샷_") for code in codes)
    for fmt in ("otio", "cmx_3600", "fcp_xml"):
        cuts = cuts_of(read(_export(api, made["project"]["id"], fmt).text, fmt, 25, 1), 25, 1)
        assert [c.name for c in cuts] == codes
    edl = _export(api, made["project"]["id"], "cmx_3600").text
    reels = [line.split()[1] for line in edl.splitlines() if re.match(r"^\d{3}\s", line)]
    assert reels == ["0010", "0020", "0030"]  # ASCII reels; the Korean names stay in the comments


def _shot_list(api: Api, project_id: str) -> list[dict[str, Any]]:
    response = api.admin.get(f"/api/projects/{project_id}/shots")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_edl_import_matches_events_to_shots_sets_durations_reorders_and_creates(
    api: Api, tmp_path: Path
) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id = made["project"]["id"]
    a, b, c = (s["code"] for s in made["shots"])
    edl = (
        "TITLE: from the cutting room\n\n"
        f"001  XXXX     V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
        f"* FROM CLIP NAME:  {c}_render_v002\n"
        f"002  {a.replace('_', '')}  V     C        00:00:00:04 00:00:02:00 01:00:01:00 01:00:02:20\n"
        f"003  NEWREEL  V     C        00:00:00:00 00:00:00:12 01:00:02:20 01:00:03:08\n"
        "* FROM CLIP NAME:  pickup shot\n"
        f"004  ZZZ      V     C        00:00:00:00 00:00:00:10 01:00:03:08 01:00:03:18\n"
        f"* FROM CLIP NAME:  {b}\n"
    )
    body = {"format": "cmx_3600", "content": edl}
    preview = api.admin.post(f"/api/projects/{project_id}/editorial/import", json=body)
    assert preview.status_code == 200, preview.text
    events = preview.json()["events"]
    assert [(e["action"], e["code"], e["duration_frames"]) for e in events[:2]] == [
        ("match", c, 24),
        ("match", a, 44),
    ]
    assert [e["matched_by"] for e in events] == ["versioned name", "reel", None, "code"]
    assert events[2]["action"] == "create" and events[2]["duration_frames"] == 12
    assert preview.json()["applied"] is False and preview.json()["order_changed"] is True
    assert [(s["code"], s["duration_frames"]) for s in _shot_list(api, project_id)] == list(
        zip((a, b, c), DURATIONS, strict=True)
    )  # a preview changes nothing

    applied = api.admin.post(f"/api/projects/{project_id}/editorial/import", json={**body, "apply": True})
    assert applied.status_code == 200, applied.text
    new_code = events[2]["code"]
    after = [(s["code"], s["duration_frames"]) for s in _shot_list(api, project_id)]
    assert after == [(c, 24), (a, 44), (new_code, 12), (b, 10)]
    # and the export now says the same
    cuts = cuts_of(read(_export(api, project_id, "cmx_3600").text, "cmx_3600", 24, 1), 24, 1)
    assert [(cut.name, cut.duration) for cut in cuts] == after


def test_a_bad_edl_is_refused_naming_the_content_and_changes_nothing(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id = made["project"]["id"]
    before = _shot_list(api, project_id)
    bad = "TITLE: broken\n001  AX  V  C  00:00:00:00 00:00:01:00 01:00:00:00 01:00:09:00\n"
    response = api.admin.post(
        f"/api/projects/{project_id}/editorial/import",
        json={"format": "cmx_3600", "content": bad, "apply": True},
    )
    assert_problem(response, 422, "content")
    assert _shot_list(api, project_id) == before
    artist = api.user("artist")
    refused = artist.post(
        f"/api/projects/{project_id}/editorial/import", json={"format": "cmx_3600", "content": bad}
    )
    assert_problem(refused, 403)


def _wait_for_proxy(client: httpx.Client, proxy: dict[str, Any], timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = client.get(f"/api/editorial/proxies/{proxy['id']}").json()
        if current["status"] in ("succeeded", "failed"):
            return current
        time.sleep(0.2)
    raise AssertionError(f"proxy {proxy['number']} did not finish in {timeout_s} s")


def _frames_of(path: Path) -> tuple[int, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(video=0))
        return count, f"{stream.average_rate.numerator}/{stream.average_rate.denominator}"


def test_proxy_movie_reencodes_only_the_changed_shot(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "23.976")
    project, shots = made["project"], made["shots"]
    editor = api.user("editor")
    started = editor.post(f"/api/projects/{project['id']}/editorial/proxies")
    assert started.status_code == 202, started.text
    assert started.json()["status"] in ("queued", "running", "succeeded")
    first = _wait_for_proxy(editor, started.json())
    assert first["status"] == "succeeded", first["error"]
    assert (first["encoded"], first["reused"], first["frames"]) == (3, 0, sum(DURATIONS))
    assert re.fullmatch(rf"{project['code']}/edit/proxy/v001/{project['code']}_edit_v001\.mp4", first["path"])
    root = api.data_dir / "storage"  # type: ignore[operator]
    assert _frames_of(root / first["path"]) == (sum(DURATIONS), "24000/1001")
    assert (first["width"], first["height"]) == (640, 360)

    shot = api.admin.get(f"/api/shots/{shots[1]['id']}").json()
    changed = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"duration_frames": 29, "revision": shot["revision"]}
    )
    assert changed.status_code == 200, changed.text
    second = _wait_for_proxy(editor, editor.post(f"/api/projects/{project['id']}/editorial/proxies").json())
    assert second["status"] == "succeeded", second["error"]
    assert second["number"] == 2 and "/edit/proxy/v002/" in second["path"]
    assert (second["encoded"], second["reused"]) == (1, 2)
    assert [s["encoded"] for s in second["segments"]] == [False, True, False]
    total = DURATIONS[0] + 29 + DURATIONS[2]
    assert second["frames"] == total and _frames_of(root / second["path"]) == (total, "24000/1001")
    assert (root / first["path"]).is_file()  # the earlier proxy is kept

    movie = editor.get(second["url"])
    assert movie.status_code == 200 and movie.headers["content-type"] == "video/mp4"
    assert movie.content == (root / second["path"]).read_bytes()
    listed = editor.get(f"/api/projects/{project['id']}/editorial/proxies").json()
    assert [p["number"] for p in listed] == [2, 1]
    assert_problem(api.user("wrangler").post(f"/api/projects/{project['id']}/editorial/proxies"), 403)


def test_the_proxy_of_an_unchanged_edit_is_the_one_made_and_a_one_frame_change_renders_again(
    api: Api, tmp_path: Path
) -> None:
    made = _edit_project(api, tmp_path, "24")
    project, shots = made["project"], made["shots"]
    editors = [api.user("editor"), api.user("editor")]
    url = f"/api/projects/{project['id']}/editorial/proxies"
    root = api.data_dir / "storage"  # type: ignore[operator]

    def ask_twice_at_once(code: int) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda client: client.post(url), editors))
        assert [a.status_code for a in answers] == [code, code], [a.text for a in answers]
        return [a.json() for a in answers]

    # Two requests at once for an edit never rendered: one render, both answers name it (202: queued).
    first, same = ask_twice_at_once(202)
    assert same["id"] == first["id"]
    first = _wait_for_proxy(editors[0], first)
    assert first["status"] == "succeeded", first["error"]
    movie = root / first["path"]
    made_at = movie.stat()

    # The same edit again (twice at once): the same proxy (200: made, nothing queued), the movie untouched.
    for answer in ask_twice_at_once(200):
        assert (answer["id"], answer["number"], answer["status"]) == (first["id"], 1, "succeeded")
    assert (movie.stat().st_ino, movie.stat().st_mtime_ns) == (made_at.st_ino, made_at.st_mtime_ns)
    assert [p["number"] for p in editors[0].get(url).json()] == [1]

    # One frame shorter: a new proxy, one segment encoded.
    shot = api.admin.get(f"/api/shots/{shots[2]['id']}").json()
    changed = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"duration_frames": DURATIONS[2] - 1, "revision": shot["revision"]}
    )
    assert changed.status_code == 200, changed.text
    second = _wait_for_proxy(editors[0], editors[0].post(url).json())
    assert (second["status"], second["number"], second["encoded"], second["reused"]) == ("succeeded", 2, 1, 2)
    assert second["frames"] == sum(DURATIONS) - 1
    # A new version of a shot's media: a new proxy too; and the edit of proxy 2 asked again is proxy 2's.
    _publish(
        api.admin,
        shots[0]["id"],
        "render",
        "render.mp4",
        h264_mp4(tmp_path / "new.mp4", seconds=3).read_bytes(),
    )
    third = _wait_for_proxy(editors[0], editors[0].post(url).json())
    assert (third["status"], third["number"], third["encoded"]) == ("succeeded", 3, 1)
    assert editors[1].post(url).json()["id"] == third["id"]
    # A proxy whose movie is gone is made again.
    (root / third["path"]).unlink()
    fourth = _wait_for_proxy(editors[0], editors[0].post(url).json())
    assert (fourth["status"], fourth["number"], fourth["encoded"]) == ("succeeded", 4, 0)
    assert [p["number"] for p in editors[0].get(url).json()] == [4, 3, 2, 1]


def test_cli_exports_the_edl_and_renders_the_proxy_through_the_server(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "25")
    code = made["project"]["code"]
    out = tmp_path / "cut.edl"
    # From another folder and without --data-dir: the CLI talks only to the server.
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    exported = aipipe(
        "editorial", "export", code.lower(), "--format", "cmx_3600", "--out", str(out), env=env, cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    assert out.read_text(encoding="utf-8") == _export(api, made["project"]["id"], "cmx_3600").text
    movie = tmp_path / "proxy.mp4"
    rendered = aipipe("editorial", "proxy", code, "--download", str(movie), env=env, cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert "3 shots encoded, 0 joined from the cache" in rendered.stdout
    again = aipipe("editorial", "proxy", code, env=env, cwd=tmp_path)  # the edit has not changed
    assert again.returncode == 0, again.stderr
    assert "Proxy v001 already shows this edit; nothing to render." in again.stderr
    listed = api.admin.get(f"/api/projects/{made['project']['id']}/editorial/proxies").json()
    assert len(listed) == 1
    assert listed[0]["status"] == "succeeded" and listed[0]["frames"] == sum(DURATIONS)
    assert _frames_of(movie)[0] == sum(DURATIONS)
    missing = aipipe("editorial", "proxy", "NO_SUCH", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "NO_SUCH" in missing.stderr
    assert not (tmp_path / "data").exists()  # nothing opened or made a database here


def test_an_import_that_would_change_a_locked_shot_is_explained_and_changes_nothing(
    api: Api, tmp_path: Path
) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id, b = made["project"]["id"], made["shots"][1]
    current = api.admin.get(f"/api/shots/{b['id']}").json()  # its approval moved it on
    locked = api.admin.post(f"/api/shots/{b['id']}/lock", json={"revision": current["revision"]})
    assert locked.status_code == 200, locked.text
    edl = _export(api, project_id, "cmx_3600").text
    # the editor trimmed the first shot to 40 frames and the (locked) second one to 10
    timeline = read(edl, "cmx_3600", 24, 1)
    clips = list(timeline.tracks[0].find_clips())
    for clip, frames in zip(clips[:2], (40, 10), strict=True):
        start = clip.source_range.start_time
        clip.source_range = otio.opentime.TimeRange(start, otio.opentime.RationalTime(frames, 24))
    before = _shot_list(api, project_id)
    response = api.admin.post(
        f"/api/projects/{project_id}/editorial/import",
        json={
            "format": "otio",
            "content": otio.adapters.write_to_string(timeline, "otio_json"),
            "apply": True,
        },
    )
    body = assert_problem(response, 409, "duration_frames")
    assert b["code"] in body["detail"] and "locked" in body["detail"]
    assert _shot_list(api, project_id) == before  # the first shot's trim was not half-applied


@pytest.mark.parametrize("fmt", ["otio", "cmx_3600", "fcp_xml"])
def test_an_exported_edit_imports_back_as_no_change(api: Api, tmp_path: Path, fmt: str) -> None:
    made = _edit_project(api, tmp_path, "29.97")
    project_id = made["project"]["id"]
    text = _export(api, project_id, fmt).text
    result = api.admin.post(
        f"/api/projects/{project_id}/editorial/import", json={"format": fmt, "content": text}
    )
    assert result.status_code == 200, result.text
    events = result.json()["events"]
    assert [(e["action"], e["code"], e["duration_frames"], e["duration_before"]) for e in events] == [
        ("match", s["code"], d, d) for s, d in zip(made["shots"], DURATIONS, strict=True)
    ]
    assert events[0]["matched_by"] == ("shot_id" if fmt == "otio" else "code")
    assert result.json()["order_changed"] is False
    assert result.json()["record_start"] == 107892  # 01:00:00;00


def test_an_event_without_frames_is_refused_naming_it(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id = made["project"]["id"]
    edl = (
        "TITLE: zero\n\n"
        "001  AAA      V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
        "002  BBB      V     C        00:00:00:00 00:00:00:00 01:00:01:00 01:00:01:00\n"
        "* FROM CLIP NAME:  empty one\n"
    )
    response = api.admin.post(
        f"/api/projects/{project_id}/editorial/import",
        json={"format": "cmx_3600", "content": edl, "apply": True},
    )
    body = assert_problem(response, 422, "content")
    assert "event 2 (empty one)" in body["detail"]
