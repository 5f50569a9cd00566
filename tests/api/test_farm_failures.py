"""Farm failures that end: failure classes, submit-time parameter checks, children of a failed job, lost
leases without blame (requeued in place), the pushed cancel and an agent whose ComfyUI is away."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.test_farm import CPU_PARAMS, agent_client, claim, drain_queue, register, submit
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login


@pytest.fixture
def farm(api: Api) -> Api:
    drain_queue(api)
    return api


@pytest.fixture(scope="module")
def backoff_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server whose retry back-off is one second (doubling), for tests about retries on one agent."""
    env = {"AIPIPE_FARM_RETRY_BACKOFF_S": "1", "AIPIPE_FARM_SWEEP_S": "0.5"}
    server, password = start_server_with_admin(tmp_path_factory.mktemp("backoff-farm"), None, env=env)
    admin = login(server.url, ADMIN, password)
    try:
        yield Api(server.url, server.ws_url, admin, "sqlite")
    finally:
        admin.close()
        server.stop()


def fail(
    agent: httpx.Client, got: dict[str, Any], kind: str, error: str = "node 5 (SaveVideo): boom"
) -> None:
    response = agent.post(
        f"/api/farm/jobs/{got['job']['id']}/fail",
        json={"lease_id": got["lease"]["id"], "error": error, "kind": kind},
    )
    assert response.status_code == 200, response.text


def job_of(api: Api, job_id: str) -> dict[str, Any]:
    return api.admin.get(f"/api/farm/jobs/{job_id}").json()


# -- refused before queueing ---------------------------------------------------------------------------


def test_a_size_h264_cannot_encode_or_a_frame_count_the_model_refuses_is_refused_at_submit(farm: Api) -> None:
    odd = farm.admin.post(
        "/api/farm/jobs",
        json={"type": "i2v", "workflow": "cpu_test_still_video", "params": {**CPU_PARAMS, "width": 511}},
    )
    problem = assert_problem(odd, 422, "params.width")
    assert "511" in problem["detail"] and "even" in problem["detail"]
    wan = {"image": "first_frame.png", "positive": "rain", "width": 832, "height": 480, "length": 80}
    frames = farm.admin.post(
        "/api/farm/jobs", json={"type": "i2v", "workflow": "wan21_i2v_480p", "params": wan}
    )
    problem = assert_problem(frames, 422, "params.length")
    assert "4k+1" in problem["detail"]
    both = farm.admin.post(
        "/api/farm/jobs",
        json={
            "type": "i2v",
            "workflow": "cpu_test_still_video",
            "params": {**CPU_PARAMS, "width": 63, "height": 35},
        },
    )
    assert sorted(e["field"] for e in both.json()["errors"]) == ["params.height", "params.width"]
    ok = farm.admin.post(
        "/api/farm/jobs", json={"type": "i2v", "workflow": "wan21_i2v_480p", "params": {**wan, "length": 81}}
    )
    assert ok.status_code == 201, ok.text
    assert farm.admin.get("/api/farm/jobs", params={"status": "queued"}).json()["total"] == 1


# -- failure classes -----------------------------------------------------------------------------------


def test_an_input_error_fails_the_job_at_once_with_its_reason(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    assert job_of(farm, job["id"])["attempts"] == 1  # the first try counts while it runs
    fail(agent, got, "input", "ComfyUI: node 2 (ImageScale) input 'upscale_method': Value not in list")
    failed = job_of(farm, job["id"])
    assert failed["status"] == "failed" and "upscale_method" in failed["error"]
    assert failed["attempts"] == 1


def test_a_node_error_is_tried_once_more_on_another_agent_then_fails(backoff_farm: Api) -> None:
    drain_queue(backoff_farm)
    tag = f"pair-{uuid.uuid4().hex[:8]}"  # these two agents are the only ones able to run the job
    first, second = agent_client(backoff_farm), agent_client(backoff_farm)
    first_id, second_id = register(first, tags=[tag]), register(second, tags=[tag])
    job = submit(backoff_farm, tags=[tag])
    got = claim(first, first_id)
    fail(first, got, "node")
    state = job_of(backoff_farm, job["id"])
    assert state["status"] == "queued" and state["failed_agents"] == [first_id]
    retried = claim(second, second_id, wait_s=10)  # after its 1 s back-off
    assert retried is not None and retried["job"]["id"] == job["id"]
    assert retried["job"]["attempt"] == 2
    fail(second, retried, "node")
    final = job_of(backoff_farm, job["id"])
    assert final["status"] == "failed", "a node error is tried on at most one other agent"
    assert [(f["agent"], f["kind"]) for f in final["failures"]] == [(first_id, "node"), (second_id, "node")]
    assert final["attempts"] == 2
    assert claim(first, first_id) is None


def test_a_node_error_on_a_farm_without_another_agent_retries_there_with_backoff_then_fails(
    backoff_farm: Api,
) -> None:
    drain_queue(backoff_farm)
    tag = f"solo-{uuid.uuid4().hex[:8]}"  # no other agent can run the job
    agent = agent_client(backoff_farm)
    agent_id = register(agent, tags=[tag])
    job = submit(backoff_farm, max_attempts=3, tags=[tag])
    tries = []
    for attempt in (1, 2, 3):
        got = claim(agent, agent_id, wait_s=10)
        assert got is not None and got["job"]["id"] == job["id"], f"try {attempt} never came"
        tries.append(time.monotonic())
        fail(agent, got, "node")
        state = job_of(backoff_farm, job["id"])
        if attempt < 3:
            assert state["status"] == "queued" and state["failed_agents"] == []
            assert claim(agent, agent_id) is None  # backing off, not offered at once
    final = job_of(backoff_farm, job["id"])
    assert final["status"] == "failed" and final["attempts"] == 3 and len(final["failures"]) == 3
    assert tries[1] - tries[0] >= 0.9 and tries[2] - tries[1] >= 1.9  # 1 s, then 2 s


# -- children of a failed job --------------------------------------------------------------------------


def test_children_of_a_failed_job_fail_naming_it_and_come_back_when_it_is_retried(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    parent = submit(farm)
    child = submit(farm, depends_on=[parent["id"]])
    grandchild = submit(farm, depends_on=[child["id"]])
    fail(agent, claim(agent, agent_id), "input", "bad graph")
    for job in (child, grandchild):
        state = job_of(farm, job["id"])
        assert state["status"] == "failed", state
    for job in (child, grandchild):  # both name the job that really failed
        assert job_of(farm, job["id"])["error"] == f"upstream job {parent['id']} failed"
    assert farm.admin.get("/api/farm/status").json()["queue_depth"] == 0
    late = submit(farm, depends_on=[parent["id"]])  # a job submitted after the failure is born failed
    assert late["status"] == "failed" and late["error"] == f"upstream job {parent['id']} failed"
    refused = farm.admin.post(f"/api/farm/jobs/{child['id']}/retry")
    assert_problem(refused, 409, "id")
    assert farm.admin.post(f"/api/farm/jobs/{parent['id']}/retry").status_code == 200
    for job in (child, grandchild, late):
        state = job_of(farm, job["id"])
        assert state["status"] == "queued" and state["error"] == "", state
    assert farm.admin.get("/api/farm/status").json()["queue_depth"] == 4


# -- lost leases -----------------------------------------------------------------------------------------


def test_an_agent_restarting_mid_job_is_not_blamed_and_the_job_keeps_its_place(farm: Api) -> None:
    agent = agent_client(farm)
    name = f"gpu-restart-{time.monotonic_ns()}"
    agent_id = register(agent, name=name)
    older = submit(farm)
    for restart in range(4):  # more than AIPIPE_FARM_BLOCKLIST_AFTER (3)
        got = claim(agent, agent_id)
        assert got["job"]["id"] == older["id"], f"restart {restart}: the requeued job lost its place"
        if restart == 0:
            newer = submit(farm)  # queued after the older one started, same priority
            files = {"files": ("half.mp4", b"\x00\x00\x00\x18ftypmp42 cut off", "video/mp4")}
            upload = agent.post(
                f"/api/farm/jobs/{older['id']}/outputs", data={"lease_id": got["lease"]["id"]}, files=files
            )
            assert upload.status_code == 200, upload.text
        assert register(agent, name=name) == agent_id  # the agent restarts: its lease is lost
        state = job_of(farm, older["id"])
        assert state["status"] == "queued" and state["lease_losses"] == restart + 1
        assert state["outputs"] == []  # what the lost try uploaded is not the job's result
        assert state["failures"] == [] and state["failed_agents"] == []
    assert farm.admin.get("/api/farm/blocklist", params={"agent_id": agent_id}).json() == []
    assert claim(agent, agent_id)["job"]["id"] == older["id"]
    assert job_of(farm, newer["id"])["status"] == "queued"


# -- cancel, pushed ---------------------------------------------------------------------------------------


def test_a_cancel_reaches_the_watching_agent_at_once_and_a_lost_lease_too(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    url = f"/api/farm/jobs/{job['id']}/watch"
    quiet = agent.post(url, json={"lease_id": got["lease"]["id"], "wait_s": 0.3})
    assert quiet.status_code == 200 and quiet.json() == {"action": "continue"}
    answer: dict[str, Any] = {}

    def watch() -> None:
        response = agent.post(url, json={"lease_id": got["lease"]["id"], "wait_s": 25})
        answer["body"], answer["at"] = response.json(), time.monotonic()

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.5)  # the watch is waiting
    cancelled_at = time.monotonic()
    assert farm.admin.post(f"/api/farm/jobs/{job['id']}/cancel").status_code == 200
    watcher.join(timeout=30)
    assert answer["body"] == {"action": "cancel"}
    assert answer["at"] - cancelled_at < 2, "the cancel waited for something instead of being pushed"
    agent.post(f"/api/farm/jobs/{job['id']}/release", json={"lease_id": got["lease"]["id"]})
    lost = agent.post(url, json={"lease_id": got["lease"]["id"], "wait_s": 1})
    assert lost.status_code == 409 and lost.json()["type"].endswith("/lease-lost")


def test_a_job_cancelled_while_running_ends_cancelled_when_its_agent_dies_instead_of_coming_back(
    farm: Api,
) -> None:
    """A wrangler cancels a running job; its agent dies before it hears so. The lost lease must not put
    the cancelled job back in the queue, where another agent would run it (and its children) again."""
    agent = agent_client(farm)
    name = f"gpu-dies-{time.monotonic_ns()}"
    agent_id = register(agent, name=name)
    parent = submit(farm)
    child = submit(farm, depends_on=[parent["id"]])
    got = claim(agent, agent_id)
    assert got["job"]["id"] == parent["id"]
    assert farm.admin.post(f"/api/farm/jobs/{parent['id']}/cancel").status_code == 200
    assert job_of(farm, parent["id"])["status"] == "running"  # told at the agent's next call
    assert register(agent, name=name) == agent_id  # the agent restarted: its lease is lost
    state = job_of(farm, parent["id"])
    assert state["status"] == "cancelled" and state["finished_at"], state
    assert job_of(farm, child["id"])["status"] == "failed"
    other = agent_client(farm)
    assert claim(other, register(other)) is None  # nothing of it is offered again


def test_a_job_cancelled_while_running_is_not_retried_after_a_retryable_failure(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    assert farm.admin.post(f"/api/farm/jobs/{job['id']}/cancel").status_code == 200
    fail(agent, got, "agent", "ComfyUI went away")  # sent before the agent heard of the cancel
    state = job_of(farm, job["id"])
    assert state["status"] == "cancelled", state
    assert claim(agent, agent_id) is None


# -- an agent whose ComfyUI is away ------------------------------------------------------------------------


def test_an_agent_whose_comfyui_does_not_answer_shows_so_with_its_reason(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    reason = "ComfyUI at http://127.0.0.1:8188 does not answer: connection refused"
    beat = agent.post(
        f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "unavailable", "reason": reason}
    )
    assert beat.status_code == 200, beat.text
    shown = {a["id"]: a for a in farm.admin.get("/api/farm/agents").json()}[agent_id]
    assert shown["state"] == "unavailable" and shown["state_reason"] == reason
    assert farm.admin.get("/api/farm/status").json()["agents"].get("unavailable", 0) >= 1
    agent.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"})
    shown = {a["id"]: a for a in farm.admin.get("/api/farm/agents").json()}[agent_id]
    assert shown["state"] == "idle" and shown["state_reason"] == ""


def test_a_server_restart_longer_than_a_lease_takes_no_job_from_its_agent(tmp_path) -> None:
    """Agents cannot renew leases while no server runs: after the restart they get a lease period."""
    env = {"AIPIPE_FARM_LEASE_S": "5", "AIPIPE_FARM_SWEEP_S": "0.2"}
    server, password = start_server_with_admin(tmp_path / "restart", None, env=env)
    try:
        api = Api(server.url, server.ws_url, login(server.url, ADMIN, password), "sqlite")
        agent = agent_client(api)
        agent_id = register(agent)
        job = submit(api)
        got = claim(agent, agent_id)
        server.stop()
        time.sleep(6)  # the server is away longer than the 5 s lease
        server.start()  # the same data folder, on a new port
        agent = httpx.Client(base_url=server.url, headers=agent.headers, timeout=30)
        admin = login(server.url, ADMIN, password)
        state = admin.get(f"/api/farm/jobs/{job['id']}").json()
        assert state["status"] == "running" and state["lease_losses"] == 0
        beat = agent.post(f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": got["lease"]["id"]})
        assert beat.status_code == 200, beat.text  # the agent's work goes on
    finally:
        server.stop()
