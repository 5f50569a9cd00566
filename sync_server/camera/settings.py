"""Camera-solve settings (AIPIPE_CAMERA_*), read once per app."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CameraSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIPIPE_CAMERA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    solve_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Solve processes per server (solves at once); the rest wait their turn.",
    )
    max_fspy_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Largest .fspy project accepted (it carries the picture)."
    )
    max_image_pixels: int = Field(
        default=40_000_000, gt=0, description="Largest picture solved (width × height)."
    )
