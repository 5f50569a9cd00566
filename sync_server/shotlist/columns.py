"""The columns of each export, with English and Korean headers; import accepts either (and the keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aipipe_shared.vocabulary import SHOT_STATUSES

SHOTS_SHEET = ("Shots", "샷 리스트")
META_SHEET = "aipipe"
FORMAT = "aipipeline.shotlist/1"


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    ko: str
    width: int = 14
    editable: bool = True
    kind: str = "text"  # text | int | optional_int | list (dropdown) | image
    hidden: bool = False
    aliases: tuple[str, ...] = ()

    def header(self, lang: str) -> str:
        return self.ko if lang == "ko" else self.en


SHOT_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", "ID", 38, editable=False, hidden=True),
    Column("revision", "Revision", "리비전", 9, editable=False, kind="int", hidden=True),
    Column("thumbnail", "Thumbnail", "썸네일", 16, editable=False, kind="image"),
    Column("order", "Order", "순서", 8, editable=False, kind="int"),
    Column("scene", "Scene", "씬", 12, aliases=("scene code", "씬 코드")),
    Column("code", "Shot", "샷", 14, aliases=("shot code", "code", "샷 코드", "샷 번호")),
    Column("status", "Status", "상태", 12, kind="list"),
    Column("description", "Description", "설명", 40, aliases=("내용",)),
    Column("action", "Action", "액션", 30, aliases=("동작",)),
    Column("dialogue", "Dialogue", "대사", 30),
    Column("camera_notes", "Camera notes", "카메라 메모", 24, aliases=("camera", "카메라")),
    Column(
        "duration_frames", "Duration (frames)", "길이(프레임)", 10, kind="int", aliases=("duration", "길이")
    ),
    Column("handle_in", "Handle in", "핸들 인", 9, kind="optional_int"),
    Column("handle_out", "Handle out", "핸들 아웃", 9, kind="optional_int"),
    Column("preset", "Preset", "프리셋", 20, kind="list", aliases=("cinematic preset", "시네마틱 프리셋")),
    Column("environment", "Environment", "환경", 20, kind="list", aliases=("환경 설정", "배경")),
    Column("characters", "Characters", "등장인물", 28, aliases=("subjects", "캐릭터", "인물")),
    Column("locked", "Locked", "잠금", 8, editable=False),
    Column("updated_at", "Updated", "수정 시각", 20, editable=False),
    # The farm's GPU time on the shot (sync_server/costs): computed, the import ignores it.
    Column("gpu_hours", "GPU hours", "GPU 시간", 10, editable=False),
)
SHOT_STATUS_CHOICES = SHOT_STATUSES
NEW_SHOT_STATUSES = ("draft", "ready")


def normalise_header(text: str) -> str:
    return re.sub(r"[\s_]+", " ", text.strip().casefold())


def header_index(columns: tuple[Column, ...]) -> dict[str, Column]:
    """Every accepted spelling of every header (English, Korean, key, aliases) to its column."""
    index: dict[str, Column] = {}
    for column in columns:
        for name in (column.en, column.ko, column.key, *column.aliases):
            index[normalise_header(name)] = column
    return index


# -- the other exports (read-only: for people and other tools) ---------------------------------------------

ENVIRONMENT_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", "ID", 38, hidden=True),
    Column("name", "Name", "이름", 24),
    Column("location", "Location", "장소", 30),
    Column("time_of_day", "Time of day", "시간대", 14),
    Column("weather", "Weather", "날씨", 14),
    Column("mood", "Mood", "분위기", 20),
    Column("prompt", "Prompt", "프롬프트", 60),
    Column("description", "Description", "설명", 40),
    Column("shots", "Shots", "사용 샷", 30),
)
CHARACTER_COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", "ID", 38, hidden=True),
    Column("name", "Name", "이름", 20),
    Column("aliases", "Aliases", "별칭", 20),
    Column("description", "Description", "설명", 50),
    Column("clothing_options", "Clothing", "의상", 30),
    Column("lora_file", "LoRA file", "LoRA 파일", 30),
    Column("trigger_words", "Trigger words", "트리거 단어", 24),
    Column("lora_strength", "LoRA strength", "LoRA 강도", 10, kind="float"),
    Column("reference_images", "Reference images", "참조 이미지", 40),
    Column("shots", "Shots", "등장 샷", 30),
)
PRESET_COLUMNS: tuple[Column, ...] = (
    Column("name", "Preset", "프리셋", 24),
    Column("builtin", "Built-in", "기본 제공", 10),
    Column("shot_size", "Shot size", "샷 크기", 14),
    Column("angle", "Angle", "앵글", 14),
    Column("lens_mm", "Lens (mm)", "렌즈(mm)", 10, kind="float"),
    Column("sensor_mm", "Sensor (mm)", "센서(mm)", 10, kind="float"),
    Column("movement", "Movement", "카메라 무빙", 18),
    Column("film_look", "Film look", "필름 룩", 20),
    Column("lighting", "Lighting", "조명", 20),
)
SPEC_COLUMNS: tuple[Column, ...] = (
    Column("key", "Setting", "항목", 28),
    Column("value", "Value", "값", 50),
)
