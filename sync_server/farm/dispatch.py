"""Claims served in passes, one pass at a time per server process.

An agent's claim (`POST /api/farm/agents/{id}/claim`) waits here. A pass serves, in one write transaction,
every waiter that has not been tried since the last change that could make a job runnable: a new waiter
alone, or everyone after a job was queued, requeued or finished (a child may be runnable), an agent was
undrained or unblocked, a retry back-off ran out, or every few seconds as a safety net. So a new job costs
one transaction however many agents wait, and concurrent claims share transactions instead of queueing
for the database one by one. Another server process serves its own waiters; the database keeps them
apart (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite one writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from aipipe_shared.aio import wait_event

from ..db.base import utcnow
from ..db.models import Job
from ..settings import Settings
from .candidates import Candidates
from .claim import ClaimRequest, claim_pass
from .schemas import Claim

if TYPE_CHECKING:
    from ..db.engine import Database
    from ..events import EventHub

logger = logging.getLogger(__name__)

RECHECK_S = 5.0  # every waiter is tried again at least this often (lease expiry, clock-based changes)
DISCONNECT_CHECK_S = 5.0  # a long-poll looks at its connection this often
RUNNABLE_AGAIN = frozenset({"queued", "succeeded"})  # a job entering one of these may free up work
OWN_LEASES_KEPT = 10_000  # lease events of this process awaited; more means the events stopped coming


def wakes_waiters(message: dict[str, Any]) -> bool:
    """Could this event make a job runnable for some waiting agent?"""
    entity, action = message.get("entity"), message.get("action", "")
    if entity == "agent":
        return action != "agent.updated" or "draining" in (message.get("changes") or {})
    if entity != "job":
        return False
    if action == "job.created":
        return True
    status = (message.get("changes") or {}).get("status")
    return isinstance(status, list) and bool(status) and status[-1] in RUNNABLE_AGAIN


@dataclass(eq=False)
class _Waiter:
    request: ClaimRequest
    future: asyncio.Future[Claim | None]
    once: bool  # wait_s 0: answered after its first pass, job or not
    tried: bool = False
    in_pass: bool = False


class ClaimDispatcher:
    """Owns this process's waiting claims and runs the passes that serve them."""

    def __init__(self, db: Database, hub: EventHub | None, settings: Settings) -> None:
        self._db = db
        self._hub = hub
        self._settings = settings
        self._waiters: list[_Waiter] = []
        self._kick: asyncio.Event | None = None
        self._everyone = False
        self._next_ready: float | None = None  # monotonic time a back-off runs out
        self._recheck_at = 0.0
        self._task: asyncio.Task[None] | None = None
        # Candidates read by the last pass, valid while `_generation` (bumped by every job event that is not
        # one of this process's own leases) has not moved since.
        self._candidates: Candidates | None = None
        self._candidates_generation = -1
        self._generation = 0
        self._own_leases: set[int] = set()  # this process's lease events not dispatched yet (event ids)
        self._closing = False

    # -- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._kick = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="aipipe-claim-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_result(None)
        self._waiters.clear()

    def close_waiting(self) -> None:
        """The server is shutting down: every waiting long-poll answers 204 now (its agent comes back to
        another server, or this one once it is up again) and new claims get 204 at once."""
        self._closing = True
        for waiter in self._waiters:
            if not waiter.in_pass and not waiter.future.done():
                waiter.future.set_result(None)

    def waiting_count(self) -> int:
        """Claims that had their first pass and now wait for a job (the metrics gauge; tests wait on it)."""
        return sum(1 for w in self._waiters if w.tried and not w.once and not w.future.done())

    # -- producers ------------------------------------------------------------------------------------

    def on_event(self, message: dict[str, Any]) -> None:
        """Event-loop listener of the event hub: events from this and other server processes."""
        self._note(message, dispatched=True)

    def on_commit(self, messages: list[dict[str, Any]]) -> None:
        """Commit listener of the event hub: this process's own commits, as soon as they are announced
        (before the request that made them is answered), so that a claim right after, say, a parent job
        completed never plans with the queue as it was (the same events reach `on_event` later)."""
        for message in messages:
            self._note(message, dispatched=False)

    def _note(self, message: dict[str, Any], dispatched: bool) -> None:
        if message.get("entity") == "job":
            if message.get("id") in self._own_leases:
                if dispatched:
                    self._own_leases.discard(message["id"])  # our own lease: the candidates already know
            else:
                self._generation += 1
        if wakes_waiters(message):
            self._everyone = True
            self._wake()

    def _wake(self) -> None:
        if self._kick is not None:
            self._kick.set()

    async def claim(
        self, request: ClaimRequest, wait_s: float, disconnected: Callable[[], Awaitable[bool]]
    ) -> Claim | None:
        """The agent's next job, or None when none came within `wait_s` (0: one try)."""
        if self._task is None:
            raise RuntimeError("the claim dispatcher is not running")
        if self._closing:
            return None
        loop = asyncio.get_running_loop()
        # An agent's newer claim replaces one it left waiting (e.g. after a reconnect).
        for old in self._waiters:
            if old.request.agent_id == request.agent_id and not old.in_pass and not old.future.done():
                old.future.set_result(None)
        waiter = _Waiter(request, loop.create_future(), once=wait_s <= 0)
        self._waiters.append(waiter)
        self._wake()
        try:
            if waiter.once:
                return await waiter.future
            deadline = time.monotonic() + wait_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, DISCONNECT_CHECK_S)):
                        return await asyncio.shield(waiter.future)
                if await disconnected():
                    break
            if waiter.in_pass:
                # A pass is serving this claim right now: its answer (maybe a lease) must reach the agent.
                return await waiter.future
            return None
        finally:
            self._waiters = [w for w in self._waiters if w is not waiter and not w.future.done()]

    # -- the passes -----------------------------------------------------------------------------------

    def _timeout(self) -> float | None:
        if not self._waiters:
            return None
        now = time.monotonic()
        due = self._recheck_at
        if self._next_ready is not None:
            due = min(due, self._next_ready)
        return max(0.0, due - now)

    async def _run(self) -> None:
        assert self._kick is not None
        while True:
            await wait_event(self._kick, self._timeout())
            self._kick.clear()
            now = time.monotonic()
            due = now >= self._recheck_at or (self._next_ready is not None and now >= self._next_ready)
            everyone, self._everyone = self._everyone or due, False
            batch = self._batch(everyone)
            if not batch:
                continue
            if everyone:
                self._recheck_at = now + RECHECK_S
                self._next_ready = None
            for waiter in batch:
                waiter.in_pass = True
            generation = self._generation
            cached = self._candidates if self._candidates_generation == generation and not due else None
            try:
                results, next_ready, candidates = await asyncio.to_thread(
                    self._serve, [w.request for w in batch], cached
                )
            except Exception as exc:  # the database is away: every claim in the pass says so
                logger.exception("farm: a claim pass failed")
                results, next_ready, candidates = [exc] * len(batch), None, None
            self._candidates, self._candidates_generation = candidates, generation
            if next_ready is not None:
                wait = max(0.0, (next_ready - utcnow()).total_seconds())
                ready = time.monotonic() + wait
                self._next_ready = ready if self._next_ready is None else min(self._next_ready, ready)
            for waiter, result in zip(batch, results, strict=True):
                waiter.in_pass = False
                waiter.tried = True
                if waiter.future.done():
                    continue
                if isinstance(result, Exception):
                    waiter.future.set_exception(result)
                elif result is not None or waiter.once:
                    waiter.future.set_result(result)
            self._waiters = [w for w in self._waiters if not w.future.done()]

    def _batch(self, everyone: bool) -> list[_Waiter]:
        """The waiters this pass serves: one per agent (its newest claim)."""
        newest: dict[Any, _Waiter] = {}
        for waiter in self._waiters:
            if waiter.future.done() or (waiter.tried and not everyone):
                continue
            newest[waiter.request.agent_id] = waiter
        return list(newest.values())

    def _serve(
        self, requests: list[ClaimRequest], cached: Candidates | None
    ) -> tuple[list[Claim | None | Exception], datetime | None, Candidates | None]:
        """One pass in a worker thread. If the shared transaction fails, each claim is tried on its own so
        that one bad request cannot hold up the others."""
        try:
            return self._serve_together(requests, cached)
        except Exception:
            if len(requests) == 1:
                raise
            logger.exception("farm: a shared claim pass failed; serving its %d claims singly", len(requests))
        results: list[Claim | None | Exception] = []
        next_ready: datetime | None = None
        for request in requests:
            try:
                [result], ready, _ = self._serve_together([request], None)
            except Exception as exc:
                logger.exception("farm: claim for agent %s failed", request.agent_id)
                result, ready = exc, None
            results.append(result)
            if ready is not None:
                next_ready = ready if next_ready is None else min(next_ready, ready)
        return results, next_ready, None

    def _serve_together(
        self, requests: list[ClaimRequest], cached: Candidates | None
    ) -> tuple[list[Claim | None | Exception], datetime | None, Candidates | None]:
        with self._db.write_sessions() as session:
            done = claim_pass(session, self._settings, requests, cached)
        results, candidates = done.answers, done.candidates
        if done.recorded:
            if len(self._own_leases) > OWN_LEASES_KEPT:
                self._own_leases.clear()
            self._own_leases.update(event.id for event in done.recorded)  # before they are announced
            if self._hub is not None:
                self._hub.announce(done.recorded)
            return results, None, candidates
        with self._db.read_sessions() as session:  # the next retry back-off to run out, if any
            next_ready = session.scalar(
                select(func.min(Job.not_before)).where(Job.status == "queued", Job.not_before > utcnow())
            )
        return results, next_ready, candidates
