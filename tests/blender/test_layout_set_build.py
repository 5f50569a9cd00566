"""The 2.5D set in real Blender: a floor, a box and a back wall rendered from a camera 1.6 m up; their depth
(the add-on's control render: near = white) becomes the set. Each vertex, projected back through the camera,
lands on the pixel it was made for, and the set's depth there is the rendered scene's depth (the scale fixed
by the ground alone: the depth image is relative)."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from blender_addon.control import maps, png
from blender_addon.control.render import render_passes

WIDTH, HEIGHT = 320, 180


def _stage() -> tuple[bpy.types.Scene, list[bpy.types.Object]]:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    bpy.ops.mesh.primitive_plane_add(size=60, location=(0, 10, 0))
    floor = bpy.context.object
    bpy.ops.mesh.primitive_cube_add(size=1.2, location=(0.8, 5.0, 0.6))
    box = bpy.context.object
    bpy.ops.mesh.primitive_plane_add(size=40, location=(0, 14, 5), rotation=(math.radians(90), 0, 0))
    wall = bpy.context.object
    camera = bpy.data.objects.new("SHT_cam", bpy.data.cameras.new("SHT_cam"))
    scene.collection.objects.link(camera)
    camera.location = (0.0, 0.0, 1.6)
    camera.rotation_euler = (math.radians(80.0), 0.0, math.radians(4.0))
    camera.data.lens, camera.data.sensor_width, camera.data.sensor_fit = 24.0, 36.0, "HORIZONTAL"
    camera.data.shift_y = 0.03
    scene.camera = camera
    return scene, [floor, box, wall]


def _encode(depth: np.ndarray, encoding: str) -> np.ndarray:
    """16-bit relative depth, near = white: inverse depth (the control render's map) or depth (Lotus)."""
    if encoding == "inverse":
        return maps.depth_map(depth, 16)
    hit = maps.coverage(depth)
    out = np.zeros(depth.shape, np.uint16)
    near, far = depth[hit].min(), depth[hit].max()
    out[hit] = np.rint((far - depth[hit]) / (far - near) * 65535).astype(np.uint16)
    return out


@pytest.fixture
def built(tmp_path, request) -> tuple[bpy.types.Scene, bpy.types.Object, np.ndarray]:
    from blender_addon.layout import set25d

    encoding = request.param
    scene, props = _stage()
    depth = render_passes(scene).depth
    depth_png = png.write_grey(str(tmp_path / f"depth_{encoding}.png"), _encode(depth, encoding))
    for obj in props:
        bpy.data.objects.remove(obj)
    obj = set25d.build_set(scene, depth_png, None, set25d.SetOptions(encoding=encoding, columns=96))
    return scene, obj, depth


@pytest.mark.parametrize("built", ["inverse", "depth"], indirect=True)
def test_the_set_sits_at_the_rendered_depth_along_camera_rays(built) -> None:
    from blender_addon.layout import set25d_core

    scene, obj, depth = built
    camera = scene.camera
    mesh = obj.data
    local = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", local)
    local = local.reshape(-1, 3)
    across, down = set25d_core.grid_size(set25d.camera_intrinsics(scene, camera), 96)
    assert len(local) == across * down
    to_camera = camera.matrix_world.inverted() @ obj.matrix_world
    # Vertices projected back through the camera land on their pixels (a sample across the grid).
    for index in range(0, len(local), 97):
        world = obj.matrix_world @ Vector(local[index])
        seen = world_to_camera_view(scene, camera, world)
        column, row = index % across, index // across
        assert seen.x == pytest.approx(column / (across - 1), abs=1e-4)
        assert seen.y == pytest.approx(1.0 - row / (down - 1), abs=1e-4)
    # The set's planar depth at known pixels is the rendered scene's: the box's face, the wall, the floor.
    planar = np.array([-(to_camera @ Vector(v)).z for v in local]).reshape(down, across)
    for x, y in ((0.66, 0.6), (0.2, 0.2), (0.5, 0.93), (0.85, 0.45)):
        column, row = round(x * (across - 1)), round(y * (down - 1))
        x, y = column / (across - 1), row / (down - 1)  # the vertex's own frame position
        truth = depth[min(HEIGHT - 1, round(y * HEIGHT)), min(WIDTH - 1, round(x * WIDTH))]
        assert planar[row, column] == pytest.approx(truth, rel=0.04), (x, y)


from blender_addon.layout import set25d  # noqa: E402  (bpy-importing module, after the helpers above)


@pytest.mark.parametrize("built", ["inverse"], indirect=True)
def test_the_set_is_a_textured_mesh_in_its_collection_and_rebuilds_in_place(built, tmp_path) -> None:
    scene, obj, depth = built
    assert obj.users_collection[0].name == "SHT_cam_set25d"
    assert obj.users_collection[0].name in {c.name for c in scene.collection.children}
    assert obj.data.uv_layers.active.name == "camera"
    assert set25d.SET_KEY in obj and obj in set25d.set_objects(scene)
    picture = tmp_path / "first.png"
    png.write_grey(str(picture), np.full((HEIGHT, WIDTH), 200, np.uint8))
    again = set25d.build_set(scene, str(tmp_path / "depth_inverse.png"), str(picture))
    assert again == obj and len([o for o in scene.objects if set25d.SET_KEY in o]) == 1
    texture = next(n for n in again.active_material.node_tree.nodes if n.type == "TEX_IMAGE")
    assert texture.image is not None and again.active_material.node_tree.nodes.active == texture


def _upload_depth(studio, shot_id: str, pixels: np.ndarray, source: str, tmp_path) -> dict:
    import json

    path = png.write_grey(str(tmp_path / f"depth_{source[:8]}.png"), pixels)
    provenance = {"control_kind": "depth", "source_version_id": source}
    with open(path, "rb") as file:
        response = studio.admin.post(
            f"/api/shots/{shot_id}/versions",
            data={"stage": "control", "provenance": json.dumps(provenance)},
            files={"files": ("depth.png", file.read(), "image/png")},
        )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_operator_builds_the_set_from_the_first_frames_depth_on_the_server(
    online, studio, tmp_path
) -> None:
    from blender_addon.layout import set25d_core
    from tests.blender.helpers import idle, pump

    state = bpy.context.window_manager.aipipe
    shot_id = studio.shots[0]["id"]
    state.shot_index = [item.id for item in state.shots].index(shot_id)
    bpy.ops.aipipe.layout_setup_shot()
    pump(lambda: "SHT_0010_layout" in bpy.data.scenes and idle(), what="shot setup")
    scene = bpy.data.scenes["SHT_0010_layout"]
    camera = scene.camera  # the set-up camera: 1.6 m up, level
    intr = set25d.camera_intrinsics(scene, camera)
    rotation = [list(row) for row in camera.matrix_world.to_3x3()]
    # The ground seen by this camera as a relative inverse-depth picture (320×180, the first frame's size).
    gx, gy = np.meshgrid(
        (np.arange(320) + 0.5) * intr.width / 320, (np.arange(180) + 0.5) * intr.height / 180
    )
    ground = set25d_core.ground_depth(intr, rotation, camera.matrix_world.translation.z, gx, gy)
    inverse = np.where(np.isfinite(ground), 1.0 / ground, 0.0)
    pixels = np.rint(inverse / inverse.max() * 65535).astype(np.uint16)
    first = studio.admin.get(f"/api/shots/{shot_id}/first-frame").json()
    made = _upload_depth(studio, shot_id, pixels, first["version"]["id"], tmp_path)
    _upload_depth(studio, shot_id, np.zeros((180, 320), np.uint16), "another-picture", tmp_path)  # newer

    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.layout_build_set(encoding="inverse", columns=64) == {"FINISHED"}
    pump(lambda: idle() and "2.5D set" in online.get().message.text, 60, "2.5D set")
    obj = scene.objects["SHT_0010_set25d"]
    import json

    built = json.loads(obj[set25d.SET_KEY])
    assert built["depth_version_id"] == made["id"] and built["scale"]["method"] == "ground"
    texture = next(n for n in obj.active_material.node_tree.nodes if n.type == "TEX_IMAGE")
    assert tuple(texture.image.size) == (320, 180)  # the first frame, projected
    # A vertex in the bottom middle lies on the ground (Z = 0) where its ray meets it.
    across, down = set25d_core.grid_size(intr, 64)
    vertex = obj.matrix_world @ obj.data.vertices[(down - 2) * across + across // 2].co
    assert vertex.z == pytest.approx(0.0, abs=0.05)


def test_a_headless_playblast_shows_the_sets_picture(tmp_path) -> None:
    import av
    from PIL import Image

    from blender_addon.playblast.render import PlayblastSpec, render_playblast

    scene, props = _stage()
    depth = render_passes(scene).depth
    depth_png = png.write_grey(str(tmp_path / "depth.png"), maps.depth_map(depth, 16))
    for obj in props:
        bpy.data.objects.remove(obj)
    picture = tmp_path / "first.png"
    Image.new("RGB", (WIDTH, HEIGHT), (30, 200, 40)).save(picture)
    set25d.build_set(scene, depth_png, str(picture), set25d.SetOptions(encoding="inverse", columns=48))
    scene.frame_start, scene.frame_end = 1, 2
    output = tmp_path / "pb.mp4"
    render_playblast(scene, PlayblastSpec(str(output), viewport=False))
    assert scene.display.shading.color_type == "MATERIAL"  # the artist's setting is given back
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    middle = frame[HEIGHT // 3 : 2 * HEIGHT // 3, WIDTH // 4 : 3 * WIDTH // 4].reshape(-1, 3).mean(axis=0)
    assert middle[1] > middle[0] + 40 and middle[1] > middle[2] + 40  # the green picture, not grey clay


def test_the_operator_builds_from_local_files_without_a_server(addon, tmp_path) -> None:
    scene, props = _stage()
    depth_png = png.write_grey(str(tmp_path / "depth.png"), maps.depth_map(render_passes(scene).depth, 16))
    for obj in props:
        bpy.data.objects.remove(obj)
    result = bpy.ops.aipipe.layout_build_set(depth_path=depth_png, encoding="inverse", columns=32)
    assert result == {"FINISHED"}
    assert "SHT_cam_set25d" in scene.objects and len(scene.objects["SHT_cam_set25d"].data.polygons) > 0
    with pytest.raises(RuntimeError, match="nothing.png"):  # the operator's error report names the file
        bpy.ops.aipipe.layout_build_set(depth_path=str(tmp_path / "nothing.png"))


def test_the_set_is_built_from_the_camera_at_the_given_frame(tmp_path) -> None:
    scene, props = _stage()
    depth_png = png.write_grey(str(tmp_path / "depth.png"), maps.depth_map(render_passes(scene).depth, 16))
    for obj in props:
        bpy.data.objects.remove(obj)
    camera = scene.camera
    camera.keyframe_insert("location", frame=1)
    at_first = np.array(camera.matrix_world.normalized())
    camera.location.x += 3.0
    camera.keyframe_insert("location", frame=10)
    scene.frame_set(10)
    obj = set25d.build_set(scene, depth_png, None, set25d.SetOptions("inverse", 32), frame=1)
    assert scene.frame_current == 10  # the artist's frame is given back
    np.testing.assert_allclose(np.array(obj.matrix_world), at_first, atol=1e-6)
