"""After a cancel, what the agent still owes ComfyUI: once ComfyUI is done with the prompt (0.3.64 stops
only between nodes, so a running SaveVideo encode ends and writes its file), its history entry and the files
it wrote are deleted. ComfyUI has no route to delete files: they go from its output folder on this host."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from render_agent.comfyui import ComfyClient
from render_agent.comfyui_messages import output_files

log = logging.getLogger(__name__)


async def discard(
    comfy: ComfyClient, prompt_id: str, *, output_dir: Path | None, wait_s: float
) -> list[Path]:
    """After a cancel: wait until ComfyUI is done with the prompt (an interrupt does not stop a node that
    is running, e.g. a long SaveVideo encode), then delete its history entry and the files it wrote under
    `output_dir` (ComfyUI's output folder on this host; None: they stay). Returns the files deleted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while await comfy.in_queue(prompt_id):
        if loop.time() >= deadline:
            log.warning("prompt %s still runs in ComfyUI after %.0f s; its files stay", prompt_id, wait_s)
            return []
        await asyncio.sleep(comfy.poll_interval)
    entry = await comfy.history_entry(prompt_id)
    removed: list[Path] = []
    if entry is not None and output_dir is not None:
        base = output_dir.resolve()
        for item in output_files(entry):
            path = (base / item.subfolder / item.filename).resolve()
            if item.type != "output" or base not in path.parents:
                continue  # only what ComfyUI saved under its own output folder
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
    elif entry is not None and output_files(entry):
        log.warning(
            "prompt %s left %d file(s) in ComfyUI's output folder; "
            "set AIPIPE_AGENT_COMFYUI_OUTPUT_DIR to have them deleted",
            prompt_id,
            len(output_files(entry)),
        )
    await comfy.delete_history(prompt_id)
    log.info("discarded prompt %s: history entry and %d file(s) deleted", prompt_id, len(removed))
    return removed
