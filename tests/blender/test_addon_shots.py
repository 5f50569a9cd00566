"""Browse and edit shots on a real server: saving, 409 conflicts (merge, reload, overwrite), live updates."""

from __future__ import annotations

import bpy
import pytest

from tests.blender.helpers import idle, pump

PREVIEW_MAX_PX = 256  # Blender's large preview size


def _pick(studio, index: int):
    state = bpy.context.window_manager.aipipe
    state.shot_index = [item.id for item in state.shots].index(studio.shots[index]["id"])
    return state.form


def _admin_patch(studio, index: int, **fields) -> dict:
    shot = studio.shot(index)
    response = studio.admin.patch(
        f"/api/shots/{shot['id']}", json=fields, headers={"If-Match": f'"{shot["revision"]}"'}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_list_shows_code_status_duration(online, studio) -> None:
    items = bpy.context.window_manager.aipipe.shots
    assert [i.code for i in items] == ["SHT_0010", "SHT_0020"]
    assert [i.duration_frames for i in items] == [12, 36]
    assert [i.status for i in items] == [studio.shot(0)["status"], studio.shot(1)["status"]]


def test_edit_and_save_creates_a_new_revision(online, studio) -> None:
    form = _pick(studio, 1)
    before = studio.shot(1)["revision"]
    form.description = "She stops under the neon sign"
    form.duration_frames = 40
    assert bpy.ops.aipipe.shots_save() == {"FINISHED"}
    pump(lambda: idle() and "saved" in online.get().message.text, what="save")
    shot = studio.shot(1)
    assert shot["description"] == "She stops under the neon sign" and shot["duration_frames"] == 40
    assert shot["revision"] == before + 1 and form.revision == before + 1


def test_conflict_on_other_fields_merges_without_asking(online, studio) -> None:
    form = _pick(studio, 1)
    form.action = "Rina turns her head"
    _admin_patch(studio, 1, description="Director's new description")
    online.get().stop_listening()  # no live refresh: the save must meet the 409
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and "saved" in online.get().message.text, what="merged save")
    shot = studio.shot(1)
    assert shot["action"] == "Rina turns her head" and shot["description"] == "Director's new description"


def test_conflict_on_the_same_field_offers_reload_and_keeps_the_artists_text(online, studio) -> None:
    form = _pick(studio, 1)
    online.get().stop_listening()
    form.description = "Artist's careful wording"
    _admin_patch(studio, 1, description="Director's wording")
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and form.conflict, what="conflict")
    assert form.conflict_fields == "description"
    assert not bpy.ops.aipipe.shots_save.poll()
    assert bpy.ops.aipipe.shots_conflict_reload() == {"FINISHED"}
    assert form.description == "Director's wording" and not form.conflict
    kept = bpy.data.texts["AIPipeline SHT_0020 (your edit)"].as_string()
    assert "Artist's careful wording" in kept


def test_conflict_overwrite_saves_the_artists_value(online, studio) -> None:
    form = _pick(studio, 1)
    online.get().stop_listening()
    form.description = "Mine wins"
    _admin_patch(studio, 1, description="Theirs")
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and form.conflict, what="conflict")
    assert bpy.ops.aipipe.shots_conflict_overwrite() == {"FINISHED"}
    pump(lambda: idle() and "saved" in online.get().message.text, what="overwrite")
    assert studio.shot(1)["description"] == "Mine wins"


def test_live_update_refreshes_what_others_changed(online, studio) -> None:
    form = _pick(studio, 1)
    pump(lambda: online.get().live == "live", what="event stream")
    _admin_patch(studio, 1, description="Changed in the web app", duration_frames=44)
    pump(lambda: form.description == "Changed in the web app", what="live update")
    assert bpy.context.window_manager.aipipe.shots[1].duration_frames == 44
    _admin_patch(studio, 1, duration_frames=36)  # back to what the other tests expect
    pump(lambda: bpy.context.window_manager.aipipe.shots[1].duration_frames == 36, what="live update")


def test_a_late_event_with_an_older_revision_does_not_undo_a_newer_one(online, studio) -> None:
    # Events do not always arrive in id order (the server sends its own commits ahead of an import's, whose
    # ids are lower): an import's update may arrive after an edit made on top of it.
    _pick(studio, 1)
    current = studio.shot(1)
    pump(lambda: online.get().table("shots")[current["id"]]["revision"] == current["revision"], what="shot")
    older = {**current, "revision": current["revision"] - 1, "description": "an import's older text"}
    online.get().dispatch({"action": "shot.updated", "entity_id": current["id"], "data": older})
    assert online.get().table("shots")[current["id"]]["description"] == current["description"]
    newer = {**current, "revision": current["revision"] + 1, "description": "a newer text"}
    online.get().dispatch({"action": "shot.updated", "entity_id": current["id"], "data": newer})
    assert online.get().table("shots")[current["id"]]["description"] == "a newer text"
    online.get().table("shots")[current["id"]] = current  # as the server has it, for the other tests


def test_server_refusal_is_shown_with_the_field(online, studio) -> None:
    form = _pick(studio, 0)  # approved and with an approved first frame; artists may edit text
    online.get().stop_listening()
    form.duration_frames = 2_000_000  # the form allows it; the server refuses it
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and online.get().message.level == "ERROR", what="refusal", errors_ok=True)
    assert "duration_frames" in online.get().message.text


def test_list_thumbnails_come_from_the_newest_pictured_version(online, studio) -> None:
    import io

    from PIL import Image

    from blender_addon.shots import thumbnails

    shot_id = studio.shots[0]["id"]  # has an approved first frame, so at least one picture
    pump(lambda: shot_id in thumbnails.previews() and idle(), what="thumbnail")
    versions = studio.admin.get(f"/api/shots/{shot_id}/versions", params={"limit": 20}).json()["items"]
    newest = next(v for v in versions if v["thumbnail_url"])
    width, height = Image.open(io.BytesIO(studio.admin.get(newest["thumbnail_url"]).content)).size
    scale = min(1.0, PREVIEW_MAX_PX / max(width, height))  # Blender keeps previews within 256 px
    # Background Blender has no icons (icon_id stays 0), but the preview holds the downloaded picture.
    expected = (round(width * scale), round(height * scale))
    assert tuple(thumbnails.previews()[shot_id].image_size[:]) == expected


def _history():
    from blender_addon.shots import history

    return history.state()


def test_server_edits_are_undone_and_redone_from_the_shot_panel(online, studio) -> None:
    form = _pick(studio, 1)
    online.get().stop_listening()  # the panel's own refreshes only
    before = studio.shot(1)["description"]
    form.description = "Rain starts"
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and "saved" in online.get().message.text, what="save")
    pump(lambda: idle() and _history()["items"], what="history")
    assert bpy.ops.aipipe.shots_history_undo.poll()
    shown = next(c for c in _history()["items"] if c["kind"] == "edit" and c["state"] == "applied")
    assert "description" in shown["label"]  # what Undo will take back is what the panel names

    assert bpy.ops.aipipe.shots_history_undo() == {"FINISHED"}
    pump(lambda: idle() and online.get().message.text.startswith("Undone"), what="undo")
    assert studio.shot(1)["description"] == before and form.description == before
    assert bpy.ops.aipipe.shots_history_redo.poll()

    assert bpy.ops.aipipe.shots_history_redo() == {"FINISHED"}
    pump(lambda: idle() and online.get().message.text.startswith("Redone"), what="redo")
    assert studio.shot(1)["description"] == "Rain starts" and form.description == "Rain starts"


def test_undo_is_refused_with_the_reason_when_someone_changed_the_field_since(online, studio) -> None:
    form = _pick(studio, 1)
    online.get().stop_listening()  # the artist's panel still shows their own edit as the one to undo
    form.description = "Artist's line"
    bpy.ops.aipipe.shots_save()
    pump(lambda: idle() and "saved" in online.get().message.text, what="save")
    pump(lambda: idle() and _history()["items"], what="history")
    _admin_patch(studio, 1, description="Director's line")
    bpy.ops.aipipe.shots_history_undo()
    pump(lambda: idle() and _history()["refusal"], what="refusal", errors_ok=True)
    refusal = _history()["refusal"]
    assert "later changed" in refusal and "description" in refusal and "admin_blender" in refusal
    assert studio.shot(1)["description"] == "Director's line"  # nothing was overwritten
    pump(lambda: idle() and _history()["items"][0]["actor_name"] == "admin_blender", what="history reload")


def test_history_buttons_say_why_they_are_disabled(online, studio) -> None:
    _pick(studio, 0)
    pump(idle, what="history")
    from blender_addon.shots import opsdata

    if opsdata.undo_target(_history()["items"]) is None:
        with pytest.raises(RuntimeError, match="Nothing to undo"):
            bpy.ops.aipipe.shots_history_undo()
    with pytest.raises(RuntimeError, match="Nothing to redo"):
        bpy.ops.aipipe.shots_history_redo()
