"""The project's GPU budget warning in real Blender: a job completed through the farm takes the project past
80 % of its budget on a real server, the pushed `project.budget_warning` event reaches the add-on live and is
shown as a warning in the panel message and in the VSE's Shot cost panel."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import bpy

from tests.blender.helpers import pump
from tests.blender.test_addon_panels import RecordingLayout
from tests.blender.test_render_ready import _use
from tests.support.farm_protocol import ProtocolAgent


def test_a_job_crossing_80_percent_of_the_budget_is_reported_in_blender(online, studio) -> None:
    admin = studio.admin
    for job in admin.get("/api/farm/jobs", params={"status": ["queued", "running"], "limit": 5000}).json()[
        "items"
    ]:
        admin.post(f"/api/farm/jobs/{job['id']}/cancel")  # other tests' jobs: not for this test's agent
    code = f"ZBW{uuid.uuid4().hex[:6].upper()}"  # after the studio's NIGHT, as test_render_ready does
    project = admin.post("/api/projects", json={"code": code, "name": "Budget"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    budget = admin.put(f"/api/projects/{project_id}/costs/budget", json={"gpu_budget_hours": 0.5})
    assert budget.status_code == 200, budget.text
    _use(online, project_id)
    agent = ProtocolAgent.register(admin, studio.url)
    agent.run_job(project_id, 900.0)  # 50 %: nothing to say
    agent.run_job(project_id, 600.0)  # 83 %
    expected = f"{code}: 80% of the GPU budget used (0.42 of 0.5 h)"
    pump(lambda: online.get().message.text == expected, what="the budget warning")
    assert online.get().message.level == "WARNING"
    log: list[str] = []
    bpy.types.AIPIPE_PT_editorial_costs.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    assert f"label:{expected}" in log
