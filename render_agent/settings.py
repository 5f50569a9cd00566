"""Render-agent settings: one pydantic-settings class, environment prefix `AIPIPE_AGENT_`.

Nothing is read at import time: the CLI (or a test) builds an `AgentSettings` and hands it to the agent.
No URL or port has a default: the server and the ComfyUI to drive are always configured.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SigtermMode = Literal["finish", "release"]


def _split_list(value: Any) -> Any:
    """Accept `a,b` as well as a JSON list (`["a", "b"]`) or a Python list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value


class AgentSettings(BaseSettings):
    """All render-agent configuration. Environment variables use the `AIPIPE_AGENT_` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="AIPIPE_AGENT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    server_url: str = Field(
        description="Base URL of the sync server, e.g. https://aipipe.studio.lan; several server processes "
        "of one farm as a comma-separated list (the agent fails over between them)."
    )
    api_key: SecretStr = Field(description="API key of role `agent` (`aip_…`).")
    comfyui_url: str | None = Field(
        default=None, description="The local ComfyUI to drive; unset = CPU job types only."
    )
    blender: str | None = Field(
        default=None,
        description="Blender for playblast and control_image jobs: a Blender executable, or a Python that "
        "has the bpy module. Unset: this agent takes no such jobs.",
    )
    name: str = Field(default_factory=socket.gethostname, description="Agent name; unique on the farm.")
    tags: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Tags jobs may require.")
    job_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Job types to accept; empty = every type this agent can run."
    )
    work_dir: Path = Field(default=Path("agent-work"), description="Inputs, outputs and the outbox.")
    outbox_path: Path | None = Field(default=None, description="SQLite outbox; default <work_dir>/outbox.db")

    heartbeat_s: float | None = Field(
        default=None, gt=0, description="Heartbeat interval; default = what the server says at registration."
    )
    claim_wait_s: float = Field(default=30.0, gt=0, description="Long-poll length (capped by the server).")
    progress_interval_s: float = Field(
        default=1.0, gt=0, description="Shortest time between two job heartbeats that carry new progress."
    )
    cancel_cleanup_s: float = Field(
        default=900.0,
        gt=0,
        description="After a cancel, how long to wait for ComfyUI to finish the node it cannot interrupt "
        "before deleting the prompt's history entry and files.",
    )
    backoff_min_s: float = Field(default=1.0, gt=0, description="First delay while the server is away.")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest delay while the server is away.")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Read timeout of one server request.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Connect timeout (server and ComfyUI).")
    transfer_timeout_s: float = Field(
        default=600.0, gt=0, description="Read/write timeout of one input download or output upload."
    )
    download_attempts: int = Field(default=5, ge=1, description="Tries per input download before failing.")
    segment_cache_gb: float = Field(
        default=50.0,
        gt=0,
        description="The delivery cache in <work_dir>/segments/ (conform segments and sound, masters' shot "
        "pieces and sound) is trimmed past this many GB, least recently used first.",
    )
    shutdown_flush_s: float = Field(
        default=30.0, ge=0, description="On exit, how long to keep trying to deliver buffered reports."
    )
    on_sigterm: SigtermMode = Field(
        default="finish", description="finish: finish the current job, then exit; release: give it back now."
    )
    log_level: str = Field(default="INFO", description="Python logging level name.")

    @field_validator("tags", "job_types", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    comfyui_output_dir: Path | None = Field(
        default=None,
        description="ComfyUI's output folder, when on this host: the files of a cancelled prompt are "
        "deleted there (ComfyUI cannot delete them over HTTP). Unset: they are left.",
    )

    @field_validator("server_url")
    @classmethod
    def _server_urls(cls, value: str) -> str:
        urls = [_http_url(part) for part in value.split(",") if part.strip()]
        if not urls:
            raise ValueError("at least one server URL is needed")
        return ",".join(urls)

    @field_validator("comfyui_url")
    @classmethod
    def _comfyui_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @property
    def server_urls(self) -> list[str]:
        """Every server URL given, in order: the agent starts with the first."""
        return self.server_url.split(",")

    @model_validator(mode="after")
    def _backoff_order(self) -> AgentSettings:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must be >= backoff_min_s")
        return self

    @property
    def resolved_outbox_path(self) -> Path:
        return self.outbox_path or self.work_dir / "outbox.db"
