"""Import: read → validate → diff preview → apply the chosen rows and fields in one transaction.

The file is read, validated, diffed and its writes planned in a child process, in a read session of its own
(see `offload`: no write lock held and nothing on the server's GIL while it is parsed); the write
transaction checks that nothing changed since (else plans again while holding the lock) and writes in
bulk."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..context import Principal, UnitOfWork
from ..crud import get_or_404
from ..db.models import Project, Shot
from ..errors import ApiError, Conflict, Forbidden, PayloadTooLarge, Unprocessable
from ..history import recorder
from ..history.batch import BatchUnitOfWork
from ..shots.service import lock_project_codes
from ..storage.layout import ProjectLayout
from . import bulk
from .codes import assign
from .data import Lookups, ShotRow, lookups, shot_rows
from .diff import Refusal, RowDiff, Rules, diff, parse_time
from .limits import WorkbookLimits, WorkbookTooLarge
from .planned import Planned, Written
from .problems import Problem
from .reader import read_upload
from .schemas import Selection
from .settings import ShotlistSettings
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
    # What the diff was made against, to tell at apply time whether the project changed since.
    current: dict[str, ShotRow] = field(default_factory=dict, repr=False)
    names: Lookups | None = field(default=None, repr=False)
    project: Project | None = field(default=None, repr=False)

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)

    def summary(self) -> dict[str, int]:
        """What an apply without a selection does: the counts match its answer."""
        added = sum(r.action == "added" and r.applies_by_default for r in self.rows)
        changed = sum(r.action == "changed" and r.applies_by_default for r in self.rows)
        differing = sum(r.action in ("added", "changed") for r in self.rows)
        return {
            "added": added,
            "changed": changed,
            "removed": sum(r.action == "removed" for r in self.rows),
            "conflicts": sum(f.conflict for r in self.rows for f in r.fields),
            "refused": sum(bool(r.refused) and r.action != "removed" for r in self.rows),
            "unchanged": self.rows_read - differing,
        }

    def as_dict(self) -> dict[str, Any]:
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
            "summary": self.summary(),
            "rows": [r.as_dict() for r in self.rows],
        }


def preview(
    session: Session,
    project_id: uuid.UUID,
    filename: str,
    content: bytes,
    settings: ShotlistSettings,
    actor: Principal,
) -> Preview:
    """Read, validate and diff the file against the project as `session` sees it. Changes nothing."""
    project = get_or_404(session, Project, project_id, "project")
    try:
        table = read_upload(filename, content, settings.max_rows, WorkbookLimits.of(settings))
    except WorkbookTooLarge as exc:
        raise PayloadTooLarge(f"{filename} was not read: {exc}", field="file") from exc
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
    result.current, result.names, result.project = current, names, project
    result.row_ids = {row.row: row.shot_id for row in rows}
    result.row_codes = {
        row.row: row.values.get("code") or (current[row.shot_id].values["code"] if row.shot_id else None)
        for row in rows
    }
    diffed = diff(
        session,
        table,
        rows,
        current,
        names,
        Rules(actor, project.confirmed_at is not None),
        exported_at=parse_time(table.meta.get("exported_at")),
    )
    if not table.blocked:  # a status move the workflow forbids is found by the diff
        result.rows = diffed
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


def apply(uow: UnitOfWork, planner: Callable[[], Planned], project_id: uuid.UUID, filename: str) -> Written:
    """Plan the apply (`planner`: read, validate, diff and plan against a read session), then in the write
    transaction check that nothing changed since (else plan again, now holding the lock), apply what was
    chosen in bulk and commit once: one change set. The server runs all of it in an import process."""
    planned = planner()
    started, cpu = time.perf_counter(), time.process_time()
    # The write transaction starts here (SQLite: its one write lock; PostgreSQL: the project row, as every
    # writer that numbers its shots takes it) and lasts only for the checks and the statements.
    lock_project_codes(uow.session, project_id)
    locked = time.perf_counter()
    replanned = not _still_current(uow.session, project_id, planned)
    if replanned:
        planned = planner()  # nobody can number shots meanwhile: the lock is held
    assert planned.writes is not None  # an apply's plan has its writes
    batch = BatchUnitOfWork.around(uow)
    recorder.start(batch, "edit", None, f"import {filename}"[:200])
    bulk.execute(batch, planned.writes)
    change_set = batch.history.sets.get(project_id) if batch.history else None
    batch.session.flush()
    change_set_id = change_set.id if change_set is not None else None
    batch.finish()
    head = json.dumps(planned.writes.applied, ensure_ascii=False)
    made = json.dumps(None if change_set_id is None else str(change_set_id))
    # The same bytes as json.dumps of {"applied", "change_set_id", "preview"}, without parsing the preview.
    answer = f'{{"applied": {head}, "change_set_id": {made}, "preview": '.encode() + planned.preview + b"}"
    return Written(
        answer=answer,
        events=planned.writes.events,
        planned=replace(planned, writes=None, revisions={}, names=None),
        lock_wait_s=locked - started,
        write_s=time.perf_counter() - locked,
        write_cpu_s=time.process_time() - cpu,
        replanned=replanned,
    )


def plan(origin: bulk.Origin, result: Preview, selection: Selection) -> bulk.Writes:
    """The writes of applying `selection` of a preview (refused while a blocking problem remains)."""
    if result.blocked:
        refuse_blocked(result)
    assert result.project is not None  # set on every preview that is not blocked
    chosen = _choose(result.rows, selection)
    _new_codes(result)
    return bulk.plan(origin, result.project, result.current, chosen, dict(result.row_ids))


def _still_current(session: Session, project_id: uuid.UUID, planned: Planned) -> bool:
    """Whether the shots (by revision), the names and the project are as the diff saw them."""
    project = get_or_404(session, Project, project_id, "project")
    revisions = {
        str(shot_id): revision
        for shot_id, revision in session.execute(
            select(Shot.id, Shot.revision).where(Shot.project_id == project_id)
        )
    }
    return (
        project.revision == planned.project_revision
        and revisions == planned.revisions
        and lookups(session, project_id) == planned.names
    )


def _new_codes(result: Preview) -> None:
    """Give new rows without a code theirs now, from their neighbours in the file."""
    added = {r.row: r for r in result.rows if r.action == "added" and not r.values.get("code")}
    if not added or result.project is None:
        return
    order = sorted(result.row_codes)
    filled = assign(
        ProjectLayout.of(result.project),
        [shot.values["code"] for shot in result.current.values()],
        [result.row_codes[r] for r in order],
    )
    for number, code in zip(order, filled, strict=True):
        if number in added:
            added[number].values["code"] = code
            added[number].code = code or added[number].code


def _refuse(row: RowDiff, refusal: Refusal) -> ApiError:
    where = f"row {row.row}" if row.row else "a removed row"
    error = Forbidden if refusal.forbidden else Conflict
    return error(
        f"Nothing was applied: {where} ({row.code}): {refusal.reason}",
        field=refusal.field or "id",
        row=row.row,
    )


def _choose(rows: list[RowDiff], selection: Selection) -> list[tuple[RowDiff, list[str]]]:
    """The rows and fields to apply: by default every added and changed row without its conflicts and
    without what the server refuses; a refused edit chosen explicitly refuses the whole apply."""
    picks = {p.key: p for p in selection.rows} if selection.rows is not None else None
    chosen: list[tuple[RowDiff, list[str]]] = []
    for row in rows:
        if row.action == "removed":
            if row.key in selection.remove:
                if row.refused:
                    raise _refuse(row, row.refused[0])
                chosen.append((row, []))
            continue
        pick = picks.get(row.key) if picks is not None else None
        if picks is not None and pick is None:
            continue
        if row.action == "added":
            if row.refused:
                if pick is not None:
                    raise _refuse(row, row.refused[0])
                continue
            chosen.append((row, list(row.values)))
            continue
        wanted = set(pick.fields) if pick is not None and pick.fields is not None else None
        overwrite = set(pick.overwrite) if pick is not None else set()
        if pick is not None:
            asked = (wanted or set()) | overwrite
            for refusal in row.refused:
                if refusal.field in asked:
                    raise _refuse(row, refusal)
        fields = [
            f.field
            for f in row.fields
            if (wanted is None or f.field in wanted) and (not f.conflict or f.field in overwrite)
        ]
        if fields:
            chosen.append((row, fields))
    return chosen
