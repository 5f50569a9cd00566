"""`aipipe backup create/restore`: a consistent snapshot taken while writes go on, and a restore that
refuses anything that could lose data."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from sync_server.backups import create_backup
from sync_server.cli import app
from sync_server.db.engine import make_database
from sync_server.db.migrate import head_revision, upgrade
from sync_server.db.models import Project
from sync_server.settings import Settings
from tests.conftest import ADMIN, _temporary_database, start_server_with_admin
from tests.support.api import login
from tests.support.server import ServerProcess, run_cli

PROJECT_CONFIG = '{"name": "백업 테스트"}\n'


class ShotWriter(threading.Thread):
    """Keeps creating shots and editing earlier ones over HTTP until stopped."""

    def __init__(self, base_url: str, token: str, project_id: str, scene_id: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base_url, headers={"Authorization": token}, timeout=30)
        self.project_id, self.scene_id = project_id, scene_id
        self.revisions: dict[str, int] = {}
        self.started_creates = 0  # POSTs sent (a shot in the snapshot was at least sent)
        self.acked_creates = 0  # 201s received (a shot acknowledged before the backup must be in it)
        self.edits = 0
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with self.client:
            while not self.halt.is_set():
                self.started_creates += 1
                created = self.client.post(
                    f"/api/projects/{self.project_id}/shots",
                    json={"scene_id": self.scene_id, "description": "새 샷"},
                )
                if created.status_code != 201:
                    self.errors.append(created.text)
                    return
                self.acked_creates += 1
                self.revisions[created.json()["id"]] = 1
                for shot_id in list(self.revisions)[-3::2]:  # edit recent shots, some of them twice
                    edited = self.client.patch(
                        f"/api/shots/{shot_id}",
                        json={"description": f"편집 {self.edits}", "revision": self.revisions[shot_id]},
                    )
                    if edited.status_code != 200:
                        self.errors.append(edited.text)
                        return
                    self.revisions[shot_id] = edited.json()["revision"]
                    self.edits += 1
                self.halt.wait(0.01)  # steady, not flat out: the test is about consistency, not load

    def wait_for(self, shots: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_creates < shots and not self.errors:
            assert time.monotonic() < deadline, "the writer made too little progress"
            time.sleep(0.05)


def _shot_events(url: str) -> dict[str, tuple[int, int | None]]:
    """shot id -> (number of audit events, highest revision_after) in the database at `url`."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT entity_id, count(*), max(revision_after) FROM audit_events "
                    "WHERE entity = 'shot' GROUP BY entity_id"
                )
            ).all()
    finally:
        engine.dispose()
    return {row[0]: (row[1], row[2]) for row in rows}


def _round_trip(tmp_path: Path, source_url: str | None, target_url: str | None) -> None:
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    server, password = start_server_with_admin(source_dir, source_url)
    try:
        client = login(server.url, ADMIN, password)
        project = client.post("/api/projects", json={"code": "BACKUP", "name": "백업"}).json()
        scene = client.post(f"/api/projects/{project['id']}/scenes", json={"name": "골목"}).json()
        config = source_dir / "storage" / "BACKUP" / "project_config.json"
        config.parent.mkdir(parents=True)
        config.write_text(PROJECT_CONFIG, encoding="utf-8")

        writer = ShotWriter(server.url, client.headers["Authorization"], project["id"], scene["id"])
        writer.start()
        writer.wait_for(10)
        acked_before = writer.acked_creates
        bundle = tmp_path / "backup.zip"
        made = run_cli("backup", "create", "--out", str(bundle), data_dir=source_dir, database_url=source_url)
        started_after = writer.started_creates
        writer.wait_for(started_after + 3)  # writes go on after the backup too
        writer.halt.set()
        writer.join(timeout=30)
        assert made.returncode == 0, made.stderr + made.stdout
        assert f"Backup written to {bundle}" in made.stdout
        assert not writer.errors, writer.errors
        assert started_after > acked_before, "no write went through while the backup ran"

        # The server holds the database: a restore into it is refused and changes nothing.
        url_option = ["--database-url", source_url] if source_url else []
        code, output = _restore(bundle, source_dir, "--force", *url_option)
        assert code == 1
        assert "stop the AIPipeline server" in output
        assert client.get(f"/api/projects/{project['id']}").status_code == 200
        total_on_source = client.get(f"/api/projects/{project['id']}/shots", params={"limit": 1}).json()
        assert total_on_source["total"] == writer.acked_creates
        client.close()
    finally:
        server.stop()

    code, output = _restore(bundle, target_dir, *(["--database-url", target_url] if target_url else []))
    assert code == 0, output
    assert "Metadata files: 1 restored" in output
    assert (target_dir / "storage" / "BACKUP" / "project_config.json").read_text("utf-8") == PROJECT_CONFIG

    copy = ServerProcess(target_dir, target_url).start()
    try:
        client = login(copy.url, ADMIN, password)
        shots = client.get(f"/api/projects/{project['id']}/shots", params={"limit": 5000}).json()["items"]
        client.close()
    finally:
        copy.stop()
    assert acked_before <= len(shots) <= started_after
    target_sql_url = target_url or f"sqlite:///{(target_dir / 'aipipe.db').resolve()}"
    if target_url is None:
        with sqlite3.connect(target_dir / "aipipe.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Each shot and its audit trail come from the same instant: one event per revision, no more, no less.
    events = _shot_events(target_sql_url)
    assert set(events) == {shot["id"] for shot in shots}
    for shot in shots:
        assert events[shot["id"]] == (shot["revision"], shot["revision"]), shot
    assert any(shot["revision"] > 1 for shot in shots)


def test_a_backup_taken_while_shots_are_written_restores_consistently_on_sqlite(tmp_path: Path) -> None:
    _round_trip(tmp_path, None, None)


@pytest.fixture
def second_pg_url(pg_server_url: str) -> Iterator[str]:
    yield from _temporary_database(pg_server_url)


def test_a_backup_taken_while_shots_are_written_restores_consistently_on_postgresql(
    tmp_path: Path, fresh_pg_url: str, second_pg_url: str
) -> None:
    if not (os.environ.get("AIPIPE_PG_DUMP") or shutil.which("pg_dump")) or not shutil.which("pg_restore"):
        pytest.skip("pg_dump/pg_restore not on PATH: install the PostgreSQL client tools (postgresql-client)")
    _round_trip(tmp_path, fresh_pg_url, second_pg_url)


# -- refusals (SQLite, in process) ------------------------------------------------------------------------


def _studio(data_dir: Path, project_code: str, naming: dict[str, str] | None = None) -> Settings:
    settings = Settings(data_dir=data_dir, _env_file=None)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    db = make_database(settings.resolved_database_url)
    with db.write_sessions() as session:
        session.add(Project(code=project_code, name=project_code, naming=naming or {}))
        session.commit()
    db.dispose()
    return settings


def _codes(db_file: Path) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        return [row[0] for row in conn.execute("SELECT code FROM projects ORDER BY code")]


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _restore(bundle: Path, data_dir: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["backup", "restore", str(bundle), "--data-dir", str(data_dir), *extra])
    return result.exit_code, result.output


@pytest.fixture
def backup_of_a_studio(tmp_path: Path) -> Path:
    settings = _studio(tmp_path / "source", "FROM_BACKUP")
    return create_backup(settings, tmp_path / "backup.zip").path


def _truncate(bundle: Path) -> None:
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) * 2 // 3])


def _flip_a_byte_of_the_database(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("database/aipipe.sqlite3")
    data = bytearray(bundle.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))


def _replace_the_database(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["database/aipipe.sqlite3"] = members["database/aipipe.sqlite3"][:-4096]
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "truncated or corrupt"),
        (_flip_a_byte_of_the_database, "not a readable backup"),
        (_replace_the_database, "does not match its checksum"),
    ],
)
def test_a_damaged_backup_is_refused_and_nothing_changes(
    backup_of_a_studio: Path, tmp_path: Path, damage, message: str
) -> None:
    target = _studio(tmp_path / "target", "KEEP").data_dir
    damage(backup_of_a_studio)
    before = _fingerprint(target)
    code, output = _restore(backup_of_a_studio, target, "--force")
    assert code == 1
    assert message in output
    assert _fingerprint(target) == before
    assert _codes(target / "aipipe.db") == ["KEEP"]


def test_restoring_over_data_needs_force_and_then_keeps_the_old_database_aside(
    backup_of_a_studio: Path, tmp_path: Path
) -> None:
    target = _studio(tmp_path / "target", "KEEP").data_dir
    before = _fingerprint(target)

    code, output = _restore(backup_of_a_studio, target)
    assert code == 1
    assert "already holds data" in output and "--force" in output
    assert _fingerprint(target) == before

    code, output = _restore(backup_of_a_studio, target, "--force")
    assert code == 0, output
    assert _codes(target / "aipipe.db") == ["FROM_BACKUP"]
    (kept,) = target.glob("aipipe.db.before-restore-*")
    assert "-wal" not in kept.name and kept.name in output
    assert _codes(kept) == ["KEEP"]


def test_metadata_files_renamed_by_a_projects_naming_templates_are_backed_up(tmp_path: Path) -> None:
    settings = _studio(
        tmp_path / "source", "REN", {"project_config_file": "{@project_dir}/config_{project}.json"}
    )
    storage = settings.resolved_storage_root
    for relative in ("REN/config_REN.json", "REN/project_config.json", "OTHER/scenes/S1/scene_meta.json"):
        (storage / relative).parent.mkdir(parents=True, exist_ok=True)
        (storage / relative).write_text("{}", encoding="utf-8")
    (storage / "OTHER/scenes/S1/plate.exr").write_bytes(b"media is not backed up")

    result = create_backup(settings, tmp_path / "backup.zip")
    assert result.manifest.metadata_members == [
        "storage/OTHER/scenes/S1/scene_meta.json",
        "storage/REN/config_REN.json",
    ]


def test_a_backup_of_an_older_schema_restores_and_is_migrated_to_head(tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path / "old", _env_file=None)
    old.ensure_dirs()
    upgrade(old.resolved_database_url, "0002")
    result = create_backup(old, tmp_path / "old.zip")
    assert result.manifest.alembic_revision == "0002"

    target = tmp_path / "target"
    code, output = _restore(result.path, target)
    assert code == 0, output
    assert f"now at revision {head_revision(old.resolved_database_url)}" in output
    with sqlite3.connect(target / "aipipe.db") as conn:
        presets = conn.execute("SELECT count(*) FROM cinematic_presets").fetchone()[0]
    assert presets == result.manifest.row_counts["cinematic_presets"] > 0
