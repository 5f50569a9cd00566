"""`aipipe login [URL]` and `aipipe logout [URL]`: a person's session for the commands that talk to a
server, kept as a refresh token in the user's config folder (API keys remain for agents and scripts)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import httpx
import typer

from .client import ApiKey, ServerClient, ServerUrl, connect, refusal
from .common import die, err, out
from .session import Login, SessionStore, normal_url

HTTP_TIMEOUT_S = 30.0

Url = Annotated[
    str | None,
    typer.Argument(
        help="Server URL, e.g. http://aipipe.lan:8000; default AIPIPE_SERVER_URL or the last login's.",
        show_default=False,
    ),
]


def _server(url: str | None, store: SessionStore) -> str:
    chosen = url or os.environ.get("AIPIPE_SERVER_URL") or store.default_server()
    if not chosen:
        die("Which server? Give its URL: aipipe login http://aipipe.lan:8000", 2)
    if not chosen.startswith(("http://", "https://")):
        die(f"'{chosen}' is not a URL: it starts with http:// or https://.", 2)
    return normal_url(chosen)


def login(
    url: Url = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Login name (asked if not given).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
) -> None:
    """Log in to a server once; later commands use the saved session (until `aipipe logout`)."""
    store = SessionStore()
    server = _server(url, store)
    try:
        username = user or typer.prompt("User")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True)
    except typer.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C at the prompt
        # The input closed before an answer: a script, which should say who it is without being asked.
        die("\nNo answer (the input is closed): give --user NAME and the password with --password-stdin.", 2)
    try:
        answer = httpx.post(
            f"{server}/api/auth/login",
            json={"username": username, "password": password},
            timeout=HTTP_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        die(f"Cannot reach the server at {server}: {exc}")
    if answer.is_error:
        die(refusal(answer), 1)
    saved = Login.of(answer.json())
    with store.locked():
        store.save(server, saved)
    out().print(f"Logged in to {server} as {saved.username} ({saved.role}).", markup=False, highlight=False)
    err().print(f"Session saved in {store.path}.", markup=False, highlight=False)


def logout(url: Url = None) -> None:
    """Sign the saved session out at the server and forget it here."""
    store = SessionStore()
    server = _server(url, store)
    with store.locked():
        saved = store.load(server)
        if saved is None:
            out().print(f"Not logged in to {server}.", markup=False, highlight=False)
            return
        try:
            answer = httpx.post(
                f"{server}/api/auth/logout",
                json={"refresh_token": saved.refresh_token},
                timeout=HTTP_TIMEOUT_S,
            )
            signed_out = not answer.is_error or answer.status_code == 401
        except httpx.HTTPError:
            signed_out = False
        store.clear(server)
    if signed_out:
        out().print(f"Logged out of {server}.", markup=False, highlight=False)
    else:
        out().print(
            f"Forgot the session of {server} here (the server could not be told; it ends on its own).",
            markup=False,
            highlight=False,
        )


def whoami(server: ServerUrl = None, api_key: ApiKey = None) -> None:
    """Who the commands act as, and on which server (the saved login, or the API key)."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        me = api.call("GET", "/api/whoami")
    what = f"the API key {me['name']}" if me["kind"] == "api_key" else me["name"]
    out().print(f"{what} ({me['role']}) at {api.server}.", markup=False, highlight=False)
