"""An agent speaking the farm protocol over HTTP from the test itself (no ComfyUI, no process): register,
then submit, claim, upload and complete CPU jobs with the GPU seconds a test chooses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

CPU_PARAMS = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
GPUS = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "vram_total_mb": 24564, "vram_free_mb": 24000}]


@dataclass
class ProtocolAgent:
    admin: httpx.Client
    client: httpx.Client
    agent_id: str

    @classmethod
    def register(cls, admin: httpx.Client, base_url: str) -> ProtocolAgent:
        key = admin.post("/api/api-keys", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent"})
        assert key.status_code == 201, key.text
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key.json()['key']}"}, timeout=60
        )
        body = {"name": f"gpu-{uuid.uuid4().hex[:8]}", "gpus": GPUS}
        registered = client.post("/api/farm/agents/register", json=body)
        assert registered.status_code == 200, registered.text
        return cls(admin, client, registered.json()["agent_id"])

    def run_job(self, project_id: str, gpu_seconds: float) -> str:
        """Submit one CPU job of the project (as the admin), claim and complete it reporting `gpu_seconds`;
        the queue must hold no other job this agent could take. Returns the job's id."""
        body = {
            "type": "i2v",
            "workflow": "cpu_test_still_video",
            "params": CPU_PARAMS,
            "project_id": project_id,
        }
        job = self.admin.post("/api/farm/jobs", json=body)
        assert job.status_code == 201, job.text
        got = self.client.post(f"/api/farm/agents/{self.agent_id}/claim", json={"wait_s": 0}).json()
        assert got["job"]["id"] == job.json()["id"]
        lease = {"lease_id": got["lease"]["id"]}
        files = {"files": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42 fake", "video/mp4")}
        uploaded = self.client.post(f"/api/farm/jobs/{got['job']['id']}/outputs", data=lease, files=files)
        assert uploaded.status_code == 200, uploaded.text
        done = self.client.post(
            f"/api/farm/jobs/{got['job']['id']}/complete", json={**lease, "gpu_seconds": gpu_seconds}
        )
        assert done.status_code == 200, done.text
        return str(got["job"]["id"])
