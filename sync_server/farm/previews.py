"""The newest preview image of a running job: sent by its agent with a heartbeat (ComfyUI's latent
previews while sampling), kept as one file per job, shown to wranglers and artists while the job runs."""

from __future__ import annotations

import base64
import binascii
import uuid
from pathlib import Path

from ..errors import Unprocessable
from ..settings import Settings
from ..storage.atomic import atomic_write_bytes
from .schemas import PreviewIn

MAX_PREVIEW_BYTES = 512 * 1024
# What the bytes must start with for each accepted type: nothing else is stored or served back.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def preview_path(settings: Settings, farm_dir: str, job_id: uuid.UUID, mime: str) -> Path:
    return settings.resolved_storage_root / farm_dir / "previews" / f"{job_id}{EXTENSIONS[mime]}"


def decode(preview: PreviewIn) -> bytes:
    """The image bytes, or 422 naming the field when they are not what the heartbeat says they are."""
    try:
        data = base64.b64decode(preview.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable("preview.data must be base64", field="preview.data") from exc
    if len(data) > MAX_PREVIEW_BYTES:
        raise Unprocessable(
            f"preview is {len(data)} bytes; at most {MAX_PREVIEW_BYTES} are kept", field="preview.data"
        )
    if not data.startswith(SIGNATURES[preview.mime]) or (
        preview.mime == "image/webp" and data[8:12] != b"WEBP"
    ):
        raise Unprocessable(f"preview.data is not a {preview.mime} image", field="preview.data")
    return data


def store(settings: Settings, farm_dir: str, job_id: uuid.UUID, preview: PreviewIn) -> str:
    """Replace the job's preview (atomically; an older one of another type is removed)."""
    data = decode(preview)
    path = preview_path(settings, farm_dir, job_id, preview.mime)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    for mime in EXTENSIONS:
        if mime != preview.mime:
            preview_path(settings, farm_dir, job_id, mime).unlink(missing_ok=True)
    return preview.mime
