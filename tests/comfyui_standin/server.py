"""A ComfyUI 0.3.64 stand-in for tests: the real HTTP routes, WebSocket messages and history shapes.

It validates prompts against the captured object_info like the real server, really runs the weightless
nodes (see nodes.py), and emits the captured message sequence: status, execution_start,
execution_cached, per node progress_state(running) -> executing -> [progress ticks] -> [executed] ->
progress_state(finished), execution_success (or execution_error / execution_interrupted), status,
executing{node: null}. Knobs for tests: `node_delay` (+ `progress_steps` ticks with `progress` messages and
optional binary `send_previews`), `slow_nodes` (nodes an interrupt does not stop, like a long SaveVideo),
`fail_nodes` (a node error at run time), `drop_websockets()`, `jobs_api` (the newer `/api/jobs` routes),
`extra_nodes` (classes newer than 0.3.64 or of custom packs, from catalogue.py) and `comfyui_version`
(what /system_stats says).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import mimetypes
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .catalogue import with_nodes
from .execution import cache_keys, current_inputs, execution_order, node_state, preview_frame, resolve_inputs
from .image_nodes import IMAGE_NODE_FUNCTIONS
from .nodes import NODE_FUNCTIONS, NodeContext, annotated_path
from .post_nodes import POST_NODE_FUNCTIONS
from .validation import PromptValidator, full_type_name, with_models
from .video_control_nodes import VIDEO_CONTROL_NODE_FUNCTIONS

log = logging.getLogger(__name__)

CAPTURED_OBJECT_INFO = Path(__file__).resolve().parents[1] / "data" / "comfyui" / "object_info.json"


class _SentFile(FileResponse):
    """ComfyUI's aiohttp `/view` sends files with sendfile; uvicorn has no zero-copy send, so the stand-in
    sends 1 MiB at a time (Starlette's 64 KiB made the stand-in, not the agent, the slow part of a
    100 MB output's download in bench_agent_overhead)."""

    chunk_size = 1024 * 1024


class Interrupted(Exception):
    """Raised at a node boundary (or progress tick) after POST /interrupt."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(order=True)
class QueueItem:
    number: float
    prompt_id: str
    prompt: dict[str, Any] = field(compare=False)
    extra_data: dict[str, Any] = field(compare=False)
    outputs: list[str] = field(compare=False)

    def as_list(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]


class StandinComfy:
    """State and behaviour of one stand-in server; `app` is its ASGI application."""

    def __init__(
        self,
        root: Path,
        *,
        object_info: dict[str, Any] | None = None,
        node_delay: float = 0.0,
        progress_steps: int = 4,
        send_previews: bool = False,
        jobs_api: bool = False,
        slow_nodes: dict[str, float] | None = None,
        fail_nodes: dict[str, str] | None = None,
        models: list[str] | tuple[str, ...] = (),
        extra_nodes: list[str] | tuple[str, ...] = (),
        comfyui_version: str = "0.3.64",
    ):
        self.input_dir, self.output_dir, self.temp_dir = (root / "input", root / "output", root / "temp")
        for folder in (self.input_dir, self.output_dir, self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.object_info = object_info or json.loads(CAPTURED_OBJECT_INFO.read_text(encoding="utf-8"))
        if extra_nodes:  # newer core classes or custom node packs this host has (catalogue.py)
            self.object_info = with_nodes(self.object_info, extra_nodes)
        self.comfyui_version = comfyui_version
        if models:  # model files this host "has": offered by every loader, like files in models/
            self.object_info = with_models(self.object_info, models)
        self.node_delay = node_delay
        self.progress_steps = progress_steps
        self.send_previews = send_previews
        self.jobs_api = jobs_api
        # class_type -> seconds spent without a progress bar: like a long SaveVideo encode, such a node
        # is not stopped by an interrupt (0.3.64 checks the flag only between nodes and in samplers).
        self.slow_nodes = dict(slow_nodes or {})
        # class_type -> message of the error the node raises when it runs (a node error at run time).
        self.fail_nodes = dict(fail_nodes or {})
        self.requests: list[tuple[str, str]] = []
        self.ws_connections = 0
        self.history: dict[str, dict[str, Any]] = {}
        self._validator = PromptValidator(
            self.object_info,
            {
                "LoadImage": self._validate_load_image,
                "LoadImageMask": self._validate_load_image,
                "LoadVideo": self._validate_load_video,
            },
            {
                "LoadImage": frozenset({"image"}),
                "LoadImageMask": frozenset({"image"}),
                "LoadVideo": frozenset({"file"}),
            },
        )
        self._node_functions = {
            **NODE_FUNCTIONS,
            **IMAGE_NODE_FUNCTIONS,
            **VIDEO_CONTROL_NODE_FUNCTIONS,
            **POST_NODE_FUNCTIONS,
        }
        self._pending: list[QueueItem] = []
        self._running: QueueItem | None = None
        self._number = 0
        self._interrupt = False
        self._last_node: str | None = None
        self._cache: dict[str, tuple[tuple[Any, ...], dict[str, Any] | None]] = {}
        self._sockets: dict[str, WebSocket] = {}
        self._send_locks: dict[str, asyncio.Lock] = {}
        self._refuse_ws_until = 0.0
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)

    # ---- test controls (callable from the test thread) ---------------------------------------
    def drop_websockets(self, refuse_for: float = 0.0) -> None:
        """Close every WebSocket abruptly and refuse new ones for `refuse_for` seconds."""
        self._refuse_ws_until = time.monotonic() + refuse_for
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close_sockets(), self._loop).result(5)

    def requested(self, method: str, prefix: str) -> int:
        """How many requests with this method hit a path starting with prefix (`/api` alias folded)."""
        return sum(
            1 for m, p in list(self.requests) if m == method and p.removeprefix("/api").startswith(prefix)
        )

    # ---- app plumbing --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        worker = asyncio.create_task(self._work())
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def _routes(self) -> list[BaseRoute]:
        table: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
            ("/prompt", self._get_prompt, ["GET"]),
            ("/prompt", self._post_prompt, ["POST"]),
            ("/queue", self._get_queue, ["GET"]),
            ("/queue", self._post_queue, ["POST"]),
            ("/interrupt", self._post_interrupt, ["POST"]),
            ("/history", self._get_history, ["GET"]),
            ("/history", self._post_history, ["POST"]),
            ("/history/{prompt_id}", self._get_history_item, ["GET"]),
            ("/view", self._get_view, ["GET"]),
            ("/upload/image", self._post_upload, ["POST"]),
            ("/object_info", self._get_object_info, ["GET"]),
            ("/object_info/{node_class}", self._get_object_info_class, ["GET"]),
            ("/system_stats", self._get_system_stats, ["GET"]),
            ("/features", self._get_features, ["GET"]),
        ]
        routes: list[BaseRoute] = []
        for prefix in ("/api", ""):  # ComfyUI registers every route twice, plain and under /api
            routes += [Route(prefix + path, self._logged(fn), methods=methods) for path, fn, methods in table]
            routes.append(WebSocketRoute(prefix + "/ws", self._websocket))
        routes.append(Route("/api/jobs", self._logged(self._get_jobs), methods=["GET"]))
        routes.append(Route("/api/jobs/{job_id}", self._logged(self._get_job), methods=["GET"]))
        return routes

    def _logged(
        self, fn: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            return await fn(request)

        return handler

    # ---- HTTP routes ---------------------------------------------------------------------------
    def _queue_remaining(self) -> int:
        return len(self._pending) + (1 if self._running is not None else 0)

    async def _get_prompt(self, request: Request) -> Response:
        return JSONResponse({"exec_info": {"queue_remaining": self._queue_remaining()}})

    async def _post_prompt(self, request: Request) -> Response:
        body = await request.json()
        if "number" in body:
            number = float(body["number"])
        else:
            number = -self._number if body.get("front") else self._number
            self._number += 1
        if "prompt" not in body:
            error = {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided"}
            return JSONResponse({"error": {**error, "extra_info": {}}, "node_errors": {}}, status_code=400)
        prompt = body["prompt"]
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))
        valid, error, outputs, node_errors = self._validator.validate_prompt(
            prompt, body.get("partial_execution_targets")
        )
        if not valid:
            return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        heapq.heappush(self._pending, QueueItem(number, prompt_id, prompt, extra, outputs))
        await self._broadcast_status()
        assert self._wakeup is not None
        self._wakeup.set()
        return JSONResponse({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    async def _get_queue(self, request: Request) -> Response:
        running = [self._running.as_list()] if self._running is not None else []
        return JSONResponse({"queue_running": running, "queue_pending": [i.as_list() for i in self._pending]})

    async def _post_queue(self, request: Request) -> Response:
        body = await _json_body(request)
        if body.get("clear"):
            self._pending.clear()
        delete = set(body.get("delete") or [])
        if delete:
            self._pending = [i for i in self._pending if i.prompt_id not in delete]
            heapq.heapify(self._pending)
        await self._broadcast_status()
        return Response(status_code=200)

    async def _post_interrupt(self, request: Request) -> Response:
        prompt_id = (await _json_body(request)).get("prompt_id")
        if not prompt_id or (self._running is not None and self._running.prompt_id == prompt_id):
            self._interrupt = True
        else:
            log.info("stand-in: interrupt for %s ignored, it is not running", prompt_id)
        return Response(status_code=200)

    async def _get_history(self, request: Request) -> Response:
        items = list(self.history.items())
        max_items = request.query_params.get("max_items")
        offset = int(request.query_params.get("offset", -1))
        if max_items is not None:
            count = int(max_items)
            items = items[offset : offset + count] if offset >= 0 else items[-count:]
        return JSONResponse(dict(items))

    async def _get_history_item(self, request: Request) -> Response:
        prompt_id = request.path_params["prompt_id"]
        entry = self.history.get(prompt_id)
        return JSONResponse({prompt_id: entry} if entry is not None else {})

    async def _post_history(self, request: Request) -> Response:
        body = await _json_body(request)
        if body.get("clear"):
            self.history.clear()
        for prompt_id in body.get("delete") or []:
            self.history.pop(prompt_id, None)
        return Response(status_code=200)

    async def _get_view(self, request: Request) -> Response:
        query = request.query_params
        filename = query.get("filename")
        if not filename:
            return Response(status_code=404)
        kind = query.get("type", "output")
        if filename.startswith("/") or ".." in filename:
            return Response(status_code=400)
        base = {"input": self.input_dir, "temp": self.temp_dir}.get(kind, self.output_dir).resolve()
        folder = (base / query.get("subfolder", "")).resolve()
        if base != folder and base not in folder.parents:
            return Response(status_code=403)
        path = folder / filename
        if not path.is_file():
            return Response(status_code=404)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return _SentFile(path, media_type=media_type, filename=path.name)

    async def _post_upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return Response(status_code=400)
        kind = str(form.get("type") or "input")
        base = {"temp": self.temp_dir, "output": self.output_dir}.get(kind, self.input_dir).resolve()
        subfolder = str(form.get("subfolder") or "")
        folder = (base / subfolder).resolve()
        if base != folder and base not in folder.parents:
            return Response(status_code=400)
        folder.mkdir(parents=True, exist_ok=True)
        data = await upload.read()
        name = Path(upload.filename or "upload").name
        overwrite = str(form.get("overwrite", "")).lower() in ("true", "1")
        path, counter = folder / name, 1
        while path.exists() and not overwrite and path.read_bytes() != data:
            path = folder / f"{Path(name).stem} ({counter}){Path(name).suffix}"
            counter += 1
        if not path.exists() or overwrite:
            path.write_bytes(data)
        return JSONResponse({"name": path.name, "subfolder": subfolder, "type": kind})

    async def _get_object_info(self, request: Request) -> Response:
        return JSONResponse(self.object_info)

    async def _get_object_info_class(self, request: Request) -> Response:
        node_class = request.path_params["node_class"]
        info = self.object_info.get(node_class)
        return JSONResponse({node_class: info} if info is not None else {})

    async def _get_system_stats(self, request: Request) -> Response:
        system = {"os": "posix", "ram_total": 8 << 30, "ram_free": 6 << 30}
        system["comfyui_version"] = self.comfyui_version
        system.update(
            {"python_version": "3.11 (stand-in)", "embedded_python": False, "argv": ["main.py", "--cpu"]}
        )
        device = {"name": "cpu", "type": "cpu", "index": None, "vram_total": 8 << 30, "vram_free": 6 << 30}
        device.update({"torch_vram_total": 8 << 30, "torch_vram_free": 6 << 30})
        return JSONResponse({"system": system, "devices": [device]})

    async def _get_features(self, request: Request) -> Response:
        return JSONResponse({"supports_preview_metadata": True, "max_upload_size": 104857600})

    async def _get_jobs(self, request: Request) -> Response:
        if not self.jobs_api:
            return Response(status_code=404)
        jobs = [self._job(pid) for pid in self._known_prompt_ids()]
        limit = int(request.query_params.get("limit", len(jobs) or 1))
        pagination = {"offset": 0, "limit": limit, "total": len(jobs), "has_more": len(jobs) > limit}
        return JSONResponse({"jobs": jobs[:limit], "pagination": pagination})

    async def _get_job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if not self.jobs_api:
            return Response(status_code=404)
        if job_id not in self._known_prompt_ids():
            return JSONResponse({"error": "Job not found"}, status_code=404)
        return JSONResponse(self._job(job_id))

    def _known_prompt_ids(self) -> list[str]:
        running = [self._running.prompt_id] if self._running is not None else []
        return running + [i.prompt_id for i in sorted(self._pending)] + list(self.history)

    def _job(self, prompt_id: str) -> dict[str, Any]:
        if self._running is not None and self._running.prompt_id == prompt_id:
            return {"id": prompt_id, "status": "in_progress", "priority": self._running.number}
        for item in self._pending:
            if item.prompt_id == prompt_id:
                return {"id": prompt_id, "status": "pending", "priority": item.number}
        entry = self.history[prompt_id]
        status = entry["status"]
        job: dict[str, Any] = {"id": prompt_id, "priority": entry["prompt"][0], "outputs": entry["outputs"]}
        job.update({"execution_status": status, "outputs_count": len(entry["outputs"])})
        kinds = {kind: data for kind, data in status["messages"]}
        if status["status_str"] == "success":
            job["status"] = "completed"
        elif "execution_interrupted" in kinds:
            job["status"] = "cancelled"
        else:
            job["status"] = "failed"
            job["execution_error"] = kinds.get("execution_error")
        return job

    # ---- WebSocket -----------------------------------------------------------------------------
    async def _websocket(self, websocket: WebSocket) -> None:
        self.requests.append(("WS", websocket.url.path))
        if time.monotonic() < self._refuse_ws_until:
            await websocket.close(code=1013)
            return
        await websocket.accept()
        self.ws_connections += 1
        sid = websocket.query_params.get("clientId") or uuid.uuid4().hex
        self._sockets.pop(sid, None)  # reusing an existing session replaces the old socket
        self._sockets[sid] = websocket
        self._send_locks[sid] = asyncio.Lock()
        try:
            status = {"status": {"exec_info": {"queue_remaining": self._queue_remaining()}}, "sid": sid}
            await self._send("status", status, sid)
            running = self._running
            if running is not None and running.extra_data.get("client_id") == sid and self._last_node:
                await self._send("executing", {"node": self._last_node}, sid)
            first = True
            while True:
                text = await websocket.receive_text()
                message = json.loads(text)
                if first and message.get("type") == "feature_flags":
                    await self._send("feature_flags", await self._features_dict(), sid)
                first = False
        except (WebSocketDisconnect, RuntimeError, ValueError) as exc:
            log.debug("stand-in: socket %s closed (%s)", sid, exc)
        finally:
            # Like ComfyUI: pops whatever is registered under sid *now*.
            self._sockets.pop(sid, None)

    async def _features_dict(self) -> dict[str, Any]:
        return {"supports_preview_metadata": True, "max_upload_size": 104857600}

    async def _close_sockets(self) -> None:
        for sid, websocket in list(self._sockets.items()):
            self._sockets.pop(sid, None)
            try:
                await websocket.close(code=1011)
            except RuntimeError as exc:
                log.debug("stand-in: closing socket %s: %s", sid, exc)

    async def _send(self, kind: str, data: dict[str, Any], sid: str | None) -> None:
        """Send to one client id, or broadcast when sid is None (like PromptServer.send_sync)."""
        targets = list(self._sockets.items()) if sid is None else [(sid, self._sockets.get(sid))]
        for target_sid, websocket in targets:
            if websocket is None:
                continue
            try:
                async with self._send_locks[target_sid]:
                    await websocket.send_text(json.dumps({"type": kind, "data": data}))
            except (RuntimeError, WebSocketDisconnect, OSError) as exc:
                log.debug("stand-in: send to %s failed: %s", target_sid, exc)

    async def _send_bytes(self, payload: bytes, sid: str | None) -> None:
        websocket = self._sockets.get(sid) if sid is not None else None
        if sid is None or websocket is None:
            return
        try:
            async with self._send_locks[sid]:
                await websocket.send_bytes(payload)
        except (RuntimeError, WebSocketDisconnect, OSError) as exc:
            log.debug("stand-in: binary send to %s failed: %s", sid, exc)

    async def _broadcast_status(self) -> None:
        await self._send(
            "status", {"status": {"exec_info": {"queue_remaining": self._queue_remaining()}}}, None
        )

    # ---- execution -----------------------------------------------------------------------------
    async def _work(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._running = heapq.heappop(self._pending)
            await self._broadcast_status()
            try:
                await self._execute(self._running)
            except Exception:
                log.exception("stand-in: executing %s crashed", self._running.prompt_id)
            item, self._running, self._last_node = self._running, None, None
            await self._broadcast_status()
            await self._send(
                "executing", {"node": None, "prompt_id": item.prompt_id}, item.extra_data.get("client_id")
            )

    async def _execute(self, item: QueueItem) -> None:
        prompt_id, prompt, client = item.prompt_id, item.prompt, item.extra_data.get("client_id")
        self._interrupt = False  # a stale interrupt never hits the next prompt
        messages: list[list[Any]] = []

        async def add_message(kind: str, data: dict[str, Any], broadcast: bool = False) -> None:
            data = {**data, "timestamp": now_ms()}
            messages.append([kind, data])
            await self._send(kind, data, None if broadcast else client)

        await add_message("execution_start", {"prompt_id": prompt_id})
        order = execution_order(prompt, item.outputs)
        keys = cache_keys(prompt, order, self._input_signature)
        cached = [n for n in order if keys[n] in self._cache]
        await add_message("execution_cached", {"nodes": cached, "prompt_id": prompt_id})
        values: dict[str, tuple[Any, ...]] = {}
        ui_outputs: dict[str, dict[str, Any]] = {}
        states: dict[str, dict[str, Any]] = {}
        executed: list[str] = []
        new_cache: dict[str, tuple[tuple[Any, ...], dict[str, Any] | None]] = {}
        for node_id in cached:
            values[node_id], ui = self._cache[keys[node_id]]
            new_cache[keys[node_id]] = (values[node_id], ui)
            if ui is not None:
                ui_outputs[node_id] = ui
                executed_data = {
                    "node": node_id,
                    "display_node": node_id,
                    "output": ui,
                    "prompt_id": prompt_id,
                }
                await self._send("executed", executed_data, client)
        status_str, completed = "success", True
        for node_id in (n for n in order if n not in cached):
            class_type = prompt[node_id]["class_type"]
            states[node_id] = node_state(prompt_id, node_id, "running")
            await self._send("progress_state", {"prompt_id": prompt_id, "nodes": states}, client)
            self._last_node = node_id
            await self._send(
                "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}, client
            )
            try:
                self._check_interrupt()
                await self._spend_delay(prompt_id, node_id, states, client)
                if class_type in self.slow_nodes:
                    await asyncio.sleep(self.slow_nodes[class_type])  # no interrupt check: runs to its end
                if class_type in self.fail_nodes:
                    raise RuntimeError(self.fail_nodes[class_type])
                resolved = resolve_inputs(prompt[node_id]["inputs"], values)
                run = self._node_functions.get(class_type)
                if run is None:
                    raise NotImplementedError(f"the ComfyUI stand-in does not execute {class_type}")
                context = NodeContext(self.input_dir, self.output_dir, self.temp_dir, prompt)
                outputs, ui = await asyncio.to_thread(run, resolved, context)
            except Interrupted:
                data = {"prompt_id": prompt_id, "node_id": node_id, "node_type": class_type}
                await add_message(
                    "execution_interrupted", {**data, "executed": executed[::-1]}, broadcast=True
                )
                status_str, completed = "error", False
                break
            except Exception as exc:
                data = {"prompt_id": prompt_id, "node_id": node_id, "node_type": class_type}
                data.update(
                    {
                        "executed": executed[::-1],
                        "exception_message": f"{exc}\n",
                        "exception_type": full_type_name(exc),
                        "traceback": traceback.format_tb(exc.__traceback__),
                        "current_inputs": current_inputs(prompt[node_id]["inputs"]),
                        "current_outputs": [node_id, *values],
                    }
                )
                await add_message("execution_error", data)
                status_str, completed = "error", False
                break
            values[node_id] = outputs
            new_cache[keys[node_id]] = (outputs, ui)
            executed.append(node_id)
            if ui is not None:
                ui_outputs[node_id] = ui
                executed_data = {
                    "node": node_id,
                    "display_node": node_id,
                    "output": ui,
                    "prompt_id": prompt_id,
                }
                await self._send("executed", executed_data, client)
            states[node_id] = node_state(prompt_id, node_id, "finished")
            await self._send("progress_state", {"prompt_id": prompt_id, "nodes": states}, client)
        else:
            await add_message("execution_success", {"prompt_id": prompt_id})
        self._cache = new_cache  # like the classic cache: keeps what this prompt used
        meta = {
            n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n} for n in ui_outputs
        }
        self.history[prompt_id] = {
            "prompt": item.as_list(),
            "outputs": ui_outputs,
            "status": {"status_str": status_str, "completed": completed, "messages": messages},
            "meta": meta if completed else {},
        }

    def _check_interrupt(self) -> None:
        if self._interrupt:
            self._interrupt = False
            raise Interrupted

    async def _spend_delay(
        self, prompt_id: str, node_id: str, states: dict[str, Any], client: str | None
    ) -> None:
        """Simulate a slow node with a progress bar: progress_state + progress (+ preview) per tick."""
        if self.node_delay <= 0:
            return
        if self.progress_steps <= 0:  # a node without a progress bar: interrupts wait for the next node
            await asyncio.sleep(self.node_delay)
            return
        steps = self.progress_steps
        for step in range(1, steps + 1):
            await asyncio.sleep(self.node_delay / steps)
            self._check_interrupt()
            states[node_id] = {**states[node_id], "value": float(step), "max": float(steps)}
            await self._send("progress_state", {"prompt_id": prompt_id, "nodes": states}, client)
            progress = {"value": step, "max": steps, "prompt_id": prompt_id, "node": node_id}
            await self._send("progress", progress, client)
            if self.send_previews:
                await self._send_bytes(preview_frame(), client)

    def _input_signature(self, node: dict[str, Any]) -> Any:
        # LoadImage's (and LoadImageMask's) IS_CHANGED hashes the file: a changed input invalidates the cache.
        if node["class_type"] in ("LoadImage", "LoadImageMask"):
            path = annotated_path(str(node["inputs"].get("image")), self._context())
            return path.stat().st_mtime_ns if path.exists() else None
        return None

    def _context(self) -> NodeContext:
        return NodeContext(self.input_dir, self.output_dir, self.temp_dir, {})

    def _validate_load_image(self, inputs: dict[str, Any]) -> bool | str:
        image = str(inputs.get("image"))
        if not annotated_path(image, self._context()).is_file():
            return f"Invalid image file: {image}"
        return True

    def _validate_load_video(self, inputs: dict[str, Any]) -> bool | str:
        # ComfyUI's LoadVideo.validate_inputs: the file must exist in the input folder.
        video = str(inputs.get("file"))
        if not annotated_path(video, self._context()).is_file():
            return f"Invalid video file: {video}"
        return True


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    return body if isinstance(body, dict) else {}
