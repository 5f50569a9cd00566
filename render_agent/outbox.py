"""Local SQLite outbox: job reports wait here while the server is away and are delivered in order.

Every report about a job (heartbeat, output file, complete, fail, release) is written here first and
then flushed oldest first. The file survives an agent restart, so results reach the server even then.
Only the newest heartbeat per job is kept (an older one says nothing the newer does not).
A report refused with 409 lease-lost (or 404: the job is gone) drops every report for that job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from render_agent.server_client import (
    ChecksumMismatch,
    FarmClient,
    FarmError,
    FarmNotFound,
    FarmRefused,
    FarmUnavailable,
    JobHeartbeatReply,
    LeaseLost,
    OutputConflict,
)

log = logging.getLogger(__name__)

KINDS = ("job_heartbeat", "outputs", "complete", "fail", "release")
RESULT_KINDS = ("outputs", "complete")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Entry:
    seq: int
    job_id: str
    kind: str
    payload: dict[str, Any]


@dataclass
class FlushResult:
    """What one flush did. `unavailable` is set when it stopped because the server is away."""

    delivered: list[Entry] = field(default_factory=list)
    dropped_jobs: set[str] = field(default_factory=set)
    heartbeat_replies: dict[str, JobHeartbeatReply] = field(default_factory=dict)
    unavailable: FarmUnavailable | None = None

    @property
    def complete(self) -> bool:
        return self.unavailable is None


class Outbox:
    """A durable FIFO of job reports in one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)
        self._flush_lock = asyncio.Lock()

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- writing ---------------------------------------------------------------------------
    def add(self, job_id: str, kind: str, payload: dict[str, Any]) -> int:
        """Append one report; a heartbeat replaces the job's older unsent heartbeat."""
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}; kinds are {KINDS}")
        with self._transaction():
            if kind == "job_heartbeat":
                self._db.execute("DELETE FROM outbox WHERE job_id = ? AND kind = 'job_heartbeat'", (job_id,))
            return self._insert(job_id, kind, payload)

    def _insert(self, job_id: str, kind: str, payload: dict[str, Any]) -> int:
        cursor = self._db.execute(
            "INSERT INTO outbox (job_id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
            (job_id, kind, json.dumps(payload), time.time()),
        )
        return int(cursor.lastrowid or 0)

    def discard_heartbeats(self, job_id: str) -> None:
        """Forget the job's unsent heartbeat (a newer one is about to be sent)."""
        self._db.execute("DELETE FROM outbox WHERE job_id = ? AND kind = 'job_heartbeat'", (job_id,))

    def drop_job(self, job_id: str) -> int:
        """Remove every report about a job; returns how many there were."""
        return self._db.execute("DELETE FROM outbox WHERE job_id = ?", (job_id,)).rowcount

    # ---- reading ---------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        rows = self._db.execute("SELECT seq, job_id, kind, payload FROM outbox ORDER BY seq").fetchall()
        return [Entry(seq, job_id, kind, json.loads(payload)) for seq, job_id, kind, payload in rows]

    def job_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT DISTINCT job_id FROM outbox")}

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _first(self) -> Entry | None:
        row = self._db.execute(
            "SELECT seq, job_id, kind, payload FROM outbox ORDER BY seq LIMIT 1"
        ).fetchone()
        return None if row is None else Entry(row[0], row[1], row[2], json.loads(row[3]))

    def _delete(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    # ---- delivery --------------------------------------------------------------------------
    async def flush(self, farm: FarmClient) -> FlushResult:
        """Send every report oldest first; stop at the first sign the server is away.

        FarmAuthError propagates (an operator must act); the reports stay for later.
        """
        result = FlushResult()
        async with self._flush_lock:
            while (entry := self._first()) is not None:
                try:
                    reply = await _send(farm, entry)
                except FarmUnavailable as exc:
                    result.unavailable = exc
                    log.info("server away (%s); %d report(s) wait in the outbox", exc, len(self))
                    break
                except (LeaseLost, FarmNotFound) as exc:
                    dropped = self.drop_job(entry.job_id)
                    result.dropped_jobs.add(entry.job_id)
                    log.warning(
                        "job %s: %s refused (%s); dropped %d report(s) for it",
                        entry.job_id,
                        entry.kind,
                        exc,
                        dropped,
                    )
                    continue
                except (FarmRefused, OutputConflict, ChecksumMismatch, OSError) as exc:
                    self._refused(entry, exc)
                    continue
                self._delete(entry.seq)
                result.delivered.append(entry)
                if isinstance(reply, JobHeartbeatReply):
                    result.heartbeat_replies[entry.job_id] = reply
        return result

    def _refused(self, entry: Entry, exc: Exception) -> None:
        """A report the server will never take: a result becomes a fail, anything else is dropped."""
        if entry.kind in RESULT_KINDS:
            error = f"the agent could not deliver the result ({entry.kind}): {exc}"
            fail = {"lease_id": entry.payload["lease_id"], "error": error, "retryable": True, "kind": "agent"}
            with self._transaction():
                dropped = self.drop_job(entry.job_id)
                self._insert(entry.job_id, "fail", fail)
            log.error("job %s: %s; %d report(s) replaced by a fail", entry.job_id, error, dropped)
        else:
            self._delete(entry.seq)
            log.error("job %s: %s refused for good, dropped: %s", entry.job_id, entry.kind, exc)


async def _send(farm: FarmClient, entry: Entry) -> JobHeartbeatReply | dict[str, Any]:
    payload = entry.payload
    if entry.kind == "job_heartbeat":
        return await farm.job_heartbeat(entry.job_id, payload)
    if entry.kind == "outputs":
        return await farm.upload_output(
            entry.job_id,
            payload["lease_id"],
            Path(payload["path"]),
            name=payload["name"],
            sha256=payload["sha256"],
        )
    if entry.kind == "complete":
        return await farm.complete(
            entry.job_id,
            payload["lease_id"],
            gpu_seconds=payload["gpu_seconds"],
            provenance=payload["provenance"],
        )
    if entry.kind == "fail":
        return await farm.fail(
            entry.job_id,
            payload["lease_id"],
            error=payload["error"],
            retryable=payload["retryable"],
            kind=payload.get("kind"),  # absent in reports buffered by an older agent
        )
    if entry.kind == "release":
        return await farm.release(entry.job_id, payload["lease_id"])
    raise FarmError(f"unknown outbox kind {entry.kind!r}")
