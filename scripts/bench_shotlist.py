"""Benchmark: export a shot list of 2,000 shots with thumbnails to xlsx, and import + diff it back.

Starts a real `aipipe server` on loopback (SQLite), seeds the shots, each with a published version whose
thumbnail is a real JPEG in the storage tree, then times over HTTP: the xlsx export (target < 5 s), the
import preview of the edited workbook — read, validate, diff (target < 3 s), and the apply of its edits.
Usage:
    .venv/bin/python scripts/bench_shotlist.py [--shots 2000] [--rounds 3] [--edits 100]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import openpyxl
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_server.cli import system_uow  # noqa: E402
from sync_server.db.migrate import upgrade  # noqa: E402
from sync_server.db.models import Project, Scene, Shot, Version  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.support.server import start_with_admin  # noqa: E402

DISTINCT_PICTURES = 50


def seed(data_dir: Path, shots: int) -> str:
    settings = Settings(data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    pictures = settings.resolved_storage_root / "bench_thumbnails"
    pictures.mkdir(parents=True, exist_ok=True)
    for i in range(DISTINCT_PICTURES):
        Image.new("RGB", (320, 180), (i * 5 % 256, 80, 160)).save(pictures / f"{i}.jpg", "JPEG", quality=85)
    with system_uow(settings) as uow:
        project = Project(code=f"BENCH{uuid.uuid4().hex[:6]}", name="Bench 벤치")
        uow.session.add(project)
        uow.session.flush()
        scenes = [Scene(project_id=project.id, code=f"SCN_{i:03d}", sort_order=i * 10) for i in range(1, 21)]
        uow.session.add_all(scenes)
        uow.session.flush()
        rows = [
            Shot(
                project_id=project.id,
                scene_id=scenes[i * 20 // shots].id,
                code=f"SHT_{(i + 1) * 10:05d}",
                sort_order=(i + 1) * 1000,
                description=f"샷 {i} — a shot description of typical length " * 2,
                action="Rina runs down the alley.",
                dialogue="리나: 이제 그만 도망쳐.",
                duration_frames=72,
            )
            for i in range(shots)
        ]
        uow.session.add_all(rows)
        uow.session.flush()
        uow.session.add_all(
            Version(
                project_id=project.id,
                shot_id=shot.id,
                stage="previz",
                number=1,
                path=f"bench/{shot.code}",
                thumbnail=f"bench_thumbnails/{i % DISTINCT_PICTURES}.jpg",
            )
            for i, shot in enumerate(rows)
        )
        uow.session.commit()
        return str(project.id)


def edited(content: bytes, edits: int) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Shots"]
    column = [c.value for c in sheet[1]].index("Description") + 1
    step = max(1, (sheet.max_row - 1) // edits)
    for row in range(2, sheet.max_row + 1, step)[:edits]:
        sheet.cell(row=row, column=column, value=f"edited in the benchmark {row}")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edits", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shotlist-") as tmp:
        data_dir = Path(tmp)
        project_id = seed(data_dir, args.shots)
        server, password = start_with_admin(data_dir, None, "bench_admin")
        try:
            with httpx.Client(base_url=server.url, timeout=300) as client:
                token = client.post("/api/auth/login", json={"username": "bench_admin", "password": password})
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                base = f"/api/projects/{project_id}/shotlist"
                exports, previews = [], []
                content = b""
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    response = client.get(f"{base}/export")
                    exports.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                    content = response.content
                thumbnails = response.headers["x-thumbnails"]
                changed = edited(content, args.edits)
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    response = client.post(f"{base}/import", files={"file": ("bench.xlsx", changed)})
                    previews.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                summary = response.json()["summary"]
                start = time.perf_counter()
                response = client.post(f"{base}/apply", files={"file": ("bench.xlsx", changed)})
                applied = time.perf_counter() - start
                assert response.status_code == 200, response.text
        finally:
            server.stop()
    print(f"{args.shots} shots, {thumbnails} thumbnails, workbook {len(content) / 1e6:.1f} MB")
    runs = ", ".join(f"{t:.2f}" for t in exports)
    print(f"export xlsx:       median {statistics.median(exports):.2f} s  (runs: {runs})")
    print(
        f"import + diff:     median {statistics.median(previews):.2f} s  ({summary['changed']} rows changed)"
    )
    print(f"apply {summary['changed']} edits: {applied:.2f} s (one transaction)")


if __name__ == "__main__":
    main()
