"""Log in (once: only a refresh token is kept), log out, resume the session at start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import IntProperty, StringProperty

from .. import registry, runtime
from ..core.client import ApiClient
from ..i18n import iface, tip
from ..registry import ensure_online_access, online_access, register_classes, unregister_classes


def _server_url(explicit: str = "") -> str:
    prefs = runtime.preferences()
    return (explicit or (prefs.server_url if prefs else "")).strip().rstrip("/")


def _timeout() -> float:
    prefs = runtime.preferences()
    return float(prefs.timeout_s) if prefs else 30.0


def _online(rt: runtime.Runtime, client: ApiClient, user: dict[str, Any]) -> None:
    rt.client, rt.user, rt.state = client, user, "online"
    rt.report(
        iface("Logged in as {user} on {server}", user=user.get("username", "?"), server=client.base_url)
    )
    rt.dispatch({"action": "session.login", "data": user})


def _connect(
    rt: runtime.Runtime,
    client: ApiClient,
    label: str,
    fn: Callable[[Any], Any],
    user_of: Callable[[Any], dict[str, Any]] = lambda user: user,
) -> None:
    """Check `client` with `fn` on the worker: on success the add-on is online as `user_of(result)`,
    on failure it is offline again (the error is shown in the panel)."""
    rt.state = "connecting"

    def failed(_exc: BaseException) -> None:
        rt.state = "offline"

    rt.run(label, fn, lambda result: _online(rt, client, user_of(result)), failed)


def resume_session(server_url: str = "") -> bool:
    """Log in from the saved refresh token in the background, if there is one; True when started."""
    rt = runtime.get()
    url = _server_url(server_url)
    if not url or not rt.tokens.load(url):
        return False
    if not online_access():
        rt.report(registry.OFFLINE_MESSAGE, "WARNING")
        return False
    client = ApiClient(url, rt.tokens, _timeout())
    _connect(rt, client, "Resuming session", lambda _ctx: client.resume())
    return True


def connect_with_api_key(server_url: str, key: str, name: str = "API key") -> None:
    """For headless scripts (the demo, farm tools): use an API key instead of a login; checked in the
    background like a login."""
    rt = runtime.get()
    client = ApiClient(_server_url(server_url), rt.tokens, _timeout())
    client.use_api_key(key, name)
    _connect(
        rt,
        client,
        "Connecting",
        lambda _ctx: client.get("/api/projects", {"limit": 1}),
        lambda _page: client.user or {},
    )


class AIPIPE_OT_connect_login(bpy.types.Operator):
    """Log in to the AIPipeline server; the password is used once and never stored"""

    bl_idname = "aipipe.connect_login"
    bl_label = "Log in"
    bl_options = {"INTERNAL"}

    server_url: StringProperty(name="Server", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    username: StringProperty(name="Username", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    password: StringProperty(  # type: ignore[valid-type]
        name="Password", subtype="PASSWORD", options={"SKIP_SAVE", "HIDDEN"}
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not runtime.is_ready():
            cls.poll_message_set(tip("The AIPipeline add-on is not running"))
            return False
        if not ensure_online_access(cls):
            return False
        if runtime.get().state == "connecting":
            cls.poll_message_set(tip("Already logging in"))
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        self.server_url = _server_url(self.server_url)
        return context.window_manager.invoke_props_dialog(self)  # type: ignore[return-value]

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "server_url")
        self.layout.prop(self, "username")
        self.layout.prop(self, "password")

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        url = _server_url(self.server_url)
        if not url:
            self.report({"ERROR"}, iface("Set the server URL (Preferences > Add-ons > AIPipeline)"))
            return {"CANCELLED"}
        if not self.username or not self.password:
            self.report({"ERROR"}, iface("Enter a username and a password"))
            return {"CANCELLED"}
        try:
            client = ApiClient(url, rt.tokens, _timeout())
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        username, password = self.username, self.password
        self.password = ""
        rt.state = "connecting"
        rt.report(iface("Logging in to {server}…", server=url))
        prefs = runtime.preferences()
        if prefs is not None and prefs.server_url != url:
            prefs.server_url = url
        _connect(rt, client, "Logging in", lambda _ctx: client.login(username, password))
        return {"FINISHED"}


class AIPIPE_OT_connect_logout(bpy.types.Operator):
    """Log out and forget the saved session on this workstation"""

    bl_idname = "aipipe.connect_logout"
    bl_label = "Log out"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not runtime.is_ready() or runtime.get().client is None:
            cls.poll_message_set(tip("Not logged in"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        client = rt.client
        rt.stop_listening()
        rt.client, rt.user, rt.state = None, None, "offline"
        rt.records.clear()
        rt.dispatch({"action": "session.logout"})
        if client is not None and online_access():
            rt.run("Logging out", lambda _ctx: client.logout(), lambda _r: rt.report("Logged out"))
        elif client is not None:  # offline: forget the session here; the server's token simply expires
            rt.tokens.clear(client.base_url)
            rt.report("Logged out")
        return {"FINISHED"}


class AIPIPE_OT_connect_mapping_add(bpy.types.Operator):
    """Add a storage-root mapping for this workstation"""

    bl_idname = "aipipe.connect_mapping_add"
    bl_label = "Add mapping"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = runtime.preferences()
        if prefs is None:
            return {"CANCELLED"}
        prefs.path_mappings.add()
        return {"FINISHED"}


class AIPIPE_OT_connect_mapping_remove(bpy.types.Operator):
    """Remove this storage-root mapping"""

    bl_idname = "aipipe.connect_mapping_remove"
    bl_label = "Remove mapping"
    bl_options = {"INTERNAL"}

    index: IntProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = runtime.preferences()
        if prefs is None or not 0 <= self.index < len(prefs.path_mappings):
            return {"CANCELLED"}
        prefs.path_mappings.remove(self.index)
        return {"FINISHED"}


class AIPIPE_OT_connect_cancel_tasks(bpy.types.Operator):
    """Cancel the background work that has not finished"""

    bl_idname = "aipipe.connect_cancel_tasks"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        for task in runtime.get().worker.busy:
            task.cancel()
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_connect_login,
    AIPIPE_OT_connect_logout,
    AIPIPE_OT_connect_mapping_add,
    AIPIPE_OT_connect_mapping_remove,
    AIPIPE_OT_connect_cancel_tasks,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
