"""`aipipe server`: migrate, make the first admin if needed, bind, and serve until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from .common import DataDir, DbUrl, Init, die, load_settings, out, system_uow
from .database import require_database

if TYPE_CHECKING:
    from ..farm.dispatch import ClaimDispatcher
    from ..settings import Settings


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def first_admin_password(settings: Settings) -> str | None:
    from ..auth.passwords import Passwords
    from ..users.service import ensure_first_admin

    with system_uow(settings) as uow:
        return ensure_first_admin(uow, Passwords())


def listen(settings: Settings) -> socket.socket:
    """The server's socket, or exit naming the address that cannot be used (before anything is made)."""
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as exc:
        die(f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}.", 1)


def serve(
    settings: Settings, banner: list[str] | None = None, on_listening: Callable[[str], None] | None = None
) -> None:
    """Bind, migrate, make the first admin if needed, print where to go, and serve until stopped.

    Binding comes first: a start that cannot listen must not create the admin (its one-time password
    would be printed by a server that never ran, and not again)."""
    sock = listen(settings)
    from ..app import create_app
    from ..logging_setup import configure_logging

    console = out()
    configure_logging(settings)
    settings.ensure_dirs()
    application = create_app(settings)
    password = first_admin_password(settings)
    host, port = sock.getsockname()[:2]
    url = settings.public_url or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    console.print(
        f"AIPipeline server {url}  (API docs: {url}/docs, database: {application.state.services.db.dialect})"
    )
    if password:
        console.print(
            f"First start: created user [bold]admin[/bold] with one-time password [bold]{password}[/bold]"
            " — change it after logging in."
        )
    for line in banner or []:
        console.print(line)
    if on_listening is not None:
        on_listening(url)
    config = uvicorn.Config(
        application,
        log_config=None,
        ws_ping_interval=settings.ws_ping_interval_s,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    _Server(config, application.state.services.claims).run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn waits for open requests before shutting down: claim long-polls (up to 30 s) are answered
    at once when the stop signal comes, so the shutdown is graceful and quick."""

    def __init__(self, config: uvicorn.Config, claims: ClaimDispatcher) -> None:
        super().__init__(config)
        self._claims = claims

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        with contextlib.suppress(RuntimeError):  # no loop yet or any more: nothing is waiting
            asyncio.get_running_loop().call_soon_threadsafe(self._claims.close_waiting)


def server(
    host: Annotated[str | None, typer.Option("--host", help="Interface (env AIPIPE_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port, 0 = any free (env AIPIPE_PORT).")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    init: Init = False,
) -> None:
    """Run the sync server (`--init` the first time, to create its database)."""
    settings = load_settings(data_dir, database_url, host=host, port=port)
    require_database(settings, init)
    serve(settings)
