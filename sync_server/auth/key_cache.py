"""Recently seen API keys, so an agent's frequent calls (claims, heartbeats) skip the key lookup.

An entry lives `ttl_s` seconds. Any API key or user event (a key revoked or created, a user changed) from
any server process clears the whole cache at once, so a revoked key stops working within the time the
event takes to arrive (milliseconds); the TTL only bounds the damage if events were to stop arriving.
"""

from __future__ import annotations

import time
from typing import Any

from ..context import Principal

MAX_ENTRIES = 10_000


class ApiKeyCache:
    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        principal, expires = entry
        if time.monotonic() >= expires:
            self._entries.pop(key_hash, None)
            return None
        return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        if self._ttl_s <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = (principal, time.monotonic() + self._ttl_s)

    def clear(self) -> None:
        self._entries.clear()

    def on_event(self, message: dict[str, Any]) -> None:
        """Event-loop listener of the event hub."""
        if message.get("entity") in ("api_key", "user"):
            self.clear()
