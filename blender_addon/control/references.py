"""A character's reference images: the list and its thumbnails, adding one from a file, removing one.

The pictures are downloaded once into the cache (named by content) and shown as previews, the way the shot
list shows its thumbnails (`shots/thumbnails.py`); every network call runs on the add-on's worker.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import bpy

from .. import previews as shared_previews
from .. import runtime
from ..core.client import ApiError
from ..i18n import iface
from . import opsdata

KEY = "reference_previews"
RECORDS = "character_references"
log = logging.getLogger(__name__)


def previews() -> Any:
    return shared_previews.collection(KEY)


def icon_for(reference_id: str) -> int:
    return shared_previews.icon(KEY, reference_id) if runtime.is_ready() else 0


def records() -> dict[str, dict[str, Any]]:
    """The shown character's references by id (as the server listed them)."""
    return runtime.get().extras.setdefault(RECORDS, {})


def _items(listing: Any) -> list[dict[str, Any]]:
    return list(listing["items"] if isinstance(listing, dict) else listing)


def load(character_id: str) -> None:
    """List the character's references and download the pictures not in the cache yet."""
    rt = runtime.get()
    state = bpy.context.window_manager.aipipe_control
    if not character_id:
        state.references.clear()
        records().clear()
        return
    folder = os.path.join(rt.cache_dir, "references")

    def work(ctx: Any) -> list[tuple[dict[str, Any], str | None]]:
        client = rt.require_client()
        found: list[tuple[dict[str, Any], str | None]] = []
        listed = _items(client.get(f"/api/characters/{character_id}/references"))
        for i, reference in enumerate(listed):
            if ctx.cancelled:
                break
            ctx.progress(i / max(1, len(listed)))
            target = os.path.join(folder, opsdata.cache_name(reference))
            if not os.path.exists(target) and reference.get("url"):
                try:
                    client.download(reference["url"], target)
                except ApiError as exc:  # the list still works without the picture
                    log.info("no picture for reference %s: %s", reference.get("id"), exc)
                    target = ""
            found.append((reference, target or None))
        return found

    def apply(found: list[tuple[dict[str, Any], str | None]]) -> None:
        current = bpy.context.window_manager.aipipe_control
        if current.character != character_id:
            return  # the artist picked another character meanwhile
        shown = records()
        shown.clear()
        current.references.clear()
        collection = previews()
        for reference, path in found:
            key = str(reference["id"])
            shown[key] = reference
            item = current.references.add()
            item.id, item.label = key, opsdata.reference_label(reference)
            if path and key not in collection:
                collection.load(key, path, "IMAGE")
        current.reference_index = min(current.reference_index, len(current.references) - 1)

    rt.run("Loading references", work, apply)


def upload(character_id: str, path: str) -> None:
    """Add the image at `path` to the character's references, then list them again."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        progress = lambda done, total: ctx.progress(done / max(total, 1), "uploading")  # noqa: E731
        return rt.require_client().upload(f"/api/characters/{character_id}/references", {}, [path], progress)

    def done(reference: dict[str, Any]) -> None:
        rt.report(iface("Reference {name} added", name=reference.get("name", os.path.basename(path))))
        load(character_id)

    rt.run("Uploading reference", work, done, long=True)


def remove(character_id: str, reference_id: str) -> None:
    rt = runtime.get()
    name = str(records().get(reference_id, {}).get("name", reference_id))

    def done(_data: Any) -> None:
        rt.report(iface("Reference {name} removed", name=name))
        collection = rt.extras.get(KEY)
        if collection is not None and reference_id in collection:
            del collection[reference_id]
        load(character_id)

    rt.send(
        "Removing reference",
        "DELETE",
        f"/api/characters/{character_id}/references/{reference_id}",
        None,
        done,
    )
