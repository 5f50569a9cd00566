"""The add-on's one HTTP client for the sync server (standard library only: `urllib` + `json`).

Blocking by design: call it from the add-on's worker thread (`core.worker.Worker`), never from Blender's
main thread. It keeps the access token in memory and the refresh token in a `TokenStore` (a file in the
user's config folder, owner-only), refreshes once on a 401 and retries, and turns every refusal into an
`ApiError` that carries the server's problem+json (`detail`, `errors[].field`, `current` on 409).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .multipart import MultipartBody
from .tokens import TokenStore

DEFAULT_TIMEOUT_S = 30.0
CHUNK_BYTES = 256 * 1024
Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a file goes up or comes down."""


@dataclass
class ApiError(Exception):
    """A request the server refused (or could not be made); `message` is what to show the artist."""

    status: int
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        fields = ", ".join(str(e.get("field")) for e in self.errors if e.get("field"))
        where = f" ({fields})" if fields and fields not in self.message else ""
        return f"{self.message}{where}" if self.status == 0 else f"{self.status}: {self.message}{where}"

    @property
    def current(self) -> dict[str, Any] | None:
        """On a 409 for a stale revision: the record as it now is on the server."""
        value = self.body.get("current")
        return value if isinstance(value, dict) else None


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any


class ApiClient:
    """Talks to one server. Thread-safe for the token; meant to be used from one worker thread."""

    def __init__(self, base_url: str, tokens: TokenStore, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"server URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.user: dict[str, Any] | None = None
        self._access: str | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    # -- session ------------------------------------------------------------------------------------

    @property
    def access_token(self) -> str | None:
        return self._access

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in with a password (used once); keeps only the refresh token on disk. Returns the user."""
        pair = self._send("POST", "/api/auth/login", {"username": username, "password": password}, auth=False)
        return self._take(pair.data)

    def resume(self) -> dict[str, Any] | None:
        """Log in again from the stored refresh token; None when there is none; ApiError when refused."""
        token = self.tokens.load(self.base_url)
        if not token:
            return None
        try:
            pair = self._send("POST", "/api/auth/refresh", {"refresh_token": token}, auth=False)
        except ApiError as exc:
            if exc.status in (401, 403):
                self.tokens.clear(self.base_url)
            raise
        return self._take(pair.data)

    def use_api_key(self, key: str, name: str = "API key") -> None:
        """Authenticate a script or farm host with an API key (`aip_…`): no refresh token, nothing stored."""
        with self._lock:
            self._access = key
            self.user = {"username": name, "role": ""}

    def logout(self) -> None:
        token = self.tokens.load(self.base_url)
        try:
            if token:
                self._send("POST", "/api/auth/logout", {"refresh_token": token}, auth=False)
        finally:
            self.tokens.clear(self.base_url)
            with self._lock:
                self._access, self.user = None, None

    def _take(self, pair: dict[str, Any]) -> dict[str, Any]:
        self.tokens.save(self.base_url, pair["refresh_token"])
        with self._lock:
            self._access = pair["access_token"]
            self.user = pair.get("user") or {}
        return self.user

    def _refresh(self, stale: str | None) -> bool:
        """After a 401 with the access token `stale`: refresh once. Threads that met the same 401 wait
        here and reuse the new token: a refresh token presented twice signs the user out everywhere."""
        with self._refresh_lock:
            if self._access is not None and self._access != stale:
                return True  # another thread refreshed meanwhile
            try:
                return self.resume() is not None
            except ApiError:
                return False

    # -- requests -----------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).data

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One JSON request; on 401 the access token is refreshed once and the request retried."""
        if params:
            query = urllib.parse.urlencode(
                [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
            )
            path = f"{path}?{query}"
        token = self._access
        try:
            return self._send(method, path, body, headers=headers)
        except ApiError as exc:
            if exc.status != 401 or not self._refresh(token):
                raise
        return self._send(method, path, body, headers=headers)

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        data: Iterable[bytes] | bytes | None = None,
        length: int | None = None,
    ) -> Response:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if length is not None:
            all_headers["Content-Length"] = str(length)
        if auth and self._access:
            all_headers["Authorization"] = f"Bearer {self._access}"
        request = urllib.request.Request(self._url(path), data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                raw = reply.read()
                return Response(reply.status, dict(reply.headers), _decode(raw, reply.headers))
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach the server at {self.base_url}: {reason}") from None

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    # -- files --------------------------------------------------------------------------------------

    def upload(
        self,
        path: str,
        fields: Mapping[str, str],
        files: list[str],
        progress: Progress | None = None,
    ) -> Any:
        """POST a multipart form (text `fields` first, then `files` streamed from disk); returns the JSON."""
        body = MultipartBody(fields, files, "files")

        def send() -> Response:
            headers = {"Content-Type": body.content_type}
            return self._send("POST", path, headers=headers, data=body.chunks(progress), length=body.length)

        token = self._access
        try:
            return send().data
        except ApiError as exc:
            if exc.status != 401 or not self._refresh(token):
                raise
        return send().data

    def download(self, url: str, target: str, progress: Progress | None = None) -> str:
        """Stream `url` to `target` (written to a temp file beside it, then renamed). Returns `target`."""
        headers = {"Authorization": f"Bearer {self._access}"} if self._access else {}
        request = urllib.request.Request(self._url(url), headers=headers)
        folder = os.path.dirname(os.path.abspath(target))
        os.makedirs(folder, exist_ok=True)
        partial = f"{target}.part-{os.getpid()}-{threading.get_ident()}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                total = int(reply.headers.get("Content-Length") or 0)
                done = 0
                with open(partial, "wb") as out:
                    while chunk := reply.read(CHUNK_BYTES):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(partial, target)
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, f"download of {url} failed: {getattr(exc, 'reason', exc)}") from None
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        return target


def _decode(raw: bytes, headers: Any) -> Any:
    if not raw:
        return None
    kind = headers.get("Content-Type", "") if headers else ""
    if "json" in kind:
        return json.loads(raw.decode("utf-8"))
    return raw


def _problem(exc: urllib.error.HTTPError) -> ApiError:
    try:
        body = json.loads(exc.read().decode("utf-8") or "{}")
    except (ValueError, OSError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("detail") or body.get("title") or exc.reason or "request failed"
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    return ApiError(exc.code, str(message), errors, body)
