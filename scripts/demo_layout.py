"""The sample project's layout, made headless through the Blender extension, as an artist would in Blender.

Run with a Python that has `bpy` (e.g. .venv-blender-4.2/bin/python), against a running server:

    python scripts/demo_layout.py --server http://127.0.0.1:8000 --api-key aip_… [--shot SHT_0010]

It enables the add-on, connects with the API key, picks the project's first shot with an approved first
frame (else the first shot), runs Set up shot, blocks out a small set (ground, a few buildings, a stand-in
for each character of the shot at its mark), runs Publish layout (.blend + camera FBX/Alembic) and
Playblast and upload (Workbench, since there is no window; at the project's resolution), and prints what
landed on the server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402


def pump(until, what: str, timeout_s: float = 300.0) -> None:
    from blender_addon import runtime

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runtime.drain()
        rt = runtime.get()
        if rt.message.level == "ERROR":
            raise SystemExit(f"demo layout: {what}: {rt.message.text}")
        if until():
            return
        time.sleep(0.02)
    raise SystemExit(f"demo layout: timed out waiting for {what}")


def idle() -> bool:
    from blender_addon import runtime

    worker = runtime.get().worker
    return not worker.busy and worker.pending() == 0


# The set, in front of the shot camera (at y=-10 looking along +y): (name, centre, size, colour).
BLOCKS = [
    ("ground", (0.0, 10.0, -0.05), (40.0, 40.0, 0.1), (0.22, 0.22, 0.25)),
    ("wall_left", (-6.0, 8.0, 3.0), (2.0, 14.0, 6.0), (0.45, 0.35, 0.3)),
    ("wall_right", (6.5, 10.0, 4.0), (3.0, 12.0, 8.0), (0.35, 0.4, 0.45)),
    ("back_building", (0.0, 20.0, 5.0), (10.0, 2.0, 10.0), (0.3, 0.3, 0.35)),
    ("crate", (3.0, 4.0, 0.5), (1.0, 1.0, 1.0), (0.55, 0.42, 0.25)),
]
MAX_EXTRAS = 3
STAND_IN_COLOURS = [(0.85, 0.3, 0.25), (0.25, 0.5, 0.85), (0.3, 0.75, 0.35), (0.85, 0.7, 0.2)]


def _solid(scene, name: str, centre, size, colour, cylinder: bool = False):
    """A box (or an upright cylinder) as a mesh object in `scene`, coloured for Workbench's solid view."""
    import bmesh

    mesh = bpy.data.meshes.new(name)
    built = bmesh.new()
    if cylinder:
        bmesh.ops.create_cone(built, cap_ends=True, segments=16, radius1=0.5, radius2=0.5, depth=1.0)
    else:
        bmesh.ops.create_cube(built, size=1.0)
    bmesh.ops.scale(built, vec=size, verts=built.verts)
    built.to_mesh(mesh)
    built.free()
    material = bpy.data.materials.new(name)
    material.diffuse_color = (*colour, 1.0)
    mesh.materials.append(material)
    solid = bpy.data.objects.new(name, mesh)
    solid.location = centre
    scene.collection.objects.link(solid)
    return solid


def build_set(scene, characters: list[str]) -> None:
    """Ground, a few blocks and one stand-in (body and head) per character, at marks spread across the
    frame from left to right in the shot's subject order; a sun so Workbench shades them."""
    for name, centre, size, colour in BLOCKS:
        if name not in bpy.data.objects:
            _solid(scene, name, centre, size, colour)
    count = len(characters)
    for index, character in enumerate(characters):
        name = f"standin_{character}"
        if name in bpy.data.objects:
            continue
        x = (index - (count - 1) / 2) * 1.6
        colour = STAND_IN_COLOURS[index % len(STAND_IN_COLOURS)]
        body = _solid(scene, name, (x, 2.0, 0.85), (0.6, 0.6, 1.7), colour, cylinder=True)
        head = _solid(scene, f"{name}_head", (x, 2.0, 1.9), (0.35, 0.35, 0.35), colour)
        head.parent = body
        head.location = (0.0, 0.0, 1.05)
        mark = bpy.data.objects.new(f"mark_{character}", None)
        mark.location = (x, 2.0, 0.0)
        scene.collection.objects.link(mark)
    sun = bpy.data.objects.get("set_sun") or bpy.data.objects.new(
        "set_sun", bpy.data.lights.new("set_sun", "SUN")
    )
    if sun.name not in scene.collection.all_objects:
        scene.collection.objects.link(sun)
    sun.rotation_euler = (0.8, 0.2, 0.6)


def shot_characters(client, shot_id: str, project_id: str) -> list[str]:
    """The names of the shot's characters, in the shot's order."""
    shot = client.get(f"/api/shots/{shot_id}")
    names = {
        c["id"]: c["name"]
        for c in client.get(f"/api/projects/{project_id}/characters", {"limit": 500})["items"]
    }
    return [names.get(s["character_id"], "character") for s in shot.get("subjects", [])]


def main() -> int:
    import addon_utils  # importable once bpy is: Blender's own module

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--shot", help="shot code; default: the first with an approved first frame")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aipipe-demo-layout-") as home:
        import os

        os.environ["AIPIPELINE_CONFIG_DIR"] = home
        bpy.ops.wm.read_factory_settings(use_empty=True)
        # The bpy module starts with online access off; this script exists to talk to the demo server.
        bpy.context.preferences.system.use_online_access = True
        addon_utils.enable("blender_addon", default_set=True, handle_error=None)
        from blender_addon import runtime
        from blender_addon.connect import ops as connect

        runtime.preferences().work_root = str(Path(home) / "work")
        connect.connect_with_api_key(args.server, args.api_key, "demo layout")
        pump(lambda: runtime.get().online, "connecting")
        state = bpy.context.window_manager.aipipe
        pump(lambda: len(state.shots) > 0 and idle(), "loading shots")
        client = runtime.get().client
        assert client is not None
        chosen = None
        for item in state.shots:
            if args.shot and item.code != args.shot:
                continue
            if args.shot:
                chosen = item
                break
            frames = client.get(f"/api/shots/{item.id}/versions", {"stage": "previz", "limit": 50})["items"]
            if any(v.get("verdict") == "approve" for v in frames):
                chosen = item
                break
        chosen = chosen or state.shots[0]
        state.shot_index = [i.id for i in state.shots].index(chosen.id)
        bpy.ops.aipipe.layout_setup_shot()
        scene_name = f"{chosen.code}_layout"
        pump(lambda: scene_name in bpy.data.scenes and idle(), "shot setup")
        scene = bpy.data.scenes[scene_name]
        build_set(scene, shot_characters(client, chosen.id, scene.aipipe_shot.project_id))
        with bpy.context.temp_override(scene=scene):
            bpy.ops.aipipe.layout_publish(comment="demo layout (headless)")
        pump(lambda: idle() and "published" in runtime.get().message.text, "publishing the layout")
        with bpy.context.temp_override(scene=scene):
            # 100 %: the playblast has the project's resolution (Set up shot gave the scene that size).
            bpy.ops.aipipe.playblast_create(
                comment="demo playblast (headless, Workbench)", resolution_percentage=100
            )
        pump(lambda: idle() and "playblast v" in runtime.get().message.text, "playblast")
        sys.stdout.write(f"{chosen.code}: {runtime.get().message.text}\n")
        addon_utils.disable("blender_addon", default_set=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
