"""Solve the shot camera from the approved first frame on the server and apply it (one undo step)."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..core.client import ApiError
from ..i18n import iface
from ..registry import ensure_shot_scene, register_classes, unregister_classes
from ..undo import push_step
from . import apply

SOLVE_LABEL = "Solve camera"
STORED_LABEL = "Use stored camera"


def _first_frame_version(client: Any, shot_id: str) -> str:
    try:
        first = client.get(f"/api/shots/{shot_id}/first-frame")
    except ApiError as exc:
        if exc.status == 404:
            raise ValueError(iface("The shot has no approved first frame to solve the camera from")) from exc
        raise
    return str(first["version"]["id"])


def fetch_stored(shot_id: str) -> Any:
    """Worker: the camera already stored on the shot's first frame (solved or imported by anyone)."""
    rt = runtime.get()

    def work(_ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        version_id = _first_frame_version(client, shot_id)
        try:
            stored = client.get(f"/api/versions/{version_id}/camera-solve")
        except ApiError as exc:
            if exc.status == 404:
                raise ValueError(iface("The first frame has no camera yet: solve it first")) from exc
            raise
        return {"solution": stored["solution"], "version_id": version_id}

    return work


def fetch_solution(shot_id: str, body: dict[str, Any]) -> Any:
    """Worker: the shot's approved first frame → POST its camera solve with the corrections held fixed;
    the server stores the camera on the version (every artist gets the same) and answers it."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        version_id = _first_frame_version(client, shot_id)
        ctx.progress(0.3, "solving")
        # the server fills what is not held: the shot's preset lens and sensor, eye height 1.6 m
        stored = client.request("POST", f"/api/versions/{version_id}/camera-solve", body).data
        solution = stored["solution"]
        return {"solution": solution, "version_id": version_id}

    return work


def report_solution(rt: Any, camera: Any, solution: dict[str, Any], lens: float) -> None:
    if solution.get("accepted", True):
        rt.report(
            iface(
                "Camera {camera}: {lens} mm, solved from the picture", camera=camera.name, lens=f"{lens:.1f}"
            )
        )
        return
    text = solution.get("refusal_text") or ""
    rt.report(
        iface(
            "Camera {camera}: {lens} mm from the preset; the picture did not determine it: {why}",
            camera=camera.name,
            lens=f"{lens:.1f}",
            why=text,
        ),
        "WARNING",
    )


def on_solved(scene_name: str) -> Any:
    """Main-thread callback: apply `{"solution", "version_id"}` to the scene's camera. The step pushed
    first holds the camera as it was, so the one Ctrl+Z after the solve's own step brings it back."""

    def applied(result: dict[str, Any]) -> None:
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            return
        push_step("Before camera solve")
        camera = apply.scene_camera(scene)
        solution = result["solution"]
        params = apply.apply_solution(
            scene, camera, solution, result["version_id"], scene.aipipe_camera.eye_height
        )
        report_solution(runtime.get(), camera, solution, params.lens_mm)

    return applied


class AIPIPE_OT_camera_solve(bpy.types.Operator):
    """Solve the shot camera from its approved first frame and apply it; held corrections stay fixed"""

    bl_idname = "aipipe.camera_solve"
    bl_label = "Solve camera from first frame"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_shot_scene(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        shot_id = scene.aipipe_shot.shot_id
        body = apply.correction(scene).body()
        scene_name = scene.name

        rt.run(
            iface("Solving the camera of {shot}", shot=scene.aipipe_shot.shot_code),
            fetch_solution(shot_id, body),
            on_solved(scene_name),
            undo=SOLVE_LABEL,
        )
        return {"FINISHED"}


class AIPIPE_OT_camera_use_stored(bpy.types.Operator):
    """Apply the camera stored on the shot's first frame (the same for every artist), without solving"""

    bl_idname = "aipipe.camera_use_stored"
    bl_label = "Use stored camera"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_shot_scene(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        runtime.get().run(
            iface("Loading the camera of {shot}", shot=scene.aipipe_shot.shot_code),
            fetch_stored(scene.aipipe_shot.shot_id),
            on_solved(scene.name),
            undo=STORED_LABEL,
        )
        return {"FINISHED"}


class AIPIPE_OT_camera_clear_solution(bpy.types.Operator):
    """Forget the solve kept on the scene camera (its lines stop being drawn); the camera stays where it is"""

    bl_idname = "aipipe.camera_clear_solution"
    bl_label = "Clear solve"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return apply.stored_solution(context.scene.camera) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        camera = context.scene.camera
        for key in (apply.SOLUTION_KEY, apply.VERSION_KEY):
            if key in camera:
                del camera[key]
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_camera_solve, AIPIPE_OT_camera_use_stored, AIPIPE_OT_camera_clear_solution)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
