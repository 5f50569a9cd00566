"""A second engine made in a process that has the SQLite database open (a project archive in the server,
a command beside it) must keep the process's locks: without them another process closing its last
connection deletes the live WAL, and the server then reads "database disk image is malformed"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from sync_server.db.engine import make_engine

# Another process (an `aipipe admin …` beside the server): writes one row and closes its connection.
WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("INSERT INTO t VALUES (2)")
conn.commit()
conn.close()
"""


def test_a_second_engine_keeps_the_other_processes_off_the_live_wal(tmp_path: Path) -> None:
    database = tmp_path / "aipipe.db"
    url = f"sqlite:///{database}"
    server = make_engine(url)
    try:
        with server.connect() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
            conn.commit()  # idle between requests: the connection stays open, no transaction

            make_engine(url).dispose()  # e.g. the archive job's own engine, same process
            subprocess.run([sys.executable, "-c", WRITER, str(database)], check=True, timeout=60)

            # The writer saw the server's connection and left the WAL (and its index) in place.
            assert (tmp_path / "aipipe.db-wal").exists()
            assert (tmp_path / "aipipe.db-shm").exists()
            assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        server.dispose()


def test_a_new_database_file_is_made_private(tmp_path: Path) -> None:
    database = tmp_path / "new" / "aipipe.db"
    make_engine(f"sqlite:///{database}").dispose()
    assert database.is_file()
    assert database.stat().st_mode & 0o777 == 0o600
