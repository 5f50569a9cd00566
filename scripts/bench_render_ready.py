"""Benchmark: render-ready for hundreds of shots in one request (issue 17, "Recipes").

Starts a real `aipipe server` on loopback (SQLite, and PostgreSQL in a temporary database when --pg-url
answers), makes a project with a character (LoRA, trigger words), an environment and SHOTS shots using them,
confirms it, publishes and approves a first frame for every shot, saves the recipe wan22_i2v_14b -> RIFE 2x
-> ESRGAN 2x and registers an agent that reports the captured ComfyUI node catalogue plus the RIFE node (so
every bound graph is checked against it, as on a real farm). Then times `POST /api/projects/{id}/render-
ready` (every shot: SHOTS x 3 jobs with their dependencies) from the request sent to the answer read, and a
second call (nothing new to queue: every shot skipped). Reports the machine's load (`uptime`): the machine is
shared, so compare runs at similar load.

Usage:
    .venv/bin/python scripts/bench_render_ready.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--shots 300] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import drop_pg_database, temp_pg_database  # noqa: E402
from scripts.bench_takes import CATALOGUE, GPU, TIMEOUT_S, load, prepare  # noqa: E402
from tests.comfyui_standin.catalogue import with_nodes  # noqa: E402
from tests.support.server import start_with_admin  # noqa: E402

STEPS = [
    {"label": "i2v", "workflow": "wan22_i2v_14b"},
    {"label": "RIFE 2x", "workflow": "rife_interpolate_2x"},
    {"label": "ESRGAN 2x", "workflow": "esrgan_upscale_video"},
]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def first_frames(client: httpx.Client, shots: list[str]) -> None:
    picture = png()

    def approve(shot_id: str) -> None:
        made = client.post(
            f"/api/shots/{shot_id}/versions",
            data={"stage": "previz"},
            files={"files": ("frame.png", picture, "image/png")},
        )
        made.raise_for_status()
        client.post(
            f"/api/versions/{made.json()['id']}/reviews", json={"verdict": "approve"}
        ).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(approve, shots))


def report_catalogue(client: httpx.Client) -> None:
    key = client.post("/api/api-keys", json={"name": "bench-render-ready", "role": "agent"})
    key.raise_for_status()
    agent = httpx.Client(
        base_url=str(client.base_url), headers={"Authorization": f"Bearer {key.json()['key']}"}
    )
    registered = agent.post("/api/farm/agents/register", json={"name": "bench-gpu", "gpus": GPU})
    registered.raise_for_status()
    catalogue = with_nodes(json.loads(CATALOGUE.read_text("utf-8")), ["RIFE VFI"])
    sent = agent.put(
        f"/api/farm/agents/{registered.json()['agent_id']}/object-info",
        content=json.dumps(catalogue),
        headers={"Content-Type": "application/json"},
    )
    sent.raise_for_status()
    agent.close()


def run(backend: str, url: str | None, shots: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="bench-render-ready-") as tmp:
        server, password = start_with_admin(Path(tmp), url, "bench", {"AIPIPE_LOG_LEVEL": "WARNING"})
        try:
            token = httpx.post(
                f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
            ).json()["access_token"]
            client = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S
            )
            pid, ids = prepare(client, shots)
            client.post(f"/api/projects/{pid}/confirm", json={}).raise_for_status()
            first_frames(client, ids)
            client.post(
                f"/api/projects/{pid}/recipes", json={"name": "film", "steps": STEPS}
            ).raise_for_status()
            report_catalogue(client)
            body = {"recipe": "film", "shot_ids": None}
            started = time.perf_counter()
            response = client.post(f"/api/projects/{pid}/render-ready", json=body)
            first = time.perf_counter() - started
            response.raise_for_status()
            queued = response.json()["queued"]
            assert len(queued) == shots and all(len(q["job_ids"]) == 3 for q in queued), response.text[:500]
            started = time.perf_counter()
            again = client.post(f"/api/projects/{pid}/render-ready", json=body)
            second = time.perf_counter() - started
            again.raise_for_status()
            assert again.json()["queued"] == [] and len(again.json()["skipped"]) == shots
            print(
                f"  {backend}: {shots} shots, {3 * shots} jobs queued in {first:.3f} s; "
                f"again (nothing new) {second:.3f} s"
            )
            client.close()
            return first, second
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_TEST_PG_URL"))
    parser.add_argument("--shots", type=int, default=300)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    print(f"load before: {load()}")
    if not args.no_sqlite:
        run("sqlite", None, args.shots)
    if args.pg_url:
        url = temp_pg_database(args.pg_url)
        if url is not None:
            try:
                run("postgresql", url, args.shots)
            finally:
                drop_pg_database(url)
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
