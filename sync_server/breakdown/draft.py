"""The draft a breakdown produces: items with stable temporary ids and a decision each.

Ids are given once, when the draft is made, and never renumbered: `CHR-001`, `ENV-001`, `SCN-001`,
`SHT-001-01` (scene 1, shot 1). A person sets each item's decision (`pending`, `accepted`, `dropped`)
and edits its fields; applying creates every item that is not dropped.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Decision = Literal["pending", "accepted", "dropped"]
Text = Annotated[str, StringConstraints(max_length=20000)]
Short = Annotated[str, StringConstraints(max_length=200)]
Words = Annotated[list[Short], Field(max_length=100)]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Seconds = Annotated[float, Field(gt=0, le=600)]


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    decision: Decision = "pending"


class DraftCharacter(Item):
    name: ItemName
    aliases: Words = []
    description: Text = ""
    clothing: Words = []
    role: Short = ""
    lines: int = Field(default=0, ge=0, description="Dialogue blocks in the script.")


class DraftEnvironment(Item):
    name: ItemName
    location: Text = ""
    time_of_day: Short = ""
    weather: Short = ""
    mood: Short = ""
    prompt: Text = ""
    description: Text = ""


class DraftScene(Item):
    number: Short = ""
    heading: Short = ""
    name: Short = ""
    description: Text = ""
    environment_ref: str | None = None


class DraftSubject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    character_ref: str
    clothing: Short = ""


class DraftShot(Item):
    scene_ref: str
    description: Text = ""
    action: Text = ""
    dialogue: Text = ""
    subjects: Annotated[list[DraftSubject], Field(max_length=50)] = []
    environment_ref: str | None = None
    suggested_camera: Short = ""
    preset: Short | None = Field(default=None, description="Cinematic preset name (project's or built-in).")
    camera_notes: Text = ""
    duration_s: Seconds = 3.0
    source_line: int | None = None


class DraftTitlePage(BaseModel):
    """The script's title page as written (multi-line values keep their line breaks)."""

    model_config = ConfigDict(extra="forbid")

    title: Text = ""
    credit: Text = ""
    author: Text = ""
    source: Text = ""
    draft_date: Text = ""
    contact: Text = ""
    copyright: Text = ""
    notes: Text = ""
    other: Annotated[dict[Short, Text], Field(max_length=50)] = Field(
        default_factory=dict, description="Other keys, as written (lower case)."
    )

    @classmethod
    def from_keys(cls, keys: dict[str, str]) -> DraftTitlePage:
        """Known keys into their fields, the rest into `other`."""
        known = {k: v for k, v in keys.items() if k in cls.model_fields and k != "other"}
        other = {k[:200]: v for k, v in keys.items() if k not in known}
        return cls(**known, other=dict(list(other.items())[:50]))


class DraftContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Short = ""
    title_page: DraftTitlePage = Field(default_factory=DraftTitlePage)
    characters: list[DraftCharacter] = []
    environments: list[DraftEnvironment] = []
    scenes: list[DraftScene] = []
    shots: list[DraftShot] = []

    def items(self) -> dict[str, Item]:
        """Every item by its temporary id."""
        found: dict[str, Item] = {}
        for group in (self.characters, self.environments, self.scenes, self.shots):
            for item in group:
                found[item.id] = item
        return found

    def problems(self) -> list[tuple[str, str]]:
        """(field path, message) for references to items that do not exist or are of the wrong kind."""
        found: list[tuple[str, str]] = []
        characters = {c.id for c in self.characters}
        environments = {e.id for e in self.environments}
        scenes = {s.id for s in self.scenes}
        ids = [i.id for group in (self.characters, self.environments, self.scenes, self.shots) for i in group]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            found.append(("id", f"temporary ids used twice: {', '.join(duplicates)}"))
        for scene in self.scenes:
            if scene.environment_ref is not None and scene.environment_ref not in environments:
                found.append((f"{scene.id}.environment_ref", f"no environment {scene.environment_ref}"))
        for shot in self.shots:
            if shot.scene_ref not in scenes:
                found.append((f"{shot.id}.scene_ref", f"no scene {shot.scene_ref}"))
            if shot.environment_ref is not None and shot.environment_ref not in environments:
                found.append((f"{shot.id}.environment_ref", f"no environment {shot.environment_ref}"))
            for index, subject in enumerate(shot.subjects):
                if subject.character_ref not in characters:
                    found.append(
                        (f"{shot.id}.subjects.{index}.character_ref", f"no character {subject.character_ref}")
                    )
        return found


def character_id(index: int) -> str:
    return f"CHR-{index:03d}"


def environment_id(index: int) -> str:
    return f"ENV-{index:03d}"


def scene_id(index: int) -> str:
    return f"SCN-{index:03d}"


def shot_id(scene_index: int, shot_index: int) -> str:
    return f"SHT-{scene_index:03d}-{shot_index:02d}"


def round_seconds(seconds: float) -> float:
    """Durations in half seconds, between 1 and 60."""
    return min(60.0, max(1.0, round(seconds * 2) / 2))
