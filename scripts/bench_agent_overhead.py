"""The render agent's own time around a ComfyUI run, for a ~100 MB video in and a ~100 MB video out: a real
`aipipe server`, a real agent process (`python -m render_agent`) and the ComfyUI stand-in
(tests/comfyui_standin), all on loopback.

The job is `esrgan_upscale_video` (2x; copied as `bench_upscale_video` with no VRAM need: the bench's
agent has no GPU) with a 100 MB input video published as a version. The stand-in's
nodes are replaced by ones that do no work (LoadVideo hands on the path; SaveVideo copies a prepared 2x
video of the same frames and rate into ComfyUI's output folder), so the ComfyUI run is short and the
agent's overhead is what remains. The job waits on a parent job that the bench itself completes: the
agent, already long-polling, claims it the moment it becomes runnable.

Phases (server timestamps, the stand-in's request log and ComfyUI's execution messages; one clock):
  claim           parent completed -> the job is leased (the agent's long-poll wakes and claims)
  input down      leased -> the agent starts sending the input to ComfyUI (download + sha256 check)
  input to Comfy  POST /upload/image
  queue           POST /prompt -> execution_start
  ComfyUI run     execution_start -> execution_success (not overhead)
  outputs down    execution_success -> the last GET /view ends (the agent notices, asks, downloads)
  report          -> the job is succeeded on the server (output check, hash, upload, complete)
Target: everything but the ComfyUI run < 2 s.

    .venv/bin/python scripts/bench_agent_overhead.py [--size-mb 100] [--runs 2] [--tmp /tmp]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_farm_api import GPU, machine  # noqa: E402
from sync_server.cli import system_uow  # noqa: E402
from sync_server.farm import jobs  # noqa: E402
from sync_server.farm.schemas import JobSubmit  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.comfyui_standin.nodes import NodeContext, _next_save_path  # noqa: E402
from tests.comfyui_standin.server import StandinComfy  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

MB = 1024 * 1024
FPS = 24
FRAMES = 48
TEMPLATE = "esrgan_upscale_video"
WORKFLOW = "bench_upscale_video"  # the template with no VRAM need: the bench's agent has no GPU
PARENT_TAG = "bench-parent"
PARENT = {
    "type": "i2v",
    "workflow": "cpu_test_still_video",
    "params": {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8},
}


# -- media -------------------------------------------------------------------------------------------------


def noise_video(path: Path, width: int, height: int, size: int) -> None:
    """FRAMES frames of noise at FPS, H.264 at the bit rate that makes about `size` bytes."""
    rng = np.random.default_rng(7)
    seconds = FRAMES / FPS
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = int(size * 8 / seconds)
        stream.options = {"preset": "ultrafast"}
        base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
        for n in range(FRAMES):
            grain = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            frame = (np.kron(base, np.ones((8, 8, 1), dtype=np.uint8)) // 2 + grain // 2 + n).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# -- the ComfyUI stand-in, timed --------------------------------------------------------------------------


@dataclass
class Timed:
    method: str
    path: str
    start: float
    end: float = 0.0


class Recording(dict[str, dict[str, Any]]):
    """ComfyUI's history that also keeps every entry after the agent deletes it."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[dict[str, Any]] = []

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        self.kept.append(value)
        super().__setitem__(key, value)


@dataclass
class Standin:
    comfy: StandinComfy
    url: str
    requests: list[Timed] = field(default_factory=list)


def timing(app: Any, log: list[Timed]) -> Any:
    """ASGI middleware: each HTTP request's start and the end of its response body (wall clock)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        entry = Timed(scope["method"], scope["path"], time.time())

        async def sending(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                entry.end = time.time()

        await app(scope, receive, sending)
        log.append(entry)

    return wrapped


def idle_nodes(output: Path) -> dict[str, Any]:
    """The template's nodes, doing no work: SaveVideo copies `output` (the prepared 2x video)."""

    def passing(inputs: dict[str, Any], ctx: NodeContext) -> tuple[tuple[Any, ...], None]:
        return (None, None, float(FPS)), None

    def save(inputs: dict[str, Any], ctx: NodeContext) -> tuple[tuple[Any, ...], dict[str, Any]]:
        folder, subfolder, stem, counter = _next_save_path(inputs["filename_prefix"], ctx.output_dir)
        name = f"{stem}_{counter:05}_.mp4"
        shutil.copyfile(output, folder / name)
        return (), {
            "images": [{"filename": name, "subfolder": subfolder, "type": "output"}],
            "animated": [True],
        }

    names = ("LoadVideo", "GetVideoComponents", "UpscaleModelLoader", "ImageUpscaleWithModel", "CreateVideo")
    return {**dict.fromkeys(names, passing), "SaveVideo": save}


@contextlib.contextmanager
def running_standin(root: Path, output: Path) -> Iterator[Standin]:
    comfy = StandinComfy(root, models=["RealESRGAN_x2.pth"])
    comfy._node_functions.update(idle_nodes(output))  # the bench's own nodes
    comfy.history = Recording()
    log: list[Timed] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(timing(comfy.app, log), log_level="warning", ws_ping_interval=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ComfyUI stand-in did not start")
        time.sleep(0.01)
    try:
        yield Standin(comfy, f"http://127.0.0.1:{port}", log)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# -- the farm ------------------------------------------------------------------------------------------------


@dataclass
class Farm:
    server: ServerProcess
    admin: httpx.Client
    agent_key: str
    settings: Settings


def gpu_free_template(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "workflows" / f"{TEMPLATE}.json", folder / f"{WORKFLOW}.json")
    meta = json.loads((ROOT / "workflows" / f"{TEMPLATE}.meta.json").read_text(encoding="utf-8"))
    (folder / f"{WORKFLOW}.meta.json").write_text(json.dumps({**meta, "min_vram_gb": 0}), encoding="utf-8")
    return folder


@contextlib.contextmanager
def running_farm(data_dir: Path) -> Iterator[Farm]:
    workflows = gpu_free_template(data_dir.parent / "workflows")
    env = {"AIPIPE_LOG_LEVEL": "WARNING", "AIPIPE_WORKFLOW_DIRS": json.dumps([str(workflows)])}
    server, password = start_with_admin(data_dir, None, "bench", env)
    try:
        token = httpx.post(
            f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
        ).json()["access_token"]
        admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=600)
        key = admin.post("/api/api-keys", json={"name": "bench-agent", "role": "agent"})
        key.raise_for_status()
        settings = Settings(data_dir=data_dir, workflow_dirs=[workflows])
        yield Farm(server, admin, key.json()["key"], settings)
    except Exception:
        print(server.log()[-4000:], file=sys.stderr)
        raise
    finally:
        server.stop()


def publish_input(farm: Farm, video: Path) -> tuple[dict[str, Any], float]:
    """A shot and its version holding `video`: (the version's file, seconds the upload took)."""
    admin = farm.admin
    code = f"B{uuid.uuid4().hex[:6].upper()}"
    project = admin.post("/api/projects", json={"code": code, "name": "bench", "fps": str(FPS)}).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shot = admin.post(
        f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "duration_frames": FRAMES}
    ).json()
    started = time.perf_counter()
    with video.open("rb") as fh:
        response = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "render"},
            files={"files": ("input.mp4", fh, "video/mp4")},
        )
    response.raise_for_status()
    return response.json()["files"][0], time.perf_counter() - started


def queue_step(farm: Farm, file: dict[str, Any]) -> tuple[str, str]:
    """The bench's parent job and the upscale job waiting on it (through the submit service, as the
    server would for a recipe step): (parent id, job id)."""
    with system_uow(farm.settings) as uow:
        # Tagged so that only the bench's own agent can take it, not the real one.
        parent = jobs.submit(uow, farm.settings, JobSubmit(**PARENT, priority=90, tags=[PARENT_TAG]))
        spec = {
            "role": "video",
            "name": "input.mp4",
            "url": file["url"],
            "sha256": file["sha256"],
            "targets": [["1", "file"]],
        }
        body = JobSubmit(type="upscale", workflow=WORKFLOW, params={}, depends_on=[parent.id])
        job = jobs.submit(uow, farm.settings, body, inputs=[spec])
    return str(parent.id), str(job.id)


def take_parent(farm: Farm, parent_id: str) -> tuple[httpx.Client, str]:
    """Claim the parent as a second agent (before the real one starts): (its client, lease id)."""
    client = httpx.Client(
        base_url=farm.server.url, headers={"Authorization": f"Bearer {farm.agent_key}"}, timeout=300
    )
    body = {"name": f"bench-parent-{uuid.uuid4().hex[:6]}", "gpus": GPU, "tags": [PARENT_TAG]}
    agent_id = client.post("/api/farm/agents/register", json=body).json()["agent_id"]
    claim = client.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 5})
    claim.raise_for_status()
    assert claim.json()["job"]["id"] == parent_id, claim.json()["job"]["id"]
    return client, str(claim.json()["lease"]["id"])


@contextlib.contextmanager
def agent_process(farm: Farm, standin: Standin, work: Path) -> Iterator[Path]:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "agent.log"
    env = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": farm.agent_key,
        "AIPIPE_AGENT_WORK_DIR": str(work),
        "AIPIPE_AGENT_COMFYUI_OUTPUT_DIR": str(standin.comfy.output_dir),
    }
    command = [sys.executable, "-m", "render_agent", "--name", "bench-agent", "--on-sigterm", "release"]
    command += ["--server", farm.server.url, "--comfyui", standin.url]
    with log.open("a", encoding="utf-8") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
    try:
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_job(farm: Farm, job_id: str, status: tuple[str, ...], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = farm.admin.get(f"/api/farm/jobs/{job_id}").json()
        if job["status"] in status:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job['status']} after {timeout} s")
        time.sleep(0.05)


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_step(farm: Farm, standin: Standin, file: dict[str, Any], log: Path) -> dict[str, float]:
    parent_id, job_id = queue_step(farm, file)
    parent_agent, lease_id = take_parent(farm, parent_id)
    standin.requests.clear()
    wait_agent_polling(farm, log)
    tiny = {"files": ("parent.txt", b"parent", "text/plain")}
    parent_agent.post(f"/api/farm/jobs/{parent_id}/outputs", data={"lease_id": lease_id}, files=tiny)
    released = time.time()
    done = parent_agent.post(f"/api/farm/jobs/{parent_id}/complete", json={"lease_id": lease_id})
    if done.status_code != 200:
        raise RuntimeError(f"completing the parent: {done.status_code} {done.text}")
    parent_agent.close()
    try:
        job = wait_job(farm, job_id, ("succeeded", "failed"), 300)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\nagent log:\n{log.read_text()[-3000:]}") from exc
    if job["status"] != "succeeded" or not standin.requests:
        raise RuntimeError(f"the job failed: {job.get('error')}\n{log.read_text()[-3000:]}")
    assert isinstance(standin.comfy.history, Recording)
    history = standin.comfy.history.kept[-1]
    messages = {kind: data["timestamp"] / 1000 for kind, data in history["status"]["messages"]}
    uploads = [r for r in standin.requests if r.method == "POST" and r.path == "/upload/image"]
    prompt = next(r for r in standin.requests if r.method == "POST" and r.path == "/prompt")
    views = [r for r in standin.requests if r.method == "GET" and r.path == "/view"]
    started, finished = stamp(job["started_at"]), stamp(job["finished_at"])
    return {
        "claim": started - released,
        "input down": uploads[0].start - started,
        "input to Comfy": uploads[-1].end - uploads[0].start,
        "queue": messages["execution_start"] - prompt.start,
        "ComfyUI run": messages["execution_success"] - messages["execution_start"],
        "outputs down": max(v.end for v in views) - messages["execution_success"],
        "report": finished - max(v.end for v in views),
        "total": finished - released,
        "output MB": sum(o["size"] for o in job["outputs"]) / MB,
    }


def wait_agent_polling(farm: Farm, log: Path) -> None:
    """Until the agent is registered and idle (waiting on a claim)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        agents = farm.admin.get("/api/farm/agents").json()
        if any(a["name"] == "bench-agent" and a.get("state") == "idle" for a in agents):
            time.sleep(0.5)  # its long-poll is in
            return
        time.sleep(0.1)
    raise RuntimeError(f"the agent did not come up:\n{log.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    print(machine())
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-agent-") as tmp:
        folder = Path(tmp)
        source, output = folder / "input.mp4", folder / "upscaled.mp4"
        started = time.perf_counter()
        noise_video(source, 1280, 720, int(args.size_mb * MB * 1.3))
        noise_video(output, 2560, 1440, int(args.size_mb * MB * 0.76))
        print(
            f"media: input {source.stat().st_size / MB:.0f} MB, output {output.stat().st_size / MB:.0f} MB "
            f"({FRAMES} frames, made in {time.perf_counter() - started:.0f} s)"
        )
        with running_farm(folder / "server") as farm, running_standin(folder / "comfy", output) as standin:
            file, publish_s = publish_input(farm, source)
            print(f"input published as a version: {publish_s:.2f} s")
            with agent_process(farm, standin, folder / "agent") as log:
                rows = [run_step(farm, standin, file, log) for _ in range(args.runs)]
        for n, row in enumerate(rows, 1):
            overhead = row["total"] - row["ComfyUI run"]
            phases = "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("total", "output MB"))
            print(f"run {n}: {phases} s;  overhead {overhead:.2f} s (output {row['output MB']:.0f} MB)")
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
