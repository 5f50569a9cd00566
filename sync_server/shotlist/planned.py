"""What an import's child process is given (`ImportJob`) and hands back (`Planned`): plain, picklable data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..context import Principal
from .bulk import Writes
from .data import Lookups
from .settings import ShotlistSettings


@dataclass(frozen=True)
class ImportJob:
    """Everything the child needs: plain data only (it is pickled to the child)."""

    database_url: str
    project_id: uuid.UUID
    filename: str
    content: bytes
    settings: ShotlistSettings
    actor: Principal
    selection: str | None = None  # the apply's selection JSON as sent (parsed in the child)
    apply: bool = False  # False: a preview
    request_id: str | None = None
    remote_addr: str | None = None


@dataclass
class Planned:
    """What the child hands back: the preview's JSON and, for an apply, the plan of its writes and what the
    diff was made against (to tell in the write transaction whether anything changed since)."""

    preview: bytes  # the preview as JSON, as the answer carries it
    pid: int  # the process that did the work (logged; the tests check it is not the server's)
    cpu_s: float  # CPU time the work took in that process
    rows: int
    writes: Writes | None = None
    project_revision: int | None = None
    revisions: dict[str, int] = field(default_factory=dict)  # shot id -> revision, as the diff saw them
    names: Lookups | None = None


@dataclass
class Written:
    """An apply done (committed): the answer's JSON, the audit events it recorded (with their ids; made into
    the messages the server announces, packed in pickled slices, before they leave the import process), the
    plan without its writes, and how long the write transaction took."""

    answer: bytes
    events: list[Any]  # in the child: audit events; handed over as packed messages (`events.pack_messages`)
    planned: Planned
    lock_wait_s: float  # waiting for the project row (PostgreSQL) or the write lock (SQLite)
    write_s: float  # the lock held: checks, statements, commit
    write_cpu_s: float  # CPU time of the import process meanwhile
    replanned: bool  # the project changed since the plan: planned again while holding the lock
