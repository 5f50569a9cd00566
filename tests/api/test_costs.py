"""Cost per shot (issue 17, N9): the farm's jobs rolled up per version, shot, scene and project over real
HTTP (SQLite and PostgreSQL), the project's GPU budget warnings, and the shot list's "GPU hours" column."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from sync_server.db.models import Agent, Job, Version
from tests.api.test_shotlist import apply, columns, export, preview, save, shots_json, workbook
from tests.support.api import Api, assert_problem

CPU_PARAMS = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}


@pytest.fixture
def db(api: Api) -> Iterator[Session]:
    engine = create_engine(api.sqlalchemy_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _agent(db: Session) -> Agent:
    agent = Agent(name=f"costs-{uuid.uuid4().hex[:8]}")
    db.add(agent)
    db.flush()
    return agent


def _version(db: Session, project_id: str, shot_id: str, stage: str, number: int) -> Version:
    version = Version(
        project_id=uuid.UUID(project_id),
        shot_id=uuid.UUID(shot_id),
        stage=stage,
        number=number,
        path=f"shots/{shot_id}/{stage}/v{number:03d}",
    )
    db.add(version)
    db.flush()
    return version


def _job(db: Session, project_id: str, shot_id: str | None, **values: Any) -> Job:
    job = Job(
        project_id=uuid.UUID(project_id),
        shot_id=uuid.UUID(shot_id) if shot_id else None,
        type="i2v",
        status=values.pop("status", "succeeded"),
        **values,
    )
    db.add(job)
    db.flush()
    return job


@pytest.fixture
def costed(api: Api, db: Session) -> dict[str, Any]:
    """Two scenes, three shots (one without jobs), jobs with known GPU seconds, retries and models."""
    project = api.project()
    s1, s2 = api.scene(project["id"]), api.scene(project["id"])
    a = api.shot(project["id"], s1["id"], code="SHT_0010")
    b = api.shot(project["id"], s1["id"], code="SHT_0020")
    c = api.shot(project["id"], s2["id"], code="SHT_0030")
    gpu1, gpu2 = _agent(db), _agent(db)
    take1 = _version(db, project["id"], a["id"], "previz", 1)
    take2 = _version(db, project["id"], a["id"], "previz", 2)
    render = _version(db, project["id"], a["id"], "render", 1)
    _version(db, project["id"], b["id"], "previz", 1)
    _job(
        db,
        project["id"],
        a["id"],
        gpu_seconds=100.0,
        attempts=1,
        model="flux",
        agent_id=gpu1.id,
        version_id=take1.id,
    )
    _job(
        db,
        project["id"],
        a["id"],
        gpu_seconds=200.0,
        attempts=3,
        lease_losses=1,
        model="flux",
        agent_id=gpu2.id,
        version_id=take2.id,
    )
    _job(
        db,
        project["id"],
        a["id"],
        gpu_seconds=900.0,
        attempts=1,
        model="wan",
        agent_id=gpu1.id,
        version_id=render.id,
    )
    _job(
        db,
        project["id"],
        a["id"],
        status="failed",
        gpu_seconds=None,
        attempts=3,
        model="wan",
        agent_id=gpu2.id,
    )
    _job(db, project["id"], b["id"], gpu_seconds=360.0, attempts=2, model="flux", agent_id=gpu1.id)
    db.commit()
    return {
        "project": project,
        "scenes": (s1, s2),
        "shots": (a, b, c),
        "agents": (gpu1.name, gpu2.name),
        "versions": (take1.id, take2.id, render.id),
    }


def test_the_project_rolls_up_per_scene_and_shot(api: Api, costed: dict[str, Any]) -> None:
    project, (s1, s2), (_a, _b, c) = costed["project"], costed["scenes"], costed["shots"]
    gpu1, gpu2 = costed["agents"]
    reader = api.user("artist")
    body = reader.get(f"/api/projects/{project['id']}/costs").json()
    assert body["gpu_seconds"] == 1560.0 and body["gpu_hours"] == round(1560 / 3600, 4)
    assert (body["jobs"], body["failed_jobs"], body["retries"], body["lease_losses"]) == (5, 1, 5, 1)
    assert (body["takes"], body["renders"]) == (3, 1)
    assert body["models"] == ["flux", "wan"] and body["agents"] == sorted([gpu1, gpu2])
    assert body["budget"] == {
        "hours": None,
        "used_hours": round(1560 / 3600, 4),
        "fraction": None,
        "warning": None,
    }
    scenes = {scene["scene_id"]: scene for scene in body["scenes"]}
    assert scenes[s1["id"]]["gpu_seconds"] == 1560.0 and scenes[s1["id"]]["jobs"] == 5
    assert scenes[s1["id"]]["takes"] == 3
    assert scenes[s2["id"]]["gpu_seconds"] == 0.0 and scenes[s2["id"]]["jobs"] == 0
    assert scenes[s2["id"]]["models"] == [] and scenes[s2["id"]]["agents"] == []
    shots = {shot["code"]: shot for shot in body["shots"]}
    assert [shot["code"] for shot in body["shots"]] == ["SHT_0010", "SHT_0020", "SHT_0030"]
    assert shots["SHT_0010"]["gpu_seconds"] == 1200.0 and shots["SHT_0010"]["retries"] == 4
    assert (shots["SHT_0010"]["takes"], shots["SHT_0010"]["renders"], shots["SHT_0010"]["failed_jobs"]) == (
        2,
        1,
        1,
    )
    assert shots["SHT_0010"]["models"] == ["flux", "wan"]
    assert (shots["SHT_0020"]["retries"], shots["SHT_0020"]["takes"], shots["SHT_0020"]["agents"]) == (
        1,
        1,
        [gpu1],
    )
    assert shots["SHT_0030"]["jobs"] == 0 and shots["SHT_0030"]["scene_id"] == s2["id"]
    assert c["id"] == shots["SHT_0030"]["shot_id"]


def test_a_shot_rolls_up_per_version_and_lists_its_jobs(api: Api, costed: dict[str, Any]) -> None:
    a = costed["shots"][0]
    take1, take2, render = (str(v) for v in costed["versions"])
    body = api.admin.get(f"/api/shots/{a['id']}/costs").json()
    assert body["gpu_seconds"] == 1200.0 and body["jobs"] == 4 and body["takes"] == 2
    versions = {v["version_id"]: v for v in body["versions"]}
    assert versions[take1]["gpu_seconds"] == 100.0 and versions[take1]["retries"] == 0
    assert versions[take2]["gpu_seconds"] == 200.0 and versions[take2]["retries"] == 2
    assert versions[take2]["lease_losses"] == 1 and versions[take2]["agents"] == [costed["agents"][1]]
    assert versions[render]["models"] == ["wan"] and versions[render]["stage"] == "render"
    assert len(body["jobs_list"]) == 4
    assert sorted(j["gpu_seconds"] or 0 for j in body["jobs_list"]) == [0, 100.0, 200.0, 900.0]
    assert [j["status"] for j in body["jobs_list"]].count("failed") == 1
    assert_problem(api.admin.get(f"/api/shots/{uuid.uuid4()}/costs"), 404, "id")
    assert_problem(api.admin.get(f"/api/projects/{uuid.uuid4()}/costs"), 404, "id")


def test_the_budget_warns_at_80_and_100_percent(api: Api, costed: dict[str, Any]) -> None:
    project_id = costed["project"]["id"]  # 1560 GPU seconds used

    def budget(hours: float | None) -> dict[str, Any]:
        put = api.admin.put(f"/api/projects/{project_id}/costs/budget", json={"gpu_budget_hours": hours})
        assert put.status_code == 200, put.text
        shown = api.admin.get(f"/api/projects/{project_id}/costs").json()["budget"]
        assert shown == put.json()
        return shown

    assert budget(1.0)["warning"] is None  # 43 %
    at_80 = budget(1560 / 3600 / 0.8)
    assert at_80["warning"] == "80%" and at_80["fraction"] == 0.8
    assert budget(0.5)["warning"] == "80%"  # 87 %
    full = budget(1560 / 3600)
    assert full["warning"] == "100%" and full["fraction"] == 1.0
    assert budget(0.1)["warning"] == "100%"
    assert budget(None) == {
        "hours": None,
        "used_hours": round(1560 / 3600, 4),
        "fraction": None,
        "warning": None,
    }
    assert_problem(
        api.admin.put(f"/api/projects/{project_id}/costs/budget", json={"gpu_budget_hours": -1}),
        422,
        "gpu_budget_hours",
    )
    unknown = {"gpu_budget_hours": 5, "hours": 5}
    assert_problem(api.admin.put(f"/api/projects/{project_id}/costs/budget", json=unknown), 422)
    assert budget(2)["hours"] == 2  # whole hours are hours too
    artist = api.user("artist")
    denied = artist.put(f"/api/projects/{project_id}/costs/budget", json={"gpu_budget_hours": 5})
    assert_problem(denied, 403)


def test_a_job_completed_through_the_farm_counts(api: Api) -> None:
    """The real path: submit, claim and complete with the agent's GPU seconds (a project job without a shot,
    so that completing it publishes nothing)."""
    for job in api.admin.get(
        "/api/farm/jobs", params={"status": ["queued", "running"], "limit": 5000}
    ).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")
    project = api.project()
    key = api.admin.post("/api/api-keys", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent"})
    agent = httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {key.json()['key']}"}, timeout=60
    )
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    gpus = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "vram_total_mb": 24564, "vram_free_mb": 24000}]
    agent_id = agent.post("/api/farm/agents/register", json={"name": name, "gpus": gpus}).json()["agent_id"]
    body = {"type": "i2v", "workflow": "cpu_test_still_video", "params": CPU_PARAMS}
    job = api.admin.post("/api/farm/jobs", json={**body, "project_id": project["id"]})
    assert job.status_code == 201, job.text
    got = agent.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 0}).json()
    assert got["job"]["id"] == job.json()["id"]
    files = {"files": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42 fake", "video/mp4")}
    lease = {"lease_id": got["lease"]["id"]}
    uploaded = agent.post(f"/api/farm/jobs/{got['job']['id']}/outputs", data=lease, files=files)
    assert uploaded.status_code == 200, uploaded.text
    done = agent.post(
        f"/api/farm/jobs/{got['job']['id']}/complete",
        json={"lease_id": got["lease"]["id"], "gpu_seconds": 42.5},
    )
    assert done.status_code == 200, done.text
    costs = api.admin.get(f"/api/projects/{project['id']}/costs").json()
    assert costs["gpu_seconds"] == 42.5 and costs["jobs"] == 1 and costs["agents"] == [name]
    assert costs["models"] == ["cpu_test_still_video"] and costs["shots"] == []


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_shot_list_export_has_gpu_hours_and_imports_back_exactly(
    api: Api, costed: dict[str, Any], fmt: str
) -> None:
    pid = costed["project"]["id"]
    before = shots_json(api, pid)
    assert {shot["code"]: shot["gpu_hours"] for shot in before.values()} == {
        "SHT_0010": 0.33,
        "SHT_0020": 0.1,
        "SHT_0030": 0.0,
    }
    content = export(api, pid, format=fmt)
    if fmt == "xlsx":
        book = workbook(content)
        sheet = book["Shots"]
        at = columns(sheet)["GPU hours"]
        assert [sheet.cell(row=r, column=at).value for r in (2, 3, 4)] == [0.33, 0.1, 0]
        korean = workbook(export(api, pid, format="xlsx", lang="ko"))
        assert "GPU 시간" in columns(korean["샷 리스트"])
    else:
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        assert [row["GPU hours"] for row in rows] == ["0.33", "0.1", "0.0"]
    shown = preview(api, pid, f"same.{fmt}", content)
    assert shown["can_apply"] and shown["rows"] == [], shown["rows"]
    assert shown["summary"]["unchanged"] == 3
    applied = apply(api, pid, f"same.{fmt}", content)
    assert applied.status_code == 200 and applied.json()["applied"]["updated"] == [], applied.text
    assert shots_json(api, pid) == before
    if fmt == "xlsx":  # a changed GPU hours cell is computed, not imported: nothing changes
        sheet.cell(row=2, column=at, value=99)
        edited = apply(api, pid, "edited.xlsx", save(book))
        assert edited.status_code == 200 and edited.json()["applied"]["updated"] == [], edited.text
        assert shots_json(api, pid) == before
