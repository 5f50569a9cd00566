"""Benchmark: apply a 20,000-row shot-list import while the server keeps answering everyone else.

Starts a real `aipipe server` on loopback (SQLite, and PostgreSQL when --pg-url answers), seeds a project of
--shots shots straight into the database, and over HTTP:
  update  applies an xlsx that edits every row (description and duration) of the --shots shots;
  create  applies an xlsx of --shots new rows into an empty project;
while probes send `GET /api/health` and an agent's `POST /api/farm/agents/{id}/heartbeat` one after the
other, all through the apply. Prints the apply's wall time (upload, read, validate, diff, write, answer) and
the probes' p50 / p99 / max, against the same probes on the idle server. Targets (issue 18): apply of 20,000
rows < 30 s; health and heartbeat p99 < 50 ms while it runs. Usage:
    .venv/bin/python scripts/bench_shotlist_apply.py [--shots 20000] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import drop_pg_database, pct, temp_pg_database  # noqa: E402
from sync_server.cli import system_uow  # noqa: E402
from sync_server.db.migrate import upgrade  # noqa: E402
from sync_server.db.models import Project, Scene, Shot  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

GPU = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "vram_total_mb": 24564, "vram_free_mb": 24000}]
SCENES = 20
IDLE_PROBES = 200
PROBE_GAP_S = 0.01  # between one probe's answer and the next probe
APPLY_TIMEOUT_S = 900.0
HEADER = ["ID", "Revision", "Scene", "Shot", "Status", "Description", "Dialogue", "Duration (frames)"]


@dataclass
class Probes:
    health: list[float] = field(default_factory=list)  # milliseconds
    heartbeat: list[float] = field(default_factory=list)
    heartbeat_at: list[float] = field(default_factory=list)  # perf_counter() when each heartbeat was sent


@dataclass
class Seeded:
    project_id: str
    scenes: list[str]
    shots: list[dict[str, Any]]


def seed(data_dir: Path, url: str | None, shots: int) -> Seeded:
    """A project with SCENES scenes and `shots` shots, inserted in one statement (setup, not measured)."""
    settings = Settings(data_dir=data_dir, database_url=url)
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        project = Project(code=f"BENCH{uuid.uuid4().hex[:6]}", name="Bench 벤치")
        uow.session.add(project)
        uow.session.flush()
        scenes = [
            Scene(project_id=project.id, code=f"SCN_{i:03d}", sort_order=i * 10) for i in range(1, SCENES + 1)
        ]
        uow.session.add_all(scenes)
        uow.session.flush()
        rows = [
            {
                "id": uuid.uuid4(),
                "project_id": project.id,
                "scene_id": scenes[i * SCENES // max(shots, 1)].id,
                "code": f"SHT_{(i + 1) * 10:06d}",
                "sort_order": (i + 1) * 1000,
                "description": f"샷 {i} — a shot description of typical length " * 2,
                "dialogue": "리나: 이제 그만 도망쳐.",
                "duration_frames": 72,
                "status": "draft",
            }
            for i in range(shots)
        ]
        if rows:
            uow.session.execute(insert(Shot), rows)
        uow.session.commit()
        codes = {scene.id: scene.code for scene in scenes}
        listed = [{**row, "scene": codes[row["scene_id"]]} for row in rows]
        return Seeded(str(project.id), [scene.code for scene in scenes], listed)


def workbook(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Shots")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def edits_of(seeded: Seeded) -> bytes:
    """Every shot's description and duration edited, as a producer's workbook would bring them back."""
    return workbook(
        [
            [
                str(s["id"]),
                1,
                s["scene"],
                s["code"],
                "draft",
                s["description"] + " (edited)",
                s["dialogue"],
                48,
            ]
            for s in seeded.shots
        ]
    )


def new_rows(scenes: list[str], count: int) -> bytes:
    return workbook(
        [
            [None, None, scenes[i * len(scenes) // count], None, "draft", f"new shot {i}", "", 24]
            for i in range(count)
        ]
    )


@contextmanager
def server_for(url: str | None) -> Iterator[tuple[ServerProcess, Path]]:
    with tempfile.TemporaryDirectory(prefix="bench-shotlist-apply-") as folder:
        data_dir = Path(folder)
        server, password = start_with_admin(data_dir, url, "bench", {"AIPIPE_LOG_LEVEL": "WARNING"})
        server.password = password  # type: ignore[attr-defined]
        try:
            yield server, data_dir
        finally:
            server.stop()


def tokens(server: ServerProcess) -> tuple[str, str, str]:
    """The admin's bearer token, an agent API key and a registered agent's id."""
    login = httpx.post(
        f"{server.url}/api/auth/login",
        json={"username": "bench", "password": server.password},  # type: ignore[attr-defined]
    )
    login.raise_for_status()
    admin = f"Bearer {login.json()['access_token']}"
    key = httpx.post(
        f"{server.url}/api/api-keys",
        json={"name": "bench-agent", "role": "agent"},
        headers={"Authorization": admin},
    )
    key.raise_for_status()
    agent_key = f"Bearer {key.json()['key']}"
    agent = httpx.post(
        f"{server.url}/api/farm/agents/register",
        json={"name": f"bench-{uuid.uuid4().hex[:6]}", "gpus": GPU},
        headers={"Authorization": agent_key},
    )
    agent.raise_for_status()
    return admin, agent_key, agent.json()["agent_id"]


async def probe_until(
    base: str, agent_key: str, agent_id: str, done: asyncio.Event | None, count: int = 0
) -> Probes:
    """Health and heartbeat round trips one after the other until `done` (or `count` of each)."""
    found = Probes()
    async with (
        httpx.AsyncClient(base_url=base, timeout=120) as plain,
        httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": agent_key}) as agent,
    ):
        while (done is not None and not done.is_set()) or (done is None and len(found.health) < count):
            started = time.perf_counter()
            (await plain.get("/api/health")).raise_for_status()
            found.health.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            found.heartbeat_at.append(started)
            beat = await agent.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"})
            beat.raise_for_status()
            found.heartbeat.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PROBE_GAP_S)
    return found


async def apply_with_probes(
    base: str, admin: str, agent_key: str, agent_id: str, project_id: str, content: bytes
) -> tuple[float, dict[str, Any], Probes]:
    done = asyncio.Event()
    probes = asyncio.create_task(probe_until(base, agent_key, agent_id, done))
    async with httpx.AsyncClient(
        base_url=base, timeout=APPLY_TIMEOUT_S, headers={"Authorization": admin}
    ) as client:
        started = time.perf_counter()
        response = await client.post(
            f"/api/projects/{project_id}/shotlist/apply", files={"file": ("bench.xlsx", content)}
        )
        seconds = time.perf_counter() - started
    done.set()
    found = await probes
    response.raise_for_status()
    return seconds, response.json(), found


def line(label: str, values: list[float]) -> str:
    if not values:
        return f"    {label:22} no samples"
    return (
        f"    {label:22} n={len(values):5d}  p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms  "
        f"max {max(values):7.1f} ms"
    )


@contextmanager
def database(pg_url: str | None) -> Iterator[str | None]:
    """None (SQLite in the server's data folder), or a new PostgreSQL database dropped afterwards."""
    url = temp_pg_database(pg_url) if pg_url else None
    if pg_url and not url:
        raise SystemExit("PostgreSQL not reachable")
    try:
        yield url
    finally:
        if url:
            drop_pg_database(url)


def run(label: str, pg_url: str | None, shots: int) -> None:
    """Each scenario on a server and database of its own."""
    for scenario in ("update", "create"):
        with database(pg_url) as url, server_for(url) as (server, data_dir):
            seeded = seed(data_dir, url, shots if scenario == "update" else 0)
            content = edits_of(seeded) if scenario == "update" else new_rows(seeded.scenes, shots)
            admin, agent_key, agent_id = tokens(server)
            idle = asyncio.run(probe_until(server.url, agent_key, agent_id, None, IDLE_PROBES))
            seconds, answer, busy = asyncio.run(
                apply_with_probes(server.url, admin, agent_key, agent_id, seeded.project_id, content)
            )
            applied = answer["applied"]
            print(
                f"{label:10} {scenario}: {shots:,} rows ({len(content) / 1e6:.1f} MB xlsx) "
                f"applied in {seconds:.1f} s"
                f" — {len(applied['updated']):,} updated, {len(applied['created']):,} created"
            )
            print(line("health, idle", idle.health))
            print(line("heartbeat, idle", idle.heartbeat))
            print(line("health, during apply", busy.health))
            print(line("heartbeat, during", busy.heartbeat))


def in_process(label: str, pg_url: str | None, shots: int) -> None:
    """The apply's two phases timed in this process (no server, no probes): the plan (read, validate, diff,
    plan) and the write transaction, with wall and CPU time, as an import process runs them."""
    from sync_server.context import SYSTEM, UnitOfWork
    from sync_server.db.engine import make_database
    from sync_server.shotlist import service
    from sync_server.shotlist.offload import plan_with
    from sync_server.shotlist.planned import ImportJob
    from sync_server.shotlist.settings import ShotlistSettings

    for scenario in ("update", "create"):
        with database(pg_url) as url, tempfile.TemporaryDirectory(prefix="bench-apply-phases-") as folder:
            settings = Settings(data_dir=Path(folder), database_url=url)
            seeded = seed(Path(folder), url, shots if scenario == "update" else 0)
            content = edits_of(seeded) if scenario == "update" else new_rows(seeded.scenes, shots)
            made = make_database(settings.resolved_database_url, pool_size=1)
            project_id = uuid.UUID(seeded.project_id)
            job = ImportJob(
                settings.resolved_database_url,
                project_id,
                "bench.xlsx",
                content,
                ShotlistSettings(),
                SYSTEM,
                apply=True,
            )
            try:
                started, cpu = time.perf_counter(), time.process_time()
                planned = plan_with(made.engine, job)
                plan_s, plan_cpu = time.perf_counter() - started, time.process_time() - cpu
                with made.write_sessions() as session:
                    uow = UnitOfWork(session=session, hub=None, actor=SYSTEM)
                    written = service.apply(uow, lambda done=planned: done, project_id, "bench.xlsx")
            finally:
                made.dispose()
            print(
                f"{label:10} {scenario}: {shots:,} rows: plan {plan_s:.1f} s ({plan_cpu:.1f} s CPU); write "
                f"transaction {written.write_s:.2f} s ({written.write_cpu_s:.2f} s CPU); "
                f"load {os.getloadavg()[0]:.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shots", type=int, default=20000)
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_BENCH_PG_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument(
        "--in-process", action="store_true", help="time the plan and the write in this process, no server"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    if args.in_process:
        if args.only != "postgresql":
            in_process("sqlite", None, args.shots)
        if args.pg_url and args.only != "sqlite":
            in_process("postgresql", args.pg_url, args.shots)
        return
    if args.only != "postgresql":
        run("sqlite", None, args.shots)
    if args.pg_url and args.only != "sqlite":
        run("postgresql", args.pg_url, args.shots)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
