"""Benchmark: camera solves over HTTP while the server keeps answering everyone else (issue 15).

Starts a real `aipipe server` on loopback (SQLite), publishes --pictures first frames drawn from known cameras
(1280×720 boxes, scripts/camera_set/synth.py) and sends `POST /api/versions/{id}/camera-solve` for each from
--clients clients at once, while a probe sends `GET /api/health` one after the other. Prints the solve
requests' wall time (p50 / max), the probe's p50 / p99 / max during the solves against the same probe on the
idle server, and the server's CPU seconds. The solve (0.1–1 s of CPU) runs in worker threads, at most
AIPIPE_CAMERA_SOLVE_WORKERS at once: the event loop should stay free (target: health p99 < 50 ms). Usage:
    .venv/bin/python scripts/bench_camera_solve_api.py [--pictures 12] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import pct  # noqa: E402
from scripts.camera_set.synth import draw_boxes  # noqa: E402
from tests.support.server import start_with_admin  # noqa: E402

WIDTH, HEIGHT = 1280, 720


def picture(seed: int) -> bytes:
    lens = 18 + (seed * 7) % 60
    focal = lens / 36.0 * WIDTH / (WIDTH / 2.0)
    image = draw_boxes(width=WIDTH, height=HEIGHT, focal=focal, pitch=5, roll=-2, yaw=20 + seed, seed=seed)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return data.tobytes()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/api/health").raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)


def line(label: str, values: list[float]) -> str:
    return (
        f"{label:<28} n={len(values):4d}  p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms  "
        f"max {max(values):7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-camera-solve-") as folder:
        server, password = start_with_admin(Path(folder), None, "bench", {"AIPIPE_LOG_LEVEL": "WARNING"})
        try:
            admin = httpx.Client(base_url=server.url, timeout=120)
            token = admin.post("/api/auth/login", json={"username": "bench", "password": password})
            admin.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            project = admin.post("/api/projects", json={"code": "BENCH", "name": "bench"}).json()
            scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
            shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
            versions = []
            for index in range(args.pictures):
                made = admin.post(
                    f"/api/shots/{shot['id']}/versions",
                    data={"stage": "previz"},
                    files={"files": (f"f{index}.jpg", picture(index), "image/jpeg")},
                )
                made.raise_for_status()
                versions.append(made.json()["id"])
            # The first solve starts the solve processes (spawned, importing numpy and OpenCV): timed apart.
            started = time.perf_counter()
            admin.post(f"/api/versions/{versions[0]}/camera-solve", json={}).raise_for_status()
            first = time.perf_counter() - started
            idle: list[float] = []
            stop = threading.Event()
            thread = threading.Thread(target=probe, args=(server.url, stop, idle))
            thread.start()
            time.sleep(3)
            stop.set()
            thread.join()

            assert server.process is not None
            pid = server.process.pid
            cpu_before = cpu_seconds(pid)
            busy: list[float] = []
            stop = threading.Event()
            thread = threading.Thread(target=probe, args=(server.url, stop, busy))
            thread.start()

            def solve(version_id: str) -> tuple[float, bool]:
                started = time.perf_counter()
                answer = admin.post(f"/api/versions/{version_id}/camera-solve", json={})
                answer.raise_for_status()
                return time.perf_counter() - started, answer.json()["solution"]["accepted"]

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(solve, versions))
            wall = time.perf_counter() - started
            stop.set()
            thread.join()
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            server.stop()
    seconds = [r[0] for r in results]
    print(
        f"{args.pictures} solves of {WIDTH}x{HEIGHT} JPEGs from {args.clients} clients: {wall:.1f} s wall, "
        f"server CPU {cpu:.1f} s, accepted {sum(r[1] for r in results)}/{len(results)}"
    )
    print(f"first solve (starts the solve processes): {first:.2f} s")
    print(f"solve request wall: p50 {pct(seconds, 50):.2f} s, max {max(seconds):.2f} s")
    print(line("health, idle server", idle))
    print(line("health, during the solves", busy))
    print(f"load average: {os.getloadavg()}, cores: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
