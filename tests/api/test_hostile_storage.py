"""Nothing half-written or too open stays: temporary files of killed writes, the database file's mode,
upload names that display unlike what they are, and password spraying from one address."""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import start_server_with_admin
from tests.support.api import Api, assert_problem
from tests.support.inprocess import wait_until
from tests.support.media import png_bytes

HOUR = 3600


def _plant(path: Path, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"half": ', encoding="utf-8")  # what a killed atomic write leaves
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_a_restart_removes_stale_temporary_files_and_leaves_everything_else(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, _ = start_server_with_admin(data_dir, None)
    server.stop(kill=True)
    storage = data_dir / "storage"
    stale = [
        _plant(storage / "P1" / "shots" / "SHT_0010" / ".shot.json.k2j4h5g6.tmp", HOUR),
        _plant(storage / "P1" / ".project.json.a_b1c2d3.tmp", HOUR),
        _plant(data_dir / "backups" / ".aipipe-snapshot-x1y2z3w4.tmp", HOUR),
    ]
    fresh = _plant(storage / "P1" / ".project.json.fresh123.tmp", 5)  # a live writer's, maybe
    kept = [_plant(storage / "P1" / ".hidden", HOUR), _plant(storage / "P1" / "notes.tmp", HOUR)]
    server.start()
    try:
        wait_until(lambda: not any(p.exists() for p in stale), what="the stale temporary files to go")
        assert fresh.exists()
        assert all(p.exists() for p in kept)
        assert server.process is not None and server.process.poll() is None
    finally:
        server.stop()


def test_the_sqlite_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, _ = start_server_with_admin(data_dir, None)
    database = data_dir / "aipipe.db"
    try:
        files = [p for p in data_dir.iterdir() if p.name.startswith("aipipe.db")]
        assert database in files
        for path in files:  # the database, and its -wal / -shm files
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))
    finally:
        server.stop()
    database.chmod(0o644)  # as an older version left it
    server.start()
    try:
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_bidirectional_controls_are_dropped_from_uploaded_file_names(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"])
    names = ["take\u202egnp.png", "a\u2066b\u2069c\u200f.png"]
    response = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "layout"},
        files=[("files", (name, png_bytes(), "image/png")) for name in names],
    )
    assert response.status_code == 201, response.text
    stored = [f["name"] for f in response.json()["files"]]
    assert stored == ["takegnp.png", "abc.png"]
    assert api.data_dir is not None
    on_disk = {p.name for p in (api.data_dir / "storage").rglob("*.png")}
    assert {"takegnp.png", "abc.png"} <= on_disk
    assert not any(ch in name for name in on_disk for ch in "\u202e\u2066\u2069\u200f")


def test_a_spoofed_extension_is_judged_by_what_the_name_really_ends_with(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"])
    response = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "layout"},
        files=[("files", ("photo\u202egnp.exe", png_bytes(), "image/png"))],  # shows as photoexe.png
    )
    assert_problem(response, 422)
    assert "photognp.exe" in response.text


def test_password_spraying_from_one_address_is_rate_limited(tmp_path: Path) -> None:
    per_address = 6
    server, password = start_server_with_admin(
        tmp_path / "data", None, env={"AIPIPE_LOGIN_MAX_FAILURES_PER_ADDRESS": str(per_address)}
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(per_address):  # one guess each for many users: under the per-user limit
                guess = {"username": f"user_{uuid.uuid4().hex[:8]}", "password": "Spring2026!"}
                assert_problem(client.post("/api/auth/login", json=guess), 401)
            sprayed = client.post(
                "/api/auth/login", json={"username": f"user_{uuid.uuid4().hex[:8]}", "password": "x"}
            )
            body = assert_problem(sprayed, 429, "username")
            assert "address" in body["detail"]
            assert int(sprayed.headers["Retry-After"]) >= 1
    finally:
        server.stop()
    assert password  # the admin exists; its own limit is per user and address, tested in test_auth
