"""A lease id is not a key: an agent using another agent's lease id is refused and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_farm import agent_client, claim, drain_queue, register, submit
from tests.support.api import Api, assert_problem
from tests.support.media import png_bytes


def _calls(job_id: str, lease_id: str) -> dict[str, tuple[str, dict]]:
    return {
        "heartbeat": (
            f"/api/farm/jobs/{job_id}/heartbeat",
            {"json": {"lease_id": lease_id, "progress": 0.9}},
        ),
        "watch": (f"/api/farm/jobs/{job_id}/watch", {"json": {"lease_id": lease_id, "wait_s": 0}}),
        "outputs": (
            f"/api/farm/jobs/{job_id}/outputs",
            {"data": {"lease_id": lease_id}, "files": [("files", ("x.png", png_bytes(), "image/png"))]},
        ),
        "fail": (f"/api/farm/jobs/{job_id}/fail", {"json": {"lease_id": lease_id, "error": "sabotage"}}),
        "release": (f"/api/farm/jobs/{job_id}/release", {"json": {"lease_id": lease_id}}),
        "complete": (f"/api/farm/jobs/{job_id}/complete", {"json": {"lease_id": lease_id}}),
    }


@pytest.mark.parametrize("call", ["heartbeat", "watch", "outputs", "fail", "release", "complete"])
def test_an_agent_using_another_agents_lease_id_is_refused_403_and_the_job_is_untouched(
    api: Api, call: str
) -> None:
    drain_queue(api)
    holder, intruder = agent_client(api), agent_client(api)
    holder_id = register(holder)
    register(intruder)
    job = submit(api)
    got = claim(holder, holder_id)
    assert got is not None and got["job"]["id"] == job["id"]
    lease_id = got["lease"]["id"]

    path, kwargs = _calls(job["id"], lease_id)[call]
    refused = intruder.post(path, **kwargs)
    assert_problem(refused, 403, "lease_id")

    after = api.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert after["status"] == "running" and after["agent_id"] == holder_id
    assert after["progress"] < 0.9 and not after.get("outputs")
    # The holder's own lease still works.
    beat = holder.post(f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": lease_id, "progress": 0.5})
    assert beat.status_code == 200, beat.text
    for client in (holder, intruder):
        client.close()


def test_the_lease_holder_and_an_admin_may_act_on_the_lease(api: Api) -> None:
    drain_queue(api)
    holder = agent_client(api)
    holder_id = register(holder)
    job = submit(api)
    got = claim(holder, holder_id)
    assert got is not None
    lease_id = got["lease"]["id"]
    assert (
        holder.post(
            f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": lease_id, "progress": 0.2}
        ).status_code
        == 200
    )
    released = api.admin.post(f"/api/farm/jobs/{job['id']}/release", json={"lease_id": lease_id})
    assert released.status_code == 200, released.text
    assert isinstance(holder, httpx.Client)
    holder.close()
