"""Takes of a shot: queue them (one shot, or many at once), list them with their provenance, choose one
as the shot's first frame, redo one."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..crud import ListParams, get_or_404, paginate
from ..db.models import Character, CinematicPreset, Environment, Project, Shot, Version
from ..errors import Conflict, NotFound, Unprocessable
from ..farm.jobs import shot_to_work_on
from ..settings import Settings
from ..versions import review
from ..versions.schemas import ReviewCreate, VersionOut
from .queue import TakeQueue
from .schemas import (
    BatchJob,
    BatchTakeOut,
    BatchTakeRequest,
    TakeFields,
    TakeJobs,
    TakeOut,
    UseAsFirstFrame,
)

SORTABLE = {"created_at": Version.created_at, "number": Version.number}
TAKE_STAGE = "previz"


def queue_shot_takes(uow: UnitOfWork, settings: Settings, shot_id: uuid.UUID, body: TakeFields) -> TakeJobs:
    session = uow.session
    shot = shot_to_work_on(session, shot_id)
    project = get_or_404(session, Project, shot.project_id, "project")
    queue = TakeQueue(uow, settings)
    queue.plan(shot, project, body)
    return TakeJobs(jobs=queue.insert({project.id: project.code}))


def queue_batch(
    uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, body: BatchTakeRequest
) -> BatchTakeOut:
    """Generate takes for many shots of a project in one transaction (docs/api.md, "Takes")."""
    session = uow.session
    project = get_or_404(session, Project, project_id, "project")
    if body.control_from_layout and body.control is None:
        raise Unprocessable("control_from_layout needs control.kind (depth, canny or pose)", field="control")
    if body.control is not None and not body.control_from_layout:
        raise Unprocessable(
            "in a batch the control images come from each shot's layout: set control_from_layout",
            field="control_from_layout",
        )
    ids = list(dict.fromkeys(body.shots))
    shots = {s.id: s for s in session.scalars(select(Shot).where(Shot.id.in_(ids)))}
    for index, shot_id in enumerate(body.shots):
        shot = shots.get(shot_id)
        if shot is None or shot.project_id != project.id:
            raise Unprocessable(f"no shot {shot_id} in project {project.code}", field=f"shots.{index}")
        if shot.status == "omitted":
            raise Conflict(f"Shot {shot.code} is omitted.", field=f"shots.{index}")
    # The project's settings and presets, read once (the prompt engine finds them in the session).
    kept = [
        *session.scalars(select(Environment).where(Environment.project_id == project.id)),
        *session.scalars(
            select(CinematicPreset).where(
                (CinematicPreset.project_id == project.id) | CinematicPreset.project_id.is_(None)
            )
        ),
    ]
    fields = TakeFields.model_construct(
        **{
            **TakeFields().model_dump(),
            **body.model_dump(exclude={"shots", "control_from_layout"}),
            "control": body.control,
        }
    )
    queue = TakeQueue(uow, settings)
    queue.characters = {
        c.id: c for c in session.scalars(select(Character).where(Character.project_id == project.id))
    }
    for shot_id in ids:
        queue.plan(shots[shot_id], project, fields, origin={"batch": True})
    chains = queue.chain_of()
    queue.insert({project.id: project.code}, full=False)
    del kept
    return BatchTakeOut(
        count=len(queue.planned),
        jobs=[
            BatchJob(id=r["id"], shot_id=r["shot_id"], seed=r["params"].get("seed"), chain=chains[r["id"]])
            for r in queue.planned
        ],
    )


def is_take() -> ColumnElement[bool]:
    """A take: a previz version, except a step on the way to a recipe take's last image; or that last
    image, whatever stage its recipe step publishes (docs/api.md, "Takes")."""
    role = Version.provenance["take_role"].as_string()
    return or_(
        and_(Version.stage == TAKE_STAGE, or_(role.is_(None), role != "step")),
        role == "take",
    )


def take_out(version: Version, pinned: uuid.UUID | None) -> TakeOut:
    provenance = dict(version.provenance or {})
    if version.gpu_seconds is not None:
        provenance.setdefault("gpu_seconds", version.gpu_seconds)
    return TakeOut(
        version=VersionOut.of(version),
        provenance=provenance,
        verdict=version.verdict,  # type: ignore[arg-type]
        is_first_frame=version.id == pinned,
        created_at=version.created_at,
    )


def list_takes(session: Session, shot_id: uuid.UUID, params: ListParams) -> dict[str, Any]:
    """The shot's takes (previz versions), newest first, with their provenance and which is pinned."""
    shot = get_or_404(session, Shot, shot_id, "shot")
    pinned = shot.first_frame_version_id
    if pinned is None:
        try:  # no pin: the newest approved take is the first frame
            pinned = review.first_frame(session, shot.id).version.id
        except NotFound:
            pinned = None
    stmt = select(Version).where(Version.shot_id == shot.id, is_take())
    return paginate(session, stmt, params, SORTABLE, ["-number"], lambda v: take_out(v, pinned))


def take_version(session: Session, version_id: uuid.UUID) -> Version:
    version = get_or_404(session, Version, version_id, "version")
    role = (version.provenance or {}).get("take_role")
    if role == "step":
        raise Conflict(
            f"Version {version_id} is a step on the way to a recipe take, not the take: use its chain's "
            "last image.",
            field="version_id",
        )
    if version.stage != TAKE_STAGE and role != "take":
        raise Conflict(
            f"Version {version_id} is a {version.stage} version, not a take (previz).", field="version_id"
        )
    if not any(f.mime.startswith("image/") for f in version.files):
        raise Conflict(f"Version {version_id} holds no image.", field="version_id")
    return version


def use_as_first_frame(uow: UnitOfWork, version_id: uuid.UUID, body: UseAsFirstFrame) -> TakeOut:
    """Approve the take (a review verdict, with the note) and pin it as the shot's first frame."""
    take_version(uow.session, version_id)
    review.add_review(uow, version_id, ReviewCreate(verdict="approve", text=body.note or ""), pin=True)
    session = uow.session
    version = get_or_404(session, Version, version_id, "version")
    session.refresh(version)
    shot = get_or_404(session, Shot, version.shot_id, "shot")
    session.refresh(shot)
    return take_out(version, shot.first_frame_version_id)
