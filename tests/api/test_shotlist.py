"""The shot list round trip: export → edit in the file → import → diff → apply gives exactly the edits."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import openpyxl
import pytest
from sqlalchemy import create_engine, insert

from sync_server.db.models import Shot
from tests.support.api import Api, assert_problem

N_SHOTS = 2000


def export(api: Api, pid: str, **params: Any) -> bytes:
    response = api.admin.get(f"/api/projects/{pid}/shotlist/export", params=params)
    assert response.status_code == 200, response.text
    return response.content


def preview(api: Api, pid: str, name: str, content: bytes) -> dict[str, Any]:
    response = api.admin.post(f"/api/projects/{pid}/shotlist/import", files={"file": (name, content)})
    assert response.status_code == 200, response.text
    return response.json()


def apply(api: Api, pid: str, name: str, content: bytes, selection: dict[str, Any] | None = None) -> Any:
    data = {"selection": json.dumps(selection)} if selection is not None else {}
    return api.admin.post(
        f"/api/projects/{pid}/shotlist/apply", files={"file": (name, content)}, data=data, timeout=120
    )


def shots_json(api: Api, pid: str) -> dict[str, dict[str, Any]]:
    document = json.loads(export(api, pid, format="json"))
    return {shot["id"]: shot for shot in document["shots"]}


def workbook(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def save(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def columns(sheet: Any) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


@pytest.fixture
def small(api: Api) -> dict[str, Any]:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    mina = api.admin.post(
        f"/api/projects/{pid}/characters", json={"name": "Mina", "clothing_options": ["raincoat", "suit"]}
    ).json()
    alley = api.admin.post(f"/api/projects/{pid}/environments", json={"name": "Alley"}).json()
    shots = [api.shot(pid, scene["id"], description=f"shot {i}") for i in range(3)]
    return {"pid": pid, "scene": scene, "shots": shots, "mina": mina, "alley": alley}


def _insert_shots(api: Api, pid: str, scene_id: str, count: int) -> None:
    """2,000 shots straight into the server's database: setup only, so the test spends its time on the
    round trip itself."""
    engine = create_engine(api.sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Shot),
                [
                    {
                        "id": uuid.uuid4(),
                        "project_id": uuid.UUID(pid),
                        "scene_id": uuid.UUID(scene_id),
                        "code": f"SHT_{i:04d}",
                        "sort_order": i * 1000,
                        "description": f"Shot {i} — 비 오는 골목",
                        "duration_frames": 24 + i % 50,
                        "status": "draft",
                    }
                    for i in range(1, count + 1)
                ],
            )
    finally:
        engine.dispose()


def test_round_trip_of_2000_shots_applies_exactly_the_edits_made_in_the_workbook(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    alley = api.admin.post(f"/api/projects/{pid}/environments", json={"name": "Alley"}).json()
    api.admin.post(f"/api/projects/{pid}/characters", json={"name": "Mina", "clothing_options": ["raincoat"]})
    _insert_shots(api, pid, scene["id"], N_SHOTS)
    before = shots_json(api, pid)
    content = export(api, pid)
    book = workbook(content)
    sheet = book["Shots"]
    col = columns(sheet)
    assert sheet.max_row == N_SHOTS + 1

    expected: dict[str, dict[str, Any]] = {}

    def edit(row: int, header: str, value: Any, field: str) -> None:
        sheet.cell(row=row, column=col[header], value=value)
        shot_id = sheet.cell(row=row, column=col["ID"]).value
        expected.setdefault(shot_id, {})[field] = value

    for row in range(2, N_SHOTS + 2, 97):
        edit(row, "Description", f"Edited in Excel {row} — 수정", "description")
    for row in (5, 50, 500, 1500, 2001):
        edit(row, "Duration (frames)", 99, "duration_frames")
    for row in (7, 700):
        edit(row, "Environment", "Alley", "environment")
    edit(9, "Characters", "Mina (raincoat)", "characters")
    edit(11, "Status", "ready", "status")
    edit(13, "Dialogue", "=1+1 is text here", "dialogue")
    sheet.cell(row=13, column=col["Dialogue"]).data_type = "s"  # as Excel keeps text typed as '=1+1...
    sheet.append([None] * (col["Scene"] - 1) + [scene["code"]] + [None, None, "A new shot at the end"])
    edited = save(book)

    shown = preview(api, pid, "edited.xlsx", edited)
    assert shown["can_apply"] and shown["errors"] == []
    assert shown["summary"] == {
        "added": 1,
        "changed": len(expected),
        "removed": 0,
        "conflicts": 0,
        "refused": 0,
        "unchanged": N_SHOTS - len(expected),
    }
    changed = {
        r["shot_id"]: {f["field"]: f["new"] for f in r["fields"]} for r in shown["rows"] if r["shot_id"]
    }
    assert changed == expected
    # The preview changed nothing.
    assert shots_json(api, pid) == before

    response = apply(api, pid, "edited.xlsx", edited)
    assert response.status_code == 200, response.text
    assert len(response.json()["applied"]["updated"]) == len(expected)
    assert len(response.json()["applied"]["created"]) == 1
    after = shots_json(api, pid)
    assert len(after) == N_SHOTS + 1
    for shot_id, shot in before.items():
        wanted = {**shot, **expected.get(shot_id, {})}
        got = after[shot_id]
        for field in ("description", "dialogue", "duration_frames", "environment", "characters", "status"):
            assert got[field] == wanted[field], (shot_id, field)
        assert got["revision"] == shot["revision"] + (1 if shot_id in expected else 0)
    new = [s for s in after.values() if s["id"] not in before]
    assert new[0]["description"] == "A new shot at the end" and new[0]["order"] > max(
        s["order"] for s in before.values()
    )
    assert alley["name"] == "Alley"
    # One change set for the whole apply; re-importing the same file now changes nothing.
    history = api.admin.get(f"/api/projects/{pid}/history", params={"limit": 1}).json()["items"][0]
    assert history["label"] == "import edited.xlsx" and len(history["items"]) == len(expected) + 1
    again = preview(api, pid, "edited.xlsx", save(workbook(export(api, pid))))
    assert again["summary"]["changed"] == 0 and again["summary"]["added"] == 0


def test_conflicts_where_the_server_changed_the_same_field_are_skipped_unless_chosen(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    content = export(api, pid)
    first = small["shots"][0]
    server_edit = api.admin.patch(
        f"/api/shots/{first['id']}", json={"description": "server wins?", "revision": first["revision"]}
    )
    assert server_edit.status_code == 200
    book = workbook(content)
    sheet = book["Shots"]
    col = columns(sheet)
    sheet.cell(row=2, column=col["Description"], value="file wins?")
    sheet.cell(row=2, column=col["Dialogue"], value="a line only the file set")
    edited = save(book)
    [row] = preview(api, pid, "x.xlsx", edited)["rows"]
    assert row["stale"] and row["revision_file"] == first["revision"]
    by_field = {f["field"]: f for f in row["fields"]}
    assert by_field["description"]["conflict"] and by_field["description"]["server"] == "server wins?"
    assert by_field["description"]["old"] == "shot 0" and by_field["description"]["new"] == "file wins?"
    assert not by_field["dialogue"]["conflict"]
    assert apply(api, pid, "x.xlsx", edited).status_code == 200
    now = api.admin.get(f"/api/shots/{first['id']}").json()
    assert now["description"] == "server wins?" and now["dialogue"] == "a line only the file set"
    # Choosing the file's value for the conflicting field overwrites it.
    chosen = {"rows": [{"key": first["id"], "fields": ["description"], "overwrite": ["description"]}]}
    assert apply(api, pid, "x.xlsx", edited, chosen).status_code == 200
    assert api.admin.get(f"/api/shots/{first['id']}").json()["description"] == "file wins?"


def test_korean_csv_round_trip_with_an_unknown_column_warns_and_applies(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    text = export(api, pid, format="csv", lang="ko").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert "샷" in header and "설명" in header and "상태" in header
    header.append("메모")
    rows[2][header.index("순서")] = "1"  # read-only: ignored, with a warning
    rows[1][header.index("설명")] = "수정된 설명"
    rows[1][header.index("등장인물")] = "Mina (suit)"
    rows[1][header.index("환경")] = "Alley"
    rows[1].append("ignored note")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    content = buffer.getvalue().encode("utf-8")
    shown = preview(api, pid, "ko.csv", content)
    assert [w["column"] for w in shown["warnings"]] == ["메모", "순서"]
    assert "rows 3" in shown["warnings"][1]["message"]
    assert shown["summary"]["changed"] == 1
    assert apply(api, pid, "ko.csv", content).status_code == 200
    shot = api.admin.get(f"/api/shots/{small['shots'][0]['id']}").json()
    assert shot["description"] == "수정된 설명" and shot["environment_id"] == small["alley"]["id"]
    assert shot["subjects"] == [{"character_id": small["mina"]["id"], "clothing": "suit"}]


def test_rows_missing_from_the_file_are_shown_as_removed_and_deleted_only_when_chosen(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    book = workbook(export(api, pid))
    book["Shots"].delete_rows(3)
    content = save(book)
    gone = small["shots"][1]
    shown = preview(api, pid, "x.xlsx", content)
    assert [(r["action"], r["shot_id"]) for r in shown["rows"]] == [("removed", gone["id"])]
    assert apply(api, pid, "x.xlsx", content).status_code == 200
    assert api.admin.get(f"/api/shots/{gone['id']}").status_code == 200
    assert apply(api, pid, "x.xlsx", content, {"remove": [gone["id"]]}).status_code == 200
    assert api.admin.get(f"/api/shots/{gone['id']}").status_code == 404


def test_formula_like_text_is_neutralised_on_export_and_comes_back_unchanged(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    risky = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tTab", "'quoted"]
    for index, shot in enumerate(small["shots"]):
        body = {"dialogue": risky[index], "action": risky[index + 3], "revision": shot["revision"]}
        assert api.admin.patch(f"/api/shots/{shot['id']}", json=body).status_code == 200
    content = export(api, pid)
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Shots"]
    col = columns(sheet)
    for row in sheet.iter_rows(min_row=2):
        for header in ("Dialogue", "Action"):
            cell = row[col[header] - 1]
            assert cell.data_type == "s" and cell.value.startswith("'"), cell.value
    csv_text = export(api, pid, format="csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "\n=" not in csv_text and ",=" not in csv_text
    for name, data in (("x.xlsx", content), ("x.csv", csv_text.encode())):
        shown = preview(api, pid, name, data)
        assert shown["summary"]["changed"] == 0, (name, shown["rows"][0]["fields"])


def _snapshot(api: Api, pid: str) -> dict[str, Any]:
    return shots_json(api, pid)


@pytest.fixture(scope="module")
def huge_workbook() -> bytes:
    """A workbook of 100,000 rows (made once for the module; it takes seconds)."""
    big = openpyxl.Workbook(write_only=True)
    sheet = big.create_sheet("Shots")
    sheet.append(["Shot", "Description"])
    for i in range(100_000):
        sheet.append([None, f"row {i}"])
    return save(big)


def _broken_cases(api: Api, small: dict[str, Any], huge: bytes = b"") -> list[tuple[str, bytes, str]]:
    pid = small["pid"]
    content = export(api, pid)

    def modified(change: Any) -> bytes:
        book = workbook(content)
        change(book)
        return save(book)

    def merge(book: Any) -> None:
        book["Shots"].merge_cells("H2:I3")

    def formula(book: Any) -> None:
        book["Shots"]["H3"] = "=A1&B1"

    def wrong_types(book: Any) -> None:
        sheet = book["Shots"]
        col = columns(sheet)
        sheet.cell(row=2, column=col["Duration (frames)"], value="two seconds")
        sheet.cell(row=3, column=col["Status"], value="finished")
        sheet.cell(row=4, column=col["Scene"], value="SCN_999")

    def rename(book: Any) -> None:
        book["Shots"].title = "Sheet1"

    cases = [
        ("not a workbook", b"PK\x03\x04 this is not really a zip", "not a readable Excel workbook"),
        ("text named xlsx", b"hello, world", "not an Excel workbook"),
        ("an old .xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "save it as .xlsx"),
        ("wrong sheet", modified(rename), "no sheet named 'Shots'"),
        ("merged cells", modified(merge), "H2:I3 are merged"),
        ("formula", modified(formula), "holds a formula"),
        ("wrong types", modified(wrong_types), "whole number"),
    ]
    return cases + ([("100,000 rows", huge, "at most 20,000")] if huge else [])


def test_broken_inputs_give_clear_errors_and_change_nothing(
    api: Api, small: dict[str, Any], huge_workbook: bytes
) -> None:
    pid = small["pid"]
    before = _snapshot(api, pid)
    for label, content, message in _broken_cases(api, small, huge_workbook):
        shown = preview(api, pid, "broken.xlsx", content)
        assert not shown["can_apply"], label
        assert any(message in e["message"] for e in shown["errors"]), (label, shown["errors"])
        body = assert_problem(apply(api, pid, "broken.xlsx", content), 422)
        assert body["detail"].startswith("Nothing was applied"), label
    assert _snapshot(api, pid) == before


def test_wrong_type_errors_name_sheet_row_and_column(api: Api, small: dict[str, Any]) -> None:
    pid = small["pid"]
    content = dict((c[0], c[1]) for c in _broken_cases(api, small))["wrong types"]
    errors = preview(api, pid, "x.xlsx", content)["errors"]
    where = {(e["sheet"], e["row"], e["column"]) for e in errors}
    assert where == {("Shots", 2, "Duration (frames)"), ("Shots", 3, "Status"), ("Shots", 4, "Scene")}
    assert any("SCN_999" in e["message"] for e in errors)


def test_an_artists_structural_edit_is_refused_in_the_preview_and_only_the_rest_is_applied(
    api: Api, small: dict[str, Any]
) -> None:
    pid = small["pid"]
    book = workbook(export(api, pid))
    sheet = book["Shots"]
    col = columns(sheet)
    sheet.cell(row=2, column=col["Description"], value="allowed for artists")
    sheet.cell(row=3, column=col["Duration (frames)"], value=200)
    content = save(book)
    before = _snapshot(api, pid)
    first, second = small["shots"][0], small["shots"][1]
    artist = api.user("artist")
    try:
        upload = {"file": ("a.xlsx", content)}
        shown = artist.post(f"/api/projects/{pid}/shotlist/import", files=upload).json()
        assert shown["can_apply"] and shown["summary"]["changed"] == 1 and shown["summary"]["refused"] == 1
        [refused_row] = [r for r in shown["rows"] if r["refused"]]
        [refusal] = refused_row["refused"]
        assert (refused_row["row"], refused_row["shot_id"], refused_row["fields"]) == (3, second["id"], [])
        assert refusal["field"] == "duration_frames" and refusal["new"] == 200
        assert "shot:structure" in refusal["reason"]

        # Choosing the refused edit anyway refuses the whole apply, naming the row.
        chosen = {"rows": [{"key": first["id"]}, {"key": second["id"], "fields": ["duration_frames"]}]}
        response = artist.post(
            f"/api/projects/{pid}/shotlist/apply",
            files={"file": ("a.xlsx", content)},
            data={"selection": json.dumps(chosen)},
        )
        body = assert_problem(response, 403)
        assert "row 3" in body["detail"] and "duration_frames" in body["detail"]
        assert _snapshot(api, pid) == before

        # Without a selection the apply does what the preview said: the description, not the duration.
        response = artist.post(f"/api/projects/{pid}/shotlist/apply", files={"file": ("a.xlsx", content)})
        assert response.status_code == 200, response.text
        assert response.json()["applied"]["updated"] == [first["code"]]
    finally:
        artist.close()
    after = _snapshot(api, pid)
    assert after[first["id"]]["description"] == "allowed for artists"
    assert after[second["id"]] == before[second["id"]]


def test_other_exports_are_files_of_their_own(api: Api, small: dict[str, Any]) -> None:
    pid = small["pid"]
    api.admin.patch(
        f"/api/environments/{small['alley']['id']}",
        json={"prompt": "=rain, neon", "revision": small["alley"]["revision"]},
    )
    envs = json.loads(export(api, pid, kind="environments", format="json"))
    assert [e["name"] for e in envs["environments"]] == ["Alley"]
    assert envs["environments"][0]["prompt"] == "=rain, neon"  # JSON is not run by spreadsheets
    book = workbook(export(api, pid, kind="characters"))
    assert book.sheetnames[0] == "Characters" and book["Characters"]["B2"].value == "Mina"
    specs = workbook(export(api, pid, kind="specs", lang="ko"))
    assert specs.sheetnames[:2] == ["기술 사양", "프리셋"]
    values = {row[0]: row[1] for row in specs["기술 사양"].iter_rows(min_row=2, values_only=True)}
    assert values["Frame rate"] == "24" and values["Resolution"] == "1920x1080"
    assert specs["프리셋"].max_row > 30  # the built-in presets
    refused = preview(api, pid, "env.xlsx", export(api, pid, kind="environments"))
    assert "not a shot list" in refused["errors"][0]["message"]


def test_apply_keeps_the_shot_list_cache_and_the_meta_files_right(api: Api, small: dict[str, Any]) -> None:
    import time

    pid = small["pid"]
    listing = api.admin.get(f"/api/projects/{pid}/shots").json()["items"]  # warm the list cache
    assert listing[0]["description"] == "shot 0"
    confirmed = api.admin.post(f"/api/projects/{pid}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    storage = api.data_dir / "storage" / confirmed.json()["tree_root"]
    book = workbook(export(api, pid))
    sheet = book["Shots"]
    sheet.cell(row=2, column=columns(sheet)["Description"], value="after the import")
    assert apply(api, pid, "x.xlsx", save(book)).status_code == 200
    assert api.admin.get(f"/api/projects/{pid}/shots").json()["items"][0]["description"] == "after the import"
    shot_id = small["shots"][0]["id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metas = [p for p in storage.rglob("shot_meta.json") if shot_id in p.read_text(encoding="utf-8")]
        if metas and "after the import" in metas[0].read_text(encoding="utf-8"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("shot_meta.json was not rewritten after the import")
