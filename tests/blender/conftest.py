"""Tests that run inside real Blender: the `bpy` wheel of one release per virtual environment."""

from __future__ import annotations

import bpy
import pytest


def pytest_report_header() -> str:
    return f"Blender {bpy.app.version_string} (bpy module)"


@pytest.fixture(autouse=True)
def factory_startup() -> None:
    """Each test starts from Blender's factory settings with an empty scene."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture(scope="package")
def studio(tmp_path_factory: pytest.TempPathFactory):
    """One real server (SQLite) for the Blender tests, with a project, shots and an artist."""
    from tests.blender.helpers import ADMIN, make_studio
    from tests.support.server import start_with_admin

    server, password = start_with_admin(tmp_path_factory.mktemp("blender-server"), None, ADMIN)
    try:
        yield make_studio(server, password)
    finally:
        server.stop()


@pytest.fixture
def addon(tmp_path, monkeypatch):
    """The extension enabled as Blender enables add-ons, with its session file in a temp folder."""
    import addon_utils

    monkeypatch.setenv("AIPIPELINE_CONFIG_DIR", str(tmp_path / "config"))
    # The bpy module starts with online access off; these tests talk to a server, as the user allowed.
    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    from blender_addon import runtime

    assert runtime.is_ready()
    try:
        yield runtime
    finally:
        addon_utils.disable("blender_addon", default_set=True)


@pytest.fixture
def online(addon, studio):
    """Logged in as the artist, the studio's project picked and its shots loaded."""
    from tests.blender.helpers import idle, pump

    addon.preferences().server_url = studio.url
    result = bpy.ops.aipipe.connect_login(username=studio.artist, password=studio.artist_password)
    assert result == {"FINISHED"}
    pump(lambda: addon.get().online, what="login")
    # Other tests make projects of their own; pick the studio's by id, not by where its code sorts.
    pump(lambda: studio.project["id"] in addon.get().table("projects") and idle(), what="projects")
    if bpy.context.window_manager.aipipe.project != studio.project["id"]:
        bpy.context.window_manager.aipipe.project = studio.project["id"]
    pump(lambda: len(bpy.context.window_manager.aipipe.shots) == len(studio.shots) and idle(), what="shots")
    return addon
