"""Shot thumbnails for the list: the newest version's thumbnail, downloaded once into the cache."""

from __future__ import annotations

import logging
import os
from typing import Any

from .. import previews as shared_previews
from .. import runtime
from ..core.client import ApiError

KEY = "shot_previews"
log = logging.getLogger(__name__)


def previews() -> Any:
    return shared_previews.collection(KEY)


def icon_for(shot_id: str) -> int:
    return shared_previews.icon(KEY, shot_id)


def fetch(shot_ids: list[str]) -> None:
    """Download missing thumbnails in the background, then load them as previews."""
    rt = runtime.get()
    folder = os.path.join(rt.cache_dir, "thumbnails")

    def work(ctx: Any) -> list[tuple[str, str]]:
        client = rt.require_client()
        found: list[tuple[str, str]] = []
        for i, shot_id in enumerate(shot_ids):
            if ctx.cancelled:
                break
            ctx.progress(i / max(1, len(shot_ids)))
            versions = client.get(f"/api/shots/{shot_id}/versions", {"limit": 20})["items"]
            pictured = next((v for v in versions if v.get("thumbnail_url")), None)
            if pictured is None:
                continue
            target = os.path.join(folder, f"{pictured['id']}.jpg")
            if not os.path.exists(target):
                try:
                    client.download(pictured["thumbnail_url"], target)
                except ApiError as exc:  # a thumbnail is decoration: the list works without it
                    log.info("no thumbnail for shot %s: %s", shot_id, exc)
                    continue
            found.append((shot_id, target))
        return found

    def apply(found: list[tuple[str, str]]) -> None:
        collection = previews()
        for shot_id, path in found:
            if shot_id in collection:
                del collection[shot_id]
            collection.load(shot_id, path, "IMAGE")

    if shot_ids:
        rt.run("Loading thumbnails", work, apply)
