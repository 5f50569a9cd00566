"""Layout exports in real Blender: the camera track JSON follows the animated camera frame by frame, and an
animated character (a two-bone armature deforming a mesh, and a proxy) exports to Alembic and FBX and comes
back with the same motion at sampled frames."""

from __future__ import annotations

import json
import math

import bpy
import numpy as np
import pytest
from mathutils import Euler, Matrix, Vector

from blender_addon.layout import exports

FRAMES = (1, 7, 12, 20)


def _animated_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    scene.render.resolution_x, scene.render.resolution_y = 640, 360
    scene.frame_start, scene.frame_end = 1, 20
    camera = bpy.data.objects.new("SHT_0010", bpy.data.cameras.new("SHT_0010"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera.data.sensor_fit, camera.data.sensor_width = "HORIZONTAL", 36.0
    camera.data.shift_x = 0.05
    for frame, x, yaw, lens in ((1, 0.0, 0.0, 24.0), (20, 3.0, 30.0, 50.0)):
        camera.location = (x, -8.0, 1.6)
        camera.rotation_euler = (math.radians(85), 0.0, math.radians(yaw))
        camera.data.lens = lens
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
        camera.data.keyframe_insert("lens", frame=frame)
    return camera


def test_the_camera_track_has_each_frames_focal_length_and_transform(tmp_path) -> None:
    scene = bpy.context.scene
    camera = _animated_camera(scene)
    scene.frame_set(5)
    path = exports.write_camera_track(scene, str(tmp_path), "SHT_0010_camera")
    assert scene.frame_current == 5  # the artist's frame is given back
    with open(path, encoding="utf-8") as file:
        track = json.load(file)
    assert track["format"] == exports.TRACK_FORMAT and track["camera"] == "SHT_0010"
    assert [f["frame"] for f in track["frames"]] == list(range(1, 21))
    assert track["fps"] == pytest.approx(scene.render.fps / scene.render.fps_base)
    lenses = []
    for entry in track["frames"]:
        scene.frame_set(entry["frame"])
        assert entry["focal_mm"] == pytest.approx(camera.data.lens, abs=1e-5)
        assert entry["focal_px"] == pytest.approx(camera.data.lens / 36.0 * 640, abs=1e-4)
        assert entry["cx"] == pytest.approx(320 - 0.05 * 640)
        np.testing.assert_allclose(entry["matrix_world"], [list(r) for r in camera.matrix_world], atol=1e-6)
        np.testing.assert_allclose(entry["location"], camera.matrix_world.translation, atol=1e-6)
        rebuilt = Matrix.LocRotScale(Vector(entry["location"]), Euler(entry["rotation_euler"]), None)
        np.testing.assert_allclose(np.array(rebuilt), np.array(camera.matrix_world), atol=1e-5)
        lenses.append(entry["focal_mm"])
    assert lenses[0] == pytest.approx(24.0) and lenses[-1] == pytest.approx(50.0)
    assert len(set(lenses)) > 10  # the lens really animates through the track


def _character(scene: bpy.types.Scene) -> None:
    scene.frame_start, scene.frame_end = 1, 20
    armature = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", armature)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    root = armature.edit_bones.new("root")
    root.head, root.tail = (0, 0, 0), (0, 0, 1)
    arm = armature.edit_bones.new("arm")
    arm.head, arm.tail, arm.parent, arm.use_connect = (0, 0, 1), (0, 0, 2), root, True
    bpy.ops.object.mode_set(mode="OBJECT")
    bpy.ops.mesh.primitive_cube_add(size=0.4, location=(0, 0, 1.8))
    body = bpy.context.object
    body.name = "Body"
    group = body.vertex_groups.new(name="arm")
    group.add(list(range(len(body.data.vertices))), 1.0, "REPLACE")
    body.parent = rig
    body.modifiers.new("Armature", "ARMATURE").object = rig
    for frame, bend, x in ((1, 0.0, 0.0), (20, 60.0, 2.0)):
        rig.location = (x, 0.0, 0.0)
        rig.keyframe_insert("location", frame=frame)
        bone = rig.pose.bones["arm"]
        bone.rotation_mode = "XYZ"
        bone.rotation_euler = (math.radians(bend), 0.0, 0.0)
        bone.keyframe_insert("rotation_euler", frame=frame)
    bpy.ops.mesh.primitive_cone_add(location=(3, 1, 0))
    proxy = bpy.context.object
    proxy.name = "Prop_proxy"
    proxy[exports.CHARACTER_KEY] = True
    for frame, y in ((1, 1.0), (20, 5.0)):
        proxy.location.y = y
        proxy.keyframe_insert("location", frame=frame)


def _sample(scene: bpy.types.Scene, mesh_name: str, proxy_name: str, rig_name: str | None) -> dict:
    out = {}
    for frame in FRAMES:
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        body = scene.objects[mesh_name].evaluated_get(depsgraph)
        vertices = np.array([body.matrix_world @ v.co for v in body.to_mesh().vertices])
        body.to_mesh_clear()
        entry = {"body": vertices, "proxy": np.array(scene.objects[proxy_name].matrix_world)}
        if rig_name:
            rig = scene.objects[rig_name]
            entry["heads"] = np.array([rig.matrix_world @ rig.pose.bones[b].head for b in ("root", "arm")])
        out[frame] = entry
    return out


def _find(objects: list, kind: str, stem: str) -> str:
    return next(o.name for o in objects if o.type == kind and o.name.startswith(stem))


@pytest.mark.parametrize("ext", ["abc", "fbx"])
def test_an_animated_character_exports_and_imports_back_with_the_same_motion(tmp_path, ext) -> None:
    scene = bpy.context.scene
    _character(scene)
    assert {o.name for o in exports.characters(scene)} == {"Rig", "Body", "Prop_proxy"}
    truth = _sample(scene, "Body", "Prop_proxy", "Rig")
    written = exports.export_characters(scene, str(tmp_path), "SHT_0010_characters")
    assert sorted(p.rsplit(".", 1)[1] for p in written) == ["abc", "fbx"]

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 20
    new = exports.import_characters(scene, str(tmp_path / f"SHT_0010_characters.{ext}"))
    assert all(o.users_collection[0].name == "SHT_0010_characters" for o in new)
    body = _find(new, "MESH", "Body")
    proxy = _find(new, "MESH", "Prop_proxy")
    rig = _find(new, "ARMATURE", "Rig") if ext == "fbx" else None
    back = _sample(scene, body, proxy, rig)
    for frame in FRAMES:
        np.testing.assert_allclose(
            np.sort(back[frame]["body"], axis=0), np.sort(truth[frame]["body"], axis=0), atol=2e-3
        )
        np.testing.assert_allclose(back[frame]["proxy"][:3, 3], truth[frame]["proxy"][:3, 3], atol=1e-3)
        if rig:
            np.testing.assert_allclose(back[frame]["heads"], truth[frame]["heads"], atol=2e-3)
    moved = np.abs(truth[FRAMES[-1]]["body"].mean(0) - truth[FRAMES[0]]["body"].mean(0)).max()
    assert moved > 1.0  # the motion compared is real


def test_importing_something_else_is_refused_by_name(tmp_path) -> None:
    with pytest.raises(ValueError, match="notes.txt"):
        exports.import_characters(bpy.context.scene, str(tmp_path / "notes.txt"))
