"""The image loop's panels and lists drawn against the recording layout (background Blender draws no UI):
every property and operator they show exists, logged out, logged in, and with takes loaded."""

from __future__ import annotations

from types import SimpleNamespace

import bpy

from tests.blender.test_addon_panels import RecordingLayout

PANELS = ("AIPIPE_PT_images", "AIPIPE_PT_images_vse", "AIPIPE_PT_images_image")


def _draw() -> list[str]:
    log: list[str] = []
    for name in PANELS:
        getattr(bpy.types, name).draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def test_the_panels_say_to_log_in_when_logged_out(addon) -> None:
    log = _draw()
    assert "label:Log in to generate takes" in log and "label:Log in to compare takes" in log


def test_the_panels_draw_logged_in_with_takes_loaded(online, studio) -> None:
    from blender_addon.images import core, takes

    log = _draw()
    for expected in (
        "list:AIPIPE_UL_images_shots",
        "operator:aipipe.images_generate",
        "operator:aipipe.images_vse_wipe",
        "operator:aipipe.images_send_markers",
        "label:No takes loaded",
    ):
        assert expected in log, expected
    item = {
        "version": {"id": "v1", "shot_id": "s", "number": 1, "files": []},
        "provenance": {"workflow": "flux1_dev_t2i", "seed": 7, "prompt": "비 오는 골목"},
        "verdict": None,
        "is_first_frame": True,
    }
    state = bpy.context.window_manager.aipipe_images
    state.mode = "WIPE"  # before the takes are listed: nothing to show yet
    takes.apply_takes(
        "s", "SH0010", core.take_rows([item, {**item, "version": {**item["version"], "id": "v2"}}])
    )
    state.shown_version = "v1"
    log = _draw()
    for expected in (
        "list:AIPIPE_UL_images_takes",
        "operator:aipipe.images_flip",
        "prop:wipe",
        "label:prompt: 비 오는 골목",
        "operator:aipipe.images_use_first_frame",
        "operator:aipipe.images_redo",
        "operator:aipipe.images_rework",
    ):
        assert expected in log, expected
    rows: list[str] = []
    for take in state.takes:
        bpy.types.AIPIPE_UL_images_takes.draw_item(
            None, bpy.context, RecordingLayout(rows), state, take, 0, state, "take_index"
        )
    assert rows.count("operator:aipipe.images_set_take") == 4
    browser = bpy.context.window_manager.aipipe
    shot_rows: list[str] = []
    for shot in browser.shots:
        bpy.types.AIPIPE_UL_images_shots.draw_item(
            None, bpy.context, RecordingLayout(shot_rows), browser, shot, 0, browser, "shot_index"
        )
    assert shot_rows.count("operator:aipipe.images_tick") == len(studio.shots)


def test_arrived_takes_offer_to_show_the_newest_on_the_strips(online, studio) -> None:
    state = bpy.context.window_manager.aipipe_images
    before = _draw()
    assert "operator:aipipe.editorial_update_media" not in before
    state.arrived = 3
    try:
        log = _draw()
    finally:
        state.arrived = 0
    assert "label:테이크 3개 도착" in log or "label:3 takes arrived" in log
    assert "operator:aipipe.editorial_update_media" in log  # one click swaps the strips to the newest
