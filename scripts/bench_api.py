"""Benchmark: list a 2,000-shot project, and fan one change out to 50 WebSocket clients.

Starts real `aipipe server` processes on loopback (SQLite, and PostgreSQL when --pg-url answers), seeds
2,000 shots, and prints p50/p99 in milliseconds. Usage:
    .venv/bin/python scripts/bench_api.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import websockets
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_server.cli import system_uow  # noqa: E402
from sync_server.db.migrate import upgrade  # noqa: E402
from sync_server.db.models import Project, Scene, Shot  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.support.server import start_with_admin  # noqa: E402

SHOTS = 2000
CLIENTS = 50


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def seed(data_dir: Path, url: str | None) -> str:
    settings = Settings(data_dir=data_dir, database_url=url)
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        project = Project(code=f"BENCH{uuid.uuid4().hex[:6]}", name="Bench 벤치", fps_num=24000, fps_den=1001)
        uow.session.add(project)
        uow.session.flush()
        scenes = [Scene(project_id=project.id, code=f"SCN_{i:03d}", sort_order=i * 10) for i in range(1, 21)]
        uow.session.add_all(scenes)
        uow.session.flush()
        uow.session.add_all(
            Shot(
                project_id=project.id,
                scene_id=scenes[i // 100].id,
                code=f"SHT_{(i + 1) * 10:05d}",
                sort_order=(i + 1) * 1000,
                description=f"샷 {i} — a shot description of typical length " * 2,
                action="Rina runs down the alley.",
                dialogue="리나: 이제 그만 도망쳐.",
                duration_frames=72,
            )
            for i in range(SHOTS)
        )
        uow.session.commit()
        return str(project.id)


async def bench_listing(base: str, token: str, project_id: str, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "2000 shots, unchanged": [],
        "2000 shots, after an edit": [],
        "page of 100, after an edit": [],
    }
    shots_path = f"/api/projects/{project_id}/shots"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": token}, timeout=60) as client:
        for _ in range(3):  # warm-up
            await client.get(shots_path, params={"limit": SHOTS})
        first = (await client.get(shots_path, params={"limit": 1})).json()["items"][0]
        revision = first["revision"]

        async def edit(i: int) -> None:
            nonlocal revision
            response = await client.patch(
                f"/api/shots/{first['id']}", json={"description": f"edit {i}", "revision": revision}
            )
            assert response.status_code == 200, response.text
            revision = response.json()["revision"]

        async def timed(name: str, params: dict[str, int], expect: int) -> None:
            started = time.perf_counter()
            response = await client.get(shots_path, params=params)
            out[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and len(response.json()["items"]) == expect

        for i in range(rounds):
            await timed("2000 shots, unchanged", {"limit": SHOTS}, SHOTS)
            await edit(i)  # every shot list of the project is now out of date
            await timed("2000 shots, after an edit", {"limit": SHOTS}, SHOTS)
            await edit(i)
            await timed("page of 100, after an edit", {"limit": 100, "offset": 900}, 100)
    return out


async def _arrival(ws: websockets.ClientConnection, revision: int, started: float) -> float:
    """Milliseconds from `started` until this client sees the event of `revision`."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "event" and message["revision"] == revision:
            return (time.perf_counter() - started) * 1000


async def bench_fanout(base: str, ws_base: str, token: str, project_id: str, rounds: int) -> list[float]:
    bearer = token.split(" ", 1)[1]
    latencies: list[float] = []
    sockets = [
        await websockets.connect(
            f"{ws_base}/api/events?token={bearer}&project_id={project_id}", max_size=None
        )
        for _ in range(CLIENTS)
    ]
    try:
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "hello"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": token}, timeout=60) as client:
            shot = (await client.get(f"/api/projects/{project_id}/shots", params={"limit": 1})).json()[
                "items"
            ][0]
            revision = shot["revision"]
            for i in range(rounds):
                started = time.perf_counter()
                response = await client.patch(
                    f"/api/shots/{shot['id']}", json={"description": f"edit {i}", "revision": revision}
                )
                assert response.status_code == 200, response.text
                revision = response.json()["revision"]

                latencies += await asyncio.gather(*(_arrival(ws, revision, started) for ws in sockets))
    finally:
        for ws in sockets:
            await ws.close()
    return latencies


def run_backend(label: str, url: str | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        project_id = seed(data_dir, url)
        server, password = start_with_admin(data_dir, url, "bench", {"AIPIPE_LOG_LEVEL": "WARNING"})
        try:
            token = httpx.post(
                f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
            ).json()["access_token"]
            bearer = f"Bearer {token}"
            listing = asyncio.run(bench_listing(server.url, bearer, project_id, rounds))
            fanout = asyncio.run(bench_fanout(server.url, server.ws_url, bearer, project_id, rounds))
        finally:
            server.stop()
    for name, values in listing.items():
        print(
            f"{label:10} list {name:27} n={len(values):4}  p50 {pct(values, 50):7.1f} ms"
            f"  p99 {pct(values, 99):7.1f} ms  mean {statistics.mean(values):7.1f} ms"
        )
    print(
        f"{label:10} fan-out 1 change -> {CLIENTS} clients  n={len(fanout):4}  p50 {pct(fanout, 50):7.1f} ms"
        f"  p99 {pct(fanout, 99):7.1f} ms  (PATCH sent -> event received)"
    )


def temp_pg_database(server_url: str) -> str | None:
    conninfo = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"aipipe_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {exc}")
        return None
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_TEST_PG_URL"))
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    run_backend("sqlite", None, args.rounds)
    if args.pg_url:
        url = temp_pg_database(args.pg_url)
        if url:
            try:
                run_backend("postgresql", url, args.rounds)
            finally:
                drop_pg_database(url)


if __name__ == "__main__":
    main()
