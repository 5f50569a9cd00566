"""Our agent protocol (docs/agent-protocol.md) over httpx: one request per call, typed errors, no retries.

Retrying, backoff and buffering belong to the caller (agent.py and outbox.py). Errors map the server's
problem+json: 401/403 -> FarmAuthError, 404 -> FarmNotFound, 409 lease-lost -> LeaseLost, 409 conflict ->
OutputConflict, other 4xx -> FarmRefused; connection failures, timeouts and 5xx -> FarmUnavailable.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
UPLOAD_CHUNK = 4 * 1024 * 1024  # an upload's reads: fewer, bigger writes to the socket (less CPU per GB)


class FarmError(Exception):
    """Base of every error talking to the sync server; `status` and `problem_type` when it answered."""

    def __init__(self, message: str, *, status: int | None = None, problem_type: str = ""):
        super().__init__(message)
        self.status = status
        self.problem_type = problem_type


class FarmUnavailable(FarmError):
    """The server could not be reached, timed out or answered 5xx: try again later."""


class FarmAuthError(FarmError):
    """401/403: the API key is bad, revoked or not of role `agent`; an operator must fix it."""


class FarmNotFound(FarmError):
    """404: unknown agent (register again) or job."""


class LeaseLost(FarmError):
    """409 lease-lost: the job is no longer ours; stop, upload nothing, report nothing more."""


class OutputConflict(FarmError):
    """409 conflict: an output name already holds other bytes."""


class FarmRefused(FarmError):
    """Any other 4xx (422 validation…): the message was refused; sending it again will not help."""


class ChecksumMismatch(FarmError):
    """A downloaded input's sha256 differs from the one the job announced."""


@dataclass(frozen=True)
class Registration:
    agent_id: str
    lease_s: float
    heartbeat_s: float
    claim_wait_max_s: float


@dataclass(frozen=True)
class Claim:
    """A leased job: the job object as the server sent it, and the lease."""

    job: dict[str, Any]
    lease_id: str
    lease_expires_at: str | None

    @property
    def job_id(self) -> str:
        return str(self.job["id"])


@dataclass(frozen=True)
class JobHeartbeatReply:
    action: str  # "continue" | "cancel"
    lease_expires_at: str | None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FarmClient:
    """Speak docs/agent-protocol.md to the sync server with one API key. Given several server URLs (server
    processes of one farm), it talks to one at a time and moves to the next when that one does not answer."""

    def __init__(
        self,
        base_url: str | list[str],
        api_key: str,
        *,
        request_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        transfer_timeout: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [url.rstrip("/") for url in urls]
        if not self.base_urls:
            raise ValueError("FarmClient needs at least one server URL")
        self._current = 0
        self._api_key = api_key
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.transfer_timeout = transfer_timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> FarmClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """The server this client talks to now."""
        return self.base_urls[self._current]

    def _fail_over(self, reason: object) -> None:
        """Move on to the next server URL (the current one did not answer)."""
        if len(self.base_urls) == 1:
            return
        before = self.base_url
        self._current = (self._current + 1) % len(self.base_urls)
        log.warning("server %s does not answer (%s); switching to %s", before, reason, self.base_url)

    async def start(self) -> None:
        if self._http is None:
            # Paths are joined to the current server's URL per request (`_url`): no base_url here.
            self._http = httpx.AsyncClient(
                headers={"Authorization": f"Bearer {self._api_key}"},
                timeout=httpx.Timeout(self.request_timeout, connect=self.connect_timeout),
                transport=self._transport,
                follow_redirects=False,
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ---- agents ----------------------------------------------------------------------------
    async def register(self, body: dict[str, Any]) -> Registration:
        """`POST /api/farm/agents/register`; the answer carries the agent id and the farm's timing."""
        answer = (await self._post_json("/api/farm/agents/register", body)).json()
        return Registration(
            agent_id=str(answer["agent_id"]),
            lease_s=float(answer["lease_s"]),
            heartbeat_s=float(answer["heartbeat_s"]),
            claim_wait_max_s=float(answer["claim_wait_max_s"]),
        )

    async def agent_heartbeat(
        self,
        agent_id: str,
        *,
        state: str,
        loaded_models: list[str],
        gpus: list[dict[str, Any]],
        reason: str = "",
    ) -> str:
        """`POST …/agents/{id}/heartbeat` -> "continue" or "drain". `reason`: why it is `unavailable`."""
        body: dict[str, Any] = {"state": state, "loaded_models": loaded_models, "gpus": gpus}
        if reason:
            body["reason"] = reason
        answer = (await self._post_json(f"/api/farm/agents/{agent_id}/heartbeat", body)).json()
        return str(answer.get("action", "continue"))

    async def put_object_info(self, agent_id: str, object_info: dict[str, Any]) -> str:
        """`PUT …/agents/{id}/object-info`: the agent's ComfyUI `/object_info`; answers its sha256."""
        path = f"/api/farm/agents/{agent_id}/object-info"
        return str((await self._send("PUT", path, json=object_info)).json()["sha256"])

    async def claim(self, agent_id: str, *, wait_s: float, loaded_models: list[str]) -> Claim | None:
        """Long-poll `POST …/agents/{id}/claim`: a Claim, or None when nothing came within wait_s."""
        body = {"wait_s": wait_s, "loaded_models": loaded_models}
        timeout = httpx.Timeout(wait_s + self.request_timeout, connect=self.connect_timeout)
        response = await self._post_json(f"/api/farm/agents/{agent_id}/claim", body, timeout=timeout)
        if response.status_code == 204:
            return None
        answer = response.json()
        lease = answer["lease"]
        return Claim(job=answer["job"], lease_id=str(lease["id"]), lease_expires_at=lease.get("expires_at"))

    # ---- jobs ------------------------------------------------------------------------------
    async def job_heartbeat(self, job_id: str, body: dict[str, Any]) -> JobHeartbeatReply:
        """`POST /api/farm/jobs/{id}/heartbeat` (lease_id, progress, stage, preview); renews the lease."""
        answer = (await self._post_json(f"/api/farm/jobs/{job_id}/heartbeat", body)).json()
        return JobHeartbeatReply(str(answer.get("action", "continue")), answer.get("lease_expires_at"))

    async def watch_job(self, job_id: str, lease_id: str, *, wait_s: float) -> str:
        """Long-poll `POST /api/farm/jobs/{id}/watch`: "cancel" the moment the job is cancelled, else
        "continue" after `wait_s`; LeaseLost when the job is no longer ours."""
        timeout = httpx.Timeout(wait_s + self.request_timeout, connect=self.connect_timeout)
        body = {"lease_id": lease_id, "wait_s": wait_s}
        answer = (await self._post_json(f"/api/farm/jobs/{job_id}/watch", body, timeout=timeout)).json()
        return str(answer.get("action", "continue"))

    async def upload_output(
        self, job_id: str, lease_id: str, path: Path, *, name: str, sha256: str
    ) -> dict[str, Any]:
        """Stream one output file (multipart `lease_id` + `files`, plus its `sha256`, which the server
        checks: a 422 if the bytes it got differ); idempotent. The file is read UPLOAD_CHUNK at a time in a
        worker thread while it is sent: never held in memory, and the event loop (heartbeats) never waits
        on the disk."""
        path = Path(path)
        timeout = httpx.Timeout(self.transfer_timeout, connect=self.connect_timeout)
        body = MultipartFile({"lease_id": lease_id, "sha256": sha256}, "files", name, path)
        response = await self._send(
            "POST",
            f"/api/farm/jobs/{job_id}/outputs",
            content=body,
            headers=body.headers(),
            timeout=timeout,
        )
        answer = _json_or_empty(response)
        for stored in answer.get("outputs") or answer.get("files") or []:
            if (
                isinstance(stored, dict)
                and stored.get("name") == name
                and stored.get("sha256")
                not in (
                    None,
                    sha256,
                )
            ):
                raise ChecksumMismatch(
                    f"server stored output {name} with sha256 {stored['sha256']}, we sent {sha256}"
                )
        return answer

    async def complete(
        self, job_id: str, lease_id: str, *, gpu_seconds: float, provenance: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"lease_id": lease_id, "gpu_seconds": gpu_seconds, "provenance": provenance}
        return _json_or_empty(await self._post_json(f"/api/farm/jobs/{job_id}/complete", body))

    async def fail(
        self, job_id: str, lease_id: str, *, error: str, retryable: bool, kind: str | None = None
    ) -> dict[str, Any]:
        """`kind`: input (depends only on the job's inputs), node (a node raised), agent (this host)."""
        body: dict[str, Any] = {"lease_id": lease_id, "error": error, "retryable": retryable}
        if kind:
            body["kind"] = kind
        return _json_or_empty(await self._post_json(f"/api/farm/jobs/{job_id}/fail", body))

    async def release(self, job_id: str, lease_id: str) -> dict[str, Any]:
        body = {"lease_id": lease_id}
        return _json_or_empty(await self._post_json(f"/api/farm/jobs/{job_id}/release", body))

    # ---- files -----------------------------------------------------------------------------
    async def download(self, url: str, dest: Path, *, sha256: str | None = None) -> str:
        """Stream a server file (URL relative to the server) to dest via a temp name; returns its sha256.

        Raises ChecksumMismatch when `sha256` is given and differs. Absolute URLs must point at the server
        itself: the API key is never sent anywhere else.
        """
        target = self._resolve(url)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        timeout = httpx.Timeout(self.transfer_timeout, connect=self.connect_timeout)
        try:
            async with self._client().stream("GET", target, timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    _raise_for_status(response, f"GET {target}")
                with part.open("wb") as fh:
                    async for chunk in response.aiter_bytes(CHUNK):
                        fh.write(chunk)
                        digest.update(chunk)
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            if not url.startswith(("http://", "https://")):
                self._fail_over(exc)
            raise FarmUnavailable(f"GET {target} failed: {exc}") from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            part.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{url}: sha256 is {actual}, the job says {sha256}")
        part.replace(dest)
        return actual

    # ---- internals -------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("FarmClient is not started (use `async with FarmClient(...)`)")
        return self._http

    def _resolve(self, url: str) -> httpx.URL:
        target = httpx.URL(self.base_url + "/").join(url)
        for server in self.base_urls:
            base = httpx.URL(server + "/")
            if (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port):
                return target
        raise FarmRefused(f"input URL {url} is not on the server {self.base_url}; refusing to fetch it")

    async def _post_json(
        self, path: str, body: dict[str, Any], *, timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"json": body}
        if timeout is not None:
            kwargs["timeout"] = timeout
        return await self._send("POST", path, **kwargs)

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to the current server. A server that cannot be reached at all is passed over for
        the next one at once (the request never arrived); one that fails mid-request or answers 5xx is
        passed over for the next call (the caller backs off and retries)."""
        for _ in self.base_urls:
            url = self.base_url + path
            try:
                response = await self._client().request(method, url, **kwargs)
            except httpx.ConnectError as exc:
                self._fail_over(exc)
                error: Exception = exc
                continue
            except httpx.HTTPError as exc:
                self._fail_over(exc)
                raise FarmUnavailable(f"{method} {url} failed: {exc!r}") from exc
            if response.status_code in (502, 503, 504):
                self._fail_over(f"answered {response.status_code}")
            _raise_for_status(response, f"{method} {path}")
            return response
        raise FarmUnavailable(f"{method} {path}: no server answers ({error!r})") from error


class MultipartFile:
    """A multipart/form-data body of text fields and one file, streamed: each iteration (a retry starts a
    new one) reopens the file and reads it UPLOAD_CHUNK at a time in a worker thread. Its length is known
    up front (Content-Length), so the server sees an ordinary body, not a chunked one."""

    def __init__(self, fields: dict[str, str], file_field: str, file_name: str, path: Path) -> None:
        self.boundary = uuid.uuid4().hex
        self.path = path
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(key)}"\r\n\r\n{value}\r\n'
            for key, value in fields.items()
        ]
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quoted(file_field)}"; '
            f'filename="{_quoted(file_name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self.head = "".join(parts).encode("utf-8")
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def headers(self) -> dict[str, str]:
        size = len(self.head) + self.path.stat().st_size + len(self.tail)
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(size),
        }

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        with self.path.open("rb") as fh:
            while chunk := await asyncio.to_thread(fh.read, UPLOAD_CHUNK):
                yield chunk
        yield self.tail


def _quoted(value: str) -> str:
    """A form parameter value as browsers write it (HTML5): quotes and line breaks percent-encoded."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    body = _json_or_empty(response)
    problem_type = str(body.get("type") or "").rsplit("/", 1)[-1]
    detail = body.get("detail") or body.get("title") or response.text[:300]
    kind = f" {problem_type}" if problem_type else ""
    message = f"{what} answered {status}{kind}: {detail}"
    if status >= 500 or status in (408, 429):
        raise FarmUnavailable(message, status=status, problem_type=problem_type)
    if status in (401, 403):
        raise FarmAuthError(message, status=status, problem_type=problem_type)
    if status == 404:
        raise FarmNotFound(message, status=status, problem_type=problem_type)
    if status == 409 and problem_type == "lease-lost":
        raise LeaseLost(message, status=status, problem_type=problem_type)
    if status == 409:
        raise OutputConflict(message, status=status, problem_type=problem_type)
    raise FarmRefused(message, status=status, problem_type=problem_type)
