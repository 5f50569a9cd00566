"""The `aipipe` command: one module per command group, all sharing `common` (output, errors, settings)
and `client` (the HTTP client of the commands that work on project data through a running server)."""

from __future__ import annotations

import typer

from .addon import addon_app
from .admin import admin_app, db_app
from .agent import FORWARD, agent
from .backup import backup_app
from .breakdown import breakdown
from .common import system_uow
from .dailies import dailies_app
from .delivery import deliver_app
from .demo import demo
from .editorial import editorial_app
from .farm import farm_app
from .ingest import ingest_command
from .login import login, logout, whoami
from .project import project_app
from .recipes import recipes_app
from .server import server
from .shots import shots_app
from .takes import takes_app

__all__ = ["app", "main", "system_uow"]

app = typer.Typer(help="AIPipeline: sync server, render farm and tools.", no_args_is_help=True)
app.command()(server)
app.command()(demo)
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.command("agent", context_settings=FORWARD, add_help_option=False)(agent)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(backup_app, name="backup")
app.add_typer(project_app, name="project")
app.add_typer(farm_app, name="farm")
app.add_typer(editorial_app, name="editorial")
app.add_typer(deliver_app, name="deliver")
app.add_typer(shots_app, name="shots")
app.add_typer(takes_app, name="takes")
app.add_typer(recipes_app, name="recipes")
app.add_typer(dailies_app, name="dailies")
app.command("ingest")(ingest_command)
app.command("breakdown")(breakdown)
app.add_typer(addon_app, name="addon")


def main() -> None:
    app()
