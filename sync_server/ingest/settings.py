"""Scan ingest settings (env `AIPIPE_INGEST_*`, documented in `.env.example`): sizes, formats, colorspaces."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIPIPE_INGEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    roots: list[Path] = Field(
        default_factory=list,
        description="Folders the ingest API may read (the CLI reads any folder it is given). Empty: API off.",
    )
    thumbnail_px: int = Field(default=320, ge=32, le=2048, description="Longest side of scan thumbnails.")
    report_thumbnail_px: int = Field(default=120, ge=16, le=512, description="Thumbnails in the scan list.")
    workers: int = Field(default=4, ge=1, le=64, description="Files probed in parallel.")
    image_extensions: list[str] = Field(
        default_factory=lambda: ["exr", "dpx", "png", "jpg", "jpeg", "tif", "tiff"],
        description="Image sequence formats (lower case, no dot).",
    )
    movie_extensions: list[str] = Field(
        default_factory=lambda: ["mov", "mp4", "mxf", "mkv", "avi", "webm"], description="Movie formats."
    )
    colorspaces: dict[str, str] = Field(
        default_factory=lambda: {
            "exr": "ACEScg",
            "dpx": "ARRI LogC3",
            "png": "sRGB",
            "jpg": "sRGB",
            "jpeg": "sRGB",
            "tif": "sRGB",
            "tiff": "sRGB",
            "prores": "Rec.709",
            "h264": "Rec.709",
            "hevc": "Rec.709",
            "dnxhd": "Rec.709",
        },
        description="Colorspace by file extension or codec, when the file does not say (an EXR "
        "`colorSpace`/`oiio:ColorSpace` attribute wins); JSON object.",
    )
    shot_pattern: str | None = Field(
        default=None,
        description="Regex with a named group `shot` that finds the shot code in a file path; default: any "
        "existing shot code appearing as a whole word.",
    )
    sequence_stage: Literal["plate", "reference"] = Field(default="plate")
    movie_stage: Literal["plate", "reference"] = Field(default="reference")
