"""Shared set-up of the take tests: a server of their own (their queued jobs stay out of the shared
server's queue), a project with a character, an environment, a shot and published images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, _temporary_database, start_server_with_admin
from tests.support.api import Api, login
from tests.support.media import png_bytes

UPLOAD_LIMIT = 4 * 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def takes_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"takes-{backend}")
    databases: Iterator[str] | None = None
    url: str | None = None
    if backend == "postgresql":
        databases = _temporary_database(request.getfixturevalue("pg_server_url"))
        url = next(databases)
    # A small upload limit, so that a test can pass it (reference images: the smaller of it and 50 MiB).
    server, password = start_server_with_admin(data_dir, url, {"AIPIPE_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)})
    admin = login(server.url, ADMIN, password)
    try:
        yield Api(server.url, server.ws_url, admin, backend, data_dir=data_dir, database_url=url)
    finally:
        admin.close()
        server.stop()
        if databases is not None:
            next(databases, None)


def publish(
    client: httpx.Client,
    shot_id: str,
    stage: str,
    data: bytes | None = None,
    provenance: dict[str, Any] | None = None,
    name: str = "frame.png",
) -> dict[str, Any]:
    response = client.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": stage, "provenance": json.dumps(provenance or {})},
        files={"files": (name, data if data is not None else png_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
    return response.json()


def sample_shot(api: Api, **project: Any) -> dict[str, Any]:
    """A 16:9 project, a character with a LoRA and trigger word, an environment, a shot with both and the
    built-in cinematic preset "Slow Push In", and a published take (previz, 64x64 PNG)."""
    made = api.project(width=1920, height=1080, **project)
    pid = made["id"]
    rina = api.admin.post(
        f"/api/projects/{pid}/characters",
        json={
            "name": "리나",
            "description": "short black hair",
            "trigger_words": ["rina_v1"],
            "lora_file": "loras/rina_v1.safetensors",
            "lora_strength": 0.8,
        },
    ).json()
    alley = api.admin.post(
        f"/api/projects/{pid}/environments", json={"name": "골목길", "prompt": "narrow alley at night"}
    ).json()
    [push_in] = api.admin.get(f"/api/projects/{pid}/presets", params={"q": "Slow Push In"}).json()["items"]
    scene = api.scene(pid)
    shot = api.shot(
        pid,
        scene["id"],
        action="Rina sprints into the alley",
        environment_id=alley["id"],
        preset_id=push_in["id"],
        subjects=[{"character_id": rina["id"], "clothing": ""}],
    )
    take = publish(api.admin, shot["id"], "previz", png_bytes(64, 64))
    return {"project": made, "scene": scene, "shot": shot, "character": rina, "take": take}


def queue(api: Api, shot_id: str, client: httpx.Client | None = None, **body: Any) -> httpx.Response:
    return (client or api.admin).post(f"/api/shots/{shot_id}/takes", json=body)


def queued(api: Api, shot_id: str, **body: Any) -> list[dict[str, Any]]:
    response = queue(api, shot_id, **body)
    assert response.status_code == 201, response.text
    return response.json()["jobs"]


def by_role(job: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in job["inputs"]:
        found.setdefault(item["role"], []).append(item)
    return found
