"""The migrations create exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from sync_server.db.engine import make_engine
from sync_server.db.migrate import current_revision, head_revision, upgrade
from sync_server.db.models import Base, CinematicPreset


def _assert_no_drift(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            presets = conn.scalar(
                select(func.count()).select_from(CinematicPreset).where(CinematicPreset.builtin)
            )
        assert diff == [], f"models and migrations differ: {diff}"
        assert current_revision(engine) == head_revision(url)
        assert presets >= 35
    finally:
        engine.dispose()


def test_sqlite_schema_from_migrations_matches_the_models(tmp_path) -> None:
    _assert_no_drift(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_schema_from_migrations_matches_the_models(fresh_pg_url: str) -> None:
    _assert_no_drift(fresh_pg_url)


def test_upgrading_twice_is_harmless(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    upgrade(url)
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CinematicPreset)) == 42
    engine.dispose()
