"""Pushing an edit from the VSE (order, trims, deletions, splits), the edit as Build edit reads it, and a
cut described by the add-on written as EDL / XML / OTIO — over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sync_server.editorial.exchange import read
from sync_server.editorial.timeline import cuts_of
from tests.api.test_editorial import DURATIONS, _edit_project, _publish, _shot_list
from tests.support.api import Api, assert_problem
from tests.support.media import h264_mp4


def _changes(client: httpx.Client, project_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/projects/{project_id}/editorial/changes", json=body)


def test_the_edit_shows_each_shots_media_by_priority(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id, (a, b, c) = made["project"]["id"], made["shots"]
    movie = h264_mp4(tmp_path / "m.mp4", seconds=1, rate="24").read_bytes()
    _publish(api.admin, c["id"], "playblast", "pb.mp4", movie)  # not approved: not shown
    rejected = _publish(api.admin, b["id"], "render", "bad.mp4", movie)
    api.admin.post(f"/api/versions/{rejected['id']}/reviews", json={"verdict": "reject"})
    edit = api.admin.get(f"/api/projects/{project_id}/editorial/edit")
    assert edit.status_code == 200, edit.text
    body = edit.json()
    assert (body["fps_num"], body["fps_den"], body["frames"]) == (24, 1, sum(DURATIONS))
    assert body["record_start"] == "01:00:00:00"
    shots = body["shots"]
    assert [s["code"] for s in shots] == [a["code"], b["code"], c["code"]]
    assert shots[0]["media"]["stage"] == "render" and not shots[0]["media"]["still"]
    assert shots[0]["source_in"] == 4  # the project's head handle, skipped in the movie
    assert (
        shots[1]["media"]["stage"] == "previz" and shots[1]["media"]["still"]
    )  # the rejected render is skipped
    assert shots[2]["media"] is None  # a slate
    download = api.admin.get(shots[0]["media"]["url"])
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    final = _publish(api.admin, c["id"], "final", "final.mp4", movie)
    again = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()["shots"][2]
    assert again["media"]["version_id"] == final["id"] and again["media"]["number"] == 1


def test_push_reorder_trim_split_and_delete_reaches_the_server_exactly(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "25")
    project_id = made["project"]["id"]
    a, b, c = (api.admin.get(f"/api/shots/{s['id']}").json() for s in made["shots"])
    editor = api.user("editor")
    # VSE: B (trimmed to 10), A's first 30 frames, A's remaining 18 frames as a split; C deleted
    body = {
        "shots": [
            {"shot_id": b["id"], "revision": b["revision"], "duration_frames": 10},
            {"shot_id": a["id"], "revision": a["revision"], "duration_frames": 30},
            {"split_from": a["id"], "duration_frames": 18},
        ],
        "omit": [{"shot_id": c["id"], "revision": c["revision"]}],
    }
    before = _shot_list(api, project_id)
    preview = _changes(editor, project_id, {**body, "apply": False})
    assert preview.status_code == 200, preview.text
    new_code = preview.json()["created"][0]["code"]
    assert new_code not in (a["code"], b["code"], c["code"])
    assert _shot_list(api, project_id) == before  # a preview changes nothing

    applied = _changes(editor, project_id, body)
    assert applied.status_code == 200, applied.text
    assert applied.json()["durations"] == {b["id"]: [17, 10], a["id"]: [48, 30]}
    assert applied.json()["created"][0]["code"] == new_code
    listed = _shot_list(api, project_id)
    live = [(s["code"], s["duration_frames"]) for s in listed if s["status"] != "omitted"]
    assert live == [(b["code"], 10), (a["code"], 30), (new_code, 18)]
    assert [s["code"] for s in listed if s["status"] == "omitted"] == [c["code"]]  # kept, not deleted
    split = next(s for s in listed if s["code"] == new_code)
    assert split["scene_id"] == a["scene_id"]
    edit = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()
    assert [(s["code"], s["duration_frames"]) for s in edit["shots"]] == live
    # B is approved: only a director may take it out of the edit
    b = api.admin.get(f"/api/shots/{b['id']}").json()
    shots_now = [api.admin.get(f"/api/shots/{s['id']}").json() for s in (a, split)]
    refused = _changes(
        editor,
        project_id,
        {
            "shots": [
                {"shot_id": s["id"], "revision": s["revision"], "duration_frames": s["duration_frames"]}
                for s in shots_now
            ],
            "omit": [{"shot_id": b["id"], "revision": b["revision"]}],
        },
    )
    assert_problem(refused, 403, "status")


def test_a_stale_push_is_explained_and_overwrites_nothing(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "24")
    project_id = made["project"]["id"]
    a, b, _c = (api.admin.get(f"/api/shots/{s['id']}").json() for s in made["shots"])
    # someone else changes A's length after the editor built the edit
    other = api.admin.patch(f"/api/shots/{a['id']}", json={"duration_frames": 60, "revision": a["revision"]})
    assert other.status_code == 200
    body = {
        "shots": [
            {"shot_id": b["id"], "revision": b["revision"], "duration_frames": 10},
            {"shot_id": a["id"], "revision": a["revision"], "duration_frames": 40},
        ]
    }
    before = _shot_list(api, project_id)
    refused = _changes(api.admin, project_id, body)
    problem = assert_problem(refused, 409, "revision")
    assert problem["current"]["duration_frames"] == 60  # what the server has now, to show the editor
    assert _shot_list(api, project_id) == before  # B's trim was not applied either
    bad = _changes(api.admin, project_id, {"shots": [{"shot_id": a["id"], "duration_frames": 5}]})
    assert_problem(bad, 422, "shots.0.revision")
    twice = {"shots": [{"shot_id": b["id"], "revision": b["revision"], "duration_frames": 5}] * 2}
    assert_problem(_changes(api.admin, project_id, twice), 422, "shots.1.shot_id")
    assert_problem(_changes(api.user("artist"), project_id, body), 403)


def test_the_add_on_cut_is_written_and_reads_back_with_the_same_cuts(api: Api, tmp_path: Path) -> None:
    made = _edit_project(api, tmp_path, "29.97")
    project_id, (a, b, c) = made["project"]["id"], made["shots"]
    cut = [
        {"shot_id": c["id"], "frames": 20},
        {"shot_id": a["id"], "frames": 40, "source_in": 7},
        {"shot_id": b["id"], "frames": 17},
    ]
    for fmt in ("otio", "cmx_3600", "fcp_xml"):
        response = api.admin.post(
            f"/api/projects/{project_id}/editorial/cut",
            json={"format": fmt, "cut": cut, "record_start": "10:00:00:00"},
        )
        assert response.status_code == 200, response.text
        back = cuts_of(read(response.text, fmt, 30000, 1001), 30000, 1001)
        assert [(x.name, x.duration, x.source_in) for x in back] == [
            (c["code"], 20, 0),
            (a["code"], 40, 7),
            (b["code"], 17, 0),
        ], fmt
        if fmt == "cmx_3600":
            lines = response.text.splitlines()
            assert lines[1] == "FCM: DROP FRAME"
            assert next(line for line in lines if line.startswith("001")).split()[6] == "10:00:00;00"
    stranger = api.project()
    other = api.shot(stranger["id"], api.scene(stranger["id"])["id"])
    refused = api.admin.post(
        f"/api/projects/{project_id}/editorial/cut",
        json={"format": "otio", "cut": [{"shot_id": other["id"], "frames": 5}]},
    )
    assert_problem(refused, 422, "cut.0.shot_id")


def test_the_edit_carries_review_notes_and_reference_sound(api: Api, tmp_path: Path) -> None:
    import io
    import wave

    made = _edit_project(api, tmp_path, "24")
    project_id, a = made["project"]["id"], made["shots"][0]
    render = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()["shots"][0]["media"]
    note = api.admin.post(
        f"/api/versions/{render['version_id']}/reviews", json={"frame": 12, "text": "손 수정"}
    )
    assert note.status_code == 201, note.text
    api.admin.post(f"/api/versions/{render['version_id']}/reviews", json={"text": "no frame: no marker"})
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(48000)
        out.writeframes(b"\x00\x00" * 48000)
    sound = _publish(api.admin, a["id"], "reference", "ref.wav", buffer.getvalue())
    shots = api.admin.get(f"/api/projects/{project_id}/editorial/edit").json()["shots"]
    assert [(n["frame"], n["text"]) for n in shots[0]["notes"]] == [(12, "손 수정")]
    assert shots[0]["audio"]["version_id"] == sound["id"] and shots[0]["audio"]["name"] == "ref.wav"
    assert shots[1]["notes"] == [] and shots[1]["audio"] is None


def test_others_see_a_pushed_edit_live(api: Api, tmp_path: Path) -> None:
    from tests.api.test_versions import _events, _next_event

    made = _edit_project(api, tmp_path, "24")
    project_id = made["project"]["id"]
    a, b, c = (api.admin.get(f"/api/shots/{s['id']}").json() for s in made["shots"])
    body = {
        "shots": [
            {"shot_id": s["id"], "revision": s["revision"], "duration_frames": d}
            for s, d in ((c, 31), (a, 40), (b, 17))
        ]
    }
    watcher = api.user("artist")
    with _events(api.ws_url, watcher, project_id) as ws:
        applied = _changes(api.admin, project_id, body)
        assert applied.status_code == 200, applied.text
        seen = [_next_event(ws) for _ in range(3)]  # A's new length, then the moves
    changes = {(e["action"], e["entity_id"], tuple(sorted(e["changes"]))) for e in seen}
    assert ("shot.updated", a["id"], ("duration_frames",)) in changes
    assert all(e["action"] == "shot.updated" for e in seen)
