"""The diff preview: per row and field, what the file adds, changes and removes, and where the server
changed the same field since the export (a conflict, found by revision in the audit log)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import AuditEvent
from .data import COLUMN_OF, FIELD_OF, Lookups, ShotRow, display
from .validate import ImportRow


@dataclass
class FieldDiff:
    field: str  # column key: "description", "preset", "characters", ...
    old: Any  # as exported (or as the server has it, for an unchanged server field)
    new: Any  # in the file
    server: Any  # on the server now
    conflict: bool = False


@dataclass
class RowDiff:
    key: str  # the shot id, or "row:<n>" for a new shot
    row: int | None
    shot_id: str | None
    code: str
    action: str  # added | changed | removed
    revision_file: int | None = None
    revision_now: int | None = None
    stale: bool = False
    fields: list[FieldDiff] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict, repr=False)  # API values to apply, by column

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("values")
        return out


def diff(
    session: Session,
    rows: list[ImportRow],
    current: dict[str, ShotRow],
    names: Lookups,
    *,
    has_ids: bool,
    exported_at: datetime | None,
) -> list[RowDiff]:
    stale = {r.shot_id: r.revision for r in rows if r.shot_id and r.revision != current[r.shot_id].revision}
    exported = _values_at_export(session, stale)
    result: list[RowDiff] = []
    for row in rows:
        if row.shot_id is None:
            fields = [
                FieldDiff(COLUMN_OF[api], None, display(api, value, names.names), None)
                for api, value in row.values.items()
                if value not in (None, "", [])
            ]
            result.append(
                RowDiff(
                    f"row:{row.row}",
                    row.row,
                    None,
                    row.values.get("code") or "(new)",
                    "added",
                    fields=fields,
                    values={COLUMN_OF[a]: v for a, v in row.values.items()},
                )
            )
            continue
        shot = current[row.shot_id]
        changed = _row_fields(row, shot, exported.get(row.shot_id), row.shot_id in stale, names)
        if changed:
            result.append(
                RowDiff(
                    row.shot_id,
                    row.row,
                    row.shot_id,
                    shot.values["code"],
                    "changed",
                    row.revision,
                    shot.revision,
                    row.shot_id in stale,
                    [f for f, _ in changed],
                    {f.field: value for f, value in changed},
                )
            )
    if has_ids:
        in_file = {r.shot_id for r in rows if r.shot_id}
        for shot_id, shot in current.items():
            if shot_id in in_file or (exported_at is not None and shot.created_at > exported_at):
                continue  # a shot made after the export is not "removed" from a file that never had it
            result.append(
                RowDiff(shot_id, None, shot_id, shot.values["code"], "removed", revision_now=shot.revision)
            )
    return result


def _row_fields(
    row: ImportRow, shot: ShotRow, at_export: dict[str, Any] | None, stale: bool, names: Lookups
) -> list[tuple[FieldDiff, Any]]:
    changed = []
    for api, new in row.values.items():
        if api == "status" and new is None:
            continue
        now = shot.values[api]
        column = COLUMN_OF[api]
        shown = (display(api, now, names.names), display(api, new, names.names))
        if stale and at_export is None:
            # The audit log cannot say what changed since the export: every difference is a conflict.
            if new != now:
                changed.append((FieldDiff(column, None, shown[1], shown[0], conflict=True), new))
            continue
        if at_export is not None and api in at_export:
            before = at_export[api]
            if new in (before, now):
                continue  # the file keeps the exported value (or agrees): the server's edit stands
            old = display(api, before, names.names)
            changed.append((FieldDiff(column, old, shown[1], shown[0], conflict=True), new))
        elif new != now:
            changed.append((FieldDiff(column, shown[0], shown[1], shown[0]), new))
    return changed


def _values_at_export(session: Session, stale: dict[str, int | None]) -> dict[str, dict[str, Any]]:
    """For each stale shot, the value each field had at the exported revision, for the fields edited since."""
    found: dict[str, dict[str, Any]] = {}
    if not stale:
        return found
    complete: dict[str, int] = {}
    ids = list(stale)
    for start in range(0, len(ids), 500):
        stmt = (
            select(
                AuditEvent.entity_id,
                AuditEvent.revision_before,
                AuditEvent.revision_after,
                AuditEvent.changes,
            )
            .where(AuditEvent.entity == "shot", AuditEvent.entity_id.in_(ids[start : start + 500]))
            .where(AuditEvent.action == "shot.updated")
            .order_by(AuditEvent.id)
        )
        for shot_id, rev_before, rev_after, changes in session.execute(stmt):
            exported_revision = stale[shot_id]
            if exported_revision is None or rev_before is None or rev_before < exported_revision:
                continue
            if rev_before == exported_revision:
                complete[shot_id] = rev_after
            fields = found.setdefault(shot_id, {})
            for name, pair in (changes or {}).items():
                if name in FIELD_OF.values():
                    fields.setdefault(name, pair[0])
    # Without the event that left the exported revision, the log is incomplete: say nothing.
    return {shot_id: fields for shot_id, fields in found.items() if shot_id in complete}


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def as_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
