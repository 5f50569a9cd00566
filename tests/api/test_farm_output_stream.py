"""A job's output upload as the agent sees it: streamed to the job's folder, a stale lease refused before
any file byte is kept, unknown fields refused, nothing left behind by a refused upload."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tests.api.test_farm import agent_client, claim, drain_queue, register, submit
from tests.support.api import Api


@pytest.fixture
def farm(api: Api) -> Api:
    drain_queue(api)
    return api


def test_outputs_stream_in_and_a_refused_upload_leaves_nothing(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == job["id"]
    url = f"/api/farm/jobs/{job['id']}/outputs"
    video = bytes(range(256)) * (24 * 4096)  # 24 MiB: several of the server's 4 MiB batches
    files = {"files": ("clip.mp4", video, "video/mp4")}

    stale = agent.post(url, data={"lease_id": "an-old-lease"}, files=files)
    assert stale.status_code == 409, stale.text
    assert stale.json()["type"].endswith("lease-lost")
    unknown = agent.post(url, data={"lease_id": got["lease"]["id"], "comment": "hi"}, files=files)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "comment"

    stored = agent.post(url, data={"lease_id": got["lease"]["id"]}, files=files)
    assert stored.status_code == 200, stored.text
    (entry,) = stored.json()["outputs"]
    assert (entry["name"], entry["size"]) == ("clip.mp4", len(video))
    assert entry["sha256"] == hashlib.sha256(video).hexdigest()
    back = agent.get(f"{url}/clip.mp4")
    assert back.status_code == 200 and back.content == video
    if farm.data_dir is not None:  # the refused uploads left no part file next to the output
        folder = farm.data_dir / "storage" / ".farm" / "jobs" / job["id"]
        assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4"]


def test_an_output_whose_bytes_differ_from_the_agents_sha256_is_refused_and_not_kept(farm: Api) -> None:
    agent = agent_client(farm)
    agent_id = register(agent)
    job = submit(farm)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == job["id"]
    url = f"/api/farm/jobs/{job['id']}/outputs"
    video = bytes(range(256)) * (20 * 4096)  # 20 MiB
    sent = hashlib.sha256(video).hexdigest()
    damaged = video[:-1] + bytes([video[-1] ^ 1])  # one bit flipped on the way
    lease_id = got["lease"]["id"]

    refused = agent.post(
        url, data={"lease_id": lease_id, "sha256": sent}, files={"files": ("clip.mp4", damaged, "video/mp4")}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "sha256"
    assert (
        sent in refused.json()["detail"] and hashlib.sha256(damaged).hexdigest() in refused.json()["detail"]
    )
    assert agent.get(f"{url}/clip.mp4").status_code == 404
    not_hex = agent.post(
        url, data={"lease_id": lease_id, "sha256": "abc"}, files={"files": ("clip.mp4", video, "video/mp4")}
    )
    assert not_hex.status_code == 422 and not_hex.json()["errors"][0]["field"] == "sha256"
    two = agent.post(
        url,
        data={"lease_id": lease_id, "sha256": [sent, sent]},
        files={"files": ("clip.mp4", video, "video/mp4")},
    )
    assert two.status_code == 422 and "one per file" in two.json()["detail"]

    # The same name again with the right bytes is stored: the refused upload left nothing to clash with.
    stored = agent.post(
        url,
        data={"lease_id": lease_id, "sha256": sent.upper()},
        files={"files": ("clip.mp4", video, "video/mp4")},
    )
    assert stored.status_code == 200, stored.text
    (entry,) = stored.json()["outputs"]
    assert (entry["size"], entry["sha256"]) == (len(video), sent)
    assert agent.get(f"{url}/clip.mp4").content == video
    if farm.data_dir is not None:
        folder = farm.data_dir / "storage" / ".farm" / "jobs" / job["id"]
        assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4"]


def test_a_lost_tries_files_are_removed_when_the_job_completes_and_its_outputs_kept(farm: Api) -> None:
    """An agent uploads part of a job's outputs, restarts (its lease is lost, the job requeued without those
    outputs), and the next try uploads other files and completes: the first try's files leave the job's
    folder; the completed job's own outputs stay and download."""
    agent = agent_client(farm)
    name = f"gpu-tidy-{uuid.uuid4().hex[:8]}"
    agent_id = register(agent, name=name)
    job = submit(farm)
    url = f"/api/farm/jobs/{job['id']}/outputs"
    first = claim(agent, agent_id)
    assert first is not None and first["job"]["id"] == job["id"]
    lost = agent.post(
        url,
        data={"lease_id": first["lease"]["id"]},
        files=[
            ("files", ("clip_00001_.mp4", b"first try, cut off", "video/mp4")),
            ("files", ("clip_00001_.png", b"first try's still", "image/png")),
        ],
    )
    assert lost.status_code == 200, lost.text
    assert register(agent, name=name) == agent_id  # the agent restarts: its lease is lost
    second = claim(agent, agent_id)
    assert second is not None and second["job"]["id"] == job["id"]
    lease_id = second["lease"]["id"]
    kept = agent.post(
        url, data={"lease_id": lease_id}, files={"files": ("clip_00002_.mp4", b"second try", "video/mp4")}
    )
    assert kept.status_code == 200, kept.text
    done = agent.post(f"/api/farm/jobs/{job['id']}/complete", json={"lease_id": lease_id, "gpu_seconds": 1.0})
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text
    assert [o["name"] for o in done.json()["outputs"]] == ["clip_00002_.mp4"]
    assert agent.get(f"{url}/clip_00002_.mp4").content == b"second try"
    assert agent.get(f"{url}/clip_00001_.mp4").status_code == 404
    if farm.data_dir is not None:
        folder = farm.data_dir / "storage" / ".farm" / "jobs" / job["id"]
        assert sorted(p.name for p in folder.iterdir()) == ["clip_00002_.mp4"]
