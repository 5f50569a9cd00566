"""Writing an import in a few statements: one UPDATE per set of changed columns (many rows each), one
INSERT for the new shots, one DELETE (or UPDATE to omitted) for removed ones, one for the subjects and one
for the audit events. Everything is planned before the write transaction starts (the rules were checked
on the diff); each row's revision is checked by the UPDATE itself, so a shot edited meanwhile refuses the
whole apply instead of being overwritten."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Result, bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError

from ..context import EVENT_FIELDS, Principal, UnitOfWork
from ..db.base import utcnow
from ..db.models import Project, Shot, ShotSubject
from ..errors import Conflict
from ..shots.service import DEFAULT_SECONDS
from ..shots.status import allowed_next
from .data import FIELD_OF, ShotRow
from .diff import RowDiff

SHOTS = Shot.__table__
SUBJECTS = ShotSubject.__table__
BATCH = 1000  # rows per executemany call (bounded statements and parameter lists)
ORDER_STEP = 1000  # the gap a new shot leaves after the one it follows (as the shot service does)
DATETIME = TypeAdapter(datetime)
ID_COLUMNS = frozenset({"scene_id", "preset_id", "environment_id"})
CHANGED_MEANWHILE = "A shot changed while the import was being applied; nothing was applied. Preview again."


@dataclass(frozen=True)
class Origin:
    """Who applies, as the audit events name them (the unit of work's fields, without its session: the
    plan is made in another process)."""

    actor: Principal
    request_id: str | None = None
    remote_addr: str | None = None


@dataclass
class Writes:
    """Every statement's parameters and every audit event of an apply, made before the write transaction
    starts, so that the transaction (SQLite's one write lock) lasts only as long as the statements."""

    updates: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)  # columns -> rows
    creations: list[dict[str, Any]] = field(default_factory=list)
    subjects: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # shot id -> its new subjects
    omissions: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # audit events (see `_event`)
    prepared: Any = None  # the events' rows made ready ahead (`context.prepare_events`), where it applies
    applied: dict[str, list[str]] = field(
        default_factory=lambda: {"created": [], "updated": [], "removed": []}
    )


def plan(
    origin: Origin,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    row_ids: dict[int, str | None],
) -> Writes:
    """What applying the chosen rows and fields writes; no database work (the diff checked the rules)."""
    writes = Writes()
    now = utcnow()
    _updates(origin, project, current, chosen, now, writes)
    _creations(origin, project, current, chosen, row_ids, now, writes)
    _removals(origin, project, current, chosen, now, writes)
    return writes


def execute(uow: UnitOfWork, writes: Writes) -> None:
    """Run the planned statements in `uow`'s transaction and record the audit events (and change set)."""
    session = uow.session
    try:
        for columns, params in writes.updates.items():
            for batch in _batches(params):
                _expect(session.execute(_update_statement(columns), batch), len(batch))
        for batch in _batches(writes.creations):
            session.execute(insert(SHOTS), list(batch))
        _replace_subjects(uow, writes.subjects)
        omit = (
            update(SHOTS)
            .where(SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision"))
            .values(status="omitted", revision=bindparam("b_next"), updated_at=bindparam("b_at"))
        )
        remove = delete(SHOTS).where(
            SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision")
        )
        for statement, params in ((omit, writes.omissions), (remove, writes.deletions)):
            for batch in _batches(params):
                _expect(session.execute(statement, batch), len(batch))
    except IntegrityError as exc:
        # A code taken or a reference deleted by another writer since the diff was made.
        raise Conflict(CHANGED_MEANWHILE, field="file") from exc
    uow.record_all(writes.events, prepared=writes.prepared)


def _update_statement(columns: tuple[str, ...]) -> Any:
    return (
        update(SHOTS)
        .where(SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision"))
        .values(
            {api: bindparam(f"v_{api}") for api in columns}
            | {"revision": bindparam("b_next"), "updated_at": bindparam("b_at")}
        )
    )


# -- updates ----------------------------------------------------------------------------------------------


def _updates(
    origin: Origin,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    now: datetime,
    writes: Writes,
) -> None:
    for row, fields in chosen:
        if row.action != "changed":
            continue
        shot = current[row.shot_id or ""]
        values = {FIELD_OF[name]: row.values[name] for name in fields}
        changes = {api: [shot.values[api], new] for api, new in values.items() if new != shot.values[api]}
        if not changes:
            continue
        new_subjects = changes.get("subjects", [None, shot.values["subjects"]])[1]
        if "subjects" in changes:
            writes.subjects[shot.id] = new_subjects
        columns = tuple(sorted(api for api in changes if api != "subjects"))
        stored = {api: _stored(api, values[api]) for api in columns}
        writes.updates.setdefault(columns, []).append(
            {
                "b_id": uuid.UUID(shot.id),
                "b_revision": shot.revision,
                "b_next": shot.revision + 1,
                "b_at": now,
                **{f"v_{api}": value for api, value in stored.items()},
            }
        )
        record = {**shot.record, **stored, "revision": shot.revision + 1, "updated_at": now}
        writes.events.append(
            _event(
                origin,
                "shot.updated",
                shot.id,
                project_id=project.id,
                revision_before=shot.revision,
                revision_after=shot.revision + 1,
                changes=changes,
                data=_out(record, new_subjects),
            )
        )
        writes.applied["updated"].append(row.code)


# -- new shots --------------------------------------------------------------------------------------------


def _creations(
    origin: Origin,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    row_ids: dict[int, str | None],
    now: datetime,
    writes: Writes,
) -> None:
    added = {row.row: row for row, _ in chosen if row.action == "added" and row.row is not None}
    if not added:
        return
    orders = sorted(shot.order for shot in current.values())
    order_of = {shot_id: shot.order for shot_id, shot in current.items()}
    default_frames = max(1, round(DEFAULT_SECONDS * project.fps_num / project.fps_den))
    records: list[dict[str, Any]] = []
    after: str | None = None  # the shot of the nearest row above (existing, or new and made here)
    for number in sorted(set(row_ids) | set(added)):
        row = added.get(number)
        if row is None:
            after = row_ids.get(number) or after
            continue
        values = {FIELD_OF[name]: value for name, value in row.values.items()}
        new_id = str(uuid.uuid4())
        order = _order_after(orders, order_of.get(after) if after else None, row)
        bisect.insort(orders, order)
        order_of[new_id] = order
        after = new_id
        record = {
            "id": uuid.UUID(new_id),
            "project_id": project.id,
            "sort_order": order,
            "description": "",
            "action": "",
            "dialogue": "",
            "camera_notes": "",
            "handle_in": None,
            "handle_out": None,
            "preset_id": None,
            "environment_id": None,
            "status": "draft",
            "locked": False,
            "render_workflow": None,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
            **{api: _stored(api, v) for api, v in values.items() if api != "subjects" and v is not None},
        }
        record.setdefault("duration_frames", default_frames)
        records.append(record)
        writes.subjects[new_id] = values.get("subjects") or []
        writes.applied["created"].append(record["code"])
        writes.events.append(
            _event(
                origin,
                "shot.created",
                new_id,
                project_id=project.id,
                revision_after=1,
                data=_out(record, writes.subjects[new_id]),
            )
        )
    writes.creations += records


def _order_after(orders: list[int], after: int | None, row: RowDiff) -> int:
    """A sort key after the shot at `after` (or at the end) without renumbering any other shot."""
    if after is None:
        return (orders[-1] if orders else 0) + ORDER_STEP
    following = bisect.bisect_right(orders, after)
    if following == len(orders):
        return after + ORDER_STEP
    if orders[following] - after < 2:
        raise Conflict(
            f"Nothing was applied: row {row.row}: no room to insert a shot here without renumbering; "
            "reorder the shot list first.",
            field="file",
            row=row.row,
        )
    return (after + orders[following]) // 2


# -- subjects and removals --------------------------------------------------------------------------------


def _replace_subjects(uow: UnitOfWork, subjects: dict[str, list[dict[str, str]]]) -> None:
    if not subjects:
        return
    ids = [uuid.UUID(shot_id) for shot_id in subjects]
    for batch in _batches(ids):
        uow.session.execute(delete(SUBJECTS).where(SUBJECTS.c.shot_id.in_(batch)))
    rows = [
        {
            "shot_id": uuid.UUID(shot_id),
            "character_id": uuid.UUID(subject["character_id"]),
            "clothing": subject.get("clothing") or "",
            "position": position,
        }
        for shot_id, chosen in subjects.items()
        for position, subject in enumerate(chosen)
    ]
    for batch in _batches(rows):
        uow.session.execute(insert(SUBJECTS), list(batch))


def _removals(
    origin: Origin,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    now: datetime,
    writes: Writes,
) -> None:
    shots = [current[row.shot_id or ""] for row, _ in chosen if row.action == "removed"]
    if project.confirmed_at is not None:
        # Its folders exist: a removed shot is omitted, keeping its work.
        shots = [shot for shot in shots if shot.values["status"] != "omitted"]
        for shot in shots:
            writes.omissions.append(
                {
                    "b_id": uuid.UUID(shot.id),
                    "b_revision": shot.revision,
                    "b_next": shot.revision + 1,
                    "b_at": now,
                }
            )
            record = {**shot.record, "status": "omitted", "revision": shot.revision + 1, "updated_at": now}
            writes.events.append(
                _event(
                    origin,
                    "shot.updated",
                    shot.id,
                    project_id=project.id,
                    revision_before=shot.revision,
                    revision_after=shot.revision + 1,
                    changes={"status": [shot.values["status"], "omitted"]},
                    data=_out(record, shot.values["subjects"]),
                )
            )
    else:
        for shot in shots:
            writes.deletions.append({"b_id": uuid.UUID(shot.id), "b_revision": shot.revision})
            writes.events.append(
                _event(
                    origin,
                    "shot.deleted",
                    shot.id,
                    project_id=project.id,
                    revision_before=shot.revision,
                    data=_out(shot.record, shot.values["subjects"]),
                )
            )
    writes.applied["removed"] += [shot.values["code"] for shot in shots]


# -- helpers ----------------------------------------------------------------------------------------------


def _stored(api: str, value: Any) -> Any:
    """An API value as the column stores it (ids are UUIDs)."""
    if api in ID_COLUMNS and isinstance(value, str):
        return uuid.UUID(value)
    return value


def _event(
    origin: Origin,
    action: str,
    shot_id: object,
    project_id: uuid.UUID,
    *,
    data: dict[str, Any],
    revision_before: int | None = None,
    revision_after: int | None = None,
    changes: dict[str, Any] | None = None,
) -> SimpleNamespace:
    """An audit event as `UnitOfWork.event` makes it, as a plain object with the same fields: an
    ORM-instrumented AuditEvent costs hundreds of microseconds to make, and an import records tens of
    thousands (their values are JSON already, so they need no round trip through json either)."""
    actor = origin.actor
    values: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    values.update(
        at=utcnow(),
        actor_id=None if actor.kind == "system" else actor.id,
        actor_name=actor.name,
        actor_kind=actor.kind,
        action=action,
        entity="shot",
        entity_id=str(shot_id),
        project_id=project_id,
        revision_before=revision_before,
        revision_after=revision_after,
        changes=changes or {},
        data=data,
        request_id=origin.request_id,
        remote_addr=origin.remote_addr,
    )
    return SimpleNamespace(id=None, **values)


def _out(record: dict[str, Any], subjects: list[dict[str, str]]) -> dict[str, Any]:
    """The shot as the API shows it (the audit event's data, the same as a single edit records), built
    without validating what the database already holds."""
    status = record["status"]
    return {
        "id": str(record["id"]),
        "project_id": str(record["project_id"]),
        "scene_id": str(record["scene_id"]),
        "code": record["code"],
        "order": record["sort_order"],
        "description": record["description"],
        "action": record["action"],
        "dialogue": record["dialogue"],
        "camera_notes": record["camera_notes"],
        "duration_frames": record["duration_frames"],
        "handle_in": record["handle_in"],
        "handle_out": record["handle_out"],
        "preset_id": _text_or_none(record["preset_id"]),
        "environment_id": _text_or_none(record["environment_id"]),
        "subjects": [
            {"character_id": str(s["character_id"]), "clothing": s.get("clothing") or ""} for s in subjects
        ],
        "status": status,
        "next_statuses": list(allowed_next(status)),
        "locked": record["locked"],
        "render_workflow": record["render_workflow"],
        "render_recipe": record.get("render_recipe"),
        "revision": record["revision"],
        "created_at": _when(record["created_at"]),
        "updated_at": _when(record["updated_at"]),
    }


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: datetime) -> str:
    """A time as the API writes it (pydantic's JSON form: ISO 8601, UTC as Z)."""
    return DATETIME.dump_python(value, mode="json")  # type: ignore[no-any-return]


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _expect(result: Result[Any], rows: int) -> None:
    """Every row matched its revision: otherwise someone edited one of these shots since the diff."""
    if result.rowcount != rows:  # type: ignore[attr-defined]
        raise Conflict(CHANGED_MEANWHILE, field="file")
