"""Routes of sync_server.delivery (filled in by its feature work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["delivery"])
