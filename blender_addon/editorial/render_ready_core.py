"""Render ready shots, without Blender: the request body, the recipe menu, the server's answer as a report,
and following the queued jobs until their versions come back onto the strips they were queued from.

The add-on side (`render_ready.py`) keeps one `RenderReady` in the runtime's extras and feeds it the
server's answer and the live `job.*` / `version.created` events; everything here is plain data.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT = "DEFAULT"
"""The menu key for "each shot's recipe, else the project's default" (sent as `recipe: null`)."""

RESULT_STAGES = ("render", "interp", "upscale")
"""Version stages a recipe's steps publish, in chain order: a later step's result replaces an earlier one."""

ACTIVE = ("queued", "running")
DONE = ("succeeded",)
STOPPED = ("failed", "cancelled")


@dataclass(frozen=True)
class Line:
    """One line of the report: an English template (translated by the caller) and its fields; a field may
    itself be a `Line` (the reason of a skipped shot)."""

    template: str
    fields: dict[str, Any] = field(default_factory=dict)


REASONS = (
    "the project is not confirmed yet",
    "the shot is omitted",
    "no approved first frame",
    "no recipe chosen (set the shot's or the project's render_recipe)",
    "no such shot in this project",
)
"""Skip reasons the server words the same way every time (docs/api.md, "Recipes"): translated as they are."""

PATTERNS = (
    (re.compile(r"^a render is already queued or running \(job (?P<job>[^)]+)\)$"),
     "a render is already queued or running (job {job})"),
    (re.compile(r"^it has a render \((?P<render>[^)]+)\)$"), "it has a render ({render})"),
)  # fmt: skip
"""Skip reasons that name a job or a version: the template to translate, the named part as its field."""


def reason_line(reason: str) -> Line:
    """A skip reason as a translatable line; a reason the add-on does not know is shown as written."""
    for pattern, template in PATTERNS:
        found = pattern.match(reason)
        if found:
            return Line(template, found.groupdict())
    return Line(reason)


def recipes_of(answer: Any) -> list[dict[str, Any]]:
    """The recipes of `GET /api/projects/{id}/recipes` (a page with `items`, or a plain list)."""
    items = answer.get("items", []) if isinstance(answer, Mapping) else answer or []
    return [dict(r) for r in items if isinstance(r, Mapping) and r.get("name")]


def step_name(step: Any) -> str:
    if isinstance(step, Mapping):
        for key in ("label", "workflow", "job_type", "name"):
            if step.get(key):
                return str(step[key])
        return "?"
    return str(step)


def recipe_label(recipe: Mapping[str, Any]) -> str:
    version = recipe.get("version")
    return f"{recipe['name']} v{version}" if version is not None else str(recipe["name"])


def recipe_chain(recipe: Mapping[str, Any]) -> str:
    """The recipe's steps as one line: "i2v → rife → esrgan"."""
    return " → ".join(step_name(s) for s in recipe.get("steps") or [])


def enum_number(key: str) -> int:
    """A menu item's number that stays the same when recipes come and go: Blender keeps an enum's value
    as the item's number, so numbering by position would silently change the artist's choice."""
    if key in (DEFAULT, "NONE"):
        return 0
    return zlib.crc32(key.encode("utf-8")) % (2**31 - 2) + 1


def recipe_items(
    recipes: Sequence[Mapping[str, Any]], default: tuple[str, str, str]
) -> list[tuple[str, str, str, str, int]]:
    """Enum items for the recipe menu: `default` (each shot's choice) first, then each recipe by name."""
    ordered = sorted(recipes, key=lambda r: str(r["name"]).casefold())
    items = [default] + [(str(r["name"]), recipe_label(r), recipe_chain(r)) for r in ordered]
    return [(key, label, tip, "NONE", enum_number(key)) for key, label, tip in items]


def request_body(recipe: str, shot_ids: Sequence[str] | None) -> dict[str, Any]:
    """The body of `POST /api/projects/{id}/render-ready`: null recipe = each shot's (or the project's)."""
    return {
        "recipe": None if recipe in ("", DEFAULT, "NONE") else recipe,
        "shot_ids": list(shot_ids) if shot_ids else None,
    }


def chosen_shots(strips: Iterable[tuple[str, bool]]) -> list[str] | None:
    """The shots of the selected strips `(shot id, selected)`, in order, once each; None when no strip is
    selected (then every confirmed shot of the project is meant)."""
    chosen: list[str] = []
    for shot_id, selected in strips:
        if selected and shot_id and shot_id not in chosen:
            chosen.append(shot_id)
    return chosen or None


def report_lines(answer: Mapping[str, Any]) -> list[Line]:
    """The server's answer as the artist reads it: the counts, then each skipped shot with its reason."""
    queued, skipped = answer.get("queued") or [], answer.get("skipped") or []
    lines = [
        Line(
            "Render ready: {queued} shots queued, {skipped} skipped",
            {"queued": len(queued), "skipped": len(skipped)},
        )
    ]
    for item in skipped:
        shot = item.get("shot_code") or item.get("shot_id")
        reason = reason_line(str(item["reason"]))
        lines.append(Line("{shot} skipped: {reason}", {"shot": shot, "reason": reason}))
    return lines


def line_text(line: Line, translate: Callable[..., str]) -> str:
    """`line` in the artist's language with `translate(template, **fields)` (the add-on's `iface`); a
    template without fields is translated and shown as it is (a reason may hold braces)."""
    fields = {k: line_text(v, translate) if isinstance(v, Line) else v for k, v in line.fields.items()}
    return translate(line.template, **fields) if fields else translate(line.template)


@dataclass(frozen=True)
class Target:
    """A strip a shot's result comes back onto (looked up by name when it arrives)."""

    scene: str
    strip: str


@dataclass
class TrackedJob:
    job_id: str
    shot_id: str
    shot_code: str
    recipe: str
    status: str = "queued"
    progress: float = 0.0
    stage: str = ""


@dataclass(frozen=True)
class ShotProgress:
    shot_id: str
    shot_code: str
    recipe: str
    done: int
    total: int
    running: str  # the running step's output stage, "" when none runs
    progress: float  # the running step's fraction
    failed: int
    shown: str  # "render v003" when a result is on the strip, else ""


@dataclass
class RenderReady:
    """What was queued from this Blender and what has come back: jobs by id, the strips per shot, the
    version shown on them (its stage's place in the chain and its number)."""

    jobs: dict[str, TrackedJob] = field(default_factory=dict)
    targets: dict[str, list[Target]] = field(default_factory=dict)
    shown: dict[str, tuple[int, int, str, str]] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)

    def track(self, answer: Mapping[str, Any], targets: Mapping[str, Sequence[Target]]) -> int:
        """Follow the jobs of the server's answer; `targets` are the strips of each shot. Returns how many."""
        self.answer = dict(answer)
        count = 0
        for item in answer.get("queued") or []:
            shot_id = str(item["shot_id"])
            for job_id in item.get("job_ids") or []:
                self.jobs[str(job_id)] = TrackedJob(
                    str(job_id), shot_id, str(item.get("shot_code") or ""), str(item.get("recipe") or "")
                )
                count += 1
            if targets.get(shot_id):
                self.targets[shot_id] = list(targets[shot_id])
            self.shown.pop(shot_id, None)  # a new run: its first result replaces whatever is shown
        return count

    def on_job(self, job: Mapping[str, Any]) -> bool:
        """A job's record from an event: True when it is one we follow (its status and progress kept)."""
        tracked = self.jobs.get(str(job.get("id")))
        if tracked is None:
            return False
        tracked.status = str(job.get("status") or tracked.status)
        tracked.progress = float(job.get("progress") or 0.0)
        tracked.stage = str(job.get("output_stage") or tracked.stage)
        return True

    def result_shot(self, version: Mapping[str, Any]) -> str | None:
        """The shot whose strips should show `version` (a published version's record), or None: it must be
        made by a job we follow, at a result stage, and not earlier in the chain than what they show."""
        provenance = version.get("provenance") or {}
        tracked = self.jobs.get(str(provenance.get("job_id")))
        stage = str(version.get("stage"))
        if tracked is None or stage not in RESULT_STAGES:
            return None
        rank, number = RESULT_STAGES.index(stage), int(version.get("number") or 0)
        shown = self.shown.get(tracked.shot_id)
        if shown is not None and (shown[0], shown[1]) > (rank, number):
            return None
        return tracked.shot_id

    def mark_shown(self, shot_id: str, version: Mapping[str, Any]) -> None:
        stage = str(version.get("stage"))
        rank = RESULT_STAGES.index(stage) if stage in RESULT_STAGES else -1
        number = int(version.get("number") or 0)
        self.shown[shot_id] = (rank, number, stage, f"{stage} v{number:03d}")

    def shots(self) -> list[ShotProgress]:
        """Each followed shot's progress, in the order they were queued."""
        by_shot: dict[str, list[TrackedJob]] = {}
        for job in self.jobs.values():
            by_shot.setdefault(job.shot_id, []).append(job)
        rows = []
        for shot_id, jobs in by_shot.items():
            running = next((j for j in jobs if j.status == "running"), None)
            shown = self.shown.get(shot_id)
            rows.append(
                ShotProgress(
                    shot_id=shot_id,
                    shot_code=jobs[0].shot_code,
                    recipe=jobs[0].recipe,
                    done=sum(1 for j in jobs if j.status in DONE),
                    total=len(jobs),
                    running=(running.stage or "render") if running else "",
                    progress=running.progress if running else 0.0,
                    failed=sum(1 for j in jobs if j.status in STOPPED),
                    shown=shown[3] if shown else "",
                )
            )
        return rows

    def active(self) -> int:
        """Jobs still queued or running."""
        return sum(1 for j in self.jobs.values() if j.status in ACTIVE)

    def forget_finished(self) -> None:
        """Drop the shots whose jobs have all ended (the panel's Clear)."""
        ended = {
            shot_id
            for shot_id in {j.shot_id for j in self.jobs.values()}
            if all(j.status not in ACTIVE for j in self.jobs.values() if j.shot_id == shot_id)
        }
        self.jobs = {k: j for k, j in self.jobs.items() if j.shot_id not in ended}
        for shot_id in ended:
            self.targets.pop(shot_id, None)
            self.shown.pop(shot_id, None)


def media_file(version: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version's movie (or image) file, movies first."""
    files = version.get("files") or []
    for prefix in ("video/", "image/"):
        found = next((f for f in files if str(f.get("mime", "")).startswith(prefix)), None)
        if found is not None:
            return found
    return None
