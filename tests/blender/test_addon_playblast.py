"""Background playblast: an H.264 mp4 whose frame count is the shot length, uploaded as v001 then v002."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import bpy
import pytest

from tests.blender.helpers import idle, pump


def _frames(path: str) -> tuple[int, str, float]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.name, float(stream.average_rate)


def _shot_scene(studio, index: int):
    state = bpy.context.window_manager.aipipe
    state.shot_index = [item.id for item in state.shots].index(studio.shots[index]["id"])
    bpy.ops.aipipe.layout_setup_shot()
    code = studio.shots[index]["code"]
    pump(lambda: f"{code}_layout" in bpy.data.scenes and idle(), what="shot setup")
    scene = bpy.data.scenes[f"{code}_layout"]
    return scene


def test_playblast_uploads_v001_then_v002_with_the_shot_length(online, studio, tmp_path) -> None:
    scene = _shot_scene(studio, 1)
    scene.render.resolution_percentage = 37  # an artist's own setting: must survive the playblast
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = 320, 180
    shot_id = studio.shots[1]["id"]
    for expected in ("v001", "v002"):
        with bpy.context.temp_override(scene=scene):
            assert bpy.ops.aipipe.playblast_create(comment="blocking") == {"FINISHED"}
        pump(
            lambda e=expected: idle() and f"playblast {e} uploaded" in online.get().message.text,
            120,
            "playblast",
        )
    assert scene.render.resolution_percentage == 37 and scene.render.engine == "CYCLES"
    assert (scene.frame_start, scene.frame_end) == (1001, 1036)
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "playblast"}).json()[
        "items"
    ]
    assert [v["code"] for v in versions] == ["v002", "v001"]
    movie = next(f for f in versions[0]["files"] if f["name"].endswith(".mp4"))
    assert movie["media"]["codec"] == "h264" and movie["media"]["frames"] == 36
    track = next(f for f in versions[0]["files"] if f["name"].endswith(".json"))  # the camera rides along
    frames_in_track = [f["frame"] for f in studio.admin.get(track["url"]).json()["frames"]]
    assert frames_in_track == list(range(1001, 1037))
    # what the movie holds, so the edit cuts it right: the cut 1001-1036, no handles
    extent = tuple(versions[0][k] for k in ("first_frame", "frame_count", "handle_in", "handle_out"))
    assert extent == (1001, 36, 0, 0)
    local = tmp_path / "v002.mp4"
    local.write_bytes(studio.admin.get(movie["url"]).content)
    frames, codec, rate = _frames(str(local))
    assert (frames, codec) == (36, "h264")
    assert rate == pytest.approx(24000 / 1001, abs=1e-3)
    assert versions[0]["thumbnail_url"]
    assert studio.shot(1)["status"] == "review"


def test_headless_entry_renders_a_blend_for_the_farm(tmp_path) -> None:
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 10
    scene.render.resolution_x, scene.render.resolution_y = 160, 90
    camera = bpy.data.objects.new("CAM", bpy.data.cameras.new("CAM"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    output = tmp_path / "out" / "pb.mp4"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "blender_addon.playblast",
            str(blend),
            "--output",
            str(output),
            "--start",
            "3",
            "--end",
            "8",
            "--shot",
            "SHT_0010",
            "--thumbnail",
            str(tmp_path / "t.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["frames"] == 6 and result["method"] == "workbench"
    assert _frames(str(output))[0] == 6
    # The burn-ins are in the pixels: Blender's stamp draws white text on a dark band at the top and
    # bottom; without them this empty scene is one flat grey.
    with av.open(str(output)) as container:
        picture = next(container.decode(video=0)).to_ndarray(format="gray")
    band = picture[-picture.shape[0] // 8 :]
    middle = picture[picture.shape[0] // 3 : 2 * picture.shape[0] // 3]
    assert int(middle.max()) - int(middle.min()) < 30
    assert band.max() > 180 and band.min() < 40
    assert (tmp_path / "t.jpg").stat().st_size > 0
    # a bad scene name fails with the reason and a non-zero status
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "blender_addon.playblast",
            str(blend),
            "--output",
            str(output),
            "--scene",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert failed.returncode == 2 and "nope" in failed.stderr


def test_the_progress_indicator_follows_every_frame_of_the_render(tmp_path) -> None:
    from blender_addon.playblast.render import PlayblastSpec, render_playblast

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 64, 36
    camera = bpy.data.objects.new("CAM", bpy.data.cameras.new("CAM"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    result = render_playblast(scene, PlayblastSpec(str(tmp_path / "pb.mp4"), frame_start=5, frame_end=9))
    assert result.progress_frames == [5, 6, 7, 8, 9]
    assert not [h for h in bpy.app.handlers.render_write if h.__name__ == "written"]  # handler removed
