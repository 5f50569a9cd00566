"""Writing an import in a few statements: one UPDATE per set of changed columns (many rows each), one
INSERT for the new shots, one DELETE (or UPDATE to omitted) for removed ones, one for the subjects and one
for the audit events. The rules were checked on the diff; each row's revision is checked by the UPDATE
itself, so a shot edited meanwhile refuses the whole apply instead of being overwritten."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Result, bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError

from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import AuditEvent, Project, Shot, ShotSubject
from ..errors import Conflict
from ..shots.schemas import ShotOut
from ..shots.service import DEFAULT_SECONDS
from .data import FIELD_OF, ShotRow
from .diff import RowDiff

SHOTS = Shot.__table__
SUBJECTS = ShotSubject.__table__
BATCH = 1000  # rows per executemany call (bounded statements and parameter lists)
ORDER_STEP = 1000  # the gap a new shot leaves after the one it follows (as the shot service does)
ID_COLUMNS = frozenset({"scene_id", "preset_id", "environment_id"})
CHANGED_MEANWHILE = "A shot changed while the import was being applied; nothing was applied. Preview again."


def write(
    uow: UnitOfWork,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    row_ids: dict[int, str | None],
) -> dict[str, list[str]]:
    """Apply the chosen rows and fields; the audit events (and so the change set) are recorded too."""
    now = utcnow()
    applied: dict[str, list[str]] = {"created": [], "updated": [], "removed": []}
    events: list[AuditEvent] = []
    subjects: dict[str, list[dict[str, str]]] = {}  # shot id -> its new subjects
    try:
        events += _updates(uow, project, current, chosen, now, subjects, applied)
        events += _creations(uow, project, current, chosen, row_ids, now, subjects, applied)
        _replace_subjects(uow, subjects)
        events += _removals(uow, project, current, chosen, now, applied)
    except IntegrityError as exc:
        # A code taken or a reference deleted by another writer since the diff was made.
        raise Conflict(CHANGED_MEANWHILE, field="file") from exc
    uow.record_all(events)
    return applied


# -- updates ----------------------------------------------------------------------------------------------


def _updates(
    uow: UnitOfWork,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    now: datetime,
    subjects: dict[str, list[dict[str, str]]],
    applied: dict[str, list[str]],
) -> list[AuditEvent]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # changed columns -> one parameter set per shot
    events = []
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
            subjects[shot.id] = new_subjects
        columns = tuple(sorted(api for api in changes if api != "subjects"))
        stored = {api: _stored(api, values[api]) for api in columns}
        groups.setdefault(columns, []).append(
            {
                "b_id": uuid.UUID(shot.id),
                "b_revision": shot.revision,
                "b_next": shot.revision + 1,
                "b_at": now,
                **{f"v_{api}": value for api, value in stored.items()},
            }
        )
        record = {**shot.record, **stored, "revision": shot.revision + 1, "updated_at": now}
        events.append(
            uow.event(
                "shot.updated",
                "shot",
                shot.id,
                project_id=project.id,
                revision_before=shot.revision,
                revision_after=shot.revision + 1,
                changes=changes,
                data=_out(record, new_subjects),
            )
        )
        applied["updated"].append(row.code)
    for columns, params in groups.items():
        stmt = (
            update(SHOTS)
            .where(SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision"))
            .values(
                {api: bindparam(f"v_{api}") for api in columns}
                | {"revision": bindparam("b_next"), "updated_at": bindparam("b_at")}
            )
        )
        for batch in _batches(params):
            _expect(uow.session.execute(stmt, batch), len(batch))
    return events


# -- new shots --------------------------------------------------------------------------------------------


def _creations(
    uow: UnitOfWork,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    row_ids: dict[int, str | None],
    now: datetime,
    subjects: dict[str, list[dict[str, str]]],
    applied: dict[str, list[str]],
) -> list[AuditEvent]:
    added = {row.row: row for row, _ in chosen if row.action == "added" and row.row is not None}
    if not added:
        return []
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
        subjects[new_id] = values.get("subjects") or []
        applied["created"].append(record["code"])
    for batch in _batches(records):
        uow.session.execute(insert(SHOTS), list(batch))
    return [
        uow.event(
            "shot.created",
            "shot",
            record["id"],
            project_id=project.id,
            revision_after=1,
            data=_out(record, subjects[str(record["id"])]),
        )
        for record in records
    ]


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
    uow: UnitOfWork,
    project: Project,
    current: dict[str, ShotRow],
    chosen: list[tuple[RowDiff, list[str]]],
    now: datetime,
    applied: dict[str, list[str]],
) -> list[AuditEvent]:
    shots = [current[row.shot_id or ""] for row, _ in chosen if row.action == "removed"]
    events = []
    if project.confirmed_at is not None:
        # Its folders exist: a removed shot is omitted, keeping its work.
        shots = [shot for shot in shots if shot.values["status"] != "omitted"]
        params = [
            {"b_id": uuid.UUID(s.id), "b_revision": s.revision, "b_next": s.revision + 1, "b_at": now}
            for s in shots
        ]
        stmt = (
            update(SHOTS)
            .where(SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision"))
            .values(status="omitted", revision=bindparam("b_next"), updated_at=bindparam("b_at"))
        )
        for shot in shots:
            record = {**shot.record, "status": "omitted", "revision": shot.revision + 1, "updated_at": now}
            events.append(
                uow.event(
                    "shot.updated",
                    "shot",
                    shot.id,
                    project_id=project.id,
                    revision_before=shot.revision,
                    revision_after=shot.revision + 1,
                    changes={"status": [shot.values["status"], "omitted"]},
                    data=_out(record, shot.values["subjects"]),
                )
            )
    else:
        params = [{"b_id": uuid.UUID(s.id), "b_revision": s.revision} for s in shots]
        stmt = delete(SHOTS).where(
            SHOTS.c.id == bindparam("b_id"), SHOTS.c.revision == bindparam("b_revision")
        )
        events = [
            uow.event(
                "shot.deleted",
                "shot",
                shot.id,
                project_id=project.id,
                revision_before=shot.revision,
                data=_out(shot.record, shot.values["subjects"]),
            )
            for shot in shots
        ]
    for batch in _batches(params):
        _expect(uow.session.execute(stmt, batch), len(batch))
    applied["removed"] += [shot.values["code"] for shot in shots]
    return events


# -- helpers ----------------------------------------------------------------------------------------------


def _stored(api: str, value: Any) -> Any:
    """An API value as the column stores it (ids are UUIDs)."""
    if api in ID_COLUMNS and isinstance(value, str):
        return uuid.UUID(value)
    return value


def _out(record: dict[str, Any], subjects: list[dict[str, str]]) -> dict[str, Any]:
    """The shot as the API shows it (the audit event's data, the same as a single edit records)."""
    chosen = [
        SimpleNamespace(character_id=s["character_id"], clothing=s.get("clothing") or "") for s in subjects
    ]
    view = SimpleNamespace(**record, subjects=chosen)
    return ShotOut.of(view).model_dump(mode="json")


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _expect(result: Result[Any], rows: int) -> None:
    """Every row matched its revision: otherwise someone edited one of these shots since the diff."""
    if result.rowcount != rows:  # type: ignore[attr-defined]
        raise Conflict(CHANGED_MEANWHILE, field="file")
