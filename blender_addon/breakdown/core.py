"""Pure helpers of the breakdown panel (no bpy): the request body, the draft as rows, the strips of
"Create edit". Tested with plain pytest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..i18n import iface

KINDS = {"CHR": "Character", "ENV": "Environment", "SCN": "Scene", "SHT": "Shot"}
DECISIONS = ("pending", "accepted", "dropped")


def create_body(text: str, text_name: str, fmt: str, engine: str) -> dict[str, Any]:
    """`POST /api/projects/{id}/breakdowns` body from a text datablock; ValueError naming it when empty."""
    if not text.strip():
        raise ValueError(
            iface("the text '{text}' is empty: write or paste the script into it first", text=text_name)
        )
    return {"text": text, "format": fmt.lower(), "engine": engine.lower(), "source_name": text_name[:200]}


# What the panel's edit dialog shows for each kind of item: (field, label, kind of value). "words" are
# comma-separated lists (aliases, clothing). The shot's subjects are edited through the API.
EDIT_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "CHR": (
        ("name", "Name", "text"),
        ("aliases", "Aliases", "words"),
        ("description", "Description", "text"),
        ("clothing", "Clothing options", "words"),
        ("role", "Role", "text"),
    ),
    "ENV": (
        ("name", "Name", "text"),
        ("location", "Location", "text"),
        ("time_of_day", "Time of day", "text"),
        ("weather", "Weather", "text"),
        ("mood", "Mood", "text"),
        ("prompt", "Prompt", "text"),
        ("description", "Description", "text"),
    ),
    "SCN": (
        ("number", "Number", "text"),
        ("heading", "Heading", "text"),
        ("name", "Name", "text"),
        ("description", "Description", "text"),
    ),
    "SHT": (
        ("description", "Description", "text"),
        ("action", "Action", "text"),
        ("dialogue", "Dialogue", "text"),
        ("preset", "Cinematic preset", "text"),
        ("camera_notes", "Camera notes", "text"),
        ("duration_s", "Seconds", "seconds"),
    ),
}
REQUIRED = {("CHR", "name"), ("ENV", "name")}


def kind_of(item_id: str) -> str:
    kind = item_id.split("-", 1)[0]
    if kind not in KINDS:
        raise ValueError(f"{item_id} is not a draft item")
    return kind


def find_item(draft: Mapping[str, Any], item_id: str) -> dict[str, Any]:
    """The draft's character, environment, scene or shot with this temporary id."""
    content = draft["content"]
    for group in ("characters", "environments", "scenes", "shots"):
        for item in content.get(group, []):
            if item["id"] == item_id:
                return dict(item)
    raise ValueError(f"no item {item_id} in the draft")


def edit_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item's editable fields as the dialog shows them (lists joined with commas, None as "")."""
    values: dict[str, Any] = {}
    for field, _label, kind in EDIT_FIELDS[kind_of(item["id"])]:
        value = item.get(field)
        if kind == "words":
            values[field] = ", ".join(value or [])
        elif kind == "seconds":
            values[field] = float(value or 0.0)
        else:
            values[field] = "" if value is None else str(value)
    return values


def item_changes(item: Mapping[str, Any], edited: Mapping[str, Any], revision: int) -> dict[str, Any]:
    """PATCH body with only the fields the dialog changed; ValueError naming a field left invalid."""
    kind = kind_of(item["id"])
    before = edit_values(item)
    body: dict[str, Any] = {}
    for field, label, value_kind in EDIT_FIELDS[kind]:
        value = edited.get(field, before[field])
        if value == before[field]:
            continue
        if value_kind == "words":
            body[field] = [w.strip() for w in str(value).split(",") if w.strip()]
        elif value_kind == "seconds":
            if float(value) <= 0:
                raise ValueError(iface("{item}: a shot needs a length above 0", item=label))
            body[field] = round(float(value), 3)
        else:
            text = str(value).strip()
            if (kind, field) in REQUIRED and not text:
                raise ValueError(
                    iface("{item}: a {kind} needs a name", item=label, kind=iface(KINDS[kind]).lower())
                )
            body[field] = None if field == "preset" and not text else text
    return {**body, "revision": revision}


@dataclass(frozen=True)
class Row:
    item_id: str
    kind: str
    label: str
    detail: str
    decision: str
    merge_into: str


def rows(draft: Mapping[str, Any]) -> list[Row]:
    """Every item of a draft in review order: characters, environments, then each scene and its shots."""
    content = draft["content"]
    matches = draft.get("matches") or {}
    names = {c["id"]: c["name"] for c in content["characters"]}
    out: list[Row] = []
    for c in content["characters"]:
        detail = ", ".join(filter(None, [c["description"], "; ".join(c["clothing"])]))
        out.append(Row(c["id"], "Character", c["name"], detail, c["decision"], _into(matches, c["id"])))
    for e in content["environments"]:
        detail = ", ".join(filter(None, [e["time_of_day"], e["weather"], e["mood"]]))
        out.append(Row(e["id"], "Environment", e["name"], detail, e["decision"], _into(matches, e["id"])))
    shots_by_scene: dict[str, list[Mapping[str, Any]]] = {}
    for shot in content["shots"]:
        shots_by_scene.setdefault(shot["scene_ref"], []).append(shot)
    for scene in content["scenes"]:
        out.append(
            Row(
                scene["id"],
                "Scene",
                scene["name"] or scene["heading"],
                scene["description"],
                scene["decision"],
                "",
            )
        )
        for shot in shots_by_scene.get(scene["id"], []):
            who = ", ".join(names.get(s["character_ref"], s["character_ref"]) for s in shot["subjects"])
            detail = " · ".join(filter(None, [f"{shot['duration_s']:g} s", shot["preset"] or "", who]))
            out.append(Row(shot["id"], "Shot", shot["description"], detail, shot["decision"], ""))
    return out


def _into(matches: Mapping[str, Any], item_id: str) -> str:
    match = matches.get(item_id)
    return str(match["name"]) if match else ""


def summary(draft: Mapping[str, Any]) -> str:
    content = draft["content"]
    kept = [s for s in content["shots"] if s["decision"] != "dropped"]
    return iface(
        "{status}: {scenes} scenes, {kept} of {shots} shots, {characters} characters ({source} via {engine})",
        status=draft["status"],
        scenes=len(content["scenes"]),
        kept=len(kept),
        shots=len(content["shots"]),
        characters=len(content["characters"]),
        source=draft["source_format"],
        engine=draft["engine"],
    )


def applied_shot_ids(draft: Mapping[str, Any]) -> list[str]:
    """The shots an applied draft created, in their order."""
    return [str(s["id"]) for s in (draft.get("result") or {}).get("shots", [])]


@dataclass(frozen=True)
class Slot:
    shot_id: str
    code: str
    start: int
    length: int


def edit_slots(shots: Sequence[Mapping[str, Any]], start_frame: int) -> list[Slot]:
    """Strips for the new shots, back to back from `start_frame`, each as long as the shot (whose duration
    came from the breakdown's suggested duration)."""
    slots: list[Slot] = []
    frame = start_frame
    for shot in shots:
        length = max(1, int(shot["duration_frames"]))
        slots.append(Slot(str(shot["id"]), str(shot["code"]), frame, length))
        frame += length
    return slots


def after_existing(ranges: Sequence[tuple[int, int]], default_start: int) -> int:
    """The first frame after the strips already in the edit (their (start, end) ranges)."""
    return max([end for _start, end in ranges], default=default_start)
