"""The sample project's layout, made headless through the Blender extension, as an artist would in Blender.

Run with a Python that has `bpy` (e.g. .venv-blender-4.2/bin/python), against a running server:

    python scripts/demo_layout.py --server http://127.0.0.1:8000 --api-key aip_… [--shot SHT_0010]

It enables the add-on, connects with the API key, picks the project's first shot with an approved first
frame (else the first shot), runs Set up shot, Publish layout (.blend + camera FBX/Alembic) and
Playblast and upload (Workbench, since there is no window), and prints what landed on the server.
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
        with bpy.context.temp_override(scene=scene):
            bpy.ops.aipipe.layout_publish(comment="demo layout (headless)")
        pump(lambda: idle() and "published" in runtime.get().message.text, "publishing the layout")
        with bpy.context.temp_override(scene=scene):
            bpy.ops.aipipe.playblast_create(
                comment="demo playblast (headless, Workbench)", resolution_percentage=50
            )
        pump(lambda: idle() and "playblast v" in runtime.get().message.text, "playblast")
        sys.stdout.write(f"{chosen.code}: {runtime.get().message.text}\n")
        addon_utils.disable("blender_addon", default_set=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
