"""The CLI's saved logins: one refresh token (and the current access token) per server URL, in the user's
config folder (`$XDG_CONFIG_HOME/aipipeline/cli_session.json`, mode 0600), like the Blender extension.

Refresh tokens are single-use (a reused one signs the user out everywhere), so a refresh holds a file lock:
two commands started at once never both spend the same token."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "cli_session.json"
LOCK_NAME = ".cli_session.lock"
EXPIRY_MARGIN_S = 30  # renew an access token this long before it runs out (clock skew, slow requests)


def config_dir() -> Path:
    """The per-user config folder (XDG_CONFIG_HOME on Linux, so tests and users can point it elsewhere)."""
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin" and not os.environ.get("XDG_CONFIG_HOME"):
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "aipipeline"


def normal_url(url: str) -> str:
    return url.strip().rstrip("/")


@dataclass
class Login:
    """One server's saved session."""

    username: str
    role: str
    refresh_token: str
    access_token: str
    access_expires_at: float

    @classmethod
    def of(cls, pair: dict[str, Any]) -> Login:
        """From the server's token pair (POST /api/auth/login or /refresh)."""
        return cls(
            username=pair["user"]["username"],
            role=pair["user"]["role"],
            refresh_token=pair["refresh_token"],
            access_token=pair["access_token"],
            access_expires_at=time.time() + float(pair["expires_in"]),
        )

    def fresh(self) -> bool:
        return time.time() < self.access_expires_at - EXPIRY_MARGIN_S


class SessionStore:
    """Read and write the saved logins; every write is atomic and readable by the owner only."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or config_dir()
        self.path = self.folder / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"default": None, "servers": {}}
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot read the saved logins {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            return {"default": None, "servers": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".cli_session-", dir=self.folder)  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (a refresh, a login, a logout) so no token is spent twice."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.folder / LOCK_NAME, "a+b") as handle:
            try:
                import fcntl
            except ImportError:  # Windows: no advisory locks here; concurrent refreshes are unlikely there
                yield
                return
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def default_server(self) -> str | None:
        return self._read().get("default")

    def load(self, server: str) -> Login | None:
        found = self._read()["servers"].get(normal_url(server))
        if not isinstance(found, dict):
            return None
        try:
            return Login(**found)
        except TypeError:
            return None

    def save(self, server: str, login: Login) -> None:
        data = self._read()
        data["servers"][normal_url(server)] = login.__dict__
        data["default"] = normal_url(server)
        self._write(data)

    def clear(self, server: str) -> bool:
        data = self._read()
        removed = data["servers"].pop(normal_url(server), None) is not None
        if data.get("default") == normal_url(server):
            data["default"] = next(iter(data["servers"]), None)
        if removed:
            self._write(data)
        return removed
