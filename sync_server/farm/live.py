"""Live readings for the farm dashboard: job progress and agents' GPU readings, sent on the event stream
(`EventHub.publish_live`) after each heartbeat. They are not audit events: never stored, never replayed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


def job_progress(
    job_id: uuid.UUID,
    project_id: uuid.UUID | None,
    agent_id: uuid.UUID | None,
    progress: float,
    stage: str,
    preview_mime: str | None,
    preview_new: bool,
) -> dict[str, Any]:
    """A running job's progress, stage, and whether a new preview image is at /api/farm/jobs/{id}/preview."""
    return {
        "type": "live",
        "kind": "job.progress",
        "entity": "job",
        "entity_id": str(job_id),
        "project_id": str(project_id) if project_id else None,
        "data": {
            "id": str(job_id),
            "agent_id": str(agent_id) if agent_id else None,
            "progress": progress,
            "stage_text": stage,
            "preview_mime": preview_mime,
            "preview_new": preview_new,
        },
    }


def agent_reading(
    agent_id: uuid.UUID,
    state: str,
    state_reason: str,
    gpus: list[dict[str, Any]],
    loaded_models: list[str],
    last_seen_at: datetime | None,
) -> dict[str, Any]:
    """What an agent heartbeat brought: its state (and why unavailable), GPU readings, loaded models."""
    return {
        "type": "live",
        "kind": "agent.heartbeat",
        "entity": "agent",
        "entity_id": str(agent_id),
        "project_id": None,
        "data": {
            "id": str(agent_id),
            "state": state,
            "state_reason": state_reason,
            "gpus": gpus,
            "loaded_models": loaded_models,
            "last_seen_at": last_seen_at.isoformat() if last_seen_at else None,
        },
    }
