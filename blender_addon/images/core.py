"""The image loop's bpy-free rules: what a batch request holds, how a take reads in a panel, which take a
step lands on, how a take's frames are numbered (the cut at 1001), where an A/B wipe goes, which timeline
markers become frame notes, and the A/B pictures (side by side, wipe) as pixel arrays. Tested with plain
pytest; the operators call these."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..layout.opsdata import SHOT_START
from ..shared import editorial as shared_editorial

CANDIDATES_MAX = 16
SEEDS = ("random", "increment")
CONTROL_KINDS = ("depth", "canny", "pose")
VERDICTS = ("approve", "reject", "needs_changes")
MARKER_CHARS = 63  # Blender's marker names hold 63 bytes; the server's markers are cut the same way
PROVENANCE_ORDER = (
    "workflow",
    "operation",
    "seed",
    "prompt",
    "negative_prompt",
    "negative",
    "instruction",
    "denoise",
)
PROVENANCE_HIDDEN = ("take", "inputs")  # restatements of the request and the job inputs: too long for a panel


def unique(ids: Iterable[str]) -> list[str]:
    """`ids` without blanks and repeats, first-seen order kept."""
    seen: dict[str, None] = {}
    for item in ids:
        if item:
            seen.setdefault(str(item), None)
    return list(seen)


def batch_body(
    shot_ids: Sequence[str],
    candidates: int,
    seeds: str,
    seed: int | None,
    workflow: str | None,
    control_kind: str | None,
    priority: int | None = None,
    recipe: str | None = None,
) -> dict[str, Any]:
    """The body of `POST /api/projects/{id}/takes`: generate `candidates` takes for each shot.

    `control_kind` (depth / canny / pose) conditions each shot on its newest control version of that kind
    (`control_from_layout`); None generates from the prompt alone. `recipe`: a project recipe instead of
    a workflow (each take its chain's last image). Raises ValueError naming the field."""
    if recipe and workflow:
        raise ValueError(NOT_BOTH)
    shots = unique(shot_ids)
    if not shots:
        raise ValueError("shots: pick at least one shot (shot list ticks or selected VSE strips)")
    if not 1 <= int(candidates) <= CANDIDATES_MAX:
        raise ValueError(f"candidates: between 1 and {CANDIDATES_MAX}")
    if seeds not in SEEDS:
        raise ValueError(f"seeds: one of {', '.join(SEEDS)}")
    body: dict[str, Any] = {
        "shots": shots,
        "operation": "generate",
        "candidates": int(candidates),
        "seeds": seeds,
        "seed": seed,
        "workflow": workflow or None,
        "control_from_layout": control_kind is not None,
    }
    if control_kind is not None:
        if control_kind not in CONTROL_KINDS:
            raise ValueError(f"control.kind: one of {', '.join(CONTROL_KINDS)}")
        body["control"] = {"kind": control_kind}
    if recipe:
        body["recipe"] = recipe
    if priority is not None:
        body["priority"] = int(priority)
    return body


NOT_BOTH = "recipe: a workflow or a recipe, not both"


def take_recipes(recipes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The recipes a take can be made with (`GET /api/projects/{id}/recipes` items): the first step makes
    an image from nothing (text-to-image) and every step makes an image. By name."""
    usable = []
    for recipe in recipes:
        steps = recipe.get("steps") or []
        if not steps or not recipe.get("name"):
            continue
        first = steps[0] if isinstance(steps[0], Mapping) else {}
        if first.get("input_kind") is not None or first.get("job_type") != "t2i":
            continue
        if all(isinstance(s, Mapping) and s.get("output_kind") == "image" for s in steps):
            usable.append(dict(recipe))
    return sorted(usable, key=lambda r: str(r["name"]).casefold())


REWORK_OPERATIONS = ("refine", "edit", "inpaint", "outpaint")
NO_MASK = "mask_version_id: paint and save a mask of this take first"


def rework_body(
    operation: str,
    source_id: str,
    text: str = "",
    *,
    candidates: int = 1,
    denoise: float | None = None,
    aspect: str = "",
    mask_id: str = "",
    reference_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """`POST /api/shots/{id}/takes` working on a take: refine (prompt + denoise), edit (instruction, the
    character references), inpaint (the take's mask version) or outpaint (to an aspect "W:H"). Blank text
    keeps the take's prompt. Raises ValueError naming the field."""
    if operation not in REWORK_OPERATIONS:
        raise ValueError("operation: refine, edit, inpaint or outpaint")
    if not 1 <= int(candidates) <= CANDIDATES_MAX:
        raise ValueError(f"candidates: between 1 and {CANDIDATES_MAX}")
    text = " ".join(text.split())
    body: dict[str, Any] = {
        "operation": operation,
        "source_version_id": source_id,
        "candidates": int(candidates),
    }
    if operation == "edit":
        if not text:
            raise ValueError("instruction: say what to change (e.g. make it night, keep the composition)")
        body["instruction"] = text
        if reference_ids:
            body["reference_version_ids"] = list(unique(reference_ids))
    elif text:
        body["prompt"] = text
    if operation == "refine" and denoise is not None:
        body["denoise"] = round(float(denoise), 3)
    if operation == "inpaint":
        if not mask_id:
            raise ValueError(NO_MASK)
        body["mask_version_id"] = mask_id
    if operation == "outpaint":
        width, _, height = aspect.partition(":")
        if not (width.strip().isdigit() and height.strip().isdigit() and int(width) and int(height)):
            raise ValueError("aspect: 'W:H' such as 16:9")
        body["aspect"] = f"{int(width)}:{int(height)}"
    return body


def newest_mask_of(versions: Sequence[dict[str, Any]], take_id: str) -> str:
    """The id of the newest mask version painted on `take_id` (its provenance names the take); "" if none."""
    masks = [
        v
        for v in versions
        if v.get("stage") == "mask" and str((v.get("provenance") or {}).get("source_version_id")) == take_id
    ]
    return str(max(masks, key=lambda v: v.get("number", 0))["id"]) if masks else ""


def review_body(verdict: str | None, text: str, frame: int | None) -> dict[str, Any]:
    """`POST /api/versions/{id}/reviews`: a verdict, a note or both, anchored to `frame` when given."""
    text = " ".join(text.split()) if text.strip() else ""
    if verdict is not None and verdict not in VERDICTS:
        raise ValueError(f"verdict: one of {', '.join(VERDICTS)}")
    if verdict is None and not text:
        raise ValueError("text: write a note or pick a verdict")
    body: dict[str, Any] = {"text": text}
    if verdict is not None:
        body["verdict"] = verdict
    if frame is not None:
        body["frame"] = max(0, int(frame))
    return body


def frame_number(media_frame: int, head: int, first: int | None = None) -> int:
    """The shot's number of a take's media frame (0 = its first): from `first`, the number its maker gave
    the media's first frame (the version's `first_frame`), else from the cut at 1001 with the movie's `head`
    handle frames before it, as the add-on lays a shot out. The review room and the shot's timeline number it
    the same way (frame 0 of a render with 8 frames of handle is 993; of a still, 1001; of a take made at
    2001, 2001)."""
    return (SHOT_START - int(head) if first is None else int(first)) + int(media_frame)


def media_frame_of(number: int, head: int, first: int | None = None) -> int:
    """The media frame (0 = the take's first) a note at the shot's frame `number` is stored at (numbered as
    `frame_number`); ValueError when the take has no such frame (before its first)."""
    start = frame_number(0, head, first)
    frame = int(number) - start
    if frame < 0:
        raise ValueError(f"frame {number} is before the take's first frame, {start}")
    return frame


def redo_body(
    new_seed: bool, prompt: str = "", negative: str = "", seed: int | None = None
) -> dict[str, Any]:
    """`POST /api/versions/{id}/redo`: the take's own parameters, a new seed unless told, and the edits
    the artist typed (blank fields change nothing)."""
    changes: dict[str, Any] = {}
    if prompt.strip():
        changes["prompt"] = prompt.strip()
    if negative.strip():
        changes["negative"] = negative.strip()
    if seed is not None:
        changes["seed"] = int(seed)
        new_seed = False  # an explicit seed is the seed
    return {"new_seed": bool(new_seed), "changes": changes}


# -- takes as the panels show them -------------------------------------------------------------------------


@dataclass(frozen=True)
class Take:
    """One take of a shot from `GET /api/shots/{id}/takes`."""

    version_id: str
    shot_id: str
    number: int
    seed: int | None
    verdict: str
    is_first_frame: bool
    provenance: Mapping[str, Any]
    file: Mapping[str, Any] | None
    media_first: int | None  # the version's `first_frame`: its media's first frame's number; None: not said

    @property
    def label(self) -> str:
        seed = f" · seed {self.seed}" if self.seed is not None else ""
        mark = " ★" if self.is_first_frame else ""
        verdict = f" · {self.verdict}" if self.verdict else ""
        return f"v{self.number:03d}{seed}{verdict}{mark}"


def image_file(version: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version's picture (its first image file)."""
    return next((f for f in version.get("files") or [] if str(f.get("mime", "")).startswith("image/")), None)


def take_of(item: Mapping[str, Any]) -> Take:
    version = item["version"]
    provenance = dict(item.get("provenance") or {})
    seed = provenance.get("seed")
    return Take(
        version_id=str(version["id"]),
        shot_id=str(version.get("shot_id") or ""),
        number=int(version.get("number") or 0),
        seed=int(seed) if isinstance(seed, int | float) and not isinstance(seed, bool) else None,
        verdict=str(item.get("verdict") or version.get("verdict") or ""),
        is_first_frame=bool(item.get("is_first_frame")),
        provenance=provenance,
        file=image_file(version),
        media_first=shared_editorial.media_first_frame(version),
    )


def takes_of(items: Sequence[Mapping[str, Any]]) -> list[Take]:
    """The shot's takes in number order (the order a step walks)."""
    return sorted((take_of(i) for i in items), key=lambda t: (t.number, t.version_id))


@dataclass(frozen=True)
class TakeRow:
    """A take as the panel's list holds it: plain strings, made on the worker thread so the main thread
    only copies them into Blender's collection."""

    version_id: str
    label: str
    verdict: str
    first_frame: bool
    provenance: str  # JSON
    file_url: str
    file_name: str
    file_sha256: str
    media_first: int | None  # the version's `first_frame`, where said: its frames are numbered from it


def take_rows(items: Sequence[Mapping[str, Any]]) -> list[TakeRow]:
    """The rows for `takes_of(items)`, in the same order."""
    rows = []
    for take in takes_of(items):
        file = take.file or {}
        rows.append(
            TakeRow(
                take.version_id,
                take.label,
                take.verdict,
                take.is_first_frame,
                json.dumps(dict(take.provenance), ensure_ascii=False),
                str(file.get("url") or ""),
                str(file.get("name") or ""),
                str(file.get("sha256") or ""),
                take.media_first,
            )
        )
    return rows


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def provenance_lines(provenance: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) for a take's provenance: the usual fields first, then every other bound parameter
    by name, nested `params` flattened (a parameter already given at the top stays as given there); empty
    values and the recorded request / job inputs left out."""
    flat: dict[str, Any] = {}
    for key, value in provenance.items():
        if key in PROVENANCE_HIDDEN:
            continue
        if key == "params" and isinstance(value, dict):
            flat.update({f"{k}": v for k, v in value.items() if k not in provenance})
        else:
            flat[key] = value
    first = [k for k in PROVENANCE_ORDER if k in flat]
    rest = sorted(k for k in flat if k not in PROVENANCE_ORDER)
    return [(k, _value(flat[k])) for k in first + rest if flat[k] not in (None, "", [], {})]


def step(current: int, count: int, by: int) -> int:
    """The index `by` places from `current` among `count` takes, wrapping; -1 when there are none."""
    if count <= 0:
        return -1
    if not 0 <= current < count:
        return 0 if by >= 0 else count - 1
    return (current + by) % count


# -- the A/B wipe in the VSE --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WipePlan:
    """Take A and take B on their own channels above the edit's strip, the Wipe effect above both, all
    over the strip's range."""

    channel_a: int
    channel_b: int
    channel_wipe: int
    start: int
    end: int  # frame after the last


def wipe_plan(base_channel: int, start: int, end: int, taken: Iterable[int] = ()) -> WipePlan:
    """Three free channels above `base_channel` (skipping those in `taken`, e.g. stacked takes)."""
    busy = set(taken)
    free = []
    channel = base_channel + 1
    while len(free) < 3:
        if channel not in busy:
            free.append(channel)
        channel += 1
    return WipePlan(free[0], free[1], free[2], start, end)


# -- timeline markers as frame notes --------------------------------------------------------------------


@dataclass(frozen=True)
class MarkerNote:
    """A marker the editor made, as the frame note it becomes on the version of the strip under it."""

    key: str  # "frame|name": what is remembered once sent
    marker_name: str
    version_id: str
    frame: int  # in the version's own frames (its media), as the server counts them
    text: str
    server_name: str  # the name the server's note marker will have (so a rebuild does not double it)


@dataclass(frozen=True)
class StripSpan:
    version_id: str
    code: str
    channel: int
    start: int
    end: int  # frame after the last
    source_in: int  # the version's frame shown at `start`


def marker_key(frame: int, name: str) -> str:
    return f"{int(frame)}|{name}"


def marker_name(code: str, text: str) -> str:
    """A note's marker name, as `plan_markers` makes it from the server's notes."""
    return f"{code}: {' '.join(text.split())}"[:MARKER_CHARS]


def marker_notes(
    markers: Iterable[tuple[int, str]],
    strips: Sequence[StripSpan],
    from_server: Iterable[str],
    sent: Iterable[str],
) -> list[MarkerNote]:
    """Markers that are the editor's own notes and not sent yet, each on the topmost strip showing a version
    at its frame. Markers made from the server's notes (`from_server`, by name) and those already sent
    (`sent`, by key) are left out; a marker over no version is left out."""
    server_names, done = set(from_server), set(sent)
    notes = []
    for frame, name in markers:
        key = marker_key(frame, name)
        text = " ".join(name.split())
        if not text or name in server_names or key in done:
            continue
        under = [s for s in strips if s.version_id and s.start <= frame < s.end]
        if not under:
            continue
        strip = max(under, key=lambda s: s.channel)
        notes.append(
            MarkerNote(
                key=key,
                marker_name=name,
                version_id=strip.version_id,
                frame=strip.source_in + frame - strip.start,
                text=text,
                server_name=marker_name(strip.code, text),
            )
        )
    return notes


def load_list(raw: Any) -> list[str]:
    """A JSON list of strings kept in a custom property; anything else reads as empty."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# -- events ---------------------------------------------------------------------------------------------


def is_take(version: Mapping[str, Any]) -> bool:
    """A take as `GET /api/shots/{id}/takes` lists it: a previz version but a step on the way to a recipe
    take, or a recipe take's last image of any stage."""
    provenance = version.get("provenance")
    role = provenance.get("take_role") if isinstance(provenance, Mapping) else None
    return role == "take" or (version.get("stage") == "previz" and role != "step")


@dataclass
class Arrivals:
    """Takes arriving as `version.created` events: counted per shot at once (cheap, main thread), and a
    refresh of the compared shot's takes asked for at most once while one is running."""

    total: int = 0
    by_shot: dict[str, int] | None = None
    refreshing: bool = False
    stale: bool = False

    def add(self, data: Mapping[str, Any], watched_shot: str) -> bool:
        """Count a new take; True when the watched shot's takes should be fetched now."""
        if not is_take(data):
            return False
        shot = str(data.get("shot_id") or "")
        self.total += 1
        if self.by_shot is None:
            self.by_shot = {}
        self.by_shot[shot] = self.by_shot.get(shot, 0) + 1
        if not watched_shot or shot != watched_shot:
            return False
        if self.refreshing:
            self.stale = True
            return False
        self.refreshing = True
        return True

    def refreshed(self) -> bool:
        """A refresh finished; True when takes arrived meanwhile (fetch again)."""
        again, self.stale = self.stale, False
        self.refreshing = again
        return again


# -- A/B pictures in the Image Editor -----------------------------------------------------------------------


def side_by_side(a: Any, b: Any) -> Any:
    """A and B (H×W×4 float arrays) next to each other; B is cut or padded to A's height."""
    import numpy as np

    height = a.shape[0]
    b = _fit_height(b, height)
    return np.concatenate([a, b], axis=1)


def wipe(a: Any, b: Any, position: float) -> Any:
    """A left of `position` (0..1 of the width), B right of it, on A's size (B cut or padded), with a
    one-pixel white line at the edge."""
    import numpy as np

    height, width = a.shape[:2]
    b = _fit_width(_fit_height(b, height), width)
    split = round(max(0.0, min(1.0, position)) * width)
    out = np.array(b, copy=True)
    out[:, :split] = a[:, :split]
    if 0 < split < width:
        out[:, split] = 1.0
    return out


def _fit_height(image: Any, height: int) -> Any:
    import numpy as np

    if image.shape[0] >= height:
        return image[:height]
    pad = np.zeros((height - image.shape[0], *image.shape[1:]), dtype=image.dtype)
    return np.concatenate([image, pad], axis=0)


def _fit_width(image: Any, width: int) -> Any:
    import numpy as np

    if image.shape[1] >= width:
        return image[:, :width]
    pad = np.zeros((image.shape[0], width - image.shape[1], *image.shape[2:]), dtype=image.dtype)
    return np.concatenate([image, pad], axis=1)
