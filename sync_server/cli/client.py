"""How the commands that work on project data reach a running server: the --server / --api-key options,
the saved login (`aipipe login`) or an API key, one HTTP client that turns every refusal into the
server's own words, and project lookup by code."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import httpx
import typer

from .common import CliError, die
from .session import Login, SessionStore, normal_url

MAX_ERRORS_SHOWN = 20

ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="AIPIPE_SERVER_URL",
        help="Sync server URL; default the one of the last `aipipe login`.",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="AIPIPE_API_KEY",
        help="API key (agents, scripts); better the env var AIPIPE_API_KEY (flags show in ps). "
        "Default: the saved `aipipe login`.",
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


class KeyAuth(httpx.Auth):
    """An API key, sent as it is."""

    def __init__(self, key: str) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.key}"
        yield request


class SessionAuth(httpx.Auth):
    """The saved login of `server`: its access token, renewed with the refresh token when it runs out
    (or when the server refuses it), the new pair saved for the next command."""

    def __init__(self, server: str, store: SessionStore) -> None:
        self.server = normal_url(server)
        self.store = store

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
            request.headers["Authorization"] = f"Bearer {self.token(rejected=token)}"
            yield request

    def token(self, rejected: str | None = None) -> str:
        with self.store.locked():
            login = self.store.load(self.server)
            if login is None:
                raise CliError(
                    f"Not logged in to {self.server}: run `aipipe login {self.server}` "
                    "(or set AIPIPE_API_KEY).",
                    exit_code=2,
                )
            if login.fresh() and login.access_token != rejected:
                return login.access_token
            try:
                answer = httpx.post(
                    f"{self.server}/api/auth/refresh", json={"refresh_token": login.refresh_token}, timeout=30
                )
            except httpx.HTTPError as exc:
                raise CliError(f"Cannot reach the server at {self.server}: {exc}") from exc
            if answer.status_code in (400, 401, 422):
                self.store.clear(self.server)
                raise CliError(
                    f"Your login to {self.server} has ended ({refusal(answer)}). "
                    f"Run `aipipe login {self.server}` again.",
                    exit_code=2,
                )
            if answer.is_error:
                raise CliError(refusal(answer))
            renewed = Login.of(answer.json())
            self.store.save(self.server, renewed)
            return renewed.access_token


class ServerClient:
    """One httpx client for the command's server."""

    def __init__(self, server: str, auth: httpx.Auth, timeout_s: float) -> None:
        self.server = server.rstrip("/")
        self.http = httpx.Client(base_url=self.server, auth=auth, timeout=timeout_s)

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
    """A client for the command's server (`server`, else the last login's); it authenticates with
    `api_key` if given, else with the saved login. A CliError inside becomes its message and exit status."""
    store = SessionStore()
    try:
        url = server or store.default_server()
    except OSError as exc:
        die(str(exc), 2)
    if not url:
        die("No server: run `aipipe login URL` first, or pass --server URL / set AIPIPE_SERVER_URL.", 2)
    if not api_key:
        try:
            saved = store.load(url)
        except OSError as exc:
            die(str(exc), 2)
        if saved is None:
            die(f"Not logged in to {normal_url(url)}: run `aipipe login {normal_url(url)}`, or set "
                f"AIPIPE_API_KEY{key_hint}.", 2)  # fmt: skip
    auth: httpx.Auth = KeyAuth(api_key) if api_key else SessionAuth(url, store)
    client = make(url, auth, timeout_s)
    try:
        yield client
    except CliError as exc:
        die(exc.message, exc.exit_code)
    finally:
        client.close()
