"""A breakdown draft's apply issues a number of SQL statements that does not grow with its shots (bulk
INSERTs, not one flush per scene and shot), and its write transaction holds only those: counted on a real
database (SQLite, and PostgreSQL when it is there) by listening to every statement sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync_server.breakdown.apply import apply_draft
from sync_server.breakdown.draft import DraftContent
from sync_server.context import SYSTEM, UnitOfWork
from sync_server.db.engine import Database
from sync_server.db.models import AuditEvent, Character, Project, Scene, Shot
from sync_server.db.models_breakdown import BreakdownDraft
from sync_server.db.models_history import ChangeItem
from sync_server.shots.schemas import ShotOut
from tests.support.statements import counted_statements, migrated_database

SCENES = 5


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from migrated_database(request, tmp_path / "breakdown.db")


def _draft(db: Database, shots: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A project with one character (the draft's second character merges into it) and a draft of
    `shots` shots in five scenes, made straight in the database."""
    content = DraftContent.model_validate(
        {
            "characters": [
                {"id": "CHR-001", "name": "Rina", "clothing": ["red coat"]},
                {"id": "CHR-002", "name": "Joon", "aliases": ["JOON-HO"], "clothing": ["suit"]},
            ],
            "environments": [{"id": "ENV-001", "name": "Rooftop", "time_of_day": "night"}],
            "scenes": [{"id": f"SCN-{s:03d}", "heading": f"EXT. ROOFTOP {s}"} for s in range(SCENES)],
            "shots": [
                {
                    "id": f"SHT-{i:04d}",
                    "scene_ref": f"SCN-{i % SCENES:03d}",
                    "action": f"Rina in her red coat looks down, take {i}",
                    "subjects": [
                        {"character_ref": "CHR-001"},
                        {"character_ref": "CHR-002", "clothing": "suit"},
                    ],
                    "environment_ref": "ENV-001",
                    "duration_s": 2.5,
                }
                for i in range(shots)
            ],
        }
    )
    with db.write_sessions() as session:
        project = Project(code=f"P{uuid.uuid4().hex[:8]}", name="breakdown statements")
        session.add(project)
        session.flush()
        session.add(Character(project_id=project.id, name="Joon-ho", aliases=["Joon"]))
        draft = BreakdownDraft(
            project_id=project.id,
            source_format="fountain",
            source_text="",
            source_sha256="0" * 64,
            engine="parser",
            content=content.model_dump(mode="json"),
        )
        session.add(draft)
        session.commit()
        return project.id, draft.id


def _apply_counting(db: Database, shots: int) -> tuple[int, int, uuid.UUID]:
    """(statements in all, statements in the write transaction, the project) of applying a new draft."""
    project_id, draft_id = _draft(db, shots)
    with counted_statements(db.engine) as statements, db.write_sessions() as session:
        uow = UnitOfWork(session=session, hub=None, actor=SYSTEM)
        out = apply_draft(uow, draft_id, 1, read=db.read_sessions)
    assert out.status == "applied"
    assert len(out.result["shots"]) == shots and len(out.result["characters_merged"]) == 1
    with db.read_sessions() as session:
        made = session.scalar(select(func.count()).select_from(Shot).where(Shot.project_id == project_id))
        scenes = session.scalar(select(func.count()).select_from(Scene).where(Scene.project_id == project_id))
        events = session.scalar(select(func.count()).where(AuditEvent.project_id == project_id))
        items = session.scalar(
            select(func.count()).select_from(ChangeItem).where(ChangeItem.entity == "shot")
        )
    # Every shot and scene, one audit event each (and one change item per shot), plus the character
    # created, the one merged, the environment and the draft.
    assert (made, scenes, events) == (shots, SCENES, shots + SCENES + 4)
    assert items >= shots
    return statements.total, statements.written, project_id


def test_breakdown_apply_statements_do_not_grow_with_shots(db: Database) -> None:
    small_all, small_written, _ = _apply_counting(db, 10)
    large_all, large_written, project_id = _apply_counting(db, 600)
    # 60x the shots: one flush per shot (the apply before) sent thousands more; batches of 1,000 rows
    # send the same few statements.
    assert large_all - small_all <= 6, (small_all, large_all)
    # (PostgreSQL: one pg_notify per 200 events more.)
    assert large_written - small_written <= 6, (small_written, large_written)
    assert large_written < 60, large_written
    # What the bulk path records for a shot is what the API shows for it (as a single create records).
    with db.read_sessions() as session:
        shot = session.scalars(
            select(Shot).where(Shot.project_id == project_id).order_by(Shot.sort_order).limit(1)
        ).one()
        data = session.scalars(select(AuditEvent.data).where(AuditEvent.entity_id == str(shot.id))).one()
        expected = ShotOut.of(shot).model_dump(mode="json")
        assert data.keys() == expected.keys()
        for key in set(expected) - {"created_at", "updated_at"}:  # SQLite gives times back without zone
            assert data[key] == expected[key], key
        assert [s["clothing"] for s in data["subjects"]] == ["red coat", "suit"]
        assert shot.duration_frames == 60
