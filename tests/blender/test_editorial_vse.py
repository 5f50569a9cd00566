"""Editorial in real Blender's VSE against a real server: build, push (reorder, trim, split, delete),
conflicts, update media, takes review and approval, export, proxy movie, rendering what the VSE shows."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import av
import bpy
import httpx
import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image

from tests.blender.helpers import idle, pump
from tests.support.framecode import coded_movie, read_code
from tests.support.media import h264_mp4, png_bytes

RATES = {"23.976": (24, 1.001), "24": (24, 1.0), "25": (25, 1.0), "29.97": (30, 1.001)}
DURATIONS = (48, 17, 31)
HANDLE = 4


def _publish(
    admin: httpx.Client, shot_id: str, stage: str, name: str, data: bytes, **fields: str
) -> dict[str, Any]:
    files = [("files", (name, data, "application/octet-stream"))]
    response = admin.post(f"/api/shots/{shot_id}/versions", data={"stage": stage, **fields}, files=files)
    assert response.status_code == 201, response.text
    return response.json()


def _edit_project(admin: httpx.Client, tmp_path: Path, fps: str) -> dict[str, Any]:
    """Shot A with a render movie, B with an approved first frame (still), C with nothing (slate)."""
    code = f"ED{uuid.uuid4().hex[:8].upper()}"
    project = admin.post(
        "/api/projects", json={"code": code, "name": "Edit", "fps": fps, "handle_in": HANDLE}
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()
    shots = []
    for duration in DURATIONS:
        made = admin.post(
            f"/api/projects/{project_id}/shots", json={"scene_id": scene["id"], "duration_frames": duration}
        )
        assert made.status_code == 201, made.text
        shots.append(made.json())
    rate = "24000/1001" if fps == "23.976" else "30000/1001" if fps == "29.97" else fps
    movie = h264_mp4(tmp_path / "a_render.mp4", seconds=3, size="160x90", rate=rate).read_bytes()
    # the render holds a head handle of the project's length, and says so
    render = _publish(admin, shots[0]["id"], "render", "a_render.mp4", movie, handle_in=str(HANDLE))
    still = _publish(admin, shots[1]["id"], "previz", "b_first.png", png_bytes(160, 90, "blue"))
    verdict = admin.post(f"/api/versions/{still['id']}/reviews", json={"verdict": "approve"})
    assert verdict.status_code == 201, verdict.text
    return {"project": project.json(), "scene": scene, "shots": shots, "render": render, "movie": movie}


@pytest.fixture
def editor(addon, studio):
    """Logged in as an editor (may change the shot list's structure)."""
    name, password = f"editor_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = studio.admin.post("/api/users", json={"username": name, "password": password, "role": "editor"})
    assert made.status_code == 201, made.text
    addon.preferences().server_url = studio.url
    assert bpy.ops.aipipe.connect_login(username=name, password=password) == {"FINISHED"}
    pump(lambda: addon.get().online and idle(), what="login")
    return addon


def _use_project(rt: Any, project_id: str) -> None:
    pump(idle, what="the add-on to settle")
    rt.get().extras["project_id"] = project_id


def _run(operator: Any, **kwargs: Any) -> None:
    assert operator(**kwargs) == {"FINISHED"}
    pump(idle, timeout_s=60, what=str(operator))


def _strips() -> list[Any]:
    from blender_addon.editorial import vse

    return vse.picture_strips(bpy.context.scene)


def _ranges() -> list[tuple[str, int, int]]:
    from blender_addon import compat

    return [(s["aipipe_code"], *compat.strip_range(s)) for s in _strips()]


def _server_shots(admin: httpx.Client, project_id: str) -> list[dict[str, Any]]:
    return admin.get(f"/api/projects/{project_id}/shots", params={"sort": "order"}).json()["items"]


@pytest.mark.parametrize("fps", list(RATES))
def test_build_lays_out_every_shot_frame_accurately(editor, studio, tmp_path, fps) -> None:
    made = _edit_project(studio.admin, tmp_path, fps)
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_build)
    scene = bpy.context.scene
    codes = [s["code"] for s in made["shots"]]
    assert _ranges() == [(codes[0], 1, 49), (codes[1], 49, 66), (codes[2], 66, 97)]
    assert scene.render.fps == RATES[fps][0]
    assert scene.render.fps_base == pytest.approx(RATES[fps][1], rel=1e-6)  # Blender stores a float32
    assert (scene.frame_start, scene.frame_end) == (1, 96)
    a, b, c = _strips()
    assert [s.type for s in (a, b, c)] == ["MOVIE", "IMAGE", "COLOR"]
    assert [s.channel for s in (a, b, c)] == [2, 2, 2]
    assert a.frame_offset_start == HANDLE  # the movie's head handle is not in the cut
    assert a["aipipe_shot_id"] == made["shots"][0]["id"] and a["aipipe_version_id"] == made["render"]["id"]
    assert c["aipipe_version_id"] == ""  # a slate shows no version
    assert Path(b.directory, b.elements[0].filename).read_bytes() == png_bytes(160, 90, "blue")


def test_push_reorder_trim_split_and_delete_reach_the_server_exactly(editor, studio, tmp_path) -> None:
    from blender_addon import compat

    made = _edit_project(studio.admin, tmp_path, "24")
    project_id = made["project"]["id"]
    _use_project(editor, project_id)
    _run(bpy.ops.aipipe.editorial_build)
    a, b, c = _strips()
    strips = compat.vse_strips(bpy.context.scene)
    strips.remove(c)  # delete C
    # split A at 30 frames, as the VSE's split does: two strips of the same shot
    a.frame_final_duration = 30
    tail = strips.new_movie("A.001", a.filepath, 3, 31 - HANDLE - 30)
    tail.frame_offset_start = HANDLE + 30
    tail.frame_final_duration = 18
    for key in ("aipipe_shot_id", "aipipe_code", "aipipe_version_id"):
        tail[key] = a[key]
    # move B (a still) to the front, trimmed to 10 frames; A and its tail follow
    b.frame_final_duration = 10
    b.frame_start = -9
    _run(bpy.ops.aipipe.editorial_push)
    lines = [line.text for line in bpy.context.window_manager.aipipe_editorial.change_lines]
    code_a, code_b, code_c = (s["code"] for s in made["shots"])
    assert f"{code_b}: 17 -> 10 frames" in lines and f"{code_a}: 48 -> 30 frames" in lines
    assert f"{code_c}: omitted (removed from the edit)" in lines
    assert f"New order: {code_b}, {code_a}" in lines
    new_line = next(line for line in lines if line.startswith("New shot "))
    new_code = new_line.split()[2]
    assert [s["duration_frames"] for s in _server_shots(studio.admin, project_id)] == list(
        DURATIONS
    )  # not yet

    _run(bpy.ops.aipipe.editorial_push_apply)
    shots = _server_shots(studio.admin, project_id)
    live = [(s["code"], s["duration_frames"]) for s in shots if s["status"] != "omitted"]
    assert live == [(code_b, 10), (code_a, 30), (new_code, 18)]
    assert [s["code"] for s in shots if s["status"] == "omitted"] == [code_c]
    new_id = next(s["id"] for s in shots if s["code"] == new_code)
    assert strips.get("A.001")["aipipe_shot_id"] == new_id and strips.get("A.001")["aipipe_code"] == new_code


def test_a_conflicting_push_is_explained_and_not_applied(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "25")
    project_id = made["project"]["id"]
    _use_project(editor, project_id)
    _run(bpy.ops.aipipe.editorial_build)
    _strips()[0].frame_final_duration = 40
    shot = studio.admin.get(f"/api/shots/{made['shots'][0]['id']}").json()
    changed = studio.admin.patch(
        f"/api/shots/{shot['id']}", json={"duration_frames": 60, "revision": shot["revision"]}
    )
    assert changed.status_code == 200
    _run(bpy.ops.aipipe.editorial_push)
    lines = [line.text for line in bpy.context.window_manager.aipipe_editorial.change_lines]
    assert lines[0].startswith("Refused: 409")
    assert "now 60 frames" in lines[1]
    assert studio.admin.get(f"/api/shots/{shot['id']}").json()["duration_frames"] == 60  # not overwritten
    assert not bpy.ops.aipipe.editorial_push_apply.poll()


def test_update_media_flags_then_swaps_outdated_strips(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_build)
    newer = _publish(
        studio.admin, made["shots"][0]["id"], "render", "a_v2.mp4", made["movie"], handle_in=str(HANDLE)
    )
    _run(bpy.ops.aipipe.editorial_update_media, swap=False)
    first = _strips()[0]
    assert first["aipipe_outdated"] and first.color_tag == "COLOR_01"
    assert not _strips()[1]["aipipe_outdated"]
    _run(bpy.ops.aipipe.editorial_update_media, swap=True)
    first = _strips()[0]
    assert first["aipipe_version_id"] == newer["id"] and not first["aipipe_outdated"]
    assert _ranges()[0][1:] == (1, 49) and first.frame_offset_start == HANDLE  # same place, same cut


def test_takes_are_stacked_and_an_approval_reaches_the_server(editor, studio, tmp_path) -> None:
    from blender_addon import compat

    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    shot_a = made["shots"][0]["id"]
    playblast = _publish(studio.admin, shot_a, "playblast", "a_pb.mp4", made["movie"])
    _run(bpy.ops.aipipe.editorial_build)
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = _strips()[0]
    _run(bpy.ops.aipipe.editorial_takes)
    takes = [s for s in compat.vse_all_strips(scene) if s.get("aipipe_take")]
    assert sorted((s.channel, s["aipipe_version_id"]) for s in takes) == [
        (3, made["render"]["id"]),
        (4, playblast["id"]),
    ]
    assert all((s.frame_final_start, s.frame_final_end) == (1, 49) for s in takes)
    director = f"director_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    studio.admin.post("/api/users", json={"username": director, "password": password, "role": "director"})
    assert bpy.ops.aipipe.connect_login(username=director, password=password) == {"FINISHED"}
    pump(lambda: editor.get().online and idle() and editor.get().user["username"] == director, what="login")
    editor.get().extras["project_id"] = made["project"]["id"]
    scene.sequence_editor.active_strip = next(s for s in takes if s["aipipe_version_id"] == playblast["id"])
    _run(bpy.ops.aipipe.editorial_approve_take)
    assert studio.admin.get(f"/api/versions/{playblast['id']}").json()["verdict"] == "approve"


def test_export_from_the_vse_reads_back_with_the_same_cuts(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "29.97")
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_build)
    _strips()[1].frame_final_duration = 10
    settings = bpy.context.scene.aipipe_editorial
    codes = [s["code"] for s in made["shots"]]
    for fmt, ext in (("cmx_3600", "edl"), ("fcp_xml", "xml"), ("otio", "otio")):
        settings.export_format, settings.export_path = fmt, str(tmp_path / f"cut.{ext}")
        _run(bpy.ops.aipipe.editorial_export)
        kwargs = {"rate": 30000 / 1001} if fmt == "cmx_3600" else {}
        timeline = otio.adapters.read_from_file(str(tmp_path / f"cut.{ext}"), **kwargs)
        clips = list(timeline.video_tracks()[0].find_clips())
        assert [(c.name, round(c.duration().value)) for c in clips] == list(
            zip(codes, (48, 10, 31), strict=True)
        )
        assert round(clips[0].source_range.start_time.value) == HANDLE
    edl = (tmp_path / "cut.edl").read_text(encoding="utf-8")
    assert "01:00:00;00" in edl  # drop-frame record start at 29.97


def test_proxy_movie_and_rendering_what_the_vse_shows(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_proxy)
    status = bpy.context.window_manager.aipipe_editorial.proxy_status
    assert status.startswith("Proxy v001: succeeded, 3 shots encoded"), status
    _run(bpy.ops.aipipe.editorial_build)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 160, 90, 100
    scene.aipipe_editorial.render_path = str(tmp_path / "vse.mp4")
    before = (scene.render.image_settings.file_format, scene.render.filepath, scene.render.use_sequencer)
    assert bpy.ops.aipipe.editorial_render_vse() == {"FINISHED"}
    with av.open(str(tmp_path / "vse.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == sum(DURATIONS)
    # the artist's output settings are given back
    assert (
        scene.render.image_settings.file_format,
        scene.render.filepath,
        scene.render.use_sequencer,
    ) == before


def test_the_vse_tab_and_operators_are_registered_and_say_why_they_are_disabled(addon) -> None:
    assert "AIPIPE_PT_editorial" in dir(bpy.types)
    assert bpy.types.AIPIPE_PT_editorial.bl_space_type == "SEQUENCE_EDITOR"
    assert bpy.types.AIPIPE_PT_editorial.bl_category == "AIPipeline"
    assert not bpy.ops.aipipe.editorial_build.poll()  # not logged in
    assert not bpy.ops.aipipe.editorial_push_apply.poll()


def test_building_1000_shots_places_every_strip_on_its_file(addon, tmp_path) -> None:

    from aipipe_shared import editorial as core
    from blender_addon.editorial import vse

    still = tmp_path / "still.png"
    Image.new("RGB", (64, 36), "red").save(still)
    edit = {
        "fps_num": 24,
        "fps_den": 1,
        "shots": [
            {
                "shot_id": f"s{i}",
                "code": f"SHT_{i * 10:04d}",
                "revision": 1,
                "duration_frames": 24,
                "source_in": 0,
                "media": {"version_id": f"v{i}", "stage": "previz", "number": 1, "still": True},
            }
            for i in range(1000)
        ],
    }
    plans = core.plan_from_edit(edit, 1)
    made = vse.build_edit(bpy.context.scene, plans, {p.shot_id: str(still) for p in plans}, (24, 1))
    assert len(made) == 1000 and len(vse.strip_states(bpy.context.scene)) == 1000
    last = made[-1]
    assert (last.frame_final_start, last.frame_final_end) == (1 + 999 * 24, 1 + 1000 * 24)
    assert Path(last.directory, last.elements[0].filename) == still


def _wav(seconds: float) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(b"\x00\x00" * int(48000 * seconds))
    return buffer.getvalue()


def test_review_notes_become_markers_and_reference_audio_gets_its_channel(editor, studio, tmp_path) -> None:
    from blender_addon import compat

    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    note = studio.admin.post(
        f"/api/versions/{made['render']['id']}/reviews", json={"frame": 10, "text": "손 모양 수정"}
    )
    assert note.status_code == 201, note.text
    _publish(studio.admin, made["shots"][0]["id"], "reference", "a_ref.wav", _wav(5.0))
    scene = bpy.context.scene
    scene.timeline_markers.new("editor's own", frame=70)
    _run(bpy.ops.aipipe.editorial_build)
    code_a = made["shots"][0]["code"]
    markers = sorted((m.frame, m.name) for m in scene.timeline_markers)
    # the note is on frame 10 of the render; the cut starts at its frame 4 (head handle) on timeline frame 1
    assert markers == [(1 + 10 - HANDLE, f"{code_a}: 손 모양 수정"), (70, "editor's own")]
    sounds = [s for s in compat.vse_all_strips(scene) if s.type == "SOUND"]
    if bpy.app.build_options.audaspace:
        assert [(s.channel, *compat.strip_range(s)) for s in sounds] == [(1, 1, 49)]
    else:  # the bpy wheel has no sound support: the edit is built, and the artist is told what is missing
        assert sounds == [] and "reference sound left out" in editor.get().message.text
    assert len(_strips()) == 3  # the sound is not a picture strip of the edit
    _run(bpy.ops.aipipe.editorial_build)  # a rebuild replaces its own markers and strips only
    assert sorted((m.frame, m.name) for m in scene.timeline_markers) == markers
    assert len([s for s in compat.vse_all_strips(scene) if s.type == "SOUND"]) == len(sounds)


def test_stepping_through_the_versions_of_a_strip_keeps_its_place(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "25")
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_build)
    newer = _publish(
        studio.admin, made["shots"][0]["id"], "render", "a_v2.mp4", made["movie"], handle_in=str(HANDLE)
    )
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = _strips()[0]
    _run(bpy.ops.aipipe.editorial_step_version, step=1)
    first = _strips()[0]
    assert first["aipipe_version_id"] == newer["id"]
    assert _ranges()[0][1:] == (1, 49) and first.frame_offset_start == HANDLE and first.channel == 2
    scene.sequence_editor.active_strip = first
    _run(bpy.ops.aipipe.editorial_step_version, step=-1)
    assert _strips()[0]["aipipe_version_id"] == made["render"]["id"]
    scene.sequence_editor.active_strip = _strips()[2]  # the slate: C has no takes
    _run(bpy.ops.aipipe.editorial_step_version, step=1)
    assert editor.get().message.text == "This shot has no takes yet"


def _undo_once() -> None:
    """Ctrl+Z, as the artist presses it after the change has landed."""
    assert bpy.ops.ed.undo() == {"FINISHED"}


def test_one_undo_takes_back_a_build_that_landed_after_the_operator(editor, studio, tmp_path) -> None:
    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    bpy.ops.ed.undo_push(message="Before the build")  # what the artist's last edit left on the stack
    _run(bpy.ops.aipipe.editorial_build)
    assert len(_strips()) == 3 and bpy.context.scene.frame_end == 96
    _undo_once()
    assert _strips() == [] and bpy.context.scene.frame_end == 250


def test_one_undo_takes_back_a_version_step_and_a_takes_review(editor, studio, tmp_path) -> None:
    from blender_addon import compat

    made = _edit_project(studio.admin, tmp_path, "25")
    _use_project(editor, made["project"]["id"])
    _run(bpy.ops.aipipe.editorial_build)
    newer = _publish(studio.admin, made["shots"][0]["id"], "render", "a_v2.mp4", made["movie"])
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = _strips()[0]
    _run(bpy.ops.aipipe.editorial_step_version, step=1)
    assert _strips()[0]["aipipe_version_id"] == newer["id"]
    _undo_once()
    assert _strips()[0]["aipipe_version_id"] == made["render"]["id"]
    bpy.context.scene.sequence_editor.active_strip = _strips()[0]
    _run(bpy.ops.aipipe.editorial_takes)
    assert [s for s in compat.vse_all_strips(bpy.context.scene) if s.get("aipipe_take")]
    _undo_once()
    assert not [s for s in compat.vse_all_strips(bpy.context.scene) if s.get("aipipe_take")]
    assert len(_strips()) == 3  # the build is still there


def test_the_undo_step_is_named_after_the_operator(editor, studio, tmp_path, capfd) -> None:
    made = _edit_project(studio.admin, tmp_path, "24")
    _use_project(editor, made["project"]["id"])
    capfd.readouterr()
    _run(bpy.ops.aipipe.editorial_update_media, swap=True)
    bpy.context.window_manager.print_undo_steps()  # Blender prints the stack on stdout
    assert "Update media" in capfd.readouterr().out


def _shown_frame(frame: int, folder: Path) -> int:
    """The frame number (bar code) the VSE shows at timeline `frame`, from a real render of the sequencer."""
    scene = bpy.context.scene
    scene.frame_set(frame)
    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = 320, 180, 100
    render.image_settings.file_format = "PNG"
    render.filepath = str(folder / f"shown_{frame}.png")
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    with Image.open(render.filepath) as image:
        return read_code(np.asarray(image.convert("RGB")))


def test_a_playblast_without_handles_starts_at_its_first_frame_and_a_short_take_is_flagged(
    editor, studio, tmp_path
) -> None:
    """The issue's case in the VSE: project head handle 8, an approved playblast of 1001-1084 that holds
    no handles is shown from 1001; a render 8 frames shorter than its cut is flagged on its strip and in
    the report, naming the shot."""
    admin = studio.admin
    code = f"ED{uuid.uuid4().hex[:8].upper()}"
    project = admin.post(
        "/api/projects", json={"code": code, "name": "Edit", "fps": "23.976", "handle_in": 8}
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene_id = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()["id"]
    a, b = (
        admin.post(
            f"/api/projects/{project_id}/shots", json={"scene_id": scene_id, "duration_frames": n}
        ).json()
        for n in (84, 24)
    )
    blast = coded_movie(tmp_path / "a_playblast.mp4", 1001, 84, "24000/1001").read_bytes()
    version = _publish(admin, a["id"], "playblast", "a_playblast.mp4", blast, first_frame="1001")
    assert (
        admin.post(f"/api/versions/{version['id']}/reviews", json={"verdict": "approve"}).status_code == 201
    )
    short = coded_movie(tmp_path / "b_render.mp4", 2001, 16, "24000/1001").read_bytes()
    _publish(admin, b["id"], "render", "b_render.mp4", short)
    _use_project(editor, project_id)
    _run(bpy.ops.aipipe.editorial_build)

    strip_a, strip_b = _strips()
    assert _ranges() == [(a["code"], 1, 85), (b["code"], 85, 109)]  # the shot list's lengths
    assert strip_a.frame_offset_start == 0 and strip_a["aipipe_missing"] == 0 and strip_a.color_tag == "NONE"
    assert strip_b["aipipe_missing"] == 8 and strip_b.color_tag == "COLOR_02"
    message = editor.get().message
    assert (
        message.level == "WARNING"
        and f"{b['code']}: the take is 8 frames shorter than the cut" in message.text
    )
    assert [_shown_frame(f, tmp_path) for f in (1, 84)] == [1001, 1084]  # not 1009, no held frames
