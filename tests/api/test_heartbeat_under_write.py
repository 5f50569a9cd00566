"""Issue 18 §1: an agent's heartbeats are answered at once while another transaction holds the database (a
20,000-row shot-list apply holds SQLite's one write lock about a second): the lease is checked from a read,
the renewal written as soon as the lock is free. On SQLite another connection holds the write lock
(`BEGIN IMMEDIATE`); on PostgreSQL it holds the job's and the agent's rows (`FOR UPDATE`)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, text

from tests.api.test_farm import agent_client, claim, drain_queue, register, submit
from tests.support.api import Api

HELD_S = 3.0  # how long the other transaction holds the lock; old heartbeats waited all of it (or 30 s)


@contextmanager
def write_lock_held(api: Api, job_id: str, agent_id: str) -> Iterator[None]:
    """Another connection holds what a heartbeat writes, until the block ends."""
    if api.backend == "sqlite":
        connection = sqlite3.connect(api.sqlalchemy_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield
            connection.execute("ROLLBACK")
        finally:
            connection.close()
        return
    engine = create_engine(api.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT id FROM jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
            connection.execute(text("SELECT id FROM agents WHERE id = :id FOR UPDATE"), {"id": agent_id})
            yield
            connection.rollback()
    finally:
        engine.dispose()


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def eventually(check: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_heartbeats_are_answered_while_another_transaction_holds_the_write_and_land_after(api: Api) -> None:
    drain_queue(api)
    agent = agent_client(api)
    agent_id = register(agent)
    job = submit(api)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == job["id"]
    lease_id = got["lease"]["id"]
    url = f"/api/farm/jobs/{job['id']}"
    before = api.admin.get(url).json()
    with write_lock_held(api, job["id"], agent_id):
        started = time.monotonic()
        beat = agent.post(
            f"{url}/heartbeat",
            json={"lease_id": lease_id, "progress": 0.6, "stage": "KSampler"},
            timeout=HELD_S,
        )
        alive = agent.post(
            f"/api/farm/agents/{agent_id}/heartbeat",
            json={"state": "unavailable", "reason": "ComfyUI does not answer"},
            timeout=HELD_S,
        )
        # A lease that is not this one's is still refused at once, from the read.
        stale = agent.post(f"{url}/heartbeat", json={"lease_id": "not-the-lease"}, timeout=HELD_S)
        answered_in = time.monotonic() - started
        assert beat.status_code == 200, beat.text
        assert beat.json()["action"] == "continue"
        assert when(beat.json()["lease_expires_at"]) > when(before["lease_expires_at"])
        assert alive.status_code == 200 and alive.json()["action"] == "continue", alive.text
        assert stale.status_code == 409 and stale.json()["type"].endswith("/lease-lost")
        assert answered_in < HELD_S
        # Not written yet: the other transaction still holds it.
        assert api.admin.get(url).json()["progress"] == before["progress"]
    # Written by the flush once the lock is free: the renewal, the progress and the agent's state.
    renewed = eventually(lambda: (j := api.admin.get(url).json())["progress"] == 0.6 and j)
    assert renewed, "the deferred heartbeat was never written"
    assert renewed["stage_text"] == "KSampler"
    assert when(renewed["lease_expires_at"]) == when(beat.json()["lease_expires_at"])
    listed = eventually(
        lambda: [
            a
            for a in api.admin.get("/api/farm/agents").json()
            if a["id"] == agent_id and a["state"] == "unavailable"
        ]
    )
    assert listed and listed[0]["state_reason"] == "ComfyUI does not answer"
    # The lease still works, written at once again.
    assert agent.post(f"{url}/heartbeat", json={"lease_id": lease_id, "progress": 0.7}).status_code == 200
    assert api.admin.get(url).json()["progress"] == 0.7
    agent.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"})
    api.admin.post(f"{url}/cancel")
    agent.post(f"{url}/release", json={"lease_id": lease_id})
    agent.close()
