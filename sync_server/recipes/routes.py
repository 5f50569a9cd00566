"""Routes of sync_server.recipes (filled in by its feature work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["recipes"])
