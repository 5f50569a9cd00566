"""Put a camera solution (or an fSpy project) on the scene's camera: lens with sensor fit HORIZONTAL,
shift, matrix_world, render resolution. Main thread only; the math is in `apply_core`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import bpy
import mathutils

from . import apply_core

SOLUTION_KEY = "aipipe_camera_solution"
VERSION_KEY = "aipipe_camera_solution_version"


def scene_camera(scene: Any, name: str = "") -> Any:
    """The scene's camera, made (and linked) when the scene has none."""
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        name = (
            name or (scene.aipipe_shot.shot_code if getattr(scene, "aipipe_shot", None) else "") or "Camera"
        )
        camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
        scene.collection.objects.link(camera)
        scene.camera = camera
    return camera


def apply_params(scene: Any, camera: Any, params: apply_core.CameraParams) -> None:
    data = camera.data
    data.type = "PERSP"
    data.sensor_fit = params.sensor_fit
    data.sensor_width = params.sensor_width_mm
    data.lens_unit = "MILLIMETERS"
    data.lens = params.lens_mm
    data.shift_x, data.shift_y = params.shift_x, params.shift_y
    # mathutils.Matrix takes rows; a plain list assigned to matrix_world would be read as columns.
    camera.matrix_world = mathutils.Matrix(params.matrix_world)
    render = scene.render
    render.resolution_x, render.resolution_y = params.resolution_x, params.resolution_y
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0


def apply_solution(
    scene: Any,
    camera: Any,
    solution: Mapping[str, Any],
    version_id: str = "",
    eye_height: float | None = None,
) -> apply_core.CameraParams:
    """Apply a solution from the server and keep it on the camera (the overlay draws its lines)."""
    params = apply_core.params_from_solution(
        solution,
        sensor_width_mm=float(solution.get("sensor_width_mm") or 0) or None,
        camera_height_m=eye_height,
    )
    apply_params(scene, camera, params)
    camera[SOLUTION_KEY] = json.dumps(solution)
    camera[VERSION_KEY] = version_id
    settings = scene.aipipe_camera
    if not settings.hold_horizon:
        left, right = apply_core.horizon_pixels(solution)
        settings.horizon_left, settings.horizon_right = left[1], right[1]
    if not settings.hold_focal:
        settings.focal_mm = params.lens_mm
    return params


def stored_solution(camera: Any) -> dict[str, Any] | None:
    """The solution last applied to `camera`, if any."""
    if camera is None or SOLUTION_KEY not in camera:
        return None
    try:
        value = json.loads(camera[SOLUTION_KEY])
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def held_horizon(scene: Any, solution: Mapping[str, Any] | None) -> list[list[float]] | None:
    """The artist's horizon as two pixel points, when held."""
    settings = scene.aipipe_camera
    if not settings.hold_horizon:
        return None
    width = float(solution["image_width"]) if solution else float(scene.render.resolution_x)
    return [[0.0, settings.horizon_left], [width, settings.horizon_right]]


def correction(scene: Any, preset_focal_mm: float | None = None) -> apply_core.Correction:
    """What the artist holds fixed, as the re-solve request carries it."""
    settings = scene.aipipe_camera
    camera = scene.camera if scene.camera is not None and scene.camera.type == "CAMERA" else None
    return apply_core.Correction(
        focal_mm=settings.focal_mm if settings.hold_focal else None,
        horizon=held_horizon(scene, stored_solution(camera)),
        preset_focal_mm=preset_focal_mm,
        sensor_width_mm=camera.data.sensor_width if camera is not None else None,
        eye_height_m=settings.eye_height,
        vanishing_lines=[
            {"axis": line.axis, "a": [float(v) for v in line.a], "b": [float(v) for v in line.b]}
            for line in settings.lines
        ],
    )
