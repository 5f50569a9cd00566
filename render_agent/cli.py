"""`aipipe-agent`: the render agent's own command. It needs only the `agent` extra (no server code)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from .agent import run_agent
from .settings import AgentSettings

app = typer.Typer(add_completion=False, help="AIPipeline render agent.")


@app.command()
def run(
    server: Annotated[
        list[str] | None,
        typer.Option(
            "--server",
            help="Sync server URL, repeated or comma-separated for fail-over (env AIPIPE_AGENT_SERVER_URL).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="API key of role agent; better env AIPIPE_AGENT_API_KEY (flags show in ps)."
        ),
    ] = None,
    comfyui: Annotated[
        str | None,
        typer.Option(
            "--comfyui", help="Local ComfyUI URL (env AIPIPE_AGENT_COMFYUI_URL); unset: CPU jobs only."
        ),
    ] = None,
    blender: Annotated[
        str | None,
        typer.Option(
            "--blender",
            help="Blender (or a Python with bpy) for playblast and control_image jobs "
            "(env AIPIPE_AGENT_BLENDER); unset: none.",
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tags", help="Tags, repeated or comma-separated (env AIPIPE_AGENT_TAGS)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Agent name; default the host name.")] = None,
    job_types: Annotated[
        list[str] | None,
        typer.Option(
            "--job-types", help="Job types to run, repeated or comma-separated; default all it can."
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Inputs, outputs and the outbox (env AIPIPE_AGENT_WORK_DIR)."),
    ] = None,
    on_sigterm: Annotated[
        str | None,
        typer.Option(
            "--on-sigterm", help="finish: finish the current job then exit; release: give it back now."
        ),
    ] = None,
) -> None:
    """Run a render agent: register, claim jobs, run them through ComfyUI (or ffmpeg/Blender), report them."""

    def joined(values: list[str] | None) -> str | None:
        return None if values is None else ",".join(values)

    overrides = {
        "server_url": joined(server),
        "api_key": api_key,
        "comfyui_url": comfyui,
        "blender": blender,
        "tags": joined(tags),
        "name": name,
        "job_types": joined(job_types),
        "work_dir": work_dir,
        "on_sigterm": on_sigterm,
    }
    try:
        settings = AgentSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        Console(stderr=True).print(f"[red]Configuration error:[/red] {problems}")
        raise typer.Exit(2) from exc
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request (heartbeats every few seconds) says nothing the agent's own lines do not.
    logging.getLogger("httpx").setLevel(max(logging.getLogger().level, logging.WARNING))
    raise typer.Exit(asyncio.run(run_agent(settings)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `aipipe-agent` (and `python -m render_agent`)."""
    try:
        app(args=argv, prog_name="aipipe-agent", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
