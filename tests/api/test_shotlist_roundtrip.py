"""Shot-list round trips as a producer makes them: a workbook exported before the server moved on, locked
shots, an unchanged list sent back, and files that must be refused (no revision, JSON objects in text)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.api.test_shotlist import apply, columns, export, preview, save, shots_json, small, workbook
from tests.support.api import Api, assert_problem

__all__ = ["small"]  # the fixture, shared with test_shotlist

# Text a producer's shot list really holds: line breaks of every kind, control characters pasted from other
# tools, spaces at the ends, formula-like text, OOXML escape look-alikes, Korean and an emoji.
AWKWARD_TEXTS = (
    "line one\r\nline two\nline three\rend",
    "bell \x07 and escape \x1b and form feed \x0c",
    "  spaces at both ends  ",
    "\ttab first",
    "=SUM(A1:A3) is text",
    "'quoted",
    "_x0041_ is not an A; _x005F_ neither",
    "비 오는 골목 🌧️",
)


def _status(api: Api, shot: dict[str, Any], status: str) -> dict[str, Any]:
    response = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"status": status, "revision": shot["revision"]}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_workbook_exported_before_a_status_change_applies_its_edits_and_keeps_the_new_status(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    first, second = small["shots"][0], small["shots"][1]
    content = export(api, pid)
    # After the export, the server moves the first shot on: draft → ready → review.
    moved = _status(api, _status(api, first, "ready"), "review")
    book = workbook(content)
    sheet = book["Shots"]
    col = columns(sheet)
    assert sheet.cell(row=2, column=col["Status"]).value == "draft"  # left as exported
    sheet.cell(row=2, column=col["Duration (frames)"], value=48)
    sheet.cell(row=3, column=col["Description"], value="a description edited in Excel")
    edited = save(book)

    shown = preview(api, pid, "old.xlsx", edited)
    assert shown["can_apply"] and shown["errors"] == [], shown["errors"]
    assert shown["summary"]["changed"] == 2 and shown["summary"]["conflicts"] == 0
    by_shot = {r["shot_id"]: r for r in shown["rows"]}
    assert by_shot[first["id"]]["stale"] and [f["field"] for f in by_shot[first["id"]]["fields"]] == [
        "duration_frames"
    ]

    response = apply(api, pid, "old.xlsx", edited)
    assert response.status_code == 200, response.text
    assert len(response.json()["applied"]["updated"]) == shown["summary"]["changed"]
    now = shots_json(api, pid)
    assert now[first["id"]]["status"] == "review" and now[first["id"]]["duration_frames"] == 48
    assert now[first["id"]]["revision"] == moved["revision"] + 1
    assert now[second["id"]]["description"] == "a description edited in Excel"


def test_a_status_move_the_workflow_forbids_is_still_an_error_naming_the_cell(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    book = workbook(export(api, pid))
    sheet = book["Shots"]
    col = columns(sheet)
    sheet.cell(row=2, column=col["Status"], value="final")  # draft cannot jump to final
    shown = preview(api, pid, "x.xlsx", save(book))
    assert not shown["can_apply"]
    [error] = shown["errors"]
    assert (error["row"], error["column"]) == (2, "Status") and "cannot move to 'final'" in error["message"]
    assert error["cell"].startswith(chr(ord("A") + col["Status"] - 1))


def test_the_preview_names_the_rows_a_lock_refuses_and_the_apply_skips_only_those_edits(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    shot = small["shots"][1]
    locked = api.admin.post(f"/api/shots/{shot['id']}/lock", json={"revision": shot["revision"]})
    assert locked.status_code == 200, locked.text
    book = workbook(export(api, pid))
    sheet = book["Shots"]
    col = columns(sheet)
    sheet.cell(row=3, column=col["Duration (frames)"], value=12)
    sheet.cell(row=3, column=col["Description"], value="notes may change on a locked shot")
    sheet.cell(row=4, column=col["Dialogue"], value="an unlocked shot")
    content = save(book)
    before = shots_json(api, pid)

    shown = preview(api, pid, "locked.xlsx", content)
    assert shown["can_apply"]
    assert shown["summary"] == {
        "added": 0,
        "changed": 2,
        "removed": 0,
        "conflicts": 0,
        "refused": 1,
        "unchanged": 1,
    }
    row = next(r for r in shown["rows"] if r["shot_id"] == shot["id"])
    assert [f["field"] for f in row["fields"]] == ["description"]
    [refusal] = row["refused"]
    assert refusal["field"] == "duration_frames" and refusal["old"] == before[shot["id"]]["duration_frames"]
    assert "locked" in refusal["reason"] and shot["code"] in refusal["reason"]

    overwrite = {"rows": [{"key": shot["id"], "fields": ["duration_frames", "description"]}]}
    body = assert_problem(apply(api, pid, "locked.xlsx", content, overwrite), 409)
    assert "row 3" in body["detail"] and "locked" in body["detail"]
    assert shots_json(api, pid) == before

    response = apply(api, pid, "locked.xlsx", content)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["applied"]["updated"]) == sorted([shot["code"], small["shots"][2]["code"]])
    after = shots_json(api, pid)
    assert after[shot["id"]]["duration_frames"] == before[shot["id"]]["duration_frames"]
    assert after[shot["id"]]["description"] == "notes may change on a locked shot"


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_an_unchanged_export_imports_back_as_no_change_with_awkward_text(
    api: Api, small: dict[str, Any], fmt: str
) -> None:
    pid = small["pid"]
    for index, shot in enumerate(small["shots"]):
        body = {
            "description": AWKWARD_TEXTS[index],
            "dialogue": AWKWARD_TEXTS[index + 3],
            "action": AWKWARD_TEXTS[index + 5],
            "revision": shot["revision"],
        }
        response = api.admin.patch(f"/api/shots/{shot['id']}", json=body)
        assert response.status_code == 200, response.text
    before = shots_json(api, pid)
    content = export(api, pid, format=fmt)
    shown = preview(api, pid, f"same.{fmt}", content)
    assert shown["can_apply"] and shown["rows"] == [], shown["rows"]
    assert shown["summary"]["changed"] == 0 and shown["summary"]["unchanged"] == len(small["shots"])
    response = apply(api, pid, f"same.{fmt}", content)
    assert response.status_code == 200, response.text
    assert response.json()["applied"]["updated"] == []
    assert shots_json(api, pid) == before
    if fmt == "xlsx":  # and the text really is in the file, not dropped: an edit elsewhere keeps it exact
        book = workbook(content)
        sheet = book["Shots"]
        sheet.cell(row=2, column=columns(sheet)["Camera notes"], value="only this changes")
        assert apply(api, pid, "edit.xlsx", save(book)).status_code == 200
        after = shots_json(api, pid)[small["shots"][0]["id"]]
        assert after["description"] == AWKWARD_TEXTS[0] and after["dialogue"] == AWKWARD_TEXTS[3]


def test_a_row_with_an_id_but_no_revision_is_refused_naming_the_row(api: Api, small: dict[str, Any]) -> None:
    pid = small["pid"]
    shot = small["shots"][0]
    before = shots_json(api, pid)
    without_column = json.dumps({"shots": [{"id": shot["id"], "description": "no revision"}]}).encode()
    rows = list(csv.reader(io.StringIO(export(api, pid, format="csv").decode("utf-8-sig"))))
    rows[1][rows[0].index("Revision")] = ""
    rows[1][rows[0].index("Description")] = "revision emptied"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    for name, content in (("x.json", without_column), ("x.csv", buffer.getvalue().encode())):
        shown = preview(api, pid, name, content)
        assert not shown["can_apply"], name
        assert any(e["row"] == 2 and "Revision" in e["message"] for e in shown["errors"]), shown["errors"]
        body = assert_problem(apply(api, pid, name, content), 422)
        assert body["detail"].startswith("Nothing was applied")
    assert shots_json(api, pid) == before


def test_a_json_object_in_a_text_field_is_refused_not_stored_as_text(api: Api, small: dict[str, Any]) -> None:
    pid = small["pid"]
    document = json.loads(export(api, pid, format="json"))
    document["shots"][0]["description"] = {"text": "rain", "mood": "sad"}
    document["shots"][1]["dialogue"] = ["a", "list"]
    content = json.dumps(document).encode()
    before = shots_json(api, pid)
    shown = preview(api, pid, "x.json", content)
    assert not shown["can_apply"]
    where = {(e["row"], e["column"]) for e in shown["errors"]}
    assert where == {(2, "description"), (3, "dialogue")}, shown["errors"]
    assert all("not a JSON object or list" in e["message"] for e in shown["errors"])
    assert_problem(apply(api, pid, "x.json", content), 422)
    assert shots_json(api, pid) == before
