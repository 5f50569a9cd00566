"""Shot rules: references stay inside the project, status moves along the workflow, locks hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, String, Uuid, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from .. import resources
from ..auth.permissions import Permission
from ..cache import ResponseCache
from ..context import UnitOfWork
from ..crud import ListParams, check_revision, flush_checked, get_or_404, page_query
from ..db.models import Character, CinematicPreset, Environment, Project, Scene, Shot, ShotSubject
from ..errors import Conflict, Forbidden, NotFound, Unprocessable
from ..storage.layout import ProjectLayout
from . import status as workflow
from .codes import check_code, next_shot_code
from .schemas import ReorderBody, ShotCreate, ShotOut, ShotUpdate, SubjectIn

SHOT = resources.Resource(Shot, "shot", ShotOut.of, unique_field="code")
SORTABLE = {
    "order": Shot.sort_order,
    "code": Shot.code,
    "status": Shot.status,
    "duration": Shot.duration_frames,
    "created_at": Shot.created_at,
    "updated_at": Shot.updated_at,
}
# Edits that change the cut: need shot:structure, and are refused while the shot is locked.
STRUCTURAL = ("code", "duration_frames", "scene_id", "handle_in", "handle_out", "sort_order")
DEFAULT_SECONDS = 3
FRAGMENT_BATCH = 500  # shots read per query when their cached JSON is out of date


def _list_query(project_id: uuid.UUID, filters: dict[str, Any]) -> Select[Any]:
    stmt = select(*Shot.__table__.columns).where(Shot.project_id == project_id)
    if filters.get("scene_id"):
        stmt = stmt.where(Shot.scene_id == filters["scene_id"])
    if filters.get("status"):
        stmt = stmt.where(Shot.status.in_(filters["status"]))
    if filters.get("locked") is not None:
        stmt = stmt.where(Shot.locked == filters["locked"])
    if filters.get("environment_id"):
        stmt = stmt.where(Shot.environment_id == filters["environment_id"])
    if filters.get("preset_id"):
        stmt = stmt.where(Shot.preset_id == filters["preset_id"])
    if filters.get("character_id"):
        stmt = stmt.where(
            Shot.id.in_(
                select(ShotSubject.shot_id).where(ShotSubject.character_id == filters["character_id"])
            )
        )
    if filters.get("q"):
        like = f"%{filters['q']}%"
        stmt = stmt.where(
            or_(
                Shot.code.ilike(like),
                Shot.description.ilike(like),
                Shot.action.ilike(like),
                Shot.dialogue.ilike(like),
            )
        )
    return stmt


def _items(session: Session, stmt: Select[Any]) -> list[dict[str, Any]]:
    """Shots as API dicts, read with plain column queries."""
    result = session.execute(stmt.with_only_columns(*_LIST_COLUMNS))
    keys = list(result.keys())
    items = [dict(zip(keys, row, strict=True)) for row in result]
    subjects: dict[Any, list[dict[str, Any]]] = {item["id"]: [] for item in items}
    if subjects:
        ids = stmt.with_only_columns(Shot.id).subquery()
        for shot_id, character_id, clothing in session.execute(
            select(_as_text(ShotSubject.shot_id), _as_text(ShotSubject.character_id), ShotSubject.clothing)
            .where(ShotSubject.shot_id.in_(select(ids.c.id)))
            .order_by(ShotSubject.shot_id, ShotSubject.position)
        ):
            subjects[shot_id].append({"character_id": character_id, "clothing": clothing})
    for item in items:
        item["order"] = item["sort_order"]
        item["subjects"] = subjects[item["id"]]
        item["next_statuses"] = workflow.allowed_next(item["status"])
    return items


def shot_list_json(
    session: Session,
    project_id: uuid.UUID,
    params: ListParams,
    filters: dict[str, Any],
    fragments: ResponseCache,
    serialize: Callable[[dict[str, Any]], bytes],
) -> bytes:
    """One page of the shot list as JSON. Each shot's JSON is kept by (id, revision): after an edit only
    the shots that changed are read and serialised again, however long the list."""
    get_or_404(session, Project, project_id, "project")
    stmt = _list_query(project_id, filters)
    paged, total = page_query(session, stmt, params, SORTABLE, ["order", "code"])
    order = session.execute(paged.with_only_columns(_as_text(Shot.id), Shot.revision)).all()
    parts: dict[Any, bytes] = {}
    missing = []
    for shot_id, revision in order:
        cached = fragments.get(shot_id, revision)
        if cached is None:
            missing.append(shot_id)
        else:
            parts[shot_id] = cached
    for start in range(0, len(missing), FRAGMENT_BATCH):
        batch = [uuid.UUID(str(i)) for i in missing[start : start + FRAGMENT_BATCH]]
        for item in _items(session, stmt.where(Shot.id.in_(batch))):
            body = serialize(item)
            parts[item["id"]] = body
            fragments.put(item["id"], item["revision"], body)
    # A shot edited between the two reads above is served at its newer revision: still a true state.
    items = b",".join(parts[shot_id] for shot_id, _ in order if shot_id in parts)
    tail = f'],"total":{total},"limit":{params.limit},"offset":{params.offset}}}'.encode()
    return b'{"items":[' + items + tail


def shot_list_fingerprint(session: Session, project_id: uuid.UUID) -> tuple[Any, ...]:
    """Changes whenever any shot of the project is created, edited (revision bump) or deleted."""
    row = session.execute(
        select(func.count(), func.sum(Shot.revision), func.max(Shot.updated_at)).where(
            Shot.project_id == project_id
        )
    ).one()
    return tuple(row)


def _as_text(column: Any) -> Any:
    """Ids as the driver gives them: pydantic turns them into UUIDs far faster than row processing does."""
    return type_coerce(column, String).label(column.key)


_LIST_COLUMNS = [
    _as_text(column) if isinstance(column.type, Uuid) else column for column in Shot.__table__.columns
]


def get_shot(session: Session, shot_id: uuid.UUID) -> Shot:
    return get_or_404(session, Shot, shot_id, "shot")


# -- reference checks ---------------------------------------------------------------------------------


def _check_refs(session: Session, project_id: uuid.UUID, values: dict[str, Any]) -> None:
    if values.get("scene_id") is not None:
        scene = session.get(Scene, values["scene_id"])
        if scene is None or scene.project_id != project_id:
            raise Unprocessable("scene_id is not a scene of this project", field="scene_id")
    if values.get("environment_id") is not None:
        env = session.get(Environment, values["environment_id"])
        if env is None or env.project_id != project_id:
            raise Unprocessable(
                "environment_id is not an environment of this project", field="environment_id"
            )
    if values.get("preset_id") is not None:
        preset = session.get(CinematicPreset, values["preset_id"])
        if preset is None or preset.project_id not in (None, project_id):
            raise Unprocessable(
                "preset_id is not a built-in preset or one of this project's", field="preset_id"
            )


def _subject_rows(session: Session, project_id: uuid.UUID, subjects: list[SubjectIn]) -> list[ShotSubject]:
    rows: list[ShotSubject] = []
    seen: set[uuid.UUID] = set()
    for index, subject in enumerate(subjects):
        field = f"subjects.{index}"
        if subject.character_id in seen:
            raise Unprocessable(
                "this character is already a subject of the shot", field=f"{field}.character_id"
            )
        seen.add(subject.character_id)
        character = session.get(Character, subject.character_id)
        if character is None or character.project_id != project_id:
            raise Unprocessable(
                "character_id is not a character of this project", field=f"{field}.character_id"
            )
        if (
            subject.clothing
            and character.clothing_options
            and subject.clothing not in character.clothing_options
        ):
            raise Unprocessable(
                f"'{subject.clothing}' is not one of {character.name}'s clothing options: "
                f"{', '.join(character.clothing_options)}",
                field=f"{field}.clothing",
            )
        rows.append(ShotSubject(character_id=subject.character_id, clothing=subject.clothing, position=index))
    return rows


def _subjects_view(rows: list[ShotSubject]) -> list[dict[str, str]]:
    return [{"character_id": str(r.character_id), "clothing": r.clothing} for r in rows]


# -- create / update / delete --------------------------------------------------------------------------


def _insert_order(session: Session, project_id: uuid.UUID, after_shot_id: uuid.UUID | None) -> int:
    """A sort key after `after_shot_id` (or at the end) without renumbering any other shot."""
    last = session.scalar(select(func.max(Shot.sort_order)).where(Shot.project_id == project_id)) or 0
    if after_shot_id is None:
        return last + 1000
    after = session.get(Shot, after_shot_id)
    if after is None or after.project_id != project_id:
        raise Unprocessable("after_shot_id is not a shot of this project", field="after_shot_id")
    following = session.scalar(
        select(func.min(Shot.sort_order)).where(
            Shot.project_id == project_id, Shot.sort_order > after.sort_order
        )
    )
    if following is None:
        return after.sort_order + 1000
    if following - after.sort_order < 2:
        raise Conflict(
            "No room to insert a shot here without renumbering; reorder the shot list first.",
            field="after_shot_id",
        )
    return (after.sort_order + following) // 2


def _neighbours(
    session: Session, project_id: uuid.UUID, after_shot_id: uuid.UUID | None
) -> tuple[str, str | None] | None:
    """Codes of the shot to insert after and of the one that follows it, for a code in between."""
    if after_shot_id is None:
        return None
    after = session.get(Shot, after_shot_id)
    if after is None or after.project_id != project_id:
        return None
    following = session.scalar(
        select(Shot.code)
        .where(Shot.project_id == project_id, Shot.sort_order > after.sort_order)
        .order_by(Shot.sort_order)
        .limit(1)
    )
    return after.code, following


def lock_project_codes(session: Session, project_id: uuid.UUID) -> Project:
    """The project, locked until this transaction ends, so writers that number its shots or scenes take
    turns (also across server processes). PostgreSQL: FOR NO KEY UPDATE, which still lets other
    transactions insert rows referencing the project. SQLite: writers hold the database lock already."""
    # The row is locked by its own statement: an object already loaded (and maybe edited) stays as it is.
    locked = session.scalar(
        select(Project.id).where(Project.id == project_id).with_for_update(key_share=True)
    )
    project = session.get(Project, project_id) if locked is not None else None
    if project is None:
        raise NotFound(f"No project with id {project_id}.", field="id")
    return project


def create_shot(uow: UnitOfWork, project_id: uuid.UUID, body: ShotCreate) -> ShotOut:
    session = uow.session
    # Taken before reading the codes and sort keys in use: two creates otherwise pick the same next code.
    project = lock_project_codes(session, project_id)
    values = body.model_dump(exclude={"subjects", "after_shot_id"})
    _check_refs(session, project.id, values)
    layout = ProjectLayout.of(project)
    existing = session.scalars(select(Shot.code).where(Shot.project_id == project.id)).all()
    if values["code"]:
        check_code(layout, "shot", values["code"])
    else:
        values["code"] = next_shot_code(
            layout, existing, _neighbours(session, project.id, body.after_shot_id)
        )
    if values["duration_frames"] is None:
        values["duration_frames"] = max(1, round(DEFAULT_SECONDS * project.fps_num / project.fps_den))
    shot = Shot(
        project_id=project.id, sort_order=_insert_order(session, project.id, body.after_shot_id), **values
    )
    shot.subjects = _subject_rows(session, project.id, body.subjects)
    return resources.create(uow, SHOT, shot)  # type: ignore[return-value]


def _authorize_edit(uow: UnitOfWork, shot: Shot, values: dict[str, Any]) -> None:
    actor = uow.actor
    structural = [f for f in STRUCTURAL if f in values and values[f] != getattr(shot, f)]
    if structural and not actor.can(Permission.SHOT_STRUCTURE):
        raise Forbidden(
            f"Role '{actor.role}' may not change {', '.join(structural)} (needs shot:structure).",
            field=structural[0],
            required=[Permission.SHOT_STRUCTURE.value],
            role=actor.role,
        )
    if structural and shot.locked:
        raise Conflict(
            f"Shot {shot.code} is locked; {', '.join(structural)} cannot change until a director unlocks it.",
            field=structural[0],
        )
    target = values.get("status")
    if target is not None and target != shot.status:
        if not workflow.is_allowed(shot.status, target):
            allowed = list(workflow.allowed_next(shot.status))
            raise Conflict(
                f"A shot in '{shot.status}' cannot move to '{target}'; allowed: "
                f"{', '.join(allowed) or 'none'}.",
                field="status",
                allowed=allowed,
            )
        if workflow.needs_approval(shot.status, target) and not actor.can(Permission.SHOT_APPROVE):
            raise Forbidden(
                f"Role '{actor.role}' may not move a shot from '{shot.status}' to '{target}' "
                "(needs shot:approve).",
                field="status",
                required=[Permission.SHOT_APPROVE.value],
                role=actor.role,
            )


def update_shot(uow: UnitOfWork, shot_id: uuid.UUID, body: ShotUpdate, revision: int) -> ShotOut:
    session = uow.session
    shot = get_shot(session, shot_id)
    check_revision(shot, revision, "shot", lambda: ShotOut.of(shot))
    values = body.model_dump(exclude_unset=True, exclude={"revision", "subjects"})
    for required in ("scene_id", "code", "duration_frames", "status"):
        if required in values and values[required] is None:
            raise Unprocessable(f"{required} cannot be null", field=required)
    _authorize_edit(uow, shot, values)
    _check_refs(session, shot.project_id, values)
    if values.get("code") and values["code"] != shot.code:
        check_code(
            ProjectLayout.of(get_or_404(session, Project, shot.project_id, "project")), "shot", values["code"]
        )
    extra: dict[str, list[Any]] = {}
    if body.subjects is not None:
        rows = _subject_rows(session, shot.project_id, body.subjects)
        before, after = _subjects_view(list(shot.subjects)), _subjects_view(rows)
        if before != after:
            shot.subjects = rows
            extra["subjects"] = [before, after]
    return resources.update(uow, SHOT, shot, values, revision, extra_changes=extra)  # type: ignore[return-value]


def delete_shot(uow: UnitOfWork, shot_id: uuid.UUID, revision: int) -> ShotOut | None:
    """Delete a draft shot; in a confirmed project (its folders exist) the shot is omitted instead."""
    shot = get_shot(uow.session, shot_id)
    if shot.locked:
        raise Conflict(f"Shot {shot.code} is locked and cannot be deleted.", field="id")
    project = get_or_404(uow.session, Project, shot.project_id, "project")
    if project.confirmed_at is not None:
        if shot.status == "omitted":
            check_revision(shot, revision, "shot", lambda: ShotOut.of(shot))
            return ShotOut.of(shot)
        _authorize_edit(uow, shot, {"status": "omitted"})
        return resources.update(uow, SHOT, shot, {"status": "omitted"}, revision)  # type: ignore[return-value]
    if shot.status != "draft":
        raise Conflict(
            f"Shot {shot.code} is '{shot.status}'; only draft shots are deleted. Set its status to "
            "'omitted' instead, which keeps its work.",
            field="id",
        )
    resources.delete(uow, SHOT, shot, revision)
    return None


def set_locked(uow: UnitOfWork, shot_id: uuid.UUID, locked: bool, revision: int) -> ShotOut:
    shot = get_shot(uow.session, shot_id)
    return resources.update(uow, SHOT, shot, {"locked": locked}, revision)  # type: ignore[return-value]


def reorder_shots(uow: UnitOfWork, project_id: uuid.UUID, body: ReorderBody) -> list[ShotOut]:
    """Put the listed shots in the given order, in the places they held between them."""
    session = uow.session
    get_or_404(session, Project, project_id, "project")
    ids = [item.id for item in body.shots]
    if len(set(ids)) != len(ids):
        raise Unprocessable("a shot is listed twice", field="shots")
    shots = {s.id: s for s in session.scalars(select(Shot).where(Shot.id.in_(ids)))}
    for index, item in enumerate(body.shots):
        shot = shots.get(item.id)
        if shot is None or shot.project_id != project_id:
            raise Unprocessable("not a shot of this project", field=f"shots.{index}.id")
        check_revision(shot, item.revision, "shot", lambda s=shot: ShotOut.of(s))
    slots = sorted(shots[i].sort_order for i in ids)
    moving = [(shots[i], slot) for i, slot in zip(ids, slots, strict=True) if shots[i].sort_order != slot]
    if not uow.actor.can(Permission.SHOT_STRUCTURE):
        raise Forbidden(
            f"Role '{uow.actor.role}' may not reorder shots (needs shot:structure).",
            field="shots",
            required=[Permission.SHOT_STRUCTURE.value],
            role=uow.actor.role,
        )
    locked = [shot.code for shot, _ in moving if shot.locked]
    if locked:
        raise Conflict(f"Locked shots cannot move: {', '.join(locked)}.", field="shots", locked=locked)
    befores = {shot.id: (shot.revision, shot.sort_order) for shot, _ in moving}
    for shot, slot in moving:
        shot.sort_order = slot
    flush_checked(uow, None, "shot list", lambda: ShotOut.of(moving[0][0]))
    for shot, slot in moving:
        revision_before, order_before = befores[shot.id]
        uow.record(
            "shot.updated",
            "shot",
            shot.id,
            project_id=project_id,
            revision_before=revision_before,
            revision_after=shot.revision,
            changes={"sort_order": [order_before, slot]},
            data=ShotOut.of(shot).model_dump(mode="json"),
        )
    uow.commit()
    return [ShotOut.of(shots[i]) for i in ids]
