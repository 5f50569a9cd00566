"""The scan-list workbook: one row per scan with its thumbnail, facts, match and result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..shotlist import workbook as wb
from ..shotlist.columns import Column
from ..storage.atomic import atomic_write_bytes

COLUMNS = (
    Column("thumbnail", "Thumbnail", "썸네일", 18, kind="image"),
    Column("result", "Result", "결과", 12),
    Column("shot", "Shot", "샷", 12),
    Column("version", "Version", "버전", 14),
    Column("name", "Scan", "스캔", 30),
    Column("kind", "Kind", "종류", 10),
    Column("folder", "Folder", "폴더", 40),
    Column("frame_range", "Frames", "프레임", 14),
    Column("frames", "Frame count", "프레임 수", 10),
    Column("missing", "Missing frames", "누락 프레임", 20),
    Column("corrupt", "Unreadable files", "손상 파일", 30),
    Column("resolution", "Resolution", "해상도", 12),
    Column("fps", "FPS", "FPS", 8),
    Column("timecode", "Timecode", "타임코드", 12),
    Column("codec", "Codec", "코덱", 12),
    Column("duration", "Duration (s)", "길이(초)", 10),
    Column("colorspace", "Colorspace", "색 공간", 16),
    Column("edl", "EDL event", "EDL 이벤트", 24),
    Column("problem", "Problem", "문제", 40),
)


def write(
    path: Path, rows: list[dict[str, Any]], thumbnails: list[Path | None], size: int, lang: str = "en"
) -> None:
    book = wb.new_workbook()
    sheet = wb.write_table(
        book,
        "Scans" if lang != "ko" else "스캔 목록",
        COLUMNS,
        ([r.get(c.key) for c in COLUMNS] for r in rows),
        lang,
    )
    wb.add_thumbnails(sheet, 0, thumbnails, size)
    atomic_write_bytes(path, wb.to_bytes(book))
