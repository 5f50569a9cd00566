"""Agents register with their farm protocol version; one too old or too new is refused with the versions that
work, and nothing of it is stored."""

from __future__ import annotations

import uuid

import httpx
import pytest

from aipipe_shared.protocol import OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION
from tests.support.api import Api, assert_problem

WORKS = f"versions {OLDEST_PROTOCOL_VERSION} to {PROTOCOL_VERSION} work"


def register(api: Api, **extra: object) -> tuple[str, httpx.Response]:
    name = f"proto-{uuid.uuid4().hex[:8]}"
    return name, api.admin.post("/api/farm/agents/register", json={"name": name, **extra})


def listed(api: Api, name: str) -> dict[str, object] | None:
    agents = api.admin.get("/api/farm/agents")
    assert agents.status_code == 200, agents.text
    return next((a for a in agents.json() if a["name"] == name), None)


@pytest.mark.parametrize(
    ("version", "age", "upgrade"),
    [
        (OLDEST_PROTOCOL_VERSION - 1, "too old", "upgrade the agent"),
        (PROTOCOL_VERSION + 1, "too new", "upgrade the server"),
    ],
)
def test_an_agent_outside_the_supported_versions_is_refused(
    api: Api, version: int, age: str, upgrade: str
) -> None:
    name, response = register(api, protocol_version=version)
    problem = assert_problem(response, 422, "protocol_version")
    assert problem["type"].endswith("/unsupported-protocol"), problem
    assert age in problem["detail"] and WORKS in problem["detail"] and upgrade in problem["detail"], problem
    assert problem["supported"] == [OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION]
    assert listed(api, name) is None, "a refused agent was registered all the same"


def test_an_agent_of_a_supported_version_registers_and_shows_it(api: Api) -> None:
    name, response = register(api, protocol_version=PROTOCOL_VERSION)
    assert response.status_code == 200, response.text
    assert response.json()["protocol_version"] == PROTOCOL_VERSION
    assert listed(api, name)["protocol_version"] == PROTOCOL_VERSION  # type: ignore[index]


def test_an_agent_from_before_versions_speaks_the_oldest(api: Api) -> None:
    """Agents of earlier releases send no version: they spoke protocol 1, which the server still serves."""
    name, response = register(api)
    assert response.status_code == 200, response.text
    assert response.json()["protocol_version"] == 1
    assert listed(api, name)["protocol_version"] == 1  # type: ignore[index]
