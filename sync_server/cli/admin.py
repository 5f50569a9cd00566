"""`aipipe db upgrade` and `aipipe admin`: run on the server machine, against its database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import DataDir, DbUrl, Init, err, fail, load_settings, out, system_uow
from .database import require_database

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
admin_app = typer.Typer(help="Users and API keys.", no_args_is_help=True)
ROLES_HELP = "admin, director, editor, artist, wrangler or agent"


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DbUrl = None, init: Init = False) -> None:
    """Apply all database migrations (`--init`: create the database if there is none)."""
    from ..db.migrate import head_revision, upgrade

    settings = load_settings(data_dir, database_url)
    require_database(settings, init)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    out().print(f"Database at revision {head_revision(settings.resolved_database_url)}.")


@admin_app.command("create-user")
def create_user(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help=ROLES_HELP)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    init: Init = False,
) -> None:
    """Create a user. Without --password-stdin a random password is generated and shown once."""
    import secrets

    from pydantic import ValidationError

    from ..auth.passwords import Passwords
    from ..db.migrate import upgrade
    from ..errors import ApiError
    from ..users.schemas import UserCreate
    from ..users.service import create_user as create

    settings = load_settings(data_dir, database_url)
    require_database(settings, init)
    settings.ensure_dirs()
    generated = not password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        body = UserCreate(username=name, password=password, role=role, display_name=display_name)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err().print(f"[red]Invalid user:[/red] {problems}")
        raise typer.Exit(2) from exc
    upgrade(settings.resolved_database_url)
    try:
        with system_uow(settings) as uow:
            user = create(uow, Passwords(), body)
    except ApiError as exc:
        raise fail(exc) from exc
    console = out()
    console.print(f"Created user [bold]{user.username}[/bold] ({user.role}).")
    if generated:
        console.print(f"Password (shown once): [bold]{password}[/bold]")


@admin_app.command("create-api-key")
def create_api_key(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'render-gpu-01'.")],
    role: Annotated[str, typer.Option("--role", help=ROLES_HELP)],
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    init: Init = False,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    from pydantic import ValidationError

    from ..db.migrate import upgrade
    from ..users.schemas import ApiKeyCreate
    from ..users.service import create_api_key as create

    settings = load_settings(data_dir, database_url)
    require_database(settings, init)
    settings.ensure_dirs()
    try:
        body = ApiKeyCreate(name=name, role=role)
    except ValidationError as exc:
        err().print(
            f"[red]Invalid API key request:[/red] {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"
        )
        raise typer.Exit(2) from exc
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        created = create(uow, body)
    err().print(f"API key [bold]{created.name}[/bold] ({created.role}), shown once:")
    typer.echo(created.key)
