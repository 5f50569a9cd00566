"""Async client for one ComfyUI server (HTTP + one WebSocket); knows nothing of our sync server.

Completion is `executing{node: null}` for our prompt id (or `execution_success` followed by the history
entry). WebSocket messages are not replayed after a drop, so while the socket is down - or was reconnected
under a new clientId - the client polls `/api/jobs/{id}` (newer servers) or `/queue` + `/history/{id}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aipipe_shared.aio import wait_event
from render_agent.comfyui_messages import (
    ComfyConnectionError,
    ComfyError,
    ComfyExecutionError,
    ComfyInterrupted,
    ComfyJobLost,
    ComfyTimeout,
    ComfyValidationError,
    NodeProblem,
    OutputFile,
    ProgressTracker,
    output_files,
    raise_for_history,
    validation_error,
)
from render_agent.comfyui_socket import (
    ComfySocket,
    PreviewCallback,
    ProgressCallback,
    PromptWatch,
    ws_url_for,
)
from render_agent.server_client import MultipartFile

__all__ = [
    "ComfyClient",
    "ComfyConnectionError",
    "ComfyError",
    "ComfyExecutionError",
    "ComfyInterrupted",
    "ComfyJobLost",
    "ComfyTimeout",
    "ComfyValidationError",
    "DownloadedFile",
    "NodeProblem",
    "PreviewCallback",
    "ProgressCallback",
    "RunResult",
]

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK = 1024 * 1024  # bytes written (and hashed) at a time when fetching an output
OWNER_KEY = "aipipe_agent"  # the extra_data key naming the agent that queued a prompt


@dataclass(frozen=True)
class DownloadedFile:
    """An output fetched from `/view` to a local path."""

    node_id: str
    path: Path
    animated: bool
    size: int
    sha256: str = ""  # hashed while it was written


@dataclass(frozen=True)
class RunResult:
    """What `ComfyClient.run` returns: the prompt id, the local files and the history entry they came from."""

    prompt_id: str
    files: list[DownloadedFile]
    history: dict[str, Any]


class ComfyClient:
    """Drive one ComfyUI server: upload inputs, queue graphs, follow progress, fetch outputs, cancel."""

    def __init__(
        self,
        base_url: str,
        *,
        ws_url: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        download_timeout: float = 600.0,
        poll_interval: float = 2.0,
        safety_poll_interval: float = 30.0,
        history_grace: float = 5.0,
        reconnect_min_delay: float = 0.5,
        reconnect_max_delay: float = 30.0,
        lost_after_polls: int = 2,
        owner: str = "",
    ):
        # Who queues the prompts (the agent's name): stored in each prompt's extra_data, so the agent's next
        # run can find and remove what a killed run left queued or running (`drop_left_behind`).
        self.owner = owner
        self.base_url = base_url.rstrip("/")
        self.ws_url = ws_url or ws_url_for(self.base_url)
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.download_timeout = download_timeout
        self.poll_interval = poll_interval
        self.safety_poll_interval = safety_poll_interval
        self.history_grace = history_grace
        self.reconnect_min_delay = reconnect_min_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.lost_after_polls = lost_after_polls
        self._http: httpx.AsyncClient | None = None
        self._watches: dict[str, PromptWatch] = {}
        self._socket = ComfySocket(
            self.ws_url,
            self._watches,
            connect_timeout=connect_timeout,
            reconnect_min_delay=reconnect_min_delay,
            reconnect_max_delay=reconnect_max_delay,
        )
        self._jobs_api: bool | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the HTTP client and start the WebSocket reader (it reconnects on its own)."""
        if self._http is not None:
            return
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(self.request_timeout, connect=self.connect_timeout)
        )
        self._socket.start()
        if not await wait_event(self._socket.connected, self.connect_timeout):
            log.warning("ComfyUI WebSocket %s not connected yet; will poll over HTTP meanwhile", self.ws_url)

    async def close(self) -> None:
        """Stop the WebSocket reader and close the HTTP client."""
        await self._socket.close()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> ComfyClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while the WebSocket is open."""
        return self._socket.connected.is_set()

    @property
    def client_id(self) -> str:
        """The clientId of the WebSocket (a fresh one per connection)."""
        return self._socket.client_id

    # ---- plain requests --------------------------------------------------------------------
    async def system_stats(self) -> dict[str, Any]:
        """`GET /system_stats`: version, devices, VRAM."""
        return (await self._request("GET", "/system_stats")).json()

    async def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        """`GET /object_info` (every node class) or `/object_info/{class_type}`."""
        path = "/object_info" if class_type is None else f"/object_info/{class_type}"
        return (await self._request("GET", path)).json()

    async def upload_file(self, path: Path, *, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload an input via `POST /upload/image`; returns the name to put in `LoadImage.image`. The file
        is streamed (read 1 MiB at a time in a worker thread), never held in memory."""
        path = Path(path)
        fields = {"type": "input", "subfolder": subfolder, "overwrite": "true" if overwrite else "false"}
        body = MultipartFile(fields, "image", path.name, path)
        response = await self._request("POST", "/upload/image", content=body, headers=body.headers())
        answer = response.json()
        return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]

    async def delete_history(self, prompt_id: str) -> None:
        """`POST /history {"delete": [id]}` - keeps ComfyUI's in-memory history flat."""
        await self._request("POST", "/history", json={"delete": [prompt_id]})

    # ---- prompts ---------------------------------------------------------------------------
    async def submit(
        self,
        graph: dict[str, Any],
        *,
        prompt_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_preview: PreviewCallback | None = None,
    ) -> str:
        """Queue an API-format graph under our own prompt id; raises ComfyValidationError when refused.
        `on_preview(mime, bytes)` gets the sampler's preview images (when ComfyUI runs with previews on)."""
        prompt_id = prompt_id or str(uuid.uuid4())
        if not self.connected and not await wait_event(self._socket.connected, self.connect_timeout):
            log.warning("WebSocket still down; submitting anyway, the prompt will be followed by polling")
        client_id = self.client_id if self.connected else None
        watch = PromptWatch(prompt_id, client_id, ProgressTracker(graph), on_progress, on_preview)
        self._watches[prompt_id] = watch  # before the POST: events may beat the response
        body: dict[str, Any] = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        if self.owner:
            body["extra_data"] = {OWNER_KEY: self.owner}
        try:
            response = await self._http_client().post("/prompt", json=body)
        except httpx.HTTPError as exc:
            if await self._is_known(prompt_id):
                log.warning(
                    "POST /prompt failed (%s) but ComfyUI has prompt %s; following it", exc, prompt_id
                )
                return prompt_id
            self._watches.pop(prompt_id, None)
            raise ComfyConnectionError(f"POST {self.base_url}/prompt failed: {exc}") from exc
        if response.status_code == 400:
            self._watches.pop(prompt_id, None)
            raise validation_error(_json_or_text(response), graph)
        if response.status_code != 200:
            self._watches.pop(prompt_id, None)
            raise ComfyConnectionError(f"POST /prompt answered {response.status_code}: {response.text[:500]}")
        answer = response.json()
        if answer.get("node_errors"):
            # Some output nodes were valid, so ComfyUI queued a partial run: stop it and refuse.
            await self.cancel(prompt_id)
            self._watches.pop(prompt_id, None)
            raise validation_error(answer, graph, partial=True)
        log.info("queued prompt %s on %s", prompt_id, self.base_url)
        return prompt_id

    async def wait(self, prompt_id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Wait for a submitted prompt; returns its history entry or raises the typed failure."""
        watch = self._watches.get(prompt_id)
        if watch is None:
            raise ComfyError(f"prompt {prompt_id} was not submitted by this client")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                watch.changed.clear()
                await self._report(watch)
                if watch.terminal is not None:
                    return await self._outcome(watch)
                interval = self.poll_interval if self._needs_polling(watch) else self.safety_poll_interval
                if deadline is not None:
                    interval = min(interval, max(0.0, deadline - loop.time()))
                if await wait_event(watch.changed, interval):
                    continue
                if deadline is not None and loop.time() >= deadline:
                    await self.cancel(prompt_id)
                    raise ComfyTimeout(f"prompt {prompt_id} did not finish within {timeout} s")
                await self._poll(watch)
        finally:
            self._watches.pop(prompt_id, None)

    async def cancel(self, prompt_id: str) -> None:
        """Remove the prompt from the queue and interrupt it if it is running (lands at the next node)."""
        watch = self._watches.get(prompt_id)
        if watch is not None:
            watch.cancelled = True
        await self._request("POST", "/queue", json={"delete": [prompt_id]})
        await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
        log.info("cancel requested for prompt %s", prompt_id)
        if watch is not None:
            watch.changed.set()

    async def drop_left_behind(self) -> list[str]:
        """Remove the prompts an earlier run of this owner left in ComfyUI (killed before it could cancel
        them): its waiting ones leave the queue, its running one is interrupted, so the requeued job's new
        prompt does not wait behind work whose result nobody will fetch. Prompts of other clients are left
        alone. Returns the prompt ids removed or interrupted."""
        if not self.owner:
            return []
        queue = (await self._request("GET", "/queue")).json()

        def ours(items: Any) -> list[str]:
            return [
                str(item[1])
                for item in items or []
                if len(item) > 3 and isinstance(item[3], dict) and item[3].get(OWNER_KEY) == self.owner
            ]

        running, pending = ours(queue.get("queue_running")), ours(queue.get("queue_pending"))
        if pending:
            await self._request("POST", "/queue", json={"delete": pending})
        for prompt_id in running:
            await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
        if running or pending:
            log.warning(
                "removed %d prompt(s) an earlier run of %s left in ComfyUI (interrupted: %s; dequeued: %s)",
                len(running) + len(pending),
                self.owner,
                ", ".join(running) or "none",
                ", ".join(pending) or "none",
            )
        return running + pending

    async def in_queue(self, prompt_id: str) -> bool:
        """Is the prompt running or waiting in ComfyUI's queue?"""
        queue = (await self._request("GET", "/queue")).json()
        listed = [*(queue.get("queue_running") or []), *(queue.get("queue_pending") or [])]
        return any(item[1] == prompt_id for item in listed)

    async def download_outputs(
        self, entry: dict[str, Any], dest_dir: Path, *, node_ids: list[str] | None = None
    ) -> list[DownloadedFile]:
        """Stream every output file of the history entry to dest_dir (temp name, then rename)."""
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        downloaded: list[DownloadedFile] = []
        taken: set[str] = set()
        for item in output_files(entry, node_ids):
            name = Path(item.filename).name
            if name in taken:
                name = f"{item.node_id}_{name}"
            taken.add(name)
            downloaded.append(await self._download(item, dest_dir / name))
        return downloaded

    async def run(
        self,
        graph: dict[str, Any],
        dest_dir: Path,
        *,
        output_nodes: list[str] | None = None,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Submit, wait, download the outputs of `output_nodes` (all when None), delete the history entry."""
        prompt_id = await self.submit(graph, on_progress=on_progress)
        try:
            entry = await self.wait(prompt_id, timeout=timeout)
            files = await self.download_outputs(entry, dest_dir, node_ids=output_nodes)
            for node_id in output_nodes or []:
                if not any(f.node_id == node_id for f in files):
                    node_class = graph.get(node_id, {}).get("class_type")
                    raise ComfyError(f"output node {node_id} ({node_class}) produced no files")
            return RunResult(prompt_id, files, entry)
        finally:
            try:
                await self.delete_history(prompt_id)
            except ComfyError as exc:
                log.warning("could not delete history of prompt %s: %s", prompt_id, exc)

    # ---- internals -------------------------------------------------------------------------
    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise ComfyError(
                "ComfyClient is not started (use `async with ComfyClient(...)` or `await start()`)"
            )
        return self._http

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http_client().request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ComfyConnectionError(f"{method} {self.base_url}{path} failed: {exc}") from exc
        if response.status_code != 200:
            raise ComfyConnectionError(
                f"{method} {self.base_url}{path} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    async def _download(self, item: OutputFile, dest: Path) -> DownloadedFile:
        params = {"filename": item.filename, "subfolder": item.subfolder, "type": item.type}
        part = dest.with_name(dest.name + ".part")
        size = 0
        digest = hashlib.sha256()
        try:
            async with self._http_client().stream(
                "GET",
                "/view",
                params=params,
                timeout=httpx.Timeout(self.download_timeout, connect=self.connect_timeout),
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise ComfyConnectionError(f"GET /view {params} answered {response.status_code}")
                with part.open("wb") as fh:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                        fh.write(chunk)
                        digest.update(chunk)  # hashed on the way: no second pass over the file
                        size += len(chunk)
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise ComfyConnectionError(f"downloading {item.filename} failed: {exc}") from exc
        if size == 0:
            part.unlink(missing_ok=True)
            raise ComfyError(f"output {item.subfolder}/{item.filename} of node {item.node_id} is empty")
        part.replace(dest)
        log.info("downloaded %s (%d bytes) from node %s", dest.name, size, item.node_id)
        return DownloadedFile(item.node_id, dest, item.animated, size, digest.hexdigest())

    def _needs_polling(self, watch: PromptWatch) -> bool:
        # Events for a prompt go only to the socket whose clientId it was submitted with.
        return watch.cancelled or not self.connected or watch.client_id != self.client_id

    async def _report(self, watch: PromptWatch) -> None:
        if watch.on_progress is None:
            return
        current = (watch.progress.fraction, watch.progress.stage)
        if current == watch.reported:
            return
        watch.reported = current
        try:
            result = watch.on_progress(*current)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("progress callback failed for prompt %s", watch.prompt_id)

    async def _outcome(self, watch: PromptWatch) -> dict[str, Any]:
        if watch.terminal == "error":
            raise ComfyExecutionError(watch.payload)
        if watch.terminal == "interrupted":
            reason = "cancelled" if watch.cancelled and not watch.payload else "interrupted"
            raise ComfyInterrupted(watch.payload, reason=reason)
        entry = watch.payload if watch.terminal == "history" else await self._history_after_finish(watch)
        raise_for_history(entry)
        watch.progress.update("execution_success", {})
        await self._report(watch)
        return entry

    async def _history_after_finish(self, watch: PromptWatch) -> dict[str, Any]:
        # `execution_success` precedes the history write; `executing{null}` follows it. Poll briefly.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.history_grace
        while True:
            entry = await self.history_entry(watch.prompt_id)
            if entry is not None:
                return entry
            if loop.time() >= deadline:
                raise ComfyJobLost(f"prompt {watch.prompt_id} finished but its history entry is missing")
            await asyncio.sleep(0.05)

    async def history_entry(self, prompt_id: str) -> dict[str, Any] | None:
        """The prompt's `/history/{id}` entry; None while it is queued or running, or when unknown."""
        return (await self._request("GET", f"/history/{prompt_id}")).json().get(prompt_id)

    async def _poll(self, watch: PromptWatch) -> None:
        """One HTTP look at the prompt; sets a terminal state or counts it absent."""
        try:
            present = await (
                self._poll_jobs(watch) if await self._has_jobs_api() else self._poll_queue(watch)
            )
        except ComfyConnectionError as exc:
            log.warning("polling prompt %s failed: %s", watch.prompt_id, exc)
            return
        if present or watch.terminal is not None:
            watch.absent_polls = 0
            return
        if watch.cancelled:
            watch.finish("interrupted", {})
            return
        watch.absent_polls += 1
        if watch.absent_polls >= self.lost_after_polls:
            raise ComfyJobLost(
                f"prompt {watch.prompt_id} is neither queued nor in history (ComfyUI restarted?)"
            )

    async def _poll_queue(self, watch: PromptWatch) -> bool:
        # Queue before history: a prompt finishing between the two calls is then still found.
        queue = (await self._request("GET", "/queue")).json()
        for key in ("queue_running", "queue_pending"):
            if any(item[1] == watch.prompt_id for item in queue.get(key) or []):
                if key == "queue_pending" and watch.progress.stage == "queued":
                    watch.progress.stage = "queued (waiting for ComfyUI)"
                return True
        entry = await self.history_entry(watch.prompt_id)
        if entry is not None:
            watch.finish("history", entry)
            return True
        return False

    async def _poll_jobs(self, watch: PromptWatch) -> bool:
        try:
            response = await self._http_client().get(f"/api/jobs/{watch.prompt_id}")
        except httpx.HTTPError as exc:
            raise ComfyConnectionError(f"GET /api/jobs/{watch.prompt_id} failed: {exc}") from exc
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise ComfyConnectionError(f"GET /api/jobs/{watch.prompt_id} answered {response.status_code}")
        job = response.json()
        status = job.get("status")
        if status in ("pending", "in_progress"):
            return True
        if status == "cancelled":
            watch.finish("interrupted", job.get("execution_error") or {"prompt_id": watch.prompt_id})
        elif status == "failed" and job.get("execution_error"):
            watch.finish("error", job["execution_error"])
        else:
            entry = await self.history_entry(watch.prompt_id) or {
                "outputs": job.get("outputs") or {},
                "status": job.get("execution_status") or {},
            }
            watch.finish("history", entry)
        return True

    async def _has_jobs_api(self) -> bool:
        if self._jobs_api is None:
            try:
                response = await self._http_client().get("/api/jobs", params={"limit": 1})
            except httpx.HTTPError as exc:
                raise ComfyConnectionError(f"GET /api/jobs failed: {exc}") from exc
            self._jobs_api = response.status_code == 200
            log.info(
                "ComfyUI jobs API %s", "present" if self._jobs_api else "absent; polling /queue + /history"
            )
        return self._jobs_api

    async def _is_known(self, prompt_id: str) -> bool:
        try:
            if await self.in_queue(prompt_id):
                return True
            return await self.history_entry(prompt_id) is not None
        except ComfyConnectionError as exc:
            log.warning("could not check whether prompt %s was queued: %s", prompt_id, exc)
            return False


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"error": {"type": "bad_response", "message": response.text[:500]}}
    return body if isinstance(body, dict) else {"error": {"type": "bad_response", "message": str(body)}}
