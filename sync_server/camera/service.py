"""Solve, store and read the camera of an image version; import and export it as an fSpy project.

The solve itself (`run_solve`) touches no database and is run in a worker thread by the route; `plan_solve`
and `store` are the short transactions either side of it.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aipipe_shared import fspy

from ..camera_solve import CameraSolution, SolveOptions, solve_picture
from ..camera_solve.lines import ImageFrame
from ..camera_solve.scale import DEFAULT_EYE_HEIGHT_M, height_from_ground_length
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import CinematicPreset, Shot, Version, VersionFile
from ..db.models_camera import CameraSolutionRecord
from ..errors import NotFound, Unprocessable
from .fspy_solution import FSPY_SOLVER, project_bytes, solution_of_project
from .horizon import hold_horizon
from .schemas import CameraSolutionOut, CameraSolveRequest
from .vanishing_lines import hold_lines

DEFAULT_SENSOR_MM = 36.0
DEFAULT_FOCAL_MM = 35.0
# Corrections the solver takes as SolveOptions fields where its version has them (camera_solve.solve).
SOLVER_FIELDS = {"horizon": "horizon_px", "vanishing_lines": "artist_lines"}


@dataclass(frozen=True)
class SolvePlan:
    """What one solve needs, read from the database before the (slow) solve."""

    version_id: uuid.UUID
    project_id: uuid.UUID
    image_path: Path
    image_sha256: str
    options: SolveOptions
    inputs: dict[str, Any]
    ground_length: dict[str, Any] | None
    held_horizon: tuple[list[float], list[float]] | None = None
    held_lines: list[tuple[str, list[float], list[float]]] | None = None


def version_image(session: Session, version_id: uuid.UUID) -> tuple[Version, VersionFile]:
    """The version and its image file (422 naming version_id when it holds no picture)."""
    version = get_or_404(session, Version, version_id, "version")
    image = next((f for f in version.files if f.mime.startswith("image/")), None)
    if image is None:
        raise Unprocessable(
            f"version {version_id} ({version.stage} v{version.number:03d}) holds no image: a camera is "
            "solved from a picture",
            field="version_id",
        )
    return version, image


def _preset(session: Session, version: Version) -> CinematicPreset | None:
    shot = session.get(Shot, version.shot_id)
    return session.get(CinematicPreset, shot.preset_id) if shot is not None and shot.preset_id else None


def plan_solve(
    session: Session, version_id: uuid.UUID, body: CameraSolveRequest, storage_root: Path
) -> SolvePlan:
    """Check the request against the version and the solver; the options of the solve."""
    version, image = version_image(session, version_id)
    if body.eye_height_m is not None and body.ground_length is not None:
        raise Unprocessable("give eye_height_m or ground_length, not both", field="ground_length")
    preset = _preset(session, version)
    sensor = body.sensor_width_mm or (preset.sensor_mm if preset else DEFAULT_SENSOR_MM)
    preset_focal = body.preset_focal_mm
    if preset_focal is None:
        # The preset's lens, on the sensor the solve uses (same field of view).
        preset_focal = preset.lens_mm * sensor / preset.sensor_mm if preset else DEFAULT_FOCAL_MM
    extra: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(SolveOptions)}
    held_horizon = None
    held_lines = None
    for request_field, option in SOLVER_FIELDS.items():
        value = getattr(body, request_field)
        if not value:
            continue
        if request_field == "horizon" and option not in known:
            held_horizon = (list(value.a), list(value.b))  # held after the solve (camera.horizon)
            continue
        if request_field == "vanishing_lines" and option not in known:
            # held after the solve (camera.vanishing_lines): the camera turned onto the artist's lines
            held_lines = [(line.axis, list(line.a), list(line.b)) for line in value]
            continue
        if option not in known:
            raise Unprocessable(
                f"the camera solver on this server cannot take {request_field.replace('_', ' ')} yet; "
                "hold the horizon or the focal length instead, or import an fSpy project",
                field=request_field,
            )
        if request_field == "horizon":
            extra[option] = (tuple(value.a), tuple(value.b))
        else:
            extra[option] = [(line.axis, tuple(line.a), tuple(line.b)) for line in value]
    options = SolveOptions(
        preset_focal_mm=float(preset_focal),
        sensor_width_mm=float(sensor),
        camera_height_m=body.eye_height_m or DEFAULT_EYE_HEIGHT_M,
        fixed_focal_mm=body.focal_mm,
        **extra,
    )
    return SolvePlan(
        version_id=version.id,
        project_id=version.project_id,
        image_path=storage_root / image.path,
        image_sha256=image.sha256,
        options=options,
        inputs=body.model_dump(mode="json", exclude_unset=True),
        ground_length=body.ground_length.model_dump() if body.ground_length else None,
        held_horizon=held_horizon,
        held_lines=held_lines,
    )


def read_picture(path: Path, max_pixels: int) -> np.ndarray:
    """The picture decoded by OpenCV (422 naming version_id when it cannot be, or is too large)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise Unprocessable(f"the version's image cannot be read: {exc}", field="version_id") from exc
    header = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8) if data.size else None
    if header is not None and header.shape[0] * header.shape[1] * 64 > max_pixels:
        raise Unprocessable(f"the picture is larger than {max_pixels} pixels", field="version_id")
    picture = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if picture is None:
        raise Unprocessable("the version's image is not a picture OpenCV can decode", field="version_id")
    return picture


def _with_height(solution: CameraSolution, height: float) -> CameraSolution:
    transform = [list(row) for row in solution.camera_transform]
    transform[2][3] = height
    return solution.model_copy(update={"camera_height_m": height, "camera_transform": transform})


def run_solve(plan: SolvePlan, max_pixels: int) -> CameraSolution:
    """Decode and solve (0.1–1 s of CPU: call it from a worker thread); scale by the ground length given."""
    picture = read_picture(plan.image_path, max_pixels)
    solution = solve_picture(picture, plan.options)
    if plan.held_lines:  # before the horizon: a held horizon has the last word on pitch and roll
        try:
            solution = hold_lines(solution, plan.held_lines)
        except ValueError as exc:
            raise Unprocessable(str(exc), field="vanishing_lines") from exc
    if plan.held_horizon is not None:
        try:
            solution = hold_horizon(solution, *plan.held_horizon)
        except ValueError as exc:
            raise Unprocessable(f"horizon: {exc}", field="horizon") from exc
    if plan.ground_length is None:
        return solution
    frame = ImageFrame(solution.image_width, solution.image_height)
    first, second = (frame.to_plane(np.array(plan.ground_length[k], dtype=float)) for k in ("a", "b"))
    try:
        height = height_from_ground_length(
            first,
            second,
            float(plan.ground_length["length_m"]),
            solution.relative_focal,
            np.asarray(solution.camera_to_scene, dtype=float),
        )
    except ValueError as exc:
        raise Unprocessable(f"ground_length: {exc}", field="ground_length") from exc
    if not math.isfinite(height) or height <= 0:
        raise Unprocessable("ground_length gives no camera height", field="ground_length")
    return _with_height(solution, height)


def _record(session: Session, version_id: uuid.UUID) -> CameraSolutionRecord | None:
    return session.scalars(
        select(CameraSolutionRecord).where(CameraSolutionRecord.version_id == version_id)
    ).one_or_none()


def solution_out(record: CameraSolutionRecord) -> CameraSolutionOut:
    return CameraSolutionOut(
        version_id=record.version_id,
        source=record.source,  # type: ignore[arg-type]
        solver_version=record.solver_version,
        image_sha256=record.image_sha256,
        inputs=record.inputs,
        solution=record.result,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def store(
    uow: UnitOfWork,
    *,
    version_id: uuid.UUID,
    source: str,
    image_sha256: str,
    inputs: dict[str, Any],
    solution: CameraSolution,
) -> CameraSolutionOut:
    """The version's camera, replacing the one it had; an event tells every artist's session."""
    session = uow.session
    version = get_or_404(session, Version, version_id, "version")
    record = _record(session, version_id)
    if record is None:
        record = CameraSolutionRecord(
            version_id=version_id,
            project_id=version.project_id,
            source=source,
            solver_version=solution.solver_version,
            image_sha256=image_sha256,
            created_by=uow.actor.name,
        )
        try:
            with session.begin_nested():  # two first solves of one version at once: the later one updates
                session.add(record)
        except IntegrityError:
            record = _record(session, version_id)
            assert record is not None
    record.source = source
    record.solver_version = solution.solver_version
    record.image_sha256 = image_sha256
    record.inputs = inputs
    record.result = solution.model_dump(mode="json")
    record.created_by = uow.actor.name
    session.flush()
    uow.record(
        "camera_solution.saved",
        "version",
        version_id,
        project_id=version.project_id,
        data={
            "version_id": str(version_id),
            "shot_id": str(version.shot_id),
            "source": source,
            "solver_version": solution.solver_version,
            "accepted": solution.accepted,
            "focal_mm": solution.focal_mm,
        },
    )
    out = solution_out(record)
    uow.commit()
    return out


def stored(session: Session, version_id: uuid.UUID) -> CameraSolutionOut:
    """The version's stored camera (404 naming version_id when it has none)."""
    get_or_404(session, Version, version_id, "version")
    record = _record(session, version_id)
    if record is None:
        raise NotFound(
            f"Version {version_id} has no camera yet: solve it (POST .../camera-solve) or import a .fspy.",
            field="version_id",
        )
    return solution_out(record)


def export_fspy(session: Session, version_id: uuid.UUID, storage_root: Path) -> tuple[bytes, str]:
    """The stored camera as a `.fspy` file carrying the version's picture, and a file name for it."""
    out = stored(session, version_id)
    version, image = version_image(session, version_id)
    try:
        picture = (storage_root / image.path).read_bytes()
    except OSError as exc:
        raise Unprocessable(f"the version's image cannot be read: {exc}", field="version_id") from exc
    shot = session.get(Shot, version.shot_id)
    stem = f"{shot.code if shot else 'shot'}_{version.stage}_v{version.number:03d}"
    return project_bytes(out.solution, picture), f"{stem}.fspy"


def import_fspy(
    uow: UnitOfWork, version_id: uuid.UUID, data: bytes, sensor_width_mm: float | None
) -> CameraSolutionOut:
    """An uploaded `.fspy` project as the version's camera: its picture size must match the version's."""
    session = uow.session
    version, image = version_image(session, version_id)
    try:
        project = fspy.loads(data)
        sensor = sensor_width_mm or _sensor(session, version)
        solution = solution_of_project(project, sensor)
    except (fspy.FspyError, KeyError, TypeError, ValueError) as exc:
        raise Unprocessable(f"not an fSpy project this server can read: {exc}", field="file") from exc
    width, height = image.media.get("width"), image.media.get("height")
    if (
        isinstance(width, int)
        and isinstance(height, int)
        and (width, height)
        != (
            project.image_width,
            project.image_height,
        )
    ):
        raise Unprocessable(
            f"the fSpy project is for a {project.image_width}×{project.image_height} picture; version "
            f"{version_id}'s image is {width}×{height}",
            field="file",
        )
    inputs = {"fspy_bytes": len(data), "sensor_width_mm": sensor}
    return store(
        uow,
        version_id=version_id,
        source="fspy",
        image_sha256=image.sha256,
        inputs=inputs,
        solution=solution.model_copy(update={"solver_version": FSPY_SOLVER}),
    )


def _sensor(session: Session, version: Version) -> float:
    preset = _preset(session, version)
    return preset.sensor_mm if preset else DEFAULT_SENSOR_MM
