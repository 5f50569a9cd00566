"""Project rules."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aipipe_shared.framerate import parse_fps
from aipipe_shared.naming import DEFAULT_TEMPLATES, NamingError

from .. import resources
from ..context import UnitOfWork
from ..crud import ListParams, check_revision, get_or_404, paginate
from ..db.base import utcnow
from ..db.models import Project, Scene, Shot
from ..errors import Conflict, Unprocessable
from ..shots.service import SHOT
from ..storage.layout import CodeError, ProjectLayout, project_templates
from ..storage.meta import MetaWriter
from ..storage.tree import ensure_tree
from .schemas import ConfirmOut, NamingOut, NamingUpdate, ProjectCreate, ProjectOut, ProjectUpdate

SORTABLE = {
    "code": Project.code,
    "name": Project.name,
    "created_at": Project.created_at,
    "updated_at": Project.updated_at,
}
PROJECT = resources.Resource(Project, "project", ProjectOut.of, unique_field="code")


def list_projects(
    session: Session, params: ListParams, q: str | None, archived: bool | None
) -> dict[str, Any]:
    stmt = select(Project)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Project.code.ilike(like), Project.name.ilike(like)))
    if archived is not None:
        stmt = stmt.where(Project.archived == archived)
    return paginate(session, stmt, params, SORTABLE, ["code"], ProjectOut.of)


def get_project(session: Session, project_id: uuid.UUID) -> Project:
    return get_or_404(session, Project, project_id, "project")


def create_project(uow: UnitOfWork, body: ProjectCreate) -> ProjectOut:
    num, den = parse_fps(body.fps)
    project = Project(**body.model_dump(exclude={"fps"}), fps_num=num, fps_den=den)
    return resources.create(uow, PROJECT, project)  # type: ignore[return-value]


def update_project(uow: UnitOfWork, project_id: uuid.UUID, body: ProjectUpdate, revision: int) -> ProjectOut:
    project = get_project(uow.session, project_id)
    values = body.model_dump(exclude_unset=True, exclude={"revision", "fps"})
    if "fps" in body.model_fields_set and body.fps is None:
        raise Unprocessable("fps cannot be null", field="fps")
    if body.fps is not None:
        values["fps_num"], values["fps_den"] = parse_fps(body.fps)
    return resources.update(uow, PROJECT, project, values, revision)  # type: ignore[return-value]


def delete_project(uow: UnitOfWork, project_id: uuid.UUID, revision: int) -> None:
    project = get_project(uow.session, project_id)
    shots = (
        uow.session.scalar(select(func.count()).select_from(Shot).where(Shot.project_id == project.id)) or 0
    )
    if shots:
        raise Conflict(
            f"Project '{project.code}' has {shots} shots and cannot be deleted; archive it instead "
            "(PATCH archived=true).",
            field="id",
            shots=shots,
        )
    resources.delete(uow, PROJECT, project, revision)


# -- confirm: lock the shot list and create the production tree ------------------------------------------


def confirm_project(
    uow: UnitOfWork, project_id: uuid.UUID, revision: int | None, storage_root: Path, meta: MetaWriter
) -> ConfirmOut:
    """Lock every shot that is not omitted and create (or complete) the folder tree. Safe to repeat."""
    session = uow.session
    project = get_project(session, project_id)
    if revision is not None:
        check_revision(project, revision, "project", lambda: ProjectOut.of(project))
    locked = 0
    for shot in session.scalars(
        select(Shot).where(Shot.project_id == project.id, Shot.locked.is_(False), Shot.status != "omitted")
    ):
        resources.update(uow, SHOT, shot, {"locked": True}, shot.revision, commit=False)
        locked += 1
    values: dict[str, Any] = {"locked": True}
    if project.confirmed_at is None:
        values["confirmed_at"] = utcnow()
    resources.update(uow, PROJECT, project, values, project.revision, commit=False)
    try:
        tree = ensure_tree(session, project, storage_root)
        files = meta.write_all(session, project)
    except (CodeError, NamingError, OSError) as exc:
        session.rollback()
        raise Conflict(f"The production tree could not be created: {exc}", field="naming") from exc
    uow.commit()
    return ConfirmOut(
        project=ProjectOut.of(project),
        tree_root=tree.root,
        created_folders=tree.created,
        existing_folders=tree.existing,
        metadata_files=len(files),
        locked_shots=locked,
        skipped=tree.skipped,
    )


def unlock_project(uow: UnitOfWork, project_id: uuid.UUID, revision: int) -> ProjectOut:
    """Open the shot list for structural edits again (the tree stays; confirming again completes it)."""
    project = get_project(uow.session, project_id)
    check_revision(project, revision, "project", lambda: ProjectOut.of(project))
    for shot in uow.session.scalars(select(Shot).where(Shot.project_id == project.id, Shot.locked.is_(True))):
        resources.update(uow, SHOT, shot, {"locked": False}, shot.revision, commit=False)
    resources.update(uow, PROJECT, project, {"locked": False}, revision, commit=False)
    uow.commit()
    return ProjectOut.of(project)


# -- naming templates ---------------------------------------------------------------------------------


def naming_of(project: Project) -> NamingOut:
    return NamingOut(
        templates=dict(project_templates(project.naming)),
        overrides=dict(project.naming or {}),
        revision=project.revision,
    )


def update_naming(uow: UnitOfWork, project_id: uuid.UUID, body: NamingUpdate, revision: int) -> NamingOut:
    """Change the project's templates; refused while confirmed (the tree on disk follows the old names)."""
    project = get_project(uow.session, project_id)
    check_revision(project, revision, "project", lambda: ProjectOut.of(project))
    if project.confirmed_at is not None:
        raise Conflict(
            "The project is confirmed: its folders already follow the current names. Templates "
            "can be changed only before confirming.",
            field="overrides",
        )
    unknown = sorted(set(body.overrides) - set(DEFAULT_TEMPLATES))
    if unknown:
        raise Unprocessable(f"unknown templates: {', '.join(unknown)}", field="overrides")
    try:
        templates = project_templates(body.overrides)
        layout = ProjectLayout(None, "PRJ", templates)
        codes = uow.session.execute(select(Shot.code).where(Shot.project_id == project.id)).scalars().all()
        for code in codes:
            layout.shot_number(code)
        for code in uow.session.scalars(select(Scene.code).where(Scene.project_id == project.id)):
            layout.scene_number(code)
    except CodeError as exc:
        raise Unprocessable(f"These templates do not fit the project: {exc}", field="overrides") from exc
    resources.update(uow, PROJECT, project, {"naming": dict(body.overrides)}, revision)
    return naming_of(project)
