"""How the commands that work on project data reach a running server: the --server / --api-key options,
one HTTP client that turns every refusal into the server's own words, and project lookup by code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import httpx
import typer

from .common import CliError, die

MAX_ERRORS_SHOWN = 20

ServerUrl = Annotated[
    str | None,
    typer.Option("--server", envvar="AIPIPE_SERVER_URL", help="Sync server URL.", show_default=False),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="AIPIPE_API_KEY",
        help="API key; better the env var AIPIPE_API_KEY (flags show in ps).",
        show_default=False,
    ),
]


def refusal(response: httpx.Response) -> str:
    """The server's problem+json: status, title and detail, then each error with where it is (sheet,
    row, field) and what is wrong, one per line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300] or response.reason_phrase
        return f"Refused ({response.status_code}): {text}"
    title = body.get("title") or response.reason_phrase
    detail = body.get("detail") or ""
    lines = [f"Refused ({response.status_code} {title}): {detail}"]
    for error in (body.get("errors") or [])[:MAX_ERRORS_SHOWN]:
        if error.get("message") == detail and not error.get("row"):
            continue  # the detail already says it
        row = error.get("row")
        where = ", ".join(str(x) for x in (error.get("sheet"), row and f"row {row}", error.get("field")) if x)
        lines.append(f"  {where}: {error.get('message', '')}")
    return "\n".join(lines)


class ServerClient:
    """One httpx client for the command's server."""

    def __init__(self, server: str, token: str, timeout_s: float) -> None:
        self.server = server.rstrip("/")
        self.http = httpx.Client(
            base_url=self.server, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer, or CliError with the server's refusal (or why it could not be reached)."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"Cannot reach the server at {self.server}: {exc}") from exc
        if response.is_error:
            raise CliError(refusal(response))
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (None for an empty answer)."""
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def project(self, ref: str) -> dict[str, Any]:
        """A project by id or code (exact, else case-insensitive)."""
        try:
            return self.call("GET", f"/api/projects/{uuid.UUID(ref)}")
        except ValueError:
            page = self.call("GET", "/api/projects", params={"q": ref, "limit": 100})
        found = [p for p in page["items"] if p["code"] == ref] or [
            p for p in page["items"] if p["code"].lower() == ref.lower()
        ]
        if not found:
            raise CliError(f"No project with code '{ref}'.")
        return found[0]

    def project_id(self, ref: str) -> str:
        """A project id from an id or a project code."""
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            return self.project(ref)["id"]


C = TypeVar("C", bound=ServerClient)


@contextmanager
def connect(
    make: type[C], server: str | None, api_key: str | None, *, timeout_s: float, key_hint: str = ""
) -> Iterator[C]:
    """A client for the command's server; a CliError inside becomes its message and exit status."""
    if not server:
        die("No server: pass --server URL or set AIPIPE_SERVER_URL.", 2)
    if not api_key:
        die(f"No API key: set AIPIPE_API_KEY{key_hint} or pass --api-key.", 2)
    client = make(server, api_key, timeout_s)
    try:
        yield client
    except CliError as exc:
        die(exc.message, exc.exit_code)
    finally:
        client.close()
