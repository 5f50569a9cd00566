"""Control inputs reach the real server from real Blender: control images rendered from a shot's layout
camera become `control` versions (depth and canny, said in their provenance), a mask painted on a take
becomes a `mask` version of that take, a mask file uploads as one too, and a character's reference images
are added, listed with their pictures and removed from the add-on.

Each test makes its own project (its code sorts after the studio's, so the Shots panel still opens on the
studio's project in the tests that follow)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import bpy
import httpx
import numpy as np
import pytest
from mathutils import Vector
from PIL import Image

from tests.blender.helpers import idle, pump

TAKE_SIZE = (320, 180)


def _project(admin: httpx.Client) -> dict[str, Any]:
    """A 1280×720 project with one shot and one take (a plain white picture) of that shot."""
    code = f"ZCTL{uuid.uuid4().hex[:6].upper()}"
    body = {"code": code, "name": "Control", "fps": "24", "width": 1280, "height": 720}
    project = admin.post("/api/projects", json=body)
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()
    shot = admin.post(
        f"/api/projects/{project_id}/shots",
        json={"scene_id": scene["id"], "duration_frames": 24, "description": "Rina at the door"},
    )
    assert shot.status_code == 201, shot.text
    buffer = io.BytesIO()
    Image.new("RGB", TAKE_SIZE, (255, 255, 255)).save(buffer, "PNG")
    files = {"files": ("take.png", buffer.getvalue(), "image/png")}
    take = admin.post(f"/api/shots/{shot.json()['id']}/versions", data={"stage": "previz"}, files=files)
    assert take.status_code == 201, take.text
    return {"project": project.json(), "shot": shot.json(), "take": take.json()}


def _open_project(made: dict[str, Any], online) -> None:
    """Pick the project in the Shots panel, as the artist would."""
    assert bpy.ops.aipipe.shots_refresh() == {"FINISHED"}
    project_id = made["project"]["id"]
    pump(lambda: project_id in online.get().table("projects") and idle(), what="projects")
    state = bpy.context.window_manager.aipipe
    state.project = project_id
    pump(lambda: [i.id for i in state.shots] == [made["shot"]["id"]] and idle(), what="shots")


def _layout_scene(made: dict[str, Any], online) -> bpy.types.Scene:
    """The shot's layout scene made by Set up shot, with a box and a back wall in front of its camera."""
    _open_project(made, online)
    state = bpy.context.window_manager.aipipe
    state.shot_index = 0
    assert bpy.ops.aipipe.layout_setup_shot() == {"FINISHED"}
    name = f"{made['shot']['code']}_layout"
    pump(lambda: name in bpy.data.scenes and idle(), what="shot setup")
    scene = bpy.data.scenes[name]
    camera = scene.camera
    for label, distance, size in (("box", 6.0, 1.5), ("wall", 14.0, 40.0)):
        mesh = bpy.data.meshes.new(label)
        half = size / 2
        mesh.from_pydata(
            [(-half, -half, -half), (half, -half, -half), (half, half, -half), (-half, half, -half)]
            + [(-half, -half, half), (half, -half, half), (half, half, half), (-half, half, half)],
            [],
            [(0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)],
        )
        obj = bpy.data.objects.new(label, mesh)
        obj.location = camera.matrix_world @ Vector((0.0, 0.0, -distance - half))
        obj.rotation_euler = camera.rotation_euler
        scene.collection.objects.link(obj)
    return scene


def _png(admin: httpx.Client, version: dict[str, Any]) -> np.ndarray:
    picture = next(f for f in version["files"] if f["name"].endswith(".png"))
    response = admin.get(picture["url"])
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.mode == "L"
        return np.array(image)


def test_control_images_from_the_layout_camera_become_control_versions(online, studio) -> None:
    made = _project(studio.admin)
    scene = _layout_scene(made, online)
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_render_upload() == {"FINISHED"}
    pump(lambda: idle() and "control images of frame" in online.get().message.text, 60, "control upload")
    shot_id = made["shot"]["id"]
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "control"}).json()["items"]
    by_kind = {v["provenance"]["control_kind"]: v for v in versions}
    assert sorted(by_kind) == ["canny", "depth"] and len(versions) == 2
    assert by_kind["depth"]["provenance"]["frame"] == scene.aipipe_shot.cut_in
    assert by_kind["depth"]["provenance"]["camera"] == scene.camera.name
    depth, lines = _png(studio.admin, by_kind["depth"]), _png(studio.admin, by_kind["canny"])
    assert depth.shape == lines.shape == (720, 1280)  # the project's size
    face = _pixel(scene, (0.0, 0.0, -6.0))  # the middle of the box's face, 6 m ahead of the camera
    assert depth[face] == 255  # the box is the nearest thing
    assert depth[20, 20] < 100  # the wall behind it is darker
    row, col = _pixel(scene, (-0.75, 0.0, -6.0))  # the left edge of the face
    assert lines[row - 3 : row + 4, col - 3 : col + 4].max() == 255
    assert lines[face[0] - 20 : face[0] + 21, face[1] - 20 : face[1] + 21].max() == 0


def test_a_pose_image_of_the_shots_character_rig_becomes_a_pose_control_version(online, studio) -> None:
    from blender_addon.control import pose
    from tests.blender.rigs import metarig

    made = _project(studio.admin)
    scene = _layout_scene(made, online)
    rig = metarig(scene, (0.0, 0.0, 0.0))
    rig.matrix_world = scene.camera.matrix_world.copy()  # the rig faces the camera, 5 m before it ...
    rig.rotation_euler.x -= 1.5708  # ... standing up in the picture (its Z along the camera's Y)
    rig.location = scene.camera.matrix_world @ Vector((0.0, -0.9, -5.0))
    state = bpy.context.window_manager.aipipe_control
    state.depth, state.canny, state.pose = False, False, True
    try:
        with bpy.context.temp_override(scene=scene):
            assert bpy.ops.aipipe.control_render_upload() == {"FINISHED"}
        pump(lambda: idle() and "control images of frame" in online.get().message.text, 60, "pose upload")
    finally:
        state.depth, state.canny, state.pose = True, True, False
    versions = studio.admin.get(
        f"/api/shots/{made['shot']['id']}/versions", params={"stage": "control"}
    ).json()["items"]
    [version] = versions
    assert version["provenance"]["control_kind"] == "pose"
    assert version["provenance"]["frame"] == scene.aipipe_shot.cut_in
    picture = next(f for f in version["files"] if f["name"].endswith(".png"))
    with Image.open(io.BytesIO(studio.admin.get(picture["url"]).content)) as image:
        assert image.mode == "RGB" and image.size == (1280, 720)
        pixels = np.array(image)
    neck = rig.matrix_world @ Vector((0.0, 0.0, 1.45))
    at = _pixel(scene, tuple(scene.camera.matrix_world.inverted() @ neck))
    assert tuple(pixels[at]) == pose.COLOURS[pose.KEYPOINTS.index("neck")]


def _pixel(scene: bpy.types.Scene, in_camera: tuple[float, float, float]) -> tuple[int, int]:
    """(row, column), top row first, of a point given in the camera's own space."""
    from bpy_extras.object_utils import world_to_camera_view

    world = scene.camera.matrix_world @ Vector(in_camera)
    projected = world_to_camera_view(scene, scene.camera, world)
    return round((1 - projected.y) * 720), round(projected.x * 1280)


def _pixels(image: bpy.types.Image) -> np.ndarray:
    """The image's pixel buffer as Blender keeps it: rows bottom-up."""
    width, height = image.size[:]
    flat = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(height, width, 4)


def test_a_mask_painted_on_a_take_is_saved_as_its_mask_version(online, studio, tmp_path) -> None:
    made = _project(studio.admin)
    scene = _layout_scene(made, online)
    take_id = made["take"]["id"]
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_takes_refresh() == {"FINISHED"}
        state = bpy.context.window_manager.aipipe_control
        pump(lambda: [t.id for t in state.takes] == [take_id] and idle(), what="takes")
        assert bpy.ops.aipipe.control_mask_new() == {"FINISHED"}
        pump(lambda: idle() and "ready" in online.get().message.text, what="new mask")
    name = f"{made['shot']['code']}_{made['take']['code']}_mask"
    mask = bpy.data.images[name]
    assert tuple(mask.size) == TAKE_SIZE
    pixels = _pixels(mask)
    assert 0.2 < pixels[..., :3].max() <= 0.26  # the white take, dimmed
    # Paint: Blender's rows run bottom-up, so picture rows 20-59 are rows 120-159 of the buffer.
    pixels[180 - 60 : 180 - 20, 100:200, :3] = 1.0
    mask.pixels.foreach_set(pixels.ravel())
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_mask_save(image=name) == {"FINISHED"}
    pump(lambda: idle() and "saved as mask version" in online.get().message.text, what="mask upload")

    shot_id = made["shot"]["id"]
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "mask"}).json()["items"]
    assert len(versions) == 1 and versions[0]["provenance"]["source_version_id"] == take_id
    saved = _png(studio.admin, versions[0])
    assert saved.shape == (TAKE_SIZE[1], TAKE_SIZE[0])
    assert (saved[20:60, 100:200] == 255).all()
    saved[20:60, 100:200] = 0
    assert saved.max() == 0  # the white take under the paint is not in the mask

    # an existing mask file, for the take picked in the list
    path = tmp_path / "sky.png"
    sky = np.zeros((TAKE_SIZE[1], TAKE_SIZE[0]), np.uint8)
    sky[:40] = 255
    Image.fromarray(sky).save(path)
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_mask_upload_file(filepath=str(path)) == {"FINISHED"}
    pump(lambda: idle() and "uploaded as mask version" in online.get().message.text, what="mask file")
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "mask"}).json()["items"]
    assert len(versions) == 2 and versions[0]["provenance"] == {"source_version_id": take_id}
    assert (_png(studio.admin, versions[0]) == sky).all()

    # the same file opened to paint on further (a grey stroke stays grey: a file is read as it is)
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_mask_open(filepath=str(path)) == {"FINISHED"}
    opened = bpy.data.images[name]
    assert opened.filepath == str(path) and tuple(opened.size) == TAKE_SIZE
    pixels = _pixels(opened)
    pixels[0:10, :, :3] = 0.5  # picture rows 170-179: the bottom
    opened.pixels.foreach_set(pixels.ravel())
    with bpy.context.temp_override(scene=scene):
        assert bpy.ops.aipipe.control_mask_save() == {"FINISHED"}  # the newest mask image
    pump(lambda: idle() and "saved as mask version v003" in online.get().message.text, what="mask save")
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"stage": "mask"}).json()["items"]
    painted = _png(studio.admin, versions[0])
    assert (painted[:40] == 255).all() and (painted[170:] == 128).all() and painted[40:170].max() == 0


def test_a_mask_needs_a_mask_image_and_a_file_needs_to_be_an_image(online, studio, tmp_path) -> None:
    made = _project(studio.admin)
    scene = _layout_scene(made, online)
    with bpy.context.temp_override(scene=scene):
        assert not bpy.ops.aipipe.control_mask_save.poll()  # nothing painted yet
        assert not bpy.ops.aipipe.control_mask_new.poll()  # no take picked yet
        assert bpy.ops.aipipe.control_takes_refresh() == {"FINISHED"}
        pump(lambda: len(bpy.context.window_manager.aipipe_control.takes) == 1 and idle(), what="takes")
        text = tmp_path / "notes.txt"
        text.write_text("not a picture")
        with pytest.raises(RuntimeError, match="is not an image file"):
            bpy.ops.aipipe.control_mask_upload_file(filepath=str(text))
    versions = studio.admin.get(f"/api/shots/{made['shot']['id']}/versions", params={"stage": "mask"}).json()
    assert versions["items"] == []


def _references(admin: httpx.Client, character_id: str) -> list[dict[str, Any]]:
    listed = admin.get(f"/api/characters/{character_id}/references")
    assert listed.status_code == 200, listed.text
    return listed.json()


def test_character_references_are_added_listed_and_removed(online, studio, tmp_path) -> None:
    from blender_addon.control import references

    made = _project(studio.admin)
    project_id = made["project"]["id"]
    character = studio.admin.post(f"/api/projects/{project_id}/characters", json={"name": "Rina"})
    assert character.status_code == 201, character.text
    character_id = character.json()["id"]
    _open_project(made, online)
    pump(lambda: character_id in online.get().table("characters"), what="characters")
    state = bpy.context.window_manager.aipipe_control
    state.character = character_id
    pump(idle, what="reference list")
    assert len(state.references) == 0

    path = tmp_path / "rina_front.png"
    Image.new("RGB", (64, 96), (30, 120, 200)).save(path)
    assert bpy.ops.aipipe.control_reference_add(filepath=str(path)) == {"FINISHED"}
    pump(lambda: len(state.references) == 1 and idle(), what="reference upload")
    on_server = _references(studio.admin, character_id)
    assert [(r["name"], r["width"], r["height"]) for r in on_server] == [("rina_front.png", 64, 96)]
    reference_id = on_server[0]["id"]
    assert state.references[0].id == reference_id and "64×96" in state.references[0].label
    # the picture was downloaded and loaded as a preview (background Blender makes no icons, but the
    # preview holds the picture's size)
    assert tuple(references.previews()[reference_id].image_size[:]) == (64, 96)

    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(RuntimeError, match="is not an image file"):
        bpy.ops.aipipe.control_reference_add(filepath=str(text))
    assert len(_references(studio.admin, character_id)) == 1

    assert bpy.ops.aipipe.control_reference_remove(reference_id=reference_id) == {"FINISHED"}
    pump(lambda: len(state.references) == 0 and idle(), what="reference removal")
    assert _references(studio.admin, character_id) == []
    assert online.get().message.text == "Reference rina_front.png removed"
