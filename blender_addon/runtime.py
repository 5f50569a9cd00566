"""The add-on's live state: one worker, one client, one event listener, caches of server records.

Made by `register()` and dropped by `unregister()` (never at import time); features reach it with
`runtime.get()`. Blender add-ons have no other place for Python objects that outlive an operator,
so this is the one holder; everything inside it is built here and passed down.

Use from a feature:
    rt = runtime.get()
    rt.run("Loading shots", lambda ctx: rt.require_client().get(...), on_done=apply)   # never blocks
    rt.send("Saving", "PATCH", f"/api/shots/{shot_id}", body, on_done=apply)          # one API call
    rt.subscribe("shot.", on_shot_event)                                                # live updates
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bpy

from .core.client import ApiClient, ApiError
from .core.events import EventListener
from .core.tokens import TokenStore
from .core.worker import Task, TaskContext, Worker
from .i18n import iface
from .undo import push_step as push_undo_step

log = logging.getLogger(__name__)
ADDON_ID = __package__
TIMER_INTERVAL_S = 0.1
PROGRESS_STEPS = 1000  # resolution of Blender's progress indicator
_current: list[Runtime] = []  # the registered runtime, if any (a list so nothing rebinds a global)


@dataclass
class Message:
    text: str = ""
    level: str = "INFO"  # INFO | WARNING | ERROR


@dataclass
class Runtime:
    worker: Worker
    tokens: TokenStore
    cache_dir: str
    client: ApiClient | None = None
    listener: EventListener | None = None
    user: dict[str, Any] | None = None
    state: str = "offline"  # offline | connecting | online
    live: str = ""
    message: Message = field(default_factory=Message)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Cached server records by kind: "projects", "shots", "presets", "environments", "characters",
    "workflows", "jobs", "scenes" — each a dict id -> record."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Per-feature state that is not a server record (enum item lists, preview collections, forms)."""
    progress: float | None = None
    """The fraction Blender's progress indicator shows now; None when it is off."""
    _subscribers: list[tuple[str, Callable[[dict[str, Any]], None]]] = field(default_factory=list)

    # -- running work off the main thread ------------------------------------------------------------

    def run(
        self,
        label: str,
        fn: Callable[[TaskContext], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        undo: str = "",
        long: bool = False,
    ) -> Task:
        """Run `fn` on the worker; `on_done(result)` / `on_error(exc)` run on the main thread later.
        Without `on_error`, the failure is shown in the panel with the server's message. With `undo`,
        the change `on_done` makes is one undo step of that name (see `undo.py`). `long` work (a timeline
        build, a playblast, an upload) drives Blender's progress indicator while it runs."""

        def failed(exc: BaseException) -> None:
            self.report(iface("{task} failed: {error}", task=iface(label), error=exc), "ERROR")
            if on_error:
                on_error(exc)

        def done(result: Any) -> None:
            try:
                if on_done:
                    on_done(result)
            except Exception as exc:
                log.exception("AIPipeline: applying %s failed", label)
                self.report(iface("{task} failed: {error}", task=iface(label), error=exc), "ERROR")
            finally:
                if undo:  # a change that stopped half-way can be undone too
                    push_undo_step(undo)
            redraw()

        return self.worker.submit(fn, on_done=done, on_error=failed, label=label, long=long)

    def send(
        self,
        label: str,
        method: str,
        path: str,
        body: Any = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Task:
        """`run` for one API call: `method path` with the JSON `body` on the worker, then
        `on_done(data)` with the server's answer on the main thread."""
        return self.run(
            label, lambda _ctx: self.require_client().request(method, path, body).data, on_done, on_error
        )

    def follow_progress(self) -> float | None:
        """Show the long tasks' progress with Blender's progress indicator (on the cursor, in the editor
        the artist works in) and end it when they are done; main thread. Returns the fraction shown."""
        long = [task for task in self.worker.busy if task.long]
        wm = getattr(bpy.context, "window_manager", None)
        if not long:
            if self.progress is not None and wm is not None:
                wm.progress_end()
            self.progress = None
            return None
        fraction = min(task.progress for task in long)
        if wm is not None:
            if self.progress is None:
                wm.progress_begin(0, PROGRESS_STEPS)
            wm.progress_update(round(fraction * PROGRESS_STEPS))
        self.progress = fraction
        return fraction

    def report(self, text: str, level: str = "INFO") -> None:
        """Show `text` in the panel (main thread)."""
        self.message = Message(text, level)
        getattr(log, "error" if level == "ERROR" else "info")("AIPipeline: %s", text)
        redraw()

    def require_client(self) -> ApiClient:
        if self.client is None or self.client.access_token is None:
            raise ApiError(0, "not logged in")
        return self.client

    @property
    def online(self) -> bool:
        return self.state == "online"

    # -- records and live events ----------------------------------------------------------------------

    def store(self, kind: str, items: list[dict[str, Any]], replace: bool = True) -> None:
        table = self.records.setdefault(kind, {})
        if replace:
            table.clear()
        for item in items:
            table[str(item["id"])] = item

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(kind, {})

    def subscribe(self, prefix: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """Call `handler(event)` on the main thread for each live event whose action starts with `prefix`."""
        self._subscribers.append((prefix, handler))

    def unsubscribe(self, handler: Callable[[dict[str, Any]], None]) -> None:
        self._subscribers = [(p, h) for p, h in self._subscribers if h is not handler]

    def dispatch(self, event: dict[str, Any]) -> None:
        action = str(event.get("action", ""))
        for prefix, handler in list(self._subscribers):
            if action.startswith(prefix):
                handler(event)
        redraw()

    def start_listening(self, project_id: str | None) -> None:
        self.stop_listening()
        client = self.client
        if client is None:
            return

        def on_state(text: str) -> None:
            self.worker.post(lambda: setattr(self, "live", text))

        self.listener = EventListener(
            client.base_url,
            lambda: client.access_token,
            lambda event: self.worker.post(lambda: self.dispatch(event)),
            project_id=project_id,
            on_state=on_state,
        ).start()

    def stop_listening(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
            self.live = ""

    def close(self) -> None:
        self.stop_listening()
        for closer in self.extras.pop("_closers", []):
            closer()
        self.worker.stop()
        wm = getattr(bpy.context, "window_manager", None)
        if self.progress is not None and wm is not None:
            wm.progress_end()  # never leave the indicator on the cursor
        self.progress = None


def get() -> Runtime:
    """The registered runtime; raises when the add-on is not registered."""
    if not _current:
        raise RuntimeError("the AIPipeline add-on is not registered")
    return _current[0]


def is_ready() -> bool:
    return bool(_current)


def is_online() -> bool:
    """True when the add-on is running and logged in (panels draw their content only then)."""
    return bool(_current) and _current[0].online


def current_project_id() -> str:
    """The project picked in the Shots panel; "" when none is, or when the add-on is not running."""
    return str(_current[0].extras.get("project_id") or "") if _current else ""


def preferences() -> Any:
    addon: Any = bpy.context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon else None


def redraw() -> None:
    """Ask Blender to redraw the add-on's panels (a no-op without windows)."""
    wm = getattr(bpy.context, "window_manager", None)
    for window in getattr(wm, "windows", []) if wm else []:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "SEQUENCE_EDITOR", "IMAGE_EDITOR", "PROPERTIES"}:
                area.tag_redraw()


def drain() -> int:
    """Apply what the worker finished (main thread). The timer calls it; tests call it directly."""
    if not _current:
        return 0
    count = _current[0].worker.drain()
    _current[0].follow_progress()
    return count


def _tick() -> float | None:
    if not _current:
        return None
    drain()
    return TIMER_INTERVAL_S


CONFIG_DIR_ENV = "AIPIPELINE_CONFIG_DIR"


def config_dir() -> str:
    """Blender's user config folder (the saved session lives here), or $AIPIPELINE_CONFIG_DIR."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        os.makedirs(override, mode=0o700, exist_ok=True)
        return override
    return bpy.utils.user_resource("CONFIG", path="aipipeline", create=True)


def register() -> None:
    if _current:
        return
    cache = os.path.join(config_dir(), "cache")
    os.makedirs(cache, exist_ok=True)
    _current.append(Runtime(worker=Worker(), tokens=TokenStore(config_dir()), cache_dir=cache))
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=TIMER_INTERVAL_S, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    while _current:
        _current.pop().close()
