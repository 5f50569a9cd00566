"""The add-on's bpy-free shot-list helpers: the server's preview as lines, ticked lines as a selection."""

from __future__ import annotations

from blender_addon.shotlist import core

PREVIEW = {
    "can_apply": True,
    "error_count": 0,
    "errors": [],
    "warnings": [{"message": "Column 'Notes' is ignored.", "sheet": "Shots", "row": None, "column": "Notes"}],
    "summary": {"added": 1, "changed": 1, "removed": 1, "conflicts": 1, "unchanged": 5},
    "rows": [
        {
            "key": "id-1",
            "row": 2,
            "code": "SHT_0010",
            "action": "changed",
            "fields": [
                {"field": "description", "old": "a", "new": "b", "server": "a", "conflict": False},
                {"field": "dialogue", "old": "x", "new": "y", "server": "z", "conflict": True},
            ],
        },
        {
            "key": "row:9",
            "row": 9,
            "code": "(new)",
            "action": "added",
            "fields": [
                {"field": "description", "old": None, "new": "new one", "server": None, "conflict": False}
            ],
        },
        {"key": "id-3", "row": None, "code": "SHT_0030", "action": "removed", "fields": []},
    ],
}


def test_lines_tick_changes_and_new_shots_but_not_conflicts_or_removals() -> None:
    lines = core.lines(PREVIEW)
    assert [(line.code, line.field, line.use_default) for line in lines] == [
        ("SHT_0010", "description", True),
        ("SHT_0010", "dialogue", False),
        ("(new)", "description", True),
        ("SHT_0030", "", False),
    ]
    assert lines[1].label == "SHT_0010 dialogue: x → y (server: z)"
    assert lines[3].label == "SHT_0030: missing from the file"


def test_selection_sends_ticked_fields_conflicts_as_overwrites_and_removals() -> None:
    lines = core.lines(PREVIEW)
    ticked = [(line, True) for line in lines]
    assert core.selection(ticked) == {
        "rows": [
            {"key": "id-1", "fields": ["description", "dialogue"], "overwrite": ["dialogue"]},
            {"key": "row:9", "overwrite": []},
        ],
        "remove": ["id-3"],
    }
    defaults = [(line, line.use_default) for line in lines]
    assert core.selection(defaults)["rows"][0] == {"key": "id-1", "fields": ["description"], "overwrite": []}


def test_summary_and_problems_name_where() -> None:
    assert core.summary(PREVIEW) == "1 new, 1 changed, 1 missing, 1 conflicts"
    assert core.problems(PREVIEW) == ["Warning (Shots, column Notes): Column 'Notes' is ignored."]
    assert core.summary({"error_count": 2}).startswith("2 error(s)")
