"""The add-on's event listener (blender_addon/core/events.py) against the real server: a running job's
progress, which the server sends as a `live` message (not stored), reaches `job.` subscribers between
status changes, and agents' readings do not (they are the farm page's)."""

from __future__ import annotations

import threading
import time
from typing import Any

from blender_addon.core.events import EventListener
from tests.api.test_farm import agent_client, claim, drain_queue, register, submit
from tests.support.api import Api


def test_a_running_jobs_progress_reaches_the_add_ons_job_subscribers(api: Api) -> None:
    drain_queue(api)
    got: list[dict[str, Any]] = []
    seen = threading.Condition()

    def on_event(event: dict[str, Any]) -> None:
        with seen:
            got.append(event)
            seen.notify_all()

    token = api.admin.headers["Authorization"].removeprefix("Bearer ")
    states: list[str] = []
    listener = EventListener(api.base_url, lambda: token, on_event, on_state=states.append).start()
    try:
        deadline = time.monotonic() + 20
        while "live" not in states:
            assert time.monotonic() < deadline, f"the listener did not connect: {states}"
            time.sleep(0.05)
        agent = agent_client(api)
        agent_id = register(agent)
        job = submit(api)
        lease = claim(agent, agent_id)["lease"]["id"]
        assert agent.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "busy"}).status_code == 200
        for progress in (0.25, 0.5):
            beat = agent.post(
                f"/api/farm/jobs/{job['id']}/heartbeat",
                json={"lease_id": lease, "progress": progress, "stage": "KSampler"},
            )
            assert beat.status_code == 200, beat.text

        def progress_seen() -> list[float]:
            return [
                e["data"]["progress"]
                for e in got
                if e.get("action") == "job.progress" and e["data"]["id"] == job["id"]
            ]

        with seen:
            assert seen.wait_for(lambda: progress_seen()[-1:] == [0.5], timeout=20), got[-5:]
            assert progress_seen() == [0.25, 0.5]
            assert not [e for e in got if e.get("kind") == "agent.heartbeat"]  # sent before the progress
        agent.post(f"/api/farm/jobs/{job['id']}/release", json={"lease_id": lease})
    finally:
        listener.stop()
