"""The diff preview: per row and field, what the file adds, changes and removes, where the server changed
the same field since the export (a conflict, found by revision in the audit log), and which edits the
server will refuse (a locked shot, the caller's role) — all known before anything is applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..context import Principal
from ..db.models import AuditEvent
from ..shots import status as workflow
from ..shots.service import STRUCTURAL
from .data import COLUMN_OF, FIELD_OF, Lookups, ShotRow, display
from .reader import RawTable
from .validate import TEXT_FIELDS, ImportRow

TEXT_API_FIELDS = frozenset(FIELD_OF[c] for c in TEXT_FIELDS)


@dataclass
class FieldDiff:
    field: str  # column key: "description", "preset", "characters", ...
    old: Any  # as exported (or as the server has it, for an unchanged server field)
    new: Any  # in the file
    server: Any  # on the server now
    conflict: bool = False


@dataclass(frozen=True)
class Refusal:
    """An edit of the file the server will not make, and why (said in the preview, refused at apply)."""

    field: str  # column key, "" for the whole row (a new or removed shot)
    old: Any
    new: Any
    reason: str
    forbidden: bool  # 403 (the role) rather than 409 (the shot's state)

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "reason": self.reason}


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
    fields: list[FieldDiff] = field(default_factory=list)  # edits that can be applied (conflicts too)
    refused: list[Refusal] = field(default_factory=list)  # edits the server refuses; never applied
    values: dict[str, Any] = field(default_factory=dict, repr=False)  # API values to apply, by column

    @property
    def applies_by_default(self) -> bool:
        """Whether an apply without a selection changes this row."""
        if self.action == "added":
            return not self.refused
        return self.action == "changed" and any(not f.conflict for f in self.fields)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "row": self.row,
            "shot_id": self.shot_id,
            "code": self.code,
            "action": self.action,
            "revision_file": self.revision_file,
            "revision_now": self.revision_now,
            "stale": self.stale,
            "fields": [f.__dict__.copy() for f in self.fields],
            "refused": [r.as_dict() for r in self.refused],
        }


@dataclass(frozen=True)
class Rules:
    """What the caller may do to which shot: the same rules as the shot service, asked per field."""

    actor: Principal
    confirmed: bool  # the project's folders exist: removed shots are omitted, not deleted

    def edit(self, shot: ShotRow, api: str, new: Any, code: str) -> tuple[str, bool] | None:
        """(reason, forbidden) when the server refuses setting `api` to `new`; None when it may."""
        role = self.actor.role
        if api in STRUCTURAL:
            if not self.actor.can(Permission.SHOT_STRUCTURE):
                return f"Role '{role}' may not change {api} (needs shot:structure).", True
            if shot.locked:
                return f"Shot {code} is locked; {api} cannot change until a director unlocks it.", False
        if api == "status":
            now = shot.values["status"]
            if not workflow.is_allowed(now, new):
                allowed = ", ".join(workflow.allowed_next(now)) or "none"
                return f"A shot in '{now}' cannot move to '{new}'; allowed: {allowed}.", False
            if workflow.needs_approval(now, new) and not self.actor.can(Permission.SHOT_APPROVE):
                return (
                    f"Role '{role}' may not move a shot from '{now}' to '{new}' (needs shot:approve).",
                    True,
                )
        return None

    def add(self) -> tuple[str, bool] | None:
        if not self.actor.can(Permission.SHOT_STRUCTURE):
            return f"Role '{self.actor.role}' may not add shots (needs shot:structure).", True
        return None

    def remove(self, shot: ShotRow, code: str) -> tuple[str, bool] | None:
        if not self.actor.can(Permission.SHOT_STRUCTURE):
            return f"Role '{self.actor.role}' may not remove shots (needs shot:structure).", True
        if shot.locked:
            return f"Shot {code} is locked and cannot be deleted.", False
        status = shot.values["status"]
        if self.confirmed:
            if status == "omitted":
                return None
            return self.edit(shot, "status", "omitted", code)
        if status != "draft":
            return (
                f"Shot {code} is '{status}'; only draft shots are deleted. Set its status to 'omitted' "
                "instead, which keeps its work.",
                False,
            )
        return None


def diff(
    session: Session,
    table: RawTable,
    rows: list[ImportRow],
    current: dict[str, ShotRow],
    names: Lookups,
    rules: Rules,
    *,
    exported_at: datetime | None,
) -> list[RowDiff]:
    """Every row that differs; a status move the workflow forbids is a blocking problem of `table`."""
    stale = {r.shot_id: r.revision for r in rows if r.shot_id and r.revision != current[r.shot_id].revision}
    exported = _values_at_export(session, stale)
    result: list[RowDiff] = []
    for row in rows:
        if row.shot_id is None:
            result.append(_added(row, names, rules))
            continue
        shot = current[row.shot_id]
        code = shot.values["code"]
        changed = _row_fields(row, shot, exported.get(row.shot_id), row.shot_id in stale, names)
        if not changed:
            continue
        found = RowDiff(
            row.shot_id,
            row.row,
            row.shot_id,
            code,
            "changed",
            row.revision,
            shot.revision,
            row.shot_id in stale,
        )
        for diff_field, value in changed:
            api = FIELD_OF[diff_field.field]
            refusal = rules.edit(shot, api, value, code)
            if refusal is None:
                found.fields.append(diff_field)
                found.values[diff_field.field] = value
            elif api == "status" and not diff_field.conflict and not refusal[1]:
                # An edit the workflow forbids is an error of the file, as any impossible value is.
                table.fail(
                    refusal[0],
                    row=row.row,
                    column=table.headers.get("status", "status"),
                    cell=row.refs.get("status", ""),
                )
            else:
                found.refused.append(
                    Refusal(diff_field.field, diff_field.old, diff_field.new, refusal[0], refusal[1])
                )
        result.append(found)
    if "id" in table.headers:
        in_file = {r.shot_id for r in rows if r.shot_id}
        for shot_id, shot in current.items():
            if shot_id in in_file or (exported_at is not None and shot.created_at > exported_at):
                continue  # a shot made after the export is not "removed" from a file that never had it
            code = shot.values["code"]
            removed = RowDiff(shot_id, None, shot_id, code, "removed", revision_now=shot.revision)
            refusal = rules.remove(shot, code)
            if refusal is not None:
                removed.refused.append(Refusal("", code, None, refusal[0], refusal[1]))
            result.append(removed)
    return result


def _added(row: ImportRow, names: Lookups, rules: Rules) -> RowDiff:
    fields = [
        FieldDiff(COLUMN_OF[api], None, display(api, value, names.names), None)
        for api, value in row.values.items()
        if value not in (None, "", [])
    ]
    added = RowDiff(
        f"row:{row.row}",
        row.row,
        None,
        row.values.get("code") or "(new)",
        "added",
        fields=fields,
        values={COLUMN_OF[a]: v for a, v in row.values.items()},
    )
    refusal = rules.add()
    if refusal is not None:
        added.refused.append(Refusal("", None, added.code, refusal[0], refusal[1]))
    return added


def same(api: str, a: Any, b: Any) -> bool:
    """Equal as the server keeps them; text that differs only in line endings is the same text."""
    if a == b:
        return True
    if api in TEXT_API_FIELDS and isinstance(a, str) and isinstance(b, str):
        return _lines(a) == _lines(b)
    return False


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
            if not same(api, new, now):
                changed.append((FieldDiff(column, None, shown[1], shown[0], conflict=True), new))
            continue
        if at_export is not None and api in at_export:
            before = at_export[api]
            if same(api, new, before) or same(api, new, now):
                continue  # the file keeps the exported value (or agrees): the server's edit stands
            old = display(api, before, names.names)
            changed.append((FieldDiff(column, old, shown[1], shown[0], conflict=True), new))
        elif not same(api, new, now):
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
