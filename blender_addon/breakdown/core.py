"""Pure helpers of the breakdown panel (no bpy): the request body, the draft as rows, the strips of
"Create edit". Tested with plain pytest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS = {"CHR": "Character", "ENV": "Environment", "SCN": "Scene", "SHT": "Shot"}
DECISIONS = ("pending", "accepted", "dropped")


def create_body(text: str, text_name: str, fmt: str, engine: str) -> dict[str, Any]:
    """`POST /api/projects/{id}/breakdowns` body from a text datablock; ValueError naming it when empty."""
    if not text.strip():
        raise ValueError(f"the text '{text_name}' is empty: write or paste the script into it first")
    return {"text": text, "format": fmt.lower(), "engine": engine.lower(), "source_name": text_name[:200]}


def item_edit(item_id: str, text: str, duration_s: float, revision: int) -> dict[str, Any]:
    """PATCH body for an edit from the panel: the name of a character, environment or scene; a shot's
    description and (when > 0) its length."""
    kind = item_id.split("-", 1)[0]
    if kind not in KINDS:
        raise ValueError(f"{item_id} is not a draft item")
    text = text.strip()
    if kind == "SHT":
        body: dict[str, Any] = {"description": text}
        if duration_s > 0:
            body["duration_s"] = round(duration_s, 3)
    else:
        if not text:
            raise ValueError(f"a {KINDS[kind].lower()} needs a name")
        body = {"name": text}
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
    return (
        f"{draft['status']}: {len(content['scenes'])} scenes, {len(kept)} of {len(content['shots'])} shots, "
        f"{len(content['characters'])} characters ({draft['source_format']} via {draft['engine']})"
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
