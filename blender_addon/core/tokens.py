"""Where the refresh token lives: one JSON file in the user's config folder, readable by the owner only.

Never in a .blend, never the password. One token per server URL, so a studio with a test server and a
production server keeps both sessions.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading

FILE_NAME = "aipipeline_session.json"


def default_config_dir() -> str:
    """The OS's per-user config folder (Blender passes its own `user_resource('CONFIG')` instead)."""
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "aipipeline")


class TokenStore:
    """Load, save and clear refresh tokens by server URL; writes are atomic and mode 0600."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, FILE_NAME)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot read the saved session {self.path}: {exc}") from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        folder = os.path.dirname(self.path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".session-", dir=folder)
        try:
            os.chmod(temp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            if os.path.exists(temp):
                os.remove(temp)
            raise

    def load(self, server: str) -> str | None:
        with self._lock:
            return self._read().get(server.rstrip("/"))

    def save(self, server: str, token: str) -> None:
        with self._lock:
            data = self._read()
            data[server.rstrip("/")] = token
            self._write(data)

    def clear(self, server: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(server.rstrip("/"), None) is not None:
                self._write(data)
