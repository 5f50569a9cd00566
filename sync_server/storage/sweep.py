"""Temporary files left by a killed process (`.<name>.<random>.tmp` beside the file an atomic write was
replacing) are removed at start-up and then now and again, once they are old enough that no live writer
(of this server or of another process on the same storage) can still be using them."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)


def is_temp_name(name: str) -> bool:
    """The names tempfile.mkstemp gives the atomic writers: hidden, ending in .tmp."""
    return name.startswith(".") and name.endswith(".tmp") and len(name) > len("..tmp")


def remove_stale_temp_files(
    roots: Iterable[Path], older_than_s: float, now: float | None = None
) -> list[Path]:
    """Remove temporary files under `roots` last written more than `older_than_s` ago; return them."""
    cutoff = (time.time() if now is None else now) - older_than_s
    resolved = {root.resolve() for root in roots if root.is_dir()}
    # A root inside another one (the storage tree inside the data folder) is walked once, as part of it.
    tops = [root for root in resolved if not any(other in root.parents for other in resolved)]
    removed: list[Path] = []
    for top in tops:
        for folder, _dirs, files in os.walk(top):
            for name in files:
                if not is_temp_name(name):
                    continue
                path = Path(folder) / name
                try:
                    if path.lstat().st_mtime <= cutoff:
                        path.unlink()
                        removed.append(path)
                except FileNotFoundError:
                    continue  # its writer finished (renamed it) or another sweeper got there first
    if removed:
        logger.warning(
            "removed %d temporary files left by an interrupted write",
            len(removed),
            extra={"files": [str(p) for p in removed[:20]]},
        )
    return removed


async def sweep_forever(roots: list[Path], older_than_s: float, interval_s: float) -> None:
    """Sweep at once, then every `interval_s`, in a worker thread (a big tree takes a while to walk)."""
    while True:
        try:
            await asyncio.to_thread(remove_stale_temp_files, roots, older_than_s)
        except OSError:
            logger.exception("sweeping temporary files failed; trying again later")
        await asyncio.sleep(interval_s)
