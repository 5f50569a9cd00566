"""Pure helpers for browsing and editing shots (no bpy): what changed, three-way merge, filtering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

EDITABLE = (
    "description",
    "action",
    "duration_frames",
    "preset_id",
    "environment_id",
    "subjects",
    "render_recipe",
)
"""The shot fields the add-on edits (code, order and status belong to editorial and review tools)."""


def normalise(field: str, value: Any) -> Any:
    """Comparable form of a field value: ids as strings or None, subjects as a list of pairs."""
    if field == "subjects":
        return [(str(s.get("character_id")), str(s.get("clothing") or "")) for s in value or []]
    if field in ("preset_id", "environment_id", "render_recipe"):  # None: none (the project's recipe)
        return str(value) if value else None
    if field == "duration_frames":
        return int(value) if value is not None else None
    return "" if value is None else str(value)


def form_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The editable fields of a server record, normalised."""
    return {field: normalise(field, record.get(field)) for field in EDITABLE}


def to_body(form: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """A PATCH body with `fields` of `form` in the server's shape."""
    body: dict[str, Any] = {}
    for field in fields:
        value = form[field]
        if field == "subjects":
            body[field] = [{"character_id": c, "clothing": clothing} for c, clothing in value]
        else:
            body[field] = value
    return body


def changed(base: Mapping[str, Any], mine: Mapping[str, Any]) -> list[str]:
    """Fields the artist changed since the form was loaded."""
    return [f for f in EDITABLE if normalise(f, mine.get(f)) != normalise(f, base.get(f))]


def merge(
    base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Three-way merge of the form: fields only one side changed take that side; fields both changed to
    different values are conflicts (the merged form keeps the artist's value there, so nothing is lost)."""
    merged: dict[str, Any] = {}
    conflicts: list[str] = []
    for field in EDITABLE:
        b, m, t = (normalise(field, x.get(field)) for x in (base, mine, theirs))
        if m == b:
            merged[field] = t
        elif t in (b, m):
            merged[field] = m
        else:
            merged[field] = m
            conflicts.append(field)
    return merged, conflicts


def matches(shot: Mapping[str, Any], text: str) -> bool:
    """Case-insensitive search over code, status, description and action."""
    if not text:
        return True
    needle = text.casefold()
    haystack = " ".join(str(shot.get(k) or "") for k in ("code", "status", "description", "action"))
    return needle in haystack.casefold()


def seconds(frames: int, fps_num: int, fps_den: int) -> float:
    return frames * fps_den / fps_num if fps_num else 0.0


def duration_label(frames: int, fps_num: int, fps_den: int) -> str:
    """``72f 3.0s`` — frames first (the unit the edit works in), seconds at the project rate."""
    return f"{frames}f {seconds(frames, fps_num, fps_den):.1f}s"


def undo_target(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The change set Undo would take back: the newest edit still applied (`history` newest first)."""
    return next((c for c in history if c.get("kind") == "edit" and c.get("state") == "applied"), None)


def redo_target(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The change set Redo would apply again: the edit undone most recently and not redone since."""
    by_id = {c.get("id"): c for c in history}
    for change in history:
        if change.get("kind") == "undo":
            target = by_id.get(change.get("target_id"))
            if target is not None and target.get("state") == "undone":
                return target
    return None


def change_summary(change: Mapping[str, Any]) -> str:
    """What a change set did, as the history panel shows it: its label and who made it."""
    return f"{change.get('label', '')} ({change.get('actor_name', '?')})"
