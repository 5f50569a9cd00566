"""FakeFarm: a TEST DOUBLE of our sync server's farm API (docs/agent-protocol.md), in memory, on loopback.

It is not the real server (sync_server/farm/ is): it implements exactly the spec's endpoints with a plain
in-memory queue so the agent can be tested before, and apart from, the real scheduler. Request bodies are
checked strictly (unknown fields are refused with 422) so the agent cannot drift from the spec unnoticed.
State lives in `FakeFarm` and survives `FarmServer.stop()` / `start()` on the same port (a server restart).
Test knobs: `enqueue`, `add_file`, `cancel`, `expire_lease`, `drain`; `calls` records every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import uvicorn
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from aipipe_shared.workflows import bind, load_template
from render_agent.agent import Agent
from render_agent.comfyui import ComfyClient
from render_agent.outbox import Outbox
from render_agent.server_client import FarmClient
from render_agent.settings import AgentSettings
from tests.comfyui_standin.fixtures import write_probe_image

PROBLEM = "https://aipipeline.dev/problems/"
CPU_WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "cpu_test_still_video.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GpuIn(_Strict):
    index: int
    name: str
    uuid: str
    vram_total_mb: int
    vram_free_mb: int
    driver: str


class RegisterIn(_Strict):
    name: str
    host: str
    version: str
    gpus: list[GpuIn]
    gpu_error: str | None
    cpu_count: int
    ram_mb: int
    tags: list[str]
    job_types: list[str]
    loaded_models: list[str]
    protocol_version: int = 1  # absent: an agent from before versions (as the real server reads it)


class AgentHeartbeatIn(_Strict):
    state: Literal["idle", "busy", "unavailable"]
    reason: str = ""
    loaded_models: list[str]
    gpus: list[GpuIn]


class ClaimIn(_Strict):
    wait_s: float
    loaded_models: list[str]


class JobHeartbeatIn(_Strict):
    lease_id: str
    progress: float
    stage: str
    preview: str | None = None


class CompleteIn(_Strict):
    lease_id: str
    gpu_seconds: float
    provenance: dict[str, Any]


class FailIn(_Strict):
    lease_id: str
    error: str
    retryable: bool
    kind: Literal["input", "node", "agent"] | None = None  # older agents send none


class WatchIn(_Strict):
    lease_id: str
    wait_s: float


class ReleaseIn(_Strict):
    lease_id: str


@dataclass
class FakeJob:
    id: str
    type: str
    graph: dict[str, Any] | None
    params: dict[str, Any]
    inputs: list[dict[str, Any]]
    timeout_s: int = 3600
    status: str = "queued"
    attempt: int = 0
    lease_id: str | None = None
    lease_expires: float = 0.0
    agent_id: str | None = None
    cancel_requested: bool = False
    outputs: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (sha256, bytes)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    progress: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Call:
    kind: str  # register, agent_heartbeat, claim, job_heartbeat, outputs, complete, fail, release, file
    job_id: str | None
    body: dict[str, Any]
    status: int


class FakeFarm:
    """The in-memory state and the FastAPI app of the test double."""

    def __init__(
        self,
        *,
        api_key: str = "aip_test_agent_key",
        lease_s: float = 60.0,
        heartbeat_s: float = 0.2,
        claim_wait_max_s: float = 1.0,
    ):
        self.api_key = api_key
        self.lease_s, self.heartbeat_s, self.claim_wait_max_s = lease_s, heartbeat_s, claim_wait_max_s
        self.jobs: dict[str, FakeJob] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.calls: list[Call] = []
        self.drained: set[str] = set()
        self._order: list[str] = []
        self._lock = threading.Lock()
        self.app = self._build_app()

    # ---- test knobs (any thread) -----------------------------------------------------------
    def add_file(self, name: str, data: bytes) -> tuple[str, str]:
        """Serve bytes at a server-relative URL; returns (url, sha256)."""
        url = f"/api/versions/{uuid.uuid4()}/files/{name}"
        self.files[url] = data
        return url, hashlib.sha256(data).hexdigest()

    def enqueue(
        self,
        job_type: str,
        *,
        graph: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        inputs: list[dict[str, Any]] | None = None,
        timeout_s: int = 3600,
    ) -> str:
        job = FakeJob(str(uuid.uuid4()), job_type, graph, params or {}, inputs or [], timeout_s)
        with self._lock:
            self.jobs[job.id] = job
            self._order.append(job.id)
        return job.id

    def cancel(self, job_id: str) -> None:
        """A wrangler cancels: the next job heartbeat answers `cancel`."""
        self.jobs[job_id].cancel_requested = True

    def expire_lease(self, job_id: str) -> None:
        """The lease runs out and the job goes back to the queue (elsewhere): the agent's lease is lost."""
        with self._lock:
            job = self.jobs[job_id]
            job.lease_id, job.agent_id, job.status = None, None, "queued"
            self._order.remove(job_id)  # keep it away from the same agent in these tests

    def drain(self, agent_name: str, on: bool = True) -> None:
        (self.drained.add if on else self.drained.discard)(agent_name)

    def kinds(self, job_id: str | None = None) -> list[str]:
        return [c.kind for c in list(self.calls) if job_id is None or c.job_id == job_id]

    # ---- app -------------------------------------------------------------------------------
    def _build_app(self) -> FastAPI:
        app = FastAPI(title="FakeFarm (test double of the sync server's /api/farm)")
        farm = self

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if request.headers.get("authorization") != f"Bearer {farm.api_key}":
                return _problem(401, "unauthorized", "bad or missing API key")
            return await call_next(request)

        @app.post("/api/farm/agents/register")
        async def register(body: RegisterIn) -> dict[str, Any]:
            with farm._lock:
                agent_id = next((a for a, v in farm.agents.items() if v["name"] == body.name), None)
                agent_id = agent_id or str(uuid.uuid4())
                farm.agents[agent_id] = body.model_dump()
            farm._record("register", None, body.model_dump(), 200)
            return {
                "agent_id": agent_id,
                "lease_s": farm.lease_s,
                "heartbeat_s": farm.heartbeat_s,
                "claim_wait_max_s": farm.claim_wait_max_s,
            }

        @app.put("/api/farm/agents/{agent_id}/object-info", response_model=None)
        async def object_info(agent_id: str, request: Request) -> Any:
            if agent_id not in farm.agents:
                return _problem(404, "not-found", f"unknown agent {agent_id}")
            info = await request.json()
            farm._record("object_info", None, {"node_classes": len(info)}, 200)
            return {"sha256": hashlib.sha256(repr(sorted(info)).encode()).hexdigest()}

        @app.post("/api/farm/agents/{agent_id}/heartbeat", response_model=None)
        async def agent_heartbeat(agent_id: str, body: AgentHeartbeatIn) -> Any:
            if agent_id not in farm.agents:
                return _problem(404, "not-found", f"unknown agent {agent_id}")
            farm._record("agent_heartbeat", None, body.model_dump(), 200)
            drained = farm.agents[agent_id]["name"] in farm.drained
            return {"action": "drain" if drained else "continue"}

        @app.post("/api/farm/agents/{agent_id}/claim", response_model=None)
        async def claim(agent_id: str, body: ClaimIn) -> Any:
            if agent_id not in farm.agents:
                return _problem(404, "not-found", f"unknown agent {agent_id}")
            deadline = time.monotonic() + min(body.wait_s, farm.claim_wait_max_s)
            while True:
                leased = farm._lease_next(agent_id)
                if leased is not None or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
            farm._record("claim", leased["job"]["id"] if leased else None, body.model_dump(), 200)
            return leased if leased is not None else Response(status_code=204)

        @app.post("/api/farm/jobs/{job_id}/heartbeat", response_model=None)
        async def job_heartbeat(job_id: str, body: JobHeartbeatIn) -> Any:
            job, problem = farm._leased(job_id, body.lease_id)
            farm._record("job_heartbeat", job_id, body.model_dump(), problem.status_code if problem else 200)
            if problem is not None:
                return problem
            assert job is not None
            job.lease_expires = time.monotonic() + farm.lease_s
            job.progress.append((body.progress, body.stage))
            return {
                "action": "cancel" if job.cancel_requested else "continue",
                "lease_expires_at": _iso(farm.lease_s),
            }

        @app.post("/api/farm/jobs/{job_id}/watch", response_model=None)
        async def watch(job_id: str, body: WatchIn) -> Any:
            # Not recorded in `calls`: a long-poll held open the whole run, what it answers is what counts.
            deadline = time.monotonic() + min(body.wait_s, farm.claim_wait_max_s)
            while True:
                job, problem = farm._leased(job_id, body.lease_id)
                if problem is not None:
                    return problem
                assert job is not None
                if job.cancel_requested:
                    return {"action": "cancel"}
                if time.monotonic() >= deadline:
                    return {"action": "continue"}
                await asyncio.sleep(0.02)

        @app.post("/api/farm/jobs/{job_id}/outputs", response_model=None)
        async def outputs(
            job_id: str,
            lease_id: Annotated[str, Form()],
            files: Annotated[list[UploadFile], File()],
            sha256: Annotated[list[str] | None, Form()] = None,
        ) -> Any:
            job, problem = farm._leased(job_id, lease_id)
            names = [f.filename for f in files]
            farm._record(
                "outputs", job_id, {"names": names, "sha256": sha256}, problem.status_code if problem else 200
            )
            if problem is not None:
                return problem
            assert job is not None
            stored = []
            for index, upload in enumerate(files):
                data = await upload.read()
                digest = hashlib.sha256(data).hexdigest()
                name = str(upload.filename)
                if sha256 and index < len(sha256) and sha256[index] != digest:
                    return _problem(
                        422, "validation", f"{name}: sha256 {digest} != announced {sha256[index]}"
                    )
                if name in job.outputs and job.outputs[name][0] != digest:
                    return _problem(409, "conflict", f"output {name} already holds other bytes")
                job.outputs[name] = (digest, data)
                stored.append({"name": name, "sha256": digest, "size": len(data)})
            return {"outputs": stored}

        @app.post("/api/farm/jobs/{job_id}/complete", response_model=None)
        async def complete(job_id: str, body: CompleteIn) -> Any:
            job = farm.jobs.get(job_id)
            if job is not None and job.status == "succeeded" and job.lease_id == body.lease_id:
                farm._record("complete", job_id, body.model_dump(), 200)
                return {"status": "succeeded"}  # idempotent
            job, problem = farm._leased(job_id, body.lease_id)
            if problem is None and job is not None and not job.outputs:
                problem = _problem(422, "validation", "no outputs were uploaded")
            farm._record("complete", job_id, body.model_dump(), problem.status_code if problem else 200)
            if problem is not None:
                return problem
            assert job is not None
            job.status, job.result = "succeeded", body.model_dump()
            return {"status": "succeeded"}

        @app.post("/api/farm/jobs/{job_id}/fail", response_model=None)
        async def fail(job_id: str, body: FailIn) -> Any:
            job, problem = farm._leased(job_id, body.lease_id)
            farm._record("fail", job_id, body.model_dump(), problem.status_code if problem else 200)
            if problem is not None:
                return problem
            assert job is not None
            job.status, job.error, job.agent_id = "failed", body.model_dump(), None
            return {"status": job.status}

        @app.post("/api/farm/jobs/{job_id}/release", response_model=None)
        async def release(job_id: str, body: ReleaseIn) -> Any:
            job, problem = farm._leased(job_id, body.lease_id)
            farm._record("release", job_id, body.model_dump(), problem.status_code if problem else 200)
            if problem is not None:
                return problem
            assert job is not None
            job.status = "cancelled" if job.cancel_requested else "queued"
            job.lease_id = job.agent_id = None
            return {"status": job.status}

        @app.get("/api/versions/{version_id}/files/{name}", response_model=None)
        async def file(request: Request, version_id: str, name: str) -> Any:
            data = farm.files.get(request.url.path)
            farm._record("file", None, {"path": request.url.path}, 200 if data is not None else 404)
            if data is None:
                return _problem(404, "not-found", f"no file {request.url.path}")
            return Response(data, media_type="application/octet-stream")

        return app

    # ---- internals -------------------------------------------------------------------------
    def _record(self, kind: str, job_id: str | None, body: dict[str, Any], status: int) -> None:
        self.calls.append(Call(kind, job_id, body, status))

    def _lease_next(self, agent_id: str) -> dict[str, Any] | None:
        with self._lock:
            if self.agents[agent_id]["name"] in self.drained:
                return None
            job = next((self.jobs[j] for j in self._order if self.jobs[j].status == "queued"), None)
            if job is None:
                return None
            job.status, job.agent_id, job.lease_id = "running", agent_id, uuid.uuid4().hex
            job.lease_expires, job.attempt = time.monotonic() + self.lease_s, job.attempt + 1
        body = {
            "id": job.id,
            "type": job.type,
            "workflow": "cpu_test_still_video" if job.graph else None,
            "params": job.params,
            "graph": job.graph,
            "inputs": job.inputs,
            "parents": [],
            "priority": 50,
            "timeout_s": job.timeout_s,
            "attempt": job.attempt,
        }
        return {"job": body, "lease": {"id": job.lease_id, "expires_at": _iso(self.lease_s)}}

    def _leased(self, job_id: str, lease_id: str) -> tuple[FakeJob | None, JSONResponse | None]:
        job = self.jobs.get(job_id)
        if job is None:
            return None, _problem(404, "not-found", f"unknown job {job_id}")
        if job.lease_id != lease_id or job.status != "running" or time.monotonic() > job.lease_expires:
            return None, _problem(409, "lease-lost", f"the lease {lease_id} on job {job_id} is gone")
        return job, None


def _problem(status: int, slug: str, detail: str) -> JSONResponse:
    body = {"type": PROBLEM + slug, "title": slug, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _iso(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).isoformat()


class FarmServer:
    """Runs a FakeFarm under uvicorn in a thread; `stop()` then `start()` restarts it on the same port."""

    def __init__(self, farm: FakeFarm):
        self.farm = farm
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FarmServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.farm.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server, self._sock = uvicorn.Server(config), sock
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake farm did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        assert self._thread is not None and self._sock is not None
        self._thread.join(10)
        self._sock.close()
        self._server = self._thread = self._sock = None


# ---- harness for agent tests ----------------------------------------------------------------------


@contextlib.contextmanager
def running_farm(**options: Any) -> Iterator[FarmServer]:
    """A started FakeFarm on a free loopback port, stopped afterwards."""
    server = FarmServer(FakeFarm(**options)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="fake_farm")
def fake_farm_fixture() -> Iterator[FarmServer]:
    """`fake_farm`: a fresh FakeFarm per test (import `fake_farm_fixture` into a test module to use it)."""
    with running_farm() as server:
        yield server


def agent_settings(
    server: FarmServer, work_dir: Path, comfyui_url: str | None, **overrides: Any
) -> AgentSettings:
    """Fast timings for tests; nothing is read from the environment or a .env file."""
    values: dict[str, Any] = {
        "server_url": server.url,
        "api_key": server.farm.api_key,
        "comfyui_url": comfyui_url,
        "name": "test-agent",
        "work_dir": work_dir,
        "heartbeat_s": 0.1,
        "claim_wait_s": 0.5,
        "backoff_min_s": 0.05,
        "backoff_max_s": 0.3,
        "connect_timeout_s": 2.0,
        "request_timeout_s": 5.0,
        "shutdown_flush_s": 2.0,
        **overrides,
    }
    return AgentSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningAgent:
    agent: Agent
    task: asyncio.Task[int]
    outbox: Outbox


@contextlib.asynccontextmanager
async def started_agent(settings: AgentSettings) -> AsyncIterator[RunningAgent]:
    """Run an Agent (with a fast-polling ComfyClient when a ComfyUI URL is set) as a task of this loop."""
    outbox = Outbox(settings.resolved_outbox_path)
    try:
        async with contextlib.AsyncExitStack() as stack:
            farm = await stack.enter_async_context(
                FarmClient(settings.server_url, settings.api_key.get_secret_value(), request_timeout=5.0)
            )
            comfy = None
            if settings.comfyui_url:
                comfy = await stack.enter_async_context(
                    ComfyClient(settings.comfyui_url, poll_interval=0.1, connect_timeout=5.0)
                )
            agent = Agent(settings, farm, outbox, comfy)
            task = asyncio.create_task(agent.run())
            try:
                yield RunningAgent(agent, task, outbox)
            finally:
                if not task.done():
                    agent.request_stop("release")
                await asyncio.wait_for(asyncio.shield(task), 15)
    finally:
        outbox.close()


def run(coro: Any, timeout: float = 40) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def enqueue_cpu_workflow(server: FarmServer, tmp_path: Path, **params: Any) -> tuple[str, bytes]:
    """An i2v job of the model-free workflow, its first frame served by the farm; returns (id, png)."""
    png = write_probe_image(tmp_path / "first_frame.png", (320, 180)).read_bytes()
    url, sha = server.farm.add_file("first_frame.png", png)
    values = {"image": "first_frame.png", "width": 160, "height": 90, "length": 12, "fps": 12.0, **params}
    graph = bind(load_template(CPU_WORKFLOW), values)
    inputs = [
        {"role": "image", "name": "first_frame.png", "url": url, "sha256": sha, "targets": [["1", "image"]]}
    ]
    return server.farm.enqueue("i2v", graph=graph, params=values, inputs=inputs), png


def progress_seen(server: FarmServer, job_id: str) -> bool:
    return any(p > 0 for p, _ in server.farm.jobs[job_id].progress)


async def wait_until(condition: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"{what} not reached within {timeout} s"
        await asyncio.sleep(0.02)
