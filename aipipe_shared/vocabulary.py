"""The studio's words, defined once: shot statuses, version stages, verdicts, roles, job statuses.

Each is a `Literal` (what pydantic schemas and type checkers use) and the tuple of its values (what
database check constraints, menus and error messages use). The database, the API schemas, the add-on and
the docs all take them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

ShotStatus = Literal["draft", "ready", "generating", "review", "approved", "final", "omitted"]
SHOT_STATUSES: tuple[str, ...] = get_args(ShotStatus)

VersionStage = Literal["previz", "layout", "playblast", "render", "comp", "final", "plate", "reference"]
VERSION_STAGES: tuple[str, ...] = get_args(VersionStage)

Verdict = Literal["approve", "reject", "needs_changes"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

Role = Literal["admin", "director", "editor", "artist", "wrangler", "agent"]
ROLES: tuple[str, ...] = get_args(Role)

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
