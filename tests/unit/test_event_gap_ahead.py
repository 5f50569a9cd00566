"""While a child process of the server writes events (`EventHub.child_writing`), the hub does not read
unknown events back for up to READBACK_DEFER_S (5 s): the gap is most likely the child's, announced moments
later. The server's own commits are not held back behind that gap: a subscriber gets them within a second,
the child's events still reach it exactly once when announced, and a client that resumes from the last
event it got (its own commit, ahead of the child's lower ids, or one of the child's, after the own commit)
misses nothing and gets nothing twice. On a real migrated SQLite database and on PostgreSQL, where the
child's transaction may still be open (ids taken, not committed) when the own commit lands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from sync_server import events
from sync_server.context import SYSTEM
from sync_server.db.engine import Database
from sync_server.db.models import AuditEvent
from sync_server.events import EventHub, Subscriber, event_message, pack_messages
from tests.support.aio import run as run_async
from tests.support.statements import migrated_database

EVENTS = AuditEvent.__table__
CHILD_EVENTS = 300
OWN_WITHIN_S = 1.0  # READBACK_DEFER_S is 5 s: an own event held behind the gap takes that long
CHILD_WITHIN_S = 5.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from migrated_database(request, tmp_path / "events.db")


def _rows(count: int, action: str) -> list[dict[str, Any]]:
    return [{"action": action, "entity": "shot", "entity_id": str(i), "changes": {}} for i in range(count)]


def _messages(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    with db.read_sessions() as session:
        rows = session.execute(select(EVENTS).where(EVENTS.c.id.in_(ids)).order_by(EVENTS.c.id))
        return [event_message(row) for row in rows]


def _commit(db: Database, count: int, action: str) -> list[int]:
    """`count` events committed in one transaction; their ids."""
    with db.write_sessions() as session:
        ids = list(session.scalars(insert(EVENTS).returning(EVENTS.c.id), _rows(count, action)))
        session.commit()
    return sorted(ids)


class ChildTransaction:
    """The child process's write: its events inserted (ids taken) in a transaction left open until `commit`
    (PostgreSQL: an own commit may land meanwhile with a higher id)."""

    def __init__(self, db: Database) -> None:
        self._connection: Connection = db.engine.connect()
        self._transaction = self._connection.begin()
        result = self._connection.execute(insert(EVENTS).returning(EVENTS.c.id), _rows(CHILD_EVENTS, "child"))
        self.ids = sorted(result.scalars())

    def commit(self) -> None:
        self._transaction.commit()
        self._connection.close()


async def _take(subscriber: Subscriber, count: int, within_s: float) -> list[dict[str, Any]]:
    got = []
    async with asyncio.timeout(within_s):
        while len(got) < count:
            got.append(await subscriber.queue.get())
    return got


async def _own_commit(hub: EventHub, db: Database) -> list[dict[str, Any]]:
    """A commit of this process (as after a PATCH): committed, then announced."""
    ids = await asyncio.to_thread(_commit, db, 1, "own")
    messages = await asyncio.to_thread(_messages, db, ids)
    hub.announce_messages(messages)
    return messages


async def _gap_then_own_commits(db: Database, in_flight: bool) -> dict[str, Any]:
    """A child writes CHILD_EVENTS events; meanwhile this process commits twice. Returns what a subscriber
    from the start got (and when) and what resuming clients replay."""
    hub = EventHub(db, 0.05, str(db.engine.url))
    await hub.start()
    start_id = hub.last_event_id
    watcher = hub.subscribe(SYSTEM, None)  # stays connected throughout
    leaver = hub.subscribe(SYSTEM, None)  # leaves after the own commits
    result: dict[str, Any] = {}
    try:
        with hub.child_writing():
            if in_flight:
                child = await asyncio.to_thread(ChildTransaction, db)
                child_ids = child.ids
            else:  # committed, not announced yet (SQLite: the child's transaction ends before ours can start)
                child_ids = await asyncio.to_thread(_commit, db, CHILD_EVENTS, "child")
            loop = asyncio.get_running_loop()
            began = loop.time()
            own = await _own_commit(hub, db) + await _own_commit(hub, db)
            result["own_ids"] = [m["id"] for m in own]
            result["own_got"] = await _take(watcher, 2, OWN_WITHIN_S)
            result["own_after_s"] = loop.time() - began
            result["leaver_got"] = await _take(leaver, 2, OWN_WITHIN_S)
            hub.unsubscribe(leaver)  # the client goes away: its resume point is the last event it got
            result["hello_point"] = hub.last_event_id  # what a client subscribing now is told
            result["early_child"] = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
            if in_flight:
                await asyncio.to_thread(child.commit)
            hub.announce_packed(pack_messages(await asyncio.to_thread(_messages, db, child_ids)))
            result["child_got"] = await _take(watcher, CHILD_EVENTS, CHILD_WITHIN_S)
        await asyncio.sleep(0.5)  # the read-back after the child: nothing may come twice
        result["later"] = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
        result["child_ids"] = child_ids
        result["start_id"] = start_id
        replay_to = 10 * CHILD_EVENTS

        def resume(since: int) -> list[int]:
            return [m["id"] for m in hub.replay(since, None, replay_to, hub.resume_plan(since))]

        # Resumes: from the own commit last received (ahead of the child's lower ids), from one of the
        # child's events received after it, from the point a client subscribing at that moment was told.
        result["from_own"] = await asyncio.to_thread(resume, result["leaver_got"][-1]["id"])
        result["from_child"] = await asyncio.to_thread(resume, child_ids[99])
        result["from_hello"] = await asyncio.to_thread(resume, result["hello_point"])
        result["from_start"] = await asyncio.to_thread(resume, start_id)
    finally:
        await hub.stop()
    return result


@pytest.mark.parametrize("in_flight", [False, True], ids=["child-committed", "child-in-flight"])
def test_own_commits_are_not_held_back_behind_a_childs_gap(db: Database, in_flight: bool) -> None:
    if in_flight and db.dialect != "postgresql":
        pytest.skip("SQLite has one writer: the child's transaction ends before the server's can start")
    got = run_async(_gap_then_own_commits(db, in_flight))
    own_ids, child_ids = got["own_ids"], got["child_ids"]
    assert max(child_ids) < min(own_ids)  # the child took its ids first: the own commits are past its gap
    # The own commits within a second, in commit order, although the child's events are not sent yet.
    assert [m["id"] for m in got["own_got"]] == own_ids
    assert got["own_after_s"] < OWN_WITHIN_S
    assert got["early_child"] == []  # the child's events are not read back: they come with its announcement
    # The child's events, all of them, once each, in order; nothing more afterwards.
    assert [m["id"] for m in got["child_got"]] == child_ids
    assert [m["action"] for m in got["child_got"]] == ["child"] * CHILD_EVENTS
    assert got["later"] == []
    # A client that left after the own commits (its last event the second one) resumes with the child's
    # events it missed, though their ids are lower, and without the own commits again.
    assert got["from_own"] == child_ids
    # One that got the own commits and the child's first 100 gets the child's other 200, not the own again.
    assert got["from_child"] == child_ids[100:]
    # A client that subscribed while the gap was open was told the own commit as its point: the same.
    assert got["hello_point"] == own_ids[-1]
    assert got["from_hello"] == child_ids
    # From before it all: everything once, in the order it was sent (the own commits first).
    assert got["from_start"] == own_ids + child_ids


def test_a_resume_reads_late_ids_given_as_a_list_the_same(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The late ids are read as ranges of consecutive ids (one for a child's commit); past MAX_ID_RUNS
    # ranges as a list of ids.
    monkeypatch.setattr(events, "MAX_ID_RUNS", 0)
    got = run_async(_gap_then_own_commits(db, in_flight=db.dialect == "postgresql"))
    assert got["from_own"] == got["from_hello"] == got["child_ids"]
    assert got["from_child"] == got["child_ids"][100:]
    assert got["from_start"] == got["own_ids"] + got["child_ids"]
