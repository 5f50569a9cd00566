"""Server settings: one pydantic-settings class read from the environment and `.env`.

Every key is documented in `.env.example`. Nothing here is read at import time: the CLI and the
tests build a `Settings` object and hand it to `create_app`.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

JWT_SECRET_FILE = "jwt_secret"
logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    """All server configuration. Environment variables use the `AIPIPE_` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="AIPIPE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Database, secrets, logs and backups live here.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file `aipipe.db` inside data_dir."
    )
    storage_root: Path | None = Field(
        default=None, description="Root of the production tree; default `<data_dir>/storage`."
    )
    host: str = Field(default="127.0.0.1", description="Interface `aipipe server` binds to.")
    port: int = Field(
        default=8000, ge=0, le=65535, description="Port `aipipe server` binds to (0 = any free)."
    )
    public_url: str | None = Field(default=None, description="URL printed for users; default from host/port.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed; never '*'.")

    jwt_secret: str | None = Field(default=None, description="HMAC key for tokens; generated once if unset.")
    access_token_ttl_s: int = Field(default=900, gt=0)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    api_key_cache_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a seen API key is trusted without a lookup (revoking clears it); 0: off.",
    )
    login_max_failures: int = Field(default=5, gt=0, description="Failed logins per user+address per window.")
    login_max_failures_per_address: int = Field(
        default=20, gt=0, description="Failed logins per address (any usernames) per window."
    )
    login_window_s: int = Field(default=300, gt=0)

    max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0, description="Largest JSON request body.")
    max_json_depth: int = Field(
        default=64, ge=2, le=500, description="Deepest nesting of JSON a client may send (arrays/objects)."
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024 * 1024, gt=0, description="Largest file upload.")
    upload_extensions: list[str] = Field(
        default_factory=lambda: [
            "png",
            "jpg",
            "jpeg",
            "exr",
            "tif",
            "tiff",
            "webp",
            "mp4",
            "mov",
            "mkv",
            "webm",
            "wav",
            "blend",
            "fbx",
            "abc",
            "usd",
            "usda",
            "usdc",
            "usdz",
            "json",
            "txt",
            "otio",
            "edl",
            "xml",
        ],
        description="File extensions a version may contain (lower case, no dot).",
    )
    thumbnail_size: int = Field(default=320, ge=32, le=2048, description="Longest side of thumbnails, px.")
    media_url_ttl_s: int = Field(
        default=900,
        ge=10,
        le=86400,
        description="How long a signed media URL (one file, for a browser's <video>) stays valid, s.",
    )
    path_mappings: list[dict[str, str]] = Field(
        default_factory=list,
        description='How workstations reach the storage root: [{"linux": "/mnt/nas/aipipe", '
        '"windows": "Z:\\\\aipipe", "darwin": "/Volumes/nas/aipipe"}]; see docs/storage.md.',
    )
    page_size_default: int = Field(default=100, gt=0)
    page_size_max: int = Field(default=5000, gt=0)

    log_level: str = Field(default="INFO")
    log_format: Literal["json", "console"] = Field(default="console")
    log_file: Path | None = Field(default=None, description="Also log to this file, rotated by size.")
    log_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    log_backup_count: int = Field(default=5, ge=0)

    ws_ping_interval_s: float = Field(default=20.0, gt=0, description="Server ping to WebSocket clients.")
    events_poll_interval_s: float = Field(
        default=2.0, gt=0, description="Safety poll for events missed by the notifier."
    )
    events_replay_max: int = Field(default=10000, gt=0, description="Most events replayed on resume.")
    metrics_farm_refresh_s: float = Field(
        default=15.0, gt=0, description="How often the farm gauges of /api/metrics are counted (a worker)."
    )
    stale_tmp_age_s: float = Field(
        default=600.0,
        ge=0,
        description="Temporary files of interrupted writes older than this are removed (at start, hourly).",
    )
    events_queue_size: int = Field(
        default=2000, gt=0, description="Events a live client may fall behind before it is closed (1013)."
    )
    farm_lease_s: int = Field(default=60, gt=0, description="A job lease not renewed this long expires.")
    farm_sweep_s: float = Field(
        default=5.0, gt=0, description="How often expired leases and overdue jobs are taken back."
    )
    farm_heartbeat_s: int = Field(default=10, gt=0, description="How often agents heartbeat.")
    farm_lease_flush_s: float = Field(
        default=1.0,
        gt=0,
        description="A heartbeat that found the database busy is answered at once and written this soon "
        "after; leases expire twice this much later, for other servers' pending heartbeats.",
    )
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness added to heavy background work (import processes, ffmpeg): requests first.",
    )
    farm_claim_wait_max_s: float = Field(default=30.0, gt=0, description="Longest claim long-poll.")
    farm_retry_backoff_s: float = Field(default=15.0, ge=0, description="First delay before a retry.")
    farm_agent_offline_s: int = Field(default=60, gt=0, description="Silent agents count as offline.")
    farm_max_agents_per_job: int = Field(default=3, gt=0, description="Different agents before failing.")
    farm_blocklist_after: int = Field(default=3, gt=0, description="Failures of one type before a block.")
    render_workflow: str = Field(default="wan22_i2v_14b", description="Workflow of a shot's final render.")
    llm_base_url: str = Field(
        default="http://127.0.0.1:11434/v1",
        description="OpenAI-compatible endpoint for scenario breakdown (Ollama's by default).",
    )
    llm_model: str = Field(default="qwen2.5:7b-instruct", description="Model name sent to the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="Bearer key for the LLM endpoint (OpenAI); never logged."
    )
    llm_timeout_s: float = Field(default=180.0, gt=0, description="Longest wait for one LLM reply.")
    llm_max_attempts: int = Field(default=3, ge=1, le=10, description="Tries per chunk on invalid JSON.")
    llm_chunk_chars: int = Field(default=12000, ge=500, description="Scenes are sent in chunks of this size.")
    breakdown_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Processes that make drafts (the LLM's reply) and apply them (off the server's GIL).",
    )
    workflow_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra folders of ComfyUI workflow templates (after the shipped workflows/).",
    )
    db_pool_size: int = Field(default=10, gt=0)
    pg_dump: str | None = Field(
        default=None,
        description="pg_dump program for `aipipe backup` on PostgreSQL (pg_restore is looked for beside it); "
        "default: found on PATH.",
    )
    editorial_record_start: str = Field(
        default="01:00:00:00", description="Record timecode of the first frame of exported edits."
    )
    editorial_proxy_height: int = Field(default=540, ge=64, le=4320, description="Proxy movie height, px.")
    editorial_proxy_workers: int = Field(default=2, gt=0, description="Shots encoded at once (proxy movie).")
    editorial_burnin_font: Path | None = Field(
        default=None, description="Font file for proxy burn-ins (one with Hangul for Korean codes)."
    )
    editorial_ffmpeg_timeout_s: float = Field(default=600.0, gt=0, description="Longest ffmpeg run per shot.")
    editorial_proxy_heartbeat_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a server process marks the proxy renders it holds (queued or running) alive.",
    )
    editorial_proxy_stale_s: float = Field(
        default=30.0,
        gt=0,
        description="A queued or running proxy render not marked alive this long was left by a stopped "
        "server process: it is failed, and a request for the same edit renders it again.",
    )
    timezone: str = Field(
        default="UTC",
        description="The studio's time zone (IANA name, e.g. Asia/Seoul): the calendar day dailies cover and "
        "the clock AIPIPE_DAILIES_AT reads.",
    )
    dailies_at: str | None = Field(
        default=None,
        description="Time of day (HH:MM, in `timezone`) the day's dailies are queued; unset: only on demand.",
    )
    dailies_projects: list[str] = Field(
        default_factory=list,
        description="Codes of the projects that get scheduled dailies; empty: every project not archived.",
    )
    dailies_check_s: float = Field(default=30.0, gt=0, description="How often the dailies clock is read, s.")
    dailies_still_s: float = Field(
        default=3.0, gt=0, le=60, description="Seconds an image is shown in dailies."
    )
    dailies_slate_s: float = Field(
        default=2.0, gt=0, le=30, description="Seconds of each dailies slate card."
    )
    dailies_height: int = Field(default=540, ge=144, le=2160, description="Height of the dailies reel, px.")

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin.strip() == "*" or "*" in origin:
                raise ValueError("cors_origins must list explicit origins; '*' is not allowed")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"timezone must be an IANA time zone name such as Asia/Seoul, not {value!r}"
            ) from exc
        return value

    @field_validator("dailies_at")
    @classmethod
    def _time_of_day(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        hours, _, minutes = value.strip().partition(":")
        if not (
            hours.isdigit()
            and minutes.isdigit()
            and int(hours) < 24
            and int(minutes) < 60
            and len(minutes) == 2
        ):
            raise ValueError(f"dailies_at must be a time of day as HH:MM (e.g. 19:00), not {value!r}")
        return f"{int(hours):02d}:{minutes}"

    @model_validator(mode="after")
    def _proxy_heartbeat_beats_often_enough(self) -> Settings:
        if self.editorial_proxy_stale_s < 2 * self.editorial_proxy_heartbeat_s:
            raise ValueError(
                "editorial_proxy_stale_s must be at least twice editorial_proxy_heartbeat_s "
                f"({self.editorial_proxy_stale_s:g} < 2 x {self.editorial_proxy_heartbeat_s:g}): a live "
                "render would be taken for one whose server process stopped"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
        return level

    # -- derived values ---------------------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aipipe.db').resolve()}"

    @property
    def resolved_storage_root(self) -> Path:
        return (self.storage_root or self.data_dir / "storage").resolve()

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.resolved_storage_root.mkdir(parents=True, exist_ok=True)

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or one generated on first use and kept (0600) in the data dir."""
        if self.jwt_secret:
            return self.jwt_secret
        self.ensure_dirs()
        path = self.data_dir / JWT_SECRET_FILE
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        tmp = path.with_name(f".{JWT_SECRET_FILE}.{secrets.token_hex(8)}")
        tmp.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic and refuses to replace: two first starts agree on one secret
        except FileExistsError:
            logger.info("jwt secret already created by another process")
        finally:
            tmp.unlink()
        return path.read_text(encoding="utf-8").strip()
