"""Chaos: the server is killed (SIGKILL) under write load, on SQLite and on PostgreSQL, and one of two
servers sharing a PostgreSQL database is killed while the other serves on.

Passes only when no acknowledged write is lost, nothing is there twice and no temporary file of a cut-off
write survives a restart. Prints the figures (RELIABILITY.md keeps them). Sizes are bounded for CI; raise
AIPIPE_CHAOS_KILLS / AIPIPE_CHAOS_WRITERS / AIPIPE_CHAOS_WRITES_PER_ROUND for a longer run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_server.storage.sweep import is_temp_name
from tests.chaos.server_load import Verdict, WriteLoad, verify
from tests.conftest import ADMIN, start_server_with_admin
from tests.support import server as server_support
from tests.support.api import login
from tests.support.inprocess import wait_until
from tests.support.server import ServerProcess

KILLS = int(os.environ.get("AIPIPE_CHAOS_KILLS", "3"))
WRITERS = int(os.environ.get("AIPIPE_CHAOS_WRITERS", "3"))
WRITES_PER_ROUND = int(os.environ.get("AIPIPE_CHAOS_WRITES_PER_ROUND", "15"))
# Bounded for CI (well under the limit on a quiet 2-core machine); the limit allows for a loaded one.
pytestmark = pytest.mark.timeout(600)
# A restarted single server owns its storage alone: every temporary file found then is a leftover.
RESTART_ENV = {"AIPIPE_STALE_TMP_AGE_S": "0"}
START_TIMEOUT_S = 240.0  # a restart right after a kill, on a loaded CI machine


@pytest.fixture(autouse=True)
def _patient_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_support, "START_TIMEOUT_S", START_TIMEOUT_S)


def _temp_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob(".*") if p.is_file() and is_temp_name(p.name)]


def _report(capsys: pytest.CaptureFixture[str], title: str, figures: dict[str, object]) -> None:
    with capsys.disabled():
        print(f"\n[chaos] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))  # noqa: T201


def _project(client: httpx.Client) -> tuple[str, str]:
    project = client.post("/api/projects", json={"code": "CHAOS", "name": "Chaos"}).json()
    scene = client.post(f"/api/projects/{project['id']}/scenes", json={"name": "Kills"}).json()
    # Confirmed: every write also rewrites metadata files in the tree (atomic writes a kill can cut).
    confirmed = client.post(f"/api/projects/{project['id']}/confirm", json={"revision": project["revision"]})
    assert confirmed.status_code == 200, confirmed.text
    return project["id"], scene["id"]


def _assert_clean(verdict: Verdict) -> None:
    assert not verdict.lost, f"{len(verdict.lost)} acknowledged writes lost: {verdict.lost[:5]}"
    assert not verdict.duplicated, f"{len(verdict.duplicated)} duplicates: {verdict.duplicated[:5]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield request.getfixturevalue("fresh_pg_url")


def test_kill_9_under_write_load_loses_no_acknowledged_write(
    database_url: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    server, password = start_server_with_admin(data_dir, database_url, env=RESTART_ENV)
    load: WriteLoad | None = None
    leftovers_seen = 0
    started = time.monotonic()
    try:
        admin = login(server.url, ADMIN, password)
        project_id, scene_id = _project(admin)
        token = admin.headers["Authorization"].split(" ", 1)[1]
        load = WriteLoad([server], token, project_id, scene_id)
        load.start(WRITERS)
        for _ in range(KILLS):
            load.wait_for_acks(WRITES_PER_ROUND)
            server.stop(kill=True)  # mid-write: the writers are always in flight
            leftovers_seen += len(_temp_files(data_dir))
            server.start()
        load.wait_for_acks(WRITES_PER_ROUND)
        load.finish()
        wait_until(lambda: not _temp_files(data_dir), timeout=30, what="no temporary files after restart")
        with httpx.Client(base_url=server.url, headers=admin.headers, timeout=60) as client:
            verdict = verify(client, load.ledger, project_id, data_dir / "storage")
    finally:
        if load is not None:
            load.finish()
        server.stop()
    _report(
        capsys,
        f"server kill -9 under write load ({'postgresql' if database_url else 'sqlite'})",
        {
            "kills": KILLS,
            "writers": WRITERS,
            "acknowledged": verdict.acknowledged,
            "unanswered": verdict.unanswered,
            "lost": len(verdict.lost),
            "duplicated": len(verdict.duplicated),
            "tmp_after_kills": leftovers_seen,
            "tmp_after_restart": len(_temp_files(data_dir)),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    _assert_clean(verdict)
    assert not load.ledger.refused, load.ledger.refused[:3]


def test_two_servers_on_one_postgresql_one_killed_the_other_serves_on(
    fresh_pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"  # shared by both, as one storage tree on a NAS would be
    first, password = start_server_with_admin(data_dir, fresh_pg_url)
    second: ServerProcess | None = None
    load: WriteLoad | None = None
    started = time.monotonic()
    try:
        second = ServerProcess(data_dir, fresh_pg_url).start()
        admin = login(second.url, ADMIN, password)
        project_id, scene_id = _project(admin)
        token = admin.headers["Authorization"].split(" ", 1)[1]
        load = WriteLoad([first, second], token, project_id, scene_id)
        load.start(WRITERS)
        load.wait_for_acks(WRITES_PER_ROUND)
        before_kill = load.ledger.acknowledged
        first.stop(kill=True)
        killed_at = time.monotonic()
        load.wait_for_acks(WRITES_PER_ROUND)  # through the survivor alone
        recovered_s = time.monotonic() - killed_at
        served_after = load.ledger.acknowledged - before_kill
        load.finish()
        with httpx.Client(base_url=second.url, headers=admin.headers, timeout=60) as client:
            assert client.get("/api/health").json()["status"] == "ok"
            verdict = verify(client, load.ledger, project_id, data_dir / "storage")
    finally:
        if load is not None:
            load.finish()
        first.stop()
        if second is not None:
            second.stop()
    _report(
        capsys,
        "two servers on one PostgreSQL, one killed",
        {
            "acknowledged": verdict.acknowledged,
            "acknowledged_after_kill": served_after,
            "unanswered": verdict.unanswered,
            "lost": len(verdict.lost),
            "duplicated": len(verdict.duplicated),
            "seconds_to_next_ack_via_survivor": round(recovered_s, 2),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    _assert_clean(verdict)
    assert not load.ledger.refused, load.ledger.refused[:3]
