"""The farm in Prometheus (/api/metrics): gauges from a cached snapshot, counters from job transitions.
An agent here speaks the protocol directly so the test controls its GPU readings, failures and lease."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.web.conftest import WebServer

GPU = {
    "index": 0,
    "name": "NVIDIA GeForce RTX 4090",
    "uuid": "GPU-metrics",
    "vram_total_mb": 24564,
    "vram_free_mb": 4564,
    "vram_used_mb": 20000,
    "utilization_pct": 97,
    "temperature_c": 78,
}
JOB_PARAMS = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
MIB = 1024 * 1024


def samples(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/api/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, **labels: str) -> float:
    return found.get((metric, frozenset(labels.items())), 0.0)


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_farm_gauges_and_counters_follow_jobs_agents_and_gpu_readings(web: WebServer) -> None:
    wrangler_name, _ = web.user("wrangler")
    prometheus = web.client_for(wrangler_name)
    tag = f"metrics-{uuid.uuid4().hex[:6]}"
    name = f"gpu-{tag}"
    key = web.admin.post("/api/api-keys", json={"name": name, "role": "agent"}).json()["key"]
    agent = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    agent_id = agent.post(
        "/api/farm/agents/register", json={"name": name, "gpus": [GPU], "tags": [tag], "job_types": ["i2v"]}
    ).json()["agent_id"]
    before = samples(prometheus)

    # The agent's GPU readings appear per agent, as reported (bytes), once the snapshot is counted again.
    labels = {"agent": name, "gpu": "0", "name": GPU["name"]}
    found = eventually(
        lambda: (
            (s := samples(prometheus)) and value(s, "aipipe_farm_gpu_utilization_percent", **labels) and s
        ),
        "the GPU readings",
    )
    assert value(found, "aipipe_farm_gpu_vram_used_bytes", **labels) == 20000 * MIB
    assert value(found, "aipipe_farm_gpu_vram_total_bytes", **labels) == 24564 * MIB
    assert value(found, "aipipe_farm_gpu_temperature_celsius", **labels) == 78
    assert value(found, "aipipe_farm_agents", state="idle") >= 1

    # Two jobs for this agent only: one fails on a ComfyUI node, one loses its lease.
    submitted = [
        web.admin.post(
            "/api/farm/jobs",
            json={
                "type": "i2v",
                "workflow": "cpu_test_still_video",
                "params": JOB_PARAMS,
                "tags": [tag],
                "max_attempts": 1,
            },
        ).json()
        for _ in range(2)
    ]
    queued = eventually(
        lambda: (
            (s := samples(prometheus))
            and value(s, "aipipe_farm_jobs", state="queued", type="i2v")
            >= value(before, "aipipe_farm_jobs", state="queued", type="i2v") + 2
            and s
        ),
        "the queued jobs to be counted",
    )
    assert value(queued, "aipipe_farm_queue_depth") >= 2
    assert value(queued, "aipipe_farm_oldest_queued_seconds") > 0

    claim = agent.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 5}).json()
    failed = agent.post(
        f"/api/farm/jobs/{claim['job']['id']}/fail",
        json={
            "lease_id": claim["lease"]["id"],
            "error": "ComfyUI: node 12 (KSamplerAdvanced) failed: OutOfMemoryError: CUDA out of memory",
            "kind": "node",
            "retryable": False,
        },
    )
    assert failed.status_code == 200, failed.text
    second = agent.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 5}).json()
    assert {claim["job"]["id"], second["job"]["id"]} == {job["id"] for job in submitted}
    # The second job's lease is never renewed: the server's sweeper takes it back.
    eventually(
        lambda: web.admin.get(f"/api/farm/jobs/{second['job']['id']}").json()["lease_losses"] == 1,
        "the lease to expire",
        timeout_s=30,
    )
    after = samples(prometheus)
    assert value(after, "aipipe_farm_comfyui_errors_total", node_class="KSamplerAdvanced") == 1 + value(
        before, "aipipe_farm_comfyui_errors_total", node_class="KSamplerAdvanced"
    )
    assert (
        value(after, "aipipe_farm_leases_expired_total")
        >= value(before, "aipipe_farm_leases_expired_total") + 1
    )
    runs = ("aipipe_farm_job_duration_seconds_count", {"type": "i2v", "outcome": "failed"})
    assert value(after, runs[0], **runs[1]) == value(before, runs[0], **runs[1]) + 1
    waits = ("aipipe_farm_job_wait_seconds_count", {"type": "i2v"})
    assert value(after, waits[0], **waits[1]) >= value(before, waits[0], **waits[1]) + 2
    web.admin.post(f"/api/farm/jobs/{second['job']['id']}/cancel")


def test_an_artist_may_not_read_the_metrics(web: WebServer) -> None:
    artist, _ = web.user("artist")
    assert web.client_for(artist).get("/api/metrics").status_code == 403


def test_the_grafana_dashboard_and_alert_rules_name_only_metrics_the_server_serves(web: WebServer) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "grafana"
    dashboard = json.loads((docs / "aipipe-farm.json").read_text(encoding="utf-8"))
    rules = yaml.safe_load((docs / "aipipe-farm-alerts.yml").read_text(encoding="utf-8"))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    text = web.admin.get("/api/metrics").text
    served = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    named = {name for expr in expressions for name in re.findall(r"\baipipe_\w+", expr)}
    unknown = sorted(
        name
        for name in named
        if re.sub(r"_(bucket|count|sum)$", "", name) not in served and name not in served
    )
    assert unknown == []
    assert {"AipipeAgentOffline", "AipipeQueueStuck", "AipipeFarmErrorRate"} <= {
        rule["alert"] for group in rules["groups"] for rule in group["rules"]
    }
