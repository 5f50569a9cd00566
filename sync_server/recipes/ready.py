"""Render ready shots: the chosen recipe queued for every confirmed shot with an approved first frame and
no current render (or for the given shots), in one transaction, whatever the number of shots; the same
for one shot when its first frame is approved in a project with `auto_render`; and a recipe submitted for
one shot by hand."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Character, CinematicPreset, Environment, Job, Project, Shot, Version, VersionFile
from ..errors import ApiError, Conflict, Unprocessable
from ..farm.jobs import shot_to_work_on
from ..settings import Settings
from . import service
from .queue import RecipeQueue
from .schemas import QueuedShot, RecipeRender, RenderReady, RenderReadyOut, SkippedShot

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
NOT_CURRENT = ("reject", "needs_changes")  # a render with one of these verdicts is not the current one
# Jobs that make images: a take made with a recipe (takes/queue.py) is a recipe chain of these only, and
# is no render of the shot.
IMAGE_JOB_TYPES = ("t2i", "i2i", "image_edit", "inpaint", "depth")


@dataclass(frozen=True)
class ShotState:
    """What decides whether a shot is ready to render, read for many shots at once."""

    first_frames: dict[uuid.UUID, tuple[Version, VersionFile]]
    renders: dict[uuid.UUID, str]  # shot -> its current render ("render v002")
    active: dict[uuid.UUID, uuid.UUID]  # shot -> a render job of it that is queued or running


def _image(version: Version) -> VersionFile | None:
    return next((f for f in version.files if f.mime.startswith("image/")), None)


def read_state(session: Session, shots: list[Shot]) -> ShotState:
    """First frames (the pinned take, else the newest approved previz with an image: as
    `versions.review.first_frame`), current renders and running render jobs of `shots`: a few queries for
    all of them, not one per shot."""
    ids = [s.id for s in shots]
    first_frames: dict[uuid.UUID, tuple[Version, VersionFile]] = {}
    renders: dict[uuid.UUID, str] = {}
    active: dict[uuid.UUID, uuid.UUID] = {}
    if not ids:
        return ShotState(first_frames, renders, active)
    pinned = {s.first_frame_version_id for s in shots if s.first_frame_version_id is not None}
    candidates: dict[uuid.UUID, list[Version]] = {}
    for version in session.scalars(
        select(Version)
        .where(
            Version.shot_id.in_(ids),
            Version.stage == "previz",
            (Version.verdict == "approve") | Version.id.in_(pinned),
        )
        .order_by(Version.number.desc())
    ):
        candidates.setdefault(version.shot_id, []).append(version)
    for shot in shots:
        versions = candidates.get(shot.id, [])
        chosen = [v for v in versions if v.id == shot.first_frame_version_id]
        chosen += [v for v in versions if v.verdict == "approve"]
        for version in chosen:
            image = _image(version)
            if image is not None:
                first_frames[shot.id] = (version, image)
                break
    for shot_id, number in session.execute(
        select(Version.shot_id, Version.number)
        .where(
            Version.shot_id.in_(ids),
            Version.stage == "render",
            Version.verdict.is_(None) | Version.verdict.not_in(NOT_CURRENT),
        )
        .order_by(Version.number)
    ):
        renders[shot_id] = f"render v{number:03d}"
    for shot_id, job_id in session.execute(
        select(Job.shot_id, Job.id).where(
            Job.shot_id.in_(ids),
            Job.status.in_(ACTIVE),
            (Job.output_stage == "render") | (Job.recipe_id.is_not(None) & Job.type.not_in(IMAGE_JOB_TYPES)),
        )
    ):
        active[shot_id] = job_id
    return ShotState(first_frames, renders, active)


def not_ready(project: Project, shot: Shot, state: ShotState) -> str | None:
    """Why the shot is not rendered by render-ready (None: it is ready)."""
    if project.confirmed_at is None:
        return "the project is not confirmed yet"
    if shot.status == "omitted":
        return "the shot is omitted"
    if shot.id not in state.first_frames:
        return "no approved first frame"
    if shot.id in state.active:
        return f"a render is already queued or running (job {state.active[shot.id]})"
    if shot.id in state.renders:
        return f"it has a render ({state.renders[shot.id]})"
    return None


def _read_project(session: Session, project: Project) -> tuple[dict[uuid.UUID, Character], list[Any]]:
    """The project's characters, and its environments and presets: held by the caller while it plans, so
    the prompt engine finds them in the session's identity map instead of one query per shot."""
    kept: list[Any] = [
        *session.scalars(select(Environment).where(Environment.project_id == project.id)),
        *session.scalars(
            select(CinematicPreset).where(
                (CinematicPreset.project_id == project.id) | CinematicPreset.project_id.is_(None)
            )
        ),
    ]
    characters = {
        c.id: c for c in session.scalars(select(Character).where(Character.project_id == project.id))
    }
    return characters, kept


def queue_ready(
    uow: UnitOfWork,
    settings: Settings,
    project: Project,
    shots: Iterable[Shot],
    requested: str | None,
    priority: int = 50,
) -> RenderReadyOut:
    """Plan the recipe of every ready shot of `shots`, insert all their jobs at once and commit."""
    session = uow.session
    shots = list(shots)
    state = read_state(session, shots)
    queue = RecipeQueue(uow, settings, priority=priority)
    queue.characters, kept = _read_project(session, project)
    found: dict[tuple[str, str], Any] = {}
    queued: list[QueuedShot] = []
    skipped: list[SkippedShot] = []
    for shot in shots:
        reason = not_ready(project, shot, state)
        if reason is None:
            try:
                chosen = service.chosen_recipe(session, requested, shot, project, found)
                if chosen is None:
                    reason = "no recipe chosen (set the shot's or the project's render_recipe)"
                else:
                    recipe = chosen[0]
                    job_ids = queue.plan(shot, project, recipe, state.first_frames[shot.id])
                    queued.append(
                        QueuedShot(
                            shot_id=shot.id,
                            shot_code=shot.code,
                            recipe=recipe.name,
                            version=recipe.version,
                            job_ids=job_ids,
                        )
                    )
            except ApiError as refused:
                reason = refused.detail
        if reason is not None:
            skipped.append(SkippedShot(shot_id=shot.id, shot_code=shot.code, reason=reason))
    queue.insert({project.id: project.code})
    del kept
    return RenderReadyOut(queued=queued, skipped=skipped)


def render_ready(
    uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, body: RenderReady
) -> RenderReadyOut:
    """`POST /api/projects/{id}/render-ready`. The project's row is locked first: two requests at once
    queue each shot once (the second sees the first one's jobs)."""
    session = uow.session
    project = get_or_404(session, Project, project_id, "project")
    session.refresh(project, with_for_update=True)
    if body.recipe is not None:
        service.find(session, project.id, body.recipe, field="recipe")  # 404 naming `recipe`
    stmt = select(Shot).where(Shot.project_id == project.id)
    missing: list[uuid.UUID] = []
    if body.shot_ids is not None:
        wanted = list(dict.fromkeys(body.shot_ids))
        stmt = stmt.where(Shot.id.in_(wanted))
    shots = list(session.scalars(stmt.order_by(Shot.sort_order, Shot.code)))
    if body.shot_ids is not None:
        found = {s.id for s in shots}
        missing = [i for i in dict.fromkeys(body.shot_ids) if i not in found]
    out = queue_ready(uow, settings, project, shots, body.recipe, body.priority)
    out.skipped.extend(
        SkippedShot(shot_id=i, shot_code="", reason="no such shot in this project") for i in missing
    )
    return out


def render_shot(uow: UnitOfWork, settings: Settings, shot_id: uuid.UUID, body: RecipeRender) -> QueuedShot:
    """`POST /api/shots/{id}/render-recipe`: the recipe for one shot, whatever renders it has already."""
    session = uow.session
    shot = shot_to_work_on(session, shot_id)
    project = get_or_404(session, Project, shot.project_id, "project")
    chosen = service.chosen_recipe(session, body.recipe, shot, project)
    if chosen is None:
        raise Unprocessable(
            "No recipe chosen: name one, or set the shot's or the project's render_recipe.", field="recipe"
        )
    recipe = chosen[0]
    if body.version is not None:
        recipe = service.find(session, project.id, recipe.name, body.version, field="version")
    state = read_state(session, [shot])
    queue = RecipeQueue(uow, settings, priority=body.priority)
    first = queue.steps(recipe)[0]
    frame = state.first_frames.get(shot.id)
    if frame is None and first.template is not None and "image" in first.template.roles:
        raise Conflict(
            f"Shot {shot.code} has no approved first frame yet: approve a previz version before rendering.",
            field="shot_id",
        )
    job_ids = queue.plan(shot, project, recipe, frame, seed=body.seed)
    queue.insert({project.id: project.code})
    return QueuedShot(
        shot_id=shot.id, shot_code=shot.code, recipe=recipe.name, version=recipe.version, job_ids=job_ids
    )


def after_first_frame(uow: UnitOfWork, settings: Settings, shot_id: uuid.UUID) -> RenderReadyOut | None:
    """A shot's first frame was approved (committed): in a project with `auto_render`, queue its recipe
    when the shot is ready (as render-ready would). Never raises: the approval stands either way."""
    session = uow.session
    try:
        shot = session.get(Shot, shot_id)
        project = session.get(Project, shot.project_id, with_for_update=True) if shot is not None else None
        if shot is None or project is None or not project.auto_render:
            session.rollback()
            return None
        out = queue_ready(uow, settings, project, [shot], None)
    except ApiError as refused:
        session.rollback()
        log.warning("auto render of shot %s not queued: %s", shot_id, refused.detail)
        return None
    if out.skipped:
        log.info("auto render of shot %s: %s", shot_id, out.skipped[0].reason)
    return out


def after_review(uow: UnitOfWork, settings: Settings, version_id: uuid.UUID, verdict: str | None) -> None:
    """A review was committed: an approved previz version may have made the shot's first frame, which in
    a project with `auto_render` queues the shot's recipe (`after_first_frame`)."""
    if verdict != "approve":
        return
    version = uow.session.get(Version, version_id)
    if version is None or version.stage != "previz":
        return
    after_first_frame(uow, settings, version.shot_id)
