"""Editorial is frame-exact for every kind of media: a version says what its movie holds (first frame, frame
count, head/tail handles) and the EDL, FCP XML, OTIO and proxy movie use exactly those frames.

Every export is read back by a reader that is not the writer: pycmx for the EDL (timecodes counted here),
ElementTree and OTIO's FCP adapter for the XML, OTIO for its own JSON, PyAV for the proxy, whose frames are
identified by the bar code each test movie frame carries (tests/support/framecode.py)."""

from __future__ import annotations

import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import opentimelineio as otio
import pycmx
import pytest

from tests.support.api import Api, assert_problem
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.framecode import coded_movie, frames_of, is_missing_card, read_code
from tests.support.media import png_bytes

# project fps -> (rate of the test movies, nominal frames per second of its timecode, drop frame)
RATES = {"23.976": ("24000/1001", 24, False), "25": ("25", 25, False), "29.97": ("30000/1001", 30, True)}
CUT = 84  # the shot: 1001-1084
NEXT = 24  # a second shot after it, to check record positions


def tc_frames(tc: str, nominal: int) -> int:
    """Frames from 00:00:00:00 of a SMPTE timecode; `;` marks drop-frame (2 frame numbers skipped each
    minute except every tenth)."""
    hours, minutes, seconds, frames = (int(p) for p in tc.replace(";", ":").split(":"))
    total_minutes = hours * 60 + minutes
    count = (total_minutes * 60 + seconds) * nominal + frames
    if ";" in tc:
        count -= 2 * (total_minutes - total_minutes // 10)
    return count


def _publish(client: httpx.Client, shot_id: str, stage: str, movie: Path, **extent: int) -> dict[str, Any]:
    fields = {"stage": stage, **{k: str(v) for k, v in extent.items()}}
    files = [("files", (movie.name, movie.read_bytes(), "video/mp4"))]
    response = client.post(f"/api/shots/{shot_id}/versions", data=fields, files=files)
    assert response.status_code == 201, response.text
    return response.json()


def _approve(client: httpx.Client, version_id: str) -> None:
    response = client.post(f"/api/versions/{version_id}/reviews", json={"verdict": "approve"})
    assert response.status_code == 201, response.text


def _setup(api: Api, fps: str, handle_in: int = 8) -> dict[str, Any]:
    project = api.project(fps=fps, handle_in=handle_in, width=640, height=360)
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"], duration_frames=d) for d in (CUT, NEXT)]
    return {"project": project, "shots": shots}


def _export(api: Api, project_id: str, fmt: str) -> httpx.Response:
    response = api.admin.get(f"/api/projects/{project_id}/editorial", params={"format": fmt})
    assert response.status_code == 200, response.text
    return response


def _edl_events(text: str) -> tuple[bool | None, list[Any]]:
    """(FCM drop frame or None when the EDL has no FCM line, events) as pycmx reads them."""
    edl = pycmx.parse_cmx3600(io.StringIO(text))
    fcm = [s for s in edl.event_statements if type(s).__name__ == "StmtFCM"]
    return (fcm[0].drop if fcm else None), [event.edits[0] for event in edl.events]


def _proxy(api: Api, project_id: str, timeout_s: float = 120) -> tuple[dict[str, Any], Path]:
    started = api.admin.post(f"/api/projects/{project_id}/editorial/proxies")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        render = api.admin.get(f"/api/editorial/proxies/{started.json()['id']}").json()
        if render["status"] in ("succeeded", "failed"):
            assert render["status"] == "succeeded", render["error"]
            return render, api.data_dir / "storage" / render["path"]  # type: ignore[operator]
        time.sleep(0.2)
    raise AssertionError(f"the proxy did not finish in {timeout_s} s")


def _warnings(response: httpx.Response) -> list[str]:
    return json.loads(response.headers.get("x-edit-warnings", "[]"))


@pytest.mark.parametrize("fps", list(RATES))
def test_an_approved_playblast_without_handles_is_cut_from_its_first_frame(
    api: Api, tmp_path: Path, fps: str
) -> None:
    """The issue's case: 84 frames 1001-1084, project head handle 8, the playblast holds no handles."""
    rate, nominal, drop = RATES[fps]
    made = _setup(api, fps)
    project_id, (shot, after) = made["project"]["id"], made["shots"]
    movie = coded_movie(tmp_path / f"{shot['code']}_playblast_v001.mp4", 1001, CUT, rate)
    version = _publish(api.admin, shot["id"], "playblast", movie, first_frame=1001)  # as the add-on sends
    assert (version["first_frame"], version["frame_count"], version["handle_in"], version["handle_out"]) == (
        1001,
        CUT,
        0,
        0,
    )
    _approve(api.admin, version["id"])

    edl = _export(api, project_id, "cmx_3600")
    assert _warnings(edl) == []
    fcm_drop, events = _edl_events(edl.text)
    assert fcm_drop is drop
    first, second = events
    assert (tc_frames(first.source_in, nominal), tc_frames(first.source_out, nominal)) == (0, CUT)
    record_in = tc_frames(first.record_in, nominal)
    assert tc_frames(first.record_out, nominal) - record_in == CUT
    assert tc_frames(second.record_in, nominal) - record_in == CUT
    assert first.clip_name == shot["code"] and second.clip_name == after["code"]

    clip = otio.adapters.read_from_string(_export(api, project_id, "otio").text, "otio_json").find_clips()[0]
    assert clip.media_reference.available_range.duration.value == CUT  # the file is 84 frames, not 92
    assert (clip.source_range.start_time.value, clip.source_range.duration.value) == (0, CUT)

    xml = _export(api, project_id, "fcp_xml").text
    tree = ET.fromstring(xml)
    chars = tree.find(".//sequence/media/video/format/samplecharacteristics")
    assert chars is not None, "the sequence <format> is empty"
    assert (chars.findtext("width"), chars.findtext("height")) == ("640", "360")
    assert chars.findtext("rate/timebase") == str(nominal)
    assert chars.findtext("rate/ntsc") == ("TRUE" if "/1001" in rate else "FALSE")
    item = tree.find(".//sequence/media/video/track/clipitem")
    assert item is not None
    assert (item.findtext("in"), item.findtext("out"), item.findtext("file/duration")) == (
        "0",
        str(CUT),
        str(CUT),
    )
    read_back = otio.adapters.read_from_string(xml, "fcp_xml").find_clips()[0]
    assert read_back.media_reference.available_range.duration.value == CUT

    render, path = _proxy(api, project_id)
    assert render["warnings"] == []
    frames = frames_of(path)
    assert len(frames) == CUT + NEXT
    assert [read_code(frames[i]) for i in (0, 1, CUT - 1)] == [1001, 1002, 1084]  # not "Frame 1009"


def test_a_render_that_holds_handles_is_cut_after_its_head_handle(api: Api, tmp_path: Path) -> None:
    """A render made with 8 + 8 frames of handles (993-1092) starts the cut at its ninth frame."""
    made = _setup(api, "23.976", handle_in=4)  # the project's handle is not what the movie holds
    project_id, shot = made["project"]["id"], made["shots"][0]
    movie = coded_movie(tmp_path / "render.mp4", 993, CUT + 16, "24000/1001")
    version = _publish(api.admin, shot["id"], "render", movie, first_frame=993, handle_in=8, handle_out=8)
    assert (version["frame_count"], version["handle_in"], version["handle_out"]) == (CUT + 16, 8, 8)

    _, (first, _) = _edl_events(_export(api, project_id, "cmx_3600").text)
    assert (tc_frames(first.source_in, 24), tc_frames(first.source_out, 24)) == (8, 8 + CUT)
    edit = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()
    assert edit["shots"][0]["source_in"] == 8 and edit["shots"][0]["media"]["first_frame"] == 993
    _, path = _proxy(api, project_id)
    frames = frames_of(path)
    assert [read_code(frames[i]) for i in (0, CUT - 1)] == [1001, 1084]


def test_each_clips_media_in_the_edit_carries_its_versions_first_frame(api: Api, tmp_path: Path) -> None:
    """The add-on numbers a strip's frames as the review room does: from the version's own first frame
    (2001 here, no handle), a still's too; null when its maker said none (then 1001 less the head handle)."""
    project = api.project(fps="24", width=640, height=360)
    scene = api.scene(project["id"])
    render_shot, still_shot, plain_shot = (
        api.shot(project["id"], scene["id"], duration_frames=NEXT) for _ in range(3)
    )
    movie = coded_movie(tmp_path / "render.mp4", 2001, NEXT, "24")
    render = _publish(api.admin, render_shot["id"], "render", movie, first_frame=2001)
    assert (render["first_frame"], render["handle_in"]) == (2001, 0)
    files = [("files", ("first.png", png_bytes(64, 36, "blue"), "image/png"))]
    still = api.admin.post(
        f"/api/shots/{still_shot['id']}/versions",
        data={"stage": "previz", "first_frame": "2001"},
        files=files,
    )
    assert still.status_code == 201, still.text
    _approve(api.admin, still.json()["id"])
    _publish(api.admin, plain_shot["id"], "render", coded_movie(tmp_path / "plain.mp4", 1001, NEXT, "24"))

    response = api.admin.get(f"/api/projects/{project['id']}/editorial/edit")
    assert response.status_code == 200, response.text
    media = {s["shot_id"]: s["media"] for s in response.json()["shots"]}
    assert (media[render_shot["id"]]["first_frame"], media[render_shot["id"]]["handle_in"]) == (2001, 0)
    assert media[still_shot["id"]]["still"] is True and media[still_shot["id"]]["first_frame"] == 2001
    assert "first_frame" in media[plain_shot["id"]] and media[plain_shot["id"]]["first_frame"] is None


def test_a_movie_shorter_than_the_cut_is_flagged_naming_the_shot_never_padded(
    api: Api, tmp_path: Path
) -> None:
    made = _setup(api, "23.976")
    project_id, (shot, after) = made["project"]["id"], made["shots"]
    short = coded_movie(tmp_path / "short.mp4", 1001, CUT - 8, "24000/1001")
    version = _publish(api.admin, shot["id"], "render", short)  # nothing said: probed, no handles
    assert (version["frame_count"], version["handle_in"], version["first_frame"]) == (CUT - 8, 0, None)
    _publish(api.admin, after["id"], "render", coded_movie(tmp_path / "next.mp4", 2001, NEXT, "24000/1001"))

    edl = _export(api, project_id, "cmx_3600")
    [warning] = _warnings(edl)
    assert shot["code"] in warning and "8 frames missing" in warning
    _, (first, second) = _edl_events(edl.text)
    assert (tc_frames(first.source_in, 24), tc_frames(first.source_out, 24)) == (
        0,
        CUT - 8,
    )  # not past the end
    assert tc_frames(second.record_in, 24) - tc_frames(first.record_in, 24) == CUT  # the next shot stays put
    edit = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()
    assert edit["shots"][0]["missing_frames"] == 8 and edit["warnings"] == [warning]
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    cli = aipipe("editorial", "export", made["project"]["code"], "--out", str(tmp_path / "cut.edl"), env=env)
    assert cli.returncode == 0, cli.stderr
    assert f"warning: {warning}" in " ".join(cli.stderr.split())  # the CLI says it too

    render, path = _proxy(api, project_id)
    assert len(render["warnings"]) == 1 and shot["code"] in render["warnings"][0]
    frames = frames_of(path)
    assert len(frames) == CUT + NEXT
    assert read_code(frames[CUT - 9]) == 1076  # the movie's last frame, once
    assert all(is_missing_card(frames[i]) for i in range(CUT - 8, CUT))  # not the last frame held
    assert not is_missing_card(frames[CUT - 9]) and read_code(frames[CUT]) == 2001

    for fmt in ("otio", "cmx_3600", "fcp_xml"):  # the export reads back as the shot list: no change
        text = _export(api, project_id, fmt).text
        result = api.admin.post(
            f"/api/projects/{project_id}/editorial/import", json={"format": fmt, "content": text}
        )
        assert result.status_code == 200, result.text
        assert [
            (e["action"], e["duration_frames"], e["duration_before"]) for e in result.json()["events"]
        ] == [
            ("match", CUT, CUT),
            ("match", NEXT, NEXT),
        ], fmt


def test_the_vse_cut_export_warns_about_a_short_take(api: Api, tmp_path: Path) -> None:
    made = _setup(api, "25")
    project_id, shot = made["project"]["id"], made["shots"][0]
    version = _publish(api.admin, shot["id"], "render", coded_movie(tmp_path / "r.mp4", 1, 60, "25"))
    body = {"format": "cmx_3600", "cut": [{"shot_id": shot["id"], "frames": 50, "source_in": 20}]}
    response = api.admin.post(f"/api/projects/{project_id}/editorial/cut", json=body)
    assert response.status_code == 200, response.text
    [warning] = _warnings(response)
    assert shot["code"] in warning and "10 frames missing" in warning
    _, [event] = _edl_events(response.text)
    assert (tc_frames(event.source_in, 25), tc_frames(event.source_out, 25)) == (20, 60)
    assert version["frame_count"] == 60


def test_extent_fields_are_checked_naming_the_field(api: Api, tmp_path: Path) -> None:
    made = _setup(api, "24")
    shot_id = made["shots"][0]["id"]
    movie = coded_movie(tmp_path / "m.mp4", 1, 30, "24")
    files = [("files", (movie.name, movie.read_bytes(), "video/mp4"))]
    for fields, name in (
        ({"frame_count": "31"}, "frame_count"),  # the movie has 30
        ({"handle_in": "20", "handle_out": "10"}, "handle_in"),  # nothing left for the cut
        ({"handle_in": "eight"}, "handle_in"),
        ({"handle_out": "-1"}, "handle_out"),
    ):
        response = api.admin.post(
            f"/api/shots/{shot_id}/versions", data={"stage": "render", **fields}, files=files
        )
        assert_problem(response, 422, name)
    assert api.admin.get(f"/api/shots/{shot_id}/versions").json()["items"] == []  # nothing was published
    still = api.admin.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": "previz"},
        files=[("files", ("first.png", png_bytes(64, 36), "image/png"))],
    )
    assert still.status_code == 201, still.text
    assert (still.json()["frame_count"], still.json()["handle_in"]) == (None, 0)  # no movie: no extent


def test_a_version_published_without_its_handles_is_corrected_and_the_edit_follows(
    api: Api, tmp_path: Path
) -> None:
    """A render holding 8 + 8 handle frames, published before its maker said so, starts the cut at 0 until
    its extent is corrected; then the export and the proxy cut it after its head handle."""
    made = _setup(api, "24", handle_in=8)
    project_id, shot = made["project"]["id"], made["shots"][0]
    movie = coded_movie(tmp_path / "render.mp4", 993, CUT + 16, "24")
    version = _publish(api.admin, shot["id"], "render", movie)
    _, (first, _) = _edl_events(_export(api, project_id, "cmx_3600").text)
    assert tc_frames(first.source_in, 24) == 0  # nothing said: no handles assumed

    url = f"/api/versions/{version['id']}"
    corrected = api.admin.patch(
        url, json={"first_frame": 993, "handle_in": 8, "handle_out": 8, "revision": version["revision"]}
    )
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert (body["first_frame"], body["frame_count"], body["handle_in"], body["handle_out"]) == (
        993,
        100,
        8,
        8,
    )
    _, (first, _) = _edl_events(_export(api, project_id, "cmx_3600").text)
    assert (tc_frames(first.source_in, 24), tc_frames(first.source_out, 24)) == (8, 8 + CUT)
    _, path = _proxy(api, project_id)
    assert read_code(frames_of(path)[0]) == 1001

    stale = api.admin.patch(url, json={"handle_in": 0, "revision": version["revision"]})
    assert_problem(stale, 409)
    current = body["revision"]
    assert_problem(api.admin.patch(url, json={"frame_count": 90, "revision": current}), 422, "frame_count")
    assert_problem(api.admin.patch(url, json={"handle_in": 95, "revision": current}), 422, "handle_in")
    assert_problem(api.user("wrangler").patch(url, json={"handle_in": 0, "revision": current}), 403)
    assert api.admin.get(url).json()["handle_in"] == 8  # the refusals changed nothing
