"""A small API client for tests: login, JSON helpers, users of each role."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def login(base_url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30.0)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


@dataclass
class Api:
    """A running server and an admin client for it."""

    base_url: str
    ws_url: str
    admin: httpx.Client
    backend: str
    data_dir: Path | None = None  # the server's data folder (for `run_cli` against the same database)
    database_url: str | None = None  # None: the SQLite file in data_dir

    def user(self, role: str, username: str | None = None) -> httpx.Client:
        """Create a user with `role` through the API and return a client logged in as them."""
        name = username or f"{role}_{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(12)
        created = self.admin.post("/api/users", json={"username": name, "password": password, "role": role})
        assert created.status_code == 201, created.text
        return login(self.base_url, name, password)

    def client(self, authorization: str | None = "admin") -> httpx.Client:
        """A new client with its own connections: the admin's token by default, or none (None)."""
        client = httpx.Client(base_url=self.base_url, timeout=30.0)
        if authorization == "admin":
            client.headers["Authorization"] = self.admin.headers["Authorization"]
        elif authorization is not None:
            client.headers["Authorization"] = authorization
        return client

    @property
    def sqlalchemy_url(self) -> str:
        """The server's database, for tests that read stored rows directly."""
        if self.database_url:
            return self.database_url
        assert self.data_dir is not None, "the api fixture did not record the data dir"
        return f"sqlite:///{(self.data_dir / 'aipipe.db').resolve()}"

    def project(self, **overrides: Any) -> dict[str, Any]:
        body = {"code": f"P{uuid.uuid4().hex[:10]}", "name": "Test project", **overrides}
        response = self.admin.post("/api/projects", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def scene(self, project_id: str, **overrides: Any) -> dict[str, Any]:
        response = self.admin.post(f"/api/projects/{project_id}/scenes", json=overrides)
        assert response.status_code == 201, response.text
        return response.json()

    def shot(self, project_id: str, scene_id: str, **overrides: Any) -> dict[str, Any]:
        response = self.admin.post(
            f"/api/projects/{project_id}/shots", json={"scene_id": scene_id, **overrides}
        )
        assert response.status_code == 201, response.text
        return response.json()


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """`response` is an RFC 9457 problem+json with `status`; with `field`, one of its errors names it."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("http"), body
    if field is not None:
        named = [error.get("field") for error in body.get("errors", [])]
        assert field in named, f"expected an error naming {field!r}, got {named}: {body}"
    return body
