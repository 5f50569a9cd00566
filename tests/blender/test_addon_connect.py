"""Registration, log in once, the saved session, and the main thread never waiting on the network."""

from __future__ import annotations

import os
import stat
import time
from typing import Any

import bpy
import pytest

from tests.blender.helpers import GatedProxy, idle, pump


def test_register_and_unregister_twice_cleanly() -> None:
    import blender_addon
    from blender_addon import runtime

    for _ in range(2):
        blender_addon.register()
        assert runtime.is_ready()
        assert hasattr(bpy.ops.aipipe, "shots_refresh") and hasattr(bpy.types.WindowManager, "aipipe")
        blender_addon.unregister()
        assert not runtime.is_ready()
        assert not hasattr(bpy.types.WindowManager, "aipipe")
        assert "AIPIPE_PT_connection" not in dir(bpy.types)


def test_login_keeps_only_a_refresh_token_owner_only(online, studio, tmp_path) -> None:
    rt = online.get()
    assert rt.user["username"] == studio.artist
    session_file = rt.tokens.path
    mode = stat.S_IMODE(os.stat(session_file).st_mode)
    assert mode == 0o600
    with open(session_file, encoding="utf-8") as handle:
        content = handle.read()
    assert studio.artist_password not in content
    assert rt.tokens.load(studio.url)
    # nothing of the session is in the .blend
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert rt.tokens.load(studio.url).encode() not in blend.read_bytes()


def test_next_session_resumes_without_the_password(online, studio) -> None:
    import addon_utils

    from blender_addon import runtime

    addon_utils.disable("blender_addon", default_set=True)
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    runtime.preferences().server_url = studio.url
    from blender_addon.connect import ops

    assert ops.resume_session()
    pump(lambda: runtime.get().online, what="session resume")
    assert runtime.get().user["username"] == studio.artist


def test_wrong_password_shows_the_servers_message(addon, studio) -> None:
    addon.preferences().server_url = studio.url
    bpy.ops.aipipe.connect_login(username=studio.artist, password="not-the-password")
    pump(lambda: addon.get().state == "offline" and idle(), what="refusal", errors_ok=True)
    message = addon.get().message
    assert message.level == "ERROR"
    assert "401" in message.text and "Logging in failed" in message.text


def test_operators_return_within_50ms_while_the_server_is_slow(addon, studio) -> None:
    """Neither operator waits for the server. Proved by cause, not by the wall clock (a loaded CI machine can
    stall any thread for longer than 50 ms): every connection is held at a gate until the test opens it, so
    an operator that waited for an answer could only return after the gate let it through, which `opened`
    records. The 50 ms is the operator's own CPU time on the main thread (`time.thread_time`), which waiting
    for the CPU does not inflate."""
    proxy = GatedProxy(studio.server.port, hold_s=10.0)  # below the client's timeout: a blocked call is seen
    try:
        addon.preferences().server_url = proxy.url
        addon.preferences().timeout_s = 60.0

        def run_operator(operator: Any, **properties: Any) -> float:
            proxy.close_gate()
            started = time.thread_time()
            assert operator(**properties) == {"FINISHED"}
            cpu_s = time.thread_time() - started
            assert not proxy.opened, f"{operator.idname()} returned only after the server was let through"
            assert addon.get().worker.busy, f"{operator.idname()} should still be running in the background"
            return cpu_s

        login_s = run_operator(
            bpy.ops.aipipe.connect_login, username=studio.artist, password=studio.artist_password
        )
        assert login_s < 0.05, f"login operator worked for {login_s * 1000:.0f} ms of CPU"
        pump(lambda: proxy.held >= 1, what="the login reaching the server")  # it was the worker that called
        proxy.open()
        pump(lambda: addon.get().online, what="login through the gated proxy")
        pump(idle, what="the work after login")
        held = proxy.held
        refresh_s = run_operator(bpy.ops.aipipe.shots_refresh)
        assert refresh_s < 0.05, f"refresh operator worked for {refresh_s * 1000:.0f} ms of CPU"
        pump(lambda: proxy.held > held, what="the refresh reaching the server")
        proxy.open()
        pump(lambda: len(bpy.context.window_manager.aipipe.shots) == len(studio.shots) and idle(), 60)
    finally:
        proxy.open()
        addon.get().stop_listening()
        proxy.close()


def test_disabled_buttons_say_why(addon) -> None:
    assert not bpy.ops.aipipe.shots_refresh.poll()
    try:
        bpy.ops.aipipe.shots_refresh()
    except RuntimeError as exc:
        assert "Not logged in" in str(exc)
    else:
        raise AssertionError("refresh ran without a login")


def test_with_online_access_off_nothing_connects_and_the_buttons_say_why(addon, studio) -> None:
    bpy.context.preferences.system.use_online_access = False
    addon.preferences().server_url = studio.url
    assert not bpy.ops.aipipe.connect_login.poll()
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.aipipe.connect_login(username=studio.artist, password=studio.artist_password)
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.aipipe.shots_refresh()
    assert addon.get().state == "offline" and not addon.get().worker.busy


def test_turning_online_access_off_disables_the_server_buttons_and_logout_stays_local(online, studio) -> None:
    from blender_addon.connect import ops as connect

    rt = online.get()
    rt.stop_listening()
    bpy.context.preferences.system.use_online_access = False
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.aipipe.shots_refresh()
    assert bpy.ops.aipipe.connect_logout() == {"FINISHED"}
    assert not rt.worker.busy and rt.tokens.load(studio.url) is None and rt.state == "offline"
    assert connect.resume_session(studio.url) is False  # nothing saved, nothing to resume
