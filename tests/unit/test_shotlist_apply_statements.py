"""An import's apply issues a number of SQL statements that grows with batches, not with rows: counted on
a real database (SQLite, and PostgreSQL when it is there) by listening to every statement sent."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from sync_server.context import SYSTEM, UnitOfWork
from sync_server.db.engine import Database
from sync_server.db.models import AuditEvent, Project, Scene, Shot
from sync_server.shotlist import service
from sync_server.shotlist.offload import plan_import
from sync_server.shotlist.planned import ImportJob
from sync_server.shotlist.settings import ShotlistSettings
from sync_server.shots.schemas import ShotOut
from sync_server.storage.layout import ProjectLayout
from tests.support.statements import counted_statements, migrated_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from migrated_database(request, tmp_path / "apply.db")


def _project(db: Database, shots: int) -> tuple[uuid.UUID, str, list[dict[str, Any]]]:
    """A project with one scene and `shots` shots, made straight in the database."""
    with db.write_sessions() as session:
        project = Project(code=f"P{uuid.uuid4().hex[:8]}", name="statements")
        session.add(project)
        session.flush()
        layout = ProjectLayout.of(project)
        scene = Scene(project_id=project.id, code=layout.scene_code(10))
        session.add(scene)
        session.flush()
        rows = [
            {
                "id": uuid.uuid4(),
                "project_id": project.id,
                "scene_id": scene.id,
                "code": layout.shot_code(10 * (i + 1)),
                "sort_order": 1000 * (i + 1),
                "description": f"shot {i}",
                "duration_frames": 24,
                "status": "draft",
            }
            for i in range(shots)
        ]
        session.execute(insert(Shot), rows)
        session.commit()
        return project.id, scene.code, rows


def _edited_csv(scene: str, rows: list[dict[str, Any]], new: int) -> bytes:
    """Every shot's description edited, and `new` shots added at the end."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["ID", "Revision", "Scene", "Shot", "Description"])
    for row in rows:
        writer.writerow([row["id"], 1, scene, row["code"], f"{row['description']} edited"])
    for i in range(new):
        writer.writerow(["", "", scene, "", f"new shot {i}"])
    return buffer.getvalue().encode()


def _apply_counting(db: Database, shots: int, new: int) -> tuple[int, dict[str, Any]]:
    project_id, scene, rows = _project(db, shots)
    content = _edited_csv(scene, rows, new)
    with counted_statements(db.engine) as statements, db.write_sessions() as session:
        uow = UnitOfWork(session=session, hub=None, actor=SYSTEM)
        job = ImportJob(
            db.engine.url.render_as_string(hide_password=False),
            project_id,
            "edit.csv",
            content,
            ShotlistSettings(),
            SYSTEM,
            apply=True,
        )
        # Planned inline here (the server plans in a child process): its own engine, not counted.
        answer = json.loads(service.apply(uow, lambda: plan_import(job), project_id, job.filename).answer)
    with db.read_sessions() as session:
        total = session.scalar(select(func.count()).select_from(Shot).where(Shot.project_id == project_id))
        edited = session.scalar(
            select(func.count()).where(Shot.project_id == project_id, Shot.description.like("% edited"))
        )
        events = session.scalar(select(func.count()).where(AuditEvent.project_id == project_id))
    assert (total, edited, events) == (shots + new, shots, shots + new)
    assert len(answer["applied"]["updated"]) == shots and len(answer["applied"]["created"]) == new
    return statements.total, answer


def test_apply_statements_grow_with_batches_not_rows(db: Database) -> None:
    small, first = _apply_counting(db, 100, 10)
    # The events the bulk path records show each shot as the API does (what a single edit records).
    with db.read_sessions() as session:
        for code in (first["applied"]["updated"][0], first["applied"]["created"][0]):
            shot = session.scalars(select(Shot).where(Shot.code == code)).one()
            data = session.scalars(
                select(AuditEvent.data).where(AuditEvent.entity_id == str(shot.id)).order_by(AuditEvent.id)
            ).all()[-1]
            expected = ShotOut.of(shot).model_dump(mode="json")
            assert data.keys() == expected.keys()
            for key in set(expected) - {"created_at", "updated_at"}:  # SQLite gives times back without zone
                assert data[key] == expected[key], key
    large, answer = _apply_counting(db, 2500, 250)
    assert answer["change_set_id"] is not None
    # 25x the rows: a statement per row (or per row and field) would add thousands; batches of 1,000
    # rows add a few per kind of statement.
    assert large - small <= 25, (small, large)
    assert large < 80, large
