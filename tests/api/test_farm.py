"""The render farm on the server: registration, long-poll claims, leases, failures, wrangler controls."""

from __future__ import annotations

import base64
import io
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, login

CPU_PARAMS = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
GPU_24 = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "vram_total_mb": 24564, "vram_free_mb": 24000}]
GPU_16 = [{"index": 0, "name": "NVIDIA RTX A4000", "vram_total_mb": 16376, "vram_free_mb": 16000}]


def agent_client(api: Api) -> httpx.Client:
    key = api.admin.post("/api/api-keys", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent"})
    assert key.status_code == 201, key.text
    return httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {key.json()['key']}"}, timeout=60
    )


def register(client: httpx.Client, gpus: list[dict[str, Any]] | None = None, **extra: Any) -> str:
    body = {"name": f"gpu-{uuid.uuid4().hex[:8]}", "gpus": GPU_24 if gpus is None else gpus, **extra}
    response = client.post("/api/farm/agents/register", json=body)
    assert response.status_code == 200, response.text
    return response.json()["agent_id"]


def submit(api: Api, **overrides: Any) -> dict[str, Any]:
    body = {"type": "i2v", "workflow": "cpu_test_still_video", "params": CPU_PARAMS, **overrides}
    response = api.admin.post("/api/farm/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def claim(client: httpx.Client, agent_id: str, wait_s: float = 0.0) -> dict[str, Any] | None:
    response = client.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": wait_s})
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None


def drain_queue(api: Api) -> None:
    """Jobs left by other tests must not be claimed by this one's agents."""
    for job in api.admin.get(
        "/api/farm/jobs", params={"status": ["queued", "running"], "limit": 5000}
    ).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def waiting_claims(api: Api) -> int:
    """The server's gauge of claims waiting for a job (Prometheus text from /api/metrics)."""
    text = api.admin.get("/api/metrics").text
    [line] = [x for x in text.splitlines() if x.startswith("aipipe_farm_waiting_claims ")]
    return int(float(line.split()[1]))


def wait_for_waiting_claims(api: Api, count: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while waiting_claims(api) < count:
        assert time.monotonic() < deadline, f"fewer than {count} claims waited within {timeout_s}s"
        time.sleep(0.02)


@pytest.fixture
def farm(api: Api) -> Api:
    drain_queue(api)
    return api


def test_a_claimed_job_carries_the_bound_graph_and_a_lease(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm, priority=60)
    assert job["status"] == "queued" and job["model"] == "cpu_test_still_video"
    got = claim(agent, agent_id)
    assert got is not None
    assert got["job"]["id"] == job["id"]
    graph = got["job"]["graph"]
    assert any(node["inputs"].get("image") == "first_frame.png" for node in graph.values())
    assert got["lease"]["id"]
    running = farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert running["status"] == "running" and running["agent_id"] == agent_id
    assert claim(agent, agent_id) is None  # nothing else waiting


def test_jobs_are_found_by_id_prefix_and_show_their_agent_and_project_by_name(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent, name="gpu-prefix-test")
    project = farm.project()
    job = submit(farm, project_id=project["id"])
    other = submit(farm)
    assert claim(agent, agent_id)["job"]["id"] in (job["id"], other["id"])
    for prefix in (job["id"][:6], job["id"][:13], job["id"][:8].upper()):
        found = farm.admin.get("/api/farm/jobs", params={"id_prefix": prefix}).json()
        assert [j["id"] for j in found["items"]] == [job["id"]], prefix
    shown = farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert shown["project_code"] == project["code"]
    held = farm.admin.get("/api/farm/jobs", params={"agent_id": agent_id}).json()["items"]
    assert [j["agent_name"] for j in held] == ["gpu-prefix-test"]
    bad = farm.admin.get("/api/farm/jobs", params={"id_prefix": "xyz!"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id_prefix"
    for j in (job, other):
        farm.admin.post(f"/api/farm/jobs/{j['id']}/cancel")


def test_a_waiting_claim_wakes_as_soon_as_a_job_is_queued(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    result: dict[str, Any] = {}

    def wait() -> None:
        started = time.monotonic()
        result["claim"] = claim(agent, agent_id, wait_s=20)
        result["after"] = time.monotonic() - started

    already = waiting_claims(farm)
    waiter = threading.Thread(target=wait)
    waiter.start()
    # The job is queued only once the claim is really waiting (the server's gauge says so), so the test
    # fails if the claim answered without waiting or did not wake.
    wait_for_waiting_claims(farm, already + 1)
    job = submit(farm)
    waiter.join(timeout=30)
    assert result["claim"]["job"]["id"] == job["id"]
    assert result["after"] < 5, f"the claim waited {result['after']:.1f}s after the job was queued"


def test_a_job_handed_to_a_claim_whose_agent_hung_up_goes_to_the_next_agent_at_once(farm: Api) -> None:
    gone, next_agent = agent_client(farm), agent_client(farm)
    gone_id, next_id = register(gone), register(next_agent)
    already = waiting_claims(farm)
    # The first agent's claim waits, then the agent goes (its connection closes, as when it stops): the
    # server looks at a waiting claim's connection only every few seconds, so the job queued right after
    # is handed to that gone claim.
    url = httpx.URL(farm.base_url)
    body = b'{"wait_s": 30}'
    with socket.create_connection((url.host, url.port), timeout=10) as connection:
        connection.sendall(
            f"POST /api/farm/agents/{gone_id}/claim HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: {gone.headers['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_for_waiting_claims(farm, already + 1)
    job = submit(farm)
    # It must not sit under that lease until the lease runs out (60 s): the next agent gets it now.
    started = time.monotonic()
    got = claim(next_agent, next_id, wait_s=20)
    state = farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert got is not None and got["job"]["id"] == job["id"], (
        f"no job within {time.monotonic() - started:.1f} s: {state}"
    )
    assert state["agent_id"] == next_id and state["lease_losses"] == 0 and state["failures"] == []
    farm.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_outputs_are_idempotent_and_completion_releases_the_children(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    parent = submit(farm)
    child = submit(farm, depends_on=[parent["id"]])
    got = claim(agent, agent_id)
    assert got["job"]["id"] == parent["id"]  # the child waits for its parent
    lease_id = got["lease"]["id"]
    files = {"files": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42 fake", "video/mp4")}
    first = agent.post(f"/api/farm/jobs/{parent['id']}/outputs", data={"lease_id": lease_id}, files=files)
    again = agent.post(f"/api/farm/jobs/{parent['id']}/outputs", data={"lease_id": lease_id}, files=files)
    assert first.status_code == 200 and again.status_code == 200
    assert len(again.json()["outputs"]) == 1
    other = agent.post(
        f"/api/farm/jobs/{parent['id']}/outputs",
        data={"lease_id": lease_id},
        files={"files": ("clip.mp4", b"other bytes", "video/mp4")},
    )
    assert other.status_code == 409
    assert claim(agent, agent_id) is None
    done = agent.post(
        f"/api/farm/jobs/{parent['id']}/complete",
        json={"lease_id": lease_id, "gpu_seconds": 1.5, "provenance": {"comfyui_prompt_id": "p"}},
    )
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    repeat = agent.post(f"/api/farm/jobs/{parent['id']}/complete", json={"lease_id": lease_id})
    assert repeat.status_code == 200 and repeat.json()["gpu_seconds"] == 1.5
    next_claim = claim(agent, agent_id)
    assert next_claim["job"]["id"] == child["id"]
    output = next_claim["job"]["parents"][0]["outputs"][0]
    assert agent.get(output["url"]).content == b"\x00\x00\x00\x18ftypmp42 fake"


def test_an_input_failure_ends_the_job_at_once_and_never_blocklists_the_agent(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    for _ in range(3):
        job = submit(farm)
        got = claim(agent, agent_id)
        assert got["job"]["id"] == job["id"]
        agent.post(
            f"/api/farm/jobs/{job['id']}/fail",
            json={"lease_id": got["lease"]["id"], "error": "bad graph", "retryable": False},
        )
        failed = farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
        assert failed["status"] == "failed" and failed["error"] == "bad graph"
        assert [f["kind"] for f in failed["failures"]] == ["input"]
    # The same graph fails on every agent: the agent is not to blame.
    assert farm.admin.get("/api/farm/blocklist", params={"agent_id": agent_id}).json() == []


def test_an_agent_failing_one_job_type_again_and_again_is_blocklisted(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    for _ in range(3):
        job = submit(farm, max_attempts=1)
        got = claim(agent, agent_id)
        assert got["job"]["id"] == job["id"]
        agent.post(
            f"/api/farm/jobs/{job['id']}/fail",
            json={"lease_id": got["lease"]["id"], "error": "node 5 (SaveVideo): boom", "kind": "node"},
        )
        assert farm.admin.get(f"/api/farm/jobs/{job['id']}").json()["status"] == "failed"
    blocked = farm.admin.get("/api/farm/blocklist", params={"agent_id": agent_id}).json()
    assert [(b["job_type"], b["failures"]) for b in blocked] == [("i2v", 3)]
    submit(farm)
    assert claim(agent, agent_id) is None
    assert farm.admin.delete(f"/api/farm/blocklist/{agent_id}").json() == {"cleared": 1}
    assert claim(agent, agent_id) is not None


def test_a_job_never_goes_to_a_card_without_enough_vram_or_the_tags(farm: Api) -> None:
    small, big = agent_client(farm), agent_client(farm)
    small_id, big_id = register(small, GPU_16), register(big, GPU_24, tags=["wan"])
    job = submit(farm, type="t2i", workflow="flux1_dev_t2i", params={"positive": "리나, rain"}, tags=["wan"])
    assert job["min_vram_gb"] == 24
    assert claim(small, small_id) is None
    assert claim(big, big_id)["job"]["id"] == job["id"]


def test_cancel_reaches_the_agent_at_its_next_heartbeat(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    beat = agent.post(
        f"/api/farm/jobs/{job['id']}/heartbeat",
        json={"lease_id": got["lease"]["id"], "progress": 0.3, "stage": "CreateVideo"},
    )
    assert beat.json()["action"] == "continue"
    assert farm.admin.get(f"/api/farm/jobs/{job['id']}").json()["progress"] == 0.3
    assert farm.admin.post(f"/api/farm/jobs/{job['id']}/cancel").status_code == 200
    beat = agent.post(f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": got["lease"]["id"]})
    assert beat.json()["action"] == "cancel"
    released = agent.post(f"/api/farm/jobs/{job['id']}/release", json={"lease_id": got["lease"]["id"]})
    assert released.json()["status"] == "cancelled"


def test_a_heartbeat_preview_is_kept_as_an_image_and_a_bad_one_is_refused_by_field(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    lease = claim(agent, agent_id)["lease"]["id"]
    url = f"/api/farm/jobs/{job['id']}"
    assert farm.admin.get(f"{url}/preview").status_code == 404  # none yet
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 9), (10, 120, 200)).save(jpeg, format="JPEG")
    preview = {"mime": "image/jpeg", "data": base64.b64encode(jpeg.getvalue()).decode()}
    beat = agent.post(f"{url}/heartbeat", json={"lease_id": lease, "progress": 0.5, "preview": preview})
    assert beat.status_code == 200, beat.text
    shown = farm.admin.get(f"{url}/preview")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.content == jpeg.getvalue()
    assert farm.admin.get(url).json()["preview_mime"] == "image/jpeg"
    for bad in (
        {"mime": "image/png", "data": preview["data"]},  # says PNG, is JPEG
        {"mime": "image/jpeg", "data": "not base64!"},
    ):
        refused = agent.post(f"{url}/heartbeat", json={"lease_id": lease, "preview": bad})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "preview.data"
    assert farm.admin.get(f"{url}/preview").content == jpeg.getvalue()  # the good one is still there
    farm.admin.post(f"{url}/cancel")


def test_a_drained_agent_gets_no_new_work(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    farm.admin.post(f"/api/farm/agents/{agent_id}/drain")
    submit(farm)
    assert claim(agent, agent_id) is None
    assert (
        agent.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"}).json()["action"]
        == "drain"
    )
    farm.admin.post(f"/api/farm/agents/{agent_id}/undrain")
    assert claim(agent, agent_id) is not None


def test_an_agent_reports_no_gpu_honestly_and_gets_only_work_that_needs_none(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent, gpus=[], gpu_error="NVML: driver not loaded")
    listed = {a["id"]: a for a in farm.admin.get("/api/farm/agents").json()}
    assert listed[agent_id]["gpus"] == [] and listed[agent_id]["gpu_error"] == "NVML: driver not loaded"
    submit(farm, type="t2i", workflow="flux1_dev_t2i", params={"positive": "x"})
    assert claim(agent, agent_id) is None


def test_concurrent_claims_never_hand_one_job_to_two_agents(farm: Api) -> None:
    jobs = {submit(farm)["id"] for _ in range(6)}
    clients = [agent_client(farm) for _ in range(10)]
    ids = [register(c) for c in clients]

    def one(i: int) -> str | None:
        got = claim(clients[i], ids[i])
        return got["job"]["id"] if got else None

    with ThreadPoolExecutor(max_workers=10) as pool:
        claimed = [j for j in pool.map(one, range(10)) if j]
    assert sorted(claimed) == sorted(jobs)


def test_many_waiting_agents_each_new_job_goes_to_one_and_the_model_holder_first(farm: Api) -> None:
    clients = [agent_client(farm) for _ in range(6)]
    ids = [register(c) for c in clients]
    holder = 3  # the only agent with the jobs' model already loaded: it should not pay a load
    results: dict[int, dict[str, Any] | None] = {}

    def wait(i: int) -> None:
        models = ["cpu_test_still_video"] if i == holder else ["some-other-model"]
        response = clients[i].post(
            f"/api/farm/agents/{ids[i]}/claim", json={"wait_s": 20, "loaded_models": models}
        )
        assert response.status_code in (200, 204), response.text
        results[i] = response.json() if response.status_code == 200 else None

    already = waiting_claims(farm)
    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    wait_for_waiting_claims(farm, already + len(clients))  # all six are waiting
    first = submit(farm)
    threads[holder].join(timeout=15)
    assert results.get(holder) is not None and results[holder]["job"]["id"] == first["id"]
    # The other five are still waiting (back in the gauge), not answered empty.
    wait_for_waiting_claims(farm, already + len(clients) - 1)
    assert len(results) == 1, "the other agents must still be waiting, not answered empty"
    rest = {submit(farm)["id"] for _ in range(len(clients) - 1)}
    for thread in threads:
        thread.join(timeout=25)
    got = [r["job"]["id"] for i, r in results.items() if i != holder and r is not None]
    assert sorted(got) == sorted(rest)  # each job to exactly one agent, every agent one job


@pytest.fixture(scope="module")
def fast_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server with one-second leases and no retry back-off, for tests about expiry and retries."""
    env = {"AIPIPE_FARM_LEASE_S": "1", "AIPIPE_FARM_RETRY_BACKOFF_S": "0", "AIPIPE_FARM_SWEEP_S": "0.5"}
    server, password = start_server_with_admin(tmp_path_factory.mktemp("fast-farm"), None, env=env)
    admin = login(server.url, ADMIN, password)
    try:
        yield Api(server.url, server.ws_url, admin, "sqlite")
    finally:
        admin.close()
        server.stop()


def test_a_failed_job_goes_to_another_agent_and_fails_for_good_after_three(fast_farm: Api) -> None:
    job = submit(fast_farm)
    seen = []
    for _ in range(3):
        agent = agent_client(fast_farm)
        agent_id = register(agent)
        got = claim(agent, agent_id, wait_s=10)
        assert got is not None and got["job"]["id"] == job["id"]
        seen.append(agent_id)
        failed = agent.post(
            f"/api/farm/jobs/{job['id']}/fail",
            json={"lease_id": got["lease"]["id"], "error": "node 3 (CreateVideo): boom"},
        )
        assert failed.status_code == 200
        assert claim(agent, agent_id) is None  # never offered again to an agent that failed it
    final = fast_farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert final["status"] == "failed"
    assert sorted(final["failed_agents"]) == sorted(seen)
    assert "node 3" in final["error"]


def test_an_expired_lease_puts_the_job_back_and_the_old_holder_is_told(fast_farm: Api) -> None:
    drain_queue(fast_farm)
    first, second = agent_client(fast_farm), agent_client(fast_farm)
    first_id, second_id = register(first), register(second)
    job = submit(fast_farm)
    got = claim(first, first_id)
    # The first agent goes silent: the second one's claim waits until the sweeper takes the lease back.
    again = claim(second, second_id, wait_s=10)
    assert again is not None and again["job"]["id"] == job["id"]
    lost = first.post(f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": got["lease"]["id"]})
    assert lost.status_code == 409
    assert lost.json()["type"].endswith("/lease-lost")
    # Its stale lease is a lost lease (drop the job), not a bad key (403 would stop the agent).
    late = first.post(
        f"/api/farm/jobs/{job['id']}/outputs",
        data={"lease_id": got["lease"]["id"]},
        files={"files": ("late.mp4", b"\x00\x00\x00\x18ftypmp42 late", "video/mp4")},
    )
    assert late.status_code == 409 and late.json()["type"].endswith("/lease-lost")
    state = fast_farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
    # Two tries; the lost lease is nobody's failure: no failure mark, the first agent may take it again.
    assert state["attempts"] == 2 and state["failed_agents"] == [] and state["failures"] == []
    assert state["lease_losses"] == 1 and state["agent_id"] == second_id
    assert fast_farm.admin.get("/api/farm/blocklist", params={"agent_id": first_id}).json() == []


def test_a_job_running_past_its_timeout_is_taken_back(fast_farm: Api) -> None:
    drain_queue(fast_farm)
    agent = agent_client(fast_farm)
    agent_id = register(agent)
    job = submit(fast_farm, timeout_s=10)
    got = claim(agent, agent_id)
    assert got["job"]["id"] == job["id"]
    deadline = time.monotonic() + 30
    state = {}
    while time.monotonic() < deadline:
        # The agent keeps its lease alive, but the job has run too long.
        beat = agent.post(f"/api/farm/jobs/{job['id']}/heartbeat", json={"lease_id": got["lease"]["id"]})
        state = fast_farm.admin.get(f"/api/farm/jobs/{job['id']}").json()
        if beat.status_code == 409:
            break
        time.sleep(0.25)  # well inside the 1 s lease: only the timeout may take the job back
    assert state["status"] in ("queued", "failed")
    assert "timeout" in state["error"]


def test_a_stopping_server_answers_waiting_claims_at_once_and_stops_quickly(tmp_path) -> None:
    server, password = start_server_with_admin(tmp_path / "stopping", None)
    try:
        admin = login(server.url, ADMIN, password)
        agent = agent_client(Api(server.url, server.ws_url, admin, "sqlite"))
        agent_id = register(agent)
        answer: dict[str, Any] = {}

        def wait() -> None:
            response = agent.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 30})
            answer["status"], answer["at"] = response.status_code, time.monotonic()

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(1.0)
        asked = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        waiter.join(timeout=20)
        server.process.wait(timeout=20)
        stopped = time.monotonic()
        assert answer["status"] == 204  # told "nothing for you", not cut off
        assert answer["at"] - asked < 3 and stopped - asked < 4.5  # well before the 5 s forced shutdown
        assert "timeout graceful shutdown exceeded" not in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("body", ["[1]", '"x"', "3", "{}", '{"KSampler": 1}', "not json"])
def test_an_object_info_that_is_not_a_node_catalogue_is_refused_naming_the_body(farm: Api, body: str) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    response = agent.put(
        f"/api/farm/agents/{agent_id}/object-info", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body"
