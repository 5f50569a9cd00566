"""Restore drill: a studio backs up day after day with retention, and the backups that are kept restore
into a fresh database with all their data (the real `aipipe` CLI in a subprocess, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync_server.backups import verify
from sync_server.db.engine import make_database
from sync_server.db.migrate import upgrade
from sync_server.db.models import Project, Scene
from sync_server.settings import Settings
from tests.conftest import _temporary_database
from tests.support.server import run_cli


def _url(data_dir: Path, url: str | None) -> str:
    return url or Settings(data_dir=data_dir, _env_file=None).resolved_database_url


def _add_project(data_dir: Path, url: str | None, code: str) -> None:
    database = make_database(_url(data_dir, url))
    try:
        with database.write_sessions() as session:
            project = Project(code=code, name=f"{code} 프로젝트", naming={})
            session.add(project)
            session.flush()
            session.add(Scene(project_id=project.id, code="SC010", name="골목"))
            session.commit()
    finally:
        database.dispose()
    config = data_dir / "storage" / code / "project_config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'{{"code": "{code}"}}\n', encoding="utf-8")


def _contents(data_dir: Path, url: str | None) -> dict[str, list[str]]:
    database = make_database(_url(data_dir, url))
    try:
        with database.read_sessions() as session:
            rows = session.execute(
                select(Project.code, Scene.name).join(Scene, Scene.project_id == Project.id)
            )
            found: dict[str, list[str]] = {}
            for code, scene in rows:
                found.setdefault(code, []).append(scene)
            return found
    finally:
        database.dispose()


def _backup(data_dir: Path, url: str | None, *extra: str) -> Path:
    made = run_cli("backup", "create", "--json", *extra, data_dir=data_dir, database_url=url)
    assert made.returncode == 0, made.stderr + made.stdout
    return Path(json.loads(made.stdout)["path"])


def _age(backup: Path, at: datetime) -> Path:
    """Give a backup the name it would have had if it was made at `at` (retention reads the name)."""
    older = backup.with_name(f"aipipe-backup-{at.strftime('%Y%m%dT%H%M%SZ')}.zip")
    backup.rename(older)
    return older


def _drill(tmp_path: Path, source_url: str | None, target_url: str | None) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    Settings(data_dir=source, _env_file=None).ensure_dirs()
    upgrade(_url(source, source_url))
    folder = source / "backups"
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).replace(hour=1, minute=0, second=0)

    _add_project(source, source_url, "ALPHA")
    weeks_ago = _age(_backup(source, source_url), now - timedelta(days=15))
    _add_project(source, source_url, "BRAVO")
    early = _age(_backup(source, source_url), yesterday)
    _add_project(source, source_url, "CHARLIE")
    late = _age(_backup(source, source_url), yesterday + timedelta(hours=1))
    _add_project(source, source_url, "DELTA")
    # Files in the folder that are not our backups are never touched, even one named like a backup.
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    impostor = folder / f"aipipe-backup-{(now - timedelta(days=40)).strftime('%Y%m%dT%H%M%SZ')}.zip"
    with zipfile.ZipFile(impostor, "w") as other:
        other.writestr("readme.txt", "not a backup")

    planned = run_cli(
        "backup", "prune", "--keep-daily", "2", "--keep-weekly", "3", "--dry-run",
        data_dir=source, database_url=None,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert f"Would delete {early}" in planned.stdout
    assert early.exists()  # a dry run deletes nothing

    made = run_cli(
        "backup", "create", "--keep-daily", "2", "--keep-weekly", "3",
        data_dir=source, database_url=source_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr + made.stdout
    assert f"Deleted {early}" in made.stdout and "Named like a backup but not one" in made.stderr
    newest = next(p for p in folder.glob("aipipe-backup-*.zip") if p not in (weeks_ago, late, impostor))
    # Today's (just made) and yesterday's last by day; the one from two weeks ago by week.
    assert sorted(folder.iterdir()) == sorted([weeks_ago, late, newest, impostor, folder / "notes.txt"])
    assert verify(weeks_ago).row_counts["projects"] == 1 and verify(late).row_counts["projects"] == 3

    restored = run_cli("backup", "restore", str(newest), data_dir=target, database_url=target_url)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "Metadata files: 4 restored" in restored.stdout
    everything = {code: ["골목"] for code in ("ALPHA", "BRAVO", "CHARLIE", "DELTA")}
    assert _contents(target, target_url) == everything == _contents(source, source_url)
    for code in everything:
        config = target / "storage" / code / "project_config.json"
        assert config.read_text("utf-8") == f'{{"code": "{code}"}}\n'

    # The weekly backup restores too (over the drill's database, kept aside with --force).
    older = run_cli("backup", "restore", str(weeks_ago), "--force", data_dir=target, database_url=target_url)
    assert older.returncode == 0, older.stderr + older.stdout
    assert _contents(target, target_url) == {"ALPHA": ["골목"]}


def test_a_kept_backup_restores_all_its_data_on_sqlite(tmp_path: Path) -> None:
    _drill(tmp_path, None, None)


@pytest.fixture
def second_pg_url(pg_server_url: str) -> Iterator[str]:
    yield from _temporary_database(pg_server_url)


def test_a_kept_backup_restores_all_its_data_on_postgresql(
    tmp_path: Path, fresh_pg_url: str, second_pg_url: str
) -> None:
    if not (os.environ.get("AIPIPE_PG_DUMP") or shutil.which("pg_dump")) or not shutil.which("pg_restore"):
        pytest.skip("pg_dump/pg_restore not on PATH: install the PostgreSQL client tools (postgresql-client)")
    _drill(tmp_path, fresh_pg_url, second_pg_url)
