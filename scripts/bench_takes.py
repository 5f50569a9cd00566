"""Benchmark: queueing 800 first-frame candidates (200 shots x 4) in one request (issue 14: < 2 s).

Starts a real `aipipe server` on loopback (SQLite, and PostgreSQL in a temporary database when --pg-url
answers), makes a project with a character (LoRA, trigger words), an environment and SHOTS shots that use
them, registers an agent that reports the captured ComfyUI node catalogue (so every bound graph is checked
against it, as on a real farm), then times ROUNDS calls of `POST /api/projects/{id}/takes` with all shots
and CANDIDATES candidates each, from the request sent to the answer read. Each round adds its jobs to the
queue (the second round queues behind 800, the third behind 1,600). Reports each round and the machine's
load (`uptime`): the machine is shared, so compare runs at similar load.

Usage:
    .venv/bin/python scripts/bench_takes.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--shots 200] [--candidates 4] [--rounds 3] [--no-catalogue] [--no-sqlite] [--recipe]

--recipe makes each take with a project recipe (flux1_dev_t2i -> flux1_dev_i2i): two jobs per candidate,
the second depending on the first (docs/api.md, "Takes made with a recipe").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import drop_pg_database, temp_pg_database  # noqa: E402
from tests.support.server import start_with_admin  # noqa: E402

CATALOGUE = ROOT / "tests" / "data" / "comfyui" / "object_info.json"
GPU = [{"index": 0, "name": "NVIDIA RTX 6000 Ada", "vram_total_mb": 49140, "vram_free_mb": 48000}]
TIMEOUT_S = 120.0
RECIPE = [
    {"label": "t2i", "workflow": "flux1_dev_t2i"},
    {"label": "refine", "workflow": "flux1_dev_i2i", "params": {"denoise": 0.4}},
]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def prepare(client: httpx.Client, shots: int) -> tuple[str, list[str]]:
    project = client.post(
        "/api/projects",
        json={"code": f"TAKES{uuid.uuid4().hex[:6]}", "name": "테이크", "width": 1920, "height": 1080},
    )
    project.raise_for_status()
    pid = project.json()["id"]
    rina = client.post(
        f"/api/projects/{pid}/characters",
        json={"name": "리나", "trigger_words": ["rina_v1"], "lora_file": "loras/rina_v1.safetensors"},
    ).json()
    alley = client.post(
        f"/api/projects/{pid}/environments", json={"name": "골목길", "prompt": "night alley"}
    ).json()
    scene = client.post(f"/api/projects/{pid}/scenes", json={}).json()

    def make(index: int) -> str:
        body = {
            "scene_id": scene["id"],
            "code": f"SHT_{(index + 1) * 10:04d}",
            "action": f"Rina runs, beat {index}",
            "environment_id": alley["id"],
            "subjects": [{"character_id": rina["id"]}],
        }
        response = client.post(f"/api/projects/{pid}/shots", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    with ThreadPoolExecutor(4) as pool:
        return pid, list(pool.map(make, range(shots)))


def report_catalogue(client: httpx.Client) -> None:
    key = client.post("/api/api-keys", json={"name": f"bench-{uuid.uuid4().hex[:6]}", "role": "agent"})
    key.raise_for_status()
    agent = httpx.Client(
        base_url=str(client.base_url), headers={"Authorization": f"Bearer {key.json()['key']}"}
    )
    registered = agent.post("/api/farm/agents/register", json={"name": "bench-gpu", "gpus": GPU})
    registered.raise_for_status()
    agent_id = registered.json()["agent_id"]
    sent = agent.put(
        f"/api/farm/agents/{agent_id}/object-info",
        content=CATALOGUE.read_bytes(),
        headers={"Content-Type": "application/json"},
    )
    sent.raise_for_status()
    agent.close()


def run(backend: str, url: str | None, args: argparse.Namespace) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-takes-") as tmp:
        server, password = start_with_admin(Path(tmp), url, "bench", {"AIPIPE_LOG_LEVEL": "WARNING"})
        try:
            token = httpx.post(
                f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
            ).json()["access_token"]
            client = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S
            )
            pid, shots = prepare(client, args.shots)
            if not args.no_catalogue:
                report_catalogue(client)
            body = {"shots": shots, "candidates": args.candidates}
            if args.recipe:
                made = client.post(f"/api/projects/{pid}/recipes", json={"name": "look", "steps": RECIPE})
                made.raise_for_status()
                body["recipe"] = "look"
            times = []
            for round_number in range(1, args.rounds + 1):
                started = time.perf_counter()
                response = client.post(f"/api/projects/{pid}/takes", json=body)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                count = response.json()["count"]
                assert count == args.shots * args.candidates, count
                times.append(elapsed)
                jobs = count * (len(RECIPE) if args.recipe else 1)
                print(
                    f"  {backend} round {round_number}: {count} takes ({jobs} jobs) queued in {elapsed:.3f} s"
                )
            client.close()
            return times
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_TEST_PG_URL"))
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-catalogue", action="store_true", help="no agent node catalogue to check against"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--recipe", action="store_true", help="each take a t2i -> i2i recipe chain")
    args = parser.parse_args()
    print(f"load before: {load()}")
    results = {} if args.no_sqlite else {"sqlite": run("sqlite", None, args)}
    if args.pg_url:
        url = temp_pg_database(args.pg_url)
        if url is not None:
            try:
                results["postgresql"] = run("postgresql", url, args)
            finally:
                drop_pg_database(url)
    print(f"load after: {load()}")
    for backend, times in results.items():
        print(
            f"{backend}: {args.shots} shots x {args.candidates} candidates"
            f"{' (recipe t2i -> i2i)' if args.recipe else ''}: "
            f"median {statistics.median(times):.3f} s, max {max(times):.3f} s over {len(times)} rounds"
        )


if __name__ == "__main__":
    main()
