"""Import: read → validate → diff preview → apply the chosen rows and fields in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project, Scene, Shot
from ..errors import ApiError, Forbidden, Unprocessable
from ..history import edits, recorder
from ..history.batch import BatchUnitOfWork
from ..shots import service as shots
from ..shots.schemas import ShotCreate
from ..storage.layout import ProjectLayout
from .codes import assign
from .data import FIELD_OF, lookups, shot_rows
from .diff import RowDiff, diff, parse_time
from .problems import Problem
from .reader import read_upload
from .schemas import Selection
from .validate import validate

MAX_LISTED_PROBLEMS = 200


@dataclass
class Preview:
    filename: str
    sheet: str
    rows_read: int
    problems: list[Problem]
    rows: list[RowDiff] = field(default_factory=list)
    row_ids: dict[int, str | None] = field(default_factory=dict)  # row number -> shot id (None: new)
    row_codes: dict[int, str | None] = field(default_factory=dict)  # row number -> code (None: to make)

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        counts = {
            action: sum(r.action == action for r in self.rows) for action in ("added", "changed", "removed")
        }
        counts["conflicts"] = sum(f.conflict for r in self.rows for f in r.fields)
        counts["unchanged"] = self.rows_read - counts["added"] - counts["changed"]
        errors = [p for p in self.problems if p.blocking]
        warnings = [p for p in self.problems if not p.blocking]
        return {
            "filename": self.filename,
            "sheet": self.sheet,
            "rows_read": self.rows_read,
            "can_apply": not self.blocked,
            "errors": [p.as_dict() for p in errors[:MAX_LISTED_PROBLEMS]],
            "error_count": len(errors),
            "warnings": [p.as_dict() for p in warnings[:MAX_LISTED_PROBLEMS]],
            "summary": counts,
            "rows": [r.as_dict() for r in self.rows],
        }


def preview(session: Session, project_id: uuid.UUID, filename: str, content: bytes, max_rows: int) -> Preview:
    project = get_or_404(session, Project, project_id, "project")
    table = read_upload(filename, content, max_rows)
    result = Preview(filename, table.sheet, len(table.rows), table.problems)
    if table.blocked:
        return result
    if table.meta.get("project_id") not in (None, str(project.id)):
        table.warn(
            f"This file was exported from project "
            f"{table.meta.get('project_code') or table.meta['project_id']}; "
            "IDs of that project's shots will not be found here."
        )
    current = {row.id: row for row in shot_rows(session, project.id)}
    names = lookups(session, project.id)
    rows = validate(table, names, current, ProjectLayout.of(project))
    result.problems = table.problems
    if table.blocked:
        return result
    result.row_ids = {row.row: row.shot_id for row in rows}
    result.row_codes = {
        row.row: row.values.get("code") or (current[row.shot_id].values["code"] if row.shot_id else None)
        for row in rows
    }
    result.rows = diff(
        session,
        rows,
        current,
        names,
        has_ids="id" in table.headers,
        exported_at=parse_time(table.meta.get("exported_at")),
    )
    return result


def refuse_blocked(result: Preview) -> None:
    errors = [p for p in result.problems if p.blocking]
    listed = "; ".join(f"{p.where() or result.filename}: {p.message}" for p in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    raise Unprocessable(
        f"Nothing was applied: {len(errors)} problem(s) in {result.filename}: {listed}{more}",
        errors=[
            {
                "field": p.column or "file",
                "message": p.message,
                "sheet": p.sheet,
                "row": p.row,
                "cell": p.cell,
            }
            for p in errors[:MAX_LISTED_PROBLEMS]
        ],
    )


def apply(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    filename: str,
    content: bytes,
    selection: Selection,
    max_rows: int,
) -> dict[str, Any]:
    """Recompute the diff inside the write transaction, apply what was chosen, commit once."""
    result = preview(uow.session, project_id, filename, content, max_rows)
    if result.blocked:
        refuse_blocked(result)
    batch = BatchUnitOfWork.around(uow)
    recorder.start(batch, "edit", None, f"import {filename}"[:200])
    applied: dict[str, list[str]] = {"created": [], "updated": [], "removed": []}
    row_ids = dict(result.row_ids)
    # Held for the whole apply: the session's identity map is weak, and the services look these up per row.
    alive = [get_or_404(uow.session, Project, project_id, "project")]
    alive += uow.session.scalars(select(Scene).where(Scene.project_id == project_id)).all()
    _new_codes(uow.session, alive[0], result)
    for row_diff, fields in _choose(result.rows, selection):
        try:
            _apply_row(batch, project_id, row_diff, fields, row_ids, applied)
        except ApiError as exc:
            where = f"row {row_diff.row}" if row_diff.row else "a removed row"
            raise exc.__class__(
                f"Nothing was applied: {where} ({row_diff.code}): {exc.detail}",
                errors=[{**e, "row": row_diff.row} for e in exc.errors] or None,
                **exc.extra,
            ) from exc
    del alive
    change_set = batch.history.sets.get(project_id) if batch.history else None
    batch.session.flush()
    change_set_id = change_set.id if change_set is not None else None
    batch.finish()
    return {"applied": applied, "change_set_id": change_set_id, "preview": result.as_dict()}


def _new_codes(session: Session, project: Project, result: Preview) -> None:
    """Give new rows without a code theirs now, from their neighbours in the file."""
    added = {r.row: r for r in result.rows if r.action == "added" and not r.values.get("code")}
    if not added:
        return
    codes = {r: c for r, c in result.row_codes.items()}
    order = sorted(codes)
    filled = assign(
        ProjectLayout.of(project),
        list(session.scalars(select(Shot.code).where(Shot.project_id == project.id))),
        [codes[r] for r in order],
    )
    for number, code in zip(order, filled, strict=True):
        if number in added:
            added[number].values["code"] = code
            added[number].code = code or added[number].code


def _apply_row(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    row: RowDiff,
    fields: list[str],
    row_ids: dict[int, str | None],
    applied: dict[str, list[str]],
) -> None:
    values = {FIELD_OF[name]: row.values[name] for name in fields if name in row.values}
    if row.action == "changed":
        shot = edits.load(uow.session, "shot", row.shot_id or "")
        assert shot is not None  # it was read in this transaction
        edits.update(uow, "shot", shot, values)
        applied["updated"].append(row.code)
    elif row.action == "added":
        assert row.row is not None
        before = [r for r in row_ids if r < row.row and row_ids[r]]
        after_id = row_ids[max(before)] if before else None
        body = ShotCreate.model_validate(
            {k: v for k, v in values.items() if v is not None} | {"after_shot_id": after_id}
        )
        created = shots.create_shot(uow, project_id, body)
        row_ids[row.row] = str(created.id)
        applied["created"].append(created.code)
    else:
        if not uow.actor.can(Permission.SHOT_STRUCTURE):
            raise Forbidden(
                f"Role '{uow.actor.role}' may not remove shots (needs shot:structure).",
                required=[Permission.SHOT_STRUCTURE.value],
            )
        shot = edits.load(uow.session, "shot", row.shot_id or "")
        if shot is not None:
            shots.delete_shot(uow, shot.id, shot.revision)
            applied["removed"].append(row.code)


def _choose(rows: list[RowDiff], selection: Selection) -> list[tuple[RowDiff, list[str]]]:
    """The rows and fields to apply: by default every added and changed row without its conflicts."""
    picks = {p.key: p for p in selection.rows} if selection.rows is not None else None
    chosen: list[tuple[RowDiff, list[str]]] = []
    for row in rows:
        if row.action == "removed":
            if row.key in selection.remove:
                chosen.append((row, []))
            continue
        pick = picks.get(row.key) if picks is not None else None
        if picks is not None and pick is None:
            continue
        wanted = set(pick.fields) if pick is not None and pick.fields is not None else None
        overwrite = set(pick.overwrite) if pick is not None else set()
        fields = [
            f.field
            for f in row.fields
            if (wanted is None or f.field in wanted) and (not f.conflict or f.field in overwrite)
        ]
        if row.action == "added":
            fields = list(row.values)
        if fields:
            chosen.append((row, fields))
    return chosen
