"""Shot setup in real Blender: frame range, 23.976 fps, lens from the preset, first-frame guide; publish."""

from __future__ import annotations

import bpy
import pytest

from tests.blender.helpers import idle, pump


def _select(studio, index: int) -> None:
    state = bpy.context.window_manager.aipipe
    ids = [item.id for item in state.shots]
    state.shot_index = ids.index(studio.shots[index]["id"])


def test_set_up_shot_gives_range_fps_lens_and_guide(online, studio) -> None:
    _select(studio, 0)
    assert bpy.ops.aipipe.layout_setup_shot(reference_plane=True) == {"FINISHED"}
    pump(lambda: "SHT_0010_layout" in bpy.data.scenes and idle(), what="shot setup")
    scene = bpy.data.scenes["SHT_0010_layout"]
    # 12 frames with 4-frame handles, the cut starting at 1001
    assert (scene.frame_start, scene.frame_end) == (997, 1016)
    assert scene.render.fps == 24 and scene.render.fps_base == pytest.approx(1.001)
    assert scene.render.fps / scene.render.fps_base == pytest.approx(23.976, abs=1e-3)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1280, 720)
    camera = scene.camera
    assert camera.name == "SHT_0010"
    assert camera.data.lens == pytest.approx(studio.preset["lens_mm"])
    assert camera.data.sensor_width == pytest.approx(studio.preset["sensor_mm"])
    backgrounds = camera.data.background_images
    assert len(backgrounds) == 1 and backgrounds[0].image is not None
    assert tuple(backgrounds[0].image.size) == (320, 180)
    assert backgrounds[0].alpha == pytest.approx(0.5)
    assert "SHT_0010_first_frame_plane" in scene.objects
    assert scene.aipipe_shot.shot_code == "SHT_0010" and scene.aipipe_shot.cut_out == 1012


def test_set_up_again_updates_the_same_scene(online, studio) -> None:
    _select(studio, 1)
    for _ in range(2):
        bpy.ops.aipipe.layout_setup_shot()
        pump(lambda: "SHT_0020_layout" in bpy.data.scenes and idle(), what="shot setup")
    assert [s.name for s in bpy.data.scenes].count("SHT_0020_layout") == 1
    scene = bpy.data.scenes["SHT_0020_layout"]
    assert (scene.frame_start, scene.frame_end) == (1001, 1036)
    assert len(scene.camera.data.background_images) == 0  # no approved first frame for this shot


def test_publish_layout_uploads_blend_and_camera_and_file_is_recognised(online, studio, tmp_path) -> None:
    prefs = online.preferences()
    prefs.work_root = str(tmp_path / "work")
    mapping = prefs.path_mappings.add()  # this workstation mounts the server's storage root here
    mapping.linux = studio.admin.get("/api/storage").json()["server_root"]
    _select(studio, 0)
    bpy.ops.aipipe.layout_setup_shot()
    pump(lambda: "SHT_0010_layout" in bpy.data.scenes and idle(), what="shot setup")
    bpy.context.window.scene = bpy.data.scenes["SHT_0010_layout"] if bpy.context.window else None
    with bpy.context.temp_override(scene=bpy.data.scenes["SHT_0010_layout"]):
        assert bpy.ops.aipipe.layout_publish() == {"FINISHED"}
    pump(lambda: idle() and "published" in online.get().message.text, 60, what="publish")
    versions = studio.admin.get(
        f"/api/shots/{studio.shots[0]['id']}/versions", params={"stage": "layout"}
    ).json()
    names = sorted(f["name"] for f in versions["items"][0]["files"])
    number = versions["items"][0]["code"]
    # the camera as Alembic, FBX and its per-frame JSON (no characters in this scene)
    assert names == sorted(f"SHT_0010_layout_{number}.{ext}" for ext in ("abc", "blend", "fbx", "json"))
    assert bpy.data.filepath.endswith(f"SHT_0010_layout_{number}.blend")
    # the published file is in the production tree where the naming engine says, seen through the mount
    from pathlib import Path

    from aipipe_shared.naming import default_template_set
    from blender_addon.layout import opsdata

    relative = opsdata.layout_file(
        default_template_set(), studio.project, studio.scene["code"], "SHT_0010", int(number[1:])
    )
    in_tree = Path(mapping.linux, relative)
    assert in_tree.is_file() and f"in the tree at {in_tree}" in online.get().message.text
    # opening the file again recognises its shot from the path alone
    path = bpy.data.filepath
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=path)
    from blender_addon.layout import ops

    found = ops.recognise_current_file()
    assert found is not None and found.shot_code == "SHT_0010" and found.stage == "layout"
    assert bpy.data.scenes["SHT_0010_layout"].aipipe_shot.shot_id == studio.shots[0]["id"]


def test_camera_round_trips_through_fbx_and_alembic(tmp_path) -> None:
    from blender_addon.layout import scene_setup

    scene = bpy.context.scene
    data = bpy.data.cameras.new("CAM")
    data.lens = 85.0
    camera = bpy.data.objects.new("CAM", data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    fbx, abc = scene_setup.export_camera(scene, str(tmp_path), "SHT_0010_camera")
    for path in (fbx, abc):
        imported = scene_setup.import_camera(scene, path)
        assert imported.type == "CAMERA" and imported.data.lens == pytest.approx(85.0, abs=0.1)
        assert scene.camera == imported


def test_one_undo_takes_back_a_shot_setup_that_landed_after_the_operator(online, studio) -> None:
    _select(studio, 0)
    bpy.ops.ed.undo_push(message="Before the setup")  # what the artist's last edit left on the stack
    assert bpy.ops.aipipe.layout_setup_shot() == {"FINISHED"}
    pump(lambda: "SHT_0010_layout" in bpy.data.scenes and idle(), what="shot setup")
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert "SHT_0010_layout" not in bpy.data.scenes and "SHT_0010" not in bpy.data.objects
