"""Live events: every audit event with a project is pushed to subscribed WebSocket clients.

One dispatcher per server process reads new events from the database and fans them out. It is woken by
the local commit (SQLite) or by PostgreSQL LISTEN/NOTIFY, so a change made through one server process
reaches the clients of every other process. A slow poll catches anything a notification missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pickle
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Row, func, or_, select
from sqlalchemy.engine import make_url

from aipipe_shared.aio import wait_event

from .auth.permissions import Permission
from .context import EVENTS, PG_CHANNEL, Principal
from .db.engine import Database
from .db.models import AuditEvent

logger = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 2000
DISPATCHED_MEMORY = 20000
KNOWN_MAX = 20000  # own events kept for dispatch without a read-back
FAN_OUT_SLICE = 500  # messages fanned out between two yields to the event loop
# Events read back from the database per pass. A 20,000-event import committed by an import process is
# announced by this process moments after its commit (already made into messages); on PostgreSQL its
# notifications arrive first. Read in slices, the read-back stops as soon as the announcement is here
# (its events are then taken from memory): reading them all back held this process's GIL for a second or more.
FETCH_SLICE = 1000
# Messages a child process hands over per pickled slice (`pack_messages`): the server unpickles one slice at a
# time, so the GIL changes hands between slices; 20,000 events unpickled in one call held it ~0.4 s.
PACK_SLICE = 500
# While a child process of this server writes events that this process will announce (`child_writing`),
# events not known yet are not read back for up to this long: they are most likely the child's, committed
# moments before its announcement (reading 20,000 back held this process's GIL for seconds). Anything else
# (another process's events, the safety poll) is read this much later at most. This process's own commits
# are not held back meanwhile: they are sent at once, ahead of the gap (`_known_ahead`), and the gap's events
# follow later; a resume from an id works in that order (`resume_plan`).
READBACK_DEFER_S = 5.0
MAX_ID_RUNS = 100  # a resume's late ids are read as this many id ranges at most, else as a list
LISTEN_RETRY_S = 2.0
# Live readings (agent heartbeats, job progress) go to the other server processes on PostgreSQL on their own
# channel, as JSON {"o": origin process, "m": the message}; never stored. A NOTIFY payload holds < 8000 bytes.
PG_LIVE_CHANNEL = f"{PG_CHANNEL}_live"
LIVE_PAYLOAD_MAX = 7900
LIVE_OUT_MAX = 1000  # readings waiting to be sent to the other processes; the oldest are dropped past it
FARM_ENTITIES = ("agent", "job")
FARM_READERS = (Permission.FARM_MANAGE, Permission.PROJECT_READ)


def event_message(event: AuditEvent | Row[Any]) -> dict[str, Any]:
    """The documented JSON shape of one event (docs/events.md)."""
    return {
        "type": "event",
        "id": event.id,
        "at": event.at.isoformat(),
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "project_id": str(event.project_id) if event.project_id else None,
        "revision": event.revision_after,
        "revision_before": event.revision_before,
        "actor": {
            "id": str(event.actor_id) if event.actor_id else None,
            "name": event.actor_name,
            "kind": event.actor_kind,
        },
        "changes": event.changes,
        "data": event.data,
    }


def _id_runs(ids: tuple[int, ...]) -> list[tuple[int, int]]:
    """Sorted ids as runs of consecutive ids, (first, last) each."""
    runs: list[tuple[int, int]] = []
    for event_id in ids:
        if runs and event_id == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], event_id)
        else:
            runs.append((event_id, event_id))
    return runs


def pack_messages(messages: list[dict[str, Any]]) -> list[bytes]:
    """(In a child process.) Event messages as pickled slices, for `EventHub.announce_packed`."""
    return [
        pickle.dumps(messages[start : start + PACK_SLICE], protocol=pickle.HIGHEST_PROTOCOL)
        for start in range(0, len(messages), PACK_SLICE)
    ]


@dataclass(frozen=True)
class ResumePlan:
    """What a client that resumes from event `since` missed besides the events after it, by the order this
    process sent events in: `seq` is when `since` was sent (None: not sent by this process, or too long ago);
    `late` the ids below `since` sent after it (a child's events that own commits overtook, or PostgreSQL
    transactions that committed out of id order)."""

    since: int
    seq: int | None = None
    late: tuple[int, ...] = ()


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    project_id: uuid.UUID | None
    queue_size: int = SUBSCRIBER_QUEUE_SIZE
    queue: asyncio.Queue[dict[str, Any]] = field(init=False)
    overflowed: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def wants(self, message: dict[str, Any]) -> bool:
        project = message["project_id"]
        if project is None:
            if self.principal.role == "admin":
                return True
            # Agents and project-less jobs: whoever may read the farm (as GET /api/farm/... allows), on an
            # unfiltered stream.
            return (
                message.get("entity") in FARM_ENTITIES
                and self.project_id is None
                and any(self.principal.can(p) for p in FARM_READERS)
            )
        return self.project_id is None or project == str(self.project_id)


class EventHub:
    """Fan-out of committed events to this process's WebSocket subscribers."""

    def __init__(
        self,
        db: Database,
        poll_interval_s: float,
        database_url: str,
        queue_size: int = SUBSCRIBER_QUEUE_SIZE,
    ) -> None:
        self._db = db
        self._queue_size = queue_size  # events one client may fall behind before it is told to resume
        self._poll_interval_s = poll_interval_s
        self._database_url = database_url
        self._subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._requested: set[int] = set()
        self._known: dict[int, dict[str, Any]] = {}  # own committed events not dispatched yet
        # Sent events: id -> the order it was sent in (its seq), for the last DISPATCHED_MEMORY of them.
        self._dispatched: dict[int, int] = {}
        self._dispatched_order: deque[int] = deque()
        self._seq = 0
        self._late: deque[tuple[int, int]] = deque()  # (seq, id) of events sent after a higher id
        self._last_id = 0  # every event up to this id has been read or sent (the read-back starts after it)
        self._top_id = 0  # the highest id sent
        self._last_sent_id = 0  # the id of the event sent last (a client's resume point after it)
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: list[
            tuple[Callable[[list[dict[str, Any]]], None], Callable[[dict[str, Any]], bool] | None]
        ] = []
        self._loop_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._commit_listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self._listener_queue: asyncio.Queue[list[dict[str, Any]]] | None = None
        self._children_lock = threading.Lock()
        self._children_writing = 0  # child processes writing events this process will announce
        self._deferred_since: float | None = None
        self.dispatched_total = 0
        self._origin = uuid.uuid4().hex  # this process, in the live readings it sends to the others
        self._live_out: deque[dict[str, Any]] = deque(maxlen=LIVE_OUT_MAX)
        self._live_wake: asyncio.Event | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def overflowed_count(self) -> int:
        """Subscribers that fell behind and are being closed (1013)."""
        return sum(1 for subscriber in self._subscribers if subscriber.overflowed)

    @property
    def last_event_id(self) -> int:
        """The id of the event sent last: a client that subscribes now resumes from it (`resume_plan`). Not
        always the highest: events of a gap may be sent after this process's own later commits."""
        return self._last_sent_id

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._last_id = await asyncio.to_thread(self._max_id)
        self._top_id = self._last_sent_id = self._last_id
        self._listener_queue = asyncio.Queue()
        self._tasks.append(asyncio.create_task(self._dispatch_loop(), name="aipipe-event-dispatch"))
        self._tasks.append(asyncio.create_task(self._listener_loop(), name="aipipe-event-listeners"))
        if self._db.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="aipipe-event-listen"))
            self._live_wake = asyncio.Event()
            self._tasks.append(
                asyncio.create_task(self._live_send_loop(self._conninfo()), name="aipipe-live-send")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # -- producers ------------------------------------------------------------------------------------

    def announce(self, events: list[AuditEvent]) -> None:
        """Called from any thread after a commit in this process, with the events it recorded."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # The messages are made here, in the committing thread: an import commits tens of thousands.
        self.announce_messages([event_message(event) for event in events])

    def announce_messages(self, messages: list[dict[str, Any]]) -> None:
        """`announce` with the events already made into messages (`event_message`), e.g. by the child
        process that committed them: 20,000 plain dicts cross the process boundary far cheaper than events."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._committed_here, messages)

    def announce_packed(self, packed: list[bytes]) -> None:
        """`announce_messages` with messages a child process of this server packed (`pack_messages`):
        unpickled here, in the calling worker thread, one slice at a time (never on the event loop)."""
        messages: list[dict[str, Any]] = []
        for part in packed:
            messages += pickle.loads(part)  # made by this server's own child process
        if messages:
            self.announce_messages(messages)

    @contextlib.contextmanager
    def child_writing(self) -> Iterator[None]:
        """Around a child process's write whose events this process then announces (`announce_packed`, inside
        the block): meanwhile the dispatcher does not read unknown events back (up to READBACK_DEFER_S)."""
        with self._children_lock:
            self._children_writing += 1
        try:
            yield
        finally:
            with self._children_lock:
                self._children_writing -= 1
            loop, wake = self._loop, self._wake
            if loop is not None and wake is not None and not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)  # after the announcement: read what is still missing

    def publish_live(self, message: dict[str, Any]) -> None:
        """From any thread: a live reading that is not an audit event (job progress, an agent's GPUs), as
        `{"type": "live", "entity", "entity_id", "project_id", "data"}`. Sent to this process's subscribers
        that may see it; never stored or replayed (a client that reconnects reads the current state)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._live_here, message)

    def _live_here(self, message: dict[str, Any]) -> None:
        """A reading this process received: to its subscribers and, on PostgreSQL, to the other processes'."""
        self._deliver(message)
        if self._live_wake is not None:
            self._live_out.append(message)
            self._live_wake.set()

    def _live_received(self, payload: str) -> None:
        """A live reading another server process sent on PG_LIVE_CHANNEL: to this process's subscribers."""
        try:
            sent = json.loads(payload)
            origin, message = sent["o"], sent["m"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed live reading notification", extra={"payload": payload[:200]})
            return
        if origin != self._origin and isinstance(message, dict) and message.get("type") == "live":
            self._deliver(message)

    async def _live_send_loop(self, conninfo: str) -> None:
        """Send this process's live readings to the other server processes (PostgreSQL NOTIFY on its own
        connection). While the database is away they are dropped: a reading is only worth its moment."""
        assert self._live_wake is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    while True:
                        await self._live_wake.wait()
                        self._live_wake.clear()
                        while self._live_out:
                            payload = json.dumps(
                                {"o": self._origin, "m": self._live_out.popleft()},
                                ensure_ascii=False,
                                default=str,
                            )
                            if len(payload.encode()) > LIVE_PAYLOAD_MAX:
                                logger.warning("a live reading too big to notify: kept to this process")
                                continue
                            await conn.execute("SELECT pg_notify(%s, %s)", (PG_LIVE_CHANNEL, payload))
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError):
                logger.exception("live readings lost their PostgreSQL connection; reconnecting")
                self._live_out.clear()
                await asyncio.sleep(LISTEN_RETRY_S)

    def _committed_here(self, messages: list[dict[str, Any]]) -> None:
        # Kept, so that they need not be read back when they are the next ones (`_known_next`).
        if len(self._known) > KNOWN_MAX:
            self._known.clear()
        for message in messages:
            if message["id"] > self._last_id:
                self._known[message["id"]] = message
        for listener in self._commit_listeners:
            listener(messages)
        self._request([message["id"] for message in messages])

    def add_commit_listener(self, listener: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call `listener(events)` in the event loop with each commit of this process as it is announced:
        before the request that made it is answered, ahead of the ordered fan-out."""
        self._commit_listeners.append(listener)

    def _request(self, event_ids: list[int]) -> None:
        self._requested.update(event_ids)
        if self._wake is not None:
            self._wake.set()

    def add_loop_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener(event)` in the event loop for every event (it must be quick and not block)."""
        self._loop_listeners.append(listener)

    def add_listener(
        self,
        listener: Callable[[list[dict[str, Any]]], None],
        wants: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Call `listener(events)` (blocking, in a worker thread, in order) after each batch is fanned out,
        with the events `wants` accepts (all when None); a batch with none of them costs no thread."""
        self._listeners.append((listener, wants))

    async def _listener_loop(self) -> None:
        assert self._listener_queue is not None
        while True:
            batch = await self._listener_queue.get()
            for listener, wants in self._listeners:
                mine = batch if wants is None else await self._wanted(batch, wants)
                if not mine:
                    continue
                try:
                    await asyncio.to_thread(listener, mine)
                except Exception:
                    logger.exception("event listener %r failed", listener)

    @staticmethod
    async def _wanted(
        batch: list[dict[str, Any]], wants: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """The messages `wants` accepts, FAN_OUT_SLICE at a time between yields to the event loop."""
        mine: list[dict[str, Any]] = []
        for start in range(0, len(batch), FAN_OUT_SLICE):
            if start:
                await asyncio.sleep(0)
            mine += [m for m in batch[start : start + FAN_OUT_SLICE] if wants(m)]
        return mine

    # -- subscribers ----------------------------------------------------------------------------------

    def subscribe(self, principal: Principal, project_id: uuid.UUID | None) -> Subscriber:
        subscriber = Subscriber(principal, project_id, self._queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def resume_plan(self, since: int) -> ResumePlan:
        """(On the event loop, after `subscribe`.) What a client whose last event was `since` missed, besides
        the events after it: the ones below it that this process sent after it. Quick: it walks back over
        the late events sent since then only."""
        seq = self._dispatched.get(since)
        if seq is None:
            return ResumePlan(since)
        late = []
        for sent, event_id in reversed(self._late):
            if sent <= seq:
                break
            if event_id < since:
                late.append(event_id)
        return ResumePlan(since, seq, tuple(sorted(late)))

    def replay(
        self, since: int, project_id: uuid.UUID | None, limit: int, plan: ResumePlan | None = None
    ) -> list[dict[str, Any]]:
        """Events a client whose last event was `since` missed, in the order this process sent them (those it
        has not sent yet last, oldest first): the ones after `since` and, with `plan` (`resume_plan`), the
        late ones below it, less those after it that were sent before it. Blocking: call from a worker
        thread."""
        condition = EVENTS.c.id > since
        if plan is not None and plan.late:  # mostly one run of ids (a child's commit): a range each
            runs = _id_runs(plan.late)
            if len(runs) <= MAX_ID_RUNS:
                condition = or_(condition, *(EVENTS.c.id.between(low, high) for low, high in runs))
            else:
                condition = or_(condition, EVENTS.c.id.in_(plan.late))
        query = select(EVENTS).where(condition)
        if project_id is not None:
            query = query.where(EVENTS.c.project_id == project_id)
        with self._db.read_sessions() as session:
            rows = session.execute(query.order_by(EVENTS.c.id).limit(limit)).all()
            messages = [event_message(row) for row in rows]
        sent = self._dispatched  # read only, one key at a time (the event loop adds to it meanwhile)
        unsent = float("inf")
        if plan is not None and plan.seq is not None:
            before = plan.seq  # events after `since` sent before it: the client got them before `since`
            messages = [m for m in messages if m["id"] < since or sent.get(m["id"], unsent) > before]
        messages.sort(key=lambda m: (sent.get(m["id"], unsent), m["id"]))
        return messages

    # -- dispatch -------------------------------------------------------------------------------------

    def _max_id(self) -> int:
        with self._db.read_sessions() as session:
            return session.scalar(select(func.max(AuditEvent.id))) or 0

    def _fetch(self, last_id: int, requested: set[int]) -> list[dict[str, Any]]:
        """The new events as messages (made in the worker thread, not on the event loop)."""
        condition = EVENTS.c.id > last_id
        if requested:
            condition = or_(condition, EVENTS.c.id.in_(requested))
        with self._db.read_sessions() as session:  # rows, not ORM objects: this runs after every commit
            query = select(EVENTS).where(condition).order_by(EVENTS.c.id).limit(FETCH_SLICE)
            rows = session.execute(query).all()
            return [event_message(row) for row in rows]

    async def _dispatch_loop(self) -> None:
        assert self._wake is not None
        while True:
            await wait_event(self._wake, self._poll_interval_s)
            self._wake.clear()
            requested, self._requested = self._requested, set()
            messages = self._known_next(requested)
            ahead = False
            if messages is None and await self._defer_readback(requested):
                # The unknown ones are read back or announced on a later pass. This process's own commits
                # past the gap are sent now, not after it: the gap's events follow.
                self._requested |= self._unknown(requested)
                messages, ahead = self._known_ahead(requested), True
                if not messages:
                    continue
            if messages is None:
                try:
                    messages = await asyncio.to_thread(self._fetch, self._last_id, requested)
                except Exception:
                    logger.exception("event dispatch: reading new events failed; retrying")
                    self._requested |= requested
                    await asyncio.sleep(self._poll_interval_s)
                    continue
                if len(messages) == FETCH_SLICE:
                    # More may follow: the next pass reads on at once, unless an announcement brought them.
                    top = messages[-1]["id"]
                    self._requested |= {i for i in requested if i > top}
                    self._wake.set()
            batch = []
            for count, message in enumerate(messages, start=1):
                if count % FAN_OUT_SLICE == 0:
                    await asyncio.sleep(0)  # a commit of thousands of events lets other work in between
                if not ahead:  # read back (all committed up to it) or the next ones from memory
                    self._last_id = max(self._last_id, message["id"])
                if message["id"] in self._dispatched:
                    continue
                self._remember(message["id"])
                self._fan_out(message)
                batch.append(message)
            while self._last_id + 1 in self._dispatched:  # past events sent ahead of a gap that is now filled
                self._last_id += 1
            for event_id in [i for i in self._known if i <= self._last_id or i in self._dispatched]:
                del self._known[event_id]
            if batch and self._listeners and self._listener_queue is not None:
                self._listener_queue.put_nowait(batch)

    async def _defer_readback(self, requested: set[int]) -> bool:
        """Whether to leave unknown events for now: a child process is writing and will announce its events
        (for READBACK_DEFER_S at most, counted from the first pass that found events it does not know: a child
        may work for minutes before its one commit, and its events must not be read back the moment they
        appear)."""
        if not self._children_writing:
            self._deferred_since = None
            return False
        if self._deferred_since is None and not await self._unknown_events(requested):
            return True  # nothing to read yet (the child has not committed): the window has not begun
        now = time.monotonic()
        if self._deferred_since is None:
            self._deferred_since = now
        if now - self._deferred_since < READBACK_DEFER_S:
            return True
        self._deferred_since = None  # read now; a later gap may wait again
        return False

    def _unknown(self, requested: set[int]) -> set[int]:
        """The requested ids this process neither sent nor knows (from its own commits or an announcement)."""
        return {i for i in requested if i not in self._dispatched and i not in self._known}

    async def _unknown_events(self, requested: set[int]) -> bool:
        """Whether events this process has not sent are committed: notified ones, or any past the last read
        (one max(id) in a worker thread, as cheap as the poll's read it replaces)."""
        if self._unknown(requested):
            return True
        try:
            return await asyncio.to_thread(self._max_id) > self._last_id
        except Exception:
            logger.exception("event dispatch: reading the last event id failed")
            return True  # count the window from now: the read-back retries after it

    def _known_next(self, requested: set[int]) -> list[dict[str, Any]] | None:
        """The requested events from memory when they are exactly the ones after the last dispatched (this
        process's own commits, in order); None: read them from the database (a gap may be another
        process's or another transaction's events, or this is the poll)."""
        fresh = sorted(i for i in requested if i not in self._dispatched)
        if not requested or not all(i in self._known for i in fresh):
            return None
        if fresh != list(range(self._last_id + 1, self._last_id + 1 + len(fresh))):
            return None
        return [self._known[i] for i in fresh]

    def _known_ahead(self, requested: set[int]) -> list[dict[str, Any]]:
        """The requested events this process committed itself (or a child of it announced) that are past a
        gap, in id order: committed, so they may be sent before the gap's events are read back."""
        known = self._known
        if len(known) < len(requested):  # e.g. a child's 20,000 ids notified, a few own commits known
            ids = [i for i in known if i in requested and i not in self._dispatched]
        else:
            ids = [i for i in requested if i in known and i not in self._dispatched]
        return [known[i] for i in sorted(ids)]

    def _remember(self, event_id: int) -> None:
        self._seq += 1
        if event_id < self._top_id:
            self._late.append((self._seq, event_id))
        self._top_id = max(self._top_id, event_id)
        self._last_sent_id = event_id
        self._dispatched[event_id] = self._seq
        self._dispatched_order.append(event_id)
        while len(self._dispatched_order) > DISPATCHED_MEMORY:
            forgotten = self._dispatched.pop(self._dispatched_order.popleft(), 0)
            while self._late and self._late[0][0] <= forgotten:
                self._late.popleft()

    def _fan_out(self, message: dict[str, Any]) -> None:
        self.dispatched_total += 1
        for listener in self._loop_listeners:
            listener(message)
        self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        """Queue `message` for every subscriber that wants it."""
        for subscriber in list(self._subscribers):
            if subscriber.overflowed or not subscriber.wants(message):
                continue
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                # The client is too slow; it is told to reconnect and resume from its last event id.
                subscriber.overflowed = True
                logger.warning("event subscriber overflowed", extra={"principal": subscriber.principal.name})

    def _conninfo(self) -> str:
        """The database URL as psycopg takes it (a plain postgresql:// URL)."""
        return make_url(self._database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def _listen_loop(self) -> None:
        conninfo = self._conninfo()
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {PG_CHANNEL}")
                    await conn.execute(f"LISTEN {PG_LIVE_CHANNEL}")
                    logger.info("listening for events from other server processes")
                    # Anything committed while we were not listening is picked up by id.
                    if self._wake is not None:
                        self._wake.set()
                    async for notify in conn.notifies():
                        if notify.channel == PG_LIVE_CHANNEL:
                            self._live_received(notify.payload)
                            continue
                        try:
                            self._request([int(part) for part in notify.payload.split(",")])
                        except ValueError:
                            logger.warning("ignoring malformed event notification %r", notify.payload)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError):
                logger.exception("event listener lost its PostgreSQL connection; reconnecting")
                await asyncio.sleep(LISTEN_RETRY_S)
