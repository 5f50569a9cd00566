"""The GPU budget warning pushed (issue 17, N9): a job completed through the farm that takes the project to
80 % or 100 % of its GPU budget records one `project.budget_warning` event, delivered on the live event
stream, once per crossing (SQLite and PostgreSQL, real HTTP and WebSocket)."""

from __future__ import annotations

import uuid
from typing import Any

from websockets.sync.client import ClientConnection

from tests.api.test_events import _next, _open, _token
from tests.api.test_farm import drain_queue
from tests.support.api import Api
from tests.support.farm_protocol import ProtocolAgent

BUDGET_S = 100.0  # the budget, in GPU seconds


def _warnings_until_mark(api: Api, ws: ClientConnection, project_id: str) -> list[dict[str, Any]]:
    """The budget warnings the stream delivered before a mark (a project edit made now, after them)."""
    mark = f"mark {uuid.uuid4().hex}"
    current = api.admin.get(f"/api/projects/{project_id}").json()
    edited = api.admin.patch(
        f"/api/projects/{project_id}", json={"description": mark, "revision": current["revision"]}
    )
    assert edited.status_code == 200, edited.text
    seen = []
    while True:
        event = _next(ws)
        if event["action"] == "project.updated" and (event["data"] or {}).get("description") == mark:
            return seen
        if event["action"] == "project.budget_warning":
            seen.append(event)


def test_a_job_crossing_80_and_100_percent_of_the_budget_pushes_each_warning_once(api: Api) -> None:
    drain_queue(api)
    project = api.project()
    pid = project["id"]
    budget = api.admin.put(f"/api/projects/{pid}/costs/budget", json={"gpu_budget_hours": BUDGET_S / 3600})
    assert budget.status_code == 200 and budget.json()["warning"] is None, budget.text
    agent = ProtocolAgent.register(api.admin, api.base_url)
    with _open(api.ws_url, _token(api.admin), project_id=pid) as ws:
        assert _next(ws, "hello")["type"] == "hello"
        agent.run_job(pid, 50.0)  # 50 %
        assert _warnings_until_mark(api, ws, pid) == []
        crossing = agent.run_job(pid, 35.0)  # 85 %
        [warning] = _warnings_until_mark(api, ws, pid)
        assert (warning["entity"], warning["entity_id"], warning["project_id"]) == ("project", pid, pid)
        data = warning["data"]
        assert (data["level"], data["job_id"], data["project_code"]) == ("80%", crossing, project["code"])
        assert data["hours"] == BUDGET_S / 3600 and data["used_hours"] == round(85 / 3600, 4)
        assert data["fraction"] == 0.85
        agent.run_job(pid, 10.0)  # 95 %: still the 80 % level, nothing new
        assert _warnings_until_mark(api, ws, pid) == []
        agent.run_job(pid, 10.0)  # 105 %
        assert [w["data"]["level"] for w in _warnings_until_mark(api, ws, pid)] == ["100%"]
        agent.run_job(pid, 10.0)  # 115 %: over, already told
        assert _warnings_until_mark(api, ws, pid) == []

        # A larger budget (115 s of 1,000 used): the next crossing of 80 % is pushed again.
        raised = api.admin.put(f"/api/projects/{pid}/costs/budget", json={"gpu_budget_hours": 1000 / 3600})
        assert raised.json()["warning"] is None
        agent.run_job(pid, 700.0)  # 81.5 %
        assert [w["data"]["level"] for w in _warnings_until_mark(api, ws, pid)] == ["80%"]
        # A budget set below what is used is shown in its answer, not pushed again by the next job.
        lowered = api.admin.put(f"/api/projects/{pid}/costs/budget", json={"gpu_budget_hours": 500 / 3600})
        assert lowered.json()["warning"] == "100%"
        agent.run_job(pid, 5.0)
        assert _warnings_until_mark(api, ws, pid) == []
    audit = api.admin.get("/api/audit", params={"project_id": pid, "action": "project.budget_warning"})
    assert audit.status_code == 200, audit.text  # the audit log keeps them too
    assert [e["action"] for e in audit.json()["items"]] == ["project.budget_warning"] * 3


def test_a_project_without_a_budget_is_never_warned(api: Api) -> None:
    drain_queue(api)
    project = api.project()
    agent = ProtocolAgent.register(api.admin, api.base_url)
    with _open(api.ws_url, _token(api.admin), project_id=project["id"]) as ws:
        assert _next(ws, "hello")["type"] == "hello"
        agent.run_job(project["id"], 10_000.0)
        assert _warnings_until_mark(api, ws, project["id"]) == []
