"""Editorial rules without Blender: which media a shot shows, where its strip goes, and what an edited VSE
means for the shot list (the change set). Plain Python, tested with plain pytest; the server imports
`pick_media` from here so the add-on and the server choose the same media.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# (stage, needs an approval, kind of file) — first that has a usable file wins
MEDIA_PRIORITY = (
    ("final", False, "video"),
    ("upscale", False, "video"),  # a render recipe's later steps (issue 17): the furthest one is shown
    ("interp", False, "video"),
    ("render", False, "video"),
    ("playblast", True, "video"),
    ("previz", True, "image"),
)
MEDIA_STAGES = tuple(stage for stage, _, _ in MEDIA_PRIORITY)
REJECTED = frozenset({"reject", "needs_changes"})


@dataclass(frozen=True)
class MediaChoice:
    """The version and file a shot shows, or None in `pick_media` for a colour slate."""

    version: Mapping[str, Any]
    file: Mapping[str, Any]
    kind: str  # "video" | "image"

    @property
    def version_id(self) -> str:
        return str(self.version["id"])

    @property
    def label(self) -> str:
        return f"{self.version['stage']} v{int(self.version['number']):03d}"


def pick_media(versions: Sequence[Mapping[str, Any]]) -> MediaChoice | None:
    """Final > upscale > interp > render > approved playblast > approved first frame (previz image);
    rejected takes skipped, and a recipe step's result made from a render that a newer one replaced.

    `versions` are API records (stage, number, verdict, files[mime, ...]) of one shot, in any order."""
    newest_first = sorted(versions, key=lambda v: int(v["number"]), reverse=True)
    for stage, needs_approval, kind in MEDIA_PRIORITY:
        for version in newest_first:
            if version["stage"] != stage or version.get("verdict") in REJECTED:
                continue
            if _made_from_an_older_render(version, versions):
                continue
            if needs_approval and version.get("verdict") != "approve":
                continue
            file = next(
                (f for f in version.get("files") or [] if str(f["mime"]).startswith(f"{kind}/")), None
            )
            if file is not None:
                return MediaChoice(version, file, kind)
    return None


def _made_from_an_older_render(version: Mapping[str, Any], versions: Sequence[Mapping[str, Any]]) -> bool:
    """True for a recipe step's result (interp, upscale, ...) whose chain starts at a render that a newer,
    not rejected render has replaced: it shows the old render's picture, so the newer render wins."""
    by_id = {str(v["id"]): v for v in versions}
    seen: set[str] = set()
    current = version
    while True:
        parent_id = str((current.get("provenance") or {}).get("parent_version_id") or "")
        parent = by_id.get(parent_id)
        if parent is None or parent_id in seen:
            return False
        seen.add(parent_id)
        if parent["stage"] == "render":
            return any(
                v["stage"] == "render"
                and int(v["number"]) > int(parent["number"])
                and v.get("verdict") not in REJECTED
                for v in versions
            )
        current = parent


def takes_of(versions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every take worth comparing (versions of the media stages with a picture or movie), newest first."""
    out = [
        v
        for v in versions
        if v["stage"] in MEDIA_STAGES
        and any(str(f["mime"]).startswith(("video/", "image/")) for f in v.get("files") or [])
    ]
    return sorted(out, key=lambda v: (MEDIA_STAGES.index(v["stage"]), -int(v["number"])))


# -- building ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StripPlan:
    """One strip of Build edit: the shot's place on the picture channel and what fills it."""

    shot_id: str
    code: str
    revision: int
    start: int  # first frame on the timeline
    length: int  # the shot's duration in frames
    source_in: int  # frames of the media skipped at its head (the head handle the movie holds)
    media: MediaChoice | None
    missing: int = 0  # frames the cut needs past the movie's end (a take shorter than the cut)

    @property
    def end(self) -> int:
        return self.start + self.length


def media_first_frame(record: Mapping[str, Any] | None) -> int | None:
    """The `first_frame` of an edit's media record or a version record: the number its maker gave the
    media's first frame (None: not said, or a server from before records carried it)."""
    value = (record or {}).get("first_frame")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def movie_extent(version: Mapping[str, Any]) -> tuple[int, int | None]:
    """(head handle frames, frame count or None) a version's movie holds, from its API record: what its
    maker said (`handle_in`, `frame_count`), never the project's handle."""
    frames = version.get("frame_count")
    return int(version.get("handle_in") or 0), int(frames) if frames is not None else None


def missing_frames(length: int, source_in: int, frame_count: int | None) -> int:
    """Frames a cut of `length` from `source_in` needs past the end of a `frame_count`-frame movie."""
    return 0 if frame_count is None else max(0, length - max(0, frame_count - source_in))


def plan_build(
    shots: Sequence[Mapping[str, Any]],
    versions_by_shot: Mapping[str, Sequence[Mapping[str, Any]]],
    start_frame: int = 1,
) -> list[StripPlan]:
    """Strips for `shots` (API records) in order, back to back from `start_frame`; omitted shots left out.

    A movie is cut from the head handle its version says it holds."""
    plans: list[StripPlan] = []
    frame = start_frame
    for shot in sorted(shots, key=lambda s: (int(s.get("order", 0)), str(s["code"]))):
        if shot.get("status") == "omitted":
            continue
        media = pick_media(versions_by_shot.get(str(shot["id"]), []))
        length = int(shot["duration_frames"])
        source_in, frames = (
            movie_extent(media.version) if media is not None and media.kind == "video" else (0, None)
        )
        plans.append(
            StripPlan(
                shot_id=str(shot["id"]),
                code=str(shot["code"]),
                revision=int(shot["revision"]),
                start=frame,
                length=length,
                source_in=source_in,
                media=media,
                missing=missing_frames(length, source_in, frames),
            )
        )
        frame += length
    return plans


def is_outdated(strip_version_id: str, versions: Sequence[Mapping[str, Any]]) -> bool:
    """A strip is outdated when the media rule now picks another version than the one it shows."""
    best = pick_media(versions)
    return best is not None and best.version_id != strip_version_id


def step_version(
    current_id: str, versions: Sequence[Mapping[str, Any]], step: int
) -> Mapping[str, Any] | None:
    """The take `step` places from `current_id` towards the newer ones (wrapping), for stepping a strip.

    `takes_of` lists the newest first, so a positive step walks that list backwards: within a stage to the
    next higher number, from a stage's newest to the oldest of the next stage up (previz → render → interp
    → upscale → final), and from the very newest round to the oldest. The same direction as the Image
    Editor's take stepping (`images.core.step`, takes in number order), so Alt+Page Down means "the next
    take" in both editors. A strip showing no listed take goes to the newest (step ≥ 0) or the oldest."""
    takes = takes_of(versions)
    if not takes:
        return None
    ids = [str(v["id"]) for v in takes]
    if current_id not in ids:
        return takes[0] if step >= 0 else takes[-1]
    return takes[(ids.index(current_id) - step) % len(takes)]


# -- pushing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StripState:
    """What the VSE shows for one picture strip: its shot (custom property) and where it sits."""

    name: str
    shot_id: str
    start: int
    end: int  # frame after the last

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class ChangeSet:
    """What pushing the edit would change, in the studio's words; `request` is the body for the server."""

    order: list[str] = field(default_factory=list)  # shot ids (existing) in the new order
    durations: dict[str, tuple[int, int]] = field(default_factory=dict)  # shot id -> (before, after)
    omitted: list[str] = field(default_factory=list)
    splits: list[dict[str, Any]] = field(default_factory=list)  # {from_shot_id, after_shot_id, frames, strip}
    reordered: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    strips: list[str] = field(default_factory=list)  # strip names, one per entry of request["shots"]

    @property
    def empty(self) -> bool:
        return not (self.reordered or self.durations or self.omitted or self.splits)

    def lines(self, codes: Mapping[str, str]) -> list[str]:
        """One line per change, for the confirmation dialog."""
        out = []
        if self.reordered:
            out.append("New order: " + ", ".join(codes.get(i, i) for i in self.order))
        for shot_id, (before, after) in self.durations.items():
            out.append(f"{codes.get(shot_id, shot_id)}: {before} -> {after} frames")
        for shot_id in self.omitted:
            out.append(f"{codes.get(shot_id, shot_id)}: omitted (removed from the edit)")
        for split in self.splits:
            out.append(
                f"{codes.get(split['from_shot_id'], split['from_shot_id'])} split: new shot of "
                f"{split['frames']} frames after {codes.get(split['after_shot_id'], split['after_shot_id'])}"
            )
        return out or ["No changes"]


class ChangeSetError(ValueError):
    """The VSE cannot be read as an edit (e.g. overlapping strips of one shot); names the strip."""


def change_set(
    shots: Sequence[Mapping[str, Any]],
    strips: Sequence[StripState],
    built: Mapping[str, int] | None = None,
) -> ChangeSet:
    """Read order, trims, deletions and splits from the picture strips against the server's shots.

    The first (leftmost) strip of a shot keeps the shot; each further strip of the same shot is a split and
    becomes a new shot placed after the strip before it. A shot with no strip is omitted. `built` holds the
    revision of each shot when the edit was `built`: sent with the changes, so that a shot changed on the
    server since then is refused (409) instead of overwritten."""
    built = built or {}
    live = [s for s in shots if s.get("status") != "omitted"]
    by_id = {str(s["id"]): s for s in live}
    ordered = sorted((s for s in strips if s.shot_id in by_id), key=lambda s: (s.start, s.name))
    for strip in strips:
        if strip.shot_id and strip.shot_id not in by_id:
            raise ChangeSetError(f"strip '{strip.name}' belongs to a shot that is not in this project's edit")
        if strip.length <= 0:
            raise ChangeSetError(f"strip '{strip.name}' has no frames")
    result = ChangeSet()
    seen: set[str] = set()
    entries: list[dict[str, Any]] = []
    previous: str | None = None
    for strip in ordered:
        shot = by_id[strip.shot_id]
        result.strips.append(strip.name)
        if strip.shot_id in seen:
            result.splits.append(
                {
                    "from_shot_id": strip.shot_id,
                    "after_shot_id": previous,
                    "frames": strip.length,
                    "strip": strip.name,
                }
            )
            entries.append({"split_from": strip.shot_id, "duration_frames": strip.length})
            continue
        seen.add(strip.shot_id)
        result.order.append(strip.shot_id)
        before = int(shot["duration_frames"])
        if strip.length != before:
            result.durations[strip.shot_id] = (before, strip.length)
        entries.append(
            {
                "shot_id": strip.shot_id,
                "revision": int(built.get(strip.shot_id, shot["revision"])),
                "duration_frames": strip.length,
            }
        )
        previous = strip.shot_id
    current_order = [
        str(s["id"]) for s in sorted(live, key=lambda s: int(s.get("order", 0))) if str(s["id"]) in seen
    ]
    result.reordered = current_order != result.order
    result.omitted = [str(s["id"]) for s in live if str(s["id"]) not in seen]
    result.request = {
        "shots": entries,
        "omit": [{"shot_id": i, "revision": int(built.get(i, by_id[i]["revision"]))} for i in result.omitted],
    }
    return result


def plan_from_edit(edit: Mapping[str, Any], start_frame: int = 1) -> list[StripPlan]:
    """Strips from the server's edit (`GET /api/projects/{id}/editorial/edit`), which already chose the
    media with `pick_media`; back to back from `start_frame`."""
    plans: list[StripPlan] = []
    frame = start_frame
    for shot in edit["shots"]:
        media = shot.get("media")
        choice = None
        if media:
            version = {"id": str(media["version_id"]), "stage": media["stage"], "number": media["number"]}
            choice = MediaChoice(version, media, "image" if media["still"] else "video")
        length = int(shot["duration_frames"])
        plans.append(
            StripPlan(
                shot_id=str(shot["shot_id"]),
                code=str(shot["code"]),
                revision=int(shot["revision"]),
                start=frame,
                length=length,
                source_in=int(shot["source_in"]) if choice is not None else 0,
                media=choice,
                missing=int(shot.get("missing_frames") or 0),
            )
        )
        frame += length
    return plans


def scene_rate(fps_num: int, fps_den: int) -> tuple[int, float]:
    """Blender's (fps, fps_base) for an exact rate: 24000/1001 -> (24, 1.001), 25/1 -> (25, 1.0)."""
    fps = max(1, round(fps_num / fps_den))
    return fps, fps * fps_den / fps_num


MARKER_CHARS = 63  # Blender's marker names hold 63 characters


def plan_markers(edit: Mapping[str, Any], plans: Sequence[StripPlan]) -> list[tuple[int, str]]:
    """Review notes as (timeline frame, marker name): each at its media frame, kept inside its strip."""
    by_shot = {str(s["shot_id"]): s for s in edit["shots"]}
    markers = []
    for plan in plans:
        for note in by_shot.get(plan.shot_id, {}).get("notes") or []:
            frame = plan.start + int(note["frame"]) - plan.source_in
            frame = min(max(frame, plan.start), plan.end - 1)
            text = " ".join(str(note.get("text") or note.get("verdict") or "note").split())
            markers.append((frame, f"{plan.code}: {text}"[:MARKER_CHARS]))
    return markers
