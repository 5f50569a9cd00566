"""Control images rendered from the shot camera in background Blender: a cube standing on a floor plane,
sky behind. Depth: near = white, far = black, nothing hit = black. Lines: white on the cube's silhouette and
folds, black on its faces and on the open floor. The artist's scene is left as it was."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector
from PIL import Image

WIDTH, HEIGHT = 1280, 720


def _cube_on_floor() -> bpy.types.Scene:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.render.resolution_percentage = 50  # the artist's preview setting: control images ignore it
    bpy.ops.mesh.primitive_plane_add(size=10, location=(0, 0, 0))
    bpy.ops.mesh.primitive_cube_add(size=2, location=(0, 0, 1))
    camera = bpy.data.objects.new("CAM", bpy.data.cameras.new("CAM"))
    scene.collection.objects.link(camera)
    camera.location, camera.rotation_euler = (0, -12, 4), (1.35, 0, 0)
    scene.camera = camera
    return scene


def _pixel(scene: bpy.types.Scene, point: tuple[float, float, float]) -> tuple[int, int]:
    """(row, column) of a world point in the picture, top row first."""
    projected = world_to_camera_view(scene, scene.camera, Vector(point))
    return round((1 - projected.y) * HEIGHT), round(projected.x * WIDTH)


def _window(picture: np.ndarray, at: tuple[int, int], radius: int) -> np.ndarray:
    row, col = at
    return picture[row - radius : row + radius + 1, col - radius : col + radius + 1]


def test_depth_and_lines_from_the_shot_camera(tmp_path) -> None:
    from blender_addon.control.render import render_control_images

    scene = _cube_on_floor()
    engine, scenes = scene.render.engine, len(bpy.data.scenes)
    result = render_control_images(scene, str(tmp_path), "SHT_0010", ("depth", "canny"))
    assert sorted(result.paths) == ["canny", "depth"]
    with Image.open(result.paths["depth"]) as file:
        assert (file.size, file.mode) == ((WIDTH, HEIGHT), "L")
        depth = np.array(file)
    with Image.open(result.paths["canny"]) as file:
        assert (file.size, file.mode) == ((WIDTH, HEIGHT), "L")
        lines = np.array(file)

    cube_front = _pixel(scene, (0, -1, 1))
    floor_behind = _pixel(scene, (3.5, 3.5, 0))
    floor_front = _pixel(scene, (2.5, -2.5, 0))
    assert depth.max() == 255 and depth[:5].max() == 0  # the full range; the sky (nothing hit) is black
    assert depth[cube_front] > depth[floor_behind] > 0  # nearer is brighter
    assert depth[floor_front] > depth[floor_behind]
    assert depth[HEIGHT - 1].min() > 200  # the floor's edge nearest the camera

    for edge in ((-1, -1, 1), (1, -1, 1), (0, 1, 2), (0, -1, 2), (0, -1, 0)):
        # left and right silhouettes, the far edge of the top, the fold top/front, the foot on the floor
        assert _window(lines, _pixel(scene, edge), 2).max() == 255, edge
    assert _window(lines, cube_front, 20).max() == 0  # inside the front face
    assert _window(lines, _pixel(scene, (0, 0, 2)), 10).max() == 0  # inside the top face
    assert _window(lines, floor_front, 20).max() == 0  # open floor
    assert lines[:5].max() == 0  # sky
    assert set(np.unique(lines)) <= {0, 255} and (lines > 0).mean() < 0.02

    # the artist's scene: same settings, no scene or compositor left behind
    assert scene.render.engine == engine and scene.render.resolution_percentage == 50
    assert len(bpy.data.scenes) == scenes and not scene.view_layers[0].use_pass_z
    assert not any(g.bl_idname == "CompositorNodeTree" for g in bpy.data.node_groups)


def test_a_16_bit_depth_image_and_a_scene_without_camera(tmp_path) -> None:
    import pytest

    from blender_addon.control.render import render_control_images

    scene = _cube_on_floor()
    result = render_control_images(scene, str(tmp_path), "d16", ("depth",), bits=16)
    with Image.open(result.paths["depth"]) as file:
        assert file.size == (WIDTH, HEIGHT) and file.mode == "I;16"
        assert np.array(file).max() == 65535
    scene.camera = None
    with pytest.raises(RuntimeError, match="no camera"):
        render_control_images(scene, str(tmp_path), "none")
    with pytest.raises(ValueError, match="depth, canny and pose"):
        render_control_images(scene, str(tmp_path), "none", ("normal",))


def test_what_the_view_layer_excludes_stays_out(tmp_path) -> None:
    from blender_addon.control.render import render_control_images

    scene = _cube_on_floor()
    hidden = bpy.data.collections.new("blockers")
    scene.collection.children.link(hidden)
    wall = bpy.data.objects.new("wall", bpy.data.meshes.new("wall"))
    wall.data.from_pydata([(-5, -8, -5), (5, -8, -5), (5, -8, 10), (-5, -8, 10)], [], [(0, 1, 2, 3)])
    hidden.objects.link(wall)  # a wall right in front of the camera …
    scene.view_layers[0].layer_collection.children["blockers"].exclude = True  # … that the artist excluded
    result = render_control_images(scene, str(tmp_path), "excl", ("depth",))
    with Image.open(result.paths["depth"]) as file:
        depth = np.array(file)
    assert depth[_pixel(scene, (0, -1, 1))] > 0 and depth[:5].max() == 0


def test_the_pose_at_the_frame_asked_for_and_the_artists_frame_given_back(tmp_path) -> None:
    """The cube moves towards the camera between frames 1 and 20; the artist stands on frame 1 and asks for
    frame 20 (the cut's first frame): the picture shows the cube near, and the artist is back on frame 1."""
    from blender_addon.control.render import render_passes

    scene = _cube_on_floor()
    cube = bpy.context.active_object
    cube.location = (0, 0, 1)
    cube.keyframe_insert("location", frame=1)
    cube.location = (0, -6, 1)
    cube.keyframe_insert("location", frame=20)
    scene.frame_set(1)
    top = _pixel(scene, (0, -6, 2))  # the top of the cube at frame 20; the cube's front face at frame 1

    at_first = render_passes(scene).depth[top]
    at_twenty = render_passes(scene, 20).depth[top]
    assert scene.frame_current == 1
    assert abs(at_first - render_passes(scene, 1).depth[top]) < 1e-3
    assert at_twenty < at_first - 4.0  # about 5 m nearer (depth along the view axis)
    assert scene.frame_current == 1 and tuple(cube.location) == (0, 0, 1)  # the artist's frame and pose


def test_a_pose_image_of_the_character_rig_at_the_frame_asked_for(tmp_path) -> None:
    """A rig stands before the cube and steps 1.5 m to its left between frames 1 and 20; the pose image of
    frame 20 has the OpenPose skeleton where the camera sees the bones then, in the annotator's colours."""
    from blender_addon.control import pose
    from blender_addon.control.render import render_control_images
    from tests.blender.rigs import metarig

    scene = _cube_on_floor()
    with pytest.raises(RuntimeError, match="No character rig"):
        render_control_images(scene, str(tmp_path), "none", ("pose",))
    rig = metarig(scene, (0.0, -3.0, 0.0))
    rig.keyframe_insert("location", frame=1)
    rig.location = (1.5, -3.0, 0.0)
    rig.keyframe_insert("location", frame=20)
    scene.frame_set(1)

    result = render_control_images(scene, str(tmp_path), "SHT_0010", ("pose",), frame=20)
    assert scene.frame_current == 1 and tuple(rig.location) == (0.0, -3.0, 0.0)  # the artist's frame
    assert set(result.paths) == {"pose"} and (result.width, result.height) == (WIDTH, HEIGHT)
    assert result.frame == 20
    with Image.open(result.paths["pose"]) as file:
        assert file.mode == "RGB" and file.size == (WIDTH, HEIGHT)
        picture = np.array(file)
    k = {name: i for i, name in enumerate(pose.KEYPOINTS)}
    assert tuple(picture[_pixel(scene, (1.5, -3, 1.45))]) == pose.COLOURS[k["neck"]]
    assert tuple(picture[_pixel(scene, (2.2, -3, 1.45))]) == pose.COLOURS[k["left_wrist"]]
    assert tuple(picture[_pixel(scene, (1.4, -3, 0.5))]) == pose.COLOURS[k["right_knee"]]
    forearm = [int(c * pose.LIMB_SHADE) for c in pose.COLOURS[pose.LIMBS.index((6, 7))]]
    assert list(picture[_pixel(scene, (2.075, -3, 1.45))]) == forearm  # the left forearm's middle
    assert _window(picture, _pixel(scene, (0, -3, 1.45)), 3).max() == 0  # not where it stood at frame 1
    assert (picture.reshape(-1, 3).any(axis=1)).mean() < 0.05  # a skeleton on black
    rig.hide_render = True  # a rig the render leaves out is not drawn either
    with pytest.raises(RuntimeError, match="No character rig"):
        render_control_images(scene, str(tmp_path), "hidden", ("pose",), frame=20)
