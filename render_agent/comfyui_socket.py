"""The one WebSocket to a ComfyUI server: reconnects on its own and hands each message to the watch of its
prompt (progress, previews, the outcome). Watches are created and read by `comfyui.ComfyClient`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import WebSocketException

from render_agent.comfyui_messages import ProgressTracker, parse_preview

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None | Awaitable[None]]
"""Called with the overall fraction (0-1) and a short stage text such as 'KSampler (node 3) 12/20'."""
PreviewCallback = Callable[[str, bytes], None]
"""Called with the MIME type and bytes of each preview image of the prompt (from binary frames)."""


@dataclass
class PromptWatch:
    """State of one submitted prompt, fed by the WebSocket reader and the client's HTTP poller."""

    prompt_id: str
    client_id: str | None
    progress: ProgressTracker
    on_progress: ProgressCallback | None
    on_preview: PreviewCallback | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    terminal: str | None = None  # "done" | "success" | "error" | "interrupted" | "history"
    payload: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    absent_polls: int = 0
    reported: tuple[float, str] | None = None

    def finish(self, kind: str, payload: dict[str, Any]) -> None:
        # A definite outcome (error, interrupt, history) is never downgraded by a later "done".
        if self.terminal in (None, "success") or kind in ("error", "interrupted", "history"):
            self.terminal, self.payload = kind, payload
        self.changed.set()


class ComfySocket:
    """Reads ComfyUI's WebSocket for the client's watches; `connected` is set while it is open."""

    def __init__(
        self,
        ws_url: str,
        watches: dict[str, PromptWatch],
        *,
        connect_timeout: float,
        reconnect_min_delay: float,
        reconnect_max_delay: float,
    ) -> None:
        self.ws_url = ws_url
        self.watches = watches
        self.connect_timeout = connect_timeout
        self.reconnect_min_delay = reconnect_min_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.client_id = str(uuid.uuid4())
        self.connected = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="comfyui-ws")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = self.reconnect_min_delay
        while not self._closing:
            # A fresh clientId per connection: reusing one lets the old socket's cleanup unregister
            # the new one on the server. Prompts queued under an older id are followed by polling.
            client_id = str(uuid.uuid4())
            try:
                async with ws_connect(
                    f"{self.ws_url}?clientId={client_id}", open_timeout=self.connect_timeout, max_size=None
                ) as ws:
                    self.client_id = client_id
                    self.connected.set()
                    delay = self.reconnect_min_delay
                    log.info("ComfyUI WebSocket connected (clientId %s)", client_id)
                    async for frame in ws:
                        self._dispatch(frame)
                log.warning("ComfyUI WebSocket closed by the server")
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("ComfyUI WebSocket lost (%s); polling over HTTP, retrying in %.1f s", exc, delay)
            finally:
                self.connected.clear()
                for watch in self.watches.values():
                    watch.changed.set()  # waiters switch to polling now
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_delay)

    def _dispatch_binary(self, frame: bytes) -> None:
        preview = parse_preview(frame)
        if preview is None:
            event = int.from_bytes(frame[:4], "big") if len(frame) >= 4 else None
            log.debug("ignoring binary WebSocket frame (event %s, %d bytes)", event, len(frame))
            return
        if preview.prompt_id is not None:
            watch = self.watches.get(preview.prompt_id)
        else:
            # Event 1 names no prompt; it belongs to the one prompt of ours that is running, if only one is.
            running = [w for w in self.watches.values() if w.terminal is None]
            watch = running[0] if len(running) == 1 else None
        if watch is None or watch.on_preview is None:
            return
        try:
            watch.on_preview(preview.mime, preview.data)
        except Exception:
            log.exception("preview callback failed for prompt %s", watch.prompt_id)

    def _dispatch(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self._dispatch_binary(frame)
            return
        try:
            message = json.loads(frame)
            kind, data = message["type"], message.get("data") or {}
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed WebSocket message: %.200s", frame)
            return
        watch = self.watches.get(data.get("prompt_id")) if isinstance(data, dict) else None
        if watch is None:
            return
        if kind == "executing" and data.get("node") is None:
            watch.finish("done", data)
        elif kind == "execution_success":
            watch.progress.update(kind, data)
            watch.finish("success", data)
        elif kind == "execution_error":
            watch.finish("error", data)
        elif kind == "execution_interrupted":
            watch.finish("interrupted", data)
        elif watch.progress.update(kind, data):
            watch.changed.set()


def ws_url_for(base_url: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))
