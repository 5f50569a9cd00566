"""Job rows planned in bulk (takes, recipes): a new row's defaults, a bound graph patched with other plain
values, the rows inserted with one statement (COPY on PostgreSQL) and each row's `job.created` event.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate

from ..context import UnitOfWork
from ..db.models import AuditEvent, Job
from . import jobs
from .schemas import JobOut

JOBS = Job.__table__
# Roles whose values cannot make a graph invalid for ComfyUI (free text, and the seed in its range).
SHAPELESS_ROLES = ("positive", "negative", "instruction", "filename_prefix", "seed")


def default_row() -> dict[str, Any]:
    """A new job row's column values as the model's defaults give them (fresh lists, ids, times)."""
    row: dict[str, Any] = {}
    for column in JOBS.columns:
        default = column.default
        if default is None:
            row[column.key] = None
        elif default.is_callable:
            row[column.key] = default.arg(None)  # type: ignore[attr-defined]
        else:
            row[column.key] = default.arg  # type: ignore[attr-defined]
    return row


def with_values(graph: dict[str, Any], template: WorkflowTemplate, values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a bound graph with other values for plain roles (texts, seed, input names): only the
    nodes they go to are copied."""
    out = dict(graph)
    for role, value in values.items():
        for node_id, input_name in template.meta.bindings.get(role) or []:  # type: ignore[call-overload]
            node = out[node_id]
            out[node_id] = {**node, "inputs": {**node["inputs"], input_name: value}}
    return out


def insert_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the rows with one statement: COPY on PostgreSQL, one prepared INSERT run per row on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        copy_jobs(session, rows)
    else:
        session.execute(insert(JOBS), rows)


def copy_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows through COPY, each value through its column type's bind processor (JSON as
    text, times in UTC). An executemany is one INSERT per row in psycopg's pipeline; COPY of 800 jobs costs
    the database about a third less, and a multi-row INSERT .. VALUES cost it twice as much (measured)."""
    if not rows:
        return
    session.flush()  # what the unit added first (the raw COPY does not autoflush as session.execute does)
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    processors = [JOBS.c[name].type._cached_bind_processor(dialect) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY jobs ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    row[name] if process is None or row[name] is None else process(row[name])
                    for name, process in zip(columns, processors, strict=True)
                ]
            )


def created(
    uow: UnitOfWork, row: dict[str, Any], parents: list[uuid.UUID], project_codes: dict[uuid.UUID, str]
) -> tuple[JobOut, AuditEvent]:
    """An inserted row as the API shows it, and its `job.created` event (not recorded yet), which carries
    the job as every job.created does."""
    code = project_codes.get(row["project_id"]) if row["project_id"] else None
    out = jobs.job_out_of(row, parents, None, code)
    event = uow.event(
        "job.created",
        "job",
        row["id"],
        project_id=row["project_id"],
        revision_after=row["revision"],
        data=out.model_dump(mode="json"),
    )
    return out, event
