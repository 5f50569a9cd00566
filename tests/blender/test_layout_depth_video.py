"""The layout's depth video in real Blender: a box moving towards the camera over a 24 fps shot, rendered at
the workflow's 16 fps for its frame count; read back with PyAV: the rate, the count, the size, near = white,
and the box brightening as it comes closer (one depth scale for the whole clip)."""

from __future__ import annotations

from fractions import Fraction

import av
import bpy
import numpy as np

from blender_addon.playblast.depth_video import DepthVideoSpec, render_depth_video

WIDTH, HEIGHT = 128, 96


def _shot() -> bpy.types.Scene:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 320, 240  # the video asks for its own size
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 1001, 1024
    bpy.ops.mesh.primitive_plane_add(size=40, location=(0, 10, 0))
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 12, 0.5))
    box = bpy.context.object
    box.keyframe_insert("location", frame=1001)
    box.location.y = 3.0
    box.keyframe_insert("location", frame=1024)
    camera = bpy.data.objects.new("SHT_0010", bpy.data.cameras.new("SHT_0010"))
    scene.collection.objects.link(camera)
    camera.location, camera.rotation_euler = (0, 0, 1.6), (1.45, 0, 0)
    scene.camera = camera
    scene.frame_set(1010)
    return scene


def _read(path: str) -> tuple[Fraction, list[np.ndarray], tuple[int, int], str]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="gray") for f in container.decode(stream)]
        return stream.average_rate, frames, (stream.width, stream.height), stream.codec_context.name


def test_the_depth_video_has_the_workflows_rate_count_and_size(tmp_path) -> None:
    scene = _shot()
    spec = DepthVideoSpec(
        str(tmp_path / "SHT_0010_depth.mp4"), fps=16, frames=13, start=1001, width=WIDTH, height=HEIGHT
    )
    result = render_depth_video(scene, spec)
    assert result.scene_frames[:4] == [1001, 1003, 1004, 1006]  # 24 -> 16 fps: every 1.5 scene frames
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.frame_current) == (320, 240, 1010)
    rate, frames, size, codec = _read(result.path)
    assert rate == Fraction(16) and len(frames) == 13 and size == (WIDTH, HEIGHT) and codec == "h264"
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert (
        first[-3:].mean() > first[HEIGHT // 2].mean() > first[: HEIGHT // 4].mean() == 0
    )  # near = white, sky black
    # The box comes up to the camera: the bottom middle whitens to the clip's nearest value; the floor at the
    # sides keeps its grey (one scale for the whole clip, no per-frame flicker).
    box = (slice(HEIGHT - 12, HEIGHT - 2), slice(WIDTH // 2 - 4, WIDTH // 2 + 4))
    assert last[box].mean() > first[box].mean() + 40 and last[box].max() >= 235
    side = (slice(HEIGHT - 12, HEIGHT - 2), slice(2, 10))
    assert abs(last[side].mean() - first[side].mean()) <= 3
    assert len({round(frame.mean()) for frame in frames}) > 5  # every frame its own


def test_without_a_count_the_video_covers_the_cut(tmp_path) -> None:
    scene = _shot()
    spec = DepthVideoSpec(str(tmp_path / "cut.mp4"), fps=12, width=64, height=48)
    result = render_depth_video(scene, spec)
    assert result.frames == 12 and result.scene_frames[-1] == 1023  # 1001-1024 at 24 -> every other frame
    rate, frames, size, _ = _read(result.path)
    assert rate == Fraction(12) and len(frames) == 12 and size == (64, 48)


def test_the_operator_uploads_the_video_as_the_control_version_a_layout_render_follows(
    online, studio
) -> None:
    from tests.blender.helpers import idle, pump

    state = bpy.context.window_manager.aipipe
    state.shot_index = [item.id for item in state.shots].index(studio.shots[1]["id"])
    bpy.ops.aipipe.layout_setup_shot()
    pump(lambda: "SHT_0020_layout" in bpy.data.scenes and idle(), what="shot setup")
    scene = bpy.data.scenes["SHT_0020_layout"]
    scene.render.resolution_x, scene.render.resolution_y = 160, 96
    bpy.ops.mesh.primitive_cube_add(size=2, location=(0, 0, 1))
    shot_id = studio.shots[1]["id"]
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.playblast_depth_video(fps=16, frames=9) == {"FINISHED"}
    pump(lambda: idle() and "depth video" in online.get().message.text, 120, "depth video")
    assert "9 frames at 16 fps" in online.get().message.text
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "control"}).json()["items"]
    video = versions[0]
    provenance = video["provenance"]
    assert provenance["control_kind"] == "depth" and provenance["fps"] == 16 and provenance["frames"] == 9
    assert provenance["camera"] == scene.camera.name
    movie = next(f for f in video["files"] if f["name"].endswith(".mp4"))
    assert movie["media"]["frames"] == 9 and float(Fraction(str(movie["media"]["fps"]))) == 16.0
    layouts = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "layout"}).json()["items"]
    assert provenance.get("layout_version_id") == (layouts[0]["id"] if layouts else None)


def test_the_headless_playblast_also_renders_the_depth_video_for_the_farm(tmp_path) -> None:
    import json
    import subprocess
    import sys

    scene = _shot()
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    depth = tmp_path / "out" / "depth.mp4"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "blender_addon.playblast",
            str(blend),
            "--output",
            str(tmp_path / "out" / "pb.mp4"),
            "--scene",
            scene.name,
            "--depth-video",
            str(depth),
            "--depth-fps",
            "16",
            "--depth-size",
            "64x48",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["frames"] == 24 and result["depth_video"]["frames"] == 16  # 1001-1024 at 24 -> 16 fps
    rate, frames, size, _ = _read(str(depth))
    assert rate == Fraction(16) and len(frames) == 16 and size == (64, 48)
