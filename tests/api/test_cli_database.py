"""The commands that open the database directly refuse to create a new one unless asked (`--init`), and a
first start that cannot listen creates nothing (the admin's one-time password is not lost)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.server import AIPIPE, ServerProcess


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_")}
    return subprocess.run(
        [*AIPIPE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "create-api-key", "render-01", "--role", "agent"],
        ["admin", "create-user", "mina", "--role", "artist"],
        ["db", "upgrade"],
        ["backup", "create"],
        ["server", "--port", "0"],
    ],
    ids=["create-api-key", "create-user", "db-upgrade", "backup", "server"],
)
def test_a_command_run_in_an_empty_folder_names_the_database_it_looked_for_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    done = _run(tmp_path, *args)

    assert done.returncode == 2, done.stdout + done.stderr
    assert str(tmp_path / "data" / "aipipe.db") in done.stderr.replace("\n", "")
    assert "--init" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no data/ folder, no empty aipipe.db


@pytest.mark.parametrize("init", [False, True], ids=["start", "start-with-init"])
def test_a_damaged_database_file_is_named_and_left_as_it_is_not_a_traceback(
    tmp_path: Path, init: bool
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    damaged = data / "aipipe.db"
    damaged.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)  # a header, then garbage
    before = damaged.read_bytes()
    done = _run(tmp_path, "server", "--port", "0", *(["--init"] if init else []))
    assert done.returncode == 2, done.stdout + done.stderr
    text = done.stderr.replace("\n", " ")
    assert "Traceback" not in done.stderr
    assert str(damaged) in "".join(done.stderr.split())  # named (a narrow terminal may wrap the path)
    assert "backup" in text and "left as it is" in text
    assert damaged.read_bytes() == before and sorted(p.name for p in data.iterdir()) == ["aipipe.db"]


def test_init_creates_the_database_and_later_commands_use_it(tmp_path: Path) -> None:
    made = _run(tmp_path, "admin", "create-api-key", "render-01", "--role", "agent", "--init")
    assert made.returncode == 0, made.stderr
    again = _run(tmp_path, "admin", "create-api-key", "render-02", "--role", "agent")
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(tmp_path / "data" / "aipipe.db") as conn:
        names = sorted(row[0] for row in conn.execute("SELECT name FROM api_keys"))
    assert names == ["render-01", "render-02"]


def test_a_first_start_on_a_taken_port_creates_no_admin_and_a_later_start_shows_its_password(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = _run(
            tmp_path,
            "server",
            "--init",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"127.0.0.1:{port}" in refused.stderr and "one-time password" not in refused.stdout
    assert not (data_dir / "aipipe.db").exists()  # nothing was made, so the next start makes the admin

    server = ServerProcess(data_dir, None).start()
    try:
        assert "created user admin with one-time password" in server.log()
    finally:
        server.stop()


def test_backup_create_json_prints_only_the_result(tmp_path: Path) -> None:
    assert _run(tmp_path, "admin", "create-api-key", "render-01", "--role", "agent", "--init").returncode == 0
    done = _run(tmp_path, "backup", "create", "--json", "--out", str(tmp_path / "b.zip"))
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["path"] == str(tmp_path / "b.zip") and made["manifest"]["row_counts"]["api_keys"] == 1
