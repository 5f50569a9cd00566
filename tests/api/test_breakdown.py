"""Scenario breakdown with the deterministic parser over the real API: preview, edit, apply in one
transaction, character merging by name and alias, and refusals that change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.api import Api, assert_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
FOUNTAIN = (DATA / "night_alley.fountain").read_text(encoding="utf-8")
KOREAN = (DATA / "night_alley_ko.txt").read_text(encoding="utf-8")
PROSE = (DATA / "rooftop_prose.txt").read_text(encoding="utf-8")


def _draft(api: Api, project_id: str, text: str, **extra: Any) -> dict[str, Any]:
    response = api.admin.post(f"/api/projects/{project_id}/breakdowns", json={"text": text, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _counts(api: Api, project_id: str) -> dict[str, int]:
    return {
        kind: api.admin.get(f"/api/projects/{project_id}/{kind}").json()["total"]
        for kind in ("scenes", "shots", "characters", "environments")
    }


def test_a_fountain_script_becomes_a_draft_and_nothing_is_created_yet(api: Api) -> None:
    project = api.project(fps="24")
    draft = _draft(api, project["id"], FOUNTAIN, source_name="night_alley.fountain")

    assert draft["status"] == "draft" and draft["engine"] == "parser" and draft["source_format"] == "fountain"
    assert draft["template_version"] is None and draft["engine_detail"]["engine_version"] == "parser-2"
    assert draft["engine_detail"]["notes"] == ["Check the rain plates with VFX."]
    content = draft["content"]
    assert content["title"] == "Night Alley"
    assert [c["name"] for c in content["characters"]] == ["Rina", "Minsu", "McCLANE"]
    assert content["characters"][0]["description"] == "20s, short black hair, sharp eyes"
    assert [e["name"] for e in content["environments"]] == ["Alley", "Rooftop"]
    assert [s["id"] for s in content["scenes"]] == ["SCN-001", "SCN-002"]
    shots = {s["id"]: s for s in content["shots"]}
    assert list(shots) == ["SHT-001-01", "SHT-001-02", "SHT-001-03", "SHT-002-01", "SHT-002-02"]
    # Explicit camera words pick the built-in preset; an opening shot without people is an establisher.
    assert shots["SHT-001-01"]["preset"] == "Establishing Extreme Wide"
    assert shots["SHT-001-02"]["preset"] == "Tracking Walk And Talk"
    assert shots["SHT-001-03"]["preset"] == "Close-Up"
    assert shots["SHT-002-01"]["preset"] == "Crane Up Reveal"
    # Dual dialogue stays in one shot with both speakers; the transition is noted on it.
    assert shots["SHT-001-03"]["dialogue"] == "Rina (shouting): Stop running!\nMinsu: Leave me alone!"
    assert shots["SHT-001-03"]["camera_notes"] == "CUT TO:"
    assert "OLD OPENING" not in str(draft) and "DETECTIVE OH" not in str(draft)  # the boneyard is dropped
    assert _counts(api, project["id"]) == {"scenes": 0, "shots": 0, "characters": 0, "environments": 0}
    listed = api.admin.get(f"/api/projects/{project['id']}/breakdowns").json()
    assert [d["id"] for d in listed["items"]] == [draft["id"]]


def test_edits_and_drops_are_kept_and_apply_creates_everything_in_one_go(api: Api) -> None:
    project = api.project(fps="24")
    pid = project["id"]
    draft = _draft(api, pid, FOUNTAIN)
    base = f"/api/breakdowns/{draft['id']}/items"

    dropped = api.admin.patch(f"{base}/CHR-003", json={"decision": "dropped", "revision": draft["revision"]})
    assert dropped.status_code == 200, dropped.text
    renamed = api.admin.patch(
        f"{base}/SHT-002-01",
        json={
            "description": "Dawn breaks over the rooftop.",
            "duration_s": 6,
            "revision": dropped.json()["revision"],
        },
    ).json()
    no_shot = api.admin.patch(
        f"{base}/SHT-001-01", json={"decision": "dropped", "revision": renamed["revision"]}
    ).json()
    accepted = api.admin.patch(
        f"{base}/CHR-001",
        json={"decision": "accepted", "clothing": ["red coat"], "revision": no_shot["revision"]},
    ).json()
    got = api.admin.get(f"/api/breakdowns/{draft['id']}").json()
    assert got["revision"] == accepted["revision"] == draft["revision"] + 4
    items = {i["id"]: i for group in ("characters", "shots") for i in got["content"][group]}
    assert items["CHR-003"]["decision"] == "dropped" and items["CHR-001"]["clothing"] == ["red coat"]
    assert items["SHT-002-01"]["description"] == "Dawn breaks over the rooftop."
    # The audit log names the item and field each edit changed.
    events = api.admin.get(
        "/api/audit", params={"entity_id": draft["id"], "action": "breakdown.updated"}
    ).json()
    changed = [key for event in events["items"] for key in event["changes"]]
    assert set(changed) == {
        "CHR-003.decision",
        "SHT-002-01.description",
        "SHT-002-01.duration_s",
        "SHT-001-01.decision",
        "CHR-001.decision",
        "CHR-001.clothing",
    }

    applied = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": got["revision"]})
    assert applied.status_code == 200, applied.text
    result = applied.json()["result"]
    assert applied.json()["status"] == "applied"
    assert [c["name"] for c in result["characters_created"]] == ["Rina", "Minsu"]
    assert len(result["shots"]) == 4 and len(result["scenes"]) == 2
    assert _counts(api, pid) == {"scenes": 2, "shots": 4, "characters": 2, "environments": 2}
    shots = api.admin.get(f"/api/projects/{pid}/shots", params={"sort": "order"}).json()["items"]
    assert [s["code"] for s in shots] == [r["code"] for r in result["shots"]]
    dawn = next(s for s in shots if s["description"] == "Dawn breaks over the rooftop.")
    assert dawn["duration_frames"] == 6 * 24
    presets = {
        p["id"]: p["name"] for p in api.admin.get(f"/api/projects/{pid}/presets?limit=500").json()["items"]
    }
    assert presets[dawn["preset_id"]] == "Crane Up Reveal"
    chars = {c["id"]: c for c in api.admin.get(f"/api/projects/{pid}/characters").json()["items"]}
    duo = next(s for s in shots if "Stop running!" in s["dialogue"])
    assert sorted(chars[x["character_id"]]["name"] for x in duo["subjects"]) == ["Minsu", "Rina"]
    # Applied once: a second apply (or edit) is refused and changes nothing.
    again = api.admin.post(
        f"/api/breakdowns/{draft['id']}/apply", json={"revision": applied.json()["revision"]}
    )
    assert_problem(again, 409, "id")
    assert _counts(api, pid)["shots"] == 4


def test_characters_merge_with_existing_ones_by_name_or_alias(api: Api) -> None:
    project = api.project(fps="24")
    pid = project["id"]
    rina = api.admin.post(
        f"/api/projects/{pid}/characters",
        json={
            "name": "리나",
            "aliases": ["Rina"],
            "clothing_options": ["red coat"],
            "trigger_words": ["rina_v1"],
        },
    ).json()
    alley = api.admin.post(
        f"/api/projects/{pid}/environments",
        json={"name": "Alley", "prompt": "narrow Seoul alley, wet asphalt"},
    ).json()
    draft = _draft(api, pid, FOUNTAIN)
    assert draft["matches"]["CHR-001"] == {"id": rina["id"], "name": "리나"}
    assert draft["matches"]["ENV-001"] == {"id": alley["id"], "name": "Alley"}
    assert "CHR-002" not in draft["matches"]

    result = api.admin.post(
        f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]}
    ).json()["result"]
    assert [c["name"] for c in result["characters_merged"]] == ["리나"]
    assert [c["name"] for c in result["characters_created"]] == ["Minsu", "McCLANE"]
    assert [e["name"] for e in result["environments_merged"]] == ["Alley"]
    chars = {c["name"]: c for c in api.admin.get(f"/api/projects/{pid}/characters").json()["items"]}
    assert sorted(chars) == ["McCLANE", "Minsu", "리나"]
    merged = chars["리나"]
    # What the project had stays; what was missing comes from the script; the alias is not doubled.
    assert merged["aliases"] == ["Rina"] and merged["trigger_words"] == ["rina_v1"]
    assert merged["clothing_options"] == ["red coat"]
    assert merged["description"] == "20s, short black hair, sharp eyes"
    assert merged["revision"] == rina["revision"] + 1
    env = api.admin.get(f"/api/environments/{alley['id']}").json()
    assert env["prompt"] == "narrow Seoul alley, wet asphalt" and env["time_of_day"] == "Night"
    shots = api.admin.get(f"/api/projects/{pid}/shots").json()["items"]
    assert sum(1 for s in shots for x in s["subjects"] if x["character_id"] == rina["id"]) == 3


def test_a_korean_script_breaks_down_and_clothing_named_in_the_action_is_chosen(api: Api) -> None:
    project = api.project(fps="24")
    pid = project["id"]
    api.admin.post(
        f"/api/projects/{pid}/characters",
        json={"name": "리나", "clothing_options": ["교복", "빨간 코트"], "trigger_words": ["rina_v1"]},
    )
    draft = _draft(api, pid, KOREAN, source_name="night_alley_ko.txt")
    assert draft["source_format"] == "korean" and draft["content"]["title"] == "골목길의 밤"
    assert [c["name"] for c in draft["content"]["characters"]] == ["리나", "민수"]
    assert [s["name"] for s in draft["content"]["scenes"]] == ["골목길 - 밤", "옥상 - 새벽"]
    presets = [s["preset"] for s in draft["content"]["shots"]]
    assert presets == [
        "Establishing Extreme Wide",
        "Tracking Walk And Talk",
        "Close-Up",
        "Two Shot",  # 민수(E) is heard, not seen
        "Crane Up Reveal",
        "Close-Up",
    ]
    applied = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]})
    assert applied.status_code == 200, applied.text
    shots = api.admin.get(f"/api/projects/{pid}/shots", params={"sort": "order"}).json()["items"]
    running = next(s for s in shots if "뛰어든다" in s["action"])
    assert [x["clothing"] for x in running["subjects"]] == ["빨간 코트"]


def test_refusals_name_the_field_and_a_failed_apply_leaves_the_project_as_it_was(api: Api) -> None:
    project = api.project(fps="24")
    pid = project["id"]
    assert_problem(
        api.admin.post(f"/api/projects/{pid}/breakdowns", json={"text": PROSE, "engine": "parser"}),
        422,
        "engine",
    )
    assert_problem(api.admin.post(f"/api/projects/{pid}/breakdowns", json={"text": ""}), 422, "text")
    draft = _draft(api, pid, FOUNTAIN)
    base = f"/api/breakdowns/{draft['id']}/items"
    rev = draft["revision"]
    assert_problem(
        api.admin.patch(f"{base}/CHR-001", json={"weather": "rain", "revision": rev}), 422, "weather"
    )
    assert_problem(api.admin.patch(f"{base}/SHT-009-09", json={"decision": "dropped", "revision": rev}), 422)
    assert_problem(
        api.admin.patch(f"{base}/SHT-001-02", json={"scene_ref": "SCN-404", "revision": rev}),
        422,
        "scene_ref",
    )
    assert_problem(api.admin.patch(f"{base}/CHR-001", json={"decision": "maybe", "revision": rev}), 422)
    assert_problem(api.admin.patch(f"{base}/CHR-001", json={"decision": "dropped"}), 428, "revision")
    stale = api.admin.patch(f"{base}/CHR-001", json={"decision": "dropped", "revision": rev + 5})
    assert_problem(stale, 409, "revision")
    # A preset that does not exist, on the last shot: the scenes and characters made before it roll back.
    bad = api.admin.patch(f"{base}/SHT-002-02", json={"preset": "No Such Preset", "revision": rev}).json()
    refused = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": bad["revision"]})
    assert_problem(refused, 422, "SHT-002-02.preset")
    assert _counts(api, pid) == {"scenes": 0, "shots": 0, "characters": 0, "environments": 0}
    assert api.admin.get(f"/api/breakdowns/{draft['id']}").json()["status"] == "draft"


def test_roles_without_shot_structure_cannot_break_down_or_apply(api: Api) -> None:
    project = api.project()
    artist = api.user("artist")
    assert_problem(artist.post(f"/api/projects/{project['id']}/breakdowns", json={"text": FOUNTAIN}), 403)
    draft = _draft(api, project["id"], FOUNTAIN)
    assert artist.get(f"/api/breakdowns/{draft['id']}").status_code == 200
    assert_problem(
        artist.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]}), 403
    )


def test_a_discarded_draft_stays_readable_and_cannot_be_applied(api: Api) -> None:
    project = api.project()
    draft = _draft(api, project["id"], KOREAN)
    discarded = api.admin.post(f"/api/breakdowns/{draft['id']}/discard", json={"revision": draft["revision"]})
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    refused = api.admin.post(
        f"/api/breakdowns/{draft['id']}/apply", json={"revision": discarded.json()["revision"]}
    )
    assert_problem(refused, 409, "id")
