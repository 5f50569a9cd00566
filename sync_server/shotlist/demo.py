"""The demo's shot-list workbook: the sample project exported as producers get it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ..db.engine import make_database
from ..db.models import Project
from ..settings import Settings
from ..storage.atomic import atomic_write_bytes
from .export import export
from .settings import ShotlistSettings


def write_demo_workbook(settings: Settings, project_code: str) -> Path:
    """Export the project's shot list (xlsx, thumbnails included) into the data folder; returns the path."""
    db = make_database(settings.resolved_database_url)
    try:
        with db.read_sessions() as session:
            project = session.scalars(select(Project).where(Project.code == project_code)).one()
            made = export(
                session,
                project,
                "shots",
                "xlsx",
                storage_root=settings.resolved_storage_root,
                thumbnail_px=ShotlistSettings().thumbnail_px,
            )
    finally:
        db.dispose()
    path = settings.data_dir.resolve() / f"{project_code}_shot_list.xlsx"
    atomic_write_bytes(path, made.content)
    return path
