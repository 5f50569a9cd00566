"""The event hub reads events committed elsewhere back in slices (issue 18 §1): a 20,000-event shot-list
import is committed by an import process and announced by the server moments later, already made into
messages; the read-back stops as soon as that announcement is here, and while the server waits for a child
process that writes (`child_writing`) nothing is read back at all, for a bounded time. Every event still
reaches listeners exactly once, in order. On a real migrated SQLite database, with the hub's own dispatch
loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from sync_server import events
from sync_server.db.engine import Database
from sync_server.db.models import AuditEvent
from sync_server.events import FETCH_SLICE, EventHub, event_message, pack_messages
from tests.support.aio import run as run_async
from tests.support.statements import migrated_database

EVENTS = AuditEvent.__table__
COUNT = 2 * FETCH_SLICE + FETCH_SLICE // 2


@pytest.fixture(params=["sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from migrated_database(request, tmp_path / "events.db")


def commit_elsewhere(db: Database, count: int) -> None:
    """`count` events committed as another process would (the hub is not told)."""
    with db.write_sessions() as session:
        session.execute(
            insert(EVENTS),
            [
                {"action": "shot.updated", "entity": "shot", "entity_id": str(i), "changes": {}}
                for i in range(count)
            ],
        )
        session.commit()


def all_messages(db: Database) -> list[dict[str, Any]]:
    """Every stored event as the committing process would announce it."""
    with db.read_sessions() as session:
        return [event_message(row) for row in session.execute(select(EVENTS).order_by(EVENTS.c.id))]


async def dispatched(db: Database, announce_after_first_slice: bool) -> tuple[list[int], list[int]]:
    """(ids the listeners got, rows each read-back returned)."""
    hub = EventHub(db, 0.05, str(db.engine.url))
    await hub.start()
    got: list[int] = []
    hub.add_loop_listener(lambda message: got.append(message["id"]))
    reads: list[int] = []
    read = hub._fetch

    def counted(last_id: int, requested: set[int]) -> list[dict[str, Any]]:
        rows = read(last_id, requested)
        if rows:
            reads.append(len(rows))
            if announce_after_first_slice and len(reads) == 1:
                hub.announce_messages(all_messages(db))  # the import's answer lands during the first slice
        return rows

    hub._fetch = counted  # type: ignore[method-assign]
    await asyncio.to_thread(commit_elsewhere, db, COUNT)
    try:
        for _ in range(200):
            if len(got) >= COUNT:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # nothing more may come
    finally:
        await hub.stop()
    return got, reads


def test_events_committed_elsewhere_are_read_back_in_slices_once_each_in_order(db: Database) -> None:
    got, reads = run_async(dispatched(db, announce_after_first_slice=False))
    assert got == sorted(got) and len(got) == len(set(got)) == COUNT
    assert max(reads) == FETCH_SLICE and sum(reads) == COUNT


def test_the_read_back_stops_when_the_announcement_brings_the_rest(db: Database) -> None:
    got, reads = run_async(dispatched(db, announce_after_first_slice=True))
    assert got == sorted(got) and len(got) == len(set(got)) == COUNT
    assert sum(reads) == FETCH_SLICE  # the other events came from the announcement, not the database


async def while_a_child_writes(
    db: Database, announce: bool, works_for_s: float = 0.0
) -> tuple[list[int], list[int]]:
    """(ids the listeners got, rows each read-back returned) when COUNT events are committed elsewhere while
    a child process is writing; `announce`: this process then announces them, as after an import;
    `works_for_s`: the child works this long before it commits."""
    hub = EventHub(db, 0.05, str(db.engine.url))
    await hub.start()
    got: list[int] = []
    hub.add_loop_listener(lambda message: got.append(message["id"]))
    reads: list[int] = []
    read = hub._fetch

    def counted(last_id: int, requested: set[int]) -> list[dict[str, Any]]:
        rows = read(last_id, requested)
        if rows:
            reads.append(len(rows))
        return rows

    hub._fetch = counted  # type: ignore[method-assign]
    try:
        with hub.child_writing():
            await asyncio.sleep(works_for_s)
            await asyncio.to_thread(commit_elsewhere, db, COUNT)
            await asyncio.sleep(0.5)  # ten polls meanwhile
            if announce:
                assert got == [] and reads == []  # left for the announcement
                hub.announce_packed(pack_messages(all_messages(db)))
            else:
                for _ in range(100):
                    if len(got) >= COUNT:
                        break
                    await asyncio.sleep(0.05)
        for _ in range(100):
            if len(got) >= COUNT:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # nothing more may come
    finally:
        await hub.stop()
    return got, reads


def test_nothing_is_read_back_while_a_child_writes_what_this_process_announces(db: Database) -> None:
    got, reads = run_async(while_a_child_writes(db, announce=True))
    assert got == sorted(got) and len(got) == len(set(got)) == COUNT
    assert reads == []  # every event came from the announcement


def test_a_child_that_works_longer_than_the_deferral_before_it_commits_is_not_read_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deferral counts from the child's commit, not from its start: an import that parses for minutes
    before its one commit was read back whole the moment it committed (the GIL held for seconds)."""
    monkeypatch.setattr(events, "READBACK_DEFER_S", 2.0)
    got, reads = run_async(while_a_child_writes(db, announce=True, works_for_s=1.6))
    assert got == sorted(got) and len(got) == len(set(got)) == COUNT
    assert reads == []  # every event came from the announcement


def test_events_nobody_announces_are_read_back_after_the_deferral(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "READBACK_DEFER_S", 0.2)
    got, reads = run_async(while_a_child_writes(db, announce=False))
    assert got == sorted(got) and len(got) == len(set(got)) == COUNT
    assert sum(reads) == COUNT
