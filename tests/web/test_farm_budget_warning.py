"""The farm page in a real browser shows a project's GPU budget warning as soon as the server pushes it: a
job completed through the farm protocol takes the project past 80 % of its budget."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.farm_protocol import ProtocolAgent
from tests.web.conftest import WebServer
from tests.web.test_farm_dashboard import PATIENCE_MS, open_farm


def test_a_budget_warning_is_shown_on_the_farm_page_when_it_is_pushed(web: WebServer, browsing: Any) -> None:
    admin = web.admin
    for job in admin.get("/api/farm/jobs", params={"status": ["queued", "running"], "limit": 5000}).json()[
        "items"
    ]:
        admin.post(f"/api/farm/jobs/{job['id']}/cancel")  # other tests' jobs: not for this test's agent
    code = f"BW{uuid.uuid4().hex[:6].upper()}"
    project = admin.post("/api/projects", json={"code": code, "name": "Budget"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    assert (
        admin.put(f"/api/projects/{project_id}/costs/budget", json={"gpu_budget_hours": 0.5}).status_code
        == 200
    )
    page = open_farm(browsing, web).page
    agent = ProtocolAgent.register(admin, web.url)
    agent.run_job(project_id, 1500.0)  # 83 %
    page.wait_for_function(
        "(text) => document.getElementById('toast').textContent === text",
        arg=f"{code}: 80% of the GPU budget used (0.42 of 0.5 h)",
        timeout=PATIENCE_MS,
    )
    assert page.locator("#toast").get_attribute("data-kind") == "error"
