"""Apply field values to a shot, scene, character or environment through the same service code as the API:
permissions, locks, the status workflow, revisions, audit, live events and meta files all hold."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from .. import resources
from ..auth.permissions import Permission
from ..catalog.characters import CHARACTERS
from ..catalog.environments import ENVIRONMENTS
from ..catalog.scenes import SCENES
from ..context import UnitOfWork
from ..db.models import Project, Shot
from ..errors import Conflict, Forbidden
from ..project_children import ChildSpec
from ..shots import service as shots
from ..shots.schemas import ShotUpdate

SPECS: dict[str, ChildSpec] = {"scene": SCENES, "character": CHARACTERS, "environment": ENVIRONMENTS}
MODELS: dict[str, Any] = {"shot": Shot, **{name: spec.res.model for name, spec in SPECS.items()}}
NOT_COPIED = frozenset({"revision", "created_at", "updated_at", "project_id", "id"})


def load(session: Session, entity: str, entity_id: str) -> Any | None:
    return session.get(MODELS[entity], uuid.UUID(entity_id))


def _need(uow: UnitOfWork, permission: Permission, what: str) -> None:
    if not uow.actor.can(permission):
        raise Forbidden(
            f"Role '{uow.actor.role}' may not {what} (needs {permission.value}).",
            required=[permission.value],
            role=uow.actor.role,
        )


def update(uow: UnitOfWork, entity: str, obj: Any, values: dict[str, Any]) -> None:
    """Set `values` on `obj` at its current revision, with every rule of the normal edit."""
    values = dict(values)
    if entity != "shot":
        spec = SPECS[entity]
        _need(uow, spec.write_permission, f"edit {spec.plural}")
        if spec.before_update:
            spec.before_update(uow, obj, values)
        resources.update(uow, spec.res, obj, values, obj.revision)
        return
    special = {name: values.pop(name) for name in ("sort_order", "locked") if name in values}
    if values:
        body = ShotUpdate.model_validate(values)
        shots.update_shot(uow, obj.id, body, obj.revision)
    if "locked" in special:
        _need(uow, Permission.SHOT_APPROVE, "lock or unlock shots")
        shots.set_locked(uow, obj.id, bool(special["locked"]), obj.revision)
    if "sort_order" in special:
        _need(uow, Permission.SHOT_STRUCTURE, "move shots")
        if obj.locked:
            raise Conflict(f"Shot {obj.code} is locked and cannot move.", field="sort_order")
        resources.update(uow, shots.SHOT, obj, {"sort_order": special["sort_order"]}, obj.revision)


def delete(uow: UnitOfWork, entity: str, obj: Any) -> None:
    if entity != "shot":
        spec = SPECS[entity]
        _need(uow, spec.write_permission, f"delete {spec.plural}")
        if spec.before_delete:
            spec.before_delete(uow, obj)
        resources.delete(uow, spec.res, obj, obj.revision)
        return
    _need(uow, Permission.SHOT_STRUCTURE, "delete shots")
    project = uow.session.get(Project, obj.project_id)
    if project is not None and project.confirmed_at is not None:
        raise Conflict(
            f"Shot {obj.code} belongs to a confirmed project; its folders exist, so it is not deleted. "
            "Set its status to 'omitted' instead.",
            field="id",
        )
    shots.delete_shot(uow, obj.id, obj.revision)


def recreate(uow: UnitOfWork, entity: str, project_id: uuid.UUID, snapshot: dict[str, Any]) -> None:
    """Bring back a deleted record with its old id from the snapshot taken when it was deleted."""
    if entity != "shot":
        spec = SPECS[entity]
        _need(uow, spec.write_permission, f"create {spec.plural}")
        model = spec.res.model
        columns = {c.key for c in model.__table__.columns} - NOT_COPIED
        obj = model(
            id=uuid.UUID(snapshot["id"]),
            project_id=project_id,
            **{k: v for k, v in snapshot.items() if k in columns},
        )
        resources.create(uow, spec.res, obj)
        return
    _need(uow, Permission.SHOT_STRUCTURE, "create shots")
    refs = {k: _uuid_or(snapshot.get(k)) for k in ("scene_id", "environment_id", "preset_id")}
    shots._check_refs(uow.session, project_id, refs)
    columns = {c.key for c in Shot.__table__.columns} - NOT_COPIED - {"sort_order"}
    shot = Shot(
        id=uuid.UUID(snapshot["id"]),
        project_id=project_id,
        sort_order=snapshot["order"],
        **{k: _uuid_or(v) if k.endswith("_id") else v for k, v in snapshot.items() if k in columns},
    )
    body = ShotUpdate.model_validate({"subjects": snapshot.get("subjects", [])})
    # The same reference rules as an edit: the characters must still exist in this project.
    shot.subjects = shots._subject_rows(uow.session, project_id, body.subjects or [])
    resources.create(uow, shots.SHOT, shot)


def _uuid_or(value: Any) -> Any:
    return uuid.UUID(value) if isinstance(value, str) else value
