"""Confirm: the shot list locks and the production tree appears on disk; later changes only add to it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.api import Api

STAGES = ("previz", "layout", "playblast", "render", "interp", "upscale", "comp", "final")


def _storage(api: Api) -> Path:
    assert api.data_dir is not None
    return api.data_dir / "storage"


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def _sample(api: Api) -> dict:
    project = api.project(code=f"CONF{time.monotonic_ns() % 10**8}", name="골목길의 밤")
    pid = project["id"]
    scene = api.scene(pid, name="골목길")
    shots = [api.shot(pid, scene["id"], description=f"shot {i}") for i in range(2)]
    rina = api.admin.post(f"/api/projects/{pid}/characters", json={"name": "리나"}).json()
    alley = api.admin.post(f"/api/projects/{pid}/environments", json={"name": "골목길"}).json()
    return {"project": project, "scene": scene, "shots": shots, "character": rina, "environment": alley}


def test_confirm_locks_the_shot_list_and_creates_the_roadmap_tree(api: Api) -> None:
    sample = _sample(api)
    project = sample["project"]
    response = api.admin.post(f"/api/projects/{project['id']}/confirm", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project"]["locked"] is True
    assert body["locked_shots"] == 2
    root = _storage(api) / body["tree_root"]
    assert body["tree_root"] == project["code"]
    shot_dir = root / "scenes" / "SCN_001" / "shots" / "SHT_0010"
    for stage in STAGES:
        assert (shot_dir / stage).is_dir(), stage
    assert (root / "scenes" / "SCN_001" / "shots" / "SHT_0020" / "final").is_dir()
    for folder in (
        "assets/characters/CHR_리나/lora",
        "assets/characters/CHR_리나/reference",
        "assets/environments/ENV_골목길",
        "edit/proxy",
        "edit/edl",
        "export/dailies",
        "export/final",
    ):
        assert (root / folder).is_dir(), folder
    config = json.loads((root / "project_config.json").read_text(encoding="utf-8"))
    assert config["project"]["name"] == "골목길의 밤"
    assert config["naming"]["shot_code"] == "SHT_{shot:04d}"
    shot_meta = json.loads((shot_dir / "shot_meta.json").read_text(encoding="utf-8"))
    assert shot_meta["shot"]["code"] == "SHT_0010"
    assert json.loads((root / "scenes/SCN_001/scene_meta.json").read_text())["shots"] == [
        "SHT_0010",
        "SHT_0020",
    ]
    assert (
        json.loads((root / "assets/characters/CHR_리나/character_meta.json").read_text())["character"]["name"]
        == "리나"
    )
    shot = api.admin.get(f"/api/shots/{sample['shots'][0]['id']}").json()
    assert shot["locked"] is True
    refused = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"duration_frames": 10, "revision": shot["revision"]}
    )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "duration_frames"


def test_confirming_again_keeps_user_files_and_adds_only_what_is_missing(api: Api) -> None:
    sample = _sample(api)
    pid = sample["project"]["id"]
    first = api.admin.post(f"/api/projects/{pid}/confirm", json={}).json()
    root = _storage(api) / first["tree_root"]
    mine = root / "scenes/SCN_001/shots/SHT_0010/layout/notes from rina.txt"
    mine.write_text("keep me", encoding="utf-8")
    (root / "edit/proxy").rmdir()  # someone removed an empty folder by hand
    again = api.admin.post(f"/api/projects/{pid}/confirm", json={}).json()
    assert again["created_folders"] == [f"{first['tree_root']}/edit/proxy"]
    assert again["locked_shots"] == 0
    assert mine.read_text(encoding="utf-8") == "keep me"


def test_shots_added_after_confirm_get_folders_and_removed_ones_are_omitted_not_deleted(api: Api) -> None:
    sample = _sample(api)
    pid = sample["project"]["id"]
    tree_root = api.admin.post(f"/api/projects/{pid}/confirm", json={}).json()["tree_root"]
    root = _storage(api) / tree_root
    added = api.shot(pid, sample["scene"]["id"], description="pick-up shot")
    assert added["code"] == "SHT_0030"
    added_dir = root / "scenes/SCN_001/shots/SHT_0030"
    assert _wait_for(lambda: (added_dir / "render").is_dir() and (added_dir / "shot_meta.json").is_file())
    (added_dir / "layout" / "block.blend").write_bytes(b"BLENDER-v420")
    removed = api.admin.delete(f"/api/shots/{added['id']}", params={"revision": added["revision"]})
    assert removed.status_code == 200
    assert removed.json()["status"] == "omitted"
    assert api.admin.get(f"/api/shots/{added['id']}").json()["status"] == "omitted"
    assert (added_dir / "layout" / "block.blend").read_bytes() == b"BLENDER-v420"


def test_metadata_files_follow_edits_of_their_records(api: Api) -> None:
    sample = _sample(api)
    pid = sample["project"]["id"]
    tree_root = api.admin.post(f"/api/projects/{pid}/confirm", json={}).json()["tree_root"]
    shot = api.admin.get(f"/api/shots/{sample['shots'][1]['id']}").json()
    edited = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"description": "리나가 뒤를 돈다", "revision": shot["revision"]}
    )
    assert edited.status_code == 200
    meta = _storage(api) / tree_root / "scenes/SCN_001/shots/SHT_0020/shot_meta.json"

    def updated() -> bool:
        data = json.loads(meta.read_text(encoding="utf-8"))
        return (
            data["shot"]["description"] == "리나가 뒤를 돈다"
            and data["shot"]["revision"] == edited.json()["revision"]
        )

    assert _wait_for(updated)
    assert not list(meta.parent.glob(".shot_meta.json.*")), "a temporary file was left behind"


def test_shot_codes_must_follow_the_naming_template(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    refused = api.admin.post(
        f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "code": "S1"}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "code"
    assert "SHT_{shot:04d}" in refused.json()["detail"]
    first = api.shot(project["id"], scene["id"])
    second = api.shot(project["id"], scene["id"])
    between = api.shot(project["id"], scene["id"], after_shot_id=first["id"])
    assert (first["code"], second["code"], between["code"]) == ("SHT_0010", "SHT_0020", "SHT_0015")
    listed = api.admin.get(f"/api/projects/{project['id']}/shots").json()["items"]
    assert [s["code"] for s in listed] == ["SHT_0010", "SHT_0015", "SHT_0020"]


def test_naming_overrides_change_codes_until_the_project_is_confirmed(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    naming = api.admin.get(f"/api/projects/{pid}/naming").json()
    changed = api.admin.put(
        f"/api/projects/{pid}/naming",
        json={"overrides": {"shot_code": "C{shot:03d}"}, "revision": naming["revision"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["templates"]["shot_code"] == "C{shot:03d}"
    shot = api.shot(pid, api.scene(pid)["id"])
    assert shot["code"] == "C010"
    unknown = api.admin.put(
        f"/api/projects/{pid}/naming",
        json={"overrides": {"nope": "x"}, "revision": changed.json()["revision"]},
    )
    assert unknown.status_code == 422
    api.admin.post(f"/api/projects/{pid}/confirm", json={})
    current = api.admin.get(f"/api/projects/{pid}/naming").json()
    late = api.admin.put(
        f"/api/projects/{pid}/naming", json={"overrides": {}, "revision": current["revision"]}
    )
    assert late.status_code == 409
