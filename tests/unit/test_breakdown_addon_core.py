"""The Blender breakdown panel's pure helpers (no bpy): request body, rows, Create edit's strip slots."""

from __future__ import annotations

from typing import Any

import pytest

from blender_addon.breakdown import core

DRAFT: dict[str, Any] = {
    "id": "d1",
    "status": "draft",
    "engine": "parser",
    "source_format": "korean",
    "matches": {"CHR-001": {"id": "x", "name": "리나"}},
    "content": {
        "characters": [
            {
                "id": "CHR-001",
                "name": "Rina",
                "description": "short hair",
                "clothing": ["red coat"],
                "decision": "accepted",
            },
        ],
        "environments": [
            {
                "id": "ENV-001",
                "name": "골목길",
                "time_of_day": "밤",
                "weather": "rain",
                "mood": "",
                "decision": "pending",
            }
        ],
        "scenes": [
            {
                "id": "SCN-001",
                "name": "골목길 - 밤",
                "heading": "S#1.",
                "description": "",
                "decision": "pending",
            }
        ],
        "shots": [
            {
                "id": "SHT-001-01",
                "scene_ref": "SCN-001",
                "description": "Rain.",
                "duration_s": 2.5,
                "preset": "Establishing Extreme Wide",
                "subjects": [],
                "decision": "pending",
            },
            {
                "id": "SHT-001-02",
                "scene_ref": "SCN-001",
                "description": "Rina runs.",
                "duration_s": 3.0,
                "preset": None,
                "subjects": [{"character_ref": "CHR-001", "clothing": ""}],
                "decision": "dropped",
            },
        ],
    },
}


def test_the_request_body_names_an_empty_text() -> None:
    assert core.create_body("S#1. 방\n", "scene.txt", "AUTO", "PARSER") == {
        "text": "S#1. 방\n",
        "format": "auto",
        "engine": "parser",
        "source_name": "scene.txt",
    }
    with pytest.raises(ValueError, match="the text 'Script' is empty"):
        core.create_body("  \n", "Script", "AUTO", "AUTO")


def test_rows_list_characters_environments_then_scenes_with_their_shots() -> None:
    rows = core.rows(DRAFT)
    assert [(r.item_id, r.kind) for r in rows] == [
        ("CHR-001", "Character"),
        ("ENV-001", "Environment"),
        ("SCN-001", "Scene"),
        ("SHT-001-01", "Shot"),
        ("SHT-001-02", "Shot"),
    ]
    assert rows[0].merge_into == "리나" and rows[0].detail == "short hair, red coat"
    assert rows[3].detail == "2.5 s · Establishing Extreme Wide"
    assert rows[4].detail == "3 s · Rina" and rows[4].decision == "dropped"
    assert core.summary(DRAFT) == "draft: 1 scenes, 1 of 2 shots, 1 characters (korean via parser)"


def test_create_edit_slots_follow_the_shots_durations_after_the_existing_edit() -> None:
    shots = [
        {"id": "a", "code": "SHT_0010", "duration_frames": 60},
        {"id": "b", "code": "SHT_0020", "duration_frames": 72},
    ]
    start = core.after_existing([(1, 49), (49, 97)], default_start=1)
    assert start == 97
    assert core.edit_slots(shots, start) == [
        core.Slot("a", "SHT_0010", 97, 60),
        core.Slot("b", "SHT_0020", 157, 72),
    ]
    assert core.after_existing([], default_start=1) == 1
    assert core.applied_shot_ids({"result": {"shots": [{"id": "a"}, {"id": "b"}]}}) == ["a", "b"]


EDITABLE = {
    "content": {
        "characters": [
            {
                "id": "CHR-001",
                "name": "리나",
                "aliases": ["Rina"],
                "description": "",
                "clothing": ["빨간 코트"],
            }
        ],
        "environments": [
            {"id": "ENV-001", "name": "골목길", "time_of_day": "밤", "weather": "", "prompt": ""}
        ],
        "scenes": [
            {"id": "SCN-001", "number": "1", "heading": "S#1. 골목길 - 밤", "name": "", "description": ""}
        ],
        "shots": [
            {"id": "SHT-001-02", "description": "She runs.", "action": "", "preset": None, "duration_s": 3.0}
        ],
    }
}


def test_the_edit_dialog_shows_the_fields_of_the_items_kind_and_sends_only_what_changed() -> None:
    rina = core.find_item(EDITABLE, "CHR-001")
    shown = core.edit_values(rina)
    assert shown["aliases"] == "Rina" and shown["clothing"] == "빨간 코트" and "time_of_day" not in shown
    body = core.item_changes(rina, {**shown, "aliases": "Rina, 리나씨 ", "description": "short hair"}, 3)
    assert body == {"aliases": ["Rina", "리나씨"], "description": "short hair", "revision": 3}
    alley = core.find_item(EDITABLE, "ENV-001")
    assert core.item_changes(alley, {"weather": " rain "}, 3) == {"weather": "rain", "revision": 3}
    shot = core.find_item(EDITABLE, "SHT-001-02")
    assert core.edit_values(shot)["preset"] == "" and core.edit_values(shot)["duration_s"] == 3.0
    assert core.item_changes(shot, {"duration_s": 4.5, "preset": "MCU eye level"}, 7) == {
        "duration_s": 4.5,
        "preset": "MCU eye level",
        "revision": 7,
    }
    assert core.item_changes(shot, core.edit_values(shot), 7) == {"revision": 7}  # nothing changed
    with pytest.raises(ValueError, match="Name: a character needs a name"):
        core.item_changes(rina, {"name": "  "}, 3)
    with pytest.raises(ValueError, match="Seconds"):
        core.item_changes(shot, {"duration_s": 0.0}, 3)
    with pytest.raises(ValueError, match="no item SHT-009-01"):
        core.find_item(EDITABLE, "SHT-009-01")
