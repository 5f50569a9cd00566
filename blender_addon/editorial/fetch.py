"""Worker-side reads of the editorial operators: the server's edit, a shot's takes, every shot of a
project, the proxy render. Each runs on the add-on's worker thread and touches no Blender data."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from .. import runtime
from ..connect import props as connect_props
from ..core import pathmap
from ..shared import editorial as core

PROXY_POLL_S = 0.5
SHOT_PAGE = 1000
PROXY_WAIT_S = 3600.0


def _mappings(rt: Any) -> list[dict[str, str]]:
    storage = rt.extras.get("storage") or {}
    return connect_props.mappings() + list(storage.get("mappings") or [])


def local_media(rt: Any, file: dict[str, Any]) -> str | None:
    """The file on this workstation: through a path mapping when the storage is mounted, else downloaded
    once into the add-on's cache (named by checksum, so a new version is a new file)."""
    relative = file.get("path")
    if relative:
        local = pathmap.to_local(relative, _mappings(rt), exists=os.path.isdir)
        if local and os.path.isfile(local):
            return local
    if not file.get("url"):
        return None
    target = os.path.join(rt.cache_dir, "editorial", f"{str(file['sha256'])[:16]}_{file['name']}")
    if not os.path.isfile(target):
        rt.require_client().download(file["url"], target)
    return target


def fetch_edit(project_id: str) -> Callable[[Any], dict[str, Any]]:
    """Worker: the server's edit and a local file for each shot's media."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        if "storage" not in rt.extras:
            rt.extras["storage"] = client.get("/api/storage")
        edit = client.get(f"/api/projects/{project_id}/editorial/edit")
        paths: dict[str, str | None] = {}
        sounds: dict[str, str | None] = {}
        shots = edit["shots"]
        for index, shot in enumerate(shots):
            ctx.progress(index / max(1, len(shots)), shot["code"])
            paths[str(shot["shot_id"])] = local_media(rt, shot["media"]) if shot.get("media") else None
            if shot.get("audio"):
                sounds[str(shot["shot_id"])] = local_media(rt, shot["audio"])
        return {"edit": edit, "paths": paths, "sounds": sounds}

    return work


def fetch_takes(shot_id: str) -> Callable[[Any], list[dict[str, Any]]]:
    """Worker: every take of a shot (newest first by stage) with a local file for each."""
    rt = runtime.get()

    def work(ctx: Any) -> list[dict[str, Any]]:
        client = rt.require_client()
        versions = client.get(f"/api/shots/{shot_id}/versions", {"limit": 500})["items"]
        takes = []
        for index, version in enumerate(core.takes_of(versions)):
            ctx.progress(index / max(1, len(versions)))
            file = next(f for f in version["files"] if str(f["mime"]).startswith(("video/", "image/")))
            takes.append(
                {
                    "version": version,
                    "path": local_media(rt, file),
                    "still": file["mime"].startswith("image/"),
                }
            )
        return takes

    return work


def all_shots(client: Any, project_id: str) -> list[dict[str, Any]]:
    """Every shot of the project in order (omitted ones too), page by page."""
    shots: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"/api/projects/{project_id}/shots", {"limit": SHOT_PAGE, "offset": len(shots), "sort": "order"}
        )
        shots += page["items"]
        if not page["items"] or len(shots) >= page["total"]:
            return shots


def proxy_job(project_id: str) -> Callable[[Any], dict[str, Any]]:
    """Worker: start the server's proxy render and wait for it, reporting its progress."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        render = client.request("POST", f"/api/projects/{project_id}/editorial/proxies").data
        deadline = time.monotonic() + PROXY_WAIT_S
        while render["status"] in ("queued", "running") and time.monotonic() < deadline:
            ctx.progress(float(render["progress"]), f"proxy v{int(render['number']):03d}")
            if ctx.cancelled:
                break
            time.sleep(PROXY_POLL_S)
            render = client.get(f"/api/editorial/proxies/{render['id']}")
        return render

    return work
