"""`aipipe agent`: hands over to the render agent's own command (`python -m render_agent`, the same as
`aipipe-agent`). The agent is started as its own program, never imported: the server's code does not
depend on the agent package, and an agent host needs only `pip install 'aipipeline[agent]'`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import typer

from .common import err

FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def agent(ctx: typer.Context) -> None:
    """Run a render agent (the same as `aipipe-agent`; `aipipe agent --help` lists its options)."""
    if importlib.util.find_spec("render_agent") is None:
        err().print("[red]The render agent is not installed[/red] (pip install 'aipipeline[agent]').")
        raise typer.Exit(2)
    command = [sys.executable, "-m", "render_agent", *ctx.args]
    if os.name == "posix":
        # Become the agent: signals (SIGTERM to finish or release the job) reach it directly.
        os.execv(sys.executable, command)
    raise typer.Exit(subprocess.run(command, check=False).returncode)
