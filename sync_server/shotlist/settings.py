"""Shot list import/export settings (env `AIPIPE_SHOTLIST_*`, documented in `.env.example`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ShotlistSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIPIPE_SHOTLIST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    max_rows: int = Field(default=20000, gt=0, description="Most rows one import reads.")
    max_import_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="Largest file imported.")
    thumbnail_px: int = Field(default=96, ge=16, le=512, description="Longest side of embedded thumbnails.")
    # Checked on a workbook before it is parsed (a small zip can unpack to gigabytes).
    max_unzipped_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Most bytes an xlsx may unpack to (all its parts)."
    )
    max_cell_bytes: int = Field(
        default=128 * 1024, ge=1024, description="Longest text of one cell, in bytes of the file."
    )
    max_cells: int = Field(default=1_000_000, gt=0, description="Most cells one import reads.")
    import_workers: int = Field(
        default=2, ge=1, le=16, description="Imports (previews and applies) worked on at once; more wait."
    )
    import_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Processes that read, validate, diff, plan and write imports (off the server's GIL).",
    )
