"""The shot's approved first frame as the server describes it, read on the add-on's worker."""

from __future__ import annotations

from typing import Any

from ..core.client import ApiError


def first_frame_or_none(client: Any, shot_id: str) -> dict[str, Any] | None:
    """`GET /api/shots/{id}/first-frame`; None when the shot has none yet (404), other errors raised."""
    try:
        return client.get(f"/api/shots/{shot_id}/first-frame")
    except ApiError as exc:
        if exc.status != 404:
            raise
        return None
