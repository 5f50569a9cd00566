"""Write load for the server-kill chaos tests: writers that remember every write the server acknowledged,
and the check that finds each one again, exactly once, after the kills.

Each writer creates shots (a unique token in `description`), edits the `action` of its latest shot, and
now and then publishes a version (a small PNG) to it. A write the server answered 2xx is acknowledged
and must survive; a write that got no answer (the server died under it) may or may not have happened, but
never twice.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.media import png_bytes
from tests.support.server import ServerProcess

RETRY_PAUSE_S = 0.1  # after a refused connection: a starting server must not be hammered while it starts
VERSION_EVERY = 4  # every fourth operation of a writer publishes a version


class NotSent(Exception):
    """No server accepted the connection: the write was not made and is not counted."""


@dataclass
class Ledger:
    """What the writers sent and what the server acknowledged (guarded by `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    created: dict[str, str] = field(default_factory=dict)  # token -> shot id (acknowledged)
    unanswered_creates: set[str] = field(default_factory=set)  # tokens sent without an answer
    edits: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # shot -> [(action, acked)]
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # version id -> (shot id, sha256)
    unanswered: int = 0
    refused: list[str] = field(default_factory=list)  # 4xx/5xx answers: none are expected

    @property
    def acknowledged(self) -> int:
        edits = sum(1 for done in self.edits.values() for _, ok in done if ok)
        return len(self.created) + edits + len(self.versions)


class WriteLoad:
    """`writers` threads writing through whichever of `servers` answers; they wait while none does."""

    def __init__(self, servers: list[ServerProcess], token: str, project_id: str, scene_id: str) -> None:
        self.servers = servers
        self.headers = {"Authorization": f"Bearer {token}"}
        self.project_id, self.scene_id = project_id, scene_id
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, writers: int) -> None:
        for index in range(writers):
            thread = threading.Thread(target=self._write, args=(index,), daemon=True, name=f"writer-{index}")
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def wait_for_acks(self, count: int, timeout_s: float = 60.0) -> None:
        """Until `count` more writes were acknowledged (or fail after `timeout_s`)."""
        target = self.ledger.acknowledged + count
        deadline = time.monotonic() + timeout_s
        while self.ledger.acknowledged < target:
            done = self.ledger.acknowledged
            assert time.monotonic() < deadline, f"only {done}/{target} writes acknowledged"
            assert not self.ledger.refused, self.ledger.refused[:3]
            time.sleep(0.01)

    # -- the writers ----------------------------------------------------------------------------------

    def _write(self, index: int) -> None:
        latest: str | None = None
        operation = 0
        while not self.stop.is_set():
            operation += 1
            try:
                if latest is None or operation % 3 == 1:
                    latest = self._create(index) or latest
                elif operation % VERSION_EVERY == 0:
                    self._publish(latest, operation)
                else:
                    self._edit(latest, f"w{index}-op{operation}")
            except NotSent:
                continue

    def _send(self, call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response | None:
        """One attempt through a live server; None when it died before answering, NotSent when no server
        took the request at all."""
        live = [s for s in self.servers if s.process is not None and s.process.poll() is None]
        if not live:
            self.stop.wait(RETRY_PAUSE_S)  # the test is restarting the server
            raise NotSent
        server = live[threading.get_ident() % len(live)]
        try:
            with httpx.Client(base_url=server.url, headers=self.headers, timeout=30) as client:
                return call(client)
        except httpx.ConnectError:
            self.stop.wait(RETRY_PAUSE_S)
            raise NotSent from None  # refused: the request never left, so it cannot have happened
        except httpx.TransportError:
            self.stop.wait(RETRY_PAUSE_S)
            return None

    def _create(self, index: int) -> str | None:
        token = f"chaos-{index}-{uuid.uuid4().hex}"
        sent = self._send(
            lambda c: c.post(
                f"/api/projects/{self.project_id}/shots",
                json={"scene_id": self.scene_id, "description": token},
            )
        )
        with self.ledger.lock:
            if sent is None:
                self.ledger.unanswered += 1
                self.ledger.unanswered_creates.add(token)
                return None
            if sent.status_code != 201:
                self.ledger.refused.append(f"create {sent.status_code} {sent.text[:300]}")
                return None
            shot_id = sent.json()["id"]
            self.ledger.created[token] = shot_id
            self.ledger.edits[shot_id] = []
            return shot_id

    def _edit(self, shot_id: str, action: str) -> None:
        current = self._send(lambda c: c.get(f"/api/shots/{shot_id}"))
        if current is None or current.status_code != 200:
            return
        sent = self._send(
            lambda c: c.patch(
                f"/api/shots/{shot_id}", json={"action": action, "revision": current.json()["revision"]}
            )
        )
        with self.ledger.lock:
            if sent is None:
                self.ledger.unanswered += 1
                self.ledger.edits[shot_id].append((action, False))
            elif sent.status_code == 200:
                self.ledger.edits[shot_id].append((action, True))
            elif sent.status_code != 409:  # 409: a retry after a lost answer found a newer revision
                self.ledger.refused.append(f"edit {sent.status_code} {sent.text[:300]}")

    def _publish(self, shot_id: str, operation: int) -> None:
        data = png_bytes(color=(operation % 256, 40, 90))
        sent = self._send(
            lambda c: c.post(
                f"/api/shots/{shot_id}/versions",
                data={"stage": "layout"},
                files=[("files", (f"take_{operation}.png", data, "image/png"))],
            )
        )
        with self.ledger.lock:
            if sent is None:
                self.ledger.unanswered += 1
            elif sent.status_code == 201:
                self.ledger.versions[sent.json()["id"]] = (shot_id, hashlib.sha256(data).hexdigest())
            else:
                self.ledger.refused.append(f"publish {sent.status_code} {sent.text[:300]}")


@dataclass
class Verdict:
    acknowledged: int
    unanswered: int
    lost: list[str]
    duplicated: list[str]


def verify(client: httpx.Client, ledger: Ledger, project_id: str, storage: Path) -> Verdict:
    """Find every acknowledged write again; count what is missing and what is there twice."""
    items = client.get(f"/api/projects/{project_id}/shots", params={"limit": 5000}).json()["items"]
    by_token: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_token.setdefault(item["description"], []).append(item)
    lost = [f"shot {token}" for token in ledger.created if token not in by_token]
    duplicated = [f"shot {token} x{len(found)}" for token, found in by_token.items() if len(found) > 1]
    codes = [item["code"] for item in items]
    duplicated += [f"code {code}" for code in {c for c in codes if codes.count(c) > 1}]
    unexpected = set(by_token) - set(ledger.created) - ledger.unanswered_creates
    lost += [f"shot {token} that nobody created" for token in unexpected]
    shots = {item["id"]: item for found in by_token.values() for item in found}
    for shot_id, edits in ledger.edits.items():
        acked = [i for i, (_, ok) in enumerate(edits) if ok]
        if not acked or shot_id not in shots:
            continue
        allowed = {edits[acked[-1]][0]} | {action for action, ok in edits[acked[-1] + 1 :] if not ok}
        if shots[shot_id]["action"] not in allowed:
            lost.append(f"edit of {shot_id}: has {shots[shot_id]['action']!r}, expected one of {allowed}")
    numbers: dict[tuple[str, int], str] = {}
    for version_id, (shot_id, sha) in ledger.versions.items():
        found = client.get(f"/api/versions/{version_id}")
        if found.status_code != 200:
            lost.append(f"version {version_id}: {found.status_code}")
            continue
        body = found.json()
        key = (shot_id, body["number"])
        if key in numbers:
            duplicated.append(f"version number {key}")
        numbers[key] = version_id
        path = storage / body["files"][0]["path"]
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            lost.append(f"version {version_id}: file {path} missing or changed")
    return Verdict(ledger.acknowledged, ledger.unanswered, lost, duplicated)
